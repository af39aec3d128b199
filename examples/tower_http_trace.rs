//! The layer in a `tower::ServiceBuilder` beside tower-http's `TraceLayer`,
//! the usual stack in front of an axum or hyper service.
//!
//! `cargo run --example tower_http_trace` sends one rejected request through
//! the stack and exits; the request span from `TraceLayer` wraps our event.

use std::convert::Infallible;

use bytes::Bytes;
use http::header::LOCATION;
use http::{Request, Response};
use http_body_util::Empty;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tower_http::trace::TraceLayer;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .init();

    let authorize = service_fn(|_request: Request<Empty<Bytes>>| async {
        Ok::<_, Infallible>(
            Response::builder()
                .status(302)
                .header(LOCATION, "https://client.example/cb?error=invalid_scope")
                .body(Empty::<Bytes>::new())
                .expect("a valid response"),
        )
    });
    let service = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(InvalidScopeObserverLayer::new(ScopeSet::parse(
            "openid profile",
        )))
        .service(authorize);

    let request = Request::get("/authorize?client_id=app&scope=openid+admin")
        .body(Empty::new())
        .expect("a valid request");
    let response = service.oneshot(request).await.expect("infallible");
    println!("status {}", response.status());
}
