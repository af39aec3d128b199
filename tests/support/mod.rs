//! Shared test support: an event-capturing subscriber and small builders.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Registry;

#[cfg(feature = "bodies")]
pub mod flow;
#[cfg(feature = "redis")]
pub mod redis_server;

/// One event as data: level, target and every field as the string a
/// formatter would print (the message under `message`).
#[derive(Clone, Debug, PartialEq)]
pub struct CapturedEvent {
    pub level: Level,
    pub target: String,
    pub fields: BTreeMap<String, String>,
}

impl CapturedEvent {
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .unwrap_or_else(|| panic!("event has no field {name}: {self:?}"))
    }

    pub fn message(&self) -> &str {
        self.field("message")
    }
}

#[derive(Clone, Default)]
struct CaptureLayer {
    events: Arc<Mutex<Vec<CapturedEvent>>>,
}

struct FieldVisitor<'a>(&'a mut BTreeMap<String, String>);

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for CaptureLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut FieldVisitor(&mut fields));
        self.events.lock().unwrap().push(CapturedEvent {
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            fields,
        });
    }
}

/// A subscriber that captures every event, and the events so far: for a
/// test that waits for an event a background task emits.
pub fn capturing() -> (
    impl Subscriber + Send + Sync,
    Arc<Mutex<Vec<CapturedEvent>>>,
) {
    let layer = CaptureLayer::default();
    let events = Arc::clone(&layer.events);
    (Registry::default().with(layer), events)
}

/// Runs `f` with a subscriber that captures every event on this thread.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<CapturedEvent>) {
    let layer = CaptureLayer::default();
    let events = Arc::clone(&layer.events);
    let subscriber = Registry::default().with(layer);
    let output = tracing::subscriber::with_default(subscriber, f);
    let events = events.lock().unwrap().clone();
    (output, events)
}

/// Drives `future` to completion on a current-thread runtime, so every task
/// it spawns runs on this thread (and under this thread's subscriber).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Drives `future` to completion with `subscriber` as this thread's default.
pub fn block_on_under<F: Future>(
    subscriber: impl Subscriber + Send + Sync + 'static,
    future: F,
) -> F::Output {
    tracing::subscriber::with_default(subscriber, || block_on(future))
}

/// Drives `future` to completion, capturing every event it emits.
pub fn run_captured<F: Future>(future: F) -> (F::Output, Vec<CapturedEvent>) {
    capture(|| block_on(future))
}

/// Sends `request` through `layer` around a service that redirects to
/// `location`, and returns the fields of the one rejection event.
pub fn rejection_fields_for<G, H>(
    layer: invalid_scope_observer::InvalidScopeObserverLayer<G, H>,
    location: &'static str,
    request: http::Request<()>,
) -> BTreeMap<String, String>
where
    G: invalid_scope_observer::GrantableScopes,
    H: invalid_scope_observer::OnRejection,
{
    use tower::{Layer, ServiceExt};
    let (response, events) = run_captured(layer.layer(redirecting(location)).oneshot(request));
    response.unwrap();
    rejection_fields(&events)
}

/// Only the events of this crate.
pub fn ours(events: &[CapturedEvent]) -> Vec<&CapturedEvent> {
    events
        .iter()
        .filter(|event| event.target == invalid_scope_observer::TARGET)
        .collect()
}

/// The fields of the one rejection event among `events`, without the message.
pub fn rejection_fields(events: &[CapturedEvent]) -> BTreeMap<String, String> {
    let ours = ours(events);
    assert_eq!(ours.len(), 1, "expected exactly one event, got {ours:?}");
    let event = ours[0];
    assert_eq!(event.level, Level::WARN);
    assert_eq!(event.message(), "oauth.authorize.invalid_scope");
    let mut fields = event.fields.clone();
    fields.remove("message");
    fields
}

/// A field map from pairs, for exact comparisons.
pub fn fields<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// A minimal HTTP/1.1 client over a fresh connection: sends one GET with a
/// `User-Agent` and returns the response with its body collected.
pub async fn http_get(
    address: std::net::SocketAddr,
    path_and_query: &str,
    user_agent: &str,
) -> http::Response<bytes::Bytes> {
    let request = http::Request::get(path_and_query)
        .header(http::header::USER_AGENT, user_agent)
        .body(bytes::Bytes::new())
        .unwrap();
    http_send(address, request).await
}

/// Sends `request` (with a `Host` added) over a fresh HTTP/1.1 connection
/// and returns the response with its body collected.
pub async fn http_send(
    address: std::net::SocketAddr,
    request: http::Request<bytes::Bytes>,
) -> http::Response<bytes::Bytes> {
    use http_body_util::{BodyExt, Full};

    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let (mut parts, body) = request.into_parts();
    parts
        .headers
        .insert(http::header::HOST, address.to_string().parse().unwrap());
    let request = http::Request::from_parts(parts, Full::new(body));
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    drop(sender);
    connection.await.unwrap().unwrap();
    http::Response::from_parts(parts, body)
}

/// Serves the next `connections` connections on `listener`, one after
/// another, with hyper's HTTP/1.1, each through a clone of `service`.
pub async fn serve_connections<S, B>(
    listener: tokio::net::TcpListener,
    service: S,
    connections: usize,
) where
    S: tower::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    for _ in 0..connections {
        let (stream, _) = listener.accept().await.unwrap();
        hyper::server::conn::http1::Builder::new()
            .serve_connection(
                hyper_util::rt::TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service.clone()),
            )
            .await
            .unwrap();
    }
}

/// An inner service that answers every request with a `302` to `location`.
pub fn redirecting(
    location: &'static str,
) -> impl tower::Service<
    http::Request<()>,
    Response = http::Response<()>,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<http::Response<()>, std::convert::Infallible>> + Send,
> + Clone
       + Send
       + Sync
       + 'static {
    tower::service_fn(move |_request: http::Request<()>| async move {
        Ok(http::Response::builder()
            .status(302)
            .header(http::header::LOCATION, location)
            .body(())
            .unwrap())
    })
}

/// A body of fixed frames, one per `poll_frame`; an `Err` item fails the
/// body there. It says it has ended once the last frame is out (as hyper's
/// and axum's bodies do) unless built with [`Frames::without_end_hint`], so
/// both ways a body can end are exercised.
#[derive(Debug)]
pub struct Frames {
    items: std::collections::VecDeque<Result<bytes::Bytes, &'static str>>,
    hints_end: bool,
}

impl Frames {
    pub fn new(frames: &[&'static str]) -> Self {
        Self::from_bytes(
            frames
                .iter()
                .map(|frame| bytes::Bytes::from_static(frame.as_bytes())),
        )
    }

    pub fn from_bytes(frames: impl IntoIterator<Item = bytes::Bytes>) -> Self {
        Self {
            items: frames.into_iter().map(Ok).collect(),
            hints_end: true,
        }
    }

    /// Fails the body with `error` after the frames so far.
    pub fn then_fail(mut self, error: &'static str) -> Self {
        self.items.push_back(Err(error));
        self
    }

    /// Ends only by answering `None`, never by `is_end_stream`.
    pub fn without_end_hint(mut self) -> Self {
        self.hints_end = false;
        self
    }
}

impl http_body::Body for Frames {
    type Data = bytes::Bytes;
    type Error = &'static str;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, &'static str>>> {
        std::task::Poll::Ready(
            self.items
                .pop_front()
                .map(|item| item.map(http_body::Frame::data)),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.hints_end && self.items.is_empty()
    }
}

/// Where a formatter writes, for tests that read its lines back (a JSON or
/// logfmt formatter's `with_writer`).
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Buffer {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Each line parsed as JSON (for the JSON formatter).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}
