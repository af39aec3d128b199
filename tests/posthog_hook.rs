//! The `posthog` feature against a local HTTP endpoint on 127.0.0.1 that
//! records what the real `posthog-rs` client sends.
#![cfg(feature = "posthog")]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::USER_AGENT;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use invalid_scope_observer::{InvalidScopeObserverLayer, PostHogHook, ScopeSet};
use serde_json::Value;
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};

/// An endpoint that answers every POST with 200 and keeps its JSON body.
async fn recording_endpoint() -> (SocketAddr, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let store = Arc::clone(&received);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let store = Arc::clone(&store);
                        async move {
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            if let Ok(json) = serde_json::from_slice::<Value>(&body) {
                                store.lock().unwrap().push(json);
                            }
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                                b"{\"status\":1}",
                            ))))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, received)
}

/// The first JSON object anywhere in `value` whose `event` is `$exception`.
fn find_exception(value: &Value) -> Option<&Value> {
    match value {
        Value::Object(map) if map.get("event") == Some(&Value::from("$exception")) => Some(value),
        Value::Object(map) => map.values().find_map(find_exception),
        Value::Array(items) => items.iter().find_map(find_exception),
        _ => None,
    }
}

fn rejecting(
) -> impl tower::Service<Request<()>, Response = Response<()>, Error = Infallible, Future = impl Send>
       + Clone {
    support::redirecting("https://client.example/cb?error=invalid_scope&state=xyz")
}

fn options(host: String) -> posthog_rs::ClientOptions {
    posthog_rs::ClientOptionsBuilder::default()
        .api_key("phc_test_key".to_string())
        .host(host)
        .flush_interval_ms(50)
        .request_timeout_seconds(2)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_reaches_posthog_as_an_exception_with_its_fields() {
    let (address, received) = recording_endpoint().await;
    let client = posthog_rs::client(options(format!("http://{address}"))).await;
    let hook = PostHogHook::spawn(client);
    let service = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read"))
        .known_scopes(["user:read", "llm_gateway:read"])
        .on_rejection(hook.clone())
        .layer(rejecting());
    let request = Request::get("/authorize?client_id=wizard&scope=user:read+llm_gateway:read+typo")
        .header(USER_AGENT, "wizard/1.0")
        .body(())
        .unwrap();
    service.oneshot(request).await.unwrap();

    let started = Instant::now();
    let exception = loop {
        let found = received
            .lock()
            .unwrap()
            .iter()
            .find_map(find_exception)
            .cloned();
        if let Some(exception) = found {
            break exception;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing reached the endpoint"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let properties = &exception["properties"];
    assert_eq!(properties["missing_scopes"], "llm_gateway:read typo");
    assert_eq!(
        properties["requested_scopes"],
        "user:read llm_gateway:read typo"
    );
    assert_eq!(properties["grantable_scopes"], "user:read");
    assert_eq!(properties["unknown_scopes"], "typo");
    assert_eq!(properties["ungranted_known_scopes"], "llm_gateway:read");
    assert_eq!(properties["client_id"], "wizard");
    assert_eq!(properties["user_agent"], "wizard/1.0");
    assert_eq!(properties["status"], 302);
    let text = exception.to_string();
    assert!(text.contains("OAuth invalid_scope rejection"), "{text}");
    assert!(!text.contains("xyz"), "the state never leaves: {text}");
    assert_eq!(hook.dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posthog_that_never_answers_slows_no_request() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&held);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            keep.lock().unwrap().push(stream);
        }
    });
    let client = posthog_rs::client(options(format!("http://{address}"))).await;
    let hook = PostHogHook::spawn_with_queue(client, 4);
    let service = InvalidScopeObserverLayer::new(ScopeSet::new())
        .rate_limit(invalid_scope_observer::RateLimit::unlimited())
        .on_rejection(hook.clone())
        .layer(rejecting());
    let started = Instant::now();
    for _ in 0..500 {
        let request = Request::get("/authorize?scope=admin").body(()).unwrap();
        service.clone().oneshot(request).await.unwrap();
    }
    // 500 requests against a hung PostHog (request timeout 2 s) finish long
    // before a single PostHog request could have timed out.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
