//! GPU nodes with per-device telemetry (DCGM-like, every ~15 s) and pods that request GPUs but
//! cannot be scheduled, with the scheduler's FailedScheduling message.
//!
//! Which pod holds which device comes from the Kueue script ([`super::kueue`]) plus a few
//! serving pods outside Kueue, so allocation, utilisation and queue usage agree.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::clusters::{self, DURATION, GPU_TRAIN, PROD_AP, PROD_US};
use super::kueue::{A100, H100};
use super::messages::{self as msg, round1};
use super::timeline::{Ms, Timeline, mins, secs, stream};
use crate::model::{ClusterId, GpuDevice, GpuNode, PendingGpuPod, Record, RecordKind};

/// A pod holding devices of a node for a while.
#[derive(Debug, Clone)]
pub(crate) struct PodRun {
    /// Cluster.
    pub cluster: &'static str,
    /// Node.
    pub node: &'static str,
    /// First device index.
    pub first_device: u32,
    /// Number of devices.
    pub devices: u32,
    /// `ns/name`.
    pub pod: String,
    /// Owning workload (to end its pods on eviction).
    pub owner: String,
    /// Running from.
    pub from: Ms,
    /// Running until (exclusive), if it ends.
    pub to: Option<Ms>,
    /// Allocated but idle.
    pub idle: bool,
}

/// Why a pending pod fits no node.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unschedulable {
    /// Kueue pinned a flavor (node selector on the product); every such node is full.
    Flavor(&'static str),
    /// The pod does not tolerate the GPU nodes' taint.
    NoToleration,
}

/// A pod that requests GPUs and waits for a node.
#[derive(Debug, Clone)]
pub(crate) struct PendingPod {
    /// Cluster.
    pub cluster: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Team label.
    pub team: String,
    /// GPUs requested.
    pub gpus: u32,
    /// Pending from.
    pub from: Ms,
    /// Scheduled at (the record is deleted then), if ever.
    pub until: Option<Ms>,
    /// Why.
    pub why: Unschedulable,
}

struct NodeSpec {
    cluster: &'static str,
    name: &'static str,
    product: &'static str,
    /// Kueue flavor its product maps to.
    flavor: &'static str,
    devices: u32,
    capacity: u32,
    memory_mib: u32,
    /// (idle W, max W).
    power: (f64, f64),
    schedulable: bool,
    mig: Option<&'static str>,
    sharing: Option<&'static str>,
}

const H100_PRODUCT: &str = "NVIDIA-H100-80GB-HBM3";
const A100_PRODUCT: &str = "NVIDIA-A100-SXM4-80GB";
const L4_PRODUCT: &str = "NVIDIA-L4";
const GPU_TAINT: &str = "nvidia.com/gpu=present:NoSchedule";

/// Nodes without GPUs, per cluster (they count in the scheduler's `0/N`).
fn cpu_nodes(cluster: &str) -> u32 {
    match cluster {
        GPU_TRAIN => 30,
        PROD_US => 37,
        _ => 20,
    }
}

fn nodes() -> Vec<NodeSpec> {
    let n = |cluster, name, product, flavor, devices, memory_mib, power| NodeSpec {
        cluster,
        name,
        product,
        flavor,
        devices,
        capacity: devices,
        memory_mib,
        power,
        schedulable: true,
        mig: None,
        sharing: None,
    };
    let h100 = |name| n(GPU_TRAIN, name, H100_PRODUCT, H100, 8, 81_559, (72.0, 690.0));
    let a100 = |cluster, name, devices| n(cluster, name, A100_PRODUCT, A100, devices, 81_920, (58.0, 400.0));
    vec![
        h100("h100-node-01"),
        h100("h100-node-02"),
        h100("h100-node-03"),
        h100("h100-node-04"),
        h100("h100-node-05"),
        h100("h100-node-06"),
        a100(GPU_TRAIN, "a100-node-01", 8),
        a100(GPU_TRAIN, "a100-node-02", 8),
        NodeSpec { schedulable: false, ..a100(GPU_TRAIN, "a100-node-03", 8) },
        // Four of its GPUs are MIG-partitioned (nvidia.com/mig-3g.40gb); four stay whole.
        NodeSpec { mig: Some("mixed"), ..a100(GPU_TRAIN, "a100-node-04", 4) },
        a100(PROD_US, "us-gpu-a100-01", 4),
        a100(PROD_US, "us-gpu-a100-02", 4),
        a100(PROD_US, "us-gpu-a100-03", 4),
        n(PROD_AP, "ap-gpu-l4-01", L4_PRODUCT, "l4", 4, 23_034, (16.0, 72.0)),
        NodeSpec {
            sharing: Some("time-slicing: 4 replicas"),
            capacity: 16,
            ..n(PROD_AP, "ap-gpu-l4-02", L4_PRODUCT, "l4", 4, 23_034, (16.0, 72.0))
        },
    ]
}

/// Serving pods outside Kueue.
fn static_pods(rng: &mut ChaCha8Rng) -> Vec<PodRun> {
    let hash = msg::template_hash(rng);
    let mut out = Vec::new();
    for (node, dev) in [
        ("ap-gpu-l4-01", 0),
        ("ap-gpu-l4-01", 1),
        ("ap-gpu-l4-01", 2),
        ("ap-gpu-l4-02", 0),
        ("ap-gpu-l4-02", 1),
    ] {
        out.push(PodRun {
            cluster: PROD_AP,
            node,
            first_device: dev,
            devices: 1,
            pod: format!("inference/ranker-serving-{hash}-{}", msg::k8s_suffix(rng, 5)),
            owner: "ranker-serving".into(),
            from: -mins(3 * 24 * 60),
            to: None,
            idle: false,
        });
    }
    out
}

/// Pending pods outside Kueue.
fn static_pending(rng: &mut ChaCha8Rng) -> Vec<PendingPod> {
    vec![
        PendingPod {
            cluster: PROD_US,
            namespace: "ml-serving".into(),
            name: format!("reranker-{}-{}", msg::template_hash(rng), msg::k8s_suffix(rng, 5)),
            team: "ml-serving".into(),
            gpus: 1,
            from: -mins(47),
            until: None,
            why: Unschedulable::NoToleration,
        },
        PendingPod {
            cluster: GPU_TRAIN,
            namespace: "research".into(),
            name: "jupyter-ana-0".into(),
            team: "research".into(),
            gpus: 1,
            from: -mins(128),
            until: None,
            why: Unschedulable::NoToleration,
        },
    ]
}

/// The scheduler's message for a pod that fits no node of its cluster.
pub(crate) fn scheduling_message(cluster: &str, why: Unschedulable) -> String {
    let gpu_nodes: Vec<NodeSpec> = nodes().into_iter().filter(|n| n.cluster == cluster).collect();
    let cordoned = gpu_nodes.iter().filter(|n| !n.schedulable).count() as u32;
    let cpu = cpu_nodes(cluster);
    let total = cpu + gpu_nodes.len() as u32;
    const UNSCHED: &str = "node(s) were unschedulable";
    const INSUFFICIENT: &str = "Insufficient nvidia.com/gpu";
    const AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
    const TAINT: &str = "node(s) had untolerated taint {nvidia.com/gpu: present}";
    const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
    const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
    let mut reasons: Vec<(&str, u32)> = Vec::new();
    if cordoned > 0 {
        reasons.push((UNSCHED, cordoned));
    }
    let insufficient = match why {
        Unschedulable::Flavor(flavor) => {
            let matching = gpu_nodes.iter().filter(|n| n.schedulable && n.flavor == flavor).count() as u32;
            reasons.push((AFFINITY, total - cordoned - matching));
            matching
        }
        Unschedulable::NoToleration => {
            reasons.push((TAINT, gpu_nodes.len() as u32 - cordoned));
            cpu
        }
    };
    reasons.push((INSUFFICIENT, insufficient));
    let preemption = [(NOT_HELPFUL, total - insufficient), (NO_VICTIMS, insufficient)];
    msg::failed_scheduling(total, &reasons, &preemption)
}

/// Nodes with telemetry, and pending GPU pods.
pub(crate) fn generate(seed: u64, tl: &mut Timeline, mut pods: Vec<PodRun>, mut pending: Vec<PendingPod>) {
    let mut rng = stream(seed, "gpu");
    pods.extend(static_pods(&mut rng));
    pending.extend(static_pending(&mut rng));
    emit_pending(tl, &pending);
    for node in nodes() {
        emit_node(&mut rng, tl, &node, &pods);
    }
}

fn emit_pending(tl: &mut Timeline, pending: &[PendingPod]) {
    for p in pending {
        let cluster = ClusterId::new(p.cluster);
        let list_at = clusters::list_at(p.cluster, RecordKind::PendingGpuPod);
        let at = p.from.max(list_at);
        if at >= DURATION || !clusters::reachable(p.cluster, at) || p.until.is_some_and(|u| u <= list_at) {
            continue;
        }
        let message = scheduling_message(p.cluster, p.why);
        let (nodes_total, reasons) = msg::parse_failed_scheduling(&message);
        let record = PendingGpuPod {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            team: Some(p.team.clone()),
            resource: "nvidia.com/gpu".into(),
            gpus: p.gpus,
            since: tl.at(p.from),
            message: Some(message),
            reasons,
            nodes_total,
        };
        let key = record.key();
        tl.upsert(at, &cluster, Record::PendingGpuPod(record));
        if let Some(until) = p.until
            && until < DURATION
            && clusters::reachable(p.cluster, until)
        {
            tl.delete(until, &cluster, RecordKind::PendingGpuPod, key);
        }
    }
}

/// Per-device state that persists between samples (memory footprint of the current pod).
#[derive(Debug, Clone, Default)]
struct DeviceMemo {
    pod: Option<String>,
    memory: u32,
    target: f64,
}

fn emit_node(rng: &mut ChaCha8Rng, tl: &mut Timeline, n: &NodeSpec, pods: &[PodRun]) {
    let cluster = ClusterId::new(n.cluster);
    let uuids: Vec<String> = (0..n.devices).map(|_| format!("GPU-{}", msg::uid(rng))).collect();
    let mut memo = vec![DeviceMemo::default(); n.devices as usize];
    let list_at = clusters::list_at(n.cluster, RecordKind::GpuNode);
    let mut t = list_at;
    while t < DURATION && clusters::reachable(n.cluster, t) {
        let mut devices = Vec::with_capacity(n.devices as usize);
        let mut allocated = 0;
        for d in 0..n.devices {
            let run = pods.iter().find(|p| {
                p.cluster == n.cluster
                    && p.node == n.name
                    && d >= p.first_device
                    && d < p.first_device + p.devices
                    && p.from <= t
                    && p.to.is_none_or(|to| t < to)
            });
            let m = &mut memo[d as usize];
            if run.map(|p| &p.pod) != m.pod.as_ref() {
                m.pod = run.map(|p| p.pod.clone());
                m.memory = match run {
                    Some(p) if p.idle => rng.random_range(1_400..2_600),
                    Some(_) => n.memory_mib * rng.random_range(74..96) / 100,
                    None => 0,
                };
                m.target = match run {
                    Some(p) if p.idle => 0.5,
                    Some(_) => rng.random_range(84.0..97.0),
                    None => 0.0,
                };
            }
            if run.is_some() {
                allocated += 1;
            }
            let util = match run {
                None => 0.0,
                Some(p) if p.idle => (rng.random::<f64>() * 2.0).min(m.target * 4.0),
                Some(p) => {
                    // Ramp up over the first minute (data loading), then jitter around the target.
                    let ramp = ((t - p.from) as f64 / mins(1) as f64).clamp(0.05, 1.0);
                    (m.target * ramp + (rng.random::<f64>() - 0.5) * 8.0).clamp(0.0, 100.0)
                }
            };
            let memory = if m.memory > 0 { m.memory + rng.random_range(0..64) } else { 0 };
            let temp = 31.0 + util * 0.42 + rng.random::<f64>() * 2.0;
            let power =
                n.power.0 + util / 100.0 * (n.power.1 - n.power.0) + (rng.random::<f64>() - 0.5) * 10.0;
            devices.push(GpuDevice {
                index: d,
                uuid: uuids[d as usize].clone(),
                product: None,
                utilization_pct: Some(round1(util) as f32),
                memory_used_mib: Some(memory),
                memory_total_mib: Some(n.memory_mib),
                temperature_c: Some(round1(temp) as f32),
                power_w: Some(round1(power.max(n.power.0 * 0.8)) as f32),
                pod: m.pod.clone(),
                processes: Vec::new(),
                mig: None,
                idle_since: None,
            });
        }
        let mut taints = vec![GPU_TAINT.to_string()];
        if !n.schedulable {
            taints.push("node.kubernetes.io/unschedulable:NoSchedule".into());
        }
        let capacity = if n.sharing.is_some() { n.capacity } else { n.devices.max(n.capacity) };
        let record = GpuNode {
            name: n.name.into(),
            product: Some(n.product.into()),
            capacity,
            allocatable: capacity,
            allocated,
            mig: n.mig.map(str::to_string),
            sharing: n.sharing.map(str::to_string),
            schedulable: n.schedulable,
            taints,
            devices,
            telemetry_error: None,
        };
        tl.upsert(t, &cluster, Record::GpuNode(record));
        t = if t == list_at {
            secs(15) + rng.random_range(0..secs(15))
        } else {
            t + secs(15) + rng.random_range(-500..500)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduling_messages_have_the_real_shape() {
        assert_eq!(
            scheduling_message(PROD_US, Unschedulable::NoToleration),
            "0/40 nodes are available: 3 node(s) had untolerated taint {nvidia.com/gpu: present}, 37 Insufficient nvidia.com/gpu. \
preemption: 0/40 nodes are available: 3 Preemption is not helpful for scheduling, 37 No preemption victims found for incoming pod."
        );
        assert_eq!(
            scheduling_message(GPU_TRAIN, Unschedulable::Flavor(H100)),
            "0/40 nodes are available: 1 node(s) were unschedulable, 33 node(s) didn't match Pod's node affinity/selector, 6 Insufficient nvidia.com/gpu. \
preemption: 0/40 nodes are available: 34 Preemption is not helpful for scheduling, 6 No preemption victims found for incoming pod."
        );
    }
}
