//! The configuration: a TOML file (`--config FILE`), each key overridable by
//! a flag and by an environment variable `INVALID_SCOPE_PROXY_<KEY>`
//! (flags win over variables, variables over the file). Everything is
//! checked before anything starts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use http::Uri;
use serde::Deserialize;

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
#[derive(Debug, Parser)]
#[command(name = "invalid-scope-proxy", version, verbatim_doc_comment)]
pub(crate) struct Cli {
    /// `check`: read the configuration exactly as a start would, bind
    /// nothing, print the effective configuration (secrets as `<from
    /// $VAR>`), and exit 0, or 2 with the message a start would give. Run
    /// it before a reload (SIGHUP), as `nginx -t`.
    #[arg(value_enum, value_name = "COMMAND")]
    pub(crate) command: Option<Command>,
    /// A TOML file with any of the keys below (see the README for one).
    #[arg(long, env = "INVALID_SCOPE_PROXY_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Where clients connect [default: 127.0.0.1:8080].
    #[arg(long, env = "INVALID_SCOPE_PROXY_LISTEN", value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The authorization server, as http://host:port or https://host:port
    /// (required).
    #[arg(long, env = "INVALID_SCOPE_PROXY_UPSTREAM", value_name = "URL")]
    upstream: Option<String>,
    /// For an https upstream: trust only the certificates in this PEM file
    /// [default: the system's roots].
    #[arg(long, env = "INVALID_SCOPE_PROXY_UPSTREAM_CA", value_name = "FILE")]
    upstream_ca: Option<PathBuf>,
    /// Every scope the server knows, comma-separated, or `discover` to read
    /// the upstream's `scopes_supported` (the registry that labels metrics,
    /// names unknown scopes, and without grantable lists names what is
    /// missing) [default: discover].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_KNOWN_SCOPES",
        value_delimiter = ',',
        value_name = "SCOPES"
    )]
    known_scopes: Option<Vec<String>>,
    /// With known_scopes = discover: seconds between two reads of the
    /// discovery document [default: 300].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_DISCOVER_INTERVAL",
        value_name = "SECONDS"
    )]
    discover_interval: Option<u64>,
    /// Scopes of clients not listed in grantable.clients, comma-separated.
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_GRANTABLE_DEFAULT",
        value_delimiter = ',',
        value_name = "SCOPES"
    )]
    grantable_default: Option<Vec<String>>,
    /// Scopes per client: `wizard=read;partner=read write`.
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_GRANTABLE_CLIENTS",
        value_name = "CLIENTS"
    )]
    grantable_clients: Option<String>,
    /// Observe at all [default: true]; false forwards only (to measure what
    /// observing costs, or to bypass it without redeploying).
    #[arg(long, env = "INVALID_SCOPE_PROXY_OBSERVE_ENABLED", value_name = "BOOL")]
    observe_enabled: Option<bool>,
    /// Read form bodies and token answers [default: true].
    #[arg(long, env = "INVALID_SCOPE_PROXY_OBSERVE_BODIES", value_name = "BOOL")]
    observe_bodies: Option<bool>,
    /// Bytes kept of each form and JSON answer [default: 8192].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_OBSERVE_BODY_LIMIT",
        value_name = "BYTES"
    )]
    observe_body_limit: Option<usize>,
    /// JSON answer members that carry a redirect, read like a Location,
    /// comma-separated [default: redirect_to].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_OBSERVE_REDIRECT_MEMBERS",
        value_delimiter = ',',
        value_name = "MEMBERS"
    )]
    observe_redirect_members: Option<Vec<String>>,
    /// Error codes that mean invalid scope, comma-separated [default:
    /// invalid_scope].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_OBSERVE_INVALID_SCOPE_CODES",
        value_delimiter = ',',
        value_name = "CODES"
    )]
    observe_invalid_scope_codes: Option<Vec<String>>,
    /// Log lines on stdout: json, logfmt or text [default: json].
    #[arg(long, env = "INVALID_SCOPE_PROXY_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    /// Put the client's address on every event as `client_ip` (the peer,
    /// or the address a trusted proxy reported): for abuse triage, at the
    /// cost of logging an address per rejection [default: false].
    #[arg(long, env = "INVALID_SCOPE_PROXY_LOG_CLIENT_IP", value_name = "BOOL")]
    log_client_ip: Option<bool>,
    /// Events per second of each name [default: 100].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_RATE_LIMIT_PER_SECOND",
        value_name = "N"
    )]
    rate_limit_per_second: Option<u32>,
    /// Events at once after a quiet spell [default: 100].
    #[arg(long, env = "INVALID_SCOPE_PROXY_RATE_LIMIT_BURST", value_name = "N")]
    rate_limit_burst: Option<u32>,
    /// Where /metrics, /healthz and /readyz answer [default: 127.0.0.1:9464].
    #[arg(long, env = "INVALID_SCOPE_PROXY_ADMIN_LISTEN", value_name = "ADDR")]
    admin_listen: Option<SocketAddr>,
    /// Add X-Forwarded-For, -Proto and -Host [default: true].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_FORWARDED_HEADERS",
        value_name = "BOOL"
    )]
    forwarded_headers: Option<bool>,
    /// Peers whose X-Forwarded-*, Forwarded and X-Real-IP are believed, as
    /// CIDR blocks, comma-separated (10.0.0.0/8,::1/128) [default: none].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "CIDRS"
    )]
    trusted_proxies: Option<Vec<String>>,
    /// Seconds the upstream may take to answer, counted from the end of the
    /// request body, before a 504; also how long it may stall mid-answer
    /// [default: 30].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_UPSTREAM_TIMEOUT",
        value_name = "SECONDS"
    )]
    upstream_timeout: Option<u64>,
    /// Seconds for a whole request head, and for a connection with no
    /// request in flight, HTTP/1.1 and HTTP/2 alike [default: 10].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_LIMITS_HEADER_TIMEOUT",
        value_name = "SECONDS"
    )]
    limits_header_timeout: Option<u64>,
    /// Seconds without a byte of a request body before the connection is
    /// closed [default: 30].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_LIMITS_BODY_TIMEOUT",
        value_name = "SECONDS"
    )]
    limits_body_timeout: Option<u64>,
    /// Connections at once; beyond, a new one is closed at once and counted
    /// [default: 10000].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_LIMITS_MAX_CONNECTIONS",
        value_name = "N"
    )]
    limits_max_connections: Option<usize>,
    /// Bytes of a request head; a larger one is answered 431 (at least
    /// 8192) [default: 65536].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_LIMITS_MAX_HEADER_BYTES",
        value_name = "BYTES"
    )]
    limits_max_header_bytes: Option<usize>,
    /// Header fields of a request; more are answered 431 [default: 100].
    #[arg(long, env = "INVALID_SCOPE_PROXY_LIMITS_MAX_HEADERS", value_name = "N")]
    limits_max_headers: Option<usize>,
    /// Bytes of a request body; a larger one is answered 413, nothing of it
    /// forwarded past the cap; 0 for no cap [default: 10485760].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_LIMITS_MAX_BODY_BYTES",
        value_name = "BYTES"
    )]
    limits_max_body_bytes: Option<u64>,
    /// Seconds in-flight requests may take to finish on shutdown [default: 10].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_SHUTDOWN_DEADLINE",
        value_name = "SECONDS"
    )]
    shutdown_deadline: Option<u64>,
    /// Send each rejection to PostHog at this host (with --posthog-api-key-env).
    #[arg(long, env = "INVALID_SCOPE_PROXY_POSTHOG_HOST", value_name = "URL")]
    posthog_host: Option<String>,
    /// The name of the environment variable that holds the PostHog key (a
    /// key never sits in a file or on a command line).
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_POSTHOG_API_KEY_ENV",
        value_name = "NAME"
    )]
    posthog_api_key_env: Option<String>,
    /// Follow each authorization from authorize to token to report the
    /// scopes a token answer drops: memory, redis or off [default: off
    /// without a [correlation] section, memory with one; needs
    /// observe.bodies].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_CORRELATION_STORE",
        value_name = "STORE"
    )]
    correlation_store: Option<CorrelationStore>,
    /// Authorizations kept at most; when full the oldest goes [default: 100000].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_CORRELATION_CAPACITY",
        value_name = "N"
    )]
    correlation_capacity: Option<usize>,
    /// Seconds an authorization waits for its token request [default: 600].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_CORRELATION_TTL_SECONDS",
        value_name = "SECONDS"
    )]
    correlation_ttl_seconds: Option<u64>,
    /// Bytes the kept authorizations may take in memory at most; when
    /// full the oldest go [default: 33554432, 32 MiB].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_CORRELATION_MAX_MEMORY",
        value_name = "BYTES"
    )]
    correlation_max_memory: Option<usize>,
    /// The paths of the authorization endpoints, the only ones whose
    /// answers keep an authorization, comma-separated [default: from the
    /// discovery document with known_scopes = discover, else any path].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_CORRELATION_AUTHORIZE_PATHS",
        value_delimiter = ',',
        value_name = "PATHS"
    )]
    correlation_authorize_paths: Option<Vec<String>>,
    /// With store redis: the namespace of this fleet's keys [default:
    /// invalid_scope_observer:<digest of the hash key>:].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_CORRELATION_REDIS_PREFIX",
        value_name = "PREFIX"
    )]
    correlation_redis_prefix: Option<String>,
    /// With store redis: authorizations this instance keeps per second at
    /// most; the rest are counted, not kept [default: 200].
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_CORRELATION_KEEPS_PER_SECOND",
        value_name = "N"
    )]
    correlation_keeps_per_second: Option<u32>,
    /// With store redis: the server, as redis://host:port/db (it may hold a
    /// password: --help never shows the variable's value).
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_CORRELATION_REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    correlation_redis_url: Option<String>,
    /// With store redis: the key of the link hashes, at least 32
    /// characters, the same on every instance (better as the variable than
    /// as a flag, which other users can see).
    #[arg(
        long,
        env = "INVALID_SCOPE_PROXY_CORRELATION_HASH_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    correlation_hash_key: Option<String>,
}

/// What the binary is asked to do besides serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Command {
    /// Check the configuration and print it; start nothing.
    Check,
}

/// Where `[correlation]` keeps the authorizations it follows.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, ValueEnum)]
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
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, ValueEnum)]
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

/// The file, as written: every key optional, none unknown.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<SocketAddr>,
    upstream: Option<String>,
    upstream_ca: Option<PathBuf>,
    known_scopes: Option<KnownScopesKey>,
    discover_interval: Option<u64>,
    forwarded_headers: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    upstream_timeout: Option<u64>,
    shutdown_deadline: Option<u64>,
    grantable: Option<GrantableSection>,
    #[serde(default)]
    observe: ObserveSection,
    #[serde(default)]
    log: LogSection,
    #[serde(default)]
    rate_limit: RateLimitSection,
    #[serde(default)]
    admin: AdminSection,
    posthog: Option<PostHog>,
    correlation: Option<CorrelationSection>,
    #[serde(default)]
    limits: LimitsSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    header_timeout: Option<u64>,
    body_timeout: Option<u64>,
    max_connections: Option<usize>,
    max_header_bytes: Option<usize>,
    max_headers: Option<usize>,
    max_body_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorrelationSection {
    store: Option<CorrelationStore>,
    redis_url: Option<String>,
    hash_key: Option<String>,
    capacity: Option<usize>,
    ttl_seconds: Option<u64>,
    max_memory: Option<usize>,
    authorize_paths: Option<Vec<String>>,
    redis_prefix: Option<String>,
    keeps_per_second: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantableSection {
    default: Option<Vec<String>>,
    clients: Option<HashMap<String, Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObserveSection {
    enabled: Option<bool>,
    bodies: Option<bool>,
    body_limit: Option<usize>,
    redirect_members: Option<Vec<String>>,
    invalid_scope_codes: Option<Vec<String>>,
}

/// `known_scopes` as written: a list, or the word `"discover"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KnownScopesKey {
    Listed(Vec<String>),
    Word(String),
}

/// Where the known scopes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KnownScopesSource {
    /// As configured.
    Listed(Vec<String>),
    /// The upstream's discovery document's `scopes_supported`, read at
    /// start and every `interval`.
    Discover { interval: Duration },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSection {
    format: Option<LogFormat>,
    client_ip: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitSection {
    per_second: Option<u32>,
    burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminSection {
    listen: Option<SocketAddr>,
}

/// `[posthog]`: where to send rejections, and the name of the environment
/// variable that holds the key (a key never sits in the file).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostHog {
    pub(crate) host: String,
    pub(crate) api_key_env: String,
}

/// The scopes each client may have: the part SIGHUP reloads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Grantable {
    pub(crate) default: Vec<String>,
    pub(crate) clients: HashMap<String, Vec<String>>,
}

/// Everything resolved, defaults filled in.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) upstream: Uri,
    /// The roots trusted for an https upstream (`upstream_ca`, or the
    /// system's).
    pub(crate) upstream_tls: rustls::ClientConfig,
    pub(crate) upstream_ca: Option<PathBuf>,
    pub(crate) known_scopes: KnownScopesSource,
    /// `None` without a `[grantable]` section (or flags): no lists.
    pub(crate) grantable: Option<Grantable>,
    pub(crate) redirect_members: Vec<String>,
    pub(crate) invalid_scope_codes: Vec<String>,
    pub(crate) observe_enabled: bool,
    pub(crate) observe_bodies: bool,
    pub(crate) body_limit: usize,
    pub(crate) log_format: LogFormat,
    /// `[log] client_ip`: a `client_ip` on every event.
    pub(crate) log_client_ip: bool,
    pub(crate) per_second: u32,
    pub(crate) burst: u32,
    pub(crate) admin_listen: SocketAddr,
    pub(crate) forwarded_headers: bool,
    /// Peers whose forwarding headers are believed.
    pub(crate) trusted_proxies: Vec<ipnet::IpNet>,
    pub(crate) upstream_timeout: Duration,
    pub(crate) shutdown_deadline: Duration,
    pub(crate) posthog: Option<PostHog>,
    /// `[correlation]`, resolved; `None` when off.
    pub(crate) correlation: Option<Correlation>,
    pub(crate) limits: crate::limits::Limits,
}

/// How authorizations are followed from authorize to token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Correlation {
    pub(crate) capacity: usize,
    pub(crate) ttl: Duration,
    pub(crate) max_memory: usize,
    /// `None`: from discovery when the proxy discovers, else any path.
    pub(crate) authorize_paths: Option<Vec<String>>,
    /// With `store = "redis"`: the server and the hash key.
    pub(crate) redis: Option<SharedStore>,
}

/// A Redis server a fleet shares, the key of its link hashes, its
/// namespace and this instance's keep budget.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SharedStore {
    pub(crate) url: String,
    pub(crate) hash_key: String,
    pub(crate) prefix: Option<String>,
    pub(crate) keeps_per_second: u32,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the key nor a password in the URL.
        f.debug_struct("SharedStore").finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the file (if any), then the variables and flags over it.
    /// The error is one line that names the key (and, for the file, the
    /// line), for the process to print before it exits with status 2.
    pub(crate) fn load(cli: &Cli) -> Result<Self, String> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => File::default(),
        };
        let upstream = cli
            .upstream
            .clone()
            .or(file.upstream)
            .ok_or("missing `upstream`: give it in the file, as --upstream or as INVALID_SCOPE_PROXY_UPSTREAM")?;
        let upstream = parse_upstream(&upstream)?;
        let upstream_ca = cli.upstream_ca.clone().or(file.upstream_ca);
        let upstream_tls = crate::tls::client_config(&upstream, upstream_ca.as_deref())?;
        let listed = file.grantable.is_some()
            || cli.grantable_default.is_some()
            || cli.grantable_clients.is_some();
        let section = file.grantable.unwrap_or_default();
        let grantable = Grantable {
            default: cli
                .grantable_default
                .clone()
                .or(section.default)
                .unwrap_or_default(),
            clients: match &cli.grantable_clients {
                Some(text) => parse_clients(text)?,
                None => section.clients.unwrap_or_default(),
            },
        };
        let grantable = listed.then_some(grantable);
        let known_scopes = known_scopes(cli, file.known_scopes, file.discover_interval)?;
        let redirect_members = cli
            .observe_redirect_members
            .clone()
            .or(file.observe.redirect_members)
            .unwrap_or_else(|| vec!["redirect_to".to_string()]);
        let invalid_scope_codes = cli
            .observe_invalid_scope_codes
            .clone()
            .or(file.observe.invalid_scope_codes)
            .unwrap_or_else(|| vec!["invalid_scope".to_string()]);
        if invalid_scope_codes.is_empty() {
            return Err("`observe.invalid_scope_codes` needs at least one code".into());
        }
        let per_second = cli
            .rate_limit_per_second
            .or(file.rate_limit.per_second)
            .unwrap_or(100);
        let burst = cli
            .rate_limit_burst
            .or(file.rate_limit.burst)
            .unwrap_or(per_second);
        if per_second == 0 || burst == 0 {
            return Err("`rate_limit`: per_second and burst must be at least 1".into());
        }
        let body_limit = cli
            .observe_body_limit
            .or(file.observe.body_limit)
            .unwrap_or(8 * 1024);
        if body_limit == 0 {
            return Err("`observe.body_limit` must be at least 1 (set `observe.bodies = false` to read no body)".into());
        }
        Ok(Self {
            listen: cli
                .listen
                .or(file.listen)
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            upstream,
            upstream_tls,
            upstream_ca,
            known_scopes,
            grantable,
            redirect_members,
            invalid_scope_codes,
            observe_enabled: cli.observe_enabled.or(file.observe.enabled).unwrap_or(true),
            observe_bodies: cli.observe_bodies.or(file.observe.bodies).unwrap_or(true),
            body_limit,
            log_format: cli.log_format.or(file.log.format).unwrap_or_default(),
            log_client_ip: cli.log_client_ip.or(file.log.client_ip).unwrap_or(false),
            per_second,
            burst,
            admin_listen: cli
                .admin_listen
                .or(file.admin.listen)
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9464))),
            trusted_proxies: trusted_proxies(cli, file.trusted_proxies)?,
            forwarded_headers: cli
                .forwarded_headers
                .or(file.forwarded_headers)
                .unwrap_or(true),
            upstream_timeout: Duration::from_secs(
                cli.upstream_timeout.or(file.upstream_timeout).unwrap_or(30),
            ),
            shutdown_deadline: Duration::from_secs(
                cli.shutdown_deadline
                    .or(file.shutdown_deadline)
                    .unwrap_or(10),
            ),
            posthog: posthog(cli, file.posthog)?,
            correlation: correlation(cli, file.correlation)?,
            limits: limits(cli, file.limits)?,
        })
    }
}

/// `[limits]`, each key overridden by its flag or variable.
fn limits(cli: &Cli, file: LimitsSection) -> Result<crate::limits::Limits, String> {
    let seconds = |flag: Option<u64>, key: Option<u64>, default: u64, name: &str| match flag
        .or(key)
        .unwrap_or(default)
    {
        0 => Err(format!("`limits.{name}` must be at least 1 second")),
        seconds => Ok(Duration::from_secs(seconds)),
    };
    let max_header_bytes = cli
        .limits_max_header_bytes
        .or(file.max_header_bytes)
        .unwrap_or(65536);
    // hyper's smallest read buffer.
    if max_header_bytes < 8192 {
        return Err("`limits.max_header_bytes` must be at least 8192".into());
    }
    let max_connections = cli
        .limits_max_connections
        .or(file.max_connections)
        .unwrap_or(10_000);
    let max_headers = cli.limits_max_headers.or(file.max_headers).unwrap_or(100);
    if max_connections == 0 || max_headers == 0 {
        return Err("`limits`: max_connections and max_headers must be at least 1".into());
    }
    let max_body_bytes = cli
        .limits_max_body_bytes
        .or(file.max_body_bytes)
        .unwrap_or(10 << 20);
    Ok(crate::limits::Limits {
        header_timeout: seconds(
            cli.limits_header_timeout,
            file.header_timeout,
            10,
            "header_timeout",
        )?,
        body_timeout: seconds(
            cli.limits_body_timeout,
            file.body_timeout,
            30,
            "body_timeout",
        )?,
        max_connections,
        max_header_bytes,
        max_headers,
        max_body_bytes: (max_body_bytes > 0).then_some(max_body_bytes),
    })
}

/// `trusted_proxies`: CIDR blocks, or a bare address (one host).
fn trusted_proxies(cli: &Cli, file: Option<Vec<String>>) -> Result<Vec<ipnet::IpNet>, String> {
    cli.trusted_proxies
        .clone()
        .or(file)
        .unwrap_or_default()
        .iter()
        .map(|text| {
            let text = text.trim();
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("`trusted_proxies`: {text:?} is not a CIDR block (10.0.0.0/8, fd00::/8) or an address"))
        })
        .collect()
}

/// `known_scopes` and `discover_interval`: a list, or discovery (the
/// default).
fn known_scopes(
    cli: &Cli,
    file: Option<KnownScopesKey>,
    file_interval: Option<u64>,
) -> Result<KnownScopesSource, String> {
    let written = match (&cli.known_scopes, file) {
        (Some(flag), _) if flag.len() == 1 && flag[0] == "discover" => None,
        (Some(flag), _) => Some(flag.clone()),
        (None, Some(KnownScopesKey::Listed(list))) => Some(list),
        (None, Some(KnownScopesKey::Word(word))) if word == "discover" => None,
        (None, Some(KnownScopesKey::Word(word))) => {
            return Err(format!(
                "`known_scopes`: {word:?} is neither a list of scopes nor \"discover\""
            ))
        }
        (None, None) => None,
    };
    if let Some(list) = written {
        return Ok(KnownScopesSource::Listed(list));
    }
    let interval = cli.discover_interval.or(file_interval).unwrap_or(300);
    if interval == 0 {
        return Err("`discover_interval` must be at least 1 second".into());
    }
    Ok(KnownScopesSource::Discover {
        interval: Duration::from_secs(interval),
    })
}

/// `[correlation]`, each key overridden by its flag or variable.
fn correlation(cli: &Cli, file: Option<CorrelationSection>) -> Result<Option<Correlation>, String> {
    // Following costs about 1.6 us per success code redirect (BENCHMARKS.md):
    // asked for by a section or a flag, never by default.
    let asked = file.is_some() || cli.correlation_store.is_some();
    let file = file.unwrap_or_default();
    let store = match cli.correlation_store.or(file.store) {
        Some(store) => store,
        None if asked => CorrelationStore::Memory,
        None => CorrelationStore::Off,
    };
    let capacity = cli
        .correlation_capacity
        .or(file.capacity)
        .unwrap_or(100_000);
    let ttl_seconds = cli
        .correlation_ttl_seconds
        .or(file.ttl_seconds)
        .unwrap_or(600);
    if capacity == 0 || ttl_seconds == 0 {
        return Err("`correlation`: capacity and ttl_seconds must be at least 1 (set `store = \"off\"` to follow nothing)".into());
    }
    let ttl = Duration::from_secs(ttl_seconds);
    let max_memory = cli
        .correlation_max_memory
        .or(file.max_memory)
        .unwrap_or(32 << 20);
    if max_memory < invalid_scope_observer::FollowAuthorizations::MAX_AUTHORIZATION_BYTES {
        return Err(format!(
            "`correlation.max_memory` must be at least {} bytes, what one authorization may take",
            invalid_scope_observer::FollowAuthorizations::MAX_AUTHORIZATION_BYTES
        ));
    }
    let authorize_paths = cli
        .correlation_authorize_paths
        .clone()
        .or(file.authorize_paths);
    if let Some(bad) = authorize_paths
        .iter()
        .flatten()
        .find(|path| !path.starts_with('/'))
    {
        return Err(format!(
            "`correlation.authorize_paths`: {bad:?} is not a path (it starts with /)"
        ));
    }
    match store {
        CorrelationStore::Off => Ok(None),
        CorrelationStore::Memory => Ok(Some(Correlation {
            capacity,
            ttl,
            max_memory,
            authorize_paths,
            redis: None,
        })),
        CorrelationStore::Redis => {
            let url = cli
                .correlation_redis_url
                .clone()
                .or(file.redis_url)
                .ok_or("`correlation.redis_url` is required with store = \"redis\"")?;
            redis::Client::open(url.as_str())
                .map_err(|error| format!("`correlation.redis_url`: {error}"))?;
            let hash_key = cli
                .correlation_hash_key
                .clone()
                .or(file.hash_key)
                .ok_or("`correlation.hash_key` is required with store = \"redis\": at least 32 characters, the same on every instance")?;
            if hash_key.len() < 32 {
                return Err("`correlation.hash_key` must have at least 32 characters".into());
            }
            let keeps_per_second = cli
                .correlation_keeps_per_second
                .or(file.keeps_per_second)
                .unwrap_or(200);
            if keeps_per_second == 0 {
                return Err("`correlation.keeps_per_second` must be at least 1".into());
            }
            Ok(Some(Correlation {
                capacity,
                ttl,
                max_memory,
                authorize_paths,
                redis: Some(SharedStore {
                    url,
                    hash_key,
                    prefix: cli.correlation_redis_prefix.clone().or(file.redis_prefix),
                    keeps_per_second,
                }),
            }))
        }
    }
}

/// `[posthog]` from the file, each key overridden by its flag or variable;
/// half a section is an error.
fn posthog(cli: &Cli, from_file: Option<PostHog>) -> Result<Option<PostHog>, String> {
    let host = cli
        .posthog_host
        .clone()
        .or_else(|| from_file.as_ref().map(|posthog| posthog.host.clone()));
    let api_key_env = cli
        .posthog_api_key_env
        .clone()
        .or_else(|| from_file.map(|posthog| posthog.api_key_env));
    match (host, api_key_env) {
        (Some(host), Some(api_key_env)) => Ok(Some(PostHog { host, api_key_env })),
        (None, None) => Ok(None),
        _ => Err("`posthog`: give both `host` and `api_key_env`".into()),
    }
}

/// Reads only `[grantable]` again, for a reload (`None`: the section is
/// gone, no lists); the rest of a running proxy does not change.
pub(crate) fn reload_grantable(path: &std::path::Path) -> Result<Option<Grantable>, String> {
    let file = read_file(path)?;
    Ok(file.grantable.map(|section| Grantable {
        default: section.default.unwrap_or_default(),
        clients: section.clients.unwrap_or_default(),
    }))
}

fn read_file(path: &std::path::Path) -> Result<File, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    toml::from_str(&text).map_err(|error| {
        // toml's message names the key and the line; one line of it.
        let message = error.message();
        match error.span() {
            Some(span) => {
                let line = text[..span.start].matches('\n').count() + 1;
                format!("{}, line {line}: {message}", path.display())
            }
            None => format!("{}: {message}", path.display()),
        }
    })
}

fn parse_upstream(text: &str) -> Result<Uri, String> {
    let uri: Uri = text
        .parse()
        .map_err(|error| format!("`upstream` {text:?} is not a URL: {error}"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err(format!(
            "`upstream` {text:?} must be http://host:port or https://host:port"
        )),
    }
}

fn parse_clients(text: &str) -> Result<HashMap<String, Vec<String>>, String> {
    text.split(';')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            let (client, scopes) = entry.split_once('=').ok_or_else(|| {
                format!("`grantable.clients`: {entry:?} is not client=scope scope")
            })?;
            let scopes = scopes.split_whitespace().map(str::to_string).collect();
            Ok((client.trim().to_string(), scopes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(arguments: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("invalid-scope-proxy").chain(arguments.iter().copied()))
            .unwrap()
    }

    fn file(text: &str) -> (tempfile::NamedTempFile, String) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        let path = file.path().display().to_string();
        (file, path)
    }

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let (_file, path) = file(
            "listen = \"127.0.0.1:7000\"\nupstream = \"http://127.0.0.1:8000\"\n\
             [grantable]\ndefault = [\"read\"]\nclients = { wizard = [\"read\", \"write\"] }\n",
        );
        let config =
            Config::load(&cli(&["--config", &path, "--listen", "127.0.0.1:7001"])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:7001".parse().unwrap());
        assert_eq!(config.upstream, "http://127.0.0.1:8000");
        let grantable = config.grantable.unwrap();
        assert_eq!(grantable.default, ["read"]);
        assert_eq!(grantable.clients["wizard"], ["read", "write"]);
        assert!(config.observe_bodies);
        assert_eq!(config.body_limit, 8192);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!((config.per_second, config.burst), (100, 100));
        assert_eq!(config.correlation, None, "off without a section");
    }

    #[test]
    fn upstream_alone_starts_without_lists_and_discovers() {
        let config = Config::load(&cli(&["--upstream", "http://127.0.0.1:8000"])).unwrap();
        assert_eq!(config.grantable, None);
        assert_eq!(
            config.known_scopes,
            KnownScopesSource::Discover {
                interval: Duration::from_secs(300)
            }
        );
        assert_eq!(config.redirect_members, ["redirect_to"]);
        assert_eq!(config.invalid_scope_codes, ["invalid_scope"]);
        // An empty section is a list: every client may have nothing.
        let (_file, path) = file("upstream = \"http://127.0.0.1:8000\"\n[grantable]\n");
        let config = Config::load(&cli(&["--config", &path])).unwrap();
        assert_eq!(config.grantable, Some(Grantable::default()));
    }

    #[test]
    fn trusted_proxies_are_cidr_blocks_or_addresses() {
        let (_file, path) = file(
            "upstream = \"http://127.0.0.1:8000\"\ntrusted_proxies = [\"10.0.0.0/8\", \"fd00::/8\", \"192.0.2.7\"]\n",
        );
        let config = Config::load(&cli(&["--config", &path])).unwrap();
        let shown: Vec<String> = config
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["10.0.0.0/8", "fd00::/8", "192.0.2.7/32"]);
        let none = Config::load(&cli(&["--upstream", "http://127.0.0.1:8000"])).unwrap();
        assert!(none.trusted_proxies.is_empty());
        let error = Config::load(&cli(&[
            "--upstream",
            "http://127.0.0.1:8000",
            "--trusted-proxies",
            "10.0.0.0/33",
        ]))
        .unwrap_err();
        assert!(error.contains("trusted_proxies"), "{error}");
    }

    #[test]
    fn known_scopes_are_a_list_or_discover() {
        let (_file, path) = file(
            "upstream = \"http://127.0.0.1:8000\"\nknown_scopes = \"discover\"\ndiscover_interval = 60\n\
             [observe]\nredirect_members = [\"redirect_to\", \"redirect_uri\"]\ninvalid_scope_codes = [\"invalid_scope\", \"scope_invalid\"]\n",
        );
        let config = Config::load(&cli(&["--config", &path])).unwrap();
        assert_eq!(
            config.known_scopes,
            KnownScopesSource::Discover {
                interval: Duration::from_secs(60)
            }
        );
        assert_eq!(config.redirect_members, ["redirect_to", "redirect_uri"]);
        assert_eq!(
            config.invalid_scope_codes,
            ["invalid_scope", "scope_invalid"]
        );
        let listed =
            Config::load(&cli(&["--config", &path, "--known-scopes", "read,write"])).unwrap();
        assert_eq!(
            listed.known_scopes,
            KnownScopesSource::Listed(vec!["read".into(), "write".into()])
        );
        let (_bad, bad) = file("upstream = \"http://127.0.0.1:8000\"\nknown_scopes = \"all\"\n");
        let error = Config::load(&cli(&["--config", &bad])).unwrap_err();
        assert!(error.contains("known_scopes"), "{error}");
        let (_zero, zero) = file("upstream = \"http://127.0.0.1:8000\"\ndiscover_interval = 0\n");
        assert!(Config::load(&cli(&["--config", &zero]))
            .unwrap_err()
            .contains("discover_interval"));
    }

    #[test]
    fn correlation_is_set_in_its_section_or_by_flags() {
        let (_file, path) = file(
            "upstream = \"http://127.0.0.1:8000\"\n\
             [correlation]\nstore = \"memory\"\ncapacity = 10\nttl_seconds = 60\n\
             authorize_paths = [\"/o/authorize/\"]\n",
        );
        let config = Config::load(&cli(&["--config", &path])).unwrap();
        assert_eq!(
            config.correlation,
            Some(Correlation {
                capacity: 10,
                ttl: Duration::from_secs(60),
                max_memory: 32 << 20,
                authorize_paths: Some(vec!["/o/authorize/".into()]),
                redis: None,
            })
        );
        let off = Config::load(&cli(&["--config", &path, "--correlation-store", "off"])).unwrap();
        assert_eq!(off.correlation, None);
        let (_bare, bare) = file("upstream = \"http://127.0.0.1:8000\"\n[correlation]\n");
        assert_eq!(
            Config::load(&cli(&["--config", &bare]))
                .unwrap()
                .correlation,
            Some(Correlation {
                capacity: 100_000,
                ttl: Duration::from_secs(600),
                max_memory: 32 << 20,
                authorize_paths: None,
                redis: None,
            }),
            "an empty section is memory with the defaults"
        );
        let redis = |more: &[&str]| {
            let mut arguments = vec!["--config", &path, "--correlation-store", "redis"];
            arguments.extend(more);
            Config::load(&cli(&arguments))
        };
        assert!(redis(&[]).unwrap_err().contains("correlation.redis_url"));
        let url = ["--correlation-redis-url", "redis://127.0.0.1:6379"];
        assert!(redis(&url).unwrap_err().contains("correlation.hash_key"));
        let short = [&url[..], &["--correlation-hash-key", "short"]].concat();
        assert!(redis(&short).unwrap_err().contains("at least 32"));
        let key = "k".repeat(32);
        let good = [&url[..], &["--correlation-hash-key", &key]].concat();
        let shared = redis(&good).unwrap().correlation.unwrap().redis.unwrap();
        assert_eq!(shared.url, "redis://127.0.0.1:6379");
        assert_eq!((shared.prefix, shared.keeps_per_second), (None, 200));
        let namespaced = [
            &good[..],
            &[
                "--correlation-redis-prefix",
                "auth-eu:",
                "--correlation-keeps-per-second",
                "50",
            ],
        ]
        .concat();
        let shared = redis(&namespaced)
            .unwrap()
            .correlation
            .unwrap()
            .redis
            .unwrap();
        assert_eq!(shared.prefix.as_deref(), Some("auth-eu:"));
        assert_eq!(shared.keeps_per_second, 50);
        let error = Config::load(&cli(&[
            "--config",
            &path,
            "--correlation-authorize-paths",
            "authorize",
        ]))
        .unwrap_err();
        assert!(error.contains("correlation.authorize_paths"), "{error}");
        let error =
            Config::load(&cli(&["--config", &path, "--correlation-max-memory", "10"])).unwrap_err();
        assert!(error.contains("correlation.max_memory"), "{error}");
        assert_eq!(format!("{shared:?}"), "SharedStore { .. }");
        let bad_url = [
            "--correlation-redis-url",
            "not a url",
            "--correlation-hash-key",
            &key,
        ];
        assert!(redis(&bad_url)
            .unwrap_err()
            .contains("correlation.redis_url"));
        let error =
            Config::load(&cli(&["--config", &path, "--correlation-capacity", "0"])).unwrap_err();
        assert!(error.contains("correlation"), "{error}");
    }

    #[test]
    fn the_readmes_complete_configuration_loads() {
        let readme = include_str!("../../README.md");
        let after = &readme[readme.find("A complete configuration").unwrap()..];
        let start = after.find("```toml\n").unwrap() + "```toml\n".len();
        let toml = &after[start..start + after[start..].find("```").unwrap()];
        let (_file, path) = file(toml);
        let config = Config::load(&cli(&["--config", &path])).unwrap();
        assert_eq!(config.upstream, "http://127.0.0.1:8000");
        assert_eq!(config.grantable.unwrap().clients["wizard"], ["read"]);
        assert!(config.observe_enabled && config.observe_bodies);
        assert!(config.posthog.is_some());
        assert!(config.correlation.is_some());
    }

    #[test]
    fn limits_have_safe_defaults_and_refuse_nonsense() {
        let limits = Config::load(&cli(&["--upstream", "http://127.0.0.1:8000"]))
            .unwrap()
            .limits;
        assert_eq!(
            limits,
            crate::limits::Limits {
                header_timeout: Duration::from_secs(10),
                body_timeout: Duration::from_secs(30),
                max_connections: 10_000,
                max_header_bytes: 65536,
                max_headers: 100,
                max_body_bytes: Some(10 << 20),
            }
        );
        let (_file, path) = file(
            "upstream = \"http://127.0.0.1:8000\"\n[limits]\nmax_body_bytes = 0\nheader_timeout = 2\n",
        );
        let limits = Config::load(&cli(&["--config", &path, "--limits-max-headers", "20"]))
            .unwrap()
            .limits;
        assert_eq!(limits.max_body_bytes, None, "0: no cap");
        assert_eq!(limits.header_timeout, Duration::from_secs(2));
        assert_eq!(limits.max_headers, 20);
        for bad in [
            "--limits-max-header-bytes=100",
            "--limits-header-timeout=0",
            "--limits-max-connections=0",
        ] {
            let error = Config::load(&cli(&["--config", &path, bad])).unwrap_err();
            assert!(error.contains("limits"), "{bad}: {error}");
        }
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let (_file, path) =
            file("upstream = \"http://127.0.0.1:8000\"\n\n[observe]\nbodys = true\n");
        let error = Config::load(&cli(&["--config", &path])).unwrap_err();
        assert!(error.contains("line 4"), "{error}");
        assert!(error.contains("bodys"), "{error}");
    }

    #[test]
    fn a_wrong_type_is_named_with_its_line() {
        let (_file, path) =
            file("upstream = \"http://127.0.0.1:8000\"\n[rate_limit]\nper_second = \"fast\"\n");
        let error = Config::load(&cli(&["--config", &path])).unwrap_err();
        assert!(error.contains("line 3"), "{error}");
    }

    #[test]
    fn a_missing_upstream_is_named() {
        let error = Config::load(&cli(&[])).unwrap_err();
        assert!(error.contains("missing `upstream`"), "{error}");
    }

    #[test]
    fn clients_as_a_flag() {
        let parsed = parse_clients("wizard=read;partner=read write").unwrap();
        assert_eq!(parsed["partner"], ["read", "write"]);
        assert!(parse_clients("wizard").is_err());
    }
}
