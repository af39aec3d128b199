//! [`ResponseBody`]: a response body that watches a JSON answer go by.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::StatusCode;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tracing::Span;

use crate::capture::{BoundedBytes, CapturedRequest};
use crate::hooks::{GrantableScopes, OnRejection, ScopeDecision};
use crate::observe::Observer;

pin_project! {
    /// The response body the client receives when the layer reads bodies
    /// ([`observe_bodies`](crate::InvalidScopeObserverLayer::observe_bodies)).
    ///
    /// It yields exactly the frames of the inner service's body, as the
    /// server asks for them. For a JSON answer worth a look (a `400` or
    /// `401`, or a `2xx` to a form request) it keeps a copy of the first
    /// bytes (8 KiB by default) and reads them as a token endpoint answer
    /// once the last frame has been handed on (or, if the server stops
    /// asking before the end, when the body is dropped): the report never
    /// holds back a byte. It is made inside the `tracing` span that was
    /// current when the response came back (tower-http's `TraceLayer`
    /// request span, say), so its event joins the request's other events.
    /// Any other body passes through uncopied. An answer longer than the
    /// limit, cut short, or failed by a body error is not reported.
    ///
    /// ```
    /// use http::Response;
    /// use invalid_scope_observer::body::ResponseBody;
    ///
    /// // What a service behind `.observe_bodies()` answers with:
    /// fn answered(response: Response<ResponseBody<String>>) -> Response<String> {
    ///     response.map(ResponseBody::into_inner)
    /// }
    /// # drop(answered);
    /// ```
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        watch: Option<Box<AnswerWatch>>,
    }
}

impl<B: Default> Default for ResponseBody<B> {
    /// `B`'s default body, watching nothing: what tower-http's
    /// `TimeoutLayer`, `CorsLayer` and `ValidateRequestHeaderLayer` answer
    /// with on their own.
    ///
    /// ```
    /// use http_body::Body as _;
    /// use invalid_scope_observer::body::ResponseBody;
    ///
    /// let body = ResponseBody::<String>::default();
    /// assert!(body.is_end_stream());
    /// ```
    fn default() -> Self {
        Self::new(B::default(), None)
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, watch: Option<AnswerWatch>) -> Self {
        Self {
            inner,
            watch: watch.map(Box::new),
        }
    }

    /// The inner service's body, unwatched: what has gone by so far is read
    /// now, and since a JSON answer is only whole once all of it has gone
    /// by, calling this before the body was read to its end means the answer
    /// is not reported. Keep the `ResponseBody` to keep token events.
    ///
    /// ```
    /// use invalid_scope_observer::body::ResponseBody;
    ///
    /// let body = ResponseBody::<String>::default();
    /// assert_eq!(body.into_inner(), "");
    /// ```
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        let answer_over = match (&frame, this.watch.as_mut()) {
            (_, None) => false,
            (Some(Ok(frame)), Some(watch)) => {
                if let Some(data) = frame.data_ref() {
                    watch.bytes.record(data);
                }
                this.inner.is_end_stream()
            }
            (Some(Err(_)), Some(watch)) => {
                watch.failed = true;
                true
            }
            (None, Some(_)) => true,
        };
        if answer_over {
            // Reports now, within this poll, rather than whenever the
            // server gets round to dropping the body.
            *this.watch = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: fmt::Debug> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inner", &self.inner)
            .field("watches_answer", &self.watch.is_some())
            .finish()
    }
}

/// What kind of answer is watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Watched {
    /// A JSON answer of the token or PAR endpoint.
    Json,
    /// An HTML page that may be a `response_mode=form_post` answer.
    FormPostPage,
}

/// An answer being watched. Dropping it (when the answer is over, or with
/// the body) reads what went by and reports it, inside the span that was
/// current when the watch began.
pub(crate) struct AnswerWatch {
    kind: Watched,
    bytes: BoundedBytes,
    failed: bool,
    request: CapturedRequest,
    status: StatusCode,
    decision: Option<ScopeDecision>,
    observer: Arc<dyn ObserveAnswer>,
    span: Span,
}

impl AnswerWatch {
    pub(crate) fn new(
        kind: Watched,
        request: CapturedRequest,
        status: StatusCode,
        decision: Option<ScopeDecision>,
        observer: Arc<dyn ObserveAnswer>,
        limit: usize,
    ) -> Self {
        Self {
            kind,
            bytes: BoundedBytes::new(limit),
            failed: false,
            request,
            status,
            decision,
            observer,
            span: Span::current(),
        }
    }
}

impl Drop for AnswerWatch {
    fn drop(&mut self) {
        if self.failed || self.bytes.overflowed() {
            return;
        }
        let _in_the_request_span = self.span.enter();
        self.observer.observe_answer(
            self.kind,
            &self.request,
            self.status,
            self.decision.as_ref(),
            self.bytes.as_slice(),
        );
    }
}

/// An [`Observer`] with its grantable source and hook types erased, so that
/// [`ResponseBody`] needs no type parameters but the body's.
pub(crate) trait ObserveAnswer: Send + Sync {
    fn observe_answer(
        &self,
        kind: Watched,
        request: &CapturedRequest,
        status: StatusCode,
        decision: Option<&ScopeDecision>,
        bytes: &[u8],
    );
}

impl<G, H> ObserveAnswer for Observer<G, H>
where
    G: GrantableScopes + Send + Sync,
    H: OnRejection + Send + Sync,
{
    fn observe_answer(
        &self,
        kind: Watched,
        request: &CapturedRequest,
        status: StatusCode,
        decision: Option<&ScopeDecision>,
        bytes: &[u8],
    ) {
        match kind {
            Watched::Json => Observer::observe_json_answer(self, request, status, decision, bytes),
            Watched::FormPostPage => Observer::observe_form_post_page(self, request, status, bytes),
        }
    }
}
