//! Projections of Kubernetes objects into fleettop's records, on arrival: only the fields a
//! pane or the evidence needs are kept, and kube types never leave this module's callers.
//! Pure functions, tested on real-shaped objects.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, Node, Pod};

use crate::model::{
    Denial, Enforcement, Evidence, EvidenceSource, GpuNode, ObjectRef, PendingGpuPod, PolicyRef,
    is_gpu_resource,
};
use crate::sources::parse::{denial, scheduling};

/// Converts k8s-openapi's timestamp (its own jiff version) to ours.
pub fn timestamp(t: &k8s_openapi::jiff::Timestamp) -> Option<Timestamp> {
    Timestamp::from_millisecond(t.as_millisecond()).ok()
}

/// A quantity of whole devices (`"8"`); fractional or unparsable quantities count as 0.
fn count(q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity) -> u32 {
    q.0.trim().parse().unwrap_or(0)
}

fn gpu_total(map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>) -> u32 {
    map.map(|m| m.iter().filter(|(k, _)| is_gpu_resource(k)).map(|(_, v)| count(v)).sum()).unwrap_or(0)
}

/// A node with accelerators, or `None` for a node without any.
/// `allocated` is filled in by the caller from the pods it knows run there.
pub fn gpu_node(node: &Node) -> Option<GpuNode> {
    let status = node.status.as_ref()?;
    let capacity = gpu_total(status.capacity.as_ref());
    if capacity == 0 {
        return None;
    }
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let label = |k: &str| labels.get(k).cloned();
    let spec = node.spec.as_ref();
    Some(GpuNode {
        name: node.metadata.name.clone().unwrap_or_default(),
        product: label("nvidia.com/gpu.product"),
        capacity,
        allocatable: gpu_total(status.allocatable.as_ref()),
        allocated: 0,
        mig: label("nvidia.com/mig.strategy"),
        sharing: label("nvidia.com/gpu.sharing-strategy").filter(|s| s != "none").map(|s| {
            match label("nvidia.com/gpu.replicas") {
                Some(r) => format!("{s}: {r} replicas"),
                None => s,
            }
        }),
        schedulable: !spec.and_then(|s| s.unschedulable).unwrap_or(false),
        taints: spec
            .and_then(|s| s.taints.as_ref())
            .map(|ts| {
                ts.iter()
                    .map(|t| match &t.value {
                        Some(v) => format!("{}={v}:{}", t.key, t.effect),
                        None => format!("{}:{}", t.key, t.effect),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        devices: Vec::new(),
        telemetry_error: None,
    })
}

/// GPUs a pod asks for: the larger of the sum over containers and the largest init container
/// (the scheduler's rule), by resource name.
pub fn gpu_request(pod: &Pod) -> Option<(String, u32)> {
    let spec = pod.spec.as_ref()?;
    let per_container = |c: &k8s_openapi::api::core::v1::Container| -> Vec<(String, u32)> {
        let res = c.resources.as_ref();
        let limits = res.and_then(|r| r.limits.as_ref());
        let requests = res.and_then(|r| r.requests.as_ref());
        // Extended resources cannot be overcommitted: requests default to limits.
        let source = limits.or(requests);
        source
            .map(|m| {
                m.iter().filter(|(k, _)| is_gpu_resource(k)).map(|(k, v)| (k.clone(), count(v))).collect()
            })
            .unwrap_or_default()
    };
    let mut sums: BTreeMap<String, u32> = BTreeMap::new();
    for c in &spec.containers {
        for (k, n) in per_container(c) {
            *sums.entry(k).or_default() += n;
        }
    }
    for c in spec.init_containers.iter().flatten() {
        for (k, n) in per_container(c) {
            let e = sums.entry(k).or_default();
            *e = (*e).max(n);
        }
    }
    sums.into_iter().filter(|(_, n)| *n > 0).max_by_key(|(_, n)| *n)
}

/// The node a running pod holds GPUs on, with how many.
pub fn gpu_allocation(pod: &Pod) -> Option<(String, u32)> {
    let node = pod.spec.as_ref()?.node_name.clone()?;
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
    if matches!(phase, "Succeeded" | "Failed") {
        return None;
    }
    gpu_request(pod).map(|(_, n)| (node, n))
}

/// A pod that asks for GPUs and is not scheduled, or `None`.
pub fn pending_gpu_pod(pod: &Pod, team_label: &str) -> Option<PendingGpuPod> {
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Pending")
        || pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()
    {
        return None;
    }
    let (resource, gpus) = gpu_request(pod)?;
    let unschedulable = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        .and_then(|c| c.message.clone());
    let fit = unschedulable.as_deref().and_then(scheduling::parse_failed_scheduling);
    Some(PendingGpuPod {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        team: pod.metadata.labels.as_ref().and_then(|l| l.get(team_label).cloned()),
        resource,
        gpus,
        since: pod
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(|t| timestamp(&t.0))
            .unwrap_or(Timestamp::UNIX_EPOCH),
        reasons: fit.as_ref().map(|f| f.reasons.clone()).unwrap_or_default(),
        nodes_total: fit.map(|f| f.nodes_total),
        message: unschedulable,
    })
}

/// Event reasons that carry admission denials.
const DENIAL_REASONS: [&str; 6] = [
    "FailedCreate",
    "FailedAdmission",
    "PolicyViolation",
    "DryrunViolation",
    "AuditViolation",
    "WarningAdmission",
];

/// Kinds of policy objects an event can be about (Kyverno's policy-centric events).
const POLICY_KINDS: [&str; 4] = ["ClusterPolicy", "Policy", "ValidatingPolicy", "ImageValidatingPolicy"];

/// An admission denial from a Warning event, or `None` for any other event.
pub fn denial(event: &Event) -> Option<Denial> {
    let reason = event.reason.as_deref()?;
    if event.type_.as_deref() != Some("Warning") || !DENIAL_REASONS.contains(&reason) {
        return None;
    }
    let message = event.message.clone()?;
    let parsed = denial::parse(&message);
    if reason == "FailedCreate" && !parsed.attributed && !denial::refused_by_apiserver(&parsed) {
        // Controllers also report failures that no admission step made (image pulls, API
        // errors) as FailedCreate. A refusal the apiserver made (403, 422, a webhook named)
        // that no grammar reads is kept, as unattributed (issue 16: nothing is dropped).
        return None;
    }
    let io = &event.involved_object;
    let mut object = parsed.object.clone().unwrap_or_else(|| ObjectRef {
        kind: io.kind.clone().unwrap_or_default(),
        namespace: io.namespace.clone(),
        name: io.name.clone().unwrap_or_default(),
    });
    // `pods "x" is forbidden` names no namespace: it is the controller's (the event's object's).
    if object.namespace.is_none() {
        object.namespace = io.namespace.clone().or_else(|| event.metadata.namespace.clone());
    }
    // Events from the events.k8s.io recorder (what controllers use today) carry `eventTime`
    // and `series {count, lastObservedTime}` instead of first/last timestamps and `count`;
    // events created by hand may carry neither, only the object's creation time.
    let series = event.series.as_ref();
    let created = event.metadata.creation_timestamp.as_ref().and_then(|t| timestamp(&t.0));
    let event_time = event.event_time.as_ref().and_then(|t| timestamp(&t.0));
    let first = event.first_timestamp.as_ref().and_then(|t| timestamp(&t.0)).or(event_time);
    let last = event
        .last_timestamp
        .as_ref()
        .and_then(|t| timestamp(&t.0))
        .or_else(|| series.and_then(|s| s.last_observed_time.as_ref()).and_then(|t| timestamp(&t.0)))
        .or(event_time)
        .or(first)
        .or(created)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let count = event.count.filter(|c| *c > 0).or_else(|| series.and_then(|s| s.count)).unwrap_or(1);
    let finding = parsed.findings.first();
    // Kyverno's policy-centric events name the rule but not the policy: the policy is the
    // event's object.
    let involved_policy = io
        .kind
        .as_deref()
        .filter(|k| POLICY_KINDS.contains(k))
        .and_then(|k| Some((k, io.name.clone()?, io.namespace.clone())));
    let policy = match (finding.and_then(|f| f.policy.clone()), involved_policy) {
        (Some(name), _) => Some(PolicyRef {
            kind: parsed.policy_kind.unwrap_or_else(|| parsed.engine.policy_kind()).into(),
            name,
            namespace: None,
            generation: None,
            resource_version: None,
        }),
        (None, Some((kind, name, namespace))) => {
            Some(PolicyRef { kind: kind.into(), name, namespace, generation: None, resource_version: None })
        }
        (None, None) => None,
    };
    let enforcement = match reason {
        "DryrunViolation" => Enforcement::Dryrun,
        "AuditViolation" => Enforcement::Audit,
        "WarningAdmission" => Enforcement::Warn,
        _ => parsed.enforcement,
    };
    let ns = event.metadata.namespace.clone().unwrap_or_default();
    let name = event.metadata.name.clone().unwrap_or_default();
    let class = denial::class_of(&parsed);
    Some(Denial {
        class,
        id: format!("event/{ns}/{name}"),
        engine: parsed.engine,
        enforcement,
        policy,
        webhook: parsed.webhook.clone(),
        binding: parsed.binding.clone(),
        rule: finding.and_then(|f| f.rule.clone()),
        object,
        operation: (reason == "FailedCreate").then(|| "CREATE".to_string()),
        user: None,
        message: parsed.detail.clone(),
        count: count.max(1) as u64,
        first_seen: first.unwrap_or(last),
        last_seen: last,
        severity: None,
        category: None,
        owner: None,
        exceptions: Vec::new(),
        evidence: vec![Evidence {
            source: EvidenceSource::Event,
            reference: format!("Event {ns}/{name} ({reason})"),
            at: last,
            excerpt: message,
        }],
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::model::{DenialClass, Engine, FailureKind};

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn gpu_nodes_keep_capacity_labels_and_taints() {
        let n = node(serde_json::json!({
            "metadata": {"name": "h100-1", "labels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
                "nvidia.com/gpu.sharing-strategy": "time-slicing", "nvidia.com/gpu.replicas": "4"}},
            "spec": {"unschedulable": true, "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]},
            "status": {"capacity": {"cpu": "96", "nvidia.com/gpu": "8"}, "allocatable": {"nvidia.com/gpu": "7"}}
        }));
        let g = gpu_node(&n).unwrap();
        assert_eq!((g.capacity, g.allocatable, g.schedulable), (8, 7, false));
        assert_eq!(g.product.as_deref(), Some("NVIDIA-H100-80GB-HBM3"));
        assert_eq!(g.sharing.as_deref(), Some("time-slicing: 4 replicas"));
        assert_eq!(g.taints, ["nvidia.com/gpu=present:NoSchedule"]);
        let cpu_only =
            node(serde_json::json!({"metadata": {"name": "c"}, "status": {"capacity": {"cpu": "8"}}}));
        assert!(gpu_node(&cpu_only).is_none());
    }

    #[test]
    fn pending_gpu_pods_carry_the_parsed_scheduler_reason() {
        let p: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "train-0", "namespace": "ml", "labels": {"team": "research"},
                "creationTimestamp": "2026-11-27T14:00:00Z"},
            "spec": {"containers": [
                {"name": "a", "resources": {"limits": {"nvidia.com/gpu": "2"}}},
                {"name": "b", "resources": {"requests": {"nvidia.com/gpu": "1"}}}],
                "initContainers": [{"name": "i", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/40 nodes are available: 32 Insufficient nvidia.com/gpu, 8 node(s) had untolerated taint {nvidia.com/gpu: present}. preemption: 0/40 nodes are available: 40 No preemption victims found for incoming pod."}]}
        }))
        .unwrap();
        let pending = pending_gpu_pod(&p, "team").unwrap();
        assert_eq!(pending.gpus, 3, "containers add up; the init container does not exceed the sum");
        assert_eq!(pending.team.as_deref(), Some("research"));
        assert_eq!(pending.nodes_total, Some(40));
        assert_eq!(pending.reasons[0], ("Insufficient nvidia.com/gpu".to_string(), 32));
        assert_eq!(pending.since.to_string(), "2026-11-27T14:00:00Z");
        let mut running = p.clone();
        running.spec.as_mut().unwrap().node_name = Some("h100-1".into());
        running.status.as_mut().unwrap().phase = Some("Running".into());
        assert!(pending_gpu_pod(&running, "team").is_none());
        assert_eq!(gpu_allocation(&running), Some(("h100-1".to_string(), 3)));
    }

    #[test]
    fn kyverno_policy_centric_events_take_the_policy_from_the_involved_object() {
        // The real chainsaw events: the message names the rule and the resource, the policy
        // is the event's object.
        let text = include_str!("../../../tests/fixtures/real/kyverno/events-policyviolation-blocked.yaml");
        let events: Vec<Event> = serde_saphyr::from_multiple::<serde_json::Value>(text)
            .unwrap()
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect();
        let denials: Vec<Denial> = events.iter().filter_map(denial).collect();
        assert_eq!(denials.len(), 3, "three PolicyViolation events; PolicyApplied is not a denial");
        for d in &denials {
            let p = d.policy.as_ref().unwrap();
            assert_eq!((p.kind.as_str(), p.name.as_str()), ("ClusterPolicy", "check-ns-labels"));
            assert_eq!(d.object.kind, "Namespace");
        }
        let blocked: Vec<&Denial> = denials.iter().filter(|d| d.enforcement == Enforcement::Deny).collect();
        assert_eq!(blocked.len(), 2, "`fail (blocked)`; the plain `fail` is an audit finding");
        assert!(blocked.iter().all(|d| d.rule.as_deref() == Some("require-ns-purpose-label")));
        assert_eq!(blocked[0].object.name, "bad-ns-1");
    }

    #[test]
    fn series_events_and_events_without_timestamps_keep_their_time_and_count() {
        let message = "Error creating: pods \"web-7d9c-x2\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2";
        // As the events.k8s.io recorder writes them, read through core/v1.
        let series: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web.1", "namespace": "shop", "creationTimestamp": "2026-11-27T13:00:00Z"},
            "type": "Warning", "reason": "FailedCreate", "message": message,
            "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": "web-7d9c"},
            "eventTime": "2026-11-27T14:00:00.000000Z",
            "series": {"count": 7, "lastObservedTime": "2026-11-27T14:09:00.000000Z"}
        }))
        .unwrap();
        let d = denial(&series).unwrap();
        assert_eq!(d.count, 7);
        assert_eq!(d.first_seen, "2026-11-27T14:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(d.last_seen, "2026-11-27T14:09:00Z".parse::<Timestamp>().unwrap());
        // Created by hand (kubectl apply) with no time at all: the object's creation time.
        let bare: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web.2", "namespace": "shop", "creationTimestamp": "2026-11-27T13:00:00Z"},
            "type": "Warning", "reason": "FailedCreate", "message": message,
            "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": "web-7d9c"}
        }))
        .unwrap();
        let d = denial(&bare).unwrap();
        assert_eq!((d.count, d.last_seen), (1, "2026-11-27T13:00:00Z".parse::<Timestamp>().unwrap()));
        assert_eq!(d.first_seen, d.last_seen);
    }

    #[test]
    fn failed_create_events_become_denials_with_evidence() {
        let e: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-7d9c.17a3f", "namespace": "shop"},
            "type": "Warning", "reason": "FailedCreate", "count": 12,
            "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": "web-7d9c"},
            "firstTimestamp": "2026-11-27T14:00:00Z", "lastTimestamp": "2026-11-27T14:05:00Z",
            "message": "Error creating: pods \"web-7d9c-x2\" is forbidden: violates PodSecurity \"restricted:latest\": privileged (container \"app\" must not set securityContext.privileged=true)"
        }))
        .unwrap();
        let d = denial(&e).unwrap();
        assert_eq!(d.engine, Engine::PodSecurity);
        assert_eq!(d.count, 12);
        assert_eq!(d.object.display(), "Pod/shop/web-7d9c-x2");
        assert_eq!(d.policy.as_ref().map(|p| p.name.as_str()), Some("restricted:latest"));
        assert_eq!(d.last_seen.to_string(), "2026-11-27T14:05:00Z");
        assert_eq!(d.evidence[0].excerpt, e.message.clone().unwrap());
        let mut normal = e.clone();
        normal.type_ = Some("Normal".into());
        assert!(denial(&normal).is_none());
        let mut pull = e.clone();
        pull.message = Some("Error creating: pods \"x\" failed: image pull backoff".into());
        assert!(denial(&pull).is_none(), "FailedCreate that is not an admission denial");
        // A refusal no grammar reads is kept, marked unattributed, its text verbatim.
        let mut odd = e.clone();
        odd.message = Some(
            "Error creating: pods \"x\" is forbidden: no providers available to validate pod request".into(),
        );
        let d = denial(&odd).unwrap();
        assert_eq!((d.engine, &d.class), (Engine::Other, &DenialClass::Unattributed));
        assert_eq!(d.evidence[0].excerpt, odd.message.clone().unwrap());
        // A webhook that could not be called is its own class, with how the call failed.
        let mut down = e;
        down.message = Some("Error creating: Internal error occurred: failed calling webhook \"validate.kyverno.svc-fail\": failed to call webhook: Post \"https://kyverno-svc.kyverno.svc:443/validate/fail?timeout=10s\": context deadline exceeded".into());
        let d = denial(&down).unwrap();
        assert_eq!(d.webhook.as_deref(), Some("validate.kyverno.svc-fail"));
        assert_eq!(
            d.class,
            DenialClass::WebhookUnavailable { failure: FailureKind::Timeout, failure_policy: None }
        );
        assert_eq!(d.engine, Engine::Kyverno);
    }
}
