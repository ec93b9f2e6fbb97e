//! A [`CostReport`] as text: an aligned table for people, CSV for spreadsheets and
//! chargeback (the grouped usage table), JSON for scripts (every measure); and as Parquet (the
//! grouped usage table, typed; [`super::parquet`]) for analytics engines.

use std::fmt::Write as _;

use super::report::{By, CostReport, ShareRow, UsageRow, verdict};

/// Output formats of `fleettop report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text tables of every measure.
    Table,
    /// The grouped usage table as CSV (RFC 4180).
    Csv,
    /// The whole report as JSON.
    Json,
    /// The grouped usage table as a Parquet file (binary: written to a file, never a terminal).
    Parquet,
}

impl Format {
    /// Parses a command-line word.
    pub fn parse(word: &str) -> Option<Format> {
        match word {
            "table" => Some(Format::Table),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// Whether the output is binary (not for a terminal or a pipe to a text tool).
    pub fn is_binary(self) -> bool {
        self == Format::Parquet
    }
}

/// A report could not be written in its format.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// JSON serialisation failed.
    #[error("cannot write the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Parquet encoding failed.
    #[error("cannot write the report as Parquet: {0}")]
    Parquet(#[from] polars::error::PolarsError),
}

/// Writes `report` grouped `by` in `format`: the bytes of the text, or of the Parquet file.
pub fn render(report: &CostReport, by: By, format: Format) -> Result<Vec<u8>, RenderError> {
    Ok(match format {
        Format::Table => table(report, by).into_bytes(),
        Format::Csv => csv(report, by).into_bytes(),
        Format::Json => {
            // Group names come from labels: controls are written as JSON escapes.
            let mut bytes = Vec::new();
            crate::sanitise::write_json_pretty(&mut bytes, report)?;
            bytes.push(b'\n');
            bytes
        }
        Format::Parquet => super::parquet::parquet(report, by)?,
    })
}

/// `1h05m`, `3m20s`, `45s` (whole seconds, rounded down, as the replay timeline shows them).
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).floor() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `46 %`.
pub fn percent(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

/// A team's dominant-resource share and its resource: `56 % cpu`, `0 %` (held nothing with
/// quota), `—` (no resource has quota).
pub fn dominant(t: &ShareRow) -> String {
    match (t.dominant_share, &t.dominant_resource) {
        (Some(x), Some(r)) => format!("{} {r}", percent(x)),
        (Some(x), None) => percent(x),
        (None, _) => "—".into(),
    }
}

fn money(x: f64) -> String {
    format!("{x:.2}")
}

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map_or_else(|| "—".to_string(), f)
}

/// The first `left` columns (names) left-aligned, the rest (numbers) right-aligned, two spaces
/// between columns.
fn grid(out: &mut String, left: usize, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let pad = " ".repeat(w.saturating_sub(c.chars().count()));
            if i > 0 {
                s.push_str("  ");
            }
            if i < left {
                s.push_str(c);
                s.push_str(&pad);
            } else {
                s.push_str(&pad);
                s.push_str(c);
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for r in rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
}

fn usage_cells(r: &UsageRow) -> Vec<String> {
    vec![
        r.key.clone(),
        format!("{:.2}", r.gpu_hours),
        money(r.cost_usd),
        percent(r.share),
        opt(r.idle_gpu_hours, |h| format!("{h:.2}")),
        opt(r.idle_cost_usd, money),
        r.allocations.to_string(),
    ]
}

/// Every measure as aligned text tables.
pub fn table(r: &CostReport, by: By) -> String {
    let mut out = String::new();
    let w = &r.window;
    let same_day = w.start().strftime("%Y-%m-%d").to_string() == w.end().strftime("%Y-%m-%d").to_string();
    let end = w.end().strftime(if same_day { "%H:%M:%S UTC" } else { "%Y-%m-%d %H:%M:%S UTC" });
    let _ = writeln!(
        out,
        "Cost and fairness, {} – {end} ({})",
        w.start().strftime("%Y-%m-%d %H:%M:%S"),
        duration((w.end_ms - w.start_ms) as f64 / 1000.0)
    );
    let prices: Vec<String> =
        r.prices.iter().map(|p| format!("{} {:.2}", p.product, p.usd_per_gpu_hour)).collect();
    if !prices.is_empty() {
        let _ = writeln!(out, "prices, USD per GPU-hour: {}", prices.join(" · "));
    }
    if !r.utilisation_data {
        let _ = writeln!(out, "idle cost: no utilisation data in the window");
    }

    let _ = writeln!(out, "\nGPU-hours and cost by {}", by.label());
    let heading = by.label().to_uppercase();
    let header =
        [heading.as_str(), "GPU-HOURS", "COST USD", "SHARE", "IDLE GPU-H", "IDLE USD", "ALLOCATIONS"];
    let mut rows: Vec<Vec<String>> = r.rows(by).unwrap_or_default().iter().map(usage_cells).collect();
    rows.push(usage_cells(&r.total));
    grid(&mut out, 1, &header, &rows);

    let _ = writeln!(out, "\nShare of GPU-hours vs share of entitlement (nominal GPU quota)");
    let rows: Vec<Vec<String>> = r
        .fairness
        .teams
        .iter()
        .map(|t| {
            vec![
                t.team.clone(),
                if t.cohorts.is_empty() { "—".into() } else { t.cohorts.join(",") },
                format!("{:.2}", t.gpu_hours),
                percent(t.usage_share),
                format!("{:.0}", t.nominal_gpus),
                percent(t.entitlement_share),
                opt(t.ratio, |x| format!("{x:.2}")),
                format!("{:.2}", t.borrowed_gpu_hours),
                dominant(t),
            ]
        })
        .collect();
    grid(
        &mut out,
        2,
        &[
            "TEAM",
            "COHORT",
            "GPU-HOURS",
            "USAGE",
            "QUOTA GPUS",
            "ENTITLED",
            "RATIO",
            "BORROWED GPU-H",
            "DOMINANT SHARE",
        ],
        &rows,
    );
    let _ = match r.fairness.jain_index {
        Some(j) => writeln!(
            out,
            "Jain's fairness index {j:.2} over {} teams (1 = every team uses in proportion to its quota)",
            r.fairness.teams_in_index
        ),
        None => writeln!(out, "Jain's fairness index: no team with quota used GPUs"),
    };
    let _ = writeln!(out, "{}", verdict(&r.fairness));

    let _ = writeln!(out, "\nQueue wait per ClusterQueue (still waiting: counted so far)");
    let rows: Vec<Vec<String>> = r
        .waits
        .iter()
        .map(|q| {
            vec![
                q.cluster.clone(),
                q.cluster_queue.clone(),
                q.waits.to_string(),
                q.still_waiting.to_string(),
                duration(q.p50_s),
                duration(q.p95_s),
                duration(q.max_s),
            ]
        })
        .collect();
    grid(&mut out, 2, &["CLUSTER", "QUEUE", "WAITS", "STILL WAITING", "P50", "P95", "MAX"], &rows);

    let _ = writeln!(out, "\nPreemptions per team");
    let rows: Vec<Vec<String>> = r
        .preemptions
        .teams
        .iter()
        .map(|p| {
            vec![p.team.clone(), p.suffered.to_string(), p.suffered_gpus.to_string(), p.caused.to_string()]
        })
        .collect();
    grid(&mut out, 1, &["TEAM", "SUFFERED", "GPUS LOST", "CAUSED"], &rows);
    if r.preemptions.unattributed > 0 {
        let _ = writeln!(
            out,
            "{} preemption(s) name their preemptor by workload UID only: not attributed to a team",
            r.preemptions.unattributed
        );
    }
    out
}

/// Quotes a CSV field when it needs it.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// The grouped usage table as CSV: one row per group, no total; empty idle fields when there
/// is no utilisation data for the group.
pub fn csv(r: &CostReport, by: By) -> String {
    let mut out =
        format!("{},gpu_hours,cost_usd,share,idle_gpu_hours,idle_cost_usd,allocations\n", by.label());
    let num = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for row in r.rows(by).unwrap_or_default() {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            field(&row.key),
            row.gpu_hours,
            row.cost_usd,
            row.share,
            num(row.idle_gpu_hours),
            num(row.idle_cost_usd),
            row.allocations
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_fields() {
        assert_eq!(duration(45.9), "45s");
        assert_eq!(duration(200.0), "3m20s");
        assert_eq!(duration(3900.0), "1h05m");
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(Format::parse("csv"), Some(Format::Csv));
        assert_eq!(Format::parse("parquet"), Some(Format::Parquet));
        assert!(Format::Parquet.is_binary() && !Format::Json.is_binary());
        assert_eq!(Format::parse("xml"), None);
        let mut t = ShareRow {
            team: "a".into(),
            cohorts: vec![],
            gpu_hours: 1.0,
            usage_share: 1.0,
            nominal_gpus: 8.0,
            entitlement_share: 1.0,
            ratio: Some(1.0),
            borrowed_gpu_hours: 0.0,
            dominant_share: Some(0.5625),
            dominant_resource: Some("cpu".into()),
        };
        assert_eq!(dominant(&t), "56 % cpu");
        (t.dominant_share, t.dominant_resource) = (Some(0.0), None);
        assert_eq!(dominant(&t), "0 %");
        t.dominant_share = None;
        assert_eq!(dominant(&t), "—");
    }

    #[test]
    fn grids_align_numbers_right() {
        let mut out = String::new();
        grid(
            &mut out,
            1,
            &["TEAM", "GPU-HOURS"],
            &[vec!["a".into(), "1.00".into()], vec!["longer".into(), "22.50".into()]],
        );
        assert_eq!(out, "TEAM    GPU-HOURS\na            1.00\nlonger      22.50\n");
    }
}
