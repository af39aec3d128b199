//! What the layer reports and how: the rejection and narrowing values, the
//! events with their bounds and escaping, the rate budgets, and the names
//! every event is known by.

mod event;
mod log_safe;
mod narrowing;
mod rate_limit;
mod rejection;

pub(crate) use self::event::{
    emit, emit_narrowing, narrowing_enabled, rejection_enabled, EventLimits,
};
pub(crate) use self::log_safe::cut_to_chars;
pub(crate) use self::narrowing::ScopeNarrowing;
pub use self::rate_limit::RateLimit;
pub(crate) use self::rate_limit::{Admission, EventBudgets};
pub use self::rejection::{InvalidScopeRejection, RejectionKind};

/// The `tracing` target of every event this crate emits, for filters such as
/// `RUST_LOG=invalid_scope_observer=warn`.
///
/// ```
/// assert_eq!(invalid_scope_observer::TARGET, "invalid_scope_observer");
/// ```
pub const TARGET: &str = "invalid_scope_observer";

/// The message of the event emitted for each rejected authorization request.
///
/// ```
/// assert_eq!(invalid_scope_observer::AUTHORIZE_EVENT, "oauth.authorize.invalid_scope");
/// ```
pub const AUTHORIZE_EVENT: &str = "oauth.authorize.invalid_scope";

/// The message of the event emitted for each `invalid_scope` JSON answer of
/// the token or PAR endpoint (read when the layer
/// [observes bodies](crate::InvalidScopeObserverLayer::observe_bodies)).
///
/// ```
/// assert_eq!(invalid_scope_observer::TOKEN_EVENT, "oauth.token.invalid_scope");
/// ```
pub const TOKEN_EVENT: &str = "oauth.token.invalid_scope";

/// The message of the event emitted when a server grants fewer scopes than
/// were requested instead of rejecting (INFO by default, see
/// [`narrowing_level`](crate::InvalidScopeObserverLayer::narrowing_level)).
///
/// ```
/// assert_eq!(invalid_scope_observer::NARROWED_EVENT, "oauth.scope_narrowed");
/// ```
pub const NARROWED_EVENT: &str = "oauth.scope_narrowed";
