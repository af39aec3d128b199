//! However large the peer's values, one event stays bounded, and says so:
//! full counts plus `truncated`, never a silently wrong number.

mod support;

use http::header::USER_AGENT;
use http::Request;
use invalid_scope_observer::{GrantableScopes, InvalidScopeObserverLayer, OnRejection, ScopeSet};

fn event_for<G, H>(
    layer: InvalidScopeObserverLayer<G, H>,
    uri: &str,
    user_agent: &str,
) -> std::collections::BTreeMap<String, String>
where
    G: GrantableScopes + Clone,
    H: OnRejection + Clone,
{
    let request = Request::builder()
        .uri(uri)
        .header(USER_AGENT, user_agent)
        .body(())
        .unwrap();
    support::rejection_fields_for(layer, "/cb?error=invalid_scope", request)
}

#[test]
fn a_hundred_scopes_list_sixty_four_and_count_a_hundred() {
    let scopes: Vec<String> = (0..100).map(|n| format!("s{n}")).collect();
    let uri = format!("/authorize?client_id=c&scope={}", scopes.join("+"));
    let event = event_for(
        InvalidScopeObserverLayer::new(ScopeSet::parse("s0")),
        &uri,
        "ua",
    );
    assert_eq!(event["requested_count"], "100");
    assert_eq!(event["missing_count"], "99");
    assert_eq!(event["requested_scopes"], scopes[..64].join(" "));
    assert_eq!(event["missing_scopes"], scopes[1..65].join(" "));
    assert_eq!(event["truncated"], "true");
}

#[test]
fn a_long_scope_is_cut_to_128_characters() {
    let long = "x".repeat(300);
    let uri = format!("/authorize?scope=a+{long}");
    let event = event_for(
        InvalidScopeObserverLayer::new(ScopeSet::parse("a")),
        &uri,
        "ua",
    );
    assert_eq!(event["missing_scopes"], "x".repeat(128));
    assert_eq!(event["missing_count"], "1");
    assert_eq!(event["truncated"], "true");
}

#[test]
fn a_long_client_id_is_cut_to_128_characters() {
    let uri = format!("/authorize?client_id={}&scope=a", "c".repeat(500));
    let event = event_for(InvalidScopeObserverLayer::new(ScopeSet::new()), &uri, "ua");
    assert_eq!(event["client_id"], "c".repeat(128));
    assert_eq!(event["truncated"], "true");
}

#[test]
fn a_long_user_agent_is_cut_and_flagged() {
    let event = event_for(
        InvalidScopeObserverLayer::new(ScopeSet::new()),
        "/authorize?scope=a",
        &"u".repeat(201),
    );
    assert_eq!(event["user_agent"], "u".repeat(200));
    assert_eq!(event["truncated"], "true");
}

#[test]
fn values_exactly_at_the_limits_are_not_truncated() {
    let scopes: Vec<String> = (0..64).map(|n| format!("{n:0>128}")).collect();
    let uri = format!(
        "/authorize?client_id={}&scope={}",
        "c".repeat(128),
        scopes.join("+")
    );
    let event = event_for(
        InvalidScopeObserverLayer::new(ScopeSet::new()),
        &uri,
        &"u".repeat(200),
    );
    assert_eq!(event["requested_count"], "64");
    assert_eq!(event["requested_scopes"], scopes.join(" "));
    assert_eq!(event["truncated"], "false");
}

#[test]
fn every_limit_is_configurable() {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
        .scopes_per_field_limit(2)
        .scope_length_limit(3)
        .client_id_limit(4)
        .user_agent_limit(5);
    let event = event_for(
        layer,
        "/authorize?client_id=abcdefgh&scope=one+three+fives",
        "agent/1.0",
    );
    assert_eq!(event["requested_scopes"], "one thr");
    assert_eq!(event["requested_count"], "3");
    assert_eq!(event["client_id"], "abcd");
    assert_eq!(event["user_agent"], "agent");
    assert_eq!(event["truncated"], "true");
}

#[test]
fn the_largest_query_http_accepts_is_still_one_bounded_event() {
    // `http::Uri` refuses more than 64 KiB; stay just under it.
    let scope: String = (0..20_000).map(|n| format!("{n}+")).collect::<String>();
    let uri = format!("/authorize?client_id=c&scope={}", &scope[..60_000]);
    let event = event_for(InvalidScopeObserverLayer::new(ScopeSet::new()), &uri, "ua");
    assert!(event["requested_scopes"].len() < 64 * 129);
    assert!(event["requested_count"].parse::<usize>().unwrap() > 5_000);
    assert_eq!(event["truncated"], "true");
}
