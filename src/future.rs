//! [`ResponseFuture`]: waits for the inner response and looks at it.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::bodies::HeadersOnly;
use crate::captured_request::CapturedRequest;
use crate::observe::Observer;
use crate::{GrantableScopes, OnRejection};

pin_project! {
    /// The response future of [`InvalidScopeObserver`]: the inner future,
    /// plus what the rejection path needs. With the default `R`
    /// ([`HeadersOnly`]) it resolves to exactly what the inner future
    /// resolves to; with [`WithBodies`] to the same response with its body
    /// wrapped in a [`ResponseBody`], and to the same error.
    ///
    /// [`InvalidScopeObserver`]: crate::InvalidScopeObserver
    /// [`WithBodies`]: crate::bodies::WithBodies
    /// [`ResponseBody`]: crate::bodies::ResponseBody
    pub struct ResponseFuture<F, G, H, R = HeadersOnly> {
        #[pin]
        pub(crate) inner: F,
        // `None` once the response has been looked at.
        pub(crate) pending: Option<(CapturedRequest, Arc<Observer<G, H>>)>,
        reads: PhantomData<fn() -> R>,
    }
}

impl<F, G, H, R> ResponseFuture<F, G, H, R> {
    pub(crate) fn new(inner: F, request: CapturedRequest, observer: Arc<Observer<G, H>>) -> Self {
        Self {
            inner,
            pending: Some((request, observer)),
            reads: PhantomData,
        }
    }
}

impl<F, G, H, B, E> Future for ResponseFuture<F, G, H, HeadersOnly>
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

impl<F, G, H, R> fmt::Debug for ResponseFuture<F, G, H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
