//! A real `@node-oauth/express-oauth-server` 4.2 on `@node-oauth/oauth2-server`
//! 5.3 (npm, locked in `servers/express-oauth`), unmodified but for its
//! in-memory model, with the proxy in front at its default settings plus
//! `[observe] bodies = true` and `[correlation]`: no grantable lists, and no
//! discovery document to read the known scopes from.
//!
//! What the server answers (recorded in `servers/express-oauth/SHAPES.md`):
//! a rejected authorize GET is **not** a redirect but `400` JSON
//! `{"error":"invalid_scope","error_description":"Invalid scope: Requested
//! scope is invalid"}` with a `location` header carrying the same error; a
//! rejected client-credentials request is the same `400` JSON without a
//! `location`. Each is reported once, under the right event name, with the
//! server's reason; the success flow is silent; every answer reaches the
//! client as the server wrote it (checked on the wire); no secret reaches
//! the proxy's output.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION};
use http::{Request, StatusCode};
use support::tap::Tap;
use support::{basic, code_of, free_address, row, runtime, send, Proxy};

const STATE: &str = "st4te-never-logged";
// As in `servers/express-oauth/server.mjs`.
const SECRET: &str = "webapp-s3cret-never-logged";
const REASON: &str = "Invalid scope: Requested scope is invalid";

/// The server's directory, with its locked packages installed.
fn server_directory() -> PathBuf {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/express-oauth");
    if !directory
        .join("node_modules/@node-oauth/express-oauth-server")
        .exists()
    {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&directory)
            .status()
            .expect("npm, to install @node-oauth/express-oauth-server");
        assert!(status.success(), "npm ci failed: {status}");
    }
    directory
}

/// express-oauth-server serving on 127.0.0.1.
struct ExpressOAuth {
    child: Child,
    address: SocketAddr,
}

impl ExpressOAuth {
    fn start() -> Self {
        let address = free_address();
        let child = Command::new("node")
            .arg("server.mjs")
            .env("PORT", address.port().to_string())
            .current_dir(server_directory())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node, to run express-oauth-server");
        support::wait_until_listening(address, "express-oauth-server");
        Self { child, address }
    }
}

impl Drop for ExpressOAuth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn express_oauth_server_through_the_proxy() {
    let server = ExpressOAuth::start();
    let runtime = runtime();
    let tap = Tap::start(&runtime, server.address);
    let proxy = Proxy::start(tap.address, "[observe]\nbodies = true\n[correlation]\n");
    let host = proxy.listen;
    let through = |request: Request<Bytes>| {
        let response = runtime.block_on(send(host, request));
        tap.assert_written(&response);
        response
    };
    let authorize = |scope: &str| {
        Request::get(format!(
            "/oauth/authorize?response_type=code&client_id=webapp&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&scope={scope}&state={STATE}"
        ))
        .header(HOST, host.to_string())
        .body(Bytes::new())
        .unwrap()
    };
    let token = |form: String| {
        Request::post("/oauth/token")
            .header(HOST, host.to_string())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(AUTHORIZATION, basic("webapp", SECRET))
            .body(Bytes::from(form))
            .unwrap()
    };

    // 1. The authorize GET for a scope outside the client's: a 400 JSON
    //    answer that carries the redirect in its `location`.
    let rejected = through(authorize("read+admin"));
    assert_eq!(rejected.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        rejected.headers()[LOCATION],
        format!(
            "https://client.example/cb?error=invalid_scope&error_description=Invalid%20scope%3A%20Requested%20scope%20is%20invalid&state={STATE}"
        )
    );
    assert_eq!(
        rejected.body(),
        &format!(r#"{{"error":"invalid_scope","error_description":"{REASON}"}}"#)
    );

    // 2. Client credentials for the same scopes: 400 JSON, no location.
    let refused = through(token(
        "grant_type=client_credentials&scope=read+admin".into(),
    ));
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.headers().get(LOCATION).is_none());

    // 3. A success: authorize `read`, then the code for a token. Silent
    //    (the rows below hold no narrowing).
    let allowed = through(authorize("read"));
    assert_eq!(allowed.status(), StatusCode::FOUND);
    let code = code_of(allowed.headers()[LOCATION].to_str().unwrap());
    let tokens = through(token(format!(
        "grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fclient.example%2Fcb"
    )));
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens: serde_json::Value = serde_json::from_slice(tokens.body()).unwrap();
    assert_eq!(tokens["scope"], "read");

    let secrets = [
        SECRET.to_string(),
        STATE.to_string(),
        code,
        tokens["access_token"].as_str().unwrap().to_string(),
        tokens["refresh_token"].as_str().unwrap().to_string(),
    ];
    let (status, events) = proxy.stop();
    assert!(status.success());
    let rows = support::report_rows(
        &events,
        &[
            "client_id",
            "requested_scopes",
            "error_description",
            "status",
            "unexplained",
        ],
    );
    // No lists and no discovery document: nothing names a missing scope,
    // so both are flagged unexplained, with the server's reason beside them.
    assert_eq!(
        rows,
        [
            row(&[
                "oauth.authorize.invalid_scope",
                "webapp",
                "read admin",
                REASON,
                "400",
                "true"
            ]),
            row(&[
                "oauth.token.invalid_scope",
                "webapp",
                "read admin",
                REASON,
                "400",
                "true"
            ]),
        ],
        "{events:#?}"
    );
    // The server has no discovery document: said once, and the proxy runs on.
    let discovery_failed = events
        .iter()
        .filter(|event| event["fields"]["message"] == "invalid_scope_proxy.discovery_failed")
        .count();
    assert_eq!(discovery_failed, 1, "{events:#?}");
    support::assert_no_secret(&events, &secrets);
}
