//! Log-safe values: peer-chosen text cut to size and escaped.
//!
//! Whatever formatter a user installs (plain text, JSON, logfmt), a value
//! written through these wrappers holds no control character, no newline, no
//! ANSI escape and no Unicode bidirectional or line-separator character: each
//! such character is written as `\u{hex}`, and so is `\` itself, so that an
//! escaped value can never be mistaken for a plain one. Lengths are bounded
//! before escaping, by characters, on character boundaries.

use std::fmt::{self, Write};

use crate::scope::ScopeSet;

/// Free text (a user agent, a client id) with unsafe characters escaped.
pub(crate) struct EscapedText<'a>(pub(crate) &'a str);

impl fmt::Display for EscapedText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, is_plain_text)
    }
}

/// A scope list, space-joined, showing at most `max_scopes` scopes of at
/// most `max_chars` characters each, every token escaped outside the RFC 6749
/// §3.3 scope-token set (`%x21 / %x23-5B / %x5D-7E`).
pub(crate) struct BoundedScopes<'a> {
    scopes: &'a ScopeSet,
    max_scopes: usize,
    max_chars: usize,
}

impl<'a> BoundedScopes<'a> {
    pub(crate) fn new(scopes: &'a ScopeSet, max_scopes: usize, max_chars: usize) -> Self {
        Self {
            scopes,
            max_scopes,
            max_chars,
        }
    }

    /// Whether the display leaves out scopes or cuts one short.
    pub(crate) fn is_cut(&self) -> bool {
        self.scopes.len() > self.max_scopes
            || self
                .scopes
                .iter()
                .take(self.max_scopes)
                .any(|scope| cut_to_chars(scope, self.max_chars).1)
    }
}

impl fmt::Display for BoundedScopes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, scope) in self.scopes.iter().take(self.max_scopes).enumerate() {
            if position > 0 {
                f.write_char(' ')?;
            }
            write_escaped(
                f,
                cut_to_chars(scope, self.max_chars).0,
                is_scope_token_char,
            )?;
        }
        Ok(())
    }
}

/// The first `max_chars` characters of `text`, and whether any were cut.
pub(crate) fn cut_to_chars(text: &str, max_chars: usize) -> (&str, bool) {
    if text.len() <= max_chars {
        // No more characters than bytes: nothing to count.
        return (text, false);
    }
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => (&text[..end], true),
        None => (text, false),
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
/// separators, the bidirectional controls ("Trojan Source", the Arabic
/// letter mark included), and the invisible format characters that make
/// `wizard\u{200b}` read as `wizard`: zero-width spaces and joiners, the
/// word joiner and invisible operators, the byte order mark, the soft
/// hyphen and the tag characters.
fn is_invisible_layout_char(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{E0000}'..='\u{E007F}'
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

    fn unbounded(scopes: &ScopeSet) -> String {
        BoundedScopes::new(scopes, usize::MAX, usize::MAX).to_string()
    }

    #[test]
    fn invisible_format_characters_are_escaped() {
        for (c, written) in [
            ('\u{00AD}', "\\u{ad}"),
            ('\u{061C}', "\\u{61c}"),
            ('\u{200B}', "\\u{200b}"),
            ('\u{200C}', "\\u{200c}"),
            ('\u{200D}', "\\u{200d}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{2064}', "\\u{2064}"),
            ('\u{FEFF}', "\\u{feff}"),
            ('\u{E0000}', "\\u{e0000}"),
            ('\u{E0041}', "\\u{e0041}"),
            ('\u{E007F}', "\\u{e007f}"),
        ] {
            assert_eq!(
                EscapedText(&format!("wizard{c}")).to_string(),
                format!("wizard{written}")
            );
        }
        // Their neighbours stay as they are.
        for plain in ['\u{00AC}', '\u{061B}', '\u{2010}', '\u{E0080}'] {
            assert_eq!(
                EscapedText(&plain.to_string()).to_string(),
                plain.to_string()
            );
        }
    }

    #[test]
    fn scopes_outside_the_token_set_are_escaped() {
        let scopes = ScopeSet::from(["user:read", "a\"b", "c\\d", "é", "x\ny", "\u{1b}[0m"]);
        assert_eq!(
            unbounded(&scopes),
            "user:read a\\u{22}b c\\u{5c}d \\u{e9} x\\u{a}y \\u{1b}[0m"
        );
    }

    #[test]
    fn every_scope_token_char_is_plain() {
        let all: String = ('\x21'..='\x7e')
            .filter(|c| *c != '"' && *c != '\\')
            .collect();
        let scopes = ScopeSet::parse(&all);
        assert_eq!(unbounded(&scopes), all);
    }

    #[test]
    fn scope_lists_are_bounded_in_count_and_length() {
        let scopes = ScopeSet::parse("aaaa bb cccccc d");
        let bounded = BoundedScopes::new(&scopes, 3, 4);
        assert_eq!(bounded.to_string(), "aaaa bb cccc");
        assert!(bounded.is_cut());
        assert!(BoundedScopes::new(&scopes, 4, 5).is_cut(), "cccccc is cut");
        assert!(!BoundedScopes::new(&scopes, 4, 6).is_cut());
        assert!(BoundedScopes::new(&scopes, 3, 6).is_cut(), "d is left out");
        assert_eq!(BoundedScopes::new(&scopes, 0, 6).to_string(), "");
    }

    #[test]
    fn length_is_bounded_before_escaping_on_char_boundaries() {
        let scopes = ScopeSet::parse("ééééé");
        assert_eq!(
            BoundedScopes::new(&scopes, 1, 2).to_string(),
            "\\u{e9}\\u{e9}"
        );
        assert_eq!(cut_to_chars("日本語", 2), ("日本", true));
        assert_eq!(cut_to_chars("日本語", 3), ("日本語", false));
        assert_eq!(cut_to_chars("", 0), ("", false));
        assert_eq!(cut_to_chars("a", 0), ("", true));
    }
}
