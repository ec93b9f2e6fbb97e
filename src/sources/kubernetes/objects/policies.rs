//! Policy objects as [`Policy`] records: Kyverno ClusterPolicy/Policy, ValidatingAdmissionPolicy
//! and its bindings, and Gatekeeper constraints. A denial is joined to these for the policy's
//! version (`metadata.generation`), rules, enforcement and owner.
//!
//! The kind comes from discovery (list items of built-in types carry no `kind`).

use kube::api::DynamicObject;
use serde_json::Value;

use super::{ProjectionConfig, array_at, created, meta_lookup, str_at, string_at, strings_at};
use crate::model::{Enforcement, Engine, Policy, Severity};

/// A Kyverno `ClusterPolicy` or `Policy`. Enforcement: `Enforce` on the policy
/// (`spec.validationFailureAction`) or on any validate rule (`validate.failureAction`, Kyverno
/// ≥ 1.13) means requests are denied; otherwise Kyverno only audits (its default).
pub fn kyverno_policy(obj: &DynamicObject, kind: &str, cfg: &ProjectionConfig) -> Option<Policy> {
    let d = &obj.data;
    let rules = array_at(d, &["spec", "rules"]);
    let enforced = |v: Option<&str>| v.is_some_and(|a| a.eq_ignore_ascii_case("enforce"));
    let any_rule_enforces = rules.iter().any(|r| enforced(str_at(r, &["validate", "failureAction"])));
    let enforcement = if enforced(str_at(d, &["spec", "validationFailureAction"])) || any_rule_enforces {
        Enforcement::Deny
    } else {
        Enforcement::Audit
    };
    let annotation = |k: &str| obj.metadata.annotations.as_ref().and_then(|a| a.get(k)).cloned();
    let ready = array_at(d, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == Some("Ready"))
        .and_then(|c| str_at(c, &["status"]))
        .map(|s| s == "True");
    Some(Policy {
        engine: Engine::Kyverno,
        kind: kind.to_string(),
        namespace: obj.metadata.namespace.clone().filter(|n| !n.is_empty()),
        name: obj.metadata.name.clone().filter(|n| !n.is_empty())?,
        generation: obj.metadata.generation,
        resource_version: obj.metadata.resource_version.clone(),
        rules: rules.iter().filter_map(|r| string_at(r, &["name"])).collect(),
        enforcement: Some(enforcement),
        binds: None,
        severity: annotation("policies.kyverno.io/severity").as_deref().and_then(severity),
        category: annotation("policies.kyverno.io/category").filter(|c| !c.trim().is_empty()),
        owner: meta_lookup(&obj.metadata, &cfg.owner_keys).map(|(_, v)| v),
        ready,
        created_at: created(&obj.metadata),
        rollout: None,
    })
}

/// A `ValidatingAdmissionPolicy` (rules: its validations, by message or expression) or a
/// `ValidatingAdmissionPolicyBinding` (binds a policy; enforcement from `validationActions`,
/// the strongest of Deny > Warn > Audit).
pub fn admission_policy(obj: &DynamicObject, kind: &str, cfg: &ProjectionConfig) -> Option<Policy> {
    let d = &obj.data;
    let binding = kind.ends_with("Binding");
    let (rules, enforcement, binds) = if binding {
        let actions = strings_at(d, &["spec", "validationActions"]);
        (Vec::new(), strongest_action(&actions), string_at(d, &["spec", "policyName"]))
    } else {
        (array_at(d, &["spec", "validations"]).iter().enumerate().map(validation_name).collect(), None, None)
    };
    Some(Policy {
        engine: Engine::ValidatingAdmissionPolicy,
        kind: kind.to_string(),
        namespace: None,
        name: obj.metadata.name.clone().filter(|n| !n.is_empty())?,
        generation: obj.metadata.generation,
        resource_version: obj.metadata.resource_version.clone(),
        rules,
        enforcement,
        binds,
        severity: None,
        category: None,
        owner: meta_lookup(&obj.metadata, &cfg.owner_keys).map(|(_, v)| v),
        ready: None,
        created_at: created(&obj.metadata),
        rollout: None,
    })
}

/// A Gatekeeper constraint as a policy: enforcement from `spec.enforcementAction` (default
/// deny; `scoped` reads as the strongest of its scoped actions).
pub fn constraint_policy(obj: &DynamicObject, kind: &str, cfg: &ProjectionConfig) -> Option<Policy> {
    let d = &obj.data;
    let action = str_at(d, &["spec", "enforcementAction"]).unwrap_or("deny");
    let enforcement = if action == "scoped" {
        let scoped: Vec<String> = array_at(d, &["spec", "scopedEnforcementActions"])
            .iter()
            .filter_map(|a| string_at(a, &["action"]))
            .collect();
        strongest_action(&scoped)
    } else {
        action_of(action)
    };
    Some(Policy {
        engine: Engine::Gatekeeper,
        kind: kind.to_string(),
        namespace: None,
        name: obj.metadata.name.clone().filter(|n| !n.is_empty())?,
        generation: obj.metadata.generation,
        resource_version: obj.metadata.resource_version.clone(),
        rules: Vec::new(),
        enforcement,
        binds: None,
        severity: None,
        category: None,
        owner: meta_lookup(&obj.metadata, &cfg.owner_keys).map(|(_, v)| v),
        ready: None,
        created_at: created(&obj.metadata),
        rollout: None,
    })
}

/// A validation's name: its message, else its expression, numbered.
fn validation_name((i, v): (usize, &Value)) -> String {
    let text = str_at(v, &["message"]).or_else(|| str_at(v, &["expression"])).unwrap_or("");
    let short: String = text.chars().take(60).collect();
    format!("#{i} {short}").trim_end().to_string()
}

/// `deny`, `warn`, `dryrun`, `audit` (any case) as an enforcement.
fn action_of(action: &str) -> Option<Enforcement> {
    match action.to_ascii_lowercase().as_str() {
        "deny" => Some(Enforcement::Deny),
        "warn" => Some(Enforcement::Warn),
        "dryrun" => Some(Enforcement::Dryrun),
        "audit" => Some(Enforcement::Audit),
        _ => None,
    }
}

/// The strongest of several actions: deny > warn > audit > dryrun.
fn strongest_action(actions: &[String]) -> Option<Enforcement> {
    let all: Vec<Enforcement> = actions.iter().filter_map(|a| action_of(a)).collect();
    [Enforcement::Deny, Enforcement::Warn, Enforcement::Audit, Enforcement::Dryrun]
        .into_iter()
        .find(|e| all.contains(e))
}

/// Kyverno's severity annotation values.
fn severity(s: &str) -> Option<Severity> {
    match s.trim().to_ascii_lowercase().as_str() {
        "info" => Some(Severity::Info),
        "low" => Some(Severity::Low),
        "medium" => Some(Severity::Medium),
        "high" => Some(Severity::High),
        "critical" => Some(Severity::Critical),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;

    const CLUSTER_POLICY: &str = include_str!(
        "../../../../tests/fixtures/real/kyverno/clusterpolicy-expiration-for-policyexceptions.yaml"
    );

    fn object(v: Value) -> DynamicObject {
        serde_json::from_value(v).unwrap()
    }

    fn cfg() -> ProjectionConfig {
        ProjectionConfig::default()
    }

    #[test]
    fn the_real_cluster_policy_keeps_its_annotations_even_with_its_spec_garbled() {
        let v: Value = serde_saphyr::from_str(CLUSTER_POLICY).unwrap();
        let p = kyverno_policy(&object(v), "ClusterPolicy", &cfg()).unwrap();
        assert_eq!((p.name.as_str(), p.kind.as_str()), ("expiration-for-policyexceptions", "ClusterPolicy"));
        assert_eq!((p.severity, p.category.as_deref()), (Some(Severity::Medium), Some("Other")));
        // The excerpt's `spec:` is a list, not an object: no rules can be read from it.
        assert!(p.rules.is_empty());
        assert_eq!(p.enforcement, Some(Enforcement::Audit), "Kyverno audits unless told to enforce");
    }

    #[test]
    fn kyverno_enforcement_per_policy_or_per_rule_and_readiness() {
        let base = json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "require-labels", "generation": 4, "resourceVersion": "812",
                "annotations": {"fleettop.io/owner": "platform-security"}},
            "spec": {"validationFailureAction": "Audit", "rules": [
                {"name": "check-team", "validate": {"message": "label team is required"}},
                {"name": "check-owner", "validate": {"failureAction": "Enforce", "message": "owner"}}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let p = kyverno_policy(&object(base.clone()), "ClusterPolicy", &cfg()).unwrap();
        assert_eq!(p.rules, ["check-team", "check-owner"]);
        assert_eq!(p.enforcement, Some(Enforcement::Deny), "one enforcing rule denies requests");
        assert_eq!(
            (p.generation, p.ready, p.owner.as_deref()),
            (Some(4), Some(true), Some("platform-security"))
        );
        assert_eq!(p.key(), "ClusterPolicy/require-labels");
        let mut audit = base;
        audit["spec"]["rules"][1]["validate"]["failureAction"] = json!("Audit");
        assert_eq!(
            kyverno_policy(&object(audit), "ClusterPolicy", &cfg()).unwrap().enforcement,
            Some(Enforcement::Audit)
        );
    }

    #[test]
    fn admission_policies_and_bindings() {
        let vap = object(json!({"metadata": {"name": "replica-limit.example.com", "generation": 2},
            "spec": {"validations": [{"expression": "object.spec.replicas <= 5"},
                {"expression": "true", "message": "must be labelled"}]}}));
        let p = admission_policy(&vap, "ValidatingAdmissionPolicy", &cfg()).unwrap();
        assert_eq!(p.rules, ["#0 object.spec.replicas <= 5", "#1 must be labelled"]);
        assert_eq!((p.enforcement, p.binds.as_deref()), (None, None));
        let binding = object(json!({"metadata": {"name": "replica-limit-binding"},
            "spec": {"policyName": "replica-limit.example.com", "validationActions": ["Warn", "Deny"]}}));
        let b = admission_policy(&binding, "ValidatingAdmissionPolicyBinding", &cfg()).unwrap();
        assert_eq!(
            (b.enforcement, b.binds.as_deref()),
            (Some(Enforcement::Deny), Some("replica-limit.example.com"))
        );
        assert!(
            admission_policy(&object(json!({"metadata": {}})), "ValidatingAdmissionPolicy", &cfg()).is_none()
        );
    }

    #[test]
    fn constraints_are_policies_with_their_admission_action() {
        let c = |action: Value| {
            object(json!({"metadata": {"name": "ns-must-have-gk", "generation": 3},
                "spec": {"enforcementAction": action, "scopedEnforcementActions": [{"action": "warn"}]}}))
        };
        let get = |v| constraint_policy(&c(v), "K8sRequiredLabels", &cfg()).unwrap().enforcement;
        assert_eq!(get(json!("dryrun")), Some(Enforcement::Dryrun));
        assert_eq!(get(json!("scoped")), Some(Enforcement::Warn));
        assert_eq!(get(json!(7)), Some(Enforcement::Deny), "a malformed action reads as the default");
    }
}
