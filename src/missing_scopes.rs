//! "Every scope one list needs is in the other": [`scopes_within`], the
//! [`assert_scopes_within!`](crate::assert_scopes_within) macro, and
//! [`MissingScopes`], the error naming what is missing.

use std::error::Error;
use std::fmt;

use crate::ScopeSet;

/// `needed ⊆ allowed` failed: the scopes `needed` has and `allowed` lacks.
///
/// Its `Display` names both lists, every missing scope (sorted, so the text
/// is the same whatever order the lists were written in) and the two ways to
/// fix it.
///
/// # Example
///
/// ```
/// use invalid_scope_observer::scopes_within;
///
/// let wizard = ["user:read", "llm_gateway:read", "insight:write"];
/// let partner_allowlist = ["user:read"];
/// let error = scopes_within("wizard", wizard, "partner_allowlist", partner_allowlist).unwrap_err();
///
/// assert_eq!(error.missing_scopes().len(), 2);
/// assert_eq!(
///     error.to_string(),
///     "partner_allowlist is missing scopes that wizard needs: insight:write, llm_gateway:read. \
///      Either add them to partner_allowlist, or remove them from wizard if it no longer needs them."
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingScopes {
    needed_list: String,
    allowed_list: String,
    missing: Vec<String>,
    relation: Relation,
}

/// How two scope lists must relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Relation {
    /// Every scope of the first list is in the second (`first ⊆ second`).
    Within,
    /// Both lists hold the same scopes (`first = second`).
    Equal,
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Relation::Within => "⊆",
            Relation::Equal => "=",
        })
    }
}

impl MissingScopes {
    /// Compares two named lists; `None` when nothing is missing.
    pub(crate) fn between(
        needed_list: &str,
        needed: &ScopeSet,
        allowed_list: &str,
        allowed: &ScopeSet,
        relation: Relation,
    ) -> Option<Self> {
        let missing = needed.difference(allowed);
        if missing.is_empty() {
            return None;
        }
        let mut missing: Vec<String> = missing.iter().map(str::to_string).collect();
        missing.sort_unstable();
        Some(Self {
            needed_list: needed_list.to_string(),
            allowed_list: allowed_list.to_string(),
            missing,
            relation,
        })
    }

    /// The name of the list that needs the scopes.
    pub fn needed_list(&self) -> &str {
        &self.needed_list
    }

    /// The name of the list that lacks them.
    pub fn allowed_list(&self) -> &str {
        &self.allowed_list
    }

    /// The missing scopes, sorted.
    pub fn missing_scopes(&self) -> &[String] {
        &self.missing
    }

    /// The relation that failed.
    pub fn relation(&self) -> Relation {
        self.relation
    }
}

impl fmt::Display for MissingScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (needed, allowed) = (&self.needed_list, &self.allowed_list);
        let missing = self.missing.join(", ");
        match self.relation {
            Relation::Within => write!(
                f,
                "{allowed} is missing scopes that {needed} needs: {missing}. \
                 Either add them to {allowed}, or remove them from {needed} if it no longer needs them."
            ),
            Relation::Equal => write!(
                f,
                "{allowed} is missing scopes that {needed} has, and the two must be equal: {missing}. \
                 Either add them to {allowed}, or remove them from {needed}."
            ),
        }
    }
}

impl Error for MissingScopes {}

/// Checks that every scope of `needed` is in `allowed`, naming both lists in
/// the error. The function form of [`assert_scopes_within!`](crate::assert_scopes_within).
///
/// Both lists take anything that converts into a [`ScopeSet`]: a `ScopeSet`
/// or a reference to one, `[&str; N]`, `&[&str]` (a `const` slice too),
/// `Vec`, `HashSet` or `BTreeSet` of strings.
///
/// ```
/// use std::collections::HashSet;
/// use invalid_scope_observer::scopes_within;
///
/// const REGISTRY: &[&str] = &["user:read", "project:read", "query:read"];
/// let allowlist: HashSet<&str> = HashSet::from(["user:read", "query:read"]);
///
/// assert!(scopes_within("allowlist", &allowlist, "REGISTRY", REGISTRY).is_ok());
/// assert!(scopes_within("REGISTRY", REGISTRY, "allowlist", &allowlist).is_err());
/// ```
pub fn scopes_within(
    needed_list: &str,
    needed: impl Into<ScopeSet>,
    allowed_list: &str,
    allowed: impl Into<ScopeSet>,
) -> Result<(), MissingScopes> {
    match MissingScopes::between(
        needed_list,
        &needed.into(),
        allowed_list,
        &allowed.into(),
        Relation::Within,
    ) {
        Some(missing) => Err(missing),
        None => Ok(()),
    }
}

/// Panics unless every scope of `needed` is in `allowed`, with a message
/// that names both expressions, every missing scope and the two ways to fix
/// it. For tests that keep scope lists from drifting apart.
///
/// Both arguments take anything [`scopes_within`] takes.
///
/// ```
/// use invalid_scope_observer::assert_scopes_within;
///
/// const ALLOWED_PROVISIONING_SCOPES: &[&str] =
///     &["user:read", "project:read", "query:read", "llm_gateway:read", "dashboard:write", "insight:write"];
/// const WIZARD_BARE_MINIMUM_SCOPES: &[&str] = &["user:read", "llm_gateway:read", "insight:write"];
///
/// assert_scopes_within!(WIZARD_BARE_MINIMUM_SCOPES, ALLOWED_PROVISIONING_SCOPES);
/// ```
///
/// ```should_panic
/// # use invalid_scope_observer::assert_scopes_within;
/// // panics: "[\"user:read\"] is missing scopes that [\"user:read\", \"admin\"] needs: admin. …"
/// assert_scopes_within!(["user:read", "admin"], ["user:read"]);
/// ```
#[macro_export]
macro_rules! assert_scopes_within {
    ($needed:expr, $allowed:expr $(,)?) => {
        if let ::std::result::Result::Err(missing) = $crate::scopes_within(
            ::std::stringify!($needed),
            $needed,
            ::std::stringify!($allowed),
            $allowed,
        ) {
            ::std::panic!("{}", missing);
        }
    };
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use super::*;

    const REGISTRY: &[&str] = &["user:read", "project:read", "query:read", "insight:write"];

    #[test]
    fn within_passes_for_subsets_and_empty_sets() {
        assert!(scopes_within("a", ["user:read"], "b", REGISTRY).is_ok());
        assert!(scopes_within("a", REGISTRY, "b", REGISTRY).is_ok());
        assert!(scopes_within("a", ScopeSet::new(), "b", ScopeSet::new()).is_ok());
        assert!(scopes_within("a", Vec::<&str>::new(), "b", REGISTRY).is_ok());
    }

    #[test]
    fn every_missing_scope_is_named_sorted_and_once() {
        let error = scopes_within(
            "wizard",
            [
                "zeta:read",
                "user:read",
                "alpha:write",
                "zeta:read",
                "alpha:write",
            ],
            "allowlist",
            REGISTRY,
        )
        .unwrap_err();
        assert_eq!(error.missing_scopes(), ["alpha:write", "zeta:read"]);
        assert_eq!(error.needed_list(), "wizard");
        assert_eq!(error.allowed_list(), "allowlist");
        assert_eq!(error.relation(), Relation::Within);
        assert_eq!(
            error.to_string(),
            "allowlist is missing scopes that wizard needs: alpha:write, zeta:read. \
             Either add them to allowlist, or remove them from wizard if it no longer needs them."
        );
    }

    #[test]
    fn the_order_of_hash_sets_does_not_change_the_message() {
        let needed: HashSet<&str> = ["c", "a", "b", "d"].into();
        let messages: HashSet<String> = (0..10)
            .map(|_| {
                let needed: HashSet<&str> = needed.iter().copied().collect();
                scopes_within("n", &needed, "a", ["d"])
                    .unwrap_err()
                    .to_string()
            })
            .collect();
        assert_eq!(messages.len(), 1);
        assert!(messages.iter().next().unwrap().contains(": a, b, c."));
    }

    #[test]
    fn every_input_shape_converts() {
        let set = ScopeSet::parse("user:read");
        let vec = vec!["user:read".to_string()];
        let btree: BTreeSet<&str> = ["user:read"].into();
        let hash: HashSet<String> = ["user:read".to_string()].into();
        assert!(scopes_within("x", &set, "r", REGISTRY).is_ok());
        assert!(scopes_within("x", set, "r", REGISTRY).is_ok());
        assert!(scopes_within("x", &vec, "r", REGISTRY).is_ok());
        assert!(scopes_within("x", vec, "r", REGISTRY).is_ok());
        assert!(scopes_within("x", btree, "r", REGISTRY).is_ok());
        assert!(scopes_within("x", &hash, "r", REGISTRY).is_ok());
        let array: [&str; 1] = ["user:read"];
        assert!(scopes_within("x", hash, "r", ScopeSet::from(&array)).is_ok());
    }

    #[test]
    fn the_macro_passes_quietly() {
        const WIZARD: &[&str] = &["user:read", "insight:write"];
        assert_scopes_within!(WIZARD, REGISTRY);
        assert_scopes_within!(ScopeSet::new(), REGISTRY,);
    }

    #[test]
    fn the_macro_names_both_expressions() {
        const WIZARD: &[&str] = &["user:read", "llm_gateway:read", "dashboard:write"];
        let panic =
            std::panic::catch_unwind(|| assert_scopes_within!(WIZARD, REGISTRY)).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert_eq!(
            message,
            "REGISTRY is missing scopes that WIZARD needs: dashboard:write, llm_gateway:read. \
             Either add them to REGISTRY, or remove them from WIZARD if it no longer needs them."
        );
    }

    #[test]
    fn missing_scopes_is_an_error() {
        let error = scopes_within("a", ["x"], "b", ["y"]).unwrap_err();
        let as_error: Box<dyn Error + Send + Sync> = Box::new(error.clone());
        assert_eq!(as_error.to_string(), error.to_string());
    }
}
