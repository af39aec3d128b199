//! With `.known_scopes(registry)` each event tells drift (a known scope the
//! client may not have) from typos and probes (a scope nobody knows);
//! without it the event is the core one.

mod support;

use http::header::USER_AGENT;
use http::Request;
use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
use support::fields;

const SCOPE_REGISTRY: &[&str] = &[
    "user:read",
    "project:read",
    "llm_gateway:read",
    "dashboard:write",
    "insight:write",
];

fn rejected<G, H>(
    layer: InvalidScopeObserverLayer<G, H>,
) -> std::collections::BTreeMap<String, String>
where
    G: invalid_scope_observer::GrantableScopes + Clone,
    H: invalid_scope_observer::OnRejection + Clone,
{
    let request = Request::builder()
        .uri("/authorize?client_id=wizard&scope=user:read+llm_gateway:raed+dashboard:write+admin")
        .header(USER_AGENT, "wizard/2")
        .body(())
        .unwrap();
    support::rejection_fields_for(
        layer,
        "https://client.example/cb?error=invalid_scope",
        request,
    )
}

#[test]
fn with_a_registry_the_event_separates_unknown_from_ungranted() {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read project:read"))
        .known_scopes(SCOPE_REGISTRY);
    assert_eq!(
        rejected(layer),
        fields([
            (
                "requested_scopes",
                "user:read llm_gateway:raed dashboard:write admin"
            ),
            ("grantable_scopes", "user:read project:read"),
            ("missing_scopes", "llm_gateway:raed dashboard:write admin"),
            ("unknown_scopes", "llm_gateway:raed admin"),
            ("ungranted_known_scopes", "dashboard:write"),
            ("client_id", "wizard"),
            ("user_agent", "wizard/2"),
            ("status", "302"),
            ("requested_count", "4"),
            ("grantable_count", "2"),
            ("missing_count", "3"),
            ("truncated", "false"),
            ("suppressed", "0"),
            ("error_description", ""),
            ("unexplained", "false"),
            ("ambiguous", "false"),
        ])
    );
}

#[test]
fn without_a_registry_the_event_has_no_such_fields() {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read project:read"));
    assert_eq!(
        rejected(layer),
        fields([
            (
                "requested_scopes",
                "user:read llm_gateway:raed dashboard:write admin"
            ),
            ("grantable_scopes", "user:read project:read"),
            ("missing_scopes", "llm_gateway:raed dashboard:write admin"),
            ("client_id", "wizard"),
            ("user_agent", "wizard/2"),
            ("status", "302"),
            ("requested_count", "4"),
            ("grantable_count", "2"),
            ("missing_count", "3"),
            ("truncated", "false"),
            ("suppressed", "0"),
            ("error_description", ""),
            ("unexplained", "false"),
            ("ambiguous", "false"),
        ])
    );
}

#[test]
fn an_empty_registry_makes_every_requested_scope_unknown() {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::new()).known_scopes(ScopeSet::new());
    let event = rejected(layer);
    assert_eq!(
        event["unknown_scopes"],
        "user:read llm_gateway:raed dashboard:write admin"
    );
    assert_eq!(event["ungranted_known_scopes"], "");
}

#[test]
fn the_rejection_exposes_both() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let record = std::sync::Arc::clone(&seen);
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read"))
        .known_scopes(SCOPE_REGISTRY)
        .on_rejection(move |rejection: &InvalidScopeRejection| {
            *record.lock().unwrap() = Some(rejection.clone());
        });
    rejected(layer);
    let rejection = seen.lock().unwrap().take().unwrap();
    assert_eq!(
        rejection.unknown_scopes(),
        Some(&ScopeSet::parse("llm_gateway:raed admin"))
    );
    assert_eq!(
        rejection.ungranted_known_scopes(),
        Some(&ScopeSet::parse("dashboard:write"))
    );

    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let record = std::sync::Arc::clone(&seen);
    rejected(
        InvalidScopeObserverLayer::new(ScopeSet::new()).on_rejection(
            move |rejection: &InvalidScopeRejection| {
                *record.lock().unwrap() = Some(rejection.clone());
            },
        ),
    );
    let rejection = seen.lock().unwrap().take().unwrap();
    assert_eq!(rejection.unknown_scopes(), None);
    assert_eq!(rejection.ungranted_known_scopes(), None);
}
