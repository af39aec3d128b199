//! What the layer keeps of a request until its response is known.

use std::borrow::Cow;

use http::header::USER_AGENT;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request};

use crate::log_safe::cut_to_chars;
use crate::ScopeSet;

/// The parts of a request the rejection path may need, taken cheaply: the
/// path and query only when there is a query, and the `User-Agent` header.
/// Both are reference-counted clones, so a request whose bytes are shared (as
/// hyper builds them) costs two reference-count bumps and no allocation.
#[derive(Debug)]
pub(crate) struct CapturedRequest {
    path_and_query: Option<PathAndQuery>,
    user_agent: Option<HeaderValue>,
}

impl CapturedRequest {
    pub(crate) fn capture<B>(request: &Request<B>) -> Self {
        let uri = request.uri();
        Self {
            path_and_query: uri.query().and_then(|_| uri.path_and_query().cloned()),
            user_agent: request.headers().get(USER_AGENT).cloned(),
        }
    }

    /// The request's `scope` and `client_id` query parameters.
    pub(crate) fn authorize_parameters(&self) -> AuthorizeParameters {
        let query = self.path_and_query.as_ref().and_then(PathAndQuery::query);
        AuthorizeParameters::from_query(query.unwrap_or(""))
    }

    /// The `User-Agent` as lossy UTF-8, cut to at most `limit` characters on
    /// a character boundary, and whether it was cut; `""` when there is none.
    pub(crate) fn user_agent(&self, limit: usize) -> (String, bool) {
        let Some(user_agent) = &self.user_agent else {
            return (String::new(), false);
        };
        // A character takes at most four bytes, so the first `limit`
        // characters lie within the first `4 * limit` bytes: decode no more.
        let bytes = user_agent.as_bytes();
        let prefix = &bytes[..bytes.len().min(limit.saturating_mul(4))];
        let decoded = match std::str::from_utf8(prefix) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(prefix),
        };
        let (kept, cut) = cut_to_chars(&decoded, limit);
        (kept.to_string(), cut || prefix.len() < bytes.len())
    }
}

/// The parameters of an authorization request (RFC 6749 §4.1.1) that a
/// rejection report needs.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct AuthorizeParameters {
    pub(crate) scope: ScopeSet,
    pub(crate) client_id: String,
}

impl AuthorizeParameters {
    /// Reads `scope` and `client_id` from an `application/x-www-form-urlencoded`
    /// query. RFC 6749 §3.1 forbids repeating a parameter; when a peer does,
    /// the first occurrence counts.
    pub(crate) fn from_query(query: &str) -> Self {
        let mut scope = None;
        let mut client_id = None;
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "scope" if scope.is_none() => scope = Some(ScopeSet::parse(&value)),
                "client_id" if client_id.is_none() => client_id = Some(value.into_owned()),
                _ => {}
            }
            if scope.is_some() && client_id.is_some() {
                break;
            }
        }
        Self {
            scope: scope.unwrap_or_default(),
            client_id: client_id.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameters(query: &str) -> (String, String) {
        let parameters = AuthorizeParameters::from_query(query);
        (parameters.scope.to_string(), parameters.client_id)
    }

    #[test]
    fn plus_and_percent_twenty_are_spaces() {
        assert_eq!(parameters("scope=a+b&client_id=c").0, "a b");
        assert_eq!(parameters("scope=a%20b").0, "a b");
        assert_eq!(parameters("scope=a%2Bb").0, "a+b");
    }

    #[test]
    fn duplicates_and_empty_tokens_are_dropped_in_request_order() {
        assert_eq!(parameters("scope=c++a+c+b+a").0, "c a b");
    }

    #[test]
    fn missing_parameters_are_empty() {
        assert_eq!(parameters(""), (String::new(), String::new()));
        assert_eq!(
            parameters("response_type=code"),
            (String::new(), String::new())
        );
    }

    #[test]
    fn client_id_is_decoded_and_first_occurrence_wins() {
        assert_eq!(
            parameters("client_id=my%20app&scope=x&client_id=evil&scope=y"),
            ("x".to_string(), "my app".to_string())
        );
    }

    #[test]
    fn malformed_queries_never_panic() {
        for query in [
            "%",
            "scope=%",
            "scope=%zz",
            "=&=&",
            "scope",
            "scope=%FF%FE",
            "&&&",
        ] {
            let _ = AuthorizeParameters::from_query(query);
        }
        assert_eq!(parameters("scope=%FF").0, "\u{fffd}");
    }

    #[test]
    fn user_agent_is_cut_on_a_character_boundary() {
        let agent = "é".repeat(300);
        let request = Request::builder()
            .header(USER_AGENT, agent.as_str())
            .body(())
            .unwrap();
        let captured = CapturedRequest::capture(&request);
        assert_eq!(captured.user_agent(200), ("é".repeat(200), true));
        assert_eq!(captured.user_agent(0), (String::new(), true));
        assert_eq!(captured.user_agent(300), (agent.clone(), false));
        assert_eq!(captured.user_agent(usize::MAX), (agent, false));
    }

    #[test]
    fn non_utf8_user_agent_is_lossy() {
        let request = Request::builder()
            .header(USER_AGENT, HeaderValue::from_bytes(b"bot\xff/1").unwrap())
            .body(())
            .unwrap();
        assert_eq!(
            CapturedRequest::capture(&request).user_agent(200).0,
            "bot\u{fffd}/1"
        );
    }

    #[test]
    fn no_query_keeps_no_uri_and_no_header_means_empty() {
        let request = Request::builder().uri("/authorize").body(()).unwrap();
        let captured = CapturedRequest::capture(&request);
        assert!(captured.path_and_query.is_none());
        assert_eq!(captured.user_agent(200), (String::new(), false));
        assert_eq!(
            captured.authorize_parameters(),
            AuthorizeParameters::default()
        );
    }
}
