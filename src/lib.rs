// The crate docs are the README. Its links to the guide pages are
// reference links whose targets (`docs/x.md`) stand at its end; the targets
// below come first, and in Markdown the first one wins, so on docs.rs the
// same links lead to the `guide` modules.
//! [surfaces]: crate::guide::surfaces
//! [following]: crate::guide::following
//! [drift]: crate::guide::drift
//! [counting]: crate::guide::counting
//! [customizing]: crate::guide::customizing
//! [security]: crate::guide::security
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The flow of a request, top to bottom: each module uses only modules below
// it, and none imports through this file. (Blank lines keep this order.)
mod layer;

mod service;

pub mod future;

pub mod body;

mod observe;

#[cfg(feature = "follow")]
mod follow;

mod capture;

mod detect;

mod hooks;

mod report;

mod scope;

// The drift helpers: scope sets only, no http, tower or tracing.
pub mod drift;

// The deep pages of the docs (`docs/*.md`), with their doctests.
pub mod guide;

#[cfg(feature = "follow")]
#[cfg_attr(docsrs, doc(cfg(feature = "follow")))]
pub use crate::follow::{AuthorizePaths, FollowAuthorizations};
#[cfg(feature = "posthog")]
pub use crate::hooks::PostHogHook;
pub use crate::hooks::{GrantableScopes, KnownScopes, OnRejection, ScopeDecision};
#[cfg(feature = "metrics")]
pub use crate::hooks::{
    ScopeMetrics, NARROWINGS_BY_DROPPED_SCOPE, REJECTIONS_BY_MISSING_SCOPE, SUPPRESSED_EVENTS,
    TOKEN_REJECTIONS_BY_MISSING_SCOPE, UNEXPLAINED_REJECTIONS,
};
pub use crate::layer::InvalidScopeObserverLayer;
pub use crate::report::{
    InvalidScopeRejection, RateLimit, RejectionKind, AUTHORIZE_EVENT, NARROWED_EVENT, TARGET,
    TOKEN_EVENT,
};
pub use crate::scope::{ScopeIter, ScopeSet};
pub use crate::service::InvalidScopeObserver;
