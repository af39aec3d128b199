//! [`FormCapture`]: what the layer keeps of a form request's body as the
//! inner service reads it, and the parameters a report reads from it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Buf;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Method, Request};

use super::bounded_bytes::BoundedBytes;
use super::parameters::RequestParameters;
use crate::detect::has_media_type;

/// What the layer keeps of a form request: the first bytes of its body,
/// shared between the body the inner service reads and the response path
/// that reports, and its `Authorization` header (for HTTP Basic client
/// credentials). One allocation per form request; none for other requests.
#[derive(Clone, Debug)]
pub(crate) struct FormCapture(Arc<FormRequest>);

#[derive(Debug)]
struct FormRequest {
    seen: Mutex<SeenForm>,
    authorization: Option<HeaderValue>,
}

#[derive(Debug)]
struct SeenForm {
    bytes: BoundedBytes,
    ended: bool,
}

impl FormCapture {
    /// A capture for `request` if it is a form: an
    /// `application/x-www-form-urlencoded` body on a method other than GET
    /// and HEAD (whose bodies have no defined meaning, RFC 9110 §9.3.1;
    /// skipping them spares most requests a header lookup).
    pub(crate) fn of<B>(request: &Request<B>, limit: usize) -> Option<Self> {
        if matches!(*request.method(), Method::GET | Method::HEAD)
            || !has_media_type(request.headers(), "application/x-www-form-urlencoded")
        {
            return None;
        }
        // Kept only to read a client id from; never shown by `Debug`.
        let authorization = request.headers().get(AUTHORIZATION).map(|value| {
            let mut value = value.clone();
            value.set_sensitive(true);
            value
        });
        Some(Self::new(limit, authorization))
    }

    fn new(limit: usize, authorization: Option<HeaderValue>) -> Self {
        Self(Arc::new(FormRequest {
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

    /// The parameters of the form as far as the inner service read it, then
    /// those of `fallback` (the query), then (`client_id` only) of HTTP
    /// Basic client credentials.
    ///
    /// Unless the whole body was seen, only complete `name=value` pairs
    /// count (those followed by `&`), so that a value cut by the limit or by
    /// a body read halfway is never reported as if it were whole.
    pub(crate) fn parameters_then(&self, fallback: RequestParameters) -> RequestParameters {
        let known = self
            .read_complete(RequestParameters::from_form)
            .or(fallback);
        match &self.0.authorization {
            Some(authorization) => {
                known.or(RequestParameters::from_basic_credentials(authorization))
            }
            None => known,
        }
    }
}

impl FormCapture {
    /// Reads the complete `name=value` pairs seen so far (see
    /// [`parameters_then`](Self::parameters_then)).
    pub(crate) fn read_complete<T>(&self, read: impl FnOnce(&[u8]) -> T) -> T {
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

    fn capture(chunks: &[&'static [u8]], ended: bool, limit: usize) -> RequestParameters {
        let form = FormCapture::new(limit, None);
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
    fn nothing_read_is_nothing_known() {
        assert_eq!(capture(&[], false, 1024), RequestParameters::default());
    }
}
