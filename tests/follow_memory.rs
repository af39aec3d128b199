//! The memory a followed authorization costs, counted with an instrumented
//! global allocator: the store's bound in bytes holds under a flood of the
//! largest authorizations a peer can make it keep, and each costs at most
//! `FollowAuthorizations::MAX_AUTHORIZATION_BYTES`.
//!
//! One test only, so no other test thread allocates while a region counts.
#![cfg(feature = "follow")]

use std::alloc::System;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::USER_AGENT;
use http::{Request, Response};
use http_body_util::Full;
use invalid_scope_observer::{FollowAuthorizations, InvalidScopeObserverLayer, ScopeSet};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tower::{service_fn, Layer, Service};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Sends `count` authorize requests, each answered `200` (a login page),
/// through one layer that follows into `follow`; returns the bytes the
/// process holds more afterwards, per request.
fn held_per_authorization(
    follow: FollowAuthorizations,
    count: usize,
    request: impl Fn(usize) -> Request<Full<Bytes>>,
) -> (usize, usize) {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("read"))
        .observe_bodies()
        .follow_authorizations(follow);
    let mut service = layer.layer(service_fn(|_request: Request<_>| {
        std::future::ready(Ok::<_, Infallible>(Response::new(Full::<Bytes>::default())))
    }));
    // The first request sets up what every later one shares.
    send(&mut service, request(usize::MAX));
    let region = Region::new(GLOBAL);
    for n in 0..count {
        send(&mut service, request(n));
    }
    let change = region.change();
    // stats_alloc already counts a reallocation's growth in
    // `bytes_allocated` and its shrinking in `bytes_deallocated`.
    let held = change.bytes_allocated as isize - change.bytes_deallocated as isize;
    drop(service);
    let held = usize::try_from(held).unwrap_or(0);
    (held, held / count)
}

fn send<S>(service: &mut S, request: Request<Full<Bytes>>)
where
    S: Service<Request<Full<Bytes>>, Error = Infallible>,
{
    let mut future = pin!(service.call(request));
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(response) => drop(response.unwrap()),
        Poll::Pending => unreachable!("the inner service answers at once"),
    }
}

/// The largest authorization a peer can make the layer keep: 64 scopes of
/// 15 bytes (1 KiB in all), a `client_id` of 256 four-byte characters, a
/// `User-Agent` of 256 characters, and a `state` and a challenge.
fn largest(n: usize) -> Request<Full<Bytes>> {
    // Fifteen bytes each, all different: 64 of them and their separators
    // are 1 KiB, the most kept.
    let n = n % 1_000_000;
    let scopes: Vec<String> = (0..64).map(|s| format!("s{n:06}-{s:06}x")).collect();
    let client_id = "%F0%9F%A6%80".repeat(256);
    let uri = format!(
        "/authorize?response_type=code&client_id={client_id}&scope={}&state=state-{n}&code_challenge=challenge-{n}&code_challenge_method=S256",
        scopes.join("+")
    );
    Request::get(uri)
        .header(USER_AGENT, "u".repeat(400))
        .body(Full::default())
        .unwrap()
}

/// A typical one: three scopes, a short `client_id`, a browser's user
/// agent, a `state` and a challenge.
fn typical(n: usize) -> Request<Full<Bytes>> {
    Request::get(format!(
        "/authorize?response_type=code&client_id=web-app&scope=openid+profile+email&state=af0ifjsldkj{n}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw{n}&code_challenge_method=S256"
    ))
    .header(
        USER_AGENT,
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    )
    .body(Full::default())
    .unwrap()
}

#[test]
fn the_store_holds_its_bound_in_bytes() {
    let bound = FollowAuthorizations::MAX_AUTHORIZATION_BYTES;
    // Every authorization kept, none evicted: what each really costs.
    let (_, largest_each) =
        held_per_authorization(FollowAuthorizations::in_memory(), 4_000, largest);
    let (_, typical_each) =
        held_per_authorization(FollowAuthorizations::in_memory(), 20_000, typical);
    println!("largest authorization: {largest_each} bytes held (bound {bound})");
    println!("typical authorization: {typical_each} bytes held");
    assert!(largest_each <= bound, "{largest_each} > {bound}");
    assert!(typical_each <= 1024, "{typical_each}");

    // A flood of the largest ones into a store of 1 MiB: the oldest go,
    // and the store never holds more than its bound (and the slack of a
    // hash table that has not shrunk).
    let max = 1 << 20;
    let (held, _) = held_per_authorization(
        FollowAuthorizations::in_memory().max_memory(max),
        20_000,
        largest,
    );
    println!("a 1 MiB store flooded with 20 000 of the largest: {held} bytes held");
    assert!(
        held <= max + max / 4,
        "{held} bytes held for a bound of {max}"
    );
}
