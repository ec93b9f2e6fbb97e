//! Tests of the wait explanation: one small hand-checked fleet per blocker kind (the quota
//! and cohort arithmetic in comments), the demo's waiters, and real Kueue objects (tier 1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;

use super::*;
use crate::model::{
    Change, ClusterId, FlavorQuota, GpuNode, GpuQueue, GpuWorkload, Observation, PendingGpuPod, Record,
    WorkloadEvent, WorkloadState,
};

const GPU: &str = "nvidia.com/gpu";
const H100: &str = "h100-80gb";

/// `13:00` + `min` minutes on 2026-12-01.
fn t(min: i64) -> Timestamp {
    Timestamp::from_second(1_796_130_000 + min * 60).unwrap()
}

fn fleet(records: Vec<(&str, Record)>, now: i64) -> FleetState {
    let mut s = FleetState::new(t(0));
    for (c, r) in records {
        s.apply(&Observation { at: t(0), cluster: ClusterId::new(c), change: Change::Upsert { record: r } });
    }
    s.set_clock(t(now));
    s
}

/// A queue with one GPU flavor: (nominal, used, borrowing limit, lending limit).
fn queue(name: &str, cohort: Option<&str>, flavor: &str, q: (f64, f64, Option<f64>, Option<f64>)) -> Record {
    let (nominal, used, borrowing_limit, lending_limit) = q;
    Record::GpuQueue(GpuQueue {
        name: name.into(),
        cohort: cohort.map(str::to_string),
        team: None,
        quotas: vec![FlavorQuota {
            flavor: flavor.into(),
            resource: GPU.into(),
            nominal,
            borrowing_limit,
            lending_limit,
            used,
            reserved: used,
            borrowed: (used - nominal).max(0.0),
            product: None,
        }],
        pending_workloads: 0,
        admitted_workloads: 0,
        local_queues: vec![],
        api_version: "v1beta2".into(),
    })
}

fn workload(ns: &str, job: &str, cq: &str, priority: i32, gpus: u32, state: WorkloadState) -> GpuWorkload {
    GpuWorkload {
        namespace: ns.into(),
        name: format!("job-{job}-abcde"),
        uid: None,
        owner: Some(format!("Job/{job}")),
        local_queue: "default".into(),
        cluster_queue: Some(cq.into()),
        team: None,
        priority_class: None,
        priority,
        gpus,
        cpu: None,
        memory: None,
        flavor: None,
        state,
        created_at: t(0),
        admitted_at: None,
        position: None,
        history: vec![],
    }
}

/// An admitted workload holding `gpus` of `flavor` since `admitted` (minutes).
fn holder(ns: &str, job: &str, cq: &str, priority: i32, gpus: u32, flavor: &str, admitted: i64) -> Record {
    Record::GpuWorkload(GpuWorkload {
        flavor: Some(flavor.into()),
        admitted_at: Some(t(admitted)),
        ..workload(ns, job, cq, priority, gpus, WorkloadState::Admitted)
    })
}

fn pending(message: &str) -> WorkloadState {
    WorkloadState::Pending { reason: "Pending".into(), message: message.into() }
}

fn wl_id(c: &str, ns: &str, job: &str) -> RecordId {
    RecordId::new(ClusterId::new(c), format!("{ns}/job-{job}-abcde"))
}

fn node(
    name: &str,
    product: &str,
    allocatable: u32,
    allocated: u32,
    schedulable: bool,
    taints: &[&str],
) -> Record {
    Record::GpuNode(GpuNode {
        name: name.into(),
        product: Some(product.into()),
        capacity: allocatable,
        allocatable,
        allocated,
        mig: None,
        sharing: None,
        schedulable,
        taints: taints.iter().map(|s| s.to_string()).collect(),
        devices: vec![],
        telemetry_error: None,
    })
}

fn pod(ns: &str, name: &str, gpus: u32, message: &str) -> PendingGpuPod {
    let f = crate::sources::parse::scheduling::parse_failed_scheduling(message).unwrap();
    PendingGpuPod {
        namespace: ns.into(),
        name: name.into(),
        team: None,
        resource: GPU.into(),
        gpus,
        since: t(10),
        message: Some(message.into()),
        reasons: f.reasons,
        nodes_total: Some(f.nodes_total),
    }
}

fn step<'a>(w: &'a Wait, finding: &str) -> &'a Step {
    w.steps
        .iter()
        .find(|s| s.finding == finding)
        .unwrap_or_else(|| panic!("no {finding} step: {:#?}", w.steps))
}

/// The cohort `gpu-pool` of three queues with 8 H100s nominal each: team-a uses its 8,
/// team-b uses 14 (borrows 6: 8 since 13:00, then 6 more at 13:55), research uses none and
/// asks for 4.
fn borrowed_cohort() -> FleetState {
    let research = GpuWorkload {
        history: vec![WorkloadEvent {
            at: t(58),
            what: "QuotaReserved=False (Pending): couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor h100-80gb, 2 more needed".into(),
        }],
        ..workload(
            "research",
            "sweep",
            "research",
            100,
            4,
            pending("couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor h100-80gb, 2 more needed"),
        )
    };
    fleet(
        vec![
            ("c", queue("research", Some("gpu-pool"), H100, (8.0, 0.0, None, None))),
            ("c", queue("team-a", Some("gpu-pool"), H100, (8.0, 8.0, None, None))),
            ("c", queue("team-b", Some("gpu-pool"), H100, (8.0, 14.0, None, None))),
            ("c", holder("team-a", "a1", "team-a", 500, 8, H100, 30)),
            ("c", holder("team-b", "b1", "team-b", 500, 8, H100, 0)),
            ("c", holder("team-b", "b2", "team-b", 100, 6, H100, 55)),
            ("c", Record::GpuWorkload(research)),
        ],
        70,
    )
}

#[test]
fn waiting_for_quota_names_the_cohort_free_quota_and_the_borrower_since_it_borrows() {
    let s = borrowed_cohort();
    let w = explain_workload(&s, &wl_id("c", "research", "sweep")).unwrap();
    // research can use its nominal 8 + 8 + 8 lent = 24; in use 0 + 8 + 14 = 22: 2 free < 4.
    // team-b went over its nominal 8 when b2 (6) joined b1 (8) at 13:55.
    assert_eq!(w.verdict.class, WaitClass::WaitingForQuota);
    assert_eq!(
        w.verdict.words,
        "waiting for quota: research needs 4 h100-80gb, cohort gpu-pool has 2 free; team-b borrows 6 since 13:55"
    );
    let cohort = step(&w, "cohort");
    assert!(
        cohort
            .words
            .contains("research can use 24 (its nominal 8 + 16 lent by 2 other queues), 22 in use, 2 free"),
        "{}",
        cohort.words
    );
    assert_eq!(step(&w, "reason").since, Some(t(58)));
    // Holders: the borrowing queue's first (team-b: b2 at priority 100, then b1), then a1.
    let held: Vec<&str> =
        w.steps.iter().filter(|s| s.finding == "holder").map(|s| s.words.as_str()).collect();
    assert!(held[0].contains("team-b/job-b2-abcde"), "{held:?}");
    assert!(held[1].contains("team-b/job-b1-abcde") && held[2].contains("team-a/job-a1-abcde"), "{held:?}");
    assert_eq!(w.blocker(), Some(&Link::Workload(wl_id("c", "team-b", "b2"))), "the jump key's target");
    // research stays within its nominal (0 + 4 ≤ 8), so it may reclaim what team-b borrows:
    // b1 and b2 (14 GPUs) would cover the 2 short.
    let pre = step(&w, "preemption");
    assert!(pre.words.starts_with("2 preemption candidates could free 14"), "{}", pre.words);
    assert!(matches!(&pre.links[..], [Link::Workload(_), Link::Workload(_)]));
    assert_eq!(w.blockers()[0], &Link::Queue(RecordId::new(ClusterId::new("c"), "research")));
    // The estimated position (no visibility API): the only one pending.
    assert!(step(&w, "position").words.starts_with("about position 1 of 1 pending in research"));
}

#[test]
fn lending_and_borrowing_limits_bound_what_a_queue_can_get() {
    // research: nominal 4, uses 4, may borrow 10. team-a: nominal 8, lends at most 2, uses 4:
    // its 6 not lendable cover its use, so it adds 2 to the pool and nothing to its use.
    // team-b: nominal 8, uses 7. Pool 4 + 2 + 8 = 14, in use 4 + 0 + 7 = 11: 3 free; the
    // borrowing headroom 4 + 10 − 4 = 10 does not bind.
    let records = |limit: f64| {
        vec![
            ("c", queue("research", Some("p"), H100, (4.0, 4.0, Some(limit), None))),
            ("c", queue("team-a", Some("p"), H100, (8.0, 4.0, None, Some(2.0)))),
            ("c", queue("team-b", Some("p"), H100, (8.0, 7.0, None, None))),
        ]
    };
    let view = |s: &FleetState| {
        let q = s.gpu_queues().get(&RecordId::new(ClusterId::new("c"), "research")).unwrap();
        admission::flavor_view(s, &ClusterId::new("c"), q, &q.quotas[0])
    };
    let v = view(&fleet(records(10.0), 0));
    assert_eq!((v.pool, v.pool_used, v.available, v.maximum), (14.0, 11.0, 3.0, Some(14.0)));
    // A borrowing limit of 1: headroom 4 + 1 − 4 = 1 binds.
    let v = view(&fleet(records(1.0), 0));
    assert_eq!((v.available, v.maximum), (1.0, Some(5.0)));
    // team-a using 7 of its 8: 7 − 6 = 1 of its lendable 2 in use.
    let mut r = records(10.0);
    r[1] = ("c", queue("team-a", Some("p"), H100, (8.0, 7.0, None, Some(2.0))));
    let v = view(&fleet(r, 0));
    assert_eq!((v.pool, v.pool_used, v.available), (14.0, 12.0, 2.0));
}

#[test]
fn a_request_over_the_queue_maximum_can_never_be_admitted_as_is() {
    // No cohort: the maximum is the nominal 4; it asks for 8.
    let w = workload(
        "ml",
        "big",
        "solo",
        0,
        8,
        pending(
            "couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu in flavor a100, request > maximum capacity (8 > 4)",
        ),
    );
    let s = fleet(
        vec![("c", queue("solo", None, "a100", (4.0, 0.0, None, None))), ("c", Record::GpuWorkload(w))],
        5,
    );
    let w = explain_workload(&s, &wl_id("c", "ml", "big")).unwrap();
    assert_eq!(w.verdict.class, WaitClass::ExceedsMaxQuota);
    assert_eq!(
        step(&w, "maximum").words,
        "solo can have at most 4 a100 (nominal plus borrowing limit), it asks for 8"
    );
    assert!(
        w.verdict.words.starts_with("exceeds its queue's maximum quota: request exceeds maximum capacity"),
        "{}",
        w.verdict.words
    );
}

#[test]
fn flavor_queue_preemption_and_admission_check_reasons_are_classed() {
    for (reason, message, class) in [
        (
            "Pending",
            "couldn't assign flavors to pod set main: flavor h100 doesn't match node affinity",
            WaitClass::NoMatchingFlavor,
        ),
        (
            "Pending",
            "couldn't assign flavors to pod set main: untolerated taint gpu=broken:NoSchedule in flavor h100",
            WaitClass::NoMatchingFlavor,
        ),
        ("Inadmissible", "LocalQueue user-queue doesn't exist", WaitClass::QueueMissing),
        ("Inadmissible", "ClusterQueue solo is inactive", WaitClass::QueueMissing),
        ("Pending", "Pending the preemption of 1 workload(s)", WaitClass::WaitingForPreemptedWorkloads),
        ("Pending", "", WaitClass::Unknown),
    ] {
        let w = workload(
            "ml",
            "x",
            "solo",
            0,
            1,
            WorkloadState::Pending { reason: reason.into(), message: message.into() },
        );
        let s = fleet(
            vec![("c", queue("solo", None, "h100", (4.0, 0.0, None, None))), ("c", Record::GpuWorkload(w))],
            5,
        );
        let got = explain_workload(&s, &wl_id("c", "ml", "x")).unwrap();
        assert_eq!(got.verdict.class, class, "{message}");
        assert!(got.verdict.words.starts_with(class.words()), "{}", got.verdict.words);
    }
    let mut w = workload("ml", "x", "solo", 0, 1, WorkloadState::QuotaReserved);
    w.history.push(WorkloadEvent { at: t(3), what: "AdmissionCheck dws-prov: Pending".into() });
    let s = fleet(vec![("c", Record::GpuWorkload(w))], 5);
    let got = explain_workload(&s, &wl_id("c", "ml", "x")).unwrap();
    assert_eq!(got.verdict.class, WaitClass::WaitingForAdmissionChecks);
    assert_eq!(
        got.verdict.words,
        "waiting for admission checks: quota reserved in solo; AdmissionCheck dws-prov: Pending"
    );
    // The ClusterQueue is not watched: said so, not guessed.
    assert!(step(&got, "queue").words.contains("not watched"));
}

#[test]
fn a_queue_over_its_nominal_cannot_reclaim_and_has_no_lower_priority_victim() {
    // research: nominal 8, uses 12 (borrows 4) with priority 100 work; it asks 8 more at
    // priority 100: no one below 100 in research, and 12 + 8 > 8 rules out reclaiming.
    let w = workload(
        "research",
        "next",
        "research",
        100,
        8,
        pending(
            "couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor h100-80gb, 4 more needed",
        ),
    );
    let s = fleet(
        vec![
            ("c", queue("research", Some("p"), H100, (8.0, 12.0, None, None))),
            ("c", queue("team-a", Some("p"), H100, (8.0, 0.0, None, None))),
            ("c", holder("research", "r1", "research", 100, 12, H100, 20)),
            ("c", Record::GpuWorkload(w)),
        ],
        30,
    );
    let w = explain_workload(&s, &wl_id("c", "research", "next")).unwrap();
    // Pool 16, in use 12: 4 free < 8. research borrows 4 itself, since r1 (12 > 8) at 13:20.
    assert_eq!(
        w.verdict.words,
        "waiting for quota: research needs 8 h100-80gb, cohort p has 4 free; research itself borrows 4 since 13:20"
    );
    assert_eq!(
        step(&w, "preemption").words,
        "no preemption candidates: no workload in research has priority below 100; research would be over its nominal h100-80gb (12 used + 8 > 8), so it cannot reclaim from the cohort"
    );
}

#[test]
fn the_estimated_position_follows_priority_then_requeue_time() {
    let msg = "couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor h100-80gb, 8 more needed";
    // old: created first but requeued at 13:40 after an eviction; new: created at 13:10.
    let mut old = workload("ml", "old", "q", 100, 8, pending(msg));
    old.history.push(WorkloadEvent { at: t(40), what: "Requeued=True (Preempted): requeued".into() });
    let new = GpuWorkload { created_at: t(10), ..workload("ml", "new", "q", 100, 8, pending(msg)) };
    let high = GpuWorkload { created_at: t(45), ..workload("ml", "high", "q", 900, 8, pending(msg)) };
    let s = fleet(
        vec![
            ("c", queue("q", None, H100, (8.0, 8.0, None, None))),
            ("c", Record::GpuWorkload(old)),
            ("c", Record::GpuWorkload(new)),
            ("c", Record::GpuWorkload(high)),
        ],
        50,
    );
    let pos =
        |job: &str| step(&explain_workload(&s, &wl_id("c", "ml", job)).unwrap(), "position").words.clone();
    assert!(pos("high").starts_with("about position 1 of 3"), "{}", pos("high"));
    assert!(pos("new").starts_with("about position 2 of 3"), "{}", pos("new"));
    assert!(pos("old").starts_with("about position 3 of 3"), "{}", pos("old"));
    // The visibility API's position wins when read.
    let mut s2 = s.clone();
    let mut w = s.gpu_workloads().get(&wl_id("c", "ml", "old")).unwrap().clone();
    w.position = Some(1);
    s2.apply(&Observation {
        at: t(50),
        cluster: ClusterId::new("c"),
        change: Change::Upsert { record: Record::GpuWorkload(w) },
    });
    let got = explain_workload(&s2, &wl_id("c", "ml", "old")).unwrap();
    assert!(step(&got, "position").words.starts_with("position 1 of 3 pending in q (visibility API)"));
}

const PRODUCT: &str = "NVIDIA-H100-80GB-HBM3";

#[test]
fn tainted_nodes_that_would_fit_are_named_and_linked() {
    // n1: tainted, 4 free; n2: tainted, full; n3: untainted, 2 free. The pod asks for 4.
    let p = pod(
        "ml",
        "train-0",
        4,
        "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint {nvidia.com/gpu: maintenance}.",
    );
    let s = fleet(
        vec![
            ("c", node("n1", PRODUCT, 8, 4, true, &["nvidia.com/gpu=maintenance:NoSchedule"])),
            ("c", node("n2", PRODUCT, 8, 8, true, &["nvidia.com/gpu=maintenance:NoSchedule"])),
            ("c", node("n3", PRODUCT, 8, 6, true, &[])),
            ("c", Record::PendingGpuPod(p)),
        ],
        20,
    );
    let id = RecordId::new(ClusterId::new("c"), "ml/train-0");
    let w = explain_pod(&s, &id).unwrap();
    assert_eq!(w.verdict.class, WaitClass::UntoleratedTaint);
    assert_eq!(
        w.verdict.words,
        "untolerated taint: 1 node would fit without taint nvidia.com/gpu=maintenance: n1 (4 free)"
    );
    assert_eq!(step(&w, "taint").links, vec![Link::Node(RecordId::new(ClusterId::new("c"), "n1"))]);
    assert_eq!(
        step(&w, "nodes").words,
        // n1 has the 4 free GPUs but a taint the pod does not tolerate: not "no node has 4 free".
        "1 nodes: insufficient nvidia.com/gpu; the schedulable GPU nodes with 4 free (most: 4 on n1) are ruled out by the scheduler's other reasons"
    );
    assert_eq!(w.waited_s, 600);
}

#[test]
fn cordoned_nodes_that_would_fit_and_full_nodes() {
    let msg = "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) were unschedulable.";
    let s = fleet(
        vec![
            ("c", node("cordoned", PRODUCT, 8, 0, false, &[])),
            ("c", node("full", PRODUCT, 8, 6, true, &[])),
            ("c", Record::PendingGpuPod(pod("ml", "a", 4, msg))),
            (
                "c",
                Record::PendingGpuPod(pod(
                    "ml",
                    "b",
                    8,
                    "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
                )),
            ),
        ],
        20,
    );
    let a = explain_pod(&s, &RecordId::new(ClusterId::new("c"), "ml/a")).unwrap();
    assert_eq!(a.verdict.class, WaitClass::NodesCordoned);
    assert_eq!(a.verdict.words, "nodes cordoned: 1 cordoned node would fit if uncordoned: cordoned (8 free)");
    let b = explain_pod(&s, &RecordId::new(ClusterId::new("c"), "ml/b")).unwrap();
    assert_eq!(b.verdict.class, WaitClass::WaitingForNode);
    assert_eq!(b.verdict.words, "waiting for a node: no node has 8 free GPUs (most free: 2 on full)");
}

#[test]
fn another_cluster_with_the_product_and_free_quota_is_where_it_would_fit() {
    let s = fleet(
        vec![
            ("here", node("h1", PRODUCT, 8, 8, true, &[])),
            (
                "here",
                Record::PendingGpuPod(pod(
                    "ml",
                    "p",
                    4,
                    "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
                )),
            ),
            // Same product, 6 free on one node, queue with 8 free in a flavor named after it.
            ("there", node("t1", PRODUCT, 8, 2, true, &[])),
            ("there", queue("q", None, H100, (8.0, 0.0, None, None))),
            // Another product: not counted.
            ("other", node("o1", "NVIDIA-A100-SXM4-80GB", 8, 0, true, &[])),
            // Same product but no quota left.
            ("tight", node("x1", PRODUCT, 8, 0, true, &[])),
            ("tight", queue("q", None, H100, (8.0, 6.0, None, None))),
        ],
        20,
    );
    let w = explain_pod(&s, &RecordId::new(ClusterId::new("here"), "ml/p")).unwrap();
    let fleet: Vec<&str> =
        w.steps.iter().filter(|s| s.stage == Stage::Fleet).map(|s| s.words.as_str()).collect();
    assert_eq!(
        fleet,
        [
            "4 × NVIDIA-H100-80GB-HBM3 would fit now on there",
            "there: would fit now: t1 has 6 free; ClusterQueue q has 8 free in h100-80gb",
            "tight: would not fit now: x1 has 8 free; ClusterQueue q has 2 free in h100-80gb",
        ]
    );
}

#[test]
fn a_pod_of_an_admitted_workload_is_part_of_its_chain_and_listed_once() {
    let s = fleet(
        vec![
            ("c", queue("q", None, H100, (8.0, 8.0, None, None))),
            ("c", holder("ml", "train", "q", 0, 8, H100, 5)),
            ("c", node("n1", PRODUCT, 8, 4, true, &[])),
            (
                "c",
                Record::PendingGpuPod(pod(
                    "ml",
                    "train-0-x1y2z",
                    8,
                    "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
                )),
            ),
            (
                "c",
                Record::PendingGpuPod(pod(
                    "ml",
                    "lonely",
                    1,
                    "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
                )),
            ),
        ],
        20,
    );
    let all = waiters(&s);
    let names: Vec<(SubjectKind, &str)> = all.iter().map(|w| (w.kind, w.name.as_str())).collect();
    // The workload was created at 13:00, the pods at 13:10: longest wait first.
    assert_eq!(names, [(SubjectKind::Workload, "job-train-abcde"), (SubjectKind::Pod, "lonely")]);
    let w = &all[0];
    assert_eq!(w.verdict.class, WaitClass::WaitingForNode);
    assert_eq!(step(w, "admitted").since, Some(t(5)));
    assert!(
        step(w, "scheduler")
            .links
            .contains(&Link::Pod(RecordId::new(ClusterId::new("c"), "ml/train-0-x1y2z")))
    );
    // The pod's own chain leads back to its workload.
    let p = explain_pod(&s, &RecordId::new(ClusterId::new("c"), "ml/train-0-x1y2z")).unwrap();
    assert_eq!(step(&p, "workload").links, vec![Link::Workload(wl_id("c", "ml", "train"))]);
    // Asked by its job's name.
    let found = find(
        &s,
        &Target { kind: SubjectKind::Workload, name: "train".into(), namespace: None, clusters: vec![] },
    );
    assert_eq!(found.len(), 1);
    // An admitted workload with every pod placed does not wait.
    let done = fleet(vec![("c", holder("ml", "ok", "q", 0, 8, H100, 5))], 20);
    assert!(explain_workload(&done, &wl_id("c", "ml", "ok")).is_none());
}

fn demo_end() -> FleetState {
    let sim = crate::sim::demo_incident(crate::sim::DEMO_SEED, crate::sim::demo_start());
    sim.state_at(sim.end)
}

#[test]
fn every_waiter_of_the_demo_is_explained_with_a_known_verdict() {
    let s = demo_end();
    let all = waiters(&s);
    assert_eq!(all.len(), 7, "{:#?}", all.iter().map(|w| &w.verdict.words).collect::<Vec<_>>());
    assert!(all.windows(2).all(|w| w[0].waited_s >= w[1].waited_s), "longest first");
    for w in &all {
        assert_ne!(w.verdict.class, WaitClass::Unknown, "{}: {}", w.name, w.verdict.words);
        let alone = match w.kind {
            SubjectKind::Workload => workload_verdict(&s, &w.id()),
            SubjectKind::Pod => pod_verdict(&s, &w.id()),
        };
        assert_eq!(alone.as_ref(), Some(&w.verdict), "the column's verdict is the chain's");
        assert!(!w.steps.is_empty());
        assert!(w.steps.windows(2).all(|p| p[0].stage <= p[1].stage), "stages in order: {}", w.name);
    }
    // The research sweeps preempted by the wave wait for the H100s team-a reclaimed: research
    // 12 used of nominal 8, team-a 24 of 24, team-b 8 of 16: 48 − 44 = 4 free < 8.
    let sweeps: Vec<&Wait> =
        all.iter().filter(|w| w.namespace == "research" && w.kind == SubjectKind::Workload).collect();
    assert_eq!(sweeps.len(), 4);
    for w in sweeps {
        assert!(
            w.verdict
                .words
                .starts_with("waiting for quota: research needs 8 h100-80gb, cohort gpu-pool has 4 free"),
            "{}",
            w.verdict.words
        );
    }
}

#[test]
fn in_a_replay_the_chain_is_the_one_at_the_play_head() {
    // Before the wave (+15m) the research sweeps ran: no waiter is a research workload; after
    // it they wait for quota.
    let sim = crate::sim::demo_incident(crate::sim::DEMO_SEED, crate::sim::demo_start());
    let before = sim.state_at(sim.start + jiff::SignedDuration::from_mins(14));
    assert!(
        !waiters(&before).iter().any(|w| w.kind == SubjectKind::Workload && w.name.contains("rlhf-sweep-17"))
    );
    let after = sim.state_at(sim.start + jiff::SignedDuration::from_mins(16));
    let w = waiters(&after).into_iter().find(|w| w.name.contains("rlhf-sweep-17")).unwrap();
    assert!(
        matches!(w.verdict.class, WaitClass::WaitingForQuota | WaitClass::Evicted),
        "{}",
        w.verdict.words
    );
    // The holders' "since" comes from the recording: the reclaiming team-a jobs were admitted
    // at the wave.
    let holders: Vec<&Step> =
        w.steps.iter().filter(|s| s.finding == "holder" && s.words.contains("team-a/")).collect();
    assert!(!holders.is_empty());
    assert!(
        holders.iter().any(|s| s.since.is_some_and(|t| t > sim.start + jiff::SignedDuration::from_mins(15)))
    );
}

/// Tier 1: Kueue's own Workload status examples (tests/fixtures/real/kueue, from its
/// troubleshooting docs), wrapped in a Workload of 2 pods × 4 GPUs, projected by the watcher's
/// code, then explained.
mod real {
    use super::*;
    use crate::sources::kubernetes::objects::test_support::{docs, excerpt, object};
    use serde_json::{Value, json};

    const PENDING: &str = include_str!(
        "../../tests/fixtures/real/kueue/workload-status-pending-insufficient-quota-excerpt.yaml"
    );
    const INADMISSIBLE: &str =
        include_str!("../../tests/fixtures/real/kueue/workload-status-inadmissible-excerpt.yaml");
    const PREEMPTED: &str =
        include_str!("../../tests/fixtures/real/kueue/workload-status-preempted-evicted-excerpt.yaml");
    const CHECK: &str =
        include_str!("../../tests/fixtures/real/kueue/workload-status-admissioncheck-pending-excerpt.yaml");
    const QUEUES: &str = include_str!("../../tests/fixtures/real/kueue/clusterqueues-cohort-multi.yaml");
    const SCHEDULING: &str =
        include_str!("../../tests/fixtures/real/gpu/events-failedscheduling-insufficient-gpu-excerpts.txt");

    fn around(status_excerpt: &str) -> Value {
        let mut v = excerpt(status_excerpt);
        let status = v.get_mut("status").map(Value::take).unwrap_or(Value::Null);
        json!({
            "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "Workload",
            "metadata": {"name": "job-sample-job-jrjfr-8d56e", "namespace": "default",
                "creationTimestamp": "2024-03-19T20:49:00Z",
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "sample-job-jrjfr",
                    "uid": "5863cf0e-b0e7-43bf-a445-f41fa1abedfa", "controller": true}]},
            "spec": {"queueName": "user-queue", "priority": 10000,
                "podSets": [{"name": "main", "count": 2, "template": {"spec": {"containers": [
                    {"name": "c", "resources": {"limits": {"nvidia.com/gpu": "4"}, "requests": {"cpu": "3"}}}]}}}]},
            "status": status,
        })
    }

    fn explained(status_excerpt: &str, cq: Option<&str>) -> Wait {
        let cfg = Default::default();
        let mut w =
            crate::sources::kubernetes::objects::workload(&object(around(status_excerpt)), &cfg).unwrap();
        if let Some(cq) = cq {
            w.cluster_queue = Some(cq.into());
        }
        let mut records: Vec<(&str, Record)> = docs(QUEUES)
            .into_iter()
            .filter_map(|d| crate::sources::kubernetes::objects::cluster_queue(&object(d), &cfg))
            .map(|q| ("real", Record::GpuQueue(q)))
            .collect();
        assert_eq!(records.len(), 4, "every ClusterQueue of the fixture projects");
        records.push(("real", Record::GpuWorkload(w)));
        let s = fleet(records, 0);
        explain_workload(&s, &RecordId::new(ClusterId::new("real"), "default/job-sample-job-jrjfr-8d56e"))
            .unwrap()
    }

    #[test]
    fn kueue_doc_statuses_get_their_class_and_keep_the_message_as_evidence() {
        // "insufficient quota for cpu in flavor default-flavor in ClusterQueue": the old wording.
        let w = explained(PENDING, Some("llm-cluster-queue"));
        assert_eq!(w.verdict.class, WaitClass::WaitingForQuota);
        let reason = step(&w, "reason");
        assert_eq!(
            reason.evidence[0].text,
            "couldn't assign flavors to pod set main: insufficient quota for cpu in flavor default-flavor in ClusterQueue"
        );
        assert_eq!(reason.since.map(|t| t.to_string()).as_deref(), Some("2024-03-21T13:43:00Z"));
        // The CPU quota it is short of is the one shown (300m nominal in llm-cluster-queue),
        // with the cohort's: 1 + 0.3 + 0.3 cores nominal, nothing in use.
        assert!(
            step(&w, "quota")
                .words
                .starts_with("ClusterQueue llm-cluster-queue flavor default-flavor cpu: nominal 0.3, used 0"),
            "{}",
            step(&w, "quota").words
        );
        assert!(
            step(&w, "cohort").words.contains("llm-cluster-queue can use 1.6"),
            "{}",
            step(&w, "cohort").words
        );

        let w = explained(INADMISSIBLE, None);
        assert_eq!(w.verdict.class, WaitClass::QueueMissing);
        assert_eq!(w.verdict.words, "queue missing: LocalQueue user-queue doesn't exist");

        // Evicted by preemption, then pending again: the newer QuotaReserved=False says why.
        let w = explained(PREEMPTED, Some("emergency-cluster-queue"));
        assert_eq!(w.verdict.class, WaitClass::WaitingForQuota);
        assert!(
            step(&w, "evicted").words.starts_with("evicted (Preempted)"),
            "{}",
            step(&w, "evicted").words
        );

        let w = explained(CHECK, None);
        assert_eq!(w.verdict.class, WaitClass::WaitingForAdmissionChecks);
        assert_eq!(
            w.verdict.words,
            "waiting for admission checks: quota reserved in dws-cluster-queue; AdmissionCheck dws-prov: Pending"
        );
    }

    #[test]
    fn real_failed_scheduling_messages_become_placement_steps() {
        for line in SCHEDULING.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            let p = pod("ml", "p", 1, line);
            let total: u32 = p.reasons.iter().map(|(_, n)| n).sum();
            let s =
                fleet(vec![("c", node("n", PRODUCT, 1, 1, true, &[])), ("c", Record::PendingGpuPod(p))], 20);
            let w = explain_pod(&s, &RecordId::new(ClusterId::new("c"), "ml/p")).unwrap();
            assert_eq!(step(&w, "scheduler").evidence[0].text, line);
            assert_eq!(w.verdict.class, WaitClass::WaitingForNode, "{line}");
            // One step per node group, and their counts add up to the message's.
            let groups: u32 = w
                .steps
                .iter()
                .filter(|s| matches!(s.finding, "nodes" | "taint" | "cordon"))
                .map(|s| s.evidence[0].text.split(' ').next().unwrap().parse::<u32>().unwrap())
                .sum();
            assert_eq!(groups, total, "{line}");
        }
    }
}

/// Cost of the chains on a big fleet (`cargo test --lib wait_timing -- --ignored --nocapture`):
/// the synthetic load of 100k records over 50 clusters (about 25k workloads, 15k pending
/// pods); `why --waiting` explains them all, a frame of the GPU pane 40 rows.
#[test]
#[ignore = "a measurement, not a check"]
fn wait_timing() {
    let start = Timestamp::from_second(1_796_130_000).unwrap();
    let mut s = FleetState::new(start);
    s.apply_all(&crate::sim::synthetic_load(7, 50, 100_000, start));
    let t0 = std::time::Instant::now();
    let all = waiters(&s);
    let whole = t0.elapsed();
    let ids: Vec<RecordId> = s.gpu_workloads().keys().take(40).cloned().collect();
    let t1 = std::time::Instant::now();
    let frame = ids.iter().filter_map(|id| workload_verdict(&s, id)).count();
    let rows = t1.elapsed();
    println!(
        "{} workloads, {} pending pods: waiters() {} chains in {whole:?}; 40 rows' verdicts ({frame} waiting) in {rows:?}",
        s.gpu_workloads().len(),
        s.pending_gpu_pods().len(),
        all.len()
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn arb_state() -> impl Strategy<Value = WorkloadState> {
        let text = prop_oneof![
            Just(String::new()),
            Just("couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor f0, 3 more needed".to_string()),
            Just("couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu in flavor f1, request > maximum capacity (9 > 2)".to_string()),
            Just("LocalQueue q doesn't exist".to_string()),
            ".{0,80}",
        ];
        prop_oneof![
            text.clone().prop_map(|m| WorkloadState::Pending { reason: "Pending".into(), message: m }),
            text.prop_map(|m| WorkloadState::Evicted { reason: "Preempted".into(), message: m }),
            Just(WorkloadState::QuotaReserved),
            Just(WorkloadState::Admitted),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Any small fleet: every chain is built without panicking, has a verdict, and every
        /// record it leads to exists in the state.
        #[test]
        fn any_fleet_explains_without_panic_and_links_only_to_records_it_has(
            queues in prop::collection::vec((0..3usize, prop::option::of(0..2usize), 0u32..16, 0u32..24, prop::option::of(0u32..8), prop::option::of(0u32..8)), 0..4),
            wls in prop::collection::vec((0..3usize, 0..3usize, -5i32..5, 0u32..12, arb_state(), prop::option::of(0..2usize), 0i64..60), 0..8),
            pods in prop::collection::vec((0..3usize, 0u32..9, 0u32..5, 0u32..5, any::<bool>()), 0..4),
            nodes in prop::collection::vec((0u32..9, 0u32..9, any::<bool>(), any::<bool>()), 0..4),
        ) {
            let mut records: Vec<(&str, Record)> = Vec::new();
            let clusters = ["a", "b"];
            for (i, (q, cohort, nominal, used, bl, ll)) in queues.iter().enumerate() {
                let name = format!("q{q}");
                let rec = queue(&name, cohort.map(|c| ["p", "r"][c]), ["f0", "f1"][i % 2], (f64::from(*nominal), f64::from(*used), bl.map(f64::from), ll.map(f64::from)));
                records.push((clusters[i % 2], rec));
            }
            for (i, (q, ns, prio, gpus, state, flavor, created)) in wls.iter().enumerate() {
                let mut w = workload(["x", "y", "z"][*ns], &format!("j{i}"), &format!("q{q}"), *prio, *gpus, state.clone());
                w.flavor = flavor.map(|f| ["f0", "f1"][f].to_string());
                w.admitted_at = matches!(state, WorkloadState::Admitted).then(|| t(*created));
                w.created_at = t(*created);
                records.push((clusters[i % 2], Record::GpuWorkload(w)));
            }
            for (i, (owner, gpus, insufficient, tainted, cordoned)) in pods.iter().enumerate() {
                let msg = format!(
                    "0/9 nodes are available: {insufficient} Insufficient nvidia.com/gpu, {tainted} node(s) had untolerated taint {{t: v}}{}.",
                    if *cordoned { ", 1 node(s) were unschedulable" } else { "" }
                );
                let name = format!("j{owner}-{i}-abc");
                records.push((clusters[i % 2], Record::PendingGpuPod(pod(["x", "y", "z"][i % 3], &name, *gpus, &msg))));
            }
            for (i, (alloc, used, sched, taint)) in nodes.iter().enumerate() {
                let taints: &[&str] = if *taint { &["t=v:NoSchedule"] } else { &[] };
                records.push((clusters[i % 2], node(&format!("n{i}"), PRODUCT, *alloc, *used, *sched, taints)));
            }
            let s = fleet(records, 90);
            let all = waiters(&s);
            for w in &all {
                prop_assert!(!w.verdict.words.is_empty());
                for l in w.steps.iter().flat_map(|st| &st.links) {
                    let there = match l {
                        Link::Workload(id) => s.gpu_workloads().contains_key(id),
                        Link::Node(id) => s.gpu_nodes().contains_key(id),
                        Link::Queue(id) => s.gpu_queues().contains_key(id),
                        Link::Pod(id) => s.pending_gpu_pods().contains_key(id),
                    };
                    prop_assert!(there, "{l:?} of {}", w.name);
                }
                let _ = crate::ui::panes::gpu_wait::wait_markdown(s.now(), w);
                prop_assert!(serde_json::to_string(w).is_ok());
            }
        }
    }
}
