//! The event through the real OpenTelemetry pipeline: the tracing appender
//! into the SDK's in-memory log exporter, asserted record by record.

mod support;

use http::header::USER_AGENT;
use http::Request;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry::Key;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::Resource;
use tower::{Layer, ServiceExt};
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn the_rejection_is_an_otel_log_record_with_every_field() {
    let exporter = InMemoryLogExporter::default();
    let provider = SdkLoggerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name("authorization-server")
                .build(),
        )
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber =
        tracing_subscriber::registry().with(OpenTelemetryTracingBridge::new(&provider));

    let inner = support::redirecting("https://client.example/cb?error=invalid_scope&state=xyz");
    let service = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read insight:write"))
        .known_scopes(["user:read", "llm_gateway:read", "insight:write"])
        .layer(inner);
    let request =
        Request::get("/authorize?client_id=wizard&scope=user:read+llm_gateway:read+insight:write")
            .header(USER_AGENT, "wizard/1.0")
            .body(())
            .unwrap();
    support::block_on_under(subscriber, service.oneshot(request)).unwrap();
    provider.force_flush().unwrap();

    let logs = exporter.get_emitted_logs().unwrap();
    assert_eq!(logs.len(), 1);
    let log = &logs[0];
    let record = &log.record;
    assert_eq!(record.severity_number(), Some(Severity::Warn));
    assert_eq!(record.severity_text(), Some("WARN"));
    assert_eq!(
        record.target().map(|target| target.as_ref()),
        Some("invalid_scope_observer")
    );
    assert_eq!(
        record.body(),
        Some(&AnyValue::String("oauth.authorize.invalid_scope".into()))
    );
    let attribute = |name: &'static str| {
        record
            .attributes_iter()
            .find(|(key, _)| key.as_str() == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("no attribute {name}"))
    };
    let text = |value: &str| AnyValue::String(value.to_string().into());
    assert_eq!(
        attribute("requested_scopes"),
        text("user:read llm_gateway:read insight:write")
    );
    assert_eq!(
        attribute("grantable_scopes"),
        text("user:read insight:write")
    );
    assert_eq!(attribute("missing_scopes"), text("llm_gateway:read"));
    assert_eq!(attribute("unknown_scopes"), text(""));
    assert_eq!(
        attribute("ungranted_known_scopes"),
        text("llm_gateway:read")
    );
    assert_eq!(attribute("client_id"), text("wizard"));
    assert_eq!(attribute("user_agent"), text("wizard/1.0"));
    assert_eq!(attribute("status"), AnyValue::Int(302));
    assert_eq!(attribute("requested_count"), AnyValue::Int(3));
    assert_eq!(attribute("grantable_count"), AnyValue::Int(2));
    assert_eq!(attribute("missing_count"), AnyValue::Int(1));
    assert_eq!(attribute("truncated"), AnyValue::Boolean(false));
    assert_eq!(attribute("suppressed"), AnyValue::Int(0));
    assert_eq!(attribute("error_description"), text(""));
    assert_eq!(attribute("unexplained"), AnyValue::Boolean(false));
    assert_eq!(attribute("ambiguous"), AnyValue::Boolean(false));
    assert_eq!(record.attributes_iter().count(), 16, "no other attribute");
    assert_eq!(
        log.resource.get(&Key::new("service.name")),
        Some(opentelemetry::Value::from("authorization-server"))
    );
}
