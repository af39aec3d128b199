//! The server half of the end-to-end benchmark (`benches/e2e.sh`): the
//! stand-in authorization endpoint on `127.0.0.1:$E2E_PORT`, `bare` or
//! `observed` (behind the layer with its defaults), on one worker thread so
//! the load generator has the other core. It stops by itself after
//! `E2E_SECONDS` (default 60).
//!
//! `cargo run --release --example e2e_server -- observed`

use std::time::Duration;

use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use tokio::net::TcpListener;
use tower::{service_fn, Layer};

#[path = "support/authorization_server.rs"]
mod authorization_server;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "observed".into());
    let port = std::env::var("E2E_PORT").unwrap_or_else(|_| "18080".into());
    let seconds: u64 = std::env::var("E2E_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    // Every event is formatted, then thrown away: the layer works out each
    // rejection its rate limit lets through, as it would in production, and
    // no disk or terminal adds noise.
    tracing_subscriber::fmt().with_writer(std::io::sink).init();
    let listener = TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("bind 127.0.0.1");
    let endpoint = service_fn(authorization_server::authorize);
    let server = match mode.as_str() {
        "bare" => tokio::spawn(authorization_server::serve(listener, endpoint)),
        "observed" => {
            let observed = InvalidScopeObserverLayer::new(ScopeSet::parse("openid email profile"))
                .layer(endpoint);
            tokio::spawn(authorization_server::serve(listener, observed))
        }
        other => panic!("mode is bare or observed, not {other}"),
    };
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    server.abort();
}
