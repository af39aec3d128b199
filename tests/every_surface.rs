//! Every place an OAuth server says `invalid_scope` (or narrows a grant),
//! each through `oneshot` and through a real hyper server on 127.0.0.1.
//!
//! Request and response bodies stream in several frames, with a frame
//! boundary inside a percent-escape of the form and inside `invalid_scope`
//! of the JSON answer. Each run also shows that the inner service received
//! the request's frames, and the client the response's bytes, unchanged.
#![cfg(feature = "bodies")]

mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HeaderName, AUTHORIZATION, CONTENT_TYPE, LOCATION, USER_AGENT};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use invalid_scope_observer::body::WithBodies;
use invalid_scope_observer::{InvalidScopeObserverLayer, RateLimit, ScopeDecision, ScopeSet};
use support::{ours, run_captured, CapturedEvent, Frames};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tower::{Layer, Service, ServiceExt};
use tracing::Level;

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json;charset=UTF-8";
const REJECTED: &str = "https://client.example/cb?error=invalid_scope&state=xyz";

/// One request and the inner service's answer to it, and what the layer
/// must report.
#[derive(Clone)]
struct Surface {
    name: &'static str,
    method: Method,
    path: &'static str,
    request_headers: Vec<(HeaderName, &'static str)>,
    request_frames: Vec<&'static str>,
    status: StatusCode,
    response_headers: Vec<(HeaderName, &'static str)>,
    response_frames: Vec<&'static str>,
    decision: Option<ScopeDecision>,
    /// Message, level, and the fields that must have these values.
    expected: (&'static str, Level, Vec<(&'static str, &'static str)>),
}

/// An expected value that says the event has no such field.
const ABSENT: &str = "<absent>";

fn surfaces() -> Vec<Surface> {
    let get = |name, path, status, location: &'static str, decision, expected| Surface {
        name,
        method: Method::GET,
        path,
        request_headers: vec![],
        request_frames: vec![],
        status,
        response_headers: vec![(LOCATION, location)],
        response_frames: vec![],
        decision,
        expected,
    };
    let rejection = |message, fields| (message, Level::WARN, fields);
    vec![
        get(
            "authorize GET, query",
            "/authorize?response_type=code&client_id=wizard&scope=openid+admin%3Aall&state=xyz",
            StatusCode::FOUND,
            REJECTED,
            None,
            rejection(
                "oauth.authorize.invalid_scope",
                vec![
                    ("requested_scopes", "openid admin:all"),
                    ("missing_scopes", "admin:all"),
                    ("client_id", "wizard"),
                ],
            ),
        ),
        get(
            "authorize GET, fragment",
            "/authorize?response_type=token&client_id=wizard&scope=openid+admin%3Aall",
            StatusCode::SEE_OTHER,
            "https://client.example/cb#error=invalid_scope&state=xyz",
            None,
            rejection(
                "oauth.authorize.invalid_scope",
                vec![("missing_scopes", "admin:all"), ("status", "303")],
            ),
        ),
        Surface {
            name: "authorize POST (OpenID Connect form post)",
            method: Method::POST,
            path: "/authorize",
            request_headers: vec![(CONTENT_TYPE, FORM)],
            // A frame boundary inside `%3A`, and inside `wizard`.
            request_frames: vec![
                "response_type=code&client_id=wiz",
                "ard&scope=openid+user%3",
                "Aread+admin%3Aall&state=xyz",
            ],
            status: StatusCode::FOUND,
            response_headers: vec![(LOCATION, REJECTED)],
            response_frames: vec![],
            decision: None,
            expected: rejection(
                "oauth.authorize.invalid_scope",
                vec![
                    ("requested_scopes", "openid user:read admin:all"),
                    ("missing_scopes", "admin:all"),
                    ("client_id", "wizard"),
                ],
            ),
        },
        Surface {
            name: "consent POST (django-oauth-toolkit's form)",
            method: Method::POST,
            path: "/o/authorize/",
            request_headers: vec![(CONTENT_TYPE, FORM)],
            request_frames: vec![
                "csrfmiddlewaretoken=t0k&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&scope=openid+adm",
                "in%3Aall&client_id=wizard&state=xyz&response_type=code&allow=Authorize",
            ],
            status: StatusCode::FOUND,
            response_headers: vec![(LOCATION, REJECTED)],
            response_frames: vec![],
            decision: None,
            expected: rejection(
                "oauth.authorize.invalid_scope",
                vec![("missing_scopes", "admin:all"), ("client_id", "wizard")],
            ),
        },
        Surface {
            name: "token endpoint, client_credentials with HTTP Basic",
            method: Method::POST,
            path: "/token",
            // base64("wizard:s3cret")
            request_headers: vec![
                (CONTENT_TYPE, FORM),
                (AUTHORIZATION, "Basic d2l6YXJkOnMzY3JldA=="),
            ],
            request_frames: vec!["grant_type=client_credentials&scope=user%3Aread+admin%3", "Aall"],
            status: StatusCode::BAD_REQUEST,
            response_headers: vec![(CONTENT_TYPE, JSON)],
            // A frame boundary inside `invalid_scope`.
            response_frames: vec![
                r#"{"error":"invalid_"#,
                r#"scope","error_description":"admin:all is not allowed"}"#,
            ],
            decision: None,
            expected: rejection(
                "oauth.token.invalid_scope",
                vec![
                    ("requested_scopes", "user:read admin:all"),
                    ("missing_scopes", "admin:all"),
                    ("client_id", "wizard"),
                    ("grant_type", "client_credentials"),
                    ("status", "400"),
                ],
            ),
        },
        Surface {
            name: "pushed authorization request (PAR)",
            method: Method::POST,
            path: "/par",
            request_headers: vec![(CONTENT_TYPE, FORM)],
            request_frames: vec![
                "response_type=code&client_id=wizard&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&scope=openid+ad",
                "min%3Aall&state=xyz",
            ],
            status: StatusCode::BAD_REQUEST,
            response_headers: vec![(CONTENT_TYPE, "application/json")],
            response_frames: vec![r#"{"error":"invalid_sc"#, r#"ope"}"#],
            decision: None,
            expected: rejection(
                "oauth.token.invalid_scope",
                vec![
                    ("missing_scopes", "admin:all"),
                    ("client_id", "wizard"),
                    // A PAR request names no grant type, and the event
                    // says none (its message says it was a JSON answer).
                    ("grant_type", ABSENT),
                ],
            ),
        },
        get(
            "authorize GET with a signed request object (JAR), scopes from the inner service",
            "/authorize?client_id=wizard&request=eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCBhZG1pbjphbGwifQ.",
            StatusCode::FOUND,
            REJECTED,
            Some(ScopeDecision::new().requested(ScopeSet::parse("openid admin:all"))),
            rejection(
                "oauth.authorize.invalid_scope",
                vec![
                    ("requested_scopes", "openid admin:all"),
                    ("missing_scopes", "admin:all"),
                ],
            ),
        ),
        get(
            "authorize GET with a PAR request_uri, scopes and grantable from the inner service",
            "/authorize?client_id=wizard&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc",
            StatusCode::FOUND,
            REJECTED,
            Some(
                ScopeDecision::new()
                    .requested(ScopeSet::parse("openid profile"))
                    .grantable(ScopeSet::parse("openid")),
            ),
            rejection(
                "oauth.authorize.invalid_scope",
                vec![("grantable_scopes", "openid"), ("missing_scopes", "profile")],
            ),
        ),
        get(
            "narrowing reported by the inner service",
            "/authorize?response_type=code&client_id=wizard&scope=openid+admin%3Aall&state=xyz",
            StatusCode::FOUND,
            "https://client.example/cb?code=abc&state=xyz",
            Some(ScopeDecision::new().granted(ScopeSet::parse("openid"))),
            (
                "oauth.scope_narrowed",
                Level::INFO,
                vec![
                    ("requested_scopes", "openid admin:all"),
                    ("granted_scopes", "openid"),
                    ("dropped_scopes", "admin:all"),
                    ("client_id", "wizard"),
                ],
            ),
        ),
        Surface {
            name: "narrowing in a token answer",
            method: Method::POST,
            path: "/token",
            request_headers: vec![(CONTENT_TYPE, FORM)],
            request_frames: vec![
                "grant_type=refresh_token&refresh_token=r3fresh&client_id=wizard&scope=openid+ad",
                "min%3Aall",
            ],
            status: StatusCode::OK,
            response_headers: vec![(CONTENT_TYPE, JSON)],
            response_frames: vec![
                r#"{"access_token":"s3cr3t-acc"#,
                r#"ess","token_type":"Bearer","expires_in":3600,"scope":"openid"}"#,
            ],
            decision: None,
            expected: (
                "oauth.scope_narrowed",
                Level::INFO,
                vec![
                    ("requested_scopes", "openid admin:all"),
                    ("granted_scopes", "openid"),
                    ("dropped_scopes", "admin:all"),
                    ("client_id", "wizard"),
                    ("grant_type", "refresh_token"),
                    ("status", "200"),
                ],
            ),
        },
    ]
}

fn layer() -> InvalidScopeObserverLayer<HashMap<String, ScopeSet>, (), WithBodies> {
    InvalidScopeObserverLayer::new(HashMap::from([(
        "wizard".to_string(),
        ScopeSet::parse("openid user:read project:read"),
    )]))
    .rate_limit(RateLimit::unlimited())
    .observe_bodies()
}

/// The inner service: reads the request body frame by frame (recording each
/// and saying so on `frame_read`), then answers as the surface says.
#[derive(Clone)]
struct Scripted {
    surface: Arc<Surface>,
    frames_seen: Arc<Mutex<Vec<Bytes>>>,
    frame_read: Option<mpsc::UnboundedSender<()>>,
}

impl<B> Service<Request<B>> for Scripted
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Debug,
{
    type Response = Response<Frames>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Frames>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let mut body = request.into_body();
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    this.frames_seen.lock().unwrap().push(data);
                    if let Some(frame_read) = &this.frame_read {
                        frame_read.send(()).unwrap();
                    }
                }
            }
            let surface = &this.surface;
            let mut response = Response::builder().status(surface.status);
            for (name, value) in &surface.response_headers {
                response = response.header(name, *value);
            }
            let mut response = response
                .body(Frames::new(&surface.response_frames))
                .unwrap();
            if let Some(decision) = &surface.decision {
                response.extensions_mut().insert(decision.clone());
            }
            Ok(response)
        })
    }
}

fn request_to<B>(surface: &Surface, body: B) -> Request<B> {
    let mut request = Request::builder()
        .method(surface.method.clone())
        .uri(surface.path)
        .header(USER_AGENT, "surface-test/1");
    for (name, value) in &surface.request_headers {
        request = request.header(name, *value);
    }
    request.body(body).unwrap()
}

/// What one run saw: the frames the inner service read, the response bytes
/// the client got, and the events.
struct Run {
    frames_seen: Vec<Bytes>,
    status: StatusCode,
    response_bytes: Bytes,
    events: Vec<CapturedEvent>,
}

fn through_oneshot(surface: &Surface) -> Run {
    let frames_seen = Arc::new(Mutex::new(Vec::new()));
    let inner = Scripted {
        surface: Arc::new(surface.clone()),
        frames_seen: Arc::clone(&frames_seen),
        frame_read: None,
    };
    let request = request_to(surface, Frames::new(&surface.request_frames));
    let ((status, response_bytes), events) = run_captured(async {
        let response = layer().layer(inner).oneshot(request).await.unwrap();
        let status = response.status();
        (
            status,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    });
    let frames_seen = frames_seen.lock().unwrap().clone();
    Run {
        frames_seen,
        status,
        response_bytes,
        events,
    }
}

/// Serves one connection with hyper, and sends the request with a client
/// that waits for the inner service to read each frame before sending the
/// next, so the frame boundaries survive the trip over TCP.
fn through_hyper(surface: &Surface) -> Run {
    let frames_seen = Arc::new(Mutex::new(Vec::new()));
    let (frame_read, mut frames_read) = mpsc::unbounded_channel();
    let inner = Scripted {
        surface: Arc::new(surface.clone()),
        frames_seen: Arc::clone(&frames_seen),
        frame_read: Some(frame_read),
    };
    let service = layer().layer(inner);
    let ((status, response_bytes), events) = run_captured(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await
                .unwrap();
        });
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        let connection = tokio::spawn(connection);
        let (mut body_sender, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
        let mut request = request_to(surface, body);
        request
            .headers_mut()
            .insert(http::header::HOST, address.to_string().parse().unwrap());
        let response = tokio::spawn(sender.send_request(request));
        for frame in &surface.request_frames {
            body_sender
                .send_data(Bytes::from_static(frame.as_bytes()))
                .await
                .unwrap();
            frames_read.recv().await.unwrap();
        }
        drop(body_sender);
        let response = response.await.unwrap().unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        connection.abort();
        server.await.unwrap();
        (status, bytes)
    });
    let frames_seen = frames_seen.lock().unwrap().clone();
    Run {
        frames_seen,
        status,
        response_bytes,
        events,
    }
}

fn check(surface: &Surface, how: &str, run: Run) {
    let context = format!("{} through {how}", surface.name);
    let sent: Vec<Bytes> = surface
        .request_frames
        .iter()
        .map(|frame| Bytes::from_static(frame.as_bytes()))
        .collect();
    assert_eq!(run.frames_seen, sent, "{context}: request frames changed");
    assert_eq!(run.status, surface.status, "{context}");
    assert_eq!(
        run.response_bytes,
        surface.response_frames.concat(),
        "{context}: response bytes changed"
    );
    let ours = ours(&run.events);
    assert_eq!(ours.len(), 1, "{context}: {:?}", run.events);
    let event = ours[0];
    let (message, level, fields) = &surface.expected;
    assert_eq!(event.message(), *message, "{context}");
    assert_eq!(event.level, *level, "{context}");
    assert_eq!(event.field("user_agent"), "surface-test/1", "{context}");
    for (name, value) in fields {
        if *value == ABSENT {
            assert!(!event.fields.contains_key(*name), "{context}: field {name}");
        } else {
            assert_eq!(event.field(name), *value, "{context}: field {name}");
        }
    }
    for value in event.fields.values() {
        assert!(
            !value.contains("s3cr"),
            "{context}: a secret reached the event: {event:?}"
        );
    }
}

#[test]
fn every_surface_through_oneshot() {
    for surface in surfaces() {
        check(&surface, "oneshot", through_oneshot(&surface));
    }
}

#[test]
fn every_surface_through_a_hyper_server() {
    for surface in surfaces() {
        check(&surface, "hyper", through_hyper(&surface));
    }
}
