//! Soak through the built proxy: many keep-alive connections send a fixed
//! number of requests, one in ten rejected by the upstream, the rest
//! success redirects, token requests and pages. Checks:
//! - zero failed requests;
//! - every rejection the upstream answered is accounted for in the proxy's
//!   output: events, plus the `suppressed` counts they and the
//!   `.suppressed` summary carry (the query of docs/counting.md);
//! - the proxy's resident memory flat from the first quarter to the end.
//!
//! `cargo test -p invalid-scope-proxy --test soak` runs 20 000 requests;
//! the figures in BENCHMARKS.md come from
//! `SOAK_REQUESTS=200000 cargo test --release -p invalid-scope-proxy --test soak -- --nocapture`.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, LOCATION};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use support::{runtime, Proxy};

/// An authorization server that counts the rejections it answers.
fn counting_upstream(runtime: &tokio::runtime::Runtime, rejected: Arc<AtomicU64>) -> SocketAddr {
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let rejected = Arc::clone(&rejected);
        async move {
            let query = request.uri().query().unwrap_or_default().to_owned();
            let response = match request.uri().path() {
                "/authorize" if query.contains("admin") => {
                    rejected.fetch_add(1, Ordering::Relaxed);
                    Response::builder().status(StatusCode::FOUND).header(
                        LOCATION,
                        "https://client.example/cb?error=invalid_scope&state=soak",
                    )
                }
                "/authorize" => Response::builder()
                    .status(StatusCode::FOUND)
                    .header(LOCATION, "https://client.example/cb?code=c0de&state=soak"),
                "/token" => {
                    let _ = request.into_body().collect().await;
                    Response::builder().header(CONTENT_TYPE, "application/json")
                }
                _ => Response::builder().header(CONTENT_TYPE, "text/html"),
            };
            let body = Full::new(Bytes::from_static(
                br#"{"access_token":"t0ken","token_type":"Bearer","scope":"read"}"#,
            ));
            Ok::<_, Infallible>(response.body(body).unwrap())
        }
    });
    support::serve_http1(runtime, service)
}

/// Sends requests numbered from `next` until `total`, on one connection.
async fn client(address: SocketAddr, next: Arc<AtomicUsize>, total: usize) -> usize {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut failed = 0;
    loop {
        let number = next.fetch_add(1, Ordering::Relaxed);
        if number >= total {
            return failed;
        }
        let (request, expected) = match number % 10 {
            0 => (
                Request::get("/authorize?client_id=soak&scope=read+admin&state=soak")
                    .body(Full::<Bytes>::default()),
                StatusCode::FOUND,
            ),
            1..=4 => (
                Request::get("/authorize?client_id=soak&scope=read&state=soak")
                    .body(Full::default()),
                StatusCode::FOUND,
            ),
            5 | 6 => (
                Request::post("/token")
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Full::new(Bytes::from_static(
                        b"grant_type=authorization_code&code=c0de&client_id=soak",
                    ))),
                StatusCode::OK,
            ),
            _ => (Request::get("/login").body(Full::default()), StatusCode::OK),
        };
        let mut request = request.unwrap();
        request
            .headers_mut()
            .insert(HOST, http::HeaderValue::from_static("as.example"));
        let ok = match sender.send_request(request).await {
            Ok(response) => {
                response.status() == expected && response.into_body().collect().await.is_ok()
            }
            Err(_) => false,
        };
        if !ok {
            failed += 1;
        }
    }
}

#[test]
fn soak_through_the_proxy() {
    let total: usize = std::env::var("SOAK_REQUESTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20_000);
    let connections = 32;
    let runtime = runtime();
    let rejected = Arc::new(AtomicU64::new(0));
    let upstream = counting_upstream(&runtime, Arc::clone(&rejected));
    let proxy = Proxy::start(
        upstream,
        "known_scopes = [\"read\", \"write\", \"admin\"]\n[grantable]\ndefault = [\"read\", \"write\"]\n",
    );

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|_| runtime.spawn(client(proxy.listen, Arc::clone(&next), total)))
        .collect();
    let mut quarters = Vec::new();
    for quarter in 1..=4 {
        while next.load(Ordering::Relaxed) < total * quarter / 4 {
            assert!(started.elapsed() < Duration::from_secs(600), "too slow");
            std::thread::sleep(Duration::from_millis(5));
        }
        quarters.push(proxy.resident_kib());
    }
    let failed: usize = clients
        .into_iter()
        .map(|client| runtime.block_on(client).unwrap())
        .sum();
    let elapsed = started.elapsed();

    let (status, events) = proxy.stop();
    assert!(status.success());
    let mut reported = 0;
    let mut event_lines = 0;
    for event in &events {
        let fields = &event["fields"];
        let suppressed = fields["suppressed"].as_u64().unwrap_or_default();
        match fields["message"].as_str() {
            Some("oauth.authorize.invalid_scope") => {
                event_lines += 1;
                reported += 1 + suppressed;
            }
            Some("oauth.authorize.invalid_scope.suppressed") => reported += suppressed,
            _ => {}
        }
    }
    let rejected = rejected.load(Ordering::Relaxed);
    let growth = quarters[3] as i64 - quarters[0] as i64;
    println!(
        "soak: {total} requests over {connections} connections in {elapsed:.1?} \
         ({:.0} req/s); failed {failed}; rejections answered {rejected}, \
         accounted {reported} ({event_lines} event lines); proxy RSS by quarter \
         {quarters:?} KiB, growth {growth} KiB",
        total as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(failed, 0);
    assert_eq!(rejected, (total as u64).div_ceil(10));
    assert_eq!(reported, rejected, "every rejection accounted for");
    // Flat: what the first quarter reached, give or take allocator slack.
    assert!(growth < 4 * 1024, "RSS grew by {growth} KiB: {quarters:?}");
}
