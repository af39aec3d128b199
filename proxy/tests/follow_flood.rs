//! A flood of junk authorize-shaped requests through the proxy with
//! `[correlation]`: only the upstream's authorization endpoint, read from
//! its discovery document, keeps an authorization, so junk sent anywhere
//! else keeps nothing and pushes no real authorization out.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use support::{runtime, send, upstream, Proxy};

/// A discovery document naming `/authorize`; a 200 page for anything else
/// (a login page at `/authorize`, a catch-all page elsewhere).
fn server(request: &Request<Bytes>) -> Response<Bytes> {
    if request.uri().path() == "/.well-known/openid-configuration" {
        return Response::builder()
            .header("content-type", "application/json")
            .body(Bytes::from_static(
                br#"{"issuer":"http://as.example","authorization_endpoint":"http://as.example/authorize",
                    "token_endpoint":"http://as.example/token","scopes_supported":["read","write"]}"#,
            ))
            .unwrap();
    }
    Response::builder()
        .header("content-type", "text/html")
        .body(Bytes::from_static(b"<form>login</form>"))
        .unwrap()
}

fn evicted(runtime: &tokio::runtime::Runtime, proxy: &Proxy) -> u64 {
    let metrics = runtime.block_on(send(
        proxy.admin,
        Request::get("/metrics").body(Bytes::new()).unwrap(),
    ));
    let text = String::from_utf8_lossy(metrics.body()).into_owned();
    text.lines()
        .find_map(|line| line.strip_prefix("oauth_authorizations_evicted_total "))
        .map_or(0, |count| count.trim().parse().unwrap())
}

#[test]
fn junk_anywhere_but_the_authorization_endpoint_keeps_nothing() {
    let runtime = runtime();
    let upstream = upstream(&runtime, server, Duration::ZERO);
    // Ten authorizations at most: junk that were kept would push the
    // oldest out, and the counter would say so.
    let proxy = Proxy::start(upstream.address, "[correlation]\ncapacity = 10\n");
    proxy.wait_for(|line| line.contains("invalid_scope_proxy.known_scopes_discovered"));
    let flood = |path: &str| {
        for n in 0..50 {
            let response = runtime.block_on(send(
                proxy.listen,
                Request::get(format!(
                    "{path}?response_type=code&client_id=victim-app&scope=admin+billing&state=junk-{n}"
                ))
                .body(Bytes::new())
                .unwrap(),
            ));
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    flood("/not-an-endpoint");
    assert_eq!(
        evicted(&runtime, &proxy),
        0,
        "nothing kept, nothing pushed out"
    );
    // The same at the authorization endpoint is kept (and, past ten,
    // pushes the oldest out): the path is what made the difference.
    flood("/authorize");
    assert_eq!(evicted(&runtime, &proxy), 40);
    let (status, _) = proxy.stop();
    assert!(status.success());
}
