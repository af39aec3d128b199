//! Rejections to PostHog Error Tracking with the ready `PostHogHook`.
//!
//! `POSTHOG_API_KEY=phc_… cargo run --example posthog --features posthog`
//! (optionally `POSTHOG_HOST=https://eu.i.posthog.com`). Without a key the
//! client is disabled and the example only shows the wiring. It sends one
//! rejected request through the layer, waits for the capture, and exits.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::header::LOCATION;
use http::{Request, Response};
use invalid_scope_observer::{InvalidScopeObserverLayer, PostHogHook, ScopeSet};
use tower::{service_fn, Layer, ServiceExt};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().init();

    let api_key = std::env::var("POSTHOG_API_KEY").unwrap_or_default();
    let host = std::env::var("POSTHOG_HOST").unwrap_or_else(|_| "https://us.i.posthog.com".into());
    let posthog = Arc::new(posthog_rs::client((api_key.as_str(), host.as_str())).await);

    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid email"))
        .known_scopes(["openid", "email", "profile", "admin"])
        .on_rejection(PostHogHook::spawn(Arc::clone(&posthog)));

    let authorize = service_fn(|_request: Request<()>| async {
        Ok::<_, Infallible>(
            Response::builder()
                .status(302)
                .header(LOCATION, "https://client.example/cb?error=invalid_scope")
                .body(())
                .expect("a valid response"),
        )
    });
    let request = Request::get("/authorize?client_id=example&scope=openid+admin")
        .body(())
        .expect("a valid request");
    layer
        .layer(authorize)
        .oneshot(request)
        .await
        .expect("infallible");

    // Give the worker a moment, then flush what the client queued.
    tokio::time::sleep(Duration::from_millis(100)).await;
    posthog.flush().await;
    println!("captured (a disabled client without POSTHOG_API_KEY drops it)");
}
