//! Drift helpers: keep the scope lists of a service from drifting apart, in
//! a test that fails CI naming every missing scope. No http, tower or
//! tracing in here: only [`ScopeSet`]s.
//!
//! Two sizes on one engine: the one-line
//! [`assert_scopes_within!`](crate::assert_scopes_within) for two lists, and
//! [`ScopeSurfaces`] for every list a service keeps and the relations
//! between them. Both report a [`DriftViolation`].
//!
//! ```
//! use invalid_scope_observer::assert_scopes_within;
//! use invalid_scope_observer::drift::ScopeSurfaces;
//!
//! const REGISTRY: &[&str] = &["user:read", "project:read", "insight:write"];
//! const WIZARD: &[&str] = &["user:read", "insight:write"];
//!
//! assert_scopes_within!(WIZARD, REGISTRY);
//!
//! ScopeSurfaces::new()
//!     .surface("registry", REGISTRY)
//!     .surface("wizard", WIZARD)
//!     .within("wizard", "registry")
//!     .assert();
//! ```

use std::error::Error;
use std::fmt;

use crate::scope::ScopeSet;

/// The scope lists ("surfaces") a service keeps, each named once, and the
/// relations that must hold between them, checked in one go.
///
/// [`check`](ScopeSurfaces::check) reports every violated relation at once,
/// each naming the relation, the two surfaces and every scope at fault, so a
/// CI run shows all the drift there is, not just the first.
///
/// # Example
///
/// The guard that would have caught a partner wizard asking for scopes its
/// allowlist lacked:
///
/// ```
/// use invalid_scope_observer::drift::ScopeSurfaces;
///
/// const SCOPE_REGISTRY: &[&str] = &[
///     "user:read", "project:read", "query:read", "llm_gateway:read",
///     "dashboard:read", "dashboard:write", "insight:read", "insight:write",
/// ];
/// const ALLOWED_PROVISIONING_SCOPES: &[&str] = &[
///     "user:read", "project:read", "query:read", "llm_gateway:read",
///     "dashboard:write", "insight:write",
/// ];
/// const WIZARD_BARE_MINIMUM_SCOPES: &[&str] = &[
///     "user:read", "project:read", "query:read",
///     "llm_gateway:read", "dashboard:write", "insight:write",
/// ];
/// const PAT_PRESET_SCOPES: &[&str] = &["user:read", "insight:read"];
///
/// let surfaces = ScopeSurfaces::new()
///     .surface("registry", SCOPE_REGISTRY)
///     .surface("partner allowlist", ALLOWED_PROVISIONING_SCOPES)
///     .surface("wizard", WIZARD_BARE_MINIMUM_SCOPES)
///     .surface("PAT presets", PAT_PRESET_SCOPES)
///     .within("wizard", "partner allowlist")
///     .within("partner allowlist", "registry")
///     .within("PAT presets", "registry");
///
/// surfaces.assert(); // in a #[test]: fails CI naming each missing scope
///
/// // Drop one scope from the allowlist and the check names it:
/// let drifted = surfaces.surface("partner allowlist", &ALLOWED_PROVISIONING_SCOPES[..3]);
/// let drift = drifted.check().unwrap_err();
/// assert_eq!(drift.violations().len(), 1);
/// assert!(drift.to_string().contains(
///     "partner allowlist is missing scopes that wizard needs: dashboard:write, insight:write, llm_gateway:read."
/// ));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ScopeSurfaces {
    surfaces: Vec<(String, ScopeSet)>,
    relations: Vec<(String, Relation, String)>,
}

impl ScopeSurfaces {
    /// No surfaces, no relations.
    ///
    /// ```
    /// # use invalid_scope_observer::drift::ScopeSurfaces;
    /// assert!(ScopeSurfaces::new().check().is_ok());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Names a scope list. Naming a surface again replaces its scopes.
    ///
    /// Scopes take anything that converts into a [`ScopeSet`]: a `ScopeSet`
    /// or a reference to one, `[&str; N]`, `&[&str]` (a `const` slice too),
    /// `Vec`, `HashSet` or `BTreeSet` of strings.
    ///
    /// ```
    /// # use invalid_scope_observer::drift::ScopeSurfaces;
    /// let surfaces = ScopeSurfaces::new().surface("registry", ["user:read", "user:write"]);
    /// # drop(surfaces);
    /// ```
    pub fn surface(mut self, name: impl Into<String>, scopes: impl Into<ScopeSet>) -> Self {
        let name = name.into();
        let scopes = scopes.into();
        match self.surfaces.iter_mut().find(|(own, _)| *own == name) {
            Some((_, own)) => *own = scopes,
            None => self.surfaces.push((name, scopes)),
        }
        self
    }

    /// Requires every scope of `needed` to be in `allowed` (`needed ⊆ allowed`).
    ///
    /// ```
    /// # use invalid_scope_observer::drift::ScopeSurfaces;
    /// let surfaces = ScopeSurfaces::new()
    ///     .surface("wizard", ["user:read"])
    ///     .surface("allowlist", ["user:read", "query:read"])
    ///     .within("wizard", "allowlist");
    /// assert!(surfaces.check().is_ok());
    /// ```
    pub fn within(mut self, needed: &str, allowed: &str) -> Self {
        self.relations
            .push((needed.to_string(), Relation::Within, allowed.to_string()));
        self
    }

    /// Requires both surfaces to hold the same scopes (`first = second`); a
    /// violation names the scopes each one lacks.
    ///
    /// ```
    /// # use invalid_scope_observer::drift::ScopeSurfaces;
    /// let surfaces = ScopeSurfaces::new()
    ///     .surface("docs", ["user:read", "user:write"])
    ///     .surface("server", ["user:write", "user:read"])
    ///     .equal("docs", "server");
    /// assert!(surfaces.check().is_ok());
    /// ```
    pub fn equal(mut self, first: &str, second: &str) -> Self {
        self.relations
            .push((first.to_string(), Relation::Equal, second.to_string()));
        self
    }

    /// Checks every relation, in the order they were declared, and reports
    /// every violation.
    ///
    /// ```
    /// # use invalid_scope_observer::drift::ScopeSurfaces;
    /// let drift = ScopeSurfaces::new()
    ///     .surface("wizard", ["user:read", "admin"])
    ///     .surface("allowlist", ["user:read"])
    ///     .within("wizard", "allowlist")
    ///     .check()
    ///     .unwrap_err();
    /// assert_eq!(drift.violations()[0].missing_scopes(), ["admin"]);
    /// ```
    pub fn check(&self) -> Result<(), ScopeDrift> {
        let mut violations = Vec::new();
        for (first, relation, second) in &self.relations {
            let declared = format!("{first} {relation} {second}");
            let (Some(first_scopes), Some(second_scopes)) =
                (self.scopes(first), self.scopes(second))
            else {
                for name in [first, second] {
                    if self.scopes(name).is_none() {
                        violations.push(DriftViolation::UnknownSurface {
                            relation: declared.clone(),
                            name: name.clone(),
                        });
                    }
                }
                continue;
            };
            let mut directions = vec![(first, first_scopes, second, second_scopes)];
            if *relation == Relation::Equal {
                directions.push((second, second_scopes, first, first_scopes));
            }
            for (needed, needed_scopes, allowed, allowed_scopes) in directions {
                violations.extend(missing_between(
                    &declared,
                    (needed, needed_scopes),
                    (allowed, allowed_scopes),
                    *relation,
                ));
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ScopeDrift { violations })
        }
    }

    /// Panics with every violation when [`check`](ScopeSurfaces::check)
    /// fails: the one line to put in a test.
    ///
    /// ```should_panic
    /// # use invalid_scope_observer::drift::ScopeSurfaces;
    /// ScopeSurfaces::new()
    ///     .surface("wizard", ["admin"])
    ///     .surface("allowlist", ["user:read"])
    ///     .within("wizard", "allowlist")
    ///     .assert(); // panics: "1 scope relation does not hold: …"
    /// ```
    #[track_caller]
    pub fn assert(&self) {
        if let Err(drift) = self.check() {
            panic!("{drift}");
        }
    }

    fn scopes(&self, name: &str) -> Option<&ScopeSet> {
        self.surfaces
            .iter()
            .find(|(own, _)| own == name)
            .map(|(_, scopes)| scopes)
    }
}

/// The one check both sizes share: the scopes `needed` has and `allowed`
/// lacks, as a violation of the relation `declared`; `None` when nothing is
/// missing. Missing scopes are sorted, so the text is the same whatever
/// order the lists were written in.
fn missing_between(
    declared: &str,
    (needed_list, needed): (&str, &ScopeSet),
    (allowed_list, allowed): (&str, &ScopeSet),
    relation: Relation,
) -> Option<DriftViolation> {
    let missing = needed.difference(allowed);
    if missing.is_empty() {
        return None;
    }
    let mut missing: Vec<String> = missing.iter().map(str::to_string).collect();
    missing.sort_unstable();
    Some(DriftViolation::Missing {
        relation: declared.to_string(),
        needed_list: needed_list.to_string(),
        allowed_list: allowed_list.to_string(),
        missing,
        kind: relation,
    })
}

/// What [`assert_scopes_within!`](crate::assert_scopes_within) expands to:
/// not part of the API.
#[doc(hidden)]
#[track_caller]
pub fn assert_within(
    needed_list: &str,
    needed: impl Into<ScopeSet>,
    allowed_list: &str,
    allowed: impl Into<ScopeSet>,
) {
    let declared = format!("{needed_list} {} {allowed_list}", Relation::Within);
    let (needed, allowed) = (needed.into(), allowed.into());
    if let Some(violation) = missing_between(
        &declared,
        (needed_list, &needed),
        (allowed_list, &allowed),
        Relation::Within,
    ) {
        panic!("{}", violation.explanation());
    }
}

/// Panics unless every scope of `needed` is in `allowed`, with a message
/// that names both expressions, every missing scope and the two ways to fix
/// it. For tests that keep scope lists from drifting apart; for many lists
/// at once, or a `Result` instead of a panic, use
/// [`ScopeSurfaces`](crate::drift::ScopeSurfaces).
///
/// Both arguments take anything [`ScopeSurfaces::surface`] takes.
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
        $crate::drift::assert_within(
            ::std::stringify!($needed),
            $needed,
            ::std::stringify!($allowed),
            $allowed,
        )
    };
}

/// How two scope lists must relate.
///
/// ```
/// use invalid_scope_observer::drift::Relation;
///
/// assert_eq!(Relation::Within.to_string(), "⊆");
/// assert_eq!(Relation::Equal.to_string(), "=");
/// ```
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

/// Every relation of a [`ScopeSurfaces`] that does not hold. Its `Debug`
/// prints the same readable report as its `Display`, so a test that calls
/// `.unwrap()` or returns the `Result` shows it as it is.
///
/// ```
/// # use invalid_scope_observer::drift::ScopeSurfaces;
/// let drift = ScopeSurfaces::new()
///     .surface("wizard", ["admin"])
///     .surface("allowlist", ["user:read"])
///     .within("wizard", "allowlist")
///     .check()
///     .unwrap_err();
/// assert_eq!(format!("{drift:?}"), drift.to_string());
/// assert!(drift.to_string().starts_with("1 scope relation does not hold:\n- wizard ⊆ allowlist: "));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ScopeDrift {
    violations: Vec<DriftViolation>,
}

impl ScopeDrift {
    /// The violations, in the order the relations were declared.
    ///
    /// ```
    /// # use invalid_scope_observer::drift::ScopeSurfaces;
    /// let drift = ScopeSurfaces::new().within("a", "b").check().unwrap_err();
    /// assert_eq!(drift.violations().len(), 2); // neither surface was named
    /// ```
    pub fn violations(&self) -> &[DriftViolation] {
        &self.violations
    }
}

impl fmt::Display for ScopeDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.violations.len();
        let noun = if count == 1 {
            "relation does"
        } else {
            "relations do"
        };
        write!(f, "{count} scope {noun} not hold:")?;
        for violation in &self.violations {
            write!(f, "\n- {violation}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Error for ScopeDrift {}

/// One relation that does not hold: the one violation type of both the
/// macro and [`ScopeSurfaces`]. `Display` (and `Debug`) name the relation,
/// both lists, every missing scope (sorted) and the two ways to fix it.
///
/// ```
/// # use invalid_scope_observer::drift::{DriftViolation, ScopeSurfaces};
/// let drift = ScopeSurfaces::new()
///     .surface("wizard", ["user:read", "llm_gateway:read", "insight:write"])
///     .surface("partner_allowlist", ["user:read"])
///     .within("wizard", "partner_allowlist")
///     .check()
///     .unwrap_err();
/// let violation = &drift.violations()[0];
/// assert_eq!(violation.missing_scopes(), ["insight:write", "llm_gateway:read"]);
/// assert_eq!(
///     violation.to_string(),
///     "wizard ⊆ partner_allowlist: partner_allowlist is missing scopes that wizard needs: \
///      insight:write, llm_gateway:read. Either add them to partner_allowlist, or remove them \
///      from wizard if it no longer needs them."
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DriftViolation {
    /// One surface lacks scopes the other has.
    #[non_exhaustive]
    Missing {
        /// The relation as declared, e.g. `wizard ⊆ partner allowlist`.
        relation: String,
        /// The name of the list that has the scopes.
        needed_list: String,
        /// The name of the list that lacks them.
        allowed_list: String,
        /// The missing scopes, sorted.
        missing: Vec<String>,
        /// The relation that failed.
        kind: Relation,
    },
    /// The relation names a surface that was never declared.
    #[non_exhaustive]
    UnknownSurface {
        /// The relation as declared.
        relation: String,
        /// The name no surface has.
        name: String,
    },
}

impl DriftViolation {
    /// The relation as declared, e.g. `wizard ⊆ partner allowlist`.
    ///
    /// ```
    /// # use invalid_scope_observer::drift::ScopeSurfaces;
    /// let drift = ScopeSurfaces::new().within("wizard", "allowlist").check().unwrap_err();
    /// assert_eq!(drift.violations()[0].relation(), "wizard ⊆ allowlist");
    /// ```
    pub fn relation(&self) -> &str {
        match self {
            DriftViolation::Missing { relation, .. }
            | DriftViolation::UnknownSurface { relation, .. } => relation,
        }
    }

    /// The missing scopes, sorted; none when the relation names a surface
    /// that was never declared.
    ///
    /// ```
    /// # use invalid_scope_observer::drift::ScopeSurfaces;
    /// let drift = ScopeSurfaces::new().within("wizard", "allowlist").check().unwrap_err();
    /// assert!(drift.violations()[0].missing_scopes().is_empty());
    /// ```
    pub fn missing_scopes(&self) -> &[String] {
        match self {
            DriftViolation::Missing { missing, .. } => missing,
            DriftViolation::UnknownSurface { .. } => &[],
        }
    }

    /// What is wrong and how to fix it, without the relation in front.
    fn explanation(&self) -> Explanation<'_> {
        Explanation(self)
    }
}

struct Explanation<'a>(&'a DriftViolation);

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            DriftViolation::Missing {
                needed_list: needed,
                allowed_list: allowed,
                missing,
                kind,
                ..
            } => {
                let missing = missing.join(", ");
                match kind {
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
            DriftViolation::UnknownSurface { name, .. } => {
                write!(f, "no surface is named {name:?}")
            }
        }
    }
}

impl fmt::Display for DriftViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.relation(), self.explanation())
    }
}

impl fmt::Debug for DriftViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Error for DriftViolation {}

#[cfg(test)]
mod tests;
