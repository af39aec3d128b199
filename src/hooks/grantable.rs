//! [`GrantableScopes`]: where the layer learns which scopes a client may have.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::scope::ScopeSet;

/// The scopes a client may be granted, asked once per rejection with the
/// request's `client_id` (`""` when the request named none).
///
/// Implemented for:
/// - `()`: no lists at all. A narrowing needs none (it rests on the
///   server's own token answer); a rejection's missing scopes are then the
///   requested scopes outside the layer's
///   [`known_scopes`](crate::InvalidScopeObserverLayer::known_scopes), and
///   its `grantable_scopes` are empty;
/// - [`ScopeSet`]: the same scopes for every client;
/// - `HashMap<String, ScopeSet>`: per client, an unknown client may have none;
/// - any `Fn(&str) -> ScopeSet`, to ask your own client registry;
/// - `Arc<T>` of any of these, to share one large source between layers.
///
/// It is asked only on the rejection path, never for requests that pass.
/// When the inner service attaches a [`ScopeDecision`](crate::ScopeDecision)
/// with grantable scopes to its response, those win and this source is not
/// asked.
///
/// # Example
///
/// ```
/// use std::collections::HashMap;
/// use invalid_scope_observer::{GrantableScopes, ScopeSet};
///
/// let per_client = HashMap::from([
///     ("wizard".to_string(), ScopeSet::parse("user:read project:read")),
/// ]);
/// assert_eq!(per_client.grantable_scopes("wizard"), ScopeSet::parse("project:read user:read"));
/// assert!(per_client.grantable_scopes("stranger").is_empty());
///
/// let from_a_function = |client_id: &str| {
///     if client_id.starts_with("partner-") {
///         ScopeSet::parse("user:read")
///     } else {
///         ScopeSet::new()
///     }
/// };
/// assert!(from_a_function.grantable_scopes("partner-7").contains("user:read"));
/// ```
///
/// A map keyed by `&str` is not a source; the compiler says what to give
/// instead, at the call that is wrong:
///
/// ```compile_fail
/// use std::collections::HashMap;
/// use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
///
/// let by_str = HashMap::from([("wizard", ScopeSet::parse("user:read"))]);
/// let layer = InvalidScopeObserverLayer::new(by_str); // error: not a source of grantable scopes
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a source of grantable scopes",
    label = "not a `GrantableScopes`",
    note = "give `()` (no lists), a `ScopeSet` (the same for every client), a `HashMap<String, ScopeSet>` (keys are `String`, not `&str`), a closure `|client_id: &str| -> ScopeSet`, an `Arc` of one of these, or a type that implements `GrantableScopes`"
)]
pub trait GrantableScopes {
    /// The scopes `client_id` may be granted.
    fn grantable_scopes(&self, client_id: &str) -> ScopeSet;

    /// Whether this source lists what clients may have at all (`true`
    /// unless it says otherwise; `()` says `false`). Without lists, a
    /// rejection's missing scopes are its requested scopes outside the
    /// known scopes.
    ///
    /// ```
    /// use invalid_scope_observer::{GrantableScopes, ScopeSet};
    ///
    /// assert!(ScopeSet::parse("read").has_lists());
    /// assert!(!().has_lists());
    /// ```
    fn has_lists(&self) -> bool {
        true
    }
}

impl GrantableScopes for () {
    fn grantable_scopes(&self, _client_id: &str) -> ScopeSet {
        ScopeSet::new()
    }

    fn has_lists(&self) -> bool {
        false
    }
}

impl GrantableScopes for ScopeSet {
    fn grantable_scopes(&self, _client_id: &str) -> ScopeSet {
        self.clone()
    }
}

impl<H: BuildHasher> GrantableScopes for HashMap<String, ScopeSet, H> {
    fn grantable_scopes(&self, client_id: &str) -> ScopeSet {
        self.get(client_id).cloned().unwrap_or_default()
    }
}

impl<F> GrantableScopes for F
where
    F: Fn(&str) -> ScopeSet,
{
    fn grantable_scopes(&self, client_id: &str) -> ScopeSet {
        self(client_id)
    }
}

impl<T: GrantableScopes + ?Sized> GrantableScopes for Arc<T> {
    fn grantable_scopes(&self, client_id: &str) -> ScopeSet {
        (**self).grantable_scopes(client_id)
    }

    fn has_lists(&self) -> bool {
        (**self).has_lists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_the_same_for_every_client() {
        let set = ScopeSet::parse("a b");
        assert_eq!(set.grantable_scopes("x"), set);
        assert_eq!(set.grantable_scopes(""), set);
    }

    #[test]
    fn a_map_is_per_client_and_empty_for_strangers() {
        let map = HashMap::from([("c1".to_string(), ScopeSet::parse("a"))]);
        assert_eq!(map.grantable_scopes("c1"), ScopeSet::parse("a"));
        assert!(map.grantable_scopes("c2").is_empty());
        assert!(map.grantable_scopes("").is_empty());
    }

    #[test]
    fn closures_and_arcs() {
        let closure = |client_id: &str| ScopeSet::parse(client_id);
        assert_eq!(closure.grantable_scopes("a b"), ScopeSet::parse("a b"));
        let shared: Arc<dyn GrantableScopes + Send + Sync> = Arc::new(ScopeSet::parse("z"));
        assert_eq!(shared.grantable_scopes("any"), ScopeSet::parse("z"));
    }
}
