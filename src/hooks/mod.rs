//! Where users plug in: where grantable scopes come from
//! ([`GrantableScopes`]), what to call for each rejection ([`OnRejection`]),
//! what the inner service decided ([`ScopeDecision`]), and the ready sinks
//! for metrics and PostHog.

mod grantable;
mod known_scopes;
#[cfg(feature = "metrics")]
mod metrics;
mod on_rejection;
#[cfg(feature = "posthog")]
mod posthog;
mod scope_decision;

pub use self::grantable::GrantableScopes;
pub use self::known_scopes::KnownScopes;
#[cfg(feature = "metrics")]
pub use self::metrics::{
    ScopeMetrics, NARROWINGS_BY_DROPPED_SCOPE, REJECTIONS_BY_MISSING_SCOPE, SUPPRESSED_EVENTS,
    TOKEN_REJECTIONS_BY_MISSING_SCOPE, UNEXPLAINED_REJECTIONS,
};
pub use self::on_rejection::OnRejection;
#[cfg(feature = "posthog")]
pub use self::posthog::PostHogHook;
pub use self::scope_decision::ScopeDecision;
