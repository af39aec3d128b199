//! One authorization-code flow as scripted legs: the requests a client
//! sends and the answers a server gives, for the tests that follow
//! authorizations.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION, USER_AGENT};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use invalid_scope_observer::body::RequestBody;
use tower::{Service, ServiceExt};

/// RFC 7636, Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const CODE: &str = "SplxlOBeZQQYbYS6WxSbIA";
pub const STATE: &str = "af0ifjsldkj";

/// One leg of a flow: the request the client sends and the answer the
/// server gives it.
pub struct Leg(pub Request<Full<Bytes>>, pub Response<Full<Bytes>>);

pub fn authorize(query: &str) -> Request<Full<Bytes>> {
    Request::get(format!(
        "/authorize?response_type=code&client_id=wizard&{query}"
    ))
    .header(USER_AGENT, "browser/1.0")
    .body(Full::default())
    .unwrap()
}

/// The login page a server answers an authorize request with before the
/// code comes, to a later request.
pub fn login_page() -> Response<Full<Bytes>> {
    Response::builder()
        .header(CONTENT_TYPE, "text/html")
        .body(Full::new(Bytes::from_static(b"<form>login</form>")))
        .unwrap()
}

pub fn redirect(location: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(303)
        .header(LOCATION, location)
        .body(Full::default())
        .unwrap()
}

pub fn code_redirect(state: Option<&str>) -> Response<Full<Bytes>> {
    let state = state
        .map(|state| format!("&state={state}"))
        .unwrap_or_default();
    redirect(&format!("https://client.example/cb?code={CODE}{state}"))
}

pub fn resume() -> Request<Full<Bytes>> {
    Request::get("/auth/resume-uid")
        .header(USER_AGENT, "browser/1.0")
        .body(Full::default())
        .unwrap()
}

pub fn token(form: &str) -> Request<Full<Bytes>> {
    Request::post("/token")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(USER_AGENT, "backend/2.0")
        .body(Full::new(Bytes::from(format!(
            "grant_type=authorization_code&client_id=wizard&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&{form}"
        ))))
        .unwrap()
}

pub fn grant(scope: Option<&str>) -> Response<Full<Bytes>> {
    let scope = scope
        .map(|scope| format!(r#","scope":"{scope}""#))
        .unwrap_or_default();
    Response::builder()
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(format!(
            r#"{{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600{scope}}}"#
        ))))
        .unwrap()
}

/// The answer a leg's request is to get, carried in its extensions so that
/// any instance of the server gives it.
#[derive(Clone)]
struct Answer(Arc<Mutex<Option<Response<Full<Bytes>>>>>);

/// The server behind the layer: reads each request body whole, then gives
/// the answer its leg scripted.
#[allow(clippy::type_complexity)]
pub fn server() -> impl Service<
    Request<RequestBody<Full<Bytes>>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send,
> + Clone {
    tower::service_fn(|request: Request<RequestBody<Full<Bytes>>>| async move {
        let answer = request.extensions().get::<Answer>().cloned();
        request.into_body().collect().await.unwrap();
        let answer = answer.and_then(|answer| answer.0.lock().unwrap().take());
        Ok(answer.expect("every leg scripts its answer"))
    })
}

/// Sends one leg through `service` and reads its answer to the end.
pub async fn walk<S, B>(service: &mut S, Leg(mut request, answer): Leg)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    request
        .extensions_mut()
        .insert(Answer(Arc::new(Mutex::new(Some(answer)))));
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    response.into_body().collect().await.unwrap();
}

/// The authorize request for `read write` with [`STATE`], answered at once
/// with [`CODE`].
pub fn authorized_at_once() -> Leg {
    Leg(
        authorize(&format!("scope=read+write&state={STATE}")),
        code_redirect(Some(STATE)),
    )
}

/// A token request with `form` (after `grant_type=authorization_code`)
/// answered with a grant of `read`.
pub fn redeemed(form: &str) -> Leg {
    Leg(token(form), grant(Some("read")))
}
