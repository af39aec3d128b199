//! [`ResponseFuture`] of a layer that reads bodies.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::header::CONTENT_ENCODING;
use http::{Response, StatusCode};
use pin_project_lite::pin_project;

use super::media_type::has_media_type;
use super::response_body::{JsonWatch, ResponseBody};
use crate::captured_request::CapturedRequest;
use crate::observe::Observer;
use crate::{GrantableScopes, OnRejection, ScopeDecision};

pin_project! {
    /// The response future of an [`InvalidScopeObserver`] that reads bodies:
    /// it resolves to the inner response with its body wrapped in a
    /// [`ResponseBody`], and to the inner error unchanged.
    ///
    /// [`InvalidScopeObserver`]: crate::InvalidScopeObserver
    pub struct ResponseFuture<F, G, H> {
        #[pin]
        inner: F,
        // `None` once the response has been looked at.
        pending: Option<(CapturedRequest, Arc<Observer<G, H>>)>,
    }
}

impl<F, G, H> ResponseFuture<F, G, H> {
    pub(crate) fn new(inner: F, request: CapturedRequest, observer: Arc<Observer<G, H>>) -> Self {
        Self {
            inner,
            pending: Some((request, observer)),
        }
    }
}

impl<F, G, H, B, E> Future for ResponseFuture<F, G, H>
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

impl<F, G, H> fmt::Debug for ResponseFuture<F, G, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
