//! Policies as their engines define them: the object a denial is joined to for its version
//! (generation), rules, enforcement and owner.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Enforcement, Engine, Severity, ns_name};

/// A policy object: Kyverno (Cluster)Policy, a ValidatingAdmissionPolicy or its binding, or a
/// Gatekeeper constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// The engine that enforces it.
    pub engine: Engine,
    /// Object kind (`ClusterPolicy`, `ValidatingAdmissionPolicyBinding`, `K8sRequiredLabels`).
    pub kind: String,
    /// Namespace, for namespaced policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// `metadata.generation`: the policy's version (it changes when the spec does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// `metadata.resourceVersion` when last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Rule names (Kyverno rules, VAP validations by index or message), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// What happens to a violating request; `None` when the object does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<Enforcement>,
    /// For a binding: the policy it binds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binds: Option<String>,
    /// Severity annotation, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Category annotation, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Owner, from the configured labels or annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Whether the engine reports it ready (Kyverno `Ready` condition), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// The last generation change fleettop saw: filled in by the reducer (never by sources)
    /// when an upsert carries another generation than the stored record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

/// A policy's generation changing while fleettop watched: the start of a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// The generation before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// When the new generation was observed.
    pub at: Timestamp,
}

impl Policy {
    /// The record key within its cluster: `Kind/ns/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind, self.display_name())
    }

    /// `namespace/name`, or `name` for cluster-scoped policies.
    pub fn display_name(&self) -> String {
        ns_name(self.namespace.as_deref(), &self.name)
    }
}
