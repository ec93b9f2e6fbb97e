//! Queue health: wait percentiles per ClusterQueue, preemptions per team.
//!
//! A wait counts in a window when it ended (was admitted) inside it or was still going at
//! its end; its length is measured from its own start (creation or eviction), not clipped,
//! and a wait still going counts its length so far (so the percentiles are lower bounds
//! while work waits).

use std::collections::BTreeMap;

use polars::prelude::*;

use super::{Namer, f64s, frames::NONE, opt_f64s, round, u32s};
use crate::analytics::report::{PreemptionRow, Preemptions, WaitRow};
use crate::analytics::window::Window;

/// p50, p95 and max wait per (cluster, ClusterQueue); quantiles interpolate linearly
/// between ranks (numpy's default).
pub(super) fn waits(waits: LazyFrame, names: &Namer) -> PolarsResult<Vec<WaitRow>> {
    // The frame holds only the waits that count, measured (`frames::waits`).
    let df = waits
        .group_by([col("queue_key")])
        .agg([
            len().alias("waits"),
            col("still").sum().alias("still"),
            col("secs").quantile(lit(0.5), QuantileMethod::Linear).alias("p50"),
            col("secs").quantile(lit(0.95), QuantileMethod::Linear).alias("p95"),
            col("secs").max().alias("max"),
        ])
        .collect()?;
    let keys = df.column("queue_key")?.cast(&DataType::UInt64)?;
    let (clusters, queues): (Vec<u32>, Vec<u32>) =
        keys.u64()?.iter().map(|k| k.unwrap_or(u64::MAX)).map(|k| ((k >> 32) as u32, k as u32)).unzip();
    let (n, still) = (u32s(&df, "waits")?, u32s(&df, "still")?);
    let (p50, p95, max) = (opt_f64s(&df, "p50")?, opt_f64s(&df, "p95")?, opt_f64s(&df, "max")?);
    let mut rows: Vec<WaitRow> = (0..df.height())
        .map(|i| WaitRow {
            cluster: names.name(clusters.get(i).copied().unwrap_or(NONE), "?"),
            cluster_queue: names.name(queues.get(i).copied().unwrap_or(NONE), "(no queue)"),
            waits: n.get(i).copied().unwrap_or(0),
            still_waiting: still.get(i).copied().unwrap_or(0),
            p50_s: round(p50.get(i).copied().flatten().unwrap_or(0.0), 1),
            p95_s: round(p95.get(i).copied().flatten().unwrap_or(0.0), 1),
            max_s: round(max.get(i).copied().flatten().unwrap_or(0.0), 1),
        })
        .collect();
    rows.sort_by(|a, b| (&a.cluster, &a.cluster_queue).cmp(&(&b.cluster, &b.cluster_queue)));
    Ok(rows)
}

/// Preemptions in the window, suffered (by the victim's team) and caused (by the
/// preemptor's team, where the message tells).
pub(super) fn preemptions(preemptions: LazyFrame, w: Window, names: &Namer) -> PolarsResult<Preemptions> {
    let inside = preemptions.filter(col("at").gt_eq(lit(w.start_ms)).and(col("at").lt(lit(w.end_ms))));
    let suffered = inside
        .clone()
        .group_by([col("team")])
        .agg([len().alias("n"), col("gpus").cast(DataType::Float64).sum().alias("gpus")])
        .collect()?;
    let caused = inside
        .clone()
        .filter(col("attributed"))
        .group_by([col("preemptor_team")])
        .agg([len().alias("n")])
        .collect()?;
    let unattributed = inside.filter(col("attributed").not()).select([len().alias("n")]).collect()?;

    let mut out: BTreeMap<u32, PreemptionRow> = BTreeMap::new();
    let entry = |out: &mut BTreeMap<u32, PreemptionRow>, t: u32| -> PreemptionRow {
        out.remove(&t).unwrap_or_else(|| PreemptionRow {
            team: names.name(t, "(no team)"),
            suffered: 0,
            suffered_gpus: 0,
            caused: 0,
        })
    };
    let gpus = f64s(&suffered, "gpus")?;
    for (i, (t, n)) in u32s(&suffered, "team")?.into_iter().zip(u32s(&suffered, "n")?).enumerate() {
        let mut r = entry(&mut out, t);
        r.suffered = n;
        r.suffered_gpus = gpus.get(i).copied().unwrap_or(0.0) as u32;
        out.insert(t, r);
    }
    for (t, n) in u32s(&caused, "preemptor_team")?.into_iter().zip(u32s(&caused, "n")?) {
        let mut r = entry(&mut out, t);
        r.caused = n;
        out.insert(t, r);
    }
    let mut rows: Vec<PreemptionRow> = out.into_values().collect();
    rows.sort_by(|a, b| {
        (b.suffered + b.caused).cmp(&(a.suffered + a.caused)).then_with(|| a.team.cmp(&b.team))
    });
    Ok(Preemptions { teams: rows, unattributed: u32s(&unattributed, "n")?.first().copied().unwrap_or(0) })
}
