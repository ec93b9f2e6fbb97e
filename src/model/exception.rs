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

/// One resource filter of an exception: kinds, namespaces and names, each a list of globs
/// where empty means any. `partial` says the filter has more conditions (label selectors,
/// CEL expressions, subjects, operations) that fleettop does not evaluate, so a match is
/// only "may apply".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeFilter {
    /// Kinds (`Pod`, `apps/v1/Deployment`); empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Namespace globs (`kube-*`); empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Name globs (`payments*`); empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// True when conditions fleettop cannot evaluate also apply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// How well an exception's scope matches an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeMatch {
    /// Kind, namespace and name all match a filter with nothing else to evaluate.
    Matches,
    /// A filter matches as far as fleettop can tell; it has conditions not evaluated.
    MayMatch,
}

impl ScopeFilter {
    /// Whether this filter covers `object` (its kind's last path segment is compared, so
    /// `apps/v1/Deployment` covers `Deployment`).
    pub fn matches(&self, object: &super::ObjectRef) -> Option<ScopeMatch> {
        let kind_ok = self.kinds.is_empty()
            || self.kinds.iter().any(|k| k.rsplit('/').next().is_some_and(|k| k == "*" || k == object.kind));
        let ns = object.namespace.as_deref().unwrap_or("");
        let ns_ok = self.namespaces.is_empty() || self.namespaces.iter().any(|g| glob_matches(g, ns));
        let name_ok = self.names.is_empty() || self.names.iter().any(|g| glob_matches(g, &object.name));
        (kind_ok && ns_ok && name_ok).then_some(if self.partial {
            ScopeMatch::MayMatch
        } else {
            ScopeMatch::Matches
        })
    }
}

/// `*` and `?` wildcards, as Kyverno and Gatekeeper match names and namespaces.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
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
    /// What it matches, as filters a denial's object can be tested against (any one
    /// matching is enough). Empty when the source could not say (older recordings, CEL
    /// exceptions without images).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<ScopeFilter>,
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

/// How far ahead an exception counts as "expiring soon" unless `config.toml` says otherwise
/// (`[exceptions] expiring_within`).
pub const DEFAULT_EXPIRY_WINDOW: SignedDuration = SignedDuration::from_hours(24 * 7);

impl PolicyException {
    /// The record key within its cluster.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind, ns_name(self.namespace.as_deref(), &self.name))
    }

    /// `namespace/name`.
    pub fn display_name(&self) -> String {
        ns_name(self.namespace.as_deref(), &self.name)
    }

    /// Whether this exception bypasses `rule` of `policy` (a name as denials carry it) for
    /// `engine`: the same engine (Kyverno's two kinds of policy count as one), and it names
    /// the policy (`*` for all) and the rule (no rules listed for all). Pod Security
    /// exemptions cover every Pod Security denial.
    pub fn covers_policy(&self, engine: Engine, policy: &str, rule: Option<&str>) -> bool {
        if !self.engine.same_family(engine) {
            return false;
        }
        if self.engine == Engine::PodSecurity {
            return true;
        }
        let bare = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
        self.policies.iter().any(|r| {
            (r.policy == "*" || r.policy == policy || bare(&r.policy) == bare(policy))
                && (r.rules.is_empty() || rule.is_none_or(|x| r.rules.iter().any(|n| n == x)))
        })
    }

    /// How well its scope covers `object`: the best match over its filters; `None` when no
    /// filter does, or when the scope is unknown (empty).
    pub fn covers_object(&self, object: &super::ObjectRef) -> Option<ScopeMatch> {
        self.scope.iter().filter_map(|f| f.matches(object)).min()
    }

    /// Status at `now` under the "expiring soon" horizon of `verdicts`.
    pub fn status(&self, now: Timestamp, verdicts: &super::Verdicts) -> ExceptionStatus {
        self.status_within(now, verdicts.expiring_within)
    }

    /// Status at `now`, with `window` as the "expiring soon" horizon.
    pub fn status_within(&self, now: Timestamp, window: SignedDuration) -> ExceptionStatus {
        match self.expires_at {
            None => ExceptionStatus::NoExpiry,
            Some(t) if t <= now => ExceptionStatus::Expired,
            Some(t) if t.duration_since(now) <= window => ExceptionStatus::Expiring,
            Some(_) => ExceptionStatus::Active,
        }
    }
}
