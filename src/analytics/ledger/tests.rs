//! The follower: observations in, ledger rows out.

#![allow(clippy::unwrap_used)]

use jiff::Timestamp;

use super::{Ledger, MAX_SAMPLE_HOLD_MS, WaitEnd};
use crate::model::{
    Change, ClusterId, FlavorQuota, GpuDevice, GpuNode, GpuQueue, GpuWorkload, Observation, Record,
    RecordKind, WorkloadEvent, WorkloadState,
};

const MIN: i64 = 60_000;
const BASE: i64 = 1_795_000_000_000;

fn t(min: i64) -> Timestamp {
    Timestamp::from_millisecond(BASE + min * MIN).unwrap()
}

/// Milliseconds of minute `min`.
fn ms(min: i64) -> i64 {
    BASE + min * MIN
}

fn obs(min: i64, change: Change) -> Observation {
    Observation { at: t(min), cluster: ClusterId::new("gpu-train"), change }
}

fn upsert(min: i64, record: Record) -> Observation {
    obs(min, Change::Upsert { record })
}

/// A research workload created at minute 0 asking for 8 H100s.
fn workload(name: &str, state: WorkloadState, admitted: Option<i64>) -> GpuWorkload {
    let admitted_state = matches!(state, WorkloadState::Admitted | WorkloadState::Finished { .. });
    GpuWorkload {
        namespace: "research".into(),
        name: name.into(),
        uid: None,
        owner: None,
        local_queue: "default".into(),
        cluster_queue: Some("research".into()),
        team: None,
        priority_class: None,
        priority: 100,
        gpus: 8,
        cpu: None,
        memory: None,
        flavor: admitted_state.then(|| "h100-80gb".into()),
        state,
        created_at: t(0),
        admitted_at: admitted.map(t),
        position: None,
        history: Vec::new(),
    }
}

fn pending() -> WorkloadState {
    WorkloadState::Pending { reason: "Pending".into(), message: String::new() }
}

fn preempted(message: &str) -> WorkloadState {
    WorkloadState::Evicted { reason: "Preempted".into(), message: message.into() }
}

const IN_QUEUE: &str =
    "Preempted to accommodate a workload (UID: 1f2e, JobUID: 9a8b) due to prioritization in the ClusterQueue";
const RECLAIMED: &str =
    "Preempted to accommodate a workload (UID: 1f2e, JobUID: 9a8b) due to reclamation within the cohort";

fn w(min: i64, wl: GpuWorkload) -> Observation {
    upsert(min, Record::GpuWorkload(wl))
}

#[test]
fn a_workload_admitted_preempted_readmitted_and_finished() {
    let l = Ledger::from_observations(&[
        w(0, workload("job-a", pending(), None)),
        w(10, workload("job-a", WorkloadState::Admitted, Some(10))),
        w(30, workload("job-a", preempted(IN_QUEUE), None)),
        // The same eviction seen again is not a second preemption.
        w(31, workload("job-a", preempted(IN_QUEUE), None)),
        w(40, workload("job-a", pending(), None)),
        w(45, workload("job-a", WorkloadState::Admitted, Some(45))),
        w(60, workload("job-a", WorkloadState::Finished { succeeded: true }, Some(45))),
    ]);
    let runs: Vec<_> = l.allocations().iter().map(|a| (a.start_ms, a.end_ms, a.gpus)).collect();
    assert_eq!(runs, [(ms(10), Some(ms(30)), 8), (ms(45), Some(ms(60)), 8)]);
    let waits: Vec<_> = l.waits().iter().map(|w| (w.start_ms, w.end)).collect();
    // Created → admitted, then evicted → readmitted.
    assert_eq!(waits, [(ms(0), WaitEnd::Admitted(ms(10))), (ms(30), WaitEnd::Admitted(ms(45)))]);
    assert_eq!(l.preemptions().len(), 1);
    let p = l.preemptions()[0];
    assert_eq!((p.at_ms, p.gpus, l.name(p.cause)), (ms(30), 8, "InClusterQueue"));
    // Inside its own ClusterQueue: the preemptor's queue is the victim's.
    assert_eq!(p.preemptor_queue.map(|q| l.name(q)), Some("research"));
    assert_eq!(l.allocations()[0].flavor.map(|f| l.name(f)), Some("h100-80gb"));
    assert_eq!(l.span(), Some((ms(0), ms(60))));
}

#[test]
fn a_workload_first_seen_running_counts_from_its_admission() {
    let l = Ledger::from_observations(&[w(100, workload("job-b", WorkloadState::Admitted, Some(40)))]);
    let a = l.allocations()[0];
    assert_eq!((a.start_ms, a.end_ms), (ms(40), None));
    // Its first wait is known exactly: created at 0, admitted at 40.
    assert_eq!(l.waits()[0].end, WaitEnd::Admitted(ms(40)));
    assert_eq!(l.waits()[0].start_ms, ms(0));
}

#[test]
fn a_workload_first_seen_finished_is_rebuilt_from_its_history() {
    let mut wl = workload("job-c", WorkloadState::Finished { succeeded: true }, Some(20));
    wl.history.push(WorkloadEvent {
        at: t(50),
        what: "Finished=True (Succeeded): Job finished successfully".into(),
    });
    let l = Ledger::from_observations(&[w(70, wl)]);
    let runs: Vec<_> = l.allocations().iter().map(|a| (a.start_ms, a.end_ms)).collect();
    assert_eq!(runs, [(ms(20), Some(ms(50)))]);
    // Without a finish time on record nothing is guessed.
    let l = Ledger::from_observations(&[w(
        70,
        workload("job-d", WorkloadState::Finished { succeeded: true }, Some(20)),
    )]);
    assert!(l.allocations().is_empty());
}

#[test]
fn deletion_and_relists_end_what_they_remove() {
    let l = Ledger::from_observations(&[
        w(0, workload("job-a", WorkloadState::Admitted, Some(0))),
        w(0, workload("job-b", WorkloadState::Admitted, Some(0))),
        w(0, workload("job-c", pending(), None)),
        obs(20, Change::Delete { kind: RecordKind::GpuWorkload, key: "research/job-a".into() }),
        obs(30, Change::SyncStart { kind: RecordKind::GpuWorkload }),
        // The relist confirms job-c only: job-b is gone at the relist's end.
        w(30, workload("job-c", pending(), None)),
        obs(31, Change::SyncEnd { kind: RecordKind::GpuWorkload }),
        obs(40, Change::Delete { kind: RecordKind::GpuWorkload, key: "research/job-c".into() }),
    ]);
    let ends: Vec<_> = l.allocations().iter().map(|a| (l.name(a.workload), a.end_ms)).collect();
    assert_eq!(ends, [("research/job-a", Some(ms(20))), ("research/job-b", Some(ms(31)))]);
    // job-c never got GPUs: its wait was abandoned, not a queue wait.
    let c = l.waits().iter().find(|w| l.name(w.workload) == "research/job-c").unwrap();
    assert_eq!(c.end, WaitEnd::Abandoned);
}

#[test]
fn the_preemptor_is_known_when_the_message_says() {
    let with_path =
        format!("{RECLAIMED}; preemptor path: /gpu-pool/team-a; preemptee path: /gpu-pool/research");
    let l = Ledger::from_observations(&[
        w(0, workload("job-a", WorkloadState::Admitted, Some(0))),
        w(0, workload("job-b", WorkloadState::Admitted, Some(0))),
        w(0, workload("job-c", WorkloadState::Admitted, Some(0))),
        w(15, workload("job-a", preempted(&with_path), None)),
        w(15, workload("job-b", preempted(RECLAIMED), None)),
        // Evicted for another reason: not a preemption.
        w(
            15,
            workload(
                "job-c",
                WorkloadState::Evicted { reason: "PodsReadyTimeout".into(), message: "timeout".into() },
                None,
            ),
        ),
    ]);
    let by: Vec<_> =
        l.preemptions().iter().map(|p| (l.name(p.workload), p.preemptor_queue.map(|q| l.name(q)))).collect();
    // The path names team-a's queue; reclamation without a path names the preemptor by UID only.
    assert_eq!(by, [("research/job-a", Some("team-a")), ("research/job-b", None)]);
    assert_eq!(l.name(l.preemptions()[1].cause), "InCohortReclamation");
    // Every eviction ends the allocation and starts a wait, preemption or not.
    assert!(l.allocations().iter().all(|a| a.end_ms == Some(ms(15))));
    assert_eq!(l.waits().iter().filter(|w| w.end == WaitEnd::Waiting).count(), 3);
}

#[test]
fn a_team_falls_back_to_its_cluster_queue_team() {
    let queue = GpuQueue {
        name: "research".into(),
        cohort: Some("gpu-pool".into()),
        team: Some("ml-research".into()),
        quotas: vec![
            FlavorQuota {
                flavor: "h100-80gb".into(),
                resource: "nvidia.com/gpu".into(),
                nominal: 8.0,
                borrowing_limit: None,
                lending_limit: None,
                used: 0.0,
                reserved: 0.0,
                borrowed: 0.0,
                product: None,
            },
            FlavorQuota {
                flavor: "h100-80gb".into(),
                resource: "cpu".into(),
                nominal: 96.0,
                borrowing_limit: None,
                lending_limit: None,
                used: 0.0,
                reserved: 0.0,
                borrowed: 0.0,
                product: None,
            },
        ],
        pending_workloads: 0,
        admitted_workloads: 0,
        local_queues: vec![],
        api_version: "v1beta2".into(),
    };
    let mut labelled = workload("job-b", WorkloadState::Admitted, Some(0));
    labelled.team = Some("alice".into());
    let l = Ledger::from_observations(&[
        upsert(0, Record::GpuQueue(queue)),
        w(0, workload("job-a", WorkloadState::Admitted, Some(0))),
        w(0, labelled),
    ]);
    let teams: Vec<_> = l
        .allocations()
        .iter()
        .map(|a| l.team_of(a.cluster, a.team, a.cluster_queue).map(|t| l.name(t)))
        .collect();
    assert_eq!(teams, [Some("ml-research"), Some("alice")]);
    // Only GPU resources make the entitlement: 8, not 8 + 96 CPUs.
    let info = l.queues().values().next().unwrap();
    assert_eq!(info.total_nominal(), 8.0);
    assert_eq!(info.cohort.map(|c| l.name(c)), Some("gpu-pool"));
}

fn node(util: &[(u32, f32, Option<&str>)]) -> Record {
    Record::GpuNode(GpuNode {
        name: "h100-node-01".into(),
        product: Some("NVIDIA-H100-80GB-HBM3".into()),
        capacity: 8,
        allocatable: 8,
        allocated: 0,
        mig: None,
        sharing: None,
        schedulable: true,
        taints: vec![],
        telemetry_error: None,
        devices: util
            .iter()
            .map(|(i, u, pod)| GpuDevice {
                index: *i,
                uuid: format!("GPU-{i}"),
                product: None,
                utilization_pct: Some(*u),
                memory_used_mib: None,
                memory_total_mib: None,
                temperature_c: None,
                power_w: None,
                pod: pod.map(str::to_string),
                processes: vec![],
                mig: None,
                idle_since: None,
            })
            .collect(),
    })
}

#[test]
fn utilisation_samples_merge_into_stretches() {
    let nb = Some("team-b/notebook-0");
    let l = Ledger::from_observations(&[
        upsert(0, node(&[(0, 1.0, nb), (1, 90.0, Some("team-a/train-0"))])),
        upsert(1, node(&[(0, 0.5, nb), (1, 93.0, Some("team-a/train-0"))])),
        // Device 0 gets busy; device 1 stops reporting.
        upsert(2, node(&[(0, 80.0, nb)])),
        obs(10, Change::Delete { kind: RecordKind::GpuNode, key: "h100-node-01".into() }),
    ]);
    let stretches: Vec<_> = l
        .utilisation()
        .iter()
        .map(|u| (u.device, u.idle, u.namespace.map(|n| l.name(n)), u.start_ms, u.end_ms))
        .collect();
    assert_eq!(
        stretches,
        [
            // Idle (under 5 %) from 0, closed by the busy sample at 2.
            (0, true, Some("team-b"), ms(0), Some(ms(2))),
            // Busy, stopped reporting at 2: ends there.
            (1, false, Some("team-a"), ms(0), Some(ms(2))),
            // Busy from 2; the node went away at 10, but a sample stands for at most 2 minutes.
            (0, false, Some("team-b"), ms(2), Some(ms(2) + MAX_SAMPLE_HOLD_MS)),
        ]
    );
    assert_eq!(l.name(l.utilisation()[0].product.unwrap()), "NVIDIA-H100-80GB-HBM3");
}

#[test]
fn each_mig_instance_of_a_gpu_is_a_stretch_of_its_own() {
    // GPU 0 split in two instances: one idle under team-b's notebook, one busy under team-a.
    let migs = || {
        let Record::GpuNode(mut n) =
            node(&[(0, 1.0, Some("team-b/nb-0")), (0, 90.0, Some("team-a/train-0"))])
        else {
            unreachable!()
        };
        n.devices[0].mig = Some("3g.40gb/1".into());
        n.devices[1].mig = Some("3g.40gb/2".into());
        Record::GpuNode(n)
    };
    let l = Ledger::from_observations(&[upsert(0, migs()), upsert(1, migs()), upsert(2, migs())]);
    let stretches: Vec<_> = l
        .utilisation()
        .iter()
        .map(|u| {
            (u.device, u.mig.map(|m| l.name(m)), u.idle, u.namespace.map(|n| l.name(n)), u.start_ms, u.end_ms)
        })
        .collect();
    // Keyed by GPU index alone, the two instances closed each other's stretch at every sample.
    assert_eq!(
        stretches,
        [
            (0, Some("3g.40gb/1"), true, Some("team-b"), ms(0), None),
            (0, Some("3g.40gb/2"), false, Some("team-a"), ms(0), None),
        ]
    );
    assert!(l.utilisation().iter().all(|u| u.last_sample_ms == ms(2)));
}

#[test]
fn the_demo_ledger_follows_the_kueue_script() {
    let rec = crate::demo::recording().unwrap();
    let l = Ledger::from_observations(rec.observations());
    // Four research jobs were preempted (three by team-a's reclamation wave, one by the hotfix in
    // research's own queue); the hotfix's preemptor is known, the wave's is named by UID only.
    let p: Vec<_> =
        l.preemptions().iter().map(|p| (l.name(p.workload), p.preemptor_queue.map(|q| l.name(q)))).collect();
    assert_eq!(p.len(), 4, "{p:?}");
    assert_eq!(p.iter().filter(|(_, q)| *q == Some("research")).count(), 1, "{p:?}");
    assert!(p.iter().all(|(w, _)| w.starts_with("research/")), "{p:?}");
    // Every allocation ends after it starts.
    assert!(l.allocations().iter().all(|a| a.end_ms.is_none_or(|e| e >= a.start_ms)));
    assert!(!l.utilisation().is_empty());
    // The span is the observations', not the admissions before the recording began.
    let (first, last) = l.span().unwrap();
    assert!(first >= rec.start().as_millisecond(), "{first} {}", rec.start());
    assert_eq!(last, rec.end().as_millisecond());
    assert!(l.allocations().iter().any(|a| a.start_ms < first), "some jobs ran before the recording");
}

#[test]
fn a_live_snapshot_counts_running_workloads_from_their_admission() {
    let rec = crate::demo::recording().unwrap();
    let state = rec.state_at(rec.end());
    let l = Ledger::from_state(&state);
    let mut admitted: Vec<i64> = state
        .gpu_workloads()
        .values()
        .filter(|w| w.state == WorkloadState::Admitted)
        .filter_map(|w| w.admitted_at.map(|t| t.as_millisecond()))
        .collect();
    let mut running: Vec<i64> =
        l.allocations().iter().filter(|a| a.end_ms.is_none()).map(|a| a.start_ms).collect();
    admitted.sort_unstable();
    running.sort_unstable();
    assert!(!running.is_empty());
    assert_eq!(running, admitted);
    // One moment shows no eviction happening, and the queues' quotas are known.
    assert!(l.preemptions().is_empty());
    assert_eq!(l.queues().len(), state.gpu_queues().len());
}
