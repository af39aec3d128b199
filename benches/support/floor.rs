//! Floors: the least work any layer meeting the core issue must do, within
//! this project's rules, measured beside the real layer. They are not the
//! layer; they show how far below them the cost targets lie.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};

use http::header::{LOCATION, USER_AGENT};
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower::Service;

/// What every request must pay: before the request moves into the inner
/// service, keep its path and query (when it has a query) and its
/// `User-Agent`, and hold the layer's shared state through one `Arc`; when
/// the response comes back, look at its status and, for a redirect, search
/// its `Location` for `invalid_scope` once. Nothing else: no decision, no
/// parse, no report.
#[derive(Clone)]
pub(crate) struct CaptureFloor<S> {
    inner: S,
    shared: Arc<()>,
}

impl<S> CaptureFloor<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            shared: Arc::new(()),
        }
    }
}

type Kept = (Option<PathAndQuery>, Option<HeaderValue>, Arc<()>);

impl<S, B, ResB> Service<Request<B>> for CaptureFloor<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = CaptureFloorFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let uri = request.uri();
        let kept = (
            uri.query().and_then(|_| uri.path_and_query().cloned()),
            request.headers().get(USER_AGENT).cloned(),
            Arc::clone(&self.shared),
        );
        CaptureFloorFuture {
            inner: self.inner.call(request),
            kept: Some(kept),
        }
    }
}

pin_project! {
    pub(crate) struct CaptureFloorFuture<F> {
        #[pin]
        inner: F,
        kept: Option<Kept>,
    }
}

impl<F, ResB, E> Future for CaptureFloorFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = ready!(this.inner.poll(cx));
        if let Ok(response) = &output {
            let location = response.headers().get(LOCATION);
            if response.status().is_redirection() && location.is_some_and(mentions_invalid_scope) {
                black_box(this.kept.as_ref());
            }
        }
        *this.kept = None;
        Poll::Ready(output)
    }
}

fn mentions_invalid_scope(location: &HeaderValue) -> bool {
    static FINDER: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    FINDER
        .get_or_init(|| memchr::memmem::Finder::new("invalid_scope"))
        .find(location.as_bytes())
        .is_some()
}

/// What every rejection must pay under the project's rules (peer input is
/// read with `url` and `form_urlencoded`, nothing by hand): parse the
/// `Location` as a WHATWG URL and find `error=invalid_scope` among its query
/// parameters, then read the request's query up to `scope` and `client_id`
/// and count the scope's tokens. No allocation of our own, no set, no
/// difference, no event. Returns what it found, so nothing is optimized away.
pub(crate) fn rejection_floor(location: &str, request_query: &str) -> usize {
    let location = url::Url::parse(location).expect("a valid Location");
    let rejected = location
        .query_pairs()
        .any(|(name, value)| name == "error" && value == "invalid_scope");
    let mut scope_tokens = 0;
    let mut client_id_seen = false;
    for (name, value) in form_urlencoded::parse(request_query.as_bytes()) {
        match &*name {
            "scope" => scope_tokens = value.split(' ').filter(|t| !t.is_empty()).count(),
            "client_id" => client_id_seen = true,
            _ => {}
        }
        if scope_tokens > 0 && client_id_seen {
            break;
        }
    }
    usize::from(rejected) + usize::from(client_id_seen) + scope_tokens
}
