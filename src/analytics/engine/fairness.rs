//! Share of usage against share of entitlement, borrowing, and Jain's fairness index.
//!
//! - usage share of a team = its GPU-hours ÷ everyone's GPU-hours in the window;
//! - entitlement share = the nominal GPU quota of its ClusterQueues ÷ all nominal GPU quota
//!   (the latest quota seen);
//! - borrowed GPU-hours = for each ClusterQueue and flavor, the time integral of
//!   max(0, GPUs in use − nominal), credited to the queue's team;
//! - Jain's index over the teams with entitlement, with xᵢ = usage share ÷ entitlement share:
//!   (Σxᵢ)² ÷ (n·Σxᵢ²); 1 when every team uses in proportion to its quota, 1/n when one
//!   team uses everything;
//! - dominant-resource share (DRF) of a team = the time-weighted mean over the window of
//!   maxᵣ (what its admitted workloads hold of r ÷ capacity of r), r ∈ {GPU, CPU, memory}.
//!   The capacity of r is the nominal quota of r over every ClusterQueue in the report (all
//!   clusters and cohorts, every flavor; the latest quota seen): the same scope as the
//!   entitlement share, and what Kueue can hand out at most without borrowing from outside.
//!   A resource without quota has no share; a workload's CPU and memory are its pods'
//!   requests.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;

use super::{HOURS_PER_MS, Namer, f64s, frames::NONE, round, u32s};
use crate::analytics::ledger::Ledger;
use crate::analytics::report::{Fairness, ShareRow};
use crate::analytics::window::Window;

/// Per-team figures before they become shares.
#[derive(Default)]
struct Team {
    gpu_hours: f64,
    nominal: f64,
    borrowed: f64,
    dominant: Option<Dominant>,
}

/// A team's time-weighted dominant share and the resource with the largest mean share.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dominant {
    share: f64,
    resource: Option<&'static str>,
}

/// The resources of dominant-resource share: name, column, capacity over all quotas.
fn capacities(ledger: &Ledger) -> [(&'static str, &'static str, f64); 3] {
    let queues = ledger.queues().values();
    let (mut gpu, mut cpu, mut memory) = (0.0, 0.0, 0.0);
    for q in queues {
        gpu += q.total_nominal();
        cpu += q.nominal_cpu;
        memory += q.nominal_memory;
    }
    [("gpu", "gpus", gpu), ("cpu", "cpu", cpu), ("memory", "memory", memory)]
}

/// Shares, borrowing, the index and dominant-resource shares over window `w`. `used` holds the
/// allocations in the window with their GPU-hours (clipped start `s` and end `e`).
pub(super) fn fairness(
    ledger: &Ledger,
    used: &DataFrame,
    quotas: LazyFrame,
    w: Window,
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
    let borrowed = borrowed(allocations.clone(), quotas)?;
    for (t, b) in u32s(&borrowed, "team")?.into_iter().zip(f64s(&borrowed, "borrowed")?) {
        teams.entry(t).or_default().borrowed = b;
    }
    for (t, d) in dominant_shares(allocations.clone(), capacities(ledger), w)? {
        teams.entry(t).or_default().dominant = Some(d);
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
    let has_capacity = w.end_ms > w.start_ms && capacities(ledger).iter().any(|(_, _, c)| *c > 0.0);
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
                dominant_share: t.dominant.map(|d| round(d.share, 4)).or_else(|| has_capacity.then_some(0.0)),
                dominant_resource: t.dominant.and_then(|d| d.resource).map(str::to_string),
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

/// Time-weighted dominant share per team over `w`: each allocation becomes a +amount event at
/// its (clipped) start and a −amount event at its end, per resource; the running sums in time
/// order are what the team holds, until its next event. The dominant share at each moment is
/// maxᵣ held ÷ capacity (resources with capacity only); its integral over time ÷ the window's
/// length is the team's measure. The resource reported is the one whose own mean share is the
/// largest. `None` for every team when no resource has capacity or the window is empty.
fn dominant_shares(
    allocations: LazyFrame,
    capacities: [(&'static str, &'static str, f64); 3],
    w: Window,
) -> PolarsResult<Vec<(u32, Dominant)>> {
    let length = (w.end_ms - w.start_ms) as f64;
    let with_capacity: Vec<_> = capacities.into_iter().filter(|(_, _, c)| *c > 0.0).collect();
    if length <= 0.0 || with_capacity.is_empty() {
        return Ok(Vec::new());
    }
    let event = |at: &str, sign: f64| {
        let mut columns = vec![col("team"), col(at).alias("t")];
        columns.extend(
            with_capacity.iter().map(|(r, c, _)| (col(*c).cast(DataType::Float64) * lit(sign)).alias(*r)),
        );
        allocations.clone().select(columns)
    };
    let events = concat([event("s", 1.0), event("e", -1.0)], UnionArgs::default())?;
    let next = col("t").shift(lit(-1)).over([col("team")])?;
    let mut levels = vec![(next - col("t")).fill_null(lit(0i64)).cast(DataType::Float64).alias("held")];
    for (r, _, capacity) in &with_capacity {
        levels.push((col(*r).cum_sum(false).over([col("team")])? / lit(*capacity)).alias(*r));
    }
    let dominant = with_capacity
        .iter()
        .map(|(r, _, _)| col(*r))
        .reduce(|a, b| when(a.clone().gt(b.clone())).then(a).otherwise(b))
        .unwrap_or_else(|| lit(0.0));
    let mut means = vec![(dominant * col("held")).sum().alias("dominant")];
    means.extend(with_capacity.iter().map(|(r, _, _)| (col(*r) * col("held")).sum().alias(*r)));
    let df = events
        .sort(["team", "t"], SortMultipleOptions::default())
        .with_columns(levels)
        .group_by([col("team")])
        .agg(means)
        .collect()?;
    let teams = u32s(&df, "team")?;
    let shares = f64s(&df, "dominant")?;
    let per_resource: Vec<(&'static str, Vec<f64>)> =
        with_capacity.iter().map(|(r, _, _)| Ok((*r, f64s(&df, r)?))).collect::<PolarsResult<_>>()?;
    Ok(teams
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let mean = |v: &Vec<f64>| v.get(i).copied().unwrap_or(0.0) / length;
            let resource = per_resource
                .iter()
                .map(|(r, v)| (*r, mean(v)))
                .filter(|(_, m)| *m > 1e-12)
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(r, _)| r);
            (t, Dominant { share: shares.get(i).copied().unwrap_or(0.0) / length, resource })
        })
        .collect())
}
