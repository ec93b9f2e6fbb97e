//! Policy rollouts: a policy whose generation changed while fleettop watched, and the
//! denials that followed ("require-run-as-nonroot: 62 denials since generation 4 at 14:08 in
//! 3 clusters"). Domain logic, pure over [`FleetState`], next to [`crate::explain`]: the
//! Denials pane's summary, the Fleet findings and `fleettop why` all read it from here.
//! May not import: `ui`, `cli`, I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Enforcement;
use crate::state::FleetState;

/// A policy whose generation changed while fleettop watched, and the denials that followed:
/// the rollout detector ("policy X changed to generation N at 14:02; 312 denials since in 3
/// clusters").
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutFinding {
    /// Policy name.
    pub policy: String,
    /// The generation it changed to (the highest seen).
    pub generation: Option<i64>,
    /// The generation before, when known.
    pub from: Option<i64>,
    /// The first time the change was seen, in any cluster.
    pub at: jiff::Timestamp,
    /// Clusters where the change was seen.
    pub clusters_changed: usize,
    /// Denials (deny enforcement) at the new generation, or first seen after the change when
    /// they carry no generation.
    pub denials: u64,
    /// Clusters those denials came from.
    pub clusters_denying: usize,
}

impl RolloutFinding {
    /// The finding in words, denials first (they are why it matters):
    /// `⚠ require-run-as-nonroot: 62 denials since generation 4 at 14:08 in 3 clusters`.
    pub fn words(&self) -> String {
        let to =
            self.generation.map(|g| format!("generation {g}")).unwrap_or_else(|| "a new generation".into());
        format!(
            "⚠ {}: {} since {to} at {} in {}",
            self.policy,
            plural(self.denials, "denial"),
            self.at.strftime("%H:%M"),
            plural(self.clusters_denying as u64, "cluster"),
        )
    }
}

/// Every policy rollout that denials followed, most denials first.
pub fn rollouts(state: &FleetState) -> Vec<RolloutFinding> {
    let mut by_policy: BTreeMap<&str, RolloutFinding> = BTreeMap::new();
    for p in state.policies().values() {
        let Some(r) = &p.rollout else { continue };
        let f = by_policy.entry(p.name.as_str()).or_insert_with(|| RolloutFinding {
            policy: p.name.clone(),
            generation: p.generation,
            from: r.from,
            at: r.at,
            clusters_changed: 0,
            denials: 0,
            clusters_denying: 0,
        });
        f.clusters_changed += 1;
        f.generation = f.generation.max(p.generation);
        if r.at < f.at {
            (f.at, f.from) = (r.at, r.from);
        }
    }
    let mut out: Vec<RolloutFinding> = by_policy
        .into_values()
        .map(|mut f| {
            let ids = state.merged_denials().by_policy().get(&f.policy);
            let mut clusters = BTreeSet::new();
            for id in ids.into_iter().flatten() {
                let Some(d) = state.denial_row(id).filter(|d| d.class.is_admission()) else { continue };
                let generation = d.policy.as_ref().and_then(|p| p.generation);
                let after = match generation {
                    Some(g) => Some(g) == f.generation,
                    None => d.first_seen >= f.at,
                };
                if after && d.enforcement == Enforcement::Deny {
                    f.denials += d.count;
                    clusters.insert(&id.cluster);
                }
            }
            f.clusters_denying = clusters.len();
            f
        })
        .filter(|f| f.denials > 0)
        .collect();
    out.sort_by(|a, b| b.denials.cmp(&a.denials).then_with(|| a.policy.cmp(&b.policy)));
    out
}

/// `1 denial`, `3 denials`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_counts_the_denials_of_its_new_generation_across_clusters() {
        // The demo: require-run-as-nonroot goes from generation 3 (Audit) to 4 (Enforce).
        let sim = crate::sim::demo_incident(crate::sim::DEMO_SEED, crate::sim::demo_start());
        let before = sim.state_at(sim.start + jiff::SignedDuration::from_mins(5));
        assert!(rollouts(&before).is_empty(), "nothing changed yet");
        let state = sim.state_at(sim.end);
        let found = rollouts(&state);
        assert_eq!(found.len(), 1, "{found:?}");
        let r = &found[0];
        assert_eq!((r.policy.as_str(), r.generation, r.from), ("require-run-as-nonroot", Some(4), Some(3)));
        assert_eq!((r.clusters_changed, r.clusters_denying), (3, 3));
        // Only deny-enforced denials at generation 4: the generation-3 audit findings are not
        // counted, and Kyverno's own event for a blocked pod does not count it twice.
        let by_hand: u64 = state
            .denial_rows()
            .map(|(_, d)| d)
            .filter(|d| d.policy_name() == "require-run-as-nonroot" && d.enforcement == Enforcement::Deny)
            .filter(|d| d.policy.as_ref().and_then(|p| p.generation) == Some(4))
            .map(|d| d.count)
            .sum();
        assert!(by_hand > 0);
        assert_eq!(r.denials, by_hand);
        assert!(r.words().starts_with(&format!(
            "⚠ require-run-as-nonroot: {by_hand} denials since generation 4 at 14:08"
        )));
    }
}
