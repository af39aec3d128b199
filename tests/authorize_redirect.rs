//! The layer through `oneshot`: which responses are rejections, and the exact
//! event each one produces.

mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE, USER_AGENT};
use http::{HeaderValue, Request, Response, StatusCode};
use invalid_scope_observer::{
    GrantableScopes, InvalidScopeObserverLayer, InvalidScopeRejection, OnRejection, ScopeDecision,
    ScopeSet,
};
use support::{block_on_under, fields, ours, rejection_fields, run_captured, CapturedEvent};
use tower::{service_fn, Layer, ServiceExt};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

const WIZARD_REQUEST: &str = "/authorize?response_type=code&client_id=wizard\
    &scope=user:read+llm_gateway:read+insight:write&state=xyz";

fn grantable() -> ScopeSet {
    ScopeSet::parse("user:read project:read insight:write")
}

fn request(uri: &str) -> Request<()> {
    Request::builder()
        .uri(uri)
        .header(USER_AGENT, "wizard/1.0")
        .body(())
        .unwrap()
}

fn redirect(status: u16, location: &str) -> Response<String> {
    Response::builder()
        .status(status)
        .header(LOCATION, location)
        .body(String::new())
        .unwrap()
}

/// Sends `request` through `layer` around a service that answers `response`.
fn observe<G, H>(
    layer: InvalidScopeObserverLayer<G, H>,
    request: Request<()>,
    response: Response<String>,
) -> (Response<String>, Vec<CapturedEvent>)
where
    G: GrantableScopes + Clone,
    H: OnRejection + Clone,
{
    let response = Mutex::new(Some(response));
    let inner = service_fn(move |_request: Request<()>| {
        let response = response.lock().unwrap().take().expect("called once");
        async move { Ok::<_, Infallible>(response) }
    });
    let (result, events) = run_captured(layer.layer(inner).oneshot(request));
    (result.unwrap(), events)
}

fn rejection_event(
    uri: &str,
    status: u16,
    location: &str,
) -> std::collections::BTreeMap<String, String> {
    let layer = InvalidScopeObserverLayer::new(grantable());
    let (_, events) = observe(layer, request(uri), redirect(status, location));
    rejection_fields(&events)
}

fn no_event(uri: &str, response: Response<String>) {
    let layer = InvalidScopeObserverLayer::new(grantable());
    let (_, events) = observe(layer, request(uri), response);
    assert!(ours(&events).is_empty(), "unexpected events: {events:?}");
}

fn wizard_fields(status: &str) -> std::collections::BTreeMap<String, String> {
    fields([
        (
            "requested_scopes",
            "user:read llm_gateway:read insight:write",
        ),
        ("grantable_scopes", "user:read project:read insight:write"),
        ("missing_scopes", "llm_gateway:read"),
        ("client_id", "wizard"),
        ("user_agent", "wizard/1.0"),
        ("status", status),
        ("requested_count", "3"),
        ("grantable_count", "3"),
        ("missing_count", "1"),
        ("truncated", "false"),
        ("suppressed", "0"),
        ("error_description", ""),
        ("unexplained", "false"),
        ("ambiguous", "false"),
    ])
}

#[test]
fn found_with_the_error_in_the_query() {
    let event = rejection_event(
        WIZARD_REQUEST,
        302,
        "https://client.example/cb?error=invalid_scope&state=xyz",
    );
    assert_eq!(event, wizard_fields("302"));
}

#[test]
fn see_other_and_temporary_redirect() {
    for status in [303, 307] {
        let event = rejection_event(
            WIZARD_REQUEST,
            status,
            "https://client.example/cb?error=invalid_scope",
        );
        assert_eq!(event, wizard_fields(&status.to_string()));
    }
}

#[test]
fn error_in_the_fragment() {
    let event = rejection_event(
        WIZARD_REQUEST,
        302,
        "https://client.example/cb#error=invalid_scope&state=xyz",
    );
    assert_eq!(event, wizard_fields("302"));
}

#[test]
fn relative_location() {
    let event = rejection_event(WIZARD_REQUEST, 302, "/cb?error=invalid_scope&state=xyz");
    assert_eq!(event, wizard_fields("302"));
}

#[test]
fn error_description_and_iss_do_not_disturb() {
    let event = rejection_event(
        WIZARD_REQUEST,
        302,
        "https://client.example/cb?error=invalid_scope\
         &error_description=The+requested+scope+is+invalid&iss=https%3A%2F%2Fas.example&state=xyz",
    );
    let mut expected = wizard_fields("302");
    expected.insert(
        "error_description".into(),
        "The requested scope is invalid".into(),
    );
    assert_eq!(event, expected);
}

#[test]
fn state_before_and_after_the_error() {
    for location in [
        "https://client.example/cb?state=xyz&error=invalid_scope",
        "https://client.example/cb?error=invalid_scope&state=xyz",
    ] {
        assert_eq!(
            rejection_event(WIZARD_REQUEST, 302, location),
            wizard_fields("302")
        );
    }
}

#[test]
fn scope_spellings_plus_percent_twenty_and_duplicates() {
    for query in ["scope=a+b+zz", "scope=a%20b%20zz", "scope=a+b+a++zz+b"] {
        let uri = format!("/authorize?client_id=c&{query}");
        let event = rejection_event(&uri, 302, "/cb?error=invalid_scope");
        assert_eq!(event["requested_scopes"], "a b zz", "{query}");
    }
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("a"));
    let (_, events) = observe(
        layer,
        request("/authorize?scope=a+b+a++zz+b"),
        redirect(302, "/cb?error=invalid_scope"),
    );
    assert_eq!(rejection_fields(&events)["missing_scopes"], "b zz");
}

#[test]
fn no_scope_parameter_is_still_reported_with_empty_sets() {
    let event = rejection_event(
        "/authorize?client_id=wizard",
        302,
        "/cb?error=invalid_scope",
    );
    assert_eq!(
        event,
        fields([
            ("requested_scopes", ""),
            ("grantable_scopes", "user:read project:read insight:write"),
            ("missing_scopes", ""),
            ("client_id", "wizard"),
            ("user_agent", "wizard/1.0"),
            ("status", "302"),
            ("requested_count", "0"),
            ("grantable_count", "3"),
            ("missing_count", "0"),
            ("truncated", "false"),
            ("suppressed", "0"),
            ("error_description", ""),
            ("unexplained", "true"),
            ("ambiguous", "false"),
        ])
    );
}

#[test]
fn no_query_and_no_user_agent_are_empty_strings() {
    let layer = InvalidScopeObserverLayer::new(grantable());
    let request = Request::builder().uri("/authorize").body(()).unwrap();
    let (_, events) = observe(layer, request, redirect(302, "/cb?error=invalid_scope"));
    let event = rejection_fields(&events);
    assert_eq!(event["client_id"], "");
    assert_eq!(event["user_agent"], "");
    assert_eq!(event["requested_scopes"], "");
}

#[test]
fn per_client_map_knows_nothing_of_an_unknown_client() {
    let per_client = HashMap::from([("wizard".to_string(), grantable())]);
    let layer = InvalidScopeObserverLayer::new(per_client);
    let (_, events) = observe(
        layer.clone(),
        request("/authorize?client_id=stranger&scope=user:read+admin"),
        redirect(302, "/cb?error=invalid_scope"),
    );
    let event = rejection_fields(&events);
    assert_eq!(event["client_id"], "stranger");
    assert_eq!(event["grantable_scopes"], "");
    assert_eq!(event["missing_scopes"], "user:read admin");

    let (_, events) = observe(
        layer,
        request("/authorize?client_id=wizard&scope=user:read+admin"),
        redirect(302, "/cb?error=invalid_scope"),
    );
    assert_eq!(rejection_fields(&events)["missing_scopes"], "admin");
}

#[test]
fn a_closure_is_asked_with_the_client_id() {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&asked);
    let source = Arc::new(move |client_id: &str| {
        log.lock().unwrap().push(client_id.to_string());
        ScopeSet::parse("openid")
    });
    let layer = InvalidScopeObserverLayer::new(source);
    let (_, events) = observe(
        layer,
        request("/authorize?client_id=app%201&scope=openid+email"),
        redirect(303, "/cb?error=invalid_scope"),
    );
    assert_eq!(rejection_fields(&events)["missing_scopes"], "email");
    assert_eq!(*asked.lock().unwrap(), ["app 1"]);
}

#[test]
fn a_scope_decision_on_the_response_wins() {
    let mut response = redirect(302, "/cb?error=invalid_scope");
    response.extensions_mut().insert(
        ScopeDecision::new()
            .grantable(ScopeSet::parse("user:read llm_gateway:read"))
            .requested(ScopeSet::parse(
                "user:read llm_gateway:read dashboard:write",
            )),
    );
    let layer = InvalidScopeObserverLayer::new(grantable());
    let (_, events) = observe(layer, request(WIZARD_REQUEST), response);
    let event = rejection_fields(&events);
    assert_eq!(event["grantable_scopes"], "user:read llm_gateway:read");
    assert_eq!(
        event["requested_scopes"],
        "user:read llm_gateway:read dashboard:write"
    );
    assert_eq!(event["missing_scopes"], "dashboard:write");
}

#[test]
fn responses_that_are_not_rejections_emit_nothing() {
    no_event(
        WIZARD_REQUEST,
        redirect(302, "https://client.example/cb?code=abc&state=xyz"),
    );
    no_event(WIZARD_REQUEST, Response::new("consent page".to_string()));
    no_event(
        WIZARD_REQUEST,
        redirect(302, "https://client.example/cb?error=invalid_scopes"),
    );
    no_event(
        WIZARD_REQUEST,
        redirect(302, "https://client.example/cb?error=access_denied"),
    );
    no_event(
        WIZARD_REQUEST,
        redirect(302, "/cb?state=error%3Dinvalid_scope"),
    );
    no_event(WIZARD_REQUEST, redirect(302, "/invalid_scope/cb?code=abc"));
    // A Location on a success is no answer to the client.
    no_event(WIZARD_REQUEST, redirect(200, "/cb?error=invalid_scope"));
    no_event(WIZARD_REQUEST, redirect(201, "/cb?error=invalid_scope"));
    // A redirect without a Location.
    no_event(
        WIZARD_REQUEST,
        Response::builder().status(302).body(String::new()).unwrap(),
    );
}

#[test]
fn a_client_error_that_carries_the_redirect_is_an_authorize_rejection() {
    // @node-oauth/express-oauth-server answers a rejected authorize GET with
    // a 400 JSON body and the redirect in its Location.
    for status in [400, 401, 403] {
        let event = rejection_event(
            WIZARD_REQUEST,
            status,
            "https://client.example/cb?error=invalid_scope&error_description=Invalid%20parameter%3A%20%60scope%60&state=xyz",
        );
        let mut expected = wizard_fields(&status.to_string());
        expected.insert(
            "error_description".into(),
            "Invalid parameter: `scope`".into(),
        );
        assert_eq!(event, expected);
    }
    // Server errors are never read.
    no_event(WIZARD_REQUEST, redirect(500, "/cb?error=invalid_scope"));
}

#[test]
fn the_servers_reason_is_cut_and_escaped() {
    let long = "%C3%A9".repeat(300);
    let event = rejection_event(
        WIZARD_REQUEST,
        302,
        &format!("/cb?error=invalid_scope&error_description={long}"),
    );
    assert_eq!(event["error_description"], "é".repeat(200));
    assert_eq!(event["truncated"], "true");
    let event = rejection_event(
        WIZARD_REQUEST,
        302,
        "/cb?error=invalid_scope&error_description=a%0Alevel%3DERROR%E2%80%8B",
    );
    assert_eq!(event["error_description"], "a\\u{a}level=ERROR\\u{200b}");
}

#[test]
fn a_non_utf8_location_is_still_what_the_server_said() {
    // A byte that is not UTF-8 beside the error does not unsay it.
    let response = |location: &[u8]| {
        Response::builder()
            .status(302)
            .header(LOCATION, HeaderValue::from_bytes(location).unwrap())
            .body(String::new())
            .unwrap()
    };
    let layer = InvalidScopeObserverLayer::new(grantable());
    let (_, events) = observe(
        layer,
        request(WIZARD_REQUEST),
        response(b"/cb?error=invalid_scope&x=\xff"),
    );
    assert_eq!(
        rejection_fields(&events)["missing_scopes"],
        "llm_gateway:read"
    );
    // Inside the value it decodes to U+FFFD: no longer `invalid_scope`.
    no_event(WIZARD_REQUEST, response(b"/cb?error=invalid_scope\xff"));
}

#[test]
fn a_location_the_url_standard_refuses_is_still_a_rejection() {
    for location in [
        "https://client.example:99999/cb?error=invalid_scope&state=xyz",
        "https://exa mple.com/cb?error=invalid_scope",
        "http://[::1/cb?error=invalid_scope",
        "https://xn--a.example/cb#error=invalid_scope",
    ] {
        let fields = rejection_event(WIZARD_REQUEST, 302, location);
        assert_eq!(fields["missing_scopes"], "llm_gateway:read", "{location}");
    }
}

#[test]
fn a_long_multibyte_user_agent_is_cut_to_200_characters() {
    let agent = "日".repeat(300);
    let request = Request::builder()
        .uri(WIZARD_REQUEST)
        .header(USER_AGENT, agent.as_str())
        .body(())
        .unwrap();
    let layer = InvalidScopeObserverLayer::new(grantable());
    let (_, events) = observe(layer, request, redirect(302, "/cb?error=invalid_scope"));
    let user_agent = rejection_fields(&events)["user_agent"].clone();
    assert_eq!(user_agent.chars().count(), 200);
    assert_eq!(user_agent, "日".repeat(200));
}

#[test]
fn the_user_agent_limit_is_configurable() {
    let layer = InvalidScopeObserverLayer::new(grantable()).user_agent_limit(6);
    let (_, events) = observe(
        layer,
        request(WIZARD_REQUEST),
        redirect(302, "/cb?error=invalid_scope"),
    );
    assert_eq!(rejection_fields(&events)["user_agent"], "wizard");
}

#[test]
fn only_the_configured_redirect_statuses_are_looked_at() {
    let layer = InvalidScopeObserverLayer::new(grantable()).redirect_statuses([StatusCode::FOUND]);
    let (_, events) = observe(
        layer.clone(),
        request(WIZARD_REQUEST),
        redirect(303, "/cb?error=invalid_scope"),
    );
    assert!(ours(&events).is_empty());
    let (_, events) = observe(
        layer,
        request(WIZARD_REQUEST),
        redirect(302, "/cb?error=invalid_scope"),
    );
    assert_eq!(ours(&events).len(), 1);
}

#[test]
fn peer_values_are_escaped_in_the_event() {
    let request = Request::builder()
        .uri("/authorize?client_id=evil%0Alevel%3DERROR&scope=ok+%1B%5B31mred+a%22b")
        .header(
            USER_AGENT,
            HeaderValue::from_bytes("bot\t\u{85}\u{202e}/1".as_bytes()).unwrap(),
        )
        .body(())
        .unwrap();
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("ok"));
    let (_, events) = observe(layer, request, redirect(302, "/cb?error=invalid_scope"));
    let event = rejection_fields(&events);
    assert_eq!(event["client_id"], "evil\\u{a}level=ERROR");
    assert_eq!(event["requested_scopes"], "ok \\u{1b}[31mred a\\u{22}b");
    assert_eq!(event["missing_scopes"], "\\u{1b}[31mred a\\u{22}b");
    // `http` refuses ASCII controls but a tab in headers; C1 controls and
    // bidi overrides arrive as UTF-8.
    assert_eq!(event["user_agent"], "bot\\u{9}\\u{85}\\u{202e}/1");
}

#[derive(Clone)]
struct CountingHook(Arc<AtomicUsize>, Arc<Mutex<Vec<InvalidScopeRejection>>>);

impl OnRejection for CountingHook {
    fn on_rejection(&self, rejection: &InvalidScopeRejection) {
        self.0.fetch_add(1, Ordering::SeqCst);
        self.1.lock().unwrap().push(rejection.clone());
    }
}

#[test]
fn the_hook_is_called_once_per_rejection_and_never_otherwise() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let layer = InvalidScopeObserverLayer::new(grantable())
        .on_rejection(CountingHook(Arc::clone(&calls), Arc::clone(&seen)));

    observe(
        layer.clone(),
        request(WIZARD_REQUEST),
        Response::new(String::new()),
    );
    observe(
        layer.clone(),
        request(WIZARD_REQUEST),
        redirect(302, "/cb?code=1"),
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    observe(
        layer.clone(),
        request(WIZARD_REQUEST),
        redirect(302, "/cb?error=invalid_scope"),
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    observe(
        layer,
        request(WIZARD_REQUEST),
        redirect(303, "/cb#error=invalid_scope"),
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let seen = seen.lock().unwrap();
    let rejection = &seen[0];
    assert_eq!(rejection.to_string(), "OAuth invalid_scope rejection");
    assert_eq!(
        rejection.requested_scopes(),
        &ScopeSet::parse("user:read llm_gateway:read insight:write")
    );
    assert_eq!(rejection.grantable_scopes(), &grantable());
    assert_eq!(
        rejection.missing_scopes(),
        &ScopeSet::parse("llm_gateway:read")
    );
    assert_eq!(rejection.client_id(), "wizard");
    assert_eq!(rejection.user_agent(), "wizard/1.0");
    assert_eq!(rejection.status(), StatusCode::FOUND);
    assert_eq!(seen[1].status(), StatusCode::SEE_OTHER);
    let as_error: &dyn std::error::Error = rejection;
    assert!(as_error.source().is_none());
}

#[test]
fn a_closure_hook_runs_after_the_event() {
    let events_before_hook = Arc::new(Mutex::new(None));
    let record = Arc::clone(&events_before_hook);
    let layer = InvalidScopeObserverLayer::new(grantable()).on_rejection(
        move |rejection: &InvalidScopeRejection| {
            *record.lock().unwrap() = Some(rejection.missing_scopes().to_string());
            tracing::info!(target: "hook", "hook ran");
        },
    );
    let (_, events) = observe(
        layer,
        request(WIZARD_REQUEST),
        redirect(302, "/cb?error=invalid_scope"),
    );
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].message(), "oauth.authorize.invalid_scope");
    assert_eq!(events[1].target, "hook");
    assert_eq!(
        events_before_hook.lock().unwrap().as_deref(),
        Some("llm_gateway:read")
    );
}

#[test]
fn a_panicking_hook_fails_no_request_and_is_reported_once() {
    let layer =
        InvalidScopeObserverLayer::new(grantable()).on_rejection(|_: &InvalidScopeRejection| {
            panic!("hook bug");
        });
    let mut panic_reports = 0;
    for _ in 0..3 {
        let (response, events) = observe(
            layer.clone(),
            request(WIZARD_REQUEST),
            redirect(302, "/cb?error=invalid_scope"),
        );
        assert_eq!(response.status(), StatusCode::FOUND);
        let ours = ours(&events);
        assert_eq!(ours[0].message(), "oauth.authorize.invalid_scope");
        for event in &ours[1..] {
            assert_eq!(event.level, tracing::Level::ERROR);
            assert_eq!(
                event.message(),
                "oauth.authorize.invalid_scope.hook_panicked"
            );
            assert!(
                event.field("culprit").contains("authorize_redirect"),
                "{event:?}"
            );
            panic_reports += 1;
        }
    }
    assert_eq!(panic_reports, 1);
}

#[derive(Clone, Debug, PartialEq)]
struct InnerMarker(&'static str);

#[test]
fn the_response_is_exactly_the_inner_one() {
    let location = "https://client.example/cb?error=invalid_scope&state=xyz";
    let build = || {
        let mut response = Response::builder()
            .status(302)
            .version(http::Version::HTTP_11)
            .header(LOCATION, location)
            .header(SET_COOKIE, "a=1")
            .header(SET_COOKIE, "b=2")
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .body("<a href=\"...\">moved</a>".to_string())
            .unwrap();
        response.extensions_mut().insert(InnerMarker("kept"));
        response
    };
    let expected = build();
    let layer = InvalidScopeObserverLayer::new(grantable());
    let (response, events) = observe(layer, request(WIZARD_REQUEST), build());
    assert_eq!(ours(&events).len(), 1);
    assert_eq!(response.status(), expected.status());
    assert_eq!(response.version(), expected.version());
    assert_eq!(response.headers(), expected.headers());
    assert_eq!(
        response.extensions().get::<InnerMarker>(),
        Some(&InnerMarker("kept"))
    );
    assert_eq!(response.extensions().len(), 1);
    assert_eq!(response.body(), expected.body());
}

#[test]
fn inner_errors_pass_through_unchanged() {
    #[derive(Debug, PartialEq)]
    struct Down(u32);
    let inner = service_fn(|_request: Request<()>| async { Err::<Response<String>, _>(Down(7)) });
    let service = InvalidScopeObserverLayer::new(grantable()).layer(inner);
    let (result, events) = run_captured(service.oneshot(request(WIZARD_REQUEST)));
    assert_eq!(result.unwrap_err(), Down(7));
    assert!(ours(&events).is_empty());
}

/// Sends one rejection through `layer` with a subscriber that records only
/// ERROR events, so none of ours.
fn reject_with_warn_filtered_out<G, H>(layer: InvalidScopeObserverLayer<G, H>)
where
    G: GrantableScopes,
    H: OnRejection,
{
    let inner = service_fn(|_request: Request<()>| async {
        Ok::<_, Infallible>(redirect(302, "https://client/cb?error=invalid_scope"))
    });
    let errors_only = tracing_subscriber::registry().with(LevelFilter::ERROR);
    let observed = layer.layer(inner).oneshot(request(WIZARD_REQUEST));
    block_on_under(errors_only, observed).unwrap();
}

/// With no subscriber recording our WARN events, no hook and no metrics, a
/// rejection would reach nobody, and the layer does not work it out (it
/// never asks the grantable source). A hook, or a subscriber that records
/// WARN, is enough for the whole rejection to be worked out.
#[test]
fn a_rejection_nobody_would_see_is_not_worked_out() {
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let source = Arc::new(move |_client_id: &str| {
        counter.fetch_add(1, Ordering::Relaxed);
        grantable()
    });

    reject_with_warn_filtered_out(InvalidScopeObserverLayer::new(Arc::clone(&source)));
    assert_eq!(asked.load(Ordering::Relaxed), 0, "nobody listens");

    // `()` is the hook that does nothing, and no listener.
    reject_with_warn_filtered_out(
        InvalidScopeObserverLayer::new(Arc::clone(&source)).on_rejection(((), ())),
    );
    reject_with_warn_filtered_out(
        InvalidScopeObserverLayer::new(Arc::clone(&source)).on_rejection(()),
    );
    assert_eq!(asked.load(Ordering::Relaxed), 0, "`()` is no listener");

    let hooked = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&hooked);
    let hook = move |rejection: &InvalidScopeRejection| {
        seen.lock()
            .unwrap()
            .push(rejection.missing_scopes().to_string());
    };
    reject_with_warn_filtered_out(
        InvalidScopeObserverLayer::new(Arc::clone(&source)).on_rejection(hook),
    );
    assert_eq!(asked.load(Ordering::Relaxed), 1, "a hook listens");
    assert_eq!(*hooked.lock().unwrap(), ["llm_gateway:read"]);

    let (_, events) = observe(
        InvalidScopeObserverLayer::new(Arc::clone(&source)),
        request(WIZARD_REQUEST),
        redirect(302, "https://client/cb?error=invalid_scope"),
    );
    assert_eq!(
        asked.load(Ordering::Relaxed),
        2,
        "a WARN subscriber listens"
    );
    assert_eq!(
        rejection_fields(&events)["missing_scopes"],
        "llm_gateway:read"
    );
}
