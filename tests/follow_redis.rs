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
    authorize, authorized_at_once, code_redirect, login_page, redeemed, redirect, resume, server,
    walk, Leg, CHALLENGE, CODE, STATE, VERIFIER,
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
    instance_with(FollowAuthorizations::in_redis(redis.clone(), hash_key))
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
    // is kept as one entry and its links (code, state, echoed state), under
    // the fleet's namespace, as hashes only.
    let mut connection = redis.client().get_connection().unwrap();
    let keys = keys(&redis);
    let kinds: Vec<&str> = keys
        .iter()
        .map(|key| {
            assert!(key.starts_with("invalid_scope_observer:"), "{key}");
            key.rsplit(':').nth(1).unwrap()
        })
        .collect();
    assert_eq!(kinds, ["a", "l", "l", "l"], "{keys:?}");
    for key in &keys {
        let value: String = if key.contains(":a:") {
            let fields: Vec<String> = redis::cmd("HVALS").arg(key).query(&mut connection).unwrap();
            assert!(fields.contains(&"read write".to_string()), "{fields:?}");
            fields.join(" ")
        } else {
            redis::cmd("GET").arg(key).query(&mut connection).unwrap()
        };
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

fn instance_with(
    follow: FollowAuthorizations,
) -> impl tower::Service<
    http::Request<http_body_util::Full<bytes::Bytes>>,
    Response = http::Response<
        invalid_scope_observer::body::ResponseBody<http_body_util::Full<bytes::Bytes>>,
    >,
    Error = std::convert::Infallible,
> {
    InvalidScopeObserverLayer::new(ScopeSet::parse("read write"))
        .observe_bodies()
        .follow_authorizations(follow)
        .layer(server())
}

fn keys(redis: &Redis) -> Vec<String> {
    let mut connection = redis.client().get_connection().unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut connection).unwrap();
    keys.sort();
    keys
}

#[test]
fn two_fleets_with_their_own_namespace_share_nothing_on_one_redis() {
    let redis = Redis::start();
    let (subscriber, events) = capturing();
    // The same hash key, as two fleets set up from one template would have.
    let fleet = |prefix: &str| {
        instance_with(FollowAuthorizations::in_redis(redis.client(), HASH_KEY).redis_prefix(prefix))
    };
    let (mut eu, mut us) = (fleet("auth-eu:"), fleet("auth-us:"));
    let seen = Arc::clone(&events);
    tracing::subscriber::with_default(subscriber, || {
        block_on(async move {
            // Both fleets keep the same authorization at once.
            walk(&mut eu, authorized_at_once()).await;
            walk(&mut us, authorized_at_once()).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            // Redeemed in the EU fleet: the US fleet's copy stays.
            walk(&mut eu, redeemed(&format!("code={CODE}"))).await;
            wait_for(&seen, NARROWED, 1).await;
            walk(&mut us, redeemed(&format!("code={CODE}"))).await;
            wait_for(&seen, NARROWED, 2).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        })
    });
    assert_eq!(named(&events, NARROWED).len(), 2, "one in each fleet");
    assert_eq!(keys(&redis), Vec::<String>::new(), "each took its own");
    // Without a prefix, the hash key's digest is the namespace.
    let (subscriber, _) = capturing();
    let mut default = instance(&redis.client(), HASH_KEY);
    tracing::subscriber::with_default(subscriber, || {
        block_on(async move {
            walk(&mut default, authorized_at_once()).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        })
    });
    let keys = keys(&redis);
    assert!(!keys.is_empty());
    let namespace = keys[0].rsplitn(3, ':').nth(2).unwrap().to_string();
    assert!(
        namespace.starts_with("invalid_scope_observer:"),
        "{namespace}"
    );
    assert!(
        keys.iter().all(|key| key.starts_with(&namespace)),
        "{keys:?}"
    );
}

#[test]
fn concurrent_takes_through_eight_instances_report_once() {
    let redis = Redis::start();
    let (subscriber, events) = capturing();
    let mut instances: Vec<_> = (0..8)
        .map(|_| instance(&redis.client(), HASH_KEY))
        .collect();
    let seen = Arc::clone(&events);
    tracing::subscriber::with_default(subscriber, || {
        block_on(async move {
            walk(&mut instances[0], authorized_at_once()).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            // Each instance queues its take without waiting for Redis: eight
            // takes of one authorization race in Redis.
            for service in &mut instances {
                walk(service, redeemed(&format!("code={CODE}"))).await;
            }
            wait_for(&seen, NARROWED, 1).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        })
    });
    assert_eq!(named(&events, NARROWED).len(), 1);
    assert_eq!(
        keys(&redis),
        Vec::<String>::new(),
        "every link went with it"
    );
}

#[test]
fn a_link_two_requests_of_one_client_claim_is_reported_by_no_instance() {
    let redis = Redis::start();
    let (subscriber, events) = capturing();
    let mut one = instance(&redis.client(), HASH_KEY);
    let mut other = instance(&redis.client(), HASH_KEY);
    tracing::subscriber::with_default(subscriber, || {
        block_on(async move {
            walk(
                &mut one,
                Leg(
                    authorize(&format!("scope=read+write&state={STATE}")),
                    login_page(),
                ),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            // The forged one, through another instance, after the real one.
            walk(
                &mut other,
                Leg(
                    authorize(&format!("scope=admin&state={STATE}")),
                    login_page(),
                ),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            walk(&mut one, Leg(resume(), code_redirect(Some(STATE)))).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            walk(&mut other, redeemed(&format!("code={CODE}"))).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        })
    });
    assert_eq!(named(&events, NARROWED), []);
}

#[test]
fn each_instance_keeps_at_most_its_budget_and_says_so() {
    let redis = Redis::start();
    let (subscriber, events) = capturing();
    let mut service =
        instance_with(FollowAuthorizations::in_redis(redis.client(), HASH_KEY).keeps_per_second(5));
    let seen = Arc::clone(&events);
    let junk = |n: usize| {
        Leg(
            authorize(&format!("scope=read+write&state=junk-{n}")),
            redirect("/login"),
        )
    };
    tracing::subscriber::with_default(subscriber, || {
        block_on(async move {
            for n in 0..50 {
                walk(&mut service, junk(n)).await;
            }
            tokio::time::sleep(Duration::from_millis(1100)).await;
            for n in 50..100 {
                walk(&mut service, junk(n)).await;
            }
            wait_for(&seen, "oauth.follow.flooded", 1).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        })
    });
    let kept = keys(&redis)
        .iter()
        .filter(|key| key.contains(":a:"))
        .count();
    // A burst of five, then about five for the second that passed.
    assert!((5..=12).contains(&kept), "{kept} kept");
    let flooded = named(&events, "oauth.follow.flooded");
    assert_eq!(flooded.len(), 1, "{flooded:?}");
    assert_eq!(flooded[0].level, tracing::Level::WARN);
    // The line comes once a second of flood was measured: the first
    // burst's refusals and the first of the next.
    let not_kept: usize = flooded[0].field("not_kept").parse().unwrap();
    assert!((40..=50).contains(&not_kept), "{not_kept}");
}

#[test]
fn an_echoed_state_two_clients_claim_leaves_each_its_own_links() {
    // `wizard` (PKCE) and, through another instance, `partner` under the
    // same `state`: the second keep finds the echoed `state` held by another
    // client, takes it away from both, and keeps `partner` under its own
    // links. `wizard` is still redeemed by its verifier.
    let redis = Redis::start();
    let (subscriber, events) = capturing();
    let mut one = instance(&redis.client(), HASH_KEY);
    let mut other = instance(&redis.client(), HASH_KEY);
    let as_partner = http::Request::get(format!(
        "/authorize?response_type=code&client_id=partner&scope=admin&state={STATE}"
    ))
    .body(http_body_util::Full::default())
    .unwrap();
    let seen = Arc::clone(&events);
    tracing::subscriber::with_default(subscriber, || {
        block_on(async move {
            walk(
                &mut one,
                Leg(
                    authorize(&format!(
                        "scope=read+write&state={STATE}&code_challenge={CHALLENGE}&code_challenge_method=S256"
                    )),
                    login_page(),
                ),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            walk(&mut other, Leg(as_partner, login_page())).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            walk(
                &mut one,
                redeemed(&format!("code={CODE}&code_verifier={VERIFIER}")),
            )
            .await;
            wait_for(&seen, NARROWED, 1).await;
        })
    });
    let narrowed = named(&events, NARROWED);
    assert_eq!(narrowed.len(), 1, "{narrowed:?}");
    assert_eq!(narrowed[0].field("client_id"), "wizard");
    assert!(named(&events, "oauth.follow.store_failed").is_empty());
    // `partner`'s authorization was kept (a script that failed would not
    // have): one entry, under its own bound `state` only.
    let keys = keys(&redis);
    let entries = keys.iter().filter(|key| key.contains(":a:")).count();
    let links = keys.iter().filter(|key| key.contains(":l:")).count();
    assert_eq!((entries, links), (1, 1), "{keys:?}");
}
