//! What an operator runs besides the proxy itself: `--version`, `check`
//! (the configuration read exactly as a start reads it, binding nothing,
//! printed with secrets named by their variable), and `/metrics` whose
//! every counter and gauge says what it counts.

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use support::{
    assert_lines, rejecting_authorize, run_once as proxy, runtime, send, upstream, Proxy,
};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_names_the_binary_and_its_version() {
    let output = Command::new(env!("CARGO_BIN_EXE_invalid-scope-proxy"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        text(&output.stdout).trim(),
        format!("invalid-scope-proxy {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn check_prints_the_effective_configuration_and_binds_nothing() {
    // The listen address is taken: a start would fail, a check does not
    // bind it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let password = "s3cret-redis-password";
    let redis_url = format!("redis://:{password}@127.0.0.1:6379/0");
    let hash_key = "a hash key of at least thirty-two characters";
    let output = proxy(
        &["check"],
        &format!(
            "listen = \"{address}\"\nupstream = \"http://user:pw@127.0.0.1:8000\"\n\
             [correlation]\nstore = \"redis\"\n"
        ),
        &[
            ("INVALID_SCOPE_PROXY_CORRELATION_REDIS_URL", &redis_url),
            ("INVALID_SCOPE_PROXY_CORRELATION_HASH_KEY", hash_key),
        ],
    );
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_lines(
        &stdout,
        &[
            &format!("listen = \"{address}\""),
            "known_scopes = \"discover\"",
            "[limits]",
            "max_connections = 10000",
            "store = \"redis\"",
            "redis_url = \"<from $INVALID_SCOPE_PROXY_CORRELATION_REDIS_URL>\"",
            "hash_key = \"<from $INVALID_SCOPE_PROXY_CORRELATION_HASH_KEY>\"",
        ],
    );
    for secret in [password, hash_key, "user:pw"] {
        assert!(!stdout.contains(secret), "{secret} shown:\n{stdout}");
    }
}

#[test]
fn what_check_prints_checks_again_to_the_same_print() {
    let config = "upstream = \"http://127.0.0.1:8000\"\nknown_scopes = [\"read\", \"admin\"]\n\
                  trusted_proxies = [\"10.0.0.0/8\"]\n[grantable]\ndefault = [\"read\"]\n\
                  clients = { wizard = [\"read\", \"admin\"] }\n[correlation]\nauthorize_paths = [\"/o/authorize/\"]\n\
                  [limits]\nmax_body_bytes = 0\n";
    let first = proxy(&["check"], config, &[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let printed = text(&first.stdout);
    let second = proxy(&["check"], &printed, &[]);
    assert!(
        second.status.success(),
        "{}\n{printed}",
        text(&second.stderr)
    );
    assert_eq!(text(&second.stdout), printed);
}

#[test]
fn check_refuses_what_a_start_refuses_with_the_same_message() {
    for config in [
        "upstream = \"http://127.0.0.1:1\"\n[observe]\nbodys = true\n",
        "listen = \"127.0.0.1:0\"\n",
        "upstream = \"http://127.0.0.1:1\"\n[limits]\nmax_header_bytes = 10\n",
        "upstream = \"http://127.0.0.1:1\"\n[posthog]\nhost = \"https://eu.posthog.com\"\napi_key_env = \"NOT_SET_ANYWHERE\"\n",
    ] {
        let checked = proxy(&["check"], config, &[]);
        let started = proxy(&[], config, &[]);
        assert_eq!(checked.status.code(), Some(2), "{config}");
        assert_eq!(started.status.code(), Some(2), "{config}");
        // The same line, but for the temporary file's name.
        let strip = |output: &Output| {
            let message = text(&output.stderr);
            message
                .split_once(", line ")
                .map_or(message.clone(), |(_, rest)| rest.to_string())
        };
        assert_eq!(strip(&checked), strip(&started), "{config}");
    }
}

#[test]
fn every_metric_has_a_help_line() {
    let runtime = runtime();
    let upstream = upstream(&runtime, rejecting_authorize, Duration::ZERO);
    let proxy = Proxy::start(
        upstream.address,
        "known_scopes = [\"read\", \"admin\"]\n[grantable]\ndefault = [\"read\"]\n[rate_limit]\nper_second = 1\nburst = 1\n",
    );
    for path in [
        "/authorize?client_id=wizard&scope=admin",
        "/authorize?client_id=wizard&scope=admin",
        "/page",
    ] {
        runtime.block_on(send(
            proxy.listen,
            Request::get(path).body(Bytes::new()).unwrap(),
        ));
    }
    let metrics = runtime.block_on(send(
        proxy.admin,
        Request::get("/metrics").body(Bytes::new()).unwrap(),
    ));
    let metrics = text(metrics.body());
    let typed: Vec<&str> = metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    for name in [
        "oauth_authorize_invalid_scope_total",
        "oauth_invalid_scope_events_suppressed_total",
        "invalid_scope_proxy_requests_total",
        "invalid_scope_proxy_open_connections",
    ] {
        assert!(typed.contains(&name), "{name} not exported:\n{metrics}");
    }
    for name in typed {
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with(&format!("# HELP {name} "))),
            "{name} has no HELP line:\n{metrics}"
        );
    }
    proxy.stop();
}

/// Each key's default is written twice, in its help (`[default: …]`, in
/// keys.rs) and where config.rs fills it in: `check` prints what a start
/// uses, and every default `--help` states must be what it prints.
#[test]
fn every_default_the_help_states_is_the_one_a_start_uses() {
    // Defaults the help describes in words rather than as a value.
    let described = [
        "upstream-ca",       // the system's roots
        "trusted-proxies",   // none
        "rate-limit-burst",  // per_second
        "correlation-store", // off without a correlation key, memory with one
        "correlation-authorize-paths",
        "correlation-redis-prefix",
        "correlation-keeps-per-second", // with store = "redis" only
    ];
    let help = Command::new(env!("CARGO_BIN_EXE_invalid-scope-proxy"))
        .arg("--help")
        .output()
        .unwrap();
    let help = text(&help.stdout);
    let printed = proxy(
        &["check"],
        "upstream = \"http://127.0.0.1:9\"\n[correlation]\n",
        &[],
    );
    assert!(printed.status.success(), "{}", text(&printed.stderr));
    let effective: toml::Table = text(&printed.stdout).parse().unwrap();
    let sections = [
        "grantable",
        "observe",
        "log",
        "rate_limit",
        "admin",
        "limits",
        "posthog",
        "correlation",
    ];
    let mut flag = None;
    let mut compared = 0;
    for line in help.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("--") {
            flag = rest.split_whitespace().next().map(str::to_string);
        }
        let (Some(flag), Some((_, default))) = (&flag, line.split_once("[default: ")) else {
            continue;
        };
        if described.contains(&flag.as_str()) {
            continue;
        }
        let default = default.split([']', ',']).next().unwrap();
        let key = flag.replace('-', "_");
        let value = match sections
            .iter()
            .find(|section| key.starts_with(&format!("{section}_")))
        {
            Some(section) => &effective[*section][&key[section.len() + 1..]],
            None => &effective[&key],
        };
        let value = match value {
            toml::Value::String(text) => text.clone(),
            toml::Value::Array(items) => items
                .iter()
                .map(|item| item.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        assert_eq!(
            value, default,
            "--{flag}: the help says {default}, a start uses {value}"
        );
        compared += 1;
    }
    assert!(compared >= 20, "{compared} defaults compared:\n{help}");
}
