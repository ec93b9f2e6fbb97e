//! A deterministic, seeded fleet simulator: the bundled demo incident (`fleettop --demo`) and
//! synthetic load for benchmarks.
//!
//! Everything is derived from a seed ([`rand_chacha::ChaCha8Rng`], value-stable across
//! platforms) and a start time: no wall clock, no I/O. The same seed and start always produce
//! byte-identical observations.
//!
//! The demo ([`demo_incident`]) is 30 minutes over five clusters:
//! - t=0: clusters connect, sources sync (some not installed; policy reports forbidden on
//!   `prod-ap-south-1`), initial lists wrapped in `SyncStart`/`SyncEnd`;
//! - t≈+8m: Kyverno `require-run-as-nonroot` goes from generation 3 (Audit) to 4 (Enforce) and
//!   blocks pods in `prod-eu-west-1`, `staging-eu` and `prod-us-east-1`, next to VAP, Pod
//!   Security, Gatekeeper, ResourceQuota and an unrecognised webhook failure;
//! - t≈+10m–+24m: the `prod-eu-west-1` OTel gateway's backend slows, its queue fills
//!   (≈+16m) and it loses data until it recovers (≈+23m45s);
//! - t≈+15m: a Kueue preemption wave in `gpu-train-us` (team-a reclaims H100s from research);
//! - t=+20m: `prod-ap-south-1` becomes unreachable and stays down;
//! - t≈+21m: on-call creates a PolicyException that unblocks `shop/payments`;
//! - exceptions expire during the incident, GPU nodes report telemetry every ~15 s; policy
//!   reports name the Kyverno exceptions in their skip results (each exception's reach).
//!
//! Owns: the demo incident and synthetic load, as observations.
//! May not import: `crate::ui`, `cli`, `record`, `analytics`; kube, ratatui; no I/O, no clock
//! reads (`tests/boundaries.rs`).

mod clusters;
mod denials;
mod exceptions;
mod gpu;
mod kueue;
mod messages;
mod pipelines;
mod policies;
mod skips;
mod synthetic;
mod timeline;

#[cfg(test)]
mod tests;

use jiff::Timestamp;

pub use synthetic::synthetic_load;

use crate::model::{ClusterId, Observation};
use crate::state::FleetState;

/// The seed of the bundled demo.
pub const DEMO_SEED: u64 = 7;

/// The bundled demo's start: `2026-11-27T14:00:00Z`.
pub fn demo_start() -> Timestamp {
    Timestamp::constant(1_795_788_000, 0)
}

/// A simulated stretch of fleet history.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// First moment simulated.
    pub start: Timestamp,
    /// Last moment simulated.
    pub end: Timestamp,
    /// The clusters, in display order.
    pub clusters: Vec<ClusterId>,
    /// Every observation, sorted by `at` (stable: equal times keep their causal order).
    pub observations: Vec<Observation>,
}

impl Simulation {
    /// The fleet state after every observation up to and including `at`, clock at `at`.
    pub fn state_at(&self, at: Timestamp) -> FleetState {
        let mut state = FleetState::with_clusters(self.start, &self.clusters);
        state.apply_all(self.observations.iter().take_while(|o| o.at <= at));
        state.set_clock(at);
        state
    }
}

/// The bundled demo incident: 30 minutes, five clusters, from `start`.
pub fn demo_incident(seed: u64, start: Timestamp) -> Simulation {
    let mut tl = timeline::Timeline::new(start);
    clusters::generate(seed, &mut tl);
    exceptions::generate(start, &mut tl);
    let payments = denials::generate(seed, &mut tl);
    skips::generate(&mut tl, &payments);
    policies::generate(&mut tl);
    let gpu_pods = kueue::generate(seed, &mut tl);
    gpu::generate(seed, &mut tl, gpu_pods.pods, gpu_pods.pending);
    pipelines::generate(seed, &mut tl);
    tracing::debug!(observations = tl.len(), "demo incident simulated");
    Simulation {
        start,
        end: timeline::abs(start, clusters::DURATION),
        clusters: clusters::specs().iter().map(|c| ClusterId::new(c.name)).collect(),
        observations: tl.finish(),
    }
}
