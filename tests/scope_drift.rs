//! The motivating incident as a test: a partner wizard needed scopes its
//! allowlist lacked. The guard fails exactly when the allowlist loses a scope
//! the wizard needs, and names that scope.

use invalid_scope_observer::assert_scopes_within;
use invalid_scope_observer::drift::{DriftViolation, ScopeDrift, ScopeSurfaces};

const SCOPE_REGISTRY: &[&str] = &[
    "user:read",
    "project:read",
    "query:read",
    "llm_gateway:read",
    "dashboard:read",
    "dashboard:write",
    "insight:read",
    "insight:write",
    "feature_flag:write",
];
const ALLOWED_PROVISIONING_SCOPES: &[&str] = &[
    "user:read",
    "project:read",
    "query:read",
    "llm_gateway:read",
    "dashboard:read",
    "dashboard:write",
    "insight:write",
];
const WIZARD_BARE_MINIMUM_SCOPES: &[&str] = &[
    "user:read",
    "project:read",
    "query:read",
    "llm_gateway:read",
    "dashboard:write",
    "insight:write",
];
const PAT_PRESET_SCOPES: &[&str] = &["user:read", "insight:read", "feature_flag:write"];

fn guard(allowlist: &[&str]) -> Result<(), ScopeDrift> {
    ScopeSurfaces::new()
        .surface("registry", SCOPE_REGISTRY)
        .surface("partner allowlist", allowlist)
        .surface("wizard", WIZARD_BARE_MINIMUM_SCOPES)
        .surface("PAT presets", PAT_PRESET_SCOPES)
        .within("wizard", "partner allowlist")
        .within("partner allowlist", "registry")
        .within("PAT presets", "registry")
        .check()
}

#[test]
fn the_shipped_lists_hold() {
    guard(ALLOWED_PROVISIONING_SCOPES).unwrap();
    assert_scopes_within!(WIZARD_BARE_MINIMUM_SCOPES, ALLOWED_PROVISIONING_SCOPES);
    assert_scopes_within!(ALLOWED_PROVISIONING_SCOPES, SCOPE_REGISTRY);
}

#[test]
fn removing_llm_gateway_read_from_the_allowlist_fails_naming_it() {
    let allowlist: Vec<&str> = ALLOWED_PROVISIONING_SCOPES
        .iter()
        .copied()
        .filter(|scope| *scope != "llm_gateway:read")
        .collect();
    let drift = guard(&allowlist).unwrap_err();
    assert_eq!(
        drift.to_string(),
        "1 scope relation does not hold:\n\
         - wizard ⊆ partner allowlist: partner allowlist is missing scopes that wizard needs: \
         llm_gateway:read. Either add them to partner allowlist, or remove them from wizard if it \
         no longer needs them."
    );

    let panic = std::panic::catch_unwind(|| {
        assert_scopes_within!(WIZARD_BARE_MINIMUM_SCOPES, allowlist.as_slice());
    })
    .unwrap_err();
    assert_eq!(
        panic.downcast_ref::<String>().unwrap(),
        "allowlist.as_slice() is missing scopes that WIZARD_BARE_MINIMUM_SCOPES needs: \
         llm_gateway:read. Either add them to allowlist.as_slice(), or remove them from \
         WIZARD_BARE_MINIMUM_SCOPES if it no longer needs them."
    );
}

#[test]
fn the_guard_fails_exactly_when_the_allowlist_loses_a_scope_the_wizard_needs() {
    for removed in ALLOWED_PROVISIONING_SCOPES {
        let allowlist: Vec<&str> = ALLOWED_PROVISIONING_SCOPES
            .iter()
            .copied()
            .filter(|scope| scope != removed)
            .collect();
        let wizard_needs_it = WIZARD_BARE_MINIMUM_SCOPES.contains(removed);
        match guard(&allowlist) {
            Ok(()) => assert!(!wizard_needs_it, "removing {removed} must fail the guard"),
            Err(drift) => {
                assert!(wizard_needs_it, "removing {removed} must not fail: {drift}");
                let [violation @ DriftViolation::Missing { .. }] = drift.violations() else {
                    panic!("one violation expected: {drift}");
                };
                assert_eq!(violation.missing_scopes(), [removed.to_string()]);
            }
        }
    }
}

#[test]
fn a_scope_the_registry_never_heard_of_is_caught_too() {
    let mut allowlist = ALLOWED_PROVISIONING_SCOPES.to_vec();
    allowlist.push("llm_gateway:raed");
    let drift = guard(&allowlist).unwrap_err();
    assert!(drift
        .to_string()
        .contains("registry is missing scopes that partner allowlist needs: llm_gateway:raed."));
}
