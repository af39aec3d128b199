//! Pure: which answers are worth watching, and what a JSON answer of the
//! token or PAR endpoint says about scopes ([`TokenAnswer`]).

use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::media_type::{has_media_type, is_compressed};

/// Whether a response is a JSON answer that may report a scope problem: an
/// error (`400`, or `401` as some servers answer), or a success to a form
/// request (a token grant) for which the inner service has not already
/// said what it granted (`granted_decided`, asked only for a success).
/// Decided by status and headers, before the body is touched. A compressed
/// answer is not looked at (the layer would see compressed bytes): put the
/// layer inside any compression layer.
pub(crate) fn worth_watching(
    status: StatusCode,
    headers: &HeaderMap,
    to_a_form: bool,
    granted_decided: impl FnOnce() -> bool,
) -> bool {
    let worth_a_look = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => true,
        _ if status.is_success() => to_a_form && !granted_decided(),
        _ => false,
    };
    worth_a_look && !is_compressed(headers) && has_media_type(headers, "application/json")
}

/// The two members of a token endpoint answer that matter here: `error`
/// (RFC 6749 §5.2) and `scope` (§5.1). Every other member, an access token
/// included, is skipped by the parser without being copied.
#[derive(Deserialize)]
struct Members {
    error: Option<String>,
    scope: Option<String>,
    /// Present or not; its value is skipped, never copied.
    access_token: Option<serde::de::IgnoredAny>,
    /// A device authorization answer's (RFC 8628 §3.2).
    device_code: Option<String>,
}

/// A JSON answer, as far as scopes go.
#[derive(Debug, PartialEq)]
pub(crate) enum TokenAnswer {
    /// `{"error": "invalid_scope", ...}`.
    InvalidScope,
    /// A success that names the scopes it granted.
    Granted(String),
    /// A grant (an `access_token`) without `scope`: as requested
    /// (RFC 6749 §5.1).
    AsRequested,
    /// A device authorization answer (RFC 8628 §3.2): the `device_code`
    /// its token requests will carry.
    DeviceAuthorization(String),
    /// Anything else, including bytes that are not one whole JSON object.
    Other,
}

impl TokenAnswer {
    /// Reads a complete JSON document; a prefix cut short is [`Other`].
    ///
    /// [`Other`]: TokenAnswer::Other
    pub(crate) fn parse(json: &[u8]) -> Self {
        match serde_json::from_slice::<Members>(json) {
            Ok(Members {
                error: Some(error), ..
            }) if error == "invalid_scope" => Self::InvalidScope,
            Ok(Members {
                error: None,
                scope: Some(scope),
                ..
            }) => Self::Granted(scope),
            Ok(Members {
                error: None,
                scope: None,
                access_token: Some(_),
                ..
            }) => Self::AsRequested,
            Ok(Members {
                error: None,
                access_token: None,
                device_code: Some(device_code),
                ..
            }) => Self::DeviceAuthorization(device_code),
            _ => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_scope_error_is_recognised_whatever_else_it_says() {
        for json in [
            r#"{"error":"invalid_scope"}"#,
            r#"{"error_description":"scope \"admin\" is not allowed","error":"invalid_scope","state":"x"}"#,
            " {\n \"error\" : \"invalid\\u005fscope\" } \n",
        ] {
            assert_eq!(
                TokenAnswer::parse(json.as_bytes()),
                TokenAnswer::InvalidScope
            );
        }
    }

    #[test]
    fn other_errors_and_lookalikes_are_not() {
        for json in [
            r#"{"error":"invalid_request","error_description":"invalid_scope"}"#,
            r#"{"error":"invalid_scopes"}"#,
            r#"{"message":"invalid_scope"}"#,
            r#"["invalid_scope"]"#,
            r#"{"error":"invalid_scope""#,
            r#"{"error":"invalid_"#,
            r#"{"error":"invalid_scope","error":"invalid_scope"}"#,
            "",
            "\u{feff}{}",
        ] {
            assert_eq!(
                TokenAnswer::parse(json.as_bytes()),
                TokenAnswer::Other,
                "{json}"
            );
        }
        assert_eq!(TokenAnswer::parse(b"\xff\xfe{"), TokenAnswer::Other);
    }

    #[test]
    fn a_success_gives_its_scope_and_skips_the_token() {
        let json = r#"{"access_token":"secret","token_type":"Bearer","scope":"openid email"}"#;
        assert_eq!(
            TokenAnswer::parse(json.as_bytes()),
            TokenAnswer::Granted("openid email".to_string())
        );
        assert_eq!(
            TokenAnswer::parse(br#"{"access_token":"secret"}"#),
            TokenAnswer::AsRequested
        );
        assert_eq!(
            TokenAnswer::parse(br#"{"request_uri":"urn:x","expires_in":60}"#),
            TokenAnswer::Other
        );
        assert_eq!(
            TokenAnswer::parse(
                br#"{"device_code":"GmRhm","user_code":"WDJB-MJHT","verification_uri":"https://x/device","expires_in":1800}"#
            ),
            TokenAnswer::DeviceAuthorization("GmRhm".to_string())
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let json = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(TokenAnswer::parse(json.as_bytes()), TokenAnswer::Other);
    }
}
