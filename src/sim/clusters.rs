//! The demo fleet: five clusters, what is installed where, how they connect, their latency over
//! time, and `prod-ap-south-1` dropping off the network at t=+20m.

use std::collections::BTreeMap;

use rand::Rng;

use super::timeline::{Ms, Timeline, mins, secs, stream};
use crate::model::{Change, ClusterId, ClusterUpdate, ConnectionState, RecordKind, SourceKind, SourceState};

/// Production, Europe.
pub(crate) const PROD_EU: &str = "prod-eu-west-1";
/// Production, US east (also runs a small Kueue queue and an audit log).
pub(crate) const PROD_US: &str = "prod-us-east-1";
/// Production, Asia-Pacific: unreachable from t=+20m.
pub(crate) const PROD_AP: &str = "prod-ap-south-1";
/// Staging, Europe.
pub(crate) const STAGING_EU: &str = "staging-eu";
/// The GPU training cluster (Kueue, Gatekeeper, DCGM).
pub(crate) const GPU_TRAIN: &str = "gpu-train-us";

/// Length of the demo incident.
pub(crate) const DURATION: Ms = mins(30);
/// When `prod-ap-south-1` stops answering.
pub(crate) const UNREACHABLE_AT: Ms = mins(20);
/// The error its API client reports.
pub(crate) const UNREACHABLE_ERROR: &str = "dial tcp 10.40.0.1:443: i/o timeout";
/// The RBAC refusal on `prod-ap-south-1`'s policy reports.
pub(crate) const POLICYREPORTS_FORBIDDEN: &str = "policyreports.wgpolicyk8s.io is forbidden: User \"oncall\" cannot list resource \"policyreports\" in API group \"wgpolicyk8s.io\" at the cluster scope";

/// Whether a source exists on a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Avail {
    /// Installed and readable.
    Live,
    /// CRD or API not served.
    NotInstalled,
    /// RBAC refuses the list.
    Forbidden,
}

/// One cluster of the demo fleet.
#[derive(Debug)]
pub(crate) struct ClusterSpec {
    /// Context name.
    pub name: &'static str,
    /// `env` label.
    pub env: &'static str,
    /// `region` label.
    pub region: &'static str,
    /// API server version.
    pub version: &'static str,
    /// Typical API latency range, ms.
    pub latency: (u32, u32),
    /// When the connection is established.
    pub connect: Ms,
    /// Every source and whether it is there.
    pub sources: &'static [(SourceKind, Avail)],
}

use Avail::{Forbidden, Live, NotInstalled};
use SourceKind as S;

const SPECS: &[ClusterSpec] = &[
    ClusterSpec {
        name: PROD_EU,
        env: "prod",
        region: "eu-west-1",
        version: "v1.31.4",
        latency: (28, 55),
        connect: 420,
        sources: &[
            (S::Events, Live),
            (S::Pods, Live),
            (S::Nodes, Live),
            (S::Namespaces, Live),
            (S::Kueue, NotInstalled),
            (S::Kyverno, Live),
            (S::Gatekeeper, NotInstalled),
            (S::AdmissionPolicies, Live),
            (S::PolicyReports, Live),
            (S::Dcgm, NotInstalled),
            (S::Pipelines, Live),
        ],
    },
    ClusterSpec {
        name: PROD_US,
        env: "prod",
        region: "us-east-1",
        version: "v1.31.4",
        latency: (70, 120),
        connect: 910,
        sources: &[
            (S::Events, Live),
            (S::Pods, Live),
            (S::Nodes, Live),
            (S::Namespaces, Live),
            (S::Kueue, Live),
            (S::Kyverno, Live),
            (S::Gatekeeper, NotInstalled),
            (S::AdmissionPolicies, Live),
            (S::PolicyReports, Live),
            (S::Dcgm, Live),
            (S::Pipelines, Live),
            (S::AuditLog, Live),
        ],
    },
    ClusterSpec {
        name: PROD_AP,
        env: "prod",
        region: "ap-south-1",
        version: "v1.30.8",
        latency: (170, 250),
        connect: 2_350,
        sources: &[
            (S::Events, Live),
            (S::Pods, Live),
            (S::Nodes, Live),
            (S::Namespaces, Live),
            (S::Kueue, NotInstalled),
            (S::Kyverno, Live),
            (S::Gatekeeper, NotInstalled),
            (S::AdmissionPolicies, Live),
            (S::PolicyReports, Forbidden),
            (S::Dcgm, Live),
            (S::Pipelines, Live),
        ],
    },
    ClusterSpec {
        name: STAGING_EU,
        env: "staging",
        region: "eu-central-1",
        version: "v1.32.1",
        latency: (20, 40),
        connect: 300,
        sources: &[
            (S::Events, Live),
            (S::Pods, Live),
            (S::Nodes, Live),
            (S::Namespaces, Live),
            (S::Kueue, NotInstalled),
            (S::Kyverno, Live),
            (S::Gatekeeper, NotInstalled),
            (S::AdmissionPolicies, Live),
            (S::PolicyReports, Live),
            (S::Dcgm, NotInstalled),
            (S::Pipelines, Live),
        ],
    },
    ClusterSpec {
        name: GPU_TRAIN,
        env: "prod",
        region: "us-west-2",
        version: "v1.30.6",
        latency: (95, 150),
        connect: 1_280,
        sources: &[
            (S::Events, Live),
            (S::Pods, Live),
            (S::Nodes, Live),
            (S::Namespaces, Live),
            (S::Kueue, Live),
            (S::Kyverno, NotInstalled),
            (S::Gatekeeper, Live),
            (S::AdmissionPolicies, Live),
            (S::PolicyReports, NotInstalled),
            (S::Dcgm, Live),
            (S::Pipelines, Live),
        ],
    },
];

/// The demo fleet, in display order.
pub(crate) fn specs() -> &'static [ClusterSpec] {
    SPECS
}

/// One cluster's spec by name.
pub(crate) fn spec(name: &str) -> Option<&'static ClusterSpec> {
    SPECS.iter().find(|c| c.name == name)
}

/// The sources a table is listed from (policies come from three engines).
fn sources_of(kind: RecordKind) -> &'static [SourceKind] {
    match kind {
        RecordKind::Denial => &[S::Events],
        RecordKind::Exception => &[S::Namespaces],
        RecordKind::GpuQueue | RecordKind::GpuWorkload => &[S::Kueue],
        RecordKind::PendingGpuPod => &[S::Pods],
        RecordKind::GpuNode => &[S::Nodes],
        RecordKind::Pipeline => &[S::Pipelines],
        RecordKind::Policy => &[S::Kyverno, S::Gatekeeper, S::AdmissionPolicies],
        RecordKind::Skip => &[S::PolicyReports],
    }
}

/// Whether the cluster lists this table at all (one of its sources is installed and readable).
pub(crate) fn lists(cluster: &str, kind: RecordKind) -> bool {
    spec(cluster).is_some_and(|c| c.sources.iter().any(|(s, a)| sources_of(kind).contains(s) && *a == Live))
}

/// When the initial list of `kind` on `cluster` is delivered. Generators upsert their initial
/// records at exactly this offset; `SyncStart` comes just before and `SyncEnd` just after.
pub(crate) fn list_at(cluster: &str, kind: RecordKind) -> Ms {
    let connect = spec(cluster).map_or(0, |c| c.connect);
    let idx = RecordKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as i64;
    connect + 800 + idx * 150
}

/// Whether the cluster still answers at `t` (only `prod-ap-south-1` stops).
pub(crate) fn reachable(cluster: &str, t: Ms) -> bool {
    cluster != PROD_AP || t < UNREACHABLE_AT
}

/// Connection, sources, initial-list brackets and latency for every cluster.
pub(crate) fn generate(seed: u64, tl: &mut Timeline) {
    let mut rng = stream(seed, "clusters");
    for (i, c) in SPECS.iter().enumerate() {
        let id = ClusterId::new(c.name);
        let labels: BTreeMap<String, String> = [("env", c.env), ("region", c.region)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tl.push(
            i as i64 * 40,
            &id,
            Change::Cluster(ClusterUpdate {
                connection: Some(ConnectionState::Connecting),
                labels: Some(labels),
                ..ClusterUpdate::default()
            }),
        );
        let latency = rng.random_range(c.latency.0..=c.latency.1);
        tl.push(
            c.connect,
            &id,
            Change::Cluster(ClusterUpdate {
                connection: Some(ConnectionState::Connected),
                server_version: Some(c.version.to_string()),
                latency_ms: Some(latency),
                labels: None,
            }),
        );
        for (s, a) in c.sources {
            let state = match a {
                Live => SourceState::Syncing,
                NotInstalled => SourceState::NotInstalled,
                Forbidden => SourceState::Forbidden { message: POLICYREPORTS_FORBIDDEN.to_string() },
            };
            tl.push(c.connect + 5, &id, Change::Source { source: *s, state });
        }
        for kind in RecordKind::ALL {
            if lists(c.name, kind) {
                let at = list_at(c.name, kind);
                tl.push(at - 1, &id, Change::SyncStart { kind });
                tl.push(at + 300, &id, Change::SyncEnd { kind });
            }
        }
        for (j, (s, a)) in c.sources.iter().enumerate() {
            if *a == Live {
                let at = c.connect + 2_500 + j as i64 * 97 + rng.random_range(0..400);
                tl.push(at, &id, Change::Source { source: *s, state: SourceState::Live });
            }
        }
        latency_series(&mut rng, c, &id, tl);
        if c.name == PROD_AP {
            outage(c, &id, tl);
        }
    }
}

/// A latency probe every 30 s, with noise; `prod-ap-south-1` degrades before it drops.
fn latency_series(rng: &mut impl Rng, c: &ClusterSpec, id: &ClusterId, tl: &mut Timeline) {
    let mut t = secs(30) + rng.random_range(0..5_000);
    let (lo, hi) = c.latency;
    let mut last = f64::from(lo + hi) / 2.0;
    while t < DURATION && reachable(c.name, t) {
        // Mean-reverting random walk inside the range.
        let mid = f64::from(lo + hi) / 2.0;
        let span = f64::from(hi - lo);
        last += (mid - last) * 0.3 + (rng.random::<f64>() - 0.5) * span * 0.6;
        last = last.clamp(f64::from(lo), f64::from(hi));
        let mut ms = last.round() as u32;
        if c.name == PROD_AP && t > mins(17) {
            // The link to ap-south is saturating: latency climbs before the timeouts.
            let over = (t - mins(17)) as f64 / mins(3) as f64;
            ms += (over * 1_400.0) as u32 + rng.random_range(0..120);
        }
        tl.push(t, id, Change::Cluster(ClusterUpdate { latency_ms: Some(ms), ..ClusterUpdate::default() }));
        t += secs(30) + rng.random_range(-2_000..2_000);
    }
}

/// `prod-ap-south-1` becomes unreachable; every live source goes stale.
fn outage(c: &ClusterSpec, id: &ClusterId, tl: &mut Timeline) {
    let since = tl.at(UNREACHABLE_AT);
    tl.push(
        UNREACHABLE_AT,
        id,
        Change::Cluster(ClusterUpdate {
            connection: Some(ConnectionState::Unreachable { since, error: UNREACHABLE_ERROR.to_string() }),
            ..ClusterUpdate::default()
        }),
    );
    // The watches' last good delivery was shortly before the dial timeouts began.
    let last_good = tl.at(UNREACHABLE_AT - secs(32));
    for (s, a) in c.sources {
        if *a == Live {
            tl.push(
                UNREACHABLE_AT + 10,
                id,
                Change::Source { source: *s, state: SourceState::Stale { since: last_good } },
            );
        }
    }
}
