//! Sentry's tracing integration turns only ERROR events into Sentry issues
//! when set up as its docs recommend. The few lines of docs/counting.md make our WARN
//! event an issue too; this test runs them against sentry's test transport.

mod support;

use http::Request;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet, TARGET};
use sentry::integrations::tracing::ErrorLayer;
use tower::{Layer, ServiceExt};
use tracing_subscriber::filter::{filter_fn, FilterExt, LevelFilter};
use tracing_subscriber::layer::{Layer as _, SubscriberExt};

fn reject_once() {
    let inner = support::redirecting("/cb?error=invalid_scope");
    let service = InvalidScopeObserverLayer::new(ScopeSet::parse("openid")).layer(inner);
    let request = Request::get("/authorize?client_id=app&scope=openid+admin")
        .body(())
        .unwrap();
    support::block_on(service.oneshot(request)).unwrap();
}

#[test]
fn with_errors_only_our_warning_is_no_issue() {
    let subscriber =
        tracing_subscriber::registry().with(ErrorLayer::new().with_filter(LevelFilter::ERROR));
    let events = sentry::test::with_captured_events(|| {
        tracing::subscriber::with_default(subscriber, reject_once);
    });
    assert!(events.is_empty());
}

#[test]
fn with_the_readme_filter_it_is_a_sentry_issue() {
    // The lines of docs/counting.md:
    let errors_and_rejections =
        LevelFilter::ERROR.or(filter_fn(|metadata| metadata.target() == TARGET));
    let subscriber =
        tracing_subscriber::registry().with(ErrorLayer::new().with_filter(errors_and_rejections));

    let events = sentry::test::with_captured_events(|| {
        tracing::subscriber::with_default(subscriber, reject_once);
    });
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.level, sentry::Level::Warning);
    assert_eq!(
        event.message.as_deref(),
        Some("oauth.authorize.invalid_scope")
    );
    assert_eq!(event.logger.as_deref(), Some(TARGET));
    let json = serde_json::to_value(event).unwrap();
    let fields = json["contexts"]
        .as_object()
        .unwrap()
        .values()
        .find(|context| context.get("missing_scopes").is_some())
        .unwrap_or_else(|| panic!("no context with the fields: {json}"));
    assert_eq!(fields["missing_scopes"], "admin");
    assert_eq!(fields["requested_scopes"], "openid admin");
    assert_eq!(fields["client_id"], "app");
}
