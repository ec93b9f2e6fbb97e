//! Fleet-scale sync on loopback (DESIGN.md §8): 50 clusters × 2,000 realistic pods served by
//! the project's test API server, watched by fleettop's live sources. Reports time to the
//! first batch, time until every cluster has finished its initial sync, resident memory
//! growth, what was kept, then CPU while idle and while the clusters change 1,000 times a
//! second. A `--bench` harness (not criterion): one run is the measurement.
//! `FLEET_CLUSTERS` and `FLEET_PODS` override the sizes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/apiserver.rs"]
mod apiserver;

use std::time::{Duration, Instant};

use fleettop::model::ClusterId;
use fleettop::sources::kubernetes::{Options, run_cluster_with, settled};
use fleettop::state::FleetState;
use serde_json::json;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// CPU time this process has used (user + system), from /proc (USER_HZ is 100 on Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().filter_map(|f| f.parse().ok()).collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15; the state letter (field 3) did not parse.
    let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Applies whatever arrives for `how_long`; returns the share of one core used meanwhile and
/// the observations applied. `during` runs every 10 ms (to make changes), or not at all.
async fn measure(
    state: &mut FleetState,
    rx: &mut fleettop::sources::ObservationReceiver,
    how_long: Duration,
    mut during: impl FnMut(u64),
) -> (f64, u64) {
    let (cpu0, wall0, applied0) = (cpu_time(), Instant::now(), state.applied());
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut n = 0u64;
    while wall0.elapsed() < how_long {
        tokio::select! {
            Some(batch) = rx.recv() => state.apply_all(&batch),
            _ = tick.tick() => { during(n); n += 1; }
        }
    }
    let share = (cpu_time() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
    (share, state.applied() - applied0)
}

/// A pod shaped like a real workload: two containers with requests, labels, env, probes,
/// volumes, an owner. One in ten asks for a GPU; one in fifty of those waits.
fn pod(i: usize) -> serde_json::Value {
    let gpu = i.is_multiple_of(10);
    let pending = gpu && i.is_multiple_of(50);
    let labels: serde_json::Map<String, serde_json::Value> =
        (0..10).map(|l| (format!("label-{l}"), json!(format!("value-{l}-{}", i % 7)))).collect();
    let container = |name: &str| {
        json!({"name": name, "image": format!("registry.example.com/team/{name}:1.{}", i % 9),
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                "limits": if gpu && name == "main" { json!({"nvidia.com/gpu": "1", "memory": "1Gi"}) } else { json!({"memory": "1Gi"}) }},
            "env": (0..12).map(|e| json!({"name": format!("ENV_{e}"), "value": format!("some-config-value-{e}")})).collect::<Vec<_>>(),
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10},
            "livenessProbe": {"httpGet": {"path": "/live", "port": 8080}, "periodSeconds": 10},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/config"}, {"name": "cache", "mountPath": "/cache"}]})
    };
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("app-{i}"), "namespace": format!("team-{}", i % 20), "labels": labels,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("app-{}", i / 3), "uid": format!("uid-{i}"), "controller": true}]},
        "spec": {"containers": [container("main"), container("sidecar")], "nodeName": format!("node-{}", i % 40),
            "volumes": [{"name": "config", "configMap": {"name": "app-config"}}, {"name": "cache", "emptyDir": {}}]},
        "status": {"phase": "Running", "podIP": format!("10.0.{}.{}", i / 250, i % 250)}});
    if pending {
        p["spec"].as_object_mut().unwrap().remove("nodeName");
        p["status"] = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/40 nodes are available: 40 Insufficient nvidia.com/gpu. preemption: 0/40 nodes are available: 40 No preemption victims found for incoming pod."}]});
    }
    p
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let clusters = env("FLEET_CLUSTERS", 50);
    let pods = env("FLEET_PODS", 2_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut servers = Vec::new();
        for c in 0..clusters {
            let s = apiserver::TestApiServer::start().await;
            for n in 0..40 {
                let gpu = n < 4;
                s.add(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": format!("node-{n}")},
                    "status": {"capacity": if gpu { json!({"cpu": "96", "nvidia.com/gpu": "8"}) } else { json!({"cpu": "32"}) }}}));
            }
            for i in 0..pods {
                s.add(pod(c * pods + i));
            }
            servers.push(s);
        }
        let rss_before = rss_kib();
        let mut state = FleetState::default();
        let (tx, mut rx) = fleettop::sources::channel(fleettop::sources::CHANNEL_CAPACITY);
        let started = Instant::now();
        for (i, s) in servers.iter().enumerate() {
            let name = format!("cluster-{i:02}");
            state.add_cluster(ClusterId::new(&name));
            let kubeconfig = kube::config::Kubeconfig::from_yaml(&s.kubeconfig_yaml(&name)).unwrap();
            tokio::spawn(run_cluster_with(kubeconfig, ClusterId::new(&name), tx.clone(), Options::default()));
        }
        let mut first = None;
        let ids: Vec<ClusterId> = state.clusters().keys().cloned().collect();
        while !ids.iter().all(|c| settled(state.clusters().get(c))) {
            match tokio::time::timeout(Duration::from_secs(120), rx.recv()).await {
                Ok(Some(batch)) => {
                    first.get_or_insert_with(|| started.elapsed());
                    state.apply_all(&batch);
                }
                _ => panic!("sync did not finish"),
            }
        }
        let synced = started.elapsed();
        let rss_after = rss_kib();
        let total = clusters * pods;
        println!("fleet sync on loopback: {clusters} clusters × {pods} pods = {total} pods");
        println!("  first batch after   {:?}", first.unwrap_or_default());
        println!("  all synced after    {synced:?}  ({:.0} pods/s)", total as f64 / synced.as_secs_f64());
        println!(
            "  resident memory     +{} MiB ({:.2} KiB per pod; the test servers hold their copies in the same process)",
            rss_after.saturating_sub(rss_before) / 1024,
            rss_after.saturating_sub(rss_before) as f64 / total as f64
        );
        println!(
            "  kept                {} GPU nodes, {} pending GPU pods, {} records in all (pods that ask for no GPU and wait for nothing are not stored)",
            state.gpu_nodes().len(),
            state.pending_gpu_pods().len(),
            state.record_count()
        );
        let window = Duration::from_secs(env("FLEET_MEASURE_S", 10) as u64);
        let (idle, _) = measure(&mut state, &mut rx, window, |_| {}).await;
        println!("  CPU idle            {:.1} % of a core (probes every 10 s per cluster)", idle * 100.0);
        // 1,000 changes a second: 10 pod updates every 10 ms, round-robin over the clusters.
        let (busy, applied) = measure(&mut state, &mut rx, window, |n| {
            for k in 0..10 {
                let i = (n * 10 + k) as usize;
                let (c, p) = (i % clusters, (i / clusters) % pods);
                let mut changed = pod(c * pods + p);
                changed["metadata"]["labels"]["churn"] = json!(n.to_string());
                servers[c].add(changed);
            }
        })
        .await;
        println!(
            "  CPU at 1,000 ev/s   {:.1} % of a core, {} observations applied (the 50 test servers that make and serve the changes run in this process too)",
            busy * 100.0,
            applied
        );
    });
}
