//! The Fleet pane: every cluster, its health, freshness and what each source says.

use ratatui::layout::Constraint;

use crate::model::{
    ClusterHealth, ClusterStatus, ConnectionState, ExceptionStatus, PipelineVerdict, SourceState,
};
use crate::state::{FleetState, RecordId};
use crate::ui::widgets::format;
use crate::ui::widgets::table::{Cell, Column, Ctx, Detail, DetailLine, SortKey, Spec};

/// The theme scope of a health badge.
pub fn health_scope(h: ClusterHealth) -> &'static str {
    match h {
        ClusterHealth::Live => "health.live",
        ClusterHealth::Syncing => "health.syncing",
        ClusterHealth::Stale => "health.stale",
        ClusterHealth::Unreachable => "health.unreachable",
        ClusterHealth::Forbidden => "health.forbidden",
    }
}

/// The badge glyph: shape carries meaning without colour.
pub fn health_glyph(h: ClusterHealth) -> &'static str {
    match h {
        ClusterHealth::Live => "●",
        ClusterHealth::Syncing => "◌",
        ClusterHealth::Stale => "◐",
        ClusterHealth::Unreachable => "✕",
        ClusterHealth::Forbidden => "⊘",
    }
}

fn source_summary(c: &ClusterStatus) -> String {
    let mut live = 0;
    let mut problems = Vec::new();
    for (kind, state) in &c.sources {
        match state {
            SourceState::Live | SourceState::NotInstalled | SourceState::Unavailable { .. } => live += 1,
            SourceState::Syncing => problems.push(format!("{} syncing", kind.label())),
            SourceState::Forbidden { .. } => problems.push(format!("{} forbidden", kind.label())),
            SourceState::Error { .. } => problems.push(format!("{} error", kind.label())),
            SourceState::Stale { .. } => problems.push(format!("{} stale", kind.label())),
            SourceState::Degraded { .. } => problems.push(format!("{} partly failing", kind.label())),
            SourceState::Slow { .. } => problems.push(format!("{} slow", kind.label())),
        }
    }
    if problems.is_empty() { format!("{live} ok") } else { format!("{live} ok, {}", problems.join(", ")) }
}

fn count_exceptions(ctx: &Ctx, id: &RecordId) -> (usize, usize) {
    let mut expired = 0;
    let mut expiring = 0;
    for (_, e) in FleetState::in_cluster(ctx.state.exceptions(), &id.cluster) {
        match e.status(ctx.now, ctx.state.verdicts()) {
            ExceptionStatus::Expired => expired += 1,
            ExceptionStatus::Expiring => expiring += 1,
            _ => {}
        }
    }
    (expired, expiring)
}

/// The worst that may be said of the cluster's pipeline components: unknown (with the worst
/// last-known kept) when its pipelines cannot be seen.
fn worst_pipeline(ctx: &Ctx, id: &RecordId) -> Option<PipelineVerdict> {
    FleetState::in_cluster(ctx.state.pipelines(), &id.cluster)
        .map(|(rid, p)| ctx.state.pipeline_verdict(rid, p))
        .min_by_key(|v| match v {
            // The earliest `since` and, under it, the worst last-known verdict.
            PipelineVerdict::Unknown { since, was } => (0, Some(*since), *was as u8),
            PipelineVerdict::Known(h) => (1, None, *h as u8),
        })
}

/// The LATENCY cell: the last round trip, or for an unreachable cluster the last one seen,
/// marked last-known (`?1700ms`, dim).
fn latency_cell(c: &ClusterStatus) -> Cell {
    match (c.latency_ms, &c.connection) {
        (None, _) => Cell::styled("—", "ui.dim"),
        (Some(l), ConnectionState::Unreachable { .. }) => Cell::styled(format!("?{l}ms"), "ui.dim"),
        (Some(l), _) => Cell::text(format!("{l}ms")),
    }
}

/// The Fleet table.
pub fn spec() -> Spec<ClusterStatus> {
    Spec {
        all: |s| s.clusters().iter().map(|(c, st)| (RecordId::new(c.clone(), ""), st)).collect(),
        get: |s, id| s.clusters().get(&id.cluster),
        default_sort: (0, false),
        filter_text: |_, id, c| {
            format!(
                "{} {} {}",
                id.cluster,
                c.health().label(),
                c.labels.values().cloned().collect::<Vec<_>>().join(" ")
            )
        },
        detail,
        columns: vec![
            crate::ui::widgets::table::cluster_column(),
            Column {
                title: "HEALTH",
                width: Constraint::Length(13),
                cell: |_, _, c| {
                    let h = c.health();
                    Cell::styled(format!("{} {}", health_glyph(h), h.label()), health_scope(h))
                },
                key: |_, _, c| SortKey::Num(c.health() as u8 as f64),
            },
            Column {
                title: "DATA AGE",
                width: Constraint::Length(8),
                cell: |ctx, _, c| {
                    Cell::text(c.data_age(ctx.now).map(format::age).unwrap_or_else(|| "—".into()))
                },
                key: |ctx, _, c| {
                    SortKey::Num(c.data_age(ctx.now).map(|d| d.as_secs_f64()).unwrap_or(f64::MAX))
                },
            },
            Column {
                title: "VERSION",
                width: Constraint::Length(9),
                cell: |_, _, c| Cell::text(c.server_version.clone().unwrap_or_else(|| "—".into())),
                key: |_, _, c| SortKey::Text(c.server_version.clone().unwrap_or_default()),
            },
            Column {
                title: "LATENCY",
                width: Constraint::Length(7),
                cell: |_, _, c| latency_cell(c),
                key: |_, _, c| SortKey::Num(c.latency_ms.map(f64::from).unwrap_or(f64::MAX)),
            },
            Column {
                title: "DENIALS",
                width: Constraint::Length(7),
                cell: |ctx, id, _| Cell::text(ctx.state.denial_rows_in(&id.cluster).count().to_string()),
                key: |ctx, id, _| SortKey::Num(ctx.state.denial_rows_in(&id.cluster).count() as f64),
            },
            Column {
                title: "GPU WAIT",
                width: Constraint::Length(8),
                cell: |ctx, id, _| {
                    Cell::text(
                        FleetState::in_cluster(ctx.state.pending_gpu_pods(), &id.cluster).count().to_string(),
                    )
                },
                key: |ctx, id, _| {
                    SortKey::Num(
                        FleetState::in_cluster(ctx.state.pending_gpu_pods(), &id.cluster).count() as f64
                    )
                },
            },
            Column {
                title: "PIPELINES",
                width: Constraint::Length(crate::ui::panes::pipelines::HEALTH_WIDTH),
                cell: |ctx, id, _| match worst_pipeline(ctx, id) {
                    Some(v) => crate::ui::panes::pipelines::verdict_cell(v),
                    None => Cell::styled("—", "ui.dim"),
                },
                key: |ctx, id, _| {
                    SortKey::Num(
                        worst_pipeline(ctx, id).map(crate::ui::panes::pipelines::verdict_key).unwrap_or(99.0),
                    )
                },
            },
            Column {
                title: "EXCEPTIONS",
                width: Constraint::Length(11),
                cell: |ctx, id, _| match count_exceptions(ctx, id) {
                    (0, 0) => Cell::styled("—", "ui.dim"),
                    (0, n) => Cell::styled(format!("{n} expiring"), "exceptions.expiring"),
                    (n, _) => Cell::styled(format!("{n} expired"), "exceptions.expired"),
                },
                key: |ctx, id, _| {
                    let (a, b) = count_exceptions(ctx, id);
                    SortKey::Num((a * 1000 + b) as f64)
                },
            },
            Column {
                title: "SOURCES",
                width: Constraint::Fill(1),
                cell: |_, _, c| Cell::text(source_summary(c)),
                key: |_, _, c| SortKey::Text(source_summary(c)),
            },
        ],
    }
}

fn detail(ctx: &Ctx, id: &RecordId, c: &ClusterStatus) -> Detail {
    let h = c.health();
    let mut lines = vec![
        DetailLine::Field { label: "health".into(), value: h.label().into(), scope: health_scope(h) },
        DetailLine::field("server version", c.server_version.clone().unwrap_or_else(|| "unknown".into())),
        DetailLine::field(
            "latency",
            match (c.latency_ms, &c.connection) {
                (None, _) => "unknown".into(),
                (Some(l), ConnectionState::Unreachable { since, .. }) => {
                    format!("{l} ms (last known, before {})", format::clock(*since))
                }
                (Some(l), _) => format!("{l} ms"),
            },
        ),
        DetailLine::field(
            "newest data",
            match c.last_data_at {
                Some(t) => format!("{} ({} ago)", t, format::age_precise(ctx.now.duration_since(t))),
                None => "none yet".into(),
            },
        ),
    ];
    match &c.connection {
        ConnectionState::Unreachable { since, error } => {
            lines.push(DetailLine::Field {
                label: "unreachable since".into(),
                value: format!("{since} ({} ago)", format::age_precise(ctx.now.duration_since(*since))),
                scope: "health.unreachable",
            });
            lines.push(DetailLine::Text(format!("last error: {error}"), "ui.error"));
            lines.push(DetailLine::Text(
                "Rows from this cluster show what was seen before the connection was lost.".into(),
                "ui.dim",
            ));
        }
        ConnectionState::Forbidden { error } => {
            lines.push(DetailLine::Text(format!("credentials refused: {error}"), "ui.error"))
        }
        _ => {}
    }
    if !c.labels.is_empty() {
        lines.push(DetailLine::Section("labels".into()));
        for (k, v) in &c.labels {
            lines.push(DetailLine::field(k, v.clone()));
        }
    }
    lines.push(DetailLine::Section("sources".into()));
    for (kind, state) in &c.sources {
        let (value, scope) = match state {
            SourceState::Live => ("live".to_string(), "health.live"),
            SourceState::Syncing => ("syncing (initial list)".into(), "health.syncing"),
            SourceState::NotInstalled => ("not installed on this cluster".into(), "ui.dim"),
            SourceState::Unavailable { message } => (message.clone(), "ui.dim"),
            SourceState::Forbidden { message } => (format!("no permission: {message}"), "health.forbidden"),
            SourceState::Error { message } => (format!("error: {message}"), "ui.error"),
            SourceState::Stale { since } => (format!("stale since {since}"), "health.stale"),
            SourceState::Degraded { message } => (format!("partly failing: {message}"), "health.stale"),
            SourceState::Slow { message } => (format!("slow: {message}"), "health.syncing"),
        };
        lines.push(DetailLine::Field { label: kind.label().into(), value, scope });
    }
    if !c.dropped.is_empty() {
        lines.push(DetailLine::Section("dropped (oldest first, to bound memory)".into()));
        for (kind, n) in &c.dropped {
            lines.push(DetailLine::Field {
                label: crate::state::bounds::noun(*kind).into(),
                value: format!("{n} (at most {} kept per cluster)", crate::state::bounds::MAX_PER_CLUSTER),
                scope: "health.stale",
            });
        }
    }
    Detail { title: format!("cluster {}", id.cluster), lines }
}
