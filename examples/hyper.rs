//! A minimal hyper 1 server with the layer, through `hyper-util`.
//!
//! `cargo run --example hyper`, then
//! `curl -i 'http://127.0.0.1:3001/authorize?client_id=app&scope=openid+admin'`.
//! Set `EXAMPLE_ADDR` to listen elsewhere on loopback.

use std::convert::Infallible;

use bytes::Bytes;
use http::{header::LOCATION, Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use tower::{service_fn, ServiceBuilder};

async fn authorize(request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    // A stand-in for a real server's decision.
    let query = request.uri().query().unwrap_or("");
    let requested = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "scope")
        .map(|(_, scope)| ScopeSet::parse(&scope))
        .unwrap_or_default();
    let asks_for_admin = requested.contains("admin");
    let location = if asks_for_admin {
        "https://client.example/cb?error=invalid_scope"
    } else {
        "https://client.example/cb?code=abc"
    };
    Ok(Response::builder()
        .status(StatusCode::FOUND)
        .header(LOCATION, location)
        .body(Empty::new())
        .expect("a valid response"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().init();

    let service = ServiceBuilder::new()
        .layer(InvalidScopeObserverLayer::new(ScopeSet::parse(
            "openid profile email",
        )))
        .service(service_fn(authorize));

    let address = std::env::var("EXAMPLE_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on http://{address}");
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {error}");
            }
        });
    }
}
