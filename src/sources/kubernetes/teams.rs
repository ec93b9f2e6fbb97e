//! Which team owns each namespace (a configurable namespace label, `team` by default): the
//! fallback owner of pods and Kueue workloads that do not carry the label themselves.
//!
//! Filled by one LIST of namespaces before the pod and Kueue watches start (so their first
//! projections already know the teams), then kept current by the namespace watch. A label
//! changed later applies to records projected from then on.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::ListParams;
use kube::{Api, Client};

use super::objects::{self, ProjectionConfig};

/// Namespace → team, shared by the tasks of one cluster.
#[derive(Debug, Clone, Default)]
pub struct NamespaceTeams {
    inner: Arc<RwLock<HashMap<String, String>>>,
}

impl NamespaceTeams {
    /// The team of `namespace`, when its label names one.
    pub fn get(&self, namespace: &str) -> Option<String> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner).get(namespace).cloned()
    }

    /// Records (or forgets) a namespace's team.
    pub fn observe(&self, ns: &Namespace, config: &ProjectionConfig) {
        let Some(name) = ns.metadata.name.clone() else { return };
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        match objects::namespace_team(ns, config) {
            Some(team) => map.insert(name, team),
            None => map.remove(&name),
        };
    }

    /// Lists the namespaces once (a 403 or an error leaves the map empty: the namespace
    /// watch reports the problem as its source state).
    pub async fn preload(&self, client: Client, config: &ProjectionConfig) {
        let listed = tokio::time::timeout(
            super::PROBE_TIMEOUT,
            Api::<Namespace>::all(client).list(&ListParams::default()),
        )
        .await;
        if let Ok(Ok(list)) = listed {
            for ns in &list.items {
                self.observe(ns, config);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespace(name: &str, team: Option<&str>) -> Namespace {
        let mut ns = Namespace::default();
        ns.metadata.name = Some(name.into());
        ns.metadata.labels = team.map(|t| [("team".to_string(), t.to_string())].into());
        ns
    }

    #[test]
    fn a_namespace_label_names_the_team_and_removing_it_forgets_it() {
        let teams = NamespaceTeams::default();
        let config = ProjectionConfig::default();
        teams.observe(&namespace("ml", Some("research")), &config);
        assert_eq!(teams.get("ml").as_deref(), Some("research"));
        assert_eq!(teams.get("shop"), None);
        teams.observe(&namespace("ml", None), &config);
        assert_eq!(teams.get("ml"), None);
    }
}
