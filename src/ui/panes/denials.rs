//! The Denials pane: every admission denial in the fleet, with its policy, version and rule.

use ratatui::layout::Constraint;

use crate::model::{Denial, Enforcement};
use crate::state::RecordId;
use crate::ui::widgets::format;
use crate::ui::widgets::table::{
    Cell, Column, Ctx, Detail, DetailLine, SortKey, Spec, cluster_column, table_rows,
};

/// The theme scope of an enforcement action.
pub fn enforcement_scope(e: Enforcement) -> &'static str {
    match e {
        Enforcement::Deny => "denials.enforcement.deny",
        Enforcement::Warn => "denials.enforcement.warn",
        Enforcement::Audit => "denials.enforcement.audit",
        Enforcement::Dryrun => "denials.enforcement.dryrun",
    }
}

fn policy_cell(d: &Denial) -> String {
    d.policy.as_ref().map(|p| p.display()).or_else(|| d.webhook.clone()).unwrap_or_else(|| "—".into())
}

/// The Denials table.
pub fn spec() -> Spec<Denial> {
    Spec {
        all: |s| table_rows(s.denials()),
        get: |s, id| s.denials().get(id),
        default_sort: (1, true),
        filter_text: |id, d| {
            format!(
                "{} {} {} {} {} {}",
                id.cluster,
                d.engine.label(),
                policy_cell(d),
                d.rule.as_deref().unwrap_or(""),
                d.object.display(),
                d.message
            )
        },
        detail,
        columns: vec![
            cluster_column(),
            Column {
                title: "LAST",
                width: Constraint::Length(5),
                cell: |ctx, _, d| Cell::text(format::since(ctx.now, d.last_seen)),
                key: |_, _, d| SortKey::Num(d.last_seen.as_millisecond() as f64),
            },
            Column {
                title: "COUNT",
                width: Constraint::Length(5),
                cell: |_, _, d| Cell::styled(d.count.to_string(), "denials.count"),
                key: |_, _, d| SortKey::Num(d.count as f64),
            },
            Column {
                title: "ENGINE",
                width: Constraint::Length(12),
                cell: |_, _, d| Cell::text(d.engine.label()),
                key: |_, _, d| SortKey::Text(d.engine.label().into()),
            },
            Column {
                title: "ACTION",
                width: Constraint::Length(6),
                cell: |_, _, d| Cell::styled(d.enforcement.label(), enforcement_scope(d.enforcement)),
                key: |_, _, d| SortKey::Num(d.enforcement as u8 as f64),
            },
            Column {
                title: "POLICY",
                width: Constraint::Fill(3),
                cell: |_, _, d| Cell::text(policy_cell(d)),
                key: |_, _, d| SortKey::Text(policy_cell(d)),
            },
            Column {
                title: "RULE",
                width: Constraint::Fill(2),
                cell: |_, _, d| Cell::text(d.rule.clone().unwrap_or_else(|| "—".into())),
                key: |_, _, d| SortKey::Text(d.rule.clone().unwrap_or_default()),
            },
            Column {
                title: "OBJECT",
                width: Constraint::Fill(3),
                cell: |_, _, d| Cell::text(d.object.display()),
                key: |_, _, d| SortKey::Text(d.object.display()),
            },
            Column {
                title: "MESSAGE",
                width: Constraint::Fill(4),
                cell: |_, _, d| Cell::text(format::one_line(&d.message)),
                key: |_, _, d| SortKey::Text(d.message.clone()),
            },
        ],
    }
}

fn detail(ctx: &Ctx, id: &RecordId, d: &Denial) -> Detail {
    let mut lines = vec![
        DetailLine::Section("what was denied".into()),
        DetailLine::field("object", d.object.display()),
        DetailLine::field("operation", d.operation.clone().unwrap_or_else(|| "unknown".into())),
        DetailLine::field(
            "user",
            d.user.clone().unwrap_or_else(|| "unknown (not in the event; the audit log has it)".into()),
        ),
        DetailLine::field("cluster", id.cluster.to_string()),
        DetailLine::Section("by what".into()),
        DetailLine::field("engine", d.engine.label()),
        DetailLine::Field {
            label: "enforcement".into(),
            value: d.enforcement.label().into(),
            scope: enforcement_scope(d.enforcement),
        },
    ];
    if let Some(p) = &d.policy {
        let name = match &p.namespace {
            Some(ns) => format!("{ns}/{}", p.name),
            None => p.name.clone(),
        };
        lines.push(DetailLine::field("policy", format!("{} {name}", p.kind)));
        lines.push(DetailLine::field(
            "version",
            match (p.generation, &p.resource_version) {
                (Some(g), Some(rv)) => format!("generation {g}, resourceVersion {rv}"),
                (Some(g), None) => format!("generation {g}"),
                (None, Some(rv)) => format!("resourceVersion {rv}"),
                (None, None) => "unknown".into(),
            },
        ));
    }
    if let Some(w) = &d.webhook {
        lines.push(DetailLine::field("webhook", w.clone()));
    }
    if let Some(b) = &d.binding {
        lines.push(DetailLine::field("binding", b.clone()));
    }
    lines.push(DetailLine::field("rule", d.rule.clone().unwrap_or_else(|| "unknown".into())));
    if let Some(s) = d.severity {
        lines.push(DetailLine::field("severity", format!("{s:?}").to_lowercase()));
    }
    if let Some(c) = &d.category {
        lines.push(DetailLine::field("category", c.clone()));
    }
    lines.push(DetailLine::field("owner", d.owner.clone().unwrap_or_else(|| "unknown".into())));
    lines.push(DetailLine::Section("when".into()));
    lines.push(DetailLine::field("count", d.count.to_string()));
    lines.push(DetailLine::field(
        "first seen",
        format!("{} ({} ago)", d.first_seen, format::age_precise(ctx.now.duration_since(d.first_seen))),
    ));
    lines.push(DetailLine::field(
        "last seen",
        format!("{} ({} ago)", d.last_seen, format::age_precise(ctx.now.duration_since(d.last_seen))),
    ));
    lines.push(DetailLine::Section("message".into()));
    lines.push(DetailLine::Text(d.message.trim().to_string(), "ui.text"));
    if d.engine != crate::model::Engine::PodSecurity && d.enforcement == Enforcement::Deny {
        lines.push(DetailLine::Text(
            "Note: when several webhooks deny one request, the API server reports only the first.".into(),
            "ui.dim",
        ));
    }
    lines.push(DetailLine::Section(format!("exceptions ({})", d.exceptions.len())));
    if d.exceptions.is_empty() {
        lines.push(DetailLine::Text("none match".into(), "ui.dim"));
    }
    for name in &d.exceptions {
        let known = ctx
            .state
            .exceptions()
            .iter()
            .find(|(eid, e)| eid.cluster == id.cluster && (e.name == *name || e.display_name() == *name));
        match known {
            Some((_, e)) => {
                let when =
                    e.expires_at.map(|t| format::countdown(ctx.now, t)).unwrap_or_else(|| "no expiry".into());
                lines.push(DetailLine::field(
                    &e.display_name(),
                    format!("{} ({})", when, e.expiry_source.label()),
                ));
            }
            None => lines.push(DetailLine::field(name, "named by the source; object not seen")),
        }
    }
    lines.push(DetailLine::Section(format!("evidence ({})", d.evidence.len())));
    for e in &d.evidence {
        lines.push(DetailLine::Field {
            label: e.source.label().into(),
            value: format!("{} at {}", e.reference, e.at),
            scope: "ui.dim",
        });
        lines.push(DetailLine::Text(format!("  {}", format::one_line(&e.excerpt)), "ui.text"));
    }
    Detail { title: format!("denial · {} · {}", d.policy_name(), d.object.display()), lines }
}
