//! [`Reloadable`]: the grantable scope lists (or none), replaced whole on
//! `SIGHUP` while requests keep reading the lists they started with.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use invalid_scope_observer::{GrantableScopes, ScopeSet};

use crate::config::Grantable;

/// The lists in force, `None` without a `[grantable]` section. Cloning
/// shares them; [`Reloadable::replace`] swaps them for every clone at once.
#[derive(Clone, Debug)]
pub(crate) struct Reloadable(Arc<RwLock<Option<Arc<Lists>>>>);

#[derive(Debug)]
struct Lists {
    default: ScopeSet,
    clients: HashMap<String, ScopeSet>,
}

impl Lists {
    fn from(grantable: &Grantable) -> Self {
        Self {
            default: ScopeSet::from(grantable.default.as_slice()),
            clients: grantable
                .clients
                .iter()
                .map(|(client, scopes)| (client.clone(), ScopeSet::from(scopes.as_slice())))
                .collect(),
        }
    }
}

impl Reloadable {
    pub(crate) fn new(grantable: Option<&Grantable>) -> Self {
        Self(Arc::new(RwLock::new(
            grantable.map(|lists| Arc::new(Lists::from(lists))),
        )))
    }

    /// Puts new lists (or none) in force; a rejection being reported keeps
    /// the ones it read.
    pub(crate) fn replace(&self, grantable: Option<&Grantable>) {
        let lists = grantable.map(|lists| Arc::new(Lists::from(lists)));
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = lists;
    }

    fn current(&self) -> Option<Arc<Lists>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl GrantableScopes for Reloadable {
    fn grantable_scopes(&self, client_id: &str) -> ScopeSet {
        let Some(lists) = self.current() else {
            return ScopeSet::new();
        };
        lists
            .clients
            .get(client_id)
            .unwrap_or(&lists.default)
            .clone()
    }

    fn has_lists(&self) -> bool {
        self.current().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_clients_get_theirs_and_others_the_default_until_replaced() {
        let grantable = Reloadable::new(Some(&Grantable {
            default: vec!["read".into()],
            clients: HashMap::from([("wizard".into(), vec!["read".into(), "write".into()])]),
        }));
        let layer_copy = grantable.clone();
        assert_eq!(
            layer_copy.grantable_scopes("wizard"),
            ScopeSet::parse("read write")
        );
        assert_eq!(
            layer_copy.grantable_scopes("stranger"),
            ScopeSet::parse("read")
        );
        grantable.replace(Some(&Grantable {
            default: Vec::new(),
            clients: HashMap::new(),
        }));
        assert!(layer_copy.grantable_scopes("wizard").is_empty());
        assert!(layer_copy.has_lists());
        grantable.replace(None);
        assert!(!layer_copy.has_lists(), "the section is gone");
        assert!(Reloadable::new(None).grantable_scopes("wizard").is_empty());
    }
}
