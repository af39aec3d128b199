//! What a hostile client can do to the built proxy, over raw TCP on
//! 127.0.0.1, with small limits so each case takes a second or two: silent,
//! trickled and idle connections (HTTP/1.1 and HTTP/2) are closed on time, a
//! stalled body is cut, heads and bodies over their caps are refused, a
//! flood past `max_connections` is shed, request smuggling stays refused,
//! and after all of it a rejection is still reported exactly once.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use support::{rejecting_authorize, runtime, send, upstream, Proxy, Upstream};

const LIMITS: &str = "[limits]\nheader_timeout = 1\nbody_timeout = 1\nmax_connections = 8\n\
                      max_header_bytes = 8192\nmax_headers = 20\nmax_body_bytes = 1000\n";

fn start() -> (tokio::runtime::Runtime, Upstream, Proxy) {
    let runtime = runtime();
    let upstream = upstream(&runtime, rejecting_authorize, Duration::ZERO);
    let proxy = Proxy::start(
        upstream.address,
        &format!("known_scopes = [\"read\"]\n[grantable]\ndefault = [\"read\"]\n{LIMITS}"),
    );
    (runtime, upstream, proxy)
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Reads until the proxy closes the connection (at most 5 s); what it
/// wrote, and how long after `since` it closed.
fn until_closed(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
    let mut written = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => written.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => break,
            Err(error) => panic!("not closed: {error}"),
        }
    }
    (
        String::from_utf8_lossy(&written).into_owned(),
        since.elapsed(),
    )
}

fn assert_closed_on_time(taken: Duration) {
    assert!(
        taken >= Duration::from_millis(900) && taken < Duration::from_millis(3000),
        "closed after {taken:?}, header_timeout is 1 s"
    );
}

/// One raw request on a fresh connection; the answer's text.
fn raw(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = connect(address);
    stream.write_all(request).unwrap();
    until_closed(&mut stream, Instant::now()).0
}

#[test]
fn silent_trickled_and_idle_connections_are_closed_on_time() {
    let (_runtime, _upstream, proxy) = start();
    // Never a byte.
    let started = Instant::now();
    let mut silent = connect(proxy.listen);
    let (written, taken) = until_closed(&mut silent, started);
    assert_eq!(written, "");
    assert_closed_on_time(taken);

    // A head trickled a byte every 200 ms: never finished in time.
    let started = Instant::now();
    let mut trickle = connect(proxy.listen);
    for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa" {
        if trickle.write_all(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if started.elapsed() > Duration::from_secs(3) {
            panic!("still open after 3 s");
        }
    }
    let (_, taken) = until_closed(&mut trickle, started);
    assert!(taken < Duration::from_secs(4), "{taken:?}");

    // Kept alive after one answer, then idle.
    let mut idle = connect(proxy.listen);
    idle.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buffer = [0; 1024];
    let read = idle.read(&mut buffer).unwrap();
    assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    let (_, taken) = until_closed(&mut idle, started);
    assert_closed_on_time(taken);

    // HTTP/2 with prior knowledge: the preface and SETTINGS, then no stream.
    let started = Instant::now();
    let mut h2 = connect(proxy.listen);
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    let (_, taken) = until_closed(&mut h2, started);
    assert_closed_on_time(taken);
    // Half an HTTP/2 preface, then nothing (the protocol is never known).
    let started = Instant::now();
    let mut half = connect(proxy.listen);
    half.write_all(b"PRI * HTTP").unwrap();
    let (_, taken) = until_closed(&mut half, started);
    assert_closed_on_time(taken);
    proxy.stop();
}

#[test]
fn a_stalled_body_is_cut_and_the_upstream_released() {
    let (runtime, upstream, proxy) = start();
    let started = Instant::now();
    let mut stalled = connect(proxy.listen);
    stalled
        .write_all(b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        .unwrap();
    let (written, taken) = until_closed(&mut stalled, started);
    assert!(written.starts_with("HTTP/1.1 408"), "{written}");
    assert!(taken < Duration::from_millis(3000), "{taken:?}");
    // The upstream never received a whole request.
    assert!(upstream.seen.lock().unwrap().is_empty());
    let metrics = metrics(&runtime, &proxy);
    assert!(
        metrics.contains("invalid_scope_proxy_requests_total{result=\"timeout\"} 1"),
        "{metrics}"
    );
    proxy.stop();
}

fn metrics(runtime: &tokio::runtime::Runtime, proxy: &Proxy) -> String {
    let response = runtime.block_on(send(
        proxy.admin,
        Request::get("/metrics").body(Bytes::new()).unwrap(),
    ));
    String::from_utf8_lossy(response.body()).into_owned()
}

#[test]
fn heads_and_bodies_over_their_caps_are_refused_and_never_forwarded() {
    let (runtime, upstream, proxy) = start();
    let big_head = format!(
        "GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    assert!(raw(proxy.listen, big_head.as_bytes()).starts_with("HTTP/1.1 431"));
    let mut many = String::from("GET /ok HTTP/1.1\r\nHost: x\r\n");
    for n in 0..30 {
        many.push_str(&format!("X-H{n}: v\r\n"));
    }
    many.push_str("Connection: close\r\n\r\n");
    assert!(raw(proxy.listen, many.as_bytes()).starts_with("HTTP/1.1 431"));
    let body = "a".repeat(2000);
    let declared = format!(
        "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n{body}"
    );
    assert!(raw(proxy.listen, declared.as_bytes()).starts_with("HTTP/1.1 413"));
    let chunked = format!(
        "POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         7d0\r\n{body}\r\n0\r\n\r\n"
    );
    assert!(raw(proxy.listen, chunked.as_bytes()).starts_with("HTTP/1.1 413"));
    // A body within the cap passes.
    let small = "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
    assert!(raw(proxy.listen, small.as_bytes()).starts_with("HTTP/1.1 200"));
    std::thread::sleep(Duration::from_millis(200));
    let seen = upstream.seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "only the small one reached the upstream");
    assert_eq!(seen[0].body(), "abc");
    drop(seen);
    let metrics = metrics(&runtime, &proxy);
    assert!(
        metrics.contains("invalid_scope_proxy_requests_total{result=\"rejected_by_limit\"} 2"),
        "{metrics}"
    );
    proxy.stop();
}

/// hyper 1.12, as measured: differing `Content-Length`s and an obs-fold are
/// a 400 and reach nothing; `Content-Length` with `Transfer-Encoding:
/// chunked` is read as chunked (RFC 9112 §6.3), answered, and the
/// connection closed, so what follows the chunked body is never read as a
/// second request.
#[test]
fn request_smuggling_stays_refused() {
    let (_runtime, upstream, proxy) = start();
    for smuggled in [
        "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        "GET /ok HTTP/1.1\r\nHost: x\r\nX-Folded: one\r\n two\r\n\r\n",
    ] {
        let answer = raw(proxy.listen, smuggled.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 400"), "{smuggled:?}: {answer}");
    }
    assert!(upstream.seen.lock().unwrap().is_empty());
    let answer = raw(
        proxy.listen,
        b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
          0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
    std::thread::sleep(Duration::from_millis(200));
    let seen = upstream.seen.lock().unwrap();
    let paths: Vec<&str> = seen.iter().map(|request| request.uri().path()).collect();
    assert_eq!(paths, ["/ok"]);
    assert_eq!(seen[0].body(), "");
    assert!(seen[0]
        .headers()
        .get("content-length")
        .is_none_or(|length| length == "0"));
    drop(seen);
    proxy.stop();
}

#[test]
fn a_flood_past_max_connections_is_shed_while_a_client_is_answered() {
    let (runtime, _upstream, proxy) = start();
    let rejection = b"GET /authorize?client_id=wizard&scope=read+admin HTTP/1.1\r\nHost: x\r\n\
                      Connection: close\r\n\r\n";
    // Seven held by the flood, one slot left: a real client is answered.
    let mut held: Vec<TcpStream> = (0..7).map(|_| connect(proxy.listen)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let answer = raw(proxy.listen, rejection);
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    // The flood takes the last slot; the next connection is closed at
    // once, without a byte.
    held.push(connect(proxy.listen));
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut shed = connect(proxy.listen);
    let (written, taken) = until_closed(&mut shed, started);
    assert_eq!(written, "");
    assert!(taken < Duration::from_millis(500), "{taken:?}");
    let text = metrics(&runtime, &proxy);
    assert!(
        text.contains("invalid_scope_proxy_connections_rejected_total 1"),
        "{text}"
    );
    assert!(
        text.contains("invalid_scope_proxy_open_connections 8"),
        "{text}"
    );
    // The held ones idle out (header_timeout); clients are answered again.
    std::thread::sleep(Duration::from_millis(1500));
    let answer = raw(proxy.listen, rejection);
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    drop(held);
    let (status, events) = proxy.stop();
    assert!(status.success());
    // After the flood, each rejection still reported exactly once.
    let rows = support::report_rows(&events, &["client_id", "missing_scopes"]);
    let row = support::row(&["oauth.authorize.invalid_scope", "wizard", "admin"]);
    assert_eq!(rows, [row.clone(), row]);
}

#[test]
fn readyz_says_503_as_soon_as_draining_starts() {
    let runtime = runtime();
    // An upstream slow enough that a request is in flight while draining.
    let upstream = upstream(&runtime, rejecting_authorize, Duration::from_millis(1500));
    let proxy = Proxy::start(upstream.address, "shutdown_deadline = 5\n");
    let listen = proxy.listen;
    let admin = proxy.admin;
    // Ready once the upstream answered.
    assert!(raw(
        listen,
        b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .starts_with("HTTP/1.1 200"));
    let in_flight = std::thread::spawn(move || {
        raw(
            listen,
            b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    let readyz = || {
        runtime
            .block_on(send(
                admin,
                Request::get("/readyz").body(Bytes::new()).unwrap(),
            ))
            .status()
    };
    assert_eq!(readyz(), StatusCode::OK);
    proxy.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(readyz(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(in_flight.join().unwrap().starts_with("HTTP/1.1 200"));
}

#[test]
fn an_upstream_stalled_mid_answer_is_cut_and_logged_once() {
    // An upstream that sends a head and two bytes of a hundred, then
    // nothing for ten seconds.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = upstream.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in upstream.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buffer = [0; 4096];
                let _ = stream.read(&mut buffer);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab");
                std::thread::sleep(Duration::from_secs(10));
            });
        }
    });
    let proxy = Proxy::start(address, "known_scopes = [\"read\"]\nupstream_timeout = 1\n");
    let started = Instant::now();
    let mut client = connect(proxy.listen);
    client
        .write_all(b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (written, taken) = until_closed(&mut client, started);
    assert!(written.starts_with("HTTP/1.1 200"), "{written}");
    assert!(written.ends_with("ab"), "{written}");
    assert!(taken < Duration::from_secs(3), "{taken:?}");
    let (_, events) = proxy.stop();
    let stalled = events
        .iter()
        .filter(|event| event["fields"]["message"] == "invalid_scope_proxy.upstream_stalled")
        .count();
    assert_eq!(stalled, 1);
}

#[test]
fn client_ip_on_every_event_when_asked_from_the_peer_or_a_trusted_proxy() {
    let runtime = runtime();
    let upstream = upstream(&runtime, rejecting_authorize, Duration::ZERO);
    let rejection = |proxy: &Proxy| {
        raw(
            proxy.listen,
            b"GET /authorize?client_id=wizard&scope=admin HTTP/1.1\r\nHost: x\r\n\
              X-Forwarded-For: 198.51.100.1, 203.0.113.7\r\nConnection: close\r\n\r\n",
        );
    };
    let client_ips = |events: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        support::rejection_events(&events)
            .map(|event| event["span"]["client_ip"].clone())
            .collect()
    };
    let base = "known_scopes = [\"read\"]\n[grantable]\ndefault = [\"read\"]\n";
    // Off by default: no address is logged.
    let proxy = Proxy::start(upstream.address, base);
    rejection(&proxy);
    assert_eq!(client_ips(proxy.stop().1), [serde_json::Value::Null]);
    // On, from an untrusted peer: the peer, whatever it claims.
    let proxy = Proxy::start(
        upstream.address,
        &format!("{base}[log]\nclient_ip = true\n"),
    );
    rejection(&proxy);
    assert_eq!(client_ips(proxy.stop().1), ["127.0.0.1"]);
    // On, behind a trusted proxy: the rightmost address it did not add.
    let proxy = Proxy::start(
        upstream.address,
        &format!("trusted_proxies = [\"127.0.0.1\"]\n{base}[log]\nclient_ip = true\n"),
    );
    rejection(&proxy);
    assert_eq!(client_ips(proxy.stop().1), ["203.0.113.7"]);
}

/// `upstream_timeout` counts from the end of the request body: a stalled
/// body is the client's (408, no upstream error), and an upload that
/// streams steadily for longer than the upstream timeout is forwarded.
#[test]
fn the_upstream_timeout_waits_for_the_body() {
    let runtime = runtime();
    let upstream = upstream(&runtime, rejecting_authorize, Duration::ZERO);
    let proxy = Proxy::start(
        upstream.address,
        "upstream_timeout = 1\n[limits]\nbody_timeout = 1\n",
    );
    let mut stalled = connect(proxy.listen);
    stalled
        .write_all(b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        .unwrap();
    let (written, _) = until_closed(&mut stalled, Instant::now());
    assert!(written.starts_with("HTTP/1.1 408"), "{written}");
    // Four chunks 600 ms apart: 2.4 s of upload, each gap within
    // body_timeout.
    let mut steady = connect(proxy.listen);
    steady
        .write_all(
            b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    for chunk in [b"ab", b"cd", b"ef", b"gh"] {
        std::thread::sleep(Duration::from_millis(600));
        steady.write_all(chunk).unwrap();
    }
    let (written, _) = until_closed(&mut steady, Instant::now());
    assert!(written.starts_with("HTTP/1.1 200"), "{written}");
    let text = metrics(&runtime, &proxy);
    assert!(
        !text.contains("invalid_scope_proxy_upstream_errors_total"),
        "{text}"
    );
    let (_, events) = proxy.stop();
    assert!(
        !events
            .iter()
            .any(|event| event["fields"]["message"] == "invalid_scope_proxy.upstream_timeout"),
        "{events:#?}"
    );
}

/// A 64 MiB page: more than the kernel's buffers hold between a client
/// that reads nothing and the proxy.
fn big_page(_request: &Request<bytes::Bytes>) -> http::Response<bytes::Bytes> {
    http::Response::new(bytes::Bytes::from(vec![b'a'; 64 << 20]))
}

/// A client that asks and then reads nothing (on HTTP/2, one that opens no
/// flow-control window does the same): hyper stops taking frames of the
/// answer, so without a limit the request, and the upstream connection
/// under it, would be held forever. After `body_timeout` without a frame
/// taken, the connection is closed, mid-answer.
#[test]
fn a_client_that_reads_nothing_is_cut_after_body_timeout() {
    let runtime = runtime();
    let upstream = upstream(&runtime, big_page, Duration::ZERO);
    let proxy = Proxy::start(
        upstream.address,
        "known_scopes = [\"read\"]\n[limits]\nbody_timeout = 1\nmax_body_bytes = 0\n",
    );
    let mut client = connect(proxy.listen);
    client
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let (written, _) = until_closed(&mut client, Instant::now());
    assert!(written.starts_with("HTTP/1.1 200"));
    assert!(
        written.len() < 64 << 20,
        "the whole answer was held for the client: {} bytes",
        written.len()
    );
    proxy.stop();
}
