//! Clusters, their connection and the state of each of their sources.

use std::collections::BTreeMap;
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::RecordKind;

/// A cluster's name in the fleet (its kubeconfig context name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClusterId(pub String);

impl ClusterId {
    /// Wraps a context name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// How fleettop is connected to a cluster's API server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Connecting for the first time.
    Connecting,
    /// Connected; watches are running.
    Connected,
    /// The API server cannot be reached; data shown is what was seen before `since`.
    Unreachable {
        /// When the connection was lost.
        since: Timestamp,
        /// The last error, verbatim.
        error: String,
    },
    /// The credentials were refused (401/403 on discovery).
    Forbidden {
        /// The API server's message.
        error: String,
    },
}

/// One watch or scrape that feeds the fleet state from a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// core/v1 or events.k8s.io/v1 Events.
    Events,
    /// Pods (GPU and scheduling projection only).
    Pods,
    /// Nodes.
    Nodes,
    /// Namespaces.
    Namespaces,
    /// Kueue objects.
    Kueue,
    /// Kyverno policies, exceptions and reports.
    Kyverno,
    /// Gatekeeper constraints and config.
    Gatekeeper,
    /// ValidatingAdmissionPolicy and bindings.
    AdmissionPolicies,
    /// wgpolicyk8s.io / openreports.io reports.
    PolicyReports,
    /// DCGM exporter scrapes.
    Dcgm,
    /// Local NVML.
    Nvml,
    /// Telemetry pipeline self-metrics scrapes.
    Pipelines,
    /// API server audit log file.
    AuditLog,
}

impl SourceKind {
    /// True for sources that add telemetry to what the cluster's watches show (the scraped
    /// DCGM exporters and pipelines, local NVML): their failing or being slow is shown as
    /// theirs (a finding, the cluster detail) but never makes the whole cluster "stale" while
    /// its watches are live.
    pub fn is_optional(self) -> bool {
        matches!(self, SourceKind::Dcgm | SourceKind::Nvml | SourceKind::Pipelines)
    }

    /// Short label used in the fleet view.
    pub fn label(self) -> &'static str {
        match self {
            SourceKind::Events => "events",
            SourceKind::Pods => "pods",
            SourceKind::Nodes => "nodes",
            SourceKind::Namespaces => "namespaces",
            SourceKind::Kueue => "kueue",
            SourceKind::Kyverno => "kyverno",
            SourceKind::Gatekeeper => "gatekeeper",
            SourceKind::AdmissionPolicies => "vap",
            SourceKind::PolicyReports => "reports",
            SourceKind::Dcgm => "dcgm",
            SourceKind::Nvml => "nvml",
            SourceKind::Pipelines => "pipelines",
            SourceKind::AuditLog => "audit",
        }
    }
}

/// The state of one source of one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SourceState {
    /// Initial list in progress.
    Syncing,
    /// Initial list done; watching.
    Live,
    /// RBAC refused the list or watch.
    Forbidden {
        /// The API server's message (`… cannot list resource "…"`).
        message: String,
    },
    /// The CRD or API is not served by this cluster.
    NotInstalled,
    /// The source failed; it retries with backoff.
    Error {
        /// The error, verbatim.
        message: String,
    },
    /// The source cannot run here for a reason that is no fault (`NVML not available: …` on a
    /// node without the NVIDIA driver); healthy, like [`SourceState::NotInstalled`].
    Unavailable {
        /// Why, in words.
        message: String,
    },
    /// Part of the source fails (some of its scrape targets) while the rest keeps delivering;
    /// the cluster stays live.
    Degraded {
        /// What fails, by name (`1 of 3 dcgm-exporters failing: gpu-operator/e-b on node gpu-b: …`).
        message: String,
    },
    /// The watch stopped delivering; data is older than `since`.
    Stale {
        /// Last moment the source was known good.
        since: Timestamp,
    },
    /// A request of the source is taking long (a label-selected pod list on a big, busy API
    /// server): it is still waiting, and its last results stay shown. Never demotes the
    /// cluster's health (format 1.3).
    Slow {
        /// What is slow and for how long (`pod list has taken over 10 s; …`).
        message: String,
    },
}

impl SourceState {
    /// The `state` tag of every variant, as recordings spell it. From format 1.3 on, a reader
    /// skips a source observation whose state is not here (a later 1.x added it).
    pub const TAGS: [&'static str; 9] = [
        "syncing",
        "live",
        "forbidden",
        "not_installed",
        "error",
        "unavailable",
        "degraded",
        "stale",
        "slow",
    ];

    /// True when the source is delivering data.
    pub fn is_healthy(&self) -> bool {
        matches!(
            self,
            SourceState::Live
                | SourceState::NotInstalled
                | SourceState::Unavailable { .. }
                | SourceState::Degraded { .. }
                | SourceState::Slow { .. }
        )
    }
}

/// The badge shown for a cluster in the fleet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterHealth {
    /// Connected and every source is live.
    Live,
    /// Connecting, or some source has not finished its initial list.
    Syncing,
    /// Connected, but some watched source failed or stopped: part of the data is old. (An
    /// optional source, [`SourceKind::is_optional`], failing or slow does not count.)
    Stale,
    /// The API server cannot be reached.
    Unreachable,
    /// Credentials or RBAC refused us.
    Forbidden,
}

impl ClusterHealth {
    /// The badge's word.
    pub fn label(self) -> &'static str {
        match self {
            ClusterHealth::Live => "live",
            ClusterHealth::Syncing => "syncing",
            ClusterHealth::Stale => "stale",
            ClusterHealth::Unreachable => "unreachable",
            ClusterHealth::Forbidden => "forbidden",
        }
    }
}

/// Everything fleettop knows about one cluster's connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The cluster.
    pub id: ClusterId,
    /// Connection state.
    pub connection: ConnectionState,
    /// API server version, once known.
    pub server_version: Option<String>,
    /// Last API round-trip latency in milliseconds.
    pub latency_ms: Option<u32>,
    /// Labels from the fleet file.
    pub labels: BTreeMap<String, String>,
    /// Per-source state.
    pub sources: BTreeMap<SourceKind, SourceState>,
    /// When the newest data from this cluster arrived.
    pub last_data_at: Option<Timestamp>,
    /// Records dropped from bounded tables (their oldest, past the per-cluster bound of
    /// `state::bounds`), per table, since the session started. Format 1.3; absent before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dropped: BTreeMap<RecordKind, u64>,
}

impl ClusterStatus {
    /// A cluster that is being connected to.
    pub fn new(id: ClusterId) -> Self {
        Self {
            id,
            connection: ConnectionState::Connecting,
            server_version: None,
            latency_ms: None,
            labels: BTreeMap::new(),
            sources: BTreeMap::new(),
            last_data_at: None,
            dropped: BTreeMap::new(),
        }
    }

    /// The header badge, derived from connection and source states.
    pub fn health(&self) -> ClusterHealth {
        match &self.connection {
            ConnectionState::Connecting => ClusterHealth::Syncing,
            ConnectionState::Unreachable { .. } => ClusterHealth::Unreachable,
            ConnectionState::Forbidden { .. } => ClusterHealth::Forbidden,
            ConnectionState::Connected => {
                let served: Vec<&SourceState> = self
                    .sources
                    .values()
                    .filter(|s| !matches!(s, SourceState::NotInstalled | SourceState::Unavailable { .. }))
                    .collect();
                if !served.is_empty() && served.iter().all(|s| matches!(s, SourceState::Forbidden { .. })) {
                    // Reachable, but RBAC lets us read nothing.
                    ClusterHealth::Forbidden
                } else if self.sources.values().any(|s| matches!(s, SourceState::Syncing)) {
                    ClusterHealth::Syncing
                } else if self.sources.iter().any(|(k, s)| {
                    !k.is_optional() && matches!(s, SourceState::Error { .. } | SourceState::Stale { .. })
                }) {
                    ClusterHealth::Stale
                } else {
                    ClusterHealth::Live
                }
            }
        }
    }

    /// Age of the newest data at `now`, if any data arrived.
    pub fn data_age(&self, now: Timestamp) -> Option<SignedDuration> {
        self.last_data_at.map(|t| now.duration_since(t))
    }

    /// `Some` when the rates of this cluster's pipeline components are not current, so no
    /// verdict on them may be stated: the cluster is unreachable or refused us, or its
    /// pipelines source is stale, failing or refused. The inner value is since when, where
    /// the state says (`Unreachable { since }`, `Stale { since }`); `None` inside means "since
    /// the last scrape".
    pub fn pipelines_unseen_since(&self) -> Option<Option<Timestamp>> {
        match &self.connection {
            ConnectionState::Unreachable { since, .. } => return Some(Some(*since)),
            ConnectionState::Forbidden { .. } => return Some(None),
            ConnectionState::Connecting | ConnectionState::Connected => {}
        }
        match self.sources.get(&SourceKind::Pipelines) {
            Some(SourceState::Stale { since }) => Some(Some(*since)),
            Some(SourceState::Error { .. } | SourceState::Forbidden { .. }) => Some(None),
            _ => None,
        }
    }

    /// Sources RBAC refused, for the "no permission to list X" findings.
    pub fn forbidden_sources(&self) -> impl Iterator<Item = (SourceKind, &str)> {
        self.sources.iter().filter_map(|(k, s)| match s {
            SourceState::Forbidden { message } => Some((*k, message.as_str())),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(sources: &[(SourceKind, SourceState)]) -> ClusterStatus {
        let mut c = ClusterStatus::new(ClusterId::new("a"));
        c.connection = ConnectionState::Connected;
        c.sources = sources.iter().cloned().collect();
        c
    }

    #[test]
    fn an_optional_source_failing_or_slow_does_not_make_the_cluster_stale() {
        let live = (SourceKind::Events, SourceState::Live);
        let error = SourceState::Error { message: "pod list: no answer within 120 s".into() };
        let slow = SourceState::Slow { message: "the pod list has taken over 10 s".into() };
        for optional in [SourceKind::Dcgm, SourceKind::Pipelines, SourceKind::Nvml] {
            assert!(optional.is_optional());
            for state in [error.clone(), slow.clone(), SourceState::Stale { since: Timestamp::UNIX_EPOCH }] {
                let c = connected(&[live.clone(), (optional, state.clone())]);
                assert_eq!(c.health(), ClusterHealth::Live, "{optional:?} {state:?}");
            }
        }
        // A watched source failing still does.
        assert_eq!(connected(&[(SourceKind::Events, error)]).health(), ClusterHealth::Stale);
        assert_eq!(
            connected(&[(SourceKind::Kueue, slow)]).health(),
            ClusterHealth::Live,
            "slow is never stale"
        );
    }
}
