//! Bounds on the tables that outside sources can grow without end: denials (anyone who may
//! create Events, an audit log that only grows, policy report results), policy report skip
//! results, and pending GPU pods (anyone who may create pods). Each cluster keeps at most
//! [`MAX_PER_CLUSTER`] records in each; past that its oldest are dropped, counted in its
//! [`ClusterStatus::dropped`](crate::model::ClusterStatus::dropped) and shown as a Fleet
//! finding.
//!
//! The reducer does it, so a replay drops exactly what the live session dropped: the same
//! observations give the same state, and keyframes carry the counts.

use std::collections::BTreeMap;

use crate::model::{ClusterId, RecordKind};

/// Most records of one bounded table ([`BOUNDED`]) per cluster.
pub const MAX_PER_CLUSTER: usize = 20_000;

/// A table past its bound drops this share of it at once (its oldest 1/16th, 1,250 records),
/// so that dropping costs a constant amount per insert, not a scan per insert.
pub const DROP_SHARE: usize = 16;

/// The tables with a bound, each with the field that orders its records by age: a denial's
/// `last_seen`, a skip result's `at`, a pending pod's `since`.
pub const BOUNDED: [RecordKind; 3] = [RecordKind::Denial, RecordKind::Skip, RecordKind::PendingGpuPod];

/// How many records each cluster has in each bounded table (derived: rebuilt with the tables).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sizes(BTreeMap<ClusterId, [usize; BOUNDED.len()]>);

impl Sizes {
    /// One more record of `kind` in `cluster`; returns the new count (0 for unbounded kinds).
    pub fn added(&mut self, cluster: &ClusterId, kind: RecordKind) -> usize {
        let Some(i) = slot(kind) else { return 0 };
        let counts = match self.0.get_mut(cluster) {
            Some(c) => c,
            None => self.0.entry(cluster.clone()).or_default(),
        };
        counts[i] += 1;
        counts[i]
    }

    /// One record of `kind` fewer in `cluster`.
    pub fn removed(&mut self, cluster: &ClusterId, kind: RecordKind) {
        if let (Some(i), Some(counts)) = (slot(kind), self.0.get_mut(cluster)) {
            counts[i] = counts[i].saturating_sub(1);
        }
    }

    /// Records of `kind` in `cluster` (0 for unbounded kinds).
    pub fn get(&self, cluster: &ClusterId, kind: RecordKind) -> usize {
        slot(kind).and_then(|i| self.0.get(cluster).map(|c| c[i])).unwrap_or(0)
    }
}

/// How many to drop from a table of `size` records that passed [`MAX_PER_CLUSTER`]: down to
/// the bound, and [`DROP_SHARE`]'s share below it.
pub fn to_drop(size: usize) -> usize {
    if size <= MAX_PER_CLUSTER { 0 } else { size - MAX_PER_CLUSTER + MAX_PER_CLUSTER / DROP_SHARE }
}

fn slot(kind: RecordKind) -> Option<usize> {
    BOUNDED.iter().position(|k| *k == kind)
}

/// The words for a table in the "dropped" finding: `denials`, `skip results`, `pending GPU pods`.
pub fn noun(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Denial => "denials",
        RecordKind::Skip => "policy report skip results",
        RecordKind::PendingGpuPod => "pending GPU pods",
        RecordKind::Exception => "exceptions",
        RecordKind::GpuQueue => "ClusterQueues",
        RecordKind::GpuWorkload => "workloads",
        RecordKind::GpuNode => "GPU nodes",
        RecordKind::Pipeline => "pipeline components",
        RecordKind::Policy => "policies",
    }
}
