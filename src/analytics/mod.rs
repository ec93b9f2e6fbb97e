//! Cost and fairness: who got the GPUs, at what cost, and is the sharing fair?
//!
//! - [`ledger`]: the allocation history (plus queue waits, preemptions and utilisation)
//!   followed from observations, live or replayed. Plain Rust rows.
//! - [`engine`]: the only polars user in fleettop. Rows become DataFrames, lazy queries
//!   compute the measures over a [`Window`], and a plain [`CostReport`] comes out.
//! - [`worker`]: computes reports off the UI thread, the latest request first.
//! - [`output`]: the report as a table, CSV or JSON (`fleettop report`); [`parquet`] the
//!   grouped usage table as Parquet.
//!
//! The measures, each defined where it is computed and in the README:
//! GPU-hours and cost per team / namespace / queue / cluster / product; cost of
//! idle-but-allocated GPUs; share of usage vs share of entitlement with borrowing; Jain's
//! fairness index; queue wait p50/p95/max per ClusterQueue; preemptions suffered and caused
//! per team.
//!
//! Owns: the ledger, the polars engine, the report types and their output formats.
//! May not import: `crate::ui`, `cli`; ratatui (`tests/boundaries.rs`).

pub mod engine;
pub mod ledger;
pub mod output;
pub mod parquet;
pub mod prices;
pub mod report;
pub mod window;
pub mod worker;

pub use engine::{EngineError, Query, compute};
pub use ledger::Ledger;
pub use prices::Prices;
pub use report::{By, CostReport};
pub use window::Window;
