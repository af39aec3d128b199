//! What a success answer of the authorization endpoint carries in its
//! `Location`, for following: the code and `state` of a code redirect, the
//! scope of an implicit or hybrid grant in the fragment.

use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::location::{
    find_in_parameters, query_and_fragment, trim_c0_and_space, without_tabs_and_newlines,
};

/// What a success redirect of the authorization-code flow carries
/// (RFC 6749 §4.1.2): the code, and the client's `state` if it sent one.
#[derive(Debug, PartialEq)]
pub(crate) struct CodeRedirect {
    pub(crate) code: String,
    pub(crate) state: Option<String>,
}

/// The `code` and `state` of a redirect's `Location`, from its query or,
/// if the query has no code, its fragment (`response_mode=fragment`, the
/// hybrid flow). A Location without the bytes `code=` is ruled out without
/// decoding. The first occurrence of each parameter counts.
pub(crate) fn code_redirect(location: &[u8]) -> Option<CodeRedirect> {
    static CODE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"code="));
    CODE.find(location)?;
    find_in_parameters(location, |parameters| {
        let (mut code, mut state) = (None, None);
        for (name, value) in form_urlencoded::parse(parameters) {
            match &*name {
                "code" if code.is_none() => code = Some(value.into_owned()),
                "state" if state.is_none() => state = Some(value.into_owned()),
                _ => {}
            }
        }
        Some(CodeRedirect { code: code?, state })
    })
}

/// The scope a redirect's fragment grants with its `access_token`
/// (implicit and hybrid answers, RFC 6749 §4.2.2): `Some(None)` for an
/// access token without `scope` (granted as requested), `None` when the
/// fragment carries no access token. The token itself is never kept.
pub(crate) fn fragment_grant(location: &[u8]) -> Option<Option<String>> {
    static ACCESS_TOKEN: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new(b"access_token="));
    ACCESS_TOKEN.find(location)?;
    let location = without_tabs_and_newlines(trim_c0_and_space(location));
    let (_, fragment) = query_and_fragment(&location);
    let (mut token, mut scope) = (false, None);
    for (name, value) in form_urlencoded::parse(fragment?) {
        match &*name {
            "access_token" => token = true,
            "scope" if scope.is_none() => scope = Some(value.into_owned()),
            _ => {}
        }
    }
    token.then_some(scope)
}

#[cfg(test)]
mod tests {
    use super::{code_redirect, fragment_grant, CodeRedirect};

    #[test]
    fn a_fragment_grant_gives_its_scope() {
        let grant = |location: &str| fragment_grant(location.as_bytes());
        assert_eq!(
            grant("https://c/cb#access_token=t&token_type=Bearer&scope=openid+read&state=s"),
            Some(Some("openid read".into()))
        );
        assert_eq!(grant("https://c/cb#access_token=t&code=c"), Some(None));
        assert_eq!(
            grant("https://c/cb?access_token=t&scope=a"),
            None,
            "query, not fragment"
        );
        assert_eq!(grant("https://c/cb#code=c&scope=a"), None);
        assert_eq!(grant("https://c/cb#xaccess_token=t"), None);
    }

    #[test]
    fn a_code_redirect_gives_its_code_and_state() {
        let found = |location: &str| code_redirect(location.as_bytes());
        let code = |code: &str, state: Option<&str>| {
            Some(CodeRedirect {
                code: code.into(),
                state: state.map(Into::into),
            })
        };
        assert_eq!(
            found("https://client.example/cb?code=a%2Bb&state=x%20y&iss=https%3A%2F%2Fas"),
            code("a+b", Some("x y"))
        );
        assert_eq!(
            found(" https://c/cb#state=s&co\tde=c1&code=c2 "),
            code("c1", Some("s")),
            "the tab the URL standard drops is dropped, and the first code counts"
        );
        assert_eq!(found("https://c/cb?state=s#code=c"), code("c", None));
        assert_eq!(found("https://c/cb?code=c"), code("c", None));
        for none in [
            "https://c/cb?error=invalid_scope&state=s",
            "https://c/cb?device_code=d",
            "https://c/code=/cb",
            "/interaction/abc",
            "",
        ] {
            assert_eq!(found(none), None, "{none}");
        }
    }
}
