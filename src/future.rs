//! [`ResponseFuture`]: waits for the inner response and looks at it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::captured_request::CapturedRequest;
use crate::observe::Observer;
use crate::{GrantableScopes, OnRejection};

pin_project! {
    /// The response future of [`InvalidScopeObserver`]: the inner future,
    /// plus what the rejection path needs. It resolves to exactly what the
    /// inner future resolves to.
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
    G: GrantableScopes,
    H: OnRejection,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = ready!(this.inner.poll(cx));
        if let (Ok(response), Some((request, observer))) = (&output, this.pending.as_ref()) {
            observer.observe(request, response);
        }
        // Dropped in place rather than moved out first: less to copy.
        *this.pending = None;
        Poll::Ready(output)
    }
}

impl<F, G, H> fmt::Debug for ResponseFuture<F, G, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
