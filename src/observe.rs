//! [`Observer`]: decides whether a response is a rejection, and reports it.

use std::any::type_name;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use http::header::LOCATION;
use http::Response;

use crate::captured_request::CapturedRequest;
use crate::redirect::carries_invalid_scope;
use crate::redirect_statuses::RedirectStatuses;
use crate::{event, GrantableScopes, InvalidScopeRejection, OnRejection, ScopeDecision, TARGET};

/// What every service of one layer shares: the grantable source, the hook
/// and the settings. Each request holds it through one `Arc`.
#[derive(Debug)]
pub(crate) struct Observer<G, H> {
    pub(crate) grantable: G,
    pub(crate) on_rejection: H,
    pub(crate) settings: Settings,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) redirect_statuses: RedirectStatuses,
    pub(crate) user_agent_limit: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            redirect_statuses: RedirectStatuses::ANY,
            user_agent_limit: 200,
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
        let rejection = self.rejection(&request, response);
        event::emit(&rejection);
        self.call_hook(&rejection);
    }

    fn rejection<B>(
        &self,
        request: &CapturedRequest,
        response: &Response<B>,
    ) -> InvalidScopeRejection {
        let decision = response.extensions().get::<ScopeDecision>();
        let parameters = request.authorize_parameters();
        let requested_scopes = decision
            .and_then(|decision| decision.requested.clone())
            .unwrap_or(parameters.scope);
        let grantable_scopes = match decision.and_then(|decision| decision.grantable.clone()) {
            Some(grantable) => grantable,
            None => self.grantable.grantable_scopes(&parameters.client_id),
        };
        InvalidScopeRejection {
            missing_scopes: requested_scopes.difference(&grantable_scopes),
            requested_scopes,
            grantable_scopes,
            client_id: parameters.client_id,
            user_agent: request.user_agent(self.settings.user_agent_limit),
            status: response.status(),
        }
    }

    /// Calls the hook; a panic in it is caught so that the response still
    /// reaches the client, and reported once per process.
    fn call_hook(&self, rejection: &InvalidScopeRejection) {
        static PANIC_REPORTED: AtomicBool = AtomicBool::new(false);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            self.on_rejection.on_rejection(rejection)
        }));
        if outcome.is_err() && !PANIC_REPORTED.swap(true, Ordering::Relaxed) {
            tracing::error!(
                target: TARGET,
                hook = type_name::<H>(),
                "oauth.authorize.invalid_scope.hook_panicked"
            );
        }
    }
}
