//! The event through OpenTelemetry logs: `tracing` -> the OpenTelemetry
//! appender -> an exporter. This example exports to stdout so it runs
//! anywhere; in production swap the stdout exporter for OTLP (see
//! docs/counting.md) and the same record reaches Loki, ClickHouse or Elasticsearch.
//!
//! `cargo run --example opentelemetry`

use std::convert::Infallible;

use http::header::{LOCATION, USER_AGENT};
use http::{Request, Response};
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::Resource;
use tower::{service_fn, Layer, ServiceExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let provider = SdkLoggerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name("authorization-server")
                .build(),
        )
        .with_simple_exporter(opentelemetry_stdout::LogExporter::default())
        .build();
    tracing_subscriber::registry()
        .with(OpenTelemetryTracingBridge::new(&provider))
        .init();

    // A stand-in authorization endpoint that rejects the request's scopes.
    let authorize = service_fn(|_request: Request<()>| async {
        Ok::<_, Infallible>(
            Response::builder()
                .status(302)
                .header(
                    LOCATION,
                    "https://client.example/cb?error=invalid_scope&state=xyz",
                )
                .body(())
                .expect("a valid response"),
        )
    });
    let service = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read")).layer(authorize);
    let request = Request::get("/authorize?client_id=wizard&scope=user:read+llm_gateway:read")
        .header(USER_AGENT, "example/1.0")
        .body(())
        .expect("a valid request");
    service.oneshot(request).await.expect("infallible");

    provider.shutdown().expect("flushed");
}
