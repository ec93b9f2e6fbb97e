//! Local GPU telemetry through NVML, with each GPU process mapped to its pod.
//!
//! For fleettop running on a GPU node (and for `fleettop gpu-probe` there). NVML is the
//! driver's library, `libnvidia-ml.so.1`, opened at run time (nvml-wrapper dlopens it): on a
//! host without it, or without a loaded driver, [`NvmlSampler::open`] returns an
//! [`NvmlUnavailable`] that says why; nothing panics. A value the driver cannot give for one
//! GPU (`NotSupported` on MIG or virtualised GPUs, a missing symbol in an old driver, …) is
//! `None` and never fails the sample.
//!
//! Processes are mapped to pods by reading `/proc/<pid>/cgroup` and parsing it with
//! [`pod_of_cgroup`]. The driver reports PIDs of the host's PID namespace, so the proc root
//! must be the host's: run on the host, in a pod with `hostPID: true`, or point
//! [`NvmlSampler::with_proc_root`] at the host's `/proc` mounted elsewhere. In a container's own
//! PID namespace a PID is not found (the owner is then unknown) or, worse, names another process.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::struct_wrappers::device::ProcessInfo;
use nvml_wrapper::{Device, Nvml};
use serde::Serialize;

use super::local_gpus::{IdleClock, LocalGpus};
use crate::model::{GpuDevice, GpuProcess, SourceState};
use crate::sources::parse::cgroup::pod_of_cgroup;

/// The library NVML is loaded from (found through the dynamic loader's search path).
pub const LIBRARY: &str = "libnvidia-ml.so.1";

/// Where process cgroups are read unless told otherwise.
pub const DEFAULT_PROC_ROOT: &str = "/proc";

/// The shortest sampling period [`run`] accepts; shorter ones are raised to it.
pub const MIN_EVERY: Duration = Duration::from_millis(100);

/// While NVML cannot be opened, how long [`run_with`] waits before trying again (a host
/// without the driver rarely gains one; loading a library is not free).
pub const REOPEN_EVERY: Duration = Duration::from_secs(60);

/// Why NVML cannot be used on this host (a value, not a failure of fleettop).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("NVML not available: {reason}")]
pub struct NvmlUnavailable {
    /// What is missing or refused, in words (`libnvidia-ml.so.1 not found or not loadable: …`).
    pub reason: String,
}

impl NvmlUnavailable {
    /// Explains an error of `nvmlInit` for the library at `library`.
    pub fn from_init_error(library: &str, e: &NvmlError) -> Self {
        let reason = match e {
            NvmlError::LibloadingError(e) => format!("{library} not found or not loadable: {e}"),
            NvmlError::FailedToLoadSymbol(s) => format!("{library} is not a usable NVML library: {s}"),
            NvmlError::DriverNotLoaded => format!("the NVIDIA driver is not loaded ({library} is present)"),
            NvmlError::NoPermission => {
                "no permission to talk to the NVIDIA driver (/dev/nvidia*)".to_string()
            }
            other => format!("nvmlInit failed: {other}"),
        };
        Self { reason }
    }
}

/// One reading of every GPU of the host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NvmlSample {
    /// When it was taken.
    pub at: Timestamp,
    /// Driver version (`550.54.15`), when known.
    pub driver_version: Option<String>,
    /// The GPUs, in NVML index order.
    pub devices: Vec<DeviceSample>,
}

/// One GPU in a sample; `None` means the driver did not give that value for this GPU.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeviceSample {
    /// NVML index.
    pub index: u32,
    /// GPU UUID (`GPU-…`).
    pub uuid: Option<String>,
    /// Product name (`NVIDIA H200`).
    pub name: Option<String>,
    /// Percent of the last sample period a kernel ran.
    pub utilization_gpu_pct: Option<u32>,
    /// Percent of the last sample period device memory was read or written.
    pub utilization_memory_pct: Option<u32>,
    /// Framebuffer used, MiB.
    pub memory_used_mib: Option<u32>,
    /// Framebuffer total, MiB.
    pub memory_total_mib: Option<u32>,
    /// GPU core temperature, °C.
    pub temperature_c: Option<u32>,
    /// Power draw, W.
    pub power_w: Option<f32>,
    /// Enforced power limit, W.
    pub power_limit_w: Option<f32>,
    /// Compute and graphics processes, once per PID; `None` when neither list could be read.
    pub processes: Option<Vec<ProcessSample>>,
    /// Why the GPU could not be opened at all (then every value above is `None`).
    pub error: Option<String>,
}

/// A process running on a GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessSample {
    /// PID in the host's PID namespace.
    pub pid: u32,
    /// GPU memory it uses, MiB, when the driver reports it.
    pub used_memory_mib: Option<u32>,
    /// The pod it belongs to, or why there is none.
    pub owner: ProcessOwner,
}

/// Whom a GPU process belongs to, from its cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProcessOwner {
    /// A process of a pod's container (or of the pod's own cgroup).
    Pod {
        /// The pod's UID.
        pod_uid: String,
        /// The container's id (hex), when the process is in a container's cgroup.
        container_id: Option<String>,
    },
    /// Not in a pod: a host process.
    Host {
        /// Its cgroup path (the unified one when there is one), for a reader to check.
        cgroup: String,
    },
    /// Its cgroup could not be read: the process ended, or it is in another PID namespace.
    Unknown {
        /// The read error.
        reason: String,
    },
}

/// An open NVML session, and where to read process cgroups.
pub struct NvmlSampler {
    nvml: Nvml,
    proc_root: PathBuf,
}

impl NvmlSampler {
    /// Opens NVML from [`LIBRARY`].
    pub fn open() -> Result<Self, NvmlUnavailable> {
        Self::open_library(LIBRARY)
    }

    /// Opens NVML from `library` (a file name the loader searches for, or a path).
    pub fn open_library(library: &str) -> Result<Self, NvmlUnavailable> {
        let nvml = Nvml::builder()
            .lib_path(OsStr::new(library))
            .init()
            .map_err(|e| NvmlUnavailable::from_init_error(library, &e))?;
        Ok(Self { nvml, proc_root: PathBuf::from(DEFAULT_PROC_ROOT) })
    }

    /// Reads process cgroups under `root` instead of `/proc` (a host `/proc` mounted elsewhere).
    pub fn with_proc_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.proc_root = root.into();
        self
    }

    /// Reads every GPU. Fails only when the GPUs cannot even be counted.
    pub fn sample(&self) -> Result<NvmlSample, NvmlUnavailable> {
        let count = self
            .nvml
            .device_count()
            .map_err(|e| NvmlUnavailable { reason: format!("cannot count the GPUs: {e}") })?;
        let devices = (0..count).map(|i| self.device(i)).collect();
        Ok(NvmlSample { at: Timestamp::now(), driver_version: self.nvml.sys_driver_version().ok(), devices })
    }

    fn device(&self, index: u32) -> DeviceSample {
        match self.nvml.device_by_index(index) {
            Ok(d) => read_device(index, &d, &self.proc_root),
            Err(e) => DeviceSample {
                index,
                error: Some(format!("cannot open GPU {index}: {e}")),
                ..Default::default()
            },
        }
    }
}

/// Reads one GPU; each value the driver refuses stays `None`.
fn read_device(index: u32, d: &Device<'_>, proc_root: &Path) -> DeviceSample {
    let util = d.utilization_rates().ok();
    let memory = d.memory_info().ok();
    let processes = merge_processes(d.running_compute_processes(), d.running_graphics_processes());
    DeviceSample {
        index,
        uuid: d.uuid().ok(),
        name: d.name().ok(),
        utilization_gpu_pct: util.as_ref().map(|u| u.gpu),
        utilization_memory_pct: util.as_ref().map(|u| u.memory),
        memory_used_mib: memory.as_ref().map(|m| mib(m.used)),
        memory_total_mib: memory.as_ref().map(|m| mib(m.total)),
        temperature_c: d.temperature(TemperatureSensor::Gpu).ok(),
        power_w: d.power_usage().ok().map(watts),
        power_limit_w: d.enforced_power_limit().ok().map(watts),
        processes: processes.map(|ps| {
            ps.into_iter()
                .map(|(pid, used_memory_mib)| ProcessSample {
                    pid,
                    used_memory_mib,
                    owner: owner_of_pid(proc_root, pid),
                })
                .collect()
        }),
        error: None,
    }
}

/// Both process lists, once per PID in PID order (a process using compute and graphics is in
/// both; the larger known memory wins). `None` when neither list could be read.
fn merge_processes(
    compute: Result<Vec<ProcessInfo>, NvmlError>,
    graphics: Result<Vec<ProcessInfo>, NvmlError>,
) -> Option<Vec<(u32, Option<u32>)>> {
    if compute.is_err() && graphics.is_err() {
        return None;
    }
    let mut by_pid: BTreeMap<u32, Option<u32>> = BTreeMap::new();
    for p in compute.into_iter().chain(graphics).flatten() {
        let used = match p.used_gpu_memory {
            UsedGpuMemory::Used(bytes) => Some(mib(bytes)),
            UsedGpuMemory::Unavailable => None,
        };
        let known = by_pid.entry(p.pid).or_insert(None);
        *known = (*known).max(used);
    }
    Some(by_pid.into_iter().collect())
}

/// Bytes to whole MiB (saturating).
fn mib(bytes: u64) -> u32 {
    u32::try_from(bytes / (1024 * 1024)).unwrap_or(u32::MAX)
}

/// Milliwatts to watts.
fn watts(milliwatts: u32) -> f32 {
    milliwatts as f32 / 1000.0
}

/// Whom process `pid` belongs to, from `<proc_root>/<pid>/cgroup`.
pub fn owner_of_pid(proc_root: &Path, pid: u32) -> ProcessOwner {
    let path = proc_root.join(pid.to_string()).join("cgroup");
    match std::fs::read_to_string(&path) {
        Ok(content) => owner_of_cgroup(&content),
        Err(e) => ProcessOwner::Unknown { reason: format!("cannot read {}: {e}", path.display()) },
    }
}

/// Whom a process belongs to, from the content of its `/proc/<pid>/cgroup`.
pub fn owner_of_cgroup(content: &str) -> ProcessOwner {
    match pod_of_cgroup(content) {
        Some(p) => ProcessOwner::Pod { pod_uid: p.pod_uid, container_id: p.container_id },
        None => ProcessOwner::Host { cgroup: main_cgroup_path(content) },
    }
}

/// The unified hierarchy's path (`0::/…`), else the first line's; empty when there is none.
fn main_cgroup_path(content: &str) -> String {
    let paths: Vec<(&str, &str)> = content
        .lines()
        .filter_map(|line| {
            let (id, rest) = line.split_once(':')?;
            let (_controllers, path) = rest.split_once(':')?;
            Some((id, path.trim_end()))
        })
        .collect();
    paths.iter().find(|(id, _)| *id == "0").or(paths.first()).map(|(_, p)| p.to_string()).unwrap_or_default()
}

impl ProcessSample {
    /// The model's record of this process (the pod's `ns/name` is resolved later, if ever).
    pub fn to_model(&self) -> GpuProcess {
        let (pod_uid, container_id) = match &self.owner {
            ProcessOwner::Pod { pod_uid, container_id } => (Some(pod_uid.clone()), container_id.clone()),
            ProcessOwner::Host { .. } | ProcessOwner::Unknown { .. } => (None, None),
        };
        GpuProcess { pid: self.pid, used_memory_mib: self.used_memory_mib, pod_uid, container_id, pod: None }
    }
}

impl DeviceSample {
    /// The model's record of this GPU (an unknown UUID becomes empty).
    pub fn to_model(&self) -> GpuDevice {
        GpuDevice {
            index: self.index,
            uuid: self.uuid.clone().unwrap_or_default(),
            product: self.name.clone(),
            utilization_pct: self.utilization_gpu_pct.map(|u| u as f32),
            memory_used_mib: self.memory_used_mib,
            memory_total_mib: self.memory_total_mib,
            temperature_c: self.temperature_c.map(|t| t as f32),
            power_w: self.power_w,
            pod: None,
            processes: self.processes.iter().flatten().map(ProcessSample::to_model).collect(),
            mig: None,
            idle_since: None,
        }
    }

    /// True when a pod's process runs on it.
    pub fn runs_a_pod(&self) -> bool {
        self.processes.iter().flatten().any(|p| matches!(p.owner, ProcessOwner::Pod { .. }))
    }
}

/// The devices of a sample, in the model's shape (pods are named later, by the cluster that
/// knows this node: see [`super::local_gpus`]).
pub fn devices(sample: &NvmlSample) -> Vec<GpuDevice> {
    sample.devices.iter().map(DeviceSample::to_model).collect()
}

/// The source state for NVML that cannot be used: `NVML not available: …`, shown as such and
/// not as an error (a host without the driver is no fault; the source keeps trying).
pub fn unavailable_state(e: &NvmlUnavailable) -> SourceState {
    SourceState::Unavailable { message: e.to_string() }
}

/// Samples this host's GPUs every `every` into `local` (see [`super::local_gpus`]), from
/// [`LIBRARY`] and `/proc`.
pub async fn run(local: LocalGpus, every: Duration) {
    let setup = Setup { library: LIBRARY.to_string(), proc_root: PathBuf::from(DEFAULT_PROC_ROOT) };
    run_with(setup, local, every).await;
}

/// Where [`run_with`] finds NVML and the process cgroups.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The NVML library (see [`NvmlSampler::open_library`]).
    pub library: String,
    /// The proc root (see [`NvmlSampler::with_proc_root`]).
    pub proc_root: PathBuf,
}

/// [`run`] with the library and proc root given.
///
/// Each period (on the blocking pool, never the UI thread): open NVML if it is not open yet,
/// sample every GPU, stamp each GPU's idle clock, and publish the devices with the state Live;
/// while NVML cannot be opened, publish `NVML not available: …` (once: an unchanged state wakes
/// nobody) and try again after [`REOPEN_EVERY`]. Returns when nobody else holds `local` any more.
pub async fn run_with(setup: Setup, local: LocalGpus, every: Duration) {
    let mut ticks = tokio::time::interval(every.max(MIN_EVERY));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sampler: Option<Arc<NvmlSampler>> = None;
    let mut idle = IdleClock::default();
    let mut reopen_at: Option<tokio::time::Instant> = None;
    loop {
        ticks.tick().await;
        if !local.is_shared() {
            return;
        }
        if sampler.is_none() && reopen_at.is_some_and(|t| tokio::time::Instant::now() < t) {
            continue;
        }
        let (state, devices) = tick(&setup, &mut sampler).await;
        reopen_at = sampler.is_none().then(|| tokio::time::Instant::now() + REOPEN_EVERY);
        let devices = devices.map(|mut d| {
            idle.stamp(&mut d, Timestamp::now());
            d
        });
        local.publish(state, devices);
    }
}

/// One period: open NVML if needed, then sample it (both off the async threads).
async fn tick(
    setup: &Setup,
    sampler: &mut Option<Arc<NvmlSampler>>,
) -> (SourceState, Option<Vec<GpuDevice>>) {
    let open = match sampler {
        Some(s) => s.clone(),
        None => match open_blocking(setup.clone()).await {
            Ok(s) => sampler.insert(Arc::new(s)).clone(),
            Err(e) => return (unavailable_state(&e), None),
        },
    };
    match tokio::task::spawn_blocking(move || open.sample()).await {
        Ok(Ok(sample)) => (SourceState::Live, Some(devices(&sample))),
        Ok(Err(e)) => (unavailable_state(&e), None),
        Err(e) => (SourceState::Error { message: format!("NVML sampling stopped: {e}") }, None),
    }
}

async fn open_blocking(setup: Setup) -> Result<NvmlSampler, NvmlUnavailable> {
    let opened = tokio::task::spawn_blocking(move || {
        NvmlSampler::open_library(&setup.library).map(|s| s.with_proc_root(setup.proc_root))
    })
    .await;
    opened.unwrap_or_else(|e| Err(NvmlUnavailable { reason: format!("opening NVML stopped: {e}") }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const UID: &str = "8d1a7e2c-3b4f-4c6d-9e8f-0a1b2c3d4e5f";
    const UID_: &str = "8d1a7e2c_3b4f_4c6d_9e8f_0a1b2c3d4e5f";
    const CID: &str = "3f5d9c2b7a1e4f60b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5";

    /// A fake proc root with one `<pid>/cgroup` file per entry.
    fn proc_root(files: &[(u32, String)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (pid, content) in files {
            std::fs::create_dir(dir.path().join(pid.to_string())).unwrap();
            std::fs::write(dir.path().join(pid.to_string()).join("cgroup"), content).unwrap();
        }
        dir
    }

    fn pod(container: bool) -> ProcessOwner {
        ProcessOwner::Pod { pod_uid: UID.into(), container_id: container.then(|| CID.into()) }
    }

    #[test]
    fn processes_are_mapped_to_pods_through_the_proc_root() {
        let v1 = |p: &str| {
            format!("11:memory:{p}\n10:cpu,cpuacct:{p}\n9:devices:{p}\n4:pids:{p}\n1:name=systemd:{p}\n")
        };
        let root = proc_root(&[
            // cgroup v1, cgroupfs driver, Docker or containerd: the bare container id.
            (101, v1(&format!("/kubepods/burstable/pod{UID}/{CID}"))),
            // cgroup v1, systemd driver, Docker through cri-dockerd.
            (102, v1(&format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/docker-{CID}.scope"))),
            // cgroup v2, systemd driver, containerd.
            (103, format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{CID}.scope\n")),
            // cgroup v2, systemd driver, CRI-O, Guaranteed pod.
            (104, format!("0::/kubepods.slice/kubepods-pod{UID_}.slice/crio-{CID}.scope\n")),
            // In the pod's cgroup, not a container's.
            (105, format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice\n")),
            // Host processes, v2 and hybrid v1.
            (201, "0::/user.slice/user-1000.slice/session-3.scope\n".into()),
            (202, "12:memory:/system.slice/ollama.service\n1:name=systemd:/system.slice/ollama.service\n0::/system.slice/ollama.service\n".into()),
        ]);
        let owner = |pid| owner_of_pid(root.path(), pid);
        for pid in 101..=104 {
            assert_eq!(owner(pid), pod(true), "pid {pid}");
        }
        assert_eq!(owner(105), pod(false));
        assert_eq!(
            owner(201),
            ProcessOwner::Host { cgroup: "/user.slice/user-1000.slice/session-3.scope".into() }
        );
        assert_eq!(owner(202), ProcessOwner::Host { cgroup: "/system.slice/ollama.service".into() });
        match owner(999) {
            ProcessOwner::Unknown { reason } => assert!(reason.contains("999/cgroup"), "{reason}"),
            other => panic!("a missing pid is unknown, not {other:?}"),
        }
    }

    #[test]
    fn a_host_process_without_a_unified_line_shows_its_first_path() {
        assert_eq!(
            owner_of_cgroup(
                "4:memory:/user.slice\n1:name=systemd:/user.slice/user-0.slice/session-1.scope\n"
            ),
            ProcessOwner::Host { cgroup: "/user.slice".into() }
        );
        assert_eq!(owner_of_cgroup(""), ProcessOwner::Host { cgroup: String::new() });
    }

    fn info(pid: u32, used: UsedGpuMemory) -> ProcessInfo {
        ProcessInfo { pid, used_gpu_memory: used, gpu_instance_id: None, compute_instance_id: None }
    }

    #[test]
    fn process_lists_are_merged_once_per_pid() {
        let compute = Ok(vec![info(30, UsedGpuMemory::Used(2 << 30)), info(10, UsedGpuMemory::Unavailable)]);
        let graphics =
            Ok(vec![info(10, UsedGpuMemory::Used(5 << 20)), info(30, UsedGpuMemory::Used(1 << 20))]);
        assert_eq!(merge_processes(compute, graphics), Some(vec![(10, Some(5)), (30, Some(2048))]));
        // One list refused (NotSupported): the other still counts.
        let only =
            merge_processes(Err(NvmlError::NotSupported), Ok(vec![info(7, UsedGpuMemory::Unavailable)]));
        assert_eq!(only, Some(vec![(7, None)]));
        assert_eq!(merge_processes(Ok(vec![]), Err(NvmlError::NotSupported)), Some(vec![]));
        // Both refused: unknown, not "no processes".
        assert_eq!(merge_processes(Err(NvmlError::NotSupported), Err(NvmlError::GpuLost)), None);
    }

    #[test]
    fn init_errors_say_what_is_missing() {
        let reason = |e: NvmlError| NvmlUnavailable::from_init_error(LIBRARY, &e).to_string();
        assert_eq!(
            reason(NvmlError::DriverNotLoaded),
            "NVML not available: the NVIDIA driver is not loaded (libnvidia-ml.so.1 is present)"
        );
        assert!(reason(NvmlError::NoPermission).contains("no permission"));
        assert!(
            reason(NvmlError::FailedToLoadSymbol("nvmlInit_v2: undefined symbol".into()))
                .contains("libnvidia-ml.so.1 is not a usable NVML library: nvmlInit_v2")
        );
        assert_eq!(
            reason(NvmlError::Unknown),
            "NVML not available: nvmlInit failed: an internal driver error occurred"
        );
    }

    #[test]
    fn a_missing_library_is_reported_not_fatal() {
        let err = NvmlSampler::open_library("/nonexistent/libnvidia-ml.so.1").err().expect("cannot open");
        assert!(
            err.reason.starts_with("/nonexistent/libnvidia-ml.so.1 not found or not loadable: "),
            "{err}"
        );
        assert!(err.reason.contains("No such file"), "{err}");
        // A library that loads but is not NVML.
        let err = NvmlSampler::open_library("libc.so.6").err().expect("libc is not NVML");
        assert!(err.reason.contains("libc.so.6 is not a usable NVML library"), "{err}");
    }

    /// On this machine (no GPU) the real library is absent; on a GPU host it must sample.
    #[test]
    fn the_default_library_opens_or_says_why() {
        match NvmlSampler::open() {
            Err(e) => {
                assert!(e.to_string().starts_with("NVML not available: "), "{e}");
                assert!(e.reason.contains(LIBRARY) || e.reason.contains("driver"), "{e}");
            }
            Ok(s) => {
                let sample = s.sample().expect("an open NVML counts its GPUs");
                assert!(sample.devices.iter().all(|d| d.error.is_some() || d.uuid.is_some()));
            }
        }
    }

    fn device(index: u32, processes: Option<Vec<ProcessSample>>) -> DeviceSample {
        DeviceSample {
            index,
            uuid: Some(format!("GPU-{index}")),
            name: Some("NVIDIA H200".into()),
            utilization_gpu_pct: Some(87),
            memory_used_mib: Some(40960),
            memory_total_mib: Some(143771),
            temperature_c: Some(62),
            power_w: Some(512.5),
            processes,
            ..Default::default()
        }
    }

    #[test]
    fn a_sample_becomes_the_model_s_devices() {
        let procs = vec![
            ProcessSample { pid: 1, used_memory_mib: Some(100), owner: pod(true) },
            ProcessSample { pid: 2, used_memory_mib: None, owner: ProcessOwner::Host { cgroup: "/".into() } },
        ];
        let sample = NvmlSample {
            at: Timestamp::UNIX_EPOCH,
            driver_version: None,
            devices: vec![
                device(0, Some(procs)),
                device(1, None),
                DeviceSample { index: 2, ..Default::default() },
            ],
        };
        let devices = devices(&sample);
        assert_eq!(devices.len(), 3);
        assert_eq!(devices[0].product.as_deref(), Some("NVIDIA H200"));
        assert!(sample.devices[0].runs_a_pod() && !sample.devices[1].runs_a_pod());
        let d = &devices[0];
        assert_eq!((d.uuid.as_str(), d.utilization_pct, d.temperature_c), ("GPU-0", Some(87.0), Some(62.0)));
        assert_eq!(
            d.processes,
            vec![
                GpuProcess {
                    pid: 1,
                    used_memory_mib: Some(100),
                    pod_uid: Some(UID.into()),
                    container_id: Some(CID.into()),
                    pod: None
                },
                GpuProcess { pid: 2, used_memory_mib: None, pod_uid: None, container_id: None, pod: None },
            ]
        );
        assert!(devices[1].processes.is_empty());
        assert_eq!(devices[2].uuid, "", "an unreadable GPU keeps its place");
    }

    #[tokio::test]
    async fn without_the_library_the_state_says_nvml_is_not_available_and_the_task_ends_with_the_app() {
        let local = LocalGpus::new("n");
        let mut rx = local.subscribe();
        let setup = Setup { library: "/nonexistent/libnvidia-ml.so.1".into(), proc_root: "/proc".into() };
        let task = tokio::spawn(run_with(setup, local.clone(), MIN_EVERY));
        tokio::time::timeout(Duration::from_secs(5), rx.changed()).await.expect("a first state").unwrap();
        match local.state() {
            SourceState::Unavailable { message } => {
                assert!(
                    message.starts_with("NVML not available: /nonexistent/libnvidia-ml.so.1"),
                    "{message}"
                )
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(local.devices(), None);
        let again = tokio::time::timeout(MIN_EVERY * 4, rx.changed()).await;
        assert!(again.is_err(), "an unchanged state wakes nobody: {again:?}");
        drop((rx, local));
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("the task ends").unwrap();
    }
}
