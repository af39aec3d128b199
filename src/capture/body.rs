//! [`BodyCapture`]: what the layer keeps of a form or JSON request's body
//! as the inner service reads it, and the parameters a report reads from it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Buf;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Method, Request};

use super::bounded_bytes::BoundedBytes;
use super::json::JsonRequest;
#[cfg(feature = "follow")]
use super::parameters::LinkParameters;
use super::parameters::RequestParameters;
use crate::detect::{body_format, BodyFormat};

/// What the layer keeps of a form or JSON request: the first bytes of its
/// body, shared between the body the inner service reads and the response
/// path that reports, and its `Authorization` header (for HTTP Basic client
/// credentials). One allocation per such request; none for other requests.
#[derive(Clone, Debug)]
pub(crate) struct BodyCapture(Arc<BodyRequest>);

#[derive(Debug)]
struct BodyRequest {
    format: BodyFormat,
    seen: Mutex<SeenForm>,
    authorization: Option<HeaderValue>,
}

#[derive(Debug)]
struct SeenForm {
    bytes: BoundedBytes,
    ended: bool,
}

impl BodyCapture {
    /// A capture for `request` if it is a form or JSON: an
    /// `application/x-www-form-urlencoded`, `application/json` or
    /// `application/*+json` body on a method other than GET and HEAD (whose
    /// bodies have no defined meaning, RFC 9110 §9.3.1; skipping them spares
    /// most requests a header lookup).
    pub(crate) fn of<B>(request: &Request<B>, limit: usize) -> Option<Self> {
        if matches!(*request.method(), Method::GET | Method::HEAD) {
            return None;
        }
        let format = body_format(request.headers())?;
        // Kept only to read a client id from; never shown by `Debug`.
        let authorization = request.headers().get(AUTHORIZATION).map(|value| {
            let mut value = value.clone();
            value.set_sensitive(true);
            value
        });
        Some(Self::new(format, limit, authorization))
    }

    fn new(format: BodyFormat, limit: usize, authorization: Option<HeaderValue>) -> Self {
        Self(Arc::new(BodyRequest {
            format,
            seen: Mutex::new(SeenForm {
                bytes: BoundedBytes::new(limit),
                ended: false,
            }),
            authorization,
        }))
    }

    fn seen(&self) -> MutexGuard<'_, SeenForm> {
        // Nothing panics while holding the lock; if something ever did, the
        // bytes are still a valid prefix.
        self.0.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn record(&self, data: &impl Buf) {
        self.seen().bytes.record(data);
    }

    pub(crate) fn end(&self) {
        self.seen().ended = true;
    }

    /// The parameters of the body as far as the inner service read it, then
    /// those of `fallback` (the query), then (`client_id` only) of HTTP
    /// Basic client credentials.
    ///
    /// Unless the whole form was seen, only complete `name=value` pairs
    /// count (those followed by `&`), so that a value cut by the limit or by
    /// a body read halfway is never reported as if it were whole. A JSON
    /// body counts only when all of it was seen.
    pub(crate) fn parameters_then(&self, fallback: RequestParameters) -> RequestParameters {
        let own = match self.0.format {
            BodyFormat::Form => self.read_complete(RequestParameters::from_form),
            BodyFormat::Json => self
                .read_json()
                .map(|json| json.parameters())
                .unwrap_or_default(),
        };
        let known = own.or(fallback);
        match &self.0.authorization {
            Some(authorization) => {
                known.with_basic(RequestParameters::from_basic_credentials(authorization))
            }
            None => known,
        }
    }
}

impl BodyCapture {
    /// The link parameters of the body, then those of `fallback`.
    #[cfg(feature = "follow")]
    pub(crate) fn link_parameters_then(&self, fallback: LinkParameters) -> LinkParameters {
        let own = match self.0.format {
            BodyFormat::Form => self.read_complete(LinkParameters::from_urlencoded),
            BodyFormat::Json => self
                .read_json()
                .map(|json| json.link_parameters())
                .unwrap_or_default(),
        };
        own.or(fallback)
    }

    /// Whether the form asks for `response_mode=form_post`: a byte search
    /// over what was seen (a JSON body never does).
    pub(crate) fn form_contains(&self, finder: &memchr::memmem::Finder<'_>) -> bool {
        self.0.format == BodyFormat::Form
            && self.read_complete(|bytes| finder.find(bytes).is_some())
    }

    /// The client id of the request's HTTP Basic credentials, if any.
    #[cfg(feature = "follow")]
    pub(crate) fn basic_client_id(&self) -> Option<String> {
        let authorization = self.0.authorization.as_ref()?;
        RequestParameters::from_basic_credentials(authorization).client_id
    }

    /// The JSON body, when all of it was seen within the limit.
    fn read_json(&self) -> Option<JsonRequest> {
        let seen = self.seen();
        (seen.ended && !seen.bytes.overflowed())
            .then(|| JsonRequest::read(seen.bytes.as_slice()))
            .flatten()
    }

    /// Reads the complete `name=value` pairs seen so far (see
    /// [`parameters_then`](Self::parameters_then)).
    fn read_complete<T>(&self, read: impl FnOnce(&[u8]) -> T) -> T {
        let seen = self.seen();
        let bytes = seen.bytes.as_slice();
        let complete = if seen.ended && !seen.bytes.overflowed() {
            bytes
        } else {
            memchr::memrchr(b'&', bytes).map_or(&[][..], |end| &bytes[..end])
        };
        read(complete)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::scope::ScopeSet;

    fn capture(chunks: &[&'static [u8]], ended: bool, limit: usize) -> RequestParameters {
        captured(BodyFormat::Form, chunks, ended, limit)
    }

    fn captured(
        format: BodyFormat,
        chunks: &[&'static [u8]],
        ended: bool,
        limit: usize,
    ) -> RequestParameters {
        let form = BodyCapture::new(format, limit, None);
        for chunk in chunks {
            form.record(&Bytes::from_static(chunk));
        }
        if ended {
            form.end();
        }
        form.parameters_then(RequestParameters::default())
    }

    #[test]
    fn chunks_are_joined_before_decoding() {
        let parameters = capture(&[b"scope=a%2", b"0b&client_", b"id=c"], true, 1024);
        assert_eq!(parameters.scope.unwrap().to_string(), "a b");
        assert_eq!(parameters.client_id.as_deref(), Some("c"));
    }

    #[test]
    fn an_unfinished_body_counts_only_complete_pairs() {
        let parameters = capture(&[b"client_id=c&scope=a+b"], false, 1024);
        assert_eq!(parameters.client_id.as_deref(), Some("c"));
        assert_eq!(parameters.scope, None);
    }

    #[test]
    fn a_body_past_the_limit_counts_only_complete_pairs() {
        let parameters = capture(&[b"client_id=c&scope=a+bcdefgh"], true, 20);
        assert_eq!(parameters.client_id.as_deref(), Some("c"));
        assert_eq!(parameters.scope, None);
    }

    #[test]
    fn a_json_body_counts_only_whole() {
        let body: &[&'static [u8]] = &[b"{\"scope\":\"a b\",", b"\"client_id\":\"c\"}"];
        let whole = captured(BodyFormat::Json, body, true, 1024);
        assert_eq!(whole.scope, Some(ScopeSet::parse("a b")));
        assert_eq!(whole.client_id.as_deref(), Some("c"));
        assert_eq!(
            captured(BodyFormat::Json, body, false, 1024),
            RequestParameters::default(),
            "not ended"
        );
        assert_eq!(
            captured(BodyFormat::Json, body, true, 20),
            RequestParameters::default(),
            "past the limit"
        );
    }

    #[test]
    fn nothing_read_is_nothing_known() {
        assert_eq!(capture(&[], false, 1024), RequestParameters::default());
    }
}
