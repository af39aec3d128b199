//! The first thing to run: `cargo run --example demo`.
//!
//! Starts a tiny authorization endpoint on 127.0.0.1 behind the layer, with
//! JSON logs on stdout, asks it once for a scope the client may not have and
//! once for scopes it may, prints what happened, and exits.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
use tokio::net::{TcpListener, TcpStream};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

type Clients = Arc<HashMap<String, ScopeSet>>;

/// The authorization server's own decision: redirect with a code, or with
/// `error=invalid_scope` when the client asks for more than it may have.
async fn authorize(
    State(clients): State<Clients>,
    Query(query): Query<HashMap<String, String>>,
) -> Redirect {
    let client_id = query.get("client_id").map(String::as_str).unwrap_or("");
    let requested = ScopeSet::parse(query.get("scope").map(String::as_str).unwrap_or(""));
    let grantable = clients.get(client_id).cloned().unwrap_or_default();
    let state: String =
        form_urlencoded::byte_serialize(query.get("state").map_or("", String::as_str).as_bytes())
            .collect();
    if requested.is_subset(&grantable) {
        Redirect::to(&format!(
            "https://client.example/cb?code=demo-code&state={state}"
        ))
    } else {
        Redirect::to(&format!(
            "https://client.example/cb?error=invalid_scope&state={state}"
        ))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // JSON lines by default; `DEMO_LOG_FORMAT=logfmt` or `=text` shows the
    // same event through another formatter.
    match std::env::var("DEMO_LOG_FORMAT").as_deref() {
        Ok("text") => tracing_subscriber::fmt().init(),
        Ok("logfmt") => tracing_subscriber::registry()
            .with(tracing_logfmt::layer())
            .init(),
        _ => tracing_subscriber::fmt().json().init(),
    }

    // One list of grantable scopes feeds both the server and the layer.
    let clients: Clients = Arc::new(HashMap::from([(
        "wizard".to_string(),
        ScopeSet::parse("user:read project:read query:read"),
    )]));
    let layer = InvalidScopeObserverLayer::new(Arc::clone(&clients)).on_rejection(
        |rejection: &InvalidScopeRejection| {
            eprintln!(
                "hook: {rejection} for client {:?}, missing {:?}",
                rejection.client_id(),
                rejection.missing_scopes().to_string()
            );
        },
    );
    let app = Router::new()
        .route("/authorize", get(authorize))
        .with_state(clients)
        .layer(layer);

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                stopped.await.ok();
            })
            .await
    });
    println!("authorization endpoint on http://{address}/authorize");

    for scope in [
        "user:read+llm_gateway:read+insight:write",
        "user:read+project:read",
    ] {
        let path = format!("/authorize?response_type=code&client_id=wizard&scope={scope}&state=s1");
        let (status, location) = fetch(address, &path).await?;
        println!("GET {path}\n  -> {status} Location: {location}");
    }

    stop.send(()).ok();
    server.await??;
    println!("the WARN line above is the event the layer emitted for the first request; the second passed silently");
    Ok(())
}

async fn fetch(
    address: std::net::SocketAddr,
    path: &str,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let stream = TcpStream::connect(address).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let connection = tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(http::header::HOST, address.to_string())
        .header(http::header::USER_AGENT, "demo-client/1.0")
        .body(Empty::<bytes::Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_string();
    response.into_body().collect().await?;
    drop(sender);
    connection.await??;
    Ok((status, location))
}
