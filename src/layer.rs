//! [`InvalidScopeObserverLayer`]: configuration, builder methods and `Layer`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use http::StatusCode;
use tower_layer::Layer;
use tracing::Level;

use crate::body::HeadersOnly;
#[cfg(feature = "bodies")]
use crate::body::WithBodies;
use crate::detect::{Dialect, RedirectStatuses};
#[cfg(feature = "follow")]
use crate::follow::FollowAuthorizations;
use crate::hooks::{GrantableScopes, KnownScopes, OnRejection};
use crate::observe::{Observer, Settings};
use crate::report::{EventBudgets, RateLimit};
use crate::scope::ScopeSet;
use crate::service::InvalidScopeObserver;

/// Wraps a service so that every `error=invalid_scope` redirect it answers is
/// reported as one `tracing` WARN event (and passed to a hook), while the
/// response itself goes out untouched.
///
/// `G` is where grantable scopes come from (a [`GrantableScopes`]), `H` the
/// hook (an [`OnRejection`], `()` by default), `R` what the layer reads
/// ([`HeadersOnly`](crate::body::HeadersOnly) by default,
/// [`WithBodies`](crate::body::WithBodies) after
/// [`observe_bodies`](InvalidScopeObserverLayer::observe_bodies)).
///
/// [`GrantableScopes`]: crate::GrantableScopes
/// [`OnRejection`]: crate::OnRejection
///
/// # Example
///
/// ```
/// use http::StatusCode;
/// use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
///
/// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid profile email"))
///     .on_rejection(|rejection: &InvalidScopeRejection| {
///         eprintln!("missing {:?}", rejection.missing_scopes());
///     })
///     .user_agent_limit(120)
///     .redirect_statuses([StatusCode::FOUND, StatusCode::SEE_OTHER]);
/// # drop(layer);
/// ```
pub struct InvalidScopeObserverLayer<G, H = (), R = HeadersOnly> {
    /// Every service this layer builds, and every clone of the layer, holds
    /// this same `Arc`: one grantable source, one hook and one set of event
    /// budgets for the layer as a whole (all routes of a router together).
    observer: Arc<Observer<G, H>>,
    reads: PhantomData<fn() -> R>,
}

impl<G, H, R> Clone for InvalidScopeObserverLayer<G, H, R> {
    fn clone(&self) -> Self {
        Self {
            observer: Arc::clone(&self.observer),
            reads: PhantomData,
        }
    }
}

impl<G: GrantableScopes> InvalidScopeObserverLayer<G> {
    /// A layer that asks `grantable` which scopes a client may have, reports
    /// rejections from any 3xx response at up to 100 events per second, and
    /// calls no hook. Events list at most 64 scopes per field, 128 characters
    /// per scope and per `client_id`, and 200 per `user_agent`.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    ///
    /// // The same scopes for every client:
    /// let everyone = InvalidScopeObserverLayer::new(ScopeSet::parse("openid email"));
    ///
    /// // Or per client:
    /// let per_client = InvalidScopeObserverLayer::new(HashMap::from([
    ///     ("wizard".to_string(), ScopeSet::parse("user:read project:read")),
    /// ]));
    /// # drop((everyone, per_client));
    /// ```
    pub fn new(grantable: G) -> Self {
        Self {
            observer: Arc::new(Observer {
                grantable: Arc::new(grantable),
                on_rejection: Arc::new(()),
                known_scopes: None,
                dialect: Dialect::default(),
                budgets: Arc::new(EventBudgets::new(RateLimit::default())),
                #[cfg(feature = "metrics")]
                metrics: None,
                #[cfg(feature = "follow")]
                follow: None,
                settings: Settings::default(),
            }),
            reads: PhantomData,
        }
    }
}

impl<G, H, R> InvalidScopeObserverLayer<G, H, R> {
    /// Calls `hook` once for each rejection, after its event.
    ///
    /// ```
    /// use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    ///
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         // e.g. hand it to an error tracker
    ///         let _error: &dyn std::error::Error = rejection;
    ///     });
    /// # drop(layer);
    /// ```
    pub fn on_rejection<NewH: OnRejection>(
        self,
        hook: NewH,
    ) -> InvalidScopeObserverLayer<G, NewH, R> {
        InvalidScopeObserverLayer {
            observer: Arc::new(Arc::unwrap_or_clone(self.observer).with_hook(hook)),
            reads: PhantomData,
        }
    }

    /// Changes the shared part. A layer no one else holds changes in place;
    /// one that was cloned, or has built services, gets a copy of its own,
    /// which keeps sharing the grantable source, the hook and the event
    /// budgets with the others.
    fn configure(self, change: impl FnOnce(&mut Observer<G, H>)) -> Self {
        let mut observer = Arc::unwrap_or_clone(self.observer);
        change(&mut observer);
        Self {
            observer: Arc::new(observer),
            reads: PhantomData,
        }
    }

    /// Also reads form and JSON request bodies and JSON answers, as they
    /// stream by (see [`body`](crate::body)): POSTed authorization and
    /// consent forms (or a single-page consent screen's JSON) give their
    /// `scope` and `client_id`, `{"error":"invalid_scope"}` answers (or an
    /// error object `{"error":{"code":"invalid_scope"}}`) are reported as
    /// `oauth.token.invalid_scope` with the request's `grant_type` (as
    /// `oauth.authorize.invalid_scope` when the request was an
    /// authorization request), a redirect carried in a JSON answer
    /// (`{"redirect_to": …}`) is read like a `Location`, and token grants
    /// narrower than requested are reported as `oauth.scope_narrowed`.
    ///
    /// The service then wraps bodies: the inner service gets
    /// `Request<RequestBody<B>>` and the client `Response<ResponseBody<B>>`.
    /// Both yield the original bytes unchanged; axum's `Router::layer` and
    /// hyper accept them as they are.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .observe_bodies()
    ///     .body_limit(4 * 1024);
    /// # drop(layer);
    /// ```
    #[cfg(feature = "bodies")]
    #[cfg_attr(docsrs, doc(cfg(feature = "bodies")))]
    pub fn observe_bodies(self) -> InvalidScopeObserverLayer<G, H, WithBodies> {
        InvalidScopeObserverLayer {
            observer: self.observer,
            reads: PhantomData,
        }
    }

    /// The level of `oauth.scope_narrowed` events (INFO by default): a
    /// narrowing is a grant, not a failure, but it is drift all the same.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
    ///     .narrowing_level(tracing::Level::WARN);
    /// # drop(layer);
    /// ```
    pub fn narrowing_level(self, level: Level) -> Self {
        self.configure(|observer| {
            observer.settings.narrowing_level = level;
        })
    }

    /// Tells the layer every scope the server knows, so each event also says
    /// which requested scopes are unknown (`unknown_scopes`: a client bug, a
    /// typo or a probe) and which missing ones are known scopes this client
    /// may not have (`ungranted_known_scopes`: drift or a misconfigured
    /// client). Feed it the same registry your drift tests check.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// const SCOPE_REGISTRY: &[&str] = &["user:read", "project:read", "insight:write"];
    ///
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read"))
    ///     .known_scopes(SCOPE_REGISTRY);
    /// # drop(layer);
    /// ```
    pub fn known_scopes(self, registry: impl Into<ScopeSet>) -> Self {
        self.known_scopes_from(KnownScopes::from(registry.into()))
    }

    /// Reads the known scopes from `known`, which another task may replace
    /// while the layer runs (the server's discovery document, read again
    /// every few minutes): like [`known_scopes`](Self::known_scopes), with
    /// the registry shared.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, KnownScopes};
    /// let known = KnownScopes::new();
    /// let layer = InvalidScopeObserverLayer::new(()).known_scopes_from(known.clone());
    /// known.replace(["read", "write"]); // seen by every service of the layer
    /// # drop(layer);
    /// ```
    pub fn known_scopes_from(self, known: KnownScopes) -> Self {
        self.configure(|observer| {
            observer.known_scopes = Some(known);
        })
    }

    /// The error codes that mean invalid scope, in JSON answers (a string
    /// `error`, or an error object's `code`) and in redirects (`error=`):
    /// `["invalid_scope"]` by default (RFC 6749). Add a server's own alias,
    /// such as glewlwyd's `scope_invalid`; codes are compared exactly.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("read"))
    ///     .invalid_scope_codes(["invalid_scope", "scope_invalid"]);
    /// # drop(layer);
    /// ```
    ///
    /// With only `invalid_scope`, a success redirect is ruled out by one
    /// vectorized pass over its `Location`; with other codes, every
    /// `Location` holding the bytes `error` is decoded.
    pub fn invalid_scope_codes<S: AsRef<str>>(self, codes: impl IntoIterator<Item = S>) -> Self {
        let codes: Vec<String> = codes
            .into_iter()
            .map(|code| code.as_ref().to_string())
            .collect();
        self.configure(|observer| {
            observer.dialect = observer.dialect.clone().with_invalid_scope_codes(&codes);
        })
    }

    /// The members of a JSON answer that carry a redirect, read exactly
    /// like a `Location` when the layer
    /// [observes bodies](Self::observe_bodies): `["redirect_to"]` by
    /// default, as single-page consent screens answer
    /// (`200 {"redirect_to": "https://client/cb?code=…&state=…"}`). An
    /// `error=invalid_scope` in its query or fragment is a rejection of the
    /// authorization request; its `code` and `state` are followed like a
    /// redirect's.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("read"))
    ///     .observe_bodies()
    ///     .redirect_members(["redirect_to", "redirect_uri"]);
    /// # drop(layer);
    /// ```
    #[cfg(feature = "bodies")]
    #[cfg_attr(docsrs, doc(cfg(feature = "bodies")))]
    pub fn redirect_members<S: AsRef<str>>(self, members: impl IntoIterator<Item = S>) -> Self {
        let members: Vec<String> = members
            .into_iter()
            .map(|member| member.as_ref().to_string())
            .collect();
        self.configure(|observer| {
            observer.dialect = observer.dialect.clone().with_redirect_members(&members);
        })
    }

    /// Limits how many events per second the layer emits (100 per second
    /// with a burst of 100 by default). Rejections over the limit are
    /// counted into the next event of the same name's `suppressed` field (or,
    /// at shutdown, into one `<event name>.suppressed` summary), and do not
    /// reach the hook unless [`call_hook_for_every_rejection`] is set. Each
    /// event name has a budget of its own under this limit.
    ///
    /// [`call_hook_for_every_rejection`]: InvalidScopeObserverLayer::call_hook_for_every_rejection
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, RateLimit, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
    ///     .rate_limit(RateLimit::per_second(10).burst(100));
    /// # drop(layer);
    /// ```
    pub fn rate_limit(self, limit: RateLimit) -> Self {
        self.configure(|observer| {
            observer.budgets = Arc::new(EventBudgets::new(limit));
        })
    }

    /// Calls the hook for every rejection, also those the rate limit keeps
    /// out of the log (for a metrics counter that must count them all).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
    ///     .on_rejection(|_: &InvalidScopeRejection| { /* count it */ })
    ///     .call_hook_for_every_rejection();
    /// # drop(layer);
    /// ```
    pub fn call_hook_for_every_rejection(self) -> Self {
        self.configure(|observer| observer.settings.hook_sees_every_rejection = true)
    }

    /// Counts every rejection in the `metrics` facade, before the event rate
    /// limit, so the counts are exact, labelled by the missing scopes of
    /// the registry given to [`known_scopes`](Self::known_scopes) (see
    /// [`ScopeMetrics`](crate::ScopeMetrics)).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeMetrics, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read"))
    ///     .known_scopes(["user:read", "user:write"])
    ///     .count_in_metrics(ScopeMetrics::new());
    /// # drop(layer);
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn count_in_metrics(self, metrics: crate::hooks::ScopeMetrics) -> Self {
        self.configure(|observer| {
            observer.metrics = Some(metrics);
        })
    }

    /// Cuts the reported `client_id` to at most `characters` characters
    /// (128 by default).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new()).client_id_limit(64);
    /// # drop(layer);
    /// ```
    ///
    /// # Panics
    ///
    /// When `characters` is 0, which would leave every event's `client_id`
    /// empty.
    pub fn client_id_limit(self, characters: usize) -> Self {
        assert!(
            characters > 0,
            "client_id_limit(0) would leave every client_id empty: give at least 1"
        );
        self.configure(|observer| {
            observer.settings.limits.client_id_chars = characters;
        })
    }

    /// Lists at most `scopes` scopes in each scope field of an event (64 by
    /// default); the `*_count` fields still give the full sizes.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new()).scopes_per_field_limit(16);
    /// # drop(layer);
    /// ```
    ///
    /// # Panics
    ///
    /// When `scopes` is 0, which would leave every scope field empty.
    pub fn scopes_per_field_limit(self, scopes: usize) -> Self {
        assert!(
            scopes > 0,
            "scopes_per_field_limit(0) would leave every scope field empty: give at least 1"
        );
        self.configure(|observer| {
            observer.settings.limits.scopes_per_field = scopes;
        })
    }

    /// Cuts each scope in an event to at most `characters` characters (128
    /// by default).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new()).scope_length_limit(64);
    /// # drop(layer);
    /// ```
    ///
    /// # Panics
    ///
    /// When `characters` is 0, which would cut every scope to nothing.
    pub fn scope_length_limit(self, characters: usize) -> Self {
        assert!(
            characters > 0,
            "scope_length_limit(0) would cut every scope to nothing: give at least 1"
        );
        self.configure(|observer| {
            observer.settings.limits.scope_chars = characters;
        })
    }

    /// Cuts the reported `User-Agent` to at most `characters` characters
    /// (200 by default), on a character boundary.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new()).user_agent_limit(80);
    /// # drop(layer);
    /// ```
    ///
    /// `0` leaves the user agent out of every event, as a privacy setting:
    /// then an absent user agent does not count as `truncated`.
    pub fn user_agent_limit(self, characters: usize) -> Self {
        self.configure(|observer| {
            observer.settings.limits.user_agent_chars = characters;
        })
    }

    /// Looks only at responses with these statuses (every 3xx by default).
    ///
    /// # Panics
    ///
    /// When a status is outside 300..=399 (only a redirect's `Location`
    /// carries the error back to the client), or when there is none (which
    /// would silently observe nothing).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// use http::StatusCode;
    ///
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
    ///     .redirect_statuses([StatusCode::FOUND, StatusCode::SEE_OTHER]);
    /// # drop(layer);
    /// ```
    pub fn redirect_statuses(self, statuses: impl IntoIterator<Item = StatusCode>) -> Self {
        self.configure(|observer| {
            observer.settings.redirect_statuses = RedirectStatuses::only(statuses);
        })
    }
}

#[cfg(feature = "bodies")]
#[cfg_attr(docsrs, doc(cfg(feature = "bodies")))]
impl<G, H> InvalidScopeObserverLayer<G, H, WithBodies> {
    /// Keeps at most `bytes` bytes of each form body and JSON answer (8 KiB
    /// by default). A form cut by the limit still gives the parameters
    /// before the cut; a JSON answer longer than the limit is not reported.
    /// Only a layer that reads bodies has this setting.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
    ///     .observe_bodies()
    ///     .body_limit(16 * 1024);
    /// # drop(layer);
    /// ```
    ///
    /// # Panics
    ///
    /// When `bytes` is 0, which would read no body at all: keep the
    /// default layer instead of `.observe_bodies()`.
    pub fn body_limit(self, bytes: usize) -> Self {
        assert!(
            bytes > 0,
            "body_limit(0) would read no body at all: drop .observe_bodies() instead"
        );
        self.configure(|observer| {
            observer.settings.body_limit = bytes;
        })
    }

    /// Follows each authorization-code flow from its authorize request to
    /// its token request, and reports a token answer that grants fewer
    /// scopes than the authorize request asked for as
    /// `oauth.scope_narrowed` with `requested_at="authorize"` (see
    /// [`FollowAuthorizations`] for what is kept, and for how long).
    ///
    /// ```
    /// use invalid_scope_observer::{FollowAuthorizations, InvalidScopeObserverLayer, ScopeSet};
    ///
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("read"))
    ///     .observe_bodies()
    ///     .follow_authorizations(FollowAuthorizations::in_memory());
    /// # drop(layer);
    /// ```
    #[cfg(feature = "follow")]
    #[cfg_attr(docsrs, doc(cfg(feature = "follow")))]
    pub fn follow_authorizations(self, follow: FollowAuthorizations) -> Self {
        let follower = Arc::new(follow.start());
        self.configure(|observer| observer.follow = Some(follower))
    }
}

impl<S, G, H, R> Layer<S> for InvalidScopeObserverLayer<G, H, R> {
    type Service = InvalidScopeObserver<S, G, H, R>;

    fn layer(&self, inner: S) -> Self::Service {
        InvalidScopeObserver::from_parts(inner, Arc::clone(&self.observer))
    }
}

impl<G, H, R> fmt::Debug for InvalidScopeObserverLayer<G, H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut layer = f.debug_struct("InvalidScopeObserverLayer");
        layer.field("reads", &std::any::type_name::<R>());
        self.observer.describe(&mut layer);
        layer.finish()
    }
}
