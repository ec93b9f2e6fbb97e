//! GPU-hours, cost and idle-but-allocated cost, grouped.
//!
//! An allocation counts for the part of it inside the window: one that started before the
//! window starts at its start, one still running (or ending after it) ends at its end.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::{HOURS_PER_MS, Namer, f64s, frames::NONE, round, u32s};
use crate::analytics::report::{By, UsageRow};
use crate::analytics::window::Window;

/// Clips `start`/`end` (null = still going) to the window as `s`/`e`, drops what falls
/// outside, and adds `hours` = (e − s) in hours.
pub(super) fn clip(lf: LazyFrame, w: Window) -> LazyFrame {
    let (w0, w1) = (lit(w.start_ms), lit(w.end_ms));
    lf.with_columns([
        when(col("start").lt(w0.clone())).then(w0).otherwise(col("start")).alias("s"),
        when(col("end").is_null().or(col("end").gt(w1.clone()))).then(w1).otherwise(col("end")).alias("e"),
    ])
    .filter(col("e").gt(col("s")))
    .with_column(((col("e") - col("s")).cast(DataType::Float64) * lit(HOURS_PER_MS)).alias("hours"))
}

/// Allocations within the window with `gpu_hours` and `cost`.
pub(super) fn costed(clipped: LazyFrame) -> LazyFrame {
    clipped
        .with_column((col("hours") * col("gpus").cast(DataType::Float64)).alias("gpu_hours"))
        .with_column((col("gpu_hours") * col("price")).alias("cost"))
}

/// Utilisation stretches within the window with `idle_gpu_hours` and `idle_cost`.
pub(super) fn idle_costed(clipped: LazyFrame) -> LazyFrame {
    clipped
        .with_column(when(col("idle")).then(col("hours")).otherwise(lit(0.0)).alias("idle_gpu_hours"))
        .with_column((col("idle_gpu_hours") * col("price")).alias("idle_cost"))
}

fn keys(by: By) -> Vec<Expr> {
    match by {
        By::Team => vec![col("team")],
        By::Namespace => vec![col("namespace")],
        By::Queue => vec![col("cluster"), col("queue")],
        By::Cluster => vec![col("cluster")],
        By::Product => vec![col("product")],
    }
}

fn key_ids(df: &DataFrame, by: By) -> PolarsResult<Vec<(u32, u32)>> {
    Ok(match by {
        By::Queue => u32s(df, "cluster")?.into_iter().zip(u32s(df, "queue")?).collect(),
        _ => {
            let name = match by {
                By::Team => "team",
                By::Namespace => "namespace",
                By::Cluster => "cluster",
                _ => "product",
            };
            u32s(df, name)?.into_iter().map(|k| (k, NONE)).collect()
        }
    })
}

fn key_name(names: &Namer, by: By, (a, b): (u32, u32)) -> String {
    match by {
        By::Team => names.name(a, "(no team)"),
        By::Namespace => names.name(a, "(no namespace)"),
        By::Queue => format!("{}/{}", names.name(a, "?"), names.name(b, "(no queue)")),
        By::Cluster => names.name(a, "?"),
        By::Product => names.product(a),
    }
}

/// Sums per group.
#[derive(Default)]
struct Sums {
    gpu_hours: f64,
    cost: f64,
    allocations: u32,
    idle: Option<(f64, f64)>,
}

/// GPU-hours, cost and idle per group; `utilisation_data` = some GPU reported utilisation in
/// the window (groups without any then get `None` idle figures, never a made-up zero).
pub(super) fn grouped(
    allocations: LazyFrame,
    utilisation: LazyFrame,
    by: By,
    utilisation_data: bool,
    names: &Namer,
) -> PolarsResult<Vec<UsageRow>> {
    let used = costed(allocations)
        .group_by(keys(by))
        .agg([
            col("gpu_hours").sum().alias("gpu_hours"),
            col("cost").sum().alias("cost"),
            len().alias("allocations"),
        ])
        .collect()?;
    let mut sums: BTreeMap<(u32, u32), Sums> = BTreeMap::new();
    let (gh, cost, n) = (f64s(&used, "gpu_hours")?, f64s(&used, "cost")?, u32s(&used, "allocations")?);
    for (i, k) in key_ids(&used, by)?.into_iter().enumerate() {
        let s = sums.entry(k).or_default();
        s.gpu_hours = gh.get(i).copied().unwrap_or(0.0);
        s.cost = cost.get(i).copied().unwrap_or(0.0);
        s.allocations = n.get(i).copied().unwrap_or(0);
    }
    if utilisation_data {
        let idle = idle_costed(utilisation)
            .group_by(keys(by))
            .agg([
                col("idle_gpu_hours").sum().alias("idle_gpu_hours"),
                col("idle_cost").sum().alias("idle_cost"),
            ])
            .collect()?;
        let (ih, ic) = (f64s(&idle, "idle_gpu_hours")?, f64s(&idle, "idle_cost")?);
        for (i, k) in key_ids(&idle, by)?.into_iter().enumerate() {
            sums.entry(k).or_default().idle =
                Some((ih.get(i).copied().unwrap_or(0.0), ic.get(i).copied().unwrap_or(0.0)));
        }
    }
    // A group with neither GPU-hours nor idle time (a GPU outside Kueue that was busy) says nothing.
    sums.retain(|_, s| s.gpu_hours > 0.0 || s.idle.is_some_and(|(h, _)| h > 0.0));
    let total: f64 = sums.values().map(|s| s.gpu_hours).sum();
    let mut rows: Vec<UsageRow> = sums
        .into_iter()
        .map(|(k, s)| UsageRow {
            key: key_name(names, by, k),
            gpu_hours: round(s.gpu_hours, 4),
            cost_usd: round(s.cost, 2),
            share: if total > 0.0 { round(s.gpu_hours / total, 4) } else { 0.0 },
            idle_gpu_hours: s.idle.map(|(h, _)| round(h, 4)),
            idle_cost_usd: s.idle.map(|(_, c)| round(c, 2)),
            allocations: s.allocations,
        })
        .collect();
    rows.sort_by(|a, b| b.gpu_hours.total_cmp(&a.gpu_hours).then_with(|| a.key.cmp(&b.key)));
    Ok(rows)
}

/// Everything together.
pub(super) fn total(
    allocations: LazyFrame,
    utilisation: LazyFrame,
    utilisation_data: bool,
) -> PolarsResult<UsageRow> {
    let used = costed(allocations)
        .select([
            col("gpu_hours").sum().alias("gpu_hours"),
            col("cost").sum().alias("cost"),
            len().alias("allocations"),
        ])
        .collect()?;
    let first = |v: Vec<f64>| v.first().copied().unwrap_or(0.0);
    let gpu_hours = first(f64s(&used, "gpu_hours")?);
    let idle = if utilisation_data {
        let idle = idle_costed(utilisation)
            .select([col("idle_gpu_hours").sum().alias("h"), col("idle_cost").sum().alias("c")])
            .collect()?;
        Some((first(f64s(&idle, "h")?), first(f64s(&idle, "c")?)))
    } else {
        None
    };
    Ok(UsageRow {
        key: "total".into(),
        gpu_hours: round(gpu_hours, 4),
        cost_usd: round(first(f64s(&used, "cost")?), 2),
        share: if gpu_hours > 0.0 { 1.0 } else { 0.0 },
        idle_gpu_hours: idle.map(|(h, _)| round(h, 4)),
        idle_cost_usd: idle.map(|(_, c)| round(c, 2)),
        allocations: u32s(&used, "allocations")?.first().copied().unwrap_or(0),
    })
}

/// Products that allocations in the window used.
pub(super) fn products_used(allocations: LazyFrame) -> PolarsResult<Vec<u32>> {
    let df = allocations.group_by([col("product")]).agg([len().alias("n")]).collect()?;
    u32s(&df, "product")
}
