//! This host's GPUs, sampled through NVML ([`super::nvml`]), for the cluster that knows this
//! host as a node.
//!
//! fleettop running on a GPU node samples its GPUs every 2 s on the blocking pool and
//! publishes them in a [`LocalGpus`] shared with every cluster's nodes+pods task
//! ([`super::kubernetes::gpu`]). A cluster whose nodes include a GPU node named
//! [`LocalGpus::node`] (the host name, or `NODE_NAME` as the GPU Operator and the downward API
//! set it) merges the devices into that node's record, names each process's pod from the
//! pods it watches on that node, and shows the `nvml` source state: live, or "NVML not
//! available: …" (no driver library on this host; not an error). Clusters that do not know the
//! node show nothing of it.
//!
//! Where DCGM also reports the node, NVML wins for the GPUs it sees (matched by UUID, else by
//! index): it is sampled locally every 2 s instead of every scrape, and it lists the processes.
//! DCGM's pod (from the exporter's pod mapping) and idle clock fill in when NVML names no pod;
//! DCGM's MIG instances are kept (this sampler reads whole GPUs), as are GPUs only DCGM reports.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jiff::Timestamp;
use tokio::sync::watch;

use crate::model::{GpuDevice, IDLE_UTILIZATION_PCT, IdleRun, SourceState};

/// The latest NVML sample of this host and the NVML source state, shared by the sampler and
/// the nodes+pods tasks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalGpus {
    node: Arc<str>,
    shared: Arc<Mutex<Local>>,
    version: Arc<watch::Sender<u64>>,
}

#[derive(Debug)]
struct Local {
    state: SourceState,
    devices: Option<Vec<GpuDevice>>,
}

impl LocalGpus {
    /// Nothing sampled yet, for the node named `node`.
    pub fn new(node: impl Into<String>) -> Self {
        let node: String = node.into();
        Self {
            node: node.into(),
            shared: Arc::new(Mutex::new(Local { state: SourceState::Syncing, devices: None })),
            version: Arc::new(watch::channel(0).0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Local> {
        // The data stays consistent whatever panicked: take it anyway.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The node name this host has in its cluster.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Replaces the state and devices (`None`: no sample, e.g. NVML not available) and wakes
    /// subscribers when either changed.
    pub fn publish(&self, state: SourceState, devices: Option<Vec<GpuDevice>>) {
        let mut local = self.lock();
        if local.state == state && local.devices == devices {
            return;
        }
        local.state = state;
        local.devices = devices;
        drop(local);
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// True while someone besides the caller holds this (the sampler stops when not).
    pub fn is_shared(&self) -> bool {
        Arc::strong_count(&self.shared) > 1
    }

    /// The NVML source state.
    pub fn state(&self) -> SourceState {
        self.lock().state.clone()
    }

    /// The latest sample's devices, if any.
    pub fn devices(&self) -> Option<Vec<GpuDevice>> {
        self.lock().devices.clone()
    }

    /// A receiver whose `changed()` resolves after a [`LocalGpus::publish`] that changed something.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

/// The node name of this host: `node_name_env` (`NODE_NAME`) when set, else the host name,
/// else `localhost`.
pub fn local_node_name(node_name_env: Option<String>, hostname: Option<String>) -> String {
    [node_name_env, hostname]
        .into_iter()
        .flatten()
        .map(|n| n.trim().to_string())
        .find(|n| !n.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The UID of the pod whose process runs on `d` (the first one listed), if any.
pub fn pod_uid(d: &GpuDevice) -> Option<&str> {
    d.processes.iter().find_map(|p| p.pod_uid.as_deref())
}

/// Since when each GPU has been under [`IDLE_UTILIZATION_PCT`] while the same pod's process
/// runs on it, across samples (NVML's counterpart of DCGM's idle clock).
#[derive(Debug, Default)]
pub struct IdleClock {
    /// By GPU UUID (else `#index`): its stretch under a pod (by UID).
    runs: BTreeMap<String, IdleRun>,
}

impl IdleClock {
    /// Sets `idle_since` on each device of a sample taken at `at`.
    pub fn stamp(&mut self, devices: &mut [GpuDevice], at: Timestamp) {
        let mut seen = Vec::with_capacity(devices.len());
        for d in devices.iter_mut() {
            let key = if d.uuid.is_empty() { format!("#{}", d.index) } else { d.uuid.clone() };
            seen.push(key.clone());
            let idle = d.utilization_pct.is_some_and(|u| u < IDLE_UTILIZATION_PCT);
            let Some(pod) = pod_uid(d).filter(|_| idle).map(str::to_string) else {
                self.runs.remove(&key);
                d.idle_since = None;
                continue;
            };
            let run = IdleRun::continued(self.runs.get(&key), &pod, at);
            d.idle_since = Some(run.since);
            self.runs.insert(key, run);
        }
        self.runs.retain(|k, _| seen.contains(k));
    }
}

/// The devices of this host's node record: DCGM's for the node (if any) merged with NVML's (if
/// any), as the module doc says; `pod_name` turns a pod UID into `namespace/name` (pods of the
/// cluster on this node). `None` when neither reports.
pub fn merge(
    dcgm: Option<Vec<GpuDevice>>,
    nvml: Option<&[GpuDevice]>,
    pod_name: impl Fn(&str) -> Option<String>,
) -> Option<Vec<GpuDevice>> {
    let Some(nvml) = nvml else { return dcgm };
    let dcgm = dcgm.unwrap_or_default();
    let same_gpu = |a: &GpuDevice, b: &GpuDevice| {
        if a.uuid.is_empty() || b.uuid.is_empty() { a.index == b.index } else { a.uuid == b.uuid }
    };
    let mut out: Vec<GpuDevice> = Vec::with_capacity(nvml.len().max(dcgm.len()));
    for n in nvml {
        let from_dcgm: Vec<&GpuDevice> = dcgm.iter().filter(|d| same_gpu(d, n)).collect();
        if from_dcgm.iter().any(|d| d.mig.is_some()) {
            // DCGM sees the MIG instances; a whole-GPU reading beside them would count it twice.
            continue;
        }
        let mut d = n.clone();
        for p in &mut d.processes {
            p.pod = p.pod_uid.as_deref().and_then(&pod_name);
        }
        d.pod = d.processes.iter().find_map(|p| p.pod.clone());
        if d.pod.is_none() {
            // A pod process not resolved, or none seen: keep what DCGM's pod mapping says.
            if let Some(old) = from_dcgm.first() {
                d.pod = old.pod.clone();
                d.idle_since = old.idle_since;
            } else {
                d.idle_since = None;
            }
        }
        out.push(d);
    }
    out.extend(dcgm.iter().filter(|d| d.mig.is_some() || !nvml.iter().any(|n| same_gpu(d, n))).cloned());
    out.sort_by(|a, b| (a.index, &a.mig).cmp(&(b.index, &b.mig)));
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::GpuProcess;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn gpu(index: u32, util: f32) -> GpuDevice {
        GpuDevice {
            index,
            uuid: format!("GPU-{index}"),
            product: Some("NVIDIA H100 80GB HBM3".into()),
            utilization_pct: Some(util),
            memory_used_mib: None,
            memory_total_mib: None,
            temperature_c: None,
            power_w: None,
            pod: None,
            processes: vec![],
            mig: None,
            idle_since: None,
        }
    }

    fn with_process(mut d: GpuDevice, uid: Option<&str>) -> GpuDevice {
        d.processes.push(GpuProcess {
            pid: 4242,
            used_memory_mib: Some(1024),
            pod_uid: uid.map(String::from),
            container_id: None,
            pod: None,
        });
        d
    }

    fn names(uid: &str) -> Option<String> {
        (uid == "uid-train").then(|| "ml/train-0".to_string())
    }

    #[test]
    fn the_node_name_is_node_name_else_the_host_name() {
        assert_eq!(local_node_name(Some("gpu-node-7".into()), Some("host".into())), "gpu-node-7");
        assert_eq!(local_node_name(Some("  ".into()), Some("host\n".into())), "host");
        assert_eq!(local_node_name(None, None), "localhost");
    }

    #[test]
    fn nvml_beats_dcgm_for_the_gpus_it_sees_and_names_pods_from_their_uid() {
        let dcgm = vec![
            GpuDevice { pod: Some("ml/train-0".into()), ..gpu(0, 40.0) },
            GpuDevice { pod: Some("ml/other".into()), idle_since: Some(t(0)), ..gpu(1, 1.0) },
            gpu(2, 70.0),
        ];
        let nvml = vec![
            with_process(gpu(0, 93.0), Some("uid-train")),
            with_process(gpu(1, 2.0), Some("uid-not-on-this-cluster")),
        ];
        let merged = merge(Some(dcgm), Some(&nvml), names).unwrap();
        type Seen<'a> = (u32, Option<f32>, Option<&'a str>, Option<Timestamp>);
        let seen: Vec<Seen> =
            merged.iter().map(|d| (d.index, d.utilization_pct, d.pod.as_deref(), d.idle_since)).collect();
        assert_eq!(
            seen,
            vec![
                // NVML's reading, its process's pod by name.
                (0, Some(93.0), Some("ml/train-0"), None),
                // NVML's reading; the pod it cannot name comes from DCGM, with its idle clock.
                (1, Some(2.0), Some("ml/other"), Some(t(0))),
                // Only DCGM reports GPU 2.
                (2, Some(70.0), None, None),
            ]
        );
        assert_eq!(merged[0].processes[0].pod.as_deref(), Some("ml/train-0"));
        assert_eq!(merged[1].processes[0].pod, None);
    }

    #[test]
    fn dcgm_mig_instances_stay_and_nvml_alone_or_nothing_work() {
        let dcgm = vec![
            GpuDevice { mig: Some("3g.40gb/1".into()), ..gpu(0, 10.0) },
            GpuDevice { mig: Some("3g.40gb/2".into()), ..gpu(0, 90.0) },
        ];
        let nvml = vec![gpu(0, 50.0), gpu(1, 0.0)];
        let merged = merge(Some(dcgm.clone()), Some(&nvml), names).unwrap();
        let seen: Vec<(u32, Option<&str>, Option<f32>)> =
            merged.iter().map(|d| (d.index, d.mig.as_deref(), d.utilization_pct)).collect();
        assert_eq!(
            seen,
            vec![
                (0, Some("3g.40gb/1"), Some(10.0)),
                (0, Some("3g.40gb/2"), Some(90.0)),
                (1, None, Some(0.0))
            ]
        );
        assert_eq!(merge(None, Some(&nvml), names).unwrap().len(), 2);
        assert_eq!(merge(Some(dcgm.clone()), None, names), Some(dcgm));
        assert_eq!(merge(None, None, names), None);
    }

    #[test]
    fn the_idle_clock_runs_while_the_same_pod_idles() {
        let mut clock = IdleClock::default();
        let sample = |util: f32, uid: Option<&str>| vec![with_process(gpu(0, util), uid)];
        let stamp = |clock: &mut IdleClock, s: i64, util: f32, uid: Option<&str>| {
            let mut d = sample(util, uid);
            clock.stamp(&mut d, t(s));
            d[0].idle_since
        };
        assert_eq!(stamp(&mut clock, 0, 1.0, Some("a")), Some(t(0)));
        assert_eq!(stamp(&mut clock, 2, 0.0, Some("a")), Some(t(0)));
        assert_eq!(stamp(&mut clock, 4, 0.0, Some("b")), Some(t(4)), "another pod");
        assert_eq!(stamp(&mut clock, 6, 50.0, Some("b")), None, "busy");
        assert_eq!(stamp(&mut clock, 8, 0.0, None), None, "a host process is no allocation");
        assert_eq!(stamp(&mut clock, 10, 0.0, Some("b")), Some(t(10)));
        assert_eq!(stamp(&mut clock, 10 + 121, 0.0, Some("b")), Some(t(131)), "a long gap restarts it");
    }

    #[test]
    fn publishing_wakes_subscribers_only_on_change() {
        let local = LocalGpus::new("h100-1");
        let mut rx = local.subscribe();
        assert_eq!((local.node(), local.state()), ("h100-1", SourceState::Syncing));
        local.publish(SourceState::Live, Some(vec![gpu(0, 1.0)]));
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        local.publish(SourceState::Live, Some(vec![gpu(0, 1.0)]));
        assert!(!rx.has_changed().unwrap(), "the same sample wakes nobody");
        local.publish(SourceState::Unavailable { message: "NVML not available: x".into() }, None);
        assert!(rx.has_changed().unwrap());
        assert_eq!(local.devices(), None);
    }
}
