//! The admin address: `/metrics` (Prometheus text), `/healthz` (the process
//! runs), `/readyz` (the upstream has answered at least once, and the proxy
//! is not draining).

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::accept::Acceptor;

/// The `# HELP` line of every counter and gauge `/metrics` shows: the
/// crate's and the proxy's own. Called once, right after the recorder is
/// installed.
pub(crate) fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge};
    invalid_scope_observer::ScopeMetrics::describe();
    describe_counter!(
        "invalid_scope_proxy_requests_total",
        "Requests by result: forwarded, unreachable (502), timeout (504, or a stalled body's 408), rejected_by_limit (413, 431)"
    );
    describe_counter!(
        "invalid_scope_proxy_upstream_errors_total",
        "Upstream failures by kind: unreachable, timeout, stalled mid-answer"
    );
    describe_counter!(
        "invalid_scope_proxy_accept_errors_total",
        "Accept errors (EMFILE and the like) by listener, each followed by a short back-off"
    );
    describe_counter!(
        "invalid_scope_proxy_connections_rejected_total",
        "Connections closed at once because max_connections were open"
    );
    describe_gauge!(
        "invalid_scope_proxy_open_connections",
        "Client connections open now"
    );
}

/// Serves the admin endpoints until the process ends.
pub(crate) async fn serve(
    listener: TcpListener,
    metrics: PrometheusHandle,
    answered: Arc<AtomicBool>,
    draining: Arc<AtomicBool>,
) {
    let mut acceptor = Acceptor::new(listener, "admin");
    loop {
        let (stream, _) = acceptor.next().await;
        let metrics = metrics.clone();
        let answered = Arc::clone(&answered);
        let draining = Arc::clone(&draining);
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let response = answer(request.uri().path(), &metrics, &answered, &draining);
            async move { Ok::<_, Infallible>(response) }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(
    path: &str,
    metrics: &PrometheusHandle,
    answered: &AtomicBool,
    draining: &AtomicBool,
) -> Response<Full<Bytes>> {
    let (status, body) = match path {
        "/metrics" => (StatusCode::OK, metrics.render()),
        "/healthz" => (StatusCode::OK, "ok\n".to_string()),
        // Kubernetes stops sending before the pod goes.
        "/readyz" if draining.load(Ordering::Relaxed) => {
            (StatusCode::SERVICE_UNAVAILABLE, "draining\n".to_string())
        }
        "/readyz" if answered.load(Ordering::Relaxed) => (StatusCode::OK, "ready\n".to_string()),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the upstream has not answered yet\n".to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "/metrics, /healthz or /readyz\n".to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}
