//! `fleettop diff`: what changed between two moments of a recording.

use std::io::Write;

use jiff::Timestamp;

use crate::record::Recording;
use crate::record::when as offset;

/// Prints the diff of `rec` (called `name` in messages) between `at` (default: its start) and
/// `to` (default: its end), as text or JSON.
pub fn print(
    rec: &Recording,
    name: &str,
    at: Option<&str>,
    to: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    for w in rec.warnings() {
        say!("fleettop: {name}: {w}");
    }
    let from = moment(rec, "--at", at, rec.start())?;
    let to = moment(rec, "--to", to, rec.end())?;
    let d = crate::evidence::diff(&rec.state_at(from), &rec.state_at(to));
    let mut stdout = std::io::stdout().lock();
    if json {
        // JSON stays exact: controls are written as JSON escapes.
        crate::sanitise::write_json_pretty(&mut stdout, &d)?;
        writeln!(stdout)?;
    } else {
        let text = crate::evidence::text::render(&d, name);
        stdout.write_all(crate::sanitise::text(&text).as_bytes())?;
    }
    Ok(())
}

/// Resolves a moment the user wrote, refusing one outside the recording (a silent clamp would
/// compare other moments than the ones asked for).
pub(super) fn moment(
    rec: &Recording,
    flag: &str,
    when: Option<&str>,
    default: Timestamp,
) -> anyhow::Result<Timestamp> {
    let Some(w) = when else { return Ok(default) };
    let t = offset::resolve(w, rec.start()).map_err(|e| anyhow::anyhow!(e.replacen("--at", flag, 1)))?;
    if t < rec.start() || t > rec.end() {
        anyhow::bail!("{flag} {w}: {t} is outside the recording ({} to {})", rec.start(), rec.end());
    }
    Ok(t)
}
