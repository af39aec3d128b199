//! The guide: the pages of the repository's `docs/` folder, one module
//! each, so that their examples run as doctests and docs.rs shows them
//! beside the API. Start with the [crate] page. (The examples of a page
//! about a feature run as doctests with that feature.)

/// [following]: crate::guide::following
/// [event]: crate#what-the-event-looks-like
/// [surfaces]: crate::guide::surfaces
/// [counting]: crate::guide::counting#counting-exactly
#[doc = include_str!("../docs/security.md")]
pub mod security {}

/// [following]: crate::guide::following
#[doc = include_str!("../docs/surfaces.md")]
#[cfg(any(doc, feature = "bodies"))]
pub mod surfaces {}

#[doc = include_str!("../docs/following.md")]
#[cfg(any(doc, feature = "follow"))]
pub mod following {}

/// [following]: crate::guide::following
#[doc = include_str!("../docs/counting.md")]
pub mod counting {}

#[doc = include_str!("../docs/customizing.md")]
pub mod customizing {}

#[doc = include_str!("../docs/drift.md")]
pub mod drift {}
