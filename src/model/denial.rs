//! Admission denials and the evidence they were derived from.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ns_name;

/// The admission mechanism that produced a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// A validating admission webhook not otherwise recognised.
    Webhook,
    /// Kyverno ClusterPolicy/Policy.
    Kyverno,
    /// Kyverno CEL policies (policies.kyverno.io).
    KyvernoCel,
    /// OPA Gatekeeper.
    Gatekeeper,
    /// ValidatingAdmissionPolicy.
    ValidatingAdmissionPolicy,
    /// Pod Security admission.
    PodSecurity,
    /// ResourceQuota admission.
    ResourceQuota,
    /// LimitRange admission.
    LimitRange,
    /// A shape no parser recognised; the message is kept verbatim.
    Other,
}

impl Engine {
    /// The kind of policy object behind a denial by this engine, when a message names the
    /// policy but not its kind (`ClusterPolicy` for Kyverno, `Constraint` for Gatekeeper).
    pub fn policy_kind(self) -> &'static str {
        match self {
            Engine::Kyverno => "ClusterPolicy",
            Engine::KyvernoCel => "ValidatingPolicy",
            Engine::Gatekeeper => "Constraint",
            Engine::ValidatingAdmissionPolicy => "ValidatingAdmissionPolicy",
            Engine::PodSecurity => "PodSecurity level",
            Engine::ResourceQuota => "ResourceQuota",
            Engine::LimitRange => "LimitRange",
            Engine::Webhook | Engine::Other => "ValidatingWebhookConfiguration",
        }
    }

    /// True when both are the same engine, Kyverno's classic and CEL policies counting as one
    /// (they share exceptions and reports).
    pub fn same_family(self, other: Engine) -> bool {
        let family = |e: Engine| match e {
            Engine::KyvernoCel => Engine::Kyverno,
            e => e,
        };
        family(self) == family(other)
    }

    /// Short name for tables.
    pub fn label(self) -> &'static str {
        match self {
            Engine::Webhook => "webhook",
            Engine::Kyverno => "kyverno",
            Engine::KyvernoCel => "kyverno-cel",
            Engine::Gatekeeper => "gatekeeper",
            Engine::ValidatingAdmissionPolicy => "vap",
            Engine::PodSecurity => "pod-security",
            Engine::ResourceQuota => "quota",
            Engine::LimitRange => "limitrange",
            Engine::Other => "other",
        }
    }
}

/// What the engine did with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// The request was rejected.
    Deny,
    /// The request passed with a warning.
    Warn,
    /// Recorded by an audit (background) scan.
    Audit,
    /// Would have been denied; the policy is in dry-run.
    Dryrun,
}

impl Enforcement {
    /// Short name for tables.
    pub fn label(self) -> &'static str {
        match self {
            Enforcement::Deny => "deny",
            Enforcement::Warn => "warn",
            Enforcement::Audit => "audit",
            Enforcement::Dryrun => "dryrun",
        }
    }
}

/// Severity as policy engines report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// A Kubernetes object, by kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Kind (`Deployment`, `Pod`, …).
    pub kind: String,
    /// Namespace, absent for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name (may be a generateName prefix ending in `-`).
    pub name: String,
}

impl ObjectRef {
    /// The name an object gets when neither the event nor the message names it (an audit line
    /// of a create whose body the audit level does not keep).
    pub const UNNAMED: &str = "(unnamed)";

    /// `kind/namespace/name`.
    pub fn display(&self) -> String {
        format!("{}/{}", self.kind, ns_name(self.namespace.as_deref(), &self.name))
    }
}

/// The policy object behind a denial, with its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    /// Kind (`ClusterPolicy`, `K8sRequiredLabels`, `ValidatingAdmissionPolicy`, …).
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace for namespaced policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.generation` when known: the policy's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// `metadata.resourceVersion` when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

impl PolicyRef {
    /// `name@gN`, or `name` when the generation is unknown.
    pub fn display(&self) -> String {
        match self.generation {
            Some(g) => format!("{}@g{g}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Where a piece of evidence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceSource {
    /// A Kubernetes Event.
    Event,
    /// A PolicyReport / Report result.
    PolicyReport,
    /// A Gatekeeper constraint's audit status.
    ConstraintStatus,
    /// The API server audit log.
    AuditLog,
    /// An object's status condition (ReplicaSet ReplicaFailure, …).
    Condition,
    /// Scraped metrics.
    Metrics,
    /// The object itself (labels, annotations, spec).
    Object,
}

impl EvidenceSource {
    /// Short name for the detail view.
    pub fn label(self) -> &'static str {
        match self {
            EvidenceSource::Event => "event",
            EvidenceSource::PolicyReport => "policy report",
            EvidenceSource::ConstraintStatus => "constraint status",
            EvidenceSource::AuditLog => "audit log",
            EvidenceSource::Condition => "condition",
            EvidenceSource::Metrics => "metrics",
            EvidenceSource::Object => "object",
        }
    }
}

/// One object or message a conclusion was drawn from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The kind of source.
    pub source: EvidenceSource,
    /// Which object (`Event shop/payments-7d9c.17a3f`, `PolicyReport shop/…`).
    pub reference: String,
    /// When the source said it.
    pub at: Timestamp,
    /// The relevant text, verbatim.
    pub excerpt: String,
}

/// How a webhook call failed: the apiserver could not get an answer from the webhook
/// (`failed calling webhook "NAME": …`), so the request failed without any policy deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// `context deadline exceeded`, `i/o timeout`, `Client.Timeout exceeded`.
    Timeout,
    /// `connect: connection refused`.
    Refused,
    /// `x509: …`, `tls: …`: the webhook's certificate is not trusted or not valid.
    Tls,
    /// The webhook answered with a server error (5xx, `EOF`, `an error on the server`).
    ServerError,
    /// `no endpoints available for service "…"`: no ready pod behind the webhook's service.
    NoEndpoints,
    /// `service "…" not found`.
    NoService,
    /// Anything else (kinds written by newer fleettop builds read as this).
    #[default]
    #[serde(other)]
    Unknown,
}

impl FailureKind {
    /// Short name for tables.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::Refused => "refused",
            FailureKind::Tls => "tls",
            FailureKind::ServerError => "5xx",
            FailureKind::NoEndpoints => "no endpoints",
            FailureKind::NoService => "no service",
            FailureKind::Unknown => "unknown",
        }
    }
}

/// What kind of refusal a [`Denial`] row is. Only [`DenialClass::Admission`] rows are policy
/// denials; the others are counted apart everywhere (summary, tab badge, findings, `why`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum DenialClass {
    /// Refused at admission, but no grammar read the message: the engine comes from the webhook
    /// name when there is one, and the raw message is kept. A gap in fleettop, shown as such.
    Unattributed,
    /// The webhook could not be called (`failed calling webhook`): no policy decided.
    WebhookUnavailable {
        /// How the call failed.
        failure: FailureKind,
        /// The webhook's `failurePolicy` (`Fail`, `Ignore`) when known: from the apiserver's
        /// "failing open/closed" log wording or a readable ValidatingWebhookConfiguration.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure_policy: Option<String>,
    },
    /// An RBAC refusal (`authorization.k8s.io/decision: forbid`): never an admission denial.
    Authorization,
    /// A policy engine (or quota, LimitRange, Pod Security) refused the request and the
    /// message says which. Classes written by newer fleettop builds read as this.
    #[default]
    #[serde(other)]
    Admission,
}

impl DenialClass {
    /// True for policy denials (the default class).
    pub fn is_admission(&self) -> bool {
        *self == DenialClass::Admission
    }

    /// Short name for tables and summaries.
    pub fn label(&self) -> &'static str {
        match self {
            DenialClass::Admission => "denied",
            DenialClass::Unattributed => "unattributed",
            DenialClass::WebhookUnavailable { .. } => "webhook unavailable",
            DenialClass::Authorization => "rbac",
        }
    }
}

/// An admission denial (or warn/audit/dry-run finding), deduplicated by the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Denial {
    /// Stable id within the cluster, chosen by the source (dedup key).
    pub id: String,
    /// Which engine denied.
    pub engine: Engine,
    /// What the engine did.
    pub enforcement: Enforcement,
    /// The policy object, when it could be identified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyRef>,
    /// Webhook name (`validate.kyverno.svc-fail`), for webhook engines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// VAP binding, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    /// The rule (Kyverno rule, Pod Security control, quota resource, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The object whose creation or update was denied.
    pub object: ObjectRef,
    /// `CREATE`, `UPDATE`, … when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Requesting user, when known (audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The engine's message, verbatim.
    pub message: String,
    /// How many times it happened.
    pub count: u64,
    /// First time seen.
    pub first_seen: Timestamp,
    /// Last time seen.
    pub last_seen: Timestamp,
    /// Severity from the policy, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Category from the policy, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Owner of the policy (team/contact), from configurable labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Names of exceptions that match this denial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<String>,
    /// Everything this row was derived from.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// Policy denial, unattributed refusal, unavailable webhook or RBAC refusal. Absent in
    /// recordings before format 1.4 (read as [`DenialClass::Admission`]).
    #[serde(default, skip_serializing_if = "DenialClass::is_admission")]
    pub class: DenialClass,
}

impl Denial {
    /// The record key within its cluster.
    pub fn key(&self) -> String {
        self.id.clone()
    }

    /// The policy (or webhook) name used for grouping.
    pub fn policy_name(&self) -> &str {
        self.policy.as_ref().map(|p| p.name.as_str()).or(self.webhook.as_deref()).unwrap_or("(unknown)")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_class_is_written_only_when_not_a_policy_denial_and_unknown_values_read_as_defaults() {
        let class = DenialClass::WebhookUnavailable {
            failure: FailureKind::Tls,
            failure_policy: Some("Fail".into()),
        };
        let json = serde_json::to_value(&class).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"class": "webhook_unavailable", "failure": "tls", "failure_policy": "Fail"})
        );
        assert_eq!(serde_json::from_value::<DenialClass>(json).unwrap(), class);
        // Written by a newer build: an unknown class is a policy denial, an unknown kind unknown.
        let newer: DenialClass = serde_json::from_value(serde_json::json!({"class": "quota_race"})).unwrap();
        assert_eq!(newer, DenialClass::Admission);
        let kind: FailureKind = serde_json::from_value(serde_json::json!("dns")).unwrap();
        assert_eq!(kind, FailureKind::Unknown);
        assert!(DenialClass::Admission.is_admission() && !DenialClass::Unattributed.is_admission());
    }
}
