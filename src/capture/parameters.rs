//! [`RequestParameters`]: the OAuth parameters a report needs, read from a
//! query, a form body or HTTP Basic client credentials.

#[cfg(feature = "bodies")]
use base64::engine::general_purpose::STANDARD;
#[cfg(feature = "bodies")]
use base64::Engine as _;
#[cfg(feature = "bodies")]
use http::HeaderValue;

use crate::scope::ScopeSet;

/// `scope`, `client_id` and `grant_type` as one source (a query, a form
/// or JSON body, an `Authorization` header) gave them; `None` when it had
/// none. `asks_for_authorization`: a query carries `response_type`, or a
/// body (a consent form's answer) `allow`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RequestParameters {
    pub(crate) scope: Option<ScopeSet>,
    pub(crate) client_id: Option<String>,
    pub(crate) grant_type: Option<String>,
    pub(crate) asks_for_authorization: bool,
    /// The values may not be the server's: `scope`, `client_id` or
    /// `grant_type` came twice (RFC 6749 §3.1 forbids it; the first is
    /// read here, oauthlib reads the last), or HTTP Basic and the body name
    /// different clients (`client_id` is then `""`).
    pub(crate) ambiguous: bool,
}

impl RequestParameters {
    /// Reads an authorization request's query (RFC 6749 §4.1.1): `scope`,
    /// `client_id` and whether it names a `response_type`.
    pub(crate) fn from_query(query: &str) -> Self {
        Self::from_urlencoded(query.as_bytes(), false)
    }

    /// Reads an `application/x-www-form-urlencoded` body: `scope`,
    /// `client_id` and, for the token endpoint, `grant_type`.
    #[cfg(feature = "bodies")]
    pub(crate) fn from_form(body: &[u8]) -> Self {
        Self::from_urlencoded(body, true)
    }

    /// RFC 6749 §3.1 forbids repeating a parameter; when a peer does, the
    /// first occurrence is read and the parameters are `ambiguous`.
    fn from_urlencoded(bytes: &[u8], wants_grant_type: bool) -> Self {
        let mut parameters = Self::default();
        for (name, value) in form_urlencoded::parse(bytes) {
            match &*name {
                "scope" if parameters.scope.is_none() => {
                    parameters.scope = Some(ScopeSet::parse(&value))
                }
                "client_id" if parameters.client_id.is_none() => {
                    parameters.client_id = Some(value.into_owned())
                }
                "grant_type" if wants_grant_type && parameters.grant_type.is_none() => {
                    parameters.grant_type = Some(value.into_owned())
                }
                "scope" | "client_id" => parameters.ambiguous = true,
                "grant_type" if wants_grant_type => parameters.ambiguous = true,
                // A query's `response_type`, a body's `allow` (a pushed
                // authorization request carries `response_type` in its body).
                "response_type" if !wants_grant_type => parameters.asks_for_authorization = true,
                "allow" if wants_grant_type => parameters.asks_for_authorization = true,
                _ => {}
            }
        }
        parameters
    }

    /// The client identifier of `Authorization: Basic` client credentials
    /// (RFC 6749 §2.3.1): base64 of `client_id:secret`, each part
    /// form-urlencoded. The secret is never kept. Credentials without a
    /// colon give no client id: RFC 7617 requires it, and without one
    /// there is no telling an id from a secret sent alone.
    #[cfg(feature = "bodies")]
    pub(crate) fn from_basic_credentials(authorization: &HeaderValue) -> Self {
        let client_id = (|| {
            // RFC 9110 §11.1: the scheme is case-insensitive, then 1*SP.
            let value = authorization.as_bytes();
            let space = memchr::memchr(b' ', value)?;
            let (scheme, credentials) = value.split_at(space);
            if !scheme.eq_ignore_ascii_case(b"Basic") {
                return None;
            }
            let decoded = STANDARD.decode(credentials.trim_ascii()).ok()?;
            let colon = memchr::memchr(b':', &decoded)?;
            let encoded_id = &decoded[..colon];
            // The identifier is form-urlencoded, so it holds no raw `=` or
            // `&`: decoded as a form, it is the first parameter's name.
            let (client_id, _) = form_urlencoded::parse(encoded_id).next()?;
            Some(client_id.into_owned())
        })();
        Self {
            client_id,
            ..Self::default()
        }
    }

    /// Each parameter as `self` gives it, or else as `fallback` does.
    #[cfg(feature = "bodies")]
    pub(crate) fn or(self, fallback: Self) -> Self {
        Self {
            scope: self.scope.or(fallback.scope),
            client_id: self.client_id.or(fallback.client_id),
            grant_type: self.grant_type.or(fallback.grant_type),
            asks_for_authorization: self.asks_for_authorization || fallback.asks_for_authorization,
            ambiguous: self.ambiguous || fallback.ambiguous,
        }
    }

    /// Adds the client of HTTP Basic credentials: where the body (or query)
    /// names another, there is no telling which the server believes, so the
    /// `client_id` is `""` and the parameters `ambiguous`.
    #[cfg(feature = "bodies")]
    pub(crate) fn with_basic(mut self, basic: Self) -> Self {
        match (&self.client_id, basic.client_id) {
            (Some(own), Some(basic)) if *own != basic => {
                self.client_id = Some(String::new());
                self.ambiguous = true;
            }
            (None, basic) => self.client_id = basic,
            _ => {}
        }
        self
    }
}

/// The parameters that tie the legs of one authorization together
/// (authorize request, code redirect, token request), read only when the
/// layer follows authorizations. The first occurrence of each counts.
#[cfg(feature = "follow")]
#[derive(Debug, Default, PartialEq)]
pub(crate) struct LinkParameters {
    pub(crate) response_type: Option<String>,
    pub(crate) scope: Option<ScopeSet>,
    pub(crate) client_id: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) code_challenge_method: Option<String>,
    pub(crate) grant_type: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) code_verifier: Option<String>,
    pub(crate) device_code: Option<String>,
    /// A consent step's answer: the body carries `allow` (a form's or a
    /// JSON consent screen's), whatever its value.
    pub(crate) allow: bool,
    /// A parameter read here came twice (RFC 6749 §3.1 forbids it): the
    /// layer and the server may read different values, so the request is
    /// not followed.
    pub(crate) repeated: bool,
}

#[cfg(feature = "follow")]
impl LinkParameters {
    pub(crate) fn from_urlencoded(bytes: &[u8]) -> Self {
        let mut parameters = Self::default();
        for (name, value) in form_urlencoded::parse(bytes) {
            let slot = match &*name {
                "scope" => {
                    match parameters.scope {
                        None => parameters.scope = Some(ScopeSet::parse(&value)),
                        Some(_) => parameters.repeated = true,
                    }
                    continue;
                }
                "response_type" => &mut parameters.response_type,
                "client_id" => &mut parameters.client_id,
                "state" => &mut parameters.state,
                "code_challenge" => &mut parameters.code_challenge,
                "code_challenge_method" => &mut parameters.code_challenge_method,
                "grant_type" => &mut parameters.grant_type,
                "code" => &mut parameters.code,
                "code_verifier" => &mut parameters.code_verifier,
                "device_code" => &mut parameters.device_code,
                "allow" => {
                    parameters.allow = true;
                    continue;
                }
                _ => continue,
            };
            match slot {
                None => *slot = Some(value.into_owned()),
                Some(_) => parameters.repeated = true,
            }
        }
        parameters
    }

    /// Each parameter as `self` gives it, or else as `fallback` does.
    pub(crate) fn or(self, fallback: Self) -> Self {
        Self {
            repeated: self.repeated || fallback.repeated,
            response_type: self.response_type.or(fallback.response_type),
            scope: self.scope.or(fallback.scope),
            client_id: self.client_id.or(fallback.client_id),
            state: self.state.or(fallback.state),
            code_challenge: self.code_challenge.or(fallback.code_challenge),
            code_challenge_method: self
                .code_challenge_method
                .or(fallback.code_challenge_method),
            grant_type: self.grant_type.or(fallback.grant_type),
            code: self.code.or(fallback.code),
            code_verifier: self.code_verifier.or(fallback.code_verifier),
            device_code: self.device_code.or(fallback.device_code),
            // Only a body says it: the query's fallback never does.
            allow: self.allow,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(query: &str) -> (String, String) {
        let parameters = RequestParameters::from_query(query);
        (
            parameters.scope.unwrap_or_default().to_string(),
            parameters.client_id.unwrap_or_default(),
        )
    }

    #[test]
    #[cfg(feature = "follow")]
    fn link_parameters_take_the_first_of_each() {
        let parameters = LinkParameters::from_urlencoded(
            b"grant_type=authorization_code&code=a%2Bb&code=second&code_verifier=v&state=s&device_code=d",
        )
        .or(LinkParameters::from_urlencoded(b"state=query&client_id=c"));
        assert_eq!(parameters.code.as_deref(), Some("a+b"));
        assert_eq!(parameters.code_verifier.as_deref(), Some("v"));
        assert_eq!(parameters.state.as_deref(), Some("s"));
        assert_eq!(parameters.client_id.as_deref(), Some("c"));
        assert_eq!(parameters.response_type, None);
        assert_eq!(parameters.device_code.as_deref(), Some("d"));
    }

    #[test]
    #[cfg(feature = "bodies")]
    fn response_type_or_allow_asks_for_authorization() {
        assert!(RequestParameters::from_query("response_type=code").asks_for_authorization);
        assert!(!RequestParameters::from_query("allow=1").asks_for_authorization);
        assert!(RequestParameters::from_form(b"allow=Authorize").asks_for_authorization);
        assert!(!RequestParameters::from_form(b"grant_type=x").asks_for_authorization);
        // A pushed authorization request is no consent step.
        assert!(!RequestParameters::from_form(b"response_type=code").asks_for_authorization);
        let merged = RequestParameters::from_form(b"scope=a")
            .or(RequestParameters::from_query("response_type=code"));
        assert!(merged.asks_for_authorization);
    }

    #[test]
    fn plus_and_percent_twenty_are_spaces() {
        assert_eq!(query("scope=a+b&client_id=c").0, "a b");
        assert_eq!(query("scope=a%20b").0, "a b");
        assert_eq!(query("scope=a%2Bb").0, "a+b");
    }

    #[test]
    fn duplicates_and_empty_tokens_are_dropped_in_request_order() {
        assert_eq!(query("scope=c++a+c+b+a").0, "c a b");
    }

    #[test]
    fn missing_parameters_are_none() {
        assert_eq!(
            RequestParameters::from_query(""),
            RequestParameters::default()
        );
        assert_eq!(
            RequestParameters::from_query("response_type=code"),
            RequestParameters {
                asks_for_authorization: true,
                ..RequestParameters::default()
            }
        );
        // Present but empty is not missing: it wins over a fallback.
        assert_eq!(
            RequestParameters::from_query("scope=").scope,
            Some(ScopeSet::new())
        );
    }

    #[test]
    fn client_id_is_decoded_and_first_occurrence_wins() {
        assert_eq!(
            query("client_id=my%20app&scope=x&client_id=evil&scope=y"),
            ("x".to_string(), "my app".to_string())
        );
    }

    #[test]
    #[cfg(feature = "bodies")]
    fn queries_carry_no_grant_type_and_forms_do() {
        let text = "grant_type=client_credentials&scope=a";
        assert_eq!(RequestParameters::from_query(text).grant_type, None);
        assert_eq!(
            RequestParameters::from_form(text.as_bytes()).grant_type,
            Some("client_credentials".to_string())
        );
    }

    #[test]
    #[cfg(feature = "bodies")]
    fn malformed_input_never_panics() {
        for text in [
            "%",
            "scope=%",
            "scope=%zz",
            "=&=&",
            "scope",
            "scope=%FF%FE",
            "&&&",
        ] {
            let _ = RequestParameters::from_query(text);
            let _ = RequestParameters::from_form(text.as_bytes());
        }
        assert_eq!(query("scope=%FF").0, "\u{fffd}");
        let _ = RequestParameters::from_form(b"scope=\xff\xfe&client_id=\x00");
    }

    #[test]
    #[cfg(feature = "bodies")]
    fn earlier_sources_win_field_by_field() {
        let query = RequestParameters::from_query("client_id=from-query");
        let form = RequestParameters::from_form(b"client_id=from-form&scope=a");
        let merged = query.or(form);
        assert_eq!(merged.client_id.as_deref(), Some("from-query"));
        assert_eq!(merged.scope, Some(ScopeSet::parse("a")));
    }

    #[cfg(feature = "bodies")]
    fn basic(value: &str) -> Option<String> {
        RequestParameters::from_basic_credentials(&HeaderValue::from_str(value).unwrap()).client_id
    }

    #[test]
    #[cfg(feature = "bodies")]
    fn basic_credentials_give_the_decoded_client_id_only() {
        // base64("my+app%21:s3cr3t")
        let value = format!("Basic {}", STANDARD.encode("my+app%21:s3cr3t"));
        assert_eq!(basic(&value).as_deref(), Some("my app!"));
        let empty_secret = format!("Basic {}", STANDARD.encode("only-id:"));
        assert_eq!(basic(&empty_secret).as_deref(), Some("only-id"));
        let any_case = format!("bAsIc   {}", STANDARD.encode("wizard:x"));
        assert_eq!(basic(&any_case).as_deref(), Some("wizard"));
        assert_eq!(basic("Bearer abc"), None);
        assert_eq!(basic("Basicd2l6YXJkOng="), None);
        assert_eq!(basic("Basic !!!not-base64"), None);
        assert_eq!(basic("Basic "), None);
    }

    #[test]
    #[cfg(feature = "bodies")]
    fn credentials_without_a_colon_give_no_client_id() {
        // Some clients send a bare secret; it must never pass for an id.
        let bare_secret = format!(
            "Basic {}",
            STANDARD.encode("sk_live_4eC39HqLyjWDarjtT1zdp7dc")
        );
        assert_eq!(basic(&bare_secret), None);
    }
}
