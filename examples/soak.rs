//! Soak: a hyper server with the layer on 127.0.0.1, loaded by many
//! concurrent keep-alive connections for a fixed number of requests, one in
//! ten of them rejected. It checks, and prints:
//! - zero failed requests;
//! - every rejection accounted for: events emitted plus the `suppressed`
//!   they carry equals rejections sent;
//! - resident memory flat from the first quarter of the run to the last.
//!
//! `cargo run --release --example soak` (200 000 requests, 64 connections);
//! `SOAK_REQUESTS` and `SOAK_CONNECTIONS` change the load. Exits non-zero if
//! a check fails. It binds only 127.0.0.1 and stops by itself.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HOST;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet, AUTHORIZE_EVENT, TARGET};
use tokio::net::{TcpListener, TcpStream};
use tower::{service_fn, Layer};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

#[path = "support/authorization_server.rs"]
mod authorization_server;

/// Counts rejections as the query of docs/counting.md does: each
/// `oauth.authorize.invalid_scope` event is one, plus the `suppressed` it
/// and its `.suppressed` summary carry.
#[derive(Clone, Default)]
struct EventTally {
    events: Arc<AtomicU64>,
    suppressed: Arc<AtomicU64>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for EventTally {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        #[derive(Default)]
        struct Fields {
            message: String,
            suppressed: u64,
        }
        impl Visit for Fields {
            fn record_u64(&mut self, field: &Field, value: u64) {
                if field.name() == "suppressed" {
                    self.suppressed = value;
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.message = format!("{value:?}");
                }
            }
        }
        if event.metadata().target() != TARGET {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let summary = format!("{AUTHORIZE_EVENT}.suppressed");
        if fields.message == AUTHORIZE_EVENT {
            self.events.fetch_add(1, Ordering::Relaxed);
        } else if fields.message != summary {
            return;
        }
        self.suppressed
            .fetch_add(fields.suppressed, Ordering::Relaxed);
    }
}

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

async fn client(
    address: SocketAddr,
    next: Arc<AtomicUsize>,
    total: usize,
    failed: Arc<AtomicUsize>,
    rejections: Arc<AtomicUsize>,
) {
    let stream = TcpStream::connect(address)
        .await
        .expect("connect to 127.0.0.1");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    loop {
        let number = next.fetch_add(1, Ordering::Relaxed);
        if number >= total {
            break;
        }
        let rejected = number % 10 == 0;
        let scope = if rejected {
            "openid+admin"
        } else {
            "openid+email"
        };
        let request = Request::get(format!("/authorize?client_id=soak&scope={scope}&state=s"))
            .header(HOST, "127.0.0.1")
            .header("user-agent", "soak/1.0")
            .body(Empty::<Bytes>::new())
            .expect("a valid request");
        let ok = match sender.send_request(request).await {
            Ok(response) => {
                response.status() == StatusCode::FOUND
                    && response.into_body().collect().await.is_ok()
            }
            Err(_) => false,
        };
        if !ok {
            failed.fetch_add(1, Ordering::Relaxed);
        }
        if rejected {
            rejections.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total = env_number("SOAK_REQUESTS", 200_000);
    let connections = env_number("SOAK_CONNECTIONS", 64);
    let tally = EventTally::default();
    tracing_subscriber::registry().with(tally.clone()).init();

    let service = InvalidScopeObserverLayer::new(ScopeSet::parse("openid email profile"))
        .layer(service_fn(authorization_server::authorize));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("an address");
    let server = tokio::spawn(authorization_server::serve(listener, service));

    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let rejections = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(client(
                address,
                Arc::clone(&next),
                total,
                Arc::clone(&failed),
                Arc::clone(&rejections),
            ))
        })
        .collect();

    // Resident memory at the end of each quarter of the requests.
    let mut quarters = Vec::new();
    for quarter in 1..=4 {
        while next.load(Ordering::Relaxed) < total * quarter / 4
            && started.elapsed() < Duration::from_secs(600)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        quarters.push(resident_kib());
    }
    for client in clients {
        client.await.expect("client task");
    }
    let elapsed = started.elapsed();

    // One last rejection after the bucket refilled carries the count of any
    // rejections suppressed since the last event.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let last = Arc::new(AtomicUsize::new(0));
    client(
        address,
        Arc::new(AtomicUsize::new(0)),
        1,
        Arc::clone(&failed),
        Arc::clone(&last),
    )
    .await;
    server.abort();

    let rejections = rejections.load(Ordering::Relaxed) + last.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    let events = tally.events.load(Ordering::Relaxed);
    let suppressed = tally.suppressed.load(Ordering::Relaxed);
    println!("requests            {}", total + 1);
    println!("connections         {connections}");
    println!("seconds             {:.2}", elapsed.as_secs_f64());
    println!(
        "requests per second {:.0}",
        total as f64 / elapsed.as_secs_f64()
    );
    println!("failed              {failed}");
    println!("rejections sent     {rejections}");
    println!("events emitted      {events}");
    println!("suppressed (sum)    {suppressed}");
    println!("resident KiB by quarter {quarters:?}");

    let accounted = events + suppressed == rejections as u64;
    let flat = quarters[3] <= quarters[0] + quarters[0] / 10 + 1024;
    println!("accounted for       {accounted}");
    println!("memory flat         {flat} (last quarter within 10% + 1 MiB of the first)");
    if failed != 0 || !accounted || !flat {
        std::process::exit(1);
    }
}
