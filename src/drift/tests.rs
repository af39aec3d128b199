//! The drift engine's tests: the pair check the macro makes, and
//! [`ScopeSurfaces`] over many lists.

use std::collections::{BTreeSet, HashSet};
use std::error::Error;

use super::*;

/// `needed ⊆ allowed` through the engine, as the macro checks it: the one
/// violation, if any.
fn within(
    needed_list: &str,
    needed: impl Into<ScopeSet>,
    allowed_list: &str,
    allowed: impl Into<ScopeSet>,
) -> Result<(), DriftViolation> {
    ScopeSurfaces::new()
        .surface(needed_list, needed)
        .surface(allowed_list, allowed)
        .within(needed_list, allowed_list)
        .check()
        .map_err(|drift| drift.violations()[0].clone())
}

const REGISTRY: &[&str] = &["user:read", "project:read", "query:read", "insight:write"];

#[test]
fn within_passes_for_subsets_and_empty_sets() {
    assert!(within("a", ["user:read"], "b", REGISTRY).is_ok());
    assert!(within("a", REGISTRY, "b", REGISTRY).is_ok());
    assert!(within("a", ScopeSet::new(), "b", ScopeSet::new()).is_ok());
    assert!(within("a", Vec::<&str>::new(), "b", REGISTRY).is_ok());
}

#[test]
fn every_missing_scope_is_named_sorted_and_once() {
    let error = within(
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
    let DriftViolation::Missing {
        needed_list,
        allowed_list,
        kind,
        ..
    } = &error
    else {
        panic!("expected a missing-scopes violation");
    };
    assert_eq!(needed_list, "wizard");
    assert_eq!(allowed_list, "allowlist");
    assert_eq!(*kind, Relation::Within);
    assert_eq!(
        error.to_string(),
        "wizard ⊆ allowlist: allowlist is missing scopes that wizard needs: alpha:write, zeta:read. \
         Either add them to allowlist, or remove them from wizard if it no longer needs them."
    );
}

#[test]
fn the_order_of_hash_sets_does_not_change_the_message() {
    let needed: HashSet<&str> = ["c", "a", "b", "d"].into();
    let messages: HashSet<String> = (0..10)
        .map(|_| {
            let needed: HashSet<&str> = needed.iter().copied().collect();
            within("n", &needed, "a", ["d"]).unwrap_err().to_string()
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
    assert!(within("x", &set, "r", REGISTRY).is_ok());
    assert!(within("x", set, "r", REGISTRY).is_ok());
    assert!(within("x", &vec, "r", REGISTRY).is_ok());
    assert!(within("x", vec, "r", REGISTRY).is_ok());
    assert!(within("x", btree, "r", REGISTRY).is_ok());
    assert!(within("x", &hash, "r", REGISTRY).is_ok());
    let array: [&str; 1] = ["user:read"];
    assert!(within("x", hash, "r", ScopeSet::from(&array)).is_ok());
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
    let panic = std::panic::catch_unwind(|| assert_scopes_within!(WIZARD, REGISTRY)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert_eq!(
        message,
        "REGISTRY is missing scopes that WIZARD needs: dashboard:write, llm_gateway:read. \
         Either add them to REGISTRY, or remove them from WIZARD if it no longer needs them."
    );
}

#[test]
fn a_violation_is_an_error_whose_debug_reads_like_its_display() {
    let error = within("a", ["x"], "b", ["y"]).unwrap_err();
    let as_error: Box<dyn Error + Send + Sync> = Box::new(error.clone());
    assert_eq!(as_error.to_string(), error.to_string());
    assert_eq!(format!("{error:?}"), error.to_string());
}

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
    let DriftViolation::Missing {
        relation,
        needed_list,
        allowed_list,
        missing,
        kind,
    } = &drift.violations()[0]
    else {
        panic!("expected a missing-scopes violation");
    };
    assert_eq!(relation, "wizard = allowlist");
    assert_eq!(needed_list, "allowlist");
    assert_eq!(allowed_list, "wizard");
    assert_eq!(missing, &["b"]);
    assert_eq!(*kind, Relation::Equal);

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
