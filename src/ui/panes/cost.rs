//! The Cost pane: the latest [`CostReport`] as styled lines (a few dozen rows at most, so no
//! virtual table): usage and cost by the chosen grouping, share of usage against share of
//! entitlement with bars and each team's dominant-resource share, Jain's index and the verdict,
//! queue waits, preemptions.

use crate::analytics::output::{dominant, duration, percent};
use crate::analytics::report::{By, CostReport, OVER, UsageRow, verdict_parts};
use crate::ui::cost::CostStatus;
use crate::ui::summaries::Segment;
use crate::ui::widgets::format;

/// How far the pane scrolls down (more than any report has lines).
pub const MAX_SCROLL: u16 = 500;

/// The pane's lines for what the analytics have to show.
pub fn lines(status: &CostStatus<'_>, by: By, width: u16) -> Vec<Vec<Segment>> {
    match status {
        CostStatus::Ready(r) => report_lines(r, by, width),
        CostStatus::Computing => vec![vec![("computing cost and fairness…".into(), "ui.dim")]],
        CostStatus::Failed(e) => vec![vec![(format!("cost analytics failed: {e}"), "ui.error")]],
    }
}

fn text(s: impl Into<String>) -> Segment {
    (s.into(), "ui.text")
}

fn dim(s: impl Into<String>) -> Segment {
    (s.into(), "ui.dim")
}

/// Left-pads or right-pads to `w` characters.
fn cell(s: &str, w: usize, right: bool) -> String {
    let n = s.chars().count();
    let s: String =
        if n > w { s.chars().take(w.saturating_sub(1)).chain(['…']).collect() } else { s.into() };
    if right { format!("{s:>w$}") } else { format!("{s:<w$}") }
}

fn heading(title: String, note: Option<String>) -> Vec<Segment> {
    let mut line = vec![(format!("── {title}"), "ui.title")];
    if let Some(n) = note {
        line.push(dim(format!("  {n}")));
    }
    line
}

fn report_lines(r: &CostReport, by: By, width: u16) -> Vec<Vec<Segment>> {
    let mut out = Vec::new();
    let w = &r.window;
    let mut top = vec![dim(format!(
        "window {} – {} UTC ({})",
        w.start().strftime("%H:%M:%S"),
        w.end().strftime("%H:%M:%S"),
        duration((w.end_ms - w.start_ms) as f64 / 1000.0)
    ))];
    if !r.prices.is_empty() {
        let prices: Vec<String> =
            r.prices.iter().map(|p| format!("{} ${:.2}", p.product, p.usd_per_gpu_hour)).collect();
        top.push(dim(format!(" · per GPU-hour: {}", prices.join(" "))));
    }
    out.push(top);
    let mut tabs = vec![dim("by ")];
    for b in By::ALL {
        if b == by {
            tabs.push((format!("[{}]", b.label()), "ui.tab.active"));
        } else {
            tabs.push((format!(" {} ", b.label()), "ui.tab"));
        }
    }
    tabs.push(dim("  (] [ to change)"));
    out.push(tabs);
    let over = r.fairness.teams.iter().any(|t| t.ratio.is_some_and(|x| x > OVER));
    for part in verdict_parts(&r.fairness) {
        out.push(vec![(part, if over { "ui.warning" } else { "ui.text" })]);
    }

    out.push(Vec::new());
    usage(&mut out, r, by);
    out.push(Vec::new());
    shares(&mut out, r, if width >= 110 { 20 } else { 10 });
    jain(&mut out, r);
    out.push(Vec::new());
    waits(&mut out, r);
    out.push(Vec::new());
    preemptions(&mut out, r);
    out
}

fn usage(out: &mut Vec<Vec<Segment>>, r: &CostReport, by: By) {
    let note = (!r.utilisation_data).then(|| "idle: no utilisation data".to_string());
    out.push(heading(format!("GPU-hours and cost by {}", by.label()), note));
    let rows = r.rows(by).unwrap_or_default();
    let kw = rows.iter().map(|x| x.key.chars().count()).max().unwrap_or(0).clamp(12, 32);
    let head = format!(
        "{} {} {} {} {} {} {}",
        cell(&by.label().to_uppercase(), kw, false),
        cell("GPU-HOURS", 10, true),
        cell("COST USD", 10, true),
        cell("SHARE", 7, true),
        cell("IDLE GPU-H", 11, true),
        cell("IDLE USD", 9, true),
        cell("ALLOCS", 7, true),
    );
    out.push(vec![(head, "table.header")]);
    let line = |x: &UsageRow, scope: &'static str| {
        let idle = |v: Option<f64>, f: fn(f64) -> String| v.map_or_else(|| "—".into(), f);
        vec![(
            format!(
                "{} {} {} {} {} {} {}",
                cell(&x.key, kw, false),
                cell(&format!("{:.2}", x.gpu_hours), 10, true),
                cell(&format!("{:.2}", x.cost_usd), 10, true),
                cell(&percent(x.share), 7, true),
                cell(&idle(x.idle_gpu_hours, |h| format!("{h:.2}")), 11, true),
                cell(&idle(x.idle_cost_usd, |c| format!("{c:.2}")), 9, true),
                cell(&x.allocations.to_string(), 7, true),
            ),
            scope,
        )]
    };
    if rows.is_empty() {
        out.push(vec![dim("no GPU allocations in the window")]);
    }
    for x in rows {
        out.push(line(x, "ui.text"));
    }
    out.push(line(&r.total, "ui.dim"));
}

fn shares(out: &mut Vec<Vec<Segment>>, r: &CostReport, bar: usize) {
    let f = &r.fairness;
    out.push(heading("share of GPU-hours vs share of entitlement (nominal GPU quota)".into(), None));
    let tw = f.teams.iter().map(|t| t.team.chars().count()).max().unwrap_or(0).clamp(12, 24);
    let head = format!(
        "{} {} {} {} {} {}  {}",
        cell("TEAM", tw, false),
        cell("USAGE", bar + 6, false),
        cell("ENTITLED", bar + 6, false),
        cell("RATIO", 6, true),
        cell("BORROWED GPU-H", 15, true),
        cell("DOMINANT", 13, true),
        "COHORT"
    );
    out.push(vec![(head, "table.header")]);
    if f.teams.is_empty() {
        out.push(vec![dim("no team used GPUs or has GPU quota")]);
    }
    // One scale for both bars, so that the longest bar is the largest share.
    let top = f.teams.iter().flat_map(|t| [t.usage_share, t.entitlement_share]).fold(0.0, f64::max);
    let scale = |x: f64| if top > 0.0 { x / top } else { 0.0 };
    for t in &f.teams {
        let over = t.ratio.is_some_and(|x| x > OVER);
        out.push(vec![
            text(format!("{} ", cell(&t.team, tw, false))),
            (
                format::bar(scale(t.usage_share), bar),
                if over { "gpu.quota.borrowed" } else { "gpu.quota.used" },
            ),
            text(format!(" {:>4} ", percent(t.usage_share))),
            (format::bar(scale(t.entitlement_share), bar), "gpu.quota.free"),
            text(format!(" {:>4} ", percent(t.entitlement_share))),
            text(format!(
                "{} {} {}  {}",
                cell(&t.ratio.map_or_else(|| "—".into(), |x| format!("{x:.2}")), 6, true),
                cell(&format!("{:.2}", t.borrowed_gpu_hours), 15, true),
                cell(&dominant(t), 13, true),
                if t.cohorts.is_empty() { "—".into() } else { t.cohorts.join(",") }
            )),
        ]);
    }
}

fn jain(out: &mut Vec<Vec<Segment>>, r: &CostReport) {
    let f = &r.fairness;
    out.push(match f.jain_index {
        Some(j) => vec![
            text(format!("Jain's fairness index {j:.2}")),
            dim(format!(" over {} teams (1 = every team uses in proportion to its quota)", f.teams_in_index)),
        ],
        None => vec![dim("Jain's fairness index: no team with GPU quota used GPUs")],
    });
}

fn waits(out: &mut Vec<Vec<Segment>>, r: &CostReport) {
    out.push(heading("queue wait per ClusterQueue".into(), Some("still waiting: counted so far".into())));
    let cw = r.waits.iter().map(|q| q.cluster.chars().count()).max().unwrap_or(0).clamp(8, 24);
    let qw = r.waits.iter().map(|q| q.cluster_queue.chars().count()).max().unwrap_or(0).clamp(8, 24);
    let head = format!(
        "{} {} {} {} {} {} {}",
        cell("CLUSTER", cw, false),
        cell("QUEUE", qw, false),
        cell("WAITS", 6, true),
        cell("WAITING", 8, true),
        cell("P50", 7, true),
        cell("P95", 7, true),
        cell("MAX", 7, true)
    );
    out.push(vec![(head, "table.header")]);
    if r.waits.is_empty() {
        out.push(vec![dim("no queue waits in the window")]);
    }
    for q in &r.waits {
        let scope = if q.still_waiting > 0 { "gpu.pending" } else { "ui.text" };
        out.push(vec![(
            format!(
                "{} {} {} {} {} {} {}",
                cell(&q.cluster, cw, false),
                cell(&q.cluster_queue, qw, false),
                cell(&q.waits.to_string(), 6, true),
                cell(&q.still_waiting.to_string(), 8, true),
                cell(&duration(q.p50_s), 7, true),
                cell(&duration(q.p95_s), 7, true),
                cell(&duration(q.max_s), 7, true)
            ),
            scope,
        )]);
    }
}

fn preemptions(out: &mut Vec<Vec<Segment>>, r: &CostReport) {
    let p = &r.preemptions;
    let note = (p.unattributed > 0)
        .then(|| format!("{} not attributed: the message names the preemptor by UID only", p.unattributed));
    out.push(heading("preemptions per team".into(), note));
    let tw = p.teams.iter().map(|t| t.team.chars().count()).max().unwrap_or(0).clamp(12, 24);
    let head = format!(
        "{} {} {} {}",
        cell("TEAM", tw, false),
        cell("SUFFERED", 9, true),
        cell("GPUS LOST", 10, true),
        cell("CAUSED", 7, true)
    );
    out.push(vec![(head, "table.header")]);
    if p.teams.is_empty() {
        out.push(vec![dim("no preemptions in the window")]);
    }
    for t in &p.teams {
        out.push(vec![(
            format!(
                "{} {} {} {}",
                cell(&t.team, tw, false),
                cell(&t.suffered.to_string(), 9, true),
                cell(&t.suffered_gpus.to_string(), 10, true),
                cell(&t.caused.to_string(), 7, true)
            ),
            if t.suffered > 0 { "gpu.evicted" } else { "ui.text" },
        )]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_pad_and_cut() {
        assert_eq!(cell("ab", 4, false), "ab  ");
        assert_eq!(cell("ab", 4, true), "  ab");
        assert_eq!(cell("abcdef", 4, false), "abc…");
    }

    #[test]
    fn the_pane_says_when_it_has_nothing_yet() {
        let computing = lines(&CostStatus::Computing, By::Team, 120);
        assert_eq!(computing[0][0].0, "computing cost and fairness…");
        let failed = lines(&CostStatus::Failed("out of memory"), By::Team, 120);
        assert_eq!(failed[0][0], ("cost analytics failed: out of memory".to_string(), "ui.error"));
    }
}
