//! [`Observer`]: decides whether a response is a rejection, and reports it.

use std::any::type_name;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::header::LOCATION;
use http::Response;

use crate::captured_request::CapturedRequest;
use crate::log_safe::cut_to_chars;
use crate::rate_limit::{Admission, EventBudget};
use crate::redirect::carries_invalid_scope;
use crate::redirect_statuses::RedirectStatuses;
use crate::{
    event, GrantableScopes, InvalidScopeRejection, OnRejection, ScopeDecision, ScopeSet, TARGET,
};

/// What every service of one layer shares: the grantable source, the hook,
/// the known scopes, the event budget and the settings. Each request holds it
/// through one `Arc`.
#[derive(Debug)]
pub(crate) struct Observer<G, H> {
    pub(crate) grantable: G,
    pub(crate) on_rejection: H,
    pub(crate) known_scopes: Option<ScopeSet>,
    pub(crate) budget: Arc<EventBudget>,
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<crate::ScopeMetrics>,
    pub(crate) settings: Settings,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) redirect_statuses: RedirectStatuses,
    pub(crate) limits: EventLimits,
    /// Whether the hook sees rejections the rate limit kept from the log.
    pub(crate) hook_sees_every_rejection: bool,
}

/// How much of a peer's values one event carries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventLimits {
    pub(crate) scopes_per_field: usize,
    pub(crate) scope_chars: usize,
    pub(crate) client_id_chars: usize,
    pub(crate) user_agent_chars: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            redirect_statuses: RedirectStatuses::ANY,
            limits: EventLimits {
                scopes_per_field: 64,
                scope_chars: 128,
                client_id_chars: 128,
                user_agent_chars: 200,
            },
            hook_sees_every_rejection: false,
        }
    }
}

impl<G: GrantableScopes, H: OnRejection> Observer<G, H> {
    /// Looks at a response: the status first, then the `Location` bytes, and
    /// only for a rejection does it parse, diff, emit and call the hook.
    pub(crate) fn observe<B>(&self, request: CapturedRequest, response: &Response<B>) {
        if !self.settings.redirect_statuses.contains(response.status()) {
            return;
        }
        let Some(location) = response.headers().get(LOCATION) else {
            return;
        };
        if !carries_invalid_scope(location.as_bytes()) {
            return;
        }
        // User code runs below (the grantable source, the hook): whatever
        // panics there, the response still reaches the client.
        let reported = catch_unwind(AssertUnwindSafe(|| self.report(&request, response)));
        if reported.is_err() {
            report_panic_once(
                "oauth.authorize.invalid_scope.observer_panicked",
                type_name::<G>(),
            );
        }
    }

    /// Rate-limits, builds the rejection, counts, emits and calls the hook.
    fn report<B>(&self, request: &CapturedRequest, response: &Response<B>) {
        let admission = self.budget.admit();
        let suppressed = admission == Admission::Suppressed;
        if suppressed && !self.settings.hook_sees_every_rejection && !self.counts_in_metrics() {
            return;
        }
        let mut rejection = self.rejection(request, response);
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.record(&rejection);
        }
        match admission {
            Admission::Admitted { suppressed_before } => {
                rejection.suppressed_before = suppressed_before;
                event::emit(&rejection, &self.settings.limits);
                self.call_hook(&rejection);
            }
            Admission::Suppressed if self.settings.hook_sees_every_rejection => {
                self.call_hook(&rejection)
            }
            Admission::Suppressed => {}
        }
    }

    fn counts_in_metrics(&self) -> bool {
        #[cfg(feature = "metrics")]
        return self.metrics.is_some();
        #[cfg(not(feature = "metrics"))]
        return false;
    }

    fn rejection<B>(
        &self,
        request: &CapturedRequest,
        response: &Response<B>,
    ) -> InvalidScopeRejection {
        let limits = &self.settings.limits;
        let decision = response.extensions().get::<ScopeDecision>();
        let parameters = request.authorize_parameters();
        let requested_scopes = decision
            .and_then(|decision| decision.requested.clone())
            .unwrap_or(parameters.scope);
        let grantable_scopes = match decision.and_then(|decision| decision.grantable.clone()) {
            Some(grantable) => grantable,
            None => self.grantable.grantable_scopes(&parameters.client_id),
        };
        let missing_scopes = requested_scopes.difference(&grantable_scopes);
        let (unknown_scopes, ungranted_known_scopes) = match &self.known_scopes {
            Some(known) => (
                Some(requested_scopes.difference(known)),
                Some(missing_scopes.intersection(known)),
            ),
            None => (None, None),
        };
        let (client_id, client_id_cut) =
            cut_to_chars(&parameters.client_id, limits.client_id_chars);
        let (user_agent, user_agent_cut) = request.user_agent(limits.user_agent_chars);
        InvalidScopeRejection {
            requested_scopes,
            grantable_scopes,
            missing_scopes,
            unknown_scopes,
            ungranted_known_scopes,
            client_id: client_id.to_string(),
            user_agent,
            status: response.status(),
            suppressed_before: 0,
            text_cut: client_id_cut || user_agent_cut,
        }
    }

    /// Calls the hook; a panic in it is caught so that the response still
    /// reaches the client, and reported once per process.
    fn call_hook(&self, rejection: &InvalidScopeRejection) {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            self.on_rejection.on_rejection(rejection)
        }));
        if outcome.is_err() {
            report_panic_once(
                "oauth.authorize.invalid_scope.hook_panicked",
                type_name::<H>(),
            );
        }
    }
}

/// Reports the first panic of user code at ERROR, naming the type it came
/// from (`culprit`); later ones stay quiet, so a broken hook cannot flood
/// the log.
fn report_panic_once(message: &'static str, culprit: &'static str) {
    static PANIC_REPORTED: AtomicBool = AtomicBool::new(false);
    if !PANIC_REPORTED.swap(true, Ordering::Relaxed) {
        tracing::error!(target: TARGET, culprit, "{message}");
    }
}
