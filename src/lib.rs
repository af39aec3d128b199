#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod bodies;
mod captured_request;
mod event;
mod future;
mod grantable;
mod layer;
mod log_safe;
mod missing_scopes;
mod narrowing;
mod observe;
mod on_rejection;
#[cfg(feature = "posthog")]
mod posthog;
mod rate_limit;
mod redirect;
mod redirect_statuses;
mod rejection;
mod request_parameters;
mod scope;
mod scope_decision;
#[cfg(feature = "metrics")]
mod scope_metrics;
mod service;
mod surfaces;
mod token_answer;

pub use crate::future::ResponseFuture;
pub use crate::grantable::GrantableScopes;
pub use crate::layer::InvalidScopeObserverLayer;
pub use crate::missing_scopes::{scopes_within, MissingScopes, Relation};
pub use crate::on_rejection::OnRejection;
#[cfg(feature = "posthog")]
pub use crate::posthog::PostHogHook;
pub use crate::rate_limit::RateLimit;
pub use crate::rejection::{InvalidScopeRejection, RejectionKind};
pub use crate::scope::{ScopeIter, ScopeSet};
pub use crate::scope_decision::ScopeDecision;
#[cfg(feature = "metrics")]
pub use crate::scope_metrics::{
    ScopeMetrics, REJECTIONS_BY_MISSING_SCOPE, TOKEN_REJECTIONS_BY_MISSING_SCOPE,
};
pub use crate::service::InvalidScopeObserver;
pub use crate::surfaces::{DriftViolation, ScopeDrift, ScopeSurfaces};

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
/// [observes bodies](InvalidScopeObserverLayer::observe_bodies)).
///
/// ```
/// assert_eq!(invalid_scope_observer::TOKEN_EVENT, "oauth.token.invalid_scope");
/// ```
pub const TOKEN_EVENT: &str = "oauth.token.invalid_scope";

/// The message of the event emitted when a server grants fewer scopes than
/// were requested instead of rejecting (INFO by default, see
/// [`narrowing_level`](InvalidScopeObserverLayer::narrowing_level)).
///
/// ```
/// assert_eq!(invalid_scope_observer::NARROWED_EVENT, "oauth.scope_narrowed");
/// ```
pub const NARROWED_EVENT: &str = "oauth.scope_narrowed";
