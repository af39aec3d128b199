//! Which bodies are worth a look, by their `Content-Type` and
//! `Content-Encoding`.

use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::HeaderMap;

/// Whether `headers` name `essence` (such as `application/json`) as the
/// content type, whatever the parameters (`; charset=utf-8`) or the case.
pub(crate) fn has_media_type(headers: &HeaderMap, essence: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|media_type| media_type.essence_str() == essence)
}

/// The request bodies the layer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `application/json`, or any `application/*+json` (RFC 6839).
    Json,
}

/// What kind of body `headers` announce, if one the layer reads: one parse
/// of the `Content-Type`.
pub(crate) fn body_format(headers: &HeaderMap) -> Option<BodyFormat> {
    let media_type = headers
        .get(CONTENT_TYPE)?
        .to_str()
        .ok()?
        .parse::<mime::Mime>()
        .ok()?;
    if media_type.essence_str() == "application/x-www-form-urlencoded" {
        Some(BodyFormat::Form)
    } else if media_type.type_() == mime::APPLICATION
        && (media_type.subtype() == mime::JSON || media_type.suffix() == Some(mime::JSON))
    {
        Some(BodyFormat::Json)
    } else {
        None
    }
}

/// A `Content-Encoding` other than `identity`: the layer would see
/// compressed bytes.
pub(crate) fn is_compressed(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_ENCODING)
        .is_some_and(|encoding| !encoding.as_bytes().eq_ignore_ascii_case(b"identity"))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn typed(value: &'static [u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn parameters_and_case_do_not_matter() {
        for value in [
            &b"application/json"[..],
            b"application/json; charset=utf-8",
            b"Application/JSON;charset=UTF-8",
        ] {
            assert!(has_media_type(&typed(value), "application/json"));
        }
    }

    #[test]
    fn forms_json_and_json_suffixes_are_read_bodies() {
        for (value, format) in [
            (
                &b"application/x-www-form-urlencoded"[..],
                Some(BodyFormat::Form),
            ),
            (
                b"application/x-www-form-urlencoded; charset=UTF-8",
                Some(BodyFormat::Form),
            ),
            (b"application/json", Some(BodyFormat::Json)),
            (b"Application/JSON; charset=utf-8", Some(BodyFormat::Json)),
            (b"application/merge-patch+json", Some(BodyFormat::Json)),
            (b"text/json", None),
            (b"application/jsonp", None),
            (b"text/plain", None),
            (b"multipart/form-data; boundary=x", None),
            (b"application/json\xff", None),
            (b"", None),
        ] {
            assert_eq!(body_format(&typed(value)), format, "{value:?}");
        }
        assert_eq!(body_format(&HeaderMap::new()), None);
    }

    #[test]
    fn other_types_and_garbage_do_not_match() {
        for value in [
            &b"text/json"[..],
            b"application/jsonp",
            b"application/problem+json",
            b"application",
            b"",
            b"application/json\xff",
        ] {
            assert!(!has_media_type(&typed(value), "application/json"));
        }
        assert!(!has_media_type(&HeaderMap::new(), "application/json"));
    }
}
