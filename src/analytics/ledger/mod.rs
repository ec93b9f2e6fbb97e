//! The ledger: who held how many GPUs of which flavor, from when to when; who waited; who
//! was preempted; how busy the allocated GPUs were. Plain Rust rows, followed from
//! [`Observation`]s (live or replayed) by [`Ledger::observe`]; the engine turns them into
//! DataFrames.
//!
//! Names (clusters, namespaces, teams, queues, flavors) are interned: a row holds
//! [`NameId`]s, so a ledger of millions of rows stays small and the engine groups by
//! integers. [`Ledger::name`] gives the text back.

mod follow;
mod names;

pub use names::{NameId, Names};

use std::collections::{BTreeMap, HashMap};

use crate::model::{Change, Observation, Record};
use crate::state::FleetState;

/// How long one utilisation sample stands for when no later sample of the same GPU comes:
/// the scrape or sampling interval is 15–60 s, so a GPU whose samples stop (its cluster went
/// unreachable, the exporter died) is not assumed idle or busy for longer than this.
pub const MAX_SAMPLE_HOLD_MS: i64 = 2 * 60 * 1000;

/// One period during which a workload held GPUs (admitted by Kueue).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Allocation {
    /// Cluster.
    pub cluster: NameId,
    /// Namespace of the workload.
    pub namespace: NameId,
    /// The workload (`namespace/name`).
    pub workload: NameId,
    /// Team from the workload's label; `None` falls back to its ClusterQueue's team.
    pub team: Option<NameId>,
    /// ClusterQueue, when known.
    pub cluster_queue: Option<NameId>,
    /// LocalQueue.
    pub local_queue: NameId,
    /// ResourceFlavor assigned at admission, when known.
    pub flavor: Option<NameId>,
    /// GPUs held.
    pub gpus: u32,
    /// CPU cores requested (0 = not known); with `memory`, the other resources of
    /// dominant-resource share.
    pub cpu: f32,
    /// Memory requested, bytes (0 = not known).
    pub memory: f32,
    /// Admission (milliseconds since the Unix epoch).
    pub start_ms: i64,
    /// Eviction, finish or deletion; `None` = still running.
    pub end_ms: Option<i64>,
}

/// How a wait for quota ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    /// Still waiting.
    Waiting,
    /// Admitted at this moment (milliseconds since the Unix epoch).
    Admitted(i64),
    /// The workload finished or was deleted without being admitted: not a queue wait.
    Abandoned,
}

/// One wait for quota: from creation (or eviction) to admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// Cluster.
    pub cluster: NameId,
    /// Namespace.
    pub namespace: NameId,
    /// The workload (`namespace/name`).
    pub workload: NameId,
    /// Team label; `None` falls back to the ClusterQueue's team.
    pub team: Option<NameId>,
    /// ClusterQueue, when known.
    pub cluster_queue: Option<NameId>,
    /// GPUs wanted.
    pub gpus: u32,
    /// Since when (milliseconds since the Unix epoch).
    pub start_ms: i64,
    /// How it ended.
    pub end: WaitEnd,
}

/// One preemption: a workload evicted by Kueue to make room for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preemption {
    /// Cluster.
    pub cluster: NameId,
    /// Namespace of the workload that suffered it.
    pub namespace: NameId,
    /// The workload that suffered it.
    pub workload: NameId,
    /// Its team label; `None` falls back to its ClusterQueue's team.
    pub team: Option<NameId>,
    /// Its ClusterQueue.
    pub cluster_queue: Option<NameId>,
    /// GPUs it lost.
    pub gpus: u32,
    /// When (milliseconds since the Unix epoch).
    pub at_ms: i64,
    /// Why, in Kueue's words (`reclamation within the cohort`).
    pub cause: NameId,
    /// The preemptor's ClusterQueue when the message tells (a `preemptor path`, or a
    /// preemption inside the victim's own ClusterQueue); `None` = not said.
    pub preemptor_queue: Option<NameId>,
}

/// A stretch of time during which one GPU was in one condition (allocated or not, idle or
/// not), merged from consecutive utilisation samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtilInterval {
    /// Cluster.
    pub cluster: NameId,
    /// Node.
    pub node: NameId,
    /// GPU index on the node.
    pub device: u32,
    /// The MIG instance of that GPU (`1g.10gb/3`), `None` for a whole GPU: each instance is a
    /// stretch of its own.
    pub mig: Option<NameId>,
    /// GPU product (node label or driver name), when known.
    pub product: Option<NameId>,
    /// Namespace of the pod holding it, when it is held and the pod is known.
    pub namespace: Option<NameId>,
    /// Held by a pod.
    pub allocated: bool,
    /// Held, and under [`crate::model::IDLE_UTILIZATION_PCT`] utilisation.
    pub idle: bool,
    /// First sample (milliseconds since the Unix epoch).
    pub start_ms: i64,
    /// Last sample in the stretch.
    pub last_sample_ms: i64,
    /// Where the stretch ends, once a different sample (or the node's removal) closed it;
    /// `None` = open: it ends at most [`MAX_SAMPLE_HOLD_MS`] after its last sample.
    pub end_ms: Option<i64>,
}

impl UtilInterval {
    /// The end of the stretch as far as the evidence goes, capped at `limit_ms`.
    pub fn effective_end(&self, limit_ms: i64) -> i64 {
        self.end_ms.unwrap_or(self.last_sample_ms + MAX_SAMPLE_HOLD_MS).min(limit_ms)
    }
}

/// What the ledger knows of a ClusterQueue (its latest version).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueInfo {
    /// Owning team.
    pub team: Option<NameId>,
    /// Cohort.
    pub cohort: Option<NameId>,
    /// Nominal GPU quota per flavor (every GPU-like resource of the flavor added up).
    pub nominal_gpus: BTreeMap<NameId, f64>,
    /// Nominal CPU quota over every flavor, cores.
    pub nominal_cpu: f64,
    /// Nominal memory quota over every flavor, bytes.
    pub nominal_memory: f64,
}

impl QueueInfo {
    /// Nominal GPUs over every flavor.
    pub fn total_nominal(&self) -> f64 {
        self.nominal_gpus.values().sum()
    }
}

/// The allocation history and its companions, followed from observations.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    names: Names,
    allocations: Vec<Allocation>,
    waits: Vec<Wait>,
    preemptions: Vec<Preemption>,
    utilisation: Vec<UtilInterval>,
    queues: BTreeMap<(NameId, NameId), QueueInfo>,
    span: Option<(i64, i64)>,
    follow: follow::Tracking,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// A ledger of every observation, in order.
    pub fn from_observations<'a>(observations: impl IntoIterator<Item = &'a Observation>) -> Self {
        let mut ledger = Self::new();
        for obs in observations {
            ledger.observe(obs);
        }
        ledger
    }

    /// A ledger of one moment of the fleet (a live snapshot): every ClusterQueue, GPU
    /// workload and GPU node as if just listed at `state.now()`. Running workloads count from
    /// their admission time, finished ones from their history when it has the finish; waits,
    /// preemptions and utilisation before the moment are unknown.
    pub fn from_state(state: &FleetState) -> Self {
        let mut ledger = Self::new();
        let at = state.now();
        let records = state
            .gpu_queues()
            .iter()
            .map(|(id, q)| (id, Record::GpuQueue(q.clone())))
            .chain(state.gpu_workloads().iter().map(|(id, w)| (id, Record::GpuWorkload(w.clone()))))
            .chain(state.gpu_nodes().iter().map(|(id, n)| (id, Record::GpuNode(n.clone()))));
        for (id, record) in records {
            ledger.observe(&Observation {
                at,
                cluster: id.cluster.clone(),
                change: Change::Upsert { record },
            });
        }
        ledger
    }

    /// The interned names.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The text of a name.
    pub fn name(&self, id: NameId) -> &str {
        self.names.get(id)
    }

    /// Interns a name (for rows built by hand: tests, benchmarks, imports).
    pub fn intern(&mut self, name: &str) -> NameId {
        self.names.intern(name)
    }

    /// Allocations, in the order they started being followed.
    pub fn allocations(&self) -> &[Allocation] {
        &self.allocations
    }

    /// Waits for quota.
    pub fn waits(&self) -> &[Wait] {
        &self.waits
    }

    /// Preemptions.
    pub fn preemptions(&self) -> &[Preemption] {
        &self.preemptions
    }

    /// Utilisation stretches.
    pub fn utilisation(&self) -> &[UtilInterval] {
        &self.utilisation
    }

    /// ClusterQueues by (cluster, name).
    pub fn queues(&self) -> &BTreeMap<(NameId, NameId), QueueInfo> {
        &self.queues
    }

    /// First and last observation times (milliseconds since the Unix epoch), widened by the
    /// rows added by hand (`push_*`); `None` when empty. Allocations the observations show
    /// began earlier (admitted before the recording) do not widen it.
    pub fn span(&self) -> Option<(i64, i64)> {
        self.span
    }

    /// Adds an allocation row.
    pub fn push_allocation(&mut self, row: Allocation) {
        self.widen(row.start_ms);
        if let Some(end) = row.end_ms {
            self.widen(end);
        }
        self.allocations.push(row);
    }

    /// Replaces the last allocation pushed (tests that shape a row after a helper made it).
    #[cfg(test)]
    pub(crate) fn replace_last_allocation(&mut self, row: Allocation) {
        if let Some(last) = self.allocations.last_mut() {
            *last = row;
        }
    }

    /// Adds a wait row.
    pub fn push_wait(&mut self, row: Wait) {
        self.widen(row.start_ms);
        if let WaitEnd::Admitted(end) = row.end {
            self.widen(end);
        }
        self.waits.push(row);
    }

    /// Adds a preemption row.
    pub fn push_preemption(&mut self, row: Preemption) {
        self.widen(row.at_ms);
        self.preemptions.push(row);
    }

    /// Adds a utilisation row.
    pub fn push_utilisation(&mut self, row: UtilInterval) {
        self.widen(row.start_ms);
        self.utilisation.push(row);
    }

    /// Sets what is known of a ClusterQueue.
    pub fn set_queue(&mut self, cluster: NameId, queue: NameId, info: QueueInfo) {
        self.queues.insert((cluster, queue), info);
    }

    /// The team a row belongs to: its own label, else its ClusterQueue's team.
    pub fn team_of(&self, cluster: NameId, team: Option<NameId>, queue: Option<NameId>) -> Option<NameId> {
        team.or_else(|| queue.and_then(|q| self.queues.get(&(cluster, q))).and_then(|q| q.team))
    }

    fn widen(&mut self, at_ms: i64) {
        self.span = Some(match self.span {
            None => (at_ms, at_ms),
            Some((a, b)) => (a.min(at_ms), b.max(at_ms)),
        });
    }
}

/// Namespace of a `namespace/name` pod reference.
fn namespace_of(pod: &str) -> Option<&str> {
    pod.split_once('/').map(|(ns, _)| ns).filter(|ns| !ns.is_empty())
}

/// The per-device index the follower keeps: (cluster, node) → (GPU index, MIG instance) →
/// open stretch.
type DeviceIndex = HashMap<(NameId, NameId), BTreeMap<(u32, Option<NameId>), usize>>;

#[cfg(test)]
mod tests;
