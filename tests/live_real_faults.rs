//! Live sources, tier 2 faults: a real kube-apiserver (v1.20, with etcd) is stopped and
//! started again while fleettop's cluster supervisor (`run_cluster_with`, the same task the
//! app runs per cluster) is watching it, feeding a `FleetState` through the observation
//! channel. Asserts that
//! - while it is down the cluster turns Unreachable and the records seen before (a GPU node,
//!   a pending GPU pod, a quota denial) are kept, stale, not dropped;
//! - after a restart on the same ports with the etcd data, PKI and tokens kept, fleettop
//!   reconnects on its own: Connected, every source Live again, records created after the
//!   restart appear, and the records from before are neither lost nor doubled.
//!
//! Switched on by `FLEETTOP_REAL_APISERVER=../shared/tools/real-apiserver.sh` (it must be the
//! start script: the test stops and restarts the apiserver; a kubeconfig is skipped).
//! A second test partitions fleettop from an apiserver whose etcd compacts every 5 s (through
//! the TCP proxy of `support/tarpit.rs`), so the Events watch resumes into `410 Gone`.
//! Runs on its own ports (apiserver 16843 and 16943, etcd 12879–12880 and 12979–12980, plus `FLEETTOP_PORT_OFFSET`) and run folder, so it can run
//! beside `tests/live_real.rs` (16743, 12779). Waits are bounded and generous (kube-runtime
//! backs off up to 30 s between watch retries); nothing here asserts a duration.
//!
//! `FLEETTOP_REAL_APISERVER=../shared/tools/real-apiserver.sh cargo test --test live_real_faults -- --nocapture`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/real_apiserver.rs"]
mod real_apiserver;
#[path = "support/tarpit.rs"]
mod tarpit;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fleettop::model::{
    Change, ClusterHealth, ClusterId, ConnectionState, Observation, RecordKind, SourceKind, SourceState,
};
use fleettop::sources::kubernetes::{Options, SOURCES, run_cluster_with, settled};
use fleettop::sources::{ObservationReceiver, channel};
use fleettop::state::FleetState;
use k8s_openapi::api::core::v1::{Event, Node, Pod, ServiceAccount};
use kube::api::{Api, Patch, PatchParams, PostParams};
use real_apiserver::{RealApiserver, script_from_env};
use serde_json::json;

/// `FLEETTOP_PORT_OFFSET` moves every tier-2 port, so that several checkouts on one machine
/// can run tier 2 at once.
fn port(base: u16) -> u16 {
    base + std::env::var("FLEETTOP_PORT_OFFSET").ok().and_then(|o| o.parse::<u16>().ok()).unwrap_or(0)
}
/// The context the script writes for the admin token; fleettop names the cluster after it.
const CONTEXT: &str = "real";

fn id() -> ClusterId {
    ClusterId::new(CONTEXT)
}

/// fleettop's state for the cluster and the channel that feeds it, as the app's loop has them,
/// with the relists (`SyncStart`s) counted per table.
struct Watched {
    state: FleetState,
    rx: ObservationReceiver,
    relists: BTreeMap<RecordKind, usize>,
}

impl Watched {
    fn apply(&mut self, batch: &[Observation]) {
        for o in batch {
            if let Change::SyncStart { kind } = o.change {
                *self.relists.entry(kind).or_default() += 1;
            }
        }
        self.state.apply_all(batch);
    }

    /// Applies observations until `done(state)` holds; fails after `limit` with what it
    /// waited for and the cluster's state. Returns how long it took.
    async fn until(&mut self, limit: Duration, what: &str, done: impl Fn(&FleetState) -> bool) -> Duration {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + limit;
        while !done(&self.state) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(batch)) => self.apply(&batch),
                Ok(None) => panic!("the cluster's sources stopped before: {what}"),
                Err(_) => panic!(
                    "timed out after {limit:?} waiting for: {what}\ncluster: {:#?}\ndenials: {}, GPU nodes: {}, pending GPU pods: {}",
                    self.state.clusters().get(&id()),
                    self.state.denials().len(),
                    self.state.gpu_nodes().len(),
                    self.state.pending_gpu_pods().len()
                ),
            }
        }
        started.elapsed()
    }

    /// Keeps applying observations for `d` (the sources keep reporting while the server is down).
    async fn drain_for(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(batch)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            self.apply(&batch);
        }
    }
}

fn connected(s: &FleetState) -> bool {
    s.clusters().get(&id()).is_some_and(|c| c.connection == ConnectionState::Connected)
}

/// Every source is live, or (the optional groups this bare apiserver has no CRDs for) not
/// installed.
fn all_live(s: &FleetState) -> bool {
    s.clusters().get(&id()).is_some_and(|c| {
        SOURCES
            .iter()
            .all(|k| matches!(c.sources.get(k), Some(SourceState::Live | SourceState::NotInstalled)))
    })
}

fn denial_keys(s: &FleetState) -> Vec<String> {
    FleetState::in_cluster(s.denials(), &id()).map(|(rid, _)| rid.key.clone()).collect()
}

fn gpu_node_names(s: &FleetState) -> Vec<String> {
    FleetState::in_cluster(s.gpu_nodes(), &id()).map(|(_, n)| n.name.clone()).collect()
}

/// Creates a node and gives it GPUs the way the device plugin would (status subresource).
async fn create_gpu_node(client: &kube::Client, name: &str, gpus: u32) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}}}))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let g = gpus.to_string();
    let status = json!({"status": {
        "capacity": {"nvidia.com/gpu": g, "cpu": "64", "memory": "256Gi", "pods": "110"},
        "allocatable": {"nvidia.com/gpu": g, "cpu": "64", "memory": "256Gi", "pods": "110"}}});
    nodes.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
}

async fn create_event(client: &kube::Client, event: serde_json::Value) {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    events.create(&PostParams::default(), &serde_json::from_value(event).unwrap()).await.unwrap();
}

/// A ReplicaSet controller's quota denial (the message format of kube-controller-manager).
fn quota_event() -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "FailedCreate", "count": 4,
        "metadata": {"name": "web-7d9c.17a3f", "namespace": "default"},
        "involvedObject": {"kind": "ReplicaSet", "namespace": "default", "name": "web-7d9c"},
        "source": {"component": "replicaset-controller"},
        "message": "Error creating: pods \"web-7d9c-x2\" is forbidden: exceeded quota: quota-pods, requested: count/pods=1, used: count/pods=1, limited: count/pods=1"})
}

/// A PodSecurity denial, verbatim from tests/fixtures/real/denials/denials.jsonl (odo#6847).
fn pod_security_event() -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "FailedCreate", "count": 1,
        "metadata": {"name": "nodejs-app-8665bd77fb.17b01", "namespace": "default"},
        "involvedObject": {"kind": "ReplicaSet", "namespace": "default", "name": "nodejs-app-8665bd77fb"},
        "source": {"component": "replicaset-controller"},
        "message": "Error creating: pods \"nodejs-app-8665bd77fb-2dd4n\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"runtime\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"runtime\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"runtime\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"runtime\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apiserver_killed_and_restarted_mid_watch_goes_unreachable_keeps_records_and_recovers() {
    let Some(script) = script_from_env("tier 2 fault test (real apiserver stopped and restarted mid-watch)")
    else {
        return;
    };
    let mut api = tokio::task::block_in_place(|| RealApiserver::start(&script, port(16843), port(12879)));

    // Setup (admin client; fleettop only reads): a GPU node, a pod waiting for GPUs, a denial.
    let admin = api.admin_client().await;
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "default", "namespace": "default"}})).unwrap();
    Api::<ServiceAccount>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    create_gpu_node(&admin, "gpu-node-1", 8).await;
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "train-0", "namespace": "default", "labels": {"team": "research"}},
        "spec": {"automountServiceAccountToken": false, "containers": [{"name": "main", "image": "registry.invalid/trainer",
            "resources": {"limits": {"nvidia.com/gpu": "2"}}}]}}))
    .unwrap();
    Api::<Pod>::namespaced(admin.clone(), "default").create(&PostParams::default(), &pod).await.unwrap();
    create_event(&admin, quota_event()).await;
    drop(admin);

    // fleettop's supervisor for the cluster, probing every 200 ms.
    let (tx, rx) = channel(64);
    let mut w = Watched {
        state: FleetState::with_clusters(jiff::Timestamp::now(), [&id()]),
        rx,
        relists: BTreeMap::new(),
    };
    let options = Options { probe_every: Duration::from_millis(200), ..Options::default() };
    let supervisor = tokio::spawn(run_cluster_with(api.kubeconfig(), id(), tx, options));

    let took = w
        .until(Duration::from_secs(60), "the first sync with every record", |s| {
            settled(s, &id()) && connected(s) && s.denials().len() == 1 && s.gpu_nodes().len() == 1
        })
        .await;
    eprintln!("synced after {took:?}");
    let s = &w.state;
    assert!(all_live(s), "{:#?}", s.clusters()[&id()]);
    assert_eq!(gpu_node_names(s), ["gpu-node-1"]);
    assert_eq!(s.gpu_nodes().values().next().unwrap().capacity, 8);
    assert_eq!(s.pending_gpu_pods().len(), 1);
    let old_denials = denial_keys(s);
    assert_eq!(old_denials, ["event/default/web-7d9c.17a3f"]);
    let quota = s.denials().values().next().unwrap().clone();
    assert_eq!(quota.count, 4);

    // Stop it mid-watch: the watches break, the probe fails.
    let kubeconfig_before = api.kubeconfig_yaml();
    let stopped_at = Instant::now();
    tokio::task::block_in_place(|| api.stop());
    let took = w
        .until(Duration::from_secs(30), "the cluster to turn Unreachable", |s| {
            matches!(s.clusters()[&id()].connection, ConnectionState::Unreachable { .. })
        })
        .await;
    eprintln!("unreachable {took:?} after the stop script returned");
    // Let the watchers fail and retry for a while: what was seen stays, marked stale.
    w.drain_for(Duration::from_secs(3)).await;
    let s = &w.state;
    let c = &s.clusters()[&id()];
    assert_eq!(c.health(), ClusterHealth::Unreachable, "{c:#?}");
    match &c.connection {
        ConnectionState::Unreachable { error, .. } => {
            assert!(
                error.contains(&format!("127.0.0.1:{}", port(16843))),
                "the error names the server: {error}"
            )
        }
        other => panic!("still unreachable expected, got {other:?}"),
    }
    eprintln!("while down: {:?}", c.sources);
    assert_eq!(denial_keys(s), old_denials, "denials seen before the outage are kept");
    assert_eq!(gpu_node_names(s), ["gpu-node-1"], "GPU nodes seen before the outage are kept");
    assert_eq!(s.pending_gpu_pods().len(), 1, "pending pods seen before the outage are kept");

    // Start it again with the same etcd data; the script reuses PKI and tokens.
    tokio::task::block_in_place(|| api.restart_keeping_data());
    eprintln!("restarted {:?} after the stop", stopped_at.elapsed());
    assert_eq!(
        api.kubeconfig_yaml(),
        kubeconfig_before,
        "the restarted apiserver has the same CA and tokens, so fleettop's client (built once) still works"
    );
    let relists_before = w.relists.clone();
    let admin = api.admin_client().await;
    create_gpu_node(&admin, "gpu-node-2", 4).await;
    create_event(&admin, pod_security_event()).await;
    drop(admin);

    // Nodes and pods come from the apiserver's watch cache, which starts afresh: their watches
    // get 410 Gone and relist. Events bypass the watch cache, so that watch resumes from its
    // resourceVersion with no relist; kube-runtime says nothing when a retried watch starts,
    // and the source turns Live again on the first event it delivers (the new denial).
    let took = w
        .until(
            Duration::from_secs(120),
            "recovery: Connected, every source Live, the records made after the restart",
            |s| connected(s) && all_live(s) && s.denials().len() == 2 && s.gpu_nodes().len() == 2,
        )
        .await;
    eprintln!("recovered {took:?} after the restart");
    // Whatever is still in flight lands too, and changes nothing.
    w.drain_for(Duration::from_secs(2)).await;
    let relisted: BTreeMap<_, _> =
        w.relists.iter().map(|(k, n)| (*k, n - relists_before.get(k).copied().unwrap_or(0))).collect();
    eprintln!("relists after the restart (others resumed their watch): {relisted:?}");
    let s = &w.state;
    let c = &s.clusters()[&id()];
    assert_eq!(c.health(), ClusterHealth::Live, "{c:#?}");
    assert!(all_live(s), "{c:#?}");
    assert!(c.server_version.as_deref().is_some_and(|v| v.starts_with("v1.")), "{c:#?}");
    let mut keys = denial_keys(s);
    keys.sort();
    assert_eq!(
        keys,
        ["event/default/nodejs-app-8665bd77fb.17b01", "event/default/web-7d9c.17a3f"],
        "the old denial once, the new one once"
    );
    let old = s.denials().values().find(|d| d.count == quota.count && d.engine == quota.engine);
    assert!(old.is_some(), "the quota denial is unchanged: {:?}", s.denials().values().collect::<Vec<_>>());
    assert_eq!(gpu_node_names(s), ["gpu-node-1", "gpu-node-2"], "the old GPU node once, the new one once");
    assert_eq!(s.pending_gpu_pods().len(), 1, "the pending pod once");
    assert_eq!(s.record_count(), 5, "2 denials + 2 GPU nodes + 1 pending pod, nothing doubled");

    supervisor.abort();
}

/// 410 Gone on the real server: etcd compacts every 5 s; fleettop reaches the apiserver
/// through a TCP proxy that cuts every connection for a while (a network partition), during
/// which a denial is created, one deleted, and the history compacted away. When the proxy
/// lets connections through again, the Events watch (served from etcd, not the watch cache)
/// resumes from a compacted resourceVersion, gets `410 Gone` and relists: the new denial in,
/// the deleted one out, no source ever shown as an error for it, nothing doubled, and the
/// admin token in no observation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_compaction_during_a_partition_relists_with_410_without_errors_or_doubles() {
    let Some(script) = script_from_env("tier 2 fault test (410 Gone after etcd compaction)") else {
        return;
    };
    let api = tokio::task::block_in_place(|| {
        RealApiserver::start_with_args(&script, port(16943), port(12979), "--etcd-compaction-interval=5s")
    });
    let admin = api.admin_client().await;
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "default", "namespace": "default"}})).unwrap();
    Api::<ServiceAccount>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    create_gpu_node(&admin, "gpu-node-1", 8).await;
    create_event(&admin, quota_event()).await;

    let pit = tarpit::Tarpit::start(std::net::SocketAddr::from(([127, 0, 0, 1], api.api_port()))).await;
    let mut kubeconfig = api.kubeconfig();
    for c in &mut kubeconfig.clusters {
        if let Some(cluster) = c.cluster.as_mut() {
            cluster.server = Some(format!("https://{}", pit.addr()));
        }
    }
    let yaml = api.kubeconfig_yaml();
    let token = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .map(|t| t.trim_matches('"').to_string())
        .expect("the admin token");
    fleettop::sources::kubernetes::credentials::register_kubeconfig(&kubeconfig);
    let (tx, rx) = channel(64);
    let mut w = Watched {
        state: FleetState::with_clusters(jiff::Timestamp::now(), [&id()]),
        rx,
        relists: BTreeMap::new(),
    };
    let options = Options { probe_every: Duration::from_millis(200), ..Options::default() };
    let supervisor = tokio::spawn(run_cluster_with(kubeconfig, id(), tx, options));
    let took = w
        .until(Duration::from_secs(60), "the first sync through the proxy", |s| {
            settled(s, &id()) && connected(s) && s.denials().len() == 1 && s.gpu_nodes().len() == 1
        })
        .await;
    eprintln!("synced through the proxy after {took:?}");

    // The partition: every connection cut; meanwhile a new denial, the old one deleted, and
    // etcd compacts (every 5 s) past the resourceVersion fleettop's Events watch holds.
    pit.cut();
    create_event(&admin, pod_security_event()).await;
    Api::<Event>::namespaced(admin.clone(), "default")
        .delete("web-7d9c.17a3f", &Default::default())
        .await
        .unwrap();
    w.until(Duration::from_secs(30), "unreachable while cut", |s| {
        matches!(s.clusters()[&id()].connection, ConnectionState::Unreachable { .. })
    })
    .await;
    w.drain_for(Duration::from_secs(12)).await;
    pit.pass();
    let healed = Instant::now();
    let mut errors = Vec::new();
    let mut relisting = false;
    let events_live =
        |s: &FleetState| s.clusters()[&id()].sources.get(&SourceKind::Events) == Some(&SourceState::Live);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !(relisting
        && events_live(&w.state)
        && denial_keys(&w.state) == ["event/default/nodejs-app-8665bd77fb.17b01"])
    {
        match tokio::time::timeout_at(deadline, w.rx.recv()).await {
            Ok(Some(batch)) => {
                let text = serde_json::to_string(&batch).unwrap();
                assert!(!text.contains(&token), "the admin token reached an observation");
                for o in &batch {
                    match &o.change {
                        // After the first sync, only a 410 puts a source back to syncing.
                        Change::Source { source: SourceKind::Events, state: SourceState::Syncing } => {
                            relisting = true;
                        }
                        Change::Source { source, state: SourceState::Error { message } }
                            if message.contains("Expired") || message.contains("too old") =>
                        {
                            errors.push(format!("{source:?}: {message}"));
                        }
                        _ => {}
                    }
                }
                w.apply(&batch);
            }
            Ok(None) => panic!("the sources stopped"),
            Err(_) => panic!(
                "no relist after the partition (410 seen: {relisting}, as errors: {errors:?}): {:#?}; denials {:?}",
                w.state.clusters()[&id()],
                denial_keys(&w.state)
            ),
        }
    }
    eprintln!(
        "the Events watch got 410 and relisted; done {:?} after the partition healed",
        healed.elapsed()
    );
    assert_eq!(errors, Vec::<String>::new(), "a 410 is a relist, never shown as an error");
    assert_eq!(gpu_node_names(&w.state), ["gpu-node-1"], "nothing doubled");
    // Watches that resumed without news turn live on their next event, or after
    // `RECOVERED_AFTER` of quiet (see sources/kubernetes/watch.rs).
    eprintln!("sources now: {:?}", w.state.clusters()[&id()].sources);
    supervisor.abort();
    drop(pit);
}
