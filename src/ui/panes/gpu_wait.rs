//! The "why is it waiting" detail view: a [`Wait`] chain as detail lines — verdict first,
//! then each stage's steps with their time and evidence, then the blockers the jump key
//! follows. The GPU pane opens it on a waiting workload or pod; `fleettop why` prints it.

use jiff::Timestamp;

use crate::ui::widgets::format;
use crate::ui::widgets::table::{Detail, DetailLine};
use crate::wait::{Link, Stage, Wait};

/// The theme scope of a stage's steps.
fn scope(stage: Stage) -> &'static str {
    match stage {
        Stage::Admission | Stage::Placement => "gpu.pending",
        Stage::Fleet => "ui.text",
    }
}

/// A link in words: `workload research/job-x`, `node h100-node-01`.
pub fn link_words(l: &Link) -> String {
    format!("{} {}", l.kind(), l.id().key)
}

/// The detail view of a wait at `now`.
pub fn wait_detail(now: Timestamp, w: &Wait) -> Detail {
    let mut lines = vec![
        DetailLine::Field { label: "verdict".into(), value: w.verdict.words.clone(), scope: "gpu.pending" },
        DetailLine::field("cluster", w.cluster.clone()),
        DetailLine::field(
            "asks for",
            format!(
                "{} GPU{}{}",
                w.gpus,
                if w.gpus == 1 { "" } else { "s" },
                w.owner.as_ref().map(|o| format!(" ({o})")).unwrap_or_default()
            ),
        ),
        DetailLine::field(
            "waiting",
            format!("since {} ({})", w.since, format::age_precise(now.duration_since(w.since))),
        ),
    ];
    let mut stage = None;
    for s in &w.steps {
        if stage != Some(s.stage) {
            stage = Some(s.stage);
            lines.push(DetailLine::Section(s.stage.label().into()));
        }
        let since = s.since.map(|t| format!(" (since {})", format::clock(t))).unwrap_or_default();
        lines.push(DetailLine::Field {
            label: s.finding.replace('_', " "),
            value: format!("{}{since}", s.words),
            scope: scope(s.stage),
        });
        for e in &s.evidence {
            let at = e.at.map(|t| format!(" at {}", format::clock(t))).unwrap_or_default();
            lines.push(DetailLine::Text(
                format!("    ↳ {}{at}: {}", e.source, format::one_line(&e.text)),
                "ui.dim",
            ));
        }
    }
    let blockers = w.blockers();
    if !blockers.is_empty() {
        lines.push(DetailLine::Section("leads to (d: jump to the first)".into()));
        for l in blockers {
            let cluster = if l.id().cluster.as_str() == w.cluster {
                String::new()
            } else {
                format!(" in {}", l.id().cluster)
            };
            lines.push(DetailLine::Text(format!("{}{cluster}", link_words(l)), "ui.text"));
        }
    }
    let kind = w.kind.label();
    Detail { title: format!("Why is {kind} {}/{} waiting", w.namespace, w.name), lines }
}

/// The chain as Markdown (`fleettop why … --markdown`), for tickets and chat: outside text
/// goes in code spans, so nothing in it renders as markup.
pub fn wait_markdown(now: Timestamp, w: &Wait) -> String {
    let code = |s: &str| {
        let s = format::one_line(s).replace('`', "'");
        format!("`{s}`")
    };
    let mut out = format!(
        "### Why is {} {} waiting\n\n**{}**\n\n- cluster: {}\n- asks for: {} GPU{}\n- waiting since {} ({})\n",
        w.kind.label(),
        code(&format!("{}/{}", w.namespace, w.name)),
        format::one_line(&w.verdict.words).replace(['*', '_', '`', '<', '>', '[', ']'], " "),
        code(&w.cluster),
        w.gpus,
        if w.gpus == 1 { "" } else { "s" },
        w.since,
        format::age_precise(now.duration_since(w.since))
    );
    let mut stage = None;
    for s in &w.steps {
        if stage != Some(s.stage) {
            stage = Some(s.stage);
            out.push_str(&format!("\n#### {}\n\n", s.stage.label()));
        }
        let since = s.since.map(|t| format!(" (since {})", format::clock(t))).unwrap_or_default();
        out.push_str(&format!("- {}: {}{since}\n", s.finding.replace('_', " "), code(&s.words)));
        for e in &s.evidence {
            let at = e.at.map(|t| format!(" at {}", format::clock(t))).unwrap_or_default();
            out.push_str(&format!("  - {}{at}: {}\n", code(&e.source), code(&e.text)));
        }
    }
    out
}
