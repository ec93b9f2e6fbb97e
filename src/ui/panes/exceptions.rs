//! The Exceptions pane: which policy bypasses expire soon, or expired and still bypass.

use ratatui::layout::Constraint;

use crate::model::{Enforcement, ExceptionStatus, PolicyException};
use crate::state::RecordId;
use crate::ui::summaries::plural;
use crate::ui::widgets::format;
use crate::ui::widgets::table::{
    Cell, Column, Ctx, Detail, DetailLine, SortKey, Spec, cluster_column, table_rows,
};

/// The theme scope of an exception status.
pub fn status_scope(s: ExceptionStatus) -> &'static str {
    match s {
        ExceptionStatus::Expired => "exceptions.expired",
        ExceptionStatus::Expiring => "exceptions.expiring",
        ExceptionStatus::NoExpiry => "exceptions.no_expiry",
        ExceptionStatus::Active => "exceptions.active",
    }
}

fn policies(e: &PolicyException) -> String {
    e.policies
        .iter()
        .map(|p| {
            if p.rules.is_empty() { p.policy.clone() } else { format!("{}[{}]", p.policy, p.rules.join(",")) }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn expiry_key(ctx: &Ctx, e: &PolicyException) -> f64 {
    match e.expires_at {
        Some(t) => t.duration_since(ctx.now).as_secs_f64(),
        None => f64::MAX / 2.0,
    }
}

/// The Exceptions table.
pub fn spec() -> Spec<PolicyException> {
    Spec {
        all: |s| table_rows(s.exceptions()),
        get: |s, id| s.exceptions().get(id),
        default_sort: (2, false),
        filter_text: |_, id, e| {
            format!(
                "{} {} {} {} {}",
                id.cluster,
                e.display_name(),
                policies(e),
                e.owner.as_deref().unwrap_or(""),
                e.ticket.as_deref().unwrap_or("")
            )
        },
        detail,
        columns: vec![
            cluster_column(),
            Column {
                title: "STATUS",
                width: Constraint::Length(9),
                cell: |ctx, _, e| {
                    let s = e.status(ctx.now, ctx.state.verdicts());
                    Cell::styled(s.label(), status_scope(s))
                },
                key: |ctx, _, e| SortKey::Num(e.status(ctx.now, ctx.state.verdicts()) as u8 as f64),
            },
            Column {
                title: "EXPIRES",
                width: Constraint::Length(13),
                cell: |ctx, _, e| match e.expires_at {
                    Some(t) => Cell::styled(
                        format::countdown(ctx.now, t),
                        status_scope(e.status(ctx.now, ctx.state.verdicts())),
                    ),
                    None => Cell::styled("never", "exceptions.no_expiry"),
                },
                key: |ctx, _, e| SortKey::Num(expiry_key(ctx, e)),
            },
            Column {
                title: "EXCEPTION",
                width: Constraint::Fill(3),
                cell: |_, _, e| Cell::text(e.display_name()),
                key: |_, _, e| SortKey::Text(e.display_name()),
            },
            Column {
                title: "ENGINE",
                width: Constraint::Length(12),
                cell: |_, _, e| Cell::text(e.engine.label()),
                key: |_, _, e| SortKey::Text(e.engine.label().into()),
            },
            Column {
                title: "OWNER",
                width: Constraint::Fill(1),
                cell: |_, _, e| Cell::text(e.owner.clone().unwrap_or_else(|| "—".into())),
                key: |_, _, e| SortKey::Text(e.owner.clone().unwrap_or_default()),
            },
            Column {
                // Policy report skip results naming it (its reach; the detail lists them).
                title: "SKIPS",
                width: Constraint::Length(5),
                cell: |ctx, id, e| match ctx.state.skipped_results(&id.cluster, &e.name) {
                    0 => Cell::styled("—", "ui.dim"),
                    n => Cell::text(n.to_string()),
                },
                key: |ctx, id, e| SortKey::Num(ctx.state.skipped_results(&id.cluster, &e.name) as f64),
            },
            Column {
                title: "BYPASSES",
                width: Constraint::Fill(3),
                cell: |_, _, e| Cell::text(policies(e)),
                key: |_, _, e| SortKey::Text(policies(e)),
            },
        ],
    }
}

/// Skip results listed in the detail view, newest first.
const RECENT_SKIPS: usize = 5;

/// The reach section: the policies and rules the exception covers, and what the engines
/// reported it bypassed (policy report skip results naming it).
fn reach(ctx: &Ctx, id: &RecordId, e: &PolicyException) -> Vec<DetailLine> {
    let mut lines = vec![DetailLine::Section("reach".into())];
    for p in &e.policies {
        let rules = if p.rules.is_empty() { "all rules".into() } else { p.rules.join(", ") };
        lines.push(DetailLine::field("covers", format!("{}: {rules}", p.policy)));
    }
    let reach = ctx.state.reach(&id.cluster, &e.name);
    if reach.skipped_results == 0 {
        lines.push(DetailLine::Text("no policy report names it in a skip result".into(), "ui.dim"));
        return lines;
    }
    lines.push(DetailLine::field(
        "skipped",
        format!(
            "{} across {} (policy report skip results naming it)",
            plural(reach.skipped_results, "result"),
            plural(reach.skipped_objects as u64, "object")
        ),
    ));
    let skips = ctx.state.skips_newest_first(&id.cluster, &e.name);
    if let Some(expired) = e.expires_at.filter(|t| *t <= ctx.now) {
        let after = skips.iter().filter(|(_, s)| s.at > expired).count();
        if after > 0 {
            lines.push(DetailLine::Text(
                format!(
                    "⚠ {} reported after it expired: the engine still honours it",
                    plural(after as u64, "skip result")
                ),
                "exceptions.expired",
            ));
        }
    }
    for (_, s) in skips.iter().take(RECENT_SKIPS) {
        lines.push(DetailLine::field(
            &format!("  {} ×{}", format::clock(s.at), s.count),
            format!("{}/{} · {}", s.policy, s.rule.as_deref().unwrap_or("—"), s.object.display()),
        ));
    }
    if skips.len() > RECENT_SKIPS {
        lines.push(DetailLine::Text(format!("  … and {} more", skips.len() - RECENT_SKIPS), "ui.dim"));
    }
    lines
}

fn detail(ctx: &Ctx, id: &RecordId, e: &PolicyException) -> Detail {
    let s = e.status(ctx.now, ctx.state.verdicts());
    let mut lines = vec![
        DetailLine::Field { label: "status".into(), value: s.label().into(), scope: status_scope(s) },
        DetailLine::field(
            "expires",
            match e.expires_at {
                Some(t) => format!("{t} ({})", format::countdown(ctx.now, t)),
                None => "never: nothing on the object says when this bypass ends".into(),
            },
        ),
        DetailLine::field("expiry from", e.expiry_source.label()),
        DetailLine::field("cluster", id.cluster.to_string()),
        DetailLine::field("object", format!("{} {}", e.kind, e.display_name())),
        DetailLine::field("engine", e.engine.label()),
        DetailLine::field("created", e.created_at.map(|t| t.to_string()).unwrap_or_else(|| "unknown".into())),
        DetailLine::field("owner", e.owner.clone().unwrap_or_else(|| "unknown".into())),
        DetailLine::field("ticket", e.ticket.clone().unwrap_or_else(|| "none".into())),
        DetailLine::field("matches", e.matches.clone()),
    ];
    if s == ExceptionStatus::Expired {
        lines.push(DetailLine::Text(
            "The expiry has passed but the object still exists: it still bypasses policy.".into(),
            "exceptions.expired",
        ));
    }
    lines.extend(reach(ctx, id, e));
    let linked = crate::explain::denials_linked_to(ctx.state, id, e);
    let occurrences: u64 = linked.iter().map(|(_, d, _)| d.count).sum();
    lines.push(DetailLine::Section(format!(
        "denials linked ({}, {})",
        plural(linked.len() as u64, "row"),
        plural(occurrences, "occurrence")
    )));
    if linked.is_empty() {
        lines.push(DetailLine::Text("no denial names it or falls in its scope".into(), "ui.dim"));
    }
    const SHOWN: usize = 10;
    for (_, d, reason) in linked.iter().take(SHOWN) {
        lines.push(DetailLine::field(
            &format!("{} ×{}", d.enforcement.label(), d.count),
            format!(
                "{}/{} · {} · {}",
                d.policy_name(),
                d.rule.as_deref().unwrap_or("—"),
                d.object.display(),
                reason.label()
            ),
        ));
        let after = e.created_at.is_some_and(|c| c < d.last_seen);
        if *reason == crate::explain::LinkReason::Covers && d.enforcement == Enforcement::Deny && after {
            lines.push(DetailLine::Text(
                "  ⚠ denied after the exception existed: the engine is not honouring it".into(),
                "denials.enforcement.warn",
            ));
        }
    }
    if linked.len() > SHOWN {
        lines.push(DetailLine::Text(
            format!("… and {} more (Denials pane, filter by policy)", linked.len() - SHOWN),
            "ui.dim",
        ));
    }
    lines.push(DetailLine::Section(format!("evidence ({})", e.evidence.len())));
    for ev in &e.evidence {
        lines.push(DetailLine::Field {
            label: ev.source.label().into(),
            value: ev.reference.clone(),
            scope: "ui.dim",
        });
        lines.push(DetailLine::Text(format!("  {}", format::one_line(&ev.excerpt)), "ui.text"));
    }
    Detail { title: format!("exception {}", e.display_name()), lines }
}
