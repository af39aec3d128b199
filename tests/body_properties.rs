//! Property tests for a layer that reads bodies: for any form body and any
//! JSON-typed answer, cut into frames anywhere, the layer never panics,
//! hands both bodies on byte for byte, and reports exactly what it reports
//! when each body comes in one frame.
#![cfg(feature = "bodies")]

mod support;

use std::collections::BTreeMap;
use std::convert::Infallible;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Request, Response};
use http_body_util::BodyExt;
use invalid_scope_observer::body::RequestBody;
use invalid_scope_observer::{InvalidScopeObserverLayer, RateLimit, ScopeSet};
use proptest::prelude::*;
use support::{block_on, capture, ours, Frames};
use tower::{service_fn, Layer, ServiceExt};

/// `bytes` cut at `cuts` (positions taken modulo the length).
fn framed(bytes: &[u8], cuts: &[usize]) -> Frames {
    let mut positions: Vec<usize> = cuts
        .iter()
        .map(|cut| cut % (bytes.len() + 1))
        .chain([0, bytes.len()])
        .collect();
    positions.sort_unstable();
    positions.dedup();
    Frames::from_bytes(
        positions
            .windows(2)
            .map(|pair| Bytes::copy_from_slice(&bytes[pair[0]..pair[1]])),
    )
    .without_end_hint()
}

/// What one run reports (message and fields of each event of ours), and
/// the bytes the inner service and the client received.
type Outcome = (Vec<BTreeMap<String, String>>, Vec<u8>, Vec<u8>);

fn run(
    form: &[u8],
    form_cuts: &[usize],
    answer: &[u8],
    answer_cuts: &[usize],
    status: u16,
) -> Outcome {
    run_typed(
        "application/x-www-form-urlencoded",
        form,
        form_cuts,
        answer,
        answer_cuts,
        status,
    )
}

fn run_typed(
    content_type: &str,
    form: &[u8],
    form_cuts: &[usize],
    answer: &[u8],
    answer_cuts: &[usize],
    status: u16,
) -> Outcome {
    let answer_frames = framed(answer, answer_cuts);
    let answer_frames = std::sync::Mutex::new(Some(answer_frames));
    let inner = service_fn(move |request: Request<RequestBody<Frames>>| {
        let answer = answer_frames.lock().unwrap().take().unwrap();
        async move {
            let received = request.into_body().collect().await.unwrap().to_bytes();
            let mut response = Response::builder()
                .status(status)
                .header(CONTENT_TYPE, "application/json")
                .body(answer)
                .unwrap();
            // Hands the bytes the inner service read back to the test.
            response.extensions_mut().insert(received);
            Ok::<_, Infallible>(response)
        }
    });
    let service = InvalidScopeObserverLayer::new(ScopeSet::parse("openid email"))
        .rate_limit(RateLimit::unlimited())
        .observe_bodies()
        .body_limit(256)
        .layer(inner);
    let request = Request::post("/token")
        .header(CONTENT_TYPE, content_type)
        .body(framed(form, form_cuts))
        .unwrap();
    let ((received, answered), events) = capture(|| {
        block_on(async {
            let response = service.oneshot(request).await.unwrap();
            let received = response.extensions().get::<Bytes>().unwrap().clone();
            let answered = response.into_body().collect().await.unwrap().to_bytes();
            (received, answered)
        })
    });
    let reported = ours(&events)
        .into_iter()
        .map(|event| event.fields.clone())
        .collect();
    (reported, received.to_vec(), answered.to_vec())
}

fn form_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"scope=".to_vec()),
        Just(b"client_id=".to_vec()),
        Just(b"grant_type=".to_vec()),
        Just(b"&".to_vec()),
        Just(b"+".to_vec()),
        Just(b"%3A".to_vec()),
        Just(b"%".to_vec()),
        Just(b"openid".to_vec()),
        Just(b"admin".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ]
}

fn answer_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(br#"{"error":"invalid_scope"}"#.to_vec()),
        Just(br#"{"scope":"openid"}"#.to_vec()),
        Just(br#"{"error":"#.to_vec()),
        Just(br#""invalid_scope""#.to_vec()),
        Just(b"}".to_vec()),
        Just(b" ".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ]
}

/// Pieces of a JSON request: members we read and skip, arrays, escapes,
/// a secret that must never be reported, and noise.
fn json_request_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(br#""scope":"#.to_vec()),
        Just(br#""scopes":["#.to_vec()),
        Just(b"]".to_vec()),
        Just(b",".to_vec()),
        Just(br#""openid admin""#.to_vec()),
        Just(br#""\u0061dmin""#.to_vec()),
        Just(br#""client_id":"c""#.to_vec()),
        Just(br#""allow":true"#.to_vec()),
        Just(br#""password":"hunter2-never-logged""#.to_vec()),
        Just(b"[[[[".to_vec()),
        Just(b"null".to_vec()),
        Just(b"7".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ]
}

/// Pieces of a JSON answer: errors as strings and objects, redirects.
fn json_answer_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(br#"{"error":"invalid_scope","error_description":"d"}"#.to_vec()),
        Just(br#"{"error":{"code":"invalid_scope","message":"m"}}"#.to_vec()),
        Just(br#"{"redirect_to":"https://c/cb?error=invalid_scope&error_description=r"}"#.to_vec()),
        Just(br#"{"redirect_to":"https://c/cb?code=x"}"#.to_vec()),
        Just(br#"{"error":"#.to_vec()),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn json_frames_change_nothing_and_nothing_secret_is_reported(
        body in prop::collection::vec(json_request_piece(), 0..16).prop_map(|pieces| pieces.concat()),
        answer in prop::collection::vec(json_answer_piece(), 0..3).prop_map(|pieces| pieces.concat()),
        body_cuts in prop::collection::vec(any::<usize>(), 0..6),
        answer_cuts in prop::collection::vec(any::<usize>(), 0..6),
        status in prop::sample::select(vec![200u16, 400, 401]),
    ) {
        let whole = run_typed("application/json", &body, &[], &answer, &[], status);
        let cut = run_typed("application/json", &body, &body_cuts, &answer, &answer_cuts, status);
        prop_assert_eq!(&cut.1, &body, "the inner service got other bytes");
        prop_assert_eq!(&cut.2, &answer, "the client got other bytes");
        prop_assert_eq!(&cut.0, &whole.0);
        for event in &cut.0 {
            for value in event.values() {
                prop_assert!(!value.contains("hunter2"), "a secret member was reported");
            }
            if let Some(description) = event.get("error_description") {
                prop_assert!(description.chars().count() <= 200 * 10);
            }
        }
    }

    #[test]
    fn frames_change_nothing(
        form in prop::collection::vec(form_piece(), 0..12).prop_map(|pieces| pieces.concat()),
        answer in prop::collection::vec(answer_piece(), 0..4).prop_map(|pieces| pieces.concat()),
        form_cuts in prop::collection::vec(any::<usize>(), 0..6),
        answer_cuts in prop::collection::vec(any::<usize>(), 0..6),
        status in prop::sample::select(vec![200u16, 400, 401]),
    ) {
        let whole = run(&form, &[], &answer, &[], status);
        let cut = run(&form, &form_cuts, &answer, &answer_cuts, status);
        prop_assert_eq!(&cut.1, &form, "the inner service got other bytes");
        prop_assert_eq!(&cut.2, &answer, "the client got other bytes");
        prop_assert_eq!(cut.0, whole.0);
    }
}

#[test]
fn the_json_property_sees_reports() {
    let body =
        br#"{"scope":["openid","\u0061dmin"],"password":"hunter2-never-logged","client_id":"c"}"#;
    let answer = br#"{"error":{"code":"invalid_scope","message":"m"}}"#;
    let (reported, _, _) = run_typed("application/json", body, &[5, 30], answer, &[9], 400);
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0]["missing_scopes"], "admin");
    assert_eq!(reported[0]["client_id"], "c");
    assert_eq!(reported[0]["error_description"], "m");
}

#[test]
fn the_property_sees_reports() {
    // Guard against a property that holds because nothing is ever reported.
    let form = b"grant_type=client_credentials&scope=openid+admin";
    let answer = br#"{"error":"invalid_scope"}"#;
    let (reported, _, _) = run(form, &[13, 40, 47], answer, &[10, 15], 400);
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0]["missing_scopes"], "admin");
    let (reported, _, _) = run(form, &[3], br#"{"scope":"openid"}"#, &[12], 200);
    assert_eq!(reported[0]["dropped_scopes"], "admin");
}
