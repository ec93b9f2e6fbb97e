//! `fleettop export`: a recording's evidence in a form people without fleettop read. Today:
//! `--format markdown`, an incident summary a ticket can hold.

use std::io::Write;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};

use crate::evidence::markdown::{self, Summary};
use crate::evidence::timeline::Timeline;
use crate::explain;
use crate::record::Recording;
use crate::ui::panes::denials::explanation_detail_absolute;

/// The finest step of the timeline; longer stretches take longer steps (at most
/// [`MAX_STEPS`] of them), so a day-long recording exports in seconds.
const MIN_STEP: SignedDuration = SignedDuration::from_secs(10);
/// At most this many steps.
const MAX_STEPS: i64 = 720;

/// What the command line asked for.
pub struct ExportArgs<'a> {
    /// The first moment (default: the recording's start).
    pub at: Option<&'a str>,
    /// The second moment (default: its end).
    pub to: Option<&'a str>,
    /// How many denial rows to explain in full (of those that fired between the two moments,
    /// the largest counts).
    pub explain: usize,
    /// Write here instead of stdout (a new file; an existing one is refused).
    pub out: Option<&'a Path>,
    /// Where the verdicts turn (`config.toml`), so the summary says what the panes say.
    pub verdicts: crate::model::Verdicts,
}

/// Writes the Markdown summary of `rec` (called `name`; its warnings were said when it was
/// opened).
pub fn markdown(rec: &Recording, name: &str, args: &ExportArgs) -> anyhow::Result<()> {
    let from = super::diff::moment(rec, "--at", args.at, rec.start())?;
    let to = super::diff::moment(rec, "--to", args.to, rec.end())?;
    anyhow::ensure!(from <= to, "--at {from} is after --to {to}: the summary runs forward in time");

    let step = step_for(from, to);
    let mut start = rec.state_at(from);
    start.set_verdicts(args.verdicts);
    let mut state = start.clone();
    let mut timeline = Timeline::default();
    let mut t = from;
    let mut applied = rec.position(from);
    while t < to {
        let next = t.checked_add(step).unwrap_or(to).min(to);
        let before = state.clone();
        let upto = rec.position(next);
        rec.replay(&mut state, applied, upto);
        state.set_clock(next);
        applied = upto;
        timeline.step(&before, &state);
        t = next;
    }
    let diff = crate::evidence::diff(&start, &state);

    // The denials of the incident: rows that fired between the two moments, the largest
    // counts first (a row quiet since before `--at` is history, not this incident).
    let mut rows: Vec<_> = state.denial_rows().filter(|(_, d)| d.last_seen >= from).collect();
    rows.sort_by(|(a_id, a), (b_id, b)| b.count.cmp(&a.count).then(a_id.cmp(b_id)));
    let explanations = rows
        .into_iter()
        .take(args.explain)
        .filter_map(|(id, _)| explain::explain(&state, id))
        .map(|e| {
            let d = e.denial;
            let title = format!(
                "{} · {} · {}",
                e.cluster,
                d.policy_name(),
                crate::state::merged_object(&d.object).display()
            );
            (title, explanation_detail_absolute(state.now(), &e).to_text())
        })
        .collect();

    let summary = Summary {
        source: name,
        recording: (rec.start(), rec.end()),
        end: &state,
        timeline: &timeline,
        step,
        diff: &diff,
        explanations,
    };
    // Outside text stays inside code spans and fences (see `evidence::markdown`); controls are
    // made visible whether the text goes to a terminal or a file.
    let text = crate::redact::text(&markdown::render(&summary)).into_owned();
    let text = crate::sanitise::text(&text).into_owned();
    match args.out {
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
        Some(path) => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
            f.write_all(text.as_bytes())?;
            say!("fleettop: wrote {}", path.display());
        }
    }
    Ok(())
}

/// The timeline's step for the stretch `from..to`: [`MIN_STEP`], or longer so that there are at
/// most [`MAX_STEPS`], in whole seconds.
fn step_for(from: Timestamp, to: Timestamp) -> SignedDuration {
    let secs = (to.as_second() - from.as_second()).max(0);
    let per_step = (secs + MAX_STEPS - 1) / MAX_STEPS;
    SignedDuration::from_secs(per_step.max(MIN_STEP.as_secs()))
}
