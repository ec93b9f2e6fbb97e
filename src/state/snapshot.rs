//! The JSON view of a state that `fleettop snapshot --json` prints: every pane's records,
//! each with its cluster, plus the derived verdicts (health, status) at the state's clock.

use jiff::Timestamp;
use serde::Serialize;

use super::{FleetState, Table};
use crate::model::{
    ClusterHealth, ClusterId, ClusterStatus, ExceptionStatus, PipelineComponent, PipelineHealth,
    PolicyException,
};

/// A record with the cluster it belongs to, flattened into one JSON object.
#[derive(Debug, Serialize)]
pub struct InCluster<'a, T: Serialize, E: Serialize = ()> {
    /// The cluster.
    pub cluster: &'a ClusterId,
    /// The record's fields.
    #[serde(flatten)]
    pub record: &'a T,
    /// Derived fields (health, status), if any.
    #[serde(flatten)]
    pub derived: E,
}

/// Derived cluster facts.
#[derive(Debug, Serialize)]
pub struct ClusterDerived {
    /// The header badge.
    pub health: ClusterHealth,
    /// Seconds since the newest data, if any arrived.
    pub data_age_s: Option<i64>,
}

/// Derived exception facts.
#[derive(Debug, Serialize)]
pub struct ExceptionDerived {
    /// Status at the snapshot's clock.
    pub status: ExceptionStatus,
    /// The policy report skip results that name it.
    #[serde(flatten)]
    pub reach: super::Reach,
}

/// Derived pipeline facts: what the panes say (issue 15: the JSON must not call a component of
/// an unreachable cluster healthy while the screen says unknown).
#[derive(Debug, Serialize)]
pub struct PipelineDerived {
    /// The verdict on current rates; absent while the component's cluster cannot be seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<PipelineHealth>,
    /// Since when the verdict is unknown (the cluster unreachable or refusing us, its pipelines
    /// source stale or failing); absent while it is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_since: Option<jiff::Timestamp>,
    /// The verdict on the last rates seen, while the verdict is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_known: Option<PipelineHealth>,
}

impl PipelineDerived {
    fn of(v: crate::model::PipelineVerdict) -> Self {
        match v {
            crate::model::PipelineVerdict::Known(h) => {
                Self { health: Some(h), unknown_since: None, last_known: None }
            }
            crate::model::PipelineVerdict::Unknown { since, was } => {
                Self { health: None, unknown_since: Some(since), last_known: Some(was) }
            }
        }
    }
}

/// Every pane's records at one moment.
#[derive(Debug, Serialize)]
pub struct StateSnapshot<'a> {
    /// The state's clock.
    pub at: Timestamp,
    /// Observations applied.
    pub observations: u64,
    /// Clusters with health.
    pub clusters: Vec<InCluster<'a, ClusterStatus, ClusterDerived>>,
    /// Denials.
    pub denials: Vec<InCluster<'a, crate::model::Denial>>,
    /// Kueue ClusterQueues.
    pub gpu_queues: Vec<InCluster<'a, crate::model::GpuQueue>>,
    /// Kueue Workloads.
    pub gpu_workloads: Vec<InCluster<'a, crate::model::GpuWorkload>>,
    /// Pending GPU pods.
    pub pending_gpu_pods: Vec<InCluster<'a, crate::model::PendingGpuPod>>,
    /// GPU nodes.
    pub gpu_nodes: Vec<InCluster<'a, crate::model::GpuNode>>,
    /// Pipeline components with health.
    pub pipelines: Vec<InCluster<'a, PipelineComponent, PipelineDerived>>,
    /// Exceptions with status.
    pub exceptions: Vec<InCluster<'a, PolicyException, ExceptionDerived>>,
    /// Policies (Kyverno, admission policies and bindings, Gatekeeper constraints).
    pub policies: Vec<InCluster<'a, crate::model::Policy>>,
    /// Policy report skip results naming exceptions.
    pub skips: Vec<InCluster<'a, crate::model::ReportSkip>>,
}

/// The record lists of a snapshot, by JSON key, in order.
pub const SECTIONS: [&str; 10] = [
    "clusters",
    "denials",
    "gpu_queues",
    "gpu_workloads",
    "pending_gpu_pods",
    "gpu_nodes",
    "pipelines",
    "exceptions",
    "policies",
    "skips",
];

fn plain<T: Serialize>(t: &Table<T>) -> Vec<InCluster<'_, T>> {
    t.iter().map(|(id, r)| InCluster { cluster: &id.cluster, record: r, derived: () }).collect()
}

impl FleetState {
    /// The JSON view of this state.
    pub fn snapshot(&self) -> StateSnapshot<'_> {
        let now = self.now;
        StateSnapshot {
            at: now,
            observations: self.applied,
            clusters: self
                .clusters
                .iter()
                .map(|(id, c)| InCluster {
                    cluster: id,
                    record: c,
                    derived: ClusterDerived {
                        health: c.health(),
                        data_age_s: c.data_age(now).map(|d| d.as_secs()),
                    },
                })
                .collect(),
            denials: plain(&self.denials),
            gpu_queues: plain(&self.gpu_queues),
            gpu_workloads: plain(&self.gpu_workloads),
            pending_gpu_pods: plain(&self.pending_gpu_pods),
            gpu_nodes: plain(&self.gpu_nodes),
            pipelines: self
                .pipelines
                .iter()
                .map(|(id, p)| InCluster {
                    cluster: &id.cluster,
                    record: p,
                    derived: PipelineDerived::of(p.verdict(&self.verdicts, self.clusters.get(&id.cluster))),
                })
                .collect(),
            exceptions: self
                .exceptions
                .iter()
                .map(|(id, e)| InCluster {
                    cluster: &id.cluster,
                    record: e,
                    derived: ExceptionDerived {
                        status: e.status(now, &self.verdicts),
                        reach: self.reach(&id.cluster, &e.name),
                    },
                })
                .collect(),
            policies: plain(&self.policies),
            skips: plain(&self.skips),
        }
    }
}
