//! Log-safe `Display` wrappers for values a peer chose.
//!
//! Whatever formatter a user installs (plain text, JSON, logfmt), a value
//! written through these wrappers holds no control character, no newline, no
//! ANSI escape and no Unicode bidirectional or line-separator character: each
//! such character is written as `\u{hex}`, and so is `\` itself, so that an
//! escaped value can never be mistaken for a plain one.

use std::fmt::{self, Write};

use crate::ScopeSet;

/// Free text (a user agent, a client id) with unsafe characters escaped.
pub(crate) struct EscapedText<'a>(pub(crate) &'a str);

impl fmt::Display for EscapedText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, is_plain_text)
    }
}

/// A scope list, space-joined, each token escaped outside the RFC 6749 §3.3
/// scope-token set (`%x21 / %x23-5B / %x5D-7E`).
pub(crate) struct EscapedScopes<'a>(pub(crate) &'a ScopeSet);

impl fmt::Display for EscapedScopes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, scope) in self.0.iter().enumerate() {
            if position > 0 {
                f.write_char(' ')?;
            }
            write_escaped(f, scope, is_scope_token_char)?;
        }
        Ok(())
    }
}

fn write_escaped(
    f: &mut fmt::Formatter<'_>,
    text: &str,
    is_plain: fn(char) -> bool,
) -> fmt::Result {
    let mut rest = text;
    while let Some(at) = rest.find(|c: char| !is_plain(c)) {
        f.write_str(&rest[..at])?;
        let escaped = rest[at..]
            .chars()
            .next()
            .expect("find returned a char boundary");
        write!(f, "\\u{{{:x}}}", u32::from(escaped))?;
        rest = &rest[at + escaped.len_utf8()..];
    }
    f.write_str(rest)
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token_char(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

fn is_plain_text(c: char) -> bool {
    !(c.is_control() || c == '\\' || is_invisible_layout_char(c))
}

/// Characters that move or hide text when a log is shown: line and paragraph
/// separators and the bidirectional controls ("Trojan Source").
fn is_invisible_layout_char(c: char) -> bool {
    matches!(
        c,
        '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_through() {
        let agent = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0 — ünïcödé 日本";
        assert_eq!(EscapedText(agent).to_string(), agent);
    }

    #[test]
    fn controls_newlines_ansi_and_bidi_are_escaped() {
        let hostile = "ok\nlevel=ERROR msg=\"forged\"\r\u{1b}[31m\u{202e}\u{0}\u{7f}\u{85}\\";
        assert_eq!(
            EscapedText(hostile).to_string(),
            "ok\\u{a}level=ERROR msg=\"forged\"\\u{d}\\u{1b}[31m\\u{202e}\\u{0}\\u{7f}\\u{85}\\u{5c}"
        );
    }

    #[test]
    fn scopes_outside_the_token_set_are_escaped() {
        let scopes = ScopeSet::from(["user:read", "a\"b", "c\\d", "é", "x\ny", "\u{1b}[0m"]);
        assert_eq!(
            EscapedScopes(&scopes).to_string(),
            "user:read a\\u{22}b c\\u{5c}d \\u{e9} x\\u{a}y \\u{1b}[0m"
        );
    }

    #[test]
    fn every_scope_token_char_is_plain() {
        let all: String = ('\x21'..='\x7e')
            .filter(|c| *c != '"' && *c != '\\')
            .collect();
        let scopes = ScopeSet::parse(&all);
        assert_eq!(EscapedScopes(&scopes).to_string(), all);
    }
}
