//! Pure decisions about a response, with no state and no I/O: does a
//! `Location` carry `error=invalid_scope`, which statuses are redirects worth
//! a look, which answers are JSON worth watching and what they say, what a
//! code redirect or a form_post page carries.

mod form_post;
mod json_answer;
mod location;
mod media_type;
mod statuses;

pub(crate) use self::form_post::{page_worth_reading, FormPostPage};
pub(crate) use self::json_answer::{worth_watching, TokenAnswer};
pub(crate) use self::location::{
    carries_invalid_scope, code_redirect, fragment_grant, CodeRedirect,
};
pub(crate) use self::media_type::has_media_type;
pub(crate) use self::statuses::RedirectStatuses;
