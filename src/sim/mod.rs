//! STUB — replaced by the simulator.
use crate::model::{ClusterId, Observation};
use jiff::Timestamp;
/// Simulation.
pub struct Simulation {
    /// s
    pub start: Timestamp,
    /// e
    pub end: Timestamp,
    /// c
    pub clusters: Vec<ClusterId>,
    /// o
    pub observations: Vec<Observation>,
}
/// Seed.
pub const DEMO_SEED: u64 = 7;
/// Start.
pub fn demo_start() -> Timestamp {
    Timestamp::UNIX_EPOCH
}
/// Demo.
pub fn demo_incident(_seed: u64, start: Timestamp) -> Simulation {
    Simulation { start, end: start, clusters: vec![], observations: vec![] }
}
