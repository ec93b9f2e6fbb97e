//! GPU queues (Kueue), workloads, pending pods, nodes and devices.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Quota and usage of one resource in one flavor of a ClusterQueue.
///
/// Quantities are in the resource's base unit: GPUs and cores as counts, memory in bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorQuota {
    /// ResourceFlavor name (`a100`, `h100-80gb`).
    pub flavor: String,
    /// Resource name (`nvidia.com/gpu`).
    pub resource: String,
    /// Nominal quota.
    pub nominal: f64,
    /// How much more it may borrow from its cohort; `None` = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrowing_limit: Option<f64>,
    /// How much of its nominal quota it may lend; `None` = all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lending_limit: Option<f64>,
    /// Used by admitted workloads.
    pub used: f64,
    /// Reserved by workloads with quota reserved (admitted or not yet).
    pub reserved: f64,
    /// Borrowed from the cohort (part of `used` above `nominal`).
    pub borrowed: f64,
    /// The GPU product the flavor's nodes carry (from the ResourceFlavor's node labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
}

/// A Kueue ClusterQueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuQueue {
    /// ClusterQueue name.
    pub name: String,
    /// Cohort it borrows from and lends to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<String>,
    /// Team that owns it (configurable label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Quota per flavor and resource.
    pub quotas: Vec<FlavorQuota>,
    /// Workloads waiting.
    pub pending_workloads: u32,
    /// Workloads admitted.
    pub admitted_workloads: u32,
    /// LocalQueues that point at it (`ns/name`).
    #[serde(default)]
    pub local_queues: Vec<String>,
    /// Kueue API version it was read as (`v1beta2`, `v1beta1`).
    pub api_version: String,
}

impl GpuQueue {
    /// The record key within its cluster.
    pub fn key(&self) -> String {
        self.name.clone()
    }

    /// Sums of (used, nominal, borrowed) over every flavor for resources named like a GPU.
    pub fn gpu_totals(&self) -> (f64, f64, f64) {
        self.quotas
            .iter()
            .filter(|q| is_gpu_resource(&q.resource))
            .fold((0.0, 0.0, 0.0), |(u, n, b), q| (u + q.used, n + q.nominal, b + q.borrowed))
    }
}

/// Utilisation below this (percent) on an allocated GPU counts as idle: the GPU pane's
/// "allocated but idle" and the cost of idle-but-allocated GPUs use the same line.
pub const IDLE_UTILIZATION_PCT: f32 = 5.0;

/// How long a GPU must stay under [`IDLE_UTILIZATION_PCT`], held by the same pod, before the
/// GPU pane flags it "idle but allocated", when its source tracks that (DCGM scrapes do, see
/// [`GpuDevice::idle_since`]): a training job's pauses (data loading, checkpoints) are not
/// flagged. The cost of idle-but-allocated GPUs counts every idle sample, not only these.
pub const IDLE_FLAG_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// Longest gap between two idle samples of a GPU that still counts as one idle stretch (a
/// missed scrape or two); after a longer one its idle clock starts again.
pub const IDLE_RUN_MAX_GAP: jiff::SignedDuration = jiff::SignedDuration::from_mins(2);

/// One idle stretch of one GPU under one pod, as a sampling source (DCGM scrapes, local NVML)
/// tracks it between samples to say [`GpuDevice::idle_since`].
#[derive(Debug, Clone, PartialEq)]
pub struct IdleRun {
    /// The pod holding the GPU (a name or a UID: whatever the source identifies it by).
    pub pod: String,
    /// When the stretch started.
    pub since: Timestamp,
    /// The stretch's latest sample.
    pub last: Timestamp,
}

impl IdleRun {
    /// The stretch a GPU found idle under `pod` at `at` is in: `previous` continued when it is
    /// the same pod, not later, and no more than [`IDLE_RUN_MAX_GAP`] before, else a new one.
    pub fn continued(previous: Option<&IdleRun>, pod: &str, at: Timestamp) -> IdleRun {
        let since = match previous {
            Some(run) if run.pod == pod && at >= run.last && run.reaches(at) => run.since,
            _ => at,
        };
        IdleRun { pod: pod.to_string(), since, last: at }
    }

    /// True while a sample at `at` could still continue the stretch.
    pub fn reaches(&self, at: Timestamp) -> bool {
        at.duration_since(self.last) <= IDLE_RUN_MAX_GAP
    }
}

/// True for accelerator resource names (`nvidia.com/gpu`, `nvidia.com/mig-1g.5gb`, `amd.com/gpu`).
pub fn is_gpu_resource(name: &str) -> bool {
    name.ends_with("/gpu") || name.starts_with("nvidia.com/mig-")
}

/// Where a Kueue Workload is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WorkloadState {
    /// Waiting for quota (`QuotaReserved=False`).
    Pending {
        /// Condition reason (`Pending`, `Inadmissible`, …).
        reason: String,
        /// Condition message, verbatim.
        message: String,
    },
    /// Quota reserved, admission checks pending.
    QuotaReserved,
    /// Admitted and running.
    Admitted,
    /// Evicted (and requeued).
    Evicted {
        /// Condition reason (`Preempted`, `PodsReadyTimeout`, …).
        reason: String,
        /// Condition message, verbatim.
        message: String,
    },
    /// Finished.
    Finished {
        /// Whether it succeeded.
        succeeded: bool,
    },
}

impl WorkloadState {
    /// Short word for tables.
    pub fn label(&self) -> &'static str {
        match self {
            WorkloadState::Pending { .. } => "pending",
            WorkloadState::QuotaReserved => "reserved",
            WorkloadState::Admitted => "admitted",
            WorkloadState::Evicted { .. } => "evicted",
            WorkloadState::Finished { .. } => "finished",
        }
    }
}

/// One entry in a workload's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadEvent {
    /// When.
    pub at: Timestamp,
    /// What happened, in words (condition type, reason and message).
    pub what: String,
}

/// A Kueue Workload that requests GPUs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuWorkload {
    /// Namespace.
    pub namespace: String,
    /// Workload name.
    pub name: String,
    /// The Workload object's UID (what Kueue's preemption messages name a preemptor by), when
    /// known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The job that owns it (`Job/train-llm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// LocalQueue name.
    pub local_queue: String,
    /// ClusterQueue it goes through, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_queue: Option<String>,
    /// Team (configurable label on namespace or workload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// WorkloadPriorityClass name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class: Option<String>,
    /// Effective priority.
    pub priority: i32,
    /// GPUs requested, over all pod sets.
    pub gpus: u32,
    /// CPU requested over all pod sets, in cores; `None` = not known (nothing asks for CPU, or
    /// a recording made before this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// Memory requested over all pod sets, in bytes; `None` = not known (as `cpu`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<f64>,
    /// Flavor assigned at admission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavor: Option<String>,
    /// Current state.
    pub state: WorkloadState,
    /// Creation time: waiting is measured from here.
    pub created_at: Timestamp,
    /// Admission time, once admitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admitted_at: Option<Timestamp>,
    /// Position in its ClusterQueue from the visibility API; `None` = unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// Conditions over time, oldest first.
    #[serde(default)]
    pub history: Vec<WorkloadEvent>,
}

impl GpuWorkload {
    /// The record key within its cluster.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A pod that requests GPUs and is not scheduled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingGpuPod {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Team (configurable label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The accelerator resource asked for (`nvidia.com/gpu`).
    pub resource: String,
    /// How many.
    pub gpus: u32,
    /// Pending since (creation time).
    pub since: Timestamp,
    /// The scheduler's last FailedScheduling message, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Per-reason node counts parsed from the message (`Insufficient nvidia.com/gpu` → 32).
    #[serde(default)]
    pub reasons: Vec<(String, u32)>,
    /// Total nodes the scheduler considered (`0/40 nodes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes_total: Option<u32>,
}

impl PendingGpuPod {
    /// The record key within its cluster.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// One GPU of a node, from DCGM or NVML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuDevice {
    /// Index on the node.
    pub index: u32,
    /// GPU UUID.
    pub uuid: String,
    /// Product name as the driver reports it (`NVIDIA H100 80GB HBM3`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Utilisation in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_pct: Option<f32>,
    /// Framebuffer used, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_mib: Option<u32>,
    /// Framebuffer total, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_total_mib: Option<u32>,
    /// Temperature, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f32>,
    /// Power draw, W.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_w: Option<f32>,
    /// Pod using it (`ns/name`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Processes running on it (NVML only; DCGM does not list them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<GpuProcess>,
    /// The MIG instance this entry stands for, as `<profile>/<GPU instance id>` (`1g.10gb/3`);
    /// `None` for a whole GPU. A MIG GPU has one entry per instance, all with its `index`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mig: Option<String>,
    /// Since when it has been under [`IDLE_UTILIZATION_PCT`] while held by the same pod, in an
    /// unbroken run of samples; `None` when it is busy or free, or when the source does not
    /// track it (then idleness is judged on the latest sample alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_since: Option<Timestamp>,
}

impl GpuDevice {
    /// Held by a pod and under [`IDLE_UTILIZATION_PCT`] in the latest sample.
    pub fn under_idle_line(&self) -> bool {
        self.pod.is_some() && self.utilization_pct.is_some_and(|u| u < IDLE_UTILIZATION_PCT)
    }

    /// "Idle but allocated" at `now`: under the idle line, and for at least
    /// [`IDLE_FLAG_AFTER`] when the source says since when ([`GpuDevice::idle_since`]).
    pub fn idle_but_allocated(&self, now: Timestamp) -> bool {
        self.under_idle_line()
            && self.idle_since.is_none_or(|since| now.duration_since(since) >= IDLE_FLAG_AFTER)
    }
}

/// A process that holds a GPU, with the pod it belongs to when its cgroup tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuProcess {
    /// Process id, in the host's PID namespace (as the driver sees it).
    pub pid: u32,
    /// GPU memory it uses, MiB, when the driver reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_memory_mib: Option<u32>,
    /// UID of its pod, from its cgroup; `None` for host processes or when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// Id of its container (hex), from its cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Its pod as `ns/name`, once the UID has been resolved against the pods watcher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
}

/// A node with GPUs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuNode {
    /// Node name.
    pub name: String,
    /// GPU product label (`NVIDIA-H100-80GB-HBM3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Capacity.
    pub capacity: u32,
    /// Allocatable.
    pub allocatable: u32,
    /// Requested by running pods.
    pub allocated: u32,
    /// MIG strategy / profile label, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mig: Option<String>,
    /// Time-slicing replicas, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing: Option<String>,
    /// False when cordoned.
    pub schedulable: bool,
    /// Taints, as `key=value:Effect`.
    #[serde(default)]
    pub taints: Vec<String>,
    /// Per-GPU telemetry.
    #[serde(default)]
    pub devices: Vec<GpuDevice>,
    /// Why the node's telemetry is missing, when its exporter failed in the last round
    /// (`dcgm-exporter gpu-operator/nvidia-dcgm-exporter-x: no answer within 10000 ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry_error: Option<String>,
}

impl GpuNode {
    /// The record key within its cluster.
    pub fn key(&self) -> String {
        self.name.clone()
    }

    /// Mean utilisation over devices that report one.
    pub fn mean_utilization(&self) -> Option<f32> {
        let values: Vec<f32> = self.devices.iter().filter_map(|d| d.utilization_pct).collect();
        if values.is_empty() { None } else { Some(values.iter().sum::<f32>() / values.len() as f32) }
    }
}
