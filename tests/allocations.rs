//! Pass-through costs no allocation: counted with an instrumented global
//! allocator, which is deterministic where a timing is not.
//!
//! Each count is given for the default layer and for one that reads bodies
//! (for requests that are not forms, and answers that are not JSON errors).
//!
//! One test only, so no other test thread allocates while a region counts.

use std::alloc::System;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use http::header::{LOCATION, USER_AGENT};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tower::{service_fn, Layer, Service};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Calls `service` with `request` and polls the future to completion (it is
/// ready at once), counting the allocations of call, poll and drop.
fn allocations<S, B>(service: &mut S, request: Request<()>) -> usize
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
{
    let region = Region::new(GLOBAL);
    let response = {
        let mut future = pin!(service.call(request));
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(response) => response.unwrap(),
            Poll::Pending => unreachable!("the inner service answers at once"),
        }
    };
    drop(response);
    region.change().allocations
}

/// An inner service that answers `status` with `location` at once, for any
/// request body type.
fn answering<B>(
    status: StatusCode,
    location: &'static str,
) -> impl Service<Request<B>, Response = Response<()>, Error = Infallible> + Clone {
    service_fn(move |_request: Request<B>| {
        let response = Response::builder()
            .status(status)
            .header(LOCATION, HeaderValue::from_static(location))
            .body(())
            .unwrap();
        std::future::ready(Ok::<_, Infallible>(response))
    })
}

/// Allocations the layer adds to one request: observed minus bare, for the
/// default layer and (feature `bodies`) for one that reads bodies; without
/// the feature the second figure is the default layer's again.
fn added_allocations(
    make_request: impl Fn() -> Request<()>,
    status: StatusCode,
    location: &'static str,
) -> [isize; 2] {
    let mut bare = answering(status, location);
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid email"));
    let mut observed = layer.clone().layer(answering(status, location));
    // Warm up once each (thread-locals, lazy statics), then count.
    allocations(&mut bare, make_request());
    allocations(&mut observed, make_request());
    let bare = allocations(&mut bare, make_request()) as isize;
    let observed = allocations(&mut observed, make_request()) as isize - bare;
    #[cfg(feature = "bodies")]
    let reading_bodies = {
        let mut reading_bodies = layer.observe_bodies().layer(answering(status, location));
        allocations(&mut reading_bodies, make_request());
        allocations(&mut reading_bodies, make_request()) as isize - bare
    };
    #[cfg(not(feature = "bodies"))]
    let reading_bodies = observed;
    [observed, reading_bodies]
}

/// A `Uri` over bytes that are already shared, as hyper's parser hands them
/// out of its read buffer: cloning it is a reference-count bump.
fn shared_uri(text: &str) -> Uri {
    let buffer = BytesMut::from(text.as_bytes()).freeze();
    let _another_owner: Bytes = buffer.clone();
    Uri::from_maybe_shared(buffer).unwrap()
}

fn request(uri: Uri) -> Request<()> {
    Request::builder()
        .uri(uri)
        .header(USER_AGENT, HeaderValue::from_static("bench/1"))
        .body(())
        .unwrap()
}

const QUERY: &str = "/authorize?response_type=code&client_id=wizard&scope=openid+email&state=xyz";

#[test]
fn pass_through_allocates_nothing() {
    let ok = (StatusCode::OK, "");
    let code_redirect = (
        StatusCode::FOUND,
        "https://client.example/cb?code=abc&state=xyz",
    );
    // RFC 9207: every success redirect of node-oidc-provider and Keycloak
    // carries an escaped issuer.
    let issuer_redirect = (
        StatusCode::SEE_OTHER,
        "https://client.example/cb?code=abc&state=xyz&iss=https%3A%2F%2Fas.example.com",
    );

    for (status, location) in [ok, code_redirect, issuer_redirect] {
        // No query: nothing of the URI is kept.
        let no_query = || request(Uri::from_static("/authorize"));
        assert_eq!(
            added_allocations(no_query, status, location),
            [0, 0],
            "no query, {status}"
        );

        // A query over shared bytes: one reference-count bump.
        let shared = || request(shared_uri(QUERY));
        assert_eq!(
            added_allocations(shared, status, location),
            [0, 0],
            "shared uri, {status}"
        );

        // A query in a `Uri` parsed from `&str`: its bytes are owned by the
        // `Uri` alone, and `bytes` moves them behind a shared counter on the
        // first clone. That is the one allocation the layer costs here.
        let parsed = || request(QUERY.parse().unwrap());
        assert_eq!(
            added_allocations(parsed, status, location),
            [1, 1],
            "parsed uri, {status}"
        );
    }
}
