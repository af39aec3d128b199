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

/// The counter of narrowings (`oauth.scope_narrowed`: a grant with fewer
/// scopes than were asked), one series per dropped scope, labelled like
/// [`REJECTIONS_BY_MISSING_SCOPE`] (`dropped_scope`: a registry scope or
/// `other`).
///
/// ```
/// assert_eq!(invalid_scope_observer::NARROWINGS_BY_DROPPED_SCOPE, "oauth_scope_narrowed_total");
/// ```
pub const NARROWINGS_BY_DROPPED_SCOPE: &str = "oauth_scope_narrowed_total";

/// The counter of events the rate limit kept out of the log, labelled
/// `event` (the event's message): while it grows, the log undercounts and
/// the counters above do not.
///
/// ```
/// assert_eq!(invalid_scope_observer::SUPPRESSED_EVENTS, "oauth_invalid_scope_events_suppressed_total");
/// ```
pub const SUPPRESSED_EVENTS: &str = "oauth_invalid_scope_events_suppressed_total";

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

    /// Gives every counter and gauge the layer and `invalid-scope-proxy`
    /// export its `# HELP` line, in the recorder installed now (call it
    /// once, after installing one; a recorder installed later knows
    /// nothing of it).
    ///
    /// ```
    /// invalid_scope_observer::ScopeMetrics::describe();
    /// ```
    pub fn describe() {
        use ::metrics::describe_counter;
        describe_counter!(
            REJECTIONS_BY_MISSING_SCOPE,
            "Authorization requests rejected with invalid_scope, per missing scope (a rejection missing two counts in both)"
        );
        describe_counter!(
            TOKEN_REJECTIONS_BY_MISSING_SCOPE,
            "Token, PAR and other JSON answers of invalid_scope, per missing scope"
        );
        describe_counter!(
            UNEXPLAINED_REJECTIONS,
            "Rejections for which the layer's lists name no missing scope"
        );
        describe_counter!(
            NARROWINGS_BY_DROPPED_SCOPE,
            "Grants with fewer scopes than were asked, per dropped scope"
        );
        describe_counter!(
            SUPPRESSED_EVENTS,
            "Events the rate limit kept out of the log (the counters still count them)"
        );
        #[cfg(feature = "follow")]
        crate::follow::describe_metrics();
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
        self.count(
            counter,
            "missing_scope",
            missing,
            known_scopes,
            rejection.client_id(),
        );
    }

    /// Counts a narrowing, labelled by the scopes of `known_scopes` it
    /// dropped, like [`record`](Self::record).
    pub(crate) fn record_narrowing(
        &self,
        dropped: &ScopeSet,
        client_id: &str,
        known_scopes: Option<&ScopeSet>,
    ) {
        self.count(
            NARROWINGS_BY_DROPPED_SCOPE,
            "dropped_scope",
            dropped,
            known_scopes,
            client_id,
        );
    }

    /// Counts one event of `event` the rate limit kept out of the log.
    pub(crate) fn record_suppressed(&self, event: &'static str) {
        ::metrics::counter!(SUPPRESSED_EVENTS, "event" => event).increment(1);
    }

    /// One increment of `counter` per distinct label: each of `scopes` in
    /// the registry, `other` for any outside it, `none` for no scope.
    fn count(
        &self,
        counter: &'static str,
        label: &'static str,
        scopes: &ScopeSet,
        known_scopes: Option<&ScopeSet>,
        client_id: &str,
    ) {
        let known = match known_scopes {
            Some(known) => scopes.intersection(known),
            None => ScopeSet::new(),
        };
        let any_other = known.len() < scopes.len();
        let values = known
            .iter()
            .chain(any_other.then_some("other"))
            .chain(scopes.is_empty().then_some("none"));
        for value in values {
            let value = value.to_string();
            if self.client_id_label {
                let client_id = client_id.to_string();
                ::metrics::counter!(counter, label => value, "client_id" => client_id).increment(1);
            } else {
                ::metrics::counter!(counter, label => value).increment(1);
            }
        }
    }
}
