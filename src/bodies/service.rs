//! `Service` for an [`InvalidScopeObserver`] that reads bodies.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{Method, Request, Response};
use tower_service::Service;

use super::media_type::has_media_type;
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
        let mut captured = CapturedRequest::capture(&request);
        // A GET or HEAD body has no defined meaning (RFC 9110 §9.3.1), and
        // skipping them spares most requests a header lookup.
        let may_carry_form = !matches!(*request.method(), Method::GET | Method::HEAD);
        let form = (may_carry_form
            && has_media_type(request.headers(), "application/x-www-form-urlencoded"))
        .then(|| {
            // Kept only to read a client id from; never shown by `Debug`.
            let authorization = request.headers().get(AUTHORIZATION).map(|value| {
                let mut value = value.clone();
                value.set_sensitive(true);
                value
            });
            FormCapture::new(self.observer.settings.body_limit, authorization)
        });
        if let Some(form) = &form {
            captured = captured.with_form(form.clone());
        }
        let request = request.map(|body| RequestBody::new(body, form));
        ResponseFuture::new(
            self.inner.call(request),
            captured,
            Arc::clone(&self.observer),
        )
    }
}
