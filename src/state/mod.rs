//! The fleet state: a pure, deterministic reducer over [`Observation`]s.
//!
//! No I/O and no clock reads happen here: the clock is a value ([`FleetState::now`]) that
//! observations and the app's ticks advance. Live mode and replay feed the same reducer, so
//! the same observations always produce the same state (and the same screens).
//!
//! Owns: [`FleetState`] (tables, indexes, relist semantics, derived histories and merged
//! denials), keyframes and the JSON snapshot view.
//! May not import: `crate::sources`, `config`, `ui`, `analytics`, `record`, `cli`; kube,
//! ratatui, polars, tokio; no I/O, no clock reads (`tests/boundaries.rs`).

pub mod bounds;
mod evictions;
mod gpu_history;
mod keyframe;
mod merged;
mod minutes;
mod pipeline_history;
mod reach;
mod snapshot;

pub use evictions::{Eviction, Evictions, MAX_EVICTIONS};
pub use gpu_history::{DeviceKey, GpuHistory};
pub use keyframe::Keyframe;
pub use merged::{HISTORY_MINUTES, MergedDenials, generated_prefix, merge_key, merged_object};
pub use pipeline_history::{HISTORY as PIPELINE_HISTORY, PipelineHistory, RateSample};
pub use reach::Reach;
pub use snapshot::{SECTIONS, StateSnapshot};

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use crate::model::{
    Change, ClusterId, ClusterStatus, ClusterUpdate, Denial, GpuNode, GpuQueue, GpuWorkload, Observation,
    PendingGpuPod, PipelineComponent, Policy, PolicyException, Record, RecordKind, ReportSkip, Verdicts,
};

/// A record's identity in the fleet: its cluster, then its key within the cluster.
///
/// Ordered by cluster first, so a table's rows for one cluster form a contiguous range.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId {
    /// The cluster.
    pub cluster: ClusterId,
    /// The record's key within the cluster and its kind.
    pub key: String,
}

impl RecordId {
    /// Builds an id.
    pub fn new(cluster: ClusterId, key: impl Into<String>) -> Self {
        Self { cluster, key: key.into() }
    }
}

/// One table of records of one type, ordered by [`RecordId`].
pub type Table<T> = BTreeMap<RecordId, T>;

/// Secondary indexes the panes and joins need; rebuilt from the tables, never recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Indexes {
    /// Policy name → exceptions that bypass it.
    pub exceptions_by_policy: BTreeMap<String, BTreeSet<RecordId>>,
    /// (cluster, ClusterQueue) → workloads that go through it.
    pub workloads_by_queue: BTreeMap<(ClusterId, String), BTreeSet<RecordId>>,
    /// (cluster, exception name without namespace) → the skip results that name it.
    pub skips_by_exception: BTreeMap<(ClusterId, String), BTreeSet<RecordId>>,
    /// (cluster, Workload UID) → the workload (Kueue names a preemptor by UID).
    pub workloads_by_uid: BTreeMap<(ClusterId, String), RecordId>,
}

/// Everything fleettop knows about the fleet at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetState {
    now: Timestamp,
    clusters: BTreeMap<ClusterId, ClusterStatus>,
    denials: Table<Denial>,
    exceptions: Table<PolicyException>,
    gpu_queues: Table<GpuQueue>,
    gpu_workloads: Table<GpuWorkload>,
    pending_gpu_pods: Table<PendingGpuPod>,
    gpu_nodes: Table<GpuNode>,
    pipelines: Table<PipelineComponent>,
    policies: Table<Policy>,
    skips: Table<ReportSkip>,
    /// Keys still awaiting re-confirmation in an open relist, per cluster and kind.
    relists: BTreeMap<(ClusterId, RecordKind), BTreeSet<String>>,
    indexes: Indexes,
    merged: MergedDenials,
    pipeline_history: PipelineHistory,
    gpu_history: GpuHistory,
    evictions: Evictions,
    sizes: bounds::Sizes,
    version: u64,
    data_version: u64,
    applied: u64,
    /// Where derived verdicts turn (a setting, not a fact: never recorded).
    verdicts: Verdicts,
}

impl Default for FleetState {
    fn default() -> Self {
        Self::new(Timestamp::UNIX_EPOCH)
    }
}

impl FleetState {
    /// An empty fleet with its clock at `now`.
    pub fn new(now: Timestamp) -> Self {
        Self {
            now,
            clusters: BTreeMap::new(),
            denials: Table::new(),
            exceptions: Table::new(),
            gpu_queues: Table::new(),
            gpu_workloads: Table::new(),
            pending_gpu_pods: Table::new(),
            gpu_nodes: Table::new(),
            pipelines: Table::new(),
            policies: Table::new(),
            skips: Table::new(),
            relists: BTreeMap::new(),
            indexes: Indexes::default(),
            merged: MergedDenials::default(),
            pipeline_history: PipelineHistory::default(),
            gpu_history: GpuHistory::default(),
            evictions: Evictions::default(),
            sizes: bounds::Sizes::default(),
            version: 0,
            data_version: 0,
            applied: 0,
            verdicts: Verdicts::default(),
        }
    }

    /// An empty fleet with its clock at `now` and `clusters` declared (shown as syncing
    /// before any of their data arrives).
    pub fn with_clusters<'a>(now: Timestamp, clusters: impl IntoIterator<Item = &'a ClusterId>) -> Self {
        let mut state = Self::new(now);
        for c in clusters {
            state.add_cluster(c.clone());
        }
        state
    }

    /// Declares a cluster (so it shows as "syncing" before any data arrives).
    pub fn add_cluster(&mut self, id: ClusterId) {
        if !self.clusters.contains_key(&id) {
            self.clusters.insert(id.clone(), ClusterStatus::new(id));
            self.version += 1;
            self.data_version += 1;
        }
    }

    /// Applies one observation. This is the only way records change.
    pub fn apply(&mut self, obs: &Observation) {
        self.applied += 1;
        self.version += 1;
        self.data_version += 1;
        if obs.at > self.now {
            self.now = obs.at;
        }
        let cluster = obs.cluster.clone();
        let status =
            self.clusters.entry(cluster.clone()).or_insert_with(|| ClusterStatus::new(cluster.clone()));
        match &obs.change {
            Change::Cluster(update) => apply_cluster_update(status, update),
            Change::Source { source, state } => {
                status.sources.insert(*source, state.clone());
            }
            Change::Upsert { record } => {
                status.last_data_at = Some(obs.at);
                let key = record.key();
                if let Some(pending) = self.relists.get_mut(&(cluster.clone(), record.kind())) {
                    pending.remove(&key);
                }
                let mut record = record.clone();
                let id = RecordId::new(cluster, key);
                if let Record::Policy(p) = &mut record {
                    p.rollout = rollout_of(self.policies.get(&id), p, obs.at);
                }
                if let Record::GpuNode(n) = &record {
                    self.gpu_history.on_upsert(&id, n, obs.at);
                }
                let kind = record.kind();
                let cluster = id.cluster.clone();
                if self.upsert(id, record) > bounds::MAX_PER_CLUSTER {
                    self.drop_oldest(&cluster, kind);
                }
            }
            Change::Delete { kind, key } => {
                status.last_data_at = Some(obs.at);
                self.remove(*kind, &RecordId::new(cluster, key.clone()));
            }
            Change::SyncStart { kind } => {
                let keys = self.keys_of(*kind, &cluster);
                self.relists.insert((cluster, *kind), keys);
            }
            Change::SyncEnd { kind } => {
                status.last_data_at = Some(obs.at);
                if let Some(stale) = self.relists.remove(&(cluster.clone(), *kind)) {
                    for key in stale {
                        self.remove(*kind, &RecordId::new(cluster.clone(), key));
                    }
                }
            }
        }
    }

    /// Applies observations in order.
    pub fn apply_all<'a>(&mut self, batch: impl IntoIterator<Item = &'a Observation>) {
        for obs in batch {
            self.apply(obs);
        }
    }

    /// Moves the clock forward to `now` (ticks in live mode, the play head in replay).
    /// The clock never goes backwards; seeking back rebuilds the state instead.
    pub fn set_clock(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
            self.version += 1;
        }
    }

    /// Sets where derived verdicts turn (from `config.toml`; a replay's rebuilt states get it
    /// from the player). Views re-derive, as after a change.
    pub fn set_verdicts(&mut self, verdicts: Verdicts) {
        if verdicts != self.verdicts {
            self.verdicts = verdicts;
            self.version += 1;
            self.data_version += 1;
        }
    }

    /// Where derived verdicts turn: pipeline health, exception status.
    pub fn verdicts(&self) -> &Verdicts {
        &self.verdicts
    }

    /// The clock: the moment the state describes.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Increases on every change (observation or clock); views cache on it.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Increases when records or clusters change, not when only the clock moves.
    pub fn data_version(&self) -> u64 {
        self.data_version
    }

    /// Observations applied so far.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Every cluster, by name.
    pub fn clusters(&self) -> &BTreeMap<ClusterId, ClusterStatus> {
        &self.clusters
    }

    /// Denials table.
    pub fn denials(&self) -> &Table<Denial> {
        &self.denials
    }

    /// Denials merged across sources: the rows panes and `why` show (see [`MergedDenials`]).
    pub fn merged_denials(&self) -> &MergedDenials {
        &self.merged
    }

    /// Every denial row (merged across sources), in row id order.
    pub fn denial_rows(&self) -> impl Iterator<Item = (&RecordId, &Denial)> {
        self.merged.iter(&self.denials)
    }

    /// One denial row.
    pub fn denial_row(&self, id: &RecordId) -> Option<&Denial> {
        self.merged.get(id, &self.denials)
    }

    /// The denial rows of one cluster.
    pub fn denial_rows_in<'a>(
        &'a self,
        cluster: &ClusterId,
    ) -> impl Iterator<Item = (&'a RecordId, &'a Denial)> + 'a {
        self.merged.in_cluster(cluster, &self.denials)
    }

    /// Recent utilisation of each GPU, for sparklines (see [`GpuHistory`]).
    pub fn gpu_history(&self) -> &GpuHistory {
        &self.gpu_history
    }

    /// Recent evictions and preemptions of Kueue workloads (see [`Evictions`]).
    pub fn evictions(&self) -> &Evictions {
        &self.evictions
    }

    /// Recent rates of each pipeline component, for sparklines (see [`PipelineHistory`]).
    pub fn pipeline_history(&self) -> &PipelineHistory {
        &self.pipeline_history
    }

    /// Exceptions table.
    pub fn exceptions(&self) -> &Table<PolicyException> {
        &self.exceptions
    }

    /// ClusterQueues table.
    pub fn gpu_queues(&self) -> &Table<GpuQueue> {
        &self.gpu_queues
    }

    /// Workloads table.
    pub fn gpu_workloads(&self) -> &Table<GpuWorkload> {
        &self.gpu_workloads
    }

    /// Pending GPU pods table.
    pub fn pending_gpu_pods(&self) -> &Table<PendingGpuPod> {
        &self.pending_gpu_pods
    }

    /// GPU nodes table.
    pub fn gpu_nodes(&self) -> &Table<GpuNode> {
        &self.gpu_nodes
    }

    /// Pipeline components table.
    pub fn pipelines(&self) -> &Table<PipelineComponent> {
        &self.pipelines
    }

    /// What may be said of the pipeline component `p` (row `id`) now: its verdict, or
    /// unknown since the moment its cluster's pipelines went out of sight
    /// ([`PipelineComponent::verdict`]). Every pane, summary, badge and finding reads this.
    pub fn pipeline_verdict(&self, id: &RecordId, p: &PipelineComponent) -> crate::model::PipelineVerdict {
        p.verdict(&self.verdicts, self.clusters.get(&id.cluster))
    }

    /// Policies table (Kyverno policies, admission policies and bindings, constraints).
    pub fn policies(&self) -> &Table<Policy> {
        &self.policies
    }

    /// Policy report `skip` results naming exceptions (what exceptions bypassed).
    pub fn skips(&self) -> &Table<ReportSkip> {
        &self.skips
    }

    /// The skip results in `cluster` that name the exception called `name` (a namespace
    /// prefix is ignored: reports name exceptions bare), in id order.
    pub fn skips_naming<'a>(
        &'a self,
        cluster: &ClusterId,
        name: &str,
    ) -> impl Iterator<Item = (&'a RecordId, &'a ReportSkip)> + 'a {
        let bare = name.rsplit('/').next().unwrap_or(name).to_string();
        self.indexes
            .skips_by_exception
            .get(&(cluster.clone(), bare))
            .into_iter()
            .flatten()
            .filter_map(|id| self.skips.get(id).map(|s| (id, s)))
    }

    /// Secondary indexes.
    pub fn indexes(&self) -> &Indexes {
        &self.indexes
    }

    /// Rows of `table` that belong to `cluster` (a contiguous range).
    pub fn in_cluster<'a, T>(
        table: &'a Table<T>,
        cluster: &ClusterId,
    ) -> impl Iterator<Item = (&'a RecordId, &'a T)> + 'a {
        let start = RecordId::new(cluster.clone(), String::new());
        let cluster = cluster.clone();
        table.range(start..).take_while(move |(id, _)| id.cluster == cluster)
    }

    /// Number of records over all tables.
    pub fn record_count(&self) -> usize {
        self.denials.len()
            + self.exceptions.len()
            + self.gpu_queues.len()
            + self.gpu_workloads.len()
            + self.pending_gpu_pods.len()
            + self.gpu_nodes.len()
            + self.pipelines.len()
            + self.policies.len()
            + self.skips.len()
    }

    /// Inserts or replaces a record; returns how many records its table now has in its
    /// cluster when that table is bounded and the record is new (else 0).
    fn upsert(&mut self, id: RecordId, record: Record) -> usize {
        let kind = record.kind();
        let cluster = id.cluster.clone();
        if self.upsert_new(id, record) { self.sizes.added(&cluster, kind) } else { 0 }
    }

    /// Inserts or replaces a record; true when it is new.
    fn upsert_new(&mut self, id: RecordId, record: Record) -> bool {
        match record {
            Record::Denial(r) => {
                let old = self.denials.insert(id.clone(), r);
                self.merged.on_change(&self.denials, &id, old.as_ref());
                old.is_none()
            }
            Record::Exception(r) => {
                let policies: Vec<String> = r.policies.iter().map(|p| p.policy.clone()).collect();
                if let Some(old) = self.exceptions.insert(id.clone(), r) {
                    for p in &old.policies {
                        unindex(&mut self.indexes.exceptions_by_policy, &p.policy, &id);
                    }
                }
                for p in policies {
                    self.indexes.exceptions_by_policy.entry(p).or_default().insert(id.clone());
                }
                false
            }
            Record::GpuWorkload(r) => {
                let queue = r.cluster_queue.clone();
                let uid = r.uid.clone();
                self.evictions.on_upsert(&id, &r, self.gpu_workloads.get(&id), self.now);
                let old = self.gpu_workloads.insert(id.clone(), r);
                if let Some(old) = old {
                    self.unindex_workload(&id, old);
                }
                if let Some(u) = uid {
                    self.indexes.workloads_by_uid.insert((id.cluster.clone(), u), id.clone());
                }
                if let Some(q) = queue {
                    self.indexes.workloads_by_queue.entry((id.cluster.clone(), q)).or_default().insert(id);
                }
                false
            }
            Record::GpuQueue(r) => {
                self.gpu_queues.insert(id, r);
                false
            }
            Record::PendingGpuPod(r) => self.pending_gpu_pods.insert(id, r).is_none(),
            Record::GpuNode(r) => {
                self.gpu_nodes.insert(id, r);
                false
            }
            Record::Pipeline(r) => {
                self.pipeline_history.on_upsert(&id, &r);
                self.pipelines.insert(id, r);
                false
            }
            Record::Policy(r) => {
                self.policies.insert(id, r);
                false
            }
            Record::Skip(r) => {
                let names: Vec<String> = r.exception_names().map(str::to_string).collect();
                let old = self.skips.insert(id.clone(), r);
                let new = old.is_none();
                if let Some(old) = old {
                    unindex_skip(&mut self.indexes.skips_by_exception, &old, &id);
                }
                for n in names {
                    self.indexes
                        .skips_by_exception
                        .entry((id.cluster.clone(), n))
                        .or_default()
                        .insert(id.clone());
                }
                new
            }
        }
    }

    /// Drops the oldest records of a bounded table of `cluster` that passed
    /// [`bounds::MAX_PER_CLUSTER`] (see [`bounds`]): ordered by age, then by id, so live
    /// and replay drop the same ones. Counted in the cluster's `dropped`.
    fn drop_oldest(&mut self, cluster: &ClusterId, kind: RecordKind) {
        let n = bounds::to_drop(self.sizes.get(cluster, kind));
        if n == 0 {
            return;
        }
        fn aged<T>(t: &Table<T>, c: &ClusterId, age: fn(&T) -> Timestamp) -> Vec<(Timestamp, RecordId)> {
            FleetState::in_cluster(t, c).map(|(id, r)| (age(r), id.clone())).collect()
        }
        let mut by_age = match kind {
            RecordKind::Denial => aged(&self.denials, cluster, |d| d.last_seen),
            RecordKind::Skip => aged(&self.skips, cluster, |s| s.at),
            RecordKind::PendingGpuPod => aged(&self.pending_gpu_pods, cluster, |p| p.since),
            _ => return,
        };
        let n = n.min(by_age.len());
        if n < by_age.len() {
            by_age.select_nth_unstable(n);
        }
        for (_, id) in by_age.drain(..n) {
            self.remove(kind, &id);
        }
        if let Some(status) = self.clusters.get_mut(cluster) {
            *status.dropped.entry(kind).or_default() += n as u64;
        }
    }

    fn remove(&mut self, kind: RecordKind, id: &RecordId) {
        let removed = self.remove_record(kind, id);
        if removed {
            self.sizes.removed(&id.cluster, kind);
        }
    }

    /// Removes a record; true when there was one.
    fn remove_record(&mut self, kind: RecordKind, id: &RecordId) -> bool {
        match kind {
            RecordKind::Denial => {
                let old = self.denials.remove(id);
                if let Some(old) = &old {
                    self.merged.on_change(&self.denials, id, Some(old));
                }
                old.is_some()
            }
            RecordKind::Exception => {
                let Some(old) = self.exceptions.remove(id) else { return false };
                for p in &old.policies {
                    unindex(&mut self.indexes.exceptions_by_policy, &p.policy, id);
                }
                true
            }
            RecordKind::GpuWorkload => {
                let Some(old) = self.gpu_workloads.remove(id) else { return false };
                self.unindex_workload(id, old);
                true
            }
            RecordKind::GpuQueue => self.gpu_queues.remove(id).is_some(),
            RecordKind::PendingGpuPod => self.pending_gpu_pods.remove(id).is_some(),
            RecordKind::GpuNode => {
                self.gpu_history.on_remove(id);
                self.gpu_nodes.remove(id).is_some()
            }
            RecordKind::Pipeline => {
                self.pipeline_history.on_remove(id);
                self.pipelines.remove(id).is_some()
            }
            RecordKind::Policy => self.policies.remove(id).is_some(),
            RecordKind::Skip => {
                let Some(old) = self.skips.remove(id) else { return false };
                unindex_skip(&mut self.indexes.skips_by_exception, &old, id);
                true
            }
        }
    }

    /// Drops a replaced or removed workload record from the indexes.
    fn unindex_workload(&mut self, id: &RecordId, old: GpuWorkload) {
        if let Some(q) = old.cluster_queue {
            unindex(&mut self.indexes.workloads_by_queue, &(id.cluster.clone(), q), id);
        }
        if let Some(u) = old.uid {
            let key = (id.cluster.clone(), u);
            if self.indexes.workloads_by_uid.get(&key) == Some(id) {
                self.indexes.workloads_by_uid.remove(&key);
            }
        }
    }

    fn keys_of(&self, kind: RecordKind, cluster: &ClusterId) -> BTreeSet<String> {
        fn keys<T>(t: &Table<T>, c: &ClusterId) -> BTreeSet<String> {
            FleetState::in_cluster(t, c).map(|(id, _)| id.key.clone()).collect()
        }
        match kind {
            RecordKind::Denial => keys(&self.denials, cluster),
            RecordKind::Exception => keys(&self.exceptions, cluster),
            RecordKind::GpuQueue => keys(&self.gpu_queues, cluster),
            RecordKind::GpuWorkload => keys(&self.gpu_workloads, cluster),
            RecordKind::PendingGpuPod => keys(&self.pending_gpu_pods, cluster),
            RecordKind::GpuNode => keys(&self.gpu_nodes, cluster),
            RecordKind::Pipeline => keys(&self.pipelines, cluster),
            RecordKind::Policy => keys(&self.policies, cluster),
            RecordKind::Skip => keys(&self.skips, cluster),
        }
    }
}

/// The rollout a policy upsert carries: a new one when its generation differs from the stored
/// record's, else the stored record's (a resync of the same generation keeps the history).
fn rollout_of(old: Option<&Policy>, new: &Policy, at: Timestamp) -> Option<crate::model::Rollout> {
    match old {
        Some(o) if o.generation != new.generation && o.generation.is_some() => {
            Some(crate::model::Rollout { from: o.generation, at })
        }
        Some(o) => o.rollout.clone(),
        None => None,
    }
}

fn apply_cluster_update(status: &mut ClusterStatus, update: &ClusterUpdate) {
    if let Some(c) = &update.connection {
        status.connection = c.clone();
    }
    if let Some(v) = &update.server_version {
        status.server_version = Some(v.clone());
    }
    if let Some(l) = update.latency_ms {
        status.latency_ms = Some(l);
    }
    if let Some(labels) = &update.labels {
        status.labels = labels.clone();
    }
}

fn unindex_skip(
    index: &mut BTreeMap<(ClusterId, String), BTreeSet<RecordId>>,
    old: &ReportSkip,
    id: &RecordId,
) {
    for n in old.exception_names() {
        unindex(index, &(id.cluster.clone(), n.to_string()), id);
    }
}

fn unindex<K, Q>(index: &mut BTreeMap<K, BTreeSet<RecordId>>, key: &Q, id: &RecordId)
where
    K: Ord + std::borrow::Borrow<Q>,
    Q: Ord + ?Sized,
{
    if let Some(set) = index.get_mut(key) {
        set.remove(id);
        if set.is_empty() {
            index.remove(key);
        }
    }
}

#[cfg(test)]
mod tests;
