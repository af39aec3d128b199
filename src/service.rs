//! [`InvalidScopeObserver`]: the middleware service, with its two `Service`
//! impls: headers only (the default), and reading bodies.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::body::HeadersOnly;
#[cfg(feature = "bodies")]
use crate::body::{RequestBody, ResponseBody, WithBodies};
#[cfg(feature = "bodies")]
use crate::capture::BodyCapture;
use crate::capture::CapturedRequest;
use crate::future::ResponseFuture;
use crate::hooks::{GrantableScopes, OnRejection};
use crate::observe::Observer;

/// Middleware that reports `error=invalid_scope` redirects of the service it
/// wraps. Build it with [`InvalidScopeObserverLayer`].
///
/// It adds no error (its `Error` is `S::Error`), forwards `poll_ready`, and
/// hands every response and error back exactly as `S` produced them. `R` is
/// what it reads: [`HeadersOnly`] by default, where request and response
/// types are those of `S`; [`WithBodies`](crate::body::WithBodies), where
/// bodies are wrapped in [`RequestBody`](crate::body::RequestBody) and
/// [`ResponseBody`](crate::body::ResponseBody).
///
/// [`InvalidScopeObserverLayer`]: crate::InvalidScopeObserverLayer
///
/// # Example
///
/// ```
/// use std::convert::Infallible;
/// use http::{Request, Response};
/// use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let authorize = service_fn(|_request: Request<()>| async {
///     Ok::<_, Infallible>(Response::new("consent page"))
/// });
/// let observed = InvalidScopeObserverLayer::new(ScopeSet::parse("openid")).layer(authorize);
///
/// let response = observed.oneshot(Request::new(())).await.unwrap();
/// assert_eq!(*response.body(), "consent page");
/// # }
/// ```
pub struct InvalidScopeObserver<S, G, H = (), R = HeadersOnly> {
    pub(crate) inner: S,
    pub(crate) observer: Arc<Observer<G, H>>,
    reads: PhantomData<fn() -> R>,
}

impl<S, G, H, R> InvalidScopeObserver<S, G, H, R> {
    pub(crate) fn from_parts(inner: S, observer: Arc<Observer<G, H>>) -> Self {
        Self {
            inner,
            observer,
            reads: PhantomData,
        }
    }

    /// The wrapped service.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use http::{Request, Response};
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// # use tower::{service_fn, Layer};
    /// let inner = service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    /// let observed = InvalidScopeObserverLayer::new(ScopeSet::new()).layer(inner);
    /// let _inner = observed.get_ref();
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use http::{Request, Response};
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// # use tower::{service_fn, Layer};
    /// let inner = service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    /// let mut observed = InvalidScopeObserverLayer::new(ScopeSet::new()).layer(inner);
    /// let _inner = observed.get_mut();
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use http::{Request, Response};
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// # use tower::{service_fn, Layer};
    /// let inner = service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    /// let observed = InvalidScopeObserverLayer::new(ScopeSet::new()).layer(inner);
    /// let _inner = observed.into_inner();
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, G, H, ReqB, ResB> Service<Request<ReqB>> for InvalidScopeObserver<S, G, H, HeadersOnly>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    G: GrantableScopes,
    H: OnRejection,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, G, H>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let captured = CapturedRequest::capture(&request);
        ResponseFuture::new(
            self.inner.call(request),
            captured,
            Arc::clone(&self.observer),
        )
    }
}

#[cfg(feature = "bodies")]
#[cfg_attr(docsrs, doc(cfg(feature = "bodies")))]
impl<S, G, H, ReqB, ResB> Service<Request<ReqB>> for InvalidScopeObserver<S, G, H, WithBodies>
where
    S: Service<Request<RequestBody<ReqB>>, Response = Response<ResB>>,
    G: GrantableScopes + Send + Sync + 'static,
    H: OnRejection + Send + Sync + 'static,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, G, H, WithBodies>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let body = BodyCapture::of(&request, self.observer.settings.body_limit);
        let captured = CapturedRequest::capture(&request).with_body(&request, body.clone());
        let request = request.map(|inner| RequestBody::new(inner, body));
        ResponseFuture::new(
            self.inner.call(request),
            captured,
            Arc::clone(&self.observer),
        )
    }
}

impl<S: Clone, G, H, R> Clone for InvalidScopeObserver<S, G, H, R> {
    fn clone(&self) -> Self {
        Self::from_parts(self.inner.clone(), Arc::clone(&self.observer))
    }
}

impl<S: fmt::Debug, G, H, R> fmt::Debug for InvalidScopeObserver<S, G, H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut service = f.debug_struct("InvalidScopeObserver");
        service
            .field("inner", &self.inner)
            .field("reads", &std::any::type_name::<R>());
        self.observer.describe(&mut service);
        service.finish()
    }
}
