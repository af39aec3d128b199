//! `response_mode=form_post`: the answer is an HTML page whose form posts
//! `error=invalid_scope` or a `code` back to the client. With bodies
//! observed the page is read (html5gum's tokenizer): the rejection is
//! reported, and with `follow_authorizations` the code is followed.
#![cfg(feature = "bodies")]

mod support;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::Response;
use http_body_util::Full;
#[cfg(feature = "follow")]
use invalid_scope_observer::FollowAuthorizations;
use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
use support::flow::{authorize, server, walk, Leg, STATE};
use support::{ours, run_captured, CapturedEvent};
use tower::Layer;

/// A form_post page as node-oidc-provider writes one: `status`, hidden
/// inputs, an auto-submit script.
fn page(status: u16, inputs: &[(&str, &str)]) -> Response<Full<Bytes>> {
    let inputs: String = inputs
        .iter()
        .map(|(name, value)| format!(r#"<input type="hidden" name="{name}" value="{value}"/>"#))
        .collect();
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Full::new(Bytes::from(format!(
            "<!DOCTYPE html><html><head><title>Submitting Callback</title>\
             <script>document.addEventListener('DOMContentLoaded', function () {{ document.forms[0].submit() }});</script>\
             </head><body><form method=\"post\" action=\"https://client.example/cb\">{inputs}\
             <noscript><button type=\"submit\">Continue</button></noscript></form></body></html>"
        ))))
        .unwrap()
}

fn run(follow: bool, legs: Vec<Leg>) -> Vec<CapturedEvent> {
    let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid read")).observe_bodies();
    #[cfg(feature = "follow")]
    let layer = if follow {
        layer.follow_authorizations(FollowAuthorizations::in_memory())
    } else {
        layer
    };
    #[cfg(not(feature = "follow"))]
    assert!(!follow, "following needs feature `follow`");
    let mut service = layer.layer(server());
    let (_, events) = run_captured(async move {
        for leg in legs {
            walk(&mut service, leg).await;
        }
    });
    ours(&events).into_iter().cloned().collect()
}

#[test]
fn an_invalid_scope_page_is_a_rejection() {
    let events = run(
        false,
        vec![Leg(
            authorize(&format!(
                "scope=openid+read+admin&state={STATE}&response_mode=form_post"
            )),
            page(
                400,
                &[
                    ("error", "invalid_scope"),
                    ("error_description", "requested scope is not allowed"),
                    ("state", STATE),
                ],
            ),
        )],
    );
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.message(), "oauth.authorize.invalid_scope");
    assert_eq!(event.field("missing_scopes"), "admin");
    assert_eq!(event.field("client_id"), "wizard");
    assert_eq!(event.field("status"), "400");
    assert!(!format!("{event:?}").contains(STATE));
}

#[test]
fn a_page_to_a_request_that_did_not_ask_for_form_post_is_not_read() {
    let events = run(
        false,
        vec![Leg(
            authorize("scope=openid+read+admin"),
            page(400, &[("error", "invalid_scope")]),
        )],
    );
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn other_errors_and_ordinary_pages_report_nothing() {
    let events = run(
        false,
        vec![
            Leg(
                authorize("scope=openid+admin&response_mode=form_post"),
                page(400, &[("error", "access_denied")]),
            ),
            Leg(
                authorize("scope=openid+admin&response_mode=form_post"),
                Response::builder()
                    .header(CONTENT_TYPE, "text/html")
                    .body(Full::new(Bytes::from_static(
                        b"<form><input name=login><input name=password type=password></form>",
                    )))
                    .unwrap(),
            ),
        ],
    );
    assert!(events.is_empty(), "{events:?}");
}

/// A code in a form_post page is followed like a redirect's.
#[cfg(feature = "follow")]
mod followed {
    use bytes::Bytes;
    use http::header::{CONTENT_TYPE, USER_AGENT};
    use http::Request;
    use http_body_util::Full;

    use super::support::flow::{authorize, grant, redirect, resume, token, Leg, STATE};
    use super::{page, run};

    #[test]
    fn a_code_in_a_page_after_an_interaction_is_followed_to_the_token_answer() {
        let events = run(
            true,
            vec![
                Leg(
                    authorize(&format!(
                        "scope=openid+read+calendar&state={STATE}&response_mode=form_post"
                    )),
                    redirect("/interaction/uid"),
                ),
                // The resume request names no response mode: the page is read
                // because authorizations are followed.
                Leg(
                    resume(),
                    page(200, &[("code", "page-code"), ("state", STATE)]),
                ),
                Leg(token("code=page-code"), grant(Some("openid read"))),
            ],
        );
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].message(), "oauth.scope_narrowed");
        assert_eq!(events[0].field("dropped_scopes"), "calendar");
        assert_eq!(events[0].field("requested_at"), "authorize");
    }

    #[test]
    fn a_code_in_the_authorize_answer_page_is_followed() {
        let request = Request::post("/authorize")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(USER_AGENT, "browser/1.0")
            .body(Full::new(Bytes::from_static(
                b"response_type=code&client_id=wizard&scope=openid+read+calendar&response_mode=form_post",
            )))
            .unwrap();
        let events = run(
            true,
            vec![
                Leg(request, page(200, &[("code", "direct-code")])),
                Leg(token("code=direct-code"), grant(Some("openid read"))),
            ],
        );
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].field("dropped_scopes"), "calendar");
    }
}
