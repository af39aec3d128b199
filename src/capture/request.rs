//! What the layer keeps of a request until its response is known.

use std::borrow::Cow;
#[cfg(feature = "bodies")]
use std::sync::LazyLock;

use http::header::USER_AGENT;
use http::uri::PathAndQuery;
#[cfg(feature = "bodies")]
use http::Method;
use http::{HeaderValue, Request};
#[cfg(feature = "bodies")]
use memchr::memmem::Finder;

#[cfg(feature = "bodies")]
use super::body::BodyCapture;
#[cfg(feature = "follow")]
use super::parameters::LinkParameters;
use super::parameters::RequestParameters;
use crate::report::cut_to_chars;

/// The parts of a request the rejection path may need, taken cheaply: the
/// path and query only when there is a query, and the `User-Agent` header.
/// Both are reference-counted clones, so a request whose bytes are shared (as
/// hyper builds them) costs two reference-count bumps and no allocation.
///
/// When the layer reads bodies, a form request also keeps what the inner
/// service reads of its body, and its `Authorization` header (for a client
/// that authenticates with HTTP Basic), behind one pointer, so the future of
/// every other request stays small.
#[derive(Debug)]
pub(crate) struct CapturedRequest {
    path_and_query: Option<PathAndQuery>,
    user_agent: Option<HeaderValue>,
    /// A GET or HEAD: its JSON answers are never read (set with the body).
    #[cfg(feature = "bodies")]
    is_read: bool,
    #[cfg(feature = "bodies")]
    form: Option<BodyCapture>,
}

impl CapturedRequest {
    #[inline]
    pub(crate) fn capture<B>(request: &Request<B>) -> Self {
        let uri = request.uri();
        Self {
            path_and_query: uri.query().and_then(|_| uri.path_and_query().cloned()),
            user_agent: request.headers().get(USER_AGENT).cloned(),
            #[cfg(feature = "bodies")]
            is_read: false,
            #[cfg(feature = "bodies")]
            form: None,
        }
    }

    /// Also keeps what is read of the request's form or JSON body, if it
    /// has one, and whether the request is a GET or HEAD (asked only when
    /// the layer reads bodies: only then can a JSON answer be read).
    #[cfg(feature = "bodies")]
    pub(crate) fn with_body<B>(mut self, request: &Request<B>, body: Option<BodyCapture>) -> Self {
        self.is_read = matches!(*request.method(), Method::GET | Method::HEAD);
        self.form = body;
        // A followed device authorization request has no query, and its
        // path decides whether it is kept.
        if self.path_and_query.is_none() {
            self.path_and_query = request.uri().path_and_query().cloned();
        }
        self
    }

    /// The request's path, when the layer kept it (a request with a query,
    /// or any request of a layer that reads bodies).
    #[cfg(feature = "follow")]
    pub(crate) fn path(&self) -> Option<&str> {
        self.path_and_query.as_ref().map(PathAndQuery::path)
    }

    /// Whether the request had a form or JSON body the layer kept.
    #[cfg(feature = "bodies")]
    pub(crate) fn has_body(&self) -> bool {
        self.form.is_some()
    }

    /// Whether the request is a GET or HEAD.
    #[cfg(feature = "bodies")]
    pub(crate) fn is_read(&self) -> bool {
        self.is_read
    }

    /// Whether the request is an authorization request (or its consent
    /// step): it carries `response_type` in its query, or `allow` in its
    /// body. (A body's `response_type` alone does not count: a pushed
    /// authorization request carries one.) Its rejections are `oauth.authorize.invalid_scope`,
    /// however they come back.
    #[cfg(feature = "bodies")]
    pub(crate) fn asks_for_authorization(&self) -> bool {
        self.parameters().asks_for_authorization
    }

    /// `scope`, `client_id` and `grant_type`, each from the form or JSON
    /// body if it has it, else from the query, else (`client_id`) from HTTP Basic
    /// client credentials. The body wins as servers read a POST: a consent
    /// form posts back to the URL of the page, query and all, and the server
    /// judges the scopes in the body (oauthlib, under django-oauth-toolkit,
    /// lets body parameters override the query's).
    pub(crate) fn parameters(&self) -> RequestParameters {
        let query = self.path_and_query.as_ref().and_then(PathAndQuery::query);
        let from_query = || query.map(RequestParameters::from_query).unwrap_or_default();
        #[cfg(feature = "bodies")]
        if let Some(form) = &self.form {
            return form.parameters_then(from_query());
        }
        from_query()
    }

    /// Whether the request asked for `response_mode=form_post`, in its
    /// query or its form: a byte search, as no other parameter holds these
    /// bytes.
    #[cfg(feature = "bodies")]
    pub(crate) fn asks_for_form_post(&self) -> bool {
        // Built once: building a searcher costs more than most searches.
        static ASKED: LazyLock<Finder<'static>> =
            LazyLock::new(|| Finder::new(b"response_mode=form_post"));
        let in_query = self
            .path_and_query
            .as_ref()
            .and_then(PathAndQuery::query)
            .is_some_and(|query| ASKED.find(query.as_bytes()).is_some());
        in_query
            || self
                .form
                .as_ref()
                .is_some_and(|form| form.form_contains(&ASKED))
    }

    /// The parameters that link the legs of one authorization, from the
    /// form body if it has them, else from the query.
    #[cfg(feature = "follow")]
    pub(crate) fn link_parameters(&self) -> LinkParameters {
        let query = self.path_and_query.as_ref().and_then(PathAndQuery::query);
        let from_query = || {
            query
                .map(|query| LinkParameters::from_urlencoded(query.as_bytes()))
                .unwrap_or_default()
        };
        match &self.form {
            Some(form) => form.link_parameters_then(from_query()),
            None => from_query(),
        }
    }

    /// The link parameters of a token request: from its body alone when it
    /// has one the layer kept (a server reads a POSTed token request's
    /// body, and `POST /token?code_verifier=…` must not redeem what the
    /// server never used), else from its query.
    #[cfg(feature = "follow")]
    pub(crate) fn token_link_parameters(&self) -> LinkParameters {
        match &self.form {
            Some(form) => form.link_parameters_then(LinkParameters::default()),
            None => self.link_parameters(),
        }
    }

    /// The client a token request authenticates as, as the server reads it:
    /// HTTP Basic's, or the body's `client_id`; `None` when it names none,
    /// or when the two disagree (there is no telling which one the server
    /// believes).
    #[cfg(feature = "follow")]
    pub(crate) fn token_client_id(&self) -> Option<String> {
        let from_body = self.token_link_parameters().client_id;
        let from_basic = self.form.as_ref().and_then(BodyCapture::basic_client_id);
        match (from_body, from_basic) {
            (Some(body), Some(basic)) if body != basic => None,
            (body, basic) => basic.or(body),
        }
    }

    /// The `User-Agent` as lossy UTF-8, cut to at most `limit` characters on
    /// a character boundary, and whether it was cut; `""` when there is none.
    pub(crate) fn user_agent(&self, limit: usize) -> (String, bool) {
        // No user agent, or none wanted (a limit of 0 is a privacy
        // setting, not a cut).
        let Some(user_agent) = self.user_agent.as_ref().filter(|_| limit > 0) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_is_cut_on_a_character_boundary() {
        let agent = "é".repeat(300);
        let request = Request::builder()
            .header(USER_AGENT, agent.as_str())
            .body(())
            .unwrap();
        let captured = CapturedRequest::capture(&request);
        assert_eq!(captured.user_agent(200), ("é".repeat(200), true));
        assert_eq!(
            captured.user_agent(0),
            (String::new(), false),
            "left out, not cut"
        );
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
        assert_eq!(captured.parameters(), RequestParameters::default());
    }
}
