//! [`ScopeSet`]: an ordered set of OAuth scope tokens (RFC 6749 §3.3).

use std::collections::{BTreeSet, HashSet};
use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Up to this many scopes, membership is a linear scan (no hashing, no
/// allocation: cheaper than SipHash for sets this small, as callgrind shows);
/// above it, a hash set keeps dedup and difference linear in the input.
const LINEAR_SCAN_MAX: usize = 32;

/// An ordered set of OAuth 2.0 scope tokens.
///
/// A scope string (RFC 6749 §3.3) is a list of tokens separated by spaces.
/// `ScopeSet` keeps each token once, in the order it was first seen, and
/// drops empty tokens, so `"a  b a"` holds `a` and `b`. Every constructor
/// splits its input on spaces the same way, so a `ScopeSet` never holds a
/// token with a space in it and always prints back as a valid scope string.
///
/// Equality is set equality: order does not matter. Cloning is a reference
/// count bump, so one set can feed a layer, a test and a hook at once.
///
/// Tokens are kept as given, even those with characters RFC 6749 forbids:
/// what a peer sent is what is reported (escaped when it is logged).
///
/// # Example
///
/// ```
/// use invalid_scope_observer::ScopeSet;
///
/// let requested = ScopeSet::parse("user:read llm_gateway:read insight:write");
/// let grantable = ScopeSet::from(["user:read", "insight:write"]);
///
/// assert_eq!(requested.difference(&grantable).to_string(), "llm_gateway:read");
/// assert!(!requested.is_subset(&grantable));
/// assert_eq!(ScopeSet::parse("b a"), ScopeSet::parse("a b"));
/// ```
#[derive(Clone, Default)]
pub struct ScopeSet {
    scopes: Arc<[Arc<str>]>,
}

impl ScopeSet {
    /// An empty set.
    ///
    /// ```
    /// assert!(invalid_scope_observer::ScopeSet::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a space-separated scope string: empty tokens are dropped and
    /// repeated tokens are kept once, at their first position.
    ///
    /// ```
    /// use invalid_scope_observer::ScopeSet;
    ///
    /// let scopes = ScopeSet::parse(" openid  profile openid ");
    /// assert_eq!(scopes.to_string(), "openid profile");
    /// ```
    pub fn parse(scope: &str) -> Self {
        Self::from_iter([scope])
    }

    /// Whether `scope` is in the set.
    ///
    /// ```
    /// use invalid_scope_observer::ScopeSet;
    ///
    /// assert!(ScopeSet::parse("openid email").contains("email"));
    /// ```
    pub fn contains(&self, scope: &str) -> bool {
        self.scopes.iter().any(|own| **own == *scope)
    }

    /// How many scopes the set holds.
    ///
    /// ```
    /// assert_eq!(invalid_scope_observer::ScopeSet::parse("a b a").len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// Whether the set holds no scope.
    ///
    /// ```
    /// assert!(invalid_scope_observer::ScopeSet::parse("  ").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// The scopes, in the order they were first seen.
    ///
    /// ```
    /// use invalid_scope_observer::ScopeSet;
    ///
    /// let scopes = ScopeSet::parse("b a");
    /// assert_eq!(scopes.iter().collect::<Vec<_>>(), ["b", "a"]);
    /// ```
    pub fn iter(&self) -> ScopeIter<'_> {
        ScopeIter {
            scopes: self.scopes.iter(),
        }
    }

    /// The scopes of `self` that `other` lacks, in `self`'s order.
    ///
    /// Runs in time linear in `self.len() + other.len()`.
    ///
    /// ```
    /// use invalid_scope_observer::ScopeSet;
    ///
    /// let requested = ScopeSet::parse("a b c");
    /// let grantable = ScopeSet::parse("b");
    /// assert_eq!(requested.difference(&grantable).to_string(), "a c");
    /// ```
    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        self.select_by_membership(other, false)
    }

    /// The scopes of `self` that `other` also has, in `self`'s order.
    ///
    /// ```
    /// use invalid_scope_observer::ScopeSet;
    ///
    /// let requested = ScopeSet::parse("a b c");
    /// assert_eq!(requested.intersection(&ScopeSet::parse("c a")).to_string(), "a c");
    /// ```
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        self.select_by_membership(other, true)
    }

    /// Whether every scope of `self` is in `other`.
    ///
    /// ```
    /// use invalid_scope_observer::ScopeSet;
    ///
    /// assert!(ScopeSet::parse("a").is_subset(&ScopeSet::parse("a b")));
    /// assert!(!ScopeSet::parse("a c").is_subset(&ScopeSet::parse("a b")));
    /// ```
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        if self.len() > other.len() {
            return false;
        }
        let index = Index::of(other);
        self.scopes.iter().all(|scope| index.contains(scope))
    }

    /// The scopes of `self` whose membership in `other` is `in_other`, in
    /// `self`'s order.
    fn select_by_membership(&self, other: &ScopeSet, in_other: bool) -> ScopeSet {
        let index = Index::of(other);
        let selected: Vec<Arc<str>> = self
            .scopes
            .iter()
            .filter(|scope| index.contains(scope) == in_other)
            .cloned()
            .collect();
        ScopeSet {
            scopes: selected.into(),
        }
    }
}

/// Gathers scopes in first-seen order, dropping empty and repeated tokens in
/// time linear in the number of tokens.
#[derive(Default)]
struct Collector {
    scopes: Vec<Arc<str>>,
    /// Filled only once `scopes` outgrows a linear scan.
    seen: HashSet<Arc<str>>,
}

impl Collector {
    fn push(&mut self, piece: &str) {
        for token in piece.split(' ').filter(|token| !token.is_empty()) {
            if self.scopes.len() < LINEAR_SCAN_MAX {
                if !self.scopes.iter().any(|own| **own == *token) {
                    self.scopes.push(Arc::from(token));
                }
                continue;
            }
            if self.seen.is_empty() {
                self.seen.extend(self.scopes.iter().cloned());
            }
            if !self.seen.contains(token) {
                let scope: Arc<str> = Arc::from(token);
                self.seen.insert(Arc::clone(&scope));
                self.scopes.push(scope);
            }
        }
    }

    fn finish(self) -> ScopeSet {
        ScopeSet {
            scopes: self.scopes.into(),
        }
    }
}

/// A membership look-up into one set: a linear scan for small sets, a hash
/// set for large ones, so that comparing two sets stays linear.
enum Index<'a> {
    Scan(&'a [Arc<str>]),
    Hashed(HashSet<&'a str>),
}

impl<'a> Index<'a> {
    fn of(set: &'a ScopeSet) -> Self {
        if set.len() <= LINEAR_SCAN_MAX {
            Index::Scan(&set.scopes)
        } else {
            Index::Hashed(set.iter().collect())
        }
    }

    fn contains(&self, scope: &str) -> bool {
        match self {
            Index::Scan(scopes) => scopes.iter().any(|own| **own == *scope),
            Index::Hashed(scopes) => scopes.contains(scope),
        }
    }
}

impl PartialEq for ScopeSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.is_subset(other)
    }
}

impl Eq for ScopeSet {}

impl fmt::Display for ScopeSet {
    /// The scopes joined by single spaces, in insertion order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, scope) in self.iter().enumerate() {
            if position > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromStr for ScopeSet {
    type Err = Infallible;

    /// Same as [`ScopeSet::parse`]: every string is a scope string.
    fn from_str(scope: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(scope))
    }
}

impl<S: AsRef<str>> FromIterator<S> for ScopeSet {
    /// Collects scopes; an item with spaces counts as several scopes.
    fn from_iter<I: IntoIterator<Item = S>>(items: I) -> Self {
        let mut collector = Collector::default();
        for item in items {
            collector.push(item.as_ref());
        }
        collector.finish()
    }
}

impl<S: AsRef<str>, const N: usize> From<[S; N]> for ScopeSet {
    fn from(scopes: [S; N]) -> Self {
        scopes.into_iter().collect()
    }
}

impl<S: AsRef<str>, const N: usize> From<&[S; N]> for ScopeSet {
    fn from(scopes: &[S; N]) -> Self {
        scopes.iter().collect()
    }
}

impl<S: AsRef<str>> From<&[S]> for ScopeSet {
    fn from(scopes: &[S]) -> Self {
        scopes.iter().collect()
    }
}

impl<S: AsRef<str>> From<Vec<S>> for ScopeSet {
    fn from(scopes: Vec<S>) -> Self {
        scopes.into_iter().collect()
    }
}

impl<S: AsRef<str>> From<&Vec<S>> for ScopeSet {
    fn from(scopes: &Vec<S>) -> Self {
        scopes.iter().collect()
    }
}

/// A hash set has no order: the `ScopeSet` takes the set's iteration order.
impl<S: AsRef<str>, H> From<HashSet<S, H>> for ScopeSet {
    fn from(scopes: HashSet<S, H>) -> Self {
        scopes.into_iter().collect()
    }
}

/// A hash set has no order: the `ScopeSet` takes the set's iteration order.
impl<S: AsRef<str>, H> From<&HashSet<S, H>> for ScopeSet {
    fn from(scopes: &HashSet<S, H>) -> Self {
        scopes.iter().collect()
    }
}

impl<S: AsRef<str>> From<BTreeSet<S>> for ScopeSet {
    fn from(scopes: BTreeSet<S>) -> Self {
        scopes.into_iter().collect()
    }
}

impl<S: AsRef<str>> From<&BTreeSet<S>> for ScopeSet {
    fn from(scopes: &BTreeSet<S>) -> Self {
        scopes.iter().collect()
    }
}

impl From<&ScopeSet> for ScopeSet {
    fn from(scopes: &ScopeSet) -> Self {
        scopes.clone()
    }
}

impl From<&str> for ScopeSet {
    /// Same as [`ScopeSet::parse`].
    fn from(scope: &str) -> Self {
        Self::parse(scope)
    }
}

impl<'a> IntoIterator for &'a ScopeSet {
    type Item = &'a str;
    type IntoIter = ScopeIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The scopes of a [`ScopeSet`] in order, from [`ScopeSet::iter`].
///
/// ```
/// # use invalid_scope_observer::ScopeSet;
/// let set = ScopeSet::parse("openid email");
/// let scopes: Vec<&str> = set.iter().collect();
/// assert_eq!(scopes, ["openid", "email"]);
/// ```
#[derive(Clone, Debug)]
pub struct ScopeIter<'a> {
    scopes: std::slice::Iter<'a, Arc<str>>,
}

impl<'a> Iterator for ScopeIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.scopes.next().map(|scope| &**scope)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.scopes.size_hint()
    }
}

impl DoubleEndedIterator for ScopeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.scopes.next_back().map(|scope| &**scope)
    }
}

impl ExactSizeIterator for ScopeIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(set: &ScopeSet) -> Vec<&str> {
        set.iter().collect()
    }

    #[test]
    fn parse_drops_empty_tokens_and_repeats_keeping_first_position() {
        let set = ScopeSet::parse("  b a  b c a ");
        assert_eq!(scopes(&set), ["b", "a", "c"]);
        assert_eq!(set.to_string(), "b a c");
    }

    #[test]
    fn parse_of_nothing_but_spaces_is_empty() {
        assert!(ScopeSet::parse("").is_empty());
        assert!(ScopeSet::parse("     ").is_empty());
        assert_eq!(ScopeSet::parse("").to_string(), "");
    }

    #[test]
    fn only_space_separates_tokens() {
        // RFC 6749 §3.3 separates with %x20 only: a tab or newline is part of a
        // (malformed) token, kept as sent so it can be reported.
        let set = ScopeSet::parse("a\tb c\nd");
        assert_eq!(scopes(&set), ["a\tb", "c\nd"]);
    }

    #[test]
    fn hostile_tokens_are_kept_verbatim() {
        let set = ScopeSet::parse("\u{1b}[31mred \"quoted\" \u{0} é");
        assert_eq!(scopes(&set), ["\u{1b}[31mred", "\"quoted\"", "\u{0}", "é"]);
    }

    #[test]
    fn equality_ignores_order_but_not_content() {
        assert_eq!(ScopeSet::parse("a b"), ScopeSet::parse("b a a"));
        assert_ne!(ScopeSet::parse("a b"), ScopeSet::parse("a"));
        assert_ne!(ScopeSet::parse("a b"), ScopeSet::parse("a c"));
        assert_eq!(ScopeSet::new(), ScopeSet::parse(" "));
    }

    #[test]
    fn difference_and_intersection_keep_the_left_order() {
        let requested = ScopeSet::parse("d c b a");
        let grantable = ScopeSet::parse("a c");
        assert_eq!(scopes(&requested.difference(&grantable)), ["d", "b"]);
        assert_eq!(scopes(&requested.intersection(&grantable)), ["c", "a"]);
        assert!(grantable.difference(&requested).is_empty());
        assert!(ScopeSet::new().difference(&grantable).is_empty());
        assert_eq!(requested.difference(&ScopeSet::new()), requested);
    }

    #[test]
    fn subset() {
        let all = ScopeSet::parse("a b c");
        assert!(ScopeSet::new().is_subset(&all));
        assert!(ScopeSet::parse("c a").is_subset(&all));
        assert!(all.is_subset(&all));
        assert!(!ScopeSet::parse("a z").is_subset(&all));
        assert!(!all.is_subset(&ScopeSet::new()));
    }

    #[test]
    fn large_sets_dedup_and_diff_like_small_ones() {
        let many: Vec<String> = (0..1000).map(|n| format!("s{}", n % 700)).collect();
        let set: ScopeSet = many.iter().collect();
        assert_eq!(set.len(), 700);
        assert_eq!(set.iter().next(), Some("s0"));
        assert_eq!(set.iter().next_back(), Some("s699"));

        let evens: ScopeSet = (0..700).step_by(2).map(|n| format!("s{n}")).collect();
        let odds = set.difference(&evens);
        assert_eq!(odds.len(), 350);
        assert!(odds
            .iter()
            .all(|scope| scope[1..].parse::<u32>().unwrap() % 2 == 1));
        assert_eq!(set.intersection(&evens), evens);
        assert!(evens.is_subset(&set));
        assert!(!set.is_subset(&evens));
    }

    #[test]
    fn every_constructor_splits_on_spaces() {
        let expected = ScopeSet::parse("a b c");
        assert_eq!(ScopeSet::from(["a b", "c"]), expected);
        assert_eq!(ScopeSet::from(&["a", "b c", "a"][..]), expected);
        assert_eq!(ScopeSet::from("a b c"), expected);
        assert_eq!(["c", "b a"].into_iter().collect::<ScopeSet>(), expected);
        assert_eq!("a b c".parse::<ScopeSet>().unwrap(), expected);
    }

    #[test]
    fn debug_lists_the_scopes() {
        assert_eq!(format!("{:?}", ScopeSet::parse("a b")), r#"{"a", "b"}"#);
    }

    #[test]
    fn iter_is_exact_and_double_ended() {
        let set = ScopeSet::parse("a b c");
        assert_eq!(set.iter().len(), 3);
        assert_eq!(set.iter().rev().collect::<Vec<_>>(), ["c", "b", "a"]);
        assert_eq!((&set).into_iter().count(), 3);
    }
}
