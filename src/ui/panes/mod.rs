//! One module per pane: its table(s) as data, its detail view and any summary it draws.

pub mod cost;
pub mod denial_groups;
pub mod denials;
pub mod exceptions;
pub mod fleet;
pub mod gpu;
pub mod gpu_evictions;
pub mod gpu_wait;
pub mod pipelines;
pub mod trust;

use serde::{Deserialize, Serialize};

/// The top-level panes, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub enum PaneId {
    /// Clusters and their health.
    #[default]
    Fleet,
    /// Admission denials.
    Denials,
    /// GPU queues and contention.
    Gpu,
    /// Telemetry pipelines.
    Pipelines,
    /// Policy exceptions.
    Exceptions,
    /// Cost and fairness.
    Cost,
}

impl PaneId {
    /// Every pane, in tab order.
    pub const ALL: [PaneId; 6] =
        [PaneId::Fleet, PaneId::Denials, PaneId::Gpu, PaneId::Pipelines, PaneId::Exceptions, PaneId::Cost];

    /// The tab title.
    pub fn title(self) -> &'static str {
        match self {
            PaneId::Fleet => "Fleet",
            PaneId::Denials => "Denials",
            PaneId::Gpu => "GPU",
            PaneId::Pipelines => "Pipelines",
            PaneId::Exceptions => "Exceptions",
            PaneId::Cost => "Cost",
        }
    }

    /// Position in tab order.
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}
