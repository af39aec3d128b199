//! [`JsonRequest`]: the OAuth parameters of a JSON request body (a
//! single-page consent screen's POST, a provisioning request).

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

#[cfg(feature = "follow")]
use super::parameters::LinkParameters;
use super::parameters::RequestParameters;
use crate::detect::Text;
use crate::scope::ScopeSet;

/// The top-level members of a JSON request that the layer reads; every
/// other member (a `password`, a `client_secret`) is skipped by the parser
/// without being copied.
///
/// Shapes: a string member is taken as it is; any other JSON type (a
/// number, `null`, an array, an object) counts as absent. `scope` and
/// `scopes` may each be a space-delimited string or an array of strings (an
/// array holding anything but strings counts as absent); `scope` wins when
/// both are given. `allow` counts when present, whatever its value.
///
/// A member given twice: the last one counts, as Python's `json` and
/// JavaScript's `JSON.parse` (the servers behind a JSON consent screen)
/// read it.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct JsonRequest {
    scope: Option<ScopeSet>,
    scopes: Option<ScopeSet>,
    client_id: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    code: Option<String>,
    code_verifier: Option<String>,
    grant_type: Option<String>,
    device_code: Option<String>,
    response_type: Option<String>,
    allow: bool,
}

impl JsonRequest {
    /// Reads a whole JSON object; `None` for anything else (a prefix, an
    /// array, bytes that are not JSON, nesting past serde_json's limit).
    pub(crate) fn read(json: &[u8]) -> Option<Self> {
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        let request = JsonRequest::deserialize(&mut deserializer).ok()?;
        deserializer.end().ok()?;
        Some(request)
    }

    /// The requested scopes: `scope`, else `scopes`.
    fn requested_scopes(&self) -> Option<ScopeSet> {
        self.scope.clone().or_else(|| self.scopes.clone())
    }

    /// What a report reads.
    pub(crate) fn parameters(&self) -> RequestParameters {
        RequestParameters {
            scope: self.requested_scopes(),
            client_id: self.client_id.clone(),
            grant_type: self.grant_type.clone(),
            asks_for_authorization: self.allow,
            // The last of a repeated member is the server's reading too.
            ambiguous: false,
        }
    }

    /// What links the legs of an authorization.
    #[cfg(feature = "follow")]
    pub(crate) fn link_parameters(&self) -> LinkParameters {
        LinkParameters {
            response_type: self.response_type.clone(),
            scope: self.requested_scopes(),
            client_id: self.client_id.clone(),
            state: self.state.clone(),
            code_challenge: self.code_challenge.clone(),
            code_challenge_method: self.code_challenge_method.clone(),
            grant_type: self.grant_type.clone(),
            code: self.code.clone(),
            code_verifier: self.code_verifier.clone(),
            device_code: self.device_code.clone(),
            allow: self.allow,
            repeated: false,
        }
    }
}

impl<'de> Deserialize<'de> for JsonRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RequestVisitor)
    }
}

/// Which member a key names, decided without copying the key.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Member {
    Scope,
    Scopes,
    ClientId,
    State,
    CodeChallenge,
    CodeChallengeMethod,
    Code,
    CodeVerifier,
    GrantType,
    DeviceCode,
    ResponseType,
    Allow,
    #[serde(other)]
    Other,
}

struct RequestVisitor;

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = JsonRequest;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonRequest, A::Error> {
        let mut request = JsonRequest::default();
        while let Some(member) = map.next_key::<Member>()? {
            let text = match member {
                Member::Scope => {
                    request.scope = map.next_value::<Scopes>()?.0;
                    continue;
                }
                Member::Scopes => {
                    request.scopes = map.next_value::<Scopes>()?.0;
                    continue;
                }
                Member::Allow => {
                    map.next_value::<IgnoredAny>()?;
                    request.allow = true;
                    continue;
                }
                Member::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Member::ClientId => &mut request.client_id,
                Member::State => &mut request.state,
                Member::CodeChallenge => &mut request.code_challenge,
                Member::CodeChallengeMethod => &mut request.code_challenge_method,
                Member::Code => &mut request.code,
                Member::CodeVerifier => &mut request.code_verifier,
                Member::GrantType => &mut request.grant_type,
                Member::DeviceCode => &mut request.device_code,
                Member::ResponseType => &mut request.response_type,
            };
            *text = map.next_value::<Text>()?.0;
        }
        Ok(request)
    }
}

/// A scope member: a space-delimited string or an array of strings.
struct Scopes(Option<ScopeSet>);

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScopesVisitor)
    }
}

struct ScopesVisitor;

impl<'de> Visitor<'de> for ScopesVisitor {
    type Value = Scopes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scope string or an array of scopes")
    }

    fn visit_str<E: de::Error>(self, scope: &str) -> Result<Scopes, E> {
        Ok(Scopes(Some(ScopeSet::parse(scope))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scopes, A::Error> {
        let mut scopes = Vec::new();
        let mut all_strings = true;
        while let Some(Text(item)) = seq.next_element::<Text>()? {
            match item {
                Some(scope) if all_strings => scopes.push(scope),
                Some(_) => {}
                None => all_strings = false,
            }
        }
        Ok(Scopes(all_strings.then(|| ScopeSet::from(scopes))))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scopes, A::Error> {
        IgnoredAny.visit_map(map)?;
        Ok(Scopes(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scopes, E> {
        Ok(Scopes(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Scopes, E> {
        Ok(Scopes(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Scopes, E> {
        Ok(Scopes(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scopes, E> {
        Ok(Scopes(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scopes, E> {
        Ok(Scopes(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Option<JsonRequest> {
        JsonRequest::read(json.as_bytes())
    }

    #[test]
    fn a_consent_post_gives_every_link_parameter() {
        let request = read(
            r#"{"client_id":"spa","redirect_uri":"https://c/cb","response_type":"code","state":"s",
               "scope":"read write admin","allow":true,"code_challenge":"ch","code_challenge_method":"S256"}"#,
        )
        .unwrap();
        let parameters = request.parameters();
        assert_eq!(parameters.scope, Some(ScopeSet::parse("read write admin")));
        assert_eq!(parameters.client_id.as_deref(), Some("spa"));
        assert!(parameters.asks_for_authorization);
        #[cfg(feature = "follow")]
        {
            let links = request.link_parameters();
            assert_eq!(links.response_type.as_deref(), Some("code"));
            assert_eq!(links.state.as_deref(), Some("s"));
            assert_eq!(links.code_challenge.as_deref(), Some("ch"));
            assert_eq!(links.code_challenge_method.as_deref(), Some("S256"));
        }
    }

    #[test]
    fn scopes_as_strings_and_arrays() {
        let scopes = |json: &str| read(json).unwrap().parameters().scope;
        assert_eq!(scopes(r#"{"scope":"a b"}"#), Some(ScopeSet::parse("a b")));
        assert_eq!(
            scopes(r#"{"scope":["a","b"]}"#),
            Some(ScopeSet::parse("a b"))
        );
        assert_eq!(
            scopes(r#"{"scopes":["a","b c"]}"#),
            Some(ScopeSet::parse("a b c"))
        );
        assert_eq!(
            scopes(r#"{"scopes":"a","scope":"b"}"#),
            Some(ScopeSet::parse("b"))
        );
        assert_eq!(scopes(r#"{"scope":[]}"#), Some(ScopeSet::new()));
        for absent in [
            r#"{"scope":["a",1]}"#,
            r#"{"scope":["a",null]}"#,
            r#"{"scope":[["a"]]}"#,
            r#"{"scope":null}"#,
            r#"{"scope":7}"#,
            r#"{"scope":{"a":"b"}}"#,
            r#"{"scope":true}"#,
            r#"{}"#,
        ] {
            assert_eq!(scopes(absent), None, "{absent}");
        }
        assert_eq!(
            scopes(r#"{"scope":"caf\u00e9 \ud83d\ude00"}"#),
            Some(ScopeSet::parse("café 😀"))
        );
    }

    #[test]
    fn the_last_of_a_repeated_member_counts() {
        let request =
            read(r#"{"client_id":"first","client_id":"last","scope":"a","scope":7}"#).unwrap();
        let parameters = request.parameters();
        assert_eq!(parameters.client_id.as_deref(), Some("last"));
        assert_eq!(parameters.scope, None);
    }

    #[test]
    fn other_members_and_types_are_skipped() {
        let request = read(
            r#"{"password":"hunter2","client_secret":{"nested":[1,2,{"x":null}]},"client_id":5,"state":null}"#,
        )
        .unwrap();
        assert_eq!(request, JsonRequest::default());
    }

    #[test]
    fn anything_but_one_whole_object_is_nothing() {
        for json in [
            "",
            "[]",
            "\"scope\"",
            r#"{"scope":"a""#,
            r#"{"scope":"a"} {"scope":"b"}"#,
            r#"{"scope":"a",}"#,
        ] {
            assert_eq!(read(json), None, "{json}");
        }
        assert_eq!(JsonRequest::read(b"{\"scope\":\"\xff\"}"), None);
    }

    #[test]
    fn deep_nesting_is_skipped_without_a_stack_overflow() {
        let deep = |member: &str| {
            format!(
                "{{\"{member}\":{}{},\"client_id\":\"c\"}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            )
        };
        for member in ["x", "scope", "state"] {
            let request = read(&deep(member)).unwrap();
            assert_eq!(request.parameters().scope, None);
            assert_eq!(request.parameters().client_id.as_deref(), Some("c"));
        }
        let unclosed = format!("{{\"scope\":{}", "[".repeat(100_000));
        assert_eq!(read(&unclosed), None);
    }
}
