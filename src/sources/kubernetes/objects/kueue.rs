//! Kueue (kueue.x-k8s.io) `ClusterQueue`, `LocalQueue` and `Workload` objects.
//!
//! Both served versions are read (REFERENCE.md §3): v1beta2 (storage version since Kueue
//! v0.15) renamed `ClusterQueue.spec.cohort` → `spec.cohortName` and `Workload.spec.
//! priorityClassName` (+ `priorityClassSource`) → `spec.priorityClassRef{group,kind,name}`;
//! everything read here is otherwise the same in both. Quantities may be JSON numbers or
//! strings (`9`, `"36Gi"`); they are converted to base units with
//! [`parse_quantity`](crate::sources::parse::kueue_message::parse_quantity).

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::DynamicObject;
use serde_json::Value;

use super::{
    ProjectionConfig, array_at, at, count_at, created, group_version, in_group, int_at, kind, label,
    quantity, str_at, string_at, time_at,
};
use crate::model::{FlavorQuota, GpuQueue, GpuWorkload, WorkloadEvent, WorkloadState, is_gpu_resource};

const GROUP: &str = "kueue.x-k8s.io";
/// Label Kueue reads the LocalQueue from on jobs (and copies onto their workloads).
const QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";
/// Label naming a WorkloadPriorityClass on jobs.
const PRIORITY_LABEL: &str = "kueue.x-k8s.io/priority-class";

/// A LocalQueue and the ClusterQueue it submits to (to fill [`GpuQueue::local_queues`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalQueueRef {
    /// Namespace (empty when the object carries none, as in manifests applied with `-n`).
    pub namespace: String,
    /// LocalQueue name.
    pub name: String,
    /// `spec.clusterQueue`.
    pub cluster_queue: String,
}

impl LocalQueueRef {
    /// `namespace/name`, as [`GpuQueue::local_queues`] lists it.
    pub fn key(&self) -> String {
        crate::model::ns_name(Some(&self.namespace), &self.name)
    }
}

/// True when `obj` is (or, without types, may be) a Kueue object of kind `want`.
fn is_kueue(obj: &DynamicObject, want: &str) -> bool {
    in_group(obj, &[GROUP]) && kind(obj).is_none_or(|k| k == want)
}

fn name(meta: &ObjectMeta) -> Option<String> {
    meta.name.clone().filter(|n| !n.is_empty())
}

/// Any ClusterQueue, GPU or not (the pane filters), with quotas per flavor and resource and
/// the usage from its status. `None` for other objects, one without a name, or one whose
/// `spec` is not an object (malformed: skipped rather than shown as a queue with no quota).
///
/// A quota whose `nominalQuota` is not a quantity is left out; a malformed borrowing or
/// lending limit reads as absent. `local_queues` is left empty: the caller fills it from
/// [`local_queue`]s.
pub fn cluster_queue(obj: &DynamicObject, cfg: &ProjectionConfig) -> Option<GpuQueue> {
    if !is_kueue(obj, "ClusterQueue") {
        return None;
    }
    let d = &obj.data;
    if d.get("spec").is_some_and(|spec| !spec.is_object()) {
        return None;
    }
    Some(GpuQueue {
        name: name(&obj.metadata)?,
        cohort: string_at(d, &["spec", "cohortName"]).or_else(|| string_at(d, &["spec", "cohort"])),
        team: label(&obj.metadata, &cfg.team_label).map(str::to_string),
        quotas: quotas(d),
        pending_workloads: count_at(d, &["status", "pendingWorkloads"]).unwrap_or(0),
        admitted_workloads: count_at(d, &["status", "admittedWorkloads"]).unwrap_or(0),
        local_queues: Vec::new(),
        api_version: group_version(obj).map(|(_, v)| v.to_string()).unwrap_or_default(),
    })
}

/// `(total, borrowed)` per `(flavor, resource)` of `status.<field>` (`flavorsUsage`,
/// `flavorsReservation`).
fn usage(d: &Value, field: &str) -> BTreeMap<(String, String), (f64, f64)> {
    let mut out = BTreeMap::new();
    for flavor in array_at(d, &["status", field]) {
        let Some(f) = str_at(flavor, &["name"]) else { continue };
        for r in array_at(flavor, &["resources"]) {
            let Some(res) = str_at(r, &["name"]) else { continue };
            let amount = |k: &str| r.get(k).and_then(quantity).unwrap_or(0.0);
            out.insert((f.to_string(), res.to_string()), (amount("total"), amount("borrowed")));
        }
    }
    out
}

/// `spec.resourceGroups[].flavors[].resources[]` joined with the status usage.
fn quotas(d: &Value) -> Vec<FlavorQuota> {
    let used = usage(d, "flavorsUsage");
    let reserved = usage(d, "flavorsReservation");
    let mut out = Vec::new();
    for group in array_at(d, &["spec", "resourceGroups"]) {
        for flavor in array_at(group, &["flavors"]) {
            let Some(f) = str_at(flavor, &["name"]) else { continue };
            for r in array_at(flavor, &["resources"]) {
                let (Some(res), Some(nominal)) =
                    (str_at(r, &["name"]), r.get("nominalQuota").and_then(quantity))
                else {
                    continue;
                };
                let key = (f.to_string(), res.to_string());
                let (used, borrowed) = used.get(&key).copied().unwrap_or_default();
                out.push(FlavorQuota {
                    flavor: key.0.clone(),
                    resource: key.1.clone(),
                    nominal,
                    borrowing_limit: r.get("borrowingLimit").and_then(quantity),
                    lending_limit: r.get("lendingLimit").and_then(quantity),
                    used,
                    reserved: reserved.get(&key).map(|(t, _)| *t).unwrap_or(0.0),
                    borrowed,
                    product: None,
                });
            }
        }
    }
    out
}

/// A LocalQueue and its ClusterQueue; `None` without a name or `spec.clusterQueue`.
pub fn local_queue(obj: &DynamicObject) -> Option<LocalQueueRef> {
    if !is_kueue(obj, "LocalQueue") {
        return None;
    }
    Some(LocalQueueRef {
        namespace: obj.metadata.namespace.clone().unwrap_or_default(),
        name: name(&obj.metadata)?,
        cluster_queue: string_at(&obj.data, &["spec", "clusterQueue"])?,
    })
}

/// A Workload whose pod sets request accelerators ([`is_gpu_resource`]), or `None` (other
/// workloads, objects without a name or `creationTimestamp`).
///
/// `gpus` sums, over pod sets, `count` × the GPUs of one pod. One pod needs the larger of
/// its containers' sum (sidecar init containers, `restartPolicy: Always`, included) and its
/// largest regular init container, as the scheduler counts; a container's request defaults
/// to its limit, as for every extended resource. When the pod sets carry no template (an
/// excerpt), the totals Kueue computed (`status.admission.podSetAssignments[].resourceUsage`,
/// then `status.resourceRequests[].resources`) are used.
///
/// `history` holds what the object still shows: its creation, the last transition of each
/// condition (a condition keeps only its latest), and admission check states, oldest first.
pub fn workload(obj: &DynamicObject, cfg: &ProjectionConfig) -> Option<GpuWorkload> {
    if !is_kueue(obj, "Workload") {
        return None;
    }
    let d = &obj.data;
    let gpus = requested_gpus(d);
    if gpus == 0 {
        return None;
    }
    let meta = &obj.metadata;
    let created_at = created(meta)?;
    let conds = conditions(d);
    let local_queue =
        string_at(d, &["spec", "queueName"]).or_else(|| label(meta, QUEUE_LABEL).map(str::to_string));
    Some(GpuWorkload {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: name(meta)?,
        uid: meta.uid.clone(),
        owner: owner(meta),
        local_queue: local_queue.clone().unwrap_or_default(),
        cluster_queue: string_at(d, &["status", "admission", "clusterQueue"]),
        team: label(meta, &cfg.team_label).map(str::to_string),
        priority_class: string_at(d, &["spec", "priorityClassRef", "name"])
            .or_else(|| string_at(d, &["spec", "priorityClassName"]))
            .or_else(|| label(meta, PRIORITY_LABEL).map(str::to_string)),
        priority: int_at(d, &["spec", "priority"]).and_then(|p| i32::try_from(p).ok()).unwrap_or(0),
        gpus,
        cpu: requested(d, "cpu"),
        memory: requested(d, "memory"),
        flavor: admitted_flavor(d),
        state: state(&conds),
        created_at,
        admitted_at: conds.iter().find(|c| c.kind == "Admitted" && c.status).and_then(|c| c.at),
        position: None,
        history: history(&conds, d, created_at, local_queue.as_deref(), meta.namespace.as_deref()),
    })
}

/// `Kind/name` of the controlling owner (else the first owner).
fn owner(meta: &ObjectMeta) -> Option<String> {
    let refs = meta.owner_references.as_ref()?;
    let r = refs.iter().find(|r| r.controller == Some(true)).or_else(|| refs.first())?;
    Some(format!("{}/{}", r.kind, r.name))
}

/// Whole devices of an accelerator quantity; fractions and malformed values count as 0.
fn devices(v: &Value) -> u64 {
    quantity(v).filter(|q| *q >= 1.0).map(|q| q.min(1e15).floor() as u64).unwrap_or(0)
}

/// Sum of the accelerator entries of a resource map (`{"nvidia.com/gpu": "8", "cpu": 4}`).
fn gpus_in(map: Option<&Value>) -> u64 {
    map.and_then(Value::as_object)
        .map(|m| m.iter().filter(|(k, _)| is_gpu_resource(k)).map(|(_, v)| devices(v)).sum())
        .unwrap_or(0)
}

/// Accelerators one container asks for: per resource, the request, else the limit.
fn container_gpus(c: &Value) -> u64 {
    let requests = at(c, &["resources", "requests"]).and_then(Value::as_object);
    let limits = at(c, &["resources", "limits"]).and_then(Value::as_object);
    let names: std::collections::BTreeSet<&String> =
        requests.into_iter().chain(limits).flat_map(|m| m.keys()).filter(|k| is_gpu_resource(k)).collect();
    names
        .into_iter()
        .map(|n| {
            requests
                .and_then(|m| m.get(n))
                .or_else(|| limits.and_then(|m| m.get(n)))
                .map(devices)
                .unwrap_or(0)
        })
        .sum()
}

/// Accelerators one pod of a pod set needs.
fn pod_gpus(pod_spec: &Value) -> u64 {
    let containers: u64 = array_at(pod_spec, &["containers"]).iter().map(container_gpus).sum();
    let (sidecars, init): (Vec<&Value>, Vec<&Value>) = array_at(pod_spec, &["initContainers"])
        .iter()
        .partition(|c| str_at(c, &["restartPolicy"]) == Some("Always"));
    let running = containers.saturating_add(sidecars.iter().map(|c| container_gpus(c)).sum());
    init.iter().map(|c| container_gpus(c)).fold(running, u64::max)
}

/// GPUs over all pod sets (see [`workload`]), capped at `u32::MAX`.
fn requested_gpus(d: &Value) -> u32 {
    let from_spec = array_at(d, &["spec", "podSets"]).iter().fold(0u64, |acc, ps| {
        // `count` defaults to 1 (kubebuilder default) and is never negative.
        let count = int_at(ps, &["count"]).unwrap_or(1).max(0) as u64;
        let per_pod = at(ps, &["template", "spec"]).map(pod_gpus).unwrap_or(0);
        acc.saturating_add(count.saturating_mul(per_pod))
    });
    let totals = |path: &[&str], field: &str| -> u64 {
        array_at(d, path).iter().map(|p| gpus_in(p.get(field))).fold(0, u64::saturating_add)
    };
    let total = [
        from_spec,
        totals(&["status", "admission", "podSetAssignments"], "resourceUsage"),
        totals(&["status", "resourceRequests"], "resources"),
    ]
    .into_iter()
    .find(|n| *n > 0)
    .unwrap_or(0);
    u32::try_from(total).unwrap_or(u32::MAX)
}

/// One container's `resource` (`cpu`, `memory`): its request, else its limit (the request
/// Kubernetes defaults to), in base units.
fn container_amount(c: &Value, resource: &str) -> f64 {
    ["requests", "limits"]
        .iter()
        .find_map(|k| at(c, &["resources", k, resource]))
        .and_then(quantity)
        .filter(|q| *q >= 0.0)
        .unwrap_or(0.0)
}

/// What one pod of a pod set needs of `resource`, counted as [`pod_gpus`] counts GPUs.
fn pod_amount(pod_spec: &Value, resource: &str) -> f64 {
    let sum = |cs: &[&Value]| cs.iter().map(|c| container_amount(c, resource)).sum::<f64>();
    let containers: Vec<&Value> = array_at(pod_spec, &["containers"]).iter().collect();
    let (sidecars, init): (Vec<&Value>, Vec<&Value>) = array_at(pod_spec, &["initContainers"])
        .iter()
        .partition(|c| str_at(c, &["restartPolicy"]) == Some("Always"));
    let running = sum(&containers) + sum(&sidecars);
    init.iter().map(|c| container_amount(c, resource)).fold(running, f64::max)
}

/// `resource` (`cpu` in cores, `memory` in bytes) over all pod sets, `count` × one pod's, from
/// the templates, else from the totals Kueue computed (as [`requested_gpus`]); `None` when
/// nothing asks for it.
fn requested(d: &Value, resource: &str) -> Option<f64> {
    let from_spec: f64 = array_at(d, &["spec", "podSets"])
        .iter()
        .map(|ps| {
            let count = int_at(ps, &["count"]).unwrap_or(1).max(0) as f64;
            count * at(ps, &["template", "spec"]).map_or(0.0, |p| pod_amount(p, resource))
        })
        .sum();
    let totals = |path: &[&str], field: &str| -> f64 {
        array_at(d, path)
            .iter()
            .filter_map(|p| at(p, &[field, resource]).and_then(quantity))
            .filter(|q| *q >= 0.0)
            .sum()
    };
    [
        from_spec,
        totals(&["status", "admission", "podSetAssignments"], "resourceUsage"),
        totals(&["status", "resourceRequests"], "resources"),
    ]
    .into_iter()
    .find(|q| *q > 0.0 && q.is_finite())
}

/// The flavors assigned to accelerators at admission (else to any resource), distinct, joined
/// by `, ` when pod sets got different ones.
fn admitted_flavor(d: &Value) -> Option<String> {
    let assignments = array_at(d, &["status", "admission", "podSetAssignments"]);
    let flavors = |gpu_only: bool| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in assignments {
            let Some(map) = a.get("flavors").and_then(Value::as_object) else { continue };
            for (res, f) in map {
                let wanted = !gpu_only || is_gpu_resource(res);
                if let Some(f) = f.as_str().filter(|f| wanted && !f.is_empty() && !out.iter().any(|o| o == f))
                {
                    out.push(f.to_string());
                }
            }
        }
        out
    };
    let gpu = flavors(true);
    let chosen = if gpu.is_empty() { flavors(false) } else { gpu };
    (!chosen.is_empty()).then(|| chosen.join(", "))
}

/// One `status.conditions[]` entry.
#[derive(Debug)]
struct Condition<'a> {
    kind: &'a str,
    status: bool,
    status_text: &'a str,
    reason: &'a str,
    message: &'a str,
    at: Option<Timestamp>,
}

impl Condition<'_> {
    /// `Type=Status (Reason): message`, as the history shows it.
    fn words(&self) -> String {
        let mut s = format!("{}={}", self.kind, self.status_text);
        if !self.reason.is_empty() {
            s.push_str(&format!(" ({})", self.reason));
        }
        if !self.message.is_empty() {
            s.push_str(&format!(": {}", self.message));
        }
        s
    }
}

fn conditions(d: &Value) -> Vec<Condition<'_>> {
    array_at(d, &["status", "conditions"])
        .iter()
        .filter_map(|c| {
            let status_text = str_at(c, &["status"]).unwrap_or("");
            Some(Condition {
                kind: str_at(c, &["type"])?,
                status: status_text == "True",
                status_text,
                reason: str_at(c, &["reason"]).unwrap_or(""),
                message: str_at(c, &["message"]).unwrap_or(""),
                at: time_at(c, &["lastTransitionTime"]),
            })
        })
        .collect()
}

/// Where the workload is, from its conditions: finished, else evicted (Kueue keeps
/// `Evicted=True` while a preempted workload waits again, and that is the news), else
/// admitted, else quota reserved (admission checks pending), else pending with the reason of
/// `QuotaReserved=False` (or, on Kueue before QuotaReserved existed, `Admitted=False`).
/// `PodsReady` does not change the state; it is in the history.
fn state(conds: &[Condition<'_>]) -> WorkloadState {
    let find = |t: &str| conds.iter().find(|c| c.kind == t);
    let true_ = |t: &str| find(t).filter(|c| c.status);
    if let Some(c) = true_("Finished") {
        return WorkloadState::Finished { succeeded: finished_ok(c) };
    }
    if let Some(c) = true_("Evicted").or_else(|| true_("Preempted")) {
        return WorkloadState::Evicted { reason: c.reason.to_string(), message: c.message.to_string() };
    }
    if true_("Admitted").is_some() {
        return WorkloadState::Admitted;
    }
    if true_("QuotaReserved").is_some() {
        return WorkloadState::QuotaReserved;
    }
    let waiting = find("QuotaReserved").or_else(|| find("Admitted"));
    WorkloadState::Pending {
        reason: waiting.map(|c| c.reason.to_string()).unwrap_or_default(),
        message: waiting.map(|c| c.message.to_string()).unwrap_or_default(),
    }
}

/// `Finished` reasons are `Succeeded`/`Failed` (+ `OutOfSync`, `OwnerNotFound`); older Kueue
/// wrote reason `JobFinished` with `Job finished successfully` or the failure message.
fn finished_ok(c: &Condition<'_>) -> bool {
    match c.reason {
        "Succeeded" => true,
        "Failed" | "OutOfSync" | "OwnerNotFound" => false,
        _ => c.message.to_ascii_lowercase().contains("success"),
    }
}

fn history(
    conds: &[Condition<'_>],
    d: &Value,
    created_at: Timestamp,
    local_queue: Option<&str>,
    namespace: Option<&str>,
) -> Vec<WorkloadEvent> {
    let mut events = vec![WorkloadEvent {
        at: created_at,
        what: match local_queue {
            Some(lq) => format!("Created in LocalQueue {}", crate::model::ns_name(namespace, lq)),
            None => "Created".to_string(),
        },
    }];
    events.extend(conds.iter().filter_map(|c| Some(WorkloadEvent { at: c.at?, what: c.words() })));
    events.extend(array_at(d, &["status", "admissionChecks"]).iter().filter_map(|ac| {
        let mut what =
            format!("AdmissionCheck {}: {}", str_at(ac, &["name"])?, str_at(ac, &["state"]).unwrap_or("?"));
        if let Some(m) = str_at(ac, &["message"]) {
            what.push_str(&format!(" ({m})"));
        }
        Some(WorkloadEvent { at: time_at(ac, &["lastTransitionTime"])?, what })
    }));
    // Stable: same-second transitions keep the order the object lists them in.
    events.sort_by_key(|e| e.at);
    events
}

/// Node labels that name a flavor's GPU product, most specific first.
const PRODUCT_LABELS: &[&str] = &[
    "nvidia.com/gpu.product",
    "cloud.google.com/gke-accelerator",
    "amd.com/gpu.product",
    "node.kubernetes.io/instance-type",
];

/// A ResourceFlavor: its name and the GPU product its `spec.nodeLabels` select, if any.
pub fn resource_flavor(obj: &DynamicObject) -> Option<(String, Option<String>)> {
    if !is_kueue(obj, "ResourceFlavor") {
        return None;
    }
    let product = PRODUCT_LABELS.iter().find_map(|k| string_at(&obj.data, &["spec", "nodeLabels", k]));
    Some((name(&obj.metadata)?, product))
}

/// A WorkloadPriorityClass: its name and `value`.
pub fn priority_class(obj: &DynamicObject) -> Option<(String, i32)> {
    if !is_kueue(obj, "WorkloadPriorityClass") {
        return None;
    }
    let value = int_at(&obj.data, &["value"]).and_then(|v| i32::try_from(v).ok())?;
    Some((name(&obj.metadata)?, value))
}

/// The pending workloads of a visibility API `PendingWorkloadsSummary`, as
/// `(namespace, name, positionInClusterQueue)`; entries without a position are skipped.
pub fn pending_positions(summary: &serde_json::Value) -> Vec<(String, String, u32)> {
    array_at(summary, &["items"])
        .iter()
        .filter_map(|item| {
            let namespace = string_at(item, &["metadata", "namespace"])?;
            let name = string_at(item, &["metadata", "name"])?;
            let position = int_at(item, &["positionInClusterQueue"]).and_then(|p| u32::try_from(p).ok())?;
            Some((namespace, name, position))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use proptest::prelude::*;
    use serde_json::json;

    use super::super::test_support::{arb_mutation, arb_object, doc, docs, excerpt, object, with};
    use super::*;

    const MULTI_FLAVOR: &str =
        include_str!("../../../../tests/fixtures/real/kueue/clusterqueue-multi-flavor-gpu-spec.yaml");
    const BORROWING: &str =
        include_str!("../../../../tests/fixtures/real/kueue/clusterqueue-borrowinglimit-team-a.yaml");
    const LENDING: &str =
        include_str!("../../../../tests/fixtures/real/kueue/clusterqueue-lendinglimit-team-b.yaml");
    const V1BETA1: &str =
        include_str!("../../../../tests/fixtures/real/kueue/clusterqueue-v1beta1-cohort-borrowinglimit.yaml");
    const COHORT_MULTI: &str =
        include_str!("../../../../tests/fixtures/real/kueue/clusterqueues-cohort-multi.yaml");
    const PREEMPTION: &str =
        include_str!("../../../../tests/fixtures/real/kueue/clusterqueue-preemption-policy.yaml");
    const LOCAL_QUEUES: &str = include_str!("../../../../tests/fixtures/real/kueue/localqueues.yaml");
    const ADMITTED: &str =
        include_str!("../../../../tests/fixtures/real/kueue/workload-status-admitted-excerpt.yaml");
    const PENDING: &str = include_str!(
        "../../../../tests/fixtures/real/kueue/workload-status-pending-insufficient-quota-excerpt.yaml"
    );
    const CHECK_PENDING: &str = include_str!(
        "../../../../tests/fixtures/real/kueue/workload-status-admissioncheck-pending-excerpt.yaml"
    );
    const INADMISSIBLE: &str =
        include_str!("../../../../tests/fixtures/real/kueue/workload-status-inadmissible-excerpt.yaml");
    const PREEMPTED: &str =
        include_str!("../../../../tests/fixtures/real/kueue/workload-status-preempted-evicted-excerpt.yaml");

    fn cfg() -> ProjectionConfig {
        ProjectionConfig::default()
    }

    fn cq(yaml: &str) -> GpuQueue {
        cluster_queue(&object(doc(yaml)), &cfg()).expect("a ClusterQueue")
    }

    fn quota<'a>(q: &'a GpuQueue, flavor: &str, resource: &str) -> &'a FlavorQuota {
        q.quotas.iter().find(|x| x.flavor == flavor && x.resource == resource).expect("quota")
    }

    const GI: f64 = 1024.0 * 1024.0 * 1024.0;

    #[test]
    fn multi_flavor_cluster_queue_keeps_every_resource_in_base_units() {
        let q = cq(MULTI_FLAVOR);
        assert_eq!(q.name, "cluster-queue");
        assert_eq!(q.api_version, "v1beta2");
        assert_eq!(q.cohort, None);
        assert_eq!(q.quotas.len(), 8, "3 resources × 2 flavors + 1 × 2 pools");
        assert_eq!(quota(&q, "spot", "memory").nominal, 36.0 * GI);
        assert_eq!(quota(&q, "on-demand", "cpu").nominal, 18.0);
        assert_eq!(quota(&q, "on-demand", "foo.com/gpu").nominal, 100.0);
        assert_eq!(quota(&q, "pool2", "bar.com/license").nominal, 10.0);
        let spot = quota(&q, "spot", "foo.com/gpu");
        assert_eq!((spot.borrowing_limit, spot.lending_limit), (None, None));
        assert_eq!((spot.used, spot.reserved, spot.borrowed), (0.0, 0.0, 0.0), "no status yet");
        assert_eq!((q.pending_workloads, q.admitted_workloads), (0, 0));
        assert_eq!(q.gpu_totals(), (0.0, 150.0, 0.0), "foo.com/gpu counts as an accelerator");
    }

    #[test]
    fn cohort_is_cohort_name_in_v1beta2_and_cohort_in_v1beta1() {
        let a = cq(BORROWING);
        assert_eq!((a.cohort.as_deref(), a.api_version.as_str()), (Some("team-ab"), "v1beta2"));
        assert_eq!(quota(&a, "default-flavor", "cpu").borrowing_limit, Some(1.0));
        assert_eq!(quota(&a, "default-flavor", "cpu").nominal, 9.0);
        let b = cq(LENDING);
        assert_eq!(b.cohort.as_deref(), Some("team-ab"));
        assert_eq!(quota(&b, "default-flavor", "cpu").lending_limit, Some(1.0));
        assert_eq!(quota(&b, "default-flavor", "cpu").nominal, 12.0);
        let old = cq(V1BETA1);
        assert_eq!((old.cohort.as_deref(), old.api_version.as_str()), (Some("team-ab"), "v1beta1"));
        assert_eq!(old.quotas, a.quotas, "same quotas whichever version served them");
    }

    #[test]
    fn every_cluster_queue_of_a_cohort_is_kept_even_without_quotas() {
        let qs: Vec<GpuQueue> =
            docs(COHORT_MULTI).into_iter().map(|d| cluster_queue(&object(d), &cfg()).unwrap()).collect();
        let names: Vec<&str> = qs.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(
            names,
            ["emergency-cluster-queue", "agi-cluster-queue", "llm-cluster-queue", "unused-cluster-queue"]
        );
        assert!(qs[..3].iter().all(|q| q.cohort.as_deref() == Some("ai-for-humanity-foundation")));
        assert_eq!(quota(&qs[0], "gpu", "gpu").nominal, GI, "`gpu: 1Gi` as written upstream");
        assert_eq!(quota(&qs[1], "default-flavor", "cpu").nominal, 0.3);
        assert_eq!(quota(&qs[1], "default-flavor", "memory").nominal, 300.0 * 1024.0 * 1024.0);
        assert!(qs[3].quotas.is_empty() && qs[3].cohort.is_none());
        // Preemption settings are not part of the record; the queue still projects.
        assert!(cq(PREEMPTION).quotas.is_empty());
    }

    /// The fixtures have no status (Kueue's docs show none); this one is written around the
    /// multi-flavor spec, in the shape of `ClusterQueueStatus` (apis/kueue/v1beta2).
    #[test]
    fn status_usage_reservation_borrowing_and_counts() {
        let status = json!({
            "pendingWorkloads": 3, "reservingWorkloads": 5, "admittedWorkloads": 4,
            "flavorsUsage": [{"name": "on-demand", "resources": [
                {"name": "foo.com/gpu", "total": "104", "borrowed": "4"}, {"name": "memory", "total": "8Gi", "borrowed": 0}]}],
            "flavorsReservation": [{"name": "on-demand", "resources": [{"name": "foo.com/gpu", "total": 108, "borrowed": 8}]}],
        });
        let mut v = with(doc(MULTI_FLAVOR), &["status"], status);
        v = with(v, &["metadata", "labels"], json!({"team": "research"}));
        let q = cluster_queue(&object(v), &cfg()).unwrap();
        let gpu = quota(&q, "on-demand", "foo.com/gpu");
        assert_eq!((gpu.used, gpu.reserved, gpu.borrowed), (104.0, 108.0, 4.0));
        assert_eq!(quota(&q, "on-demand", "memory").used, 8.0 * GI);
        assert_eq!((q.pending_workloads, q.admitted_workloads), (3, 4));
        assert_eq!(q.team.as_deref(), Some("research"));
        assert_eq!(q.gpu_totals(), (104.0, 150.0, 4.0));
    }

    #[test]
    fn malformed_cluster_queue_fields_become_absent_not_panics() {
        let v = json!({
            "apiVersion": "kueue.x-k8s.io/v1", "kind": "ClusterQueue", "metadata": {"name": "future"},
            "spec": {"cohortName": 7, "someNewField": {"x": 1}, "resourceGroups": [
                {"flavors": [{"name": "a", "resources": [
                    {"name": "nvidia.com/gpu", "nominalQuota": "eight"},
                    {"name": "cpu", "nominalQuota": 4, "borrowingLimit": "lots", "lendingLimit": [1]}]}]},
                {"flavors": "not a list"}, "not an object"]},
            "status": {"pendingWorkloads": "3", "admittedWorkloads": -1, "flavorsUsage": [{"name": "a", "resources": [{"name": "cpu", "total": "x"}]}]}
        });
        let q = cluster_queue(&object(v), &cfg()).unwrap();
        assert_eq!(q.api_version, "v1", "unknown version: read what is known");
        assert_eq!(q.cohort, None);
        assert_eq!(q.quotas.len(), 1, "the GPU quota with a word for a number is left out");
        assert_eq!(
            (q.quotas[0].borrowing_limit, q.quotas[0].lending_limit, q.quotas[0].used),
            (None, None, 0.0)
        );
        assert_eq!((q.pending_workloads, q.admitted_workloads), (0, 0));
        let nameless =
            json!({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ClusterQueue", "metadata": {}});
        assert!(cluster_queue(&object(nameless), &cfg()).is_none());
        let other =
            json!({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "LocalQueue", "metadata": {"name": "x"}});
        assert!(cluster_queue(&object(other), &cfg()).is_none());
        let no_types = json!({"metadata": {"name": "listed"}, "spec": {"cohort": "c"}});
        assert_eq!(cluster_queue(&object(no_types), &cfg()).unwrap().cohort.as_deref(), Some("c"));
    }

    #[test]
    fn local_queues_name_their_cluster_queue() {
        let lqs: Vec<LocalQueueRef> =
            docs(LOCAL_QUEUES).into_iter().filter_map(|d| local_queue(&object(d))).collect();
        assert_eq!(lqs.len(), 3);
        assert_eq!(
            lqs[1],
            LocalQueueRef {
                namespace: String::new(),
                name: "llm-model-queue".into(),
                cluster_queue: "llm-cluster-queue".into()
            }
        );
        assert_eq!(lqs[0].cluster_queue, "emergency-cluster-queue");
        assert_eq!(lqs[2].key(), "agi-model-queue", "no namespace in the manifest");
        let v = with(docs(LOCAL_QUEUES).remove(0), &["metadata", "namespace"], json!("ml"));
        assert_eq!(local_queue(&object(v)).unwrap().key(), "ml/emergency-queue");
        let broken = json!({"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "LocalQueue", "metadata": {"name": "x"}, "spec": {"clusterQueue": 3}});
        assert!(local_queue(&object(broken)).is_none());
    }

    /// The workload fixtures are `status` excerpts from Kueue's troubleshooting docs; this
    /// wraps one (verbatim) in the minimal Workload around it: a job owner, a LocalQueue and
    /// one pod set of 2 pods × 4 GPUs.
    fn workload_around(status_excerpt: &str) -> Value {
        let mut v = excerpt(status_excerpt);
        let status = v.get_mut("status").map(Value::take).unwrap_or(Value::Null);
        json!({
            "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "Workload",
            "metadata": {"name": "job-sample-job-jrjfr-8d56e", "namespace": "default",
                "uid": "0a9f3c2e-7d41-4b8e-9c55-1f2e3d4c5b6a",
                "creationTimestamp": "2024-03-19T20:49:00Z", "labels": {"team": "research"},
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "sample-job-jrjfr",
                    "uid": "5863cf0e-b0e7-43bf-a445-f41fa1abedfa", "controller": true}]},
            "spec": {"queueName": "user-queue", "priority": 10000,
                "priorityClassRef": {"group": "kueue.x-k8s.io", "kind": "WorkloadPriorityClass", "name": "sample-priority"},
                "podSets": [{"name": "main", "count": 2, "template": {"spec": {"containers": [
                    {"name": "c", "resources": {"limits": {"nvidia.com/gpu": "4"}, "requests": {"cpu": "3"}}}]}}}]},
            "status": status,
        })
    }

    fn wl(v: Value) -> GpuWorkload {
        workload(&object(v), &cfg()).expect("a GPU workload")
    }

    #[test]
    fn admitted_workload() {
        // The excerpt's own header says apiVersion kueue.x-k8s.io/v1beta2, kind Workload.
        let raw = excerpt(ADMITTED);
        assert_eq!(raw["kind"], "Workload");
        let w = wl(workload_around(ADMITTED));
        assert_eq!(w.state, WorkloadState::Admitted);
        assert_eq!(w.admitted_at.unwrap().to_string(), "2024-03-19T20:49:17Z");
        assert_eq!(w.gpus, 8);
        // 2 pods × `cpu: "3"`; no container asks for memory.
        assert_eq!((w.cpu, w.memory), (Some(6.0), None));
        assert_eq!(w.owner.as_deref(), Some("Job/sample-job-jrjfr"));
        assert_eq!((w.local_queue.as_str(), w.team.as_deref()), ("user-queue", Some("research")));
        assert_eq!((w.priority, w.priority_class.as_deref()), (10000, Some("sample-priority")));
        assert_eq!(w.created_at.to_string(), "2024-03-19T20:49:00Z");
        assert_eq!(w.key(), "default/job-sample-job-jrjfr-8d56e");
        // The UID is what preemption messages name a preemptor by.
        assert_eq!(w.uid.as_deref(), Some("0a9f3c2e-7d41-4b8e-9c55-1f2e3d4c5b6a"));
        let what: Vec<&str> = w.history.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "Created in LocalQueue default/user-queue",
                "QuotaReserved=True (QuotaReserved): Quota reserved in ClusterQueue cluster-queue",
                "Admitted=True (Admitted): The workload is admitted",
            ]
        );
    }

    #[test]
    fn cpu_and_memory_count_pods_init_containers_and_limits() {
        let w = wl(json!({
            "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "Workload",
            "metadata": {"name": "w", "namespace": "ns", "creationTimestamp": "2024-03-19T20:49:00Z"},
            "spec": {"podSets": [
                {"name": "workers", "count": 4, "template": {"spec": {
                    "containers": [
                        {"name": "train", "resources": {"requests": {"cpu": "7500m", "memory": "60Gi", "nvidia.com/gpu": 2}}},
                        {"name": "log", "resources": {"limits": {"cpu": "500m", "memory": "4Gi"}}}],
                    "initContainers": [{"name": "fetch", "resources": {"requests": {"cpu": "16", "memory": "1Gi"}}}]}}},
                {"name": "launcher", "template": {"spec": {"containers": [
                    {"name": "l", "resources": {"requests": {"cpu": 2}}}]}}}]},
        }));
        // Workers, per pod: CPU max(7.5 + 0.5 (a limit stands for the request), init 16) = 16,
        // memory max(60Gi + 4Gi, 1Gi) = 64Gi; × 4 pods = 64 cores, 256Gi. The launcher (count
        // defaults to 1) adds 2 cores and no memory: 66 cores, 256Gi.
        assert_eq!(w.gpus, 8);
        assert_eq!(w.cpu, Some(66.0));
        assert_eq!(w.memory, Some(256.0 * 1024.0 * 1024.0 * 1024.0));
    }

    #[test]
    fn quota_reserved_with_admission_check_pending() {
        let w = wl(workload_around(CHECK_PENDING));
        assert_eq!(w.state, WorkloadState::QuotaReserved);
        assert_eq!(w.cluster_queue.as_deref(), Some("dws-cluster-queue"));
        assert_eq!(w.flavor, None, "podSetAssignments is a `...` placeholder in the excerpt");
        assert_eq!(w.admitted_at, None);
        assert_eq!(w.history.last().unwrap().what, "AdmissionCheck dws-prov: Pending");
        assert_eq!(w.history.last().unwrap().at.to_string(), "2024-05-03T20:01:59Z");
    }

    #[test]
    fn pending_and_inadmissible_keep_reason_and_message_verbatim() {
        let w = wl(workload_around(PENDING));
        assert_eq!(
            w.state,
            WorkloadState::Pending {
                reason: "Pending".into(),
                message: "couldn't assign flavors to pod set main: insufficient quota for cpu in flavor default-flavor in ClusterQueue".into(),
            }
        );
        assert_eq!(w.cluster_queue, None);
        let w = wl(workload_around(INADMISSIBLE));
        assert_eq!(
            w.state,
            WorkloadState::Pending {
                reason: "Inadmissible".into(),
                message: "LocalQueue user-queue doesn't exist".into()
            }
        );
        assert_eq!(w.history[1].at.to_string(), "2024-03-21T13:55:21Z");
    }

    #[test]
    fn evicted_by_preemption_stays_evicted_while_waiting_again() {
        let w = wl(workload_around(PREEMPTED));
        assert_eq!(
            w.state,
            WorkloadState::Evicted {
                reason: "Preempted".into(),
                message: "Preempted to accommodate a higher priority Workload".into()
            }
        );
        let what: Vec<&str> = w.history.iter().skip(1).map(|e| e.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "Evicted=True (Preempted): Preempted to accommodate a higher priority Workload",
                "QuotaReserved=False (Pending): couldn't assign flavors to pod set main: insufficient unused quota for cpu in flavor default-flavor, 9 more needed",
                "Admitted=False (NoReservation): The workload has no reservation",
            ],
            "ordered by lastTransitionTime (15:49:55 first), ties in object order"
        );
    }

    #[test]
    fn pending_excerpt_resource_requests_are_cpu_only() {
        // Taken alone (no pod sets), the excerpt asks for cpu and memory: not a GPU workload.
        // Its `resourceRequests` is a map in the docs (a list in the API): tolerated.
        let v = with(
            excerpt(PENDING),
            &["metadata"],
            json!({"name": "w", "creationTimestamp": "2024-03-21T13:43:00Z"}),
        );
        assert!(workload(&object(v), &cfg()).is_none());
    }

    #[test]
    fn gpus_count_pods_containers_init_containers_and_sidecars() {
        let pod_sets = json!([
            {"name": "driver", "template": {"spec": {"containers": [{"resources": {"limits": {"nvidia.com/gpu": 1}}}]}}},
            {"name": "workers", "count": 4, "template": {"spec": {
                "containers": [{"resources": {"requests": {"nvidia.com/gpu": "2"}, "limits": {"nvidia.com/gpu": "2"}}},
                               {"resources": {"limits": {"nvidia.com/mig-1g.5gb": "1"}}}],
                "initContainers": [{"resources": {"limits": {"nvidia.com/gpu": "2"}}},
                                   {"restartPolicy": "Always", "resources": {"limits": {"amd.com/gpu": "1"}}}]}}},
            {"name": "big-init", "count": 1, "template": {"spec": {
                "containers": [{"resources": {"limits": {"nvidia.com/gpu": "1"}}}],
                "initContainers": [{"resources": {"limits": {"nvidia.com/gpu": "8"}}}]}}},
        ]);
        let v = with(workload_around(ADMITTED), &["spec", "podSets"], pod_sets);
        // driver 1 (count defaults to 1) + workers 4 × (2 + 1 MIG + 1 sidecar) + big-init max(1, 8).
        assert_eq!(wl(v).gpus, 1 + 16 + 8);
    }

    #[test]
    fn cpu_only_and_malformed_workloads_are_skipped() {
        let cpu = with(
            workload_around(ADMITTED),
            &["spec", "podSets"],
            json!([{"count": 3, "template": {"spec": {"containers": [{"resources": {"limits": {"cpu": "4"}}}]}}}]),
        );
        assert!(workload(&object(cpu), &cfg()).is_none());
        let garbage = with(
            workload_around(ADMITTED),
            &["spec", "podSets"],
            json!([{"count": "two", "template": {"spec": {"containers": [{"resources": {"limits": {"nvidia.com/gpu": "half"}}}]}}}]),
        );
        assert!(workload(&object(garbage), &cfg()).is_none(), "a word is not a GPU count");
        let mut no_created = workload_around(ADMITTED);
        no_created["metadata"].as_object_mut().unwrap().remove("creationTimestamp");
        assert!(workload(&object(no_created), &cfg()).is_none());
        let no_status = with(workload_around(ADMITTED), &["status"], Value::Null);
        let w = wl(no_status);
        assert_eq!(w.state, WorkloadState::Pending { reason: String::new(), message: String::new() });
        assert_eq!(w.history.len(), 1);
    }

    #[test]
    fn admission_flavors_priority_class_versions_and_finished_states() {
        let mut v = with(
            workload_around(ADMITTED),
            &["status", "admission"],
            json!({"clusterQueue": "cluster-queue", "podSetAssignments": [
                {"name": "main", "count": 2, "flavors": {"cpu": "default-flavor", "nvidia.com/gpu": "h100-80gb"},
                 "resourceUsage": {"nvidia.com/gpu": "8"}}]}),
        );
        let w = wl(v.clone());
        assert_eq!(
            (w.cluster_queue.as_deref(), w.flavor.as_deref()),
            (Some("cluster-queue"), Some("h100-80gb"))
        );
        // v1beta1: priorityClassName instead of priorityClassRef.
        v["apiVersion"] = json!("kueue.x-k8s.io/v1beta1");
        v["spec"].as_object_mut().unwrap().remove("priorityClassRef");
        v["spec"]["priorityClassName"] = json!("high");
        v["spec"]["priorityClassSource"] = json!("kueue.x-k8s.io/workloadpriorityclass");
        v["spec"]["priority"] = json!("high");
        let w = wl(v.clone());
        assert_eq!(
            (w.priority_class.as_deref(), w.priority),
            (Some("high"), 0),
            "a string priority reads as 0"
        );
        // Only admission totals (no template): GPUs from resourceUsage.
        v["spec"]["podSets"] = json!([{"name": "main", "count": 2}]);
        assert_eq!(wl(v.clone()).gpus, 8);
        for (reason, message, ok) in [
            ("Succeeded", "Job finished successfully", true),
            ("Failed", "Job failed", false),
            ("JobFinished", "Job finished successfully", true),
            ("JobFinished", "BackoffLimitExceeded", false),
        ] {
            let mut f = v.clone();
            f["status"]["conditions"].as_array_mut().unwrap().push(json!({
                "type": "Finished", "status": "True", "reason": reason, "message": message,
                "lastTransitionTime": "2024-03-19T21:00:00Z"}));
            assert_eq!(wl(f).state, WorkloadState::Finished { succeeded: ok }, "{reason}: {message}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_objects_never_panic(obj in arb_object(
            &["kueue.x-k8s.io/v1beta1", "kueue.x-k8s.io/v1beta2", "kueue.x-k8s.io/v9"],
            &["ClusterQueue", "LocalQueue", "Workload"],
        )) {
            let _ = cluster_queue(&obj, &cfg());
            let _ = local_queue(&obj);
            let _ = workload(&obj, &cfg());
        }

        #[test]
        fn mutated_fixtures_never_panic(obj in arb_mutation(vec![
            with(doc(MULTI_FLAVOR), &["status"], json!({"pendingWorkloads": 3, "admittedWorkloads": 4,
                "flavorsUsage": [{"name": "on-demand", "resources": [{"name": "foo.com/gpu", "total": "104", "borrowed": "4"}]}],
                "flavorsReservation": [{"name": "on-demand", "resources": [{"name": "foo.com/gpu", "total": 108}]}]})),
            docs(LOCAL_QUEUES).remove(0),
            with(workload_around(PREEMPTED), &["status", "admission"], json!({"clusterQueue": "cq", "podSetAssignments": [
                {"name": "main", "flavors": {"nvidia.com/gpu": "h100"}, "resourceUsage": {"nvidia.com/gpu": "8"}}]})),
            workload_around(CHECK_PENDING),
        ])) {
            let _ = cluster_queue(&obj, &cfg());
            let _ = local_queue(&obj);
            let _ = workload(&obj, &cfg());
        }
    }

    #[test]
    fn resource_flavors_name_their_gpu_product_and_priority_classes_their_value() {
        let wpc: serde_json::Value = serde_saphyr::from_str(include_str!(
            "../../../../tests/fixtures/real/kueue/workloadpriorityclass.yaml"
        ))
        .unwrap();
        let wpc: DynamicObject = serde_json::from_value(wpc).unwrap();
        assert_eq!(priority_class(&wpc), Some(("sample-priority".to_string(), 10000)));
        let rf = |labels: serde_json::Value| -> DynamicObject {
            serde_json::from_value(
                serde_json::json!({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ResourceFlavor",
                "metadata": {"name": "a100"}, "spec": {"nodeLabels": labels}}),
            )
            .unwrap()
        };
        let gke = rf(serde_json::json!({"cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}));
        assert_eq!(resource_flavor(&gke), Some(("a100".to_string(), Some("nvidia-tesla-a100".to_string()))));
        assert_eq!(resource_flavor(&rf(serde_json::json!({}))), Some(("a100".to_string(), None)));
        assert_eq!(priority_class(&gke), None, "another kind");
    }

    #[test]
    fn visibility_summaries_give_each_pending_workload_its_position() {
        let body: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../tests/fixtures/real/kueue/visibility-pendingworkloads-clusterqueue.json"
        ))
        .unwrap();
        let positions = pending_positions(&body);
        assert_eq!(positions[0], ("default".to_string(), "job-sample-job-jrjfr-8d56e".to_string(), 0));
        assert!(positions.iter().enumerate().all(|(i, p)| p.2 == i as u32), "{positions:?}");
        let page: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../tests/fixtures/real/kueue/visibility-pendingworkloads-limit-offset.json"
        ))
        .unwrap();
        assert_eq!(pending_positions(&page).iter().map(|p| p.2).collect::<Vec<_>>(), [1], "limit=1&offset=1");
        assert!(pending_positions(&serde_json::json!({"items": [{"metadata": {"name": "x"}}]})).is_empty());
    }
}
