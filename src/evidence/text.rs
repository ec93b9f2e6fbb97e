//! A [`Diff`] as text for a terminal or a ticket: one block per pane, one line per record
//! (`+` appeared, `-` disappeared, `~` changed) with the facts that differ and the evidence
//! indented under it. Absolute UTC times only, so the text means the same tomorrow.
//!
//! The text holds outside text verbatim (names, messages): callers pass it through the
//! terminal sanitiser (and the redaction layer) before it reaches a terminal.

use std::fmt::Write;

use super::diff::{Delta, DeltaKind, Diff, FactDelta, Pane};

/// Panes in the order the tabs show them.
const PANES: [Pane; 5] = [Pane::Fleet, Pane::Denials, Pane::Gpu, Pane::Pipelines, Pane::Exceptions];

/// The diff as text; `source` names what was compared (`the bundled demo`, a file).
pub fn render(d: &Diff, source: &str) -> String {
    let mut out = String::new();
    let (appeared, disappeared, changed) = d.counts();
    let _ = writeln!(
        out,
        "{source}: {} → {} ({}): {appeared} appeared · {disappeared} disappeared · {changed} changed",
        d.from,
        d.to,
        length(d.to.as_second() - d.from.as_second()),
    );
    if d.changes.is_empty() {
        let _ = writeln!(out, "nothing changed");
        return out;
    }
    for pane in PANES {
        let changes: Vec<&Delta> = d.pane(pane).collect();
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{} ({})", pane.title(), changes.len());
        for c in changes {
            line(&mut out, c);
        }
    }
    out
}

fn line(out: &mut String, c: &Delta) {
    let facts = facts(c);
    let _ = writeln!(out, "  {} {:<16} {} {}: {facts}", c.kind.sign(), c.cluster.as_str(), c.what, c.subject);
    if let Some(e) = &c.evidence {
        let _ = writeln!(out, "      evidence: {e}");
    }
}

/// A record's differing facts on one line: `count 3 → 7; activity firing → quiet since …` for a
/// change, `count 7; activity firing` for a record on one side only.
pub fn facts(d: &Delta) -> String {
    d.facts.iter().map(|f| fact(f, d.kind)).collect::<Vec<_>>().join("; ")
}

fn fact(f: &FactDelta, kind: DeltaKind) -> String {
    match (kind, &f.from, &f.to) {
        (DeltaKind::Changed, from, to) => {
            format!("{} {} → {}", f.fact, from.as_deref().unwrap_or("–"), to.as_deref().unwrap_or("–"))
        }
        (_, Some(v), _) | (_, None, Some(v)) => format!("{} {v}", f.fact),
        (_, None, None) => f.fact.clone(),
    }
}

/// A length of time in seconds as people write it (`15m`, `1h 5m 30s`, `-3m`).
pub fn length(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (h, m, s) = (s / 3600, s % 3600 / 60, s % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    format!("{sign}{}", parts.join(" "))
}
