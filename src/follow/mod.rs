//! Following one authorization from its authorize request to its token
//! request ([`FollowAuthorizations`]), so that a narrowing the server never
//! admits (fewer scopes in the token answer than were asked at authorize)
//! is reported.
//!
//! The legs share no single value: the authorize request carries the
//! scopes, the `state` and the PKCE `code_challenge`; the code redirect,
//! sometimes answered to a later request (after login and consent), the
//! code and the `state`; the token request the code and the
//! `code_verifier`. Each is kept as a keyed hash ([`link`]) in a bounded
//! store ([`store`]).

mod flood;
mod link;
mod paths;
#[cfg(feature = "redis")]
mod redis;
mod store;

pub use self::paths::AuthorizePaths;

use std::time::Duration;

use http::header::LOCATION;
use http::{Response, StatusCode};

use self::link::{s256_challenge, Link, LinkKey, Shared, Unbound};
use self::store::{MemoryStore, ENTRY_OVERHEAD_BYTES};
use crate::capture::{CapturedRequest, LinkParameters};
use crate::detect::{code_redirect, fragment_grant, CodeRedirect};
use crate::report::cut_to_chars;
use crate::scope::ScopeSet;

/// How the layer follows each authorization-code flow from its authorize
/// request to its token request, to report the scopes a server dropped
/// without saying so: the authorize request asked for `read write`, the
/// token answer granted `read`. The report is `oauth.scope_narrowed` with
/// `grant_type="authorization_code"`, the authorize request's scopes as
/// `requested_scopes` and `requested_at="authorize"`.
///
/// The legs are linked by what they share: the code, when the authorize
/// answer carries it; else the client's `state` (echoed with the code that
/// a later request is answered with, after login and consent) or the PKCE
/// `code_challenge` (the token request's `code_verifier` hashes to it). A
/// flow with neither `state` nor PKCE whose code comes after an
/// interaction cannot be followed; it is counted in
/// `oauth_authorizations_unfollowable_total` (with the `metrics` feature).
///
/// What is kept: the requested scopes, the `client_id` and the
/// `User-Agent` of the authorize request, under keyed hashes (HMAC-SHA-256,
/// with a key drawn at start) of the `state`, the challenge and the code,
/// each bound to the `client_id`; never the values. An authorization is
/// kept until its token request uses it (so it is reported at most once)
/// and at most for the [`ttl`](Self::ttl) (default 10 minutes, RFC 6749
/// §4.1.2's longest code life). The store holds at most
/// [`max_memory`](Self::max_memory) bytes (default 32 MiB) and
/// [`capacity`](Self::capacity) authorizations (default 100 000); when
/// full, the oldest goes, `oauth_authorizations_evicted_total` says so,
/// and `oauth.follow.flooded` is logged at WARN at most once a minute with
/// the rate.
///
/// Only an authorization endpoint's `2xx` or `3xx` answer to a request that
/// names `response_type` and `client_id` keeps one, on the
/// [`authorize_paths`](Self::authorize_paths) (any path until they are
/// given). A link that two different authorizations claim (the same
/// `state` of one client with other scopes, say) makes both ambiguous:
/// neither is reported, and `oauth_authorizations_ambiguous_total` counts
/// it.
///
/// Needs bodies observed (the token request's form and answer are read):
///
/// ```
/// use invalid_scope_observer::{FollowAuthorizations, InvalidScopeObserverLayer, ScopeSet};
///
/// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("read write"))
///     .observe_bodies()
///     .follow_authorizations(FollowAuthorizations::in_memory());
/// # drop(layer);
/// ```
#[derive(Clone, Debug)]
pub struct FollowAuthorizations {
    ttl: Duration,
    capacity: usize,
    max_bytes: usize,
    paths: AuthorizePaths,
    #[cfg(feature = "redis")]
    redis: Option<RedisSettings>,
}

/// How a fleet shares its authorizations in Redis.
#[cfg(feature = "redis")]
#[derive(Clone, Debug)]
struct RedisSettings {
    client: ::redis::Client,
    key: LinkKey,
    prefix: String,
    keeps_per_second: u32,
}

impl FollowAuthorizations {
    /// Authorizations kept in this process's memory. Behind a load balancer
    /// that sends the authorize and the token request of one flow to
    /// different instances, those flows are not followed.
    pub fn in_memory() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            capacity: 100_000,
            max_bytes: 32 << 20,
            paths: AuthorizePaths::any(),
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// Authorizations kept in Redis (feature `redis`), shared by every
    /// instance given the same server and the same `hash_key`: the authorize
    /// request may go through one instance and the token request through
    /// another. Each authorization is a key `<prefix>a:<id>` and each of its
    /// links a key `<prefix>l:<hash>`, with the [`ttl`](Self::ttl); every
    /// operation (keep, add a link, take with all its links) is one Lua
    /// script, atomic in Redis, so one authorization is reported once by
    /// the whole fleet. The prefix is `invalid_scope_observer:<digest>:`,
    /// a keyed digest (HMAC) of the `hash_key`, so fleets with different keys never
    /// share links ([`redis_prefix`](Self::redis_prefix) sets another;
    /// scripts name keys they compute, so a single Redis or a replicated
    /// one, not Redis Cluster). [`capacity`](Self::capacity) and
    /// [`max_memory`](Self::max_memory) do not apply: each instance keeps
    /// at most [`keeps_per_second`](Self::keeps_per_second) (default 200),
    /// counts the rest in `oauth_authorizations_not_kept_total` and logs
    /// `oauth.follow.flooded`; so Redis holds at most instances × rate ×
    /// ttl authorizations of at most about 3 KiB each.
    ///
    /// Redis is never waited for: keeping and taking go through a bounded
    /// queue to one task that talks to Redis (started on the Tokio runtime
    /// of the first request that needs it). When Redis is down, slow (over
    /// one second) or the queue is full, the narrowing is not reported,
    /// `oauth_authorizations_store_failures_total` counts it (with the
    /// `metrics` feature) and `oauth.follow.store_failed` is logged at
    /// WARN, at most once a minute.
    ///
    /// ```no_run
    /// # #[cfg(feature = "redis")]
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use invalid_scope_observer::{FollowAuthorizations, InvalidScopeObserverLayer, ScopeSet};
    ///
    /// let redis = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let hash_key = std::env::var("FOLLOW_HASH_KEY")?; // the same on every instance
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("read write"))
    ///     .observe_bodies()
    ///     .follow_authorizations(FollowAuthorizations::in_redis(redis, hash_key.as_bytes()));
    /// # drop(layer);
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "redis"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Panics
    ///
    /// When `hash_key` is shorter than 32 bytes: the hashes of a `state` or
    /// a code under a short key could be guessed.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn in_redis(client: ::redis::Client, hash_key: &[u8]) -> Self {
        assert!(
            hash_key.len() >= 32,
            "FollowAuthorizations::in_redis: the hash key must have at least 32 bytes"
        );
        // Keyed, so the namespace says nothing a guess of the key could be
        // checked against offline.
        let key = LinkKey::new(hash_key);
        let digest = key.link(Shared::State, "", "invalid_scope_observer redis_prefix");
        let digest: String = digest.to_hex()[..12].to_string();
        Self {
            redis: Some(RedisSettings {
                client,
                key,
                prefix: format!("invalid_scope_observer:{digest}:"),
                keeps_per_second: 200,
            }),
            ..Self::in_memory()
        }
    }

    /// The namespace of this fleet's keys in Redis (feature `redis`):
    /// every key starts with it. Without effect in memory.
    ///
    /// ```no_run
    /// # #[cfg(feature = "redis")]
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use invalid_scope_observer::FollowAuthorizations;
    /// let redis = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let follow = FollowAuthorizations::in_redis(redis, &[7; 32]).redis_prefix("auth-eu:");
    /// # drop(follow);
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "redis"))]
    /// # fn main() {}
    /// ```
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_prefix(mut self, prefix: impl Into<String>) -> Self {
        if let Some(redis) = &mut self.redis {
            redis.prefix = prefix.into();
        }
        self
    }

    /// How many authorizations this instance keeps in Redis per second at
    /// most (feature `redis`; at least 1): past it, they are not kept and
    /// are counted in `oauth_authorizations_not_kept_total`, so a flood of
    /// authorize requests cannot fill a Redis shared with the server's own
    /// sessions. Without effect in memory.
    ///
    /// ```no_run
    /// # #[cfg(feature = "redis")]
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use invalid_scope_observer::FollowAuthorizations;
    /// let redis = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let follow = FollowAuthorizations::in_redis(redis, &[7; 32]).keeps_per_second(1000);
    /// # drop(follow);
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "redis"))]
    /// # fn main() {}
    /// ```
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn keeps_per_second(mut self, keeps: u32) -> Self {
        if let Some(redis) = &mut self.redis {
            redis.keeps_per_second = keeps.max(1);
        }
        self
    }

    /// How long an authorization is kept waiting for its token request.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use invalid_scope_observer::FollowAuthorizations;
    /// let follow = FollowAuthorizations::in_memory().ttl(Duration::from_secs(60));
    /// # drop(follow);
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How many authorizations are kept at most (at least 1).
    ///
    /// ```
    /// # use invalid_scope_observer::FollowAuthorizations;
    /// let follow = FollowAuthorizations::in_memory().capacity(10_000);
    /// # drop(follow);
    /// ```
    pub fn capacity(mut self, authorizations: usize) -> Self {
        self.capacity = authorizations;
        self
    }

    /// How many bytes the kept authorizations may take in memory at most,
    /// everything counted (their text, their links, the maps' overhead):
    /// when full, the oldest go. Each takes at most
    /// [`MAX_AUTHORIZATION_BYTES`](Self::MAX_AUTHORIZATION_BYTES), whatever
    /// a peer sends, and a typical one about 800.
    ///
    /// ```
    /// # use invalid_scope_observer::FollowAuthorizations;
    /// let follow = FollowAuthorizations::in_memory().max_memory(8 << 20); // 8 MiB
    /// # drop(follow);
    /// ```
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The most bytes one kept authorization costs: 64 scopes in 1 KiB,
    /// a `client_id` of 256 characters, a cut `User-Agent` and six links.
    ///
    /// ```
    /// # use invalid_scope_observer::FollowAuthorizations;
    /// assert!(FollowAuthorizations::MAX_AUTHORIZATION_BYTES < 8 * 1024);
    /// ```
    pub const MAX_AUTHORIZATION_BYTES: usize = Kept::MAX_BYTES;

    /// The paths of the authorization endpoints: only a request to one of
    /// them keeps an authorization (by default, any path).
    ///
    /// ```
    /// # use invalid_scope_observer::FollowAuthorizations;
    /// let follow = FollowAuthorizations::in_memory()
    ///     .authorize_paths(["/o/authorize/", "/o/device-authorization/"]);
    /// # drop(follow);
    /// ```
    pub fn authorize_paths(self, paths: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.authorize_paths_from(AuthorizePaths::new(paths))
    }

    /// Like [`authorize_paths`](Self::authorize_paths), from paths another
    /// task may replace while the layer runs (discovery).
    ///
    /// ```
    /// # use invalid_scope_observer::{AuthorizePaths, FollowAuthorizations};
    /// let paths = AuthorizePaths::any();
    /// let follow = FollowAuthorizations::in_memory().authorize_paths_from(paths.clone());
    /// paths.replace(["/authorize"]);
    /// # drop(follow);
    /// ```
    pub fn authorize_paths_from(mut self, paths: AuthorizePaths) -> Self {
        self.paths = paths;
        self
    }

    pub(crate) fn start(self) -> Follower {
        #[cfg(feature = "redis")]
        if let Some(redis) = self.redis {
            return Follower {
                key: redis.key,
                paths: self.paths,
                store: Box::new(redis::RedisStore::new(
                    redis.client,
                    self.ttl,
                    redis.prefix,
                    redis.keeps_per_second,
                )),
            };
        }
        Follower {
            key: LinkKey::new(&random_key()),
            paths: self.paths,
            store: Box::new(MemoryStore::new(self.ttl, self.capacity, self.max_bytes)),
        }
    }
}

/// A key for this process's link hashes, drawn from the operating system.
/// Should it fail, a key from the standard library's per-process hash seed
/// still keeps links from being precomputed.
fn random_key() -> [u8; 32] {
    let mut key = [0; 32];
    if getrandom::fill(&mut key).is_err() {
        use std::hash::{BuildHasher, RandomState};
        for (chunk, n) in key.chunks_mut(8).zip(0u64..) {
            chunk.copy_from_slice(&RandomState::new().hash_one(n).to_le_bytes());
        }
    }
    key
}

/// What an authorize request leaves for its token request.
#[derive(Debug, PartialEq)]
pub(crate) struct Kept {
    pub(crate) requested_scopes: ScopeSet,
    pub(crate) client_id: String,
    /// Already cut to the layer's limit, and whether it was.
    pub(crate) user_agent: (String, bool),
}

/// The most scopes, and bytes of scope text, an authorization kept may
/// ask for; a request for more is not followed (and counted as
/// unfollowable), so that a store of `capacity` authorizations holds at most
/// `capacity` times a few KiB, whatever peers send.
const KEPT_SCOPES: usize = 64;
const KEPT_SCOPE_BYTES: usize = 1024;
/// The most characters of a `client_id` kept (an event cuts it again to
/// the layer's limit).
const KEPT_CLIENT_ID_CHARS: usize = 256;
/// `client_id` as kept and as every link is bound to it: cut to
/// [`KEPT_CLIENT_ID_CHARS`].
fn kept_client_id(client_id: &str) -> &str {
    cut_to_chars(client_id, KEPT_CLIENT_ID_CHARS).0
}

/// The most characters of a `User-Agent` kept.
const KEPT_USER_AGENT_CHARS: usize = 256;
/// What one scope costs beside its text: its `Arc<str>` header, its slot in
/// the set, and the allocator's rounding.
const SCOPE_OVERHEAD_BYTES: usize = 48;

impl Kept {
    /// The most a kept authorization costs by [`bytes`](Self::bytes).
    const MAX_BYTES: usize = KEPT_SCOPE_BYTES
        + KEPT_SCOPES * SCOPE_OVERHEAD_BYTES
        + 4 * KEPT_CLIENT_ID_CHARS
        + 4 * KEPT_USER_AGENT_CHARS
        + ENTRY_OVERHEAD_BYTES;

    /// What keeping this costs, as an upper bound of what it and its
    /// entry in a [`MemoryStore`] take from the allocator.
    pub(crate) fn bytes(&self) -> usize {
        let scopes: usize = self
            .requested_scopes
            .iter()
            .map(|scope| scope.len() + SCOPE_OVERHEAD_BYTES)
            .sum();
        scopes + self.client_id.len() + self.user_agent.0.len() + ENTRY_OVERHEAD_BYTES
    }

    /// Whether `other` asks what this asked, for the same client: a repeat
    /// of the same authorize request (after a login, say).
    pub(crate) fn same_request(&self, other: &Self) -> bool {
        self.client_id == other.client_id && self.requested_scopes == other.requested_scopes
    }

    /// What to keep of an authorize request, or `None` when it asks for
    /// more than a store keeps.
    fn of(
        requested_scopes: ScopeSet,
        client_id: Option<String>,
        request: &CapturedRequest,
        user_agent_chars: usize,
    ) -> Option<Self> {
        let scope_bytes: usize = requested_scopes.iter().map(|scope| scope.len() + 1).sum();
        if requested_scopes.len() > KEPT_SCOPES || scope_bytes > KEPT_SCOPE_BYTES {
            return None;
        }
        let client_id = client_id.unwrap_or_default();
        let client_id = kept_client_id(&client_id);
        Some(Self {
            requested_scopes,
            client_id: client_id.to_string(),
            user_agent: request.user_agent(user_agent_chars.min(KEPT_USER_AGENT_CHARS)),
        })
    }
}

/// A token request that redeems a followed authorization.
#[derive(Debug)]
pub(crate) struct Redemption {
    /// Under which the authorization may be kept.
    pub(crate) links: Vec<Link>,
    /// The client the token request authenticates as (cut as a kept one
    /// is): only an authorization of this client is reported.
    pub(crate) client_id: String,
    pub(crate) grant_type: &'static str,
    /// Where the scopes were asked: the event's `requested_at`.
    pub(crate) asked_at: &'static str,
}

/// A running [`FollowAuthorizations`]: its key and its store.
#[derive(Debug)]
pub(crate) struct Follower {
    key: LinkKey,
    paths: AuthorizePaths,
    store: Box<dyn AuthorizationStore>,
}

/// Where followed authorizations wait for their token request: in memory
/// ([`MemoryStore`]) or in Redis (`redis::RedisStore`). No method waits:
/// a store that must go over the network queues, and answers a take later.
pub(crate) trait AuthorizationStore: Send + Sync + std::fmt::Debug {
    /// Keeps `kept` under each of `links` (a link another authorization
    /// claims makes both ambiguous, unless it is the same request again).
    fn keep(&self, links: Vec<Link>, kept: Kept);
    /// Adds `link`, bound to its client, to the live authorization kept
    /// under `known`.
    fn add_link(&self, known: Link, link: Unbound);
    /// Takes the live authorization kept under the first of `links` that
    /// has one, forgets it under all its links, and calls `then` with it
    /// (`None` when there is none, or the store could not tell).
    fn take(&self, links: Vec<Link>, then: Taken);
}

/// What a take calls, once the store knows.
pub(crate) type Taken = Box<dyn FnOnce(Option<Kept>) + Send>;

impl Follower {
    /// Looks at an answer that is not a rejection: an authorize request's
    /// scopes are kept under its links; a code redirect answered to a later
    /// request is linked to the authorization of its `state`. An implicit
    /// or hybrid answer whose fragment grants an access token with a
    /// `scope` is not kept but returned, with what it granted, to be
    /// compared at once.
    pub(crate) fn follow_answer<B>(
        &self,
        request: &CapturedRequest,
        response: &Response<B>,
        user_agent_chars: usize,
    ) -> Option<(Kept, ScopeSet)> {
        // Any answer to an authorize request is kept (a login page too: the
        // code may come later, to another request); only a redirect can
        // carry a code or a grant.
        let location = response
            .status()
            .is_redirection()
            .then(|| response.headers().get(LOCATION))
            .flatten();
        if let Some(granted) = location.and_then(|location| fragment_grant(location.as_bytes())) {
            let parameters = request.link_parameters();
            let requested_scopes = parameters.scope?;
            // No `scope`: granted as requested (RFC 6749 §4.2.2).
            let granted = ScopeSet::parse(&granted?);
            let kept = Kept::of(
                requested_scopes,
                parameters.client_id,
                request,
                user_agent_chars,
            )?;
            return Some((kept, granted));
        }
        let redirect = location.and_then(|location| code_redirect(location.as_bytes()));
        self.follow_code(request, response.status(), redirect, user_agent_chars);
        None
    }

    /// Like [`follow_answer`](Self::follow_answer), for an answer that
    /// carried `code` (a redirect, or a form_post page) or none.
    ///
    /// Only an answer the server gave as accepted (a `2xx` or `3xx`) is
    /// followed, and only an authorize request that names its `client_id`
    /// is kept: a `404` to an authorize-shaped request on any path keeps
    /// nothing.
    pub(crate) fn follow_code(
        &self,
        request: &CapturedRequest,
        status: StatusCode,
        redirect: Option<CodeRedirect>,
        user_agent_chars: usize,
    ) {
        if !(status.is_success() || status.is_redirection()) {
            return;
        }
        let parameters = request.link_parameters();
        if parameters.repeated {
            count(UNFOLLOWABLE, 1);
            return;
        }
        let asks_for_a_code = parameters
            .response_type
            .as_deref()
            .is_some_and(|types| types.split(' ').any(|kind| kind == "code"));
        let code = redirect
            .as_ref()
            .map(|redirect| self.key.unbound(Shared::Code, &redirect.code));
        if asks_for_a_code && parameters.allow {
            // A consent step (a form or a JSON consent screen posting back
            // `allow`) repeats the authorize request with the scopes its page
            // showed, which a server that narrows has already cut: what the
            // client asked stays the authorize request's, which is kept
            // under the same `state` or challenge. The code is linked to it.
            if let Some(code) = code {
                for known in self.known_links(&parameters) {
                    self.store.add_link(known, code.clone());
                }
            }
        } else if asks_for_a_code {
            // Without `scope` the server applies its default: nothing asked,
            // nothing to compare. Without `client_id` it is no authorization
            // request a server accepts (RFC 6749 §4.1.1). Elsewhere than an
            // authorization endpoint it is no authorization at all.
            let (Some(requested_scopes), Some(client_id)) =
                (parameters.scope.clone(), parameters.client_id.as_deref())
            else {
                return;
            };
            if !request.path().is_some_and(|path| self.paths.allows(path)) {
                return;
            }
            let client_id = kept_client_id(client_id);
            let mut links = self.bound_links(&parameters, client_id);
            links.extend(code.map(|code| code.bind(client_id)));
            if links.is_empty() {
                count(UNFOLLOWABLE, 1);
                return;
            }
            if let Some(state) = &parameters.state {
                links.push(self.key.link(Shared::EchoedState, "", state));
            }
            self.keep(
                links,
                requested_scopes,
                parameters.client_id,
                request,
                user_agent_chars,
            );
        } else if let (Some(redirect), Some(code)) = (redirect, code) {
            // A later request that names no client: the code joins the
            // authorization its echoed `state` was kept under, bound to that
            // authorization's client.
            if let Some(state) = &redirect.state {
                let known = self.key.link(Shared::EchoedState, "", state);
                self.store.add_link(known, code);
            }
        }
    }

    /// The links under which a consent step finds its authorization: its
    /// `state` and challenge, bound to the client it names (echoed, when it
    /// names none).
    fn known_links(&self, parameters: &LinkParameters) -> Vec<Link> {
        match parameters.client_id.as_deref() {
            Some(client_id) => self.bound_links(parameters, kept_client_id(client_id)),
            None => parameters
                .state
                .iter()
                .map(|state| self.key.link(Shared::EchoedState, "", state))
                .collect(),
        }
    }

    /// The links of an authorize request's `state` and challenge, bound to
    /// `client_id` (as [`kept_client_id`] cut it).
    fn bound_links(&self, parameters: &LinkParameters, client_id: &str) -> Vec<Link> {
        [
            parameters.state.as_deref().map(|s| (Shared::State, s)),
            challenge_link(parameters),
        ]
        .into_iter()
        .flatten()
        .map(|(shared, value)| self.key.link(shared, client_id, value))
        .collect()
    }

    /// A device authorization answer (RFC 8628 §3.2): the request's scopes
    /// are kept under its `device_code`, which the token requests carry,
    /// bound to the client the request authenticates as.
    pub(crate) fn follow_device_authorization(
        &self,
        request: &CapturedRequest,
        device_code: &str,
        user_agent_chars: usize,
    ) {
        let parameters = request.token_link_parameters();
        if parameters.repeated {
            count(UNFOLLOWABLE, 1);
            return;
        }
        let (Some(requested_scopes), Some(client_id)) =
            (parameters.scope, request.token_client_id())
        else {
            return;
        };
        if !request.path().is_some_and(|path| self.paths.allows(path)) {
            return;
        }
        let link = self
            .key
            .link(Shared::DeviceCode, kept_client_id(&client_id), device_code);
        self.keep(
            vec![link],
            requested_scopes,
            Some(client_id),
            request,
            user_agent_chars,
        );
    }

    /// Keeps what an authorize (or device authorization) request asked
    /// under `links`, unless it asks for more than a store keeps: that one
    /// is counted as unfollowable.
    fn keep(
        &self,
        links: Vec<Link>,
        requested_scopes: ScopeSet,
        client_id: Option<String>,
        request: &CapturedRequest,
        user_agent_chars: usize,
    ) {
        match Kept::of(requested_scopes, client_id, request, user_agent_chars) {
            Some(kept) => self.store.keep(links, kept),
            None => count(UNFOLLOWABLE, 1),
        }
    }

    /// What a token request redeems: `authorization_code` (linked by its
    /// code, and its `code_verifier`'s challenge) or the device code grant
    /// (by its `device_code`). `None` for any other request.
    pub(crate) fn redemption(&self, request: &CapturedRequest) -> Option<Redemption> {
        let parameters = request.token_link_parameters();
        if parameters.repeated {
            return None;
        }
        // A token request that names no client, or two that disagree,
        // redeems nothing: an authorization is reported only to its client.
        let client_id = request.token_client_id()?;
        let client_id = kept_client_id(&client_id).to_string();
        match parameters.grant_type.as_deref() {
            Some(AUTHORIZATION_CODE) => {
                let mut links = Vec::with_capacity(3);
                if let Some(code) = &parameters.code {
                    links.push(self.key.link(Shared::Code, &client_id, code));
                }
                if let Some(verifier) = &parameters.code_verifier {
                    let challenge = s256_challenge(verifier);
                    links.push(self.key.link(Shared::Challenge, &client_id, &challenge));
                    // `code_challenge_method=plain`: the challenge is the
                    // verifier, under a link of its own kind.
                    links.push(self.key.link(Shared::PlainChallenge, &client_id, verifier));
                }
                Some(Redemption {
                    links,
                    client_id,
                    grant_type: AUTHORIZATION_CODE,
                    asked_at: "authorize",
                })
            }
            Some(DEVICE_CODE) => {
                let links = parameters
                    .device_code
                    .iter()
                    .map(|code| self.key.link(Shared::DeviceCode, &client_id, code))
                    .collect();
                // The device flow asks at its own endpoint (RFC 8628 §3.1).
                Some(Redemption {
                    links,
                    client_id,
                    grant_type: DEVICE_CODE,
                    asked_at: "device_authorization",
                })
            }
            _ => None,
        }
    }

    /// Takes the authorization kept under the first of `links` that has one
    /// and forgets it under all its links, then calls `then` with it: at
    /// once from memory, from the store's task for Redis (with `None` if
    /// Redis did not answer).
    pub(crate) fn take(&self, links: Vec<Link>, then: impl FnOnce(Option<Kept>) + Send + 'static) {
        self.store.take(links, Box::new(then));
    }
}

/// The PKCE challenge of an authorize request as a link: `S256` and
/// `plain` (or no method: RFC 7636 §4.3) each of their own kind; a method
/// this crate does not know links nothing.
fn challenge_link(parameters: &LinkParameters) -> Option<(Shared, &str)> {
    let challenge = parameters.code_challenge.as_deref()?;
    match parameters.code_challenge_method.as_deref() {
        Some("S256") => Some((Shared::Challenge, challenge)),
        Some("plain") | None => Some((Shared::PlainChallenge, challenge)),
        Some(_) => None,
    }
}

const AUTHORIZATION_CODE: &str = "authorization_code";
/// RFC 8628 §3.4.
const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Authorizations dropped from a full store before their token request.
const EVICTED: &str = "oauth_authorizations_evicted_total";
/// Links claimed by two different authorizations, neither then reported.
const AMBIGUOUS: &str = "oauth_authorizations_ambiguous_total";
/// Authorizations a Redis store did not keep: over its keeps per second.
#[cfg(feature = "redis")]
const NOT_KEPT: &str = "oauth_authorizations_not_kept_total";
/// Authorize requests that can't be followed: no `state`, no PKCE and no
/// code in the answer, more scopes than a store keeps, or a parameter the
/// layer reads given twice.
const UNFOLLOWABLE: &str = "oauth_authorizations_unfollowable_total";
/// Keepings and takings that Redis did not do: down, slow, or the queue
/// to it full.
#[cfg(feature = "redis")]
const STORE_FAILURES: &str = "oauth_authorizations_store_failures_total";

/// The `# HELP` lines of the counters above (see `ScopeMetrics::describe`).
#[cfg(feature = "metrics")]
pub(crate) fn describe_metrics() {
    use metrics::describe_counter;
    describe_counter!(
        EVICTED,
        "Followed authorizations pushed out of a full store before their token request"
    );
    describe_counter!(
        AMBIGUOUS,
        "Links two authorizations of one client claimed: neither is reported"
    );
    describe_counter!(
        UNFOLLOWABLE,
        "Authorize requests that cannot be followed (no state, PKCE or code; too many scopes; a repeated parameter)"
    );
    #[cfg(feature = "redis")]
    {
        describe_counter!(
            NOT_KEPT,
            "Authorizations not kept in Redis: over this instance's keeps per second"
        );
        describe_counter!(
            STORE_FAILURES,
            "Redis operations not done: Redis down or slow, or the queue to it full"
        );
    }
}

fn count(counter: &'static str, by: usize) {
    #[cfg(feature = "metrics")]
    if by > 0 {
        metrics::counter!(counter).increment(by as u64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (counter, by);
}
