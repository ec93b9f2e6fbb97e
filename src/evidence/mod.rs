//! Evidence for the postmortem: what changed between two moments of a recording
//! ([`diff`]) and how a diff is written for people ([`text`]).
//!
//! Pure over [`crate::state::FleetState`]: no I/O, no clock reads, no terminal. May not use
//! `ui`, `sources` or `cli`.

pub mod diff;
pub mod text;

pub use diff::{Delta, DeltaKind, Diff, FactDelta, Pane, diff};
