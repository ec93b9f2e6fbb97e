//! Policy exceptions and when they expire.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Engine, Evidence, ns_name};

/// A policy (and optionally rules within it) that an exception bypasses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRuleRef {
    /// Policy name (`ns/name` for namespaced policies).
    pub policy: String,
    /// Rule names; empty means every rule.
    #[serde(default)]
    pub rules: Vec<String>,
}

/// Where an exception's expiry came from. No engine has a standard field for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum ExpirySource {
    /// `spec.expiresAt` (Kyverno ≥ 1.19 CEL PolicyException).
    ExpiresAt,
    /// The `cleanup.kyverno.io/ttl` label, verbatim.
    TtlLabel {
        /// The label's value (`4h`, `2026-11-30T000000Z`).
        value: String,
    },
    /// A configured annotation.
    Annotation {
        /// The annotation key.
        key: String,
    },
    /// A (Cluster)CleanupPolicy that deletes it.
    CleanupPolicy {
        /// The cleanup policy's name.
        name: String,
    },
    /// Nothing says when it ends: a finding in itself.
    None,
}

impl ExpirySource {
    /// Short description for tables.
    pub fn label(&self) -> String {
        match self {
            ExpirySource::ExpiresAt => "spec.expiresAt".into(),
            ExpirySource::TtlLabel { value } => format!("ttl label {value}"),
            ExpirySource::Annotation { key } => format!("annotation {key}"),
            ExpirySource::CleanupPolicy { name } => format!("cleanup policy {name}"),
            ExpirySource::None => "none".into(),
        }
    }
}

/// An exception's status at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionStatus {
    /// The expiry passed and the exception still exists: it still bypasses policy.
    Expired,
    /// Expires within the warning window.
    Expiring,
    /// No expiry at all.
    NoExpiry,
    /// Expires later than the warning window.
    Active,
}

impl ExceptionStatus {
    /// The word shown in the table.
    pub fn label(self) -> &'static str {
        match self {
            ExceptionStatus::Expired => "EXPIRED",
            ExceptionStatus::Expiring => "expiring",
            ExceptionStatus::NoExpiry => "no expiry",
            ExceptionStatus::Active => "active",
        }
    }
}

/// A policy exception (Kyverno PolicyException, Gatekeeper exemption, PSA-exempt namespace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyException {
    /// Engine it applies to.
    pub engine: Engine,
    /// Kind of the exception object (`PolicyException`, `Config`, `Namespace`).
    pub kind: String,
    /// Namespace of the exception object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the exception object.
    pub name: String,
    /// Policies and rules it bypasses.
    pub policies: Vec<PolicyRuleRef>,
    /// What it matches, summarised (`Deployment in ns shop named payments-*`).
    pub matches: String,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When it expires, when anything says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Where the expiry came from.
    pub expiry_source: ExpirySource,
    /// Owner or approver, from configurable annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Ticket reference, from configurable annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The object and fields it was derived from.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

impl PolicyException {
    /// The record key within its cluster.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind, ns_name(self.namespace.as_deref(), &self.name))
    }

    /// `namespace/name`.
    pub fn display_name(&self) -> String {
        ns_name(self.namespace.as_deref(), &self.name)
    }

    /// Status at `now`, with `window` as the "expiring soon" horizon.
    pub fn status(&self, now: Timestamp, window: SignedDuration) -> ExceptionStatus {
        match self.expires_at {
            None => ExceptionStatus::NoExpiry,
            Some(t) if t <= now => ExceptionStatus::Expired,
            Some(t) if t.duration_since(now) <= window => ExceptionStatus::Expiring,
            Some(_) => ExceptionStatus::Active,
        }
    }
}
