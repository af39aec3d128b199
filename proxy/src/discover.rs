//! `known_scopes = "discover"`: the upstream's own word for the scopes it
//! knows, `scopes_supported` of its discovery document (OpenID Connect
//! Discovery 1.0 §3, RFC 8414 §2), read at start and every interval.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use invalid_scope_observer::KnownScopes;
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

/// The one member read; every other is skipped uncopied.
#[derive(Deserialize)]
struct Document {
    scopes_supported: Option<Vec<String>>,
}

/// Reads the document now, then every `interval`, putting what it finds in
/// `known`. A failure keeps the last list in force and is logged once,
/// until a read succeeds again.
pub(crate) async fn keep_current(
    upstream: Uri,
    tls: rustls::ClientConfig,
    known: KnownScopes,
    interval: Duration,
) {
    let client: Client<_, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(upstream_connector(tls));
    let mut failing = false;
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        match read_scopes(&client, &upstream).await {
            Ok((scopes, path)) => {
                if failing || known.get().is_none() {
                    tracing::info!(
                        scopes = scopes.len(),
                        document = path,
                        "invalid_scope_proxy.known_scopes_discovered"
                    );
                }
                failing = false;
                known.replace(scopes);
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

/// `scopes_supported` of the first document that has it.
async fn read_scopes<C>(
    client: &Client<C, Empty<Bytes>>,
    upstream: &Uri,
) -> Result<(Vec<String>, &'static str), String>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let mut last_error = String::new();
    for path in WELL_KNOWN {
        match tokio::time::timeout(READ_TIMEOUT, read_document(client, upstream, path)).await {
            Ok(Ok(Some(scopes))) => return Ok((scopes, path)),
            Ok(Ok(None)) => last_error = format!("{path} has no scopes_supported"),
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
) -> Result<Option<Vec<String>>, String>
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
    let document: Document = serde_json::from_slice(&body)
        .map_err(|error| format!("not a discovery document: {error}"))?;
    Ok(document.scopes_supported)
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
    }
}
