//! `Future` for the [`ResponseFuture`] of a layer that reads bodies.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::header::CONTENT_ENCODING;
use http::{Response, StatusCode};

use super::media_type::has_media_type;
use super::response_body::{JsonWatch, ResponseBody};
use super::WithBodies;
use crate::captured_request::CapturedRequest;
use crate::{GrantableScopes, OnRejection, ResponseFuture, ScopeDecision};

impl<F, G, H, B, E> Future for ResponseFuture<F, G, H, WithBodies>
where
    F: Future<Output = Result<Response<B>, E>>,
    G: GrantableScopes + Send + Sync + 'static,
    H: OnRejection + Send + Sync + 'static,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let watch = match this.pending.take() {
            Some((request, observer)) if watches_json_answer(&request, &response) => {
                let decision = response.extensions().get::<ScopeDecision>().cloned();
                let limit = observer.settings.body_limit;
                Some(JsonWatch::new(
                    request,
                    response.status(),
                    decision,
                    observer,
                    limit,
                ))
            }
            Some((request, observer)) => {
                observer.observe(&request, &response);
                None
            }
            None => None,
        };
        Poll::Ready(Ok(response.map(|body| ResponseBody::new(body, watch))))
    }
}

/// Whether a response is a JSON answer that may report a scope problem: an
/// error (`400`, or `401` as some servers answer), or a success to a form
/// request (a token grant) that does not already carry a granted decision.
/// Decided by status and headers, before the body is touched. A compressed
/// answer is not looked at (the layer would see compressed bytes): put the
/// layer inside any compression layer.
fn watches_json_answer<B>(request: &CapturedRequest, response: &Response<B>) -> bool {
    let status = response.status();
    let worth_a_look = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => true,
        _ if status.is_success() => {
            request.has_form()
                && response
                    .extensions()
                    .get::<ScopeDecision>()
                    .is_none_or(|decision| decision.granted.is_none())
        }
        _ => false,
    };
    let compressed = || {
        response
            .headers()
            .get(CONTENT_ENCODING)
            .is_some_and(|encoding| !encoding.as_bytes().eq_ignore_ascii_case(b"identity"))
    };
    worth_a_look && !compressed() && has_media_type(response.headers(), "application/json")
}
