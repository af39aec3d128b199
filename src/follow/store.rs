//! [`MemoryStore`]: authorizations kept in this process until their token
//! request, bounded in count and in time.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::link::Link;
use super::{count, AuthorizationStore, Kept, Taken, EVICTED};

/// The most links one authorization gathers: its `state`, its challenge
/// and its code (a server that issued it two codes adds one).
const LINKS_PER_AUTHORIZATION: usize = 4;

/// Authorizations by link, each for at most `ttl`, at most `capacity` of
/// them: when full, the oldest goes. Every operation is O(1) amortized
/// under one short lock.
#[derive(Debug)]
pub(crate) struct MemoryStore {
    entries: Mutex<Entries>,
    ttl: Duration,
    capacity: usize,
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
}

#[derive(Debug)]
struct Entry {
    kept: Kept,
    links: Vec<Link>,
    expires: Instant,
}

/// What keeping an authorization did to the others.
#[derive(Debug, PartialEq)]
pub(crate) struct Evicted(pub(crate) usize);

impl MemoryStore {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            ttl,
            capacity: capacity.max(1),
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        // Nothing panics under the lock; the maps stay consistent if it did.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `kept` under each of `links`, which must not be empty. A link
    /// already in use moves to the new authorization (the later `state`
    /// wins). Returns how many live authorizations went to make room.
    pub(crate) fn keep_at(&self, links: &[Link], kept: Kept, now: Instant) -> Evicted {
        let mut entries = self.entries();
        entries.forget_expired(now);
        let mut evicted = 0;
        while entries.authorizations.len() >= self.capacity {
            if entries.forget_oldest() {
                evicted += 1;
            }
        }
        let id = entries.next_id;
        entries.next_id += 1;
        let links: Vec<Link> = links
            .iter()
            .take(LINKS_PER_AUTHORIZATION)
            .copied()
            .collect();
        for link in &links {
            if let Some(before) = entries.by_link.insert(*link, id) {
                entries.unlink(before, *link);
            }
        }
        entries.authorizations.insert(
            id,
            Entry {
                kept,
                links,
                expires: now + self.ttl,
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
        Evicted(evicted)
    }

    /// Adds `link` to the live authorization kept under `known`: a code
    /// that arrives after an interaction, found by its `state`. Whether
    /// there was one.
    pub(crate) fn add_link_at(&self, known: Link, link: Link, now: Instant) -> bool {
        let mut entries = self.entries();
        let Some(&id) = entries.by_link.get(&known) else {
            return false;
        };
        let Some(entry) = entries.authorizations.get_mut(&id) else {
            return false;
        };
        if entry.expires <= now
            || entry.links.contains(&link)
            || entry.links.len() >= LINKS_PER_AUTHORIZATION
        {
            return false;
        }
        entry.links.push(link);
        if let Some(before) = entries.by_link.insert(link, id) {
            entries.unlink(before, link);
        }
        true
    }

    /// Takes the live authorization kept under the first of `links` that
    /// has one, and forgets it under all its links: it is reported at most
    /// once.
    pub(crate) fn take_at(&self, links: &[Link], now: Instant) -> Option<Kept> {
        let mut entries = self.entries();
        let id = links
            .iter()
            .find_map(|link| entries.by_link.get(link).copied())?;
        let entry = entries.forget(id)?;
        (entry.expires > now).then_some(entry.kept)
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
        let Evicted(evicted) = self.keep_at(&links, kept, Instant::now());
        count(EVICTED, evicted);
    }

    fn add_link(&self, known: Link, link: Link) {
        self.add_link_at(known, link, Instant::now());
    }

    fn take(&self, links: Vec<Link>, then: Taken) {
        then(self.take_at(&links, Instant::now()));
    }
}

impl Entries {
    /// Removes an authorization and those of its links that still lead to it.
    fn forget(&mut self, id: u64) -> Option<Entry> {
        let entry = self.authorizations.remove(&id)?;
        for link in &entry.links {
            if self.by_link.get(link) == Some(&id) {
                self.by_link.remove(link);
            }
        }
        Some(entry)
    }

    /// `link` now leads to another authorization than `id`: one left with
    /// no link could never be taken, so it goes.
    fn unlink(&mut self, id: u64, link: Link) {
        if let Some(entry) = self.authorizations.get_mut(&id) {
            entry.links.retain(|kept| *kept != link);
            if entry.links.is_empty() {
                self.authorizations.remove(&id);
            }
        }
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

    fn kept(scopes: &str) -> Kept {
        Kept {
            requested_scopes: ScopeSet::parse(scopes),
            client_id: "wizard".into(),
            user_agent: (String::new(), false),
        }
    }

    fn link(value: &str) -> Link {
        LinkKey::new(b"key").link(Shared::State, value)
    }

    #[test]
    fn taken_under_any_link_once() {
        let store = MemoryStore::new(Duration::from_secs(600), 10);
        let now = Instant::now();
        store.keep_at(&[link("state"), link("challenge")], kept("read"), now);
        assert!(store.add_link_at(link("state"), link("code"), now));
        let taken = store.take_at(&[link("code")], now).expect("kept");
        assert_eq!(taken.requested_scopes.to_string(), "read");
        for other in ["code", "state", "challenge"] {
            assert!(store.take_at(&[link(other)], now).is_none(), "{other}");
        }
        assert_eq!(store.len(), (0, 0, 1));
    }

    #[test]
    fn an_expired_authorization_is_not_found() {
        let store = MemoryStore::new(Duration::from_secs(600), 10);
        let then = Instant::now();
        store.keep_at(&[link("code")], kept("read"), then);
        let later = then + Duration::from_secs(600);
        assert!(!store.add_link_at(link("code"), link("other"), later));
        assert!(store.take_at(&[link("code")], later).is_none());
        // And the next keep sweeps it away.
        store.keep_at(&[link("next")], kept("read"), later);
        assert_eq!(store.len(), (1, 1, 1));
    }

    #[test]
    fn a_full_store_drops_the_oldest_and_says_so() {
        let store = MemoryStore::new(Duration::from_secs(600), 2);
        let now = Instant::now();
        assert_eq!(store.keep_at(&[link("a")], kept("a"), now), Evicted(0));
        assert_eq!(store.keep_at(&[link("b")], kept("b"), now), Evicted(0));
        assert_eq!(store.keep_at(&[link("c")], kept("c"), now), Evicted(1));
        assert!(store.take_at(&[link("a")], now).is_none());
        assert!(store.take_at(&[link("b")], now).is_some());
        assert!(store.take_at(&[link("c")], now).is_some());
    }

    #[test]
    fn memory_stays_bounded_when_every_authorization_is_taken() {
        let store = MemoryStore::new(Duration::from_secs(600), 8);
        let now = Instant::now();
        for n in 0..10_000 {
            let one = link(&n.to_string());
            store.keep_at(&[one], kept("read"), now);
            assert!(store.take_at(&[one], now).is_some());
        }
        let (live, links, order) = store.len();
        assert_eq!((live, links), (0, 0));
        assert!(order <= 16, "{order} ids queued");
    }

    #[test]
    fn a_reused_link_moves_to_the_later_authorization() {
        let store = MemoryStore::new(Duration::from_secs(600), 10);
        let now = Instant::now();
        store.keep_at(&[link("same state"), link("one")], kept("first"), now);
        store.keep_at(&[link("same state")], kept("second"), now);
        let taken = store.take_at(&[link("same state")], now).unwrap();
        assert_eq!(taken.requested_scopes.to_string(), "second");
        assert!(store.take_at(&[link("one")], now).is_some());
    }

    #[test]
    fn an_authorization_left_without_links_goes() {
        let store = MemoryStore::new(Duration::from_secs(600), 100);
        let now = Instant::now();
        for _ in 0..50 {
            store.keep_at(&[link("constant state")], kept("read"), now);
        }
        assert_eq!(store.len().0, 1, "one live authorization, not fifty");
        assert!(!store.add_link_at(link("constant state"), link("constant state"), now));
        assert!(store.take_at(&[link("constant state")], now).is_some());
    }
}
