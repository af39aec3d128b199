//! The built proxy in front of a local upstream on 127.0.0.1: forwarding
//! that changes nothing the server meant, every rejection reported, the
//! upstream's failures answered, configuration errors refused, signals.

mod support;

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, HOST, LOCATION};
use http::{Request, Response, StatusCode};
use support::{free_address, runtime, send, upstream, Proxy};

/// Redirects `/authorize` with `invalid_scope`, answers anything else 200
/// with a body, a cookie and a hop-by-hop header of its own.
fn authorization_server(request: &Request<Bytes>) -> Response<Bytes> {
    if request.uri().path() == "/authorize" {
        return Response::builder()
            .status(StatusCode::FOUND)
            .header(
                LOCATION,
                "https://client.example/cb?error=invalid_scope&state=s3cr3t-state",
            )
            .body(Bytes::new())
            .unwrap();
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("set-cookie", "session=kept; HttpOnly")
        .header("x-upstream", "yes")
        .header(CONNECTION, "x-hop")
        .header("x-hop", "dropped")
        .body(Bytes::from_static(b"consent page \x00\xff bytes"))
        .unwrap()
}

#[test]
fn forwards_unchanged_and_reports_each_rejection() {
    let runtime = runtime();
    let upstream = upstream(&runtime, authorization_server, Duration::ZERO);
    // Known scopes listed: no discovery request reaches the recording upstream.
    let proxy = Proxy::start(
        upstream.address,
        "known_scopes = [\"read\", \"write\"]\n[grantable]\ndefault = [\"read\"]\n",
    );
    let (page, rejected) = runtime.block_on(async {
        let page = Request::get("/consent?x=1")
            .header(HOST, "as.example")
            .header(CONNECTION, "x-private")
            .header("x-private", "hop")
            .header("cookie", "session=abc")
            .body(Bytes::new())
            .unwrap();
        let authorize =
            Request::get("/authorize?client_id=wizard&scope=read+write&state=s3cr3t-state")
                .header(HOST, "as.example")
                .body(Bytes::new())
                .unwrap();
        (
            send(proxy.listen, page).await,
            send(proxy.listen, authorize).await,
        )
    });

    // The answer is the server's, less its hop-by-hop headers.
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        page.body(),
        &Bytes::from_static(b"consent page \x00\xff bytes")
    );
    assert_eq!(page.headers()["set-cookie"], "session=kept; HttpOnly");
    assert_eq!(page.headers()["x-upstream"], "yes");
    assert!(page.headers().get("x-hop").is_none());
    assert_eq!(rejected.status(), StatusCode::FOUND);
    assert_eq!(
        rejected.headers()[LOCATION],
        "https://client.example/cb?error=invalid_scope&state=s3cr3t-state"
    );

    // The server saw the client's Host and cookie, who asked, and no hop header.
    let seen = upstream.seen.lock().unwrap();
    let first = &seen[0];
    assert_eq!(first.uri(), "/consent?x=1");
    assert_eq!(first.headers()[HOST], "as.example");
    assert_eq!(first.headers()["cookie"], "session=abc");
    assert_eq!(first.headers()["x-forwarded-for"], "127.0.0.1");
    assert_eq!(first.headers()["x-forwarded-proto"], "http");
    assert_eq!(first.headers()["x-forwarded-host"], "as.example");
    assert!(first.headers().get("x-private").is_none());
    drop(seen);

    let (status, events) = proxy.stop();
    assert!(status.success(), "{status}");
    let rejections: Vec<_> = events
        .iter()
        .filter(|event| event["fields"]["message"] == "oauth.authorize.invalid_scope")
        .collect();
    assert_eq!(rejections.len(), 1, "{events:#?}");
    assert_eq!(rejections[0]["fields"]["missing_scopes"], "write");
    assert_eq!(rejections[0]["fields"]["client_id"], "wizard");
    let all = serde_json::to_string(&events).unwrap();
    for secret in ["s3cr3t-state", "session=abc", "session=kept"] {
        assert!(!all.contains(secret), "{secret} reached the log");
    }
}

#[test]
fn an_unreachable_upstream_is_a_502_and_a_slow_one_a_504() {
    let runtime = runtime();
    let closed = free_address();
    let proxy = Proxy::start(closed, "");
    let response = runtime.block_on(send(
        proxy.listen,
        Request::get("/authorize").body(Bytes::new()).unwrap(),
    ));
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    // The line may reach the reader a moment after the answer.
    proxy.wait_for(|line| line.contains("invalid_scope_proxy.upstream_unreachable"));
    assert_eq!(
        proxy
            .named("invalid_scope_proxy.upstream_unreachable")
            .len(),
        1
    );
    let (status, _) = proxy.stop();
    assert!(
        status.success(),
        "the proxy never exits because of an upstream"
    );

    let slow = upstream(&runtime, authorization_server, Duration::from_secs(3));
    let proxy = Proxy::start(slow.address, "upstream_timeout = 1\n");
    let response = runtime.block_on(send(
        proxy.listen,
        Request::get("/authorize").body(Bytes::new()).unwrap(),
    ));
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    proxy.wait_for(|line| line.contains("invalid_scope_proxy.upstream_timeout"));
    assert_eq!(proxy.named("invalid_scope_proxy.upstream_timeout").len(), 1);
}

#[test]
fn sigterm_lets_requests_in_flight_finish_and_writes_pending_counts() {
    let runtime = runtime();
    let slow = upstream(&runtime, authorization_server, Duration::from_millis(800));
    let proxy = Proxy::start(slow.address, "[rate_limit]\nper_second = 1\nburst = 1\n");
    let (first, in_flight) = runtime.block_on(async {
        // Three rejections at once: one event, two suppressed.
        let requests = (0..3).map(|_| {
            send(
                proxy.listen,
                Request::get("/authorize?scope=admin")
                    .body(Bytes::new())
                    .unwrap(),
            )
        });
        let rejections = futures_join(requests).await;
        let in_flight = tokio::spawn(send(
            proxy.listen,
            Request::get("/slow-page").body(Bytes::new()).unwrap(),
        ));
        (rejections, in_flight)
    });
    assert!(first
        .iter()
        .all(|response| response.status() == StatusCode::FOUND));
    std::thread::sleep(Duration::from_millis(200));
    proxy.signal("TERM");
    let answered = runtime.block_on(in_flight).unwrap();
    assert_eq!(
        answered.status(),
        StatusCode::OK,
        "the request in flight finished"
    );
    let (status, events) = proxy.stop();
    assert!(status.success());
    let accounted: u64 = events
        .iter()
        .map(|event| {
            let fields = &event["fields"];
            let suppressed = fields["suppressed"].as_u64().unwrap_or(0);
            match fields["message"].as_str() {
                Some("oauth.authorize.invalid_scope") => 1 + suppressed,
                Some("oauth.authorize.invalid_scope.suppressed") => suppressed,
                _ => 0,
            }
        })
        .sum();
    assert_eq!(accounted, 3, "{events:#?}");
}

/// Runs `futures` at once, each on its own task; their outputs in order.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

#[test]
fn sighup_reloads_the_grantable_lists() {
    let runtime = runtime();
    let upstream = upstream(&runtime, authorization_server, Duration::ZERO);
    let proxy = Proxy::start(upstream.address, "[grantable]\ndefault = [\"read\"]\n");
    let ask = || {
        runtime.block_on(send(
            proxy.listen,
            Request::get("/authorize?client_id=c&scope=read+write")
                .body(Bytes::new())
                .unwrap(),
        ))
    };
    ask();
    let text = std::fs::read_to_string(proxy.config.path()).unwrap();
    std::fs::write(
        proxy.config.path(),
        text.replace("default = [\"read\"]", "default = [\"read\", \"write\"]"),
    )
    .unwrap();
    proxy.signal("HUP");
    proxy.wait_for(|line| line.contains("invalid_scope_proxy.reloaded"));
    ask();
    let rejections = proxy.named("oauth.authorize.invalid_scope");
    assert_eq!(rejections.len(), 2);
    assert_eq!(rejections[0]["fields"]["missing_scopes"], "write");
    assert_eq!(rejections[1]["fields"]["missing_scopes"], "");
}

#[test]
fn health_readiness_and_metrics_on_the_admin_address() {
    let runtime = runtime();
    let upstream = upstream(&runtime, authorization_server, Duration::ZERO);
    let proxy = Proxy::start(
        upstream.address,
        "known_scopes = [\"read\", \"write\"]\n[grantable]\ndefault = []\n",
    );
    let admin = |path: &'static str| {
        runtime.block_on(send(
            proxy.admin,
            Request::get(path).body(Bytes::new()).unwrap(),
        ))
    };
    assert_eq!(admin("/healthz").status(), StatusCode::OK);
    assert_eq!(admin("/readyz").status(), StatusCode::SERVICE_UNAVAILABLE);
    runtime.block_on(send(
        proxy.listen,
        Request::get("/authorize?client_id=c&scope=write")
            .body(Bytes::new())
            .unwrap(),
    ));
    assert_eq!(admin("/readyz").status(), StatusCode::OK);
    let metrics = admin("/metrics");
    let text = String::from_utf8_lossy(metrics.body());
    assert!(
        text.contains("oauth_authorize_invalid_scope_total{missing_scope=\"write\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("invalid_scope_proxy_requests_total{result=\"forwarded\"} 1"),
        "{text}"
    );
}

fn run_refused(arguments: &[&str], config: &str) -> (i32, String) {
    let output = support::run_once(arguments, config, &[]);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_configuration_exits_2_naming_the_key() {
    let (code, message) = run_refused(
        &[],
        "upstream = \"http://127.0.0.1:1\"\n[observe]\nbodys = true\n",
    );
    assert_eq!(code, 2);
    assert!(
        message.contains("line 3") && message.contains("bodys"),
        "{message}"
    );

    let (code, message) = run_refused(&[], "upstream = \"http://127.0.0.1:1\"\nlisten = 8080\n");
    assert_eq!(code, 2);
    assert!(message.contains("line 2"), "{message}");

    let (code, message) = run_refused(&[], "listen = \"127.0.0.1:0\"\n");
    assert_eq!(code, 2);
    assert!(message.contains("missing `upstream`"), "{message}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (code, message) = run_refused(
        &["--listen", &address],
        "upstream = \"http://127.0.0.1:1\"\n",
    );
    assert_eq!(code, 2);
    assert!(message.contains("`listen`"), "{message}");

    let (code, message) = run_refused(
        &[],
        "upstream = \"https://127.0.0.1:1\"\nupstream_ca = \"/nonexistent/ca.pem\"\n",
    );
    assert_eq!(code, 2);
    assert!(message.contains("`upstream_ca`"), "{message}");
}

#[test]
fn http2_with_prior_knowledge_is_served_and_observed() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let runtime = runtime();
    let upstream = upstream(&runtime, authorization_server, Duration::ZERO);
    let proxy = Proxy::start(
        upstream.address,
        "known_scopes = [\"read\", \"admin\"]\n[grantable]\ndefault = [\"read\"]\n",
    );
    let (status, version) = runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(proxy.listen).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let request = Request::get("http://as.example/authorize?client_id=h2&scope=read+admin")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        body.collect().await.unwrap();
        (parts.status, parts.version)
    });
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(version, http::Version::HTTP_2);
    // HTTP/2 carries no Host header: the upstream gets the authority.
    assert_eq!(
        upstream.seen.lock().unwrap()[0].headers()[HOST],
        "as.example"
    );
    let rejections = proxy.named("oauth.authorize.invalid_scope");
    assert_eq!(rejections.len(), 1);
    assert_eq!(rejections[0]["fields"]["client_id"], "h2");
}

#[test]
fn a_100_mb_form_streams_through_in_flat_memory() {
    use http_body_util::BodyExt;
    use hyper_util::rt::TokioIo;
    use support::{draining_upstream, Generated};

    const SIZE: usize = 100 * 1024 * 1024;
    let runtime = runtime();
    let upstream = draining_upstream(&runtime);
    let proxy = Proxy::start(upstream, "[limits]\nmax_body_bytes = 0\n");
    let before = proxy.resident_kib();
    let (status, body) = runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(proxy.listen).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        // A form, so the observer keeps its bounded copy (8 KiB) as it goes.
        let request = Request::post("/token")
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Generated { remaining: SIZE })
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    });
    let after = proxy.resident_kib();
    eprintln!("proxy resident memory: {before} KiB before, {after} KiB after 100 MB");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, SIZE.to_string(), "every byte reached the upstream");
    assert!(
        after < before + 16 * 1024,
        "resident memory grew from {before} KiB to {after} KiB for a {SIZE}-byte body"
    );
}

#[test]
fn a_client_that_goes_away_mid_body_harms_nothing() {
    use tokio::io::AsyncWriteExt;

    let runtime = runtime();
    let upstream = support::draining_upstream(&runtime);
    let proxy = Proxy::start(upstream, "");
    runtime.block_on(async {
        let mut stream = tokio::net::TcpStream::connect(proxy.listen).await.unwrap();
        stream
            .write_all(
                b"POST /token HTTP/1.1\r\nhost: as.example\r\n\
                  content-type: application/x-www-form-urlencoded\r\n\
                  content-length: 10000000\r\n\r\ngrant_type=client_credentials&scope=",
            )
            .await
            .unwrap();
        stream.write_all(&[b'a'; 100_000]).await.unwrap();
        drop(stream); // gone, 9.9 MB short
    });
    std::thread::sleep(Duration::from_millis(300));
    let response = runtime.block_on(send(
        proxy.listen,
        Request::post("/next")
            .body(Bytes::from_static(b"still here"))
            .unwrap(),
    ));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "10");
    let (status, _) = proxy.stop();
    assert!(status.success());
}

/// The first JSON object anywhere in `value` whose `event` is `$exception`.
fn find_exception(value: &serde_json::Value) -> Option<&serde_json::Value> {
    use serde_json::Value;
    match value {
        Value::Object(map) if map.get("event") == Some(&Value::from("$exception")) => Some(value),
        Value::Object(map) => map.values().find_map(find_exception),
        Value::Array(items) => items.iter().find_map(find_exception),
        _ => None,
    }
}

#[test]
fn posthog_gets_each_rejection_as_an_exception_and_never_the_key() {
    const KEY: &str = "phc_test_key_never_logged";
    let runtime = runtime();
    let server = upstream(&runtime, authorization_server, Duration::ZERO);
    // A stand-in for PostHog on 127.0.0.1 that keeps what the real client sends.
    let posthog = upstream(
        &runtime,
        |_| Response::new(Bytes::from_static(b"{\"status\":1}")),
        Duration::ZERO,
    );
    let proxy = Proxy::start_with_env(
        server.address,
        &format!(
            "[grantable]\ndefault = [\"read\"]\n[posthog]\nhost = \"http://{}\"\napi_key_env = \"TEST_POSTHOG_KEY\"\n",
            posthog.address
        ),
        &[("TEST_POSTHOG_KEY", KEY)],
    );
    runtime.block_on(send(
        proxy.listen,
        Request::get("/authorize?client_id=wizard&scope=read+admin")
            .body(Bytes::new())
            .unwrap(),
    ));
    // Stopping drains the client; the stand-in has it by then.
    let (status, events) = proxy.stop();
    assert!(status.success());
    let sent: Vec<serde_json::Value> = posthog
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|request| serde_json::from_slice(request.body()).ok())
        .collect();
    let exception = sent
        .iter()
        .find_map(find_exception)
        .unwrap_or_else(|| panic!("no exception among {sent:#?}"));
    assert_eq!(exception["properties"]["missing_scopes"], "admin");
    assert_eq!(exception["properties"]["client_id"], "wizard");
    assert!(!serde_json::to_string(&events).unwrap().contains(KEY));
}

#[test]
fn an_https_upstream_is_trusted_through_upstream_ca_alone() {
    let runtime = runtime();
    let upstream = support::tls::https_upstream(&runtime, authorization_server);
    let url = format!("https://localhost:{}", upstream.address.port());
    let authorize = || {
        Request::get("/authorize?client_id=wizard&scope=read+write")
            .header(HOST, "as.example")
            .body(Bytes::new())
            .unwrap()
    };

    // With the CA that issued the server's certificate: forwarded, observed.
    let config = format!(
        "upstream_ca = {:?}\n[grantable]\ndefault = [\"read\"]\n",
        upstream.ca.path()
    );
    let proxy = Proxy::start_to(&url, &config, &[]);
    let rejected = runtime.block_on(send(proxy.listen, authorize()));
    assert_eq!(
        rejected.status(),
        StatusCode::FOUND,
        "{:#?}",
        proxy.events()
    );
    let (status, events) = proxy.stop();
    assert!(status.success());
    let rejections: Vec<_> = events
        .iter()
        .filter(|event| event["fields"]["message"] == "oauth.authorize.invalid_scope")
        .collect();
    assert_eq!(rejections.len(), 1, "{events:#?}");
    assert_eq!(rejections[0]["fields"]["missing_scopes"], "write");

    // With another CA's certificate: refused, a 502 that names the
    // certificate.
    let stranger = support::tls::https_upstream(&runtime, authorization_server);
    let config = format!("upstream_ca = {:?}\n", stranger.ca.path());
    let proxy = Proxy::start_to(&url, &config, &[]);
    let refused = runtime.block_on(send(proxy.listen, authorize()));
    assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    let unreachable = proxy.named("invalid_scope_proxy.upstream_unreachable");
    assert_eq!(unreachable.len(), 1);
    let cause = unreachable[0]["fields"]["cause"].as_str().unwrap();
    assert!(cause.contains("certificate"), "{cause}");
}

#[test]
fn with_observe_enabled_false_it_forwards_and_reports_nothing() {
    let runtime = runtime();
    let upstream = upstream(&runtime, authorization_server, Duration::ZERO);
    let proxy = Proxy::start(
        upstream.address,
        "[grantable]\ndefault = [\"read\"]\n[observe]\nenabled = false\n",
    );
    let rejected = runtime.block_on(send(
        proxy.listen,
        Request::get("/authorize?client_id=wizard&scope=read+write")
            .body(Bytes::new())
            .unwrap(),
    ));
    assert_eq!(rejected.status(), StatusCode::FOUND);
    let (status, events) = proxy.stop();
    assert!(status.success());
    assert!(
        events
            .iter()
            .all(|event| event["target"] != "invalid_scope_observer"),
        "{events:#?}"
    );
    assert_eq!(events[0]["fields"]["observe"], false);
}

/// Answers every request `400 {"error":"invalid_scope"}`.
fn token_endpoint(_request: &Request<Bytes>) -> Response<Bytes> {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from_static(br#"{"error":"invalid_scope"}"#))
        .unwrap()
}

#[test]
fn headers_that_connection_names_never_reach_the_layer() {
    // `Connection: authorization` makes the proxy drop the Basic
    // credentials: the server never sees them, so the layer must not take
    // its client id from them either.
    let runtime = runtime();
    let upstream = upstream(&runtime, token_endpoint, Duration::ZERO);
    let proxy = Proxy::start(
        upstream.address,
        "known_scopes = [\"read\"]\n[grantable]\ndefault = [\"read\"]\n",
    );
    let request = |connection: Option<&str>| {
        let mut request = Request::post("/token")
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(
                http::header::AUTHORIZATION,
                support::basic("victim-app", "s3cret"),
            );
        if let Some(connection) = connection {
            request = request.header(CONNECTION, connection);
        }
        request
            .body(Bytes::from_static(
                b"grant_type=client_credentials&scope=admin",
            ))
            .unwrap()
    };
    runtime.block_on(send(proxy.listen, request(Some("authorization"))));
    runtime.block_on(send(proxy.listen, request(None)));
    let seen = upstream.seen.lock().unwrap();
    assert!(seen[0].headers().get(http::header::AUTHORIZATION).is_none());
    assert!(seen[1].headers().get(http::header::AUTHORIZATION).is_some());
    drop(seen);
    let (_, events) = proxy.stop();
    let clients: Vec<_> = support::rejection_events(&events)
        .map(|event| event["fields"]["client_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(clients, ["", "victim-app"]);
}

#[test]
fn help_never_shows_a_secret_from_the_environment() {
    let output = Command::new(env!("CARGO_BIN_EXE_invalid-scope-proxy"))
        .arg("--help")
        .env(
            "INVALID_SCOPE_PROXY_CORRELATION_REDIS_URL",
            "redis://:hunter2-redis@127.0.0.1:6379",
        )
        .env(
            "INVALID_SCOPE_PROXY_CORRELATION_HASH_KEY",
            "hunter2-hash-key",
        )
        // An upstream may carry its credentials too: no value is shown.
        .env(
            "INVALID_SCOPE_PROXY_UPSTREAM",
            "http://user:hunter2-upstream@127.0.0.1:8000",
        )
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("INVALID_SCOPE_PROXY_CORRELATION_REDIS_URL"),
        "{help}"
    );
    assert!(
        help.contains("[env: INVALID_SCOPE_PROXY_UPSTREAM]"),
        "{help}"
    );
    assert!(!help.contains("hunter2"), "{help}");
}

#[test]
fn the_upstreams_userinfo_is_never_logged() {
    let runtime = runtime();
    let upstream = upstream(&runtime, authorization_server, Duration::ZERO);
    let url = format!("http://admin:hunter2-upstream@{}", upstream.address);
    let proxy = Proxy::start_to(&url, "known_scopes = [\"read\"]\n", &[]);
    let (_, events) = proxy.stop();
    let output = serde_json::to_string(&events).unwrap();
    assert!(output.contains("<redacted>@127.0.0.1"), "{output}");
    assert!(!output.contains("hunter2"), "{output}");
}

#[test]
fn upstream_alone_is_a_working_configuration() {
    // No [grantable], no known scopes: the upstream serves no discovery
    // document (every path but /authorize is a 200 page, not JSON), so the
    // proxy says so once and reports the rejection with nothing missing,
    // flagged unexplained.
    let runtime = runtime();
    let upstream = upstream(&runtime, authorization_server, Duration::ZERO);
    let proxy = Proxy::start(upstream.address, "");
    let rejected = runtime.block_on(send(
        proxy.listen,
        Request::get("/authorize?client_id=wizard&scope=read+write")
            .body(Bytes::new())
            .unwrap(),
    ));
    assert_eq!(rejected.status(), StatusCode::FOUND);
    let (status, events) = proxy.stop();
    assert!(status.success());
    let rows = support::report_rows(
        &events,
        &[
            "client_id",
            "requested_scopes",
            "grantable_scopes",
            "missing_scopes",
            "unexplained",
        ],
    );
    assert_eq!(
        rows,
        [support::row(&[
            "oauth.authorize.invalid_scope",
            "wizard",
            "read write",
            "",
            "",
            "true"
        ])]
    );
    let failed = events
        .iter()
        .filter(|event| event["fields"]["message"] == "invalid_scope_proxy.discovery_failed")
        .count();
    assert_eq!(failed, 1, "{events:#?}");
}

#[test]
fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    let runtime = runtime();
    let spoofing = || {
        Request::get("/consent")
            .header(HOST, "as.example")
            .header("x-forwarded-for", "203.0.113.7")
            .header("x-forwarded-proto", "https")
            .header("x-real-ip", "203.0.113.7")
            .body(Bytes::new())
            .unwrap()
    };
    for (trusted, expected_for, expected_proto, real_ip) in [
        ("", "127.0.0.1", "http", None),
        (
            "trusted_proxies = [\"127.0.0.0/8\"]\n",
            "203.0.113.7, 127.0.0.1",
            "https",
            Some("203.0.113.7"),
        ),
    ] {
        let upstream = upstream(&runtime, authorization_server, Duration::ZERO);
        let proxy = Proxy::start(
            upstream.address,
            &format!("{trusted}known_scopes = [\"read\"]\n"),
        );
        runtime.block_on(send(proxy.listen, spoofing()));
        let seen = upstream.seen.lock().unwrap();
        let headers = seen[0].headers();
        assert_eq!(headers["x-forwarded-for"], expected_for, "{trusted}");
        assert_eq!(headers["x-forwarded-proto"], expected_proto, "{trusted}");
        assert_eq!(
            headers
                .get("x-real-ip")
                .map(|value| value.to_str().unwrap()),
            real_ip,
            "{trusted}"
        );
    }
}
