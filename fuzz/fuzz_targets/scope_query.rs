//! Any bytes as the request's query and User-Agent, answered by a rejection:
//! scope and client_id parsing, diffing, bounding and escaping never panic.
#![no_main]

use http::header::USER_AGENT;
use http::{HeaderValue, Request, StatusCode, Uri};
use invalid_scope_observer::ScopeSet;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let scopes = ScopeSet::parse(&text);
    assert_eq!(ScopeSet::parse(&scopes.to_string()), scopes);

    let split = data
        .iter()
        .position(|&byte| byte == 0xff)
        .unwrap_or(data.len());
    let (query, user_agent) = data.split_at(split);
    let mut request = Request::new(());
    let path = format!("/authorize?{}", String::from_utf8_lossy(query));
    if let Ok(uri) = path.parse::<Uri>() {
        *request.uri_mut() = uri;
    }
    if let Ok(user_agent) = HeaderValue::from_bytes(user_agent) {
        request.headers_mut().insert(USER_AGENT, user_agent);
    }
    let location = HeaderValue::from_static("https://client.example/cb?error=invalid_scope");
    common::observe(request, StatusCode::FOUND, Some(location));
});
