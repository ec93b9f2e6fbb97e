//! The one-line summaries panes draw above their tables, as (text, scope) segments.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Enforcement, ExceptionStatus, PipelineHealth};
use crate::state::{EXPIRY_WINDOW, FleetState};
use crate::ui::panes::gpu;
use crate::ui::widgets::format;

/// A run of text and the theme scope it is drawn with.
pub type Segment = (String, &'static str);

/// `412 denials (deny 380 · warn 12) in 3 clusters · most: require-run-as-nonroot (301)`.
pub fn denials(state: &FleetState) -> Vec<Segment> {
    let mut by_action: BTreeMap<Enforcement, u64> = BTreeMap::new();
    let mut clusters = BTreeSet::new();
    let mut total = 0u64;
    for (id, d) in state.denials() {
        *by_action.entry(d.enforcement).or_default() += d.count;
        clusters.insert(&id.cluster);
        total += d.count;
    }
    if total == 0 {
        return vec![("no denials seen".into(), "ui.dim")];
    }
    let mut out = vec![(format!("{total} denials in {} clusters  ", clusters.len()), "ui.text")];
    for (a, n) in by_action {
        out.push((format!("{} {n}  ", a.label()), crate::ui::panes::denials::enforcement_scope(a)));
    }
    let top = state
        .indexes()
        .denials_by_policy
        .iter()
        .map(|(p, ids)| {
            (ids.iter().filter_map(|id| state.denials().get(id)).map(|d| d.count).sum::<u64>(), p)
        })
        .max();
    if let Some((n, p)) = top {
        out.push((format!("· most: {p} ({n})"), "ui.dim"));
    }
    out
}

/// `2 losing data · 1 degraded · 1 scrape failed · 20 ok`.
pub fn pipelines(state: &FleetState) -> Vec<Segment> {
    let mut counts: BTreeMap<PipelineHealth, usize> = BTreeMap::new();
    for p in state.pipelines().values() {
        *counts.entry(p.health()).or_default() += 1;
    }
    if counts.is_empty() {
        return vec![("no pipeline components discovered".into(), "ui.dim")];
    }
    counts
        .into_iter()
        .map(|(h, n)| (format!("{n} {}  ", h.label()), crate::ui::panes::pipelines::health_scope(h)))
        .collect()
}

/// `1 expired (still bypassing) · 2 expiring within 7d · 4 without expiry · 3 active`.
pub fn exceptions(state: &FleetState) -> Vec<Segment> {
    let mut counts: BTreeMap<ExceptionStatus, usize> = BTreeMap::new();
    for e in state.exceptions().values() {
        *counts.entry(e.status(state.now(), EXPIRY_WINDOW)).or_default() += 1;
    }
    if counts.is_empty() {
        return vec![("no policy exceptions seen".into(), "ui.dim")];
    }
    counts
        .into_iter()
        .map(|(s, n)| {
            let text = match s {
                ExceptionStatus::Expired => format!("{n} expired but still bypassing  "),
                ExceptionStatus::Expiring => format!("{n} expiring within 7d  "),
                ExceptionStatus::NoExpiry => format!("{n} with no expiry  "),
                ExceptionStatus::Active => format!("{n} active  "),
            };
            (text, crate::ui::panes::exceptions::status_scope(s))
        })
        .collect()
}

/// GPU view tabs: `[queues]  workloads  pending pods  nodes`.
pub fn gpu_views(current: gpu::GpuView) -> Vec<Segment> {
    gpu::GpuView::ALL
        .iter()
        .map(|v| {
            if *v == current {
                (format!("[{}] ", v.label()), "ui.tab.active")
            } else {
                (format!(" {}  ", v.label()), "ui.tab")
            }
        })
        .collect()
}

/// One line per cluster: `gpu-train-us  48/64 allocated  ████····  24 waiting  3 idle`.
pub fn gpu_contention(state: &FleetState) -> Vec<Vec<Segment>> {
    gpu::contention(state)
        .into_iter()
        .take(3)
        .map(|(cluster, c)| {
            let fill = if c.allocatable > 0 { c.allocated as f64 / c.allocatable as f64 } else { 0.0 };
            let mut line = vec![
                (format!("{cluster:<16} "), "ui.text"),
                (format::bar(fill, 12), "gpu.quota.used"),
                (format!(" {}/{} allocated  ", c.allocated, c.allocatable), "ui.text"),
            ];
            if c.waiting > 0 {
                line.push((format!("{} GPUs wanted by waiting work  ", c.waiting), "gpu.pending"));
            }
            if c.idle > 0 {
                line.push((format!("{} allocated but idle", c.idle), "gpu.idle"));
            }
            line
        })
        .collect()
}
