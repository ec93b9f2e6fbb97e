//! GPU utilisation from NVIDIA dcgm-exporter pods, scraped through the API server's pod proxy
//! with the machinery of [`super::scrape`] (every [`super::Options::scrape_every`], in
//! parallel, with timeouts), parsed by [`crate::sources::parse::dcgm`], and merged into the
//! GPU node records that the nodes+pods task ([`super::gpu`]) emits.
//!
//! The merge: each round publishes every node's devices in a [`Telemetry`] shared with the
//! nodes+pods task, which puts them in the node's record whenever it emits one, and re-emits
//! the nodes a round reported (a sample every scrape, as the cost ledger expects of a GPU) or
//! stopped reporting. Records keep their keys; a node the nodes watch does not know as a GPU
//! node gets no record. Devices carry their pod from the exporter's `pod`/`namespace` labels
//! (empty when the exporter's pod mapping is off: then no GPU can be called idle but
//! allocated) and, while they stay idle under the same pod, since when ([`GpuDevice::idle_since`],
//! from the scrape times).
//!
//! The `Dcgm` source state, after every round that changes it:
//! * pods cannot be listed: `Forbidden` (403) or `Error`; the last devices are kept;
//! * no exporter pod found by [`SELECTORS`]: `NotInstalled`;
//! * any scrape refused with 403: `Forbidden` with the API server's message (fleettop lacks
//!   `get pods/proxy`); the other exporters' devices still land;
//! * every scrape failed (timeouts, 5xx, bodies that do not parse): `Error`, naming them;
//! * some failed: `Degraded`, naming each failing exporter (pod, node, error); an exporter
//!   that fails only loses its own node's devices, the others' keep landing;
//! * otherwise `Live`.
//!
//! Only GET requests are sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use kube::Client;
use tokio::sync::watch;

use super::scrape::{
    METRICS_PATH, ScrapeFailure, Scraped, Target, TargetKind, TargetSelector, Targets, run_rounds,
};
use crate::model::{ClusterId, GpuDevice, IdleRun, SourceKind, SourceState};
use crate::sources::ObservationSender;
use crate::sources::parse::dcgm::{self, Exporter};

const EXPORTER_PORTS: &[&str] = &["metrics", "gpu-metrics"];

/// Where dcgm-exporter pods are looked for: the GPU Operator labels them
/// `app: nvidia-dcgm-exporter`, the dcgm-exporter Helm chart `app.kubernetes.io/name:
/// dcgm-exporter`; both name the port `metrics` (`gpu-metrics` is seen too), else `:9400`.
pub const SELECTORS: &[TargetSelector] = &[
    TargetSelector {
        kind: TargetKind::DcgmExporter,
        label: "app",
        values: &["nvidia-dcgm-exporter"],
        port_names: EXPORTER_PORTS,
        default_port: 9400,
        path: METRICS_PATH,
    },
    TargetSelector {
        kind: TargetKind::DcgmExporter,
        label: "app.kubernetes.io/name",
        values: &["dcgm-exporter"],
        port_names: EXPORTER_PORTS,
        default_port: 9400,
        path: METRICS_PATH,
    },
];

/// The devices DCGM reports per node, shared by the DCGM task (which publishes them) and the
/// nodes+pods task (which puts them in the node records it emits). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Telemetry {
    shared: Arc<Mutex<Shared>>,
    version: Arc<watch::Sender<u64>>,
}

#[derive(Debug, Default)]
struct Shared {
    by_node: BTreeMap<String, Vec<GpuDevice>>,
    /// Nodes without devices whose exporter failed: why.
    failed: BTreeMap<String, String>,
    changed: BTreeSet<String>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self { shared: Arc::default(), version: Arc::new(watch::channel(0).0) }
    }
}

impl Telemetry {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // The data stays consistent whatever panicked: take it anyway.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The devices the last round reported on `node`, or `None` when it reported none.
    pub fn devices(&self, node: &str) -> Option<Vec<GpuDevice>> {
        self.lock().by_node.get(node).cloned()
    }

    /// Why the last round has no devices for `node`, when its exporter failed.
    pub fn failure(&self, node: &str) -> Option<String> {
        self.lock().failed.get(node).cloned()
    }

    /// Replaces every node's devices and failures with a round's; the nodes it reports, and
    /// those it no longer reports, are marked changed and subscribers are woken.
    pub fn publish(&self, by_node: BTreeMap<String, Vec<GpuDevice>>, failed: BTreeMap<String, String>) {
        let mut shared = self.lock();
        let gone: Vec<String> = shared
            .by_node
            .keys()
            .chain(shared.failed.keys())
            .filter(|n| !by_node.contains_key(*n) && !failed.contains_key(*n))
            .cloned()
            .collect();
        shared.changed.extend(gone);
        shared.changed.extend(by_node.keys().cloned());
        shared.changed.extend(failed.keys().cloned());
        let wake = !shared.changed.is_empty();
        shared.by_node = by_node;
        shared.failed = failed;
        drop(shared);
        if wake {
            self.version.send_modify(|v| *v = v.wrapping_add(1));
        }
    }

    /// A receiver whose `changed()` resolves after a [`Telemetry::publish`] that marked nodes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// The nodes marked changed since the last call, in name order.
    pub fn take_changed(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().changed).into_iter().collect()
    }
}

/// The DCGM source of one cluster between rounds: the idle stretches of its GPUs, and the
/// last round's failing exporters by node.
#[derive(Debug, Default)]
pub struct Rounds {
    /// By (node, UUID or `#index`, MIG instance).
    idle: BTreeMap<(String, String, Option<String>), IdleRun>,
    /// Node → why its exporter failed in the last round (nodes another exporter reported are
    /// left out).
    failed: BTreeMap<String, String>,
}

impl Rounds {
    /// Takes one round's results (every exporter pod with its body or failure, at the time it
    /// was read) and returns the devices per node and the source state.
    pub fn round(&mut self, results: Vec<Scraped>) -> (BTreeMap<String, Vec<GpuDevice>>, SourceState) {
        let total = results.len();
        let mut by_node: BTreeMap<String, Vec<GpuDevice>> = BTreeMap::new();
        let mut failures: Vec<String> = Vec::new();
        let mut failing: Vec<String> = Vec::new();
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        let mut refused: Option<String> = None;
        let mut latest: Option<Timestamp> = None;
        for (target, at, result) in results {
            let exporter = Exporter { node: target.node.as_deref(), pod: Some(target.name.as_str()) };
            let parsed = result.and_then(|body| {
                dcgm::parse(&body, exporter).map_err(|e| ScrapeFailure {
                    message: format!("metrics do not parse: {e}"),
                    forbidden: false,
                })
            });
            match parsed {
                Ok(samples) => {
                    latest = latest.max(Some(at));
                    for s in samples {
                        let mut device = s.to_device();
                        device.idle_since = self.idle_since(&s.node, &device, at);
                        let devices = by_node.entry(s.node).or_default();
                        // Two exporters on one node (Operator and chart) report the same GPUs.
                        if !devices.iter().any(|d| same_device(d, &device)) {
                            devices.push(device);
                        }
                    }
                }
                Err(failure) => {
                    if failure.forbidden && refused.is_none() {
                        refused = Some(failure.message.clone());
                    }
                    failures.push(format!("{}: {}", target.proxy_path(), failure.message));
                    failing.push(format!(
                        "{}/{} on node {}: {}",
                        target.namespace,
                        target.name,
                        target.node.as_deref().unwrap_or("?"),
                        failure.message
                    ));
                    if let Some(node) = &target.node {
                        let why = format!(
                            "dcgm-exporter {}/{}: {}",
                            target.namespace, target.name, failure.message
                        );
                        failed.entry(node.clone()).or_insert(why);
                    }
                }
            }
        }
        for devices in by_node.values_mut() {
            devices.sort_by_key(|d| d.index);
        }
        failed.retain(|node, _| !by_node.contains_key(node));
        self.failed = failed;
        if let Some(latest) = latest {
            self.idle.retain(|_, run| run.reaches(latest));
        }
        let state = match refused {
            Some(message) => SourceState::Forbidden { message },
            None if total == 0 => SourceState::NotInstalled,
            None if failures.len() == total => SourceState::Error { message: all_failed(&failures) },
            None if failures.is_empty() => SourceState::Live,
            None => SourceState::Degraded { message: some_failed(&failing, total) },
        };
        (by_node, state)
    }

    /// The last round's nodes whose exporter failed (and that no other exporter reported),
    /// with why.
    pub fn failed(&self) -> &BTreeMap<String, String> {
        &self.failed
    }

    /// Since when `device` has been idle under its pod, continuing the stretch of earlier rounds
    /// when the pod is the same and no gap is longer than [`crate::model::IDLE_RUN_MAX_GAP`].
    fn idle_since(&mut self, node: &str, device: &GpuDevice, at: Timestamp) -> Option<Timestamp> {
        let id = if device.uuid.is_empty() { format!("#{}", device.index) } else { device.uuid.clone() };
        let key = (node.to_string(), id, device.mig.clone());
        let Some(pod) = device.pod.as_ref().filter(|_| device.under_idle_line()) else {
            self.idle.remove(&key);
            return None;
        };
        let run = IdleRun::continued(self.idle.get(&key), pod, at);
        let since = run.since;
        self.idle.insert(key, run);
        Some(since)
    }
}

fn same_device(a: &GpuDevice, b: &GpuDevice) -> bool {
    a.index == b.index && a.uuid == b.uuid && a.mig == b.mig
}

/// `no dcgm-exporter could be scraped (2 of 2): <path>: <why>; …` (the first three).
fn all_failed(failures: &[String]) -> String {
    let n = failures.len();
    let mut shown = failures.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
    if n > 3 {
        shown.push_str(&format!("; and {} more", n - 3));
    }
    format!("no dcgm-exporter could be scraped ({n} of {n}): {shown}")
}

/// `1 of 3 dcgm-exporters failing: gpu-operator/e-b on node gpu-b: <why>; …` (the first three).
fn some_failed(failing: &[String], total: usize) -> String {
    let n = failing.len();
    let mut shown = failing.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
    if n > 3 {
        shown.push_str(&format!("; and {} more", n - 3));
    }
    format!("{n} of {total} dcgm-exporters failing: {shown}")
}

/// Discovers and scrapes `client`'s dcgm-exporters every `every` (see [`run_rounds`]),
/// forever, publishing their devices in `telemetry`; returns when the app has gone away.
pub async fn run(
    client: Client,
    cluster: ClusterId,
    tx: ObservationSender,
    every: Duration,
    telemetry: Telemetry,
    extra: &[TargetSelector],
    fixed: &[Target],
) {
    let fixed: Vec<Target> = fixed.iter().filter(|t| t.kind == TargetKind::DcgmExporter).cloned().collect();
    let mut rounds = Rounds::default();
    let selectors: Vec<TargetSelector> = SELECTORS
        .iter()
        .chain(extra.iter().filter(|s| s.kind == TargetKind::DcgmExporter))
        .copied()
        .collect();
    let targets = Targets { selectors: &selectors, fixed: &fixed };
    run_rounds(client, cluster, tx, SourceKind::Dcgm, targets, every, |results| {
        let (devices, state) = rounds.round(results);
        telemetry.publish(devices, rounds.failed().clone());
        (Vec::new(), state)
    })
    .await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn exporter(name: &str, node: &str) -> Target {
        Target {
            namespace: "gpu-operator".into(),
            name: name.into(),
            port: 9400,
            kind: TargetKind::DcgmExporter,
            node: Some(node.into()),
            path: super::super::scrape::METRICS_PATH,
            via: Default::default(),
        }
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    /// A scrape in the exporter's shape (labels as the datadog fixture's, pod mapping on).
    fn body(host: &str, util: &[(u32, &str, &str)]) -> String {
        util.iter()
            .map(|(gpu, pod, value)| {
                format!(
                    "DCGM_FI_DEV_GPU_UTIL{{gpu=\"{gpu}\",UUID=\"GPU-{host}-{gpu}\",device=\"nvidia{gpu}\",modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"{host}\",container=\"main\",namespace=\"{}\",pod=\"{pod}\"}} {value}\n",
                    if pod.is_empty() { "" } else { "ml" }
                )
            })
            .collect()
    }

    fn ok(t: Target, s: i64, body: String) -> Scraped {
        (t, at(s), Ok(body))
    }

    fn err(t: Target, s: i64, message: &str, forbidden: bool) -> Scraped {
        (t, at(s), Err(ScrapeFailure { message: message.into(), forbidden }))
    }

    #[test]
    fn selectors_find_the_operators_and_the_charts_exporters() {
        assert_eq!(SELECTORS[0].label_selector(), "app=nvidia-dcgm-exporter");
        assert_eq!(SELECTORS[1].label_selector(), "app.kubernetes.io/name=dcgm-exporter");
    }

    #[test]
    fn one_failing_exporter_hides_only_its_own_node() {
        let mut r = Rounds::default();
        let (by_node, state) = r.round(vec![
            ok(exporter("e-a", "gpu-a"), 0, body("gpu-a", &[(0, "train-0", "93"), (1, "", "0")])),
            err(exporter("e-b", "gpu-b"), 0, "no answer within 10000 ms", false),
        ]);
        assert_eq!(
            state,
            SourceState::Degraded {
                message:
                    "1 of 2 dcgm-exporters failing: gpu-operator/e-b on node gpu-b: no answer within 10000 ms"
                        .into()
            },
            "the failing one is named; the source still delivers"
        );
        assert_eq!(by_node.keys().collect::<Vec<_>>(), vec!["gpu-a"]);
        let a = &by_node["gpu-a"];
        assert_eq!(
            a.iter().map(|d| (d.index, d.utilization_pct, d.pod.as_deref())).collect::<Vec<_>>(),
            vec![(0, Some(93.0), Some("ml/train-0")), (1, Some(0.0), None)]
        );
        assert!(a.iter().all(|d| d.idle_since.is_none()), "busy, or idle but free");
        assert_eq!(
            r.failed().iter().map(|(n, w)| (n.as_str(), w.as_str())).collect::<Vec<_>>(),
            vec![("gpu-b", "dcgm-exporter gpu-operator/e-b: no answer within 10000 ms")],
            "the node's detail can say why its GPUs are missing"
        );
        let t = Telemetry::default();
        t.publish(by_node, r.failed().clone());
        assert_eq!(t.take_changed(), vec!["gpu-a", "gpu-b"]);
        assert!(t.failure("gpu-b").is_some_and(|w| w.contains("e-b")) && t.failure("gpu-a").is_none());
        // Next round e-b answers: the failure is gone and gpu-b is marked for a new record.
        let (by_node, _) = r.round(vec![
            ok(exporter("e-a", "gpu-a"), 15, body("gpu-a", &[(0, "train-0", "93")])),
            ok(exporter("e-b", "gpu-b"), 15, body("gpu-b", &[(0, "x", "50")])),
        ]);
        assert!(r.failed().is_empty());
        t.publish(by_node, r.failed().clone());
        assert_eq!(t.take_changed(), vec!["gpu-a", "gpu-b"]);
        assert_eq!(t.failure("gpu-b"), None);
    }

    #[test]
    fn the_state_says_not_installed_forbidden_or_every_failure() {
        let mut r = Rounds::default();
        assert_eq!(r.round(vec![]).1, SourceState::NotInstalled);
        let refused = "pods \"e-a\" is forbidden: User \"u\" cannot get resource \"pods/proxy\"";
        let (by_node, state) = r.round(vec![
            err(exporter("e-a", "gpu-a"), 0, refused, true),
            ok(exporter("e-b", "gpu-b"), 0, body("gpu-b", &[(0, "x", "50")])),
        ]);
        assert_eq!(state, SourceState::Forbidden { message: refused.into() });
        assert!(by_node.contains_key("gpu-b"), "the allowed exporter still lands");
        let (by_node, state) = r.round(vec![
            err(exporter("e-a", "gpu-a"), 0, "503 Service Unavailable: no endpoints", false),
            ok(exporter("e-b", "gpu-b"), 0, "<html>bad gateway</html>\n".into()),
        ]);
        assert!(by_node.is_empty());
        let SourceState::Error { message } = state else { panic!("{state:?}") };
        assert!(message.starts_with("no dcgm-exporter could be scraped (2 of 2): "), "{message}");
        assert!(
            message.contains("/api/v1/namespaces/gpu-operator/pods/e-a:9400/proxy/metrics: 503"),
            "{message}"
        );
        assert!(message.contains("e-b:9400/proxy/metrics: metrics do not parse: line 1"), "{message}");
    }

    /// One round of exporter `e-a` on `gpu-a` with GPU 0 held by `pod` at `util` %: its
    /// `idle_since`.
    fn idle_at(r: &mut Rounds, s: i64, pod: &str, util: &str) -> Option<Timestamp> {
        let (by_node, _) = r.round(vec![ok(exporter("e-a", "gpu-a"), s, body("gpu-a", &[(0, pod, util)]))]);
        by_node["gpu-a"][0].idle_since
    }

    #[test]
    fn an_idle_gpu_keeps_the_time_it_went_idle_until_it_works_changes_pod_or_goes_silent() {
        let mut r = Rounds::default();
        assert_eq!(idle_at(&mut r, 0, "train-0", "2"), Some(at(0)));
        assert_eq!(idle_at(&mut r, 15, "train-0", "0"), Some(at(0)), "still the same stretch");
        assert_eq!(idle_at(&mut r, 30, "train-0", "4.9"), Some(at(0)));
        assert_eq!(idle_at(&mut r, 45, "train-0", "5"), None, "at the line is not idle");
        assert_eq!(idle_at(&mut r, 60, "train-0", "1"), Some(at(60)), "a new stretch");
        assert_eq!(idle_at(&mut r, 75, "train-1", "1"), Some(at(75)), "another pod: its own stretch");
        // A missed scrape or two keep the stretch; a longer silence ends it.
        assert_eq!(idle_at(&mut r, 75 + 120, "train-1", "1"), Some(at(75)));
        assert_eq!(idle_at(&mut r, 195 + 121, "train-1", "1"), Some(at(316)));
        // An exporter failing in between does not end it by itself.
        let (_, state) = r.round(vec![err(exporter("e-a", "gpu-a"), 330, "timeout", false)]);
        assert!(matches!(state, SourceState::Error { .. }));
        assert_eq!(idle_at(&mut r, 345, "train-1", "1"), Some(at(316)));
        // Idle but free is not tracked.
        assert_eq!(idle_at(&mut r, 360, "", "0"), None);
        assert_eq!(idle_at(&mut r, 375, "train-1", "0"), Some(at(375)));
    }

    #[test]
    fn the_idle_flag_waits_for_ten_minutes_of_idleness() {
        let mut r = Rounds::default();
        let (by_node, _) = r.round(vec![ok(exporter("e-a", "gpu-a"), 0, body("gpu-a", &[(0, "nb-0", "0")]))]);
        let d = &by_node["gpu-a"][0];
        assert!(d.under_idle_line());
        assert!(!d.idle_but_allocated(at(0)), "just went idle");
        assert!(!d.idle_but_allocated(at(599)));
        assert!(d.idle_but_allocated(at(600)), "idle for crate::model::IDLE_FLAG_AFTER");
    }

    #[test]
    fn two_exporters_on_one_node_report_each_gpu_once() {
        let mut r = Rounds::default();
        let b = body("gpu-a", &[(1, "x", "50"), (0, "y", "60")]);
        let (by_node, state) =
            r.round(vec![ok(exporter("e-a", "gpu-a"), 0, b.clone()), ok(exporter("e-chart", "gpu-a"), 0, b)]);
        assert_eq!(state, SourceState::Live);
        assert_eq!(by_node["gpu-a"].iter().map(|d| d.index).collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn telemetry_marks_reported_and_vanished_nodes_and_wakes_subscribers() {
        let t = Telemetry::default();
        let mut rx = t.subscribe();
        assert!(!rx.has_changed().unwrap());
        let mut r = Rounds::default();
        let (by_node, _) = r.round(vec![
            ok(exporter("e-a", "gpu-a"), 0, body("gpu-a", &[(0, "x", "50")])),
            ok(exporter("e-b", "gpu-b"), 0, body("gpu-b", &[(0, "y", "50")])),
        ]);
        t.publish(by_node, BTreeMap::new());
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        assert_eq!(t.take_changed(), vec!["gpu-a", "gpu-b"]);
        assert_eq!(t.take_changed(), Vec::<String>::new());
        assert_eq!(t.devices("gpu-a").map(|d| d.len()), Some(1));
        let (by_node, _) = r.round(vec![ok(exporter("e-a", "gpu-a"), 15, body("gpu-a", &[(0, "x", "50")]))]);
        t.publish(by_node, BTreeMap::new());
        assert!(rx.has_changed().unwrap());
        assert_eq!(t.take_changed(), vec!["gpu-a", "gpu-b"], "gpu-a sampled again, gpu-b gone");
        assert_eq!(t.devices("gpu-b"), None);
        t.publish(BTreeMap::new(), BTreeMap::new());
        assert_eq!(t.take_changed(), vec!["gpu-a"]);
        rx.mark_unchanged();
        t.publish(BTreeMap::new(), BTreeMap::new());
        assert!(!rx.has_changed().unwrap(), "nothing to report, nobody woken");
    }
}
