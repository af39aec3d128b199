//! Drives one request through the layer without a runtime: the inner
//! service answers at once.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{HeaderValue, Request, Response, StatusCode};
use invalid_scope_observer::{InvalidScopeObserverLayer, RateLimit, ScopeSet};
use tower::{service_fn, Layer, ServiceExt};

pub fn observe(request: Request<()>, status: StatusCode, location: Option<HeaderValue>) {
    let expected_location = location.clone();
    let inner = service_fn(move |_request: Request<()>| {
        let mut response = Response::new(());
        *response.status_mut() = status;
        if let Some(location) = location.clone() {
            response
                .headers_mut()
                .insert(http::header::LOCATION, location);
        }
        std::future::ready(Ok::<_, Infallible>(response))
    });
    let service = InvalidScopeObserverLayer::new(ScopeSet::parse("openid email"))
        .known_scopes(["openid", "email", "profile"])
        .rate_limit(RateLimit::unlimited())
        .on_rejection(
            |rejection: &invalid_scope_observer::InvalidScopeRejection| {
                assert!(rejection
                    .missing_scopes()
                    .is_subset(rejection.requested_scopes()));
                assert!(rejection.user_agent().chars().count() <= 200);
                assert!(rejection.client_id().chars().count() <= 128);
            },
        )
        .layer(inner);
    let future = service.oneshot(request);
    let response = match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(response) => response.unwrap(),
        Poll::Pending => unreachable!(),
    };
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers().get(http::header::LOCATION),
        expected_location.as_ref()
    );
}
