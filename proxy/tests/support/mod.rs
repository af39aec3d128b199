//! The proxy as a user runs it: the built binary, a config file, a local
//! upstream on 127.0.0.1, and its JSON lines read back from stdout.
#![allow(dead_code, unreachable_pub)]

pub mod tap;
pub mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// A free port on 127.0.0.1 (bound, then let go for the proxy to take),
/// never one this process handed out before: tests run in parallel, and a
/// port let go by one test's proxy could otherwise be given to another
/// test's server, which then finds it taken (seen in CI as a server that
/// never started while another process answered on its port).
pub fn free_address() -> SocketAddr {
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let address = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        if HANDED_OUT.lock().unwrap().insert(address.port()) {
            return address;
        }
    }
}

/// Waits (at most 30 s) until a server started as a process, `name`,
/// accepts connections on `address`. A connection to a port of the
/// ephemeral range that nothing listens on can connect to itself (TCP
/// simultaneous open, when the kernel picks that very port as the source):
/// such a connection is no server, and is not taken for one.
pub fn wait_until_listening(address: SocketAddr, name: &str) {
    let started = Instant::now();
    let listening = || {
        std::net::TcpStream::connect(address)
            .is_ok_and(|stream| stream.local_addr().ok() != Some(address))
    };
    while !listening() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running proxy and everything it printed.
pub struct Proxy {
    child: Child,
    pub listen: SocketAddr,
    pub admin: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    pub config: tempfile::NamedTempFile,
}

impl Proxy {
    /// Starts the binary with `config` (TOML; `listen`, `upstream` and
    /// `[admin]` are added) and waits until `/healthz` answers.
    pub fn start(upstream: SocketAddr, config: &str) -> Self {
        Self::start_with_env(upstream, config, &[])
    }

    /// Like [`Proxy::start`], with these environment variables set.
    pub fn start_with_env(upstream: SocketAddr, config: &str, env: &[(&str, &str)]) -> Self {
        Self::start_to(&format!("http://{upstream}"), config, env)
    }

    /// Like [`Proxy::start_with_env`], in front of the upstream at `url`.
    pub fn start_to(url: &str, config: &str, env: &[(&str, &str)]) -> Self {
        let listen = free_address();
        let admin = free_address();
        let text = format!(
            "listen = \"{listen}\"\nupstream = \"{url}\"\n{config}\n[admin]\nlisten = \"{admin}\"\n"
        );
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_invalid-scope-proxy"))
            .arg("--config")
            .arg(file.path())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let proxy = Self {
            child,
            listen,
            admin,
            lines,
            config: file,
        };
        proxy.wait_for(|line| line.contains("invalid_scope_proxy.started"));
        proxy
    }

    /// Every line so far, parsed as JSON.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The events whose message is `message`.
    pub fn named(&self, message: &str) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|event| event["fields"]["message"] == message)
            .collect()
    }

    /// Waits (at most 10 s) for a line that `matches`.
    pub fn wait_for(&self, matches: impl Fn(&str) -> bool) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.lines.lock().unwrap().iter().any(|line| matches(line)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no such line in {:#?}", self.lines.lock().unwrap());
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM and waits for the exit status (at most 20 s).
    pub fn stop(mut self) -> (std::process::ExitStatus, Vec<serde_json::Value>) {
        self.signal("TERM");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.events());
            }
            assert!(started.elapsed() < Duration::from_secs(20), "did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// What an upstream answers, from the request it got.
pub type Answer = fn(&Request<Bytes>) -> Response<Bytes>;

/// An [`Answer`]: `/authorize` is a `302` with `error=invalid_scope`,
/// anything else a `200` with `ok`.
pub fn rejecting_authorize(request: &Request<Bytes>) -> Response<Bytes> {
    if request.uri().path() == "/authorize" {
        return Response::builder()
            .status(302)
            .header("location", "https://client.example/cb?error=invalid_scope")
            .body(Bytes::new())
            .unwrap();
    }
    Response::new(Bytes::from_static(b"ok"))
}

/// An upstream on 127.0.0.1 that reads each request whole and answers it
/// with `answer`, after `delay`. Keeps the requests it saw.
pub struct Upstream {
    pub address: SocketAddr,
    pub seen: Arc<Mutex<Vec<Request<Bytes>>>>,
}

pub fn upstream(runtime: &tokio::runtime::Runtime, answer: Answer, delay: Duration) -> Upstream {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&seen);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let kept = Arc::clone(&kept);
        async move {
            let (parts, body) = request.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            let request = Request::from_parts(parts, body);
            let response = answer(&request);
            kept.lock().unwrap().push(request);
            tokio::time::sleep(delay).await;
            Ok::<_, Infallible>(response.map(Full::new))
        }
    });
    let address = serve_http1(runtime, service);
    Upstream { address, seen }
}

/// Serves HTTP/1.1 with `service` (a clone for each connection) on a fresh
/// port of 127.0.0.1, from `runtime`, for as long as it runs.
pub fn serve_http1<S>(runtime: &tokio::runtime::Runtime, service: S) -> SocketAddr
where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<Full<Bytes>>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = service.clone();
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// One request over a fresh HTTP/1.1 connection; the answer, body whole.
pub async fn send(address: SocketAddr, request: Request<Bytes>) -> Response<Bytes> {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let (parts, body) = request.into_parts();
    let response = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// An upstream that reads each request body to its end, keeping only its
/// length, and answers `200` with that length as its body.
pub fn draining_upstream(runtime: &tokio::runtime::Runtime) -> SocketAddr {
    let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
        let mut body = request.into_body();
        let mut length = 0usize;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => length += frame.data_ref().map_or(0, |data| data.len()),
                Err(_) => break,
            }
        }
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(length.to_string()))))
    });
    serve_http1(runtime, service)
}

/// A body of `length` bytes of `a`, in 64 KiB frames made as they are
/// asked for: nothing of it is held at once.
pub struct Generated {
    pub remaining: usize,
}

impl http_body::Body for Generated {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        const FRAME: usize = 64 * 1024;
        static CHUNK: [u8; FRAME] = [b'a'; FRAME];
        if self.remaining == 0 {
            return std::task::Poll::Ready(None);
        }
        let size = self.remaining.min(FRAME);
        self.remaining -= size;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(
            &CHUNK[..size],
        )))))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining as u64)
    }
}

impl Proxy {
    /// The proxy's resident memory, in KiB.
    pub fn resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap()
    }
}

/// A browser's cookie jar, as far as this test needs one.
#[derive(Default)]
pub struct Cookies(pub HashMap<String, String>);

impl Cookies {
    pub fn keep(&mut self, response: &Response<Bytes>) {
        for value in response.headers().get_all(SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.0.insert(name.to_string(), value.to_string());
        }
    }

    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `Authorization: Basic` for a client id and secret (RFC 6749 §2.3.1).
pub fn basic(client_id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
    format!("Basic {credentials}")
}

/// The `oauth.authorize.invalid_scope` and `oauth.token.invalid_scope`
/// events among `events`, in order.
pub fn rejection_events(events: &[serde_json::Value]) -> impl Iterator<Item = &serde_json::Value> {
    events.iter().filter(|event| {
        event["fields"]["message"]
            .as_str()
            .is_some_and(|message| message.ends_with(".invalid_scope"))
    })
}

/// The Python interpreter with the pinned django-oauth-toolkit and Authlib:
/// `DJANGO_OAUTH_TOOLKIT_PYTHON` (CI's venv), or else a venv this makes once
/// under the target directory with `pip` (network to PyPI).
pub fn python() -> std::path::PathBuf {
    use std::path::Path;
    if let Ok(python) = std::env::var("DJANGO_OAUTH_TOOLKIT_PYTHON") {
        return python.into();
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("django-oauth-toolkit-venv");
    let python = venv.join("bin/python");
    let servers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers");
    if !venv.join("ready").exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
        run(Command::new(&python)
            .args(["-m", "pip", "install", "-q", "-r"])
            .arg(servers.join("django/requirements.txt"))
            .arg("-r")
            .arg(servers.join("authlib/requirements.txt")));
        std::fs::write(venv.join("ready"), b"").unwrap();
    }
    python
}

/// Runs the binary once to its end with `config` as its `--config` file,
/// the `arguments` and the variables `env`, and no other variable of ours
/// from the machine running the test: what it prints, and its status.
pub fn run_once(arguments: &[&str], config: &str, env: &[(&str, &str)]) -> Output {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, config.as_bytes()).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_invalid-scope-proxy"));
    command.arg("--config").arg(file.path()).args(arguments);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("INVALID_SCOPE_PROXY_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied()).output().unwrap()
}

/// Asserts that each of `lines` is a whole line of `text`.
pub fn assert_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            text.lines().any(|shown| shown == *line),
            "{line} not in:\n{text}"
        );
    }
}

/// Runs `command` to its end; it must succeed.
pub fn run(command: &mut Command) {
    let status = command.status().unwrap();
    assert!(status.success(), "{command:?} failed: {status}");
}

/// This crate's rejection and narrowing events, each as its message and the
/// values of `fields` (a missing field as `""`), in order.
pub fn report_rows(events: &[serde_json::Value], fields: &[&str]) -> Vec<Vec<String>> {
    events
        .iter()
        .filter(|event| {
            let message = event["fields"]["message"].as_str().unwrap_or("");
            message.ends_with(".invalid_scope") || message == "oauth.scope_narrowed"
        })
        .map(|event| {
            let values = &event["fields"];
            std::iter::once("message")
                .chain(fields.iter().copied())
                .map(|name| match &values[name] {
                    serde_json::Value::String(text) => text.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// Asserts that no secret appears anywhere in the proxy's output.
pub fn assert_no_secret(events: &[serde_json::Value], secrets: &[String]) {
    let output = serde_json::to_string(events).unwrap();
    for secret in secrets {
        assert!(
            !output.contains(secret.as_str()),
            "a secret reached the output"
        );
    }
}

/// The `code` parameter of a redirect URL.
pub fn code_of(url: &str) -> String {
    url.split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("code="))
        .unwrap_or_else(|| panic!("a code in {url}"))
        .to_string()
}

/// A row of [`report_rows`], from its message and values.
pub fn row(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| value.to_string()).collect()
}
