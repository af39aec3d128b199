//! A real Prometheus (Debian's `prometheus` package; `.ci/run` installs
//! it) scrapes the running proxy every second with the project's rule file
//! loaded: after N rejections sent through the proxy, its query API answers
//! N for the rejection counter, and the success-criterion alert (a rule
//! without `for`) is firing in `ALERTS`. Loopback only; it stops itself.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use support::{
    free_address, rejecting_authorize, runtime, send, upstream, wait_until_listening, Proxy,
};

struct Prometheus {
    child: Child,
    address: SocketAddr,
    _directory: tempfile::TempDir,
}

impl Prometheus {
    /// Scraping `target` every second, with the rule file evaluated every
    /// second.
    fn start(target: SocketAddr) -> Self {
        let directory = tempfile::tempdir().unwrap();
        let rules = |name: &str| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../deploy/prometheus")
                .join(name)
                .canonicalize()
                .unwrap()
        };
        let config = directory.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {}\n  - {}\n\
                 scrape_configs:\n  - job_name: invalid-scope-proxy\n    static_configs:\n      - targets: [\"{target}\"]\n",
                rules("invalid-scope.rules.yml").display(),
                rules("invalid-scope-proxy.rules.yml").display()
            ),
        )
        .unwrap();
        let address = free_address();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                directory.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (apt-get install prometheus), as .ci/run installs it");
        wait_until_listening(address, "prometheus");
        Self {
            child,
            address,
            _directory: directory,
        }
    }

    /// The answer of the instant query `query`, as JSON.
    fn query(&self, runtime: &tokio::runtime::Runtime, query: &str) -> serde_json::Value {
        let encoded: String = query
            .bytes()
            .map(|byte| match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                    (byte as char).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect();
        let response = runtime.block_on(send(
            self.address,
            Request::get(format!("/api/v1/query?query={encoded}"))
                // Go's server refuses an HTTP/1.1 request without one.
                .header(http::header::HOST, self.address.to_string())
                .body(Bytes::new())
                .unwrap(),
        ));
        // While it starts, Prometheus answers 503 in plain text.
        serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null)
    }

    /// Polls `query` (at most 60 s) until `done` says yes; the last answer.
    fn wait(
        &self,
        runtime: &tokio::runtime::Runtime,
        query: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let answer = self.query(runtime, query);
            if done(&answer) || started.elapsed() > Duration::from_secs(60) {
                return answer;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first sample's value of a query answer, as a number.
fn value(answer: &serde_json::Value) -> Option<f64> {
    answer["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()
}

#[test]
fn prometheus_counts_each_rejection_and_the_30_day_alert_fires() {
    let runtime = runtime();
    let upstream = upstream(&runtime, rejecting_authorize, Duration::ZERO);
    let proxy = Proxy::start(
        upstream.address,
        "known_scopes = [\"read\", \"admin\"]\n[grantable]\ndefault = [\"read\"]\n",
    );
    let prometheus = Prometheus::start(proxy.admin);
    // Scraped once before any rejection: the series are new after it.
    let up = prometheus.wait(&runtime, "up{job=\"invalid-scope-proxy\"}", |answer| {
        value(answer) == Some(1.0)
    });
    assert_eq!(value(&up), Some(1.0), "{up}");
    let alerts = "ALERTS{alertname=\"InvalidScopeSeenWithin30Days\",alertstate=\"firing\"}";
    assert_eq!(
        prometheus.query(&runtime, alerts)["data"]["result"],
        serde_json::json!([])
    );

    const N: usize = 7;
    for _ in 0..N {
        let response = runtime.block_on(send(
            proxy.listen,
            Request::get("/authorize?client_id=wizard&scope=read+admin")
                .body(Bytes::new())
                .unwrap(),
        ));
        assert_eq!(response.status(), 302);
    }
    let counted = prometheus.wait(
        &runtime,
        "sum(oauth_authorize_invalid_scope_total{missing_scope=\"admin\"})",
        |answer| value(answer) == Some(N as f64),
    );
    assert_eq!(value(&counted), Some(N as f64), "{counted}");
    let firing = prometheus.wait(&runtime, alerts, |answer| {
        answer["data"]["result"]
            .as_array()
            .is_some_and(|result| !result.is_empty())
    });
    let alert = &firing["data"]["result"][0]["metric"];
    assert_eq!(alert["missing_scope"], "admin", "{firing}");
    assert_eq!(alert["endpoint"], "authorize", "{firing}");
    let (status, _) = proxy.stop();
    assert!(status.success());
}
