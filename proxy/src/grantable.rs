//! [`Reloadable`]: the grantable scope lists, replaced whole on `SIGHUP`
//! while requests keep reading the lists they started with.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use invalid_scope_observer::{GrantableScopes, ScopeSet};

use crate::config::Grantable;

/// The lists in force. Cloning shares them; [`Reloadable::replace`] swaps
/// them for every clone at once.
#[derive(Clone, Debug)]
pub(crate) struct Reloadable(Arc<RwLock<Arc<Lists>>>);

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
    pub(crate) fn new(grantable: &Grantable) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(Lists::from(grantable)))))
    }

    /// Puts new lists in force; a rejection being reported keeps the ones
    /// it read.
    pub(crate) fn replace(&self, grantable: &Grantable) {
        let lists = Arc::new(Lists::from(grantable));
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = lists;
    }

    fn current(&self) -> Arc<Lists> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl GrantableScopes for Reloadable {
    fn grantable_scopes(&self, client_id: &str) -> ScopeSet {
        let lists = self.current();
        lists
            .clients
            .get(client_id)
            .unwrap_or(&lists.default)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_clients_get_theirs_and_others_the_default_until_replaced() {
        let grantable = Reloadable::new(&Grantable {
            default: vec!["read".into()],
            clients: HashMap::from([("wizard".into(), vec!["read".into(), "write".into()])]),
        });
        let layer_copy = grantable.clone();
        assert_eq!(
            layer_copy.grantable_scopes("wizard"),
            ScopeSet::parse("read write")
        );
        assert_eq!(
            layer_copy.grantable_scopes("stranger"),
            ScopeSet::parse("read")
        );
        grantable.replace(&Grantable {
            default: Vec::new(),
            clients: HashMap::new(),
        });
        assert!(layer_copy.grantable_scopes("wizard").is_empty());
    }
}
