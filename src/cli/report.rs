//! `fleettop report`: cost and fairness of a recording, or of the live fleet right now, as an
//! aligned table, CSV or JSON, on stdout or into a file; or as Parquet, into a file only.

use std::path::Path;

use anyhow::Context;

use crate::analytics::output::{self, Format};
use crate::analytics::window::Window;
use crate::analytics::{By, Ledger, Prices, Query};
use crate::record::Recording;
use crate::state::FleetState;

/// Window a live report measures when `--window` is not given.
pub const LIVE_DEFAULT_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// What to report and where.
#[derive(Debug, Clone)]
pub struct ReportArgs<'a> {
    /// `--window`: measure the last stretch of this length before the end (validated by the
    /// argument parser: longer than zero, at most 100 years).
    pub window: Option<jiff::SignedDuration>,
    /// `--by`.
    pub by: By,
    /// `--format`.
    pub format: Format,
    /// `--out`: a file instead of stdout.
    pub out: Option<&'a Path>,
    /// Prices in force.
    pub prices: Prices,
}

/// Refuses a binary format (Parquet) without `--out`: it is never written to stdout, whether
/// that is a terminal or a pipe. Checked before anything is read or any cluster contacted.
pub fn check_destination(format: Format, out: Option<&Path>) -> anyhow::Result<()> {
    if format.is_binary() && out.is_none() {
        anyhow::bail!(
            "--format parquet writes a binary file: give it one with --out FILE (it is not written to stdout)"
        );
    }
    Ok(())
}

/// Reports over a recording: by default the whole of it.
pub fn from_recording(rec: &Recording, args: &ReportArgs<'_>) -> anyhow::Result<()> {
    let window = match args.window {
        Some(len) => Window::last(len, rec.end()),
        None => Window::between(rec.start(), rec.end()),
    };
    write(&Ledger::from_observations(rec.observations()), window, args)
}

/// Reports over one live snapshot: the last `--window` (default 24h) before now, from what the
/// objects say about their past (admission times, finish times).
pub fn from_state(state: &FleetState, args: &ReportArgs<'_>) -> anyhow::Result<()> {
    let len = args.window.unwrap_or(LIVE_DEFAULT_WINDOW);
    write(&Ledger::from_state(state), Window::last(len, state.now()), args)
}

fn write(ledger: &Ledger, window: Window, args: &ReportArgs<'_>) -> anyhow::Result<()> {
    let query = Query { window, prices: args.prices.clone(), groupings: vec![args.by] };
    let report = crate::analytics::compute(ledger, &query)?;
    check_destination(args.format, args.out)?;
    let mut bytes = output::render(&report, args.by, args.format)?;
    // The table is text for a terminal, and its group names (teams, namespaces, queues) come
    // from labels anyone may set: it passes the terminal sanitiser. CSV, JSON and Parquet are
    // data and stay exact.
    if args.format == Format::Table
        && let std::borrow::Cow::Owned(clean) = crate::sanitise::text(&String::from_utf8_lossy(&bytes))
    {
        bytes = clean.into_bytes();
    }
    match args.out {
        Some(path) => {
            std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => {
            use std::io::Write;
            std::io::stdout().lock().write_all(&bytes)?;
        }
    }
    Ok(())
}
