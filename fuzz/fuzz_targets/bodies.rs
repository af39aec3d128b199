//! Any bytes as a form or JSON request body and a JSON answer or an HTML
//! page (a possible `response_mode=form_post` answer), each cut into frames
//! anywhere, to a token request or an authorization request's consent
//! step, through a layer that reads bodies (with an error-code alias and two
//! redirect members), following authorizations or not: never a panic, every
//! rejection within the layer's bounds, and both bodies come out byte for
//! byte.
#![no_main]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Request, Response};
use http_body::{Body, Frame};
use invalid_scope_observer::body::RequestBody;
use invalid_scope_observer::{
    FollowAuthorizations, InvalidScopeObserverLayer, InvalidScopeRejection, RateLimit, ScopeSet,
};
use libfuzzer_sys::fuzz_target;
use tower::{service_fn, Layer, ServiceExt};

struct Frames(VecDeque<Bytes>);

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|data| Ok(Frame::data(data))))
    }
}

/// `bytes` in frames of `width` bytes (at least one).
fn framed(bytes: &[u8], width: u8) -> Frames {
    let width = usize::from(width.max(1));
    Frames(bytes.chunks(width).map(Bytes::copy_from_slice).collect())
}

/// Reads a body to its end; every body here is ready at once.
fn read_all<B: Body<Data = Bytes> + Unpin>(mut body: B) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut cx = Context::from_waker(Waker::noop());
    while let Poll::Ready(Some(frame)) = Pin::new(&mut body).poll_frame(&mut cx) {
        if let Ok(data) = frame.ok().expect("no body errors here").into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    bytes
}

fuzz_target!(|data: &[u8]| {
    let [status, form_width, answer_width, rest @ ..] = data else {
        return;
    };
    let split = rest
        .iter()
        .position(|&byte| byte == 0xff)
        .unwrap_or(rest.len());
    let (form, answer) = rest.split_at(split);
    let answer = answer.get(1..).unwrap_or(&[]).to_vec();
    let content_type = if status & 0x10 == 0 {
        "application/json"
    } else {
        "text/html"
    };
    let follow = status & 0x20 != 0;
    let request_type = if status & 0x40 == 0 {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    let path = if status & 0x80 == 0 {
        "/token"
    } else {
        "/oauth/authorize?response_type=code&client_id=spa&state=s"
    };
    let status = [200u16, 400, 401][usize::from(*status) % 3];
    let answer_width = *answer_width;
    let expected_answer = answer.clone();

    let inner = service_fn(move |request: Request<RequestBody<Frames>>| {
        let received = read_all(request.into_body());
        let answer = framed(&answer, answer_width);
        let mut response = Response::builder()
            .status(status)
            .header(CONTENT_TYPE, content_type)
            .body(answer)
            .unwrap();
        response.extensions_mut().insert(received);
        std::future::ready(Ok::<_, Infallible>(response))
    });
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid email"))
        .rate_limit(RateLimit::unlimited())
        .invalid_scope_codes(["invalid_scope", "scope_invalid"])
        .redirect_members(["redirect_to", "redirect_uri"])
        .on_rejection(|rejection: &InvalidScopeRejection| {
            // Every value a rejection carries comes from at most 512 bytes.
            assert!(rejection.error_description().chars().count() <= 200);
            assert!(rejection.client_id().chars().count() <= 128);
            assert!(rejection.missing_scopes().is_subset(rejection.requested_scopes()));
            assert!(rejection.requested_scopes().len() <= 512);
        })
        .observe_bodies()
        .body_limit(512);
    let layer = if follow {
        layer.follow_authorizations(FollowAuthorizations::in_memory().capacity(64))
    } else {
        layer
    };
    let service = layer.layer(inner);
    let request = Request::post(path)
        .header(CONTENT_TYPE, request_type)
        .body(framed(form, *form_width))
        .unwrap();
    let future = service.oneshot(request);
    let Poll::Ready(response) = pin!(future).poll(&mut Context::from_waker(Waker::noop())) else {
        unreachable!("the inner service answers at once");
    };
    let response = response.unwrap();
    assert_eq!(response.extensions().get::<Vec<u8>>().unwrap(), form);
    assert_eq!(read_all(response.into_body()), expected_answer);
});
