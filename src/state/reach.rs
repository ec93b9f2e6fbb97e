//! An exception's reach as the engines reported it: the policy report `skip` results that
//! name it (see [`crate::model::ReportSkip`]), summed and listed newest first.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{FleetState, RecordId};
use crate::model::{ObjectRef, ReportSkip};

/// What the skip results naming one exception add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reach {
    /// Results skipped (each skip record's count, summed).
    pub skipped_results: u64,
    /// Distinct objects those results were about.
    pub skipped_objects: usize,
}

impl FleetState {
    /// The skip results in `cluster` naming the exception called `name`, newest first (ties
    /// in id order).
    pub fn skips_newest_first(
        &self,
        cluster: &crate::model::ClusterId,
        name: &str,
    ) -> Vec<(&RecordId, &ReportSkip)> {
        let mut skips: Vec<_> = self.skips_naming(cluster, name).collect();
        skips.sort_by(|a, b| b.1.at.cmp(&a.1.at).then_with(|| a.0.cmp(b.0)));
        skips
    }

    /// How many results the skip records naming the exception called `name` in `cluster` hold
    /// (the table column: no allocation).
    pub fn skipped_results(&self, cluster: &crate::model::ClusterId, name: &str) -> u64 {
        self.skips_naming(cluster, name).map(|(_, s)| s.count).sum()
    }

    /// The reach of the exception called `name` in `cluster`.
    pub fn reach(&self, cluster: &crate::model::ClusterId, name: &str) -> Reach {
        let mut objects: BTreeSet<&ObjectRef> = BTreeSet::new();
        let mut skipped_results = 0;
        for (_, s) in self.skips_naming(cluster, name) {
            skipped_results += s.count;
            objects.insert(&s.object);
        }
        Reach { skipped_results, skipped_objects: objects.len() }
    }
}
