//! The domain model: small, owned, serde-able records for everything fleettop shows.
//!
//! Sources project Kubernetes objects and metric samples into these records on arrival;
//! nothing here knows about kube-rs, ratatui or polars. An [`Observation`] is the only
//! thing that changes [`crate::state::FleetState`] and the only thing a recording stores.
//!
//! Owns: the records, `Observation`/`Change`, and the verdicts derived from one record
//! (health, status) under [`Verdicts`].
//! May not import: `crate::state`, `sources`, `config`, `ui`, `analytics`, `record`, `cli`;
//! kube, ratatui, polars, tokio; no I/O (ARCHITECTURE.md's map; `tests/boundaries.rs`).

mod cluster;
mod denial;
mod exception;
mod gpu;
mod pipeline;
mod policy;
mod skip;
mod verdicts;

pub use cluster::{ClusterHealth, ClusterId, ClusterStatus, ConnectionState, SourceKind, SourceState};
pub use denial::{
    Denial, DenialClass, Enforcement, Engine, Evidence, EvidenceSource, FailureKind, ObjectRef, PolicyRef,
    Severity,
};
pub use exception::{
    DEFAULT_EXPIRY_WINDOW, ExceptionStatus, ExpirySource, PolicyException, PolicyRuleRef, ScopeFilter,
    ScopeMatch, glob_matches,
};
pub use gpu::{
    FlavorQuota, GpuDevice, GpuNode, GpuProcess, GpuQueue, GpuWorkload, IDLE_FLAG_AFTER, IDLE_RUN_MAX_GAP,
    IDLE_UTILIZATION_PCT, IdleRun, PendingGpuPod, WorkloadEvent, WorkloadState, is_gpu_resource,
};
pub use pipeline::{
    ComponentKind, PipelineComponent, PipelineHealth, PipelineThresholds, PipelineVerdict, Signal,
};
pub use policy::{Policy, Rollout};
pub use skip::ReportSkip;
pub use verdicts::Verdicts;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One fact observed about one cluster at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// When the fact was observed (source clock, UTC).
    pub at: Timestamp,
    /// The cluster it is about.
    pub cluster: ClusterId,
    /// What changed.
    pub change: Change,
}

/// What an observation changes in the fleet state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
// Nearly every observation is an upsert, so boxing the record would add an allocation per
// observation and save nothing.
#[allow(clippy::large_enum_variant)]
pub enum Change {
    /// The cluster's connection, server version, latency or labels changed.
    Cluster(ClusterUpdate),
    /// One source (watch or scrape) of the cluster changed state.
    Source {
        /// Which source.
        source: SourceKind,
        /// Its new state.
        state: SourceState,
    },
    /// A record was created or replaced (keyed by [`Record::key`]).
    Upsert {
        /// The whole new record.
        record: Record,
    },
    /// A record was removed.
    Delete {
        /// Which table.
        kind: RecordKind,
        /// The record's key within its cluster.
        key: String,
    },
    /// A full (re)list of one kind begins: records of this kind not upserted again before
    /// the matching [`Change::SyncEnd`] are removed (Kubernetes relist / 410 Gone semantics).
    SyncStart {
        /// Which table is being relisted.
        kind: RecordKind,
    },
    /// The (re)list that [`Change::SyncStart`] opened is complete.
    SyncEnd {
        /// Which table was relisted.
        kind: RecordKind,
    },
}

impl Change {
    /// The `op` of every variant, as recordings spell it. A reader skips observations whose
    /// `op` is not here (a later 1.x added it; see `docs/recording-format.md`).
    pub const OPS: [&'static str; 6] = ["cluster", "source", "upsert", "delete", "sync_start", "sync_end"];
}

/// A partial update of a cluster's connection facts; `None` fields are left unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterUpdate {
    /// New connection state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionState>,
    /// API server version (`v1.30.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// Round-trip latency of the last API request, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u32>,
    /// Labels from the fleet file (env, region, …), replacing earlier ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

/// Any record a source can upsert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// An admission denial (or warning/audit finding).
    Denial(Denial),
    /// A policy exception.
    Exception(PolicyException),
    /// A Kueue ClusterQueue.
    GpuQueue(GpuQueue),
    /// A Kueue Workload that asks for GPUs.
    GpuWorkload(GpuWorkload),
    /// A pod that requests GPUs and is not scheduled.
    PendingGpuPod(PendingGpuPod),
    /// A node with GPUs.
    GpuNode(GpuNode),
    /// One component of a telemetry pipeline, for one signal.
    Pipeline(PipelineComponent),
    /// A policy object (its version, rules and enforcement).
    Policy(Policy),
    /// A policy report's `skip` result naming the exceptions behind it (format 1.2).
    Skip(ReportSkip),
}

/// The tables of [`crate::state::FleetState`], one per record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// [`Denial`] records.
    Denial,
    /// [`PolicyException`] records.
    Exception,
    /// [`GpuQueue`] records.
    GpuQueue,
    /// [`GpuWorkload`] records.
    GpuWorkload,
    /// [`PendingGpuPod`] records.
    PendingGpuPod,
    /// [`GpuNode`] records.
    GpuNode,
    /// [`PipelineComponent`] records.
    Pipeline,
    /// [`Policy`] records.
    Policy,
    /// [`ReportSkip`] records (format 1.2).
    Skip,
}

impl RecordKind {
    /// Every table, in the order the state and snapshots list them.
    pub const ALL: [RecordKind; 9] = [
        RecordKind::Denial,
        RecordKind::Exception,
        RecordKind::GpuQueue,
        RecordKind::GpuWorkload,
        RecordKind::PendingGpuPod,
        RecordKind::GpuNode,
        RecordKind::Pipeline,
        RecordKind::Policy,
        RecordKind::Skip,
    ];
}

impl Record {
    /// The table this record belongs to.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Denial(_) => RecordKind::Denial,
            Record::Exception(_) => RecordKind::Exception,
            Record::GpuQueue(_) => RecordKind::GpuQueue,
            Record::GpuWorkload(_) => RecordKind::GpuWorkload,
            Record::PendingGpuPod(_) => RecordKind::PendingGpuPod,
            Record::GpuNode(_) => RecordKind::GpuNode,
            Record::Pipeline(_) => RecordKind::Pipeline,
            Record::Policy(_) => RecordKind::Policy,
            Record::Skip(_) => RecordKind::Skip,
        }
    }

    /// The record's key, unique within its cluster and kind.
    pub fn key(&self) -> String {
        match self {
            Record::Denial(r) => r.key(),
            Record::Exception(r) => r.key(),
            Record::GpuQueue(r) => r.key(),
            Record::GpuWorkload(r) => r.key(),
            Record::PendingGpuPod(r) => r.key(),
            Record::GpuNode(r) => r.key(),
            Record::Pipeline(r) => r.key(),
            Record::Policy(r) => r.key(),
            Record::Skip(r) => r.key(),
        }
    }
}

/// `namespace/name`, or just `name` for cluster-scoped objects.
pub(crate) fn ns_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}
