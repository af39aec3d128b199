//! One reading of each parameter: a rejection of a request that repeats a
//! parameter the event names, or that names two clients, is flagged
//! `ambiguous` rather than reported as a guess.
#![cfg(feature = "bodies")]

mod support;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use support::flow::{walk, Leg};
use support::{ours, run_captured, CapturedEvent};
use tower::Layer;

fn rejected(request: Request<Full<Bytes>>, answer: Response<Full<Bytes>>) -> CapturedEvent {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("read")).observe_bodies();
    let mut service = layer.layer(support::flow::server());
    let (_, events) = run_captured(async move { walk(&mut service, Leg(request, answer)).await });
    let ours: Vec<CapturedEvent> = ours(&events).into_iter().cloned().collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    ours.into_iter().next().unwrap()
}

fn rejecting_redirect() -> Response<Full<Bytes>> {
    Response::builder()
        .status(302)
        .header(LOCATION, "https://client.example/cb?error=invalid_scope")
        .body(Full::default())
        .unwrap()
}

fn rejecting_token_answer() -> Response<Full<Bytes>> {
    Response::builder()
        .status(400)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(
            br#"{"error":"invalid_scope"}"#,
        )))
        .unwrap()
}

fn token(form: &'static str) -> Request<Full<Bytes>> {
    Request::post("/token")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(form.as_bytes())))
        .unwrap()
}

#[test]
fn a_well_formed_request_is_not_ambiguous() {
    let event = rejected(
        Request::get("/authorize?response_type=code&client_id=wizard&scope=read+admin")
            .body(Full::default())
            .unwrap(),
        rejecting_redirect(),
    );
    assert_eq!(event.field("ambiguous"), "false");
    assert_eq!(event.field("client_id"), "wizard");
}

#[test]
fn a_repeated_scope_or_client_id_is_flagged() {
    for query in [
        "response_type=code&client_id=wizard&scope=read&scope=admin",
        "response_type=code&client_id=wizard&client_id=other&scope=admin",
    ] {
        let event = rejected(
            Request::get(format!("/authorize?{query}"))
                .body(Full::default())
                .unwrap(),
            rejecting_redirect(),
        );
        assert_eq!(event.field("ambiguous"), "true", "{query}");
    }
    let event = rejected(
        token("grant_type=client_credentials&grant_type=password&client_id=wizard&scope=admin"),
        rejecting_token_answer(),
    );
    assert_eq!(event.field("ambiguous"), "true");
}

#[test]
fn basic_and_form_naming_two_clients_give_no_client_id() {
    let mut request = token("grant_type=client_credentials&client_id=wizard&scope=admin");
    request.headers_mut().insert(
        AUTHORIZATION,
        // base64("other:secret")
        HeaderValue::from_static("Basic b3RoZXI6c2VjcmV0"),
    );
    let event = rejected(request, rejecting_token_answer());
    assert_eq!(event.field("ambiguous"), "true");
    assert_eq!(event.field("client_id"), "");
    // Agreeing, they are one client.
    let mut request = token("grant_type=client_credentials&client_id=other&scope=admin");
    request.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_static("Basic b3RoZXI6c2VjcmV0"),
    );
    let event = rejected(request, rejecting_token_answer());
    assert_eq!(event.field("ambiguous"), "false");
    assert_eq!(event.field("client_id"), "other");
}
