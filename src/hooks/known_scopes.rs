//! [`KnownScopes`]: the scopes a server knows, shared by the layer and
//! whoever keeps them current (the proxy's discovery).

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crate::scope::ScopeSet;

/// The scopes the authorization server knows, which a running layer reads
/// on its rejection path and another task may replace at any time (the
/// server's `scopes_supported`, read again every few minutes, say).
/// Cloning shares them.
///
/// ```
/// use invalid_scope_observer::{InvalidScopeObserverLayer, KnownScopes};
///
/// let known = KnownScopes::new(); // none known yet
/// let layer = InvalidScopeObserverLayer::new(()).known_scopes_from(known.clone());
/// // Later, from discovery:
/// known.replace(["openid", "read", "write"]);
/// assert!(known.get().unwrap().contains("read"));
/// # drop(layer);
/// ```
#[derive(Clone, Default)]
pub struct KnownScopes(Arc<RwLock<Option<ScopeSet>>>);

impl KnownScopes {
    /// No scopes known yet: rejections carry no `unknown_scopes` until
    /// [`replace`](Self::replace) is called.
    ///
    /// ```
    /// # use invalid_scope_observer::KnownScopes;
    /// assert!(KnownScopes::new().get().is_none());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `scopes` in force for every clone; a rejection being reported
    /// keeps the set it read.
    ///
    /// ```
    /// # use invalid_scope_observer::KnownScopes;
    /// let known = KnownScopes::new();
    /// known.replace(["read"]);
    /// assert_eq!(known.get().unwrap().to_string(), "read");
    /// ```
    pub fn replace(&self, scopes: impl Into<ScopeSet>) {
        let scopes = scopes.into();
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(scopes);
    }

    /// The scopes in force, `None` when none are known yet.
    ///
    /// ```
    /// # use invalid_scope_observer::KnownScopes;
    /// let known = KnownScopes::from(["read", "write"]);
    /// assert_eq!(known.get().map(|scopes| scopes.len()), Some(2));
    /// ```
    pub fn get(&self) -> Option<ScopeSet> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl<T: Into<ScopeSet>> From<T> for KnownScopes {
    fn from(scopes: T) -> Self {
        Self(Arc::new(RwLock::new(Some(scopes.into()))))
    }
}

impl fmt::Debug for KnownScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(scopes) => f.debug_tuple("KnownScopes").field(&scopes).finish(),
            None => f.write_str("KnownScopes(none yet)"),
        }
    }
}
