//! Following an authorization from authorize to token
//! (`follow_authorizations`): a token answer that grants fewer scopes than
//! the authorize request asked for is reported once, whichever leg carries
//! the code, and never with a code, state or verifier in it.
#![cfg(feature = "follow")]

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::Request;
use http_body_util::Full;
use invalid_scope_observer::{FollowAuthorizations, InvalidScopeObserverLayer, ScopeSet};
use support::flow::{
    authorize, authorized_at_once, code_redirect, grant, login_page, redeemed, redirect, resume,
    server, token, walk, Leg, CHALLENGE, CODE, STATE, VERIFIER,
};
use support::{ours, run_captured, CapturedEvent};
use tower::Layer;

/// Runs the legs in order through one observed service in front of the
/// scripted server, each answer read to its end, pausing before the last;
/// returns this crate's events.
fn run(
    follow: Option<FollowAuthorizations>,
    legs: Vec<Leg>,
    pause_before_last: Duration,
) -> Vec<CapturedEvent> {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("read write")).observe_bodies();
    let layer = match follow {
        Some(follow) => layer.follow_authorizations(follow),
        None => layer,
    };
    let mut service = layer.layer(server());
    let count = legs.len();
    let (_, events) = run_captured(async move {
        for (n, leg) in legs.into_iter().enumerate() {
            if n + 1 == count {
                tokio::time::sleep(pause_before_last).await;
            }
            walk(&mut service, leg).await;
        }
    });
    ours(&events).into_iter().cloned().collect()
}

fn followed(legs: Vec<Leg>) -> Vec<CapturedEvent> {
    run(
        Some(FollowAuthorizations::in_memory()),
        legs,
        Duration::ZERO,
    )
}

fn assert_one_narrowing(events: &[CapturedEvent]) {
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.message(), "oauth.scope_narrowed");
    for (field, value) in [
        ("requested_scopes", "read write"),
        ("granted_scopes", "read"),
        ("dropped_scopes", "write"),
        ("client_id", "wizard"),
        ("grant_type", "authorization_code"),
        ("requested_at", "authorize"),
        ("user_agent", "browser/1.0"),
        ("status", "200"),
    ] {
        assert_eq!(event.field(field), value, "{field}");
    }
    let text = format!("{event:?}");
    for secret in [CODE, STATE, VERIFIER, CHALLENGE, "2YotnFZFEjr1zCsicMWpAA"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[test]
fn the_code_in_the_authorize_answer() {
    let events = followed(vec![
        authorized_at_once(),
        redeemed(&format!("code={CODE}")),
    ]);
    assert_one_narrowing(&events);
}

#[test]
fn without_following_the_same_flow_reports_nothing() {
    let events = run(
        None,
        vec![authorized_at_once(), redeemed(&format!("code={CODE}"))],
        Duration::ZERO,
    );
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn the_code_after_login_and_consent_linked_by_state() {
    let events = followed(vec![
        Leg(
            authorize(&format!("scope=read+write&state={STATE}")),
            redirect("/interaction/resume-uid"),
        ),
        Leg(
            Request::post("/interaction/resume-uid/login")
                .body(Full::default())
                .unwrap(),
            redirect("/auth/resume-uid"),
        ),
        Leg(resume(), code_redirect(Some(STATE))),
        redeemed(&format!("code={CODE}")),
    ]);
    assert_one_narrowing(&events);
}

/// A flow with PKCE and no `state`, its code after an interaction.
fn pkce_alone(challenge: &str, method: &str) -> Vec<Leg> {
    vec![
        Leg(
            authorize(&format!(
                "scope=read+write&code_challenge={challenge}&code_challenge_method={method}"
            )),
            redirect("/interaction/resume-uid"),
        ),
        Leg(resume(), code_redirect(None)),
        redeemed(&format!("code={CODE}&code_verifier={VERIFIER}")),
    ]
}

#[test]
fn the_code_after_an_interaction_linked_by_pkce_alone() {
    assert_one_narrowing(&followed(pkce_alone(CHALLENGE, "S256")));
}

#[test]
fn a_plain_pkce_challenge_links_too() {
    assert_one_narrowing(&followed(pkce_alone(VERIFIER, "plain")));
}

#[test]
fn an_authorize_shaped_request_the_server_refused_keeps_nothing() {
    // A flood of authorize-shaped requests to a path the server answers 404
    // must keep nothing, so a later real flow with the same `state` is not
    // linked to the forged entry.
    let not_found = || {
        http::Response::builder()
            .status(404)
            .body(http_body_util::Full::default())
            .unwrap()
    };
    let events = followed(vec![
        Leg(
            authorize(&format!("scope=read+write+admin&state={STATE}")),
            not_found(),
        ),
        Leg(resume(), code_redirect(Some(STATE))),
        redeemed(&format!("code={CODE}")),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn an_authorize_request_without_a_client_id_keeps_nothing() {
    let events = followed(vec![
        Leg(
            Request::get(format!(
                "/authorize?response_type=code&scope=read+write&state={STATE}"
            ))
            .body(Full::default())
            .unwrap(),
            redirect("/login"),
        ),
        Leg(resume(), code_redirect(Some(STATE))),
        redeemed(&format!("code={CODE}")),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn a_posted_token_request_is_read_from_its_body_alone() {
    // The server reads the body; a verifier in the query is not one it used.
    let mut request = token("code=other");
    *request.uri_mut() = format!("/token?code_verifier={VERIFIER}").parse().unwrap();
    let events = followed(vec![
        Leg(
            authorize(&format!(
                "scope=read+write&code_challenge={CHALLENGE}&code_challenge_method=S256"
            )),
            redirect("/interaction/resume-uid"),
        ),
        Leg(resume(), code_redirect(None)),
        Leg(request, grant(Some("read"))),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn a_repeated_parameter_is_not_followed() {
    // The layer read the first, a server (oauthlib) may read the last:
    // `code_verifier=<victim's>&code_verifier=<mine>` must redeem nothing.
    let events = followed(vec![
        Leg(
            authorize(&format!(
                "scope=read+write&code_challenge={CHALLENGE}&code_challenge_method=S256"
            )),
            redirect("/interaction/resume-uid"),
        ),
        Leg(resume(), code_redirect(None)),
        redeemed(&format!(
            "code=other&code_verifier={VERIFIER}&code_verifier=mine"
        )),
    ]);
    assert!(events.is_empty(), "{events:?}");
    // Nor is an authorize request that repeats its state.
    let events = followed(vec![
        Leg(
            authorize(&format!("scope=read+write&state={STATE}&state=other")),
            redirect("/login"),
        ),
        Leg(resume(), code_redirect(Some(STATE))),
        redeemed(&format!("code={CODE}")),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn an_authorization_is_reported_only_to_its_own_client() {
    // An attacker keeps an authorization in the victim's name under a
    // `state`, then runs a real flow of their own with that `state`: the code
    // is linked to the forged entry, but the token request authenticates as
    // the attacker's client, so no event names the victim.
    let forged = Leg(
        Request::get(format!(
            "/authorize?response_type=code&client_id=victim-app&scope=admin+billing&state={STATE}"
        ))
        .body(Full::default())
        .unwrap(),
        redirect("/login"),
    );
    let attackers_token = |form: &str| {
        let mut request = token(form);
        let body = format!("grant_type=authorization_code&client_id=attacker-app&{form}");
        *request.body_mut() = Full::new(Bytes::from(body));
        request
    };
    let events = followed(vec![
        forged,
        Leg(resume(), code_redirect(Some(STATE))),
        Leg(
            attackers_token(&format!("code={CODE}")),
            grant(Some("read")),
        ),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn basic_and_form_client_ids_that_disagree_redeem_nothing() {
    let mut request = token(&format!("code={CODE}"));
    request.headers_mut().insert(
        http::header::AUTHORIZATION,
        // base64("other:secret")
        http::HeaderValue::from_static("Basic b3RoZXI6c2VjcmV0"),
    );
    let events = followed(vec![
        authorized_at_once(),
        Leg(request, grant(Some("read"))),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn a_verifier_equal_to_an_s256_challenge_redeems_nothing() {
    // The S256 challenge travels through the browser; a token request whose
    // `code_verifier` is that challenge itself must not redeem the
    // authorization as if it were `plain`.
    let events = followed(vec![
        Leg(
            authorize(&format!(
                "scope=read+write&code_challenge={CHALLENGE}&code_challenge_method=S256"
            )),
            redirect("/interaction/resume-uid"),
        ),
        Leg(resume(), code_redirect(None)),
        redeemed(&format!("code=other&code_verifier={CHALLENGE}")),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn neither_state_nor_pkce_after_an_interaction_cannot_be_followed() {
    let events = followed(vec![
        Leg(authorize("scope=read+write"), redirect("/interaction/uid")),
        Leg(resume(), code_redirect(None)),
        redeemed(&format!("code={CODE}")),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn a_code_used_twice_is_reported_once() {
    let events = followed(vec![
        authorized_at_once(),
        redeemed(&format!("code={CODE}")),
        redeemed(&format!("code={CODE}")),
    ]);
    assert_one_narrowing(&events);
}

#[test]
fn an_answer_without_scope_is_as_requested_and_uses_the_authorization() {
    let events = followed(vec![
        authorized_at_once(),
        Leg(token(&format!("code={CODE}")), grant(None)),
        redeemed(&format!("code={CODE}")),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn a_grant_of_everything_asked_reports_nothing() {
    let events = followed(vec![
        authorized_at_once(),
        Leg(token(&format!("code={CODE}")), grant(Some("write read"))),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn an_expired_authorization_is_not_followed() {
    let legs = || vec![authorized_at_once(), redeemed(&format!("code={CODE}"))];
    let short = || FollowAuthorizations::in_memory().ttl(Duration::from_millis(50));
    assert!(run(Some(short()), legs(), Duration::from_millis(100)).is_empty());
    assert_eq!(run(Some(short()), legs(), Duration::ZERO).len(), 1);
}

#[test]
fn a_full_store_lets_the_oldest_go() {
    let legs = vec![
        Leg(
            authorize("scope=read+write&state=first"),
            redirect("https://client.example/cb?code=first-code&state=first"),
        ),
        Leg(
            authorize("scope=read+write&state=second"),
            redirect("https://client.example/cb?code=second-code&state=second"),
        ),
        Leg(token("code=first-code"), grant(Some("read"))),
        Leg(token("code=second-code"), grant(Some("read"))),
    ];
    let events = run(
        Some(FollowAuthorizations::in_memory().capacity(1)),
        legs,
        Duration::ZERO,
    );
    assert_eq!(events.len(), 1, "only the second: {events:?}");
    assert_eq!(events[0].field("dropped_scopes"), "write");
}

#[test]
fn another_grant_type_is_not_linked() {
    let events = followed(vec![
        authorized_at_once(),
        Leg(
            Request::post("/token")
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from(format!(
                    "grant_type=refresh_token&refresh_token=r&code={CODE}"
                ))))
                .unwrap(),
            grant(Some("read")),
        ),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

fn form(path: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::post(path)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

fn json(status: u16, body: &'static str) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

#[test]
fn the_device_flow_is_followed_from_its_device_authorization() {
    const GRANT: &str = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code\
                         &device_code=GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS&client_id=tv";
    let events = followed(vec![
        Leg(
            form("/device_authorization", "client_id=tv&scope=read+write"),
            json(
                200,
                r#"{"device_code":"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS","user_code":"WDJB-MJHT","verification_uri":"https://as.example/device","expires_in":1800,"interval":5}"#,
            ),
        ),
        // Polling while the user has not yet approved: not a grant.
        Leg(
            form("/token", GRANT),
            json(400, r#"{"error":"authorization_pending"}"#),
        ),
        Leg(
            form("/token", GRANT),
            json(
                200,
                r#"{"access_token":"t0k3n","token_type":"Bearer","scope":"read"}"#,
            ),
        ),
        Leg(
            form("/token", GRANT),
            json(
                200,
                r#"{"access_token":"t0k3n","token_type":"Bearer","scope":"read"}"#,
            ),
        ),
    ]);
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.field("requested_scopes"), "read write");
    assert_eq!(event.field("dropped_scopes"), "write");
    assert_eq!(event.field("client_id"), "tv");
    assert_eq!(
        event.field("grant_type"),
        "urn:ietf:params:oauth:grant-type:device_code"
    );
    assert_eq!(event.field("requested_at"), "device_authorization");
    let text = format!("{event:?}");
    assert!(!text.contains("GmRhm") && !text.contains("t0k3n") && !text.contains("WDJB"));
}

#[test]
fn an_implicit_grant_in_the_fragment_is_compared_at_once() {
    let events = followed(vec![Leg(
        authorize("response_type=token&scope=read+write&state=s"),
        redirect(
            "https://client.example/cb#access_token=t0k3n&token_type=Bearer&scope=read&state=s",
        ),
    )]);
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.field("dropped_scopes"), "write");
    assert_eq!(event.field("requested_at"), "authorize");
    assert_eq!(event.field("status"), "303");
    assert!(!event.fields.contains_key("grant_type"));
    assert!(!format!("{event:?}").contains("t0k3n"));
}

#[test]
fn a_hybrid_answer_without_scope_is_as_requested_and_not_kept() {
    let events = followed(vec![
        Leg(
            authorize("response_type=code+token&scope=read+write&state=s"),
            redirect("https://client.example/cb#code=hybrid-code&access_token=t&state=s"),
        ),
        Leg(token("code=hybrid-code"), grant(Some("read"))),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn an_authorize_request_for_too_many_scopes_is_not_kept() {
    // 65 scopes, or more than 1 KiB of them: a peer cannot make each kept
    // authorization large.
    let many: Vec<String> = (0..65).map(|n| format!("s{n}")).collect();
    let long = "x".repeat(1100);
    for scopes in [many.join("+"), format!("read+{long}")] {
        let events = followed(vec![
            Leg(
                authorize(&format!("scope={scopes}&state={STATE}")),
                code_redirect(Some(STATE)),
            ),
            redeemed(&format!("code={CODE}")),
        ]);
        assert!(events.is_empty(), "{events:?}");
    }
    // 64 short scopes are kept.
    let kept: Vec<String> = (0..63).map(|n| format!("s{n}")).collect();
    let events = followed(vec![
        Leg(
            authorize(&format!("scope=read+{}&state={STATE}", kept.join("+"))),
            code_redirect(Some(STATE)),
        ),
        redeemed(&format!("code={CODE}")),
    ]);
    assert_eq!(events.len(), 1, "{events:?}");
}

#[test]
fn an_authorize_request_answered_with_a_login_page_is_kept() {
    // Some servers show the login page as the authorize answer itself; the
    // code comes later, to another request, linked by `state`.
    let login_page = http::Response::builder()
        .header(CONTENT_TYPE, "text/html")
        .body(Full::new(Bytes::from_static(
            b"<form><input name=login></form>",
        )))
        .unwrap();
    let events = followed(vec![
        Leg(
            authorize(&format!("scope=read+write&state={STATE}")),
            login_page,
        ),
        Leg(resume(), code_redirect(Some(STATE))),
        redeemed(&format!("code={CODE}")),
    ]);
    assert_one_narrowing(&events);
}

fn authorize_as(client_id: &str, scope: &str) -> Request<Full<Bytes>> {
    Request::get(format!(
        "/authorize?response_type=code&client_id={client_id}&scope={scope}&state={STATE}"
    ))
    .header(http::header::USER_AGENT, "browser/1.0")
    .body(Full::default())
    .unwrap()
}

#[test]
fn a_forged_authorization_in_a_public_clients_name_is_never_reported() {
    // The attacker forges `wizard`'s authorization for `admin billing` under
    // a `state`, then runs a real flow as `wizard` (a public client anyone
    // may be) with that `state`: the two claim one link, so neither is
    // reported, and no event ever carries the scopes the attacker chose.
    let events = followed(vec![
        Leg(authorize_as("wizard", "admin+billing"), login_page()),
        Leg(authorize_as("wizard", "read+write"), login_page()),
        Leg(resume(), code_redirect(Some(STATE))),
        redeemed(&format!("code={CODE}")),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn a_suppression_attempt_makes_both_ambiguous_never_the_attackers() {
    // The victim's authorize request is kept; the attacker, who saw its
    // `state` in the browser, sends another for the same client with other
    // scopes. The later must not win: neither is reported.
    let events = followed(vec![
        Leg(authorize_as("wizard", "read+write"), login_page()),
        Leg(authorize_as("wizard", "admin"), login_page()),
        Leg(resume(), code_redirect(Some(STATE))),
        redeemed(&format!("code={CODE}")),
    ]);
    assert!(events.is_empty(), "{events:?}");
    // With another client's name, the attempt touches none of the
    // victim's own links: a victim with PKCE is still reported. Only the
    // `state` a later request echoes without naming a client (which two
    // clients now claim) leads nowhere, so the code it brings is linked to
    // neither, and the attacker's entry is never reported.
    let with_pkce = |client_id: &str, scope: &str| {
        Request::get(format!(
            "/authorize?response_type=code&client_id={client_id}&scope={scope}&state={STATE}\
             &code_challenge={CHALLENGE}&code_challenge_method=S256"
        ))
        .header(http::header::USER_AGENT, "browser/1.0")
        .body(Full::default())
        .unwrap()
    };
    let events = followed(vec![
        Leg(with_pkce("wizard", "read+write"), login_page()),
        Leg(authorize_as("victim-app", "admin"), login_page()),
        Leg(resume(), code_redirect(Some(STATE))),
        redeemed(&format!("code={CODE}&code_verifier={VERIFIER}")),
    ]);
    assert_one_narrowing(&events);
    let events = followed(vec![
        Leg(authorize_as("wizard", "read+write"), login_page()),
        Leg(authorize_as("victim-app", "admin"), login_page()),
        Leg(resume(), code_redirect(Some(STATE))),
        redeemed(&format!("code={CODE}")),
    ]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn the_same_request_repeated_after_login_is_followed_once() {
    // A browser sends the same authorize request again after logging in
    // (django-oauth-toolkit's login redirect, Authlib's consent page): one
    // authorization, not two that claim one `state`.
    let events = followed(vec![
        Leg(authorize_as("wizard", "read+write"), redirect("/login")),
        Leg(authorize_as("wizard", "read+write"), login_page()),
        Leg(
            authorize_as("wizard", "read+write"),
            code_redirect(Some(STATE)),
        ),
        redeemed(&format!("code={CODE}")),
    ]);
    assert_one_narrowing(&events);
}

#[test]
fn only_an_authorization_endpoint_keeps_an_authorization() {
    let flow = |path: &str| {
        vec![
            Leg(
                Request::get(format!(
                    "{path}?response_type=code&client_id=wizard&scope=read+write&state={STATE}"
                ))
                .header(http::header::USER_AGENT, "browser/1.0")
                .body(Full::default())
                .unwrap(),
                login_page(),
            ),
            Leg(resume(), code_redirect(Some(STATE))),
            redeemed(&format!("code={CODE}")),
        ]
    };
    let with_paths = || Some(FollowAuthorizations::in_memory().authorize_paths(["/authorize"]));
    let events = run(with_paths(), flow("/not-an-endpoint"), Duration::ZERO);
    assert!(events.is_empty(), "{events:?}");
    assert_one_narrowing(&run(with_paths(), flow("/authorize"), Duration::ZERO));
    // Without paths, any path may keep one (documented).
    assert_one_narrowing(&followed(flow("/not-an-endpoint")));
}
