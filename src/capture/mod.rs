//! What a request leaves behind for the report: its query and
//! `User-Agent` ([`CapturedRequest`]), the first bytes of a form or JSON
//! body ([`BodyCapture`], in its [`BoundedBytes`]), and the OAuth parameters
//! read from them (`RequestParameters`, `JsonRequest`).

mod body;
mod bounded_bytes;
mod json;
mod parameters;
mod request;

pub(crate) use self::body::BodyCapture;
pub(crate) use self::bounded_bytes::BoundedBytes;
pub(crate) use self::parameters::LinkParameters;
pub(crate) use self::request::CapturedRequest;
