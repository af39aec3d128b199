//! Compile-time checks: the layer, service and future meet the bounds axum
//! and hyper put on middleware. This file passes by compiling.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::Request;
use invalid_scope_observer::bodies::{RequestBody, ResponseBody, WithBodies};
use invalid_scope_observer::{
    InvalidScopeObserver, InvalidScopeObserverLayer, InvalidScopeRejection, ResponseFuture,
    ScopeSet,
};
use tower::Service;

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

#[test]
fn axum_accepts_it_as_layer_and_route_layer() {
    let hook = |_: &InvalidScopeRejection| {};
    let _: Router = Router::new()
        .route("/authorize", get(|| async { "" }))
        .route_layer(InvalidScopeObserverLayer::new(ScopeSet::new()).on_rejection(hook))
        .layer(InvalidScopeObserverLayer::new(ScopeSet::new()));
}
