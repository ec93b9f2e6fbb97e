//! Evidence for the postmortem: what changed between two moments of a recording
//! ([`diff`]), the incident's turns in time order ([`timeline`]), and how they are written for
//! people ([`text`], [`markdown`]).
//!
//! Pure over [`crate::state::FleetState`]: no I/O, no clock reads, no terminal. May not use
//! `ui`, `sources` or `cli`.

pub mod anonymise;
pub mod diff;
pub mod markdown;
pub mod text;
pub mod timeline;

pub use diff::{Delta, DeltaKind, Diff, FactDelta, Pane, diff};
