//! Pure: does a `Location` value carry `error=invalid_scope`?

use std::sync::OnceLock;

use url::Url;

/// The OAuth error code this crate watches for (RFC 6749 §4.1.2.1).
const INVALID_SCOPE: &str = "invalid_scope";

/// Whether a redirect's `Location` carries a parameter named `error` whose
/// decoded value is exactly `invalid_scope`, in its query or its fragment
/// (`response_mode=fragment`). Relative references count as much as absolute
/// ones. A value that is not UTF-8 is no rejection.
///
/// The Location is read the way a browser reads it: as a WHATWG URL (the
/// `url` crate), relative to a placeholder base. One that does not parse
/// sends the browser nowhere and is no rejection.
///
/// Cost: the WHATWG parser only turns other bytes into `invalid_scope` by
/// decoding a `%` escape or by dropping an ASCII tab or newline. A Location
/// with none of those and no literal `invalid_scope` is ruled out after one
/// scan, without parsing, so ordinary redirects cost no parse.
pub(crate) fn carries_invalid_scope(location: &[u8]) -> bool {
    if !could_spell_invalid_scope(location) {
        return false;
    }
    let Ok(location) = std::str::from_utf8(location) else {
        return false;
    };
    let Ok(url) = Url::options()
        .base_url(Some(placeholder_base()))
        .parse(location)
    else {
        return false;
    };
    let in_query = has_invalid_scope_error(url.query());
    in_query || has_invalid_scope_error(url.fragment())
}

/// The cheap test before any parse, with `memchr`'s vectorized searches.
fn could_spell_invalid_scope(bytes: &[u8]) -> bool {
    memchr::memchr3(b'%', b'\t', b'\n', bytes).is_some()
        || memchr::memchr(b'\r', bytes).is_some()
        || invalid_scope_finder().find(bytes).is_some()
}

fn invalid_scope_finder() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(INVALID_SCOPE))
}

/// What relative Locations resolve against; only their query and fragment
/// are read, so the base itself never matters.
fn placeholder_base() -> &'static Url {
    static BASE: OnceLock<Url> = OnceLock::new();
    BASE.get_or_init(|| Url::parse("https://authorization-server.invalid/").expect("a valid URL"))
}

fn has_invalid_scope_error(parameters: Option<&str>) -> bool {
    parameters.is_some_and(|parameters| {
        form_urlencoded::parse(parameters.as_bytes())
            .any(|(name, value)| name == "error" && value == INVALID_SCOPE)
    })
}

#[cfg(test)]
mod tests {
    use super::carries_invalid_scope;

    fn detects(location: &str) -> bool {
        carries_invalid_scope(location.as_bytes())
    }

    #[test]
    fn error_in_the_query_wherever_it_stands() {
        assert!(detects(
            "https://client.example/cb?error=invalid_scope&state=xyz"
        ));
        assert!(detects(
            "https://client.example/cb?state=xyz&error=invalid_scope"
        ));
        assert!(detects(
            "https://client.example/cb?error=invalid_scope&error_description=nope&iss=https%3A%2F%2Fas"
        ));
    }

    #[test]
    fn error_in_the_fragment() {
        assert!(detects(
            "https://client.example/cb#error=invalid_scope&state=xyz"
        ));
        assert!(detects(
            "https://client.example/cb?x=1#state=s&error=invalid_scope"
        ));
    }

    #[test]
    fn relative_references() {
        assert!(detects("/cb?error=invalid_scope"));
        assert!(detects("cb?error=invalid_scope"));
        assert!(detects("?error=invalid_scope"));
        assert!(detects("#error=invalid_scope"));
    }

    #[test]
    fn escaped_spellings_are_decoded() {
        assert!(detects("/cb?error=invalid%5Fscope"));
        assert!(detects("/cb?%65rror=%69nvalid_scope"));
    }

    #[test]
    fn near_misses_are_not_rejections() {
        for location in [
            "/cb?error=invalid_scopes",
            "/cb?error=invalid_scope_x",
            "/cb?error=invalid+scope",
            "/cb?error=access_denied",
            "/cb?errors=invalid_scope",
            "/cb?state=error%3Dinvalid_scope",
            "/cb?state=error%26error%3Dinvalid_scope",
            "/invalid_scope/cb?code=abc",
            "/cb/error=invalid_scope",
            "/cb?code=abc&state=%2F",
            "/cb?error=INVALID_SCOPE",
            "https://invalid_scope.example/?code=1",
            "",
        ] {
            assert!(!detects(location), "{location:?} is no rejection");
        }
    }

    #[test]
    fn repeated_error_parameters_count_if_any_says_invalid_scope() {
        assert!(detects("/cb?error=server_error&error=invalid_scope"));
    }

    #[test]
    fn tabs_and_newlines_are_dropped_as_a_browser_drops_them() {
        assert!(detects("/cb?error=invalid_sc\tope"));
        assert!(detects("/cb?err\tor=invalid_scope"));
        assert!(detects("/cb?error=invalid_\r\nscope"));
    }

    #[test]
    fn a_location_a_browser_cannot_follow_is_no_rejection() {
        assert!(!detects("http://[::1?error=invalid_scope"));
        assert!(!detects("https://exa mple.com/cb?error=invalid_scope"));
        assert!(!detects("http://host:99999/cb?error=invalid_scope"));
    }

    #[test]
    fn malformed_input_never_panics_and_is_no_rejection() {
        assert!(!carries_invalid_scope(b"/cb?error=invalid_scope\xff"));
        assert!(!carries_invalid_scope(b"\xc3\x28?error=invalid_scope"));
        for location in ["%", "%%%", "?%zz=%", "?&&==&", "#", "?", "??#?#", "%E2%82"] {
            assert!(!detects(location));
        }
        // Escapes that decode to invalid UTF-8 are replaced, never trusted.
        assert!(!detects("?error=invalid_scope%FF"));
    }

    #[test]
    fn a_megabyte_of_query_is_just_input() {
        let mut location = String::from("/cb?");
        location.push_str(&"state=%41&".repeat(100_000));
        assert!(!detects(&location));
        location.push_str("error=invalid_scope");
        assert!(detects(&location));
    }
}
