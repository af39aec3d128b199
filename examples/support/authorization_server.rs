//! A stand-in authorization endpoint for the load examples: it redirects
//! with a code, or with `error=invalid_scope` when the request asks for the
//! scope `admin`, and serves hyper connections on a listener until aborted.

use std::convert::Infallible;

use bytes::Bytes;
use http::header::LOCATION;
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use invalid_scope_observer::ScopeSet;
use tokio::net::TcpListener;

pub(crate) async fn authorize(
    request: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let query = request.uri().query().unwrap_or("");
    let requested = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "scope")
        .map(|(_, scope)| ScopeSet::parse(&scope))
        .unwrap_or_default();
    let location = if requested.contains("admin") {
        "https://client.example/cb?error=invalid_scope&state=s"
    } else {
        "https://client.example/cb?code=c&state=s"
    };
    Ok(Response::builder()
        .status(StatusCode::FOUND)
        .header(LOCATION, location)
        .body(Empty::new())
        .expect("a valid response"))
}

/// Serves `service` on every connection `listener` accepts.
pub(crate) async fn serve<S>(listener: TcpListener, service: S)
where
    S: tower::Service<Request<Incoming>, Response = Response<Empty<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service),
        );
    }
}
