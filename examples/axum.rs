//! A minimal axum authorization endpoint behind the layer.
//!
//! `cargo run --example axum`, then
//! `curl -i 'http://127.0.0.1:3000/authorize?client_id=app&scope=openid+admin'`.
//! Set `EXAMPLE_ADDR` to listen elsewhere on loopback.

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().init();

    let grantable = ScopeSet::parse("openid profile email");
    let app = Router::new()
        .route(
            "/authorize",
            get(|Query(query): Query<HashMap<String, String>>| async move {
                // A stand-in for a real server's decision.
                let requested = ScopeSet::parse(query.get("scope").map_or("", String::as_str));
                if requested.contains("admin") {
                    Redirect::to("https://client.example/cb?error=invalid_scope")
                } else {
                    Redirect::to("https://client.example/cb?code=abc")
                }
            }),
        )
        // Only the authorize route is observed; `.layer` would observe all.
        .route_layer(InvalidScopeObserverLayer::new(grantable));

    let address = std::env::var("EXAMPLE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on http://{address}");
    axum::serve(listener, app).await
}
