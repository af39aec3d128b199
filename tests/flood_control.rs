//! A flood of rejections is rate-limited, and every rejection is accounted
//! for, per event name: the events of that name, plus the `suppressed` they
//! and their shutdown summary carry, equal its rejections.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use invalid_scope_observer::{
    InvalidScopeObserverLayer, InvalidScopeRejection, RateLimit, ScopeSet, AUTHORIZE_EVENT,
};
use support::{ours, run_captured, CapturedEvent};
use tower::{Layer, ServiceExt};

fn request() -> Request<()> {
    Request::get("/authorize?client_id=scanner&scope=admin")
        .body(())
        .unwrap()
}

#[test]
fn a_burst_is_capped_and_every_rejection_is_counted() {
    let hook_calls = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&hook_calls);
    let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
        .rate_limit(RateLimit::per_second(20).burst(5))
        .on_rejection(move |_: &InvalidScopeRejection| {
            calls.fetch_add(1, Ordering::SeqCst);
        });
    let service = layer.layer(support::redirecting("/cb?error=invalid_scope"));
    let started = std::time::Instant::now();
    let ((), events) = run_captured(async {
        for _ in 0..1_000 {
            service.clone().oneshot(request()).await.unwrap();
        }
        // Let the bucket refill one event, then one more rejection carries
        // the count of everything suppressed since the last event.
        tokio::time::sleep(Duration::from_millis(120)).await;
        service.clone().oneshot(request()).await.unwrap();
    });
    let ours = ours(&events);
    let emitted = ours.len();
    let suppressed: usize = ours
        .iter()
        .map(|event| event.field("suppressed").parse::<usize>().unwrap())
        .sum();
    assert!(emitted >= 6, "the burst and the refilled one: {emitted}");
    // The burst of 5 plus at most one refill per 50 ms that passed.
    let refills = (started.elapsed().as_secs_f64() * 20.0).ceil() as usize;
    assert!(
        emitted <= 5 + refills,
        "capped: {emitted} with {refills} refills"
    );
    assert_eq!(
        emitted + suppressed,
        1_001,
        "every rejection is accounted for"
    );
    assert_eq!(
        hook_calls.load(Ordering::SeqCst),
        emitted,
        "the hook obeys the same limit"
    );
}

#[test]
fn the_hook_can_see_every_rejection() {
    let hook_calls = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&hook_calls);
    let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
        .rate_limit(RateLimit::per_second(1).burst(1))
        .on_rejection(move |_: &InvalidScopeRejection| {
            calls.fetch_add(1, Ordering::SeqCst);
        })
        .call_hook_for_every_rejection();
    let service = layer.layer(support::redirecting("/cb?error=invalid_scope"));
    let started = std::time::Instant::now();
    let ((), events) = run_captured(async {
        for _ in 0..200 {
            service.clone().oneshot(request()).await.unwrap();
        }
    });
    // One event, plus one per second the loop took on a slow machine.
    let refills = started.elapsed().as_secs() as usize;
    assert!((1..=1 + refills).contains(&ours(&events).len()));
    assert_eq!(hook_calls.load(Ordering::SeqCst), 200);
}

#[test]
fn unlimited_emits_every_rejection() {
    let service = InvalidScopeObserverLayer::new(ScopeSet::new())
        .rate_limit(RateLimit::unlimited())
        .layer(support::redirecting("/cb?error=invalid_scope"));
    let ((), events) = run_captured(async {
        for _ in 0..500 {
            service.clone().oneshot(request()).await.unwrap();
        }
    });
    let ours = ours(&events);
    assert_eq!(ours.len(), 500);
    assert!(ours.iter().all(|event| event.field("suppressed") == "0"));
}

#[test]
fn the_default_limit_is_a_hundred_per_second() {
    let service = InvalidScopeObserverLayer::new(ScopeSet::new())
        .layer(support::redirecting("/cb?error=invalid_scope"));
    let started = std::time::Instant::now();
    let ((), events) = run_captured(async {
        for _ in 0..1_000 {
            service.clone().oneshot(request()).await.unwrap();
        }
    });
    let emitted = ours(&events).len();
    // The burst of 100, plus one per 10 ms that passed while the loop ran.
    let refills = (started.elapsed().as_secs_f64() * 100.0).ceil() as usize;
    assert!(
        emitted >= 100 && emitted <= 100 + refills,
        "{emitted} with {refills} refills"
    );
}

#[test]
fn services_of_one_layer_share_one_budget() {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
        .rate_limit(RateLimit::per_second(1).burst(3));
    let first = layer.layer(support::redirecting("/cb?error=invalid_scope"));
    let second = layer.layer(support::redirecting("/cb?error=invalid_scope"));
    let started = std::time::Instant::now();
    let ((), events) = run_captured(async {
        for _ in 0..10 {
            first.clone().oneshot(request()).await.unwrap();
            second.clone().oneshot(request()).await.unwrap();
        }
    });
    // The burst of 3 for both services together (not 3 each), plus one per
    // second the loop took on a slow machine.
    let refills = started.elapsed().as_secs() as usize;
    assert!((3..=3 + refills).contains(&ours(&events).len()));
}

/// The rejections of `event_name` the log accounts for: the count of its
/// events plus the sum of `suppressed` over them and their summary, the
/// query docs/counting.md gives.
fn accounted(events: &[CapturedEvent], event_name: &str) -> u64 {
    let summary = format!("{event_name}.suppressed");
    ours(events)
        .into_iter()
        .map(|event| {
            let suppressed = || event.field("suppressed").parse::<u64>().unwrap();
            match event.message() {
                message if message == event_name => 1 + suppressed(),
                message if message == summary => suppressed(),
                _ => 0,
            }
        })
        .sum()
}

fn count(events: &[CapturedEvent], message: &str) -> usize {
    ours(events)
        .into_iter()
        .filter(|event| event.message() == message)
        .count()
}

/// Token rejections, read from JSON answers, spend a budget of their own.
#[cfg(feature = "bodies")]
mod token_budget {
    use std::convert::Infallible;

    use http::header::{CONTENT_TYPE, LOCATION};
    use http::{Method, Request, Response, StatusCode};
    use http_body_util::BodyExt;
    use invalid_scope_observer::body::RequestBody;
    use invalid_scope_observer::{
        InvalidScopeObserverLayer, RateLimit, ScopeSet, AUTHORIZE_EVENT, TOKEN_EVENT,
    };
    use tower::{service_fn, Layer, ServiceExt};

    use super::accounted;
    use super::support::{ours, run_captured, Frames};

    /// A server that rejects authorization requests (GET) with a redirect and
    /// token requests (POST) with a JSON answer.
    fn rejecting_everything() -> impl tower::Service<
        Request<RequestBody<Frames>>,
        Response = Response<Frames>,
        Error = Infallible,
        Future = impl std::future::Future<Output = Result<Response<Frames>, Infallible>>,
    > + Clone {
        service_fn(|request: Request<RequestBody<Frames>>| async move {
            let response = if request.method() == Method::POST {
                request.into_body().collect().await.unwrap();
                Response::builder()
                    .status(StatusCode::BAD_REQUEST)
                    .header(CONTENT_TYPE, "application/json")
                    .body(Frames::new(&[r#"{"error":"invalid_scope"}"#]))
            } else {
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header(LOCATION, "/cb?error=invalid_scope")
                    .body(Frames::new(&[]))
            };
            Ok(response.unwrap())
        })
    }

    fn token_request() -> Request<Frames> {
        Request::post("/token")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Frames::new(&["grant_type=client_credentials&scope=admin"]))
            .unwrap()
    }

    fn authorize_request() -> Request<Frames> {
        Request::get("/authorize?client_id=scanner&scope=admin")
            .body(Frames::new(&[]))
            .unwrap()
    }

    async fn send<S>(service: &S, request: Request<Frames>)
    where
        S: tower::Service<
                Request<Frames>,
                Response = Response<invalid_scope_observer::body::ResponseBody<Frames>>,
            > + Clone,
        S::Error: std::fmt::Debug,
    {
        let response = service.clone().oneshot(request).await.unwrap();
        response.into_body().collect().await.ok();
    }

    #[test]
    fn each_event_name_counts_only_its_own_rejections() {
        let ((), events) = run_captured(async {
            let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
                .observe_bodies()
                .rate_limit(RateLimit::per_second(1).burst(1));
            let service = layer.layer(rejecting_everything());
            for _ in 0..5 {
                send(&service, authorize_request()).await;
            }
            for _ in 0..5 {
                send(&service, token_request()).await;
            }
            drop((layer, service)); // a graceful shutdown
        });
        // The token budget is its own: the first token rejection is reported
        // at once, carrying no authorization rejection in its `suppressed`.
        let token_events: Vec<_> = ours(&events)
            .into_iter()
            .filter(|event| event.message() == TOKEN_EVENT)
            .collect();
        assert!(!token_events.is_empty(), "{events:?}");
        assert_eq!(token_events[0].field("suppressed"), "0");
        assert_eq!(accounted(&events, AUTHORIZE_EVENT), 5, "{events:?}");
        assert_eq!(accounted(&events, TOKEN_EVENT), 5, "{events:?}");
    }
}

#[test]
fn the_counting_identity_holds_through_a_flood_a_quiet_spell_and_a_shutdown() {
    let ((), events) = run_captured(async {
        let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
            .rate_limit(RateLimit::per_second(20).burst(5));
        let service = layer.layer(support::redirecting("/cb?error=invalid_scope"));
        for _ in 0..1_000 {
            service.clone().oneshot(request()).await.unwrap();
        }
        // A quiet spell: the bucket refills; what was suppressed stays
        // pending until the next event of the name, or the summary.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for _ in 0..300 {
            service.clone().oneshot(request()).await.unwrap();
        }
        drop((layer, service)); // a graceful shutdown writes what is pending
    });
    assert_eq!(accounted(&events, AUTHORIZE_EVENT), 1_300, "{events:?}");
    assert_eq!(
        count(&events, "oauth.authorize.invalid_scope.suppressed"),
        1,
        "one summary at shutdown"
    );
    let summary = ours(&events).into_iter().last().unwrap();
    assert_eq!(
        summary.message(),
        "oauth.authorize.invalid_scope.suppressed"
    );
    assert_eq!(summary.level, tracing::Level::WARN);
    assert!(summary.field("suppressed").parse::<u64>().unwrap() > 0);
}

#[test]
fn nothing_pending_writes_no_summary() {
    let ((), events) = run_captured(async {
        let layer = InvalidScopeObserverLayer::new(ScopeSet::new());
        let service = layer.layer(support::redirecting("/cb?error=invalid_scope"));
        service.clone().oneshot(request()).await.unwrap();
        drop((layer, service));
    });
    assert_eq!(ours(&events).len(), 1, "{events:?}");
}

#[test]
fn the_summary_waits_for_the_last_service() {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
        .rate_limit(RateLimit::per_second(1).burst(1));
    let service = layer.layer(support::redirecting("/cb?error=invalid_scope"));
    let ((), served) = run_captured(async {
        for _ in 0..3 {
            service.clone().oneshot(request()).await.unwrap();
        }
    });
    // At one event a second, the three gave one event and two pending
    // (two events and one pending, should a second pass between them).
    let pending = 3 - accounted(&served, AUTHORIZE_EVENT);
    let ((), layer_dropped) = support::capture(|| drop(layer));
    assert!(
        ours(&layer_dropped).is_empty(),
        "a service still holds the budget"
    );
    let ((), service_dropped) = support::capture(|| drop(service));
    assert_eq!(accounted(&service_dropped, AUTHORIZE_EVENT), pending);
    let summaries = ours(&service_dropped);
    assert_eq!(
        summaries.len(),
        usize::from(pending > 0),
        "{service_dropped:?}"
    );
    if let Some(summary) = summaries.first() {
        assert_eq!(
            summary.message(),
            "oauth.authorize.invalid_scope.suppressed"
        );
    }
}

#[test]
fn a_grantable_source_that_panics_loses_no_count() {
    let ((), events) = run_captured(async {
        let layer = InvalidScopeObserverLayer::new(|client_id: &str| {
            assert_ne!(client_id, "boom", "a broken client registry");
            ScopeSet::new()
        })
        .rate_limit(RateLimit::unlimited());
        let service = layer.layer(support::redirecting("/cb?error=invalid_scope"));
        let boom = Request::get("/authorize?client_id=boom&scope=admin")
            .body(())
            .unwrap();
        let response = service.clone().oneshot(boom).await.unwrap();
        assert_eq!(response.status(), 302, "the response still goes out");
        service.clone().oneshot(request()).await.unwrap();
        drop((layer, service));
    });
    // The rejection whose report panicked is carried by the next event.
    assert_eq!(accounted(&events, AUTHORIZE_EVENT), 2, "{events:?}");
    let rejections: Vec<_> = ours(&events)
        .into_iter()
        .filter(|event| event.message() == AUTHORIZE_EVENT)
        .collect();
    assert_eq!(rejections.len(), 1);
    assert_eq!(rejections[0].field("suppressed"), "1");
}
