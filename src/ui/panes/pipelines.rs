//! The Pipelines pane: can I trust my telemetry right now?

use ratatui::layout::Constraint;

use crate::model::{PipelineComponent, PipelineHealth, PipelineThresholds, PipelineVerdict};
use crate::state::RecordId;
use crate::ui::widgets::format;
use crate::ui::widgets::table::{
    Cell, Column, Ctx, Detail, DetailLine, SortKey, Spec, cluster_column, table_rows,
};

/// The theme scope of a pipeline verdict.
pub fn health_scope(h: PipelineHealth) -> &'static str {
    match h {
        PipelineHealth::Losing => "pipelines.losing",
        PipelineHealth::ScrapeFailed => "pipelines.scrape_failed",
        PipelineHealth::Silent => "pipelines.silent",
        PipelineHealth::Degraded => "pipelines.degraded",
        PipelineHealth::Healthy => "pipelines.ok",
    }
}

/// The theme scope of what may be said of a component: its verdict's, or the unknown one.
pub fn verdict_scope(v: PipelineVerdict) -> &'static str {
    match v {
        PipelineVerdict::Known(h) => health_scope(h),
        PipelineVerdict::Unknown { .. } => "pipelines.scrape_failed",
    }
}

/// The words for a verdict: `ok`, or `? unknown since 14:20 (was ok)` with the last-known
/// verdict marked as such.
pub fn verdict_label(v: PipelineVerdict) -> String {
    match v {
        PipelineVerdict::Known(h) => h.label().into(),
        PipelineVerdict::Unknown { since, was } => {
            format!("? unknown since {} (was {})", since.strftime("%H:%M"), was.label())
        }
    }
}

/// The short words for a table cell: `ok`, or `? 14:20 (was ok)`: unknown since 14:20 (the
/// summary line above says so in words; the detail and the filter have [`verdict_label`]'s).
pub fn verdict_short(v: PipelineVerdict) -> String {
    match v {
        PipelineVerdict::Known(h) => h.label().into(),
        PipelineVerdict::Unknown { since, was } => {
            format!("? {} (was {})", since.strftime("%H:%M"), was.label())
        }
    }
}

/// A table cell for a verdict (short words).
pub fn verdict_cell(v: PipelineVerdict) -> Cell {
    Cell::styled(verdict_short(v), verdict_scope(v))
}

/// A sort key for a verdict: worst first, an unknown before every known verdict.
pub fn verdict_key(v: PipelineVerdict) -> f64 {
    match v {
        PipelineVerdict::Unknown { .. } => -1.0,
        PipelineVerdict::Known(h) => h as u8 as f64,
    }
}

/// Minutes in the table's FLOW sparkline (the detail view draws the whole history).
pub const FLOW_MINUTES: usize = 10;

/// A sparkline of the component's throughput per minute, oldest first, over `minutes`
/// ending now: a blank is a minute where nothing flowed (or nothing was scraped), so a
/// pipeline going silent shows as its bars stopping (and one no longer scraped, as blanks
/// up to now). True as well when a minute lost data.
fn flow_spark(ctx: &Ctx, id: &RecordId, minutes: usize) -> (String, bool) {
    let h = ctx.state.pipeline_history();
    // The minute under way has no scrape yet for up to an interval: until then the sparkline
    // ends with the last scraped minute, so a blank is never just "not yet".
    let end = match h.samples(id).last() {
        Some(last) if ctx.now.duration_since(last.at) < jiff::SignedDuration::from_mins(1) => last.at,
        _ => ctx.now,
    };
    // Hundredths of an item: the sparkline scales to its largest bar, so the unit only keeps
    // a trickle (0.3/s) from rounding to a blank.
    let flow: Vec<u64> =
        h.per_minute(id, end, minutes, |s| s.flow).iter().map(|v| (v * 100.0).round() as u64).collect();
    let lost = h.per_minute(id, end, minutes, |s| s.lost).iter().any(|v| *v > 0.0);
    (format::spark(&flow), lost)
}

fn rate_cell(v: f64, bad: &'static str) -> Cell {
    if v > 0.0 { Cell::styled(format::rate(v), bad) } else { Cell::styled("0", "ui.dim") }
}

/// Width of the HEALTH column: room for `? 14:20 (was ok)` (3 more than `LOSING DATA` took,
/// so the workload and component keep their width).
pub const HEALTH_WIDTH: u16 = 16;

/// The Pipelines table.
pub fn spec() -> Spec<PipelineComponent> {
    Spec {
        all: |s| table_rows(s.pipelines()),
        get: |s, id| s.pipelines().get(id),
        default_sort: (1, false),
        filter_text: |ctx, id, p| {
            format!(
                "{} {} {} {} {} {}",
                id.cluster,
                p.workload,
                p.kind.label(),
                p.name,
                p.signal.label(),
                verdict_label(ctx.state.pipeline_verdict(id, p))
            )
        },
        detail,
        columns: vec![
            cluster_column(),
            Column {
                title: "HEALTH",
                width: Constraint::Length(HEALTH_WIDTH),
                cell: |ctx, id, p| verdict_cell(ctx.state.pipeline_verdict(id, p)),
                key: |ctx, id, p| SortKey::Num(verdict_key(ctx.state.pipeline_verdict(id, p))),
            },
            Column {
                title: "WORKLOAD",
                width: Constraint::Fill(2),
                cell: |_, _, p| Cell::text(p.workload.clone()),
                key: |_, _, p| SortKey::Text(p.workload.clone()),
            },
            Column {
                title: "COMPONENT",
                width: Constraint::Fill(3),
                cell: |_, _, p| Cell::text(format!("{} {}", p.kind.label(), p.name)),
                key: |_, _, p| SortKey::Text(format!("{} {}", p.kind.label(), p.name)),
            },
            Column {
                title: "SIGNAL",
                width: Constraint::Length(7),
                cell: |_, _, p| Cell::text(p.signal.label()),
                key: |_, _, p| SortKey::Text(p.signal.label().into()),
            },
            Column {
                title: "FLOW (10m)   NOW",
                width: Constraint::Length(FLOW_MINUTES as u16 + 9),
                cell: |ctx, id, p| {
                    let (spark, lost) = flow_spark(ctx, id, FLOW_MINUTES);
                    // Not seen now: the rate is the last one seen, marked `?` and dim.
                    if ctx.state.pipeline_verdict(id, p).known().is_none() {
                        let rate = format!("?{}", format::rate(p.throughput_per_s()));
                        return Cell::styled(format!("{spark} {rate:>8}"), "ui.dim");
                    }
                    let scope = if lost { "pipelines.losing" } else { "pipelines.queue" };
                    Cell::styled(format!("{spark} {:>8}", format::rate(p.throughput_per_s())), scope)
                },
                key: |_, _, p| SortKey::Num(p.throughput_per_s()),
            },
            Column {
                title: "FAILED",
                width: Constraint::Length(8),
                cell: |_, _, p| rate_cell(p.send_failed_per_s, "pipelines.degraded"),
                key: |_, _, p| SortKey::Num(p.send_failed_per_s),
            },
            Column {
                title: "DROPPED",
                width: Constraint::Length(8),
                cell: |_, _, p| rate_cell(p.dropped_per_s(), "pipelines.losing"),
                key: |_, _, p| SortKey::Num(p.dropped_per_s()),
            },
            Column {
                title: "QUEUE",
                width: Constraint::Length(13),
                cell: |ctx, _, p| match p.queue_fill() {
                    Some(f) => Cell::styled(
                        format!("{} {:>3.0}%", format::bar(f, 8), f * 100.0),
                        if p.queue_filling(&ctx.state.verdicts().pipelines) {
                            "pipelines.degraded"
                        } else {
                            "pipelines.queue"
                        },
                    ),
                    None => Cell::styled("—", "ui.dim"),
                },
                key: |_, _, p| SortKey::Num(p.queue_fill().unwrap_or(-1.0)),
            },
        ],
    }
}

/// The rules behind every verdict, as `[pipelines.thresholds]` set them.
fn thresholds_line(t: &PipelineThresholds) -> String {
    format!(
        "losing if lost > {}, degraded if send failures > {} or queue ≥ {:.0}%, silent if flow ≤ {}",
        format::rate(t.dropped_per_s),
        format::rate(t.send_failed_per_s),
        t.queue_fill * 100.0,
        format::rate(t.silent_per_s)
    )
}

fn detail(ctx: &Ctx, id: &RecordId, p: &PipelineComponent) -> Detail {
    let v = ctx.state.pipeline_verdict(id, p);
    let h = p.health(ctx.state.verdicts());
    let verdict = match h {
        PipelineHealth::Losing => {
            "Data is being dropped: items that could not be queued or were refused are gone."
        }
        PipelineHealth::ScrapeFailed => {
            "The self-metrics could not be scraped: this pipeline's state is unknown."
        }
        PipelineHealth::Silent => "Nothing flowed through this component in the last interval.",
        PipelineHealth::Degraded => "Sends are failing or the queue is nearly full: data loss is close.",
        PipelineHealth::Healthy => "Flowing normally.",
    };
    let said = match v {
        PipelineVerdict::Known(_) => DetailLine::Text(verdict.into(), health_scope(h)),
        PipelineVerdict::Unknown { .. } => DetailLine::Text(
            format!(
                "Its cluster's pipelines cannot be seen now (cluster unreachable or refused, or \
                 scrapes failing): the rates below are the last seen, and \"{}\" is last-known.",
                h.label()
            ),
            verdict_scope(v),
        ),
    };
    let mut lines = vec![
        DetailLine::Field { label: "verdict".into(), value: verdict_label(v), scope: verdict_scope(v) },
        said,
        DetailLine::field("thresholds", thresholds_line(&ctx.state.verdicts().pipelines)),
        DetailLine::field("cluster", id.cluster.to_string()),
        DetailLine::field("workload", p.workload.clone()),
        DetailLine::field("component", format!("{} {}", p.kind.label(), p.name)),
        DetailLine::field("signal", p.signal.label()),
        DetailLine::Section("rates".into()),
        DetailLine::field("throughput", format::rate(p.throughput_per_s())),
        DetailLine::field(
            &format!("last {} min", crate::state::PIPELINE_HISTORY.as_mins()),
            flow_spark(ctx, id, crate::state::PIPELINE_HISTORY.as_mins() as usize).0,
        ),
        DetailLine::field("accepted", format::rate(p.accepted_per_s)),
        DetailLine::field("refused", format::rate(p.refused_per_s)),
        DetailLine::field("sent", format::rate(p.sent_per_s)),
        DetailLine::field("send failed", format::rate(p.send_failed_per_s)),
        DetailLine::field("enqueue failed (lost)", format::rate(p.enqueue_failed_per_s)),
    ];
    if let (Some(s), Some(c)) = (p.queue_size, p.queue_capacity) {
        lines.push(DetailLine::field("queue", format!("{s} / {c}")));
    }
    lines.push(DetailLine::field(
        "scraped",
        format!("{} ({} ago)", p.scraped_at, format::age_precise(ctx.now.duration_since(p.scraped_at))),
    ));
    let samples = ctx.state.pipeline_history().samples(id);
    const SHOWN: usize = 10;
    lines.push(DetailLine::Section(format!(
        "recent scrapes ({} in the last {} min, latest {} shown)",
        samples.len(),
        crate::state::PIPELINE_HISTORY.as_mins(),
        samples.len().min(SHOWN)
    )));
    for s in samples.iter().rev().take(SHOWN) {
        lines.push(DetailLine::field(
            &format::clock(s.at),
            format!(
                "flow {} · lost {} · failed {}",
                format::rate(s.flow),
                format::rate(s.lost),
                format::rate(s.failed)
            ),
        ));
    }
    if let Some(e) = &p.scrape_error {
        lines.push(DetailLine::Section("scrape error".into()));
        lines.push(DetailLine::Text(e.clone(), "ui.error"));
    }
    Detail { title: format!("{} · {} {}", p.workload, p.kind.label(), p.name), lines }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use jiff::Timestamp;

    use super::*;
    use crate::model::{Change, ClusterId, ComponentKind, Observation, Record, Signal};
    use crate::state::FleetState;
    use crate::ui::widgets::table::TableView;

    #[test]
    fn the_detail_lists_the_scrapes_behind_the_verdict_newest_first() {
        let mut state = FleetState::default();
        for (t, sent, lost) in [("2026-11-27T14:00:00Z", 100.0, 0.0), ("2026-11-27T14:00:15Z", 60.0, 40.0)] {
            let mut p = PipelineComponent::unmeasured(
                "otel/gw".into(),
                ComponentKind::Exporter,
                "otlp".into(),
                Signal::Logs,
                t.parse::<Timestamp>().unwrap(),
            );
            p.sent_per_s = sent;
            p.enqueue_failed_per_s = lost;
            state.apply(&Observation {
                at: p.scraped_at,
                cluster: ClusterId::new("a"),
                change: Change::Upsert { record: Record::Pipeline(p) },
            });
        }
        let id = state.pipelines().keys().next().unwrap().clone();
        let text = spec().detail(&state, &id).unwrap().to_text();
        let scrapes = text.split("## recent scrapes").nth(1).unwrap();
        assert!(scrapes.starts_with(" (2 in the last 15 min"), "{text}");
        let newest = scrapes.find("14:00:15: flow 60/s · lost 40/s").unwrap();
        let oldest = scrapes.find("14:00:00: flow 100/s · lost 0").unwrap();
        assert!(newest < oldest, "{text}");
    }
}
