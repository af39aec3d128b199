//! [`ScopeDecision`]: what the inner service itself knows about the scopes.

use crate::scope::ScopeSet;

/// A response extension through which the inner service tells the layer
/// what it decided, when it knows better than the request's query.
///
/// Each scope list set here wins over what the layer would work out itself:
/// `grantable` over the layer's [`GrantableScopes`](crate::GrantableScopes)
/// source, `requested` over the request's `scope` parameter (needed when the
/// scopes came in a pushed request (PAR, RFC 9126) or a signed request
/// object (JAR, RFC 9101), which the layer cannot read). `granted` reports a
/// silent narrowing: when it lacks requested scopes, the layer emits
/// `oauth.scope_narrowed` for a response that carries the decision and is
/// not itself a rejection (a redirect with an error, or a `400`/`401` JSON
/// answer when the layer reads bodies).
///
/// With axum, return `(Extension(decision), response)` from a handler.
///
/// # Example
///
/// ```
/// use http::{Response, StatusCode, header::LOCATION};
/// use invalid_scope_observer::{ScopeDecision, ScopeSet};
///
/// let mut response = Response::builder()
///     .status(StatusCode::FOUND)
///     .header(LOCATION, "https://client.example/cb?error=invalid_scope")
///     .body(())
///     .unwrap();
/// response.extensions_mut().insert(
///     ScopeDecision::new().grantable(ScopeSet::parse("user:read project:read")),
/// );
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ScopeDecision {
    pub(crate) requested: Option<ScopeSet>,
    pub(crate) grantable: Option<ScopeSet>,
    pub(crate) granted: Option<ScopeSet>,
}

impl ScopeDecision {
    /// A decision that overrides nothing.
    ///
    /// ```
    /// # use invalid_scope_observer::ScopeDecision;
    /// let decision = ScopeDecision::new();
    /// assert!(decision.requested_scopes().is_none());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The scopes the client asked for, as the inner service read them.
    ///
    /// ```
    /// # use invalid_scope_observer::{ScopeDecision, ScopeSet};
    /// let decision = ScopeDecision::new().requested(ScopeSet::parse("openid admin"));
    /// assert_eq!(decision.requested_scopes(), Some(&ScopeSet::parse("openid admin")));
    /// ```
    pub fn requested(mut self, scopes: ScopeSet) -> Self {
        self.requested = Some(scopes);
        self
    }

    /// The scopes the inner service considered grantable to this client.
    ///
    /// ```
    /// # use invalid_scope_observer::{ScopeDecision, ScopeSet};
    /// let decision = ScopeDecision::new().grantable(ScopeSet::parse("openid"));
    /// assert_eq!(decision.grantable_scopes(), Some(&ScopeSet::parse("openid")));
    /// ```
    pub fn grantable(mut self, scopes: ScopeSet) -> Self {
        self.grantable = Some(scopes);
        self
    }

    /// The scopes the inner service granted. When they lack any requested
    /// scope, the layer reports the response as a narrowing
    /// (`oauth.scope_narrowed`, INFO by default), even if it is a success.
    ///
    /// ```
    /// # use invalid_scope_observer::{ScopeDecision, ScopeSet};
    /// let decision = ScopeDecision::new()
    ///     .requested(ScopeSet::parse("openid admin"))
    ///     .granted(ScopeSet::parse("openid"));
    /// assert_eq!(decision.granted_scopes(), Some(&ScopeSet::parse("openid")));
    /// ```
    pub fn granted(mut self, scopes: ScopeSet) -> Self {
        self.granted = Some(scopes);
        self
    }

    /// The requested scopes set with [`ScopeDecision::requested`], if any.
    ///
    /// ```
    /// # use invalid_scope_observer::{ScopeDecision, ScopeSet};
    /// let decision = ScopeDecision::new().requested(ScopeSet::parse("openid"));
    /// assert_eq!(decision.requested_scopes(), Some(&ScopeSet::parse("openid")));
    /// ```
    pub fn requested_scopes(&self) -> Option<&ScopeSet> {
        self.requested.as_ref()
    }

    /// The grantable scopes set with [`ScopeDecision::grantable`], if any.
    ///
    /// ```
    /// # use invalid_scope_observer::{ScopeDecision, ScopeSet};
    /// assert!(ScopeDecision::new().grantable_scopes().is_none());
    /// ```
    pub fn grantable_scopes(&self) -> Option<&ScopeSet> {
        self.grantable.as_ref()
    }

    /// The granted scopes set with [`ScopeDecision::granted`], if any.
    ///
    /// ```
    /// # use invalid_scope_observer::{ScopeDecision, ScopeSet};
    /// let decision = ScopeDecision::new().granted(ScopeSet::new());
    /// assert!(decision.granted_scopes().is_some_and(ScopeSet::is_empty));
    /// ```
    pub fn granted_scopes(&self) -> Option<&ScopeSet> {
        self.granted.as_ref()
    }
}
