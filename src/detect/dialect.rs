//! [`Dialect`]: how a server words its answers beyond RFC 6749: the error
//! codes that mean invalid scope, and the JSON members that carry a
//! redirect.

use std::fmt;

use super::location::{carries_invalid_scope, find_in_parameters, INVALID_SCOPE};

/// What the layer reads as a server's way of saying things.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Dialect {
    /// Error codes that mean invalid scope (`invalid_scope` by default).
    invalid_scope_codes: Vec<Box<str>>,
    /// Members of a JSON answer that hold a redirect URL, read like a
    /// `Location` (`redirect_to` by default).
    redirect_members: Vec<Box<str>>,
    /// Whether the codes are RFC 6749's alone: decided once, as every
    /// redirect asks.
    rfc_only: bool,
}

impl Default for Dialect {
    fn default() -> Self {
        Self {
            invalid_scope_codes: vec![INVALID_SCOPE.into()],
            redirect_members: vec!["redirect_to".into()],
            rfc_only: true,
        }
    }
}

impl Dialect {
    /// The same dialect with these error codes for invalid scope.
    pub(crate) fn with_invalid_scope_codes<S: AsRef<str>>(
        mut self,
        codes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.invalid_scope_codes = codes.into_iter().map(|code| code.as_ref().into()).collect();
        self.rfc_only = matches!(&*self.invalid_scope_codes, [code] if &**code == INVALID_SCOPE);
        self
    }

    /// The same dialect with these redirect members.
    #[cfg(feature = "bodies")]
    pub(crate) fn with_redirect_members<S: AsRef<str>>(
        mut self,
        members: impl IntoIterator<Item = S>,
    ) -> Self {
        self.redirect_members = members
            .into_iter()
            .map(|member| member.as_ref().into())
            .collect();
        self
    }

    /// Whether `code` is one of the codes that mean invalid scope.
    pub(crate) fn means_invalid_scope(&self, code: &str) -> bool {
        self.invalid_scope_codes
            .iter()
            .any(|known| &**known == code)
    }

    /// Whether `name` is a member that carries a redirect.
    #[cfg(feature = "bodies")]
    pub(crate) fn is_redirect_member(&self, name: &str) -> bool {
        self.redirect_members.iter().any(|member| &**member == name)
    }

    /// Whether a `Location` (or a redirect member's URL) says invalid
    /// scope. With only `invalid_scope`, the vectorized test rules out
    /// success redirects without decoding; other codes are looked for by
    /// decoding any Location that holds the bytes `error`.
    #[inline(always)]
    pub(crate) fn location_says_invalid_scope(&self, location: &[u8]) -> bool {
        if self.rfc_only {
            carries_invalid_scope(location)
        } else {
            self.location_says_an_alias(location)
        }
    }

    /// The alias path, out of the way of the default one (which it would
    /// otherwise cost 8 instructions per redirect, callgrind says).
    #[cold]
    #[inline(never)]
    fn location_says_an_alias(&self, location: &[u8]) -> bool {
        memchr::memmem::find(location, b"error").is_some()
            && find_in_parameters(location, |parameters| {
                form_urlencoded::parse(parameters)
                    .any(|(name, value)| name == "error" && self.means_invalid_scope(&value))
                    .then_some(())
            })
            .is_some()
    }
}

impl fmt::Debug for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialect")
            .field("invalid_scope_codes", &self.invalid_scope_codes)
            .field("redirect_members", &self.redirect_members)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_rfc_and_redirect_to() {
        let dialect = Dialect::default();
        assert!(dialect.means_invalid_scope("invalid_scope"));
        assert!(!dialect.means_invalid_scope("scope_invalid"));
        #[cfg(feature = "bodies")]
        {
            assert!(dialect.is_redirect_member("redirect_to"));
            assert!(!dialect.is_redirect_member("redirect_uri"));
        }
        assert!(dialect.location_says_invalid_scope(b"https://c/cb?error=invalid_scope"));
        assert!(!dialect.location_says_invalid_scope(b"https://c/cb?error=scope_invalid"));
    }

    #[test]
    fn aliases_are_read_in_locations_too() {
        let dialect =
            Dialect::default().with_invalid_scope_codes(["invalid_scope", "scope_invalid"]);
        for location in [
            &b"https://c/cb?error=scope_invalid&state=s"[..],
            b"https://c/cb#state=s&error=scope%5Finvalid",
            b"https://c/cb?error=invalid_scope",
        ] {
            assert!(dialect.location_says_invalid_scope(location));
        }
        for location in [
            &b"https://c/cb?code=scope_invalid"[..],
            b"https://c/cb?error=invalid_request&error_description=scope_invalid",
            b"",
            b"\xff?error=\xff",
        ] {
            assert!(!dialect.location_says_invalid_scope(location));
        }
        let only_alias = Dialect::default().with_invalid_scope_codes(["scope_invalid"]);
        assert!(!only_alias.location_says_invalid_scope(b"https://c/cb?error=invalid_scope"));
    }
}
