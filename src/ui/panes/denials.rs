//! The Denials pane: every admission denial in the fleet, with its policy, version and rule.

use ratatui::layout::Constraint;

use crate::explain::{self, Explanation};
use crate::model::{Denial, DenialClass, Enforcement};
use crate::state::{RecordId, merged_object};
use crate::ui::panes::denial_groups::RATE_MINUTES;
use crate::ui::widgets::format;
use crate::ui::widgets::table::{Cell, Column, Ctx, Detail, DetailLine, SortKey, Spec, cluster_column};

/// The theme scope of an enforcement action.
pub fn enforcement_scope(e: Enforcement) -> &'static str {
    match e {
        Enforcement::Deny => "denials.enforcement.deny",
        Enforcement::Warn => "denials.enforcement.warn",
        Enforcement::Audit => "denials.enforcement.audit",
        Enforcement::Dryrun => "denials.enforcement.dryrun",
    }
}

/// The ACTION cell: the enforcement of a policy denial, else what the row is instead
/// (`down`: the webhook could not be called; `unattr`: no grammar read the message; `rbac`).
fn action_cell(d: &Denial) -> Cell {
    match &d.class {
        DenialClass::Admission => Cell::styled(d.enforcement.label(), enforcement_scope(d.enforcement)),
        DenialClass::WebhookUnavailable { .. } => Cell::styled("down", "denials.enforcement.warn"),
        DenialClass::Unattributed => Cell::styled("unattr", "ui.dim"),
        DenialClass::Authorization => Cell::styled("rbac", "ui.dim"),
    }
}

fn policy_cell(d: &Denial) -> String {
    d.policy.as_ref().map(|p| p.display()).or_else(|| d.webhook.clone()).unwrap_or_else(|| "—".into())
}

/// The Denials table.
pub fn spec() -> Spec<Denial> {
    Spec {
        all: |s| s.denial_rows().map(|(id, d)| (id.clone(), d)).collect(),
        get: |s, id| s.denial_row(id),
        default_sort: (1, true),
        filter_text: |_, id, d| {
            format!(
                "{} {} {} {} {} {}",
                id.cluster,
                d.engine.label(),
                policy_cell(d),
                d.rule.as_deref().unwrap_or(""),
                merged_object(&d.object).display(),
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
                title: "RATE/15m",
                width: Constraint::Length(RATE_MINUTES as u16),
                cell: |ctx, id, _| Cell::styled(format::spark(&rate(ctx, id)), "denials.count"),
                key: |ctx, id, _| SortKey::Num(rate(ctx, id).iter().rev().take(5).sum::<u64>() as f64),
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
                cell: |_, _, d| action_cell(d),
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
                cell: |_, _, d| Cell::text(merged_object(&d.object).display()),
                key: |_, _, d| SortKey::Text(merged_object(&d.object).display()),
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

/// Evidence excerpts longer than this are cut in the detail view.
const EXCERPT_CHARS: usize = 240;

/// Occurrences per minute of one merged row over the last [`RATE_MINUTES`].
fn rate(ctx: &Ctx, id: &RecordId) -> Vec<u64> {
    ctx.state.merged_denials().rate(id, ctx.state.denials(), ctx.now, RATE_MINUTES)
}

fn detail(ctx: &Ctx, id: &RecordId, d: &Denial) -> Detail {
    match explain::explain(ctx.state, id) {
        Some(e) => explanation_detail(ctx.now, &e),
        None => {
            Detail { title: format!("denial · {}", merged_object(&d.object).display()), lines: Vec::new() }
        }
    }
}

/// The explanation of one merged denial as detail lines: what was denied, by what (the
/// The audit-log join: who was refused (audit lines) for a policy denial, or which policy
/// (Events) refused the request an audit line saw without a message.
fn joined_lines(e: &Explanation) -> Vec<DetailLine> {
    if e.joined.is_empty() {
        return Vec::new();
    }
    let witnesses = e.denial.class.is_admission();
    let title = if witnesses { "audit log witnesses" } else { "explained by (events)" };
    let mut lines = vec![DetailLine::Section(format!("{title} ({})", e.joined.len()))];
    for j in e.joined.iter().take(SKIPS_SHOWN) {
        let value = if witnesses {
            format!(
                "{} {} {} ×{}",
                j.user.as_deref().unwrap_or("unknown user"),
                j.operation.as_deref().unwrap_or("request"),
                merged_object(&j.object).display(),
                j.count
            )
        } else {
            format!(
                "{} {}/{} ×{}",
                j.engine.label(),
                j.policy_name(),
                j.rule.as_deref().unwrap_or("—"),
                j.count
            )
        };
        lines.push(DetailLine::field(&format::clock(j.last_seen), value));
    }
    lines
}

/// Skip results listed in a denial's detail, newest first.
const SKIPS_SHOWN: usize = 5;

/// The policy report skip results that let the denied object through since, if any.
fn skip_lines(e: &Explanation) -> Vec<DetailLine> {
    if e.skips.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![
        DetailLine::Section(format!("skipped since, by exceptions ({})", e.skips.len())),
        DetailLine::Text(
            "Policy reports say the engine skipped this policy for the object because of these exceptions:"
                .into(),
            "ui.dim",
        ),
    ];
    for s in e.skips.iter().take(SKIPS_SHOWN) {
        lines.push(DetailLine::field(
            &format!("{} ×{}", format::clock(s.at), s.count),
            format!(
                "{}/{} · {} · by {}",
                s.policy,
                s.rule.as_deref().unwrap_or("—"),
                s.object.display(),
                s.exceptions.join(", ")
            ),
        ));
    }
    if e.skips.len() > SKIPS_SHOWN {
        lines.push(DetailLine::Text(format!("… and {} more", e.skips.len() - SKIPS_SHOWN), "ui.dim"));
    }
    lines
}

/// policy object and its version at the time), when, the message, the exceptions and every
/// piece of evidence. `fleettop why` prints the same lines as text.
pub fn explanation_detail(now: jiff::Timestamp, e: &Explanation) -> Detail {
    explanation_lines(now, true, e)
}

/// [`explanation_detail`] with absolute UTC times only (no "ago", no countdowns): for text
/// that is read later, in a ticket or an export.
pub fn explanation_detail_absolute(now: jiff::Timestamp, e: &Explanation) -> Detail {
    explanation_lines(now, false, e)
}

fn explanation_lines(now: jiff::Timestamp, relative: bool, e: &Explanation) -> Detail {
    let ago = |t: jiff::Timestamp| {
        if relative {
            format!("{t} ({} ago)", format::age_precise(now.duration_since(t)))
        } else {
            t.to_string()
        }
    };
    let d = e.denial;
    let mut lines = vec![
        DetailLine::Section("what was denied".into()),
        DetailLine::field("object", merged_object(&d.object).display()),
        DetailLine::field("operation", d.operation.clone().unwrap_or_else(|| "unknown".into())),
        DetailLine::field(
            "user",
            d.user.clone().unwrap_or_else(|| "unknown (events do not say; the audit log does)".into()),
        ),
        DetailLine::field("cluster", e.cluster.to_string()),
        DetailLine::Section("by what".into()),
        DetailLine::field("engine", d.engine.label()),
    ];
    match &d.class {
        DenialClass::Admission => {}
        DenialClass::WebhookUnavailable { failure, failure_policy } => lines.push(DetailLine::Field {
            label: "class".into(),
            value: format!(
                "webhook unavailable ({}{}): the webhook could not be called, no policy decided",
                failure.label(),
                failure_policy.as_ref().map(|p| format!(", failurePolicy {p}")).unwrap_or_default()
            ),
            scope: "denials.enforcement.warn",
        }),
        DenialClass::Unattributed => lines.push(DetailLine::field(
            "class",
            "unattributed: no grammar read this message; it is kept whole below",
        )),
        DenialClass::Authorization => {
            lines.push(DetailLine::field("class", "authorization (RBAC): not an admission denial"))
        }
    }
    lines.extend([DetailLine::Field {
        label: "enforcement".into(),
        value: d.enforcement.label().into(),
        scope: enforcement_scope(d.enforcement),
    }]);
    match (e.policy, &d.policy) {
        (Some(p), _) => {
            lines.push(DetailLine::field("policy", format!("{} {}", p.kind, p.display_name())));
            let mut now_at = match (p.generation, &p.resource_version) {
                (Some(g), Some(rv)) => format!("generation {g}, resourceVersion {rv}"),
                (Some(g), None) => format!("generation {g}"),
                (None, Some(rv)) => format!("resourceVersion {rv}"),
                (None, None) => "unknown".into(),
            };
            if let Some(r) = &p.rollout {
                let from = r.from.map_or("?".to_string(), |g| g.to_string());
                now_at.push_str(&format!("; changed from {from} at {}", format::clock(r.at)));
            }
            lines.push(DetailLine::field("policy now", now_at));
            lines.push(DetailLine::field("denied under", e.version.words()));
            if let Some(action) = p.enforcement {
                lines.push(DetailLine::field("policy action", action.label()));
            }
            if !p.rules.is_empty() {
                lines.push(DetailLine::field("policy rules", p.rules.join(", ")));
            }
            if p.ready == Some(false) {
                lines.push(DetailLine::Field {
                    label: "ready".into(),
                    value: "no (the engine reports it not ready)".into(),
                    scope: "denials.enforcement.warn",
                });
            }
        }
        (None, Some(p)) => {
            let name = match &p.namespace {
                Some(ns) => format!("{ns}/{}", p.name),
                None => p.name.clone(),
            };
            lines.push(DetailLine::field("policy", format!("{} {name} (object not watched)", p.kind)));
            lines.push(DetailLine::field("denied under", e.version.words()));
        }
        (None, None) => {}
    }
    if let Some(w) = &d.webhook {
        lines.push(DetailLine::field("webhook", w.clone()));
    }
    if let Some(b) = &d.binding {
        let seen = match e.binding {
            Some(p) => match p.generation {
                Some(g) => format!("{b} (generation {g})"),
                None => b.clone(),
            },
            None => format!("{b} (object not watched)"),
        };
        lines.push(DetailLine::field("binding", seen));
    }
    lines.push(DetailLine::field("rule", d.rule.clone().unwrap_or_else(|| "unknown".into())));
    let severity = d.severity.or(e.policy.and_then(|p| p.severity));
    if let Some(s) = severity {
        lines.push(DetailLine::field("severity", format!("{s:?}").to_lowercase()));
    }
    if let Some(c) = d.category.clone().or_else(|| e.policy.and_then(|p| p.category.clone())) {
        lines.push(DetailLine::field("category", c));
    }
    let owner = d.owner.clone().or_else(|| e.policy.and_then(|p| p.owner.clone()));
    lines.push(DetailLine::field("owner", owner.unwrap_or_else(|| "unknown".into())));
    lines.push(DetailLine::Section("when".into()));
    lines.push(DetailLine::field("count", d.count.to_string()));
    lines.push(DetailLine::field("first seen", ago(d.first_seen)));
    lines.push(DetailLine::field("last seen", ago(d.last_seen)));
    lines.push(DetailLine::Section("message".into()));
    lines.push(DetailLine::Text(d.message.trim().to_string(), "ui.text"));
    if d.engine != crate::model::Engine::PodSecurity && d.enforcement == Enforcement::Deny {
        lines.push(DetailLine::Text(
            "Note: when several webhooks deny one request, the API server reports only the first.".into(),
            "ui.dim",
        ));
    }
    lines.push(DetailLine::Section(format!("exceptions ({})", e.exceptions.len())));
    if e.exceptions.is_empty() {
        lines.push(DetailLine::Text("none names or covers it".into(), "ui.dim"));
    }
    for link in &e.exceptions {
        let value = match link.exception {
            Some(x) => {
                let when = match x.expires_at {
                    Some(t) if relative => format::countdown(now, t),
                    Some(t) if t <= now => format!("expired {t}"),
                    Some(t) => format!("expires {t}"),
                    None => "no expiry".into(),
                };
                format!("{} · {when} ({}) · {}", link.reason.label(), x.expiry_source.label(), x.matches)
            }
            None => format!("{}; the object is not watched", link.reason.label()),
        };
        lines.push(DetailLine::field(&link.name, value));
        if link.denied_anyway {
            lines.push(DetailLine::Text(
                "  ⚠ it existed before the last denial, yet the request was denied: is it in a namespace the \
                 engine reads exceptions from, and are exceptions enabled?"
                    .into(),
                "denials.enforcement.warn",
            ));
        }
    }
    lines.extend(skip_lines(e));
    lines.extend(joined_lines(e));
    let sources =
        if e.sources == 1 { "1 source record".to_string() } else { format!("{} source records", e.sources) };
    lines.push(DetailLine::Section(format!("evidence ({}, from {sources})", d.evidence.len())));
    const SHOWN: usize = 20;
    let hidden = d.evidence.len().saturating_sub(SHOWN);
    if hidden > 0 {
        lines.push(DetailLine::Text(
            format!("{hidden} earlier pieces not shown; the latest {SHOWN}:"),
            "ui.dim",
        ));
    }
    for ev in d.evidence.iter().skip(hidden) {
        lines.push(DetailLine::Field {
            label: ev.source.label().into(),
            value: format!("{} at {}", ev.reference, ev.at),
            scope: "ui.dim",
        });
        // The message section has the text in full; the JSON of `fleettop why` every excerpt.
        lines.push(DetailLine::Text(
            format!("  {}", format::ellipsize(&format::one_line(&ev.excerpt), EXCERPT_CHARS)),
            "ui.text",
        ));
    }
    Detail {
        title: format!("denial · {} · {}", d.policy_name(), merged_object(&d.object).display()), lines
    }
}
