//! [`InvalidScopeObserverLayer`]: configuration, builder methods and `Layer`.

use std::fmt;
use std::sync::Arc;

use http::StatusCode;
use tower_layer::Layer;

use crate::observe::{Observer, Settings};
use crate::redirect_statuses::RedirectStatuses;
use crate::InvalidScopeObserver;

/// Wraps a service so that every `error=invalid_scope` redirect it answers is
/// reported as one `tracing` WARN event (and passed to a hook), while the
/// response itself goes out untouched.
///
/// `G` is where grantable scopes come from (a [`GrantableScopes`]), `H` the
/// hook (an [`OnRejection`], `()` by default).
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
///         eprintln!("missing {}", rejection.missing_scopes());
///     })
///     .user_agent_limit(120)
///     .redirect_statuses([StatusCode::FOUND, StatusCode::SEE_OTHER]);
/// # drop(layer);
/// ```
#[derive(Clone)]
pub struct InvalidScopeObserverLayer<G, H = ()> {
    grantable: G,
    on_rejection: H,
    settings: Settings,
}

impl<G> InvalidScopeObserverLayer<G> {
    /// A layer that asks `grantable` which scopes a client may have, reports
    /// rejections from any 3xx response, cuts user agents to 200 characters
    /// and calls no hook.
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
            grantable,
            on_rejection: (),
            settings: Settings::default(),
        }
    }
}

impl<G, H> InvalidScopeObserverLayer<G, H> {
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
    pub fn on_rejection<NewH>(self, hook: NewH) -> InvalidScopeObserverLayer<G, NewH> {
        InvalidScopeObserverLayer {
            grantable: self.grantable,
            on_rejection: hook,
            settings: self.settings,
        }
    }

    /// Cuts the reported `User-Agent` to at most `characters` characters
    /// (200 by default), on a character boundary.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new()).user_agent_limit(80);
    /// # drop(layer);
    /// ```
    pub fn user_agent_limit(mut self, characters: usize) -> Self {
        self.settings.user_agent_limit = characters;
        self
    }

    /// Looks only at responses with these statuses (every 3xx by default).
    ///
    /// # Panics
    ///
    /// When a status is outside 300..=399: only a redirect's `Location`
    /// carries the error back to the client.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
    /// use http::StatusCode;
    ///
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
    ///     .redirect_statuses([StatusCode::FOUND, StatusCode::SEE_OTHER]);
    /// # drop(layer);
    /// ```
    pub fn redirect_statuses(mut self, statuses: impl IntoIterator<Item = StatusCode>) -> Self {
        self.settings.redirect_statuses = RedirectStatuses::only(statuses);
        self
    }
}

impl<S, G: Clone, H: Clone> Layer<S> for InvalidScopeObserverLayer<G, H> {
    type Service = InvalidScopeObserver<S, G, H>;

    fn layer(&self, inner: S) -> Self::Service {
        InvalidScopeObserver::from_parts(
            inner,
            Arc::new(Observer {
                grantable: self.grantable.clone(),
                on_rejection: self.on_rejection.clone(),
                settings: self.settings,
            }),
        )
    }
}

impl<G, H> fmt::Debug for InvalidScopeObserverLayer<G, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidScopeObserverLayer")
            .field("grantable", &std::any::type_name::<G>())
            .field("on_rejection", &std::any::type_name::<H>())
            .field("settings", &self.settings)
            .finish()
    }
}
