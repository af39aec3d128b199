//! Rendered through real formatters (plain text, JSON, logfmt), one rejection
//! with hostile values is one line, and every peer value in it is escaped.

mod support;

use http::header::USER_AGENT;
use http::{HeaderValue, Request};
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use support::Buffer;
use tower::{Layer, ServiceExt};
use tracing_subscriber::layer::SubscriberExt;

/// Sends one rejection with hostile values through the layer under
/// `subscriber` and returns what it wrote.
fn render(subscriber: impl tracing::Subscriber + Send + Sync + 'static) {
    let inner = support::redirecting(
        "https://client.example/cb?error=invalid_scope&state=s3cr3t&code=c0de",
    );
    let service = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read")).layer(inner);
    let request = Request::builder()
        .uri(
            "/authorize?client_id=evil%0A2026-01-01T00:00:00Z%20ERROR%20forged%1B%5B2J\
             &scope=user:read+x%0Ay+%E2%80%AEtxt+a%22b",
        )
        .header(
            USER_AGENT,
            HeaderValue::from_bytes("agent\t\u{85}\u{2028}end".as_bytes()).unwrap(),
        )
        .body(())
        .unwrap();
    support::block_on_under(subscriber, service.oneshot(request)).unwrap();
}

fn assert_one_safe_line(output: &str) {
    println!("{output}");
    assert!(output.ends_with('\n'), "{output:?}");
    assert_eq!(output.matches('\n').count(), 1, "one line: {output:?}");
    let raw = output.trim_end_matches('\n');
    assert!(
        !raw.chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202e}')),
        "no raw control or layout character: {output:?}"
    );
    assert!(
        !output.contains("s3cr3t") && !output.contains("c0de"),
        "no state or code: {output:?}"
    );
    assert!(output.contains("oauth.authorize.invalid_scope"));
}

#[test]
fn plain_text_formatter() {
    let buffer = Buffer::default();
    render(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_writer(buffer.clone())
            .finish(),
    );
    let output = buffer.text();
    assert_one_safe_line(&output);
    assert!(
        output.contains(r"client_id=evil\u{a}2026-01-01T00:00:00Z ERROR forged\u{1b}[2J"),
        "{output}"
    );
    assert!(
        output.contains(r"missing_scopes=x\u{a}y \u{202e}txt a\u{22}b"),
        "{output}"
    );
    assert!(
        output.contains(r"user_agent=agent\u{9}\u{85}\u{2028}end"),
        "{output}"
    );
}

#[test]
fn json_formatter() {
    let buffer = Buffer::default();
    render(
        tracing_subscriber::fmt()
            .json()
            .with_writer(buffer.clone())
            .finish(),
    );
    let output = buffer.text();
    assert_one_safe_line(&output);
    let line: serde_json::Value = serde_json::from_str(&output).unwrap();
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["target"], "invalid_scope_observer");
    let fields = &line["fields"];
    assert_eq!(fields["message"], "oauth.authorize.invalid_scope");
    assert_eq!(
        fields["client_id"],
        r"evil\u{a}2026-01-01T00:00:00Z ERROR forged\u{1b}[2J"
    );
    assert_eq!(
        fields["requested_scopes"],
        r"user:read x\u{a}y \u{202e}txt a\u{22}b"
    );
    assert_eq!(fields["grantable_scopes"], "user:read");
    assert_eq!(fields["missing_scopes"], r"x\u{a}y \u{202e}txt a\u{22}b");
    assert_eq!(fields["user_agent"], r"agent\u{9}\u{85}\u{2028}end");
    assert_eq!(fields["status"], 302);
}

#[test]
fn logfmt_formatter() {
    let buffer = Buffer::default();
    let layer = tracing_logfmt::builder()
        .with_timestamp(false)
        .layer()
        .with_writer(buffer.clone());
    render(tracing_subscriber::registry().with(layer));
    let output = buffer.text();
    assert_one_safe_line(&output);
    assert!(
        output.contains(r#"missing_scopes="x\\u{a}y \\u{202e}txt a\\u{22}b""#),
        "{output}"
    );
}
