//! Share of usage against share of entitlement, borrowing, and Jain's fairness index.
//!
//! - usage share of a team = its GPU-hours ÷ everyone's GPU-hours in the window;
//! - entitlement share = the nominal GPU quota of its ClusterQueues ÷ all nominal GPU quota
//!   (the latest quota seen);
//! - borrowed GPU-hours = for each ClusterQueue and flavor, the time integral of
//!   max(0, GPUs in use − nominal), credited to the queue's team;
//! - Jain's index over the teams with entitlement, with xᵢ = usage share ÷ entitlement share:
//!   (Σxᵢ)² ÷ (n·Σxᵢ²); 1 when every team uses in proportion to its quota, 1/n when one
//!   team uses everything.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;

use super::{HOURS_PER_MS, Namer, f64s, frames::NONE, round, u32s};
use crate::analytics::ledger::Ledger;
use crate::analytics::report::{Fairness, ShareRow};

/// Per-team figures before they become shares.
#[derive(Default)]
struct Team {
    gpu_hours: f64,
    nominal: f64,
    borrowed: f64,
}

/// Shares, borrowing and the index. `used` holds the allocations in the window with their
/// GPU-hours (clipped start `s` and end `e`).
pub(super) fn fairness(
    ledger: &Ledger,
    used: &DataFrame,
    quotas: LazyFrame,
    names: &Namer,
) -> PolarsResult<Fairness> {
    let mut teams: BTreeMap<u32, Team> = BTreeMap::new();
    let allocations = used.clone().lazy().filter(col("hours").gt(lit(0.0)));
    let used = allocations.clone().group_by([col("team")]).agg([col("gpu_hours").sum()]).collect()?;
    for (t, h) in u32s(&used, "team")?.into_iter().zip(f64s(&used, "gpu_hours")?) {
        teams.entry(t).or_default().gpu_hours = h;
    }
    let entitled = quotas.clone().group_by([col("team")]).agg([col("nominal").sum()]).collect()?;
    for (t, n) in u32s(&entitled, "team")?.into_iter().zip(f64s(&entitled, "nominal")?) {
        teams.entry(t).or_default().nominal = n;
    }
    let borrowed = borrowed(allocations, quotas)?;
    for (t, b) in u32s(&borrowed, "team")?.into_iter().zip(f64s(&borrowed, "borrowed")?) {
        teams.entry(t).or_default().borrowed = b;
    }

    let mut cohorts: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
    for info in ledger.queues().values() {
        if let Some(c) = info.cohort {
            cohorts.entry(info.team.unwrap_or(NONE)).or_default().insert(ledger.name(c).to_string());
        }
    }
    let total_hours: f64 = teams.values().map(|t| t.gpu_hours).sum();
    let total_nominal: f64 = teams.values().map(|t| t.nominal).sum();
    let share = |x: f64, of: f64| if of > 0.0 { x / of } else { 0.0 };
    let mut ratios = Vec::new();
    let mut rows: Vec<ShareRow> = teams
        .iter()
        .map(|(id, t)| {
            let usage_share = share(t.gpu_hours, total_hours);
            let entitlement_share = share(t.nominal, total_nominal);
            let ratio = (entitlement_share > 0.0).then(|| usage_share / entitlement_share);
            ratios.extend(ratio);
            ShareRow {
                team: names.name(*id, "(no team)"),
                cohorts: cohorts.get(id).map(|c| c.iter().cloned().collect()).unwrap_or_default(),
                gpu_hours: round(t.gpu_hours, 4),
                usage_share: round(usage_share, 4),
                nominal_gpus: round(t.nominal, 4),
                entitlement_share: round(entitlement_share, 4),
                ratio: ratio.map(|r| round(r, 4)),
                borrowed_gpu_hours: round(t.borrowed, 4),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        let r = |x: &ShareRow| x.ratio.unwrap_or(f64::NEG_INFINITY);
        r(b).total_cmp(&r(a)).then_with(|| a.team.cmp(&b.team))
    });
    Ok(Fairness {
        teams: rows,
        jain_index: jain(&ratios).map(|j| round(j, 4)),
        teams_in_index: ratios.len() as u32,
    })
}

/// Jain's fairness index of `x`: (Σx)² ÷ (n·Σx²); `None` when empty or all zero.
pub(crate) fn jain(x: &[f64]) -> Option<f64> {
    let sum: f64 = x.iter().sum();
    let squares: f64 = x.iter().map(|v| v * v).sum();
    (squares > 0.0).then(|| sum * sum / (x.len() as f64 * squares))
}

/// Borrowed GPU-hours per team of the borrowing queue: allocations become +GPUs/−GPUs events
/// per (cluster, queue, flavor); their running sum in time order is the queue's usage level,
/// held until the next event; the level above the nominal quota, times how long it held, is
/// borrowing.
fn borrowed(allocations: LazyFrame, quotas: LazyFrame) -> PolarsResult<DataFrame> {
    let group = || [col("cluster"), col("queue"), col("flavor")];
    let known = allocations.filter(col("queue").neq(lit(NONE)).and(col("flavor").neq(lit(NONE))));
    let event = |lf: LazyFrame, at: &str, sign: i64| {
        lf.select([
            col("cluster"),
            col("queue"),
            col("flavor"),
            col(at).alias("t"),
            (col("gpus").cast(DataType::Int64) * lit(sign)).alias("delta"),
        ])
    };
    let events = concat([event(known.clone(), "s", 1), event(known, "e", -1)], UnionArgs::default())?;
    let level = col("level").cast(DataType::Float64);
    let level_now = col("delta").cum_sum(false).over(group())?;
    let next = col("t").shift(lit(-1)).over(group())?;
    events
        .sort(["cluster", "queue", "flavor", "t"], SortMultipleOptions::default())
        .with_columns([level_now.alias("level"), (next - col("t")).fill_null(lit(0i64)).alias("held")])
        .join(
            quotas.select([col("cluster"), col("queue"), col("flavor"), col("team"), col("nominal")]),
            group(),
            group(),
            JoinArgs::new(JoinType::Inner),
        )
        .with_column(
            (when(level.clone().gt(col("nominal"))).then(level - col("nominal")).otherwise(lit(0.0))
                * col("held").cast(DataType::Float64)
                * lit(HOURS_PER_MS))
            .alias("borrowed"),
        )
        .group_by([col("team")])
        .agg([col("borrowed").sum()])
        .collect()
}
