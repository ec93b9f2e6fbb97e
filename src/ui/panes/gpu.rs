//! The GPU pane: who holds the GPUs, who waits and why — queues, workloads, pending pods, nodes.

use std::collections::BTreeMap;

use jiff::Timestamp;
use ratatui::layout::Constraint;

use crate::model::{ClusterId, GpuNode, GpuQueue, GpuWorkload, PendingGpuPod, WorkloadState};
use crate::state::{FleetState, RecordId};
use crate::ui::widgets::format;
use crate::ui::widgets::table::{
    Cell, Column, Ctx, Detail, DetailLine, SortKey, Spec, cluster_column, table_rows,
};

/// Utilisation below this (percent) on an allocated GPU counts as idle (defined in the model,
/// where the cost ledger uses it too).
pub use crate::model::IDLE_UTILIZATION_PCT;

/// The sub-views of the GPU pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum GpuView {
    /// Kueue ClusterQueues.
    #[default]
    Queues,
    /// Kueue Workloads.
    Workloads,
    /// Pods waiting for GPUs.
    Pending,
    /// GPU nodes.
    Nodes,
    /// Recent evictions and preemptions, newest first.
    Evictions,
}

impl GpuView {
    /// Every view, in tab order.
    pub const ALL: [GpuView; 5] =
        [GpuView::Queues, GpuView::Workloads, GpuView::Pending, GpuView::Nodes, GpuView::Evictions];

    /// The view's tab label.
    pub fn label(self) -> &'static str {
        match self {
            GpuView::Queues => "queues",
            GpuView::Workloads => "workloads",
            GpuView::Pending => "pending pods",
            GpuView::Nodes => "nodes",
            GpuView::Evictions => "preemptions",
        }
    }
}

/// GPU supply and demand in one cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contention {
    /// Allocatable GPUs on schedulable nodes.
    pub allocatable: u32,
    /// GPUs requested by running pods.
    pub allocated: u32,
    /// GPUs asked for by pending pods and pending workloads.
    pub waiting: u32,
    /// Allocated GPUs whose utilisation is under [`IDLE_UTILIZATION_PCT`] (for
    /// [`crate::model::IDLE_FLAG_AFTER`] where the source tracks it).
    pub idle: u32,
}

/// Supply and demand per cluster that has GPUs or GPU demand.
pub fn contention(state: &FleetState) -> BTreeMap<ClusterId, Contention> {
    let now = state.now();
    let mut out: BTreeMap<ClusterId, Contention> = BTreeMap::new();
    for (id, n) in state.gpu_nodes() {
        let c = out.entry(id.cluster.clone()).or_default();
        if n.schedulable {
            c.allocatable += n.allocatable;
        }
        c.allocated += n.allocated;
        c.idle += idle_gpus(n, now);
    }
    for (id, p) in state.pending_gpu_pods() {
        out.entry(id.cluster.clone()).or_default().waiting += p.gpus;
    }
    for (id, w) in state.gpu_workloads() {
        if matches!(w.state, WorkloadState::Pending { .. } | WorkloadState::Evicted { .. }) {
            out.entry(id.cluster.clone()).or_default().waiting += w.gpus;
        }
    }
    out
}

/// GPUs of a node that are allocated to a pod but nearly unused at `now`
/// ([`crate::model::GpuDevice::idle_but_allocated`]).
pub fn idle_gpus(n: &GpuNode, now: Timestamp) -> u32 {
    n.devices.iter().filter(|d| d.idle_but_allocated(now)).count() as u32
}

pub(crate) fn state_scope(s: &WorkloadState) -> &'static str {
    match s {
        WorkloadState::Pending { .. } => "gpu.pending",
        WorkloadState::Evicted { .. } => "gpu.evicted",
        WorkloadState::Admitted | WorkloadState::QuotaReserved => "ui.text",
        WorkloadState::Finished { .. } => "ui.dim",
    }
}

/// Why a workload waits or was evicted, in words where Kueue's message can be parsed
/// (`Pending: insufficient quota for nvidia.com/gpu in flavor h100-80gb: 4 more needed`).
fn reason(s: &WorkloadState) -> String {
    use crate::sources::parse::kueue_message;
    match s {
        WorkloadState::Pending { reason, message } => {
            let shortfalls = kueue_message::parse_pending(message);
            let words = if shortfalls.is_empty() {
                format::one_line(message)
            } else {
                kueue_message::summary(&shortfalls)
            };
            // `Pending` repeats the STATE column; other reasons (Inadmissible, …) say more.
            if reason == "Pending" { words } else { format!("{reason}: {words}") }
        }
        WorkloadState::Evicted { reason, message } => {
            let words = kueue_message::parse_preemption(message)
                .map(|p| kueue_message::preemption_summary(&p))
                .unwrap_or_else(|| format::one_line(message));
            format!("{reason}: {words}")
        }
        WorkloadState::Finished { succeeded } => if *succeeded { "succeeded" } else { "failed" }.into(),
        _ => String::new(),
    }
}

/// The one-line verdict of a waiting workload ([`crate::wait`]); `None` when it does not wait.
fn workload_verdict(ctx: &Ctx, id: &RecordId) -> Option<String> {
    crate::wait::explain_workload(ctx.state, id).map(|w| w.verdict.words)
}

/// The one-line verdict of a pending pod ([`crate::wait`]).
fn pod_verdict(ctx: &Ctx, id: &RecordId) -> Option<String> {
    crate::wait::explain_pod(ctx.state, id).map(|w| w.verdict.words)
}

/// A waiter's detail: the chain of [`crate::wait`] first, then the record's own `lines`
/// under `heading`.
fn with_chain(ctx: &Ctx, wait: Option<crate::wait::Wait>, heading: &str, detail: Detail) -> Detail {
    let Some(wait) = wait else { return detail };
    let mut chain = super::gpu_wait::wait_detail(ctx.now, &wait);
    chain.lines.push(DetailLine::Section(heading.into()));
    chain.lines.extend(detail.lines);
    chain
}

fn waited(ctx: &Ctx, w: &GpuWorkload) -> jiff::SignedDuration {
    let end = w.admitted_at.unwrap_or(ctx.now);
    end.duration_since(w.created_at)
}

/// The ClusterQueue table.
pub fn queues() -> Spec<GpuQueue> {
    Spec {
        all: |s| table_rows(s.gpu_queues()),
        get: |s, id| s.gpu_queues().get(id),
        default_sort: (0, false),
        filter_text: |id, q| {
            format!(
                "{} {} {} {}",
                id.cluster,
                q.name,
                q.cohort.as_deref().unwrap_or(""),
                q.team.as_deref().unwrap_or("")
            )
        },
        detail: queue_detail,
        columns: vec![
            cluster_column(),
            Column {
                title: "QUEUE",
                width: Constraint::Fill(1),
                cell: |_, _, q| Cell::text(q.name.clone()),
                key: |_, _, q| SortKey::Text(q.name.clone()),
            },
            Column {
                title: "COHORT",
                width: Constraint::Fill(1),
                cell: |_, _, q| Cell::text(q.cohort.clone().unwrap_or_else(|| "—".into())),
                key: |_, _, q| SortKey::Text(q.cohort.clone().unwrap_or_default()),
            },
            Column {
                title: "GPU USED/NOMINAL",
                width: Constraint::Length(22),
                cell: |_, _, q| {
                    let (used, nominal, _) = q.gpu_totals();
                    let fill = if nominal > 0.0 {
                        used / nominal
                    } else if used > 0.0 {
                        1.0
                    } else {
                        0.0
                    };
                    let scope = if used > nominal { "gpu.quota.borrowed" } else { "gpu.quota.used" };
                    Cell::styled(
                        format!(
                            "{} {:>3}/{:<3}",
                            format::bar(fill, 10),
                            format::qty(used),
                            format::qty(nominal)
                        ),
                        scope,
                    )
                },
                key: |_, _, q| {
                    let (used, nominal, _) = q.gpu_totals();
                    SortKey::Num(if nominal > 0.0 { used / nominal } else { used })
                },
            },
            Column {
                title: "BORROWED",
                width: Constraint::Length(8),
                cell: |_, _, q| {
                    let b = q.gpu_totals().2;
                    if b > 0.0 {
                        Cell::styled(format::qty(b), "gpu.quota.borrowed")
                    } else {
                        Cell::styled("0", "ui.dim")
                    }
                },
                key: |_, _, q| SortKey::Num(q.gpu_totals().2),
            },
            Column {
                title: "PENDING",
                width: Constraint::Length(7),
                cell: |_, _, q| {
                    Cell::styled(
                        q.pending_workloads.to_string(),
                        if q.pending_workloads > 0 { "gpu.pending" } else { "ui.text" },
                    )
                },
                key: |_, _, q| SortKey::Num(q.pending_workloads as f64),
            },
            Column {
                title: "ADMITTED",
                width: Constraint::Length(8),
                cell: |_, _, q| Cell::text(q.admitted_workloads.to_string()),
                key: |_, _, q| SortKey::Num(q.admitted_workloads as f64),
            },
            Column {
                title: "FLAVORS",
                width: Constraint::Fill(2),
                cell: |_, _, q| {
                    let mut flavors: Vec<&str> = q.quotas.iter().map(|f| f.flavor.as_str()).collect();
                    flavors.dedup();
                    Cell::text(flavors.join(", "))
                },
                key: |_, _, q| SortKey::Text(q.quotas.first().map(|f| f.flavor.clone()).unwrap_or_default()),
            },
        ],
    }
}

fn queue_detail(ctx: &Ctx, id: &RecordId, q: &GpuQueue) -> Detail {
    let mut lines = vec![
        DetailLine::field("cluster", id.cluster.to_string()),
        DetailLine::field("cohort", q.cohort.clone().unwrap_or_else(|| "none".into())),
        DetailLine::field("team", q.team.clone().unwrap_or_else(|| "unknown".into())),
        DetailLine::field("api version", q.api_version.clone()),
        DetailLine::field(
            "workloads",
            format!("{} admitted, {} pending", q.admitted_workloads, q.pending_workloads),
        ),
        DetailLine::field(
            "local queues",
            if q.local_queues.is_empty() { "none seen".into() } else { q.local_queues.join(", ") },
        ),
        DetailLine::Section("quota per flavor and resource".into()),
    ];
    for f in &q.quotas {
        let limit = |v: Option<f64>| v.map(format::qty).unwrap_or_else(|| "∞".into());
        lines.push(DetailLine::Field {
            label: format!("{} {}", f.flavor, f.resource),
            value: format!(
                "used {} / nominal {} · reserved {} · borrowed {} (limit {}) · lending limit {}",
                format::qty(f.used),
                format::qty(f.nominal),
                format::qty(f.reserved),
                format::qty(f.borrowed),
                limit(f.borrowing_limit),
                limit(f.lending_limit)
            ),
            scope: if f.borrowed > 0.0 { "gpu.quota.borrowed" } else { "ui.text" },
        });
    }
    lines.push(DetailLine::Section("workloads in this queue".into()));
    let key = (id.cluster.clone(), q.name.clone());
    if let Some(ids) = ctx.state.indexes().workloads_by_queue.get(&key) {
        for wid in ids {
            if let Some(w) = ctx.state.gpu_workloads().get(wid) {
                lines.push(DetailLine::Field {
                    label: format!("{}/{}", w.namespace, w.name),
                    value: format!(
                        "{} · {} GPU · prio {} {}",
                        w.state.label(),
                        w.gpus,
                        w.priority,
                        reason(&w.state)
                    ),
                    scope: state_scope(&w.state),
                });
            }
        }
    } else {
        lines.push(DetailLine::Text("none".into(), "ui.dim"));
    }
    Detail { title: format!("ClusterQueue {}", q.name), lines }
}

/// The Workload table.
pub fn workloads() -> Spec<GpuWorkload> {
    Spec {
        all: |s| table_rows(s.gpu_workloads()),
        get: |s, id| s.gpu_workloads().get(id),
        default_sort: (6, true),
        filter_text: |id, w| {
            format!(
                "{} {}/{} {} {} {} {}",
                id.cluster,
                w.namespace,
                w.name,
                w.cluster_queue.as_deref().unwrap_or(""),
                w.team.as_deref().unwrap_or(""),
                w.state.label(),
                reason(&w.state)
            )
        },
        detail: workload_detail,
        columns: vec![
            cluster_column(),
            Column {
                title: "WORKLOAD",
                width: Constraint::Fill(3),
                cell: |_, _, w| Cell::text(format!("{}/{}", w.namespace, w.name)),
                key: |_, _, w| SortKey::Text(format!("{}/{}", w.namespace, w.name)),
            },
            Column {
                title: "QUEUE",
                width: Constraint::Fill(1),
                cell: |_, _, w| Cell::text(w.cluster_queue.clone().unwrap_or_else(|| w.local_queue.clone())),
                key: |_, _, w| SortKey::Text(w.cluster_queue.clone().unwrap_or_default()),
            },
            Column {
                title: "PRIO",
                width: Constraint::Length(6),
                cell: |_, _, w| Cell::text(w.priority.to_string()),
                key: |_, _, w| SortKey::Num(w.priority as f64),
            },
            Column {
                title: "GPUS",
                width: Constraint::Length(4),
                cell: |_, _, w| Cell::text(w.gpus.to_string()),
                key: |_, _, w| SortKey::Num(w.gpus as f64),
            },
            Column {
                title: "STATE",
                width: Constraint::Length(8),
                cell: |_, _, w| Cell::styled(w.state.label(), state_scope(&w.state)),
                key: |_, _, w| SortKey::Text(w.state.label().into()),
            },
            Column {
                title: "WAIT",
                width: Constraint::Length(6),
                cell: |ctx, _, w| Cell::text(format::age(waited(ctx, w))),
                key: |ctx, _, w| SortKey::Num(waited(ctx, w).as_secs_f64()),
            },
            Column {
                title: "VERDICT",
                width: Constraint::Fill(4),
                cell: |ctx, id, w| match workload_verdict(ctx, id) {
                    Some(v) => Cell::styled(v, "gpu.pending"),
                    None => Cell::text(reason(&w.state)),
                },
                key: |ctx, id, w| {
                    SortKey::Text(workload_verdict(ctx, id).unwrap_or_else(|| reason(&w.state)))
                },
            },
        ],
    }
}

/// A workload's facts, why it waits, the evictions seen of it (kept after Kueue forgets them
/// on readmission) and its history.
pub(crate) fn workload_detail(ctx: &Ctx, id: &RecordId, w: &GpuWorkload) -> Detail {
    let mut lines = vec![
        DetailLine::field("cluster", id.cluster.to_string()),
        DetailLine::field("owner", w.owner.clone().unwrap_or_else(|| "unknown".into())),
        DetailLine::field("team", w.team.clone().unwrap_or_else(|| "unknown".into())),
        DetailLine::field(
            "queue",
            format!("{} → {}", w.local_queue, w.cluster_queue.as_deref().unwrap_or("?")),
        ),
        DetailLine::field(
            "priority",
            format!("{} ({})", w.priority, w.priority_class.as_deref().unwrap_or("no class")),
        ),
        DetailLine::field(
            "gpus",
            format!("{}{}", w.gpus, w.flavor.as_ref().map(|f| format!(" in flavor {f}")).unwrap_or_default()),
        ),
        DetailLine::Field {
            label: "state".into(),
            value: w.state.label().into(),
            scope: state_scope(&w.state),
        },
        DetailLine::field("created", w.created_at.to_string()),
        DetailLine::field("waited", format::age_precise(waited(ctx, w))),
        DetailLine::field(
            "queue position",
            w.position.map(|p| p.to_string()).unwrap_or_else(|| "unknown (visibility API not served)".into()),
        ),
    ];
    let why = reason(&w.state);
    if !why.is_empty() {
        lines.push(DetailLine::Section("why".into()));
        lines.push(DetailLine::Text(why, state_scope(&w.state)));
    }
    let evictions: Vec<_> = ctx.state.evictions().of_workload(id).collect();
    if !evictions.is_empty() {
        lines.push(DetailLine::Section(format!("evictions seen ({})", evictions.len())));
        for (_, e) in evictions {
            let by = super::gpu_evictions::preemptor(ctx.state, e)
                .map(|p| format!(" · by {p}"))
                .unwrap_or_default();
            lines.push(DetailLine::Field {
                label: format::clock(e.at),
                value: format!("{}{by}", super::gpu_evictions::why(e)),
                scope: "gpu.evicted",
            });
        }
    }
    lines.push(DetailLine::Section(format!("history ({})", w.history.len())));
    for e in &w.history {
        lines.push(DetailLine::Field { label: format::clock(e.at), value: e.what.clone(), scope: "ui.text" });
    }
    let detail = Detail { title: format!("Workload {}/{}", w.namespace, w.name), lines };
    with_chain(ctx, crate::wait::explain_workload(ctx.state, id), "the workload", detail)
}

/// `0/40 nodes: 32 Insufficient nvidia.com/gpu, 8 untolerated taint` from parsed reasons.
pub fn scheduling_summary(p: &PendingGpuPod) -> String {
    if p.reasons.is_empty() {
        return p.message.as_deref().map(format::one_line).unwrap_or_else(|| "no scheduler event yet".into());
    }
    // Most common reason first: it is the one to fix.
    let mut reasons: Vec<&(String, u32)> = p.reasons.iter().collect();
    reasons.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let parts: Vec<String> = reasons
        .iter()
        .map(|(r, n)| format!("{n} {}", crate::sources::parse::scheduling::reason_words(r)))
        .collect();
    match p.nodes_total {
        Some(t) => format!("0/{t} nodes: {}", parts.join(", ")),
        None => parts.join(", "),
    }
}

/// The pending-pod table.
pub fn pending() -> Spec<PendingGpuPod> {
    Spec {
        all: |s| table_rows(s.pending_gpu_pods()),
        get: |s, id| s.pending_gpu_pods().get(id),
        default_sort: (4, true),
        filter_text: |id, p| {
            format!(
                "{} {}/{} {} {}",
                id.cluster,
                p.namespace,
                p.name,
                p.team.as_deref().unwrap_or(""),
                scheduling_summary(p)
            )
        },
        detail: pending_detail,
        columns: vec![
            cluster_column(),
            Column {
                title: "POD",
                width: Constraint::Fill(3),
                cell: |_, _, p| Cell::text(format!("{}/{}", p.namespace, p.name)),
                key: |_, _, p| SortKey::Text(format!("{}/{}", p.namespace, p.name)),
            },
            Column {
                title: "TEAM",
                width: Constraint::Fill(1),
                cell: |_, _, p| Cell::text(p.team.clone().unwrap_or_else(|| "—".into())),
                key: |_, _, p| SortKey::Text(p.team.clone().unwrap_or_default()),
            },
            Column {
                title: "GPUS",
                width: Constraint::Length(4),
                cell: |_, _, p| Cell::text(p.gpus.to_string()),
                key: |_, _, p| SortKey::Num(p.gpus as f64),
            },
            Column {
                title: "WAIT",
                width: Constraint::Length(6),
                cell: |ctx, _, p| Cell::styled(format::since(ctx.now, p.since), "gpu.pending"),
                key: |ctx, _, p| SortKey::Num(ctx.now.duration_since(p.since).as_secs_f64()),
            },
            Column {
                title: "VERDICT",
                width: Constraint::Fill(4),
                cell: |ctx, id, p| Cell::text(pod_verdict(ctx, id).unwrap_or_else(|| scheduling_summary(p))),
                key: |ctx, id, p| {
                    SortKey::Text(pod_verdict(ctx, id).unwrap_or_else(|| scheduling_summary(p)))
                },
            },
        ],
    }
}

fn pending_detail(ctx: &Ctx, id: &RecordId, p: &PendingGpuPod) -> Detail {
    let mut lines = vec![
        DetailLine::field("cluster", id.cluster.to_string()),
        DetailLine::field("team", p.team.clone().unwrap_or_else(|| "unknown".into())),
        DetailLine::field("asks for", format!("{} × {}", p.gpus, p.resource)),
        DetailLine::field(
            "pending since",
            format!("{} ({})", p.since, format::age_precise(ctx.now.duration_since(p.since))),
        ),
        DetailLine::Section("scheduler says".into()),
    ];
    match &p.message {
        Some(m) => lines.push(DetailLine::Text(m.clone(), "ui.text")),
        None => lines.push(DetailLine::Text("no FailedScheduling event seen yet".into(), "ui.dim")),
    }
    if !p.reasons.is_empty() {
        lines.push(DetailLine::Section("nodes by reason".into()));
        for (r, n) in &p.reasons {
            lines.push(DetailLine::field(&n.to_string(), r.clone()));
        }
    }
    let detail = Detail { title: format!("pending pod {}/{}", p.namespace, p.name), lines };
    with_chain(ctx, crate::wait::explain_pod(ctx.state, id), "the pod", detail)
}

fn util_scope(u: f32) -> &'static str {
    if u < IDLE_UTILIZATION_PCT {
        "gpu.util.low"
    } else if u < 60.0 {
        "gpu.util.mid"
    } else {
        "gpu.util.high"
    }
}

/// The GPU node table.
pub fn nodes() -> Spec<GpuNode> {
    Spec {
        all: |s| table_rows(s.gpu_nodes()),
        get: |s, id| s.gpu_nodes().get(id),
        default_sort: (0, false),
        filter_text: |id, n| format!("{} {} {}", id.cluster, n.name, n.product.as_deref().unwrap_or("")),
        detail: node_detail,
        columns: vec![
            cluster_column(),
            Column {
                title: "NODE",
                width: Constraint::Fill(2),
                cell: |_, _, n| {
                    Cell::styled(n.name.clone(), if n.schedulable { "ui.text" } else { "ui.dim" })
                },
                key: |_, _, n| SortKey::Text(n.name.clone()),
            },
            Column {
                title: "PRODUCT",
                width: Constraint::Fill(2),
                cell: |_, _, n| Cell::text(n.product.clone().unwrap_or_else(|| "—".into())),
                key: |_, _, n| SortKey::Text(n.product.clone().unwrap_or_default()),
            },
            Column {
                title: "ALLOC",
                width: Constraint::Length(6),
                cell: |_, _, n| Cell::text(format!("{}/{}", n.allocated, n.allocatable)),
                key: |_, _, n| SortKey::Num(n.allocated as f64),
            },
            Column {
                title: "UTIL",
                width: Constraint::Length(15),
                cell: |_, _, n| match n.mean_utilization() {
                    Some(u) => Cell::styled(
                        format!("{} {:>3.0}%", format::bar(u as f64 / 100.0, 9), u),
                        util_scope(u),
                    ),
                    None if n.telemetry_error.is_some() => Cell::styled("scrape failed", "ui.error"),
                    None => Cell::styled("no telemetry", "ui.dim"),
                },
                key: |_, _, n| SortKey::Num(n.mean_utilization().map(f64::from).unwrap_or(-1.0)),
            },
            Column {
                title: "IDLE",
                width: Constraint::Length(4),
                cell: |ctx, _, n| match idle_gpus(n, ctx.now) {
                    0 => Cell::styled("0", "ui.dim"),
                    i => Cell::styled(i.to_string(), "gpu.idle"),
                },
                key: |ctx, _, n| SortKey::Num(idle_gpus(n, ctx.now) as f64),
            },
            Column {
                title: "NOTES",
                width: Constraint::Fill(2),
                cell: |_, _, n| {
                    let mut notes = Vec::new();
                    if !n.schedulable {
                        notes.push("cordoned".to_string());
                    }
                    if let Some(m) = &n.mig {
                        notes.push(format!("mig {m}"));
                    }
                    if let Some(s) = &n.sharing {
                        notes.push(format!("shared {s}"));
                    }
                    if !n.taints.is_empty() {
                        notes.push(format!("{} taint(s)", n.taints.len()));
                    }
                    Cell::text(notes.join(", "))
                },
                key: |_, _, n| SortKey::Num(if n.schedulable { 0.0 } else { 1.0 }),
            },
        ],
    }
}

/// Minutes of per-GPU utilisation the node detail draws.
const UTIL_MINUTES: usize = 15;

fn node_detail(ctx: &Ctx, id: &RecordId, n: &GpuNode) -> Detail {
    let mut lines = vec![
        DetailLine::field("cluster", id.cluster.to_string()),
        DetailLine::field("product", n.product.clone().unwrap_or_else(|| "unknown".into())),
        DetailLine::field(
            "gpus",
            format!("capacity {} · allocatable {} · allocated {}", n.capacity, n.allocatable, n.allocated),
        ),
        DetailLine::field("schedulable", if n.schedulable { "yes" } else { "no (cordoned)" }),
        DetailLine::field("mig", n.mig.clone().unwrap_or_else(|| "off".into())),
        DetailLine::field("time-slicing", n.sharing.clone().unwrap_or_else(|| "off".into())),
        DetailLine::field("taints", if n.taints.is_empty() { "none".into() } else { n.taints.join(", ") }),
        DetailLine::Section("devices".into()),
    ];
    match &n.telemetry_error {
        Some(why) => lines.push(DetailLine::Text(format!("telemetry failing: {why}"), "ui.error")),
        None if n.devices.is_empty() => {
            lines.push(DetailLine::Text("no DCGM or NVML telemetry for this node".into(), "ui.dim"))
        }
        None => {}
    }
    for d in &n.devices {
        let opt =
            |v: Option<f32>, unit: &str| v.map(|x| format!("{x:.0}{unit}")).unwrap_or_else(|| "?".into());
        let mem = match (d.memory_used_mib, d.memory_total_mib) {
            (Some(u), Some(t)) => format!("{u}/{t} MiB"),
            _ => "mem ?".into(),
        };
        let idle = d.idle_but_allocated(ctx.now);
        let idle_for = match d.idle_since.filter(|_| d.under_idle_line()) {
            Some(since) => {
                let age = format::age_precise(ctx.now.duration_since(since));
                if idle { format!(" · IDLE BUT ALLOCATED for {age}") } else { format!(" · idle for {age}") }
            }
            None if idle => " · IDLE BUT ALLOCATED".to_string(),
            None => String::new(),
        };
        let label = match &d.mig {
            Some(m) => format!("gpu {} mig {m}", d.index),
            None => format!("gpu {}", d.index),
        };
        lines.push(DetailLine::Field {
            label,
            value: format!(
                "util {} · {} · {} · {} · {}{idle_for}",
                opt(d.utilization_pct, "%"),
                mem,
                opt(d.temperature_c, "°C"),
                opt(d.power_w, " W"),
                d.pod.as_deref().unwrap_or("no pod"),
            ),
            scope: if idle { "gpu.idle" } else { "ui.text" },
        });
        let util = ctx.state.gpu_history().per_minute(id, &(d.index, d.mig.clone()), ctx.now, UTIL_MINUTES);
        if util.iter().any(Option::is_some) {
            // Scaled to 100 %, not to the largest value (a flat 3 % must not look busy); a
            // reading of 0 % is the lowest bar, a minute without one is blank.
            let mut bins: Vec<u64> =
                util.iter().map(|u| u.map_or(0, |u| (u.clamp(0.0, 100.0).round() as u64).max(1))).collect();
            bins.push(100);
            let spark: String = format::spark(&bins).chars().take(UTIL_MINUTES).collect();
            lines.push(DetailLine::Text(format!("  util/{UTIL_MINUTES}m {spark}"), "ui.dim"));
        }
        for p in &d.processes {
            lines.push(DetailLine::Text(process_line(p), "ui.dim"));
        }
    }
    Detail { title: format!("node {}", n.name), lines }
}

/// `pid 446 · 1542 MiB · pod shop/trainer-0 (container 3f2a…)`, or the pod UID when the pod is
/// not known by name, or `host process`.
fn process_line(p: &crate::model::GpuProcess) -> String {
    let mem = p.used_memory_mib.map(|m| format!("{m} MiB")).unwrap_or_else(|| "mem ?".into());
    let owner = match (&p.pod, &p.pod_uid) {
        (Some(pod), _) => format!("pod {pod}"),
        (None, Some(uid)) => format!("pod uid {uid}"),
        (None, None) => "host process".into(),
    };
    let container = p
        .container_id
        .as_deref()
        .map(|c| format!(" (container {})", c.chars().take(12).collect::<String>()))
        .unwrap_or_default();
    format!("    pid {} · {mem} · {owner}{container}", p.pid)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{GpuDevice, GpuProcess};

    fn device(index: u32, pod: Option<&str>, util: f32, idle_since: Option<Timestamp>) -> GpuDevice {
        GpuDevice {
            index,
            uuid: format!("GPU-{index}"),
            product: None,
            utilization_pct: Some(util),
            memory_used_mib: None,
            memory_total_mib: None,
            temperature_c: None,
            power_w: None,
            pod: pod.map(String::from),
            processes: vec![],
            mig: None,
            idle_since,
        }
    }

    #[test]
    fn a_gpu_is_idle_but_allocated_after_the_flag_delay_when_its_source_says_since_when() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let ago = |mins: i64| Some(now - jiff::SignedDuration::from_mins(mins));
        let node = GpuNode {
            name: "gpu-a".into(),
            product: None,
            capacity: 6,
            allocatable: 6,
            allocated: 5,
            mig: None,
            sharing: None,
            schedulable: true,
            taints: vec![],
            telemetry_error: None,
            devices: vec![
                device(0, Some("ml/a"), 1.0, None),
                device(1, Some("ml/b"), 1.0, ago(5)),
                GpuDevice { mig: Some("3g.40gb/2".into()), ..device(2, Some("ml/c"), 0.0, ago(10)) },
                device(3, None, 0.0, None),
                device(4, Some("ml/e"), 50.0, None),
            ],
        };
        // 0: no history, judged on its sample (the simulator's and NVML's devices); 1: idle for
        // only 5 minutes; 2: for IDLE_FLAG_AFTER; 3: free; 4: busy.
        assert_eq!(idle_gpus(&node, now), 2);
        let state = FleetState::default();
        let detail =
            node_detail(&Ctx { state: &state, now }, &RecordId::new(ClusterId::new("c"), "gpu-a"), &node);
        let fields: Vec<(String, String)> = detail
            .lines
            .iter()
            .filter_map(|l| match l {
                DetailLine::Field { label, value, .. } if label.starts_with("gpu ") => {
                    Some((label.clone(), value.clone()))
                }
                _ => None,
            })
            .collect();
        assert!(fields[0].1.ends_with("ml/a · IDLE BUT ALLOCATED"), "{fields:?}");
        assert!(fields[1].1.ends_with("ml/b · idle for 5m00s"), "{fields:?}");
        assert_eq!(fields[2].0, "gpu 2 mig 3g.40gb/2");
        assert!(fields[2].1.ends_with("ml/c · IDLE BUT ALLOCATED for 10m00s"), "{fields:?}");
        assert!(fields[3].1.ends_with("no pod") && fields[4].1.ends_with("ml/e"), "{fields:?}");
    }

    #[test]
    fn a_node_whose_exporter_fails_says_why_in_its_detail() {
        let node = GpuNode {
            name: "gpu-b".into(),
            product: None,
            capacity: 8,
            allocatable: 8,
            allocated: 8,
            mig: None,
            sharing: None,
            schedulable: true,
            taints: vec![],
            telemetry_error: Some("dcgm-exporter gpu-operator/e-b: no answer within 10000 ms".into()),
            devices: vec![],
        };
        let state = FleetState::default();
        let ctx = Ctx { state: &state, now: Timestamp::UNIX_EPOCH };
        let text = node_detail(&ctx, &RecordId::new(ClusterId::new("c"), "gpu-b"), &node).to_text();
        assert!(
            text.contains("telemetry failing: dcgm-exporter gpu-operator/e-b: no answer within 10000 ms"),
            "{text}"
        );
        assert!(!text.contains("no DCGM or NVML telemetry"), "{text}");
    }

    #[test]
    fn gpu_processes_name_their_pod_or_say_they_are_host_processes() {
        let p = |pod: Option<&str>, uid: Option<&str>| GpuProcess {
            pid: 446,
            used_memory_mib: Some(1542),
            pod_uid: uid.map(String::from),
            container_id: uid.map(|_| "3f2a9c0d1e2b4a5f6789".to_string()),
            pod: pod.map(String::from),
        };
        assert_eq!(process_line(&p(None, None)), "    pid 446 · 1542 MiB · host process");
        assert_eq!(
            process_line(&p(None, Some("8d1c"))),
            "    pid 446 · 1542 MiB · pod uid 8d1c (container 3f2a9c0d1e2b)"
        );
        assert_eq!(
            process_line(&p(Some("ml/train-0"), Some("8d1c"))),
            "    pid 446 · 1542 MiB · pod ml/train-0 (container 3f2a9c0d1e2b)"
        );
    }
}
