//! Following observations into ledger rows: a small state machine per Kueue workload
//! (admitted → evicted / finished / deleted, waits in between) and per GPU (utilisation
//! stretches), with the reducer's relist semantics (what a relist does not confirm is gone).

use std::collections::{BTreeSet, HashMap};

use super::{
    Allocation, DeviceIndex, Ledger, MAX_SAMPLE_HOLD_MS, NameId, Preemption, QueueInfo, UtilInterval, Wait,
    WaitEnd, namespace_of,
};
use crate::model::{
    Change, GpuNode, GpuQueue, GpuWorkload, IDLE_UTILIZATION_PCT, Observation, Record, RecordKind,
    WorkloadState, is_gpu_resource,
};
use crate::sources::parse::kueue_message::{self, PreemptionCause};

/// What the follower remembers between observations.
#[derive(Debug, Clone, Default)]
pub(super) struct Tracking {
    /// (cluster, workload) → its open rows.
    workloads: HashMap<(NameId, NameId), Track>,
    /// (cluster, node) → (GPU index, MIG instance) → open utilisation stretch.
    devices: DeviceIndex,
    /// (cluster, kind) → keys a running relist has not confirmed yet.
    relists: HashMap<(NameId, RecordKind), BTreeSet<NameId>>,
}

/// One workload's open rows.
#[derive(Debug, Clone, Copy, Default)]
struct Track {
    /// Index of its open allocation.
    alloc: Option<usize>,
    /// Index of its open wait.
    wait: Option<usize>,
    /// Its last state was Evicted (a repeated Evicted upsert is not a second preemption).
    evicted: bool,
    /// When its last allocation ended (a stale admission time never reaches before it).
    last_end: Option<i64>,
}

impl Ledger {
    /// Follows one observation. Only GPU workloads, ClusterQueues and GPU nodes matter;
    /// every observation widens the ledger's span.
    pub fn observe(&mut self, obs: &Observation) {
        let at = obs.at.as_millisecond();
        self.widen(at);
        let cluster = self.names.intern(obs.cluster.as_str());
        match &obs.change {
            Change::Upsert { record: Record::GpuWorkload(w) } => {
                let key = self.names.intern(&w.key());
                self.confirm(cluster, RecordKind::GpuWorkload, key);
                self.workload(cluster, key, w, at);
            }
            Change::Upsert { record: Record::GpuNode(n) } => {
                let key = self.names.intern(&n.name);
                self.confirm(cluster, RecordKind::GpuNode, key);
                self.node(cluster, key, n, at);
            }
            Change::Upsert { record: Record::GpuQueue(q) } => self.queue(cluster, q),
            Change::Delete { kind: kind @ (RecordKind::GpuWorkload | RecordKind::GpuNode), key } => {
                let key = self.names.intern(key);
                self.gone(cluster, *kind, key, at);
            }
            Change::SyncStart { kind: kind @ (RecordKind::GpuWorkload | RecordKind::GpuNode) } => {
                let keys: BTreeSet<NameId> = match kind {
                    RecordKind::GpuWorkload => {
                        self.follow.workloads.keys().filter(|(c, _)| *c == cluster).map(|(_, w)| *w).collect()
                    }
                    _ => self.follow.devices.keys().filter(|(c, _)| *c == cluster).map(|(_, n)| *n).collect(),
                };
                self.follow.relists.insert((cluster, *kind), keys);
            }
            Change::SyncEnd { kind: kind @ (RecordKind::GpuWorkload | RecordKind::GpuNode) } => {
                if let Some(stale) = self.follow.relists.remove(&(cluster, *kind)) {
                    for key in stale {
                        self.gone(cluster, *kind, key, at);
                    }
                }
            }
            _ => {}
        }
    }

    fn confirm(&mut self, cluster: NameId, kind: RecordKind, key: NameId) {
        if let Some(pending) = self.follow.relists.get_mut(&(cluster, kind)) {
            pending.remove(&key);
        }
    }

    fn queue(&mut self, cluster: NameId, q: &GpuQueue) {
        let name = self.names.intern(&q.name);
        let mut info = QueueInfo {
            team: q.team.as_deref().map(|t| self.names.intern(t)),
            cohort: q.cohort.as_deref().map(|c| self.names.intern(c)),
            nominal_gpus: Default::default(),
            nominal_cpu: 0.0,
            nominal_memory: 0.0,
        };
        for quota in &q.quotas {
            match quota.resource.as_str() {
                "cpu" => info.nominal_cpu += quota.nominal,
                "memory" => info.nominal_memory += quota.nominal,
                r if is_gpu_resource(r) => {
                    let flavor = self.names.intern(&quota.flavor);
                    *info.nominal_gpus.entry(flavor).or_default() += quota.nominal;
                }
                _ => {}
            }
        }
        self.queues.insert((cluster, name), info);
    }

    fn workload(&mut self, cluster: NameId, key: NameId, w: &GpuWorkload, at: i64) {
        let first_seen = !self.follow.workloads.contains_key(&(cluster, key));
        let mut track = self.follow.workloads.get(&(cluster, key)).copied().unwrap_or_default();
        let ids = RowIds::of(self, cluster, key, w);
        match &w.state {
            WorkloadState::Admitted => {
                let floor = track.last_end.unwrap_or(i64::MIN);
                let start = w.admitted_at.map(|t| t.as_millisecond()).filter(|s| *s <= at && *s >= floor);
                let start = start.unwrap_or(at);
                if let Some(i) = track.alloc {
                    let same =
                        self.allocations.get(i).is_some_and(|a| a.gpus == w.gpus && a.flavor == ids.flavor);
                    if !same {
                        self.close_allocation(&mut track, at);
                    }
                }
                if track.alloc.is_none() {
                    let start = if track.last_end.is_some_and(|e| e > start) { at } else { start };
                    track.alloc = Some(self.allocations.len());
                    self.allocations.push(ids.allocation(w, start));
                }
                match track.wait.take() {
                    Some(i) => {
                        if let Some(wait) = self.waits.get_mut(i) {
                            wait.end = WaitEnd::Admitted(start.max(wait.start_ms));
                        }
                    }
                    None if first_seen && !was_evicted(w) => {
                        let created = w.created_at.as_millisecond();
                        if created <= start {
                            self.waits.push(ids.wait(w.gpus, created, WaitEnd::Admitted(start)));
                        }
                    }
                    None => {}
                }
                track.evicted = false;
            }
            WorkloadState::Evicted { reason, message } => {
                self.close_allocation(&mut track, at);
                // A repeated Evicted upsert is the same eviction; one first seen evicted happened
                // before the observations and is not counted.
                if !track.evicted
                    && !first_seen
                    && let Some(p) = self.preemption(&ids, w, reason, message, at)
                {
                    self.preemptions.push(p);
                }
                track.evicted = true;
                let since = if first_seen { evicted_at(w).filter(|t| *t <= at).unwrap_or(at) } else { at };
                self.open_wait(&mut track, &ids, w.gpus, since);
            }
            WorkloadState::Pending { .. } | WorkloadState::QuotaReserved => {
                self.close_allocation(&mut track, at);
                let since = if first_seen { w.created_at.as_millisecond().min(at) } else { at };
                self.open_wait(&mut track, &ids, w.gpus, since);
                track.evicted = false;
            }
            WorkloadState::Finished { .. } => {
                // Seen only once it was over: its run is known when the admission and the finish
                // are both on record.
                if first_seen
                    && let (Some(start), Some(end)) =
                        (w.admitted_at.map(|t| t.as_millisecond()), finished_at(w))
                    && start <= end
                {
                    let mut row = ids.allocation(w, start);
                    row.end_ms = Some(end);
                    self.allocations.push(row);
                    track.last_end = Some(end);
                }
                self.close_allocation(&mut track, at);
                self.abandon_wait(&mut track);
                track.evicted = false;
            }
        }
        self.follow.workloads.insert((cluster, key), track);
    }

    fn preemption(
        &mut self,
        ids: &RowIds,
        w: &GpuWorkload,
        reason: &str,
        message: &str,
        at: i64,
    ) -> Option<Preemption> {
        let parsed = kueue_message::parse_preemption(message);
        if reason != "Preempted" && parsed.is_none() {
            return None;
        }
        let (cause, preemptor_queue) = match &parsed {
            Some(p) => {
                let cause = match (&p.cause, p.cause.condition_reason()) {
                    (_, Some(r)) => r,
                    (PreemptionCause::HigherPriority, None) => "HigherPriority",
                    (PreemptionCause::Other(words), None) => words.as_str(),
                    _ => "Unknown",
                };
                let queue = match (&p.preemptor_path, &p.cause) {
                    (Some(path), _) => path.rsplit('/').find(|s| !s.is_empty()).map(|q| self.names.intern(q)),
                    (None, PreemptionCause::InClusterQueue) => ids.cluster_queue,
                    _ => None,
                };
                (cause.to_string(), queue)
            }
            None => (reason.to_string(), None),
        };
        Some(Preemption {
            cluster: ids.cluster,
            namespace: ids.namespace,
            workload: ids.workload,
            team: ids.team,
            cluster_queue: ids.cluster_queue,
            gpus: w.gpus,
            at_ms: at,
            cause: self.names.intern(&cause),
            preemptor_queue,
        })
    }

    fn close_allocation(&mut self, track: &mut Track, at: i64) {
        if let Some(a) = track.alloc.take().and_then(|i| self.allocations.get_mut(i)) {
            let end = at.max(a.start_ms);
            a.end_ms = Some(end);
            track.last_end = Some(end);
        }
    }

    fn open_wait(&mut self, track: &mut Track, ids: &RowIds, gpus: u32, since: i64) {
        if track.wait.is_none() {
            track.wait = Some(self.waits.len());
            self.waits.push(ids.wait(gpus, since, WaitEnd::Waiting));
        }
    }

    fn abandon_wait(&mut self, track: &mut Track) {
        if let Some(wait) = track.wait.take().and_then(|i| self.waits.get_mut(i)) {
            wait.end = WaitEnd::Abandoned;
        }
    }

    fn node(&mut self, cluster: NameId, node: NameId, n: &GpuNode, at: i64) {
        let node_product = n.product.as_deref().map(|p| self.names.intern(p));
        let mut open = self.follow.devices.remove(&(cluster, node)).unwrap_or_default();
        let mut seen = BTreeSet::new();
        for d in &n.devices {
            let Some(util) = d.utilization_pct else { continue };
            let mig = d.mig.as_deref().map(|m| self.names.intern(m));
            let device = (d.index, mig);
            seen.insert(device);
            let pod = d.pod.as_deref().or_else(|| d.processes.iter().find_map(|p| p.pod.as_deref()));
            let allocated = pod.is_some() || !d.processes.is_empty();
            let sample = UtilInterval {
                cluster,
                node,
                device: d.index,
                mig,
                product: node_product.or_else(|| d.product.as_deref().map(|p| self.names.intern(p))),
                namespace: pod.and_then(namespace_of).map(|ns| self.names.intern(ns)),
                allocated,
                idle: allocated && util < IDLE_UTILIZATION_PCT,
                start_ms: at,
                last_sample_ms: at,
                end_ms: None,
            };
            let current = open.get(&device).copied();
            let extends = current.and_then(|i| self.utilisation.get_mut(i)).filter(|s| {
                s.allocated == sample.allocated
                    && s.idle == sample.idle
                    && s.namespace == sample.namespace
                    && s.product == sample.product
                    && at - s.last_sample_ms <= MAX_SAMPLE_HOLD_MS
            });
            match extends {
                Some(s) => s.last_sample_ms = s.last_sample_ms.max(at),
                None => {
                    if let Some(s) = current.and_then(|i| self.utilisation.get_mut(i)) {
                        s.end_ms = Some(at.min(s.last_sample_ms + MAX_SAMPLE_HOLD_MS).max(s.start_ms));
                    }
                    open.insert(device, self.utilisation.len());
                    self.utilisation.push(sample);
                }
            }
        }
        // Devices that stopped reporting end at their last sample's hold.
        let gone: Vec<(u32, Option<NameId>)> = open.keys().filter(|i| !seen.contains(i)).copied().collect();
        for i in gone {
            if let Some(s) = open.remove(&i).and_then(|k| self.utilisation.get_mut(k)) {
                s.end_ms = Some(at.min(s.last_sample_ms + MAX_SAMPLE_HOLD_MS).max(s.start_ms));
            }
        }
        self.follow.devices.insert((cluster, node), open);
    }

    fn gone(&mut self, cluster: NameId, kind: RecordKind, key: NameId, at: i64) {
        match kind {
            RecordKind::GpuWorkload => {
                if let Some(mut track) = self.follow.workloads.remove(&(cluster, key)) {
                    self.close_allocation(&mut track, at);
                    self.abandon_wait(&mut track);
                }
            }
            RecordKind::GpuNode => {
                for (_, i) in self.follow.devices.remove(&(cluster, key)).unwrap_or_default() {
                    if let Some(s) = self.utilisation.get_mut(i) {
                        s.end_ms = Some(at.min(s.last_sample_ms + MAX_SAMPLE_HOLD_MS).max(s.start_ms));
                    }
                }
            }
            _ => {}
        }
    }
}

/// The interned names one workload's rows carry.
struct RowIds {
    cluster: NameId,
    namespace: NameId,
    workload: NameId,
    team: Option<NameId>,
    cluster_queue: Option<NameId>,
    local_queue: NameId,
    flavor: Option<NameId>,
}

impl RowIds {
    fn of(ledger: &mut Ledger, cluster: NameId, workload: NameId, w: &GpuWorkload) -> Self {
        let names = &mut ledger.names;
        Self {
            cluster,
            namespace: names.intern(&w.namespace),
            workload,
            team: w.team.as_deref().map(|t| names.intern(t)),
            cluster_queue: w.cluster_queue.as_deref().map(|q| names.intern(q)),
            local_queue: names.intern(&w.local_queue),
            flavor: w.flavor.as_deref().map(|f| names.intern(f)),
        }
    }

    fn allocation(&self, w: &GpuWorkload, start_ms: i64) -> Allocation {
        Allocation {
            cluster: self.cluster,
            namespace: self.namespace,
            workload: self.workload,
            team: self.team,
            cluster_queue: self.cluster_queue,
            local_queue: self.local_queue,
            flavor: self.flavor,
            gpus: w.gpus,
            cpu: w.cpu.unwrap_or(0.0) as f32,
            memory: w.memory.unwrap_or(0.0) as f32,
            start_ms,
            end_ms: None,
        }
    }

    fn wait(&self, gpus: u32, start_ms: i64, end: WaitEnd) -> Wait {
        Wait {
            cluster: self.cluster,
            namespace: self.namespace,
            workload: self.workload,
            team: self.team,
            cluster_queue: self.cluster_queue,
            gpus,
            start_ms,
            end,
        }
    }
}

/// True when the workload's history shows an eviction: its admission time is then not the
/// end of its first wait.
fn was_evicted(w: &GpuWorkload) -> bool {
    w.history.iter().any(|e| e.what.starts_with("Evicted=True"))
}

/// When the history says the workload was last evicted.
fn evicted_at(w: &GpuWorkload) -> Option<i64> {
    w.history.iter().rev().find(|e| e.what.starts_with("Evicted=True")).map(|e| e.at.as_millisecond())
}

/// When the history says the workload finished.
fn finished_at(w: &GpuWorkload) -> Option<i64> {
    w.history.iter().rev().find(|e| e.what.starts_with("Finished=True")).map(|e| e.at.as_millisecond())
}
