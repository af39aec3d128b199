//! [`ScopeSurfaces`]: every named scope list of a service, the relations that
//! must hold between them, and one check that reports every violation.

use std::error::Error;
use std::fmt;

use crate::missing_scopes::{MissingScopes, Relation};
use crate::ScopeSet;

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
/// use invalid_scope_observer::ScopeSurfaces;
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
    pub fn new() -> Self {
        Self::default()
    }

    /// Names a scope list. Naming a surface again replaces its scopes.
    ///
    /// ```
    /// # use invalid_scope_observer::ScopeSurfaces;
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
    /// # use invalid_scope_observer::ScopeSurfaces;
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
    /// # use invalid_scope_observer::ScopeSurfaces;
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
    pub fn check(&self) -> Result<(), ScopeDrift> {
        let mut violations = Vec::new();
        for (first, relation, second) in &self.relations {
            let label = format!("{first} {relation} {second}");
            let (Some(first_scopes), Some(second_scopes)) =
                (self.scopes(first), self.scopes(second))
            else {
                for name in [first, second] {
                    if self.scopes(name).is_none() {
                        violations.push(DriftViolation::UnknownSurface {
                            relation: label.clone(),
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
                if let Some(missing) = MissingScopes::between(
                    needed,
                    needed_scopes,
                    allowed,
                    allowed_scopes,
                    *relation,
                ) {
                    violations.push(DriftViolation::Missing {
                        relation: label.clone(),
                        missing,
                    });
                }
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

/// Every relation of a [`ScopeSurfaces`] that does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeDrift {
    violations: Vec<DriftViolation>,
}

impl ScopeDrift {
    /// The violations, in the order the relations were declared.
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

impl Error for ScopeDrift {}

/// One relation that does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DriftViolation {
    /// One surface lacks scopes the other has.
    Missing {
        /// The relation as declared, e.g. `wizard ⊆ partner allowlist`.
        relation: String,
        /// Which surface lacks which scopes.
        missing: MissingScopes,
    },
    /// The relation names a surface that was never declared.
    UnknownSurface {
        /// The relation as declared.
        relation: String,
        /// The name no surface has.
        name: String,
    },
}

impl fmt::Display for DriftViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriftViolation::Missing { relation, missing } => write!(f, "{relation}: {missing}"),
            DriftViolation::UnknownSurface { relation, name } => {
                write!(f, "{relation}: no surface is named {name:?}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surfaces() -> ScopeSurfaces {
        ScopeSurfaces::new()
            .surface("registry", ["a", "b", "c", "d"])
            .surface("allowlist", ["a", "b", "c"])
            .surface("wizard", ["a", "c"])
    }

    #[test]
    fn holding_relations_pass() {
        let surfaces = surfaces()
            .within("wizard", "allowlist")
            .within("allowlist", "registry")
            .equal("wizard", "wizard");
        assert!(surfaces.check().is_ok());
        surfaces.assert();
        assert!(ScopeSurfaces::new().check().is_ok());
    }

    #[test]
    fn empty_surfaces_are_within_anything_and_need_everything() {
        let surfaces = ScopeSurfaces::new()
            .surface("none", ScopeSet::new())
            .surface("some", ["x"])
            .within("none", "some")
            .within("some", "none");
        let drift = surfaces.check().unwrap_err();
        assert_eq!(drift.violations().len(), 1);
        assert_eq!(
            drift.to_string(),
            "1 scope relation does not hold:\n- some ⊆ none: none is missing scopes that some needs: x. \
             Either add them to none, or remove them from some if it no longer needs them."
        );
    }

    #[test]
    fn every_violation_is_reported_not_just_the_first() {
        let drift = surfaces()
            .surface("wizard", ["a", "z", "y", "y"])
            .surface("pat", ["d", "q"])
            .within("wizard", "allowlist")
            .within("allowlist", "registry")
            .within("pat", "allowlist")
            .within("pat", "registry")
            .check()
            .unwrap_err();
        let lines: Vec<String> = drift.violations().iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "wizard ⊆ allowlist: allowlist is missing scopes that wizard needs: y, z. \
                 Either add them to allowlist, or remove them from wizard if it no longer needs them.",
                "pat ⊆ allowlist: allowlist is missing scopes that pat needs: d, q. \
                 Either add them to allowlist, or remove them from pat if it no longer needs them.",
                "pat ⊆ registry: registry is missing scopes that pat needs: q. \
                 Either add them to registry, or remove them from pat if it no longer needs them.",
            ]
        );
        assert!(drift
            .to_string()
            .starts_with("3 scope relations do not hold:\n- wizard ⊆ allowlist"));
    }

    #[test]
    fn equality_names_what_each_side_lacks() {
        let drift = surfaces().equal("wizard", "allowlist").check().unwrap_err();
        assert_eq!(drift.violations().len(), 1);
        let DriftViolation::Missing { relation, missing } = &drift.violations()[0] else {
            panic!("expected a missing-scopes violation");
        };
        assert_eq!(relation, "wizard = allowlist");
        assert_eq!(missing.needed_list(), "allowlist");
        assert_eq!(missing.allowed_list(), "wizard");
        assert_eq!(missing.missing_scopes(), ["b"]);
        assert_eq!(missing.relation(), Relation::Equal);

        let both_ways = ScopeSurfaces::new()
            .surface("x", ["a", "b"])
            .surface("y", ["b", "c"])
            .equal("x", "y")
            .check()
            .unwrap_err();
        assert_eq!(both_ways.violations().len(), 2);
    }

    #[test]
    fn unknown_surfaces_are_violations_not_passes() {
        let drift = surfaces()
            .within("wizzard", "allowlist")
            .check()
            .unwrap_err();
        assert_eq!(
            drift.violations(),
            [DriftViolation::UnknownSurface {
                relation: "wizzard ⊆ allowlist".into(),
                name: "wizzard".into()
            }]
        );
        assert!(drift
            .to_string()
            .contains("no surface is named \"wizzard\""));
    }

    #[test]
    fn naming_a_surface_again_replaces_it() {
        let surfaces = surfaces()
            .surface("allowlist", ["a"])
            .within("wizard", "allowlist");
        let drift = surfaces.check().unwrap_err();
        assert!(drift.to_string().contains("needs: c."));
    }

    #[test]
    #[should_panic(expected = "allowlist is missing scopes that wizard needs: z.")]
    fn assert_panics_with_the_report() {
        surfaces()
            .surface("wizard", ["z"])
            .within("wizard", "allowlist")
            .assert();
    }
}
