//! What the layer costs per request, beside the bare service and tower-http's
//! own layers, in one run: the figures that matter are the differences.
//!
//! Every iteration builds its request and drives `poll_ready` + `call` to
//! completion (the inner service answers at once). "hyper-built" requests
//! have their `Uri` and `User-Agent` over shared bytes, as hyper's parser
//! makes them; "from_str" requests parse their `Uri` from a `&str`.
//!
//! Rows named `observed` in the `pass_through_*` and `rejection` groups run
//! with no subscriber, as the cost targets define them; the
//! `rejection_recorded`, `token_*` and `growth_*` groups run under a
//! subscriber that records every event (and formats nothing), so that every
//! rejection is worked out in full; `rejection_json_sink` under
//! `tracing-subscriber`'s JSON formatter. `capture_floor` and
//! `rejection_floor` are the least any implementation must do (see
//! `support/floor.rs`); `hand_written` is what a user writes instead of the
//! crate (`url` + `HashMap` + `HashSet` + `warn!`, see
//! `support/hand_written.rs`), under the same recording subscriber.
//!
//! Run: `cargo bench --bench observer`; see BENCHMARKS.md.

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, USER_AGENT};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::{Empty, Full};
use invalid_scope_observer::{
    FollowAuthorizations, InvalidScopeObserverLayer, RateLimit, ScopeSet,
};
use tower::{service_fn, Layer, Service};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

/// An empty body that `TraceLayer` accepts; the same for every peer.
type Body = Empty<Bytes>;

#[cfg(feature = "redis")]
#[path = "../tests/support/redis_server.rs"]
mod redis_server;
mod support;
use support::floor::{rejection_floor, CaptureFloor};
use support::hand_written::HandWritten;
use support::{
    now, HyperBuilt, RecordingSubscriber, AUTHORIZE, CODE_REDIRECT, ISSUER_REDIRECT, PAR_AUTHORIZE,
    REJECTION, USER_AGENT_TEXT,
};

fn from_str_request(uri: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(USER_AGENT, USER_AGENT_TEXT)
        .body(Body::new())
        .unwrap()
}

/// An inner service that answers every request with `status` and `location`.
fn answering<B>(
    status: StatusCode,
    location: &'static str,
) -> impl Service<
    Request<B>,
    Response = Response<Body>,
    Error = Infallible,
    Future = std::future::Ready<Result<Response<Body>, Infallible>>,
> + Clone {
    service_fn(move |_request: Request<B>| {
        let mut response = Response::new(Body::new());
        *response.status_mut() = status;
        if !location.is_empty() {
            response
                .headers_mut()
                .insert(LOCATION, HeaderValue::from_static(location));
        }
        std::future::ready(Ok(response))
    })
}

fn one_request<S, B>(service: &mut S, request: Request<B>) -> S::Response
where
    S: Service<Request<B>, Error = Infallible>,
{
    now(std::future::poll_fn(|cx| service.poll_ready(cx))).unwrap();
    now(service.call(request)).unwrap()
}

/// The layer as measured: unlimited, so that every rejection takes the full
/// path (parse, diff, event) rather than the rate limit's early exit.
fn observer(grantable: ScopeSet) -> InvalidScopeObserverLayer<ScopeSet> {
    InvalidScopeObserverLayer::new(grantable).rate_limit(RateLimit::unlimited())
}

fn twenty_grantable_names() -> Vec<String> {
    (0..18)
        .map(|n| format!("s{n}"))
        .chain(["openid".into(), "email".into()])
        .collect()
}

fn twenty_grantable() -> ScopeSet {
    twenty_grantable_names().iter().collect()
}

/// bare, observed, the floor, the hand-written peer and tower-http's
/// layers side by side, for one request and response kind.
fn peers(
    c: &mut Criterion,
    group_name: &str,
    uri: &str,
    status: StatusCode,
    location: &'static str,
) {
    let mut group = c.benchmark_group(group_name);
    let hyper_built = HyperBuilt::new(uri);
    let inner = answering::<Body>(status, location);
    let observed_layer = observer(twenty_grantable());

    let mut bare = inner.clone();
    group.bench_function("bare", |b| {
        b.iter(|| one_request(&mut bare, black_box(hyper_built.request::<Body>())))
    });
    let mut observed = observed_layer.layer(inner.clone());
    group.bench_function("observed", |b| {
        b.iter(|| one_request(&mut observed, black_box(hyper_built.request::<Body>())))
    });
    let mut reading_bodies = observed_layer
        .clone()
        .observe_bodies()
        .layer(answering(status, location));
    group.bench_function("observed_reading_bodies", |b| {
        b.iter(|| {
            one_request(
                &mut reading_bodies,
                black_box(hyper_built.request::<Body>()),
            )
        })
    });
    let mut floor = CaptureFloor::new(inner.clone());
    group.bench_function("capture_floor", |b| {
        b.iter(|| one_request(&mut floor, black_box(hyper_built.request::<Body>())))
    });
    let mut sensitive = SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]).layer(inner.clone());
    group.bench_function("tower_http_sensitive_headers", |b| {
        b.iter(|| one_request(&mut sensitive, black_box(hyper_built.request::<Body>())))
    });
    let mut trace = TraceLayer::new_for_http().layer(inner.clone());
    group.bench_function("tower_http_trace", |b| {
        b.iter(|| one_request(&mut trace, black_box(hyper_built.request::<Body>())))
    });
    let mut hand_written = HandWritten::new(inner.clone(), twenty_grantable_names());
    group.bench_function("hand_written", |b| {
        b.iter(|| one_request(&mut hand_written, black_box(hyper_built.request::<Body>())))
    });

    let mut bare = inner.clone();
    group.bench_function("bare_from_str", |b| {
        b.iter(|| one_request(&mut bare, black_box(from_str_request(uri))))
    });
    let mut observed = observed_layer.layer(inner);
    group.bench_function("observed_from_str", |b| {
        b.iter(|| one_request(&mut observed, black_box(from_str_request(uri))))
    });
    group.finish();
}

fn pass_through(c: &mut Criterion) {
    peers(c, "pass_through_200", AUTHORIZE, StatusCode::OK, "");
    peers(
        c,
        "pass_through_code_redirect",
        AUTHORIZE,
        StatusCode::FOUND,
        CODE_REDIRECT,
    );
    // RFC 9207: what every login of node-oidc-provider or Keycloak answers.
    peers(
        c,
        "pass_through_issuer_redirect",
        AUTHORIZE,
        StatusCode::SEE_OTHER,
        ISSUER_REDIRECT,
    );
    peers(
        c,
        "pass_through_par_request_uri",
        PAR_AUTHORIZE,
        StatusCode::SEE_OTHER,
        ISSUER_REDIRECT,
    );
    peers(c, "rejection", AUTHORIZE, StatusCode::FOUND, REJECTION);
}

/// The cost of keeping an authorization on a success code redirect
/// (`follow_authorizations`, in memory: the request's links hashed, the
/// store written), beside the same redirect behind a layer that reads
/// bodies but follows nothing. Every request carries the same `state` and
/// gets the same code, so the store holds one authorization throughout.
fn follow_authorizations(c: &mut Criterion) {
    let mut group = c.benchmark_group("follow_code_redirect");
    let hyper_built = HyperBuilt::new(AUTHORIZE);
    let reading_bodies = observer(twenty_grantable()).observe_bodies();
    let mut without = reading_bodies
        .clone()
        .layer(answering(StatusCode::FOUND, CODE_REDIRECT));
    group.bench_function("observed_reading_bodies", |b| {
        b.iter(|| one_request(&mut without, black_box(hyper_built.request::<Body>())))
    });
    let mut following = reading_bodies
        .clone()
        .follow_authorizations(FollowAuthorizations::in_memory())
        .layer(answering(StatusCode::FOUND, CODE_REDIRECT));
    group.bench_function("following_in_memory", |b| {
        b.iter(|| one_request(&mut following, black_box(hyper_built.request::<Body>())))
    });
    #[cfg(feature = "redis")]
    following_in_redis(&mut group, &hyper_built, reading_bodies);
    group.finish();
}

/// The same with Redis: what the response path pays (the links hashed, the
/// operation queued); Redis's own work runs on a runtime thread, off the
/// measured path. Needs `redis-server` on the PATH; skipped without one.
#[cfg(feature = "redis")]
fn following_in_redis(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    hyper_built: &HyperBuilt,
    reading_bodies: InvalidScopeObserverLayer<
        ScopeSet,
        (),
        invalid_scope_observer::body::WithBodies,
    >,
) {
    if std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("follow_code_redirect/following_in_redis: skipped, no redis-server");
        return;
    }
    let redis = redis_server::Redis::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _in_the_runtime = runtime.enter();
    let mut following = reading_bodies
        .follow_authorizations(FollowAuthorizations::in_redis(
            redis.client(),
            b"a hash key of at least thirty-two bytes",
        ))
        .layer(answering(StatusCode::FOUND, CODE_REDIRECT));
    group.bench_function("following_in_redis", |b| {
        b.iter(|| one_request(&mut following, black_box(hyper_built.request::<Body>())))
    });
}

/// A token endpoint: a form POST whose body the inner service reads, and a
/// JSON answer the server writes out, bare and behind a layer that reads
/// bodies, for an `invalid_scope` error and for a grant (nothing to report).
fn token_endpoint(c: &mut Criterion) {
    tracing::subscriber::with_default(RecordingSubscriber, || token_endpoint_groups(c));
}

fn token_endpoint_groups(c: &mut Criterion) {
    const FORM: &[u8] = b"grant_type=client_credentials&client_id=wizard&scope=s0+s1+s2+s3+s4+s5+s6+s7+missing:a+missing:b";
    for (group_name, status, answer) in [
        ("token_rejection", 400, &br#"{"error":"invalid_scope","error_description":"missing:a missing:b"}"#[..]),
        ("token_grant", 200, &br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}"#[..]),
    ] {
        let mut group = c.benchmark_group(group_name);
        let request = || {
            Request::post("/token")
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(USER_AGENT, USER_AGENT_TEXT)
                .body(Full::new(Bytes::from_static(FORM)))
                .unwrap()
        };
        let mut bare = token_answering(status, answer);
        group.bench_function("bare", |b| {
            b.iter(|| drain(one_request(&mut bare, black_box(request())).into_body()))
        });
        let mut observed = observer(twenty_grantable())
            .observe_bodies()
            .layer(token_answering(status, answer));
        group.bench_function("observed_reading_bodies", |b| {
            b.iter(|| drain(one_request(&mut observed, black_box(request())).into_body()))
        });
        group.finish();
    }
}

/// A consent step that posts back the same content as a form and as JSON,
/// answered `200 {"redirect_to": …}` (the code), bare and behind a layer
/// that reads bodies: reading the JSON must cost no more than the form.
fn consent_post(c: &mut Criterion) {
    tracing::subscriber::with_default(RecordingSubscriber, || consent_post_group(c));
}

fn consent_post_group(c: &mut Criterion) {
    const FORM: &[u8] = b"client_id=spa&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&response_type=code\
&state=af0ifjsldkj&scope=read+write+admin&allow=true&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
&code_challenge_method=S256";
    const JSON: &[u8] = br#"{"client_id":"spa","redirect_uri":"https://client.example/cb","response_type":"code","state":"af0ifjsldkj","scope":"read write admin","allow":true,"code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","code_challenge_method":"S256"}"#;
    const ANSWER: &[u8] =
        br#"{"redirect_to":"https://client.example/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj"}"#;
    let mut group = c.benchmark_group("consent_post");
    for (name, content_type, body) in [
        ("form", "application/x-www-form-urlencoded", FORM),
        ("json", "application/json", JSON),
    ] {
        let request = || {
            Request::post("/oauth/authorize")
                .header(CONTENT_TYPE, content_type)
                .header(USER_AGENT, USER_AGENT_TEXT)
                .body(Full::new(Bytes::from_static(body)))
                .unwrap()
        };
        let mut bare = token_answering(200, ANSWER);
        group.bench_function(format!("{name}_bare"), |b| {
            b.iter(|| drain(one_request(&mut bare, black_box(request())).into_body()))
        });
        let mut observed = observer(twenty_grantable())
            .observe_bodies()
            .layer(token_answering(200, ANSWER));
        group.bench_function(format!("{name}_observed_reading_bodies"), |b| {
            b.iter(|| drain(one_request(&mut observed, black_box(request())).into_body()))
        });
    }
    group.finish();
}

/// A token endpoint that reads the whole form, then answers `answer`.
fn token_answering<B: HttpBody + Unpin>(
    status: u16,
    answer: &'static [u8],
) -> impl Service<Request<B>, Response = Response<Full<Bytes>>, Error = Infallible> {
    service_fn(move |request: Request<B>| {
        drain(request.into_body());
        let response = Response::builder()
            .status(status)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(answer)))
            .unwrap();
        std::future::ready(Ok::<_, Infallible>(response))
    })
}

/// Reads a body that is ready at once to its end, as a server writes it out.
fn drain<B: HttpBody + Unpin>(mut body: B) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    while let std::task::Poll::Ready(Some(frame)) =
        std::pin::Pin::new(&mut body).poll_frame(&mut cx)
    {
        black_box(frame.is_ok());
    }
}

/// The rejection path under a subscriber: one that records every event
/// without formatting it (the layer's whole share), and `tracing-subscriber`'s
/// JSON formatter writing lines into `io::sink()`. Beside them, the floor of
/// a rejection: the parsing any implementation must do.
fn rejection_with_subscribers(c: &mut Criterion) {
    rejection_under(c, "rejection_recorded", RecordingSubscriber);
    let json = tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::sink)
        .finish();
    rejection_under(c, "rejection_json_sink", json);

    let query = AUTHORIZE.split_once('?').expect("a query").1;
    c.bench_function("rejection_floor", |b| {
        b.iter(|| rejection_floor(black_box(REJECTION), black_box(query)))
    });
}

fn rejection_under(
    c: &mut Criterion,
    group_name: &str,
    subscriber: impl tracing::Subscriber + Send + Sync + 'static,
) {
    let mut group = c.benchmark_group(group_name);
    let hyper_built = HyperBuilt::new(AUTHORIZE);
    let inner = answering(StatusCode::FOUND, REJECTION);
    tracing::subscriber::with_default(subscriber, || {
        let mut bare = inner.clone();
        group.bench_function("bare", |b| {
            b.iter(|| one_request(&mut bare, black_box(hyper_built.request::<Body>())))
        });
        let mut observed = observer(twenty_grantable()).layer(inner.clone());
        group.bench_function("observed", |b| {
            b.iter(|| one_request(&mut observed, black_box(hyper_built.request::<Body>())))
        });
        let mut hand_written = HandWritten::new(inner.clone(), twenty_grantable_names());
        group.bench_function("hand_written", |b| {
            b.iter(|| one_request(&mut hand_written, black_box(hyper_built.request::<Body>())))
        });
    });
    group.finish();
}

/// Rejection cost against the number of requested scopes (half of them
/// grantable) and against the length of the query string.
fn growth(c: &mut Criterion) {
    tracing::subscriber::with_default(RecordingSubscriber, || growth_groups(c));
}

fn growth_groups(c: &mut Criterion) {
    let mut group = c.benchmark_group("growth_requested_scopes");
    for count in [1usize, 10, 100, 1_000, 10_000] {
        // Short tokens (hex), so 10 000 of them fit the 64 KiB `http::Uri` allows.
        let scope: Vec<String> = (0..count).map(|n| format!("{n:x}")).collect();
        let grantable: ScopeSet = scope.iter().step_by(2).collect();
        let uri = format!("/authorize?client_id=c&scope={}", scope.join("+"));
        let hyper_built = HyperBuilt::new(&uri);
        let mut observed = observer(grantable).layer(answering(StatusCode::FOUND, REJECTION));
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, _| {
            b.iter(|| one_request(&mut observed, black_box(hyper_built.request::<Body>())))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("growth_query_bytes");
    for bytes in [1_024usize, 4_096, 16_384, 65_000] {
        let head = "/authorize?client_id=c&scope=openid+email&state=";
        let uri = format!("{head}{}", "x".repeat(bytes - head.len()));
        let hyper_built = HyperBuilt::new(&uri);
        let mut observed =
            observer(twenty_grantable()).layer(answering(StatusCode::FOUND, REJECTION));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_with_input(BenchmarkId::from_parameter(bytes), &bytes, |b, _| {
            b.iter(|| one_request(&mut observed, black_box(hyper_built.request::<Body>())))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    pass_through,
    follow_authorizations,
    token_endpoint,
    consent_post,
    rejection_with_subscribers,
    growth
);
criterion_main!(benches);
