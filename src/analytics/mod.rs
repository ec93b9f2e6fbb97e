//! Cost and fairness analytics: the only module that will use polars (lazy API), run off the
//! UI thread, and publish plain summary structs to the Cost pane and `fleettop report`.
//!
//! Not built yet (its own issue): until it is, the Cost pane says "analytics not computed
//! yet" and shows the live GPU holdings per team that the ledger will start from
//! ([`crate::ui::panes::cost::gpus_held_by_team`]). `polars` is declared in `Cargo.toml` with
//! only the `lazy` feature so that the crate's build time already includes it.
