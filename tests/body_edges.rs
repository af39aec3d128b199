//! Bodies at their edges: what the default layer does not read, lookalike
//! answers, limits, bodies cut short or failed, narrowing levels and budgets,
//! and what the hook sees of a token rejection.
#![cfg(feature = "bodies")]

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{Request, Response};
use http_body_util::BodyExt;
use invalid_scope_observer::body::RequestBody;
use invalid_scope_observer::{
    InvalidScopeObserverLayer, InvalidScopeRejection, RateLimit, RejectionKind, ScopeDecision,
    ScopeSet, TOKEN_EVENT,
};
use support::{ours, run_captured, CapturedEvent, Frames};
use tower::{service_fn, Layer, ServiceExt};
use tracing::Level;

const FORM: &str = "application/x-www-form-urlencoded";

fn form_post(frames: &[&'static str]) -> Request<Frames> {
    Request::post("/token")
        .header(CONTENT_TYPE, FORM)
        .body(Frames::new(frames))
        .unwrap()
}

fn answer(status: u16, content_type: &str, body: Frames) -> Response<Frames> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .unwrap()
}

/// Sends `request` through a body-reading layer to an inner service that
/// reads the whole request body and answers `response`; collects the
/// answer and returns the events.
fn run_with(
    layer: InvalidScopeObserverLayer<
        ScopeSet,
        impl invalid_scope_observer::OnRejection + Clone + Send + Sync + 'static,
        invalid_scope_observer::body::WithBodies,
    >,
    request: Request<Frames>,
    response: Response<Frames>,
) -> (Result<Bytes, &'static str>, Vec<CapturedEvent>) {
    let response = Mutex::new(Some(response));
    let inner = service_fn(move |request: Request<RequestBody<Frames>>| {
        let response = response.lock().unwrap().take().unwrap();
        async move {
            request.into_body().collect().await.unwrap();
            Ok::<_, Infallible>(response)
        }
    });
    run_captured(async move {
        let response = layer.layer(inner).oneshot(request).await.unwrap();
        response
            .into_body()
            .collect()
            .await
            .map(|collected| collected.to_bytes())
    })
}

fn run(request: Request<Frames>, response: Response<Frames>) -> Vec<CapturedEvent> {
    run_with(bodies_layer(), request, response).1
}

fn bodies_layer(
) -> InvalidScopeObserverLayer<ScopeSet, (), invalid_scope_observer::body::WithBodies> {
    InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
        .rate_limit(RateLimit::unlimited())
        .observe_bodies()
}

fn invalid_scope_json() -> Frames {
    Frames::new(&[r#"{"error":"invalid_scope"}"#])
}

#[test]
fn the_default_layer_reads_no_body() {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"));
    let inner = service_fn(|request: Request<Frames>| async move {
        request.into_body().collect().await.unwrap();
        Ok::<_, Infallible>(
            Response::builder()
                .status(302)
                .header(LOCATION, "https://client.example/cb?error=invalid_scope")
                .body(())
                .unwrap(),
        )
    });
    let (_, events) = run_captured(
        layer
            .layer(inner)
            .oneshot(form_post(&["client_id=wizard&scope=openid+admin"])),
    );
    // The rejection is seen, but the form's scopes are not read.
    let rejection = ours(&events);
    assert_eq!(rejection.len(), 1);
    assert_eq!(rejection[0].field("requested_scopes"), "");
    assert_eq!(rejection[0].field("client_id"), "");

    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"));
    let inner = service_fn(|_request: Request<()>| async {
        Ok::<_, Infallible>(answer(400, "application/json", invalid_scope_json()))
    });
    let (_, events) = run_captured(layer.layer(inner).oneshot(Request::new(())));
    assert!(ours(&events).is_empty(), "{events:?}");
}

#[test]
fn lookalike_answers_are_not_rejections() {
    let cases = [
        (
            400,
            "application/json",
            r#"{"error":"invalid_request","error_description":"invalid_scope"}"#,
        ),
        (400, "text/plain", r#"{"error":"invalid_scope"}"#),
        (400, "application/json", r#"{"error":"invalid_scopes"}"#),
        (500, "application/json", r#"{"error":"invalid_scope"}"#),
        (403, "application/json", r#"{"error":"invalid_scope"}"#),
        (400, "application/json", r#"{"error":"invalid_scope""#),
        // An error is only a rejection in an error answer.
        (200, "application/json", r#"{"error":"invalid_scope"}"#),
    ];
    for (status, content_type, body) in cases {
        let events = run(
            form_post(&["grant_type=client_credentials&scope=admin"]),
            answer(status, content_type, Frames::new(&[body])),
        );
        assert!(
            ours(&events).is_empty(),
            "{status} {content_type} {body}: {events:?}"
        );
    }
    let events = run(
        form_post(&["grant_type=client_credentials&scope=admin"]),
        answer(401, "application/json", invalid_scope_json()),
    );
    assert_eq!(ours(&events).len(), 1, "401 counts");

    // Compressed bytes are not JSON: such an answer is not looked at.
    let mut compressed = answer(400, "application/json", invalid_scope_json());
    compressed
        .headers_mut()
        .insert(http::header::CONTENT_ENCODING, "gzip".parse().unwrap());
    let events = run(form_post(&["scope=admin"]), compressed);
    assert!(ours(&events).is_empty(), "{events:?}");
}

#[test]
fn a_json_answer_longer_than_the_limit_is_not_read() {
    let padding: &'static str =
        Box::leak(format!(r#"{{"error_description":"{}","#, "x".repeat(100)).into_boxed_str());
    let frames = || Frames::new(&[padding, r#""error":"invalid_scope"}"#]);
    let request = || form_post(&["grant_type=client_credentials&scope=admin"]);
    let long = padding.len() + 24;

    let layer = bodies_layer().body_limit(long - 1);
    let (bytes, events) = run_with(layer, request(), answer(400, "application/json", frames()));
    assert_eq!(
        bytes.unwrap().len(),
        long,
        "the client still gets every byte"
    );
    assert!(ours(&events).is_empty(), "{events:?}");

    let layer = bodies_layer().body_limit(long);
    let (_, events) = run_with(layer, request(), answer(400, "application/json", frames()));
    assert_eq!(ours(&events).len(), 1);
}

#[test]
fn a_failed_answer_is_not_reported_and_its_error_passes_through() {
    let body = Frames::new(&[r#"{"error":"invalid_scope"}"#]).then_fail("connection reset");
    let (bytes, events) = run_with(
        bodies_layer(),
        form_post(&["grant_type=client_credentials&scope=admin"]),
        answer(400, "application/json", body),
    );
    assert_eq!(bytes, Err("connection reset"));
    assert!(ours(&events).is_empty(), "{events:?}");
}

#[test]
fn an_answer_dropped_unread_is_not_reported() {
    let inner = service_fn(|_request: Request<_>| async {
        Ok::<_, Infallible>(answer(400, "application/json", invalid_scope_json()))
    });
    let (_, events) = run_captured(async {
        let response = bodies_layer()
            .layer(inner)
            .oneshot(form_post(&["scope=admin"]))
            .await
            .unwrap();
        drop(response);
    });
    assert!(ours(&events).is_empty(), "{events:?}");
}

#[test]
fn a_form_read_halfway_gives_only_its_complete_parameters() {
    // The inner service reads one frame and answers.
    let inner = service_fn(|request: Request<RequestBody<Frames>>| async move {
        let mut body = request.into_body();
        body.frame().await;
        Ok::<_, Infallible>(
            Response::builder()
                .status(302)
                .header(LOCATION, "https://client.example/cb?error=invalid_scope")
                .body(())
                .unwrap(),
        )
    });
    let request = Request::post("/authorize")
        .header(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(Frames::new(&[
            "client_id=wizard&scope=openid+adm",
            "in&state=xyz",
        ]))
        .unwrap();
    let (_, events) = run_captured(bodies_layer().layer(inner).oneshot(request));
    let ours = ours(&events);
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].field("client_id"), "wizard");
    assert_eq!(
        ours[0].field("requested_scopes"),
        "",
        "`adm` was never whole"
    );
}

#[test]
fn a_form_past_the_limit_gives_the_parameters_before_the_cut() {
    let layer = bodies_layer().body_limit(30);
    let (_, events) = run_with(
        layer,
        form_post(&["grant_type=password&client_id=wizard&scope=openid+admin"]),
        answer(400, "application/json", invalid_scope_json()),
    );
    let ours = ours(&events);
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].field("grant_type"), "password");
    assert_eq!(
        ours[0].field("client_id"),
        "",
        "the limit cuts right after `client_id=`"
    );
}

#[test]
fn the_form_wins_over_the_query_as_servers_read_a_post() {
    // A consent form posts back to its page's URL, query and all; the
    // server judges the body (oauthlib lets it override the query).
    let request = Request::post("/authorize?scope=openid+profile&client_id=from-query&state=s")
        .header(CONTENT_TYPE, FORM)
        .body(Frames::new(&["scope=admin&client_id=from-form"]))
        .unwrap();
    let response = Response::builder()
        .status(303)
        .header(LOCATION, "/cb?error=invalid_scope")
        .body(Frames::new(&[]))
        .unwrap();
    let events = run(request, response);
    let ours = ours(&events);
    assert_eq!(ours[0].field("requested_scopes"), "admin");
    assert_eq!(ours[0].field("client_id"), "from-form");
}

fn narrowed(layer: InvalidScopeObserverLayer<ScopeSet>, granted: &str) -> Vec<CapturedEvent> {
    let granted = ScopeSet::parse(granted);
    let inner = service_fn(move |_request: Request<()>| {
        let mut response = Response::builder()
            .status(302)
            .header(LOCATION, "https://client.example/cb?code=abc")
            .body(())
            .unwrap();
        response
            .extensions_mut()
            .insert(ScopeDecision::new().granted(granted.clone()));
        std::future::ready(Ok::<_, Infallible>(response))
    });
    let request = Request::get("/authorize?client_id=c&scope=openid+email")
        .body(())
        .unwrap();
    run_captured(layer.layer(inner).oneshot(request)).1
}

#[test]
fn narrowing_needs_a_dropped_scope_and_its_level_is_configurable() {
    let events = narrowed(
        InvalidScopeObserverLayer::new(ScopeSet::new()),
        "email openid extra",
    );
    assert!(ours(&events).is_empty(), "nothing dropped: {events:?}");

    let events = narrowed(InvalidScopeObserverLayer::new(ScopeSet::new()), "openid");
    assert_eq!(
        ours(&events)[0].level,
        Level::INFO,
        "the default layer sees it"
    );
    assert_eq!(ours(&events)[0].field("dropped_scopes"), "email");
    assert_eq!(ours(&events)[0].field("dropped_count"), "1");

    let layer = InvalidScopeObserverLayer::new(ScopeSet::new()).narrowing_level(Level::WARN);
    let events = narrowed(layer, "openid");
    assert_eq!(ours(&events)[0].level, Level::WARN);
    assert_eq!(ours(&events)[0].message(), "oauth.scope_narrowed");
}

#[test]
fn narrowings_cannot_crowd_out_rejections() {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
        .rate_limit(RateLimit::per_second(1).burst(1));
    let events = narrowed(layer.clone(), "openid");
    assert_eq!(ours(&events).len(), 1);
    let events = narrowed(layer.clone(), "openid");
    assert!(ours(&events).is_empty(), "the narrowing budget is spent");
    let (_, events) = run_captured(
        layer
            .layer(support::redirecting("/cb?error=invalid_scope"))
            .oneshot(Request::new(())),
    );
    assert_eq!(ours(&events).len(), 1, "the rejection budget is not");
}

#[test]
fn the_hook_sees_token_rejections_with_their_grant_type() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let layer = bodies_layer().on_rejection(move |rejection: &InvalidScopeRejection| {
        record.lock().unwrap().push((
            rejection.kind(),
            rejection.event_name(),
            rejection.grant_type().map(str::to_string),
            rejection.missing_scopes().to_string(),
        ))
    });
    let (bytes, _) = run_with(
        layer.clone(),
        form_post(&["grant_type=client_credentials&scope=openid+admin"]),
        answer(400, "application/json", invalid_scope_json()),
    );
    bytes.unwrap();
    // A PAR request names no grant type: still a token-endpoint rejection.
    let (bytes, _) = run_with(
        layer,
        form_post(&["client_id=c&scope=openid+admin"]),
        answer(400, "application/json", invalid_scope_json()),
    );
    bytes.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (
                RejectionKind::Token,
                TOKEN_EVENT,
                Some("client_credentials".to_string()),
                "admin".to_string()
            ),
            (RejectionKind::Token, TOKEN_EVENT, None, "admin".to_string()),
        ]
    );
}

#[test]
fn grant_type_has_a_bound_of_its_own() {
    let long = format!("grant_type=urn:{}&scope=admin", "x".repeat(200));
    let layer = bodies_layer().client_id_limit(500);
    let (bytes, events) = run_with(
        layer,
        form_post(&[Box::leak(long.into_boxed_str())]),
        answer(400, "application/json", invalid_scope_json()),
    );
    bytes.unwrap();
    let ours = ours(&events);
    assert_eq!(ours.len(), 1, "{events:?}");
    let grant_type = ours[0].field("grant_type");
    assert_eq!(grant_type.chars().count(), 64, "{grant_type}");
    assert_eq!(ours[0].field("truncated"), "true");

    // A short client_id limit does not cut a grant type.
    let (_, events) = run_with(
        bodies_layer().client_id_limit(4),
        form_post(&["grant_type=client_credentials&client_id=wizard&scope=admin"]),
        answer(400, "application/json", invalid_scope_json()),
    );
    let ours = support::ours(&events);
    assert_eq!(ours[0].field("grant_type"), "client_credentials");
    assert_eq!(ours[0].field("client_id"), "wiza");
}

#[test]
fn an_authorization_form_reports_no_grant_type_even_if_it_sends_one() {
    // A peer may put anything in a POSTed authorization form; only a token
    // request's grant type belongs in an event.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let layer = bodies_layer().on_rejection(move |rejection: &InvalidScopeRejection| {
        record
            .lock()
            .unwrap()
            .push((rejection.kind(), rejection.grant_type().map(str::to_string)));
    });
    let redirect = Response::builder()
        .status(302)
        .header(
            http::header::LOCATION,
            "https://client.example/cb?error=invalid_scope",
        )
        .body(Frames::new(&[]))
        .unwrap();
    let (_, events) = run_with(
        layer,
        form_post(&["grant_type=forged&client_id=wizard&scope=openid+admin"]),
        redirect,
    );
    let ours = ours(&events);
    assert_eq!(ours.len(), 1, "{events:?}");
    assert_eq!(ours[0].message(), "oauth.authorize.invalid_scope");
    assert!(!ours[0].fields.contains_key("grant_type"), "{:?}", ours[0]);
    assert_eq!(*seen.lock().unwrap(), [(RejectionKind::Authorize, None)]);
}
