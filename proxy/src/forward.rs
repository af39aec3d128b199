//! [`Forward`]: sends each request on to the upstream authorization server
//! and hands its answer back, streaming both ways, changing nothing the
//! server meant: only hop-by-hop headers (RFC 9110 §7.6.1) are dropped, and
//! `X-Forwarded-*` added.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{BoxError, Service};

use crate::limits::{BodyLimit, BodyProgress, StallLimited};
use crate::redact::Redacted;

/// What the proxy answers: the upstream's body as it streams (cut when the
/// upstream stalls mid-answer), or a short body of its own (a `502`, `504`,
/// `408` or `413`).
pub(crate) type ProxyBody = Either<StallLimited<Incoming>, Plain>;

/// A short plain body of the proxy's own.
pub(crate) type Plain = Full<Bytes>;

/// The body sent upstream: whatever the client sends, streamed.
type UpstreamBody = UnsyncBoxBody<Bytes, BoxError>;

/// The address of the client of one connection, put on each request by the
/// server loop.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddress(pub(crate) SocketAddr);

/// Forwards to one upstream. Cloned for every request (the server clones
/// the service it calls), so a clone is one reference count: everything it
/// uses, the client and its connection pool among it, sits behind one `Arc`.
#[derive(Clone, Debug)]
pub(crate) struct Forward {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client<HttpsConnector<HttpConnector>, UpstreamBody>,
    upstream: Uri,
    forwarded_headers: bool,
    /// Peers whose forwarding headers are believed.
    trusted_proxies: Vec<ipnet::IpNet>,
    timeout: Duration,
    /// Whether the upstream has answered at least once (`/readyz`).
    answered: Arc<AtomicBool>,
    /// `invalid_scope_proxy_requests_total{result="forwarded"}`, looked up
    /// once: the macro would hash its name on every request.
    forwarded: metrics::Counter,
}

impl Forward {
    pub(crate) fn new(
        upstream: Uri,
        tls: rustls::ClientConfig,
        forwarded_headers: bool,
        trusted_proxies: Vec<ipnet::IpNet>,
        timeout: Duration,
        answered: Arc<AtomicBool>,
    ) -> Self {
        let client = Client::builder(TokioExecutor::new()).build(upstream_connector(tls));
        let inner = Inner {
            client,
            upstream,
            forwarded_headers,
            trusted_proxies,
            timeout,
            answered,
            forwarded: metrics::counter!("invalid_scope_proxy_requests_total", "result" => "forwarded"),
        };
        Self {
            inner: Arc::new(inner),
        }
    }
}

/// How the proxy connects to the upstream (forwarding and discovery
/// alike): TLS with `tls` for an https upstream, in the clear for an http
/// one, HTTP/1.1, no Nagle delay.
pub(crate) fn upstream_connector(tls: rustls::ClientConfig) -> HttpsConnector<HttpConnector> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.enforce_http(false);
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector)
}

impl<B> Service<Request<B>> for Forward
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { Ok(inner.forward(request).await) })
    }
}

impl Inner {
    async fn forward<B>(&self, request: Request<B>) -> Response<ProxyBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let client_address = request.extensions().get::<ClientAddress>().copied();
        let (mut parts, body) = request.into_parts();
        // The client's Host is kept (servers check it); HTTP/2 has none, so
        // it is made from the request's authority.
        let host = parts.headers.get(HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
        });
        // The upstream's scheme and authority with the request's path and
        // query: parts moved and shared, nothing parsed again.
        let mut target = http::uri::Parts::default();
        target.scheme = self.upstream.scheme().cloned();
        target.authority = self.upstream.authority().cloned();
        target.path_and_query = Some(
            parts
                .uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        parts.uri = match Uri::from_parts(target) {
            Ok(uri) => uri,
            Err(_) => return answer(StatusCode::BAD_REQUEST, "bad request target"),
        };
        parts.version = http::Version::HTTP_11;
        // (Hop-by-hop headers were removed before the layer saw the
        // request: see `remove_hop_by_hop`.)
        if let Some(host) = &host {
            parts.headers.insert(HOST, host.clone());
        }
        if self.forwarded_headers {
            let trusted = client_address.is_some_and(|ClientAddress(peer)| {
                // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
                let ip = peer.ip().to_canonical();
                self.trusted_proxies.iter().any(|block| block.contains(&ip))
            });
            add_forwarded(&mut parts.headers, client_address, host.as_ref(), trusted);
        }
        let progress = parts.extensions.get::<BodyProgress>().cloned();
        let body = body.map_err(Into::into).boxed_unsync();
        let sent = self.client.request(Request::from_parts(parts, body));
        match self.answer_within(sent, progress).await {
            Ok(Ok(response)) => {
                // Written once: every request storing it would make all
                // cores contend for one cache line.
                if !self.answered.load(Ordering::Relaxed) {
                    self.answered.store(true, Ordering::Relaxed);
                }
                self.forwarded.increment(1);
                let (mut parts, body) = response.into_parts();
                remove_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, Either::Left(StallLimited::new(body, self.timeout)))
            }
            Ok(Err(error)) => match BodyLimit::in_chain(&error) {
                // The client's body broke a limit: the client's doing.
                Some(BodyLimit::Stalled) => {
                    count("timeout");
                    answer(StatusCode::REQUEST_TIMEOUT, "the request body stalled")
                }
                Some(BodyLimit::TooLarge) => {
                    count("rejected_by_limit");
                    answer(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "the request body is too large",
                    )
                }
                None => {
                    let cause = error_chain(&error);
                    tracing::warn!(cause = %cause, upstream = %Redacted(&self.upstream), "invalid_scope_proxy.upstream_unreachable");
                    metrics::counter!("invalid_scope_proxy_upstream_errors_total", "kind" => "unreachable").increment(1);
                    count("unreachable");
                    answer(
                        StatusCode::BAD_GATEWAY,
                        "the authorization server could not be reached",
                    )
                }
            },
            Err(_) => {
                tracing::warn!(timeout_seconds = self.timeout.as_secs_f64(), upstream = %Redacted(&self.upstream), "invalid_scope_proxy.upstream_timeout");
                metrics::counter!("invalid_scope_proxy_upstream_errors_total", "kind" => "timeout")
                    .increment(1);
                count("timeout");
                answer(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the authorization server did not answer in time",
                )
            }
        }
    }
}

impl Inner {
    /// The upstream's answer, or `Err` when it took longer than
    /// `upstream_timeout` counted from the end of the request body: while
    /// a body still streams, `body_timeout` governs it (an upload longer
    /// than the upstream timeout is no upstream failure, and a stalled one
    /// is the client's, answered 408). Without a [`BodyProgress`], from now.
    async fn answer_within<F: Future>(
        &self,
        sent: F,
        progress: Option<BodyProgress>,
    ) -> Result<F::Output, ()> {
        let started = tokio::time::Instant::now();
        let mut sent = std::pin::pin!(sent);
        loop {
            let now = tokio::time::Instant::now();
            let deadline = match progress.as_ref().map(BodyProgress::ended) {
                None => started + self.timeout,
                Some(Some(ended)) => ended + self.timeout,
                Some(None) => now + self.timeout,
            };
            tokio::select! {
                answer = &mut sent => return Ok(answer),
                _ = tokio::time::sleep_until(deadline) => {
                    let ended = progress.as_ref().is_none_or(|progress| progress.ended().is_some());
                    if ended && tokio::time::Instant::now() >= deadline {
                        return Err(());
                    }
                }
            }
        }
    }
}

/// Counts a request that was not forwarded, by why.
fn count(result: &'static str) {
    metrics::counter!("invalid_scope_proxy_requests_total", "result" => result).increment(1);
}

/// A short plain answer of the proxy's own.
fn answer(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    plain(status, text).map(Either::Right)
}

/// A short plain answer, `text/plain`.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response<Plain> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// RFC 9110 §7.6.1: `Connection` and every header it names, and the
/// hop-by-hop fields a proxy must not forward. Removed from a request as
/// soon as it arrives, before the layer reads it, so the layer reads what
/// the server receives (`Connection: authorization` must not give the layer
/// a client id the server never sees), and from an answer before it goes
/// back.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    match headers.get_all(CONNECTION).iter().count() {
        0 => {}
        // The usual case (`keep-alive`, `close`): the one value is taken
        // out, so the names it lists are removed without a list of them.
        1 => {
            if let Some(connection) = headers.remove(CONNECTION) {
                for name in connection_names(&connection) {
                    headers.remove(name);
                }
            }
        }
        _ => {
            let values: Vec<HeaderValue> = headers.get_all(CONNECTION).iter().cloned().collect();
            for value in &values {
                for name in connection_names(value) {
                    headers.remove(name);
                }
            }
        }
    }
    for name in [CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE] {
        headers.remove(name);
    }
    for name in ["keep-alive", "proxy-connection"] {
        headers.remove(name);
    }
}

/// The header names a `Connection` value lists. Removing by `&str` parses
/// the name in place: an invalid one matches nothing and allocates nothing.
fn connection_names(value: &HeaderValue) -> impl Iterator<Item = &str> {
    value.to_str().unwrap_or_default().split(',').map(str::trim)
}

/// The forwarding headers that tell the server who asked, and how.
///
/// From a peer outside `trusted_proxies`, whatever the client said about
/// itself goes (`X-Forwarded-For`, `-Proto`, `-Host`, `-Port`, `-Prefix`,
/// `Forwarded`, `X-Real-IP`): `X-Forwarded-For` is the peer's address,
/// `-Proto` is `http` (the proxy listens in the clear) and `-Host` the
/// request's host. From a trusted peer (an ingress that terminates TLS),
/// they are kept as it set them, the peer is appended to `X-Forwarded-For`,
/// and `-Proto` and `-Host` are only filled in when absent.
fn add_forwarded(
    headers: &mut HeaderMap,
    client: Option<ClientAddress>,
    host: Option<&HeaderValue>,
    trusted: bool,
) {
    if !trusted {
        for name in [
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-forwarded-port",
            "x-forwarded-prefix",
            "forwarded",
            "x-real-ip",
        ] {
            headers.remove(name);
        }
    }
    if let Some(ClientAddress(address)) = client {
        let ip = address.ip().to_canonical().to_string();
        let earlier: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        let value = if earlier.is_empty() {
            ip
        } else {
            format!("{}, {ip}", earlier.join(", "))
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert("x-forwarded-for", value);
        }
    }
    if !headers.contains_key("x-forwarded-proto") {
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    if let Some(host) = host {
        if !headers.contains_key("x-forwarded-host") {
            headers.insert("x-forwarded-host", host.clone());
        }
    }
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_go() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert(UPGRADE, HeaderValue::from_static("h2c"));
        headers.insert("cookie", HeaderValue::from_static("session=kept"));
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["cookie"], "session=kept");
    }

    #[test]
    fn every_connection_line_is_read_and_a_bad_name_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.append(CONNECTION, HeaderValue::from_static("x-one, not a name"));
        headers.append(CONNECTION, HeaderValue::from_static("x-two"));
        headers.insert("x-one", HeaderValue::from_static("1"));
        headers.insert("x-two", HeaderValue::from_static("2"));
        headers.insert("x-three", HeaderValue::from_static("kept"));
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert_eq!(headers["x-three"], "kept");
    }

    fn spoofed() -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "login.example"),
            ("x-forwarded-port", "443"),
            ("x-forwarded-prefix", "/auth"),
            ("forwarded", "for=203.0.113.7;proto=https"),
            ("x-real-ip", "203.0.113.7"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        headers
    }

    fn forwarded(trusted: bool) -> HeaderMap {
        let mut headers = spoofed();
        let client = ClientAddress("10.1.2.3:5000".parse().unwrap());
        let host = HeaderValue::from_static("as.example");
        add_forwarded(&mut headers, Some(client), Some(&host), trusted);
        headers
    }

    #[test]
    fn an_untrusted_peer_says_nothing_about_the_client() {
        let headers = forwarded(false);
        assert_eq!(headers["x-forwarded-for"], "10.1.2.3");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-host"], "as.example");
        for gone in [
            "x-forwarded-port",
            "x-forwarded-prefix",
            "forwarded",
            "x-real-ip",
        ] {
            assert!(headers.get(gone).is_none(), "{gone}");
        }
    }

    #[test]
    fn a_trusted_ingress_is_believed_and_the_peer_appended() {
        let headers = forwarded(true);
        assert_eq!(headers["x-forwarded-for"], "203.0.113.7, 10.1.2.3");
        assert_eq!(
            headers["x-forwarded-proto"], "https",
            "TLS ended at the ingress"
        );
        assert_eq!(headers["x-forwarded-host"], "login.example");
        assert_eq!(headers["x-real-ip"], "203.0.113.7");
        assert_eq!(headers["x-forwarded-prefix"], "/auth");
        // Without headers of its own, the proxy's fill in.
        let mut bare = HeaderMap::new();
        let client = ClientAddress("10.1.2.3:5000".parse().unwrap());
        add_forwarded(&mut bare, Some(client), None, true);
        assert_eq!(bare["x-forwarded-for"], "10.1.2.3");
        assert_eq!(bare["x-forwarded-proto"], "http");
    }
}
