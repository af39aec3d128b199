//! Beyond the authorize redirect: `cargo run --features bodies --example token_endpoint`.
//!
//! An axum token endpoint on 127.0.0.1 behind a layer that reads bodies
//! (`.observe_bodies()`), with JSON logs on stdout. Three requests:
//! - a `client_credentials` grant for a scope the client may not have, with
//!   HTTP Basic client credentials: `400 {"error":"invalid_scope"}`, reported
//!   as `oauth.token.invalid_scope`;
//! - a `refresh_token` grant that the server narrows instead of rejecting:
//!   `200` with a smaller `scope`, reported as `oauth.scope_narrowed`;
//! - a grant that is fine: nothing is reported.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use axum::{Form, Router};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use serde::Deserialize;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

type Clients = Arc<HashMap<String, ScopeSet>>;

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    scope: Option<String>,
}

/// The server's own decision. (Client authentication is left out: every
/// request is the client `wizard`.)
async fn token(State(clients): State<Clients>, Form(request): Form<TokenRequest>) -> Response {
    let grantable = clients.get("wizard").cloned().unwrap_or_default();
    let requested = ScopeSet::parse(request.scope.as_deref().unwrap_or(""));
    let granted = match request.grant_type.as_str() {
        // A refresh narrows to what the client may still have.
        "refresh_token" => requested.intersection(&grantable),
        _ if requested.is_subset(&grantable) => requested,
        _ => {
            let answer =
                json!({"error": "invalid_scope", "error_description": "scope not allowed"});
            return (StatusCode::BAD_REQUEST, Json(answer)).into_response();
        }
    };
    Json(json!({
        "access_token": "never-logged",
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": granted.to_string(),
    }))
    .into_response()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().json().init();

    let clients: Clients = Arc::new(HashMap::from([(
        "wizard".to_string(),
        ScopeSet::parse("user:read project:read"),
    )]));
    let app = Router::new()
        .route("/token", post(token))
        .with_state(Arc::clone(&clients))
        .layer(InvalidScopeObserverLayer::new(clients).observe_bodies());

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!("token endpoint on http://{address}/token");

    for form in [
        "grant_type=client_credentials&scope=user%3Aread+admin%3Aall",
        "grant_type=refresh_token&refresh_token=r1&scope=user%3Aread+billing%3Aread",
        "grant_type=client_credentials&scope=user%3Aread",
    ] {
        let (status, body) = post_form(address, form).await?;
        println!("POST /token {form}\n  -> {status} {body}");
    }

    server.abort();
    println!("the WARN and INFO lines above are the layer's events for the first two requests");
    Ok(())
}

async fn post_form(
    address: std::net::SocketAddr,
    form: &'static str,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let stream = TcpStream::connect(address).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let connection = tokio::spawn(connection);
    let request = http::Request::post("/token")
        .header(http::header::HOST, address.to_string())
        .header(http::header::USER_AGENT, "demo-client/1.0")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        // base64("wizard:s3cret"): the client id comes from here.
        .header(http::header::AUTHORIZATION, "Basic d2l6YXJkOnMzY3JldA==")
        .body(Full::new(bytes::Bytes::from_static(form.as_bytes())))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    drop(sender);
    connection.await??;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
