//! GPU-hours, cost and idle-but-allocated cost, grouped.
//!
//! An allocation counts for the part of it inside the window (`hours`, clipped where the
//! frame is built): one that started before the window starts at its start, one still running
//! (or ending after it) ends at its end. Rows outside the window have `hours` 0 and are not
//! dropped (that would copy every column): sums are unaffected, counts count `hours > 0`.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::{Namer, f64s, frames::NONE, round, u32s};
use crate::analytics::report::{By, UsageRow};

/// Counts the rows that lie in the window.
fn inside() -> Expr {
    col("hours").gt(lit(0.0)).cast(DataType::UInt32).sum()
}

/// Utilisation stretches within the window with `idle_gpu_hours` and `idle_cost`.
pub(super) fn idle_costed(clipped: LazyFrame) -> LazyFrame {
    clipped
        .with_column(when(col("idle")).then(col("hours")).otherwise(lit(0.0)).alias("idle_gpu_hours"))
        .with_column((col("idle_gpu_hours") * col("price")).alias("idle_cost"))
}

/// The one grouping column of `by`: ClusterQueues are keyed by cluster and queue packed into
/// one `u64` (`queue_key`), so every grouping hashes a single integer column.
fn key(by: By) -> &'static str {
    match by {
        By::Team => "team",
        By::Namespace => "namespace",
        By::Queue => "queue_key",
        By::Cluster => "cluster",
        By::Product => "product",
    }
}

/// `cluster << 32 | queue`.
pub(super) fn queue_key() -> Expr {
    (col("cluster").cast(DataType::UInt64) * lit(1u64 << 32) + col("queue").cast(DataType::UInt64))
        .alias("queue_key")
}

fn key_ids(df: &DataFrame, by: By) -> PolarsResult<Vec<(u32, u32)>> {
    if by == By::Queue {
        let c = df.column("queue_key")?.cast(&DataType::UInt64)?;
        return Ok(c
            .u64()?
            .iter()
            .map(|k| k.unwrap_or(u64::MAX))
            .map(|k| ((k >> 32) as u32, k as u32))
            .collect());
    }
    Ok(u32s(df, key(by))?.into_iter().map(|k| (k, NONE)).collect())
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

/// The utilisation stretches in the window with their idle GPU-hours and cost.
pub(super) fn idle(clipped: LazyFrame) -> PolarsResult<DataFrame> {
    // Few rows: the ones outside the window are dropped, so that a group only shows idle
    // figures when one of its GPUs reported inside the window.
    idle_costed(clipped.filter(col("hours").gt(lit(0.0))))
        .select([
            col("team"),
            col("namespace"),
            col("cluster"),
            col("product"),
            col("idle_gpu_hours"),
            col("idle_cost"),
            queue_key(),
        ])
        .collect()
}

/// Sums per group.
#[derive(Default)]
struct Sums {
    gpu_hours: f64,
    cost: f64,
    allocations: u32,
    idle: Option<(f64, f64)>,
}

/// GPU-hours, cost and idle per group; `idle` is `None` when no GPU
/// reported utilisation in the window (groups without any then get `None` idle figures,
/// never a made-up zero).
pub(super) fn grouped(
    used: &DataFrame,
    idle: Option<&DataFrame>,
    by: By,
    names: &Namer,
) -> PolarsResult<Vec<UsageRow>> {
    let used = used
        .clone()
        .lazy()
        .group_by([col(key(by))])
        .agg([col("gpu_hours").sum(), col("cost").sum(), inside().alias("allocations")])
        .collect()?;
    let mut sums: BTreeMap<(u32, u32), Sums> = BTreeMap::new();
    let (gh, cost, n) = (f64s(&used, "gpu_hours")?, f64s(&used, "cost")?, u32s(&used, "allocations")?);
    for (i, k) in key_ids(&used, by)?.into_iter().enumerate() {
        let s = sums.entry(k).or_default();
        s.gpu_hours = gh.get(i).copied().unwrap_or(0.0);
        s.cost = cost.get(i).copied().unwrap_or(0.0);
        s.allocations = n.get(i).copied().unwrap_or(0);
    }
    if let Some(idle) = idle {
        let idle = idle
            .clone()
            .lazy()
            .group_by([col(key(by))])
            .agg([col("idle_gpu_hours").sum(), col("idle_cost").sum()])
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
pub(super) fn total(used: &DataFrame, idle: Option<&DataFrame>) -> PolarsResult<UsageRow> {
    let sums = |df: &DataFrame, names: [&str; 2]| -> PolarsResult<(f64, f64)> {
        let out = df.clone().lazy().select(names.map(|n| col(n).sum())).collect()?;
        let first = |n: &str| -> PolarsResult<f64> { Ok(f64s(&out, n)?.first().copied().unwrap_or(0.0)) };
        Ok((first(names[0])?, first(names[1])?))
    };
    let (gpu_hours, cost) = sums(used, ["gpu_hours", "cost"])?;
    let n = used.clone().lazy().select([inside().alias("n")]).collect()?;
    let idle = match idle {
        Some(df) => Some(sums(df, ["idle_gpu_hours", "idle_cost"])?),
        None => None,
    };
    Ok(UsageRow {
        key: "total".into(),
        gpu_hours: round(gpu_hours, 4),
        cost_usd: round(cost, 2),
        share: if gpu_hours > 0.0 { 1.0 } else { 0.0 },
        idle_gpu_hours: idle.map(|(h, _)| round(h, 4)),
        idle_cost_usd: idle.map(|(_, c)| round(c, 2)),
        allocations: u32s(&n, "n")?.first().copied().unwrap_or(0),
    })
}

/// Products that allocations in the window used.
pub(super) fn products_used(used: &DataFrame) -> PolarsResult<Vec<u32>> {
    let df = used.clone().lazy().group_by([col("product")]).agg([inside().alias("n")]).collect()?;
    Ok(u32s(&df, "product")?
        .into_iter()
        .zip(u32s(&df, "n")?)
        .filter(|(_, n)| *n > 0)
        .map(|(p, _)| p)
        .collect())
}
