//! [`ScopeMetrics`]: rejections counted through the `metrics` facade.
//! Needs the `metrics` feature.

use crate::report::{InvalidScopeRejection, RejectionKind};
use crate::scope::ScopeSet;

/// The counter of authorization redirect rejections, one series per missing
/// scope.
///
/// ```
/// assert_eq!(invalid_scope_observer::REJECTIONS_BY_MISSING_SCOPE, "oauth_authorize_invalid_scope_total");
/// ```
pub const REJECTIONS_BY_MISSING_SCOPE: &str = "oauth_authorize_invalid_scope_total";

/// The counter of token and PAR endpoint rejections (JSON answers, seen when
/// the layer [observes bodies](crate::InvalidScopeObserverLayer::observe_bodies)),
/// labelled like [`REJECTIONS_BY_MISSING_SCOPE`].
///
/// ```
/// assert_eq!(invalid_scope_observer::TOKEN_REJECTIONS_BY_MISSING_SCOPE, "oauth_token_invalid_scope_total");
/// ```
pub const TOKEN_REJECTIONS_BY_MISSING_SCOPE: &str = "oauth_token_invalid_scope_total";

/// The counter of rejections for which the layer's lists name no missing
/// scope ([`InvalidScopeRejection::unexplained`]): the copy of the lists is
/// stale, or the server rejected for another reason (its
/// `error_description` says which). No labels.
///
/// ```
/// assert_eq!(invalid_scope_observer::UNEXPLAINED_REJECTIONS, "oauth_invalid_scope_unexplained_total");
/// ```
pub const UNEXPLAINED_REJECTIONS: &str = "oauth_invalid_scope_unexplained_total";

/// Counts every rejection (before the event rate limit, so the numbers are
/// exact) in the counter `oauth_authorize_invalid_scope_total` (token and PAR
/// endpoint rejections in `oauth_token_invalid_scope_total`), with one
/// increment per rejection for each distinct `missing_scope` label:
/// - a missing scope in the layer's registry
///   ([`known_scopes`](crate::InvalidScopeObserverLayer::known_scopes)) is
///   its own label value (without a registry there is none);
/// - any other missing scope (a typo, a probe) counts as `other`, so a peer
///   cannot create series;
/// - a rejection with nothing missing counts as `none`, and also in
///   `oauth_invalid_scope_unexplained_total` ([`UNEXPLAINED_REJECTIONS`]).
///
/// (Keep scopes named `other` or `none` out of the registry, or their series
/// mix with those two.)
///
/// A rejection missing two known scopes adds one to each of their series;
/// the sum over all series is therefore (rejection, missing scope) pairs.
/// There is no `client_id` label unless you opt in with
/// [`with_client_id_label`](ScopeMetrics::with_client_id_label).
///
/// # Example
///
/// ```
/// use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeMetrics, ScopeSet};
///
/// const SCOPE_REGISTRY: &[&str] = &["user:read", "project:read", "llm_gateway:read"];
///
/// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("user:read"))
///     .known_scopes(SCOPE_REGISTRY)
///     .count_in_metrics(ScopeMetrics::new());
/// # drop(layer);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
#[derive(Clone, Debug, Default)]
pub struct ScopeMetrics {
    client_id_label: bool,
}

impl ScopeMetrics {
    /// Counts with a `missing_scope` label drawn from the layer's
    /// registry, and no `client_id` label.
    ///
    /// ```
    /// # use invalid_scope_observer::ScopeMetrics;
    /// let metrics = ScopeMetrics::new();
    /// # drop(metrics);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a `client_id` label. A peer chooses its `client_id`: only opt in
    /// when the layer sits behind something that rejects unknown clients, or
    /// your metrics store can take one series per value anyone may send.
    ///
    /// ```
    /// # use invalid_scope_observer::ScopeMetrics;
    /// let metrics = ScopeMetrics::new().with_client_id_label();
    /// # drop(metrics);
    /// ```
    pub fn with_client_id_label(mut self) -> Self {
        self.client_id_label = true;
        self
    }

    /// Counts `rejection`, labelled by the scopes of `known_scopes` (the
    /// layer's registry) it lacks.
    pub(crate) fn record(
        &self,
        rejection: &InvalidScopeRejection,
        known_scopes: Option<&ScopeSet>,
    ) {
        let counter = match rejection.kind() {
            RejectionKind::Authorize => REJECTIONS_BY_MISSING_SCOPE,
            RejectionKind::Token => TOKEN_REJECTIONS_BY_MISSING_SCOPE,
        };
        if rejection.unexplained() {
            ::metrics::counter!(UNEXPLAINED_REJECTIONS).increment(1);
        }
        let missing = rejection.missing_scopes();
        let known_missing = match known_scopes {
            Some(known) => missing.intersection(known),
            None => ScopeSet::new(),
        };
        let any_other = known_missing.len() < missing.len();
        let labels = known_missing
            .iter()
            .chain(any_other.then_some("other"))
            .chain(missing.is_empty().then_some("none"));
        for label in labels {
            let missing_scope = label.to_string();
            if self.client_id_label {
                let client_id = rejection.client_id().to_string();
                ::metrics::counter!(counter, "missing_scope" => missing_scope, "client_id" => client_id)
                    .increment(1);
            } else {
                ::metrics::counter!(counter, "missing_scope" => missing_scope).increment(1);
            }
        }
    }
}
