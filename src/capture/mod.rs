//! What a request leaves behind for the report: its query and
//! `User-Agent` ([`CapturedRequest`]), the first bytes of a form body
//! ([`FormCapture`], in its [`BoundedBytes`]), and the OAuth parameters read
//! from them (`RequestParameters`).

mod bounded_bytes;
mod form;
mod parameters;
mod request;

pub(crate) use self::bounded_bytes::BoundedBytes;
pub(crate) use self::form::FormCapture;
pub(crate) use self::request::CapturedRequest;
