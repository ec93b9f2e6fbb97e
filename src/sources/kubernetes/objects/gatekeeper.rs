//! Gatekeeper constraints (constraints.gatekeeper.sh, any kind a ConstraintTemplate defines):
//! the audit's `status.violations[]` (REFERENCE.md §1e). The list is capped by Gatekeeper's
//! `--constraint-violations-limit` (20 by default), so it is a sample when
//! `status.totalViolations` is larger.

use jiff::Timestamp;
use kube::api::DynamicObject;
use serde_json::Value;

use super::{array_at, in_group, kind, merge_by_id, str_at, string_at, strings_at, time_at};
use crate::model::{Denial, Enforcement, Engine, Evidence, EvidenceSource, ObjectRef, PolicyRef};

/// One denial per violated object, engine Gatekeeper, policy = the constraint (kind, name,
/// generation, resourceVersion), first/last seen = `status.auditTimestamp` (else
/// `observed_at`).
///
/// Enforcement is always [`Enforcement::Audit`]: the object exists, the audit found it in
/// violation, and no request was denied now (showing `deny` here made on-call read "denied N
/// requests"). What Gatekeeper would do to such a request at admission — the violation's
/// `enforcementAction`, else the spec's; for `scoped`, the strongest listed (deny > warn >
/// dryrun) — leads the evidence excerpt (`deny Namespace/default: …`).
///
/// Ids are `constraint|<Kind>|<name>|<object>`; several violations of one object (one per
/// container, say) fold into one denial with their messages on separate lines.
pub fn constraint_denials(obj: &DynamicObject, observed_at: Timestamp) -> Vec<Denial> {
    if !in_group(obj, &["constraints.gatekeeper.sh"]) {
        return Vec::new();
    }
    let Some(name) = obj.metadata.name.as_deref().filter(|n| !n.is_empty()) else { return Vec::new() };
    let constraint_kind = kind(obj).unwrap_or("Constraint");
    let d = &obj.data;
    let policy = PolicyRef {
        kind: constraint_kind.to_string(),
        name: name.to_string(),
        namespace: None,
        generation: obj.metadata.generation,
        resource_version: obj.metadata.resource_version.clone(),
    };
    let audited = time_at(d, &["status", "auditTimestamp"]).unwrap_or(observed_at);
    let spec_action = spec_action(d);
    let denials = array_at(d, &["status", "violations"])
        .iter()
        .filter_map(|v| violation(v, &policy, spec_action.as_deref(), audited))
        .collect();
    merge_by_id(denials)
}

/// `spec.enforcementAction` (default `deny`); for `scoped`, the strongest of
/// `spec.scopedEnforcementActions[].action`.
fn spec_action(d: &Value) -> Option<String> {
    let action = str_at(d, &["spec", "enforcementAction"]).unwrap_or("deny");
    if action != "scoped" {
        return Some(action.to_string());
    }
    let scoped: Vec<String> = array_at(d, &["spec", "scopedEnforcementActions"])
        .iter()
        .filter_map(|a| string_at(a, &["action"]))
        .collect();
    strongest(&scoped).map(str::to_string)
}

/// The strongest known action of a list.
fn strongest(actions: &[String]) -> Option<&str> {
    ["deny", "warn", "dryrun"].into_iter().find(|a| actions.iter().any(|x| x.eq_ignore_ascii_case(a)))
}

fn violation(v: &Value, policy: &PolicyRef, spec_action: Option<&str>, audited: Timestamp) -> Option<Denial> {
    let object = ObjectRef {
        kind: string_at(v, &["kind"]).unwrap_or_default(),
        namespace: string_at(v, &["namespace"]),
        name: string_at(v, &["name"])?,
    };
    let listed = strings_at(v, &["enforcementActions"]);
    let action = match str_at(v, &["enforcementAction"]) {
        Some("scoped") | None => strongest(&listed).or(spec_action),
        Some(a) => Some(a),
    }
    .unwrap_or("");
    let message = str_at(v, &["message"]).unwrap_or("").to_string();
    Some(Denial {
        class: Default::default(),
        id: format!("constraint|{}|{}|{}", policy.kind, policy.name, object.display()),
        engine: Engine::Gatekeeper,
        enforcement: Enforcement::Audit,
        policy: Some(policy.clone()),
        webhook: None,
        binding: None,
        rule: None,
        operation: None,
        user: None,
        count: 1,
        first_seen: audited,
        last_seen: audited,
        severity: None,
        category: None,
        owner: None,
        exceptions: Vec::new(),
        evidence: vec![Evidence {
            source: EvidenceSource::ConstraintStatus,
            reference: format!("{}/{}", policy.kind, policy.name),
            at: audited,
            excerpt: format!("{action} {}: {message}", object.display()),
        }],
        object,
        message,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use proptest::prelude::*;
    use serde_json::json;

    use super::super::test_support::{arb_mutation, arb_object, doc, object, with};
    use super::*;

    const CONSTRAINT: &str = include_str!(
        "../../../../tests/fixtures/real/gatekeeper/constraint-k8srequiredlabels-with-violations.yaml"
    );

    fn now() -> Timestamp {
        "2026-11-27T14:00:00Z".parse().unwrap()
    }

    #[test]
    fn one_denial_per_violation_with_the_constraint_as_policy() {
        let v = with(doc(CONSTRAINT), &["metadata", "generation"], json!(3));
        let v = with(v, &["metadata", "resourceVersion"], json!("4821"));
        let ds = constraint_denials(&object(v), now());
        let objects: Vec<String> = ds.iter().map(|d| d.object.display()).collect();
        assert_eq!(
            objects,
            [
                "Namespace/default",
                "Namespace/gatekeeper-system",
                "Namespace/kube-public",
                "Namespace/kube-system"
            ]
        );
        let d = &ds[0];
        assert_eq!((d.engine, d.enforcement), (Engine::Gatekeeper, Enforcement::Audit));
        assert_eq!(
            d.policy,
            Some(PolicyRef {
                kind: "K8sRequiredLabels".into(),
                name: "ns-must-have-gk".into(),
                namespace: None,
                generation: Some(3),
                resource_version: Some("4821".into()),
            })
        );
        assert_eq!(d.policy.as_ref().unwrap().display(), "ns-must-have-gk@g3");
        assert_eq!(d.message, r#"you must provide labels: {"gatekeeper"}"#);
        assert_eq!((d.first_seen.to_string(), d.count), ("2019-05-11T01:46:13Z".to_string(), 1));
        assert_eq!(d.id, "constraint|K8sRequiredLabels|ns-must-have-gk|Namespace/default");
        let e = &d.evidence[0];
        assert_eq!(
            (e.source, e.reference.as_str()),
            (EvidenceSource::ConstraintStatus, "K8sRequiredLabels/ns-must-have-gk")
        );
        assert_eq!(e.at.to_string(), "2019-05-11T01:46:13Z");
        assert_eq!(e.excerpt, r#"deny Namespace/default: you must provide labels: {"gatekeeper"}"#);
    }

    #[test]
    fn actions_from_violation_spec_or_scoped_lists() {
        let base = with(doc(CONSTRAINT), &["spec", "enforcementAction"], json!("dryrun"));
        let mut v = base.clone();
        v["status"]["violations"] = json!([
            {"kind": "Pod", "namespace": "shop", "name": "a", "message": "m"},
            {"kind": "Pod", "namespace": "shop", "name": "b", "message": "m", "enforcementAction": "warn"},
            {"kind": "Pod", "namespace": "shop", "name": "c", "message": "m", "enforcementAction": "scoped", "enforcementActions": ["warn", "deny"]},
            {"kind": "Pod", "namespace": "shop", "name": "d", "message": "m", "enforcementAction": "quarantine"},
        ]);
        let ds = constraint_denials(&object(v), now());
        assert!(
            ds.iter().all(|d| d.enforcement == Enforcement::Audit),
            "audit findings, not denied requests"
        );
        let action = |d: &Denial| d.evidence[0].excerpt.split(' ').next().unwrap_or("").to_string();
        let got: Vec<String> = ds.iter().map(action).collect();
        assert_eq!(got, ["dryrun", "warn", "deny", "quarantine"]);
        let mut scoped = with(base, &["spec", "enforcementAction"], json!("scoped"));
        scoped["spec"]["scopedEnforcementActions"] =
            json!([{"action": "warn", "enforcementPoints": [{"name": "validation.gatekeeper.sh"}]}]);
        scoped["status"]["violations"] = json!([{"kind": "Pod", "name": "a", "message": "m"}]);
        assert!(constraint_denials(&object(scoped), now())[0].evidence[0].excerpt.starts_with("warn "));
    }

    #[test]
    fn several_violations_of_one_object_fold_and_bad_entries_are_skipped() {
        let mut v = doc(CONSTRAINT);
        v["status"] = json!({"violations": [
            {"kind": "Pod", "namespace": "kube-system", "name": "kube-scheduler-kind-control-plane", "message": "container <kube-scheduler> has no resource limits", "enforcementAction": "deny"},
            {"kind": "Pod", "namespace": "kube-system", "name": "kube-scheduler-kind-control-plane", "message": "container <sidecar> has no resource limits", "enforcementAction": "deny"},
            {"kind": "Pod", "message": "no name"}, "garbage", {"name": 5}]});
        let ds = constraint_denials(&object(v), now());
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0].count, 2);
        assert_eq!(
            ds[0].message,
            "container <kube-scheduler> has no resource limits\ncontainer <sidecar> has no resource limits"
        );
        assert_eq!(ds[0].first_seen, now(), "no auditTimestamp: observed_at");
        let mut missing = doc(CONSTRAINT);
        missing.as_object_mut().unwrap().remove("status");
        assert!(constraint_denials(&object(missing), now()).is_empty());
        let other = json!({"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate", "metadata": {"name": "k8srequiredlabels"},
            "status": {"violations": [{"kind": "Pod", "name": "x"}]}});
        assert!(constraint_denials(&object(other), now()).is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_objects_never_panic(obj in arb_object(
            &["constraints.gatekeeper.sh/v1beta1", "constraints.gatekeeper.sh/v1"],
            &["K8sRequiredLabels", "K8sContainerLimits"],
        )) {
            let _ = constraint_denials(&obj, Timestamp::UNIX_EPOCH);
        }

        #[test]
        fn mutated_fixtures_never_panic(obj in arb_mutation(vec![doc(CONSTRAINT)])) {
            let _ = constraint_denials(&obj, Timestamp::UNIX_EPOCH);
        }
    }
}
