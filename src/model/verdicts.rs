//! Where derived verdicts turn: the pipeline thresholds and the "expiring soon" horizon.
//!
//! A plain value, read from `config.toml` once at start ([`crate::config::Settings`]) and
//! carried by the state ([`crate::state::FleetState::verdicts`]), so every verdict of a
//! process (panes, findings, `snapshot --json`) uses the same one and drawing stays a pure
//! function of the app.

use jiff::SignedDuration;

use super::{DEFAULT_EXPIRY_WINDOW, PipelineThresholds};

/// The settings every derived verdict reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdicts {
    /// Where a pipeline component's health turns (`[pipelines.thresholds]`).
    pub pipelines: PipelineThresholds,
    /// How far ahead an exception counts as "expiring soon" (`[exceptions] expiring_within`).
    pub expiring_within: SignedDuration,
}

impl Default for Verdicts {
    fn default() -> Self {
        Self { pipelines: PipelineThresholds::default(), expiring_within: DEFAULT_EXPIRY_WINDOW }
    }
}
