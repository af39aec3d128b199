//! [`Observer`]: decides whether a response is a rejection, and reports it.

use std::any::type_name;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::header::LOCATION;
use http::{Response, StatusCode};
use tracing::Level;

use crate::capture::CapturedRequest;
#[cfg(feature = "follow")]
use crate::detect::{code_redirect, CodeRedirect};
use crate::detect::{error_description, Dialect, RedirectStatuses};
#[cfg(feature = "bodies")]
use crate::detect::{page_worth_reading, FormPostPage, JsonAnswer};
#[cfg(feature = "follow")]
use crate::follow::{Follower, Redemption};
use crate::hooks::{GrantableScopes, KnownScopes, OnRejection, ScopeDecision};
use crate::report::{
    self, cut_to_chars, Admission, EventBudgets, EventLimits, InvalidScopeRejection, RejectionKind,
    ScopeNarrowing, TARGET,
};
use crate::scope::ScopeSet;

/// What every service of one layer shares: the grantable source, the hook,
/// the known scopes, the event budgets and the settings. The layer holds one
/// `Arc` of it, every service it builds a clone of that `Arc`, and so does
/// each request on its rejection path: a router of any size shares one
/// grantable source and one hook, and neither needs to be `Clone`.
///
/// The grantable source and the hook sit behind `Arc`s of their own only so
/// that a builder method called on a layer that was already cloned can make
/// a new `Observer` without copying them.
pub(crate) struct Observer<G, H> {
    pub(crate) grantable: Arc<G>,
    pub(crate) on_rejection: Arc<H>,
    pub(crate) known_scopes: Option<KnownScopes>,
    /// How the server words its answers: error codes, redirect members.
    pub(crate) dialect: Dialect,
    pub(crate) budgets: Arc<EventBudgets>,
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<crate::hooks::ScopeMetrics>,
    /// Set when authorizations are followed from authorize to token.
    #[cfg(feature = "follow")]
    pub(crate) follow: Option<Arc<Follower>>,
    pub(crate) settings: Settings,
}

impl<G, H> Observer<G, H> {
    /// The same observer with another hook.
    pub(crate) fn with_hook<NewH>(self, hook: NewH) -> Observer<G, NewH> {
        Observer {
            grantable: self.grantable,
            on_rejection: Arc::new(hook),
            known_scopes: self.known_scopes,
            dialect: self.dialect,
            budgets: self.budgets,
            #[cfg(feature = "metrics")]
            metrics: self.metrics,
            #[cfg(feature = "follow")]
            follow: self.follow,
            settings: self.settings,
        }
    }

    /// Adds the settings a person reads to a `Debug` of the layer or a
    /// service: the grantable source's and hook's types, and every limit.
    pub(crate) fn describe(&self, out: &mut fmt::DebugStruct<'_, '_>) {
        let settings = &self.settings;
        let limits = &settings.limits;
        out.field("grantable", &type_name::<G>())
            .field("on_rejection", &type_name::<H>())
            .field("known_scopes", &self.known_scopes)
            .field("dialect", &self.dialect)
            .field("rate_limit", &self.budgets.limit())
            .field("redirect_statuses", &settings.redirect_statuses)
            .field(
                "narrowing_level",
                &format_args!("{}", settings.narrowing_level),
            )
            .field(
                "hook_sees_every_rejection",
                &settings.hook_sees_every_rejection,
            )
            .field("scopes_per_field_limit", &limits.scopes_per_field)
            .field("scope_length_limit", &limits.scope_chars)
            .field("client_id_limit", &limits.client_id_chars)
            .field("user_agent_limit", &limits.user_agent_chars);
        #[cfg(feature = "bodies")]
        out.field("body_limit", &settings.body_limit);
        #[cfg(feature = "metrics")]
        out.field("metrics", &self.metrics);
        #[cfg(feature = "follow")]
        out.field("follow_authorizations", &self.follow.is_some());
    }
}

impl<G, H> fmt::Debug for Observer<G, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut observer = f.debug_struct("Observer");
        self.describe(&mut observer);
        observer.finish()
    }
}

impl<G, H> Clone for Observer<G, H> {
    fn clone(&self) -> Self {
        Self {
            grantable: Arc::clone(&self.grantable),
            on_rejection: Arc::clone(&self.on_rejection),
            known_scopes: self.known_scopes.clone(),
            dialect: self.dialect.clone(),
            budgets: Arc::clone(&self.budgets),
            #[cfg(feature = "metrics")]
            metrics: self.metrics.clone(),
            #[cfg(feature = "follow")]
            follow: self.follow.clone(),
            settings: self.settings,
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) redirect_statuses: RedirectStatuses,
    pub(crate) limits: EventLimits,
    /// Whether the hook sees rejections the rate limit kept from the log.
    pub(crate) hook_sees_every_rejection: bool,
    pub(crate) narrowing_level: Level,
    /// How many bytes of a form body or a JSON answer are kept.
    #[cfg(feature = "bodies")]
    pub(crate) body_limit: usize,
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
            narrowing_level: Level::INFO,
            #[cfg(feature = "bodies")]
            body_limit: 8 * 1024,
        }
    }
}

impl<G: GrantableScopes, H: OnRejection> Observer<G, H> {
    /// Looks at a response: the status first, then the `Location` bytes, and
    /// only for a rejection does it parse, diff, emit and call the hook. A
    /// response that is no rejection is looked at once more, for a
    /// [`ScopeDecision`] that reports a narrowing, and, when authorizations
    /// are followed, for what links it to a later token request.
    #[inline]
    pub(crate) fn observe<B>(&self, request: &CapturedRequest, response: &Response<B>) {
        self.observe_decided(request, response, self.is_rejecting_redirect(response));
    }

    /// [`observe`](Self::observe), once whether the response is a
    /// rejecting redirect (`rejecting`) is known: a caller that had to ask
    /// already asks no twice.
    #[inline(always)]
    pub(crate) fn observe_decided<B>(
        &self,
        request: &CapturedRequest,
        response: &Response<B>,
        rejecting: bool,
    ) {
        let decision = response.extensions().get::<ScopeDecision>();
        if rejecting {
            self.guarded(|| {
                // Decoded only once the rejection is known to be wanted.
                let description = || {
                    response
                        .headers()
                        .get(LOCATION)
                        .and_then(|location| error_description(location.as_bytes()))
                };
                self.report_rejection(
                    request,
                    response.status(),
                    decision,
                    RejectionKind::Authorize,
                    description,
                )
            });
            return;
        }
        if let Some(granted) = decision.and_then(|decision| decision.granted.as_ref()) {
            self.guarded(|| {
                report_narrowing(
                    &self.budgets,
                    &self.settings,
                    &self.counting(),
                    Asked::of(request, decision),
                    request.user_agent(self.settings.limits.user_agent_chars),
                    None,
                    response.status(),
                    granted.clone(),
                )
            });
        }
        #[cfg(feature = "follow")]
        if let Some(follow) = &self.follow {
            let user_agent_chars = self.settings.limits.user_agent_chars;
            self.guarded(|| {
                // An implicit or hybrid grant in the fragment: compared now.
                if let Some((kept, granted)) =
                    follow.follow_answer(request, response, user_agent_chars)
                {
                    let asked = Asked {
                        requested_scopes: kept.requested_scopes,
                        client_id: kept.client_id,
                        grant_type: None,
                        ambiguous: false,
                    };
                    let at = Some("authorize");
                    let status = response.status();
                    report_narrowing(
                        &self.budgets,
                        &self.settings,
                        &self.counting(),
                        asked,
                        kept.user_agent,
                        at,
                        status,
                        granted,
                    );
                }
            });
        }
    }

    /// Whether a response's `Location` says invalid scope, on a redirect
    /// status (of the configured ones) or a 4xx (some servers answer a
    /// rejected authorize request with a 400 that carries the redirect,
    /// @node-oauth/express-oauth-server among them). The status first: a
    /// 2xx answer is ruled out before any header is looked up.
    #[inline(always)]
    pub(crate) fn is_rejecting_redirect<B>(&self, response: &Response<B>) -> bool {
        let status = response.status();
        (self.settings.redirect_statuses.contains(status) || status.is_client_error())
            && self.location_rejects(response.headers())
    }

    /// Whether `headers` hold a `Location` that says invalid scope.
    #[inline(always)]
    fn location_rejects(&self, headers: &http::HeaderMap) -> bool {
        headers.get(LOCATION).is_some_and(|location| {
            self.dialect
                .location_says_invalid_scope(location.as_bytes())
        })
    }

    /// Looks at a JSON answer once its body has gone by: an error that
    /// means invalid scope is a rejection (of the authorization request,
    /// when the request was one, else of the token or another endpoint); a
    /// redirect carried in a member is read like a `Location`; a grant
    /// whose `scope` lacks requested scopes is a narrowing.
    #[cfg(feature = "bodies")]
    pub(crate) fn observe_json_answer(
        &self,
        request: &CapturedRequest,
        status: StatusCode,
        decision: Option<&ScopeDecision>,
        json: &[u8],
    ) {
        match JsonAnswer::parse(json, &self.dialect) {
            JsonAnswer::InvalidScope { description } if status.is_client_error() => {
                self.guarded(|| {
                    let kind = if request.asks_for_authorization() {
                        RejectionKind::Authorize
                    } else {
                        RejectionKind::Token
                    };
                    self.report_rejection(request, status, decision, kind, || description)
                })
            }
            JsonAnswer::Redirect(url) => self.observe_carried_redirect(request, status, &url),
            // (A grant that carries a decision with `granted` is reported
            // from its headers and never watched.)
            JsonAnswer::Granted(scope) if status.is_success() => self.guarded(|| {
                self.report_grant(request, status, decision, Some(ScopeSet::parse(&scope)))
            }),
            // No `scope`: granted as requested (RFC 6749 §5.1).
            JsonAnswer::AsRequested if status.is_success() => {
                self.guarded(|| self.report_grant(request, status, decision, None))
            }
            #[cfg(feature = "follow")]
            JsonAnswer::DeviceAuthorization(device_code) if status.is_success() => {
                if let Some(follow) = &self.follow {
                    let user_agent_chars = self.settings.limits.user_agent_chars;
                    self.guarded(|| {
                        follow.follow_device_authorization(request, &device_code, user_agent_chars)
                    });
                }
            }
            _ => {}
        }
    }

    /// A redirect a JSON answer carries in a member (`{"redirect_to": …}`
    /// from a single-page consent screen), read exactly like a `Location`:
    /// a rejection of the authorization request, or a code to follow.
    #[cfg(feature = "bodies")]
    fn observe_carried_redirect(&self, request: &CapturedRequest, status: StatusCode, url: &str) {
        if self.dialect.location_says_invalid_scope(url.as_bytes()) {
            self.guarded(|| {
                let description = || error_description(url.as_bytes());
                self.report_rejection(request, status, None, RejectionKind::Authorize, description)
            });
        } else {
            #[cfg(feature = "follow")]
            if let Some(follow) = &self.follow {
                let user_agent_chars = self.settings.limits.user_agent_chars;
                self.guarded(|| {
                    follow.follow_code(
                        request,
                        status,
                        code_redirect(url.as_bytes()),
                        user_agent_chars,
                    )
                });
            }
        }
    }

    /// Whether an answer is worth reading as a `response_mode=form_post`
    /// page: a `200` or `400` `text/html` page, not compressed, to a request
    /// that asked for form_post, or, when authorizations are followed, to
    /// any request (the code of node-oidc-provider's form_post page comes in
    /// the answer to a resume request that names no response mode).
    #[cfg(feature = "bodies")]
    pub(crate) fn wants_form_post_page(
        &self,
        request: &CapturedRequest,
        status: StatusCode,
        headers: &http::HeaderMap,
    ) -> bool {
        // Cheapest first: the status, one header, then the query.
        page_worth_reading(status, headers) && (self.follows() || request.asks_for_form_post())
    }

    /// Reads a page that may be a form_post answer: `error=invalid_scope`
    /// is a rejection of the authorize request; a `code` is followed like
    /// the code of a redirect.
    #[cfg(feature = "bodies")]
    pub(crate) fn observe_form_post_page(
        &self,
        request: &CapturedRequest,
        status: StatusCode,
        html: &[u8],
    ) {
        let Some(page) = FormPostPage::read(html) else {
            return;
        };
        if page.is_invalid_scope() {
            self.guarded(|| {
                let description = || page.error_description;
                self.report_rejection(request, status, None, RejectionKind::Authorize, description)
            });
        } else {
            #[cfg(feature = "follow")]
            if let (Some(code), Some(follow)) = (page.code, &self.follow) {
                let redirect = CodeRedirect {
                    code,
                    state: page.state,
                };
                let user_agent_chars = self.settings.limits.user_agent_chars;
                self.guarded(|| {
                    follow.follow_code(request, status, Some(redirect), user_agent_chars)
                });
            }
        }
    }

    /// A token grant: compared with the authorize request it redeems when
    /// that one was followed (and forgotten then, granted as requested or
    /// not), else with the token request's own `scope`. With a store that
    /// answers later (Redis), the report is made when it answers, in the
    /// request's span.
    #[cfg(feature = "bodies")]
    fn report_grant(
        &self,
        request: &CapturedRequest,
        status: StatusCode,
        decision: Option<&ScopeDecision>,
        granted: Option<ScopeSet>,
    ) {
        #[cfg(feature = "follow")]
        if let Some(follow) = &self.follow {
            if let Some(redemption) = follow.redemption(request) {
                return self
                    .report_redeemed(follow, redemption, request, status, decision, granted);
            }
        }
        if let Some(granted) = granted {
            let user_agent = request.user_agent(self.settings.limits.user_agent_chars);
            let asked = Asked::of(request, decision);
            report_narrowing(
                &self.budgets,
                &self.settings,
                &self.counting(),
                asked,
                user_agent,
                None,
                status,
                granted,
            );
        }
    }

    /// [`report_grant`](Self::report_grant) for a token request that
    /// redeems an authorization the layer may have followed: reported once
    /// the store says what the authorize request asked for.
    #[cfg(feature = "follow")]
    fn report_redeemed(
        &self,
        follow: &Follower,
        redemption: Redemption,
        request: &CapturedRequest,
        status: StatusCode,
        decision: Option<&ScopeDecision>,
        granted: Option<ScopeSet>,
    ) {
        let user_agent_chars = self.settings.limits.user_agent_chars;
        // What the token request itself says, should the authorization not be found.
        let own = granted.is_some().then(|| {
            (
                Asked::of(request, decision),
                request.user_agent(user_agent_chars),
            )
        });
        let budgets = Arc::clone(&self.budgets);
        let settings = self.settings;
        let counting = self.counting();
        let span = tracing::Span::current();
        let Redemption {
            links,
            client_id,
            grant_type,
            asked_at,
        } = redemption;
        follow.take(links, move |kept| {
            let Some(granted) = granted else { return };
            let _in_the_request_span = span.enter();
            let report = || match (kept, own) {
                // An authorization kept for another client than the one the
                // token request authenticates as is no evidence about either.
                (Some(kept), _) if kept.client_id != client_id => {}
                (Some(kept), _) => {
                    let asked = Asked {
                        requested_scopes: kept.requested_scopes,
                        client_id: kept.client_id,
                        grant_type: Some(grant_type.to_string()),
                        ambiguous: false,
                    };
                    let at = Some(asked_at);
                    report_narrowing(
                        &budgets,
                        &settings,
                        &counting,
                        asked,
                        kept.user_agent,
                        at,
                        status,
                        granted,
                    );
                }
                (None, Some((asked, user_agent))) => {
                    report_narrowing(
                        &budgets, &settings, &counting, asked, user_agent, None, status, granted,
                    );
                }
                (None, None) => {}
            };
            if catch_unwind(AssertUnwindSafe(report)).is_err() {
                report_panic_once("oauth.authorize.invalid_scope.observer_panicked", "follow");
            }
        });
    }

    /// Runs user code (the grantable source, the hook) so that whatever
    /// panics there, the response still reaches the client.
    fn guarded(&self, report: impl FnOnce()) {
        if catch_unwind(AssertUnwindSafe(report)).is_err() {
            report_panic_once(
                "oauth.authorize.invalid_scope.observer_panicked",
                type_name::<G>(),
            );
        }
    }

    /// Rate-limits, builds the rejection, counts, emits and calls the hook.
    /// Each kind of rejection spends its own event's budget, so the
    /// `suppressed` count an event carries is of its own name only.
    fn report_rejection(
        &self,
        request: &CapturedRequest,
        status: StatusCode,
        decision: Option<&ScopeDecision>,
        kind: RejectionKind,
        error_description: impl FnOnce() -> Option<String>,
    ) {
        if !self.anyone_listens() {
            return;
        }
        let budget = self.budgets.rejections(kind);
        let admission = budget.admit();
        let suppressed = admission == Admission::Suppressed;
        if suppressed && !self.settings.hook_sees_every_rejection && !self.counts_in_metrics() {
            return;
        }
        // Should building the report panic (a grantable source that panics,
        // say), the rejection and the count it carries go back to the budget.
        let unwritten = budget.hold(admission);
        let known_scopes = self.known_scopes.as_ref().and_then(KnownScopes::get);
        let mut rejection = self.rejection(
            request,
            status,
            decision,
            kind,
            known_scopes.as_ref(),
            error_description(),
        );
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.record(&rejection, known_scopes.as_ref());
        }
        #[cfg(feature = "metrics")]
        if let (Some(metrics), Admission::Suppressed) = (&self.metrics, admission) {
            metrics.record_suppressed(kind.event_name());
        }
        match admission {
            Admission::Admitted { suppressed_before } => {
                rejection.suppressed_before = suppressed_before;
                report::emit(&rejection, &self.settings.limits);
                unwritten.written();
                self.call_hook(&rejection);
            }
            Admission::Suppressed if self.settings.hook_sees_every_rejection => {
                self.call_hook(&rejection)
            }
            Admission::Suppressed => {}
        }
    }

    /// Whether a rejection would reach anything: the log (a subscriber that
    /// records WARN events of [`TARGET`]), a hook that does something (not
    /// `()`) or metrics. When nothing would, the rejection is not worked
    /// out at all, as `tracing` skips an event nobody records.
    fn anyone_listens(&self) -> bool {
        !self.on_rejection.is_noop() || self.counts_in_metrics() || report::rejection_enabled()
    }

    /// What counts this layer's narrowings (nothing without metrics).
    fn counting(&self) -> Counting {
        Counting {
            #[cfg(feature = "metrics")]
            metrics: self
                .metrics
                .clone()
                .map(|metrics| (metrics, self.known_scopes.clone())),
        }
    }

    /// Whether authorizations are followed (never without feature `follow`).
    #[cfg(feature = "bodies")]
    fn follows(&self) -> bool {
        #[cfg(feature = "follow")]
        return self.follow.is_some();
        #[cfg(not(feature = "follow"))]
        return false;
    }

    fn counts_in_metrics(&self) -> bool {
        #[cfg(feature = "metrics")]
        return self.metrics.is_some();
        #[cfg(not(feature = "metrics"))]
        return false;
    }

    fn rejection(
        &self,
        request: &CapturedRequest,
        status: StatusCode,
        decision: Option<&ScopeDecision>,
        kind: RejectionKind,
        known_scopes: Option<&ScopeSet>,
        error_description: Option<String>,
    ) -> InvalidScopeRejection {
        let Asked {
            requested_scopes,
            client_id,
            grant_type,
            ambiguous,
        } = Asked::of(request, decision);
        let listed = match decision.and_then(|decision| decision.grantable.clone()) {
            Some(grantable) => Some(grantable),
            None if self.grantable.has_lists() => Some(self.grantable.grantable_scopes(&client_id)),
            None => None,
        };
        // Without lists, what is missing is what the server does not know.
        let (grantable_scopes, missing_scopes) = match listed {
            Some(grantable) => {
                let missing = requested_scopes.difference(&grantable);
                (grantable, missing)
            }
            None => {
                let missing = known_scopes
                    .map(|known| requested_scopes.difference(known))
                    .unwrap_or_default();
                (ScopeSet::new(), missing)
            }
        };
        let unexplained = missing_scopes.is_empty();
        let (error_description, description_cut) = match &error_description {
            Some(description) => {
                let (kept, cut) = cut_to_chars(description, ERROR_DESCRIPTION_CHARS);
                (kept.to_string(), cut)
            }
            None => (String::new(), false),
        };
        let (unknown_scopes, ungranted_known_scopes) = match known_scopes {
            Some(known) => (
                Some(requested_scopes.difference(known)),
                Some(missing_scopes.intersection(known)),
            ),
            None => (None, None),
        };
        // Only a token request names a grant type the event reports; a
        // POSTed authorization form that carries one does not.
        let grant_type = match kind {
            RejectionKind::Token => grant_type.as_deref(),
            RejectionKind::Authorize => None,
        };
        let user_agent = request.user_agent(self.settings.limits.user_agent_chars);
        let who = who_asked(&self.settings.limits, user_agent, &client_id, grant_type);
        InvalidScopeRejection {
            requested_scopes,
            grantable_scopes,
            missing_scopes,
            unknown_scopes,
            ungranted_known_scopes,
            kind,
            client_id: who.client_id,
            grant_type: who.grant_type,
            user_agent: who.user_agent,
            status,
            suppressed_before: 0,
            error_description,
            unexplained,
            ambiguous,
            text_cut: who.text_cut || description_cut,
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

/// Reports `requested - granted` when it is not empty, within the
/// narrowing budget. `requested_at` is `Some("authorize")` when `asked`
/// is the authorize request a token request redeemed.
#[allow(clippy::too_many_arguments)]
fn report_narrowing(
    budgets: &EventBudgets,
    settings: &Settings,
    counting: &Counting,
    asked: Asked,
    user_agent: (String, bool),
    requested_at: Option<&'static str>,
    status: StatusCode,
    granted_scopes: ScopeSet,
) {
    let logged = report::narrowing_enabled(settings.narrowing_level);
    if !logged && !counting.counts() {
        return;
    }
    let Asked {
        requested_scopes,
        client_id,
        grant_type,
        ambiguous: _,
    } = asked;
    let dropped_scopes = requested_scopes.difference(&granted_scopes);
    if dropped_scopes.is_empty() {
        return;
    }
    counting.narrowing(&dropped_scopes, &client_id);
    if !logged {
        return;
    }
    let budget = budgets.narrowings();
    let admission = budget.admit();
    let Admission::Admitted { suppressed_before } = admission else {
        counting.suppressed(report::NARROWED_EVENT);
        return;
    };
    let unwritten = budget.hold(admission);
    let who = who_asked(
        &settings.limits,
        user_agent,
        &client_id,
        grant_type.as_deref(),
    );
    let narrowing = ScopeNarrowing {
        requested_scopes,
        granted_scopes,
        dropped_scopes,
        client_id: who.client_id,
        grant_type: who.grant_type,
        user_agent: who.user_agent,
        status,
        requested_at,
        suppressed_before,
        text_cut: who.text_cut,
    };
    report::emit_narrowing(&narrowing, &settings.limits, settings.narrowing_level);
    unwritten.written();
}

/// What counts narrowings in metrics: the layer's [`ScopeMetrics`] and its
/// registry, when it counts at all (feature `metrics`).
///
/// [`ScopeMetrics`]: crate::ScopeMetrics
#[derive(Clone, Default)]
pub(crate) struct Counting {
    #[cfg(feature = "metrics")]
    metrics: Option<(crate::hooks::ScopeMetrics, Option<KnownScopes>)>,
}

impl Counting {
    fn counts(&self) -> bool {
        #[cfg(feature = "metrics")]
        return self.metrics.is_some();
        #[cfg(not(feature = "metrics"))]
        return false;
    }

    fn narrowing(&self, dropped: &ScopeSet, client_id: &str) {
        #[cfg(feature = "metrics")]
        if let Some((metrics, known)) = &self.metrics {
            let known = known.as_ref().and_then(KnownScopes::get);
            metrics.record_narrowing(dropped, client_id, known.as_ref());
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (dropped, client_id);
    }

    fn suppressed(&self, event: &'static str) {
        #[cfg(feature = "metrics")]
        if let Some((metrics, _)) = &self.metrics {
            metrics.record_suppressed(event);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = event;
    }
}

/// The peer-chosen texts of a report, cut to the layer's limits (the user
/// agent already is, and says whether it was).
fn who_asked(
    limits: &EventLimits,
    (user_agent, user_agent_cut): (String, bool),
    client_id: &str,
    grant_type: Option<&str>,
) -> WhoAsked {
    let (client_id, client_id_cut) = cut_to_chars(client_id, limits.client_id_chars);
    let (grant_type, grant_type_cut) = match grant_type {
        Some(grant_type) => {
            let (kept, cut) = cut_to_chars(grant_type, GRANT_TYPE_CHARS);
            (Some(kept.to_string()), cut)
        }
        None => (None, false),
    };
    WhoAsked {
        client_id: client_id.to_string(),
        grant_type,
        user_agent,
        text_cut: client_id_cut || grant_type_cut || user_agent_cut,
    }
}

/// The most characters of a server's `error_description` an event carries.
const ERROR_DESCRIPTION_CHARS: usize = 200;

/// The most characters of a `grant_type` an event carries: the longest
/// registered grant type
/// (`urn:ietf:params:oauth:grant-type:token-exchange`) has 47.
const GRANT_TYPE_CHARS: usize = 64;

/// What a request asked for: the scopes (the inner service's word for
/// them first, as a PAR or JAR request carries them out of sight), its
/// client and its grant type.
struct Asked {
    requested_scopes: ScopeSet,
    client_id: String,
    grant_type: Option<String>,
    ambiguous: bool,
}

impl Asked {
    fn of(request: &CapturedRequest, decision: Option<&ScopeDecision>) -> Self {
        let parameters = request.parameters();
        Self {
            requested_scopes: decision
                .and_then(|decision| decision.requested.clone())
                .or(parameters.scope)
                .unwrap_or_default(),
            client_id: parameters.client_id.unwrap_or_default(),
            grant_type: parameters.grant_type,
            ambiguous: parameters.ambiguous,
        }
    }
}

/// The client, grant type and user agent of a report, cut to size.
struct WhoAsked {
    client_id: String,
    grant_type: Option<String>,
    user_agent: String,
    text_cut: bool,
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
