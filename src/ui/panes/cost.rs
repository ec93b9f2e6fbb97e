//! The Cost pane. The polars engine that computes cost and fairness is not wired yet; until
//! it is, the pane says so and shows the live GPU holdings per team it will start from.

use std::collections::BTreeMap;

use crate::model::WorkloadState;
use crate::state::FleetState;

/// GPUs held right now (admitted workloads) per team, fleet-wide.
pub fn gpus_held_by_team(state: &FleetState) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for w in state.gpu_workloads().values() {
        if matches!(w.state, WorkloadState::Admitted) {
            *out.entry(w.team.clone().unwrap_or_else(|| "(no team)".into())).or_insert(0) += w.gpus;
        }
    }
    out
}
