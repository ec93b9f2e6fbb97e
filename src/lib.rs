//! fleettop: a terminal incident console for Kubernetes fleets.
//!
//! The crate is laid out as its data flows (see `ARCHITECTURE.md`):
//! [`sources`] and [`record`] produce [`model::Observation`]s, [`state::FleetState`] reduces
//! them, [`ui`] renders the state, [`analytics`] summarises it, [`cli`] wires it together.

pub mod analytics;
pub mod cli;
pub mod demo;
pub mod evidence;
pub mod explain;
pub mod files;
pub mod model;
pub mod panics;
pub mod record;
pub mod redact;
pub mod sanitise;
pub mod sim;
pub mod sources;
pub mod state;
pub mod ui;
pub mod wait;
