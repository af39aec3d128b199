//! A real Authlib authorization server (PyPI, pinned in
//! `servers/authlib/requirements.txt`; Flask, codes and tokens in SQLite) on
//! 127.0.0.1, with the proxy in front at its default settings plus
//! `[observe] bodies = true` and `[correlation]`: no grantable lists; the
//! known scopes discovered from its `/.well-known/oauth-authorization-server`.
//!
//! What Authlib 1.9 answers (recorded by hand with curl, 2026-12-03):
//! - an authorize request for a supported scope the client may not have is
//!   narrowed silently to the client's (`get_allowed_scope`): `302` with the
//!   code, and the token answer's `scope` is the client's;
//! - a scope outside `OAUTH2_SCOPES_SUPPORTED` is `302 Location:
//!   https://client.example/cb?error=invalid_scope&error_description=The+requested+scope+is+invalid%2C+unknown%2C+or+malformed.&state=…`;
//! - client credentials are narrowed the same way (`200`, `"scope": "read"`)
//!   or refused with `400 {"error": "invalid_scope", "error_description": …}`.
//!
//! Each is reported once; answers are checked on the wire; no secret reaches
//! the proxy's output.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION};
use http::{Request, StatusCode};
use support::tap::Tap;
use support::{basic, code_of, free_address, python, row, runtime, send, Proxy};

const STATE: &str = "st4te-never-logged";
// As in `servers/authlib/server.py`.
const SECRET: &str = "narrowed-s3cret-never-logged";
const REASON: &str = "The requested scope is invalid, unknown, or malformed.";

/// Authlib serving on 127.0.0.1.
struct Authlib {
    child: Child,
    address: SocketAddr,
    _database: tempfile::TempDir,
}

impl Authlib {
    fn start() -> Self {
        let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/authlib");
        let database = tempfile::tempdir().unwrap();
        let address = free_address();
        let child = Command::new(python())
            .arg("server.py")
            .current_dir(directory)
            .env("PORT", address.port().to_string())
            .env("AUTHLIB_DATABASE", database.path().join("db.sqlite3"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        support::wait_until_listening(address, "Authlib");
        Self {
            child,
            address,
            _database: database,
        }
    }
}

impl Drop for Authlib {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn authlib_through_the_proxy() {
    let server = Authlib::start();
    let runtime = runtime();
    let tap = Tap::start(&runtime, server.address);
    let proxy = Proxy::start(tap.address, "[observe]\nbodies = true\n[correlation]\n");
    proxy.wait_for(|line| line.contains("invalid_scope_proxy.known_scopes_discovered"));
    let host = proxy.listen;
    let through = |request: Request<Bytes>| {
        let response = runtime.block_on(send(host, request));
        tap.assert_written(&response);
        response
    };
    let authorize = |scope: &str| {
        Request::get(format!(
            "/oauth/authorize?response_type=code&client_id=narrowed&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&scope={scope}&state={STATE}"
        ))
        .header(HOST, host.to_string())
        .body(Bytes::new())
        .unwrap()
    };
    let token = |form: String| {
        Request::post("/oauth/token")
            .header(HOST, host.to_string())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(AUTHORIZATION, basic("narrowed", SECRET))
            .body(Bytes::from(form))
            .unwrap()
    };

    // 1. `read write` for a client that may have `read`: a code at once,
    //    narrowed in silence; only the token answer says so.
    let narrowed = through(authorize("read+write"));
    assert_eq!(narrowed.status(), StatusCode::FOUND);
    let code = code_of(narrowed.headers()[LOCATION].to_str().unwrap());
    let tokens = through(token(format!(
        "grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fclient.example%2Fcb"
    )));
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens: serde_json::Value = serde_json::from_slice(tokens.body()).unwrap();
    assert_eq!(tokens["scope"], "read");

    // 2. A scope the server does not support: the invalid_scope redirect.
    let rejected = through(authorize("read+delete"));
    assert_eq!(rejected.status(), StatusCode::FOUND);
    assert!(rejected.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("https://client.example/cb?error=invalid_scope&error_description="));

    // 3. Client credentials, narrowed in the token answer.
    let granted = through(token(
        "grant_type=client_credentials&scope=read+write".into(),
    ));
    assert_eq!(granted.status(), StatusCode::OK);
    let granted: serde_json::Value = serde_json::from_slice(granted.body()).unwrap();
    assert_eq!(granted["scope"], "read");

    let secrets = [
        SECRET.to_string(),
        STATE.to_string(),
        code,
        tokens["access_token"].as_str().unwrap().to_string(),
        granted["access_token"].as_str().unwrap().to_string(),
    ];
    let (status, events) = proxy.stop();
    assert!(status.success());
    let rows = support::report_rows(
        &events,
        &[
            "client_id",
            "requested_scopes",
            "dropped_scopes",
            "missing_scopes",
            "grant_type",
            "error_description",
        ],
    );
    assert_eq!(
        rows,
        [
            row(&[
                "oauth.scope_narrowed",
                "narrowed",
                "read write",
                "write",
                "",
                "authorization_code",
                ""
            ]),
            row(&[
                "oauth.authorize.invalid_scope",
                "narrowed",
                "read delete",
                "",
                "delete",
                "",
                REASON
            ]),
            row(&[
                "oauth.scope_narrowed",
                "narrowed",
                "read write",
                "write",
                "",
                "client_credentials",
                ""
            ]),
        ],
        "{events:#?}"
    );
    support::assert_no_secret(&events, &secrets);
}
