//! A test server shaped like PostHog's authorization server as it runs
//! today (`servers/posthog`: the real, pinned django-oauth-toolkit
//! underneath, a validator that clamps to each client's ceiling and never
//! rejects, a 200 consent page, a single-page consent screen that POSTs
//! JSON and gets `{"redirect_to": …}` or a JSON `400 invalid_scope`, a client
//! whose errors come back inside `redirect_to`, and a provisioning endpoint
//! with a nested error object and scopes as a JSON array), with the proxy
//! in front at its default settings plus `[observe] bodies = true` and
//! `[correlation]`: no grantable lists; the known scopes discovered from
//! the server's `/.well-known/openid-configuration`.
//!
//! Every answer reaches the client as the server wrote it (checked on the
//! wire by a tap), each case is reported exactly once, success flows are
//! silent, and no secret reaches the proxy's output. What the server
//! answers is recorded in `servers/posthog/SHAPES.md`.
//!
//! The Python is the django-oauth-toolkit venv of `django.rs`
//! (`DJANGO_OAUTH_TOOLKIT_PYTHON`, or one made under the target directory).

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, LOCATION};
use http::{Request, Response, StatusCode};
use support::tap::Tap;
use support::{basic, code_of, free_address, python, row, run, runtime, send, Cookies, Proxy};

// As in `servers/posthog/project/clients.py`.
const BACKEND_SECRET: &str = "backend-s3cret-never-logged";
const STRICT_SECRET: &str = "strict-s3cret-never-logged";
const REDIRECTOR_SECRET: &str = "redirector-s3cret-never-logged";
/// RFC 7636, Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "https%3A%2F%2Fclient.example%2Fcb";

/// The PostHog-shaped server, migrated and seeded, on 127.0.0.1.
struct PostHogShaped {
    child: Child,
    address: SocketAddr,
    _database: tempfile::TempDir,
}

impl PostHogShaped {
    fn start() -> Self {
        let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/posthog");
        let database = tempfile::tempdir().unwrap();
        let python = python();
        let manage = |arguments: &[&str]| {
            let mut command = Command::new(&python);
            command
                .arg("manage.py")
                .args(arguments)
                .current_dir(&project)
                .env("DOT_DATABASE", database.path().join("db.sqlite3"))
                .stdout(Stdio::null());
            command
        };
        run(&mut manage(&["migrate", "-v", "0"]));
        run(&mut manage(&["seed"]));
        let address = free_address();
        let child = manage(&["runserver", &address.to_string(), "--noreload"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        support::wait_until_listening(address, "the PostHog-shaped server");
        Self {
            child,
            address,
            _database: database,
        }
    }
}

impl Drop for PostHogShaped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser (or a backend) talking to the server through the proxy, each
/// answer checked against what the server wrote.
struct Client<'a> {
    runtime: &'a tokio::runtime::Runtime,
    proxy: SocketAddr,
    tap: &'a Tap,
    cookies: Cookies,
}

impl Client<'_> {
    fn send(&mut self, request: http::request::Builder, body: String) -> Response<Bytes> {
        let mut request = request
            .header(HOST, self.proxy.to_string())
            .body(Bytes::from(body))
            .unwrap();
        if !self.cookies.0.is_empty() {
            let cookies = self.cookies.header().parse().unwrap();
            request.headers_mut().insert(COOKIE, cookies);
        }
        let response = self.runtime.block_on(send(self.proxy, request));
        self.tap.assert_written(&response);
        self.cookies.keep(&response);
        response
    }

    fn get(&mut self, path: &str) -> Response<Bytes> {
        self.send(Request::get(path), String::new())
    }

    /// The consent screen's JSON POST, with the CSRF token Django set.
    fn consent(&mut self, json: serde_json::Value) -> Response<Bytes> {
        let csrf = self.cookies.0["csrftoken"].clone();
        self.send(
            Request::post("/oauth/authorize")
                .header(CONTENT_TYPE, "application/json")
                .header("x-csrftoken", csrf),
            json.to_string(),
        )
    }

    fn token(&mut self, authorization: Option<String>, form: String) -> Response<Bytes> {
        let mut request =
            Request::post("/oauth/token").header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        self.send(request, form)
    }
}

fn json(response: &Response<Bytes>) -> serde_json::Value {
    serde_json::from_slice(response.body()).unwrap()
}

fn authorize_path(client_id: &str, scope: &str, state: &str, pkce: bool) -> String {
    let pkce = if pkce {
        format!("&code_challenge={CHALLENGE}&code_challenge_method=S256")
    } else {
        String::new()
    };
    format!(
        "/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={REDIRECT}&scope={scope}&state={state}{pkce}"
    )
}

fn consent_body(client_id: &str, scope: &str, state: &str, pkce: bool) -> serde_json::Value {
    let mut body = serde_json::json!({
        "client_id": client_id,
        "redirect_uri": "https://client.example/cb",
        "response_type": "code",
        "state": state,
        "scope": scope,
        "allow": true,
    });
    if pkce {
        body["code_challenge"] = CHALLENGE.into();
        body["code_challenge_method"] = "S256".into();
    }
    body
}

#[test]
fn the_seed_servers_shapes_through_the_proxy() {
    let server = PostHogShaped::start();
    let runtime = runtime();
    let tap = Tap::start(&runtime, server.address);
    let proxy = Proxy::start(tap.address, "[observe]\nbodies = true\n[correlation]\n");
    // The known scopes come from the server's discovery document.
    proxy.wait_for(|line| line.contains("invalid_scope_proxy.known_scopes_discovered"));
    let mut client = Client {
        runtime: &runtime,
        proxy: proxy.listen,
        tap: &tap,
        cookies: Cookies::default(),
    };
    let mut secrets = vec![
        BACKEND_SECRET.to_string(),
        STRICT_SECRET.to_string(),
        REDIRECTOR_SECRET.to_string(),
        VERIFIER.to_string(),
    ];
    let login = client.get("/test-login/");
    assert_eq!(login.status(), StatusCode::OK);

    // 1. A public PKCE client asks `read write admin`; its ceiling is
    //    `read write`. A 200 consent page, the JSON consent POST answered
    //    with the code in `redirect_to`, the token answer's `scope` clamped.
    let state = "spa-st4te-never-logged";
    let page = client.get(&authorize_path("spa", "read+write+admin", state, true));
    assert_eq!(page.status(), StatusCode::OK);
    let consented = client.consent(consent_body("spa", "read write", state, true));
    assert_eq!(consented.status(), StatusCode::OK);
    let redirect_to = json(&consented)["redirect_to"]
        .as_str()
        .unwrap()
        .to_string();
    let code = code_of(&redirect_to);
    let tokens = client.token(
        None,
        format!(
            "grant_type=authorization_code&client_id=spa&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}"
        ),
    );
    assert_eq!(tokens.status(), StatusCode::OK, "{:?}", tokens.body());
    let tokens = json(&tokens);
    assert_eq!(tokens["scope"], "read write");
    secrets.extend([code, state.to_string(), token_of(&tokens, "access_token")]);

    // 2. A confidential client without PKCE asks `read admin`; its ceiling
    //    is `read`. Its code travels only inside `redirect_to`.
    let state = "backend-st4te-never-logged";
    let page = client.get(&authorize_path("backend", "read+admin", state, false));
    assert_eq!(page.status(), StatusCode::OK);
    let consented = client.consent(consent_body("backend", "read", state, false));
    let code = code_of(json(&consented)["redirect_to"].as_str().unwrap());
    let tokens = client.token(
        Some(basic("backend", BACKEND_SECRET)),
        format!("grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}"),
    );
    assert_eq!(tokens.status(), StatusCode::OK, "{:?}", tokens.body());
    let tokens = json(&tokens);
    assert_eq!(tokens["scope"], "read");
    secrets.extend([code, state.to_string(), token_of(&tokens, "access_token")]);

    // 3. The JSON consent rejection: a required scope deselected.
    let state = "strict-st4te-never-logged";
    client.get(&authorize_path("strict", "read+write", state, false));
    let rejected = client.consent(consent_body("strict", "read", state, false));
    assert_eq!(rejected.status(), StatusCode::BAD_REQUEST);
    let reason = json(&rejected)["error_description"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(json(&rejected)["error"], "invalid_scope");
    secrets.push(state.to_string());

    // 4. The error inside `redirect_to`: a scope the server does not know.
    let state = "redirector-st4te-never-logged";
    client.get(&authorize_path("redirector", "read", state, false));
    let rejected = client.consent(consent_body("redirector", "read delete", state, false));
    assert_eq!(rejected.status(), StatusCode::OK);
    let redirect_to = json(&rejected)["redirect_to"].as_str().unwrap().to_string();
    assert!(redirect_to.contains("error=invalid_scope"), "{redirect_to}");
    secrets.push(state.to_string());

    // 5. The provisioning endpoint: a nested error, scopes as an array.
    let provision = |client: &mut Client<'_>, scopes: &str| {
        client.send(
            Request::post("/api/agentic/provisioning")
                .header(CONTENT_TYPE, "application/json")
                .header(AUTHORIZATION, basic("backend", BACKEND_SECRET)),
            format!(r#"{{"client_id":"backend","scopes":{scopes}}}"#),
        )
    };
    let refused = provision(&mut client, r#"["read","billing"]"#);
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(&refused)["error"]["code"], "invalid_scope");
    let provisioned = provision(&mut client, r#"["read"]"#);
    assert_eq!(provisioned.status(), StatusCode::OK);

    // 6. A first-party client: a 302 with the code at once; nothing dropped.
    let state = "firstparty-st4te-never-logged";
    let redirected = client.get(&authorize_path("firstparty", "read", state, true));
    assert_eq!(redirected.status(), StatusCode::FOUND);
    let code = code_of(redirected.headers()[LOCATION].to_str().unwrap());
    let tokens = client.token(
        None,
        format!(
            "grant_type=authorization_code&client_id=firstparty&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}"
        ),
    );
    assert_eq!(tokens.status(), StatusCode::OK, "{:?}", tokens.body());
    secrets.extend([
        code,
        state.to_string(),
        token_of(&json(&tokens), "access_token"),
    ]);
    secrets.extend(client.cookies.0.values().cloned());

    let (status, events) = proxy.stop();
    assert!(status.success());
    let rows = support::report_rows(
        &events,
        &[
            "client_id",
            "requested_scopes",
            "dropped_scopes",
            "missing_scopes",
            "error_description",
        ],
    );
    assert_eq!(
        rows,
        [
            row(&[
                "oauth.scope_narrowed",
                "spa",
                "read write admin",
                "admin",
                "",
                ""
            ]),
            row(&[
                "oauth.scope_narrowed",
                "backend",
                "read admin",
                "admin",
                "",
                ""
            ]),
            // No lists: nothing the server knows is missing; its reason says why.
            row(&[
                "oauth.authorize.invalid_scope",
                "strict",
                "read",
                "",
                "",
                &reason
            ]),
            row(&[
                "oauth.authorize.invalid_scope",
                "redirector",
                "read delete",
                "",
                "delete",
                "Unknown scope: delete"
            ]),
            row(&[
                "oauth.token.invalid_scope",
                "backend",
                "read billing",
                "",
                "",
                "Requested scopes are not allowed for this client: billing",
            ]),
        ],
        "{events:#?}"
    );
    support::assert_no_secret(&events, &secrets);
}

fn token_of(tokens: &serde_json::Value, name: &str) -> String {
    tokens[name].as_str().unwrap().to_string()
}
