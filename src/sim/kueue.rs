//! Kueue in `gpu-train-us` (ClusterQueues `team-a`, `team-b`, `research` sharing the cohort
//! `gpu-pool` over flavors `a100-80gb` and `h100-80gb`) and a small queue in `prod-us-east-1`.
//!
//! Workloads follow a script (created, admitted, preempted, requeued, finished); usage,
//! borrowing, pending messages and queue positions are derived from it at every step, so the
//! numbers always add up. At t≈+15m high-priority team-a jobs reclaim the cohort's H100s from
//! research (a preemption wave); at t≈+17m a research hotfix preempts inside its own queue.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::clusters::{self, GPU_TRAIN, PROD_US};
use super::gpu::{PodRun, Unschedulable};
use super::messages::{self as msg, PreemptReason};
use super::timeline::{Ms, Timeline, mins, secs, stream};
use crate::model::{
    ClusterId, FlavorQuota, GpuQueue, GpuWorkload, Record, RecordKind, WorkloadEvent, WorkloadState,
};

/// The GPU resource every queue here covers.
const GPU: &str = "nvidia.com/gpu";
/// Flavor names.
pub(crate) const H100: &str = "h100-80gb";
/// Flavor names.
pub(crate) const A100: &str = "a100-80gb";

/// One ClusterQueue's quota for one flavor: (flavor, nominal, borrowing limit, lending limit).
type Quota = (&'static str, u32, Option<u32>, Option<u32>);

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// CPU cores and memory GiB a workload asks for per GPU, by its ClusterQueue: team-a and
/// team-b train (GPU-bound), research runs memory-heavy sweeps, batch inference is CPU-heavy;
/// so a different resource dominates for different teams (dominant-resource share). Never
/// more than its queue's [`QueueSpec::per_gpu`], so what fits in GPU quota fits in all quota.
fn per_gpu(cluster_queue: &str) -> (f64, f64) {
    match cluster_queue {
        "research" => (12.0, 200.0),
        "inference-batch" => (28.0, 64.0),
        "team-b" => (12.0, 96.0),
        _ => (8.0, 64.0),
    }
}

struct QueueSpec {
    cluster: &'static str,
    name: &'static str,
    cohort: Option<&'static str>,
    team: &'static str,
    quotas: &'static [Quota],
    /// CPU cores and memory GiB of `cpu` and `memory` quota per GPU of quota, in every flavor
    /// (limits scaled alike): the shape of the queue's nodes.
    per_gpu: (f64, f64),
    local_queues: &'static [&'static str],
}

const QUEUES: &[QueueSpec] = &[
    QueueSpec {
        cluster: GPU_TRAIN,
        name: "team-a",
        cohort: Some("gpu-pool"),
        team: "team-a",
        quotas: &[(A100, 8, Some(8), None), (H100, 24, Some(16), None)],
        per_gpu: (16.0, 128.0),
        local_queues: &["team-a/default", "team-a/urgent"],
    },
    QueueSpec {
        cluster: GPU_TRAIN,
        name: "team-b",
        cohort: Some("gpu-pool"),
        team: "team-b",
        quotas: &[(A100, 8, Some(4), None), (H100, 16, Some(8), None)],
        per_gpu: (16.0, 128.0),
        local_queues: &["team-b/default"],
    },
    QueueSpec {
        cluster: GPU_TRAIN,
        name: "research",
        cohort: Some("gpu-pool"),
        team: "research",
        quotas: &[(A100, 16, Some(0), Some(8)), (H100, 8, Some(24), None)],
        per_gpu: (16.0, 256.0),
        local_queues: &["research/default", "research/sweeps"],
    },
    QueueSpec {
        cluster: PROD_US,
        name: "inference-batch",
        cohort: None,
        team: "ml-platform",
        quotas: &[(A100, 12, None, None)],
        per_gpu: (48.0, 128.0),
        local_queues: &["ml-platform/batch"],
    },
];

/// A scripted step of a workload's life.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Quota reserved and admitted into `flavor`.
    Admit(&'static str),
    /// Finished.
    Finish,
    /// Evicted because `by` (a job name) needed the quota.
    Preempt(&'static str, PreemptReason),
    /// Back in the queue after an eviction.
    Requeue,
}

struct WlSpec {
    cluster: &'static str,
    ns: &'static str,
    job: &'static str,
    cq: &'static str,
    lq: &'static str,
    prio_class: &'static str,
    priority: i32,
    gpus: u32,
    /// Flavors Kueue tries, in order.
    flavors: &'static [&'static str],
    created: Ms,
    steps: &'static [(Ms, Step)],
    /// Node, first device, count: one pod per entry. Empty = no node fits.
    placement: &'static [(&'static str, u32, u32)],
    /// From admission to the pod running (waiting for preempted pods to terminate).
    pod_delay: Ms,
    /// Allocated but doing nothing (a forgotten notebook).
    idle: bool,
}

const LOW: (&str, i32) = ("research-low", 100);
const MID: (&str, i32) = ("standard", 500);
const HIGH: (&str, i32) = ("prod-critical", 1000);

#[allow(clippy::too_many_arguments)] // a row of the script table
const fn wl(
    cluster: &'static str,
    ns: &'static str,
    job: &'static str,
    cq: &'static str,
    prio: (&'static str, i32),
    gpus: u32,
    flavors: &'static [&'static str],
    created: Ms,
    steps: &'static [(Ms, Step)],
    placement: &'static [(&'static str, u32, u32)],
) -> WlSpec {
    WlSpec {
        cluster,
        ns,
        job,
        cq,
        lq: "default",
        prio_class: prio.0,
        priority: prio.1,
        gpus,
        flavors,
        created,
        steps,
        placement,
        pod_delay: secs(15),
        idle: false,
    }
}

const H: &[&str] = &[H100];
const A: &[&str] = &[A100];
const AH: &[&str] = &[A100, H100];
const WAVE: Ms = mins(15) + secs(2);
const HOTFIX: Ms = mins(17) + secs(5);

use PreemptReason::{InClusterQueue, InCohortReclamation};
use Step::{Admit, Finish, Preempt, Requeue};
const G: &str = GPU_TRAIN;

/// The script.
const WORKLOADS: &[WlSpec] = &[
    // research borrows 24 H100s while team-a is quiet.
    wl(
        G,
        "research",
        "llm-pretrain-ablation-a",
        "research",
        LOW,
        8,
        H,
        -mins(200),
        &[
            (-mins(180), Admit(H100)),
            (HOTFIX, Preempt("eval-harness-hotfix", InClusterQueue)),
            (HOTFIX + secs(48), Requeue),
        ],
        &[("h100-node-01", 0, 8)],
    ),
    wl(
        G,
        "research",
        "llm-pretrain-ablation-b",
        "research",
        LOW,
        8,
        H,
        -mins(130),
        &[
            (-mins(120), Admit(H100)),
            (WAVE, Preempt("ads-ctr-refresh", InCohortReclamation)),
            (WAVE + secs(45), Requeue),
        ],
        &[("h100-node-02", 0, 8)],
    ),
    wl(
        G,
        "research",
        "rlhf-sweep-17",
        "research",
        LOW,
        8,
        H,
        -mins(95),
        &[
            (-mins(90), Admit(H100)),
            (WAVE, Preempt("ranker-retrain-p0", InCohortReclamation)),
            (WAVE + secs(41), Requeue),
        ],
        &[("h100-node-03", 0, 8)],
    ),
    wl(
        G,
        "research",
        "eval-harness-nightly",
        "research",
        LOW,
        8,
        H,
        -mins(41),
        &[
            (-mins(40), Admit(H100)),
            (WAVE, Preempt("fraud-model-hotfix", InCohortReclamation)),
            (WAVE + secs(38), Requeue),
        ],
        &[("h100-node-04", 0, 8)],
    ),
    wl(
        G,
        "research",
        "llm-pretrain-ablation-c",
        "research",
        LOW,
        4,
        H,
        -mins(20),
        &[(mins(22) + secs(3), Admit(H100))],
        &[("h100-node-06", 0, 4)],
    ),
    WlSpec {
        lq: "sweeps",
        ..wl(
            G,
            "research",
            "protein-fold-sweep-3",
            "research",
            LOW,
            8,
            A,
            -mins(250),
            &[(-mins(240), Admit(A100))],
            &[("a100-node-02", 0, 8)],
        )
    },
    WlSpec {
        pod_delay: secs(50),
        ..wl(
            G,
            "research",
            "eval-harness-hotfix",
            "research",
            MID,
            8,
            H,
            mins(17),
            &[(HOTFIX, Admit(H100))],
            &[("h100-node-01", 0, 8)],
        )
    },
    // team-b.
    wl(
        G,
        "team-b",
        "vision-finetune-v7",
        "team-b",
        MID,
        8,
        H,
        -mins(305),
        &[(-mins(300), Admit(H100))],
        &[("h100-node-05", 0, 8)],
    ),
    wl(
        G,
        "team-b",
        "embeddings-refresh",
        "team-b",
        MID,
        4,
        H,
        -mins(62),
        &[(-mins(60), Admit(H100)), (mins(22), Finish)],
        &[("h100-node-06", 0, 4)],
    ),
    WlSpec {
        idle: true,
        ..wl(
            G,
            "team-b",
            "notebook-jdoe",
            "team-b",
            MID,
            2,
            A,
            -mins(361),
            &[(-mins(360), Admit(A100))],
            &[("a100-node-01", 0, 2)],
        )
    },
    wl(
        G,
        "team-b",
        "tts-distill",
        "team-b",
        MID,
        4,
        A,
        -mins(52),
        &[(-mins(50), Admit(A100)), (mins(3), Finish)],
        &[("a100-node-04", 0, 4)],
    ),
    // Admitted by quota, but no node has 8 free A100s (one node cordoned, one MIG-split).
    wl(
        G,
        "team-b",
        "multilingual-asr",
        "team-b",
        MID,
        8,
        AH,
        -mins(12),
        &[(mins(3) + secs(5), Admit(A100))],
        &[],
    ),
    // team-a: quiet, then three urgent jobs reclaim its nominal H100 quota.
    wl(
        G,
        "team-a",
        "ranker-train-2026-11-27",
        "team-a",
        MID,
        4,
        H,
        -mins(31),
        &[(-mins(30), Admit(H100)), (mins(26), Finish)],
        &[("h100-node-06", 4, 4)],
    ),
    wl(
        G,
        "team-a",
        "feature-backfill",
        "team-a",
        MID,
        4,
        A,
        -mins(121),
        &[(-mins(120), Admit(A100))],
        &[("a100-node-01", 2, 4)],
    ),
    WlSpec {
        lq: "urgent",
        pod_delay: secs(75),
        ..wl(
            G,
            "team-a",
            "fraud-model-hotfix",
            "team-a",
            HIGH,
            8,
            H,
            mins(14) + secs(50),
            &[(WAVE + secs(3), Admit(H100))],
            &[("h100-node-04", 0, 8)],
        )
    },
    WlSpec {
        lq: "urgent",
        pod_delay: secs(80),
        ..wl(
            G,
            "team-a",
            "ranker-retrain-p0",
            "team-a",
            HIGH,
            8,
            H,
            mins(14) + secs(54),
            &[(WAVE + secs(3), Admit(H100))],
            &[("h100-node-03", 0, 8)],
        )
    },
    WlSpec {
        lq: "urgent",
        pod_delay: secs(84),
        ..wl(
            G,
            "team-a",
            "ads-ctr-refresh",
            "team-a",
            HIGH,
            8,
            H,
            mins(14) + secs(58),
            &[(WAVE + secs(3), Admit(H100))],
            &[("h100-node-02", 0, 8)],
        )
    },
    // prod-us-east-1: a small batch-inference queue.
    WlSpec {
        lq: "batch",
        ..wl(
            PROD_US,
            "ml-platform",
            "nightly-embeddings-backfill",
            "inference-batch",
            MID,
            4,
            A,
            -mins(125),
            &[(-mins(120), Admit(A100))],
            &[("us-gpu-a100-01", 0, 4)],
        )
    },
    WlSpec {
        lq: "batch",
        ..wl(
            PROD_US,
            "ml-platform",
            "catalog-captioning",
            "inference-batch",
            MID,
            4,
            A,
            -mins(61),
            &[(-mins(60), Admit(A100)), (mins(12), Finish)],
            &[("us-gpu-a100-02", 0, 4)],
        )
    },
    WlSpec {
        lq: "batch",
        ..wl(
            PROD_US,
            "ml-platform",
            "reindex-images",
            "inference-batch",
            MID,
            8,
            A,
            -mins(25),
            &[(mins(12) + secs(4), Admit(A100))],
            &[("us-gpu-a100-02", 0, 4), ("us-gpu-a100-03", 0, 4)],
        )
    },
];

/// A workload's simulated life so far.
#[derive(Debug, Clone)]
struct Live {
    state: Option<WorkloadState>,
    flavor: Option<&'static str>,
    admitted_at: Option<Ms>,
    /// Queue order: creation or requeue time.
    queued_at: Ms,
    history: Vec<WorkloadEvent>,
}

/// Identity of a workload for the messages.
struct Ids {
    name: String,
    uid: String,
    job_uid: String,
    pod_suffixes: Vec<String>,
}

/// What the Kueue script produced for the GPU module: pods on nodes and unschedulable pods.
#[derive(Debug, Default)]
pub(crate) struct KueueOutput {
    /// Pods of admitted workloads on nodes.
    pub pods: Vec<PodRun>,
    /// Pods of admitted workloads waiting for a node.
    pub pending: Vec<super::gpu::PendingPod>,
}

/// Emits queues and workloads; returns the pods for the node and pending-pod generators.
pub(crate) fn generate(seed: u64, tl: &mut Timeline) -> KueueOutput {
    let mut rng = stream(seed, "kueue");
    let specs = WORKLOADS;
    let ids: Vec<Ids> = specs
        .iter()
        .map(|w| Ids {
            name: format!("job-{}-{}", w.job, msg::hex(&mut rng, 5)),
            uid: msg::uid(&mut rng),
            job_uid: msg::uid(&mut rng),
            pod_suffixes: (0..w.placement.len().max(1)).map(|_| msg::k8s_suffix(&mut rng, 5)).collect(),
        })
        .collect();
    let mut out = KueueOutput::default();
    for cluster in [GPU_TRAIN, PROD_US] {
        run_cluster(&mut rng, tl, cluster, specs, &ids, &mut out);
    }
    out
}

fn run_cluster(
    rng: &mut ChaCha8Rng,
    tl: &mut Timeline,
    cluster: &'static str,
    specs: &[WlSpec],
    ids: &[Ids],
    out: &mut KueueOutput,
) {
    let cid = ClusterId::new(cluster);
    let list_at = clusters::list_at(cluster, RecordKind::GpuWorkload);
    let idx: Vec<usize> = (0..specs.len()).filter(|&i| specs[i].cluster == cluster).collect();
    // Every moment something happens, plus the initial list.
    let mut times: Vec<Ms> = idx
        .iter()
        .flat_map(|&i| std::iter::once(specs[i].created).chain(specs[i].steps.iter().map(|(t, _)| *t)))
        .chain(std::iter::once(list_at))
        .filter(|t| *t < clusters::DURATION)
        .collect();
    times.sort_unstable();
    times.dedup();

    let mut live: BTreeMap<usize, Live> = BTreeMap::new();
    let mut last_wl: BTreeMap<usize, GpuWorkload> = BTreeMap::new();
    let mut last_q: BTreeMap<&str, GpuQueue> = BTreeMap::new();
    for &t in &times {
        let at = tl.at(t);
        for &i in &idx {
            let w = &specs[i];
            if w.created == t {
                live.insert(
                    i,
                    Live {
                        state: None,
                        flavor: None,
                        admitted_at: None,
                        queued_at: t,
                        history: vec![WorkloadEvent {
                            at,
                            what: format!("Created in LocalQueue {}/{}", w.ns, w.lq),
                        }],
                    },
                );
            }
            let Some(l) = live.get_mut(&i) else { continue };
            for (st, step) in w.steps {
                if *st != t {
                    continue;
                }
                match *step {
                    Step::Admit(flavor) => {
                        l.state = Some(WorkloadState::Admitted);
                        l.flavor = Some(flavor);
                        l.admitted_at = Some(t);
                        l.history.push(WorkloadEvent {
                            at,
                            what: format!(
                                "QuotaReserved=True (QuotaReserved): Quota reserved in ClusterQueue {}",
                                w.cq
                            ),
                        });
                        l.history.push(WorkloadEvent {
                            at,
                            what: "Admitted=True (Admitted): The workload is admitted".into(),
                        });
                        pods_for(out, w, &ids[i], t, flavor);
                    }
                    Step::Finish => {
                        l.state = Some(WorkloadState::Finished { succeeded: true });
                        l.history.push(WorkloadEvent {
                            at,
                            what: "Finished=True (Succeeded): Job finished successfully".into(),
                        });
                        end_pods(out, &ids[i], t);
                    }
                    Step::Preempt(by, reason) => {
                        let preemptor = idx.iter().find(|&&j| specs[j].job == by).map(|&j| &ids[j]);
                        let text = match preemptor {
                            Some(p) => msg::kueue_preempted(&p.uid, &p.job_uid, reason),
                            None => msg::kueue_preempted("UNKNOWN", "UNKNOWN", reason),
                        };
                        l.history
                            .push(WorkloadEvent { at, what: format!("Evicted=True (Preempted): {text}") });
                        l.history.push(WorkloadEvent {
                            at,
                            what: format!("Preempted=True ({}): {text}", reason.reason()),
                        });
                        l.history.push(WorkloadEvent {
                            at,
                            what: "Admitted=False (NoReservation): The workload has no reservation".into(),
                        });
                        l.state = Some(WorkloadState::Evicted { reason: "Preempted".into(), message: text });
                        l.flavor = None;
                        l.admitted_at = None;
                        // Pods get their termination grace period.
                        end_pods(out, &ids[i], t + secs(30) + rng.random_range(0..secs(10)));
                    }
                    Step::Requeue => {
                        l.history.push(WorkloadEvent {
                            at,
                            what: "Requeued=True (Preempted): The workload was requeued after preemption"
                                .into(),
                        });
                        l.state = None;
                        l.queued_at = t;
                    }
                }
            }
        }
        // Pending workloads: messages from the usage right now.
        let usage = usage(specs, &live);
        for (&i, l) in live.iter_mut() {
            if !matches!(l.state, None | Some(WorkloadState::Pending { .. })) {
                continue;
            }
            let w = &specs[i];
            let needs: Vec<(&str, u32)> =
                w.flavors.iter().map(|f| (*f, needed(cluster, w, f, &usage))).collect();
            if needs.iter().any(|(_, n)| *n == 0) {
                // It fits now: Kueue admits it in its next cycle (scripted); keep the old message.
                continue;
            }
            let message = msg::kueue_pending("main", &needs);
            let changed =
                !matches!(&l.state, Some(WorkloadState::Pending { message: m, .. }) if *m == message);
            if changed {
                l.history
                    .push(WorkloadEvent { at, what: format!("QuotaReserved=False (Pending): {message}") });
                l.state = Some(WorkloadState::Pending { reason: "Pending".into(), message });
            }
        }
        if t < list_at || !clusters::reachable(cluster, t) {
            continue;
        }
        let positions = positions(specs, &live);
        for (&i, l) in &live {
            let record = workload_record(tl, &specs[i], &ids[i], l, positions.get(&i).copied());
            if last_wl.get(&i) != Some(&record) {
                tl.upsert(t, &cid, Record::GpuWorkload(record.clone()));
                last_wl.insert(i, record);
            }
        }
        for q in QUEUES.iter().filter(|q| q.cluster == cluster) {
            let record = queue_record(q, specs, &live, &usage);
            if last_q.get(q.name) != Some(&record) {
                tl.upsert(t + 1, &cid, Record::GpuQueue(record.clone()));
                last_q.insert(q.name, record);
            }
        }
    }
}

/// GPUs in use per (ClusterQueue, flavor).
type Usage = BTreeMap<(&'static str, &'static str), u32>;

fn usage(specs: &[WlSpec], live: &BTreeMap<usize, Live>) -> Usage {
    let mut u = Usage::new();
    for (&i, l) in live {
        if let (Some(WorkloadState::Admitted), Some(f)) = (&l.state, l.flavor) {
            *u.entry((specs[i].cq, f)).or_default() += specs[i].gpus;
        }
    }
    u
}

fn quota_of(cq: &str, flavor: &str) -> Option<(&'static QueueSpec, Quota)> {
    let q = QUEUES.iter().find(|q| q.name == cq)?;
    let quota = q.quotas.iter().find(|x| x.0 == flavor)?;
    Some((q, *quota))
}

/// How many more GPUs of `flavor` the workload needs than its queue can get right now (0 = fits).
fn needed(cluster: &str, w: &WlSpec, flavor: &str, usage: &Usage) -> u32 {
    let Some((q, (_, nominal, borrow, _))) = quota_of(w.cq, flavor) else {
        return w.gpus;
    };
    let used = usage.get(&(w.cq, flavor)).copied().unwrap_or(0);
    // Without a cohort there is nothing to borrow; in one, no limit means the whole cohort.
    let own_cap = match (q.cohort, borrow) {
        (None, _) => nominal,
        (Some(_), Some(b)) => nominal + b,
        (Some(_), None) => u32::MAX / 4,
    };
    let mut avail = own_cap.saturating_sub(used);
    if let Some(cohort) = q.cohort {
        let members = QUEUES.iter().filter(|m| m.cluster == cluster && m.cohort == Some(cohort));
        let (mut total, mut cohort_used) = (0, 0);
        for m in members {
            total += m.quotas.iter().filter(|x| x.0 == flavor).map(|x| x.1).sum::<u32>();
            cohort_used += usage.get(&(m.name, flavor)).copied().unwrap_or(0);
        }
        avail = avail.min(total.saturating_sub(cohort_used));
    }
    w.gpus.saturating_sub(avail)
}

/// Positions in each ClusterQueue: priority first, then queue time (BestEffortFIFO).
fn positions(specs: &[WlSpec], live: &BTreeMap<usize, Live>) -> BTreeMap<usize, u32> {
    let mut by_cq: BTreeMap<&str, Vec<(i32, Ms, usize)>> = BTreeMap::new();
    for (&i, l) in live {
        if matches!(l.state, Some(WorkloadState::Pending { .. })) {
            by_cq.entry(specs[i].cq).or_default().push((-specs[i].priority, l.queued_at, i));
        }
    }
    let mut out = BTreeMap::new();
    for (_, mut v) in by_cq {
        v.sort_unstable();
        for (pos, (_, _, i)) in v.into_iter().enumerate() {
            out.insert(i, pos as u32 + 1);
        }
    }
    out
}

fn workload_record(tl: &Timeline, w: &WlSpec, ids: &Ids, l: &Live, position: Option<u32>) -> GpuWorkload {
    GpuWorkload {
        namespace: w.ns.into(),
        name: ids.name.clone(),
        uid: Some(ids.uid.clone()),
        owner: Some(format!("Job/{}", w.job)),
        local_queue: w.lq.into(),
        cluster_queue: Some(w.cq.into()),
        team: QUEUES.iter().find(|q| q.name == w.cq).map(|q| q.team.to_string()),
        priority_class: Some(w.prio_class.into()),
        priority: w.priority,
        gpus: w.gpus,
        cpu: Some(f64::from(w.gpus) * per_gpu(w.cq).0),
        memory: Some(f64::from(w.gpus) * per_gpu(w.cq).1 * GIB),
        flavor: l.flavor.map(str::to_string),
        state: l
            .state
            .clone()
            .unwrap_or(WorkloadState::Pending { reason: "Pending".into(), message: String::new() }),
        created_at: tl.at(w.created),
        admitted_at: l.admitted_at.map(|t| tl.at(t)),
        position,
        history: l.history.clone(),
    }
}

fn queue_record(q: &QueueSpec, specs: &[WlSpec], live: &BTreeMap<usize, Live>, usage: &Usage) -> GpuQueue {
    let mine = || live.iter().filter(|(i, _)| specs[**i].cq == q.name && specs[**i].cluster == q.cluster);
    GpuQueue {
        name: q.name.into(),
        cohort: q.cohort.map(str::to_string),
        team: Some(q.team.into()),
        quotas: q
            .quotas
            .iter()
            .flat_map(|&(flavor, nominal, borrow, lend)| {
                let gpus_used = f64::from(usage.get(&(q.name, flavor)).copied().unwrap_or(0));
                // What admitted workloads of this queue hold in this flavor, per GPU shape.
                let (cores, gib) = mine()
                    .filter(|(_, l)| {
                        matches!(l.state, Some(WorkloadState::Admitted)) && l.flavor == Some(flavor)
                    })
                    .map(|(i, _)| {
                        let (c, m) = per_gpu(specs[*i].cq);
                        (f64::from(specs[*i].gpus) * c, f64::from(specs[*i].gpus) * m)
                    })
                    .fold((0.0, 0.0), |(a, b), (c, m)| (a + c, b + m));
                let row = |resource: &str, per: f64, used: f64| {
                    let nominal = f64::from(nominal) * per;
                    FlavorQuota {
                        flavor: flavor.into(),
                        resource: resource.into(),
                        nominal,
                        borrowing_limit: borrow.map(|b| f64::from(b) * per),
                        lending_limit: lend.map(|l| f64::from(l) * per),
                        used,
                        reserved: used,
                        borrowed: (used - nominal).max(0.0),
                        product: None,
                    }
                };
                [
                    row(GPU, 1.0, gpus_used),
                    row("cpu", q.per_gpu.0, cores),
                    row("memory", q.per_gpu.1 * GIB, gib * GIB),
                ]
            })
            .collect(),
        pending_workloads: mine()
            .filter(|(_, l)| matches!(l.state, Some(WorkloadState::Pending { .. })))
            .count() as u32,
        admitted_workloads: mine().filter(|(_, l)| matches!(l.state, Some(WorkloadState::Admitted))).count()
            as u32,
        local_queues: q.local_queues.iter().map(|s| s.to_string()).collect(),
        api_version: "v1beta2".into(),
    }
}

/// The pods an admitted workload starts (or that wait for a node).
fn pods_for(out: &mut KueueOutput, w: &WlSpec, ids: &Ids, admitted: Ms, flavor: &'static str) {
    let running_from = admitted + w.pod_delay;
    if w.placement.is_empty() {
        out.pending.push(super::gpu::PendingPod {
            cluster: w.cluster,
            namespace: w.ns.into(),
            name: format!("{}-0-{}", w.job, ids.pod_suffixes.first().map_or("", String::as_str)),
            team: w.ns.into(),
            gpus: w.gpus,
            from: admitted + secs(1),
            until: None,
            why: Unschedulable::Flavor(flavor),
        });
        return;
    }
    for (k, &(node, first, n)) in w.placement.iter().enumerate() {
        let suffix = ids.pod_suffixes.get(k).cloned().unwrap_or_default();
        let name = format!("{}-{k}-{suffix}", w.job);
        if w.pod_delay > secs(20) {
            out.pending.push(super::gpu::PendingPod {
                cluster: w.cluster,
                namespace: w.ns.into(),
                name: name.clone(),
                team: w.ns.into(),
                gpus: n,
                from: admitted + secs(1),
                until: Some(running_from),
                why: Unschedulable::Flavor(flavor),
            });
        }
        out.pods.push(PodRun {
            cluster: w.cluster,
            node,
            first_device: first,
            devices: n,
            pod: format!("{}/{name}", w.ns),
            owner: ids.name.clone(),
            from: running_from,
            to: None,
            idle: w.idle,
        });
    }
}

/// Ends the running pods of a workload at `t`.
fn end_pods(out: &mut KueueOutput, ids: &Ids, t: Ms) {
    for p in out.pods.iter_mut().filter(|p| p.owner == ids.name && p.to.is_none()) {
        p.to = Some(t);
    }
}
