//! The events the layer emits: one per rejection, one per narrowing.

use tracing::Level;

use super::log_safe::{BoundedScopes, EscapedText};
use super::narrowing::ScopeNarrowing;
use super::rejection::InvalidScopeRejection;
use super::{NARROWED_EVENT, TARGET};

/// How much of a peer's values one event carries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventLimits {
    pub(crate) scopes_per_field: usize,
    pub(crate) scope_chars: usize,
    pub(crate) client_id_chars: usize,
    pub(crate) user_agent_chars: usize,
}

/// Emits `oauth.authorize.invalid_scope` (or `oauth.token.invalid_scope`,
/// with `grant_type`) at WARN with every field of the rejection, each scope
/// list bounded by `limits` and every peer-chosen value escaped (see
/// [`crate::log_safe`]). The `*_count` fields always give the full sizes and
/// `truncated` says whether anything was cut, so no number in the event is
/// silently wrong.
pub(crate) fn emit(rejection: &InvalidScopeRejection, limits: &EventLimits) {
    if !rejection_enabled() {
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
        grant_type = rejection.grant_type().map(|grant_type| tracing::field::display(EscapedText(grant_type))),
        user_agent = %EscapedText(rejection.user_agent()),
        status = rejection.status().as_u16(),
        error_description = %EscapedText(rejection.error_description()),
        unexplained = rejection.unexplained(),
        ambiguous = rejection.ambiguous(),
        requested_count = rejection.requested_scopes().len(),
        grantable_count = rejection.grantable_scopes().len(),
        missing_count = rejection.missing_scopes().len(),
        truncated,
        suppressed = rejection.suppressed_before(),
        "{}",
        rejection.event_name()
    );
}

/// Emits `<event_name>.suppressed` at WARN with the count of `event_name`
/// events the rate limit kept out of the log that no later event carried:
/// written once, when the layer and all its services are dropped.
pub(crate) fn emit_suppressed_summary(event_name: &str, suppressed: u64) {
    // `parent: None`: the last service may go inside some request's span,
    // and the summary belongs to none.
    tracing::warn!(target: TARGET, parent: None, suppressed, "{event_name}.suppressed");
}

/// Whether a rejection event would be recorded.
pub(crate) fn rejection_enabled() -> bool {
    tracing::enabled!(target: TARGET, Level::WARN)
}

/// Whether a narrowing event at `level` would be recorded, asked before the
/// rate budget is spent on it.
pub(crate) fn narrowing_enabled(level: Level) -> bool {
    match level {
        Level::ERROR => tracing::enabled!(target: TARGET, Level::ERROR),
        Level::WARN => tracing::enabled!(target: TARGET, Level::WARN),
        Level::INFO => tracing::enabled!(target: TARGET, Level::INFO),
        Level::DEBUG => tracing::enabled!(target: TARGET, Level::DEBUG),
        _ => tracing::enabled!(target: TARGET, Level::TRACE),
    }
}

/// Emits `oauth.scope_narrowed` at `level`, bounded and escaped like a
/// rejection.
pub(crate) fn emit_narrowing(narrowing: &ScopeNarrowing, limits: &EventLimits, level: Level) {
    let bounded = |scopes| BoundedScopes::new(scopes, limits.scopes_per_field, limits.scope_chars);
    let requested = bounded(&narrowing.requested_scopes);
    let granted = bounded(&narrowing.granted_scopes);
    let dropped = bounded(&narrowing.dropped_scopes);
    let truncated = narrowing.text_cut
        || [&requested, &granted, &dropped]
            .into_iter()
            .any(BoundedScopes::is_cut);
    // `tracing` fixes an event's level where it is written: one call site
    // per level, the same fields in each.
    macro_rules! narrowed {
        ($level:expr) => {
            tracing::event!(
                target: TARGET,
                $level,
                requested_scopes = %requested,
                granted_scopes = %granted,
                dropped_scopes = %dropped,
                client_id = %EscapedText(&narrowing.client_id),
                grant_type = narrowing.grant_type.as_deref().map(|grant_type| tracing::field::display(EscapedText(grant_type))),
                user_agent = %EscapedText(&narrowing.user_agent),
                status = narrowing.status.as_u16(),
                requested_at = narrowing.requested_at,
                requested_count = narrowing.requested_scopes.len(),
                granted_count = narrowing.granted_scopes.len(),
                dropped_count = narrowing.dropped_scopes.len(),
                truncated,
                suppressed = narrowing.suppressed_before,
                "{}",
                NARROWED_EVENT
            )
        };
    }
    match level {
        Level::ERROR => narrowed!(Level::ERROR),
        Level::WARN => narrowed!(Level::WARN),
        Level::INFO => narrowed!(Level::INFO),
        Level::DEBUG => narrowed!(Level::DEBUG),
        _ => narrowed!(Level::TRACE),
    }
}
