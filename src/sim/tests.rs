//! Tests of the simulator: determinism, the demo's story, and the message formats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use super::timeline::{Ms, abs, mins, secs};
use super::*;
use crate::model::{
    Change, ConnectionState, Engine, ExceptionStatus, PipelineHealth, Record, RecordKind, SourceKind,
    SourceState, WorkloadState,
};

fn demo() -> Simulation {
    demo_incident(DEMO_SEED, demo_start())
}

fn at(sim: &Simulation, offset: Ms) -> FleetState {
    sim.state_at(abs(sim.start, offset))
}

#[test]
fn demo_start_is_the_documented_moment() {
    assert_eq!(demo_start().to_string(), "2026-11-27T14:00:00Z");
}

#[test]
fn same_seed_gives_byte_identical_observations() {
    let a = serde_json::to_string(&demo().observations).expect("serialise");
    let b = serde_json::to_string(&demo().observations).expect("serialise");
    assert_eq!(a, b);
    let c =
        serde_json::to_string(&demo_incident(DEMO_SEED + 1, demo_start()).observations).expect("serialise");
    assert_ne!(a, c);
}

#[test]
fn observations_are_sorted_within_the_window_and_sized() {
    let sim = demo();
    assert!(sim.observations.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(sim.observations.iter().all(|o| o.at >= sim.start && o.at < sim.end));
    let n = sim.observations.len();
    assert!((2_000..10_000).contains(&n), "{n} observations");
    assert_eq!(sim.clusters.len(), 5);
    assert_eq!(sim.end.duration_since(sim.start).as_secs(), 30 * 60);
}

#[test]
fn a_later_start_shifts_every_timestamp() {
    let later = abs(demo_start(), mins(60));
    let a = demo();
    let b = demo_incident(DEMO_SEED, later);
    assert_eq!(a.observations.len(), b.observations.len());
    for (x, y) in a.observations.iter().zip(&b.observations) {
        assert_eq!(y.at.duration_since(x.at).as_secs(), 3600);
    }
}

#[test]
fn initial_lists_are_wrapped_in_sync_brackets() {
    let sim = demo();
    let mut open: BTreeSet<(String, RecordKind)> = BTreeSet::new();
    let mut closed: BTreeSet<(String, RecordKind)> = BTreeSet::new();
    for o in &sim.observations {
        let c = o.cluster.as_str().to_string();
        match &o.change {
            Change::SyncStart { kind } => {
                open.insert((c, *kind));
            }
            Change::SyncEnd { kind } => {
                assert!(open.remove(&(c.clone(), *kind)));
                closed.insert((c, *kind));
            }
            Change::Upsert { record } => {
                let key = (c, record.kind());
                // The first upsert of each table comes inside its initial list.
                if !closed.contains(&key) {
                    assert!(open.contains(&key), "{key:?} upserted before its initial list");
                }
            }
            _ => {}
        }
    }
    assert!(open.is_empty());
    assert!(closed.len() >= 20);
}

#[test]
fn at_25m_the_fleet_shows_the_incident() {
    let sim = demo();
    let s = at(&sim, mins(25));
    assert_eq!(s.clusters().len(), 5);
    let unreachable: Vec<_> = s
        .clusters()
        .values()
        .filter(|c| matches!(c.connection, ConnectionState::Unreachable { .. }))
        .collect();
    assert_eq!(unreachable.len(), 1);
    let ap = unreachable[0];
    assert_eq!(ap.id.as_str(), "prod-ap-south-1");
    match &ap.connection {
        ConnectionState::Unreachable { error, .. } => {
            assert_eq!(error, "dial tcp 10.40.0.1:443: i/o timeout")
        }
        _ => unreachable!(),
    }
    assert!(ap.sources.values().any(|st| matches!(st, SourceState::Stale { .. })));
    assert!(
        ap.forbidden_sources()
            .any(|(k, m)| k == SourceKind::PolicyReports
                && m.contains("cannot list resource \"policyreports\""))
    );
    // Its data stays, aging.
    let ap_id = ap.id.clone();
    assert!(FleetState::in_cluster(s.gpu_nodes(), &ap_id).count() > 0);
    assert!(FleetState::in_cluster(s.pipelines(), &ap_id).count() > 0);
    for c in s.clusters().values().filter(|c| c.id != ap_id) {
        assert_eq!(c.connection, ConnectionState::Connected, "{}", c.id);
        assert!(c.server_version.as_deref().is_some_and(|v| v.starts_with("v1.3")));
        assert!(c.latency_ms.is_some_and(|l| (15..=260).contains(&l)));
        assert!(c.labels.contains_key("env") && c.labels.contains_key("region"));
        assert!(c.sources.values().any(|st| *st == SourceState::NotInstalled));
    }
    // Generation 4 of the rolled-out policy denies in three clusters; generation 3 findings remain.
    let mut gen4 = BTreeSet::new();
    let mut gen3 = 0;
    for (id, d) in s.denials() {
        if d.policy_name() == "require-run-as-nonroot" {
            match d.policy.as_ref().and_then(|p| p.generation) {
                Some(4) => {
                    gen4.insert(id.cluster.clone());
                }
                Some(3) => gen3 += 1,
                other => panic!("unexpected generation {other:?}"),
            }
        }
    }
    assert_eq!(gen4.len(), 3, "{gen4:?}");
    assert!(gen3 >= 1);
    // At least one workload was preempted.
    let preempted = s.gpu_workloads().values().filter(|w| {
        matches!(&w.state, WorkloadState::Evicted { reason, .. } if reason == "Preempted")
            || w.history.iter().any(|e| {
                e.what.starts_with("Evicted=True (Preempted): Preempted to accommodate a workload (UID: ")
            })
    });
    assert!(preempted.count() >= 3);
    // Exceptions: at least one expired (still present) and one expiring.
    let snap = s.snapshot();
    let statuses: Vec<ExceptionStatus> = snap.exceptions.iter().map(|e| e.derived.status).collect();
    assert!(statuses.contains(&ExceptionStatus::Expired), "{statuses:?}");
    assert!(statuses.contains(&ExceptionStatus::Expiring), "{statuses:?}");
    assert!(statuses.contains(&ExceptionStatus::NoExpiry));
    assert!(statuses.contains(&ExceptionStatus::Active));
}

#[test]
fn the_otel_gateway_loses_data_mid_incident_and_recovers() {
    let sim = demo();
    let losing = |s: &FleetState| {
        s.pipelines()
            .iter()
            .filter(|(_, p)| p.health(&crate::model::Verdicts::default()) == PipelineHealth::Losing)
            .map(|(id, p)| (id.cluster.clone(), p.key()))
            .collect::<Vec<_>>()
    };
    let before = at(&sim, mins(9));
    assert!(losing(&before).is_empty());
    let mid = at(&sim, mins(18));
    let l = losing(&mid);
    assert!(!l.is_empty());
    assert!(l.iter().all(|(c, k)| c.as_str() == "prod-eu-west-1" && k.contains("otlphttp/backend")), "{l:?}");
    let full = mid
        .pipelines()
        .values()
        .filter(|p| p.queue_size.is_some() && p.queue_size == p.queue_capacity)
        .count();
    assert!(full >= 1);
    let end = sim.state_at(sim.end);
    assert!(losing(&end).is_empty());
    // The staging agent's scrape failure shows, then clears.
    let scrape = at(&sim, mins(8));
    assert!(
        scrape
            .pipelines()
            .values()
            .any(|p| p.health(&crate::model::Verdicts::default()) == PipelineHealth::ScrapeFailed)
    );
    assert!(
        end.pipelines()
            .values()
            .all(|p| p.health(&crate::model::Verdicts::default()) != PipelineHealth::ScrapeFailed)
    );
}

#[test]
fn denials_repeat_with_growing_counts_and_evidence() {
    let sim = demo();
    let mut counts: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for o in &sim.observations {
        if let Change::Upsert { record: Record::Denial(d) } = &o.change {
            counts.entry((o.cluster.to_string(), d.id.clone())).or_default().push(d.count);
            assert!(!d.evidence.is_empty());
            assert!(d.first_seen <= d.last_seen);
        }
    }
    assert!(counts.values().all(|c| c.windows(2).all(|w| w[0] <= w[1])));
    assert!(counts.values().any(|c| c.len() >= 10));
    let end = sim.state_at(sim.end);
    let payments = end
        .denials()
        .values()
        .find(|d| !d.exceptions.is_empty())
        .expect("a denial joined to the incident exception");
    assert_eq!(payments.exceptions, vec!["shop/payments-runasroot-incident-4711".to_string()]);
    assert!(end.exceptions().values().any(|e| e.name == "payments-runasroot-incident-4711"));
    // The TTL-expired exception was cleaned up by Kyverno during the incident.
    assert!(!end.exceptions().values().any(|e| e.name == "checkout-hostpath-debug"));
    assert!(at(&sim, mins(5)).exceptions().values().any(|e| e.name == "checkout-hostpath-debug"));
}

#[test]
fn demo_messages_match_the_real_formats() {
    let end = demo().state_at(demo().end);
    let by_engine = |e: Engine| end.denials().values().filter(move |d| d.engine == e).collect::<Vec<_>>();
    let kyverno = by_engine(Engine::Kyverno);
    assert!(kyverno.iter().any(|d| d.message.starts_with(
        "Error creating: admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource Pod/"
    ) && d.message.contains(" was blocked due to the following policies \n\nrequire-run-as-nonroot:\n  run-as-non-root: 'validation error: ")));
    assert!(kyverno.iter().any(|d| d.evidence.iter().any(|e| {
        e.excerpt.starts_with("Deployment shop/payments: [autogen-run-as-non-root] fail (blocked); ")
    })));
    assert!(kyverno.iter().any(|d| {
        d.evidence.iter().any(|e| e.excerpt.starts_with("(combined from similar events): Error creating: "))
    }));
    assert!(
        kyverno.iter().flat_map(|d| &d.evidence).any(|e| e.reference.starts_with("Event shop/payments-"))
    );
    let vap = by_engine(Engine::ValidatingAdmissionPolicy);
    assert_eq!(
        vap[0].message,
        "deployments.apps \"batch-scorer\" is forbidden: ValidatingAdmissionPolicy 'replica-limit.example.com' with binding 'replica-limit-binding' denied request: failed expression: object.spec.replicas <= 5"
    );
    assert_eq!(vap[0].binding.as_deref(), Some("replica-limit-binding"));
    let psa = by_engine(Engine::PodSecurity);
    assert!(psa[0].message.starts_with("Error creating: pods \"legacy-ftp-"));
    assert!(psa[0].message.contains("\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"ftp\""));
    let gk = by_engine(Engine::Gatekeeper);
    assert_eq!(
        gk[0].message,
        "Error creating: admission webhook \"validation.gatekeeper.sh\" denied the request: [k8srequiredlabels-owner] you must provide labels: {\"owner\"}"
    );
    let quota = by_engine(Engine::ResourceQuota);
    assert!(quota[0].message.contains(
        "is forbidden: exceeded quota: search-quota, requested: requests.cpu=2, used: requests.cpu="
    ));
    // The istio sidecar injector's timeout: a webhook that could not be called, not a denial.
    let down = by_engine(Engine::Webhook);
    assert!(down[0].message.starts_with("Error creating: Internal error occurred: failed calling webhook "));
    assert_eq!(down[0].webhook.as_deref(), Some("namespace.sidecar-injector.istio.io"));
    assert!(matches!(
        down[0].class,
        crate::model::DenialClass::WebhookUnavailable { failure: crate::model::FailureKind::Timeout, .. }
    ));
    // Kueue.
    let pending: Vec<_> = demo_incident(DEMO_SEED, demo_start())
        .observations
        .into_iter()
        .filter_map(|o| match o.change {
            Change::Upsert { record: Record::GpuWorkload(w) } => match w.state {
                WorkloadState::Pending { message, .. } => Some(message),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert!(pending.iter().all(|m| m.starts_with(
        "couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor "
    )));
    assert!(pending.iter().any(|m| m == "couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor h100-80gb, 4 more needed"));
    // Pending pods: reasons parsed from the real FitError shape and adding up.
    assert!(end.pending_gpu_pods().len() >= 3);
    for p in end.pending_gpu_pods().values() {
        let m = p.message.as_deref().expect("message");
        assert!(m.starts_with(&format!("0/{} nodes are available: ", p.nodes_total.expect("total"))));
        assert!(m.contains(". preemption: 0/"));
        assert_eq!(p.reasons.iter().map(|(_, n)| n).sum::<u32>(), p.nodes_total.expect("total"));
    }
    assert!(end.pending_gpu_pods().values().any(|p| p.message.as_deref()
        == Some("0/40 nodes are available: 3 node(s) had untolerated taint {nvidia.com/gpu: present}, 37 Insufficient nvidia.com/gpu. preemption: 0/40 nodes are available: 3 Preemption is not helpful for scheduling, 37 No preemption victims found for incoming pod.")));
}

#[test]
fn kueue_usage_stays_within_quota_and_positions_are_dense() {
    let sim = demo();
    for o in &sim.observations {
        let Change::Upsert { record } = &o.change else {
            continue;
        };
        match record {
            Record::GpuQueue(q) => {
                for f in &q.quotas {
                    assert!(f.used <= f.nominal + f.borrowing_limit.unwrap_or(f64::MAX), "{q:?}");
                    assert!(f.borrowed >= 0.0);
                }
            }
            Record::GpuWorkload(w) => {
                assert_eq!(w.position.is_some(), matches!(w.state, WorkloadState::Pending { .. }), "{w:?}");
                assert!(w.history.windows(2).all(|h| h[0].at <= h[1].at));
            }
            _ => {}
        }
    }
    for t in [mins(1), mins(16), mins(25)] {
        let s = at(&sim, t);
        let mut cohort: BTreeMap<String, f64> = BTreeMap::new();
        for (id, q) in s.gpu_queues() {
            if id.cluster.as_str() == "gpu-train-us" {
                // GPUs only (the queues also carry CPU and memory quota).
                for f in q.quotas.iter().filter(|f| crate::model::is_gpu_resource(&f.resource)) {
                    *cohort.entry(f.flavor.clone()).or_default() += f.used;
                }
            }
        }
        assert!(cohort.get("h100-80gb").is_some_and(|u| *u <= 48.0), "{cohort:?}");
        assert!(cohort.get("a100-80gb").is_some_and(|u| *u <= 32.0), "{cohort:?}");
        let mut positions: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for w in s.gpu_workloads().values() {
            if let Some(p) = w.position {
                positions.entry(w.cluster_queue.clone().unwrap_or_default()).or_default().push(p);
            }
        }
        for v in positions.values_mut() {
            v.sort_unstable();
            assert_eq!(*v, (1..=v.len() as u32).collect::<Vec<_>>());
        }
    }
    // After the wave, team-a borrows and research no longer does.
    let s = at(&sim, mins(16));
    let h100 = |name: &str| {
        let q = s.gpu_queues().values().find(|q| q.name == name).expect("queue");
        q.quotas.iter().find(|f| f.flavor == "h100-80gb").map(|f| (f.used, f.borrowed)).expect("h100 quota")
    };
    assert_eq!(h100("team-a"), (28.0, 4.0));
    assert_eq!(h100("research"), (8.0, 0.0));
    let before = at(&sim, mins(10));
    let research = before.gpu_queues().values().find(|q| q.name == "research").expect("queue");
    assert_eq!(research.gpu_totals().2, 24.0);
}

#[test]
fn gpu_nodes_show_allocation_idleness_and_special_nodes() {
    let sim = demo();
    let s = at(&sim, mins(25));
    let nodes: Vec<_> = s
        .gpu_nodes()
        .iter()
        .filter(|(id, _)| id.cluster.as_str() == "gpu-train-us")
        .map(|(_, n)| n)
        .collect();
    assert!((8..=12).contains(&nodes.len()));
    assert!(nodes.iter().any(|n| !n.schedulable));
    assert!(nodes.iter().any(|n| n.mig.as_deref() == Some("mixed")));
    assert!(nodes.iter().any(|n| n.product.as_deref() == Some("NVIDIA-H100-80GB-HBM3")));
    assert!(nodes.iter().any(|n| n.product.as_deref() == Some("NVIDIA-A100-SXM4-80GB")));
    for n in &nodes {
        assert_eq!(n.allocated as usize, n.devices.iter().filter(|d| d.pod.is_some()).count());
        assert!(n.allocated <= n.allocatable);
    }
    let idle = nodes
        .iter()
        .flat_map(|n| &n.devices)
        .filter(|d| d.pod.is_some() && d.utilization_pct.is_some_and(|u| u < 5.0));
    assert!(idle.count() >= 2);
    let busy = nodes.iter().flat_map(|n| &n.devices).filter(|d| d.utilization_pct.is_some_and(|u| u > 70.0));
    assert!(busy.count() >= 16);
    // Telemetry arrives about every 15 s per node.
    let samples = sim
        .observations
        .iter()
        .filter(|o| matches!(&o.change, Change::Upsert { record: Record::GpuNode(n) } if n.name == "h100-node-01"))
        .count();
    assert!((100..=130).contains(&samples), "{samples}");
}

#[test]
fn nothing_arrives_from_the_unreachable_cluster_after_it_drops() {
    let sim = demo();
    let drop = abs(sim.start, clusters::UNREACHABLE_AT + secs(1));
    assert!(!sim.observations.iter().any(|o| o.cluster.as_str() == "prod-ap-south-1" && o.at > drop));
}

#[test]
fn failed_scheduling_parses_the_reference_example() {
    let m = "0/40 nodes are available: 32 Insufficient nvidia.com/gpu, 8 node(s) had untolerated taint {nvidia.com/gpu: present}. preemption: 0/40 nodes are available: 32 No preemption victims found for incoming pod, 8 Preemption is not helpful for scheduling.";
    let built = messages::failed_scheduling(
        40,
        &[
            ("node(s) had untolerated taint {nvidia.com/gpu: present}", 8),
            ("Insufficient nvidia.com/gpu", 32),
        ],
        &[
            ("Preemption is not helpful for scheduling", 8),
            ("No preemption victims found for incoming pod", 32),
        ],
    );
    assert_eq!(built, m);
    let (total, reasons) = messages::parse_failed_scheduling(m);
    assert_eq!(total, Some(40));
    assert_eq!(
        reasons,
        vec![
            ("Insufficient nvidia.com/gpu".to_string(), 32),
            ("node(s) had untolerated taint {nvidia.com/gpu: present}".to_string(), 8)
        ]
    );
}

#[test]
fn synthetic_load_is_deterministic_and_large() {
    let start = demo_start();
    let a = serde_json::to_string(&synthetic_load(3, 4, 500, start)).expect("serialise");
    let b = serde_json::to_string(&synthetic_load(3, 4, 500, start)).expect("serialise");
    assert_eq!(a, b);
    let obs = synthetic_load(DEMO_SEED, 50, 100_000, start);
    let upserts = obs.iter().filter(|o| matches!(o.change, Change::Upsert { .. })).count();
    assert!(upserts >= 100_000);
    assert!(obs.windows(2).all(|w| w[0].at <= w[1].at));
    let mut state = FleetState::new(start);
    state.apply_all(&obs);
    assert!(state.record_count() >= 100_000);
    assert_eq!(state.clusters().len(), 50);
    assert!(state.denials().len() > 40_000);
    assert!(state.gpu_workloads().len() > 20_000);
    assert!(state.pending_gpu_pods().len() > 10_000);
    assert!(state.pipelines().len() > 10_000);
}

#[test]
#[ignore = "prints a summary of the demo; run with --ignored --nocapture"]
fn print_demo_summary() {
    let sim = demo();
    let json = serde_json::to_string(&sim.observations).expect("serialise");
    println!("observations: {} ({} bytes of JSON)", sim.observations.len(), json.len());
    let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
    for o in &sim.observations {
        let k = match &o.change {
            Change::Upsert { record } => format!("upsert {:?}", record.kind()),
            other => format!("{:?}", std::mem::discriminant(other)),
        };
        *per_kind.entry(k).or_default() += 1;
    }
    println!("{per_kind:#?}");
    for t in [mins(10), mins(14), mins(16), mins(18), mins(24), mins(29)] {
        let s = at(&sim, t);
        for p in s.pipelines().values().filter(|p| p.name == "otlphttp/backend") {
            if p.workload == "observability/otel-gateway"
                && p.signal == crate::model::Signal::Traces
                && p.send_failed_per_s + p.enqueue_failed_per_s + p.queue_size.unwrap_or(0) as f64 > 100.0
            {
                println!(
                    "+{}m {} sent {} failed {} enq_failed {} queue {:?} {:?}",
                    t / 60000,
                    p.key(),
                    p.sent_per_s,
                    p.send_failed_per_s,
                    p.enqueue_failed_per_s,
                    p.queue_size,
                    p.health(&crate::model::Verdicts::default())
                );
            }
        }
    }
    let s = at(&sim, mins(25));
    for (id, w) in s.gpu_workloads() {
        println!("{} {} {} {:?} pos={:?}", id.cluster, w.name, w.state.label(), w.flavor, w.position);
    }
    for (id, d) in s.denials() {
        println!(
            "{} {} {} x{} {:?}",
            id.cluster,
            d.engine.label(),
            d.policy.as_ref().map(|p| p.display()).unwrap_or_default(),
            d.count,
            d.object.display()
        );
    }
    let w = s.gpu_workloads().values().find(|w| w.name.contains("ablation-b")).expect("wl");
    for h in &w.history {
        println!("  {} {}", h.at, h.what);
    }
}

#[test]
fn the_rollout_policy_changes_generation_just_before_its_denials_start() {
    let sim = demo();
    let policy = |s: &FleetState, cluster: &str| {
        s.policies()
            .iter()
            .find(|(id, p)| id.cluster.as_str() == cluster && p.name == super::denials::ROLLOUT_POLICY)
            .map(|(_, p)| (p.generation, p.enforcement))
    };
    let before = at(&sim, mins(5));
    let after = at(&sim, mins(25));
    for cluster in [clusters::PROD_EU, clusters::STAGING_EU, clusters::PROD_US] {
        assert_eq!(
            policy(&before, cluster),
            Some((Some(3), Some(crate::model::Enforcement::Audit))),
            "{cluster}"
        );
        assert_eq!(
            policy(&after, cluster),
            Some((Some(4), Some(crate::model::Enforcement::Deny))),
            "{cluster}"
        );
        // Every generation-4 denial comes after generation 4 reached its cluster.
        let first_g4 = sim
            .observations
            .iter()
            .filter(|o| o.cluster.as_str() == cluster)
            .find_map(|o| match &o.change {
                Change::Upsert { record: Record::Denial(d) }
                    if d.policy.as_ref().and_then(|p| p.generation) == Some(4) =>
                {
                    Some(o.at)
                }
                _ => None,
            })
            .expect("generation 4 denies here");
        let rolled = sim
            .observations
            .iter()
            .filter(|o| o.cluster.as_str() == cluster)
            .find_map(|o| match &o.change {
                Change::Upsert { record: Record::Policy(p) } if p.generation == Some(4) => Some(o.at),
                _ => None,
            })
            .expect("generation 4 arrives");
        assert!(rolled < first_g4, "{cluster}: policy at {rolled}, first denial at {first_g4}");
    }
    assert_eq!(
        policy(&after, clusters::PROD_AP),
        Some((Some(3), Some(crate::model::Enforcement::Audit))),
        "never reached ap-south"
    );
}

#[test]
fn policy_reports_show_what_the_kyverno_exceptions_bypass() {
    let sim = demo();
    let eu = crate::model::ClusterId::new(clusters::PROD_EU);
    let incident = exceptions::INCIDENT_EXCEPTION;
    assert!(at(&sim, mins(20)).skips_naming(&eu, incident).next().is_none(), "before the exception");
    let late = at(&sim, mins(27));
    let reach = late.reach(&eu, incident);
    assert_eq!((reach.skipped_results, reach.skipped_objects), (4, 4));
    // The admitted pods are those of the ReplicaSet the rollout blocked.
    let blocked: BTreeSet<String> = late
        .denial_rows_in(&eu)
        .filter(|(_, d)| d.exceptions.iter().any(|e| e.ends_with(incident)))
        .map(|(_, d)| d.object.name.trim_end_matches('*').to_string())
        .collect();
    let pods: Vec<&str> = late
        .skips_naming(&eu, incident)
        .filter(|(_, s)| s.object.kind == "Pod")
        .map(|(_, s)| s.object.name.as_str())
        .collect();
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| blocked.iter().any(|b| p.starts_with(b.as_str()))), "{pods:?} {blocked:?}");
    // The TTL-cleaned exception's skips went with it; no report reaches prod-ap-south-1.
    assert!(at(&sim, mins(5)).reach(&eu, "checkout-hostpath-debug").skipped_results > 0);
    assert_eq!(late.reach(&eu, "checkout-hostpath-debug").skipped_results, 0);
    assert!(late.skips().keys().all(|id| id.cluster.as_str() != clusters::PROD_AP));
    assert!(late.skips().values().all(|s| !s.exceptions.is_empty()));
}
