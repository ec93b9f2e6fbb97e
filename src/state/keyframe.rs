//! The serialisable form of a whole [`FleetState`], written periodically into recordings so
//! that seeking does not have to replay from the start.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{FleetState, RecordId};
use crate::model::{ClusterId, ClusterStatus, Record, RecordKind};

/// A full copy of a [`FleetState`]; indexes are rebuilt on load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyframe {
    /// The state's clock.
    pub now: Timestamp,
    /// Observations applied before this keyframe.
    pub applied: u64,
    /// Every cluster.
    pub clusters: Vec<ClusterStatus>,
    /// Every record with its cluster.
    pub records: Vec<(ClusterId, Record)>,
    /// Relists still open: keys not yet re-confirmed.
    #[serde(default)]
    pub relists: Vec<(ClusterId, RecordKind, Vec<String>)>,
}

impl FleetState {
    /// Captures the whole state.
    pub fn keyframe(&self) -> Keyframe {
        let mut records = Vec::with_capacity(self.record_count());
        fn push<T: Clone>(out: &mut Vec<(ClusterId, Record)>, t: &super::Table<T>, wrap: fn(T) -> Record) {
            out.extend(t.iter().map(|(id, r)| (id.cluster.clone(), wrap(r.clone()))));
        }
        push(&mut records, &self.denials, Record::Denial);
        push(&mut records, &self.exceptions, Record::Exception);
        push(&mut records, &self.gpu_queues, Record::GpuQueue);
        push(&mut records, &self.gpu_workloads, Record::GpuWorkload);
        push(&mut records, &self.pending_gpu_pods, Record::PendingGpuPod);
        push(&mut records, &self.gpu_nodes, Record::GpuNode);
        push(&mut records, &self.pipelines, Record::Pipeline);
        push(&mut records, &self.policies, Record::Policy);
        push(&mut records, &self.skips, Record::Skip);
        Keyframe {
            now: self.now,
            applied: self.applied,
            clusters: self.clusters.values().cloned().collect(),
            records,
            relists: self
                .relists
                .iter()
                .map(|((c, k), keys)| (c.clone(), *k, keys.iter().cloned().collect()))
                .collect(),
        }
    }

    /// Rebuilds a state (indexes included) from a keyframe.
    pub fn from_keyframe(frame: &Keyframe) -> Self {
        let mut state = FleetState::new(frame.now);
        for c in &frame.clusters {
            state.clusters.insert(c.id.clone(), c.clone());
        }
        for (cluster, record) in &frame.records {
            state.upsert(RecordId::new(cluster.clone(), record.key()), record.clone());
        }
        for (cluster, kind, keys) in &frame.relists {
            state.relists.insert((cluster.clone(), *kind), keys.iter().cloned().collect());
        }
        state.applied = frame.applied;
        state.version = frame.applied;
        state.data_version = frame.applied;
        state
    }

    /// True when two states hold the same facts (ignores the change counter).
    pub fn same_facts(&self, other: &FleetState) -> bool {
        self.keyframe() == other.keyframe()
    }
}
