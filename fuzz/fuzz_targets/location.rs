//! Any bytes as a redirect's `Location`: never a panic, the response intact.
#![no_main]

use http::{HeaderValue, Request, StatusCode};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&status, location)) = data.split_first() else {
        return;
    };
    let status = StatusCode::from_u16(300 + u16::from(status % 10)).unwrap();
    let Ok(location) = HeaderValue::from_bytes(location) else {
        return;
    };
    let request = Request::get("/authorize?client_id=c&scope=openid+admin")
        .body(())
        .unwrap();
    common::observe(request, status, Some(location));
});
