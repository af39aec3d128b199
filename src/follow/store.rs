//! [`MemoryStore`]: authorizations kept in this process until their token
//! request, bounded in bytes, in count and in time.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::flood::{FloodWarning, Flooded};
use super::link::{Link, Unbound};
use super::{count, AuthorizationStore, Kept, Taken, AMBIGUOUS, EVICTED};

/// The most links one authorization gathers: its code, its `state` (bound
/// and echoed), its challenge, and what a repeat of it or a second code
/// adds.
pub(crate) const LINKS_PER_AUTHORIZATION: usize = 6;

/// What one kept authorization costs beyond its text, as an upper bound:
/// the entry in its map, its id in the queue and its links in theirs, each
/// with the slack of a hash table that grew by doubling (measured in
/// `tests/follow_memory.rs`).
pub(crate) const ENTRY_OVERHEAD_BYTES: usize = 640;

/// Authorizations by link, each for at most `ttl`, at most `capacity` of
/// them and at most `max_bytes` of them all: when full, the oldest go.
/// Every operation is O(1) amortized under one short lock.
#[derive(Debug)]
pub(crate) struct MemoryStore {
    entries: Mutex<Entries>,
    ttl: Duration,
    capacity: usize,
    max_bytes: usize,
    flood: FloodWarning,
}

#[derive(Debug, Default)]
struct Entries {
    by_link: HashMap<Link, u64>,
    authorizations: HashMap<u64, Entry>,
    /// Ids in the order they were kept (and so of expiry: one ttl for
    /// all). Ids already taken stay until they reach the front, or until
    /// the queue holds twice the capacity and is compacted.
    order: VecDeque<u64>,
    next_id: u64,
    /// What the live authorizations cost, by [`Kept::bytes`].
    bytes: usize,
}

#[derive(Debug)]
struct Entry {
    kept: Kept,
    links: Vec<Link>,
    expires: Instant,
    /// A link of it was claimed by another authorization: neither is
    /// reported.
    ambiguous: bool,
    bytes: usize,
}

/// What keeping an authorization did.
#[derive(Debug, PartialEq)]
pub(crate) struct Keeping {
    /// Live authorizations that went to make room.
    pub(crate) evicted: usize,
    /// Whether a link was already another authorization's: both are now
    /// ambiguous, and neither will be reported.
    pub(crate) ambiguous: bool,
}

impl MemoryStore {
    pub(crate) fn new(ttl: Duration, capacity: usize, max_bytes: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            ttl,
            capacity: capacity.max(1),
            max_bytes,
            flood: FloodWarning::default(),
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        // Nothing panics under the lock; the maps stay consistent if it did.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `kept` under each of `links`, which must not be empty.
    ///
    /// A link already in use by a live authorization of the same client
    /// asking the same scopes (a browser repeating the authorize request
    /// after login) joins it. One in use by another authorization of the
    /// same client makes both ambiguous: neither is reported, whichever
    /// came first, so a forged authorize request can neither take over a
    /// real one's links nor be reported in its place. Links bound to
    /// different clients never meet, except the echoed `state`, which no
    /// client binds: one that two clients claim leads nowhere any more,
    /// and both authorizations keep their own links.
    pub(crate) fn keep_at(&self, links: &[Link], kept: Kept, now: Instant) -> Keeping {
        let mut entries = self.entries();
        entries.forget_expired(now);
        let links = &links[..links.len().min(LINKS_PER_AUTHORIZATION)];
        let links: Vec<Link> = links
            .iter()
            .copied()
            .filter(|link| entries.keep_to_one_client(*link, &kept.client_id))
            .collect();
        let links = &links[..];
        if links.is_empty() {
            return Keeping {
                evicted: 0,
                ambiguous: false,
            };
        }
        let claimed: Vec<u64> = links
            .iter()
            .filter_map(|link| entries.by_link.get(link).copied())
            .collect();
        if let Some(&first) = claimed.first() {
            let joins = claimed.iter().all(|id| *id == first)
                && entries
                    .authorizations
                    .get(&first)
                    .is_some_and(|entry| !entry.ambiguous && entry.kept.same_request(&kept));
            if joins {
                entries.join(first, links);
                return Keeping {
                    evicted: 0,
                    ambiguous: false,
                };
            }
            for id in claimed {
                if let Some(entry) = entries.authorizations.get_mut(&id) {
                    entry.ambiguous = true;
                }
            }
            return Keeping {
                evicted: 0,
                ambiguous: true,
            };
        }
        let bytes = kept.bytes();
        let mut evicted = 0;
        while !entries.authorizations.is_empty()
            && (entries.authorizations.len() >= self.capacity
                || entries.bytes + bytes > self.max_bytes)
        {
            if entries.forget_oldest() {
                evicted += 1;
            }
        }
        let id = entries.next_id;
        entries.next_id += 1;
        for link in links {
            entries.by_link.insert(*link, id);
        }
        entries.bytes += bytes;
        entries.authorizations.insert(
            id,
            Entry {
                kept,
                links: links.to_vec(),
                expires: now + self.ttl,
                ambiguous: false,
                bytes,
            },
        );
        entries.order.push_back(id);
        if entries.order.len() > 2 * self.capacity {
            let Entries {
                order,
                authorizations,
                ..
            } = &mut *entries;
            order.retain(|id| authorizations.contains_key(id));
        }
        Keeping {
            evicted,
            ambiguous: false,
        }
    }

    /// Adds `link`, bound to its client, to the live authorization kept
    /// under `known`: a code that arrives after an interaction, found by
    /// its `state`. Whether it was added; a link another authorization
    /// holds makes both ambiguous.
    pub(crate) fn add_link_at(&self, known: Link, link: &Unbound, now: Instant) -> Keeping {
        let mut entries = self.entries();
        let mut keeping = Keeping {
            evicted: 0,
            ambiguous: false,
        };
        let Some(&id) = entries.by_link.get(&known) else {
            return keeping;
        };
        let Some(entry) = entries.authorizations.get(&id) else {
            return keeping;
        };
        if entry.expires <= now || entry.ambiguous {
            return keeping;
        }
        let link = link.bind(&entry.kept.client_id);
        match entries.by_link.get(&link).copied() {
            Some(holder) if holder == id => {}
            Some(holder) => {
                for id in [id, holder] {
                    if let Some(entry) = entries.authorizations.get_mut(&id) {
                        entry.ambiguous = true;
                    }
                }
                keeping.ambiguous = true;
            }
            None => entries.join(id, &[link]),
        }
        keeping
    }

    /// Takes the live authorization kept under the first of `links` that
    /// has one, and forgets it under all its links: it is reported at most
    /// once. An ambiguous one is forgotten and not returned.
    pub(crate) fn take_at(&self, links: &[Link], now: Instant) -> Option<Kept> {
        let mut entries = self.entries();
        let id = links
            .iter()
            .find_map(|link| entries.by_link.get(link).copied())?;
        let entry = entries.forget(id)?;
        (entry.expires > now && !entry.ambiguous).then_some(entry.kept)
    }

    #[cfg(test)]
    fn len(&self) -> (usize, usize, usize) {
        let entries = self.entries();
        (
            entries.authorizations.len(),
            entries.by_link.len(),
            entries.order.len(),
        )
    }
}

impl AuthorizationStore for MemoryStore {
    fn keep(&self, links: Vec<Link>, kept: Kept) {
        let keeping = self.keep_at(&links, kept, Instant::now());
        self.noted(keeping);
    }

    fn add_link(&self, known: Link, link: Unbound) {
        let keeping = self.add_link_at(known, &link, Instant::now());
        self.noted(keeping);
    }

    fn take(&self, links: Vec<Link>, then: Taken) {
        then(self.take_at(&links, Instant::now()));
    }
}

impl MemoryStore {
    fn noted(&self, keeping: Keeping) {
        count(EVICTED, keeping.evicted);
        count(AMBIGUOUS, usize::from(keeping.ambiguous));
        self.flood
            .note(Flooded::Evicted, keeping.evicted as u64, Instant::now());
    }
}

impl Entries {
    /// Adds to the authorization `id` those of `links` it lacks, up to
    /// [`LINKS_PER_AUTHORIZATION`]; none of them leads elsewhere.
    fn join(&mut self, id: u64, links: &[Link]) {
        let Some(entry) = self.authorizations.get_mut(&id) else {
            return;
        };
        for link in links {
            if entry.links.len() < LINKS_PER_AUTHORIZATION && !entry.links.contains(link) {
                entry.links.push(*link);
                self.by_link.insert(*link, id);
            }
        }
    }

    /// Whether `link` may lead to an authorization of `client_id`: it is
    /// free or already one of that client's. Held by another client's (the
    /// echoed `state` only: every other link is bound to its client), it is
    /// taken from that one too, and leads nowhere.
    fn keep_to_one_client(&mut self, link: Link, client_id: &str) -> bool {
        let Some(&holder) = self.by_link.get(&link) else {
            return true;
        };
        let Some(entry) = self.authorizations.get_mut(&holder) else {
            return true;
        };
        if entry.kept.client_id == client_id {
            return true;
        }
        entry.links.retain(|kept| *kept != link);
        self.by_link.remove(&link);
        false
    }

    /// Removes an authorization and those of its links that still lead to it.
    fn forget(&mut self, id: u64) -> Option<Entry> {
        let entry = self.authorizations.remove(&id)?;
        self.bytes -= entry.bytes;
        for link in &entry.links {
            if self.by_link.get(link) == Some(&id) {
                self.by_link.remove(link);
            }
        }
        Some(entry)
    }

    /// Drops the oldest id; whether it was a live authorization.
    fn forget_oldest(&mut self) -> bool {
        match self.order.pop_front() {
            Some(id) => self.forget(id).is_some(),
            None => false,
        }
    }

    fn forget_expired(&mut self, now: Instant) {
        while let Some(&id) = self.order.front() {
            match self.authorizations.get(&id) {
                Some(entry) if entry.expires > now => break,
                _ => {
                    self.order.pop_front();
                    self.forget(id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::link::{LinkKey, Shared};
    use super::*;
    use crate::scope::ScopeSet;

    const MIB: usize = 1 << 20;

    fn kept(scopes: &str) -> Kept {
        kept_for("wizard", scopes)
    }

    fn kept_for(client_id: &str, scopes: &str) -> Kept {
        Kept {
            requested_scopes: ScopeSet::parse(scopes),
            client_id: client_id.into(),
            user_agent: (String::new(), false),
        }
    }

    fn key() -> LinkKey {
        LinkKey::new(b"key")
    }

    fn link(value: &str) -> Link {
        key().link(Shared::State, "wizard", value)
    }

    fn store(capacity: usize) -> MemoryStore {
        MemoryStore::new(Duration::from_secs(600), capacity, 64 * MIB)
    }

    #[test]
    fn taken_under_any_link_once() {
        let store = store(10);
        let now = Instant::now();
        store.keep_at(&[link("state"), link("challenge")], kept("read"), now);
        let code = key().unbound(Shared::Code, "code");
        assert!(!store.add_link_at(link("state"), &code, now).ambiguous);
        let taken = store.take_at(&[code.bind("wizard")], now).expect("kept");
        assert_eq!(taken.requested_scopes.to_string(), "read");
        for other in ["state", "challenge"] {
            assert!(store.take_at(&[link(other)], now).is_none(), "{other}");
        }
        assert_eq!(store.len(), (0, 0, 1));
    }

    #[test]
    fn an_expired_authorization_is_not_found() {
        let store = store(10);
        let then = Instant::now();
        store.keep_at(&[link("code")], kept("read"), then);
        let later = then + Duration::from_secs(600);
        let other = key().unbound(Shared::Code, "other");
        store.add_link_at(link("code"), &other, later);
        assert!(store.take_at(&[other.bind("wizard")], later).is_none());
        assert!(store.take_at(&[link("code")], later).is_none());
        // And the next keep sweeps it away.
        store.keep_at(&[link("next")], kept("read"), later);
        assert_eq!(store.len(), (1, 1, 1));
    }

    #[test]
    fn a_full_store_drops_the_oldest_and_says_so() {
        let store = store(2);
        let now = Instant::now();
        assert_eq!(store.keep_at(&[link("a")], kept("a"), now).evicted, 0);
        assert_eq!(store.keep_at(&[link("b")], kept("b"), now).evicted, 0);
        assert_eq!(store.keep_at(&[link("c")], kept("c"), now).evicted, 1);
        assert!(store.take_at(&[link("a")], now).is_none());
        assert!(store.take_at(&[link("b")], now).is_some());
        assert!(store.take_at(&[link("c")], now).is_some());
    }

    #[test]
    fn the_byte_bound_drops_the_oldest_too() {
        let one = kept("read write").bytes();
        let store = MemoryStore::new(Duration::from_secs(600), 1000, 3 * one);
        let now = Instant::now();
        for n in 0..10 {
            store.keep_at(&[link(&n.to_string())], kept("read write"), now);
        }
        assert_eq!(store.len().0, 3);
        assert!(store.entries().bytes <= 3 * one);
        assert!(store.take_at(&[link("9")], now).is_some());
        assert!(store.take_at(&[link("6")], now).is_none());
    }

    #[test]
    fn memory_stays_bounded_when_every_authorization_is_taken() {
        let store = store(8);
        let now = Instant::now();
        for n in 0..10_000 {
            let one = link(&n.to_string());
            store.keep_at(&[one], kept("read"), now);
            assert!(store.take_at(&[one], now).is_some());
        }
        let (live, links, order) = store.len();
        assert_eq!((live, links), (0, 0));
        assert!(order <= 16, "{order} ids queued");
        assert_eq!(store.entries().bytes, 0);
    }

    #[test]
    fn a_repeat_of_the_same_request_joins_it() {
        let store = store(100);
        let now = Instant::now();
        for _ in 0..50 {
            store.keep_at(&[link("constant state")], kept("read"), now);
        }
        let keeping = store.keep_at(&[link("constant state"), link("code")], kept("read"), now);
        assert!(!keeping.ambiguous);
        assert_eq!(store.len().0, 1, "one live authorization, not fifty");
        assert!(store.take_at(&[link("code")], now).is_some());
        assert!(store.take_at(&[link("constant state")], now).is_none());
    }

    #[test]
    fn a_link_claimed_by_another_request_makes_both_ambiguous() {
        for (first, second) in [("read", "admin"), ("admin", "read")] {
            let store = store(100);
            let now = Instant::now();
            store.keep_at(&[link("state"), link("one")], kept(first), now);
            let keeping = store.keep_at(&[link("state"), link("two")], kept(second), now);
            assert!(keeping.ambiguous);
            assert!(store.take_at(&[link("one")], now).is_none());
            assert!(store.take_at(&[link("two")], now).is_none());
            assert!(store.take_at(&[link("state")], now).is_none());
        }
    }

    #[test]
    fn a_code_another_authorization_holds_makes_both_ambiguous() {
        let store = store(100);
        let now = Instant::now();
        let code = key().unbound(Shared::Code, "code");
        store.keep_at(&[code.bind("wizard")], kept("read"), now);
        store.keep_at(&[link("state")], kept("admin"), now);
        assert!(store.add_link_at(link("state"), &code, now).ambiguous);
        assert!(store.take_at(&[code.bind("wizard")], now).is_none());
        assert!(store.take_at(&[link("state")], now).is_none());
    }

    #[test]
    fn links_of_another_client_are_other_links() {
        let store = store(100);
        let now = Instant::now();
        let victim = key().link(Shared::State, "victim", "S");
        let attacker = key().link(Shared::State, "attacker", "S");
        store.keep_at(&[victim], kept_for("victim", "admin"), now);
        assert!(
            !store
                .keep_at(&[attacker], kept_for("attacker", "read"), now)
                .ambiguous
        );
        assert_eq!(
            store.take_at(&[attacker], now).unwrap().client_id,
            "attacker"
        );
        assert_eq!(store.take_at(&[victim], now).unwrap().client_id, "victim");
    }
}
