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

mod link;
mod store;

use std::time::{Duration, Instant};

use http::header::LOCATION;
use http::Response;

use self::link::{s256_challenge, Link, LinkKey, Shared};
use self::store::{Evicted, MemoryStore};
use crate::capture::CapturedRequest;
use crate::detect::code_redirect;
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
/// with a key drawn at start) of the `state`, the challenge and the code;
/// never the values. An authorization is kept until its token request uses
/// it (so it is reported at most once) and at most for the
/// [`ttl`](Self::ttl) (default 10 minutes, RFC 6749 §4.1.2's longest code
/// life). The store holds at most [`capacity`](Self::capacity)
/// authorizations (default 100 000); when full, the oldest goes and
/// `oauth_authorizations_evicted_total` says so.
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
}

impl FollowAuthorizations {
    /// Authorizations kept in this process's memory. Behind a load balancer
    /// that sends the authorize and the token request of one flow to
    /// different instances, those flows are not followed.
    pub fn in_memory() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            capacity: 100_000,
        }
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

    pub(crate) fn start(self) -> Follower {
        Follower {
            key: LinkKey::new(&random_key()),
            store: MemoryStore::new(self.ttl, self.capacity),
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
#[derive(Debug)]
pub(crate) struct Kept {
    pub(crate) requested_scopes: ScopeSet,
    pub(crate) client_id: String,
    /// Already cut to the layer's limit, and whether it was.
    pub(crate) user_agent: (String, bool),
}

/// A running [`FollowAuthorizations`]: its key and its store.
#[derive(Debug)]
pub(crate) struct Follower {
    key: LinkKey,
    store: MemoryStore,
}

impl Follower {
    /// Looks at an answer that is not a rejection: an authorize request's
    /// scopes are kept under its links; a code redirect answered to a later
    /// request is linked to the authorization of its `state`.
    pub(crate) fn follow_answer<B>(
        &self,
        request: &CapturedRequest,
        response: &Response<B>,
        user_agent_chars: usize,
    ) {
        let redirect = response
            .status()
            .is_redirection()
            .then(|| response.headers().get(LOCATION))
            .flatten()
            .and_then(|location| code_redirect(location.as_bytes()));
        let parameters = request.link_parameters();
        let now = Instant::now();
        let asks_for_a_code = parameters
            .response_type
            .as_deref()
            .is_some_and(|types| types.split(' ').any(|kind| kind == "code"));
        if asks_for_a_code {
            // Without `scope` the server applies its default: nothing asked,
            // nothing to compare.
            let Some(requested_scopes) = parameters.scope else {
                return;
            };
            let links: Vec<Link> = [
                redirect.as_ref().map(|r| (Shared::Code, r.code.as_str())),
                parameters.state.as_deref().map(|s| (Shared::State, s)),
                parameters
                    .code_challenge
                    .as_deref()
                    .map(|c| (Shared::Challenge, c)),
            ]
            .into_iter()
            .flatten()
            .map(|(shared, value)| self.key.link(shared, value))
            .collect();
            if links.is_empty() {
                count(UNFOLLOWABLE, 1);
                return;
            }
            let kept = Kept {
                requested_scopes,
                client_id: parameters.client_id.unwrap_or_default(),
                user_agent: request.user_agent(user_agent_chars),
            };
            let Evicted(evicted) = self.store.keep(&links, kept, now);
            count(EVICTED, evicted);
        } else if let Some(redirect) = redirect {
            if let Some(state) = &redirect.state {
                self.store.add_link(
                    self.key.link(Shared::State, state),
                    self.key.link(Shared::Code, &redirect.code),
                    now,
                );
            }
        }
    }

    /// The authorization a token request with
    /// `grant_type=authorization_code` redeems, found by its code or its
    /// `code_verifier`, and forgotten.
    pub(crate) fn take_for_token(&self, request: &CapturedRequest) -> Option<Kept> {
        let parameters = request.link_parameters();
        if parameters.grant_type.as_deref() != Some("authorization_code") {
            return None;
        }
        let mut links = Vec::with_capacity(3);
        if let Some(code) = &parameters.code {
            links.push(self.key.link(Shared::Code, code));
        }
        if let Some(verifier) = &parameters.code_verifier {
            links.push(self.key.link(Shared::Challenge, &s256_challenge(verifier)));
            // `code_challenge_method=plain`: the challenge is the verifier.
            links.push(self.key.link(Shared::Challenge, verifier));
        }
        self.store.take(&links, Instant::now())
    }
}

/// Authorizations dropped from a full store before their token request.
#[cfg(feature = "metrics")]
const EVICTED: &str = "oauth_authorizations_evicted_total";
/// Authorize requests that can't be followed: no `state`, no PKCE, and
/// no code in the answer.
#[cfg(feature = "metrics")]
const UNFOLLOWABLE: &str = "oauth_authorizations_unfollowable_total";
#[cfg(not(feature = "metrics"))]
const EVICTED: &str = "";
#[cfg(not(feature = "metrics"))]
const UNFOLLOWABLE: &str = "";

fn count(counter: &'static str, by: usize) {
    #[cfg(feature = "metrics")]
    if by > 0 {
        metrics::counter!(counter).increment(by as u64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (counter, by);
}
