//! The configuration: the keys ([`crate::keys`]) of a TOML file
//! (`--config FILE`), with variables and flags over them, checked and
//! resolved, defaults filled in, before anything starts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::Uri;

use crate::keys::{
    layered, CorrelationKeys, GrantableKeys, KnownScopesKey, LimitsKeys, PostHogKeys,
};
pub(crate) use crate::keys::{Cli, Command, CorrelationStore, Keys, LogFormat};

/// Where the known scopes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KnownScopesSource {
    /// As configured.
    Listed(Vec<String>),
    /// The upstream's discovery document's `scopes_supported`, read at
    /// start and every `interval`.
    Discover { interval: Duration },
}

/// `[posthog]`: where to send rejections, and the name of the environment
/// variable that holds the key (a key never sits in the file).
#[derive(Clone, Debug, PartialEq, Eq)]
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

impl Grantable {
    /// The lists of `[grantable]`, when there are lists at all (`listed`:
    /// the section is in the file, even empty, or a grantable flag or
    /// variable is given), at start and at each reload alike.
    fn from_keys(listed: bool, keys: GrantableKeys) -> Option<Self> {
        listed.then(|| Self {
            default: keys.default.unwrap_or_default(),
            clients: keys.clients.unwrap_or_default().0,
        })
    }
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
            None => toml::Table::new(),
        };
        // Following is asked for by a `[correlation]` section in the file
        // (empty or not), or by a store named as a flag or variable: a
        // Redis URL kept in the environment for later asks for nothing.
        let follows = file.contains_key("correlation") || cli.keys.correlation.store.is_some();
        let table = layered(file, &cli.keys)?;
        // Lists are asked for by a `[grantable]` section, even empty, or by
        // a grantable flag or variable.
        let listed = table.contains_key("grantable");
        let posthog_given = table.contains_key("posthog");
        let keys = into_keys(table)?;
        let upstream = keys.upstream.ok_or(
            "missing `upstream`: give it in the file, as --upstream or as INVALID_SCOPE_PROXY_UPSTREAM",
        )?;
        let upstream = parse_upstream(&upstream)?;
        let upstream_tls = crate::tls::client_config(&upstream, keys.upstream_ca.as_deref())?;
        let grantable = Grantable::from_keys(listed, keys.grantable);
        let known_scopes = known_scopes(keys.known_scopes, keys.discover_interval)?;
        let observe = keys.observe;
        let redirect_members = observe
            .redirect_members
            .unwrap_or_else(|| vec!["redirect_to".to_string()]);
        let invalid_scope_codes = observe
            .invalid_scope_codes
            .unwrap_or_else(|| vec!["invalid_scope".to_string()]);
        if invalid_scope_codes.is_empty() {
            return Err("`observe.invalid_scope_codes` needs at least one code".into());
        }
        let per_second = keys.rate_limit.per_second.unwrap_or(100);
        let burst = keys.rate_limit.burst.unwrap_or(per_second);
        if per_second == 0 || burst == 0 {
            return Err("`rate_limit`: per_second and burst must be at least 1".into());
        }
        let body_limit = observe.body_limit.unwrap_or(8 * 1024);
        if body_limit == 0 {
            return Err("`observe.body_limit` must be at least 1 (set `observe.bodies = false` to read no body)".into());
        }
        Ok(Self {
            listen: keys
                .listen
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            upstream,
            upstream_tls,
            upstream_ca: keys.upstream_ca,
            known_scopes,
            grantable,
            redirect_members,
            invalid_scope_codes,
            observe_enabled: observe.enabled.unwrap_or(true),
            observe_bodies: observe.bodies.unwrap_or(true),
            body_limit,
            log_format: keys.log.format.unwrap_or_default(),
            log_client_ip: keys.log.client_ip.unwrap_or(false),
            per_second,
            burst,
            admin_listen: keys
                .admin
                .listen
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9464))),
            trusted_proxies: trusted_proxies(keys.trusted_proxies)?,
            forwarded_headers: keys.forwarded_headers.unwrap_or(true),
            upstream_timeout: Duration::from_secs(keys.upstream_timeout.unwrap_or(30)),
            shutdown_deadline: Duration::from_secs(keys.shutdown_deadline.unwrap_or(10)),
            posthog: posthog(posthog_given, keys.posthog)?,
            correlation: correlation(follows, keys.correlation)?,
            limits: limits(keys.limits)?,
        })
    }
}

/// `[limits]`, defaults filled in.
fn limits(keys: LimitsKeys) -> Result<crate::limits::Limits, String> {
    let seconds = |key: Option<u64>, default: u64, name: &str| match key.unwrap_or(default) {
        0 => Err(format!("`limits.{name}` must be at least 1 second")),
        seconds => Ok(Duration::from_secs(seconds)),
    };
    let max_header_bytes = keys.max_header_bytes.unwrap_or(65536);
    // hyper's smallest read buffer.
    if max_header_bytes < 8192 {
        return Err("`limits.max_header_bytes` must be at least 8192".into());
    }
    let max_connections = keys.max_connections.unwrap_or(10_000);
    let max_headers = keys.max_headers.unwrap_or(100);
    if max_connections == 0 || max_headers == 0 {
        return Err("`limits`: max_connections and max_headers must be at least 1".into());
    }
    let max_body_bytes = keys.max_body_bytes.unwrap_or(10 << 20);
    Ok(crate::limits::Limits {
        header_timeout: seconds(keys.header_timeout, 10, "header_timeout")?,
        body_timeout: seconds(keys.body_timeout, 30, "body_timeout")?,
        max_connections,
        max_header_bytes,
        max_headers,
        max_body_bytes: (max_body_bytes > 0).then_some(max_body_bytes),
    })
}

/// `trusted_proxies`: CIDR blocks, or a bare address (one host).
fn trusted_proxies(key: Option<Vec<String>>) -> Result<Vec<ipnet::IpNet>, String> {
    key.unwrap_or_default()
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
    key: Option<KnownScopesKey>,
    interval: Option<u64>,
) -> Result<KnownScopesSource, String> {
    let written = match key {
        Some(KnownScopesKey::Listed(list)) if list != ["discover"] => Some(list),
        Some(KnownScopesKey::Word(word)) if word != "discover" => {
            return Err(format!(
                "`known_scopes`: {word:?} is neither a list of scopes nor \"discover\""
            ))
        }
        _ => None,
    };
    if let Some(list) = written {
        return Ok(KnownScopesSource::Listed(list));
    }
    let interval = interval.unwrap_or(300);
    if interval == 0 {
        return Err("`discover_interval` must be at least 1 second".into());
    }
    Ok(KnownScopesSource::Discover {
        interval: Duration::from_secs(interval),
    })
}

/// `[correlation]` (`asked`: the section is given, in the file or by a
/// flag or variable), defaults filled in.
fn correlation(asked: bool, keys: CorrelationKeys) -> Result<Option<Correlation>, String> {
    // Following costs about 1.6 us per success code redirect (BENCHMARKS.md):
    // asked for by a section or a flag, never by default.
    let store = match keys.store {
        Some(store) => store,
        None if asked => CorrelationStore::Memory,
        None => CorrelationStore::Off,
    };
    let capacity = keys.capacity.unwrap_or(100_000);
    let ttl_seconds = keys.ttl_seconds.unwrap_or(600);
    if capacity == 0 || ttl_seconds == 0 {
        return Err("`correlation`: capacity and ttl_seconds must be at least 1 (set `store = \"off\"` to follow nothing)".into());
    }
    let ttl = Duration::from_secs(ttl_seconds);
    let max_memory = keys.max_memory.unwrap_or(32 << 20);
    if max_memory < invalid_scope_observer::FollowAuthorizations::MAX_AUTHORIZATION_BYTES {
        return Err(format!(
            "`correlation.max_memory` must be at least {} bytes, what one authorization may take",
            invalid_scope_observer::FollowAuthorizations::MAX_AUTHORIZATION_BYTES
        ));
    }
    let authorize_paths = keys.authorize_paths;
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
            let url = keys
                .redis_url
                .ok_or("`correlation.redis_url` is required with store = \"redis\"")?;
            redis::Client::open(url.as_str())
                .map_err(|error| format!("`correlation.redis_url`: {error}"))?;
            let hash_key = keys
                .hash_key
                .ok_or("`correlation.hash_key` is required with store = \"redis\": at least 32 characters, the same on every instance")?;
            if hash_key.len() < 32 {
                return Err("`correlation.hash_key` must have at least 32 characters".into());
            }
            let keeps_per_second = keys.keeps_per_second.unwrap_or(200);
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
                    prefix: keys.redis_prefix,
                    keeps_per_second,
                }),
            }))
        }
    }
}

/// `[posthog]` (`given`: the section is there, empty or not): both keys or
/// neither; half a section, or an empty one, is an error.
fn posthog(given: bool, keys: PostHogKeys) -> Result<Option<PostHog>, String> {
    match (keys.host, keys.api_key_env) {
        (Some(host), Some(api_key_env)) => Ok(Some(PostHog { host, api_key_env })),
        (None, None) if !given => Ok(None),
        _ => Err("`posthog`: give both `host` and `api_key_env`".into()),
    }
}

/// Reads only `[grantable]` again, for a reload, with the flags and
/// variables over the file as at start (`None`: no section and no flag, no
/// lists); the rest of a running proxy does not change.
pub(crate) fn reload_grantable(
    path: &std::path::Path,
    flags: &Keys,
) -> Result<Option<Grantable>, String> {
    let table = layered(read_file(path)?, flags)?;
    let listed = table.contains_key("grantable");
    Ok(Grantable::from_keys(listed, into_keys(table)?.grantable))
}

/// The layered table as keys. Its file part was checked against the keys
/// by [`read_file`] and its flags were parsed into them, so this fails only
/// for a value no type of the table holds.
fn into_keys(table: toml::Table) -> Result<Keys, String> {
    table
        .try_into()
        .map_err(|error: toml::de::Error| error.message().to_string())
}

/// The file's keys, checked against the table of keys (an unknown key or a
/// wrong type is named with its line), as a table to lay flags over.
fn read_file(path: &std::path::Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let line_of = |error: toml::de::Error| {
        // toml's message names the key and the line; one line of it.
        let message = error.message();
        match error.span() {
            Some(span) => {
                let line = text[..span.start].matches('\n').count() + 1;
                format!("{}, line {line}: {message}", path.display())
            }
            None => format!("{}: {message}", path.display()),
        }
    };
    toml::from_str::<Keys>(&text).map_err(line_of)?;
    toml::from_str::<toml::Table>(&text).map_err(line_of)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(arguments: &[&str]) -> Cli {
        Cli::try_from_args(std::iter::once("invalid-scope-proxy").chain(arguments.iter().copied()))
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
    fn a_redis_url_kept_in_the_environment_asks_for_no_following() {
        let url = ["--correlation-redis-url", "redis://127.0.0.1:6379"];
        let upstream = ["--upstream", "http://127.0.0.1:8000"];
        let config = Config::load(&cli(&[&upstream[..], &url[..]].concat())).unwrap();
        assert_eq!(config.correlation, None);
        let store = ["--correlation-store", "memory"];
        let config = Config::load(&cli(&[&upstream[..], &store[..]].concat())).unwrap();
        assert!(config.correlation.is_some(), "a store named asks for it");
    }

    #[test]
    fn a_reload_lays_the_flags_over_the_file_as_a_start_does() {
        let (_file, path) =
            file("upstream = \"http://127.0.0.1:8000\"\n[grantable]\ndefault = [\"read\"]\n");
        let flags = cli(&["--grantable-clients", "wizard=read,write"]).keys;
        let lists = reload_grantable(path.as_ref(), &flags).unwrap().unwrap();
        assert_eq!(lists.default, ["read"]);
        assert_eq!(lists.clients["wizard"], ["read", "write"]);
        let (_bare, bare) = file("upstream = \"http://127.0.0.1:8000\"\n");
        assert_eq!(
            reload_grantable(bare.as_ref(), &Keys::default()).unwrap(),
            None
        );
        assert!(reload_grantable(bare.as_ref(), &flags).unwrap().is_some());
    }

    #[test]
    fn half_a_posthog_section_or_an_empty_one_is_refused() {
        for section in [
            "[posthog]\n",
            "[posthog]\nhost = \"https://eu.i.posthog.com\"\n",
        ] {
            let (_file, path) = file(&format!("upstream = \"http://127.0.0.1:8000\"\n{section}"));
            let error = Config::load(&cli(&["--config", &path])).unwrap_err();
            assert!(error.contains("give both"), "{section}: {error}");
        }
        let half = cli(&["--upstream", "http://127.0.0.1:8000", "--posthog-host", "h"]);
        assert!(Config::load(&half).unwrap_err().contains("give both"));
    }

    #[test]
    fn a_missing_upstream_is_named() {
        let error = Config::load(&cli(&[])).unwrap_err();
        assert!(error.contains("missing `upstream`"), "{error}");
    }
}
