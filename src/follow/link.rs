//! [`Link`]: a keyed hash of what two legs of one authorization share,
//! bound to the client they belong to.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// What the legs of one authorization share, by kind: the same text is a
/// different link as a `state` and as a code.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shared {
    /// The client's `state`, echoed in the code redirect.
    State,
    /// An `S256` PKCE `code_challenge` (RFC 7636), or what the token
    /// request's `code_verifier` hashes to.
    Challenge,
    /// A `plain` PKCE challenge (or one without a method, which RFC 7636
    /// §4.3 makes `plain`), or the token request's `code_verifier` itself:
    /// a link of its own, so that a verifier equal to an `S256` challenge
    /// (which travels through the browser) redeems nothing.
    PlainChallenge,
    /// The authorization code.
    Code,
    /// The `device_code` of a device authorization (RFC 8628).
    DeviceCode,
    /// The `state` as a code redirect echoes it to a later request that
    /// names no client (node-oidc-provider's `/auth/<uid>`): the one link
    /// not bound to a client, used only to find the authorization a code
    /// belongs to.
    EchoedState,
}

/// A keyed hash of one shared value: the only form in which a `state`, a
/// challenge or a code is kept. Without the key it says nothing about the
/// value, and it never reaches a log.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Link([u8; 16]);

#[cfg(feature = "redis")]
impl Link {
    /// Lowercase hexadecimal: how a link is named outside the process.
    pub(crate) fn to_hex(self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Link(..)")
    }
}

/// HMAC-SHA-256 under the store's key, cut to 128 bits.
#[derive(Clone)]
pub(crate) struct LinkKey(Hmac<Sha256>);

/// A value hashed under the key but not yet bound to a client: what a code
/// redirect to a request that names no client leaves, bound once the store
/// knows whose authorization it belongs to. It says nothing about the value.
#[derive(Clone)]
pub(crate) struct Unbound {
    key: LinkKey,
    hashed: [u8; 32],
}

impl LinkKey {
    pub(crate) fn new(key: &[u8]) -> Self {
        // HMAC takes a key of any length.
        Self(Hmac::new_from_slice(key).unwrap_or_else(|_| unreachable!()))
    }

    /// The link of `value` shared as `shared` by the legs of one
    /// authorization of `client_id`: the same value of another client is
    /// another link.
    ///
    /// A code is hashed in two steps (the value, then the client), because
    /// a code redirect to a request that names no client is hashed before
    /// the store knows whose it is ([`unbound`](Self::unbound)). Every other
    /// kind is always hashed with its client at hand: one HMAC of the kind
    /// (its high bit set, so the two forms never share a first byte), the
    /// client's length, the client and the value.
    pub(crate) fn link(&self, shared: Shared, client_id: &str, value: &str) -> Link {
        if matches!(shared, Shared::Code) {
            return self.unbound(shared, value).bind(client_id);
        }
        let mut mac = self.0.clone();
        mac.update(&[shared as u8 | 0x80]);
        mac.update(&(client_id.len() as u64).to_le_bytes());
        mac.update(client_id.as_bytes());
        mac.update(value.as_bytes());
        truncated(mac)
    }

    /// `value` hashed, to be [bound](Unbound::bind) to a client later (a
    /// code's link is always made this way).
    pub(crate) fn unbound(&self, shared: Shared, value: &str) -> Unbound {
        let mut mac = self.0.clone();
        mac.update(&[shared as u8]);
        mac.update(value.as_bytes());
        Unbound {
            key: self.clone(),
            hashed: mac.finalize().into_bytes().into(),
        }
    }
}

impl Unbound {
    /// The link for `client_id` (its length first, so no two pairs of
    /// client and value hash alike).
    pub(crate) fn bind(&self, client_id: &str) -> Link {
        let mut mac = self.key.0.clone();
        mac.update(&self.hashed);
        mac.update(&(client_id.len() as u64).to_le_bytes());
        mac.update(client_id.as_bytes());
        truncated(mac)
    }
}

/// The first 128 bits of an HMAC.
fn truncated(mac: Hmac<Sha256>) -> Link {
    let digest = mac.finalize().into_bytes();
    let mut link = [0; 16];
    link.copy_from_slice(&digest[..16]);
    Link(link)
}

impl std::fmt::Debug for Unbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unbound(..)")
    }
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

/// The `S256` challenge of a `code_verifier` (RFC 7636 §4.2):
/// `BASE64URL(SHA256(verifier))`, without padding.
pub(crate) fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_link_depends_on_the_key_the_kind_the_client_and_the_value() {
        let key = LinkKey::new(b"one key");
        let link = key.link(Shared::Code, "app", "abc");
        assert_eq!(link, key.link(Shared::Code, "app", "abc"));
        assert_eq!(link, key.unbound(Shared::Code, "abc").bind("app"));
        // Every other kind is one HMAC, still bound to its client.
        let state = key.link(Shared::State, "app", "abc");
        assert_ne!(state, key.unbound(Shared::State, "abc").bind("app"));
        assert_ne!(state, key.link(Shared::State, "other-app", "abc"));
        assert_ne!(
            state,
            key.link(Shared::State, "ap", "pabc"),
            "the length first"
        );
        assert_ne!(link, key.link(Shared::State, "app", "abc"));
        assert_ne!(link, key.link(Shared::Code, "app", "abd"));
        assert_ne!(link, key.link(Shared::Code, "other-app", "abc"));
        assert_ne!(link, key.link(Shared::Code, "", "abc"));
        assert_ne!(
            link,
            LinkKey::new(b"another key").link(Shared::Code, "app", "abc")
        );
        assert_eq!(format!("{link:?}"), "Link(..)");
        assert_eq!(
            format!("{:?}", key.unbound(Shared::Code, "abc")),
            "Unbound(..)"
        );
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_link_in_hexadecimal_is_32_digits() {
        let link = LinkKey::new(b"key").link(Shared::Code, "app", "abc");
        let hex = link.to_hex();
        assert_eq!(hex.len(), 32);
        assert!(hex
            .bytes()
            .all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase()));
    }
}
