//! A flood of rejections is rate-limited, and every rejection is accounted
//! for: events emitted plus the `suppressed` they carry equals rejections.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use invalid_scope_observer::{
    InvalidScopeObserverLayer, InvalidScopeRejection, RateLimit, ScopeSet,
};
use support::{ours, run_captured};
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
