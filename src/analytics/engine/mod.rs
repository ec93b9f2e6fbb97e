//! The polars engine: ledger rows become DataFrames here, lazy queries compute every measure
//! over a window, and plain [`CostReport`] structs come out. Nothing outside this folder sees
//! a DataFrame.
//!
//! Per-row work (clipping to the window, GPU-hours, costs, usage levels over time, quantiles)
//! is done by polars; the few dozen result rows are named, rounded and ordered in Rust.

mod fairness;
mod frames;
mod queues;
mod usage;

#[cfg(test)]
mod tests;

use polars::prelude::*;

use super::ledger::Ledger;
use super::prices::Prices;
use super::report::{By, CostReport, Grouping, WaitRow};
use super::window::Window;

/// What to compute.
#[derive(Debug, Clone)]
pub struct Query {
    /// Over which window.
    pub window: Window,
    /// With which prices.
    pub prices: Prices,
    /// Which usage groupings (the report's `groups`, in this order).
    pub groupings: Vec<By>,
}

impl Query {
    /// Every grouping over `window` with `prices`.
    pub fn all(window: Window, prices: Prices) -> Self {
        Self { window, prices, groupings: By::ALL.to_vec() }
    }
}

/// The engine failed (a polars error: a bug, or memory).
#[derive(Debug, thiserror::Error)]
#[error("cost analytics failed: {0}")]
pub struct EngineError(String);

impl From<PolarsError> for EngineError {
    fn from(e: PolarsError) -> Self {
        EngineError(e.to_string())
    }
}

/// Computes every measure of `query` over `ledger`.
pub fn compute(ledger: &Ledger, query: &Query) -> Result<CostReport, EngineError> {
    let w = query.window;
    let mut products = frames::Products::default();
    let allocations = usage::clip(frames::allocations(ledger, &query.prices, &mut products)?.lazy(), w);
    let utilisation = usage::clip(frames::utilisation(ledger, &query.prices, &mut products)?.lazy(), w);
    let names = Namer { ledger, products: &products };
    let utilisation_data = has_utilisation(ledger, w);

    let groups = grouped(&allocations, &utilisation, query, utilisation_data, &names)?;
    let total = usage::total(allocations.clone(), utilisation, utilisation_data)?;
    let quotas = frames::quotas(ledger)?.lazy();
    let fairness = fairness::fairness(ledger, allocations.clone(), quotas, &names)?;
    let waits = queues::waits(frames::waits(ledger)?.lazy(), w, &names)?;
    let preemptions = queues::preemptions(frames::preemptions(ledger)?.lazy(), w, &names)?;

    let mut prices: Vec<_> =
        usage::products_used(allocations)?.into_iter().filter_map(|i| products.get(i).cloned()).collect();
    prices.sort_by(|a, b| a.product.cmp(&b.product));
    Ok(CostReport { window: w, prices, utilisation_data, groups, total, fairness, waits, preemptions })
}

/// Only usage per grouping and the queue wait percentiles: the measures that scan every
/// allocation and every wait (what the benchmark times against DESIGN.md §8).
pub fn usage_and_waits(ledger: &Ledger, query: &Query) -> Result<(Vec<Grouping>, Vec<WaitRow>), EngineError> {
    let w = query.window;
    let mut products = frames::Products::default();
    let allocations = usage::clip(frames::allocations(ledger, &query.prices, &mut products)?.lazy(), w);
    let utilisation = usage::clip(frames::utilisation(ledger, &query.prices, &mut products)?.lazy(), w);
    let names = Namer { ledger, products: &products };
    let groups = grouped(&allocations, &utilisation, query, has_utilisation(ledger, w), &names)?;
    Ok((groups, queues::waits(frames::waits(ledger)?.lazy(), w, &names)?))
}

fn has_utilisation(ledger: &Ledger, w: Window) -> bool {
    ledger.utilisation().iter().any(|u| u.start_ms < w.end_ms && u.effective_end(w.end_ms) > w.start_ms)
}

fn grouped(
    allocations: &LazyFrame,
    utilisation: &LazyFrame,
    query: &Query,
    utilisation_data: bool,
    names: &Namer,
) -> PolarsResult<Vec<Grouping>> {
    query
        .groupings
        .iter()
        .map(|by| {
            let rows =
                usage::grouped(allocations.clone(), utilisation.clone(), *by, utilisation_data, names)?;
            Ok(Grouping { by: *by, rows })
        })
        .collect()
}

/// Turns ids back into names.
pub(crate) struct Namer<'a> {
    ledger: &'a Ledger,
    products: &'a frames::Products,
}

impl Namer<'_> {
    /// A ledger name, or `missing` for [`frames::NONE`].
    fn name(&self, id: u32, missing: &str) -> String {
        if id == frames::NONE { missing.to_string() } else { self.ledger.name(id).to_string() }
    }

    /// A product name.
    fn product(&self, id: u32) -> String {
        self.products.get(id).map_or_else(|| "(unknown)".to_string(), |p| p.product.clone())
    }
}

/// A column as `u32`s (nulls as [`frames::NONE`]).
fn u32s(df: &DataFrame, name: &str) -> PolarsResult<Vec<u32>> {
    let c = df.column(name)?.cast(&DataType::UInt32)?;
    Ok(c.u32()?.iter().map(|v| v.unwrap_or(frames::NONE)).collect())
}

/// A column as `f64`s (nulls as 0).
fn f64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<f64>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().map(|v| v.unwrap_or(0.0)).collect())
}

/// A column as optional `f64`s.
fn opt_f64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().collect())
}

/// Rounds to `places` decimals, so that reports do not depend on the order parallel sums ran in.
fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    let r = (x * f).round() / f;
    if r == 0.0 { 0.0 } else { r }
}

/// GPU-hours per millisecond of one GPU.
const HOURS_PER_MS: f64 = 1.0 / 3_600_000.0;
