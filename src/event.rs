//! The WARN event that reports one rejection.

use crate::escape::{EscapedScopes, EscapedText};
use crate::{InvalidScopeRejection, TARGET};

/// Emits `oauth.authorize.invalid_scope` at WARN with every field of the
/// rejection, each peer-chosen value escaped (see [`crate::escape`]).
pub(crate) fn emit(rejection: &InvalidScopeRejection) {
    tracing::warn!(
        target: TARGET,
        requested_scopes = %EscapedScopes(rejection.requested_scopes()),
        grantable_scopes = %EscapedScopes(rejection.grantable_scopes()),
        missing_scopes = %EscapedScopes(rejection.missing_scopes()),
        client_id = %EscapedText(rejection.client_id()),
        user_agent = %EscapedText(rejection.user_agent()),
        status = rejection.status().as_u16(),
        "oauth.authorize.invalid_scope"
    );
}
