//! The WARN event that reports one rejection.

use crate::log_safe::{BoundedScopes, EscapedText};
use crate::observe::EventLimits;
use crate::{InvalidScopeRejection, TARGET};

/// Emits `oauth.authorize.invalid_scope` at WARN with every field of the
/// rejection, each scope list bounded by `limits` and every peer-chosen
/// value escaped (see [`crate::log_safe`]). The `*_count` fields always give
/// the full sizes and `truncated` says whether anything was cut, so no number
/// in the event is silently wrong.
pub(crate) fn emit(rejection: &InvalidScopeRejection, limits: &EventLimits) {
    if !tracing::enabled!(target: TARGET, tracing::Level::WARN) {
        return;
    }
    let bounded = |scopes| BoundedScopes::new(scopes, limits.scopes_per_field, limits.scope_chars);
    let requested = bounded(rejection.requested_scopes());
    let grantable = bounded(rejection.grantable_scopes());
    let missing = bounded(rejection.missing_scopes());
    let unknown = rejection.unknown_scopes().map(bounded);
    let ungranted_known = rejection.ungranted_known_scopes().map(bounded);
    let truncated = rejection.text_cut
        || [
            Some(&requested),
            Some(&grantable),
            Some(&missing),
            unknown.as_ref(),
            ungranted_known.as_ref(),
        ]
        .into_iter()
        .flatten()
        .any(BoundedScopes::is_cut);
    tracing::warn!(
        target: TARGET,
        requested_scopes = %requested,
        grantable_scopes = %grantable,
        missing_scopes = %missing,
        unknown_scopes = unknown.as_ref().map(tracing::field::display),
        ungranted_known_scopes = ungranted_known.as_ref().map(tracing::field::display),
        client_id = %EscapedText(rejection.client_id()),
        user_agent = %EscapedText(rejection.user_agent()),
        status = rejection.status().as_u16(),
        requested_count = rejection.requested_scopes().len(),
        grantable_count = rejection.grantable_scopes().len(),
        missing_count = rejection.missing_scopes().len(),
        truncated,
        suppressed = rejection.suppressed_before(),
        "oauth.authorize.invalid_scope"
    );
}
