//! Compile-time checks: the layer, service and future meet the bounds axum
//! and hyper put on middleware, with grantable sources and hooks that are
//! not `Clone`. This file passes by compiling (and one router runs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use http::Request;
#[cfg(feature = "bodies")]
use invalid_scope_observer::body::{RequestBody, ResponseBody, WithBodies};
use invalid_scope_observer::future::ResponseFuture;
use invalid_scope_observer::{
    GrantableScopes, InvalidScopeObserver, InvalidScopeObserverLayer, InvalidScopeRejection,
    OnRejection, ScopeSet,
};
use tower::{Service, ServiceExt};

fn send_sync_static<T: Send + Sync + 'static>() {}
fn clone<T: Clone>() {}
fn send<T: Send>(_: &T) {}
fn send_static<T: Send + 'static>() {}

type Hook = fn(&InvalidScopeRejection);
type Inner = axum::routing::Route;

#[test]
fn layer_service_and_future_are_send_sync_static_and_clone() {
    send_sync_static::<InvalidScopeObserverLayer<ScopeSet>>();
    send_sync_static::<InvalidScopeObserverLayer<HashMap<String, ScopeSet>, Hook>>();
    send_sync_static::<InvalidScopeObserverLayer<Arc<dyn Fn(&str) -> ScopeSet + Send + Sync>>>();
    clone::<InvalidScopeObserverLayer<ScopeSet, Hook>>();
    send_sync_static::<InvalidScopeObserver<Inner, ScopeSet, Hook>>();
    clone::<InvalidScopeObserver<Inner, ScopeSet, Hook>>();
    // axum needs futures to be `Send + 'static`, not `Sync`.
    send_static::<ResponseFuture<<Inner as Service<Request<Body>>>::Future, ScopeSet, Hook>>();

    let mut service = tower::ServiceBuilder::new()
        .layer(InvalidScopeObserverLayer::new(ScopeSet::new()))
        .service(Router::new().route("/", get(|| async { "" })));
    send(&service.call(Request::new(Body::empty())));
}

#[test]
#[cfg(feature = "bodies")]
fn reading_bodies_keeps_every_bound() {
    send_sync_static::<InvalidScopeObserverLayer<ScopeSet, Hook, WithBodies>>();
    clone::<InvalidScopeObserverLayer<ScopeSet, Hook, WithBodies>>();
    send_sync_static::<InvalidScopeObserver<Inner, ScopeSet, Hook, WithBodies>>();
    clone::<InvalidScopeObserver<Inner, ScopeSet, Hook, WithBodies>>();
    send_static::<
        ResponseFuture<
            <Inner as Service<Request<RequestBody<Body>>>>::Future,
            ScopeSet,
            Hook,
            WithBodies,
        >,
    >();
    send_static::<RequestBody<Body>>();
    send_static::<ResponseBody<Body>>();

    let mut service = tower::ServiceBuilder::new()
        .layer(InvalidScopeObserverLayer::new(ScopeSet::new()).observe_bodies())
        .service(Router::new().route("/", get(|| async { "" })));
    send(&service.call(Request::new(Body::empty())));

    let _: Router = Router::new()
        .route("/token", get(|| async { "" }))
        .route_layer(InvalidScopeObserverLayer::new(ScopeSet::new()).observe_bodies())
        .layer(InvalidScopeObserverLayer::new(ScopeSet::new()).observe_bodies());
}

/// A client registry that is not `Clone`.
struct Registry(HashMap<String, ScopeSet>);

impl GrantableScopes for Registry {
    fn grantable_scopes(&self, client_id: &str) -> ScopeSet {
        self.0.get(client_id).cloned().unwrap_or_default()
    }
}

/// A hook that is not `Clone`, counting what it sees.
struct Tracker(Mutex<Vec<String>>);

impl OnRejection for Tracker {
    fn on_rejection(&self, rejection: &InvalidScopeRejection) {
        self.0
            .lock()
            .unwrap()
            .push(rejection.missing_scopes().to_string());
    }
}

#[test]
fn a_router_of_any_size_shares_one_grantable_source_and_hook_neither_clone() {
    let tracker = Arc::new(Tracker(Mutex::new(Vec::new())));
    let layer = InvalidScopeObserverLayer::new(Registry(HashMap::from([(
        "wizard".to_string(),
        ScopeSet::parse("openid"),
    )])))
    .on_rejection(Arc::clone(&tracker));
    let redirect = || async { Redirect::to("https://client.example/cb?error=invalid_scope") };
    let mut router = Router::new();
    for route in 0..12 {
        router = router.route(&format!("/r{route}"), get(redirect).post(redirect));
    }
    let router: Router = router.fallback(redirect).layer(layer);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for path in [
        "/r0?client_id=wizard&scope=openid+a",
        "/r11?client_id=wizard&scope=b",
        "/none?scope=c",
    ] {
        let request = Request::get(path).body(Body::empty()).unwrap();
        runtime.block_on(router.clone().oneshot(request)).unwrap();
    }
    assert_eq!(*tracker.0.lock().unwrap(), ["a", "b", "c"]);
}

#[test]
fn axum_accepts_it_as_layer_and_route_layer() {
    let hook = |_: &InvalidScopeRejection| {};
    let _: Router = Router::new()
        .route("/authorize", get(|| async { "" }))
        .route_layer(InvalidScopeObserverLayer::new(ScopeSet::new()).on_rejection(hook))
        .layer(InvalidScopeObserverLayer::new(ScopeSet::new()));
}
