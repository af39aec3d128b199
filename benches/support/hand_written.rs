//! The peer a rejection is measured against: what a user writes by hand
//! instead of this crate. Keep the request's `Uri` and `User-Agent`; for a
//! redirect, parse the `Location` with `url::Url`, read its query into a
//! `HashMap`; on `error=invalid_scope`, read the request's query into a
//! `HashMap` with `form_urlencoded`, diff the scopes with `HashSet`s, and
//! `tracing::warn!` the five fields. No bounds, no escaping, no rate limit:
//! the simplest thing that answers "which scope was missing?".

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};

use http::header::{LOCATION, USER_AGENT};
use http::{Request, Response, Uri};
use pin_project_lite::pin_project;
use tower::Service;

#[derive(Clone)]
pub(crate) struct HandWritten<S> {
    inner: S,
    grantable: Arc<HashSet<String>>,
}

impl<S> HandWritten<S> {
    pub(crate) fn new(inner: S, grantable: impl IntoIterator<Item = String>) -> Self {
        Self {
            inner,
            grantable: Arc::new(grantable.into_iter().collect()),
        }
    }
}

impl<S, B, ResB> Service<Request<B>> for HandWritten<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = HandWrittenFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let uri = request.uri().clone();
        let user_agent = request.headers().get(USER_AGENT).cloned();
        HandWrittenFuture {
            inner: self.inner.call(request),
            kept: Some((uri, user_agent, Arc::clone(&self.grantable))),
        }
    }
}

type Kept = (Uri, Option<http::HeaderValue>, Arc<HashSet<String>>);

pin_project! {
    pub(crate) struct HandWrittenFuture<F> {
        #[pin]
        inner: F,
        kept: Option<Kept>,
    }
}

impl<F, ResB, E> Future for HandWrittenFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = ready!(this.inner.poll(cx));
        if let (Ok(response), Some((uri, user_agent, grantable))) = (&output, this.kept.take()) {
            if response.status().is_redirection() {
                if let Some(location) = response.headers().get(LOCATION) {
                    report(
                        location.to_str().unwrap_or(""),
                        &uri,
                        user_agent,
                        &grantable,
                    );
                }
            }
        }
        Poll::Ready(output)
    }
}

fn base() -> &'static url::Url {
    static BASE: OnceLock<url::Url> = OnceLock::new();
    BASE.get_or_init(|| url::Url::parse("https://as.invalid/").unwrap())
}

fn report(
    location: &str,
    uri: &Uri,
    user_agent: Option<http::HeaderValue>,
    grantable: &HashSet<String>,
) {
    let Ok(location) = base().join(location) else {
        return;
    };
    let answer: HashMap<String, String> = location.query_pairs().into_owned().collect();
    if answer.get("error").map(String::as_str) != Some("invalid_scope") {
        return;
    }
    let query: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let scope = query.get("scope").map(String::as_str).unwrap_or("");
    let requested: HashSet<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    let grantable_refs: HashSet<&str> = grantable.iter().map(String::as_str).collect();
    let missing: Vec<&str> = requested.difference(&grantable_refs).copied().collect();
    let user_agent = user_agent
        .as_ref()
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    tracing::warn!(
        requested_scopes = scope,
        grantable_scopes = ?grantable,
        missing_scopes = ?missing,
        client_id = query.get("client_id").map(String::as_str).unwrap_or(""),
        user_agent,
        "oauth.authorize.invalid_scope"
    );
}
