//! [`ScopeNarrowing`]: a grant that gave fewer scopes than were requested.

use http::StatusCode;

use crate::scope::ScopeSet;

/// One silent narrowing: the server answered with a grant (or a consent
/// result) that lacks some of the requested scopes instead of rejecting.
/// Like a rejection, it is drift between what a client asks and what it may
/// have, so it is reported as `oauth.scope_narrowed`.
#[derive(Debug)]
pub(crate) struct ScopeNarrowing {
    pub(crate) requested_scopes: ScopeSet,
    pub(crate) granted_scopes: ScopeSet,
    /// Requested minus granted, in request order; never empty.
    pub(crate) dropped_scopes: ScopeSet,
    pub(crate) client_id: String,
    pub(crate) grant_type: Option<String>,
    pub(crate) user_agent: String,
    pub(crate) status: StatusCode,
    /// `Some("authorize")` when the requested scopes are those of the
    /// authorize request a token request redeemed.
    pub(crate) requested_at: Option<&'static str>,
    pub(crate) suppressed_before: u64,
    /// Whether `client_id`, `grant_type` or `user_agent` were cut.
    pub(crate) text_cut: bool,
}
