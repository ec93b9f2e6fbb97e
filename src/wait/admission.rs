//! The admission stage: why Kueue has not reserved quota for a workload.
//!
//! Quota arithmetic (Kueue's, for one flavor and resource): a ClusterQueue `Q` in a cohort
//! may use its own nominal quota plus what the other members lend, up to its borrowing limit:
//!
//! ```text
//! lendable(o)   = o.lending_limit, or o.nominal when it has none
//! pool(Q)       = Q.nominal + Σ other members' lendable
//! pool_used(Q)  = Q.used + Σ other members' max(0, used − (nominal − lendable))
//! headroom(Q)   = Q.nominal + Q.borrowing_limit − Q.used   (unlimited without a limit)
//! available(Q)  = max(0, min(pool − pool_used, headroom))
//! ```
//!
//! Without a cohort, `available = max(0, nominal − used)`. A workload asking for `n` waits for
//! quota while `available < n`, and exceeds its maximum when `n > nominal + borrowing_limit`.

use jiff::Timestamp;

use super::{Evidence, Link, Part, Stage, Step, Verdict, WaitClass, hm, qty};
use crate::model::{ClusterId, FlavorQuota, GpuQueue, GpuWorkload, WorkloadState, is_gpu_resource};
use crate::sources::parse::kueue_message::{self, QuotaShortfall, ShortfallKind};
use crate::state::{FleetState, RecordId};

/// How many holders of the quota a chain names (the rest are counted).
pub const HOLDERS_SHOWN: usize = 5;

/// One flavor of one resource as a ClusterQueue sees it in its cohort.
#[derive(Debug, Clone, PartialEq)]
pub struct FlavorView {
    /// Flavor.
    pub flavor: String,
    /// Resource.
    pub resource: String,
    /// The queue's nominal quota.
    pub nominal: f64,
    /// Used by its admitted workloads.
    pub used: f64,
    /// Borrowed from the cohort.
    pub borrowed: f64,
    /// Its borrowing limit (`None`: unlimited in a cohort).
    pub borrowing_limit: Option<f64>,
    /// The cohort, when it has one.
    pub cohort: Option<String>,
    /// What the queue may use in the cohort (see the module docs); its nominal without one.
    pub pool: f64,
    /// What of the pool is in use.
    pub pool_used: f64,
    /// What the queue could get now.
    pub available: f64,
    /// The most the queue could ever have: nominal plus borrowing limit (`None`: unlimited).
    pub maximum: Option<f64>,
}

/// `q` seen from `flavor`/`resource`, with the cohort's members of `cluster`.
pub fn flavor_view(state: &FleetState, cluster: &ClusterId, q: &GpuQueue, fq: &FlavorQuota) -> FlavorView {
    let headroom = fq.borrowing_limit.map(|b| fq.nominal + b - fq.used);
    let (pool, pool_used) = match &q.cohort {
        None => (fq.nominal, fq.used),
        Some(cohort) => {
            let mut pool = fq.nominal;
            let mut used = fq.used;
            for (_, o) in FleetState::in_cluster(state.gpu_queues(), cluster) {
                if o.name == q.name || o.cohort.as_ref() != Some(cohort) {
                    continue;
                }
                for of in o.quotas.iter().filter(|x| x.flavor == fq.flavor && x.resource == fq.resource) {
                    let lendable = of.lending_limit.unwrap_or(of.nominal).min(of.nominal);
                    pool += lendable;
                    used += (of.used - (of.nominal - lendable)).max(0.0);
                }
            }
            (pool, used)
        }
    };
    let mut available = pool - pool_used;
    if q.cohort.is_none() {
        available = fq.nominal - fq.used;
    } else if let Some(h) = headroom {
        available = available.min(h);
    }
    let maximum = match (&q.cohort, fq.borrowing_limit) {
        (None, _) => Some(fq.nominal),
        (Some(_), Some(b)) => Some(fq.nominal + b),
        (Some(_), None) => None,
    };
    FlavorView {
        flavor: fq.flavor.clone(),
        resource: fq.resource.clone(),
        nominal: fq.nominal,
        used: fq.used,
        borrowed: fq.borrowed,
        borrowing_limit: fq.borrowing_limit,
        cohort: q.cohort.clone(),
        pool,
        pool_used,
        available: available.max(0.0),
        maximum,
    }
}

/// The workload's ClusterQueue in its cluster, when watched.
fn queue_of<'a>(state: &'a FleetState, id: &RecordId, w: &GpuWorkload) -> Option<(RecordId, &'a GpuQueue)> {
    let name = w.cluster_queue.as_ref()?;
    let qid = RecordId::new(id.cluster.clone(), name.clone());
    state.gpu_queues().get(&qid).map(|q| (qid, q))
}

/// The `QuotaReserved=False` reason and message Kueue gave last, and when: the state's for a
/// pending workload, else the newest in its history (an evicted workload's next try).
fn pending_condition(w: &GpuWorkload) -> Option<(String, String, Option<Timestamp>)> {
    let from_history = || {
        w.history.iter().rev().find_map(|e| {
            let rest = e.what.strip_prefix("QuotaReserved=False (")?;
            let (reason, message) = rest.split_once("): ")?;
            Some((reason.to_string(), message.to_string(), Some(e.at)))
        })
    };
    match &w.state {
        WorkloadState::Pending { reason, message } => {
            let at = from_history().filter(|(_, m, _)| m == message).and_then(|(_, _, at)| at);
            Some((reason.clone(), message.clone(), at))
        }
        WorkloadState::Evicted { .. } => from_history(),
        _ => None,
    }
}

/// The flavor a workload is after (its assigned one, the first GPU flavor Kueue says it is
/// short of, else its queue's first GPU flavor), as a GPU product when the flavor names one
/// (`ResourceFlavor` node labels) and else as the flavor name: what [`super::fleet`] looks for
/// elsewhere.
pub fn wanted_flavor(state: &FleetState, id: &RecordId, w: &GpuWorkload) -> Option<String> {
    let queue = queue_of(state, id, w).map(|(_, q)| q);
    let shortfalls =
        pending_condition(w).map(|(_, m, _)| kueue_message::parse_pending(&m)).unwrap_or_default();
    let flavor = w
        .flavor
        .clone()
        .or_else(|| {
            shortfalls
                .iter()
                .find(|s| s.resource.as_deref().is_some_and(is_gpu_resource))
                .and_then(|s| s.flavor.clone())
        })
        .or_else(|| {
            queue.and_then(|q| {
                q.quotas.iter().find(|f| is_gpu_resource(&f.resource)).map(|f| f.flavor.clone())
            })
        })?;
    let product =
        queue.and_then(|q| q.quotas.iter().find(|f| f.flavor == flavor).and_then(|f| f.product.clone()));
    Some(product.unwrap_or(flavor))
}

/// The class of a `QuotaReserved=False` condition from its reason and parsed message.
pub fn classify(reason: &str, message: &str, shortfalls: &[QuotaShortfall]) -> WaitClass {
    let lower = message.to_ascii_lowercase();
    if lower.contains("preemption of") || reason == "WaitingForPreemptedWorkloads" {
        return WaitClass::WaitingForPreemptedWorkloads;
    }
    if lower.contains("topology") || reason == "TopologyPlacementFailed" {
        return WaitClass::TopologyPlacementFailed;
    }
    let has = |f: &dyn Fn(&ShortfallKind) -> bool| shortfalls.iter().any(|s| f(&s.reason));
    if has(&|k| {
        matches!(
            k,
            ShortfallKind::LocalQueueMissing { .. }
                | ShortfallKind::ClusterQueueMissing { .. }
                | ShortfallKind::ClusterQueueInactive { .. }
        )
    }) {
        return WaitClass::QueueMissing;
    }
    if has(&|k| {
        matches!(
            k,
            ShortfallKind::UnusedQuota
                | ShortfallKind::UnusedCohortQuota
                | ShortfallKind::Quota
                | ShortfallKind::BorrowingLimitExceeded
        )
    }) {
        return WaitClass::WaitingForQuota;
    }
    if has(&|k| matches!(k, ShortfallKind::ExceedsMaximumCapacity { .. })) {
        return WaitClass::ExceedsMaxQuota;
    }
    if has(&|k| {
        matches!(
            k,
            ShortfallKind::NodeAffinityMismatch
                | ShortfallKind::UntoleratedTaint { .. }
                | ShortfallKind::FlavorNotFound
        )
    }) {
        return WaitClass::NoMatchingFlavor;
    }
    WaitClass::Unknown
}

/// A workload holding quota in `flavor`: admitted, or with quota reserved.
fn holds(w: &GpuWorkload, flavor: &str) -> bool {
    matches!(w.state, WorkloadState::Admitted | WorkloadState::QuotaReserved)
        && w.flavor.as_deref() == Some(flavor)
}

/// The workloads of `queues` holding quota in `flavor`: those of queues over their nominal
/// (borrowing) first, then lowest priority first, then newest admission first (the order
/// Kueue picks preemption victims in).
fn holders<'a>(
    state: &'a FleetState,
    cluster: &ClusterId,
    queues: &[&str],
    flavor: &str,
) -> Vec<(&'a RecordId, &'a GpuWorkload)> {
    let mut out: Vec<(&RecordId, &GpuWorkload)> = queues
        .iter()
        .filter_map(|q| state.indexes().workloads_by_queue.get(&(cluster.clone(), (*q).to_string())))
        .flatten()
        .filter_map(|id| state.gpu_workloads().get(id).map(|w| (id, w)))
        .filter(|(_, w)| holds(w, flavor))
        .collect();
    let borrows = |w: &GpuWorkload| {
        let Some(q) = w.cluster_queue.as_ref() else { return false };
        state.gpu_queues().get(&RecordId::new(cluster.clone(), q.clone())).is_some_and(|q| {
            q.quotas.iter().any(|f| f.flavor == flavor && is_gpu_resource(&f.resource) && f.used > f.nominal)
        })
    };
    out.sort_by(|(ia, a), (ib, b)| {
        borrows(b)
            .cmp(&borrows(a))
            .then(a.priority.cmp(&b.priority))
            .then(b.admitted_at.cmp(&a.admitted_at))
            .then_with(|| ia.cmp(ib))
    });
    out
}

/// Since when `queue` has been above its nominal quota of `flavor`, as its current holders
/// tell: admissions in order, the first that took the running sum over nominal.
fn borrowing_since(
    state: &FleetState,
    cluster: &ClusterId,
    queue: &str,
    flavor: &str,
    nominal: f64,
) -> Option<Timestamp> {
    let mut admitted: Vec<(Timestamp, f64)> = holders(state, cluster, &[queue], flavor)
        .into_iter()
        .filter_map(|(_, w)| w.admitted_at.map(|t| (t, f64::from(w.gpus))))
        .collect();
    admitted.sort_by_key(|(t, _)| *t);
    let mut sum = 0.0;
    admitted.into_iter().find_map(|(t, g)| {
        sum += g;
        (sum > nominal + 1e-9).then_some(t)
    })
}

/// The admission stage of workload `id`.
pub fn explain(state: &FleetState, id: &RecordId, w: &GpuWorkload) -> Part {
    let mut steps = Vec::new();
    let cq = w.cluster_queue.clone().unwrap_or_else(|| format!("(LocalQueue {})", w.local_queue));
    let queue = queue_of(state, id, w);
    let condition = pending_condition(w);
    let shortfalls: Vec<QuotaShortfall> =
        condition.as_ref().map(|(_, m, _)| kueue_message::parse_pending(m)).unwrap_or_default();
    let mut class = match &condition {
        Some((reason, message, _)) => classify(reason, message, &shortfalls),
        None => WaitClass::Unknown,
    };
    // What Kueue said.
    match &w.state {
        WorkloadState::Evicted { reason, message } => {
            let words = kueue_message::parse_preemption(message)
                .map(|p| kueue_message::preemption_summary(&p))
                .unwrap_or_else(|| message.clone());
            let at = w.history.iter().rev().find(|e| e.what.starts_with("Evicted=True")).map(|e| e.at);
            steps.push(
                Step::new(Stage::Admission, "evicted", format!("evicted ({reason}): {words}"))
                    .since(at)
                    .evidence(Evidence::new("Workload condition Evicted", message.clone(), at)),
            );
            if condition.is_none() {
                class = WaitClass::Evicted;
            }
        }
        WorkloadState::QuotaReserved => {
            class = WaitClass::WaitingForAdmissionChecks;
            let checks: Vec<&crate::model::WorkloadEvent> =
                w.history.iter().filter(|e| e.what.starts_with("AdmissionCheck ")).collect();
            let words = match checks.last() {
                Some(e) => format!("quota reserved in {cq}; {}", e.what),
                None => format!("quota reserved in {cq}; admission checks pending"),
            };
            let mut step = Step::new(Stage::Admission, "admission_checks", words);
            for e in checks {
                step = step.evidence(Evidence::new("Workload admissionChecks", e.what.clone(), Some(e.at)));
            }
            steps.push(step);
        }
        _ => {}
    }
    if let Some((reason, message, at)) = &condition {
        let words = if shortfalls.is_empty() {
            crate::ui::widgets::format::one_line(message)
        } else {
            kueue_message::summary(&shortfalls)
        };
        let words = if words.is_empty() { "no message yet".to_string() } else { words };
        steps.push(
            Step::new(Stage::Admission, "reason", format!("Kueue: {} ({reason}): {words}", class.words()))
                .since(*at)
                .evidence(Evidence::new(
                    format!("Workload condition QuotaReserved=False ({reason})"),
                    message.clone(),
                    *at,
                )),
        );
    }
    // The queue, its flavors and the cohort.
    let mut verdict_words = None;
    match &queue {
        None => steps.push(Step::new(
            Stage::Admission,
            "queue",
            match &w.cluster_queue {
                Some(name) => format!("ClusterQueue {name} is not watched (or not in this cluster)"),
                None => format!("no ClusterQueue known for LocalQueue {}", w.local_queue),
            },
        )),
        Some((qid, q)) => {
            let flavors = flavors_in_question(q, &shortfalls);
            for fq in &flavors {
                let v = flavor_view(state, &id.cluster, q, fq);
                let (s, words) = quota_steps(state, id, qid, q, w, &v);
                steps.extend(s);
                verdict_words = verdict_words.or(words);
            }
            steps.push(position_step(state, id, w, q));
            if let Some(fq) = flavors.first() {
                steps.push(preemption_step(state, id, q, w, &flavor_view(state, &id.cluster, q, fq)));
            }
        }
    }
    let head = class.words();
    let words = match (class, verdict_words) {
        (WaitClass::WaitingForQuota, Some(v)) => format!("{head}: {v}"),
        (WaitClass::ExceedsMaxQuota, _) | (WaitClass::NoMatchingFlavor, _) | (WaitClass::QueueMissing, _)
            if !shortfalls.is_empty() =>
        {
            format!("{head}: {}", kueue_message::summary(&shortfalls))
        }
        (WaitClass::WaitingForAdmissionChecks | WaitClass::Evicted, _) => {
            format!("{head}: {}", steps.first().map(|s| s.words.as_str()).unwrap_or(""))
        }
        (_, Some(v)) => format!("{head}: {v}"),
        _ => match &condition {
            Some((_, m, _)) if !m.is_empty() => {
                format!("{head}: {}", crate::ui::widgets::format::one_line(m))
            }
            _ => format!("{head}: no QuotaReserved message recorded yet"),
        },
    };
    Part { verdict: Verdict { class, words }, steps }
}

/// The flavors and resources Kueue said it is short of (a GPU workload can wait for CPU
/// quota too), else every GPU flavor of the queue.
fn flavors_in_question<'a>(q: &'a GpuQueue, shortfalls: &[QuotaShortfall]) -> Vec<&'a FlavorQuota> {
    let mut named: Vec<&FlavorQuota> = Vec::new();
    for s in shortfalls {
        let Some(resource) = s.resource.as_deref() else { continue };
        if let Some(fq) =
            q.quotas.iter().find(|f| s.flavor.as_deref() == Some(f.flavor.as_str()) && f.resource == resource)
            && !named.contains(&fq)
        {
            named.push(fq);
        }
    }
    if named.is_empty() { q.quotas.iter().filter(|f| is_gpu_resource(&f.resource)).collect() } else { named }
}

/// What the workload asks for of `resource`, in its base unit, when known.
fn need_of(w: &GpuWorkload, resource: &str) -> Option<f64> {
    match resource {
        r if is_gpu_resource(r) => Some(f64::from(w.gpus)),
        "cpu" => w.cpu,
        "memory" => w.memory,
        _ => None,
    }
}

/// `8 h100-80gb` for GPUs, `6 cpu in default-flavor` for other resources.
fn amount(n: f64, v: &FlavorView) -> String {
    if is_gpu_resource(&v.resource) {
        format!("{} {}", qty(n), v.flavor)
    } else {
        format!("{} {} in {}", qty(n), v.resource, v.flavor)
    }
}

/// The quota, cohort and holder steps for one flavor; the verdict's words when the workload
/// does not fit in it.
fn quota_steps(
    state: &FleetState,
    id: &RecordId,
    qid: &RecordId,
    q: &GpuQueue,
    w: &GpuWorkload,
    v: &FlavorView,
) -> (Vec<Step>, Option<String>) {
    let mut steps = Vec::new();
    let limit = v.borrowing_limit.map(qty).unwrap_or_else(|| "unlimited".into());
    let borrowing = if v.cohort.is_some() {
        format!(", borrowed {} (borrowing limit {limit})", qty(v.borrowed))
    } else {
        String::new()
    };
    let own_since = (v.used > v.nominal)
        .then(|| borrowing_since(state, &id.cluster, &q.name, &v.flavor, v.nominal))
        .flatten();
    steps.push(
        Step::new(
            Stage::Admission,
            "quota",
            format!(
                "ClusterQueue {} flavor {} {}: nominal {}, used {}{borrowing}",
                q.name,
                v.flavor,
                v.resource,
                qty(v.nominal),
                qty(v.used)
            ),
        )
        .since(own_since)
        .evidence(Evidence::new(
            format!("ClusterQueue {} status.flavorsUsage", q.name),
            format!("{} {}: used {} of nominal {}", v.flavor, v.resource, qty(v.used), qty(v.nominal)),
            None,
        ))
        .link(Link::Queue(qid.clone())),
    );
    let need = need_of(w, &v.resource);
    if let (Some(need), Some(m)) = (need, v.maximum)
        && need > m + 1e-9
    {
        let words = format!(
            "{} can have at most {} (nominal plus borrowing limit), it asks for {}",
            q.name,
            amount(m, v),
            qty(need)
        );
        steps.push(Step::new(Stage::Admission, "maximum", words.clone()));
        return (steps, Some(words));
    }
    let members: Vec<(&RecordId, &GpuQueue)> = match &q.cohort {
        Some(c) => FleetState::in_cluster(state.gpu_queues(), &id.cluster)
            .filter(|(_, o)| o.cohort.as_ref() == Some(c))
            .collect(),
        None => vec![(qid, q)],
    };
    if let Some(cohort) = &q.cohort {
        let others = members.len().saturating_sub(1);
        let mut step = Step::new(
            Stage::Admission,
            "cohort",
            format!(
                "cohort {cohort} flavor {}: {} can use {} (its nominal {} + {} lent by {others} other queue{}), {} in use, {} free",
                v.flavor,
                q.name,
                qty(v.pool),
                qty(v.nominal),
                qty(v.pool - v.nominal),
                if others == 1 { "" } else { "s" },
                qty(v.pool_used),
                qty(v.available)
            ),
        );
        for (_, m) in &members {
            if let Some(mf) = m.quotas.iter().find(|x| x.flavor == v.flavor && x.resource == v.resource) {
                step = step.evidence(Evidence::new(
                    format!("ClusterQueue {} status", m.name),
                    format!(
                        "used {} of nominal {}{}{}",
                        qty(mf.used),
                        qty(mf.nominal),
                        if mf.borrowed > 0.0 {
                            format!(", borrowing {}", qty(mf.borrowed))
                        } else {
                            String::new()
                        },
                        mf.lending_limit.map(|l| format!(", lending limit {}", qty(l))).unwrap_or_default()
                    ),
                    None,
                ));
            }
        }
        steps.push(step);
    }
    let names: Vec<&str> = members.iter().map(|(_, m)| m.name.as_str()).collect();
    let held = holders(state, &id.cluster, &names, &v.flavor);
    for (hid, h) in held.iter().take(HOLDERS_SHOWN) {
        let hq = h.cluster_queue.as_deref().unwrap_or("?");
        steps.push(
            Step::new(
                Stage::Admission,
                "holder",
                format!(
                    "held by {}/{} ({hq}, priority {}, {})",
                    h.namespace,
                    h.name,
                    h.priority,
                    need_of(h, &v.resource).map_or_else(|| v.flavor.clone(), |n| amount(n, v))
                ),
            )
            .since(h.admitted_at)
            .link(Link::Workload((*hid).clone())),
        );
    }
    if held.len() > HOLDERS_SHOWN {
        steps.push(Step::new(
            Stage::Admission,
            "holder",
            format!("… and {} more workloads hold {}", held.len() - HOLDERS_SHOWN, v.flavor),
        ));
    }
    let Some(need) = need.filter(|n| v.available + 1e-9 < *n) else {
        return (steps, None);
    };
    // The verdict: who has the quota. Another queue borrowing first, the most; else this
    // queue's own borrowing; else the biggest user within its nominal.
    let mut others: Vec<(&GpuQueue, &FlavorQuota)> = members
        .iter()
        .filter(|(_, m)| m.name != q.name)
        .filter_map(|(_, m)| {
            m.quotas.iter().find(|x| x.flavor == v.flavor && x.resource == v.resource).map(|f| (*m, f))
        })
        .collect();
    others.sort_by(|a, b| b.1.borrowed.total_cmp(&a.1.borrowed).then(b.1.used.total_cmp(&a.1.used)));
    let scope = match &v.cohort {
        Some(c) => format!("cohort {c} has {} free", qty(v.available)),
        None => format!("{} of its nominal {} free", qty(v.available), qty(v.nominal)),
    };
    let mut words = format!("{} needs {}, {scope}", q.name, amount(need, v));
    let since = |name: &str, nominal: f64| {
        borrowing_since(state, &id.cluster, name, &v.flavor, nominal)
            .map(|t| format!(" since {}", hm(t)))
            .unwrap_or_default()
    };
    match others.first() {
        Some((o, f)) if f.borrowed > 0.0 => {
            words.push_str(&format!("; {} borrows {}{}", o.name, qty(f.borrowed), since(&o.name, f.nominal)));
        }
        _ if v.borrowed > 0.0 => {
            words.push_str(&format!(
                "; {} itself borrows {}{}",
                q.name,
                qty(v.borrowed),
                since(&q.name, v.nominal)
            ));
        }
        Some((o, f)) if f.used > 0.0 => {
            words.push_str(&format!("; {} uses {} of its {} nominal", o.name, qty(f.used), qty(f.nominal)));
        }
        _ => {}
    }
    (steps, Some(words))
}

/// When a workload joined its queue's order: its last eviction or requeue (Kueue's default
/// `requeuingTimestamp: Eviction`), else its creation.
pub fn queued_at(w: &GpuWorkload) -> Timestamp {
    w.history
        .iter()
        .rev()
        .find(|e| e.what.starts_with("Requeued=True") || e.what.starts_with("Evicted=True"))
        .map_or(w.created_at, |e| e.at)
}

/// The queue position: the visibility API's when read, else an estimate from the pending
/// workloads of the queue (priority, then the time it joined the queue: Kueue's
/// BestEffortFIFO/StrictFIFO order).
fn position_step(state: &FleetState, id: &RecordId, w: &GpuWorkload, q: &GpuQueue) -> Step {
    let mut pending: Vec<(&RecordId, &GpuWorkload)> = state
        .indexes()
        .workloads_by_queue
        .get(&(id.cluster.clone(), q.name.clone()))
        .into_iter()
        .flatten()
        .filter_map(|i| state.gpu_workloads().get(i).map(|x| (i, x)))
        .filter(|(_, x)| matches!(x.state, WorkloadState::Pending { .. } | WorkloadState::Evicted { .. }))
        .collect();
    pending.sort_by(|(ia, a), (ib, b)| {
        b.priority.cmp(&a.priority).then(queued_at(a).cmp(&queued_at(b))).then_with(|| ia.cmp(ib))
    });
    let of = pending.len();
    let words = match w.position {
        Some(p) => format!("position {p} of {of} pending in {} (visibility API)", q.name),
        None => match pending.iter().position(|(i, _)| *i == id) {
            Some(p) => format!(
                "about position {} of {of} pending in {} by priority, then queueing time (visibility API not read)",
                p + 1,
                q.name
            ),
            None => format!("{of} workloads pending in {}; position unknown", q.name),
        },
    };
    let ahead: Vec<String> = pending
        .iter()
        .take_while(|(i, _)| *i != id)
        .take(3)
        .map(|(_, x)| format!("{}/{} (priority {})", x.namespace, x.name, x.priority))
        .collect();
    let mut step = Step::new(Stage::Admission, "position", words);
    if !ahead.is_empty() {
        step = step.evidence(Evidence::new("ahead in the queue", ahead.join(", "), None));
    }
    step
}

/// Preemption candidates (lower priority in the same queue; workloads of borrowing queues when
/// this queue is within its nominal) and why they were not taken.
fn preemption_step(state: &FleetState, id: &RecordId, q: &GpuQueue, w: &GpuWorkload, v: &FlavorView) -> Step {
    let need = need_of(w, &v.resource).unwrap_or(0.0);
    let mut candidates: Vec<(&RecordId, &GpuWorkload, &'static str)> =
        holders(state, &id.cluster, &[&q.name], &v.flavor)
            .into_iter()
            .filter(|(_, h)| h.priority < w.priority)
            .map(|(i, h)| (i, h, "lower priority in the same queue"))
            .collect();
    let within_nominal = v.used + need <= v.nominal + 1e-9;
    let mut borrowers = Vec::new();
    if let Some(cohort) = &q.cohort {
        for (_, o) in FleetState::in_cluster(state.gpu_queues(), &id.cluster) {
            if o.name == q.name || o.cohort.as_ref() != Some(cohort) {
                continue;
            }
            if o.quotas.iter().any(|f| f.flavor == v.flavor && f.resource == v.resource && f.borrowed > 0.0) {
                borrowers.push(o.name.as_str());
            }
        }
    }
    if within_nominal {
        for (i, h) in holders(state, &id.cluster, &borrowers, &v.flavor) {
            candidates.push((i, h, "its queue borrows in the cohort (reclaim)"));
        }
    }
    let freed: f64 = candidates.iter().filter_map(|(_, h, _)| need_of(h, &v.resource)).sum();
    let short = (need - v.available).max(0.0);
    let words = if candidates.is_empty() {
        let mut why = vec![format!("no workload in {} has priority below {}", q.name, w.priority)];
        if !within_nominal {
            why.push(format!(
                "{} would be over its nominal {} ({} used + {} > {}), so it cannot reclaim from the cohort",
                q.name,
                v.flavor,
                qty(v.used),
                qty(need),
                qty(v.nominal)
            ));
        } else if borrowers.is_empty() && q.cohort.is_some() {
            why.push("no other queue of the cohort borrows".into());
        }
        format!("no preemption candidates: {}", why.join("; "))
    } else if freed + 1e-9 < short {
        format!(
            "{} preemption candidates free only {} of the {} short",
            candidates.len(),
            qty(freed),
            qty(short)
        )
    } else {
        format!(
            "{} preemption candidates could free {}; not taken: fleettop does not read the ClusterQueue's \
             preemption policy (Kueue's default is Never), or Kueue has not retried yet",
            candidates.len(),
            qty(freed)
        )
    };
    let mut step = Step::new(Stage::Admission, "preemption", words);
    for (i, h, why) in candidates.iter().take(HOLDERS_SHOWN) {
        step = step
            .evidence(Evidence::new(
                "candidate",
                format!("{}/{} (priority {}, {} GPUs): {why}", h.namespace, h.name, h.priority, h.gpus),
                h.admitted_at,
            ))
            .link(Link::Workload((*i).clone()));
    }
    step
}
