//! What a request leaves behind for the report: its query and
//! `User-Agent` ([`CapturedRequest`]), the first bytes of a form or JSON
//! body ([`BodyCapture`], in its [`BoundedBytes`]), and the OAuth parameters
//! read from them (`RequestParameters`, `JsonRequest`).

#[cfg(feature = "bodies")]
mod body;
#[cfg(feature = "bodies")]
mod bounded_bytes;
#[cfg(feature = "bodies")]
mod json;
mod parameters;
mod request;

#[cfg(feature = "bodies")]
pub(crate) use self::body::BodyCapture;
#[cfg(feature = "bodies")]
pub(crate) use self::bounded_bytes::BoundedBytes;
#[cfg(feature = "follow")]
pub(crate) use self::parameters::LinkParameters;
pub(crate) use self::request::CapturedRequest;
