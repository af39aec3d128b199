//! Configuration a person can read, and settings that would make every event
//! empty or unseen refused where they are written.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use http::header::USER_AGENT;
use http::Request;
use invalid_scope_observer::{InvalidScopeObserverLayer, RateLimit, ScopeSet};
use support::rejection_fields_for;

fn layer() -> InvalidScopeObserverLayer<ScopeSet> {
    InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
}

fn panic_message(configure: impl FnOnce()) -> String {
    let panic = catch_unwind(AssertUnwindSafe(configure)).expect_err("refused");
    panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .expect("a text")
}

#[test]
fn settings_that_empty_every_event_are_refused_naming_the_setting() {
    let refusals = [
        (
            panic_message(|| drop(layer().client_id_limit(0))),
            "client_id_limit(0)",
        ),
        (
            panic_message(|| drop(layer().scopes_per_field_limit(0))),
            "scopes_per_field_limit(0)",
        ),
        (
            panic_message(|| drop(layer().scope_length_limit(0))),
            "scope_length_limit(0)",
        ),
        #[cfg(feature = "bodies")]
        (
            panic_message(|| drop(layer().observe_bodies().body_limit(0))),
            "body_limit(0)",
        ),
    ];
    for (message, setting) in refusals {
        assert!(message.starts_with(setting), "{message}");
    }
    // One is as small as they go.
    drop(
        layer()
            .client_id_limit(1)
            .scopes_per_field_limit(1)
            .scope_length_limit(1),
    );
    #[cfg(feature = "bodies")]
    drop(layer().observe_bodies().body_limit(1));
}

#[test]
fn a_user_agent_limit_of_zero_leaves_it_out_without_truncating() {
    let request = Request::get("/authorize?client_id=wizard&scope=openid+admin")
        .header(USER_AGENT, "Mozilla/5.0 (private)")
        .body(())
        .unwrap();
    let fields = rejection_fields_for(
        layer().user_agent_limit(0),
        "/cb?error=invalid_scope",
        request,
    );
    assert_eq!(fields["user_agent"], "");
    assert_eq!(fields["truncated"], "false");
    assert_eq!(fields["missing_scopes"], "admin");
}

#[test]
fn the_layer_and_its_services_debug_as_settings_a_person_reads() {
    let configured = layer()
        .rate_limit(RateLimit::per_second(20).burst(50))
        .redirect_statuses([http::StatusCode::FOUND, http::StatusCode::SEE_OTHER])
        .user_agent_limit(80);
    let text = format!("{configured:?}");
    for expected in [
        "InvalidScopeObserverLayer",
        "rate_limit: RateLimit(20 per second, burst 50)",
        "redirect_statuses: [302, 303]",
        "narrowing_level: INFO",
        "user_agent_limit: 80",
        #[cfg(feature = "bodies")]
        "body_limit: 8192",
        "grantable: \"invalid_scope_observer::scope::ScopeSet\"",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    for unreadable in ["bits", "Instant", "theoretical_arrival", "Level("] {
        assert!(!text.contains(unreadable), "{unreadable:?} in {text}");
    }
    assert!(format!("{:?}", layer()).contains("redirect_statuses: every 3xx"));
    assert!(format!("{:?}", RateLimit::unlimited()).contains("RateLimit(unlimited)"));

    let inner = tower::service_fn(|_: Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(()))
    });
    let service = tower::Layer::layer(&configured, inner);
    let text = format!("{service:?}");
    assert!(text.starts_with("InvalidScopeObserver {"), "{text}");
    assert!(
        text.contains("rate_limit: RateLimit(20 per second, burst 50)"),
        "{text}"
    );
}
