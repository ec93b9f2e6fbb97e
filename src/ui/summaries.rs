//! The one-line summaries panes draw above their tables, as (text, scope) segments.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    ClusterHealth, ConnectionState, Enforcement, ExceptionStatus, PipelineHealth, PipelineVerdict,
    SourceKind, SourceState,
};
use crate::rollouts::rollouts;
use crate::state::FleetState;
use crate::ui::panes::denial_groups::GroupBy;
use crate::ui::panes::{PaneId, gpu};
use crate::ui::widgets::format;

/// A run of text and the theme scope it is drawn with.
pub type Segment = (String, &'static str);

/// `412 denials (deny 380 · warn 12) in 3 clusters · most: require-run-as-nonroot (301)`,
/// then what is counted apart: `· ⚠ 40 webhook failures · 3 unattributed (prod 2, dev 1) ·
/// 2 rbac`.
pub fn denials(state: &FleetState) -> Vec<Segment> {
    let mut by_action: BTreeMap<Enforcement, u64> = BTreeMap::new();
    let mut clusters = BTreeSet::new();
    let mut total = 0u64;
    let apart = apart(state);
    for (id, d) in state.denial_rows().filter(|(_, d)| d.class.is_admission()) {
        *by_action.entry(d.enforcement).or_default() += d.count;
        clusters.insert(&id.cluster);
        total += d.count;
    }
    if total == 0 && apart.is_empty() {
        return vec![("no denials seen".into(), "ui.dim")];
    }
    let mut out = vec![(
        format!("{} in {}  ", plural(total, "denial"), plural(clusters.len() as u64, "cluster")),
        "ui.text",
    )];
    for (a, n) in by_action {
        out.push((format!("{} {n}  ", a.label()), crate::ui::panes::denials::enforcement_scope(a)));
    }
    let top = state
        .merged_denials()
        .by_policy()
        .iter()
        .map(|(p, ids)| {
            let admission =
                ids.iter().filter_map(|id| state.denial_row(id)).filter(|d| d.class.is_admission());
            (admission.map(|d| d.count).sum::<u64>(), p)
        })
        .filter(|(n, _)| *n > 0)
        .max();
    if let Some((n, p)) = top {
        out.push((format!("· most: {p} ({n})  "), "ui.dim"));
    }
    out.extend(apart.segments());
    out
}

/// Refusals counted apart from policy denials: webhooks that could not be called, messages no
/// grammar read (per cluster) and RBAC refusals.
#[derive(Debug, Default, PartialEq)]
pub struct Apart {
    /// Requests that failed because a webhook could not be called.
    pub unavailable: u64,
    /// Unattributed refusals per cluster.
    pub unattributed: BTreeMap<String, u64>,
    /// RBAC (authorization) refusals.
    pub authorization: u64,
}

impl Apart {
    /// True when there is nothing counted apart.
    pub fn is_empty(&self) -> bool {
        *self == Apart::default()
    }

    /// `· ⚠ 40 webhook failures  · 3 unattributed (prod 2, dev 1)  · 2 rbac`.
    pub fn segments(&self) -> Vec<Segment> {
        let mut out = Vec::new();
        if self.unavailable > 0 {
            out.push((
                format!("· ⚠ {} (webhook unavailable)  ", plural(self.unavailable, "failed call")),
                "denials.enforcement.warn",
            ));
        }
        if !self.unattributed.is_empty() {
            let n: u64 = self.unattributed.values().sum();
            let per: Vec<String> = self.unattributed.iter().map(|(c, n)| format!("{c} {n}")).collect();
            out.push((format!("· {n} unattributed ({})  ", per.join(", ")), "ui.dim"));
        }
        if self.authorization > 0 {
            out.push((format!("· {} rbac  ", self.authorization), "ui.dim"));
        }
        out
    }
}

/// What [`Apart`] counts, over the denial rows of `state`.
pub fn apart(state: &FleetState) -> Apart {
    Apart::of_rows(state.denial_rows())
}

impl Apart {
    /// What is counted apart among `rows` (denial rows and their ids).
    pub fn of_rows<'a>(
        rows: impl IntoIterator<Item = (&'a crate::state::RecordId, &'a crate::model::Denial)>,
    ) -> Apart {
        let mut out = Apart::default();
        for (id, d) in rows {
            match &d.class {
                crate::model::DenialClass::WebhookUnavailable { .. } => out.unavailable += d.count,
                crate::model::DenialClass::Unattributed => {
                    *out.unattributed.entry(id.cluster.to_string()).or_default() += d.count;
                }
                crate::model::DenialClass::Authorization => out.authorization += d.count,
                crate::model::DenialClass::Admission => {}
            }
        }
        out
    }
}

/// `12 ? unknown since 14:20 (rows keep the last-known)  2 losing data  1 degraded  20 ok`: components
/// whose cluster's pipelines cannot be seen are counted as unknown (since the earliest such
/// moment), never under their last-known verdict.
pub fn pipelines(state: &FleetState) -> Vec<Segment> {
    let mut counts: BTreeMap<PipelineHealth, usize> = BTreeMap::new();
    let (mut unknown, mut since) = (0, None::<jiff::Timestamp>);
    for (id, p) in state.pipelines() {
        match state.pipeline_verdict(id, p) {
            PipelineVerdict::Known(h) => *counts.entry(h).or_default() += 1,
            PipelineVerdict::Unknown { since: s, .. } => {
                unknown += 1;
                since = Some(since.map_or(s, |t| t.min(s)));
            }
        }
    }
    if counts.is_empty() && unknown == 0 {
        return vec![("no pipeline components discovered".into(), "ui.dim")];
    }
    let mut out = Vec::new();
    if let Some(since) = since {
        out.push((
            format!("{unknown} ? unknown since {} (rows keep the last-known)  ", since.strftime("%H:%M")),
            "pipelines.scrape_failed",
        ));
    }
    out.extend(
        counts
            .into_iter()
            .map(|(h, n)| (format!("{n} {}  ", h.label()), crate::ui::panes::pipelines::health_scope(h))),
    );
    out
}

/// Clusters shown in the trust matrix; the rest are summed up in one line.
const TRUST_ROWS: usize = 5;

/// The trust matrix: a header, then one line per cluster (those with a signal not to trust
/// first): `prod-eu-west-1  ✕ otlphttp/backend loses 9.5k/s  ✓ trusted  …`.
pub fn trust_matrix(state: &FleetState) -> Vec<Vec<Segment>> {
    use crate::ui::panes::trust::{self, SIGNALS};
    const CELL: usize = 34;
    let m = trust::matrix(state);
    if m.is_empty() {
        return Vec::new();
    }
    let mut header = vec![(format!("{:<15} ", "TRUST"), "ui.dim")];
    header.extend(SIGNALS.iter().map(|s| (format!("{:<CELL$}", s.label()), "ui.dim")));
    let worst = |row: &[Option<trust::Cell>; 3]| {
        row.iter().flatten().map(|c| c.verdict).min().unwrap_or(PipelineHealth::Healthy)
    };
    let mut rows: Vec<_> = m.iter().collect();
    rows.sort_by_key(|(cluster, row)| (worst(row), (*cluster).clone()));
    let mut out = vec![header];
    for (cluster, row) in rows.iter().take(TRUST_ROWS) {
        let mut line = vec![(format!("{:<15} ", format::ellipsize(cluster.as_str(), 15)), "ui.text")];
        for c in row.iter() {
            // The symbol and colour carry the verdict; the words say where and how much.
            let (word, scope) = match c.as_ref().map(|c| c.verdict) {
                None => ("· not seen", "ui.dim"),
                Some(PipelineHealth::Healthy) => ("✓ trusted", "pipelines.ok"),
                Some(PipelineHealth::Losing) => ("✕", "pipelines.losing"),
                Some(PipelineHealth::ScrapeFailed) => ("?", "pipelines.scrape_failed"),
                Some(PipelineHealth::Silent) => ("∅ silent:", "pipelines.silent"),
                Some(PipelineHealth::Degraded) => ("!", "pipelines.degraded"),
            };
            let reason = c.as_ref().map(|c| c.reason.as_str()).unwrap_or("");
            let text = if reason.is_empty() { word.to_string() } else { format!("{word} {reason}") };
            line.push((format!("{:<CELL$}", format::ellipsize(&text, CELL - 2)), scope));
        }
        out.push(line);
    }
    if rows.len() > TRUST_ROWS {
        let rest = &rows[TRUST_ROWS..];
        let all_ok = rest.iter().all(|(_, row)| worst(row) == PipelineHealth::Healthy);
        out.push(vec![(
            format!(
                "… {} more{}",
                plural(rest.len() as u64, "cluster"),
                if all_ok { ": every signal trusted" } else { " (sort by HEALTH below)" }
            ),
            "ui.dim",
        )]);
    }
    out
}

/// `1 expired (still bypassing) · 2 expiring within 7d · 4 without expiry · 3 active`.
pub fn exceptions(state: &FleetState) -> Vec<Segment> {
    let mut counts: BTreeMap<ExceptionStatus, usize> = BTreeMap::new();
    for e in state.exceptions().values() {
        *counts.entry(e.status(state.now(), state.verdicts())).or_default() += 1;
    }
    if counts.is_empty() {
        return vec![("no policy exceptions seen".into(), "ui.dim")];
    }
    counts
        .into_iter()
        .map(|(s, n)| {
            let text = match s {
                ExceptionStatus::Expired => format!("{n} expired but still bypassing  "),
                ExceptionStatus::Expiring => {
                    format!("{n} expiring within {}  ", format::age(state.verdicts().expiring_within))
                }
                ExceptionStatus::NoExpiry => format!("{n} with no expiry  "),
                ExceptionStatus::Active => format!("{n} active  "),
            };
            (text, crate::ui::panes::exceptions::status_scope(s))
        })
        .collect()
}

/// GPU view tabs: `[queues]  workloads  pending pods  nodes`.
pub fn gpu_views(current: gpu::GpuView) -> Vec<Segment> {
    gpu::GpuView::ALL
        .iter()
        .map(|v| {
            if *v == current {
                (format!("[{}] ", v.label()), "ui.tab.active")
            } else {
                (format!(" {}  ", v.label()), "ui.tab")
            }
        })
        .collect()
}

/// `rows: [denial]  policy  namespace  cluster  engine` — the grouping `]`/`[` cycle.
pub fn denial_groups(current: GroupBy) -> Vec<Segment> {
    let mut out = vec![("rows:".to_string(), "ui.dim")];
    out.extend(GroupBy::ALL.iter().map(|g| {
        if *g == current {
            (format!(" [{}]", g.label()), "ui.tab.active")
        } else {
            (format!("  {} ", g.label()), "ui.tab")
        }
    }));
    out
}

/// One line per cluster: `gpu-train-us  48/64 allocated  ████····  24 waiting  3 idle`.
pub fn gpu_contention(state: &FleetState) -> Vec<Vec<Segment>> {
    gpu::contention(state)
        .into_iter()
        .take(3)
        .map(|(cluster, c)| {
            let fill = if c.allocatable > 0 { c.allocated as f64 / c.allocatable as f64 } else { 0.0 };
            let mut line = vec![
                (format!("{cluster:<15} "), "ui.text"),
                (format::bar(fill, 12), "gpu.quota.used"),
                (format!(" {}/{} allocated  ", c.allocated, c.allocatable), "ui.text"),
            ];
            if c.waiting > 0 {
                line.push((format!("{} wanted by waiting work  ", plural(c.waiting, "GPU")), "gpu.pending"));
            }
            if c.idle > 0 {
                line.push((format!("{} allocated but idle", plural(c.idle, "GPU")), "gpu.idle"));
            }
            line
        })
        .collect()
}

/// `1 GPU`, `3 GPUs`.
pub fn plural(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// What needs attention across the fleet, most severe first, one line each: unreachable
/// clusters, RBAC gaps and failing sources, pipelines losing data, expired exceptions, the
/// policy denying most, GPU demand waiting and GPUs allocated but idle.
pub fn findings(state: &FleetState) -> Vec<Vec<Segment>> {
    let now = state.now();
    let mut out: Vec<Vec<Segment>> = Vec::new();
    for c in state.clusters().values() {
        if let ConnectionState::Unreachable { since, error } = &c.connection {
            out.push(vec![
                (
                    format!("✕ {} unreachable for {}: ", c.id, format::age(now.duration_since(*since))),
                    "health.unreachable",
                ),
                (format!("{error} (rows show data from before)"), "ui.text"),
            ]);
        }
        if let ConnectionState::Forbidden { error } = &c.connection {
            out.push(vec![(format!("⊘ {} refused our credentials: {error}", c.id), "health.forbidden")]);
        }
        let forbidden: Vec<(SourceKind, &str)> = c.forbidden_sources().collect();
        if let Some((_, first)) = forbidden.first() {
            // One line per cluster: a user without the reader role is refused everything.
            let names: Vec<&str> = forbidden.iter().map(|(k, _)| k.label()).collect();
            let head = if c.health() == ClusterHealth::Forbidden {
                format!(
                    "⊘ {}: may read none of the {} sources fleettop watches: bind dist/rbac/fleettop-reader.yaml · ",
                    c.id,
                    names.len()
                )
            } else {
                format!("⊘ {}: no permission to list {}: ", c.id, names.join(", "))
            };
            out.push(vec![(head, "health.forbidden"), (format::one_line(first), "ui.dim")]);
        }
        for (kind, n) in &c.dropped {
            out.push(vec![(
                format!(
                    "⚠ {}: {n} oldest {} dropped to stay within {} per cluster",
                    c.id,
                    crate::state::bounds::noun(*kind),
                    crate::state::bounds::MAX_PER_CLUSTER
                ),
                "health.stale",
            )]);
        }
        // An unreachable cluster, or one that refuses our credentials, fails every source for
        // that one reason, said once above.
        let connected = c.connection == ConnectionState::Connected;
        for (kind, s) in &c.sources {
            match s {
                SourceState::Error { message } if connected => out.push(vec![
                    (format!("! {}: {} source failing: ", c.id, kind.label()), "ui.error"),
                    (format::one_line(message), "ui.dim"),
                ]),
                SourceState::Degraded { message } => out.push(vec![
                    (format!("◐ {}: {} source partly failing: ", c.id, kind.label()), "health.stale"),
                    (format::one_line(message), "ui.dim"),
                ]),
                SourceState::Slow { message } => out.push(vec![
                    (format!("◔ {}: {} source slow: ", c.id, kind.label()), "health.syncing"),
                    (format::one_line(message), "ui.dim"),
                ]),
                _ => {}
            }
        }
    }
    for (id, p) in state.pipelines() {
        // Only a loss seen now: an unseen cluster's last rates are its own finding's matter.
        if state.pipeline_verdict(id, p).is_losing() {
            out.push(vec![
                (
                    format!(
                        "▼ {} {} {} {} ({}) losing data: ",
                        id.cluster,
                        p.workload,
                        p.kind.label(),
                        p.name,
                        p.signal.label()
                    ),
                    "pipelines.losing",
                ),
                (format!("{} dropped", format::rate(p.enqueue_failed_per_s + p.refused_per_s)), "ui.text"),
            ]);
        }
    }
    for (id, e) in state.exceptions() {
        if e.status(now, state.verdicts()) == ExceptionStatus::Expired {
            let when = e.expires_at.map(|t| format::countdown(now, t)).unwrap_or_default();
            out.push(vec![(
                format!(
                    "⚑ {} exception {} expired {when} and still bypasses policy",
                    id.cluster,
                    e.display_name()
                ),
                "exceptions.expired",
            )]);
        }
    }
    // A rollout that denials followed explains them best: it replaces the top-denier line.
    let rollouts = rollouts(state);
    for r in &rollouts {
        out.push(vec![(r.words(), "denials.enforcement.deny")]);
    }
    let top = state
        .merged_denials()
        .by_policy()
        .iter()
        .filter(|_| rollouts.is_empty())
        .map(|(p, ids)| {
            let rows: Vec<_> = ids
                .iter()
                .filter_map(|id| state.denial_row(id).map(|d| (id, d)))
                .filter(|(_, d)| d.class.is_admission())
                .collect();
            let deny: u64 =
                rows.iter().filter(|(_, d)| d.enforcement == Enforcement::Deny).map(|(_, d)| d.count).sum();
            let clusters: BTreeSet<_> = rows
                .iter()
                .filter(|(_, d)| d.enforcement == Enforcement::Deny && d.count > 0)
                .map(|(id, _)| &id.cluster)
                .collect();
            (deny, clusters.len(), p)
        })
        .filter(|(deny, _, _)| *deny > 0)
        .max();
    if let Some((n, clusters, policy)) = top {
        out.push(vec![(
            format!("⊗ {policy} denied {n} requests in {}", plural(clusters as u64, "cluster")),
            "denials.enforcement.deny",
        )]);
    }
    out.extend(unavailable_webhooks(state));
    for (cluster, c) in gpu::contention(state) {
        if c.waiting > 0 {
            out.push(vec![(
                format!(
                    "⧖ {cluster}: {} wanted by waiting work, {} of {} allocated",
                    plural(c.waiting, "GPU"),
                    c.allocated,
                    c.allocatable
                ),
                "gpu.pending",
            )]);
        }
        if c.idle > 0 {
            out.push(vec![(
                format!("$ {cluster}: {} allocated but idle", plural(c.idle, "GPU")),
                "gpu.idle",
            )]);
        }
    }
    out
}

/// One finding per webhook that could not be called: `⚠ webhook validate.kyverno.svc-fail
/// unavailable (timeout, failurePolicy Fail): 40 requests failed in 2 clusters`.
fn unavailable_webhooks(state: &FleetState) -> Vec<Vec<Segment>> {
    /// Failed calls, clusters, failure kinds and failurePolicy of one webhook.
    type Failures<'a> = (u64, BTreeSet<&'a str>, BTreeSet<&'static str>, Option<&'a str>);
    let mut by_webhook: BTreeMap<&str, Failures> = BTreeMap::new();
    for (id, d) in state.denial_rows() {
        if let crate::model::DenialClass::WebhookUnavailable { failure, failure_policy } = &d.class {
            let e = by_webhook.entry(d.webhook.as_deref().unwrap_or("(unknown)")).or_default();
            e.0 += d.count;
            e.1.insert(id.cluster.as_str());
            e.2.insert(failure.label());
            e.3 = e.3.or(failure_policy.as_deref());
        }
    }
    by_webhook
        .into_iter()
        .map(|(webhook, (n, clusters, kinds, policy))| {
            let how = kinds.into_iter().collect::<Vec<_>>().join(", ");
            let policy = policy.map(|p| format!(", failurePolicy {p}")).unwrap_or_default();
            vec![(
                format!(
                    "⚠ webhook {webhook} unavailable ({how}{policy}): {} failed in {} (not a policy denial)",
                    plural(n, "request"),
                    plural(clusters.len() as u64, "cluster")
                ),
                "denials.enforcement.warn",
            )]
        })
        .collect()
}

/// A short alert after a tab title: counts that need attention.
pub fn tab_badge(pane: PaneId, state: &FleetState) -> Option<String> {
    let now = state.now();
    match pane {
        PaneId::Fleet => {
            let bad = state
                .clusters()
                .values()
                .filter(|c| !matches!(c.health(), ClusterHealth::Live | ClusterHealth::Syncing))
                .count();
            (bad > 0).then(|| format!("{bad}!"))
        }
        PaneId::Denials => {
            // Policy denial rows; webhook failures counted apart (`12 ⚠3`).
            let (mut denied, mut down) = (0, 0);
            for (_, d) in state.denial_rows() {
                match &d.class {
                    crate::model::DenialClass::WebhookUnavailable { .. } => down += 1,
                    _ => denied += 1,
                }
            }
            match (denied, down) {
                (0, 0) => None,
                (n, 0) => Some(n.to_string()),
                (n, d) => Some(format!("{n} ⚠{d}")),
            }
        }
        PaneId::Gpu => (!state.pending_gpu_pods().is_empty())
            .then(|| format!("{} waiting", state.pending_gpu_pods().len())),
        PaneId::Pipelines => {
            // Losing now, and unknown (an unseen cluster's components) apart: `2 losing ?12`.
            let (mut losing, mut unknown) = (0, 0);
            for (id, p) in state.pipelines() {
                match state.pipeline_verdict(id, p) {
                    v if v.is_losing() => losing += 1,
                    PipelineVerdict::Unknown { .. } => unknown += 1,
                    PipelineVerdict::Known(_) => {}
                }
            }
            match (losing, unknown) {
                (0, 0) => None,
                (n, 0) => Some(format!("{n} losing")),
                (0, u) => Some(format!("?{u} unknown")),
                (n, u) => Some(format!("{n} losing ?{u}")),
            }
        }
        PaneId::Exceptions => {
            let expired = state
                .exceptions()
                .values()
                .filter(|e| e.status(now, state.verdicts()) == ExceptionStatus::Expired)
                .count();
            (expired > 0).then(|| format!("{expired} expired"))
        }
        PaneId::Cost => None,
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::model::{Change, ClusterId, ClusterUpdate, Observation};

    fn text(line: &[Segment]) -> String {
        line.iter().map(|(t, _)| t.as_str()).collect()
    }

    fn source(cluster: &ClusterId, source: SourceKind, state: SourceState) -> Observation {
        Observation {
            at: Timestamp::UNIX_EPOCH,
            cluster: cluster.clone(),
            change: Change::Source { source, state },
        }
    }

    /// A cluster that refuses our credentials (or cannot be reached) fails every source for
    /// that one reason: one finding, not one more per source (an expired token used to add a
    /// "source failing" line for each of the 9 watched sources).
    #[test]
    fn a_refused_or_unreachable_cluster_is_one_finding_not_one_per_failing_source() {
        let (refused, down, up) = (ClusterId::new("expired"), ClusterId::new("gone"), ClusterId::new("up"));
        let mut state = FleetState::with_clusters(Timestamp::UNIX_EPOCH, [&refused, &down, &up]);
        for (c, connection) in [
            (&refused, ConnectionState::Forbidden { error: "Unauthorized".into() }),
            (
                &down,
                ConnectionState::Unreachable {
                    since: Timestamp::UNIX_EPOCH,
                    error: "tcp connect error".into(),
                },
            ),
            (&up, ConnectionState::Connected),
        ] {
            let update = ClusterUpdate { connection: Some(connection), ..Default::default() };
            state.apply(&Observation {
                at: Timestamp::UNIX_EPOCH,
                cluster: c.clone(),
                change: Change::Cluster(update),
            });
            for kind in [SourceKind::Events, SourceKind::Pods] {
                let failing = SourceState::Error { message: "401 Unauthorized: Unauthorized".into() };
                state.apply(&source(c, kind, failing));
            }
        }
        let lines: Vec<String> = findings(&state).iter().map(|l| text(l)).collect();
        let of = |c: &str| lines.iter().filter(|l| l.contains(&format!(" {c}"))).count();
        assert_eq!((of("expired"), of("gone")), (1, 1), "{lines:#?}");
        assert_eq!(of("up:"), 2, "a connected cluster still names each failing source: {lines:#?}");
    }

    #[test]
    fn refusals_make_one_finding_per_cluster_that_names_the_sources_or_the_fix() {
        let (partial, none) = (ClusterId::new("partial"), ClusterId::new("none"));
        let mut state = FleetState::with_clusters(Timestamp::UNIX_EPOCH, [&partial, &none]);
        let connected = ClusterUpdate { connection: Some(ConnectionState::Connected), ..Default::default() };
        for c in [&partial, &none] {
            state.apply(&Observation {
                at: Timestamp::UNIX_EPOCH,
                cluster: c.clone(),
                change: Change::Cluster(connected.clone()),
            });
        }
        let refused =
            |what: &str| SourceState::Forbidden { message: format!("{what} is forbidden: User \"x\"") };
        state.apply(&source(&partial, SourceKind::Events, SourceState::Live));
        state.apply(&source(&partial, SourceKind::Kueue, refused("workloads.kueue.x-k8s.io")));
        state.apply(&source(&partial, SourceKind::Kyverno, refused("policyexceptions.kyverno.io")));
        state.apply(&source(&none, SourceKind::Events, refused("events")));
        state.apply(&source(&none, SourceKind::Pods, refused("pods")));
        state.apply(&source(&none, SourceKind::Gatekeeper, SourceState::NotInstalled));

        let lines: Vec<String> =
            findings(&state).iter().map(|l| text(l)).filter(|l| l.starts_with('⊘')).collect();
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(
            lines[0].starts_with(
                "⊘ none: may read none of the 2 sources fleettop watches: bind dist/rbac/fleettop-reader.yaml"
            ),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("⊘ partial: no permission to list kueue, kyverno: workloads.kueue"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn a_partly_failing_source_is_a_finding_that_names_what_fails_and_the_cluster_stays_live() {
        let c = ClusterId::new("gpu");
        let mut state = FleetState::with_clusters(Timestamp::UNIX_EPOCH, [&c]);
        let connected = ClusterUpdate { connection: Some(ConnectionState::Connected), ..Default::default() };
        state.apply(&Observation {
            at: Timestamp::UNIX_EPOCH,
            cluster: c.clone(),
            change: Change::Cluster(connected),
        });
        let message =
            "1 of 2 dcgm-exporters failing: gpu-operator/e-b on node gpu-b: 404 Not Found".to_string();
        state.apply(&source(&c, SourceKind::Dcgm, SourceState::Degraded { message }));
        let lines: Vec<String> = findings(&state).iter().map(|l| text(l)).collect();
        assert!(
            lines.contains(
                &"◐ gpu: dcgm source partly failing: 1 of 2 dcgm-exporters failing: gpu-operator/e-b on node gpu-b: 404 Not Found"
                    .to_string()
            ),
            "{lines:#?}"
        );
        assert_eq!(state.clusters()[&c].health(), crate::model::ClusterHealth::Live);
    }

    /// A Warning FailedCreate event with `message`, read the way the events source reads it.
    fn failed_create(name: &str, message: &str) -> crate::model::Denial {
        let e: k8s_openapi::api::core::v1::Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "shop"},
            "type": "Warning", "reason": "FailedCreate", "count": 3,
            "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": "web-7d9c"},
            "lastTimestamp": "1970-01-01T00:00:00Z",
            "message": message
        }))
        .expect("event json");
        crate::sources::kubernetes::project::denial(&e).expect("a denial")
    }

    #[test]
    fn webhook_failures_and_unattributed_refusals_are_counted_apart_from_denials() {
        let c = ClusterId::new("prod");
        let mut state = FleetState::with_clusters(Timestamp::UNIX_EPOCH, [&c]);
        // Real strings from tests/fixtures/real/denials/corpus.jsonl.
        let records = [
            failed_create(
                "a",
                "Error creating: pods \"integrator-gateway-6557b767b4-kjf8d\" is forbidden: violates PodSecurity \"baseline:latest\": non-default capabilities (container \"crowdstrike-falcon-container\" must not include \"SYS_PTRACE\" in securityContext.capabilities.add)",
            ),
            failed_create(
                "b",
                "Error creating: Internal error occurred: failed calling webhook \"validate.kyverno.svc-fail\": Post \"https://kyverno-svc.kyverno.svc:443/validate?timeout=10s\": x509: certificate signed by unknown authority",
            ),
            failed_create(
                "c",
                "Error creating: pods \"kube-proxy-\" is forbidden: no providers available to validate pod request",
            ),
        ];
        for d in records {
            state.apply(&Observation {
                at: Timestamp::UNIX_EPOCH,
                cluster: c.clone(),
                change: Change::Upsert { record: crate::model::Record::Denial(d) },
            });
        }
        let summary = text(&denials(&state));
        assert!(summary.starts_with("3 denials in 1 cluster  deny 3"), "{summary}");
        assert!(summary.contains("most: baseline:latest (3)"), "{summary}");
        assert!(summary.contains("⚠ 3 failed calls (webhook unavailable)"), "{summary}");
        assert!(summary.contains("3 unattributed (prod 3)"), "{summary}");
        assert_eq!(tab_badge(PaneId::Denials, &state).as_deref(), Some("2 ⚠1"));
        let lines: Vec<String> = findings(&state).iter().map(|l| text(l)).collect();
        assert!(
            lines.contains(&"⊗ baseline:latest denied 3 requests in 1 cluster".to_string()),
            "{lines:#?}"
        );
        assert!(
            lines.contains(&"⚠ webhook validate.kyverno.svc-fail unavailable (tls): 3 requests failed in 1 cluster (not a policy denial)".to_string()),
            "{lines:#?}"
        );
        assert!(!lines.iter().any(|l| l.contains("validate.kyverno.svc-fail denied")), "{lines:#?}");
    }

    #[test]
    fn a_slow_source_and_dropped_records_are_findings() {
        let c = ClusterId::new("big");
        let mut state = FleetState::with_clusters(Timestamp::UNIX_EPOCH, [&c]);
        let message = "the pod list has taken over 10 s".to_string();
        state.apply(&source(&c, SourceKind::Pipelines, SourceState::Slow { message }));
        let max = crate::state::bounds::MAX_PER_CLUSTER;
        for i in 0..=max {
            let id = format!("audit|{i}");
            let denial = crate::model::Denial {
                class: Default::default(),
                id: id.clone(),
                engine: crate::model::Engine::PodSecurity,
                enforcement: Enforcement::Deny,
                policy: None,
                webhook: None,
                binding: None,
                rule: None,
                object: crate::model::ObjectRef { kind: "Pod".into(), namespace: None, name: id },
                operation: None,
                user: None,
                message: "denied".into(),
                count: 1,
                first_seen: Timestamp::UNIX_EPOCH,
                last_seen: Timestamp::UNIX_EPOCH,
                severity: None,
                category: None,
                owner: None,
                exceptions: Vec::new(),
                evidence: Vec::new(),
            };
            state.apply(&Observation {
                at: Timestamp::UNIX_EPOCH,
                cluster: c.clone(),
                change: Change::Upsert { record: crate::model::Record::Denial(denial) },
            });
        }
        let lines: Vec<String> = findings(&state).iter().map(|l| text(l)).collect();
        assert!(
            lines.contains(&"◔ big: pipelines source slow: the pod list has taken over 10 s".to_string()),
            "{lines:#?}"
        );
        let dropped = crate::state::bounds::to_drop(max + 1);
        let want = format!("⚠ big: {dropped} oldest denials dropped to stay within {max} per cluster");
        assert!(lines.contains(&want), "{lines:#?}");
    }
}
