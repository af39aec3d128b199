//! The layer in real servers on 127.0.0.1 through real HTTP: axum and hyper.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http::header::LOCATION;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use support::{fields, http_get, ours, rejection_fields, run_captured};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::{service_fn, Layer};

const REJECTED: &str = "https://client.example/cb?error=invalid_scope&state=xyz";

fn grantable() -> ScopeSet {
    ScopeSet::parse("user:read project:read")
}

async fn serve_axum(app: Router) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                stopped.await.ok();
            })
            .await
            .unwrap();
    });
    (address, stop, server)
}

#[test]
fn axum_router_layer() {
    let ((status, location, body), events) = run_captured(async {
        let app = Router::new()
            .route("/authorize", get(|| async { Redirect::to(REJECTED) }))
            .layer(InvalidScopeObserverLayer::new(grantable()));
        let (address, stop, server) = serve_axum(app).await;
        let response = http_get(
            address,
            "/authorize?client_id=wizard&scope=user:read+dashboard:write&state=xyz",
            "it/1",
        )
        .await;
        stop.send(()).unwrap();
        server.await.unwrap();
        (
            response.status(),
            response.headers()[LOCATION].clone(),
            response.into_body(),
        )
    });
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, REJECTED);
    assert!(body.is_empty());
    assert_eq!(
        rejection_fields(&events),
        fields([
            ("requested_scopes", "user:read dashboard:write"),
            ("grantable_scopes", "user:read project:read"),
            ("missing_scopes", "dashboard:write"),
            ("client_id", "wizard"),
            ("user_agent", "it/1"),
            ("status", "303"),
            ("requested_count", "2"),
            ("grantable_count", "2"),
            ("missing_count", "1"),
            ("truncated", "false"),
            ("suppressed", "0"),
            ("error_description", ""),
            ("unexplained", "false"),
            ("ambiguous", "false"),
        ])
    );
}

#[test]
fn axum_route_layer_observes_only_its_routes() {
    let (statuses, events) = run_captured(async {
        let app = Router::new()
            .route(
                "/authorize",
                get(|| async { Redirect::temporary(REJECTED) }),
            )
            .route_layer(InvalidScopeObserverLayer::new(grantable()))
            .route(
                "/elsewhere",
                post(|| async { "" }).get(|| async { Redirect::to(REJECTED) }),
            );
        let (address, stop, server) = serve_axum(app).await;
        let elsewhere = http_get(address, "/elsewhere?scope=x", "it/1")
            .await
            .status();
        let authorize = http_get(address, "/authorize?scope=x", "it/1")
            .await
            .status();
        stop.send(()).unwrap();
        server.await.unwrap();
        (elsewhere, authorize)
    });
    assert_eq!(
        statuses,
        (StatusCode::SEE_OTHER, StatusCode::TEMPORARY_REDIRECT)
    );
    let ours = ours(&events);
    assert_eq!(ours.len(), 1, "{events:?}");
    assert_eq!(ours[0].field("status"), "307");
    assert_eq!(ours[0].field("missing_scopes"), "x");
}

#[test]
fn hyper_server_through_tower_to_hyper_service() {
    let ((status, body), events) = run_captured(async {
        let authorize = service_fn(|request: Request<hyper::body::Incoming>| async move {
            let location = if request.uri().query().unwrap_or("").contains("admin") {
                REJECTED
            } else {
                "https://client.example/cb?code=abc&state=xyz"
            };
            Ok::<_, Infallible>(
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header(LOCATION, location)
                    .body(Full::new(Bytes::from_static(b"redirecting")))
                    .unwrap(),
            )
        });
        let service = InvalidScopeObserverLayer::new(grantable()).layer(authorize);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(support::serve_connections(listener, service, 2));
        let fine = http_get(
            address,
            "/authorize?client_id=c&scope=user:read",
            "hyper-it",
        )
        .await;
        assert_eq!(
            fine.headers()[LOCATION],
            "https://client.example/cb?code=abc&state=xyz"
        );
        let rejected = http_get(
            address,
            "/authorize?client_id=c&scope=user:read+admin",
            "hyper-it",
        )
        .await;
        server.await.unwrap();
        (rejected.status(), rejected.into_body())
    });
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(body, Bytes::from_static(b"redirecting"));
    let event = rejection_fields(&events);
    assert_eq!(event["missing_scopes"], "admin");
    assert_eq!(event["client_id"], "c");
    assert_eq!(event["user_agent"], "hyper-it");
}
