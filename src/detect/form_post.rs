//! Pure: what a `response_mode=form_post` page posts back to the client
//! (OAuth 2.0 Form Post Response Mode): the hidden inputs of its form, read
//! with html5gum's tokenizer, never with a pattern over the HTML.

use html5gum::{DefaultEmitter, Token, Tokenizer};
use http::{HeaderMap, StatusCode};

use super::media_type::{has_media_type, is_compressed};

/// Whether an answer may be a `response_mode=form_post` page: a `200` (a
/// code) or `400` (an error, as node-oidc-provider answers) HTML page that
/// is not compressed. The status first, then one header, then the other.
pub(crate) fn page_worth_reading(status: StatusCode, headers: &HeaderMap) -> bool {
    matches!(status, StatusCode::OK | StatusCode::BAD_REQUEST)
        && has_media_type(headers, "text/html")
        && !is_compressed(headers)
}

/// The parameters a form_post page carries, the first of each name.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct FormPostPage {
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) state: Option<String>,
}

impl FormPostPage {
    /// Reads the `<input name=… value=…>` of a whole page (at most the
    /// layer's body limit, so the work is bounded). `None` when the page
    /// carries neither an `error` nor a `code`: not a form_post answer.
    pub(crate) fn read(html: &[u8]) -> Option<Self> {
        // Most pages (a login form, a consent screen) name neither.
        memchr::memmem::find(html, b"code").or_else(|| memchr::memmem::find(html, b"error"))?;
        let mut page = Self::default();
        // Script, style and textarea contents are text, not tags, as a
        // browser reads them.
        let mut emitter = DefaultEmitter::default();
        emitter.naively_switch_states(true);
        for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
            let Token::StartTag(tag) = token else {
                continue;
            };
            if tag.name.as_slice() != b"input" {
                continue;
            }
            let attribute = |name: &[u8]| {
                tag.attributes
                    .iter()
                    .find(|(key, _)| key.as_slice() == name)
                    .map(|(_, value)| String::from_utf8_lossy(&value.value).into_owned())
            };
            let (Some(name), Some(value)) = (attribute(b"name"), attribute(b"value")) else {
                continue;
            };
            let slot = match name.as_str() {
                "error" => &mut page.error,
                "error_description" => &mut page.error_description,
                "code" => &mut page.code,
                "state" => &mut page.state,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        (page.error.is_some() || page.code.is_some()).then_some(page)
    }

    /// Whether the page posts `error=invalid_scope` back.
    pub(crate) fn is_invalid_scope(&self) -> bool {
        self.error.as_deref() == Some("invalid_scope")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape node-oidc-provider answers with (9.x), entities included.
    const SUCCESS: &str = r#"<!DOCTYPE html><html><head><title>Submitting Callback</title>
<script nonce="x">document.addEventListener('DOMContentLoaded', function () { document.forms[0].submit() });</script>
</head><body><form method="post" action="https://client.example/cb">
<input type="hidden" name="code" value="a&amp;b-Code_1"/>
<input type="hidden" name="state" value="st&#97;te"/>
<input type="hidden" name="iss" value="http://127.0.0.1:3000"/>
<noscript>Your browser does not support JavaScript or you've disabled it.<br/><button autofocus type="submit">Continue</button></noscript>
</form></body></html>"#;

    #[test]
    fn a_success_page_gives_its_code_and_state() {
        let page = FormPostPage::read(SUCCESS.as_bytes()).unwrap();
        assert_eq!(page.code.as_deref(), Some("a&b-Code_1"));
        assert_eq!(page.state.as_deref(), Some("state"));
        assert_eq!(page.error, None);
        assert!(!page.is_invalid_scope());
    }

    #[test]
    fn an_error_page_is_invalid_scope_only_when_it_says_so() {
        let page = |error: &str| {
            FormPostPage::read(
                format!(r#"<form method=post action=x><input type=hidden name=error value={error}><input name=state value=s></form>"#)
                    .as_bytes(),
            )
            .unwrap()
        };
        assert!(page("invalid_scope").is_invalid_scope());
        assert!(page("'invalid_scope'").is_invalid_scope(), "single-quoted");
        assert!(
            page("invalid&#95;scope").is_invalid_scope(),
            "a character reference"
        );
        assert!(
            !page("invalid%5Fscope").is_invalid_scope(),
            "HTML is not percent-decoded"
        );
        assert!(!page("invalid_request").is_invalid_scope());
        assert!(!page("invalid_scopes").is_invalid_scope());
    }

    #[test]
    fn lookalikes_in_text_comments_and_scripts_are_not_inputs() {
        for html in [
            "<p>name=\"code\" value=\"x\"</p>",
            "<!-- <input name=code value=x> -->",
            "<script>var s = '<input name=\"code\" value=\"x\">'</script>",
            "<textarea><input name=error value=invalid_scope></textarea>",
            "<input name=code>",
            "a login page with no form post",
            "",
        ] {
            assert_eq!(FormPostPage::read(html.as_bytes()), None, "{html}");
        }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        for html in [
            &b"<input name=\xff\xfe value=\x00>"[..],
            b"<input name=code value=\"\xff\">",
            b"<<<<input name=code value=x",
            b"<input name=code value=x name=code value=y>",
        ] {
            let _ = FormPostPage::read(html);
        }
        assert_eq!(
            FormPostPage::read(b"<input name=code value=\"\xff\">")
                .unwrap()
                .code
                .as_deref(),
            Some("\u{fffd}")
        );
        let deep = format!("{}<input name=code value=x>", "<div>".repeat(100_000));
        assert_eq!(
            FormPostPage::read(deep.as_bytes()).unwrap().code.as_deref(),
            Some("x")
        );
    }
}
