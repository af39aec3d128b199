//! `known_scopes = "discover"`: the upstream's own word for the scopes it
//! knows, `scopes_supported` of its discovery document (OpenID Connect
//! Discovery 1.0 §3, RFC 8414 §2), read at start and every interval; and
//! with it, unless configured, the paths of its authorization endpoints,
//! the only ones whose answers keep an authorization to follow.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use invalid_scope_observer::{AuthorizePaths, KnownScopes};
use serde::Deserialize;

use crate::forward::upstream_connector;

/// Where a discovery document may stand, tried in this order.
const WELL_KNOWN: [&str; 2] = [
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
];

/// The most bytes of a discovery document read (real ones are a few KiB).
const DOCUMENT_LIMIT: usize = 256 * 1024;

/// How long one read of a document may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The members read; every other is skipped uncopied.
#[derive(Debug, Default, Deserialize)]
struct Document {
    scopes_supported: Option<Vec<String>>,
    authorization_endpoint: Option<String>,
    pushed_authorization_request_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
}

impl Document {
    /// The paths of the endpoints where an authorization starts (the
    /// endpoints are absolute URLs; only their paths are compared).
    fn authorize_paths(&self) -> Vec<String> {
        [
            &self.authorization_endpoint,
            &self.pushed_authorization_request_endpoint,
            &self.device_authorization_endpoint,
        ]
        .into_iter()
        .flatten()
        .filter_map(|endpoint| endpoint.parse::<Uri>().ok())
        .map(|uri| uri.path().to_string())
        .collect()
    }
}

/// Reads the document now, then every `interval`, putting what it finds in
/// `known` and, when given, the endpoints' paths in `paths`. A failure
/// keeps the last lists in force and is logged once, until a read
/// succeeds again.
pub(crate) async fn keep_current(
    upstream: Uri,
    tls: rustls::ClientConfig,
    known: KnownScopes,
    paths: Option<AuthorizePaths>,
    interval: Duration,
) {
    let client: Client<_, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(upstream_connector(tls));
    let mut failing = false;
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        match read_scopes(&client, &upstream).await {
            Ok((document, path)) => {
                let endpoints = document.authorize_paths();
                if failing || known.get().is_none() {
                    tracing::info!(
                        scopes = document.scopes_supported.as_ref().map_or(0, Vec::len),
                        authorize_paths = ?endpoints,
                        document = path,
                        "invalid_scope_proxy.known_scopes_discovered"
                    );
                }
                failing = false;
                if let (Some(paths), false) = (&paths, endpoints.is_empty()) {
                    paths.replace(endpoints);
                }
                known.replace(document.scopes_supported.unwrap_or_default());
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(
                        %error,
                        kept = known.get().map_or(0, |scopes| scopes.len()),
                        "invalid_scope_proxy.discovery_failed"
                    );
                }
                failing = true;
            }
        }
    }
}

/// The first document that has `scopes_supported`.
async fn read_scopes<C>(
    client: &Client<C, Empty<Bytes>>,
    upstream: &Uri,
) -> Result<(Document, &'static str), String>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let mut last_error = String::new();
    for path in WELL_KNOWN {
        match tokio::time::timeout(READ_TIMEOUT, read_document(client, upstream, path)).await {
            Ok(Ok(document)) if document.scopes_supported.is_some() => return Ok((document, path)),
            Ok(Ok(_)) => last_error = format!("{path} has no scopes_supported"),
            Ok(Err(error)) => last_error = format!("{path}: {error}"),
            Err(_) => last_error = format!("{path}: no answer within {READ_TIMEOUT:?}"),
        }
    }
    Err(last_error)
}

async fn read_document<C>(
    client: &Client<C, Empty<Bytes>>,
    upstream: &Uri,
    path: &str,
) -> Result<Document, String>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let uri = document_uri(upstream, path)?;
    let request = Request::get(uri)
        .header(http::header::ACCEPT, "application/json")
        .body(Empty::new())
        .map_err(|error| error.to_string())?;
    let response = client
        .request(request)
        .await
        .map_err(|error| error.to_string())?;
    if response.status() != StatusCode::OK {
        return Err(format!("status {}", response.status().as_u16()));
    }
    let body = Limited::new(response.into_body(), DOCUMENT_LIMIT)
        .collect()
        .await
        .map_err(|error| error.to_string())?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|error| format!("not a discovery document: {error}"))
}

/// The document's address at the upstream's scheme and authority.
fn document_uri(upstream: &Uri, path: &str) -> Result<Uri, String> {
    let mut parts = upstream.clone().into_parts();
    parts.path_and_query = Some(path.parse().map_err(|_| "bad path".to_string())?);
    Uri::from_parts(parts).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_stands_at_the_upstreams_root() {
        let upstream: Uri = "http://127.0.0.1:8000".parse().unwrap();
        assert_eq!(
            document_uri(&upstream, WELL_KNOWN[0]).unwrap(),
            "http://127.0.0.1:8000/.well-known/openid-configuration"
        );
        let https: Uri = "https://as.example/prefix/".parse().unwrap();
        assert_eq!(
            document_uri(&https, WELL_KNOWN[1]).unwrap(),
            "https://as.example/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn only_scopes_supported_is_read() {
        let document: Document = serde_json::from_slice(
            br#"{"issuer":"x","scopes_supported":["openid","read"],"jwks":{"keys":[]}}"#,
        )
        .unwrap();
        assert_eq!(document.scopes_supported.unwrap(), ["openid", "read"]);
        let none: Document = serde_json::from_slice(br#"{"issuer":"x"}"#).unwrap();
        assert!(none.scopes_supported.is_none());
        assert!(none.authorize_paths().is_empty());
    }

    #[test]
    fn the_authorization_endpoints_give_their_paths() {
        let document: Document = serde_json::from_slice(
            br#"{"authorization_endpoint":"https://as.example/o/authorize/",
                 "token_endpoint":"https://as.example/o/token/",
                 "pushed_authorization_request_endpoint":"https://as.example/o/par",
                 "device_authorization_endpoint":"not a url at all",
                 "scopes_supported":[]}"#,
        )
        .unwrap();
        assert_eq!(document.authorize_paths(), ["/o/authorize/", "/o/par"]);
    }
}
