//! Pure decisions about a response, with no state and no I/O: does a
//! `Location` carry `error=invalid_scope`, which statuses are redirects worth
//! a look, which answers are JSON worth watching and what they say, what a
//! code redirect or a form_post page carries.

mod dialect;
mod form_post;
mod json_answer;
mod location;
mod media_type;
mod statuses;

pub(crate) use self::dialect::Dialect;
pub(crate) use self::form_post::{page_worth_reading, FormPostPage};
pub(crate) use self::json_answer::{worth_watching, JsonAnswer, Text};
pub(crate) use self::location::{code_redirect, error_description, fragment_grant, CodeRedirect};
pub(crate) use self::media_type::{body_format, BodyFormat};
pub(crate) use self::statuses::RedirectStatuses;
