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
    let mut products = frames::Products::new(ledger, &query.prices);
    let (used, idle) = costed(ledger, query, frames::Needs::ALL, &mut products)?;
    let names = Namer { ledger, products: &products };

    let groups = grouped(&used, idle.as_ref(), query, &names)?;
    let total = usage::total(&used, idle.as_ref())?;
    let quotas = frames::quotas(ledger)?.lazy();
    let fairness = fairness::fairness(ledger, &used, quotas, w, &names)?;
    let waits = queues::waits(frames::waits(ledger, w)?.lazy(), &names)?;
    let preemptions = queues::preemptions(frames::preemptions(ledger)?.lazy(), w, &names)?;

    let mut prices: Vec<_> =
        usage::products_used(&used)?.into_iter().filter_map(|i| products.get(i).cloned()).collect();
    prices.sort_by(|a, b| a.product.cmp(&b.product));
    let utilisation_data = idle.is_some();
    Ok(CostReport { window: w, prices, utilisation_data, groups, total, fairness, waits, preemptions })
}

/// Only usage per grouping and the queue wait percentiles: the measures that scan every
/// allocation and every wait (what the benchmark times against DESIGN.md §8).
pub fn usage_and_waits(ledger: &Ledger, query: &Query) -> Result<(Vec<Grouping>, Vec<WaitRow>), EngineError> {
    let w = query.window;
    let mut products = frames::Products::new(ledger, &query.prices);
    let (used, idle) = costed(ledger, query, frames::Needs::keys(&query.groupings), &mut products)?;
    let names = Namer { ledger, products: &products };
    let groups = grouped(&used, idle.as_ref(), query, &names)?;
    Ok((groups, queues::waits(frames::waits(ledger, w)?.lazy(), &names)?))
}

/// The allocations in the window with GPU-hours and cost (the columns `needs` asks for), and
/// the utilisation stretches with idle GPU-hours and cost when some GPU reported utilisation
/// in the window.
fn costed(
    ledger: &Ledger,
    query: &Query,
    needs: frames::Needs,
    products: &mut frames::Products<'_>,
) -> PolarsResult<(DataFrame, Option<DataFrame>)> {
    let w = query.window;
    let used = frames::allocations(ledger, products, w, needs)?;
    let reported =
        ledger.utilisation().iter().any(|u| u.start_ms < w.end_ms && u.effective_end(w.end_ms) > w.start_ms);
    let idle = if reported {
        let utilisation = frames::utilisation(ledger, products, w)?.lazy();
        Some(usage::idle(utilisation)?)
    } else {
        None
    };
    Ok((used, idle))
}

fn grouped(
    used: &DataFrame,
    idle: Option<&DataFrame>,
    query: &Query,
    names: &Namer,
) -> PolarsResult<Vec<Grouping>> {
    query
        .groupings
        .iter()
        .map(|by| Ok(Grouping { by: *by, rows: usage::grouped(used, idle, *by, names)? }))
        .collect()
}

/// Turns ids back into names.
pub(crate) struct Namer<'a> {
    ledger: &'a Ledger,
    products: &'a frames::Products<'a>,
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
