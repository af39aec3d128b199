//! `invalid-scope-proxy check`: the configuration as a start would read it,
//! printed, with every secret named by where it came from, never shown.

use std::fmt::Write as _;

use crate::config::{Config, KnownScopesSource};
use crate::redact::Redacted;

/// What a start checks beyond [`Config::load`] before it binds anything:
/// the PostHog key's variable must be set.
pub(crate) fn ready_to_start(config: &Config) -> Result<(), String> {
    if let Some(posthog) = &config.posthog {
        if std::env::var_os(&posthog.api_key_env).is_none() {
            return Err(format!(
                "`posthog.api_key_env`: the environment variable {} is not set",
                posthog.api_key_env
            ));
        }
    }
    Ok(())
}

/// A secret as `check` shows it: the variable it came from, or `<hidden>`.
fn secret(value: &str, variable: &str) -> String {
    match std::env::var(variable) {
        Ok(from_env) if from_env == value => format!("\"<from ${variable}>\""),
        _ => "\"<hidden>\"".to_string(),
    }
}

fn list(items: impl IntoIterator<Item = impl std::fmt::Display>) -> String {
    let items: Vec<String> = items
        .into_iter()
        .map(|item| format!("\"{item}\""))
        .collect();
    format!("[{}]", items.join(", "))
}

/// The effective configuration as TOML, every default filled in.
pub(crate) fn render(config: &Config) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "listen = \"{}\"", config.listen);
    let _ = writeln!(w, "upstream = \"{}\"", Redacted(&config.upstream));
    if let Some(ca) = &config.upstream_ca {
        let _ = writeln!(w, "upstream_ca = \"{}\"", ca.display());
    }
    match &config.known_scopes {
        KnownScopesSource::Listed(scopes) => {
            let _ = writeln!(w, "known_scopes = {}", list(scopes));
        }
        KnownScopesSource::Discover { interval } => {
            let _ = writeln!(w, "known_scopes = \"discover\"");
            let _ = writeln!(w, "discover_interval = {}", interval.as_secs());
        }
    }
    let _ = writeln!(w, "forwarded_headers = {}", config.forwarded_headers);
    let _ = writeln!(w, "trusted_proxies = {}", list(&config.trusted_proxies));
    let _ = writeln!(
        w,
        "upstream_timeout = {}",
        config.upstream_timeout.as_secs()
    );
    let _ = writeln!(
        w,
        "shutdown_deadline = {}",
        config.shutdown_deadline.as_secs()
    );
    if let Some(grantable) = &config.grantable {
        let _ = writeln!(w, "\n[grantable]\ndefault = {}", list(&grantable.default));
        let mut clients: Vec<_> = grantable.clients.iter().collect();
        clients.sort();
        let clients: Vec<String> = clients
            .into_iter()
            .map(|(client, scopes)| format!("\"{client}\" = {}", list(scopes)))
            .collect();
        let _ = writeln!(w, "clients = {{ {} }}", clients.join(", "));
    }
    let _ = writeln!(
        w,
        "\n[observe]\nenabled = {}\nbodies = {}\nbody_limit = {}\nredirect_members = {}\ninvalid_scope_codes = {}",
        config.observe_enabled,
        config.observe_bodies,
        config.body_limit,
        list(&config.redirect_members),
        list(&config.invalid_scope_codes)
    );
    let _ = writeln!(
        w,
        "\n[log]\nformat = \"{}\"\nclient_ip = {}",
        format!("{:?}", config.log_format).to_lowercase(),
        config.log_client_ip
    );
    let _ = writeln!(
        w,
        "\n[rate_limit]\nper_second = {}\nburst = {}",
        config.per_second, config.burst
    );
    let _ = writeln!(w, "\n[admin]\nlisten = \"{}\"", config.admin_listen);
    let limits = &config.limits;
    let _ = writeln!(
        w,
        "\n[limits]\nheader_timeout = {}\nbody_timeout = {}\nmax_connections = {}\nmax_header_bytes = {}\nmax_headers = {}\nmax_body_bytes = {}",
        limits.header_timeout.as_secs(),
        limits.body_timeout.as_secs(),
        limits.max_connections,
        limits.max_header_bytes,
        limits.max_headers,
        limits.max_body_bytes.unwrap_or(0)
    );
    if let Some(posthog) = &config.posthog {
        let _ = writeln!(
            w,
            "\n[posthog]\nhost = \"{}\"\napi_key_env = \"{}\"  # the key: \"<from ${}>\"",
            posthog.host, posthog.api_key_env, posthog.api_key_env
        );
    }
    match &config.correlation {
        None => {
            let _ = writeln!(w, "\n[correlation]\nstore = \"off\"");
        }
        Some(correlation) => {
            let store = if correlation.redis.is_some() {
                "redis"
            } else {
                "memory"
            };
            let _ = writeln!(
                w,
                "\n[correlation]\nstore = \"{store}\"\ncapacity = {}\nmax_memory = {}\nttl_seconds = {}",
                correlation.capacity,
                correlation.max_memory,
                correlation.ttl.as_secs()
            );
            match &correlation.authorize_paths {
                Some(paths) => {
                    let _ = writeln!(w, "authorize_paths = {}", list(paths));
                }
                None => {
                    let _ = writeln!(w, "# authorize_paths: from discovery, else any path");
                }
            }
            if let Some(shared) = &correlation.redis {
                let _ = writeln!(
                    w,
                    "redis_url = {}\nhash_key = {}\nkeeps_per_second = {}",
                    secret(&shared.url, "INVALID_SCOPE_PROXY_CORRELATION_REDIS_URL"),
                    secret(&shared.hash_key, "INVALID_SCOPE_PROXY_CORRELATION_HASH_KEY"),
                    shared.keeps_per_second
                );
                match &shared.prefix {
                    Some(prefix) => {
                        let _ = writeln!(w, "redis_prefix = \"{prefix}\"");
                    }
                    None => {
                        let _ = writeln!(w, "# redis_prefix: from the hash key's digest");
                    }
                }
            }
        }
    }
    out
}
