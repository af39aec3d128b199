//! A real node-oidc-provider (npm, pinned by `servers/oidc-provider`'s
//! committed lock file) on 127.0.0.1, unmodified, with the proxy in front:
//! its four ways of saying `invalid_scope` are each reported once, a whole
//! login-consent-code-token flow reaches the client exactly as the server
//! wrote it, and no secret reaches the proxy's output.
//!
//! A wiretap between the proxy and the server keeps what the server wrote,
//! so "as the server wrote it" is checked on the wire, not against a second
//! request. When `node_modules` is missing, the test runs `npm ci` once.

#[path = "../../tests/support/redis_server.rs"]
mod redis_server;
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, LOCATION};
use http::{Request, Response, StatusCode};
use support::tap::Tap;
use support::{basic, free_address, runtime, send, Cookies, Proxy};

const STATE: &str = "st4te-never-logged";
// As in `servers/oidc-provider/server.mjs`.
const WIZARD_SECRET: &str = "wizard-s3cret-never-logged";
const ROBOT_SECRET: &str = "robot-s3cret-never-logged";

const CONFIG: &str = r#"
known_scopes = ["openid", "offline_access", "read", "write", "admin"]
[grantable]
default = ["openid", "read", "write"]
clients = { robot = ["read"] }
[correlation]
store = "memory"
"#;

/// node-oidc-provider serving on 127.0.0.1.
struct OidcProvider {
    child: Child,
    address: SocketAddr,
}

impl OidcProvider {
    fn start() -> Self {
        let directory = server_directory();
        let address = free_address();
        let child = Command::new("node")
            .arg("server.mjs")
            .arg(address.port().to_string())
            .current_dir(&directory)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node, to run node-oidc-provider");
        support::wait_until_listening(address, "node-oidc-provider");
        Self { child, address }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's directory, with its locked packages installed.
fn server_directory() -> PathBuf {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/oidc-provider");
    if !directory.join("node_modules/oidc-provider").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&directory)
            .status()
            .expect("npm, to install node-oidc-provider");
        assert!(status.success(), "npm ci failed: {status}");
    }
    directory
}

/// The proxy's client: requests through the proxy, with the proxy's address
/// as `Host`, each answer checked against what the server wrote.
struct Client<'a> {
    runtime: tokio::runtime::Runtime,
    proxy: SocketAddr,
    tap: &'a Tap,
    cookies: Cookies,
}

impl<'a> Client<'a> {
    /// A client with no cookies yet.
    fn new(runtime: tokio::runtime::Runtime, proxy: &Proxy, tap: &'a Tap) -> Self {
        Self {
            runtime,
            proxy: proxy.listen,
            tap,
            cookies: Cookies::default(),
        }
    }

    fn send(&mut self, request: http::request::Builder, body: &str) -> Response<Bytes> {
        let mut request = request
            .header(HOST, self.proxy.to_string())
            .body(Bytes::from(body.to_owned()))
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

    /// Sends what follows through `proxy`, keeping the cookies.
    fn through(&mut self, proxy: &Proxy) {
        self.proxy = proxy.listen;
    }

    fn get(&mut self, path: &str) -> Response<Bytes> {
        self.send(Request::get(path), "")
    }

    fn post_form(
        &mut self,
        path: &str,
        authorization: Option<String>,
        form: &str,
    ) -> Response<Bytes> {
        let mut request =
            Request::post(path).header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        self.send(request, form)
    }
}

fn authorize(scope: &str, response_mode: &str) -> String {
    format!(
        "/auth?response_type=code&client_id=wizard&redirect_uri=https%3A%2F%2Fclient.example%2Fcb\
         &scope={scope}&state={STATE}{response_mode}"
    )
}

fn location(response: &Response<Bytes>) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// The path and query of a `Location`, absolute or not.
fn path_of(location: &str) -> String {
    match location.split_once("://") {
        Some((_, rest)) => rest[rest.find('/').unwrap()..].to_owned(),
        None => location.to_owned(),
    }
}

/// The messages, clients, statuses and missing scopes of the rejection
/// events.
fn rejections(events: &[serde_json::Value]) -> Vec<(String, String, u64, String)> {
    support::rejection_events(events)
        .map(|event| {
            let fields = &event["fields"];
            let text = |name: &str| fields[name].as_str().unwrap_or_default().to_owned();
            (
                text("message"),
                text("client_id"),
                fields["status"].as_u64().unwrap_or_default(),
                text("missing_scopes"),
            )
        })
        .collect()
}

fn assert_no_secret(events: &[serde_json::Value], secrets: &[String]) {
    let output = serde_json::to_string(events).unwrap();
    for secret in secrets {
        assert!(!secret.is_empty());
        assert!(
            !output.contains(secret.as_str()),
            "a secret reached the output: {secret}"
        );
    }
}

/// The server, a wiretap in front of it, and the proxy in front of the tap.
fn behind_the_proxy() -> (OidcProvider, Tap, Proxy, tokio::runtime::Runtime) {
    let server = OidcProvider::start();
    let runtime = runtime();
    let tap = Tap::start(&runtime, server.address);
    let proxy = Proxy::start(tap.address, CONFIG);
    (server, tap, proxy, runtime)
}

#[test]
fn node_oidc_provider_rejections_are_each_reported_once() {
    let (_server, tap, proxy, runtime) = behind_the_proxy();
    let mut client = Client::new(runtime, &proxy, &tap);

    // 1. The authorization endpoint, answering in the query and in the fragment.
    let query = client.get(&authorize("openid+admin", ""));
    assert_eq!(query.status(), StatusCode::SEE_OTHER);
    assert!(location(&query).starts_with("https://client.example/cb?error=invalid_scope&"));
    let fragment = client.get(&authorize("openid+admin", "&response_mode=fragment"));
    assert_eq!(fragment.status(), StatusCode::SEE_OTHER);
    assert!(location(&fragment).starts_with("https://client.example/cb#error=invalid_scope&"));
    // And in a form_post page: 400 text/html, read with an HTML tokenizer.
    let page = client.get(&authorize("openid+admin", "&response_mode=form_post"));
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(std::str::from_utf8(page.body())
        .unwrap()
        .contains("invalid_scope"));

    // 2. The token endpoint: client_credentials, HTTP Basic.
    let token = client.post_form(
        "/token",
        Some(basic("robot", ROBOT_SECRET)),
        "grant_type=client_credentials&scope=read+admin",
    );
    assert_eq!(token.status(), StatusCode::BAD_REQUEST);
    assert!(token.body().starts_with(br#"{"error":"invalid_scope""#));

    // 3. Pushed authorization (RFC 9126), the secret in the form.
    let par = client.post_form(
        "/request",
        None,
        &format!(
            "client_id=wizard&client_secret={WIZARD_SECRET}&response_type=code\
             &redirect_uri=https%3A%2F%2Fclient.example%2Fcb&scope=openid+admin&state={STATE}"
        ),
    );
    assert_eq!(par.status(), StatusCode::BAD_REQUEST);
    assert!(par.body().starts_with(br#"{"error":"invalid_scope""#));

    let (status, events) = proxy.stop();
    assert!(status.success());
    let expected = |message: &str, client: &str, status: u64| {
        (
            message.to_owned(),
            client.to_owned(),
            status,
            "admin".to_owned(),
        )
    };
    assert_eq!(
        rejections(&events),
        [
            expected("oauth.authorize.invalid_scope", "wizard", 303),
            expected("oauth.authorize.invalid_scope", "wizard", 303),
            expected("oauth.authorize.invalid_scope", "wizard", 400),
            expected("oauth.token.invalid_scope", "robot", 400),
            expected("oauth.token.invalid_scope", "wizard", 400),
        ],
        "{events:#?}"
    );
    assert_no_secret(
        &events,
        &[
            STATE.to_owned(),
            WIZARD_SECRET.to_owned(),
            ROBOT_SECRET.to_owned(),
        ],
    );
}

/// Authorize (`authorize` is its path and query), log in, consent, then the
/// code for tokens (`token_extra` added to the token form); each step must
/// succeed. The code and the token answer.
fn code_flow(
    client: &mut Client,
    authorize: &str,
    token_extra: &str,
) -> (String, serde_json::Value) {
    let code = code_for(client, authorize);
    let tokens = tokens_for(client, &code, token_extra);
    (code, tokens)
}

/// Authorize, log in, consent: the code.
fn code_for(client: &mut Client, authorize: &str) -> String {
    let start = client.get(authorize);
    let answer = log_in_and_consent(client, start);
    if answer.status() == StatusCode::OK {
        // response_mode=form_post: the code is a hidden input of a page.
        return hidden_input(&answer, "code");
    }
    let redirect = location(&answer);
    assert!(
        redirect.starts_with("https://client.example/cb?code="),
        "{redirect}"
    );
    redirect
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("code="))
        .unwrap()
        .to_owned()
}

/// The value of the hidden input `name` of a page the server wrote.
fn hidden_input(page: &Response<Bytes>, name: &str) -> String {
    let page = std::str::from_utf8(page.body()).unwrap();
    let marker = format!(r#"name="{name}" value=""#);
    let after = &page[page.find(&marker).expect(page) + marker.len()..];
    after[..after.find('"').unwrap()].to_owned()
}

/// From `start`, a 303 to an interaction: log in, consent, each step a 303
/// to the next; the server's last answer.
fn log_in_and_consent(client: &mut Client, start: Response<Bytes>) -> Response<Bytes> {
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let login = path_of(&location(&start));
    assert_eq!(client.get(&login).status(), StatusCode::OK);
    let logged_in = client.post_form(&login, None, "prompt=login&login=alice&password=any");
    let resume = client.get(&path_of(&location(&logged_in)));
    let consent = path_of(&location(&resume));
    assert!(consent.starts_with("/interaction/"), "{consent}");
    assert_eq!(client.get(&consent).status(), StatusCode::OK);
    let consented = client.post_form(&consent, None, "prompt=consent");
    client.get(&path_of(&location(&consented)))
}

/// The code for tokens (`token_extra` added to the form).
fn tokens_for(client: &mut Client, code: &str, token_extra: &str) -> serde_json::Value {
    let tokens = client.post_form(
        "/token",
        Some(basic("wizard", WIZARD_SECRET)),
        &format!(
            "grant_type=authorization_code&code={code}\
             &redirect_uri=https%3A%2F%2Fclient.example%2Fcb{token_extra}"
        ),
    );
    assert_eq!(tokens.status(), StatusCode::OK, "{:?}", tokens.body());
    serde_json::from_slice(tokens.body()).unwrap()
}

/// The `oauth.scope_narrowed` events: requested, granted, dropped, client,
/// grant type, where requested.
fn narrowings(events: &[serde_json::Value]) -> Vec<[String; 6]> {
    events
        .iter()
        .filter(|event| event["fields"]["message"] == "oauth.scope_narrowed")
        .map(|event| {
            let text = |name: &str| {
                event["fields"][name]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            [
                text("requested_scopes"),
                text("granted_scopes"),
                text("dropped_scopes"),
                text("client_id"),
                text("grant_type"),
                text("requested_at"),
            ]
        })
        .collect()
}

/// node-oidc-provider ignores a scope it does not know: the code flow
/// succeeds, the token answer's `scope` lacks it, and nothing says so but
/// the proxy, which follows the authorization from `/auth` through login,
/// consent and the resume request that carries the code, to `/token`.
#[test]
fn a_scope_the_server_ignores_at_authorize_is_reported_as_narrowed() {
    let (_server, tap, proxy, runtime) = behind_the_proxy();
    // Linked by `state`.
    let mut client = Client::new(runtime, &proxy, &tap);
    let (code, tokens) = code_flow(&mut client, &authorize("openid+read+calendar", ""), "");
    assert_eq!(tokens["scope"], "openid read");
    // Linked by PKCE alone: no `state`.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    client.cookies.0.clear();
    let (pkce_code, pkce_tokens) = code_flow(
        &mut client,
        &format!(
            "/auth?response_type=code&client_id=wizard&redirect_uri=https%3A%2F%2Fclient.example%2Fcb\
             &scope=openid+write+contacts&code_challenge={CHALLENGE}&code_challenge_method=S256"
        ),
        &format!("&code_verifier={VERIFIER}"),
    );
    assert_eq!(pkce_tokens["scope"], "openid write");
    // The code in a form_post page, after login and consent.
    client.cookies.0.clear();
    let (page_code, page_tokens) = code_flow(
        &mut client,
        &authorize("openid+read+calendar", "&response_mode=form_post"),
        "",
    );
    assert_eq!(page_tokens["scope"], "openid read");
    // `offline_access` without `prompt=consent`: dropped, without a word.
    client.cookies.0.clear();
    let (offline_code, offline_tokens) = code_flow(
        &mut client,
        &authorize("openid+read+offline_access", ""),
        "",
    );
    assert_eq!(offline_tokens["scope"], "openid read");

    let (status, events) = proxy.stop();
    assert!(status.success());
    let narrowed = |requested: &str, granted: &str, dropped: &str| {
        [
            requested,
            granted,
            dropped,
            "wizard",
            "authorization_code",
            "authorize",
        ]
        .map(str::to_owned)
    };
    assert_eq!(
        narrowings(&events),
        [
            narrowed("openid read calendar", "openid read", "calendar"),
            narrowed("openid write contacts", "openid write", "contacts"),
            narrowed("openid read calendar", "openid read", "calendar"),
            narrowed(
                "openid read offline_access",
                "openid read",
                "offline_access"
            ),
        ],
        "{events:#?}"
    );
    assert_eq!(rejections(&events), [], "{events:#?}");
    let mut secrets = vec![
        STATE.to_owned(),
        code,
        pkce_code,
        page_code,
        offline_code,
        VERIFIER.to_owned(),
        CHALLENGE.to_owned(),
    ];
    for tokens in [&tokens, &pkce_tokens, &page_tokens, &offline_tokens] {
        secrets.push(tokens["access_token"].as_str().unwrap().to_owned());
    }
    assert_no_secret(&events, &secrets);
}

/// The device flow (RFC 8628): the television asks for `openid read
/// calendar` at `/device/auth`, a person enters its code at `/device`, logs
/// in and consents; the token request that finally gets a grant carries
/// only the `device_code`. node-oidc-provider ignores `calendar`; the proxy
/// says so once.
#[test]
fn a_scope_dropped_in_the_device_flow_is_reported_as_narrowed() {
    let (_server, tap, proxy, runtime) = behind_the_proxy();
    let mut client = Client::new(runtime, &proxy, &tap);
    let device = client.post_form(
        "/device/auth",
        None,
        "client_id=tv&scope=openid+read+calendar",
    );
    assert_eq!(device.status(), StatusCode::OK, "{:?}", device.body());
    let device: serde_json::Value = serde_json::from_slice(device.body()).unwrap();
    let device_code = device["device_code"].as_str().unwrap().to_owned();
    let user_code = device["user_code"].as_str().unwrap().to_owned();
    let grant = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code\
         &device_code={device_code}&client_id=tv"
    );
    // Polled before the person has approved: not a grant.
    let pending = client.post_form("/token", None, &grant);
    assert_eq!(pending.status(), StatusCode::BAD_REQUEST);

    // The person: the code, its confirmation, then login and consent.
    let input = client.get("/device");
    let xsrf = hidden_input(&input, "xsrf");
    let confirm = client.post_form(
        "/device",
        None,
        &format!("xsrf={xsrf}&user_code={user_code}"),
    );
    let xsrf = hidden_input(&confirm, "xsrf");
    let confirmed = client.post_form(
        "/device",
        None,
        &format!("xsrf={xsrf}&user_code={user_code}&confirm=yes"),
    );
    let done = log_in_and_consent(&mut client, confirmed);
    assert_eq!(done.status(), StatusCode::OK);

    let tokens = client.post_form("/token", None, &grant);
    assert_eq!(tokens.status(), StatusCode::OK, "{:?}", tokens.body());
    let tokens: serde_json::Value = serde_json::from_slice(tokens.body()).unwrap();
    assert_eq!(tokens["scope"], "openid read");

    let (status, events) = proxy.stop();
    assert!(status.success());
    let expected = [
        "openid read calendar",
        "openid read",
        "calendar",
        "tv",
        "urn:ietf:params:oauth:grant-type:device_code",
        "device_authorization",
    ]
    .map(str::to_owned);
    assert_eq!(narrowings(&events), [expected], "{events:#?}");
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    assert_no_secret(&events, &[device_code, user_code, xsrf, access_token]);
}

/// Two proxies in front of one server, sharing a real `redis-server`: the
/// authorize request, login and consent go through one, the token request
/// through the other, and the narrowing is reported exactly once.
#[test]
fn a_fleet_sharing_redis_reports_a_narrowing_once() {
    let redis = redis_server::Redis::start_on(support::free_address());
    let server = OidcProvider::start();
    let runtime = support::runtime();
    let tap = Tap::start(&runtime, server.address);
    let config = format!(
        "{}\n[correlation]\nstore = \"redis\"\nredis_url = \"redis://{}\"\n\
         hash_key = \"a key of at least 32 characters for the fleet\"\n",
        CONFIG.replace("[correlation]\nstore = \"memory\"\n", ""),
        redis.address
    );
    let one = Proxy::start(tap.address, &config);
    let other = Proxy::start(tap.address, &config);
    let mut client = Client::new(runtime, &one, &tap);
    let code = code_for(&mut client, &authorize("openid+read+calendar", ""));
    // Give the first proxy's queue to Redis a moment, as a person's
    // consent would.
    std::thread::sleep(std::time::Duration::from_millis(200));
    client.through(&other);
    let tokens = tokens_for(&mut client, &code, "");
    assert_eq!(tokens["scope"], "openid read");
    std::thread::sleep(std::time::Duration::from_millis(300));

    let mut narrowed = Vec::new();
    for proxy in [one, other] {
        let (status, events) = proxy.stop();
        assert!(status.success());
        assert_eq!(rejections(&events), [], "{events:#?}");
        assert_no_secret(&events, &[STATE.to_owned(), code.clone()]);
        narrowed.push(narrowings(&events));
    }
    let expected = [
        "openid read calendar",
        "openid read",
        "calendar",
        "wizard",
        "authorization_code",
        "authorize",
    ]
    .map(str::to_owned);
    assert_eq!(
        narrowed,
        [vec![], vec![expected]],
        "reported by the proxy that saw the token answer, once"
    );
}

#[test]
fn a_whole_code_flow_reaches_the_client_as_the_server_wrote_it() {
    let (_server, tap, proxy, runtime) = behind_the_proxy();
    let mut client = Client::new(runtime, &proxy, &tap);

    let discovery = client.get("/.well-known/openid-configuration");
    assert_eq!(discovery.status(), StatusCode::OK);
    assert_eq!(client.get("/jwks").status(), StatusCode::OK);

    let (code, tokens) = code_flow(&mut client, &authorize("openid+read", ""), "");
    assert_eq!(tokens["scope"], "openid read");

    let (status, events) = proxy.stop();
    assert!(status.success());
    assert_eq!(rejections(&events), [], "{events:#?}");
    let mut secrets = vec![
        STATE.to_owned(),
        WIZARD_SECRET.to_owned(),
        code,
        tokens["access_token"].as_str().unwrap().to_owned(),
        tokens["id_token"].as_str().unwrap().to_owned(),
    ];
    secrets.extend(
        client
            .cookies
            .0
            .values()
            .filter(|value| value.len() > 8)
            .cloned(),
    );
    assert_no_secret(&events, &secrets);
}

/// One reading of each parameter, checked against what node-oidc-provider
/// really does (recorded 2026-12-05 with curl, the locked version):
///
/// | request | answer |
/// | --- | --- |
/// | `/auth?…&scope=openid+read&scope=openid+admin` | 303, `error=invalid_request`, "'scope' parameter must not be provided twice" |
/// | `/token` client_credentials, `scope=read&scope=admin` | 400 `invalid_request`, the same words |
/// | `/token?scope=read`, body `scope=admin` | 400 `invalid_scope`, `"scope":"admin"`: the query of a POST is ignored |
/// | Basic `robot`, body `client_id=wizard` | 400 `invalid_request`, "client_id mismatch" |
///
/// So the layer reads a POSTed token request from its body alone, as the
/// server does: the one rejection is reported with `admin`, unflagged.
#[test]
fn a_posted_token_request_is_read_from_its_body_alone_as_the_server_reads_it() {
    let (_server, tap, proxy, runtime) = behind_the_proxy();
    let mut client = Client::new(runtime, &proxy, &tap);
    let repeated = client.get(&authorize("openid+read&scope=openid+admin", ""));
    assert_eq!(repeated.status(), StatusCode::SEE_OTHER);
    assert!(location(&repeated).starts_with("https://client.example/cb?error=invalid_request&"));
    let robot = || Some(basic("robot", ROBOT_SECRET));
    let twice = client.post_form(
        "/token",
        robot(),
        "grant_type=client_credentials&scope=read&scope=admin",
    );
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    assert!(twice.body().starts_with(br#"{"error":"invalid_request""#));
    let query = client.post_form(
        "/token?scope=read",
        robot(),
        "grant_type=client_credentials&scope=admin",
    );
    assert_eq!(query.status(), StatusCode::BAD_REQUEST);
    assert!(query.body().starts_with(br#"{"error":"invalid_scope""#));
    let two_clients = client.post_form(
        "/token",
        robot(),
        "grant_type=client_credentials&client_id=wizard&scope=read",
    );
    assert_eq!(two_clients.status(), StatusCode::BAD_REQUEST);
    assert!(two_clients
        .body()
        .starts_with(br#"{"error":"invalid_request""#));
    let (status, events) = proxy.stop();
    assert!(status.success());
    assert_eq!(
        support::report_rows(&events, &["client_id", "requested_scopes", "ambiguous"]),
        [support::row(&[
            "oauth.token.invalid_scope",
            "robot",
            "admin",
            "false"
        ])],
        "{events:#?}"
    );
}

const PARTNER_SECRET: &str = "partner-s3cret-never-logged";

fn authorize_as(client_id: &str, redirect_uri: &str, scope: &str, extra: &str) -> String {
    format!(
        "/auth?response_type=code&client_id={client_id}&redirect_uri={redirect_uri}\
         &scope={scope}&state={STATE}{extra}"
    )
}

/// A request sent by someone else than the client's user: no cookies.
fn from_elsewhere(client: &mut Client, path: &str) -> Response<Bytes> {
    let saved = std::mem::take(&mut client.cookies.0);
    let answer = client.get(path);
    client.cookies.0 = saved;
    answer
}

/// An attacker forges an authorize request in `partner`'s name with a
/// `state`, then runs a real flow of their own as `wizard` with the same
/// `state`: the server accepts both (its answers are 303s to a login), and
/// no event ever names `partner` with the scopes the attacker chose. The
/// `state` the resume request echoes is claimed by two clients, so it leads
/// nowhere, and the attacker's own flow is not reported either.
#[test]
fn a_forged_authorization_in_another_clients_name_is_never_reported() {
    let (_server, tap, proxy, runtime) = behind_the_proxy();
    let mut client = Client::new(runtime, &proxy, &tap);
    let forged = from_elsewhere(
        &mut client,
        &authorize_as(
            "partner",
            "https%3A%2F%2Fpartner.example%2Fcb",
            "openid+read+calendar",
            "",
        ),
    );
    assert_eq!(
        forged.status(),
        StatusCode::SEE_OTHER,
        "accepted: to a login"
    );
    let (code, tokens) = code_flow(&mut client, &authorize("openid+read+calendar", ""), "");
    assert_eq!(tokens["scope"], "openid read");
    let (status, events) = proxy.stop();
    assert!(status.success());
    assert_eq!(
        narrowings(&events),
        Vec::<[String; 6]>::new(),
        "{events:#?}"
    );
    assert!(
        !serde_json::to_string(&events).unwrap().contains("partner"),
        "{events:#?}"
    );
    assert_no_secret(&events, &[code, STATE.to_owned()]);
}

/// `partner` runs a real flow with PKCE; meanwhile an attacker who saw its
/// `state` sends an authorize request of their own with it, as another
/// client: the victim's own links are untouched, so its narrowing is still
/// reported, with its scopes and its name.
#[test]
fn a_suppression_attempt_from_another_client_leaves_a_pkce_victims_report() {
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let (_server, tap, proxy, runtime) = behind_the_proxy();
    let mut client = Client::new(runtime, &proxy, &tap);
    let start = client.get(&authorize_as(
        "partner",
        "https%3A%2F%2Fpartner.example%2Fcb",
        "openid+read+calendar",
        &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"),
    ));
    // The attacker, elsewhere, with the victim's `state`.
    let attack = from_elsewhere(&mut client, &authorize("openid+read+write", ""));
    assert_eq!(attack.status(), StatusCode::SEE_OTHER);
    let answer = log_in_and_consent(&mut client, start);
    let redirect = location(&answer);
    assert!(
        redirect.starts_with("https://partner.example/cb?code="),
        "{redirect}"
    );
    let code = support::code_of(&redirect);
    let tokens = client.post_form(
        "/token",
        Some(basic("partner", PARTNER_SECRET)),
        &format!(
            "grant_type=authorization_code&code={code}\
             &redirect_uri=https%3A%2F%2Fpartner.example%2Fcb&code_verifier={VERIFIER}"
        ),
    );
    assert_eq!(tokens.status(), StatusCode::OK, "{:?}", tokens.body());
    let (status, events) = proxy.stop();
    assert!(status.success());
    assert_eq!(
        narrowings(&events),
        [[
            "openid read calendar",
            "openid read",
            "calendar",
            "partner",
            "authorization_code",
            "authorize"
        ]
        .map(str::to_owned)],
        "{events:#?}"
    );
    assert_no_secret(
        &events,
        &[
            code,
            STATE.to_owned(),
            VERIFIER.to_owned(),
            PARTNER_SECRET.to_owned(),
        ],
    );
}
