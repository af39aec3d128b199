//! Pure decisions about a response, with no state and no I/O: does a
//! `Location` carry `error=invalid_scope`, which statuses are redirects worth
//! a look, which answers are JSON worth watching and what they say, what a
//! code redirect or a form_post page carries.

#[cfg(feature = "follow")]
mod code_redirect;
mod dialect;
#[cfg(feature = "bodies")]
mod form_post;
#[cfg(feature = "bodies")]
mod json_answer;
mod location;
#[cfg(feature = "bodies")]
mod media_type;
mod statuses;

#[cfg(feature = "follow")]
pub(crate) use self::code_redirect::{code_redirect, fragment_grant, CodeRedirect};
pub(crate) use self::dialect::Dialect;
#[cfg(feature = "bodies")]
pub(crate) use self::form_post::{page_worth_reading, FormPostPage};
#[cfg(feature = "bodies")]
pub(crate) use self::json_answer::{worth_watching, JsonAnswer, Text};
pub(crate) use self::location::error_description;
#[cfg(feature = "bodies")]
pub(crate) use self::media_type::{body_format, BodyFormat};
pub(crate) use self::statuses::RedirectStatuses;
