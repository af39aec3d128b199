//! The `metrics` feature, against `metrics-util`'s debugging recorder.
#![cfg(feature = "metrics")]

mod support;

use http::Request;
use invalid_scope_observer::{
    InvalidScopeObserverLayer, RateLimit, ScopeMetrics, ScopeSet, SUPPRESSED_EVENTS,
    UNEXPLAINED_REJECTIONS,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tower::{Layer, ServiceExt};

const REGISTRY: &[&str] = &["user:read", "llm_gateway:read", "dashboard:write"];

/// Sends one rejection per query and returns each counter series as
/// (sorted labels, count).
fn counts(
    metrics: ScopeMetrics,
    limit: RateLimit,
    queries: &[&str],
) -> Vec<(Vec<(String, String)>, u64)> {
    let recorder = DebuggingRecorder::new();
    let inner = support::redirecting("/cb?error=invalid_scope");
    let service = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read"))
        .rate_limit(limit)
        .known_scopes(REGISTRY)
        .count_in_metrics(metrics)
        .layer(inner);
    metrics::with_local_recorder(&recorder, || {
        for query in queries {
            let request = Request::get(format!("/authorize?{query}"))
                .body(())
                .unwrap();
            support::block_on(service.clone().oneshot(request)).unwrap();
        }
    });
    all_counters(&recorder)
        .into_iter()
        // Counted apart, and tested below.
        .filter(|(name, _, _)| {
            ![UNEXPLAINED_REJECTIONS, SUPPRESSED_EVENTS].contains(&name.as_str())
        })
        .map(|(name, labels, count)| {
            assert_eq!(name, "oauth_authorize_invalid_scope_total");
            (labels, count)
        })
        .collect()
}

fn label(scope: &str) -> Vec<(String, String)> {
    vec![("missing_scope".to_string(), scope.to_string())]
}

#[test]
fn known_scopes_are_labels_and_everything_else_is_other() {
    let series = counts(
        ScopeMetrics::new(),
        RateLimit::unlimited(),
        &[
            "client_id=a&scope=user:read+llm_gateway:read",
            "client_id=b&scope=llm_gateway:read+dashboard:write",
            "client_id=c&scope=x1+x2+llm_gateway:read",
            "client_id=d&scope=user:read",
        ],
    );
    assert_eq!(
        series,
        [
            (label("dashboard:write"), 1),
            (label("llm_gateway:read"), 3),
            (label("none"), 1),
            (label("other"), 1),
        ]
    );
}

#[test]
fn counts_are_exact_even_when_events_are_rate_limited() {
    let queries = vec!["scope=llm_gateway:read"; 50];
    let series = counts(
        ScopeMetrics::new(),
        RateLimit::per_second(1).burst(1),
        &queries,
    );
    assert_eq!(series, [(label("llm_gateway:read"), 50)]);
}

#[test]
fn client_id_is_a_label_only_when_asked() {
    let series = counts(
        ScopeMetrics::new().with_client_id_label(),
        RateLimit::unlimited(),
        &["client_id=wizard&scope=dashboard:write"],
    );
    assert_eq!(
        series,
        [(
            vec![
                ("client_id".to_string(), "wizard".to_string()),
                ("missing_scope".to_string(), "dashboard:write".to_string()),
            ],
            1
        )]
    );
}

#[test]
#[cfg(feature = "bodies")]
fn token_rejections_have_a_counter_of_their_own() {
    use http::header::CONTENT_TYPE;
    use http::Response;
    use http_body_util::{BodyExt, Full};
    use invalid_scope_observer::body::RequestBody;

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let inner = tower::service_fn(
        |request: Request<RequestBody<Full<bytes::Bytes>>>| async move {
            request.into_body().collect().await.unwrap();
            Ok::<_, std::convert::Infallible>(
                Response::builder()
                    .status(400)
                    .header(CONTENT_TYPE, "application/json")
                    .body(Full::new(bytes::Bytes::from_static(
                        br#"{"error":"invalid_scope"}"#,
                    )))
                    .unwrap(),
            )
        },
    );
    let service = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read"))
        .known_scopes(REGISTRY)
        .count_in_metrics(ScopeMetrics::new())
        .observe_bodies()
        .layer(inner);
    metrics::with_local_recorder(&recorder, || {
        let request = Request::post("/token")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(bytes::Bytes::from_static(
                b"grant_type=client_credentials&scope=user%3Aread+dashboard%3Awrite",
            )))
            .unwrap();
        support::block_on(async {
            let response = service.oneshot(request).await.unwrap();
            response.into_body().collect().await.unwrap();
        });
    });
    let series: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let labels: Vec<_> = key
                .key()
                .labels()
                .map(|label| (label.key().to_string(), label.value().to_string()))
                .collect();
            (key.key().name().to_string(), labels, value)
        })
        .collect();
    assert_eq!(
        series,
        [(
            invalid_scope_observer::TOKEN_REJECTIONS_BY_MISSING_SCOPE.to_string(),
            label("dashboard:write"),
            DebugValue::Counter(1)
        )]
    );
}

#[test]
fn rejections_the_lists_cannot_explain_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let inner = support::redirecting("/cb?error=invalid_scope");
    // No grantable lists: what is missing is what the registry lacks.
    let service = InvalidScopeObserverLayer::new(())
        .known_scopes(REGISTRY)
        .count_in_metrics(ScopeMetrics::new())
        .layer(inner);
    metrics::with_local_recorder(&recorder, || {
        for query in [
            "scope=user:read+dashboard:write", // every scope known: unexplained
            "scope=user:read+admin",           // `admin` is missing
            "scope=",                          // nothing asked: unexplained
        ] {
            let request = Request::get(format!("/authorize?{query}"))
                .body(())
                .unwrap();
            support::block_on(service.clone().oneshot(request)).unwrap();
        }
    });
    let unexplained: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| key.key().name() == invalid_scope_observer::UNEXPLAINED_REJECTIONS)
        .map(|(key, _, _, value)| (key.key().labels().count(), value))
        .collect();
    assert_eq!(unexplained, [(0, DebugValue::Counter(2))]);
}

/// A counter series: its name, its labels sorted, its count.
type Series = (String, Vec<(String, String)>, u64);

/// Every counter series the recorder holds.
fn all_counters(recorder: &DebuggingRecorder) -> Vec<Series> {
    let mut series: Vec<_> = recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let DebugValue::Counter(count) = value else {
                return None;
            };
            let mut labels: Vec<(String, String)> = key
                .key()
                .labels()
                .map(|label| (label.key().to_string(), label.value().to_string()))
                .collect();
            labels.sort();
            Some((key.key().name().to_string(), labels, count))
        })
        .collect();
    series.sort();
    series
}

#[test]
fn events_the_rate_limit_folds_are_counted_by_event() {
    let recorder = DebuggingRecorder::new();
    let service = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read"))
        .rate_limit(RateLimit::per_second(1).burst(2))
        .known_scopes(REGISTRY)
        .count_in_metrics(ScopeMetrics::new())
        .layer(support::redirecting("/cb?error=invalid_scope"));
    // A subscriber that records the events: the rate limit is for the log.
    let (subscriber, _events) = support::capturing();
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            for _ in 0..10 {
                let request = Request::get("/authorize?scope=llm_gateway:read")
                    .body(())
                    .unwrap();
                support::block_on(service.clone().oneshot(request)).unwrap();
            }
        })
    });
    let suppressed: Vec<_> = all_counters(&recorder)
        .into_iter()
        .filter(|(name, _, _)| name == SUPPRESSED_EVENTS)
        .collect();
    assert_eq!(
        suppressed,
        [(
            SUPPRESSED_EVENTS.to_string(),
            vec![(
                "event".to_string(),
                "oauth.authorize.invalid_scope".to_string()
            )],
            8
        )]
    );
}

#[test]
#[cfg(feature = "bodies")]
fn a_narrowing_is_counted_by_dropped_scope() {
    use bytes::Bytes;
    use http_body_util::Full;
    use support::flow::{grant, server, walk, Leg};
    let recorder = DebuggingRecorder::new();
    let mut service = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read"))
        .observe_bodies()
        .known_scopes(REGISTRY)
        .count_in_metrics(ScopeMetrics::new())
        .layer(server());
    let request = Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(
            b"grant_type=client_credentials&client_id=robot&scope=user:read+dashboard:write+typo",
        )))
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        support::block_on(walk(&mut service, Leg(request, grant(Some("user:read")))));
    });
    let narrowed: Vec<_> = all_counters(&recorder)
        .into_iter()
        .filter(|(name, _, _)| name == invalid_scope_observer::NARROWINGS_BY_DROPPED_SCOPE)
        .map(|(_, labels, count)| (labels, count))
        .collect();
    let label = |scope: &str| vec![("dropped_scope".to_string(), scope.to_string())];
    assert_eq!(
        narrowed,
        [(label("dashboard:write"), 1), (label("other"), 1)]
    );
}
