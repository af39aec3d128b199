//! Every event the layer emits carries the span that was current for its
//! request, so request ids and trace ids join: the authorization event, the
//! token event (reported from the response body) and the narrowing event,
//! read back from the JSON formatter.
#![cfg(feature = "bodies")]

mod support;

use std::convert::Infallible;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{Method, Request, Response, StatusCode};
use http_body::Body as _;
use http_body_util::{BodyExt, Full};
use invalid_scope_observer::body::RequestBody;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet, TARGET};
use support::{block_on_under, http_send, Buffer, Frames};
use tokio::net::TcpListener;
use tower::{service_fn, Layer, ServiceBuilder, ServiceExt};
use tower_http::trace::TraceLayer;
use tracing::{Instrument, Level};

fn json_subscriber(buffer: &Buffer) -> impl tracing::Subscriber + Send + Sync + 'static {
    // tower-http's request span is at DEBUG.
    tracing_subscriber::fmt()
        .json()
        .with_max_level(Level::DEBUG)
        .with_writer(buffer.clone())
        .finish()
}

/// Our events among the JSON lines.
fn our_lines(buffer: &Buffer) -> Vec<serde_json::Value> {
    buffer
        .json_lines()
        .into_iter()
        .filter(|line| line["target"] == TARGET)
        .collect()
}

/// An authorization server: a redirect with `invalid_scope` for GET, and
/// for POSTed forms a token error (scope `admin`) or a narrowed grant.
async fn authorization_server(
    request: Request<RequestBody<hyper::body::Incoming>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::POST {
        return Ok(Response::builder()
            .status(StatusCode::FOUND)
            .header(LOCATION, "https://client.example/cb?error=invalid_scope")
            .body(Full::default())
            .unwrap());
    }
    let form = request.into_body().collect().await.unwrap().to_bytes();
    let (status, json) = if form.windows(5).any(|window| window == b"admin") {
        (400, r#"{"error":"invalid_scope"}"#)
    } else {
        (
            200,
            r#"{"access_token":"at-secret","token_type":"Bearer","scope":"openid"}"#,
        )
    };
    Ok(Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(json.as_bytes())))
        .unwrap())
}

fn form(body: &'static str) -> Request<Bytes> {
    Request::post("/token")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Bytes::from_static(body.as_bytes()))
        .unwrap()
}

#[test]
fn under_trace_layer_every_event_has_the_request_span() {
    let buffer = Buffer::default();
    block_on_under(json_subscriber(&buffer), async {
        let service = ServiceBuilder::new()
            .layer(TraceLayer::new_for_http())
            .layer(InvalidScopeObserverLayer::new(ScopeSet::parse("openid")).observe_bodies())
            .service(service_fn(authorization_server));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(support::serve_connections(listener, service, 3));
        let authorize = Request::get("/authorize?client_id=c&scope=openid+admin")
            .body(Bytes::new())
            .unwrap();
        http_send(address, authorize).await;
        http_send(
            address,
            form("grant_type=client_credentials&client_id=c&scope=openid+admin"),
        )
        .await;
        http_send(
            address,
            form("grant_type=client_credentials&client_id=c&scope=openid+email"),
        )
        .await;
        server.await.unwrap();
    });
    let lines = our_lines(&buffer);
    let messages: Vec<_> = lines
        .iter()
        .map(|line| line["fields"]["message"].clone())
        .collect();
    assert_eq!(
        messages,
        [
            "oauth.authorize.invalid_scope",
            "oauth.token.invalid_scope",
            "oauth.scope_narrowed"
        ],
        "{}",
        buffer.text()
    );
    let methods = ["GET", "POST", "POST"];
    for (line, method) in lines.iter().zip(methods) {
        assert_eq!(line["span"]["name"], "request", "{line}");
        assert_eq!(line["span"]["method"], method, "{line}");
    }
}

#[test]
fn a_body_dropped_before_its_end_reports_in_the_span_of_its_request() {
    // The server polls the answer's only frame outside any span, then drops
    // the body without asking for its end: the report runs in the drop, and
    // still carries the span the request was served in.
    let buffer = Buffer::default();
    block_on_under(json_subscriber(&buffer), async {
        let inner = service_fn(|request: Request<RequestBody<Frames>>| async move {
            request.into_body().collect().await.unwrap();
            Ok::<_, Infallible>(
                Response::builder()
                    .status(StatusCode::BAD_REQUEST)
                    .header(CONTENT_TYPE, "application/json")
                    .body(Frames::new(&[r#"{"error":"invalid_scope"}"#]).without_end_hint())
                    .unwrap(),
            )
        });
        let service = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
            .observe_bodies()
            .layer(inner);
        let request = Request::post("/token")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Frames::new(&["grant_type=client_credentials&scope=admin"]))
            .unwrap();
        let span = tracing::info_span!("request", request_id = 7);
        let response = service.oneshot(request).instrument(span).await.unwrap();
        let mut body = pin!(response.into_body());
        let first = body
            .as_mut()
            .poll_frame(&mut Context::from_waker(Waker::noop()));
        assert!(matches!(first, Poll::Ready(Some(Ok(_)))));
        assert!(!body.is_end_stream());
        assert!(our_lines(&buffer).is_empty(), "not over yet");
    });
    let lines = our_lines(&buffer);
    assert_eq!(lines.len(), 1, "{}", buffer.text());
    assert_eq!(lines[0]["fields"]["message"], "oauth.token.invalid_scope");
    assert_eq!(lines[0]["span"]["name"], "request");
    assert_eq!(lines[0]["span"]["request_id"], 7);
}
