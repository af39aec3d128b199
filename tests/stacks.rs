//! The layer in the stacks users run in production, over real HTTP on
//! 127.0.0.1, in both modes (headers only, and reading bodies): tower-http's
//! `TraceLayer`, `TimeoutLayer`, `CorsLayer`, `CompressionLayer` (the
//! observer inside it) and `RequestBodyLimitLayer`, with `tower::buffer` and
//! `tower::limit::ConcurrencyLimit`, under axum's `Router::layer` and under
//! a plain hyper-util `ServiceBuilder`. Each stack must compile (tower-http's
//! timeout, CORS and compression layers need a `Default` response body) and
//! report what it reported alone.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_METHOD, CONTENT_ENCODING,
    CONTENT_TYPE, LOCATION, ORIGIN,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
#[cfg(feature = "bodies")]
use invalid_scope_observer::body::RequestBody;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use support::{http_send, ours, run_captured, CapturedEvent};
use tokio::net::TcpListener;
use tower::buffer::BufferLayer;
use tower::limit::ConcurrencyLimitLayer;
use tower::{service_fn, BoxError, ServiceBuilder};
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

const REJECTED: &str = "https://client.example/cb?error=invalid_scope&state=xyz";
const TOKEN_ERROR: &str =
    r#"{"error":"invalid_scope","error_description":"admin:all is not for this client"}"#;
const TOKEN_FORM: &str = "grant_type=client_credentials&client_id=wizard&scope=openid+admin%3Aall";

fn grantable() -> ScopeSet {
    ScopeSet::parse("openid profile")
}

fn token_error() -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(TOKEN_ERROR.as_bytes())))
        .unwrap()
}

fn rejecting_redirect() -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(LOCATION, REJECTED)
        .body(Full::default())
        .unwrap()
}

/// The authorization server behind the hyper stack: the token endpoint
/// reads its form (so a layer that reads bodies sees it) and rejects the
/// scope; every other request is an authorization request it redirects
/// with `error=invalid_scope`.
async fn authorization_server<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    if request.method() == Method::POST {
        request.into_body().collect().await.unwrap();
        Ok(token_error())
    } else {
        Ok(rejecting_redirect())
    }
}

/// Trace, Timeout, Cors, Compression, RequestBodyLimit, then `$inner`
/// layers, then the observer innermost: the order the README gives.
macro_rules! production_stack {
    ($observer:expr $(, $inner:expr)*) => {
        ServiceBuilder::new()
            .layer(TraceLayer::new_for_http())
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(30),
            ))
            .layer(CorsLayer::permissive())
            .layer(CompressionLayer::new())
            .layer(RequestBodyLimitLayer::new(64 * 1024))
            $(.layer($inner))*
            .layer($observer)
    };
}

/// What the three requests got back, and the events they caused.
struct Run {
    authorize: Response<Bytes>,
    token: Response<Bytes>,
    preflight: Response<Bytes>,
    events: Vec<CapturedEvent>,
}

/// An authorization request, a gzip-accepting token request and a CORS
/// preflight against a server at `address`.
async fn three_requests(
    address: SocketAddr,
) -> (Response<Bytes>, Response<Bytes>, Response<Bytes>) {
    let authorize = Request::get("/authorize?client_id=wizard&scope=openid+admin%3Aall&state=xyz")
        .body(Bytes::new())
        .unwrap();
    let token = Request::post("/token")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT_ENCODING, "gzip")
        .body(Bytes::from_static(TOKEN_FORM.as_bytes()))
        .unwrap();
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/token")
        .header(ORIGIN, "https://app.example")
        .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Bytes::new())
        .unwrap();
    (
        http_send(address, authorize).await,
        http_send(address, token).await,
        http_send(address, preflight).await,
    )
}

/// Serves `service` on 127.0.0.1 with hyper-util, one task a connection.
async fn serve_hyper<S, B>(service: S) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    S: tower::Service<Request<hyper::body::Incoming>, Response = Response<B>>
        + Clone
        + Send
        + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, server)
}

/// Trace → Timeout → Cors → Compression → RequestBodyLimit → Buffer →
/// ConcurrencyLimit → the observer → a `service_fn`, served by hyper-util.
macro_rules! hyper_stack_run {
    ($observer:expr) => {{
        let ((authorize, token, preflight), events) = run_captured(async {
            let stack = production_stack!(
                $observer,
                BufferLayer::new(64),
                ConcurrencyLimitLayer::new(64)
            )
            .service(service_fn(authorization_server));
            let (address, server) = serve_hyper(stack).await;
            let answers = three_requests(address).await;
            server.abort();
            answers
        });
        Run {
            authorize,
            token,
            preflight,
            events,
        }
    }};
}

/// The same layers under axum's `Router::layer` around each route, with
/// `HandleErrorLayer` before `tower::buffer` (axum needs errors turned into
/// responses) and the observer innermost again.
macro_rules! axum_stack_run {
    ($observer:expr) => {{
        let ((authorize, token, preflight), events) = run_captured(async {
            let app = Router::new()
                .route("/authorize", get(|| async { rejecting_redirect() }))
                .route("/token", post(|_form: String| async { token_error() }))
                .layer(production_stack!(
                    $observer,
                    HandleErrorLayer::new(|_: BoxError| async { StatusCode::SERVICE_UNAVAILABLE }),
                    BufferLayer::new(64),
                    ConcurrencyLimitLayer::new(64)
                ));
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            let answers = three_requests(address).await;
            server.abort();
            answers
        });
        Run {
            authorize,
            token,
            preflight,
            events,
        }
    }};
}

fn named<'a>(events: &'a [CapturedEvent], message: &str) -> Vec<&'a CapturedEvent> {
    ours(events)
        .into_iter()
        .filter(|event| event.message() == message)
        .collect()
}

/// Every layer did its job, the responses are the server's, and the
/// observer reported the authorization rejection (and, reading bodies, the
/// token rejection) once each.
fn assert_stack_works(run: &Run, reads_bodies: bool) {
    assert_eq!(run.authorize.status(), StatusCode::FOUND);
    assert_eq!(run.authorize.headers()[LOCATION], REJECTED);

    assert_eq!(run.token.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        run.token.headers()[CONTENT_ENCODING],
        "gzip",
        "compressed outside the observer"
    );

    // CorsLayer answers the preflight itself, with a default body.
    assert_eq!(run.preflight.status(), StatusCode::OK);
    assert_eq!(run.preflight.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");

    let authorize = named(&run.events, "oauth.authorize.invalid_scope");
    assert_eq!(authorize.len(), 1, "{:?}", run.events);
    assert_eq!(authorize[0].field("missing_scopes"), "admin:all");
    assert_eq!(authorize[0].field("client_id"), "wizard");

    let token = named(&run.events, "oauth.token.invalid_scope");
    if reads_bodies {
        assert_eq!(token.len(), 1, "{:?}", run.events);
        assert_eq!(token[0].field("missing_scopes"), "admin:all");
        assert_eq!(token[0].field("grant_type"), "client_credentials");
    } else {
        assert!(token.is_empty(), "headers only reads no body: {token:?}");
    }
}

#[test]
fn hyper_production_stack_headers_only() {
    let run = hyper_stack_run!(InvalidScopeObserverLayer::new(grantable()));
    assert_stack_works(&run, false);
}

#[test]
#[cfg(feature = "bodies")]
fn hyper_production_stack_reading_bodies() {
    let run = hyper_stack_run!(InvalidScopeObserverLayer::new(grantable()).observe_bodies());
    assert_stack_works(&run, true);
}

#[test]
fn axum_production_stack_headers_only() {
    let run = axum_stack_run!(InvalidScopeObserverLayer::new(grantable()));
    assert_stack_works(&run, false);
}

#[test]
#[cfg(feature = "bodies")]
fn axum_production_stack_reading_bodies() {
    let run = axum_stack_run!(InvalidScopeObserverLayer::new(grantable()).observe_bodies());
    assert_stack_works(&run, true);
}

#[test]
#[cfg(feature = "bodies")]
fn a_timeout_answer_built_from_the_default_body_passes_through() {
    // TimeoutLayer builds its own response from `Default` when the inner
    // service is too slow: with the observer inside, from our
    // `ResponseBody`'s `Default`, so this stack only compiles with it. The
    // observer never sees that answer (it is made outside it), so there is
    // nothing to report.
    let (response, events) = run_captured(async {
        let slow = service_fn(|_: Request<RequestBody<hyper::body::Incoming>>| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, Infallible>(token_error())
        });
        let stack = ServiceBuilder::new()
            .layer(TimeoutLayer::with_status_code(
                StatusCode::GATEWAY_TIMEOUT,
                Duration::from_millis(50),
            ))
            .layer(InvalidScopeObserverLayer::new(grantable()).observe_bodies())
            .service(slow);
        let (address, server) = serve_hyper(stack).await;
        let request = Request::post("/token")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Bytes::from_static(TOKEN_FORM.as_bytes()))
            .unwrap();
        let response = http_send(address, request).await;
        server.abort();
        response
    });
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(response.body().is_empty());
    assert!(ours(&events).is_empty(), "{events:?}");
}
