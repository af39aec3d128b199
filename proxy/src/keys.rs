//! Every configuration key, declared once. A key is a field of [`Keys`] (or
//! of its section's struct): the field's name is the key in the file, its
//! type is the key's, its `long` is the flag (`--limits-max-headers`), the
//! flag names the variable (`INVALID_SCOPE_PROXY_LIMITS_MAX_HEADERS`), and
//! its doc comment is the help, default included. serde reads the file
//! into these structs, clap the flags and the variables; [`layered`] puts
//! flags and variables over the file. What a key means, its default and its
//! checks are in `config.rs`, which reads the layered keys.

use std::collections::HashMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, CommandFactory, FromArgMatches, Parser, ValueEnum};
use serde::{Deserialize, Serialize};

/// `invalid-scope-proxy`: puts invalid-scope-observer in front of any OAuth
/// 2.0 authorization server, without touching its code. Every
/// `invalid_scope` rejection the server answers (a redirect, or a JSON
/// answer of the token or PAR endpoint) becomes one structured log line on
/// stdout and a Prometheus counter; the server's answers pass unchanged.
///
/// Start it in front of a server on port 8000:
///
///   invalid-scope-proxy --upstream http://127.0.0.1:8000 --listen 127.0.0.1:8080
///
/// then point clients (or the ingress) at 127.0.0.1:8080. Metrics, health
/// and readiness are on the admin address (127.0.0.1:9464 by default):
/// /metrics, /healthz, /readyz. SIGTERM or SIGINT drains and exits 0;
/// SIGHUP reloads the grantable scope lists from the file.
///
/// Every key of the file is also a flag and a variable: flags win over
/// variables, variables over the file. Lists take commas; the per-client
/// map takes `client=scope,scope` entries separated by `;`.
#[derive(Debug, Parser)]
#[command(name = "invalid-scope-proxy", version, verbatim_doc_comment)]
pub(crate) struct Cli {
    /// `check`: read the configuration exactly as a start would, bind
    /// nothing, print the effective configuration (secrets as `<from
    /// $VAR>`), and exit 0, or 2 with the message a start would give. Run
    /// it before a reload (SIGHUP), as `nginx -t`.
    #[arg(value_enum, value_name = "COMMAND")]
    pub(crate) command: Option<Command>,
    /// A TOML file with any of the keys below (proxy/README.md has one).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) keys: Keys,
}

/// What the binary is asked to do besides serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Command {
    /// Check the configuration and print it; start nothing.
    Check,
}

/// The variable of a flag: `limits-max-headers` is
/// `INVALID_SCOPE_PROXY_LIMITS_MAX_HEADERS`.
fn variable_of(long: &str) -> String {
    format!(
        "INVALID_SCOPE_PROXY_{}",
        long.replace('-', "_").to_ascii_uppercase()
    )
}

impl Cli {
    /// The command line, and the variable of every flag:
    /// `--limits-max-headers` is also `INVALID_SCOPE_PROXY_LIMITS_MAX_HEADERS`.
    /// A bad flag or value prints clap's message and exits with status 2.
    pub(crate) fn from_env() -> Self {
        Self::try_from_args(std::env::args_os()).unwrap_or_else(|error| error.exit())
    }

    /// [`from_env`](Self::from_env) for given arguments (the first is the
    /// program's name); the variables are still read.
    pub(crate) fn try_from_args<I, T>(arguments: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        // `--help` names each variable but shows no value: an upstream or
        // a Redis URL may carry a password.
        let command = Self::command().mut_args(|arg| match arg.get_long() {
            Some(long) if !matches!(long, "help" | "version") => {
                let variable = variable_of(long);
                arg.env(variable).hide_env_values(true)
            }
            _ => arg,
        });
        Self::from_arg_matches(&command.try_get_matches_from(arguments)?)
    }
}

/// Every key. Top-level keys here, each section's in its own struct.
#[derive(Clone, Debug, Default, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Keys {
    /// Where clients connect [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,
    /// The authorization server, as http://host:port or https://host:port
    /// (required).
    #[arg(long, value_name = "URL")]
    pub(crate) upstream: Option<String>,
    /// For an https upstream: trust only the certificates in this PEM file
    /// [default: the system's roots].
    #[arg(long, value_name = "FILE")]
    pub(crate) upstream_ca: Option<PathBuf>,
    /// Every scope the server knows, comma-separated, or `discover` to read
    /// the upstream's `scopes_supported` (the registry that labels metrics,
    /// names unknown scopes, and without grantable lists names what is
    /// missing) [default: discover].
    #[arg(long, value_name = "SCOPES")]
    pub(crate) known_scopes: Option<KnownScopesKey>,
    /// With known_scopes = discover: seconds between two reads of the
    /// discovery document [default: 300].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) discover_interval: Option<u64>,
    /// Add X-Forwarded-For, -Proto and -Host [default: true].
    #[arg(long, value_name = "BOOL")]
    pub(crate) forwarded_headers: Option<bool>,
    /// Peers whose X-Forwarded-*, Forwarded and X-Real-IP are believed, as
    /// CIDR blocks, comma-separated (10.0.0.0/8,::1/128) [default: none].
    #[arg(long, value_delimiter = ',', value_name = "CIDRS")]
    pub(crate) trusted_proxies: Option<Vec<String>>,
    /// Seconds the upstream may take to answer, counted from the end of the
    /// request body, before a 504; also how long it may stall mid-answer
    /// [default: 30].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) upstream_timeout: Option<u64>,
    /// Seconds in-flight requests may take to finish on shutdown [default: 10].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) shutdown_deadline: Option<u64>,
    #[command(flatten)]
    #[serde(default)]
    pub(crate) grantable: GrantableKeys,
    #[command(flatten)]
    #[serde(default)]
    pub(crate) observe: ObserveKeys,
    #[command(flatten)]
    #[serde(default)]
    pub(crate) log: LogKeys,
    #[command(flatten)]
    #[serde(default)]
    pub(crate) rate_limit: RateLimitKeys,
    #[command(flatten)]
    #[serde(default)]
    pub(crate) admin: AdminKeys,
    #[command(flatten)]
    #[serde(default)]
    pub(crate) limits: LimitsKeys,
    #[command(flatten)]
    #[serde(default)]
    pub(crate) posthog: PostHogKeys,
    #[command(flatten)]
    #[serde(default)]
    pub(crate) correlation: CorrelationKeys,
}

/// `[grantable]`: the scopes each client may have (SIGHUP reloads them).
#[derive(Clone, Debug, Default, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantableKeys {
    /// Scopes of clients not listed in grantable.clients, comma-separated.
    #[arg(
        long = "grantable-default",
        value_delimiter = ',',
        value_name = "SCOPES"
    )]
    pub(crate) default: Option<Vec<String>>,
    /// Scopes per client: `wizard=read,write;partner=read`.
    #[arg(long = "grantable-clients", value_name = "CLIENTS")]
    pub(crate) clients: Option<Clients>,
}

/// `[observe]`: what is read, and how the server words its answers.
#[derive(Clone, Debug, Default, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ObserveKeys {
    /// Observe at all [default: true]; false forwards only (to measure what
    /// observing costs, or to bypass it without redeploying).
    #[arg(long = "observe-enabled", value_name = "BOOL")]
    pub(crate) enabled: Option<bool>,
    /// Read form bodies and token answers [default: true].
    #[arg(long = "observe-bodies", value_name = "BOOL")]
    pub(crate) bodies: Option<bool>,
    /// Bytes kept of each form and JSON answer [default: 8192].
    #[arg(long = "observe-body-limit", value_name = "BYTES")]
    pub(crate) body_limit: Option<usize>,
    /// JSON answer members that carry a redirect, read like a Location,
    /// comma-separated [default: redirect_to].
    #[arg(
        long = "observe-redirect-members",
        value_delimiter = ',',
        value_name = "MEMBERS"
    )]
    pub(crate) redirect_members: Option<Vec<String>>,
    /// Error codes that mean invalid scope, comma-separated [default:
    /// invalid_scope].
    #[arg(
        long = "observe-invalid-scope-codes",
        value_delimiter = ',',
        value_name = "CODES"
    )]
    pub(crate) invalid_scope_codes: Option<Vec<String>>,
}

/// `[log]`: the lines on stdout.
#[derive(Clone, Debug, Default, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogKeys {
    /// Log lines on stdout: json, logfmt or text [default: json].
    #[arg(long = "log-format", value_name = "FORMAT")]
    pub(crate) format: Option<LogFormat>,
    /// Put the client's address on every event as `client_ip` (the peer,
    /// or the address a trusted proxy reported): for abuse triage, at the
    /// cost of logging an address per rejection [default: false].
    #[arg(long = "log-client-ip", value_name = "BOOL")]
    pub(crate) client_ip: Option<bool>,
}

/// `[rate_limit]`: log events (not requests) per second of each name.
#[derive(Clone, Debug, Default, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitKeys {
    /// Log events per second of each name; requests are never limited
    /// [default: 100].
    #[arg(long = "rate-limit-per-second", value_name = "N")]
    pub(crate) per_second: Option<u32>,
    /// Log events at once after a quiet spell [default: per_second].
    #[arg(long = "rate-limit-burst", value_name = "N")]
    pub(crate) burst: Option<u32>,
}

/// `[admin]`: metrics, health and readiness.
#[derive(Clone, Debug, Default, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminKeys {
    /// Where /metrics, /healthz and /readyz answer [default: 127.0.0.1:9464].
    #[arg(id = "admin_listen", long = "admin-listen", value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,
}

/// `[limits]`: what one client may hold of the proxy.
#[derive(Clone, Debug, Default, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsKeys {
    /// Seconds for a whole request head, and for a connection with no
    /// request in flight, HTTP/1.1 and HTTP/2 alike [default: 10].
    #[arg(long = "limits-header-timeout", value_name = "SECONDS")]
    pub(crate) header_timeout: Option<u64>,
    /// Seconds without a byte of a request body before the connection is
    /// closed [default: 30].
    #[arg(long = "limits-body-timeout", value_name = "SECONDS")]
    pub(crate) body_timeout: Option<u64>,
    /// Connections at once; beyond, a new one is closed at once and counted
    /// [default: 10000].
    #[arg(long = "limits-max-connections", value_name = "N")]
    pub(crate) max_connections: Option<usize>,
    /// Bytes of a request head; a larger one is answered 431 (at least
    /// 8192) [default: 65536].
    #[arg(long = "limits-max-header-bytes", value_name = "BYTES")]
    pub(crate) max_header_bytes: Option<usize>,
    /// Header fields of a request; more are answered 431 [default: 100].
    #[arg(long = "limits-max-headers", value_name = "N")]
    pub(crate) max_headers: Option<usize>,
    /// Bytes of a request body; a larger one is answered 413, nothing of it
    /// forwarded past the cap; 0 for no cap [default: 10485760].
    #[arg(long = "limits-max-body-bytes", value_name = "BYTES")]
    pub(crate) max_body_bytes: Option<u64>,
}

/// `[posthog]`: where to send rejections; both keys or neither.
#[derive(Clone, Debug, Default, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostHogKeys {
    /// Send each rejection to PostHog at this host (with --posthog-api-key-env).
    #[arg(long = "posthog-host", value_name = "URL")]
    pub(crate) host: Option<String>,
    /// The name of the environment variable that holds the PostHog key (a
    /// key never sits in a file or on a command line).
    #[arg(long = "posthog-api-key-env", value_name = "NAME")]
    pub(crate) api_key_env: Option<String>,
}

/// `[correlation]`: following each authorization from authorize to token.
#[derive(Clone, Debug, Default, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CorrelationKeys {
    /// Follow each authorization from authorize to token to report the
    /// scopes a token answer drops: memory, redis or off [default: off
    /// without a [correlation] section in the file, memory with one; needs
    /// observe.bodies].
    #[arg(long = "correlation-store", value_name = "STORE")]
    pub(crate) store: Option<CorrelationStore>,
    /// Authorizations kept at most; when full the oldest goes [default: 100000].
    #[arg(long = "correlation-capacity", value_name = "N")]
    pub(crate) capacity: Option<usize>,
    /// Seconds an authorization waits for its token request [default: 600].
    #[arg(long = "correlation-ttl-seconds", value_name = "SECONDS")]
    pub(crate) ttl_seconds: Option<u64>,
    /// Bytes the kept authorizations may take in memory at most; when
    /// full the oldest go [default: 33554432, 32 MiB].
    #[arg(long = "correlation-max-memory", value_name = "BYTES")]
    pub(crate) max_memory: Option<usize>,
    /// The paths of the authorization endpoints, the only ones whose
    /// answers keep an authorization, comma-separated [default: from the
    /// discovery document with known_scopes = discover, else any path].
    #[arg(
        long = "correlation-authorize-paths",
        value_delimiter = ',',
        value_name = "PATHS"
    )]
    pub(crate) authorize_paths: Option<Vec<String>>,
    /// With store redis: the server, as redis://host:port/db (it may hold a
    /// password: --help never shows a variable's value).
    #[arg(
        long = "correlation-redis-url",
        value_name = "URL",
        hide_env_values = true
    )]
    pub(crate) redis_url: Option<String>,
    /// With store redis: the key of the link hashes, at least 32
    /// characters, the same on every instance (better as the variable than
    /// as a flag, which other users can see).
    #[arg(
        long = "correlation-hash-key",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub(crate) hash_key: Option<String>,
    /// With store redis: the namespace of this fleet's keys [default:
    /// invalid_scope_observer:<digest of the hash key>:].
    #[arg(long = "correlation-redis-prefix", value_name = "PREFIX")]
    pub(crate) redis_prefix: Option<String>,
    /// With store redis: authorizations this instance keeps per second at
    /// most; the rest are counted, not kept [default: 200].
    #[arg(long = "correlation-keeps-per-second", value_name = "N")]
    pub(crate) keeps_per_second: Option<u32>,
}

/// Where `[correlation]` keeps the authorizations it follows.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CorrelationStore {
    /// In this process (the default of a `[correlation]` section).
    #[default]
    Memory,
    /// In Redis, shared by a fleet (`redis_url`, `hash_key`).
    Redis,
    /// Not at all.
    Off,
}

/// How log lines look on stdout.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// One JSON object a line (`tracing-subscriber`'s JSON formatter).
    #[default]
    Json,
    /// `key=value` lines (`tracing-logfmt`).
    Logfmt,
    /// Plain text for a person at a terminal.
    Text,
}

/// `known_scopes` as written: a list, or a word (`"discover"`). As a flag
/// or variable, `discover` or the scopes, comma-separated.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub(crate) enum KnownScopesKey {
    Listed(Vec<String>),
    Word(String),
}

impl FromStr for KnownScopesKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text.trim() {
            "discover" => Self::Word("discover".into()),
            listed => Self::Listed(comma_separated(listed)),
        })
    }
}

/// `[grantable] clients`: the scopes of each client. As a flag or
/// variable, `client=scope,scope` entries separated by `;`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub(crate) struct Clients(pub(crate) HashMap<String, Vec<String>>);

impl FromStr for Clients {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.split(';')
            .filter(|entry| !entry.trim().is_empty())
            .map(|entry| {
                let (client, scopes) = entry
                    .split_once('=')
                    .ok_or_else(|| format!("{entry:?} is not client=scope,scope"))?;
                let scopes = comma_separated(scopes);
                // A scope token holds no space (RFC 6749 §3.3): `read write`
                // is the space-separated form this flag no longer takes.
                if let Some(spaced) = scopes.iter().find(|scope| scope.contains(char::is_whitespace)) {
                    return Err(format!(
                        "{spaced:?} is not one scope: separate scopes with commas (client=read,write)"
                    ));
                }
                Ok((client.trim().to_string(), scopes))
            })
            .collect::<Result<_, String>>()
            .map(Self)
    }
}

/// The items of a comma-separated list, trimmed, empty ones dropped.
fn comma_separated(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// The file's keys (as a table) with the flags' and variables' keys over
/// them: a section's keys one by one, every other key whole. A section
/// stays absent when no flag or variable gives one of its keys.
pub(crate) fn layered(mut file: toml::Table, over: &Keys) -> Result<toml::Table, String> {
    let over = toml::Table::try_from(over)
        .map_err(|error| format!("a flag or variable: {}", error.to_string().trim()))?;
    for (key, value) in over {
        match (file.get_mut(&key), value) {
            (Some(toml::Value::Table(section)), toml::Value::Table(keys)) => section.extend(keys),
            (_, toml::Value::Table(keys)) if keys.is_empty() => {}
            (_, value) => {
                file.insert(key, value);
            }
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(arguments: &[&str]) -> Keys {
        Cli::try_from_args(std::iter::once("invalid-scope-proxy").chain(arguments.iter().copied()))
            .unwrap()
            .keys
    }

    #[test]
    fn every_flag_has_the_variable_its_name_gives() {
        assert_eq!(
            variable_of("limits-max-headers"),
            "INVALID_SCOPE_PROXY_LIMITS_MAX_HEADERS"
        );
        let flags: Vec<String> = Cli::command()
            .get_arguments()
            .filter_map(|arg| arg.get_long().map(str::to_string))
            .collect();
        assert!(flags.contains(&"limits-max-headers".to_string()));
        let help = Cli::try_from_args(["invalid-scope-proxy", "--help"])
            .unwrap_err()
            .to_string();
        for flag in flags
            .iter()
            .filter(|flag| *flag != "help" && *flag != "version")
        {
            let variable = variable_of(flag);
            assert!(help.contains(&variable), "{variable} in {help}");
        }
    }

    #[test]
    fn the_file_and_the_flags_name_the_same_keys() {
        // Every key given as a flag comes out as the key the file names.
        let given = keys(&[
            "--listen",
            "127.0.0.1:1",
            "--admin-listen",
            "127.0.0.1:2",
            "--limits-max-headers",
            "7",
            "--grantable-clients",
            "wizard=read, write;partner=read",
            "--known-scopes",
            "read,write",
        ]);
        let table = layered(toml::Table::new(), &given).unwrap();
        assert_eq!(table["listen"].as_str(), Some("127.0.0.1:1"));
        assert_eq!(table["admin"]["listen"].as_str(), Some("127.0.0.1:2"));
        assert_eq!(table["limits"]["max_headers"].as_integer(), Some(7));
        let clients = &table["grantable"]["clients"];
        assert_eq!(
            clients["wizard"],
            toml::Value::try_from(["read", "write"]).unwrap()
        );
        assert_eq!(clients["partner"], toml::Value::try_from(["read"]).unwrap());
        assert_eq!(
            table["known_scopes"],
            toml::Value::try_from(["read", "write"]).unwrap()
        );
        assert!(!table.contains_key("correlation"), "no key, no section");
    }

    #[test]
    fn flags_go_over_the_file_key_by_key() {
        let file: toml::Table = "[limits]\nmax_headers = 5\nbody_timeout = 9\n\
                                 [grantable.clients]\nold = [\"a\"]\n"
            .parse()
            .unwrap();
        let over = keys(&["--limits-max-headers", "7", "--grantable-clients", "new=b"]);
        let table = layered(file, &over).unwrap();
        assert_eq!(table["limits"]["max_headers"].as_integer(), Some(7));
        assert_eq!(table["limits"]["body_timeout"].as_integer(), Some(9));
        let clients = table["grantable"]["clients"].as_table().unwrap();
        assert_eq!(
            clients.keys().collect::<Vec<_>>(),
            ["new"],
            "the map is one value"
        );
    }

    #[test]
    fn lists_take_commas_and_the_map_takes_semicolons() {
        let Clients(clients) = "wizard=read,write; partner = read ;".parse().unwrap();
        assert_eq!(clients["wizard"], ["read", "write"]);
        assert_eq!(clients["partner"], ["read"]);
        assert!("wizard".parse::<Clients>().is_err());
        let old_syntax = "partner=read write".parse::<Clients>().unwrap_err();
        assert!(old_syntax.contains("commas"), "{old_syntax}");
        assert!(matches!(
            "discover".parse::<KnownScopesKey>(),
            Ok(KnownScopesKey::Word(word)) if word == "discover"
        ));
        assert!(matches!(
            "a, b".parse::<KnownScopesKey>(),
            Ok(KnownScopesKey::Listed(list)) if list == ["a", "b"]
        ));
        let given = keys(&[
            "--grantable-default",
            "a,b",
            "--trusted-proxies",
            "10.0.0.0/8,::1",
        ]);
        assert_eq!(given.grantable.default.unwrap(), ["a", "b"]);
        assert_eq!(given.trusted_proxies.unwrap(), ["10.0.0.0/8", "::1"]);
    }
}
