//! Following authorizations through a real `redis-server` (Debian's
//! package; `.ci/run` installs it): two instances of the layer that share
//! Redis and a hash key report each authorization once, whichever instance
//! each leg goes through; Redis stopped in the middle of a run delays and
//! fails nothing, and says so once.
#![cfg(feature = "redis")]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use invalid_scope_observer::{FollowAuthorizations, InvalidScopeObserverLayer, ScopeSet};
use support::flow::{
    authorize, authorized_at_once, code_redirect, redeemed, redirect, resume, server, walk, Leg,
    CODE, STATE,
};
use support::redis_server::Redis;
use support::{block_on, capturing, CapturedEvent};
use tower::Layer;

const HASH_KEY: &[u8] = b"the same 32+ byte key on every instance";

fn instance(
    redis: &redis::Client,
    hash_key: &[u8],
) -> impl tower::Service<
    http::Request<http_body_util::Full<bytes::Bytes>>,
    Response = http::Response<
        invalid_scope_observer::body::ResponseBody<http_body_util::Full<bytes::Bytes>>,
    >,
    Error = std::convert::Infallible,
> {
    InvalidScopeObserverLayer::new(ScopeSet::parse("read write"))
        .observe_bodies()
        .follow_authorizations(FollowAuthorizations::in_redis(redis.clone(), hash_key))
        .layer(server())
}

/// Waits (at most five seconds) until `events` has `n` events named
/// `message`: Redis answers from a task, after the response went out.
async fn wait_for(events: &Arc<Mutex<Vec<CapturedEvent>>>, message: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while named(events, message).len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn named(events: &Arc<Mutex<Vec<CapturedEvent>>>, message: &str) -> Vec<CapturedEvent> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|event| event.fields.get("message").map(String::as_str) == Some(message))
        .cloned()
        .collect()
}

const NARROWED: &str = "oauth.scope_narrowed";

#[test]
fn authorize_through_one_instance_token_through_another_is_reported_once() {
    let redis = Redis::start();
    let (subscriber, events) = capturing();
    let mut one = instance(&redis.client(), HASH_KEY);
    let mut other = instance(&redis.client(), HASH_KEY);
    let seen = Arc::clone(&events);
    tracing::subscriber::with_default(subscriber, || {
        block_on(async move {
            // The code after an interaction: authorize on one, the resume
            // request on the other, the token request on the first.
            walk(
                &mut one,
                Leg(
                    authorize(&format!("scope=read+write&state={STATE}")),
                    redirect("/interaction/uid"),
                ),
            )
            .await;
            // Login and consent take a person seconds; each instance writes
            // through its own queue, so give the keeping time to land.
            tokio::time::sleep(Duration::from_millis(200)).await;
            walk(&mut other, Leg(resume(), code_redirect(Some(STATE)))).await;
            // Keeping and linking go through each instance's own queue:
            // give the link time to land before the code is redeemed.
            tokio::time::sleep(Duration::from_millis(200)).await;
            walk(&mut one, redeemed(&format!("code={CODE}"))).await;
            wait_for(&seen, NARROWED, 1).await;
            // The same code again, through the other instance: found nowhere.
            walk(&mut other, redeemed(&format!("code={CODE}"))).await;
            // One more authorization, kept and never redeemed.
            walk(
                &mut other,
                Leg(
                    authorize("scope=read+write&state=left-over-state"),
                    redirect("https://client.example/cb?code=left-over-code&state=left-over-state"),
                ),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        })
    });
    let narrowed = named(&events, NARROWED);
    assert_eq!(narrowed.len(), 1, "{narrowed:?}");
    assert_eq!(narrowed[0].field("requested_scopes"), "read write");
    assert_eq!(narrowed[0].field("dropped_scopes"), "write");
    assert_eq!(narrowed[0].field("requested_at"), "authorize");
    assert_eq!(narrowed[0].field("user_agent"), "browser/1.0");
    // The redeemed authorization is gone under all its links; the other
    // is kept under its code and its state, as hashes only.
    let mut connection = redis.client().get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut connection).unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in &keys {
        assert!(key.starts_with("invalid_scope_observer:follow:"), "{key}");
        let value: Option<String> = redis::cmd("GET").arg(key).query(&mut connection).unwrap();
        let value = value.unwrap_or_default();
        assert!(value.contains("\"scope\":\"read write\""), "{value}");
        for secret in [CODE, STATE, "left-over-code", "left-over-state"] {
            assert!(
                !key.contains(secret) && !value.contains(secret),
                "{key} {value}"
            );
        }
    }
}

#[test]
fn instances_with_different_hash_keys_share_nothing() {
    let redis = Redis::start();
    let (subscriber, events) = capturing();
    let mut one = instance(&redis.client(), HASH_KEY);
    let mut other = instance(&redis.client(), b"another key of at least thirty-two bytes");
    tracing::subscriber::with_default(subscriber, || {
        block_on(async move {
            walk(&mut one, authorized_at_once()).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            walk(&mut other, redeemed(&format!("code={CODE}"))).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        })
    });
    assert_eq!(named(&events, NARROWED), []);
}

#[test]
fn redis_stopped_in_the_middle_of_a_run_fails_nothing_and_says_so() {
    let mut redis = Redis::start();
    let (subscriber, events) = capturing();
    let mut service = instance(&redis.client(), HASH_KEY);
    let seen = Arc::clone(&events);
    let flow = |state: &'static str| {
        [
            Leg(
                authorize(&format!("scope=read+write&state={state}")),
                redirect(&format!(
                    "https://client.example/cb?code=code-{state}&state={state}"
                )),
            ),
            redeemed(&format!("code=code-{state}")),
        ]
    };
    tracing::subscriber::with_default(subscriber, || {
        block_on(async move {
            for leg in flow("before") {
                walk(&mut service, leg).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            wait_for(&seen, NARROWED, 1).await;
            redis.stop();
            // Every response still comes back, none waits for Redis.
            for _ in 0..3 {
                for leg in flow("during") {
                    walk(&mut service, leg).await;
                }
            }
            wait_for(&seen, "oauth.follow.store_failed", 1).await;
            // Let the task work through its queue before counting.
            tokio::time::sleep(Duration::from_secs(3)).await;
        })
    });
    assert_eq!(named(&events, NARROWED).len(), 1, "only the flow before");
    let failed = named(&events, "oauth.follow.store_failed");
    assert_eq!(failed.len(), 1, "once a minute at most: {failed:?}");
    assert_eq!(failed[0].level, tracing::Level::WARN);
}
