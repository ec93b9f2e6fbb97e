//! Live sources, tier 2: a real kube-apiserver (v1.20) with etcd, real RBAC and real watch
//! semantics. Switched on by `FLEETTOP_REAL_APISERVER`:
//! - the path of a start script (`../shared/tools/real-apiserver.sh`): it is started on its
//!   own ports and run folder, and stopped at the end;
//! - or the path of a kubeconfig of any real cluster whose current context may create nodes,
//!   events, pods and RBAC objects (kind, k3s…) — the setup is applied there.
//!
//! Without it, the tier says loudly that it was skipped. Setup uses kubectl (the script
//! provides one in `$KR_HOME/bin`); fleettop itself only reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct RealCluster {
    kubeconfig: PathBuf,
    kubectl: String,
    stop: Option<(PathBuf, PathBuf)>,
    _dir: tempfile::TempDir,
}

impl Drop for RealCluster {
    fn drop(&mut self) {
        if let Some((script, run)) = &self.stop {
            let _ = Command::new("bash").arg(script).env("KR_RUN", run).status();
        }
    }
}

/// `FLEETTOP_PORT_OFFSET` moves every tier-2 port, so that several checkouts on one machine
/// can run tier 2 at once.
fn port(base: u16) -> u16 {
    base + std::env::var("FLEETTOP_PORT_OFFSET").ok().and_then(|o| o.parse::<u16>().ok()).unwrap_or(0)
}

fn start() -> Option<RealCluster> {
    let Some(target) = std::env::var_os("FLEETTOP_REAL_APISERVER").map(PathBuf::from) else {
        eprintln!(
            "SKIPPED: tier 2 (real apiserver) is off; set FLEETTOP_REAL_APISERVER to real-apiserver.sh or a kubeconfig"
        );
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let kr_home = std::env::var("KR_HOME").unwrap_or_else(|_| "/tmp/kube-real".into());
    let kubectl = format!("{kr_home}/bin/kubectl");
    let kubectl = if Path::new(&kubectl).exists() { kubectl } else { "kubectl".into() };
    if target.extension().is_some_and(|e| e == "sh") {
        let kubeconfig = dir.path().join("kubeconfig");
        let run = dir.path().join("run");
        let out = Command::new("bash")
            .arg(&target)
            .arg(&kubeconfig)
            .env("KR_RUN", &run)
            .env("KR_API_PORT", port(16743).to_string())
            .env("KR_ETCD_PORT", port(12779).to_string())
            .output()
            .expect("the start script runs");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("READY"),
            "the real apiserver did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stop = target.with_file_name("real-apiserver-stop.sh");
        Some(RealCluster { kubeconfig, kubectl, stop: Some((stop, run)), _dir: dir })
    } else {
        Some(RealCluster { kubeconfig: target, kubectl, stop: None, _dir: dir })
    }
}

impl RealCluster {
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = Command::new(&self.kubectl)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn snapshot(&self, contexts: &[&str]) -> serde_json::Value {
        let kc = self.kubeconfig.to_str().unwrap();
        let mut args = vec!["snapshot", "--json", "--timeout", "60", "--kubeconfig", kc];
        for c in contexts {
            args.extend(["--context", c]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_fleettop"))
            .args(&args)
            .env("HOME", self._dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `fleettop why … --json` against the `real` (admin) context; it must find something.
    fn why(&self, query: &[&str]) -> serde_json::Value {
        let kc = self.kubeconfig.to_str().unwrap();
        let mut args = vec!["why", "--json", "--timeout", "60", "--kubeconfig", kc, "--context", "real"];
        args.extend(query);
        let out = Command::new(env!("CARGO_BIN_EXE_fleettop"))
            .args(&args)
            .env("HOME", self._dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "why {query:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

const SETUP: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: default}
---
apiVersion: v1
kind: Node
metadata:
  name: gpu-node-1
  labels: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB}
---
apiVersion: v1
kind: Pod
metadata: {name: train-0, namespace: default, labels: {team: research}}
spec:
  automountServiceAccountToken: false
  containers:
  - name: main
    image: registry.invalid/trainer
    resources: {limits: {nvidia.com/gpu: "2"}}
---
apiVersion: v1
kind: Event
metadata: {name: web-7d9c.17a3f, namespace: default}
type: Warning
reason: FailedCreate
count: 4
involvedObject: {kind: ReplicaSet, namespace: default, name: web-7d9c}
message: 'Error creating: pods "web-7d9c-x2" is forbidden: exceeded quota: quota-pods, requested: count/pods=1, used: count/pods=1, limited: count/pods=1'
source: {component: replicaset-controller}
"#;

/// Minimal CRDs (unknown fields preserved, no status subresource, so fixtures keep their
/// status) for every optional group fleettop reads: enough for the real apiserver to serve them
/// through discovery, list and watch exactly as it serves the real projects' CRDs.
fn crds() -> String {
    let defs = [
        ("kueue.x-k8s.io", "v1beta2", "ClusterQueue", "clusterqueues", "Cluster"),
        ("kueue.x-k8s.io", "v1beta2", "LocalQueue", "localqueues", "Namespaced"),
        ("kueue.x-k8s.io", "v1beta2", "Workload", "workloads", "Namespaced"),
        ("kyverno.io", "v2", "PolicyException", "policyexceptions", "Namespaced"),
        ("kyverno.io", "v1", "ClusterPolicy", "clusterpolicies", "Cluster"),
        ("kyverno.io", "v2", "ClusterCleanupPolicy", "clustercleanuppolicies", "Cluster"),
        ("wgpolicyk8s.io", "v1alpha2", "PolicyReport", "policyreports", "Namespaced"),
        ("constraints.gatekeeper.sh", "v1beta1", "K8sRequiredLabels", "k8srequiredlabels", "Cluster"),
        ("config.gatekeeper.sh", "v1alpha1", "Config", "configs", "Namespaced"),
    ];
    defs.iter()
        .map(|(group, version, kind, plural, scope)| {
            format!(
                "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {plural}.{group}}}
spec:
  group: {group}
  scope: {scope}
  names: {{kind: {kind}, plural: {plural}, singular: {singular}}}
  versions:
  - name: {version}
    served: true
    storage: true
    schema:
      openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
",
                singular = kind.to_lowercase()
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Creates the CRDs, waits until the apiserver serves them, and creates the objects of the
/// real fixtures (verbatim, into the namespaces they need).
fn install_custom_resources(real: &RealCluster) {
    real.kubectl(&["apply", "-f", "-"], Some(&crds()));
    real.kubectl(&["wait", "--for", "condition=established", "--timeout=60s", "crd", "--all"], None);
    for ns in ["ml", "delta", "gatekeeper-system"] {
        real.kubectl(&["create", "namespace", ns], None);
    }
    let fixture = |p: &str| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real").join(p);
    let apply = |p: &str, ns: &str| {
        let path = fixture(p);
        real.kubectl(&["apply", "-n", ns, "-f", path.to_str().unwrap()], None);
    };
    apply("kueue/clusterqueue-multi-flavor-gpu-spec.yaml", "default");
    apply("kueue/localqueues.yaml", "ml");
    apply("kyverno/policyexception-v2-delta.yaml", "delta");
    apply("kyverno/policyreport-wgpolicy-v1alpha2-full.yaml", "kube-system");
    apply("gatekeeper/constraint-k8srequiredlabels-with-violations.yaml", "default");
    apply("gatekeeper/config-match-excludednamespaces.yaml", "gatekeeper-system");
    real.kubectl(&["apply", "-f", "-"], Some(WORKLOAD));
    real.kubectl(&["apply", "-f", "-"], Some(CLUSTER_POLICY));
    real.kubectl(&["apply", "-f", "-"], Some(CLEANUP_POLICY));
}

/// The ClusterCleanupPolicy the kyverno/policies sample `expiration-for-policyexceptions`
/// generates for the delta fixture's exception (a cron for one moment: 18:30 UTC on 27 Nov).
const CLEANUP_POLICY: &str = r#"
apiVersion: kyverno.io/v2
kind: ClusterCleanupPolicy
metadata:
  name: polex-delta-delta-exception-x7k2m9qa
  labels: {kyverno.io/automated: "true"}
spec:
  schedule: "30 18 27 11 *"
  match:
    any:
    - resources: {kinds: [PolicyException], namespaces: [delta], names: [delta-exception]}
"#;

/// `(expires_at, expiry_source)` of the delta fixture's exception in a snapshot.
fn delta_expiry(exceptions: &[serde_json::Value]) -> (String, serde_json::Value) {
    let e = exceptions.iter().find(|e| e["name"] == "delta-exception").expect("the delta exception");
    (e["expires_at"].as_str().unwrap_or("none").to_string(), e["expiry_source"].clone())
}

/// A Kyverno ClusterPolicy that enforces one of its rules.
const CLUSTER_POLICY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team-label
  annotations: {policies.kyverno.io/severity: high, policies.kyverno.io/category: Best Practices}
spec:
  validationFailureAction: Enforce
  rules:
  - name: check-team
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: "label team is required", pattern: {metadata: {labels: {team: "?*"}}}}
"#;

/// A Kueue Workload waiting for 8 GPUs (its status as Kueue writes it).
const WORKLOAD: &str = r#"
apiVersion: kueue.x-k8s.io/v1beta2
kind: Workload
metadata: {name: job-train-llm-5b7c1, namespace: ml, labels: {team: research}}
spec:
  queueName: llm-model-queue
  podSets:
  - name: main
    count: 2
    template:
      spec:
        containers:
        - {name: t, image: trainer, resources: {requests: {nvidia.com/gpu: "4"}}}
status:
  conditions:
  - type: QuotaReserved
    status: "False"
    reason: Pending
    lastTransitionTime: "2026-11-27T13:50:01Z"
    message: "couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu in flavor a100, request > maximum capacity (8 > 4)"
"#;

fn cluster<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["clusters"].as_array().unwrap().iter().find(|c| c["cluster"] == name).unwrap()
}

/// Gives the node GPUs the way the device plugin would: node status is a subresource that
/// kubectl 1.20 cannot patch, so the test uses kube-rs (test setup only: fleettop never writes).
fn give_node_gpus(kubeconfig: &Path) {
    use k8s_openapi::api::core::v1::Node;
    use kube::api::{Api, Patch, PatchParams};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
        let nodes: Api<Node> = Api::all(kube::Client::try_from(config).unwrap());
        let status = serde_json::json!({"status": {
            "capacity": {"nvidia.com/gpu": "8", "cpu": "64", "memory": "256Gi", "pods": "110"},
            "allocatable": {"nvidia.com/gpu": "8", "cpu": "64", "memory": "256Gi", "pods": "110"}}});
        nodes.patch_status("gpu-node-1", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    });
}

#[test]
fn real_apiserver_fleet_under_admin_and_under_the_reader_role() {
    let Some(real) = start() else { return };
    real.kubectl(&["apply", "-f", "-"], Some(SETUP));
    give_node_gpus(&real.kubeconfig);
    install_custom_resources(&real);

    let v = real.snapshot(&["real", "real-noaccess"]);
    let admin = cluster(&v, "real");
    assert_eq!(admin["health"], "live", "{admin}");
    assert!(admin["server_version"].as_str().unwrap().starts_with("v1."), "{admin}");
    assert_eq!(cluster(&v, "real-noaccess")["health"], "forbidden", "no RBAC binding yet");
    let in_real = |key: &str| -> Vec<serde_json::Value> {
        v[key].as_array().unwrap().iter().filter(|r| r["cluster"] == "real").cloned().collect()
    };
    let nodes = in_real("gpu_nodes");
    assert_eq!(nodes.len(), 1, "{v}");
    assert_eq!(nodes[0]["capacity"], 8);
    let pending = in_real("pending_gpu_pods");
    assert_eq!(pending.len(), 1, "{v}");
    assert_eq!((pending[0]["name"].as_str(), pending[0]["gpus"].as_u64()), (Some("train-0"), Some(2)));
    let denials = in_real("denials");
    let quota: Vec<_> = denials.iter().filter(|d| d["engine"] == "resource_quota").collect();
    assert_eq!(quota.len(), 1, "{v}");
    assert_eq!(quota[0]["count"], 4);
    let engines: Vec<&str> = denials.iter().filter_map(|d| d["engine"].as_str()).collect();
    assert!(engines.contains(&"gatekeeper"), "constraint violations: {engines:?}");
    assert!(engines.contains(&"kyverno"), "policy report failures: {engines:?}");
    for source in ["kueue", "kyverno", "policy_reports", "gatekeeper", "namespaces"] {
        assert_eq!(admin["sources"][source]["state"], "live", "{source}: {admin}");
    }
    assert_eq!(admin["sources"]["admission_policies"]["state"], "not_installed", "v1.20 has no VAP: {admin}");
    let policies = in_real("policies");
    let policy_names: Vec<&str> = policies.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(policy_names, ["require-team-label", "ns-must-have-gk"], "{v}");
    assert_eq!(
        (policies[0]["enforcement"].as_str(), policies[0]["generation"].as_i64()),
        (Some("deny"), Some(1))
    );
    let queues = in_real("gpu_queues");
    assert_eq!(queues.len(), 1, "{v}");
    assert_eq!(
        (queues[0]["name"].as_str(), queues[0]["api_version"].as_str()),
        (Some("cluster-queue"), Some("v1beta2"))
    );
    let workloads = in_real("gpu_workloads");
    assert_eq!(workloads.len(), 1, "{v}");
    assert_eq!(workloads[0]["gpus"], 8);
    assert_eq!(workloads[0]["cluster_queue"], "llm-cluster-queue", "joined through the LocalQueue");
    let exceptions = in_real("exceptions");
    assert!(exceptions.iter().any(|e| e["name"] == "delta-exception"), "{v}");
    // Its expiry is the next run of the cleanup policy that deletes it (whatever year it is).
    let cleanup =
        serde_json::json!({"from": "cleanup_policy", "name": "polex-delta-delta-exception-x7k2m9qa"});
    let (expires, source) = delta_expiry(&exceptions);
    assert!(expires.ends_with("-11-27T18:30:00Z"), "{expires}");
    assert_eq!(source, cleanup);

    // The shipped read-only role, bound to the user that could read nothing, is enough.
    let rbac =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/rbac/fleettop-reader.yaml"))
            .unwrap()
            .replace("name: oncall", "name: noaccess");
    real.kubectl(&["apply", "-f", "-"], Some(&rbac));
    let v = real.snapshot(&["real-noaccess"]);
    let reader = cluster(&v, "real-noaccess");
    assert_eq!(reader["health"], "live", "{reader}");
    let states: Vec<(&String, &serde_json::Value)> = reader["sources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !["admission_policies", "pipelines", "dcgm"].contains(&k.as_str()))
        .collect();
    assert!(states.iter().all(|(_, s)| s["state"] == "live"), "{reader}");
    // The role lets fleettop look for collectors, Prometheus servers and GPU exporters; none
    // runs yet (the proxies are tried at the end, [`scrape_through_the_real_proxies`]).
    assert_eq!(reader["sources"]["pipelines"]["state"], "not_installed", "{reader}");
    assert_eq!(reader["sources"]["dcgm"]["state"], "not_installed", "{reader}");
    assert_eq!(v["gpu_nodes"].as_array().unwrap().len(), 1);
    assert_eq!(v["denials"].as_array().unwrap().len(), denials.len());
    assert_eq!(v["pending_gpu_pods"].as_array().unwrap().len(), 1);
    assert_eq!(v["gpu_queues"].as_array().unwrap().len(), 1);
    assert_eq!(v["gpu_workloads"].as_array().unwrap().len(), 1);
    assert_eq!(v["exceptions"].as_array().unwrap().len(), exceptions.len());
    assert_eq!(
        delta_expiry(v["exceptions"].as_array().unwrap()),
        (expires, cleanup),
        "the role reads cleanup policies"
    );
    assert_eq!(v["policies"].as_array().unwrap().len(), policies.len());

    // `fleettop why`: a Kyverno-blocked pod reported twice, a report's audit finding, and an
    // exception that covers the pods, joined to the ClusterPolicy installed above.
    real.kubectl(&["apply", "-f", "-"], Some(BLOCKED_POD));
    let found = real.why(&["deployment/shop-web", "-n", "delta"]);
    let denials = found["denials"].as_array().unwrap();
    assert_eq!(denials.len(), 1, "two reporters, one denial: {found:#}");
    let e = &denials[0];
    assert_eq!((e["sources"].as_u64(), e["denial"]["count"].as_u64()), (Some(2), Some(6)), "{e:#}");
    assert_eq!(e["policy"]["name"], "require-team-label");
    assert_eq!(e["policy"]["generation"], 1, "the version is the ClusterPolicy's generation");
    assert_eq!(e["denial"]["severity"], serde_json::Value::Null, "events carry no severity");
    assert_eq!(e["policy"]["severity"], "high", "the policy object does");
    let links = e["exceptions"].as_array().unwrap();
    assert!(
        links.iter().any(|l| l["name"] == "delta/shop-web-team-label" && l["reason"] == "covers"),
        "{links:?}"
    );
    let by_policy = real.why(&["--policy", "require-team-label"]);
    let actions: Vec<&str> = by_policy["denials"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["denial"]["enforcement"].as_str())
        .collect();
    assert!(actions.contains(&"deny") && actions.contains(&"audit"), "{by_policy:#}");

    // Why is it waiting: the Workload whose request exceeds its queue's maximum (Kueue's own
    // words, kept as the evidence), and the pending GPU pod; `--waiting` lists both.
    let wait = real.why(&["workload/job-train-llm-5b7c1", "-n", "ml"]);
    let w = &wait["waits"][0];
    assert_eq!(w["verdict"]["class"], "exceeds_max_quota", "{wait:#}");
    let reason = w["steps"].as_array().unwrap().iter().find(|s| s["finding"] == "reason").unwrap();
    assert!(
        reason["evidence"][0]["text"].as_str().unwrap().ends_with("request > maximum capacity (8 > 4)"),
        "{wait:#}"
    );
    let all = real.why(&["--waiting"]);
    let waiters: Vec<(&str, &str)> = all["waiters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| Some((w["kind"].as_str()?, w["name"].as_str()?)))
        .collect();
    assert!(waiters.contains(&("workload", "job-train-llm-5b7c1")), "{all:#}");
    assert!(waiters.contains(&("pod", "train-0")), "{all:#}");

    // A background scan later reports one of those pods skipped by the exception: the
    // exception's reach in the snapshot, and `why` says what let the object through since.
    real.kubectl(&["apply", "-f", "-"], Some(SKIPPED_POD));
    let v = real.snapshot(&["real"]);
    let exception =
        v["exceptions"].as_array().unwrap().iter().find(|e| e["name"] == "shop-web-team-label").unwrap();
    assert_eq!(
        (exception["skipped_results"].as_u64(), exception["skipped_objects"].as_u64()),
        (Some(1), Some(1)),
        "{exception:#}"
    );
    assert_eq!(v["skips"].as_array().unwrap().len(), 1, "{v:#}");
    let found = real.why(&["deployment/shop-web", "-n", "delta"]);
    let skips = found["denials"][0]["skips"].as_array().unwrap();
    assert_eq!(skips[0]["exceptions"], serde_json::json!(["shop-web-team-label"]), "{found:#}");

    scrape_through_the_real_proxies(&real);
    hostile_events_are_printed_escaped(&real);
}

/// Events anyone with `create events` may write, through the real apiserver: OSC 52
/// (clipboard), OSC 0 (title), CSI (clear screen), a C1 CSI, a bidi override, a carriage return
/// and a 1 MB message. `fleettop why` prints them visibly escaped, never as sequences, and the
/// big one whole; its JSON stays exact.
fn hostile_events_are_printed_escaped(real: &RealCluster) {
    let hostile = "clip \x1b]52;c;cm0gLXJmIH4K\x07 title \x1b]0;owned\x07 wipe \x1b[2J\x1b[H c1 \u{9b}31m bidi \u{202e}gnp.exe\r forged";
    let huge = "B".repeat(1 << 20);
    for (name, message) in
        [("hostile-escapes", hostile.to_string()), ("hostile-huge", format!("{hostile} {huge}"))]
    {
        let event = serde_json::json!({"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "FailedCreate",
            "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {"kind": "ReplicaSet", "namespace": "default", "name": name},
            "source": {"component": "replicaset-controller"},
            "message": format!("Error creating: admission webhook \"evil.example.com\" denied the request: {message}")});
        // `create`, not `apply`: apply would copy the 1 MB message into an annotation.
        real.kubectl(&["create", "-f", "-"], Some(&event.to_string()));
    }
    let kc = real.kubeconfig.to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fleettop"))
        .args([
            "why",
            "--policy",
            "evil.example.com",
            "--timeout",
            "60",
            "--kubeconfig",
            kc,
            "--context",
            "real",
        ])
        .env("HOME", real._dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for (name, c) in
        [("ESC", '\x1b'), ("BEL", '\x07'), ("CR", '\r'), ("C1 CSI", '\u{9b}'), ("RLO", '\u{202e}')]
    {
        assert!(!text.contains(c), "why printed a raw {name}");
    }
    let shown = "clip \\x1b]52;c;cm0gLXJmIH4K\\x07 title \\x1b]0;owned\\x07 wipe \\x1b[2J\\x1b[H c1 \\x9b31m bidi \\u{202e}gnp.exe\\r forged";
    assert!(text.matches(shown).count() >= 2, "both events, escaped: {}", &text[..text.len().min(3000)]);
    assert!(text.contains(&huge), "the 1 MB message is printed whole");
    let json = real.why(&["--policy", "evil.example.com"]);
    let messages: Vec<&str> =
        json["denials"].as_array().unwrap().iter().filter_map(|e| e["denial"]["message"].as_str()).collect();
    assert!(messages.iter().all(|m| m.contains(hostile)), "JSON keeps the text exact");
}

/// The pod proxy and the service proxy of a real apiserver, under the reader role. This
/// apiserver runs no kubelet, but its proxies dial a pod's IP themselves: a pod object whose
/// status says it runs at this host's address, and a Service whose Endpoints name that pod,
/// lead to a metrics server this test runs. First the Service has no endpoints (the apiserver's
/// own 503 is the scrape failure), then the real collector dump flows through both proxies.
fn scrape_through_the_real_proxies(real: &RealCluster) {
    use fleettop::model::{Change, ClusterId, ComponentKind, PipelineComponent, Record, Signal};
    use fleettop::sources::kubernetes::{Options, run_cluster_with};

    let Some(ip) = host_ipv4() else {
        eprintln!("SKIPPED: tier 2 proxies: this host has no non-loopback IPv4 for the apiserver to dial");
        return;
    };
    let body = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/real/otel/otelcol-contrib-v0.93-dev-filelog-issue31074-excerpt.prom"),
    )
    .unwrap();
    let port = serve_metrics(body);
    real.kubectl(&["apply", "-f", "-"], Some(&prometheus_service()));
    let fleet = "[[cluster]]\ncontext = \"real-noaccess\"\n[[cluster.scrape]]\nkind = \"prometheus\"\nservice = \"default/prometheus-k8s:9090\"\n";
    let (file, warnings) =
        fleettop::sources::fleet::parse_fleet_file(Path::new("fleet.toml"), fleet).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let kubeconfig = kube::config::Kubeconfig::read_from(&real.kubeconfig).unwrap();
    let cluster = ClusterId::new("real-noaccess");
    let options = Options {
        // Each scrape may take up to the interval: the first through a proxy needs its TLS.
        scrape_every: std::time::Duration::from_secs(2),
        fixed_targets: std::sync::Arc::new(file.clusters[0].scrape.clone()),
        ..Options::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (tx, mut rx) = fleettop::sources::channel(256);
        tokio::spawn(run_cluster_with(kubeconfig, cluster, tx, options));
        let mut components: std::collections::BTreeMap<String, PipelineComponent> = Default::default();
        let mut wait = async |what: &str,
                              done: &dyn Fn(
            &std::collections::BTreeMap<String, PipelineComponent>,
        ) -> bool| {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
            while !done(&components) {
                let batch = tokio::time::timeout_at(deadline, rx.recv())
                    .await
                    .unwrap_or_else(|_| panic!("{what}: not within 60 s: {components:#?}"))
                    .expect("sources run");
                for obs in batch {
                    match obs.change {
                        Change::Upsert { record: Record::Pipeline(p) } => {
                            components.insert(p.key(), p);
                        }
                        Change::Delete { key, .. } => {
                            components.remove(&key);
                        }
                        _ => {}
                    }
                }
            }
            components.clone()
        };
        // No endpoints yet: the real apiserver's answer is the finding.
        let seen = wait("the Service's scrape failure", &|c| {
            c.values().any(|p| {
                p.workload == "default/service/prometheus-k8s"
                    && p.scrape_error.as_deref().is_some_and(|e| e.contains("no endpoints available"))
            })
        })
        .await;
        let failed = seen.values().find(|p| p.workload == "default/service/prometheus-k8s").unwrap();
        let error = failed.scrape_error.as_deref().unwrap();
        assert!(error.contains("503") && !error.contains("forbidden"), "the reader role may proxy: {error}");

        // The pod runs at this host's address: both proxies reach the metrics server.
        real.kubectl(&["apply", "-f", "-"], Some(&prometheus_pod(port)));
        let status = pod_running_at(real, &ip);
        real.kubectl(
            &["replace", "--raw", "/api/v1/namespaces/default/pods/prometheus-k8s-0/status", "-f", "-"],
            Some(&status),
        );
        real.kubectl(&["apply", "-f", "-"], Some(&endpoints(&ip, port)));
        let seen = wait("rates through the pod proxy and the service proxy", &|c| {
            ["default/prometheus-k8s-0", "default/service/prometheus-k8s"]
                .iter()
                .all(|w| c.values().any(|p| p.workload == *w && p.scrape_error.is_none() && p.name == "file"))
        })
        .await;
        // The dump's one exporter, read the same through either proxy.
        let files: Vec<_> = seen.values().filter(|p| p.name == "file").collect();
        assert_eq!(files.len(), 2, "{files:#?}");
        for p in files {
            assert_eq!((p.kind, p.signal), (ComponentKind::Exporter, Signal::Logs), "{p:?}");
        }
    });
    rt.shutdown_background();
}

/// This host's first non-loopback IPv4 address (`hostname -I`), which the apiserver can dial.
fn host_ipv4() -> Option<String> {
    let out = Command::new("hostname").arg("-I").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|a| a.parse::<std::net::Ipv4Addr>().ok())
        .find(|a| !a.is_loopback())
        .map(|a| a.to_string())
}

/// Serves `body` to every HTTP request on a port of all addresses, on a thread, for the rest
/// of the test process; returns the port.
fn serve_metrics(body: String) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.as_bytes()));
        }
    });
    port
}

/// A Prometheus Service in `default`, with Endpoints listing no address yet.
fn prometheus_service() -> String {
    r#"
apiVersion: v1
kind: Service
metadata: {name: prometheus-k8s, namespace: default}
spec:
  selector: {app.kubernetes.io/name: prometheus}
  ports: [{name: web, port: 9090, targetPort: web}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: prometheus-k8s, namespace: default}
subsets: []
"#
    .to_string()
}

/// Its pod, labelled as the chart does, its `web` port the metrics server's. It never runs:
/// its status is set by hand ([`pod_running_at`]).
fn prometheus_pod(port: u16) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: prometheus-k8s-0, namespace: default, labels: {{app.kubernetes.io/name: prometheus}}}}
spec:
  automountServiceAccountToken: false
  containers:
  - name: prometheus
    image: registry.invalid/prometheus
    ports: [{{name: web, containerPort: {port}}}]
"#
    )
}

/// The pod's status subresource saying it runs at `ip`.
fn pod_running_at(real: &RealCluster, ip: &str) -> String {
    let out = real.kubectl(&["get", "pod", "-n", "default", "prometheus-k8s-0", "-o", "json"], None);
    let mut pod: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    pod["status"] = serde_json::json!({"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]});
    pod.to_string()
}

/// The Service's Endpoints: the pod at `ip`, the metrics server's port as `web`.
fn endpoints(ip: &str, port: u16) -> String {
    format!(
        r#"
apiVersion: v1
kind: Endpoints
metadata: {{name: prometheus-k8s, namespace: default}}
subsets:
- addresses: [{{ip: "{ip}", targetRef: {{kind: Pod, name: prometheus-k8s-0, namespace: default}}}}]
  ports: [{{name: web, port: {port}}}]
"#
    )
}

/// A Kyverno background-scan report: pod `delta/shop-web-5f6d7-x2k4q` skipped by the
/// exception of [`BLOCKED_POD`].
const SKIPPED_POD: &str = r#"
apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: pod-shop-web-5f6d7-x2k4q, namespace: delta}
scope: {apiVersion: v1, kind: Pod, name: shop-web-5f6d7-x2k4q, namespace: delta}
results:
- {policy: require-team-label, rule: check-team, result: skip, source: kyverno, timestamp: {seconds: 1795788600, nanos: 0}, properties: {exceptions: shop-web-team-label, process: background scan}}
"#;

/// See [`real_apiserver_fleet_under_admin_and_under_the_reader_role`]'s last part.
const BLOCKED_POD: &str = r#"
apiVersion: v1
kind: Event
metadata: {name: shop-web-5f6d7.1, namespace: delta}
type: Warning
reason: FailedCreate
count: 6
firstTimestamp: "2026-11-27T14:00:00Z"
lastTimestamp: "2026-11-27T14:05:00Z"
involvedObject: {kind: ReplicaSet, namespace: delta, name: shop-web-5f6d7}
source: {component: replicaset-controller}
message: "Error creating: admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource Pod/delta/shop-web-5f6d7-x2k4q was blocked due to the following policies \n\nrequire-team-label:\n  check-team: 'validation error: label team is required. rule check-team failed at path /metadata/labels/team/'\n"
---
apiVersion: v1
kind: Event
metadata: {name: require-team-label.2, namespace: default}
type: Warning
reason: PolicyViolation
count: 6
firstTimestamp: "2026-11-27T14:00:01Z"
lastTimestamp: "2026-11-27T14:05:01Z"
involvedObject: {kind: ClusterPolicy, name: require-team-label, apiVersion: kyverno.io/v1}
source: {component: kyverno-admission}
message: "Pod delta/shop-web-5f6d7-b5nfm: [check-team] fail (blocked); validation error: label team is required. rule check-team failed at path /metadata/labels/team/"
---
apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: pod-legacy-cron, namespace: delta}
scope: {apiVersion: v1, kind: Pod, name: legacy-cron, namespace: delta}
results:
- {policy: require-team-label, rule: check-team, result: fail, source: kyverno, message: "validation error: label team is required", timestamp: {seconds: 1795788000, nanos: 0}, properties: {process: background scan}}
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: shop-web-team-label, namespace: delta}
spec:
  exceptions: [{policyName: require-team-label, ruleNames: [check-team]}]
  match: {any: [{resources: {kinds: [Pod], namespaces: [delta], names: ["shop-web-*"]}}]}
"#;
