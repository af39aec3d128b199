//! The shapes real servers answer with beyond RFC 6749's: a single-page
//! consent screen that POSTs JSON and gets `{"redirect_to": …}` back (the
//! code, or `error=invalid_scope`), a JSON `400 invalid_scope` to that POST,
//! a provisioning API's nested error object with scopes as an array, and a
//! `400` whose `Location` carries the error.
#![cfg(feature = "bodies")]

mod support;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{Request, Response};
use http_body_util::Full;
#[cfg(feature = "follow")]
use invalid_scope_observer::FollowAuthorizations;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use support::flow::{authorize, server, walk, Leg, CODE, STATE};
#[cfg(feature = "follow")]
use support::flow::{grant, token};
use support::{ours, run_captured, CapturedEvent};
use tower::Layer;

const SECRET: &str = "hunter2-never-logged";

fn json_post(path: &str, json: &str) -> Request<Full<Bytes>> {
    Request::post(path)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(json.to_string())))
        .unwrap()
}

fn json_answer(status: u16, json: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(json.to_string())))
        .unwrap()
}

fn consent(scope: &str) -> Request<Full<Bytes>> {
    json_post(
        "/oauth/authorize",
        &format!(
            r#"{{"client_id":"wizard","redirect_uri":"https://client.example/cb","response_type":"code",
                "state":"{STATE}","scope":"{scope}","allow":true,"password":"{SECRET}"}}"#
        ),
    )
}

/// Runs the legs through one layer that reads bodies and (feature
/// `follow`) follows authorizations, with `read write` grantable to every
/// client; returns this crate's events. A rejection is reported the same
/// whether authorizations are followed or not.
fn run(layer: InvalidScopeObserverLayer<ScopeSet>, legs: Vec<Leg>) -> Vec<CapturedEvent> {
    let layer = layer.observe_bodies();
    #[cfg(feature = "follow")]
    let layer = layer.follow_authorizations(FollowAuthorizations::in_memory());
    let mut service = layer.layer(server());
    let (_, events) = run_captured(async move {
        for leg in legs {
            walk(&mut service, leg).await;
        }
    });
    let events: Vec<CapturedEvent> = ours(&events).into_iter().cloned().collect();
    let output = format!("{events:?}");
    for secret in [SECRET, CODE, STATE] {
        assert!(!output.contains(secret), "a secret reached the events");
    }
    events
}

fn layer() -> InvalidScopeObserverLayer<ScopeSet> {
    InvalidScopeObserverLayer::new(ScopeSet::parse("read write"))
}

#[test]
fn a_json_consent_rejection_is_an_authorize_rejection_with_the_servers_reason() {
    let events = run(
        layer(),
        vec![Leg(
            consent("read admin"),
            json_answer(
                400,
                r#"{"error":"invalid_scope","error_description":"The grant is missing scopes the application requires: write"}"#,
            ),
        )],
    );
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.message(), "oauth.authorize.invalid_scope");
    assert_eq!(event.field("client_id"), "wizard");
    assert_eq!(event.field("requested_scopes"), "read admin");
    assert_eq!(event.field("missing_scopes"), "admin");
    assert_eq!(
        event.field("error_description"),
        "The grant is missing scopes the application requires: write"
    );
    assert_eq!(event.field("unexplained"), "false");
    assert!(!event.fields.contains_key("grant_type"));
}

#[test]
fn an_error_inside_redirect_to_is_an_authorize_rejection() {
    let events = run(
        layer(),
        vec![Leg(
            consent("read delete"),
            json_answer(
                200,
                &format!(
                    r#"{{"redirect_to":"https://client.example/cb?error=invalid_scope&error_description=Unknown+scope%3A+delete&state={STATE}"}}"#
                ),
            ),
        )],
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].message(), "oauth.authorize.invalid_scope");
    assert_eq!(events[0].field("missing_scopes"), "delete");
    assert_eq!(
        events[0].field("error_description"),
        "Unknown scope: delete"
    );
    assert_eq!(events[0].field("status"), "200");
}

#[test]
#[cfg(feature = "follow")]
fn a_code_inside_redirect_to_is_followed_to_the_token_answer() {
    // A confidential client without PKCE: its code travels only inside the
    // JSON answer to the consent POST. The consent page showed the scopes
    // the server had already clamped (`read`), and the screen posts those
    // back: what the client asked is the authorize request's `read admin`.
    let page = Response::builder()
        .header(CONTENT_TYPE, "text/html")
        .body(Full::new(Bytes::from_static(b"<html>consent</html>")))
        .unwrap();
    let events = run(
        layer(),
        vec![
            Leg(authorize(&format!("scope=read+admin&state={STATE}")), page),
            Leg(
                consent("read"),
                json_answer(
                    200,
                    &format!(
                        r#"{{"redirect_to":"https://client.example/cb?code={CODE}&state={STATE}"}}"#
                    ),
                ),
            ),
            Leg(token(&format!("code={CODE}")), grant(Some("read"))),
        ],
    );
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.message(), "oauth.scope_narrowed");
    assert_eq!(event.field("requested_scopes"), "read admin");
    assert_eq!(event.field("dropped_scopes"), "admin");
    assert_eq!(event.field("requested_at"), "authorize");
    assert_eq!(event.field("client_id"), "wizard");
}

#[test]
fn a_nested_error_object_with_scopes_as_an_array_is_a_rejection() {
    let events = run(
        layer(),
        vec![Leg(
            json_post(
                "/api/agentic/provisioning",
                r#"{"client_id":"agent","scopes":["read","admin"],"client_secret":"hunter2-never-logged"}"#,
            ),
            json_answer(
                400,
                r#"{"id":"err_1","type":"error","error":{"code":"invalid_scope","message":"admin is not allowed"}}"#,
            ),
        )],
    );
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.message(), "oauth.token.invalid_scope");
    assert_eq!(event.field("client_id"), "agent");
    assert_eq!(event.field("requested_scopes"), "read admin");
    assert_eq!(event.field("missing_scopes"), "admin");
    assert_eq!(event.field("error_description"), "admin is not allowed");
}

#[test]
fn an_alias_is_read_only_when_configured() {
    let leg = || {
        Leg(
            json_post(
                "/token",
                r#"{"grant_type":"client_credentials","scope":"admin"}"#,
            ),
            json_answer(400, r#"{"error":"scope_invalid"}"#),
        )
    };
    assert!(run(layer(), vec![leg()]).is_empty());
    let glewlwyd = layer().invalid_scope_codes(["invalid_scope", "scope_invalid"]);
    let events = run(glewlwyd, vec![leg()]);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].field("grant_type"), "client_credentials");
}

#[test]
fn other_redirect_members_only_when_configured() {
    let leg = || {
        Leg(
            consent("read admin"),
            json_answer(
                200,
                r#"{"redirect_uri":"https://client.example/cb?error=invalid_scope"}"#,
            ),
        )
    };
    assert!(run(layer(), vec![leg()]).is_empty());
    let events = run(
        layer().redirect_members(["redirect_to", "redirect_uri"]),
        vec![leg()],
    );
    assert_eq!(events.len(), 1, "{events:?}");
}

#[test]
fn a_client_error_with_a_location_is_reported_once_from_the_location() {
    // @node-oauth/express-oauth-server 4.2: a 400 JSON answer to the
    // authorize GET, the redirect in its Location.
    let answer = Response::builder()
        .status(400)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .header(
            LOCATION,
            "https://client.example/cb?error=invalid_scope&error_description=Invalid%20scope%3A%20Requested%20scope%20is%20invalid",
        )
        .body(Full::new(Bytes::from_static(
            br#"{"error":"invalid_scope","error_description":"Invalid scope: Requested scope is invalid"}"#,
        )))
        .unwrap();
    let events = run(
        layer(),
        vec![Leg(authorize("scope=read+admin&state=s"), answer)],
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].message(), "oauth.authorize.invalid_scope");
    assert_eq!(
        events[0].field("error_description"),
        "Invalid scope: Requested scope is invalid"
    );
}

#[test]
fn a_gets_json_answer_is_never_read() {
    let events = run(
        layer(),
        vec![Leg(
            Request::get("/api/scopes?scope=admin")
                .body(Full::default())
                .unwrap(),
            json_answer(400, r#"{"error":"invalid_scope"}"#),
        )],
    );
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn without_lists_the_missing_scopes_are_the_unknown_ones() {
    let leg = || {
        Leg(
            consent("read delete"),
            json_answer(400, r#"{"error":"invalid_scope"}"#),
        )
    };
    let mut service = InvalidScopeObserverLayer::new(())
        .known_scopes(["read", "write", "admin"])
        .observe_bodies()
        .layer(server());
    let (_, events) = run_captured(async move {
        walk(&mut service, leg()).await;
    });
    let events = ours(&events);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].field("grantable_scopes"), "");
    assert_eq!(events[0].field("missing_scopes"), "delete");
    assert_eq!(events[0].field("unexplained"), "false");

    // Nothing unknown: the lists (none) cannot explain it.
    let mut service = InvalidScopeObserverLayer::new(())
        .known_scopes(["read", "delete"])
        .observe_bodies()
        .layer(server());
    let (_, events) = run_captured(async move {
        walk(&mut service, leg()).await;
    });
    let events = ours(&events);
    assert_eq!(events[0].field("missing_scopes"), "");
    assert_eq!(events[0].field("unexplained"), "true");
}
