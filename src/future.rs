//! [`ResponseFuture`]: waits for the inner response and looks at it, with
//! its two `Future` impls: headers only (the default), and reading bodies.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::body::HeadersOnly;
#[cfg(feature = "bodies")]
use crate::body::{AnswerWatch, ResponseBody, Watched, WithBodies};
use crate::capture::CapturedRequest;
#[cfg(feature = "bodies")]
use crate::detect::worth_watching;
#[cfg(feature = "bodies")]
use crate::hooks::ScopeDecision;
use crate::hooks::{GrantableScopes, OnRejection};
use crate::observe::Observer;

pin_project! {
    /// The response future of [`InvalidScopeObserver`]: the inner future,
    /// plus what the rejection path needs. With the default `R`
    /// ([`HeadersOnly`]) it resolves to exactly what the inner future
    /// resolves to; with [`WithBodies`] to the same response with its body
    /// wrapped in a [`ResponseBody`], and to the same error.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use http::{Request, Response};
    /// use invalid_scope_observer::future::ResponseFuture;
    /// use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// use tower::{service_fn, Layer, Service};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let inner = service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new("ok")) });
    /// let mut observed = InvalidScopeObserverLayer::new(ScopeSet::new()).layer(inner);
    /// let future: ResponseFuture<_, ScopeSet, ()> = observed.call(Request::new(()));
    /// assert_eq!(*future.await.unwrap().body(), "ok");
    /// # }
    /// ```
    ///
    /// [`InvalidScopeObserver`]: crate::InvalidScopeObserver
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

#[cfg(feature = "bodies")]
#[cfg_attr(docsrs, doc(cfg(feature = "bodies")))]
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
            Some((request, observer)) => {
                // A rejecting `Location` (a redirect, or a 4xx that carries
                // one) is reported from the headers, whatever the body says.
                let rejecting = observer.is_rejecting_redirect(&response);
                let json = !rejecting
                    && worth_watching(
                        response.status(),
                        response.headers(),
                        request.is_read(),
                        request.has_body(),
                        || {
                            response
                                .extensions()
                                .get::<ScopeDecision>()
                                .is_some_and(|decision| decision.granted.is_some())
                        },
                    );
                if json {
                    let decision = response.extensions().get::<ScopeDecision>().cloned();
                    let limit = observer.settings.body_limit;
                    Some(AnswerWatch::new(
                        Watched::Json,
                        request,
                        response.status(),
                        decision,
                        observer,
                        limit,
                    ))
                } else {
                    observer.observe_decided(&request, &response, rejecting);
                    observer
                        .wants_form_post_page(&request, response.status(), response.headers())
                        .then(|| {
                            let limit = observer.settings.body_limit;
                            AnswerWatch::new(
                                Watched::FormPostPage,
                                request,
                                response.status(),
                                None,
                                observer,
                                limit,
                            )
                        })
                }
            }
            None => None,
        };
        Poll::Ready(Ok(response.map(|body| ResponseBody::new(body, watch))))
    }
}

impl<F, G, H, R> fmt::Debug for ResponseFuture<F, G, H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
