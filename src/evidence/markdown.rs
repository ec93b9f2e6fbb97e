//! An incident summary in Markdown, for a ticket or a postmortem document: the clusters at the
//! end, the timeline of turns, what changed between the two moments, and the explanations
//! verbatim. Absolute UTC times only.
//!
//! Outside text (names, messages) only ever appears inside code spans and fenced blocks, so
//! a hostile name cannot turn into a link, an image or HTML in the reader's tracker.

use std::fmt::Write;

use jiff::Timestamp;

use super::diff::{DeltaKind, Diff};
use super::text::facts;
use super::timeline::Timeline;
use crate::state::FleetState;

/// Everything the summary holds, gathered by the caller.
pub struct Summary<'a> {
    /// What was read (`the bundled demo`, a file name).
    pub source: &'a str,
    /// The recording's first and last moments.
    pub recording: (Timestamp, Timestamp),
    /// The state at the second moment (clusters and their health).
    pub end: &'a FleetState,
    /// The turns between the two moments.
    pub timeline: &'a Timeline,
    /// The step of the timeline.
    pub step: jiff::SignedDuration,
    /// What changed between the two moments.
    pub diff: &'a Diff,
    /// Explanations, each a title and its text (the `why` detail with absolute times).
    pub explanations: Vec<(String, String)>,
}

/// The summary as Markdown.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Incident evidence: {}\n", code(s.source));
    let _ = writeln!(out, "- recording: {} → {} (UTC)", s.recording.0, s.recording.1);
    let _ = writeln!(out, "- compared: {} → {}", s.diff.from, s.diff.to);
    let _ = writeln!(out, "- written by fleettop {}\n", env!("CARGO_PKG_VERSION"));

    let _ = writeln!(out, "## Clusters at {}\n", s.diff.to);
    let _ = writeln!(out, "| cluster | health | server |\n|---|---|---|");
    for c in s.end.clusters().values() {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            cell(c.id.as_str()),
            c.health().label(),
            cell(c.server_version.as_deref().unwrap_or("?"))
        );
    }

    let _ = writeln!(
        out,
        "\n## Timeline\n\nEach turn at the end of the {} step in which it was seen.\n",
        super::text::length(s.step.as_secs())
    );
    if s.timeline.entries.is_empty() {
        let _ = writeln!(out, "No turns between the two moments.");
    } else {
        let _ = writeln!(out, "| seen by (UTC) | cluster | turn | what | facts |\n|---|---|---|---|---|");
        for e in &s.timeline.entries {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                e.seen_by.strftime("%H:%M:%S"),
                cell(e.delta.cluster.as_str()),
                word(e.delta.kind),
                cell(&format!("{} {}", e.delta.what, e.delta.subject)),
                cell(&facts(&e.delta))
            );
        }
        if s.timeline.left_out > 0 {
            let _ = writeln!(out, "\n({} more turns left out.)", s.timeline.left_out);
        }
    }

    let (a, d, c) = s.diff.counts();
    let _ = writeln!(out, "\n## What changed\n\n{a} appeared · {d} disappeared · {c} changed.");
    let mut pane = None;
    for delta in &s.diff.changes {
        if pane != Some(delta.pane) {
            pane = Some(delta.pane);
            let _ = writeln!(out, "\n### {}\n", delta.pane.title());
        }
        let sign = word(delta.kind);
        let _ = writeln!(
            out,
            "- {sign}: {} {} {}: {}",
            code(delta.cluster.as_str()),
            delta.what,
            code(&delta.subject),
            code(&facts(delta))
        );
        if let Some(e) = &delta.evidence {
            let _ = writeln!(out, "  - evidence: {}", code(e));
        }
    }

    if !s.explanations.is_empty() {
        let _ = writeln!(out, "\n## Denials explained");
        for (title, text) in &s.explanations {
            let _ = writeln!(out, "\n### {}\n\n{}", code(title), fenced(text));
        }
    }
    out
}

fn word(kind: DeltaKind) -> &'static str {
    match kind {
        DeltaKind::Appeared => "appeared",
        DeltaKind::Disappeared => "disappeared",
        DeltaKind::Changed => "changed",
    }
}

/// `s` as an inline code span: the fence is one backtick longer than the longest run inside,
/// line breaks become spaces.
pub fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let fence = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// `s` as a table cell: a code span with its pipes escaped (a GFM table splits cells on
/// them, even inside code).
fn cell(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// `s` as a fenced block whose fence no line of `s` can close.
pub fn fenced(s: &str) -> String {
    let fence = "`".repeat(longest_run(s, '`').max(2) + 1);
    format!("{fence}text\n{}\n{fence}", s.trim_end())
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in s.chars() {
        run = if ch == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_stays_inside_code_whatever_backticks_and_pipes_it_holds() {
        assert_eq!(code("payments"), "`payments`");
        assert_eq!(code("a ``b`` c"), "```a ``b`` c```");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(code("two\nlines"), "`two lines`");
        assert_eq!(cell("a|b"), "`a\\|b`");
        let block = fenced("```\n[click](http://evil)\n```");
        assert!(block.starts_with("````text\n") && block.ends_with("\n````"), "{block}");
    }
}
