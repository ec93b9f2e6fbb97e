//! Live sources, tier 1: fleettop's real kube-rs client and watchers against the project's
//! own test API server on 127.0.0.1 (tests/support/apiserver.rs), with faults injected:
//! 403s, expired watches (410 relists), latency and dead clusters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use fleettop::model::{
    ClusterHealth, ClusterId, ComponentKind, ConnectionState, Engine, ExpirySource, GpuDevice, GpuProcess,
    IDLE_FLAG_AFTER, PipelineComponent, PipelineHealth, SourceKind, SourceState,
};
use fleettop::sources::kubernetes::{Options, run_cluster_with, settled};
use fleettop::sources::local_gpus::LocalGpus;
use fleettop::sources::nvml;
use fleettop::sources::{ObservationReceiver, channel};
use fleettop::state::FleetState;
use serde_json::json;
use support::apiserver::TestApiServer;

/// Probes and rediscovery fast enough for tests.
fn fast_options() -> Options {
    Options {
        probe_every: Duration::from_millis(200),
        rediscover_every: Duration::from_millis(500),
        scrape_every: Duration::from_millis(500),
        ..Options::default()
    }
}

fn watch(server: &TestApiServer, name: &str, rx_state: &mut FleetState) -> ObservationReceiver {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&server.kubeconfig_yaml(name)).unwrap();
    let (tx, rx) = channel(64);
    rx_state.add_cluster(ClusterId::new(name));
    tokio::spawn(run_cluster_with(kubeconfig, ClusterId::new(name), tx, fast_options()));
    rx
}

/// Applies observations until `done(state)` holds; fails after 15 s.
async fn until(
    state: &mut FleetState,
    rx: &mut ObservationReceiver,
    what: &str,
    done: impl Fn(&FleetState) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done(state) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(batch)) => state.apply_all(&batch),
            Ok(None) => panic!("sources stopped before: {what}"),
            Err(_) => panic!("timed out waiting for: {what}; clusters: {:#?}", state.clusters()),
        }
    }
}

fn gpu_node(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}},
        "status": {"capacity": {"cpu": "96", "nvidia.com/gpu": "8"}, "allocatable": {"nvidia.com/gpu": "8"}}})
}

fn gpu_pod(name: &str, node: Option<&str>, gpus: u32) -> serde_json::Value {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "ml", "labels": {"team": "research"}},
        "spec": {"containers": [{"name": "main", "image": "trainer", "resources": {"limits": {"nvidia.com/gpu": gpus.to_string()}}}]},
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."}]}});
    if let Some(n) = node {
        pod["spec"]["nodeName"] = json!(n);
        pod["status"] = json!({"phase": "Running"});
    }
    pod
}

fn denial_event(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "FailedCreate", "count": 3,
        "metadata": {"name": name, "namespace": "shop"},
        "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": "web-7d9c"},
        "firstTimestamp": "2026-11-27T14:00:00Z", "lastTimestamp": "2026-11-27T14:02:00Z",
        "message": "Error creating: pods \"web-7d9c-x2\" is forbidden: ValidatingAdmissionPolicy 'replica-limit.example.com' with binding 'replica-limit-binding' denied request: failed expression: object.spec.replicas <= 5"})
}

fn seed(server: &TestApiServer) {
    server.add(gpu_node("h100-1"));
    server.add(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cpu-1"}, "status": {"capacity": {"cpu": "8"}}}));
    server.add(gpu_pod("running-0", Some("h100-1"), 2));
    server.add(gpu_pod("waiting-0", None, 4));
    server.add(denial_event("web-7d9c.1"));
    server.add(json!({"apiVersion": "v1", "kind": "Event", "type": "Normal", "reason": "Scheduled",
        "metadata": {"name": "n.1", "namespace": "shop"}, "involvedObject": {"kind": "Pod", "name": "x"}, "message": "ok"}));
}

fn id(name: &str) -> ClusterId {
    ClusterId::new(name)
}

#[tokio::test]
async fn a_cluster_syncs_and_projects_gpus_denials_and_pending_pods_with_reads_only() {
    let server = TestApiServer::start().await;
    seed(&server);
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    until(&mut state, &mut rx, "initial sync", |s| {
        settled(s.clusters().get(&id("a"))) && s.clusters()[&id("a")].latency_ms.is_some()
    })
    .await;
    let c = &state.clusters()[&id("a")];
    assert_eq!(c.health(), ClusterHealth::Live);
    assert_eq!(c.server_version.as_deref(), Some("v1.31.4-test"));
    assert_eq!(state.gpu_nodes().len(), 1, "nodes without accelerators are not kept");
    let node = state.gpu_nodes().values().next().unwrap();
    assert_eq!((node.capacity, node.allocated), (8, 2), "the running pod holds 2 GPUs");
    assert_eq!(state.pending_gpu_pods().len(), 1);
    let pending = state.pending_gpu_pods().values().next().unwrap();
    assert_eq!((pending.gpus, pending.nodes_total), (4, Some(3)));
    assert_eq!(state.denials().len(), 1, "the Normal event is not a denial");
    let d = state.denials().values().next().unwrap();
    assert_eq!(d.engine, Engine::ValidatingAdmissionPolicy);
    assert_eq!(d.binding.as_deref(), Some("replica-limit-binding"));
    assert_eq!(d.object.display(), "Pod/shop/web-7d9c-x2");
    let requests = server.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.method == "GET"), "fleettop only reads: {requests:?}");
}

#[tokio::test]
async fn live_changes_arrive_and_relists_never_duplicate() {
    let server = TestApiServer::start().await;
    seed(&server);
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    until(&mut state, &mut rx, "initial sync", |s| settled(s.clusters().get(&id("a")))).await;
    server.add(denial_event("web-7d9c.2"));
    until(&mut state, &mut rx, "a second denial", |s| s.denials().len() == 2).await;
    // The pod gets scheduled: it stops waiting and its node now holds 6 GPUs.
    server.add(gpu_pod("waiting-0", Some("h100-1"), 4));
    until(&mut state, &mut rx, "the pod scheduled", |s| {
        s.pending_gpu_pods().is_empty() && s.gpu_nodes().values().all(|n| n.allocated == 6)
    })
    .await;
    server.delete("v1", "Node", None, "h100-1");
    until(&mut state, &mut rx, "the node deleted", |s| s.gpu_nodes().is_empty()).await;
    server.add(gpu_node("h100-2"));
    until(&mut state, &mut rx, "a new node", |s| s.gpu_nodes().len() == 1).await;

    // 410 Gone: every watcher relists; records are replaced, never doubled. The relist shows
    // as syncing (compaction is routine), not as a stale cluster.
    server.expire_watches();
    until(&mut state, &mut rx, "the expiry seen", |s| {
        s.clusters()[&id("a")].health() == ClusterHealth::Syncing
    })
    .await;
    // Every watcher reports the expiry, backs off, relists and is live again.
    until(&mut state, &mut rx, "relists done", |s| s.clusters()[&id("a")].health() == ClusterHealth::Live)
        .await;
    assert_eq!(state.denials().len(), 2);
    assert_eq!(state.gpu_nodes().len(), 1);
    assert_eq!(
        state.gpu_nodes().values().next().map(|n| n.allocated),
        Some(0),
        "pods ran on the deleted node"
    );
    assert!(state.pending_gpu_pods().is_empty());
    let c = &state.clusters()[&id("a")];
    assert_eq!(c.health(), ClusterHealth::Live, "{:?}", c.sources);
}

#[tokio::test]
async fn forbidden_sources_and_dead_clusters_are_visible_and_keep_their_data() {
    let a = TestApiServer::start().await;
    let b = TestApiServer::start().await;
    seed(&a);
    seed(&b);
    a.forbid("events");
    let mut state = FleetState::default();
    let mut rx_a = watch(&a, "a", &mut state);
    until(&mut state, &mut rx_a, "a settles", |s| settled(s.clusters().get(&id("a")))).await;
    let sources = &state.clusters()[&id("a")].sources;
    assert!(
        matches!(&sources[&SourceKind::Events], SourceState::Forbidden { message } if message.contains("events is forbidden")),
        "{sources:?}"
    );
    assert_eq!(sources[&SourceKind::Nodes], SourceState::Live);
    assert_eq!(state.gpu_nodes().len(), 1, "the other sources still deliver");

    let mut rx_b = watch(&b, "b", &mut state);
    until(&mut state, &mut rx_b, "b settles", |s| settled(s.clusters().get(&id("b")))).await;
    let url = b.url();
    b.shutdown().await;
    until(&mut state, &mut rx_b, "b unreachable", |s| {
        matches!(s.clusters()[&id("b")].connection, ConnectionState::Unreachable { .. })
    })
    .await;
    let c = &state.clusters()[&id("b")];
    assert_eq!(c.health(), ClusterHealth::Unreachable);
    match &c.connection {
        ConnectionState::Unreachable { error, .. } => assert!(error.contains(&url), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(FleetState::in_cluster(state.denials(), &id("b")).count(), 1, "data from before stays");
}

#[tokio::test]
async fn a_slow_cluster_does_not_hold_up_a_fast_one() {
    let fast = TestApiServer::start().await;
    let slow = TestApiServer::start().await;
    seed(&fast);
    seed(&slow);
    slow.set_latency(Duration::from_secs(3));
    let mut state = FleetState::default();
    let (tx, mut rx) = channel(64);
    for (name, server) in [("fast", &fast), ("slow", &slow)] {
        state.add_cluster(id(name));
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&server.kubeconfig_yaml(name)).unwrap();
        tokio::spawn(run_cluster_with(kubeconfig, id(name), tx.clone(), fast_options()));
    }
    let started = std::time::Instant::now();
    until(&mut state, &mut rx, "the fast cluster settles", |s| settled(s.clusters().get(&id("fast")))).await;
    assert!(!settled(state.clusters().get(&id("slow"))), "the slow cluster is still syncing");
    assert!(started.elapsed() < Duration::from_secs(3), "fast took {:?}", started.elapsed());
    until(&mut state, &mut rx, "the slow cluster settles", |s| settled(s.clusters().get(&id("slow")))).await;
    assert!(state.clusters()[&id("slow")].latency_ms.unwrap_or(0) >= 3000);
}

/// The objects of a real fixture file (one or several YAML documents).
fn fixture(path: &str) -> Vec<serde_json::Value> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real").join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_saphyr::from_multiple::<serde_json::Value>(&text)
        .unwrap()
        .into_iter()
        .filter(|v| v.is_object())
        .collect()
}

/// Kueue, Kyverno, policy report and Gatekeeper objects from the real fixtures, plus a
/// Workload that waits for GPUs and a ClusterQueue too malformed to read.
fn seed_custom_resources(server: &TestApiServer) {
    for object in fixture("kueue/clusterqueue-multi-flavor-gpu-spec.yaml") {
        server.add(object);
    }
    for mut lq in fixture("kueue/localqueues.yaml") {
        lq["metadata"]["namespace"] = json!("ml");
        server.add(lq);
    }
    server.add(json!({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ClusterQueue",
        "metadata": {"name": "garbled"}, "spec": "not an object"}));
    server.add(json!({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "Workload",
        "metadata": {"name": "job-train-llm-5b7c1", "namespace": "ml", "creationTimestamp": "2026-11-27T13:50:00Z",
            "labels": {"team": "research"},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "train-llm", "uid": "u1"}]},
        "spec": {"queueName": "llm-model-queue", "priorityClassName": "sample-priority", "podSets": [{"name": "main", "count": 2,
            "template": {"spec": {"containers": [{"name": "t", "image": "trainer",
                "resources": {"requests": {"nvidia.com/gpu": "4", "cpu": "8"}}}]}}}]},
        "status": {"conditions": [{"type": "QuotaReserved", "status": "False", "reason": "Pending",
            "lastTransitionTime": "2026-11-27T13:50:01Z",
            "message": "couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu in flavor a100, request > maximum capacity (8 > 4)"}]}}));
    for object in fixture("kueue/workloadpriorityclass.yaml") {
        server.add(object);
    }
    server.add(json!({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ResourceFlavor",
        "metadata": {"name": "on-demand"}, "spec": {"nodeLabels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}}}));
    for object in fixture("kyverno/policyexception-v2-delta.yaml") {
        server.add(object);
    }
    for object in fixture("kyverno/policyreport-wgpolicy-v1alpha2-full.yaml") {
        server.add(object);
    }
    for object in fixture("gatekeeper/constraint-k8srequiredlabels-with-violations.yaml") {
        server.add(object);
    }
    for object in fixture("gatekeeper/config-match-excludednamespaces.yaml") {
        server.add(object);
    }
    server.add(json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "replica-limit.example.com", "generation": 3},
        "spec": {"validations": [{"expression": "object.spec.replicas <= 5"}]}}));
    server.add(
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "replica-limit-binding", "generation": 1},
        "spec": {"policyName": "replica-limit.example.com", "validationActions": ["Deny"]}}),
    );
}

#[tokio::test]
async fn custom_resources_are_discovered_watched_and_projected_with_reads_only() {
    let server = TestApiServer::start().await;
    seed(&server);
    seed_custom_resources(&server);
    server.add(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy",
        "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}));
    server.break_group("metrics.k8s.io");
    server.set_pending_workloads(
        "llm-cluster-queue",
        json!({"kind": "PendingWorkloadsSummary", "apiVersion": "visibility.kueue.x-k8s.io/v1beta2",
            "items": [{"metadata": {"name": "job-train-llm-5b7c1", "namespace": "ml"},
                "localQueueName": "llm-model-queue", "positionInClusterQueue": 2, "positionInLocalQueue": 0}]}),
    );
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    until(&mut state, &mut rx, "custom resources synced", |s| {
        settled(s.clusters().get(&id("a")))
            && s.exceptions().len() >= 2
            && s.gpu_workloads().values().next().is_some_and(|w| w.position.is_some())
    })
    .await;
    let sources = &state.clusters()[&id("a")].sources;
    for source in [
        SourceKind::Kueue,
        SourceKind::Kyverno,
        SourceKind::PolicyReports,
        SourceKind::Gatekeeper,
        SourceKind::AdmissionPolicies,
    ] {
        assert_eq!(sources[&source], SourceState::Live, "{source:?}: {sources:?}");
    }
    assert_eq!(
        state.clusters()[&id("a")].health(),
        ClusterHealth::Live,
        "a broken aggregated API breaks nothing"
    );

    let queues: Vec<&str> = state.gpu_queues().values().map(|q| q.name.as_str()).collect();
    assert_eq!(queues, ["cluster-queue"], "the malformed ClusterQueue is skipped, not fatal");
    let cq = state.gpu_queues().values().next().unwrap();
    assert_eq!(cq.api_version, "v1beta2", "v1beta2 is preferred when served");
    let workload = state.gpu_workloads().values().next().unwrap();
    assert_eq!((workload.gpus, workload.local_queue.as_str()), (8, "llm-model-queue"));
    assert_eq!(workload.state.label(), "pending");
    assert_eq!(workload.position, Some(2), "from Kueue's visibility API");
    assert_eq!(
        workload.priority, 10000,
        "the WorkloadPriorityClass's value, for a workload that names only the class"
    );
    let product =
        |flavor: &str| cq.quotas.iter().find(|q| q.flavor == flavor).and_then(|q| q.product.clone());
    assert_eq!(
        product("on-demand").as_deref(),
        Some("NVIDIA-H100-80GB-HBM3"),
        "from the ResourceFlavor's node labels"
    );
    assert_eq!(product("spot"), None, "no ResourceFlavor says what spot runs on");

    let exceptions: Vec<&str> = state.exceptions().values().map(|e| e.kind.as_str()).collect();
    assert!(exceptions.contains(&"PolicyException"), "{exceptions:?}");
    assert!(
        exceptions.contains(&"Namespace"),
        "the privileged namespace is a standing exception: {exceptions:?}"
    );
    let engines: Vec<Engine> = state.denials().values().map(|d| d.engine).collect();
    assert!(engines.contains(&Engine::Gatekeeper), "constraint violations are denials: {engines:?}");
    assert!(engines.contains(&Engine::Kyverno), "report failures are denials: {engines:?}");

    let policies: Vec<String> = state.policies().values().map(|p| p.key()).collect();
    assert_eq!(
        policies,
        [
            "K8sRequiredLabels/ns-must-have-gk",
            "ValidatingAdmissionPolicy/replica-limit.example.com",
            "ValidatingAdmissionPolicyBinding/replica-limit-binding"
        ]
    );
    let vap = state.policies().values().find(|p| p.name == "replica-limit.example.com").unwrap();
    assert_eq!(vap.generation, Some(3), "the policy's version, for the denial join");

    let requests = server.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "fleettop only reads: {requests:?}");
    assert!(
        requests.iter().all(|r| !r.path.contains("secrets") && !r.path.contains("configmaps")),
        "fleettop never reads secrets or configmaps"
    );
}

#[tokio::test]
async fn missing_refused_and_late_custom_resources_are_reported_per_source() {
    let server = TestApiServer::start().await;
    seed(&server);
    seed_custom_resources(&server);
    server.hide_group("kueue.x-k8s.io");
    server.forbid("policyexceptions");
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    until(&mut state, &mut rx, "settled without kueue", |s| settled(s.clusters().get(&id("a")))).await;
    let sources = state.clusters()[&id("a")].sources.clone();
    assert_eq!(sources[&SourceKind::Kueue], SourceState::NotInstalled);
    assert!(
        matches!(&sources[&SourceKind::Kyverno], SourceState::Forbidden { message } if message.contains("policyexceptions")),
        "{sources:?}"
    );
    assert_eq!(sources[&SourceKind::Gatekeeper], SourceState::Live);
    assert!(state.gpu_queues().is_empty());

    // Kueue gets installed while fleettop runs: the next discovery picks it up.
    server.show_group("kueue.x-k8s.io");
    until(&mut state, &mut rx, "kueue discovered later", |s| {
        s.clusters()[&id("a")].sources.get(&SourceKind::Kueue) == Some(&SourceState::Live)
            && s.gpu_queues().len() == 1
    })
    .await;
}

/// A kyverno.io/v2 PolicyException `ns/name` created at 14:30Z on 2026-11-27.
fn policy_exception(ns: &str, name: &str) -> serde_json::Value {
    json!({"apiVersion": "kyverno.io/v2", "kind": "PolicyException",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-11-27T14:30:00Z"},
        "spec": {"exceptions": [{"policyName": "require-labels"}],
            "match": {"any": [{"resources": {"kinds": ["Deployment"], "namespaces": [ns]}}]}}})
}

/// The ClusterCleanupPolicy the kyverno/policies sample `expiration-for-policyexceptions`
/// generates for exception `shop/<exception>` (a cron for one moment, the exception by name).
fn generated_cleanup_policy(name: &str, exception: &str, schedule: &str) -> serde_json::Value {
    json!({"apiVersion": "kyverno.io/v2", "kind": "ClusterCleanupPolicy",
        "metadata": {"name": name, "labels": {"kyverno.io/automated": "true"}, "creationTimestamp": "2026-11-27T14:30:01Z"},
        "spec": {"schedule": schedule,
            "match": {"any": [{"resources": {"kinds": ["PolicyException"], "namespaces": ["shop"], "names": [exception]}}]}}})
}

/// `(expires_at, expiry source)` of the exception named `name`, when it is known.
fn expiry_of(s: &FleetState, name: &str) -> Option<(Option<String>, ExpirySource)> {
    let e = s.exceptions().values().find(|e| e.name == name)?;
    Some((e.expires_at.map(|t| t.to_string()), e.expiry_source.clone()))
}

#[tokio::test]
async fn cleanup_policies_give_exceptions_their_expiry_whichever_arrives_first() {
    let server = TestApiServer::start().await;
    // One policy before its exception; a namespaced CleanupPolicy that covers its own
    // namespace only; an exception whose policy comes later.
    server.add(generated_cleanup_policy("polex-shop-early", "early", "0 20 27 11 *"));
    server.add(policy_exception("shop", "early"));
    server.add(policy_exception("shop", "late"));
    server.add(policy_exception("web", "elsewhere"));
    server.add(json!({"apiVersion": "kyverno.io/v2", "kind": "CleanupPolicy",
        "metadata": {"name": "tidy", "namespace": "ops", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"schedule": "@daily", "match": {"any": [{"resources": {"kinds": ["PolicyException"]}}]}}}));
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    let by = |name: &str| ExpirySource::CleanupPolicy { name: name.into() };
    until(&mut state, &mut rx, "exceptions joined to the policy listed first", |s| {
        settled(s.clusters().get(&id("a")))
            && expiry_of(s, "early") == Some((Some("2026-11-27T20:00:00Z".into()), by("polex-shop-early")))
            && expiry_of(s, "late").is_some()
            && expiry_of(s, "elsewhere").is_some()
    })
    .await;
    assert_eq!(state.clusters()[&id("a")].sources[&SourceKind::Kyverno], SourceState::Live);
    assert_eq!(expiry_of(&state, "late"), Some((None, ExpirySource::None)));
    assert_eq!(
        expiry_of(&state, "elsewhere"),
        Some((None, ExpirySource::None)),
        "a CleanupPolicy in ops deletes nothing in web"
    );
    let early = state.exceptions().values().find(|e| e.name == "early").unwrap();
    let evidence: Vec<&str> = early.evidence.iter().map(|e| e.excerpt.as_str()).collect();
    assert_eq!(
        evidence[1],
        r#"ClusterCleanupPolicy polex-shop-early (schedule "0 20 27 11 *"): its run at 2026-11-27T20:00:00Z (UTC) deletes it"#,
        "{evidence:?}"
    );

    // The policy generated for `late` arrives after it, then its schedule changes.
    server.add(generated_cleanup_policy("polex-shop-late", "late", "30 18 27 11 *"));
    until(&mut state, &mut rx, "the later policy re-sends its exception", |s| {
        expiry_of(s, "late") == Some((Some("2026-11-27T18:30:00Z".into()), by("polex-shop-late")))
    })
    .await;
    server.add(generated_cleanup_policy("polex-shop-late", "late", "45 18 27 11 *"));
    until(&mut state, &mut rx, "a changed schedule moves the expiry", |s| {
        expiry_of(s, "late") == Some((Some("2026-11-27T18:45:00Z".into()), by("polex-shop-late")))
    })
    .await;

    // The policy goes: the expiry falls back to none; the other exception keeps its own.
    assert!(server.delete("kyverno.io/v2", "ClusterCleanupPolicy", None, "polex-shop-late"));
    until(&mut state, &mut rx, "a deleted policy no longer gives an expiry", |s| {
        expiry_of(s, "late") == Some((None, ExpirySource::None))
    })
    .await;
    assert_eq!(
        expiry_of(&state, "early"),
        Some((Some("2026-11-27T20:00:00Z".into()), by("polex-shop-early")))
    );

    // After a 410 relist nothing doubles and the join still holds.
    server.expire_watches();
    server.add(generated_cleanup_policy("polex-shop-late-2", "late", "0 19 27 11 *"));
    until(&mut state, &mut rx, "joined again after the relist", |s| {
        expiry_of(s, "late") == Some((Some("2026-11-27T19:00:00Z".into()), by("polex-shop-late-2")))
    })
    .await;
    assert_eq!(state.exceptions().len(), 3, "nothing doubled");

    let requests = server.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "fleettop only reads: {requests:?}");
    for plural in ["clustercleanuppolicies", "cleanuppolicies", "policyexceptions"] {
        assert!(
            requests.iter().any(|r| r.path.starts_with("/apis/kyverno.io/v2/") && r.path.contains(plural)),
            "{plural} is listed and watched at kyverno.io/v2"
        );
    }
}

#[tokio::test]
async fn pods_and_workloads_without_a_team_label_take_their_namespaces_team() {
    let server = TestApiServer::start().await;
    server.add(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "vision", "labels": {"team": "cv"}}}));
    let mut pod = gpu_pod("unlabelled-0", None, 1);
    pod["metadata"] = json!({"name": "unlabelled-0", "namespace": "vision"});
    server.add(pod);
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    until(&mut state, &mut rx, "the pending pod", |s| {
        settled(s.clusters().get(&id("a"))) && s.pending_gpu_pods().len() == 1
    })
    .await;
    let pending = state.pending_gpu_pods().values().next().unwrap();
    assert_eq!((pending.namespace.as_str(), pending.team.as_deref()), ("vision", Some("cv")));
}

/// A Running OpenTelemetry Collector pod as the collector Helm chart labels it, with its
/// self-metrics on a container port named `metrics`.
fn collector_pod(namespace: &str, name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": "gw"}},
        "spec": {"containers": [{"name": "opentelemetry-collector", "image": "otel/opentelemetry-collector-contrib",
            "ports": [{"name": "otlp", "containerPort": 4317}, {"name": "metrics", "containerPort": 8888}]}]},
        "status": {"phase": "Running"}})
}

/// A real collector dump (v0.93 contrib, a `file` log exporter; tests/fixtures/real/otel).
fn otel_dump() -> String {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real/otel/otelcol-contrib-v0.93-dev-filelog-issue31074-excerpt.prom");
    std::fs::read_to_string(file).unwrap()
}

/// The same collector a little later: 6,000 more records sent, 300 that failed to send, 60
/// that could not be queued (the first enqueue failures: a series that appears) and a queue at
/// 950 of 1,000.
fn otel_dump_later(dump: &str) -> String {
    const LABELS: &str = r#"exporter="file",service_instance_id="65955ec7-dd74-40c5-885b-6c84a39d9602",service_name="otelcontribcol",service_version="0.93.0-dev""#;
    let sent = format!("otelcol_exporter_sent_log_records{{{LABELS}}} ");
    let failed = format!("otelcol_exporter_send_failed_log_records{{{LABELS}}} ");
    assert!(
        dump.contains(&format!("{sent}599838")) && dump.contains(&format!("{failed}0")),
        "the fixture changed"
    );
    let mut later = dump
        .replace(&format!("{sent}599838"), &format!("{sent}605838"))
        .replace(&format!("{failed}0"), &format!("{failed}300"));
    if !later.ends_with('\n') {
        later.push('\n');
    }
    later.push_str(&format!("otelcol_exporter_enqueue_failed_log_records{{{LABELS}}} 60\n"));
    later.push_str(&format!("otelcol_exporter_queue_size{{{LABELS}}} 950\n"));
    later.push_str(&format!("otelcol_exporter_queue_capacity{{{LABELS}}} 1000\n"));
    later
}

/// Waits until cluster `a` settles with `pods/proxy` refused, and checks that `source` (and
/// only it among the watches) says so; returns the cluster's source states.
async fn settled_with_proxy_refused(
    state: &mut FleetState,
    rx: &mut ObservationReceiver,
    source: SourceKind,
) -> std::collections::BTreeMap<SourceKind, SourceState> {
    until(state, rx, "settled with the proxy refused", |s| settled(s.clusters().get(&id("a")))).await;
    let sources = state.clusters()[&id("a")].sources.clone();
    assert!(
        matches!(&sources[&source], SourceState::Forbidden { message }
            if message.contains("cannot get resource \"pods/proxy\"")),
        "{sources:?}"
    );
    for other in [SourceKind::Events, SourceKind::Nodes, SourceKind::Pods, SourceKind::Namespaces] {
        assert_eq!(sources[&other], SourceState::Live, "{other:?} is unaffected: {sources:?}");
    }
    sources
}

fn pipelines_state(s: &FleetState, cluster: &str) -> Option<SourceState> {
    s.clusters().get(&id(cluster)).and_then(|c| c.sources.get(&SourceKind::Pipelines)).cloned()
}

fn components(s: &FleetState) -> Vec<PipelineComponent> {
    s.pipelines().values().cloned().collect()
}

#[tokio::test]
async fn collector_self_metrics_are_scraped_through_the_pod_proxy_into_rates_and_verdicts() {
    let server = TestApiServer::start().await;
    seed(&server);
    server.add(collector_pod("otel", "gw-0"));
    let dump = otel_dump();
    server.set_metrics("otel", "gw-0", &dump);
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    until(&mut state, &mut rx, "settled with the collector scraped", |s| {
        settled(s.clusters().get(&id("a"))) && pipelines_state(s, "a") == Some(SourceState::Live)
    })
    .await;

    server.set_metrics("otel", "gw-0", &otel_dump_later(&dump));
    until(&mut state, &mut rx, "the exporter's rates", |s| {
        components(s).iter().any(|p| p.kind == ComponentKind::Exporter && p.sent_per_s > 0.0)
    })
    .await;
    let all = components(&state);
    assert_eq!(all.len(), 1, "one exporter, one signal, in this excerpt: {all:?}");
    let file = &all[0];
    assert_eq!(
        (file.workload.as_str(), file.name.as_str(), file.signal.label()),
        ("otel/gw-0", "file", "logs")
    );
    // The interval is the real time between two scrapes (~0.5 s): the ratios are exact, the
    // rates bounded.
    assert!(file.sent_per_s > 6000.0 / 10.0 && file.sent_per_s < 6000.0 / 0.1, "{file:?}");
    assert!((file.sent_per_s / file.send_failed_per_s - 20.0).abs() < 1e-9, "{file:?}");
    assert!((file.sent_per_s / file.enqueue_failed_per_s - 100.0).abs() < 1e-9, "{file:?}");
    assert_eq!((file.queue_size, file.queue_capacity), (Some(950), Some(1000)));
    assert_eq!(file.scrape_error, None);
    assert_eq!(file.health(&Default::default()), PipelineHealth::Losing, "enqueue failures are data loss");

    // The collector goes away: its records go with it, and nothing is left to scrape.
    server.delete("v1", "Pod", Some("otel"), "gw-0");
    until(&mut state, &mut rx, "the collector's records deleted", |s| {
        s.pipelines().is_empty() && pipelines_state(s, "a") == Some(SourceState::NotInstalled)
    })
    .await;
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.path == "/api/v1/namespaces/otel/pods/gw-0:8888/proxy/metrics"),
        "scraped through the pod proxy on the port named metrics"
    );
    assert!(requests.iter().all(|r| r.method == "GET"), "fleettop only reads: {requests:?}");
    // The scrapers' label-selected pod lists come from the API server's watch cache
    // (`resourceVersion=0`), not a quorum read of every pod from etcd each round.
    let lists: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/api/v1/pods" && !r.watch && r.query.contains("labelSelector"))
        .collect();
    assert!(!lists.is_empty(), "the scraper listed pods by label");
    assert!(lists.iter().all(|r| r.query.contains("resourceVersion=0")), "{lists:?}");
}

#[tokio::test]
async fn a_refused_proxy_and_garbage_metrics_are_findings_not_failures() {
    let server = TestApiServer::start().await;
    seed(&server);
    server.add(collector_pod("otel", "gw-0"));
    server.set_metrics("otel", "gw-0", &otel_dump());
    server.forbid("pods/proxy");
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    settled_with_proxy_refused(&mut state, &mut rx, SourceKind::Pipelines).await;
    assert_eq!(state.gpu_nodes().len(), 1, "the other sources still deliver");
    let refused = components(&state);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(
        (refused[0].kind, refused[0].health(&Default::default())),
        (ComponentKind::Endpoint, PipelineHealth::ScrapeFailed)
    );
    assert!(refused[0].scrape_error.as_deref().unwrap().contains("403"), "{refused:?}");

    // The permission is granted, but the endpoint serves garbage: the source is live, and the
    // bad target is a record of its own.
    server.set_metrics("otel", "gw-0", "<html>502 Bad Gateway</html>\n");
    server.allow("pods/proxy");
    until(&mut state, &mut rx, "the proxy allowed", |s| pipelines_state(s, "a") == Some(SourceState::Live))
        .await;
    until(&mut state, &mut rx, "the parse error recorded", |s| {
        components(s).iter().any(|p| p.scrape_error.as_deref().is_some_and(|e| e.contains("do not parse")))
    })
    .await;
    let garbage = components(&state);
    assert_eq!(garbage.len(), 1, "the refusal's record is replaced, not doubled: {garbage:?}");
    assert_eq!(garbage[0].health(&Default::default()), PipelineHealth::ScrapeFailed);
    assert!(
        garbage[0]
            .scrape_error
            .as_deref()
            .unwrap()
            .contains("/api/v1/namespaces/otel/pods/gw-0:8888/proxy/metrics"),
        "the error names what was scraped: {garbage:?}"
    );
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "fleettop only reads: {requests:?}");
}

#[tokio::test]
async fn a_prometheus_server_is_found_on_its_web_port_and_its_remote_write_queue_rated() {
    let server = TestApiServer::start().await;
    server.add(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "prometheus-k8s-0", "namespace": "monitoring",
            "labels": {"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/managed-by": "prometheus-operator"}},
        "spec": {"containers": [
            {"name": "prometheus", "ports": [{"name": "web", "containerPort": 9090}]},
            {"name": "config-reloader", "ports": [{"name": "reloader-web", "containerPort": 8080}]}]},
        "status": {"phase": "Running"}}));
    // A real remote-storage dump (tests/fixtures/real/prometheus), then 500 more histograms sent.
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real/prometheus/grafana-agent-remote-storage-issue3885-excerpt.prom");
    let dump = std::fs::read_to_string(file).unwrap();
    let sent = "prometheus_remote_storage_histograms_total{instance_group_name=\"0928abe60ab577f09352172478cfb1eb\",remote_name=\"0928ab-4a5a87\",url=\"http://monitoring_prometheus:9090/api/v1/write\"} ";
    assert!(dump.contains(&format!("{sent}0\n")), "the fixture changed");
    server.set_metrics("monitoring", "prometheus-k8s-0", &dump);
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    until(&mut state, &mut rx, "the first scrape", |s| {
        settled(s.clusters().get(&id("a"))) && pipelines_state(s, "a") == Some(SourceState::Live)
    })
    .await;
    server.set_metrics(
        "monitoring",
        "prometheus-k8s-0",
        &dump.replace(&format!("{sent}0\n"), &format!("{sent}500\n")),
    );
    until(&mut state, &mut rx, "the remote-write rate", |s| components(s).iter().any(|p| p.sent_per_s > 0.0))
        .await;
    let all = components(&state);
    assert_eq!(all.len(), 1, "{all:?}");
    let queue = &all[0];
    assert_eq!(
        (queue.workload.as_str(), queue.kind, queue.name.as_str()),
        ("monitoring/prometheus-k8s-0", ComponentKind::RemoteWrite, "0928ab-4a5a87")
    );
    assert_eq!(queue.health(&Default::default()), PipelineHealth::Healthy);
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/api/v1/namespaces/monitoring/pods/prometheus-k8s-0:9090/proxy/metrics"),
        "scraped on the port named web, not the reloader's"
    );
    assert!(requests.iter().all(|r| r.method == "GET"), "fleettop only reads: {requests:?}");
}

/// A Running dcgm-exporter pod on `node`, labelled as the GPU Operator (`app`) or the
/// dcgm-exporter Helm chart (`app.kubernetes.io/name`) labels it, port named `port_name`.
fn dcgm_exporter_pod(name: &str, node: &str, label: (&str, &str), port_name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "gpu-operator", "labels": {label.0: label.1}},
        "spec": {"nodeName": node, "containers": [{"name": "nvidia-dcgm-exporter", "image": "nvcr.io/nvidia/k8s/dcgm-exporter",
            "ports": [{"name": port_name, "containerPort": 9400}]}]},
        "status": {"phase": "Running"}})
}

const OPERATOR: (&str, &str) = ("app", "nvidia-dcgm-exporter");
const HELM_CHART: (&str, &str) = ("app.kubernetes.io/name", "dcgm-exporter");

/// The real scrape's first T4 (tests/fixtures/real/gpu, DataDog's fixture) as the exporter on
/// `node` with the pod mapping on would serve it: `Hostname` names the node (the GPU Operator
/// sets `NODE_NAME`) and every series carries the pod labels, in the shape of the fixture's
/// A10G line. Its utilisation is 0 %: idle.
fn dcgm_scrape(node: &str, pod: &str) -> String {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real/gpu/dcgm-exporter-scrape-datadog-fixture.txt");
    let fixture = std::fs::read_to_string(file).unwrap();
    let host = r#"Hostname="424773df46e0""#;
    assert!(fixture.contains(&format!("{host},DCGM_FI_DRIVER_VERSION")), "the fixture changed");
    fixture
        .lines()
        .filter(|l| l.starts_with('#') || l.contains(host))
        .map(|l| {
            let l = l.replace(host, &format!(r#"Hostname="{node}""#));
            let l = l.replacen("\"}", &format!(r#"",container="main",namespace="ml",pod="{pod}"}}"#), 1);
            format!("{l}\n")
        })
        .collect()
}

fn dcgm_state(s: &FleetState, cluster: &str) -> Option<SourceState> {
    s.clusters().get(&id(cluster)).and_then(|c| c.sources.get(&SourceKind::Dcgm)).cloned()
}

fn devices(s: &FleetState) -> Vec<GpuDevice> {
    s.gpu_nodes().values().flat_map(|n| n.devices.clone()).collect()
}

#[tokio::test]
async fn dcgm_exporter_utilisation_and_pods_land_in_the_gpu_node_records() {
    let server = TestApiServer::start().await;
    seed(&server);
    server.add(dcgm_exporter_pod("nvidia-dcgm-exporter-7x2kq", "h100-1", OPERATOR, "metrics"));
    server.set_metrics("gpu-operator", "nvidia-dcgm-exporter-7x2kq", &dcgm_scrape("h100-1", "running-0"));
    // An exporter on a node the nodes watch does not know: its GPUs make no record.
    server.add(dcgm_exporter_pod("nvidia-dcgm-exporter-ghost", "ghost-9", OPERATOR, "metrics"));
    server.set_metrics("gpu-operator", "nvidia-dcgm-exporter-ghost", &dcgm_scrape("ghost-9", "other-0"));
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    until(&mut state, &mut rx, "settled with the GPU's telemetry", |s| {
        settled(s.clusters().get(&id("a")))
            && dcgm_state(s, "a") == Some(SourceState::Live)
            && !devices(s).is_empty()
    })
    .await;
    assert_eq!(state.gpu_nodes().len(), 1, "no record for ghost-9: {:?}", state.gpu_nodes());
    let node = state.gpu_nodes().values().next().unwrap();
    assert_eq!((node.name.as_str(), node.capacity, node.allocated), ("h100-1", 8, 2), "merged, not replaced");
    assert_eq!(node.devices.len(), 1, "{node:?}");
    let d = &node.devices[0];
    assert_eq!((d.index, d.uuid.as_str()), (0, "GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e"));
    assert_eq!((d.product.as_deref(), d.pod.as_deref()), (Some("Tesla T4"), Some("ml/running-0")));
    assert_eq!((d.utilization_pct, d.memory_used_mib, d.memory_total_mib), (Some(0.0), Some(0), Some(15109)));
    assert_eq!(d.temperature_c, Some(25.0));
    assert!(
        d.under_idle_line() && d.idle_since.is_some(),
        "idle under its pod since the first scrape: {d:?}"
    );
    assert!(!d.idle_but_allocated(state.now()), "not flagged before IDLE_FLAG_AFTER");
    let since = d.idle_since.unwrap();
    assert!(d.idle_but_allocated(since + IDLE_FLAG_AFTER));

    // The pod gets busy: the next record says so, and the idle stretch ends.
    let busy: String = dcgm_scrape("h100-1", "running-0")
        .lines()
        .map(
            |l| if l.starts_with("DCGM_FI_DEV_GPU_UTIL{") { l.replace("} 0", "} 93") } else { l.to_string() },
        )
        .map(|l| l + "\n")
        .collect();
    server.set_metrics("gpu-operator", "nvidia-dcgm-exporter-7x2kq", &busy);
    until(&mut state, &mut rx, "the busy sample", |s| {
        devices(s).iter().any(|d| d.utilization_pct == Some(93.0))
    })
    .await;
    let d = &devices(&state)[0];
    assert_eq!((d.idle_since, d.pod.as_deref()), (None, Some("ml/running-0")));
    // Idle again: a new stretch, from a later scrape.
    server.set_metrics("gpu-operator", "nvidia-dcgm-exporter-7x2kq", &dcgm_scrape("h100-1", "running-0"));
    until(&mut state, &mut rx, "idle again", |s| devices(s).iter().any(|d| d.utilization_pct == Some(0.0)))
        .await;
    assert!(devices(&state)[0].idle_since.is_some_and(|t| t > since), "{:?}", devices(&state));
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.path
            == "/api/v1/namespaces/gpu-operator/pods/nvidia-dcgm-exporter-7x2kq:9400/proxy/metrics"),
        "scraped through the pod proxy on the port named metrics"
    );
    assert!(requests.iter().all(|r| r.method == "GET"), "fleettop only reads: {requests:?}");
}

/// Issue 13, item 14: on a 10,000-pod cluster with a busy API server the scrapers'
/// label-selected pod lists took over 10 s, timed out, and the whole cluster turned "stale"
/// although every watch was live. Now the lists get the time they need, the scraped sources say
/// they are slow, and the cluster stays live.
#[tokio::test]
async fn a_slow_pod_list_makes_the_scrapers_slow_not_the_cluster_stale() {
    let server = TestApiServer::start().await;
    seed(&server);
    server.add(dcgm_exporter_pod("nvidia-dcgm-exporter-7x2kq", "h100-1", OPERATOR, "metrics"));
    server.set_metrics("gpu-operator", "nvidia-dcgm-exporter-7x2kq", &dcgm_scrape("h100-1", "running-0"));
    // 13 s: past the old 10 s timeout and the 10 s after which a list is reported slow.
    server.set_selected_list_latency(Duration::from_secs(13));
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    let slow = |s: &SourceState| matches!(s, SourceState::Slow { .. });
    until(&mut state, &mut rx, "both scrapers slow", |s| {
        dcgm_state(s, "a").as_ref().is_some_and(slow) && pipelines_state(s, "a").as_ref().is_some_and(slow)
    })
    .await;
    until(&mut state, &mut rx, "the watches live", |s| settled(s.clusters().get(&id("a")))).await;
    let cluster = &state.clusters()[&id("a")];
    assert_eq!(
        cluster.health(),
        ClusterHealth::Live,
        "slow scrapers do not demote the cluster: {cluster:#?}"
    );
    let Some(SourceState::Slow { message }) = dcgm_state(&state, "a") else { unreachable!() };
    assert!(message.contains("pod list has taken over 10 s"), "{message}");
    until(&mut state, &mut rx, "the slow list answered and the GPU scraped", |s| {
        dcgm_state(s, "a") == Some(SourceState::Live) && !devices(s).is_empty()
    })
    .await;
    assert_eq!(state.clusters()[&id("a")].health(), ClusterHealth::Live);
}

#[tokio::test]
async fn a_refused_proxy_makes_dcgm_forbidden_and_leaves_the_other_sources_alone() {
    let server = TestApiServer::start().await;
    seed(&server);
    server.add(dcgm_exporter_pod("dcgm-exporter-abcde", "h100-1", HELM_CHART, "gpu-metrics"));
    server.set_metrics("gpu-operator", "dcgm-exporter-abcde", &dcgm_scrape("h100-1", "running-0"));
    server.forbid("pods/proxy");
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    let sources = settled_with_proxy_refused(&mut state, &mut rx, SourceKind::Dcgm).await;
    assert_eq!(sources[&SourceKind::Pipelines], SourceState::NotInstalled, "no collector: {sources:?}");
    let node = state.gpu_nodes().values().next().unwrap();
    assert_eq!((node.allocated, node.devices.len()), (2, 0), "the node is there, without telemetry");

    server.allow("pods/proxy");
    until(&mut state, &mut rx, "the proxy allowed", |s| {
        dcgm_state(s, "a") == Some(SourceState::Live) && !devices(s).is_empty()
    })
    .await;
    assert_eq!(devices(&state)[0].pod.as_deref(), Some("ml/running-0"));
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/api/v1/namespaces/gpu-operator/pods/dcgm-exporter-abcde:9400/proxy/metrics"),
        "the Helm chart's exporter, on its port named gpu-metrics"
    );
    assert!(requests.iter().all(|r| r.method == "GET"), "fleettop only reads: {requests:?}");
}

#[tokio::test]
async fn a_failing_exporter_among_several_is_named_while_the_others_keep_delivering() {
    let server = TestApiServer::start().await;
    seed(&server);
    server.add(dcgm_exporter_pod("dcgm-good", "h100-1", OPERATOR, "metrics"));
    server.set_metrics("gpu-operator", "dcgm-good", &dcgm_scrape("h100-1", "running-0"));
    // One serves garbage, one has nothing behind the proxy (404), one hangs past the timeout.
    server.add(gpu_node("h100-2"));
    server.add(dcgm_exporter_pod("dcgm-garbage", "h100-2", OPERATOR, "metrics"));
    server.set_metrics("gpu-operator", "dcgm-garbage", "<html>502 Bad Gateway</html>\n");
    server.add(dcgm_exporter_pod("dcgm-gone", "h100-3", OPERATOR, "metrics"));
    server.add(dcgm_exporter_pod("dcgm-hung", "h100-4", OPERATOR, "metrics"));
    server.stall_pod("gpu-operator", "dcgm-hung");
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    until(&mut state, &mut rx, "the good exporter's GPU with the others named", |s| {
        settled(s.clusters().get(&id("a")))
            && !devices(s).is_empty()
            && matches!(dcgm_state(s, "a"), Some(SourceState::Degraded { .. }))
    })
    .await;
    let Some(SourceState::Degraded { message }) = dcgm_state(&state, "a") else { unreachable!() };
    assert!(message.starts_with("3 of 4 dcgm-exporters failing: "), "{message}");
    assert!(message.contains("gpu-operator/dcgm-garbage on node h100-2: metrics do not parse"), "{message}");
    assert!(message.contains("gpu-operator/dcgm-gone on node h100-3: 404"), "{message}");
    assert!(message.contains("gpu-operator/dcgm-hung on node h100-4: no answer within"), "{message}");
    assert_eq!(state.clusters()[&id("a")].health(), ClusterHealth::Live, "the rest still delivers");
    assert_eq!(devices(&state)[0].pod.as_deref(), Some("ml/running-0"));
    // The node fleettop knows says why it has no telemetry.
    let node = |s: &FleetState, name: &str| s.gpu_nodes().values().find(|n| n.name == name).cloned().unwrap();
    until(&mut state, &mut rx, "h100-2's failure on its record", |s| {
        node(s, "h100-2").telemetry_error.is_some()
    })
    .await;
    let why = node(&state, "h100-2").telemetry_error.unwrap();
    assert!(why.starts_with("dcgm-exporter gpu-operator/dcgm-garbage: metrics do not parse"), "{why}");
    assert_eq!(node(&state, "h100-1").telemetry_error, None);

    // The garbage is fixed: only the other two are named.
    server.set_metrics("gpu-operator", "dcgm-garbage", &dcgm_scrape("h100-2", "other-0"));
    until(&mut state, &mut rx, "two failing", |s| {
        matches!(dcgm_state(s, "a"), Some(SourceState::Degraded { message }) if message.starts_with("2 of 4"))
    })
    .await;
    let Some(SourceState::Degraded { message }) = dcgm_state(&state, "a") else { unreachable!() };
    assert!(!message.contains("dcgm-garbage"), "{message}");
    until(&mut state, &mut rx, "h100-2's GPU", |s| {
        let n = node(s, "h100-2");
        n.telemetry_error.is_none() && !n.devices.is_empty()
    })
    .await;
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "fleettop only reads: {requests:?}");
}

fn nvml_state(s: &FleetState, cluster: &str) -> Option<SourceState> {
    s.clusters().get(&id(cluster)).and_then(|c| c.sources.get(&SourceKind::Nvml)).cloned()
}

/// Two clusters watched with this host's GPUs as node `h100-1`: only `a` has that node.
async fn two_clusters_with_local_gpus(
    local: &LocalGpus,
) -> (TestApiServer, TestApiServer, FleetState, ObservationReceiver) {
    let (a, b) = (TestApiServer::start().await, TestApiServer::start().await);
    seed(&a);
    let mut pod = gpu_pod("trainer-0", Some("h100-1"), 1);
    pod["metadata"]["uid"] = json!("8d1a7e2c-3b4f-4c6d-9e8f-0a1b2c3d4e5f");
    a.add(pod);
    b.add(gpu_node("other-gpu-node"));
    let (tx, rx) = channel(64);
    let mut state = FleetState::default();
    for (server, name) in [(&a, "a"), (&b, "b")] {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&server.kubeconfig_yaml(name)).unwrap();
        state.add_cluster(ClusterId::new(name));
        let options = Options { local_gpus: Some(local.clone()), ..fast_options() };
        tokio::spawn(run_cluster_with(kubeconfig, ClusterId::new(name), tx.clone(), options));
    }
    (a, b, state, rx)
}

#[tokio::test]
async fn without_nvml_the_cluster_that_has_this_host_says_so_and_stays_live() {
    let local = LocalGpus::new("h100-1");
    // The real loader, asked for a library that is not there (this machine has no GPU either).
    let setup = nvml::Setup { library: "/nonexistent/libnvidia-ml.so.1".into(), proc_root: "/proc".into() };
    tokio::spawn(nvml::run_with(setup, local.clone(), Duration::from_millis(100)));
    let (_a, _b, mut state, mut rx) = two_clusters_with_local_gpus(&local).await;
    until(&mut state, &mut rx, "the NVML state on a", |s| {
        settled(s.clusters().get(&id("a")))
            && settled(s.clusters().get(&id("b")))
            && nvml_state(s, "a").is_some()
    })
    .await;
    let Some(SourceState::Unavailable { message }) = nvml_state(&state, "a") else {
        panic!("{:?}", nvml_state(&state, "a"))
    };
    assert!(message.starts_with("NVML not available: /nonexistent/libnvidia-ml.so.1 not found"), "{message}");
    assert_eq!(state.clusters()[&id("a")].health(), ClusterHealth::Live, "not an error");
    assert_eq!(nvml_state(&state, "b"), None, "b has no node of this host's name");
    let node = state.gpu_nodes().values().find(|n| n.name == "h100-1").unwrap();
    assert!(node.devices.is_empty(), "no telemetry, the node is still there: {node:?}");
}

#[tokio::test]
async fn this_host_s_nvml_sample_joins_its_node_with_pods_named_and_beats_dcgm() {
    let local = LocalGpus::new("h100-1");
    let (a, _b, mut state, mut rx) = two_clusters_with_local_gpus(&local).await;
    // DCGM reports GPU 0 of h100-1 (0 %, pod running-0).
    a.add(dcgm_exporter_pod("dcgm-a", "h100-1", OPERATOR, "metrics"));
    a.set_metrics("gpu-operator", "dcgm-a", &dcgm_scrape("h100-1", "running-0"));
    until(&mut state, &mut rx, "DCGM's GPU", |s| {
        settled(s.clusters().get(&id("a"))) && settled(s.clusters().get(&id("b"))) && !devices(s).is_empty()
    })
    .await;
    let dcgm = devices(&state)[0].clone();
    assert_eq!((dcgm.utilization_pct, dcgm.pod.as_deref()), (Some(0.0), Some("ml/running-0")));
    // What the sampler publishes for a sample (NVML itself needs a GPU host): the same GPU at
    // 91 % with trainer-0's process (its pod UID from /proc/<pid>/cgroup).
    let sampled = GpuDevice {
        utilization_pct: Some(91.0),
        pod: None,
        idle_since: None,
        processes: vec![GpuProcess {
            pid: 4242,
            used_memory_mib: Some(1024),
            pod_uid: Some("8d1a7e2c-3b4f-4c6d-9e8f-0a1b2c3d4e5f".into()),
            container_id: None,
            pod: None,
        }],
        ..dcgm.clone()
    };
    local.publish(SourceState::Live, Some(vec![sampled]));
    until(&mut state, &mut rx, "NVML's reading", |s| {
        devices(s).iter().any(|d| d.utilization_pct == Some(91.0))
            && nvml_state(s, "a") == Some(SourceState::Live)
    })
    .await;
    let node = state.gpu_nodes().values().find(|n| n.name == "h100-1").unwrap();
    assert_eq!(node.devices.len(), 1, "one GPU, not one per source: {node:?}");
    let d = &node.devices[0];
    assert_eq!(d.pod.as_deref(), Some("ml/trainer-0"), "named from the pods on h100-1");
    assert_eq!(d.processes[0].pod.as_deref(), Some("ml/trainer-0"));
    assert_eq!((node.allocated, node.capacity), (3, 8), "Kubernetes' counts stay");
    assert_eq!(nvml_state(&state, "b"), None);
    assert!(
        state
            .gpu_nodes()
            .iter()
            .filter(|(id, _)| id.cluster == ClusterId::new("b"))
            .all(|(_, n)| n.devices.is_empty())
    );
}

/// A Kyverno-blocked pod as the cluster reports it twice: the ReplicaSet's FailedCreate and
/// Kyverno's policy-centric PolicyViolation; the policy itself (generation 2); a background
/// scan's report failure for another pod; and an exception that covers the blocked pods.
fn seed_blocked_pod(server: &TestApiServer) {
    let blocked =
        "validation error: label team is required. rule check-team failed at path /metadata/labels/team/";
    server.add(json!({"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "FailedCreate", "count": 6,
        "metadata": {"name": "shop-web-5f6d7.1", "namespace": "delta"},
        "involvedObject": {"kind": "ReplicaSet", "namespace": "delta", "name": "shop-web-5f6d7"},
        "source": {"component": "replicaset-controller"},
        "firstTimestamp": "2026-11-27T14:00:00Z", "lastTimestamp": "2026-11-27T14:05:00Z",
        "message": format!("Error creating: admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource Pod/delta/shop-web-5f6d7-x2k4q was blocked due to the following policies \n\nrequire-team-label:\n  check-team: '{blocked}'\n")}));
    server.add(json!({"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "PolicyViolation", "count": 6,
        "metadata": {"name": "require-team-label.2", "namespace": "default"},
        "involvedObject": {"kind": "ClusterPolicy", "name": "require-team-label", "apiVersion": "kyverno.io/v1"},
        "source": {"component": "kyverno-admission"},
        "firstTimestamp": "2026-11-27T14:00:01Z", "lastTimestamp": "2026-11-27T14:05:01Z",
        "message": format!("Pod delta/shop-web-5f6d7-b5nfm: [check-team] fail (blocked); {blocked}")}));
    server.add(json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
        "metadata": {"name": "require-team-label", "generation": 2, "resourceVersion": "4711",
            "annotations": {"policies.kyverno.io/severity": "high"}},
        "spec": {"validationFailureAction": "Enforce", "rules": [{"name": "check-team"}]}}));
    server.add(json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
        "metadata": {"name": "pod-legacy-cron", "namespace": "delta"},
        "scope": {"apiVersion": "v1", "kind": "Pod", "name": "legacy-cron", "namespace": "delta"},
        "results": [{"policy": "require-team-label", "rule": "check-team", "result": "fail", "source": "kyverno",
            "message": blocked, "timestamp": {"seconds": 1_795_788_000, "nanos": 0},
            "properties": {"process": "background scan"}}]}));
    server.add(json!({"apiVersion": "kyverno.io/v2", "kind": "PolicyException",
        "metadata": {"name": "shop-web-team-label", "namespace": "delta", "creationTimestamp": "2026-11-27T13:00:00Z"},
        "spec": {"exceptions": [{"policyName": "require-team-label", "ruleNames": ["check-team"]}],
            "match": {"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["delta"], "names": ["shop-web-*"]}}]}}}));
}

/// `fleettop why` as a user runs it, against the test API server.
async fn why(server: &TestApiServer, args: &[&str]) -> std::process::Output {
    let mut all = vec!["why", "--json"];
    all.extend(args);
    fleettop_on(server, &all).await
}

/// Runs the binary with `args` against the test API server (context `a`, 20 s timeout, its
/// own home), on a blocking thread: the server answers on this runtime.
async fn fleettop_on(server: &TestApiServer, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["--context", "a"]);
    fleettop_with(server.kubeconfig_yaml("a"), &all).await
}

/// Runs the binary with `args`, a kubeconfig of `kubeconfig_yaml` and a 20 s timeout (its own
/// home), on a blocking thread: the server answers on this runtime.
async fn fleettop_with(kubeconfig_yaml: String, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, kubeconfig_yaml).unwrap();
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(["--kubeconfig", kubeconfig.to_str().unwrap(), "--timeout", "20"].map(str::to_string));
    let home = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_fleettop"))
            .args(&all)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_STATE_HOME", home.join("state"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    drop(dir);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn why_joins_a_blocked_pod_from_two_reporters_to_its_policy_and_exception() {
    let server = TestApiServer::start().await;
    seed_blocked_pod(&server);
    let out = why(&server, &["deployment/shop-web", "-n", "delta"]).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found = v["denials"].as_array().unwrap();
    assert_eq!(found.len(), 1, "the two reporters are one denial: {v:#}");
    let e = &found[0];
    assert_eq!(e["sources"], 2);
    assert_eq!(e["denial"]["count"], 6, "both reporters saw the same 6 requests");
    assert_eq!(e["denial"]["object"]["name"], "shop-web-5f6d7-*");
    assert_eq!(e["denial"]["rule"], "check-team");
    assert_eq!(
        (e["policy"]["kind"].as_str(), e["policy"]["generation"].as_i64()),
        (Some("ClusterPolicy"), Some(2))
    );
    assert_eq!(e["version"]["at"], "current");
    let links = e["exceptions"].as_array().unwrap();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(
        (links[0]["name"].as_str(), links[0]["reason"].as_str()),
        (Some("delta/shop-web-team-label"), Some("covers"))
    );
    assert_eq!(links[0]["denied_anyway"], true, "the exception is older than the denials");

    let out = why(&server, &["--policy", "require-team-label"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<&str> =
        v["denials"].as_array().unwrap().iter().filter_map(|e| e["denial"]["enforcement"].as_str()).collect();
    assert_eq!(actions.len(), 2, "the blocked pods and the report's audit finding: {v:#}");
    assert!(actions.contains(&"deny") && actions.contains(&"audit"), "{actions:?}");

    let none = why(&server, &["pod/unrelated", "-n", "delta"]).await;
    assert_eq!(none.status.code(), Some(1));

    // A background scan later reports one of those pods skipped by the exception: why tells.
    server.add(skipped_by_exception_report());
    let out = why(&server, &["deployment/shop-web", "-n", "delta"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let skips = v["denials"][0]["skips"].as_array().unwrap();
    assert_eq!(skips.len(), 1, "{v:#}");
    assert_eq!(skips[0]["exceptions"], json!(["shop-web-team-label"]));
    assert_eq!(skips[0]["object"]["name"], "shop-web-5f6d7-x2k4q", "one of the blocked ReplicaSet's pods");
    server.shutdown().await;
}

/// A Kyverno report: pod `delta/shop-web-5f6d7-x2k4q` skipped by `shop-web-team-label`.
fn skipped_by_exception_report() -> serde_json::Value {
    json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
        "metadata": {"name": "pod-shop-web-5f6d7-x2k4q", "namespace": "delta"},
        "scope": {"apiVersion": "v1", "kind": "Pod", "name": "shop-web-5f6d7-x2k4q", "namespace": "delta"},
        "results": [{"policy": "require-team-label", "rule": "check-team", "result": "skip", "source": "kyverno",
            "properties": {"exceptions": "shop-web-team-label", "process": "background scan"},
            "timestamp": {"seconds": 1795788600, "nanos": 0}}]})
}

/// A Fluent Bit agent as its Helm chart deploys it: HTTP server on the port named `http`.
fn fluent_bit_pod(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "logging",
            "labels": {"app.kubernetes.io/name": "fluent-bit", "app.kubernetes.io/instance": "fluent-bit"}},
        "spec": {"nodeName": "cpu-1", "containers": [{"name": "fluent-bit", "image": "cr.fluentbit.io/fluent/fluent-bit",
            "ports": [{"name": "http", "containerPort": 2020}]}]},
        "status": {"phase": "Running"}})
}

#[tokio::test]
async fn fluent_bit_is_scraped_on_its_own_path_and_its_dropped_records_are_losses() {
    let server = TestApiServer::start().await;
    seed(&server);
    server.add(fluent_bit_pod("fluent-bit-x7k2p"));
    // The real v1.9.1 dump (millisecond timestamps on samples), then the same agent later: 100
    // more records in, 80 out, 20 dropped by the output.
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real/fluentbit/fluentbit-v1.9.1-api-v1-datadog-fixture.txt");
    let dump = std::fs::read_to_string(file).unwrap();
    let later = dump
        .replace(
            r#"fluentbit_input_records_total{name="dummy.0"} 34 "#,
            r#"fluentbit_input_records_total{name="dummy.0"} 134 "#,
        )
        .replace(
            r#"fluentbit_output_proc_records_total{name="stdout.0"} 64 "#,
            r#"fluentbit_output_proc_records_total{name="stdout.0"} 144 "#,
        )
        .replace(
            r#"fluentbit_output_dropped_records_total{name="stdout.0"} 0 "#,
            r#"fluentbit_output_dropped_records_total{name="stdout.0"} 20 "#,
        );
    assert_ne!(dump, later, "the fixture changed");
    server.set_metrics("logging", "fluent-bit-x7k2p", &dump);
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    until(&mut state, &mut rx, "the agent scraped once", |s| {
        settled(s.clusters().get(&id("a"))) && pipelines_state(s, "a") == Some(SourceState::Live)
    })
    .await;
    server.set_metrics("logging", "fluent-bit-x7k2p", &later);
    until(&mut state, &mut rx, "the agent's rates", |s| {
        components(s).iter().any(|p| p.kind == ComponentKind::Exporter && p.enqueue_failed_per_s > 0.0)
    })
    .await;
    let all = components(&state);
    let output = all.iter().find(|p| p.kind == ComponentKind::Exporter && p.name == "stdout.0").unwrap();
    assert_eq!((output.workload.as_str(), output.signal.label()), ("logging/fluent-bit-x7k2p", "logs"));
    assert!((output.sent_per_s / output.enqueue_failed_per_s - 4.0).abs() < 1e-9, "{output:?}");
    assert_eq!(
        output.health(&Default::default()),
        PipelineHealth::Losing,
        "records the output dropped are gone"
    );
    let input = all.iter().find(|p| p.kind == ComponentKind::Receiver && p.name == "dummy.0").unwrap();
    assert!(input.accepted_per_s > 0.0, "{input:?}");
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.path
            == "/api/v1/namespaces/logging/pods/fluent-bit-x7k2p:2020/proxy/api/v1/metrics/prometheus"),
        "Fluent Bit's metrics path, through the pod proxy, on the port named http"
    );
    assert!(requests.iter().all(|r| r.method == "GET"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_collector_with_labels_of_its_own_is_found_once_configured() {
    use fleettop::sources::kubernetes::scrape::{TargetKind, TargetSelector};
    let server = TestApiServer::start().await;
    seed(&server);
    // Deployed by hand: none of the chart's or the operator's labels.
    server.add(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "edge-gw-0", "namespace": "telemetry", "labels": {"app": "edge-gateway"}},
        "spec": {"containers": [{"name": "otelcol", "image": "otel/opentelemetry-collector-contrib",
            "ports": [{"name": "prom", "containerPort": 9464}]}]},
        "status": {"phase": "Running"}}));
    server.set_metrics("telemetry", "edge-gw-0", &otel_dump());
    // Without configuration: nothing is found.
    let mut state = FleetState::default();
    let mut rx = watch(&server, "plain", &mut state);
    until(&mut state, &mut rx, "settled", |s| {
        settled(s.clusters().get(&id("plain")))
            && pipelines_state(s, "plain").is_some_and(|p| p != SourceState::Syncing)
    })
    .await;
    assert_eq!(pipelines_state(&state, "plain"), Some(SourceState::NotInstalled));
    // `[[pipelines.targets]]` kind = "collector", label = "app", values = ["edge-gateway"],
    // port_names = ["prom"].
    let configured = TargetSelector::configured(
        TargetKind::Collector,
        "app",
        &["edge-gateway".to_string()],
        &["prom".to_string()],
        8888,
        "/metrics",
    );
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&server.kubeconfig_yaml("configured")).unwrap();
    let (tx, mut rx) = channel(64);
    state.add_cluster(id("configured"));
    let options = Options { extra_targets: std::sync::Arc::new(vec![configured]), ..fast_options() };
    tokio::spawn(run_cluster_with(kubeconfig, id("configured"), tx, options));
    until(&mut state, &mut rx, "the configured collector scraped", |s| {
        pipelines_state(s, "configured") == Some(SourceState::Live)
    })
    .await;
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.path == "/api/v1/namespaces/telemetry/pods/edge-gw-0:9464/proxy/metrics"),
        "on the port the configuration names"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn fleet_file_services_and_urls_are_scraped_the_url_without_credentials() {
    use fleettop::sources::fleet::parse_fleet_file;
    let server = TestApiServer::start().await;
    seed(&server);
    // No collector pod at all: the fleet file names a Service and a published endpoint.
    server.set_service_metrics("monitoring", "otel-gateway", &otel_dump());
    server.set_direct_metrics("/edge/metrics", &otel_dump());
    let fleet = format!(
        r#"
        [[cluster]]
        context = "a"
        [[cluster.scrape]]
        kind = "collector"
        service = "monitoring/otel-gateway:8888"
        [[cluster.scrape]]
        kind = "collector"
        url = "{}/edge/metrics"
        name = "edge-gateway"
        [[cluster.scrape]]
        kind = "collector"
        url = "http://127.0.0.1:1/metrics"
        name = "nobody-home"
        "#,
        server.url()
    );
    let (file, warnings) = parse_fleet_file(std::path::Path::new("fleet.toml"), &fleet).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let fixed = file.clusters[0].scrape.clone();
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&server.kubeconfig_yaml("a")).unwrap();
    let (tx, mut rx) = channel(64);
    let mut state = FleetState::default();
    state.add_cluster(id("a"));
    let options = Options { fixed_targets: std::sync::Arc::new(fixed), ..fast_options() };
    tokio::spawn(run_cluster_with(kubeconfig, id("a"), tx, options));
    let workloads = |s: &FleetState| -> std::collections::BTreeSet<String> {
        s.pipelines().values().map(|p| p.workload.clone()).collect()
    };
    until(&mut state, &mut rx, "the Service, the URL and the dead URL as records", |s| {
        workloads(s).len() == 3 && pipelines_state(s, "a") == Some(SourceState::Live)
    })
    .await;
    assert_eq!(
        workloads(&state).into_iter().collect::<Vec<_>>(),
        ["edge-gateway", "monitoring/service/otel-gateway", "nobody-home"]
    );
    let dead: Vec<PipelineComponent> =
        components(&state).into_iter().filter(|p| p.workload == "nobody-home").collect();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        dead[0].health(&Default::default()),
        PipelineHealth::ScrapeFailed,
        "an unreachable URL is a finding: {dead:?}"
    );
    let requests = server.requests();
    let service = requests
        .iter()
        .find(|r| r.path == "/api/v1/namespaces/monitoring/services/otel-gateway:8888/proxy/metrics")
        .expect("scraped through the service proxy");
    assert!(service.authorized, "the API server's proxy is asked with the kubeconfig's credentials");
    let direct: Vec<_> = requests.iter().filter(|r| r.path == "/edge/metrics").collect();
    assert!(!direct.is_empty(), "the URL is read directly");
    assert!(direct.iter().all(|r| !r.authorized), "a URL never gets the cluster's credentials: {direct:?}");
    assert!(requests.iter().all(|r| r.method == "GET"));
    server.shutdown().await;
}

/// Runs `fleettop snapshot --json` against the test API server (context `a`) and parses it.
async fn live_snapshot_json(server: &TestApiServer) -> serde_json::Value {
    let out = fleettop_on(server, &["snapshot", "--json"]).await;
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The real Kyverno report of a Deployment skipped by a PolicyException, named `r1`.
fn skip_report() -> serde_json::Value {
    let mut report = fixture("kyverno/policyreport-skip-policyexception-celpolicy.yaml").remove(0);
    report["metadata"]["name"] = json!("r1");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_report_skips_give_an_exception_its_reach_and_relists_drop_the_stale_ones() {
    let server = TestApiServer::start().await;
    server.add(policy_exception("default", "exclude-skipped-deployment"));
    server.add(skip_report());
    // A second report: one skip naming the same exception, one skipped for a precondition.
    server.add(json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
        "metadata": {"name": "r2", "namespace": "default"},
        "scope": {"apiVersion": "v1", "kind": "Pod", "name": "skipped-deployment-6d4f-x2k4q", "namespace": "default"},
        "results": [
            {"policy": "vpol-report-background-sample", "rule": "exception", "result": "skip", "source": "KyvernoValidatingPolicy",
             "properties": {"exceptions": "exclude-skipped-deployment"}, "timestamp": {"seconds": 1795788000, "nanos": 0}},
            {"policy": "other", "result": "skip", "source": "kyverno", "message": "preconditions not met"}]}));

    // The CLI's live snapshot shows the reach on the exception and lists the skips.
    let v = live_snapshot_json(&server).await;
    let e = v["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "exclude-skipped-deployment")
        .unwrap();
    assert_eq!((e["skipped_results"].as_u64(), e["skipped_objects"].as_u64()), (Some(2), Some(2)), "{e:#}");
    let skips = v["skips"].as_array().unwrap();
    assert_eq!(skips.len(), 2, "the precondition skip names no exception: {skips:#?}");
    assert!(skips.iter().all(|s| s["exceptions"] == json!(["exclude-skipped-deployment"])));
    assert!(
        skips.iter().any(|s| s["object"]["kind"] == "Deployment" && s["report"] == "PolicyReport/default/r1")
    );

    // The same through the watchers: updates, deletes and a 410 relist keep exactly what the
    // reports still say.
    let mut state = FleetState::default();
    let mut rx = watch(&server, "a", &mut state);
    let reach = |s: &FleetState| s.reach(&id("a"), "exclude-skipped-deployment").skipped_results;
    until(&mut state, &mut rx, "both skips", |s| settled(s.clusters().get(&id("a"))) && reach(s) == 2).await;
    assert_eq!(state.clusters()[&id("a")].sources[&SourceKind::PolicyReports], SourceState::Live);
    let mut r1 = skip_report();
    r1["results"][0]["result"] = json!("pass");
    server.add(r1);
    until(&mut state, &mut rx, "r1's result no longer a skip", |s| reach(s) == 1).await;
    server.add(skip_report());
    until(&mut state, &mut rx, "r1 skips again", |s| reach(s) == 2).await;
    // 410 Gone, and r2 is deleted before the watcher relists: the relist must drop its skip.
    server.expire_watches();
    assert!(server.delete("wgpolicyk8s.io/v1alpha2", "PolicyReport", Some("default"), "r2"));
    until(&mut state, &mut rx, "the relist drops r2's skip", |s| reach(s) == 1).await;
    assert_eq!(state.skips().len(), 1, "nothing doubled");
    assert_eq!(state.skips().values().next().unwrap().object.kind, "Deployment");
    assert!(server.requests().iter().all(|r| r.method == "GET"), "fleettop only reads");
    server.shutdown().await;
}

/// Terminal controls that must never reach a terminal raw: ESC, BEL, CR, C1 CSI, and the
/// right-to-left override (as UTF-8).
fn raw_controls(out: &[u8]) -> Vec<&'static str> {
    let text = String::from_utf8_lossy(out);
    [("ESC", '\x1b'), ("BEL", '\x07'), ("CR", '\r'), ("C1 CSI", '\u{9b}'), ("RLO", '\u{202e}')]
        .into_iter()
        .filter(|(_, c)| text.contains(*c))
        .map(|(name, _)| name)
        .collect()
}

/// Anyone who may create an Event writes text that `why` prints, and a kubeconfig's context
/// names are printed by `snapshot`: OSC 52 (clipboard), OSC 0 (title), CSI (clear screen), a C1
/// CSI, a bidi override and a carriage return come out visibly escaped, never as sequences; a
/// 1 MB message comes out whole; JSON stays exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_event_text_and_cluster_names_are_printed_escaped_never_run() {
    let server = TestApiServer::start().await;
    let hostile = "clip \x1b]52;c;cm0gLXJmIH4K\x07 title \x1b]0;owned\x07 wipe \x1b[2J\x1b[H c1 \u{9b}31m bidi \u{202e}gnp.exe\r forged";
    let huge = "A".repeat(1 << 20);
    server.add(json!({"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "FailedCreate", "count": 1,
        "metadata": {"name": "hostile.1", "namespace": "shop"},
        "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": "web-7d9c"},
        "message": format!("Error creating: admission webhook \"evil.example.com\" denied the request: {hostile} {huge}")}));
    let context = "prod\x1b]0;pwned\x07\u{202e}";
    let kubeconfig = server.kubeconfig_yaml(context);

    let out =
        fleettop_with(kubeconfig.clone(), &["why", "--all-contexts", "--policy", "evil.example.com"]).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(raw_controls(&out.stdout), Vec::<&str>::new(), "why printed raw controls");
    let text = String::from_utf8_lossy(&out.stdout);
    for shown in [
        "clip \\x1b]52;c;cm0gLXJmIH4K\\x07 title \\x1b]0;owned\\x07 wipe \\x1b[2J\\x1b[H c1 \\x9b31m bidi \\u{202e}gnp.exe\\r forged",
        "prod\\x1b]0;pwned\\x07\\u{202e}",
    ] {
        assert!(text.contains(shown), "{shown:?} is shown escaped");
    }
    assert!(text.contains(&huge), "the 1 MB message is printed whole");

    let out = fleettop_with(kubeconfig.clone(), &["snapshot", "--all-contexts"]).await;
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(raw_controls(&out.stdout), Vec::<&str>::new(), "snapshot printed raw controls");
    assert!(String::from_utf8_lossy(&out.stdout).contains("prod\\x1b]0;pwned\\x07\\u{202e}"));

    // JSON is data: exact (controls are JSON escapes), the name and message as they are.
    let out =
        fleettop_with(kubeconfig, &["why", "--json", "--all-contexts", "--policy", "evil.example.com"]).await;
    assert_eq!(raw_controls(&out.stdout), Vec::<&str>::new(), "JSON writes every control as an escape");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = v["denials"][0]["denial"]["message"].as_str().unwrap();
    assert!(message.contains(hostile), "{}", &message[..200]);
    server.shutdown().await;
}
