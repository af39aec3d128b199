//! A fixed number of requests through one scenario, for instruction counts
//! under `valgrind --tool=callgrind`, which are stable on a noisy machine
//! where timings are not. Run it twice with different counts; the difference
//! divided by the difference in requests is the cost of one request, free of
//! start-up:
//!
//! ```text
//! cargo bench --bench instructions --no-run
//! valgrind --tool=callgrind target/release/deps/instructions-* rejection_observed 1000
//! valgrind --tool=callgrind target/release/deps/instructions-* rejection_observed 11000
//! ```
//!
//! `benches/callgrind.sh` does exactly that for every scenario.

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use http::header::{AUTHORIZATION, LOCATION};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Empty;
use invalid_scope_observer::{InvalidScopeObserverLayer, RateLimit, ScopeSet};
use tower::{service_fn, Layer, Service};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

mod support;
use support::floor::{rejection_floor, CaptureFloor};
use support::hand_written::HandWritten;
use support::{
    now, HyperBuilt, RecordingSubscriber, AUTHORIZE, CODE_REDIRECT, ISSUER_REDIRECT, PAR_AUTHORIZE,
    REJECTION,
};

/// Empty bodies, which `TraceLayer` accepts; the same for every scenario.
type Body = Empty<Bytes>;

fn run<S, B>(mut service: S, uri: &str, requests: usize)
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible>,
{
    let hyper_built = HyperBuilt::new(uri);
    for _ in 0..requests {
        let request = hyper_built.request::<Body>();
        now(std::future::poll_fn(|cx| service.poll_ready(cx))).unwrap();
        black_box(now(service.call(black_box(request))).unwrap());
    }
}

fn answering<B>(
    status: StatusCode,
    location: &'static str,
) -> impl Service<Request<B>, Response = Response<Body>, Error = Infallible> + Clone {
    service_fn(move |_request: Request<B>| {
        let mut response = Response::new(Empty::new());
        *response.status_mut() = status;
        if !location.is_empty() {
            response
                .headers_mut()
                .insert(LOCATION, HeaderValue::from_static(location));
        }
        std::future::ready(Ok(response))
    })
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|arg| arg != "--bench");
    let scenario = args.next().unwrap_or_default();
    let requests: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    if scenario == "parsing_floor" {
        // No request: only the parsing every rejection must do.
        let query = AUTHORIZE.split_once('?').expect("a query").1;
        for _ in 0..requests {
            black_box(rejection_floor(black_box(REJECTION), black_box(query)));
        }
        return;
    }
    let grantable: Vec<String> = (0..18)
        .map(|n| format!("s{n}"))
        .chain(["openid".into(), "email".into()])
        .collect();
    let layer = InvalidScopeObserverLayer::new(grantable.iter().collect::<ScopeSet>())
        .rate_limit(RateLimit::unlimited());
    let (uri, status, location) = match scenario.split('_').next() {
        Some("ok") => (AUTHORIZE, StatusCode::OK, ""),
        Some("code") => (AUTHORIZE, StatusCode::FOUND, CODE_REDIRECT),
        Some("issuer") => (AUTHORIZE, StatusCode::SEE_OTHER, ISSUER_REDIRECT),
        Some("par") => (PAR_AUTHORIZE, StatusCode::SEE_OTHER, ISSUER_REDIRECT),
        Some("rejection") => (AUTHORIZE, StatusCode::FOUND, REJECTION),
        _ => {
            eprintln!(
                "usage: instructions {{ok,code,issuer,par,rejection}}_{{bare,floor,observed,recorded,bodies,sensitive,trace,handwritten}} REQUESTS, or parsing_floor REQUESTS"
            );
            return;
        }
    };
    let inner = answering::<Body>(status, location);
    if scenario.ends_with("_observed") {
        run(layer.layer(inner), uri, requests);
    } else if scenario.ends_with("_recorded") {
        // Under a subscriber that records every event: a rejection in full.
        tracing::subscriber::with_default(RecordingSubscriber, || {
            run(layer.layer(inner), uri, requests)
        });
    } else if scenario.ends_with("_handwritten") {
        // What a user writes instead, under the same recording subscriber.
        tracing::subscriber::with_default(RecordingSubscriber, || {
            run(HandWritten::new(inner, grantable), uri, requests)
        });
    } else if scenario.ends_with("_floor") {
        run(CaptureFloor::new(inner), uri, requests);
    } else if scenario.ends_with("_sensitive") {
        let sensitive = SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]);
        run(sensitive.layer(inner), uri, requests);
    } else if scenario.ends_with("_trace") {
        let trace = TraceLayer::new_for_http();
        run(trace.layer(inner), uri, requests);
    } else if scenario.ends_with("_bodies") {
        // A layer that reads bodies, on requests that are not forms.
        run(
            layer.observe_bodies().layer(answering(status, location)),
            uri,
            requests,
        );
    } else {
        run(inner, uri, requests);
    }
}
