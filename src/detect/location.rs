//! Pure: does a `Location` value carry `error=invalid_scope`, and with what `error_description`?

use std::borrow::Cow;

/// The error code of RFC 6749 §4.1.2.1 and §5.2.
pub(crate) const INVALID_SCOPE: &str = "invalid_scope";

/// Whether a redirect's `Location` carries a parameter named `error` whose
/// decoded value is exactly `invalid_scope`, in its query or its fragment
/// (`response_mode=fragment`).
///
/// What counts is what the server said, not whether a browser could follow
/// it: a Location with a bad port, a bad host or a stray space still
/// carries the error. Its query and fragment are found by the WHATWG URL
/// standard's rules for where they start (after leading and trailing C0
/// controls and spaces are trimmed and every ASCII tab and newline is
/// dropped: the fragment after the first `#`, the query after the first `?`
/// before it), and their parameters are decoded with `form_urlencoded`.
/// Bytes that are not UTF-8 decode lossily, so they never spell
/// `invalid_scope`.
///
/// Cost: only a literal `invalid_scope`, a `%` escape of a letter of `error`
/// or `invalid_scope`, or a dropped tab or newline can make these bytes say
/// `error=invalid_scope`. A Location with none of them (a success redirect,
/// RFC 9207's `iss=https%3A%2F%2F…` included) is ruled out by one
/// vectorized pass, without decoding or allocating.
#[inline]
pub(crate) fn carries_invalid_scope(location: &[u8]) -> bool {
    could_spell_invalid_scope(location) && decodes_to_invalid_scope(location)
}

/// The query and fragment of `location`, found and decoded as the URL
/// standard says, hold `error=invalid_scope`. Apart from the cheap test, so
/// that a Location that cannot spell it pays for none of this.
fn decodes_to_invalid_scope(location: &[u8]) -> bool {
    find_in_parameters(location, |parameters| {
        has_invalid_scope_error(parameters).then_some(())
    })
    .is_some()
}

/// Finds something in the parameters of a Location (or any URL): its
/// query, then its fragment, found and decoded as the URL standard says
/// (see [`carries_invalid_scope`]); the first part `find` answers for wins.
pub(crate) fn find_in_parameters<T>(
    location: &[u8],
    mut find: impl FnMut(&[u8]) -> Option<T>,
) -> Option<T> {
    let location = without_tabs_and_newlines(trim_c0_and_space(location));
    let (query, fragment) = query_and_fragment(&location);
    for parameters in [query, fragment].into_iter().flatten() {
        if let Some(found) = find(parameters) {
            return Some(found);
        }
    }
    None
}

/// The `error_description` of a rejecting Location, from the query or
/// fragment that carries the `error` (the first of each name counts).
pub(crate) fn error_description(location: &[u8]) -> Option<String> {
    find_in_parameters(location, |parameters| {
        let mut has_error = false;
        let mut description = None;
        for (name, value) in form_urlencoded::parse(parameters) {
            match &*name {
                "error" => has_error = true,
                "error_description" if description.is_none() => {
                    description = Some(value.into_owned())
                }
                _ => {}
            }
        }
        has_error.then_some(description).flatten()
    })
}

/// The query and the fragment of a trimmed Location, by where the URL
/// standard starts them.
pub(super) fn query_and_fragment(location: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
    let (before_fragment, fragment) = match memchr::memchr(b'#', location) {
        Some(hash) => (&location[..hash], Some(&location[hash + 1..])),
        None => (location, None),
    };
    let query = memchr::memchr(b'?', before_fragment).map(|mark| &before_fragment[mark + 1..]);
    (query, fragment)
}

/// The cheap test before any decoding: could these bytes decode to
/// `error=invalid_scope` at all? Only if they hold one of:
/// - a tab or a newline, which the URL standard drops (`http` refuses CR
///   and LF in a checked header value, but not every value is checked), or
///   any other C0 control, which costs no more to look for;
/// - a `%` escape that starts `%5`, `%6` or `%7`: `_` is `%5F` and the
///   letters of `error` and `invalid_scope` lie in `%61`..=`%76` (`%3A` and
///   `%2F`, as in RFC 9207's `iss`, cannot spell them);
/// - `_sc`: without a tab or such an escape, the value must be the literal
///   `invalid_scope`, which holds it (`session_state`, `id_token` and the
///   like do not).
///
/// One pass over 16 bytes at a time, each with the two bytes after it, and
/// no early exit, so the compiler turns each block into a few vector
/// instructions and gathers the marks of all blocks in one register. (A
/// search that stopped at every `%` would start over at each escape of a
/// success redirect's `iss`, which costs several times more.) The last
/// block is aligned to the end and may overlap the one before it, which
/// changes nothing for an "any".
#[inline]
fn could_spell_invalid_scope(bytes: &[u8]) -> bool {
    let mut hits = [0u8; LANES];
    match bytes.len().checked_sub(BLOCK) {
        Some(last_start) => {
            let mut start = 0;
            while let Some(block) = bytes[start.min(last_start)..].first_chunk() {
                mark_hits(&mut hits, block);
                if start >= last_start {
                    break;
                }
                start += LANES;
            }
            // The last two bytes start no lane of a whole block.
            let mut tail = [PAD; BLOCK];
            tail[..2].copy_from_slice(&bytes[last_start + LANES..]);
            mark_hits(&mut hits, &tail);
        }
        None => {
            // Shorter than a block: padded to two blocks, so that every
            // byte starts a lane.
            let mut padded = [PAD; LANES + BLOCK];
            padded[..bytes.len()].copy_from_slice(bytes);
            for start in [0, LANES] {
                if let Some(block) = padded[start..].first_chunk() {
                    mark_hits(&mut hits, block);
                }
            }
        }
    }
    hits != [0; LANES]
}

const LANES: usize = 16;
/// A block's 16 lanes and the two bytes after the last of them.
const BLOCK: usize = LANES + 2;
/// What fills a block past the end of the bytes: a byte that marks nothing.
const PAD: u8 = b' ';

/// Marks each lane of `block` that holds a C0 control (a tab or a newline;
/// the others, which no checked header value holds, only cost a decode),
/// or starts a letter escape or `_sc` (lane by lane, so the marks of every
/// block gather in one register).
#[inline(always)]
fn mark_hits(hits: &mut [u8; LANES], block: &[u8; BLOCK]) {
    for lane in 0..LANES {
        let (byte, next, after) = (block[lane], block[lane + 1], block[lane + 2]);
        hits[lane] |= u8::from(byte < b' ')
            | (u8::from(byte == b'%') & u8::from(next.wrapping_sub(b'5') < 3))
            | (u8::from(byte == b'_') & u8::from(next == b's') & u8::from(after == b'c'));
    }
}

/// WHATWG URL parsing, first step: strip leading and trailing C0 controls
/// and spaces.
pub(super) fn trim_c0_and_space(bytes: &[u8]) -> &[u8] {
    let is_c0_or_space = |byte: &u8| *byte <= b' ';
    let start = bytes
        .iter()
        .position(|byte| !is_c0_or_space(byte))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !is_c0_or_space(byte))
        .map_or(start, |last| last + 1);
    &bytes[start..end]
}

/// WHATWG URL parsing, second step: remove every ASCII tab and newline.
/// Copies only when there is one.
pub(super) fn without_tabs_and_newlines(bytes: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr3(b'\t', b'\n', b'\r', bytes).is_none() {
        return Cow::Borrowed(bytes);
    }
    Cow::Owned(
        bytes
            .iter()
            .copied()
            .filter(|byte| !matches!(byte, b'\t' | b'\n' | b'\r'))
            .collect(),
    )
}

fn has_invalid_scope_error(parameters: &[u8]) -> bool {
    form_urlencoded::parse(parameters)
        .any(|(name, value)| name == "error" && value == INVALID_SCOPE)
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
        assert!(detects("/cb?error=%69%6e%76%61%6c%69%64%5f%73%63%6f%70%65"));
        assert!(detects("/cb?%65%72%72%6F%72=invalid_scope"));
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
            "/cb?error=%49NVALID_SCOPE",
            "https://invalid_scope.example/?code=1",
            "/cb#?error=invalid_scope",
            "",
        ] {
            assert!(!detects(location), "{location:?} is no rejection");
        }
    }

    #[test]
    fn the_first_question_mark_before_the_fragment_starts_the_query() {
        assert!(detects("/cb?a=1?&error=invalid_scope"));
        assert!(detects("https://user?error=invalid_scope&x=@host/"));
        assert!(
            detects("/cb?x=1#a?&error=invalid_scope"),
            "a fragment parameter"
        );
        assert!(
            !detects("/cb#a#error=invalid_scope"),
            "`#` is part of the name"
        );
        assert!(
            !detects("/cb?a=1?error=invalid_scope"),
            "`?` is part of the value"
        );
    }

    #[test]
    fn repeated_error_parameters_count_if_any_says_invalid_scope() {
        assert!(detects("/cb?error=server_error&error=invalid_scope"));
    }

    #[test]
    fn tabs_and_newlines_are_dropped_as_a_browser_drops_them() {
        assert!(detects("/cb?error=invalid_sc\tope"));
        assert!(detects("/cb?err\tor=invalid_scope"));
        assert!(detects("/cb\t?error=invalid_scope"));
        assert!(detects("/cb?error=invalid_scope\t"));
        assert!(detects("/cb?error=invalid_\r\nscope"));
        assert!(detects("/cb?err\nor=invalid_scope"));
        assert_eq!(&*super::without_tabs_and_newlines(b"a\tb\nc\rd"), b"abcd");
    }

    #[test]
    fn leading_and_trailing_controls_and_spaces_are_trimmed() {
        assert!(detects(" /cb?error=invalid_scope "));
        assert!(detects("\u{1}/cb?error=invalid_scope\u{0}"));
        assert!(
            !detects("/cb?error=invalid_scope%20"),
            "an escaped space stays"
        );
    }

    #[test]
    fn a_location_a_browser_cannot_follow_still_carries_the_error() {
        // The server rejected; that the URL standard refuses the target
        // changes nothing about what the server said.
        assert!(detects("http://[::1?error=invalid_scope"));
        assert!(detects("https://exa mple.com/cb?error=invalid_scope"));
        assert!(detects(
            "https://client.example:99999/cb?error=invalid_scope"
        ));
        assert!(detects("https://xn--a.example/cb?error=invalid_scope"));
        assert!(carries_invalid_scope(b"\xc3\x28/cb?error=invalid_scope"));
    }

    #[test]
    fn success_redirects_are_ruled_out_before_any_decoding() {
        use super::could_spell_invalid_scope;
        for location in [
            "https://client.example/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj",
            "https://client.example/cb?code=abc&state=xyz&iss=https%3A%2F%2Fas.example.com",
            "https://client.example/cb#code=abc&iss=https%3A%2F%2Fas.example.com%2Frealms%2Fmain",
            "https://client.example/cb?state=af0&session_state=7b1c-4e&iss=https%3A%2F%2Fsso.example.com%2Frealms%2Fmain&code=abc",
            "https://client.example/cb#code=abc&id_token=eyJhbGciOiJSUzI1NiJ9.e30.c2ln&state=xyz",
            "/cb?%",
            "/cb?%zz",
            "/cb?%41%2F%80%3a",
        ] {
            assert!(
                !could_spell_invalid_scope(location.as_bytes()),
                "{location}"
            );
        }
        for location in [
            "/cb?%65",
            "/cb?%5f",
            "/cb?%5F",
            "/cb?%76",
            "/cb?x\t",
            "\t",
            "/cb?invalid_scope",
        ] {
            assert!(could_spell_invalid_scope(location.as_bytes()), "{location}");
        }
    }

    #[test]
    fn what_could_spell_it_is_seen_at_every_offset_and_length() {
        use super::could_spell_invalid_scope;
        for length in 0..70 {
            let plain = vec![b'a'; length];
            assert!(!could_spell_invalid_scope(&plain), "{length}");
            for at in 0..=length {
                for (marker, seen) in [
                    (&b"%5F"[..], true),
                    (b"%76", true),
                    (b"%3A", false),
                    (b"%2F", false),
                    (b"\t", true),
                    (b"\n", true),
                    (b"\r", true),
                    (b"%", false),
                    (b"_sc", true),
                    (b"_s", false),
                    (b"invalid_scope", true),
                    (b"session_state", false),
                ] {
                    let mut bytes = plain.clone();
                    bytes.splice(at..at, marker.iter().copied());
                    assert_eq!(
                        could_spell_invalid_scope(&bytes),
                        seen,
                        "{:?}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
            }
        }
    }

    #[test]
    fn malformed_input_never_panics_and_is_no_rejection() {
        assert!(!carries_invalid_scope(b"/cb?error=invalid_scope\xff"));
        for location in ["%", "%%%", "?%zz=%", "?&&==&", "#", "?", "??#?#", "%E2%82"] {
            assert!(!detects(location));
        }
        // Escapes that decode to invalid UTF-8 are replaced, never trusted.
        assert!(!detects("?error=invalid_scope%FF"));
        assert!(!detects("?error=invalid_scope%"));
    }

    #[test]
    fn a_megabyte_of_query_is_just_input() {
        let mut location = String::from("/cb?");
        location.push_str(&"state=%41&".repeat(100_000));
        assert!(!detects(&location));
        location.push_str("error=invalid_scope");
        assert!(detects(&location));
    }

    mod spelled_any_way {
        use proptest::prelude::*;

        use super::super::carries_invalid_scope;

        /// One character of `error=invalid_scope` as a server may write it:
        /// literal, or escaped in lower or upper hex, with tabs and newlines
        /// (which the URL standard drops) before it.
        fn spelled(character: char) -> impl Strategy<Value = String> {
            let dropped =
                prop::collection::vec(prop_oneof![Just("\t"), Just("\n"), Just("\r")], 0..2);
            let form = prop_oneof![
                Just(character.to_string()),
                Just(format!("%{:02x}", u32::from(character))),
                Just(format!("%{:02X}", u32::from(character))),
            ];
            (dropped, form).prop_map(|(dropped, form)| dropped.concat() + &form)
        }

        fn pair() -> impl Strategy<Value = String> {
            let name: Vec<_> = "error".chars().map(spelled).collect();
            let value: Vec<_> = "invalid_scope".chars().map(spelled).collect();
            (name, value).prop_map(|(name, value)| format!("{}={}", name.concat(), value.concat()))
        }

        proptest! {
            #[test]
            fn every_spelling_is_seen(
                pair in pair(),
                target in prop_oneof![Just("https://client.example/cb"), Just("/cb"), Just("")],
                other in "[a-z]{1,5}=[A-Za-z0-9_%.-]{0,40}",
                in_fragment in any::<bool>(),
                first in any::<bool>(),
            ) {
                let parameters = if first { format!("{pair}&{other}") } else { format!("{other}&{pair}") };
                let location = if in_fragment {
                    format!("{target}?code=x#{parameters}")
                } else {
                    format!("{target}?{parameters}#frag")
                };
                prop_assert!(carries_invalid_scope(location.as_bytes()), "{:?}", location);
            }
        }
    }
}
