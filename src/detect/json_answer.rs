//! Pure: which answers are worth watching, and what a JSON answer says
//! about scopes ([`JsonAnswer`]): a token or PAR endpoint's grant or error,
//! an error object, or a redirect carried in a member.

use std::fmt;

use http::{HeaderMap, StatusCode};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::dialect::Dialect;
use super::media_type::{has_media_type, is_compressed};

/// Whether a response is a JSON answer that may report a scope problem:
/// never one to a GET or HEAD (`to_a_read`); else an error (`400`, or `401`
/// as some servers answer), or a success to a request whose body the layer
/// kept (`to_a_body`: a token grant, a consent answer carrying a redirect)
/// for which the inner service has not already said what it granted
/// (`granted_decided`, asked only for a success). Decided by status and
/// headers, before the body is touched. A compressed answer is not looked
/// at (the layer would see compressed bytes): put the layer inside any
/// compression layer.
pub(crate) fn worth_watching(
    status: StatusCode,
    headers: &HeaderMap,
    to_a_read: bool,
    to_a_body: bool,
    granted_decided: impl FnOnce() -> bool,
) -> bool {
    let worth_a_look = match status {
        _ if to_a_read => false,
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => true,
        _ if status.is_success() => to_a_body && !granted_decided(),
        _ => false,
    };
    worth_a_look && !is_compressed(headers) && has_media_type(headers, "application/json")
}

/// A JSON answer, as far as scopes go.
#[derive(Debug, PartialEq)]
pub(crate) enum JsonAnswer {
    /// An `error` (a string, or an object's `code`) that the dialect reads
    /// as invalid scope, with the server's reason (`error_description`, or
    /// the error object's `message`).
    InvalidScope { description: Option<String> },
    /// No `error`, and a redirect member (`redirect_to`) that holds a URL:
    /// read like a `Location`.
    Redirect(String),
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

impl JsonAnswer {
    /// Reads a complete JSON document; a prefix cut short is [`Other`].
    /// Only the members named here are decoded; every other one (an
    /// access token, a refresh token) is skipped without being copied. A
    /// member read here that appears twice makes the answer [`Other`]: there
    /// is no telling which one the client reads.
    ///
    /// [`Other`]: JsonAnswer::Other
    pub(crate) fn parse(json: &[u8], dialect: &Dialect) -> Self {
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        let Ok(members) = MembersSeed(dialect).deserialize(&mut deserializer) else {
            return Self::Other;
        };
        if deserializer.end().is_err() {
            return Self::Other;
        }
        match members {
            Members {
                error: Some(error), ..
            } => match error {
                ErrorMember::Code { code, message } if dialect.means_invalid_scope(&code) => {
                    Self::InvalidScope {
                        description: members.error_description.or(message),
                    }
                }
                _ => Self::Other,
            },
            Members {
                redirect: Some(url),
                ..
            } => Self::Redirect(url),
            Members {
                scope: Some(scope), ..
            } => Self::Granted(scope),
            Members {
                access_token: true, ..
            } => Self::AsRequested,
            Members {
                device_code: Some(device_code),
                ..
            } => Self::DeviceAuthorization(device_code),
            _ => Self::Other,
        }
    }
}

/// The members of an answer that matter here.
#[derive(Default)]
struct Members {
    error: Option<ErrorMember>,
    error_description: Option<String>,
    redirect: Option<String>,
    scope: Option<String>,
    /// Present or not; its value is skipped, never copied.
    access_token: bool,
    /// A device authorization answer's (RFC 8628 §3.2).
    device_code: Option<String>,
}

/// `error` as a string (RFC 6749 §5.2) or as an object with a `code` and a
/// `message`; any other shape is no code.
enum ErrorMember {
    Code {
        code: String,
        message: Option<String>,
    },
    /// `null`: no error at all.
    Null,
    /// A number, a boolean, an array, an object without a `code`.
    Unreadable,
}

/// Which member a key names, decided from the key's text without copying it.
enum Key {
    Error,
    ErrorDescription,
    Redirect,
    Scope,
    AccessToken,
    DeviceCode,
    Other,
}

struct KeySeed<'d>(&'d Dialect);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
        Ok(match name {
            "error" => Key::Error,
            "error_description" => Key::ErrorDescription,
            "scope" => Key::Scope,
            "access_token" => Key::AccessToken,
            "device_code" => Key::DeviceCode,
            _ if self.0.is_redirect_member(name) => Key::Redirect,
            _ => Key::Other,
        })
    }
}

struct MembersSeed<'d>(&'d Dialect);

impl<'de> DeserializeSeed<'de> for MembersSeed<'_> {
    type Value = Members;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Members, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MembersSeed<'_> {
    type Value = Members;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut members = Members::default();
        let mut seen_access_token = false;
        while let Some(key) = map.next_key_seed(KeySeed(self.0))? {
            match key {
                Key::Error => match map.next_value::<ErrorMember>()? {
                    // `"error": null` beside a grant says no error.
                    ErrorMember::Null => {}
                    error => once(&mut members.error, error)?,
                },
                Key::ErrorDescription => {
                    if let Some(description) = map.next_value::<Text>()?.0 {
                        once(&mut members.error_description, description)?;
                    }
                }
                Key::Redirect => {
                    // A redirect member that is not a string is no redirect.
                    if let Some(url) = map.next_value::<Text>()?.0 {
                        once(&mut members.redirect, url)?;
                    }
                }
                Key::Scope => once(&mut members.scope, map.next_value::<String>()?)?,
                Key::AccessToken => {
                    if std::mem::replace(&mut seen_access_token, true) {
                        return Err(de::Error::custom("access_token twice"));
                    }
                    map.next_value::<IgnoredAny>()?;
                    members.access_token = true;
                }
                Key::DeviceCode => once(&mut members.device_code, map.next_value::<String>()?)?,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(members)
    }
}

/// Sets `slot` unless it was set already: a member read twice is an error.
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::custom("a member twice"));
    }
    Ok(())
}

/// A string member, or `None` for any other JSON value (skipped uncopied).
pub(crate) struct Text(pub(crate) Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Text, E> {
        Ok(Text(Some(text.to_string())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Text, E> {
        Ok(Text(Some(text)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        Ok(Text(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text, A::Error> {
        IgnoredAny.visit_map(map)?;
        Ok(Text(None))
    }
}

impl<'de> Deserialize<'de> for ErrorMember {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ErrorVisitor)
    }
}

struct ErrorVisitor;

impl<'de> Visitor<'de> for ErrorVisitor {
    type Value = ErrorMember;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an error code or an error object")
    }

    fn visit_str<E: de::Error>(self, code: &str) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Code {
            code: code.to_string(),
            message: None,
        })
    }

    /// `{"code": "invalid_scope", "message": "…"}`; other members skipped.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ErrorMember, A::Error> {
        let (mut code, mut message) = (None, None);
        while let Some(key) = map.next_key::<ErrorKey>()? {
            match key {
                ErrorKey::Code => {
                    if let Some(text) = map.next_value::<Text>()?.0 {
                        once(&mut code, text)?;
                    }
                }
                ErrorKey::Message => {
                    if let Some(text) = map.next_value::<Text>()?.0 {
                        once(&mut message, text)?;
                    }
                }
                ErrorKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(match code {
            Some(code) => ErrorMember::Code { code, message },
            None => ErrorMember::Unreadable,
        })
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Unreadable)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Unreadable)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Unreadable)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Unreadable)
    }

    fn visit_unit<E: de::Error>(self) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ErrorMember, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        Ok(ErrorMember::Unreadable)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum ErrorKey {
    Code,
    Message,
    #[serde(other)]
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> JsonAnswer {
        JsonAnswer::parse(json.as_bytes(), &Dialect::default())
    }

    fn invalid_scope(description: Option<&str>) -> JsonAnswer {
        JsonAnswer::InvalidScope {
            description: description.map(str::to_string),
        }
    }

    #[test]
    fn an_invalid_scope_error_is_recognised_whatever_else_it_says() {
        assert_eq!(parse(r#"{"error":"invalid_scope"}"#), invalid_scope(None));
        assert_eq!(
            parse(
                r#"{"error_description":"scope \"admin\" is not allowed","error":"invalid_scope","state":"x"}"#
            ),
            invalid_scope(Some("scope \"admin\" is not allowed"))
        );
        assert_eq!(
            parse(" {\n \"error\" : \"invalid\\u005fscope\" } \n"),
            invalid_scope(None)
        );
    }

    #[test]
    fn an_error_object_gives_its_code_and_message() {
        assert_eq!(
            parse(
                r#"{"id":"e1","type":"error","error":{"code":"invalid_scope","message":"admin is not allowed","param":"scopes"}}"#
            ),
            invalid_scope(Some("admin is not allowed"))
        );
        // The top-level description wins over the object's message.
        assert_eq!(
            parse(r#"{"error":{"message":"m","code":"invalid_scope"},"error_description":"d"}"#),
            invalid_scope(Some("d"))
        );
        assert_eq!(
            parse(r#"{"error":{"code":"invalid_scope","message":7}}"#),
            invalid_scope(None)
        );
        for json in [
            r#"{"error":{"code":"invalid_request","message":"invalid_scope"}}"#,
            r#"{"error":{"message":"invalid_scope"}}"#,
            r#"{"error":{"code":["invalid_scope"]}}"#,
            r#"{"error":{"code":"invalid_scope","code":"invalid_scope"}}"#,
        ] {
            assert_eq!(parse(json), JsonAnswer::Other, "{json}");
        }
    }

    #[test]
    fn error_of_every_json_type() {
        for (error, expected) in [
            ("\"invalid_scope\"", invalid_scope(None)),
            ("{\"code\":\"invalid_scope\"}", invalid_scope(None)),
            ("null", JsonAnswer::Other),
            ("true", JsonAnswer::Other),
            ("1", JsonAnswer::Other),
            ("-1.5e300", JsonAnswer::Other),
            ("[\"invalid_scope\"]", JsonAnswer::Other),
            ("{}", JsonAnswer::Other),
        ] {
            assert_eq!(
                parse(&format!("{{\"error\":{error}}}")),
                expected,
                "{error}"
            );
        }
        // A null error beside a grant is no error.
        assert_eq!(
            parse(r#"{"error":null,"access_token":"t","scope":"a"}"#),
            JsonAnswer::Granted("a".into())
        );
    }

    #[test]
    fn aliases_are_the_dialects() {
        let glewlwyd =
            Dialect::default().with_invalid_scope_codes(["invalid_scope", "scope_invalid"]);
        assert_eq!(
            JsonAnswer::parse(br#"{"error":"scope_invalid"}"#, &glewlwyd),
            invalid_scope(None)
        );
        assert_eq!(parse(r#"{"error":"scope_invalid"}"#), JsonAnswer::Other);
    }

    #[test]
    fn a_redirect_member_is_a_redirect() {
        assert_eq!(
            parse(r#"{"redirect_to":"https://c/cb?code=x&state=s"}"#),
            JsonAnswer::Redirect("https://c/cb?code=x&state=s".into())
        );
        let long = "x".repeat(64 * 1024);
        assert_eq!(
            parse(&format!(r#"{{"redirect_to":"{long}"}}"#)),
            JsonAnswer::Redirect(long)
        );
        // Not a string: no redirect. Not a member the dialect names: none.
        assert_eq!(
            parse(r#"{"redirect_to":["https://c/cb"]}"#),
            JsonAnswer::Other
        );
        assert_eq!(parse(r#"{"redirect_to":null}"#), JsonAnswer::Other);
        assert_eq!(
            parse(r#"{"redirect_uri":"https://c/cb"}"#),
            JsonAnswer::Other
        );
        let both = Dialect::default().with_redirect_members(["redirect_to", "redirect_uri"]);
        assert_eq!(
            JsonAnswer::parse(br#"{"redirect_uri":"https://c/cb?error=x"}"#, &both),
            JsonAnswer::Redirect("https://c/cb?error=x".into())
        );
        // Two redirects: which one the browser follows is not ours to guess.
        assert_eq!(
            JsonAnswer::parse(br#"{"redirect_uri":"a","redirect_to":"b"}"#, &both),
            JsonAnswer::Other
        );
        // An error wins over a redirect member.
        assert_eq!(
            parse(r#"{"redirect_to":"https://c/cb","error":"invalid_scope"}"#),
            invalid_scope(None)
        );
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
            r#"{"error":"invalid_scope"} {}"#,
            "",
            "\u{feff}{}",
        ] {
            assert_eq!(parse(json), JsonAnswer::Other, "{json}");
        }
        assert_eq!(
            JsonAnswer::parse(b"\xff\xfe{", &Dialect::default()),
            JsonAnswer::Other
        );
        assert_eq!(
            JsonAnswer::parse(b"{\"error\":\"invalid_scope\xff\"}", &Dialect::default()),
            JsonAnswer::Other
        );
    }

    #[test]
    fn a_success_gives_its_scope_and_skips_the_token() {
        assert_eq!(
            parse(r#"{"access_token":"secret","token_type":"Bearer","scope":"openid email"}"#),
            JsonAnswer::Granted("openid email".to_string())
        );
        assert_eq!(
            parse(r#"{"access_token":"secret"}"#),
            JsonAnswer::AsRequested
        );
        assert_eq!(
            parse(r#"{"request_uri":"urn:x","expires_in":60}"#),
            JsonAnswer::Other
        );
        assert_eq!(
            parse(
                r#"{"device_code":"GmRhm","user_code":"WDJB-MJHT","verification_uri":"https://x/device","expires_in":1800}"#
            ),
            JsonAnswer::DeviceAuthorization("GmRhm".to_string())
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let json = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse(&json), JsonAnswer::Other);
        let error = format!(
            "{{\"error\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(parse(&error), JsonAnswer::Other);
    }
}
