//! Property tests over hostile input: for any status, `Location` bytes, query
//! and `User-Agent`, the layer never panics, hands back exactly the inner
//! response, and reports a rejection exactly when a simple reference says
//! the redirect carries `error=invalid_scope`: the `url` crate's reading for
//! every Location it parses, and the URL standard's split into query and
//! fragment for those it refuses.

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::header::{HeaderValue, LOCATION, USER_AGENT};
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use invalid_scope_observer::{InvalidScopeObserverLayer, RateLimit, ScopeSet};
use proptest::prelude::*;
use support::{capture, ours};
use tower::{service_fn, Layer, ServiceExt};

/// The reference: a 3xx whose Location has `error=invalid_scope` in its
/// query or fragment, as the WHATWG URL parser (against any base) finds
/// them, or, where it refuses the Location, as the standard's first steps
/// do: lossy text, trimmed, tabs and newlines dropped, the fragment after
/// the first `#`, the query after the first `?` before it.
fn reference_says_rejection(status: u16, location: &[u8]) -> bool {
    // A redirect, or a client error that carries one (RFC 6749 does not
    // name it; some servers answer so).
    if !(300..500).contains(&status) {
        return false;
    }
    let is_error = |(name, value): (std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)| {
        name == "error" && value == "invalid_scope"
    };
    let has_error = |text: &str| url::form_urlencoded::parse(text.as_bytes()).any(is_error);
    let base = url::Url::parse("https://reference.example/some/path").unwrap();
    if let Some(url) = std::str::from_utf8(location)
        .ok()
        .and_then(|text| base.join(text).ok())
    {
        return url.query_pairs().any(is_error) || url.fragment().is_some_and(has_error);
    }
    let text: String = String::from_utf8_lossy(location)
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let (before_fragment, fragment) = match text.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (text.as_str(), None),
    };
    before_fragment
        .split_once('?')
        .is_some_and(|(_, query)| has_error(query))
        || fragment.is_some_and(has_error)
}

fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the inner service answers at once"),
    }
}

/// Pieces that make interesting Locations and queries more often than
/// uniform bytes would.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"error".to_vec()),
        Just(b"=".to_vec()),
        Just(b"invalid_scope".to_vec()),
        Just(b"invalid".to_vec()),
        Just(b"_scope".to_vec()),
        Just(b"%5F".to_vec()),
        Just(b"%65".to_vec()),
        Just(b"%".to_vec()),
        Just(b"&".to_vec()),
        Just(b"?".to_vec()),
        Just(b"#".to_vec()),
        Just(b"+".to_vec()),
        Just(b"\t".to_vec()),
        Just(b" ".to_vec()),
        Just(b"[".to_vec()),
        Just(b"https://client.example/cb".to_vec()),
        Just(b"http://[::1".to_vec()),
        Just(b"scope=".to_vec()),
        Just(b"client_id=".to_vec()),
        "[a-z0-9:_.~-]{1,6}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 1..4),
    ]
}

fn joined() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(piece(), 0..16).prop_map(|pieces| pieces.concat())
}

/// Redirect-shaped Locations: a target, then parameters in the query or the
/// fragment, with near-miss names and values, so that about half are
/// rejections.
fn redirect_location() -> impl Strategy<Value = Vec<u8>> {
    let target = prop_oneof![
        Just("https://client.example/cb"),
        Just("/cb"),
        Just(""),
        Just("cb/invalid_scope"),
        Just("http://[::1"),
        Just("custom-scheme:/cb"),
    ];
    let separator = prop_oneof![
        Just("?"),
        Just("#"),
        Just("?x=1#"),
        Just("?a#b&"),
        Just("/")
    ];
    let name = prop_oneof![
        Just("error"),
        Just("%65rror"),
        Just("err\tor"),
        Just("errors"),
        Just("state"),
        Just("error_description"),
    ];
    let value = prop_oneof![
        Just("invalid_scope"),
        Just("invalid%5Fscope"),
        Just("invalid_sc\tope"),
        Just("invalid_scopes"),
        Just("invalid+scope"),
        Just("error%3Dinvalid_scope"),
        Just("access_denied"),
        Just("%FF"),
    ];
    let parameters = prop::collection::vec((name, value), 0..4);
    (target, separator, parameters).prop_map(|(target, separator, parameters)| {
        let parameters: Vec<String> = parameters
            .into_iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        format!("{target}{separator}{}", parameters.join("&")).into_bytes()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn never_panics_never_changes_the_response_and_agrees_with_url(
        status in prop_oneof![1 => 100u16..600, 3 => 300u16..310],
        location in prop_oneof![joined(), redirect_location()],
        query in joined(),
        user_agent in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let Ok(location_value) = HeaderValue::from_bytes(&location) else {
            return Ok(()); // `http` refuses it: no server can send it
        };
        let status = StatusCode::from_u16(status).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(LOCATION, location_value);
        headers.append("x-inner", HeaderValue::from_static("kept"));

        let mut request = Request::new(());
        let path = format!("/authorize?{}", String::from_utf8_lossy(&query));
        if let Ok(uri) = path.parse::<Uri>() {
            *request.uri_mut() = uri;
        }
        if let Ok(user_agent) = HeaderValue::from_bytes(&user_agent) {
            request.headers_mut().insert(USER_AGENT, user_agent);
        }

        let inner_headers = headers.clone();
        let inner = service_fn(move |_request: Request<()>| {
            let mut response = Response::new(Vec::from(&b"inner body"[..]));
            *response.status_mut() = status;
            *response.headers_mut() = inner_headers.clone();
            std::future::ready(Ok::<_, Infallible>(response))
        });
        let service = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
            .rate_limit(RateLimit::unlimited())
            .layer(inner);
        let (response, events) = capture(|| now(service.oneshot(request)).unwrap());

        prop_assert_eq!(response.status(), status);
        prop_assert_eq!(response.headers(), &headers);
        prop_assert_eq!(response.body(), &b"inner body".to_vec());
        let reported = ours(&events).len();
        let expected = usize::from(reference_says_rejection(status.as_u16(), &location));
        prop_assert_eq!(reported, expected, "Location {:?}", String::from_utf8_lossy(&location));
    }

    #[test]
    fn scope_sets_parse_any_text_and_diff_consistently(
        requested in "[ a-c\\x00-\\x1f%+é]{0,40}",
        grantable in "[ a-c]{0,20}",
    ) {
        let requested = ScopeSet::parse(&requested);
        let grantable = ScopeSet::parse(&grantable);
        let missing = requested.difference(&grantable);
        prop_assert!(missing.is_subset(&requested));
        prop_assert!(missing.iter().all(|scope| !grantable.contains(scope)));
        prop_assert_eq!(missing.len() + requested.intersection(&grantable).len(), requested.len());
        prop_assert_eq!(ScopeSet::parse(&requested.to_string()), requested.clone());
        prop_assert!(requested.iter().all(|scope| !scope.is_empty() && !scope.contains(' ')));
    }
}
