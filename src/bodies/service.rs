//! `Service` for an [`InvalidScopeObserver`] that reads bodies.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::{FormCapture, RequestBody, ResponseBody, WithBodies};
use crate::captured_request::CapturedRequest;
use crate::{GrantableScopes, InvalidScopeObserver, OnRejection, ResponseFuture};

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
        let form = FormCapture::of(&request, self.observer.settings.body_limit);
        let captured = CapturedRequest::capture(&request).with_form(form.clone());
        let request = request.map(|body| RequestBody::new(body, form));
        ResponseFuture::new(
            self.inner.call(request),
            captured,
            Arc::clone(&self.observer),
        )
    }
}
