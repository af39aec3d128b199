//! The upstream of the proxy's load benchmark (`proxy/benches/load.sh`): a
//! small, fast stand-in for an authorization server on 127.0.0.1, so that
//! what is measured is the hop in front of it.
//!
//! - `GET /authorize?…scope=…admin…`: `302` to the client with
//!   `error=invalid_scope` (RFC 6749 §4.1.2.1);
//! - `GET /authorize?…`: `302` to the client with a code;
//! - `POST /token`: the form read whole, then a `200` JSON grant;
//! - anything else: a `200` HTML page of about 1 KiB.
//!
//! `cargo run --release -p invalid-scope-proxy --example bench_upstream -- 127.0.0.1:8000`

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

const PAGE: &str = concat!(
    "<!doctype html><html><head><title>Sign in</title></head><body>",
    "<form method=post action=/login><input name=username><input name=password type=password>",
    "<button>Sign in</button></form>",
    "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.</p>",
    "<p>Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.</p>",
    "<p>Sed ut perspiciatis unde omnis iste natus error sit voluptatem accusantium doloremque laudantium, totam rem aperiam, eaque ipsa quae ab illo inventore veritatis et quasi architecto beatae vitae dicta sunt explicabo.</p>",
    "</body></html>"
);

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or("");
    let response = match path {
        "/authorize" if query.contains("admin") => Response::builder()
            .status(StatusCode::FOUND)
            .header(
                LOCATION,
                "https://client.example/cb?error=invalid_scope&state=af0ifjsldkj",
            )
            .body(Full::default()),
        "/authorize" => Response::builder()
            .status(StatusCode::FOUND)
            .header(
                LOCATION,
                "https://client.example/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj",
            )
            .body(Full::default()),
        "/token" => {
            // Read the form, as a server does, before answering.
            let _ = request.into_body().collect().await;
            Response::builder()
                .header(CONTENT_TYPE, "application/json")
                .header(CACHE_CONTROL, "no-store")
                .body(Full::new(Bytes::from_static(
                    br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"scope":"read"}"#,
                )))
        }
        _ => Response::builder()
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Full::new(Bytes::from_static(PAGE.as_bytes()))),
    };
    Ok(response.expect("a valid response"))
}

#[tokio::main]
async fn main() {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8000".into())
        .parse()
        .expect("an address such as 127.0.0.1:8000");
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .expect("the address is free");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer))
                .await;
        });
    }
}
