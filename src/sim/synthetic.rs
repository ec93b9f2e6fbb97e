//! Synthetic load for benchmarks: many realistic records (mostly denials, Kueue workloads,
//! pending GPU pods and pipeline components) spread over many clusters, deterministically.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::messages as msg;
use super::timeline::{Ms, abs, mins, stream};
use crate::model::{
    Change, ClusterId, ClusterUpdate, ComponentKind, ConnectionState, Denial, Enforcement, Engine, Evidence,
    EvidenceSource, GpuWorkload, ObjectRef, Observation, PendingGpuPod, PipelineComponent, PolicyRef, Record,
    Severity, Signal, WorkloadEvent, WorkloadState,
};

const ENVS: [&str; 3] = ["prod", "staging", "dev"];
const REGIONS: [&str; 6] =
    ["eu-west-1", "us-east-1", "us-west-2", "ap-south-1", "eu-central-1", "ap-northeast-1"];
const NAMESPACES: [&str; 8] =
    ["shop", "search", "payments", "ml-platform", "research", "checkout", "identity", "media"];
const APPS: [&str; 10] =
    ["api", "worker", "frontend", "indexer", "scorer", "gateway", "cron", "consumer", "backfill", "trainer"];

/// `records` upserts (each a distinct record) over `clusters` clusters, after a connect burst.
///
/// Records are spread evenly over 30 minutes from `start`: about 45 % denials, 25 % Kueue
/// workloads, 15 % pending GPU pods and 15 % pipeline components. Same seed, same output.
pub fn synthetic_load(seed: u64, clusters: usize, records: usize, start: Timestamp) -> Vec<Observation> {
    let mut rng = stream(seed, "synthetic");
    let n = clusters.max(1);
    let ids: Vec<ClusterId> = (0..n)
        .map(|i| ClusterId::new(format!("{}-{}-{i:03}", ENVS[i % ENVS.len()], REGIONS[i % REGIONS.len()])))
        .collect();
    let mut out = Vec::with_capacity(records + 2 * n);
    for (i, id) in ids.iter().enumerate() {
        let labels: BTreeMap<String, String> =
            [("env", ENVS[i % ENVS.len()]), ("region", REGIONS[i % REGIONS.len()])]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        out.push(Observation {
            at: abs(start, i as Ms),
            cluster: id.clone(),
            change: Change::Cluster(ClusterUpdate {
                connection: Some(ConnectionState::Connected),
                server_version: Some(format!("v1.{}.{}", rng.random_range(29..=32), rng.random_range(1..12))),
                latency_ms: Some(rng.random_range(20..250)),
                labels: Some(labels),
            }),
        });
    }
    let step = (mins(30) / records.max(1) as Ms).max(1);
    let base = n as Ms;
    for i in 0..records {
        let t = base + i as Ms * step;
        let at = abs(start, t);
        let cluster = ids[rng.random_range(0..n)].clone();
        let roll = rng.random_range(0..100);
        let record = match roll {
            0..45 => Record::Denial(denial(&mut rng, i, at)),
            45..70 => Record::GpuWorkload(workload(&mut rng, i, at)),
            70..85 => Record::PendingGpuPod(pending_pod(&mut rng, i, at)),
            _ => Record::Pipeline(pipeline(&mut rng, i, at)),
        };
        out.push(Observation { at, cluster, change: Change::Upsert { record } });
    }
    out
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn denial(rng: &mut ChaCha8Rng, i: usize, at: Timestamp) -> Denial {
    let ns = pick(rng, &NAMESPACES);
    let app = format!("{}-{i}", pick(rng, &APPS));
    let rs = format!("{app}-{}", msg::template_hash(rng));
    let pod = format!("{rs}-{}", msg::k8s_suffix(rng, 5));
    let (engine, policy, rule, message) = match rng.random_range(0..5) {
        0 => {
            let inner = msg::kyverno_blocked(
                "Pod",
                ns,
                &pod,
                "require-run-as-nonroot",
                "run-as-non-root",
                "validation error: Running as root is not allowed.",
            );
            (
                Engine::Kyverno,
                ("ClusterPolicy", "require-run-as-nonroot"),
                "run-as-non-root",
                msg::error_creating(&msg::webhook_denied("validate.kyverno.svc-fail", &inner)),
            )
        }
        1 => (
            Engine::PodSecurity,
            ("PodSecurity", "restricted:latest"),
            "allowPrivilegeEscalation",
            msg::error_creating(&msg::forbidden(
                "pods",
                &pod,
                &msg::pod_security("restricted:latest", &msg::restricted_detail("app")),
            )),
        ),
        2 => (
            Engine::Gatekeeper,
            ("K8sRequiredLabels", "k8srequiredlabels-owner"),
            "owner",
            msg::error_creating(&msg::webhook_denied(
                "validation.gatekeeper.sh",
                &msg::gatekeeper("k8srequiredlabels-owner", "you must provide labels: {\"owner\"}"),
            )),
        ),
        3 => (
            Engine::ResourceQuota,
            ("ResourceQuota", "compute-quota"),
            "requests.cpu",
            msg::error_creating(&msg::forbidden(
                "pods",
                &pod,
                &msg::quota_exceeded(
                    "compute-quota",
                    "requests.cpu=1",
                    "requests.cpu=19500m",
                    "requests.cpu=20",
                ),
            )),
        ),
        _ => (
            Engine::ValidatingAdmissionPolicy,
            ("ValidatingAdmissionPolicy", "replica-limit.example.com"),
            "object.spec.replicas <= 5",
            msg::forbidden(
                "deployments.apps",
                &app,
                &msg::vap_denied(
                    "replica-limit.example.com",
                    "replica-limit-binding",
                    "failed expression: object.spec.replicas <= 5",
                ),
            ),
        ),
    };
    let count = rng.random_range(1..200);
    Denial {
        class: Default::default(),
        id: format!("event/{}/{ns}/{rs}/{i}", engine.label()),
        engine,
        enforcement: Enforcement::Deny,
        policy: Some(PolicyRef {
            kind: policy.0.into(),
            name: policy.1.into(),
            namespace: None,
            generation: Some(rng.random_range(1..6)),
            resource_version: None,
        }),
        webhook: None,
        binding: None,
        rule: Some(rule.into()),
        object: ObjectRef { kind: "Pod".into(), namespace: Some(ns.into()), name: format!("{rs}-") },
        operation: Some("CREATE".into()),
        user: None,
        message: message.clone(),
        count,
        first_seen: abs(at, -(count as Ms) * 30_000),
        last_seen: at,
        severity: Some([Severity::Low, Severity::Medium, Severity::High][rng.random_range(0..3)]),
        category: None,
        owner: Some(format!("team-{ns}")),
        exceptions: Vec::new(),
        evidence: vec![Evidence {
            source: EvidenceSource::Event,
            reference: format!("Event {ns}/{}", msg::event_name(rng, &rs)),
            at,
            excerpt: message,
        }],
    }
}

fn workload(rng: &mut ChaCha8Rng, i: usize, at: Timestamp) -> GpuWorkload {
    let ns = pick(rng, &["research", "team-a", "team-b", "ml-platform"]);
    let job = format!("{}-{i}", pick(rng, &APPS));
    let gpus = [1, 2, 4, 8, 16][rng.random_range(0..5)];
    let flavor = pick(rng, &["a100-80gb", "h100-80gb"]);
    let created = abs(at, -rng.random_range(60_000..86_400_000));
    let (state, admitted_at, position) = match rng.random_range(0..10) {
        0..5 => (WorkloadState::Admitted, Some(at), None),
        5..8 => (
            WorkloadState::Pending {
                reason: "Pending".into(),
                message: msg::kueue_pending("main", &[(flavor, rng.random_range(1..=gpus))]),
            },
            None,
            Some(rng.random_range(1..50)),
        ),
        8 => (
            WorkloadState::Evicted {
                reason: "Preempted".into(),
                message: msg::kueue_preempted(
                    &msg::uid(rng),
                    &msg::uid(rng),
                    msg::PreemptReason::InCohortReclamation,
                ),
            },
            None,
            None,
        ),
        _ => (WorkloadState::Finished { succeeded: rng.random_bool(0.9) }, Some(created), None),
    };
    GpuWorkload {
        namespace: ns.into(),
        name: format!("job-{job}-{}", msg::hex(rng, 5)),
        uid: None,
        owner: Some(format!("Job/{job}")),
        local_queue: "default".into(),
        cluster_queue: Some(ns.into()),
        team: Some(ns.into()),
        priority_class: Some("standard".into()),
        priority: 500,
        gpus,
        cpu: None,
        memory: None,
        flavor: admitted_at.map(|_| flavor.to_string()),
        state,
        created_at: created,
        admitted_at,
        position,
        history: vec![WorkloadEvent { at: created, what: "Created in LocalQueue default".into() }],
    }
}

fn pending_pod(rng: &mut ChaCha8Rng, i: usize, at: Timestamp) -> PendingGpuPod {
    let total = rng.random_range(8..200);
    let tainted = rng.random_range(1..total.min(16));
    let reasons = [
        ("Insufficient nvidia.com/gpu", total - tainted),
        ("node(s) had untolerated taint {nvidia.com/gpu: present}", tainted),
    ];
    let message = msg::failed_scheduling(
        total,
        &reasons,
        &[
            ("No preemption victims found for incoming pod", total - tainted),
            ("Preemption is not helpful for scheduling", tainted),
        ],
    );
    let (nodes_total, reasons) = msg::parse_failed_scheduling(&message);
    let ns = pick(rng, &NAMESPACES);
    PendingGpuPod {
        namespace: ns.into(),
        name: format!("{}-{i}-{}", pick(rng, &APPS), msg::k8s_suffix(rng, 5)),
        team: Some(ns.into()),
        resource: "nvidia.com/gpu".into(),
        gpus: [1, 2, 4, 8][rng.random_range(0..4)],
        since: abs(at, -rng.random_range(10_000..7_200_000)),
        message: Some(message),
        reasons,
        nodes_total,
    }
}

fn pipeline(rng: &mut ChaCha8Rng, i: usize, at: Timestamp) -> PipelineComponent {
    let signal = [Signal::Traces, Signal::Metrics, Signal::Logs][rng.random_range(0..3)];
    let (kind, name) = match rng.random_range(0..3) {
        0 => (ComponentKind::Receiver, "otlp"),
        1 => (ComponentKind::Processor, "batch"),
        _ => (ComponentKind::Exporter, "otlphttp/backend"),
    };
    let rate = msg::round1(rng.random_range(100.0..60_000.0));
    let exporter = kind == ComponentKind::Exporter;
    let failing = exporter && rng.random_bool(0.05);
    PipelineComponent {
        workload: format!("observability/otel-gateway-{i}"),
        kind,
        name: name.into(),
        signal,
        accepted_per_s: if exporter { 0.0 } else { rate },
        refused_per_s: 0.0,
        sent_per_s: if kind == ComponentKind::Receiver { 0.0 } else { rate },
        send_failed_per_s: if failing { msg::round1(rate * 0.2) } else { 0.0 },
        enqueue_failed_per_s: 0.0,
        queue_size: exporter.then(|| rng.random_range(0..if failing { 5_000 } else { 50 })),
        queue_capacity: exporter.then_some(5_000),
        scraped_at: at,
        scrape_error: None,
    }
}
