//! `invalid-scope-proxy`: invalid-scope-observer as a sidecar in front of
//! any OAuth 2.0 authorization server, over HTTP, without touching its code.
//! Run `invalid-scope-proxy --help`.
//!
//! The binary is thin: it reads the configuration ([`config`]), builds the
//! layer through the crate's public API, forwards with hyper-util's client
//! ([`forward`], over rustls for an https upstream: [`tls`]) and serves HTTP/1.1 and HTTP/2 (prior knowledge), with
//! `/metrics`, `/healthz` and `/readyz` on an admin address ([`admin`]).
#![forbid(unsafe_code)]

mod accept;
mod admin;
mod check;
mod client_ip;
mod config;
mod discover;
mod forward;
mod grantable;
mod keys;
mod limits;
mod redact;
mod tls;

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use invalid_scope_observer::{
    AuthorizePaths, FollowAuthorizations, InvalidScopeObserverLayer, KnownScopes, PostHogHook,
    RateLimit, ScopeMetrics,
};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tower::{BoxError, Layer, Service, ServiceExt};
use tracing::Instrument;

use crate::config::{Cli, Config, KnownScopesSource, LogFormat};
use crate::forward::{ClientAddress, Forward};
use crate::grantable::Reloadable;
use crate::limits::{Activity, Guarded, LimitedBody, Limits};

/// A bad configuration, a port in use: nothing starts, and the process
/// exits with this status after one line on stderr.
const CONFIGURATION_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::from_env();
    let config = match Config::load(&cli).and_then(|config| {
        check::ready_to_start(&config)?;
        Ok(config)
    }) {
        Ok(config) => config,
        Err(message) => return refuse(&message),
    };
    if cli.command == Some(config::Command::Check) {
        print!("{}", check::render(&config));
        eprintln!("invalid-scope-proxy: the configuration is good");
        return ExitCode::SUCCESS;
    }
    // One thread: a connection, its request to the upstream and the
    // upstream connection are polled on it, with no wake-up across cores.
    // Under load this took the p99 from 3.5 ms to 1.4 ms (below nginx's)
    // and the CPU per request down 4 % against the multi-thread runtime
    // (BENCHMARKS.md); one core forwards about 50 000 requests/s, far more
    // than an authorization server answers.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return refuse(&format!("cannot start the runtime: {error}")),
    };
    runtime.block_on(run(cli, config))
}

fn refuse(message: &str) -> ExitCode {
    eprintln!("invalid-scope-proxy: {message}");
    ExitCode::from(CONFIGURATION_ERROR)
}

async fn run(cli: Cli, config: Config) -> ExitCode {
    init_logging(config.log_format);
    // Bind both addresses before anything else: a port in use stops the
    // start, with nothing half running.
    let listener = match TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(error) => return refuse(&format!("`listen` {}: {error}", config.listen)),
    };
    let admin_listener = match TcpListener::bind(config.admin_listen).await {
        Ok(listener) => listener,
        Err(error) => return refuse(&format!("`admin.listen` {}: {error}", config.admin_listen)),
    };
    let metrics = match metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
        Ok(handle) => handle,
        Err(error) => return refuse(&format!("cannot install the metrics recorder: {error}")),
    };
    admin::describe_metrics();
    let posthog = match &config.posthog {
        None => None,
        Some(posthog) => match std::env::var(&posthog.api_key_env) {
            Ok(key) => {
                // Dropped at shutdown, the client drains what it holds,
                // within the same deadline as the requests in flight.
                let options = posthog_rs::ClientOptionsBuilder::default()
                    .api_key(key)
                    .host(posthog.host.clone())
                    .shutdown_timeout_ms(
                        u64::try_from(config.shutdown_deadline.as_millis()).unwrap_or(u64::MAX),
                    )
                    .build();
                match options {
                    Ok(options) => Some(Arc::new(posthog_rs::client(options).await)),
                    Err(error) => return refuse(&format!("`posthog`: {error}")),
                }
            }
            // `check::ready_to_start` saw it set.
            Err(_) => return refuse("`posthog.api_key_env`: the variable went away"),
        },
    };

    let answered = Arc::new(AtomicBool::new(false));
    let draining = Arc::new(AtomicBool::new(false));
    let forward = Forward::new(
        config.upstream.clone(),
        config.upstream_tls.clone(),
        config.forwarded_headers,
        config.trusted_proxies.clone(),
        config.upstream_timeout,
        Arc::clone(&answered),
    );
    let grantable = Reloadable::new(config.grantable.as_ref());
    // The authorization endpoints' paths: configured, else discovered with
    // the known scopes, else any path.
    let authorize_paths = match config.correlation.as_ref().map(|c| &c.authorize_paths) {
        Some(Some(paths)) => AuthorizePaths::new(paths),
        _ => AuthorizePaths::any(),
    };
    let discover_paths = config
        .correlation
        .as_ref()
        .is_some_and(|correlation| correlation.authorize_paths.is_none())
        .then(|| authorize_paths.clone());
    let known = match &config.known_scopes {
        KnownScopesSource::Listed(list) => KnownScopes::from(list.as_slice()),
        KnownScopesSource::Discover { interval } => {
            let known = KnownScopes::new();
            tokio::spawn(discover::keep_current(
                config.upstream.clone(),
                config.upstream_tls.clone(),
                known.clone(),
                discover_paths,
                *interval,
            ));
            known
        }
    };
    let layer = InvalidScopeObserverLayer::new(grantable.clone())
        .known_scopes_from(known)
        .invalid_scope_codes(&config.invalid_scope_codes)
        .redirect_members(&config.redirect_members)
        .rate_limit(RateLimit::per_second(config.per_second).burst(config.burst))
        .count_in_metrics(ScopeMetrics::new())
        .on_rejection(
            posthog
                .as_ref()
                .map(|client| PostHogHook::spawn(Arc::clone(client))),
        );
    tokio::spawn(admin::serve(
        admin_listener,
        metrics,
        answered,
        Arc::clone(&draining),
    ));
    tracing::info!(
        listen = %config.listen,
        upstream = %redact::Redacted(&config.upstream),
        admin = %config.admin_listen,
        observe = config.observe_enabled,
        bodies = config.observe_bodies,
        follow_authorizations = match (&config.correlation, config.observe_bodies) {
            (Some(correlation), true) if correlation.redis.is_some() => "redis",
            (Some(_), true) => "memory",
            _ => "off",
        },
        "invalid_scope_proxy.started"
    );
    let status = if !config.observe_enabled {
        serve(listener, forward, &cli, &config, &grantable, &draining).await
    } else if config.observe_bodies {
        let mut layer = layer.observe_bodies().body_limit(config.body_limit);
        if let Some(correlation) = &config.correlation {
            let follow = match &correlation.redis {
                None => FollowAuthorizations::in_memory(),
                Some(shared) => match redis::Client::open(shared.url.as_str()) {
                    Ok(client) => {
                        let follow =
                            FollowAuthorizations::in_redis(client, shared.hash_key.as_bytes())
                                .keeps_per_second(shared.keeps_per_second);
                        match &shared.prefix {
                            Some(prefix) => follow.redis_prefix(prefix),
                            None => follow,
                        }
                    }
                    Err(error) => return refuse(&format!("`correlation.redis_url`: {error}")),
                },
            };
            layer = layer.follow_authorizations(
                follow
                    .capacity(correlation.capacity)
                    .max_memory(correlation.max_memory)
                    .ttl(correlation.ttl)
                    .authorize_paths_from(authorize_paths),
            );
        }
        serve(
            listener,
            layer.layer(forward),
            &cli,
            &config,
            &grantable,
            &draining,
        )
        .await
    } else {
        serve(
            listener,
            layer.layer(forward),
            &cli,
            &config,
            &grantable,
            &draining,
        )
        .await
    };
    // Last: the PostHog client drains what it still holds (bounded above).
    drop(posthog);
    status
}

/// Accepts connections until SIGTERM or SIGINT, then lets in-flight
/// requests finish within the shutdown deadline (`/readyz` answers 503 from
/// the first moment). SIGHUP reloads the grantable lists. The service (and
/// with it the layer) is dropped before returning, which writes the pending
/// `suppressed` counts.
async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    cli: &Cli,
    config: &Config,
    grantable: &Reloadable,
    draining: &AtomicBool,
) -> ExitCode
where
    S: Service<Request<LimitedBody<Incoming>>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (Ok(mut terminate), Ok(mut interrupt), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        return refuse("cannot listen for signals");
    };
    let limits = config.limits;
    // No hyper timer: the connection's idle deadline below bounds a request
    // head (and the protocol sniff, and a kept-alive or HTTP/2 connection
    // with no stream) at no cost per request.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes)
        .max_headers(limits.max_headers);
    builder
        .http2()
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let log_client_ip = config.log_client_ip;
    let trusted: Arc<[ipnet::IpNet]> = config.trusted_proxies.clone().into();
    let graceful = GracefulShutdown::new();
    let mut acceptor = accept::Acceptor::new(listener, "main");
    let open = Arc::new(AtomicUsize::new(0));
    let open_gauge = metrics::gauge!("invalid_scope_proxy_open_connections");
    let rejected = metrics::counter!("invalid_scope_proxy_connections_rejected_total");
    loop {
        tokio::select! {
            (stream, peer) = acceptor.next() => {
                if open.load(Ordering::Relaxed) >= limits.max_connections {
                    // Shed at once: closing costs less than anything else.
                    drop(stream);
                    rejected.increment(1);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                open.fetch_add(1, Ordering::Relaxed);
                open_gauge.increment(1.0);
                let service = service.clone();
                let trusted = Arc::clone(&trusted);
                let activity = Activity::new();
                let on_request = Arc::clone(&activity);
                let per_request = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                    let guard = on_request.start();
                    let service = service.clone();
                    forward::remove_hop_by_hop(request.headers_mut());
                    // `[log] client_ip`: every event of this request in a
                    // span that names the client (off: no span).
                    let span = log_client_ip.then(|| {
                        let ip = client_ip::client_ip(peer.ip(), request.headers(), &trusted);
                        tracing::info_span!("request", client_ip = %ip)
                    });
                    async move {
                        if let Some(refused) = refuse_by_limit(&request, &limits) {
                            return Ok(refused.map(|body| Guarded::new(http_body_util::Either::Right(body), guard)));
                        }
                        let (mut parts, body) = request.into_parts();
                        parts.extensions.insert(ClientAddress(peer));
                        let progress = limits::BodyProgress::default();
                        parts.extensions.insert(progress.clone());
                        let body = LimitedBody::new(body, &limits, progress);
                        let request = Request::from_parts(parts, body);
                        let response = match span {
                            Some(span) => service.oneshot(request).instrument(span).await?,
                            None => service.oneshot(request).await?,
                        };
                        Ok::<_, Infallible>(response.map(|body| Guarded::new(http_body_util::Either::Left(body), guard)))
                    }
                });
                let connection = builder.serve_connection(TokioIo::new(stream), per_request).into_owned();
                let connection = graceful.watch(connection);
                let (open, open_gauge) = (Arc::clone(&open), open_gauge.clone());
                tokio::spawn(async move {
                    let mut connection = std::pin::pin!(connection);
                    let mut looked = activity.look();
                    loop {
                        let now = tokio::time::Instant::now();
                        // Never longer than body_timeout, to see answers
                        // stall (within twice body_timeout); no request
                        // wakes this loop, which would cost every request
                        // a task wake-up.
                        let wake = activity
                            .idle_deadline(limits.header_timeout)
                            .unwrap_or(now + limits.header_timeout)
                            .min(now + limits.body_timeout);
                        tokio::select! {
                            // A client that goes away mid-request is its own business.
                            _ = connection.as_mut() => break,
                            _ = tokio::time::sleep_until(wake) => {
                                // Idle that long (no request in flight: a
                                // silent or trickling client, a kept-alive
                                // or an HTTP/2 connection with no stream),
                                // or its answers stuck that long (a client
                                // that reads nothing): closed by dropping it.
                                let idle = activity
                                    .idle_deadline(limits.header_timeout)
                                    .is_some_and(|at| at <= tokio::time::Instant::now());
                                if idle || activity.stalled(&mut looked, limits.body_timeout) {
                                    break;
                                }
                            }
                        }
                    }
                    open.fetch_sub(1, Ordering::Relaxed);
                    open_gauge.decrement(1.0);
                });
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = hangup.recv() => {
                tokio::spawn(reload(cli.config.clone(), cli.keys.clone(), grantable.clone()));
            }
        }
    }
    draining.store(true, Ordering::Relaxed);
    drop(acceptor);
    tracing::info!("invalid_scope_proxy.draining");
    if tokio::time::timeout(config.shutdown_deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            deadline_seconds = config.shutdown_deadline.as_secs(),
            "invalid_scope_proxy.shutdown_deadline_passed"
        );
    }
    // The last holder of the layer: pending counts are written now.
    drop(service);
    tracing::info!("invalid_scope_proxy.stopped");
    ExitCode::SUCCESS
}

/// A request the limits refuse before anything reads it: more header
/// fields than `max_headers` (HTTP/2 has no count of its own; hyper counts
/// HTTP/1.1's) is a 431, a `Content-Length` over `max_body_bytes` a 413.
/// Counted in `invalid_scope_proxy_requests_total{result="rejected_by_limit"}`.
fn refuse_by_limit<B>(request: &Request<B>, limits: &Limits) -> Option<Response<forward::Plain>> {
    let status = if request.headers().len() > limits.max_headers {
        http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    } else if limits.max_body_bytes.is_some_and(|max| {
        request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|length| length.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|length| length > max)
    }) {
        http::StatusCode::PAYLOAD_TOO_LARGE
    } else {
        return None;
    };
    metrics::counter!("invalid_scope_proxy_requests_total", "result" => "rejected_by_limit")
        .increment(1);
    Some(forward::plain(
        status,
        status.canonical_reason().unwrap_or("refused"),
    ))
}

/// Reads `[grantable]` again, on a blocking thread (the runtime has only
/// one, and it serves every connection); a file that no longer reads keeps
/// the lists in force, and says why.
async fn reload(path: Option<std::path::PathBuf>, flags: config::Keys, grantable: Reloadable) {
    let Some(path) = path else {
        tracing::warn!("invalid_scope_proxy.reload_skipped: no --config file to read");
        return;
    };
    let read = tokio::task::spawn_blocking(move || config::reload_grantable(&path, &flags)).await;
    match read {
        Ok(Ok(lists)) => {
            grantable.replace(lists.as_ref());
            tracing::info!(
                listed = lists.is_some(),
                clients = lists.as_ref().map_or(0, |lists| lists.clients.len()),
                "invalid_scope_proxy.reloaded"
            );
        }
        Ok(Err(message)) => {
            tracing::warn!(error = %message, "invalid_scope_proxy.reload_failed");
        }
        Err(error) => {
            tracing::warn!(error = %error, "invalid_scope_proxy.reload_failed");
        }
    }
}

fn init_logging(format: LogFormat) {
    let stdout = std::io::stdout;
    match format {
        LogFormat::Json => tracing_subscriber::fmt().json().with_writer(stdout).init(),
        LogFormat::Text => tracing_subscriber::fmt().with_writer(stdout).init(),
        LogFormat::Logfmt => {
            use tracing_subscriber::layer::SubscriberExt;
            use tracing_subscriber::util::SubscriberInitExt;
            tracing_subscriber::registry()
                .with(tracing_logfmt::builder().layer().with_writer(stdout))
                .init();
        }
    }
}
