//! The incident's turns in time order: the [`diff`] of each step of a replay to the next,
//! keeping the changes a review asks about (a cluster lost, a policy changed, a denial row
//! that started or stopped firing, a workload preempted, a verdict turned, an exception
//! expired) and leaving out the noise of counters that only grew.

use jiff::Timestamp;
use serde::Serialize;

use super::diff::{Delta, DeltaKind, diff};
use crate::state::FleetState;

/// At most this many entries are kept; later ones are counted in [`Timeline::left_out`].
pub const MAX_ENTRIES: usize = 2_000;

/// One turn: a change and the step in which it was seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The end of the step in which the change was seen (the change happened after the
    /// step's start and at or before this moment).
    pub seen_by: Timestamp,
    /// The change.
    #[serde(flatten)]
    pub delta: Delta,
}

/// The turns of a stretch of a recording.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timeline {
    /// The turns, in time order (within one step: in pane order).
    pub entries: Vec<Entry>,
    /// Turns past [`MAX_ENTRIES`], not kept.
    pub left_out: usize,
}

impl Timeline {
    /// Adds the turns between two consecutive steps of a replay.
    pub fn step(&mut self, before: &FleetState, after: &FleetState) {
        for delta in diff(before, after).changes.into_iter().filter(is_a_turn) {
            if self.entries.len() < MAX_ENTRIES {
                self.entries.push(Entry { seen_by: after.now(), delta });
            } else {
                self.left_out += 1;
            }
        }
    }
}

/// True for a change a review asks about: everything but a denial row whose count grew while
/// it kept firing, and a pending GPU pod's wait (its appearing and going are turns).
fn is_a_turn(d: &Delta) -> bool {
    if d.kind != DeltaKind::Changed {
        return true;
    }
    match d.what {
        "denial" | "cluster queue" => {
            d.facts.iter().any(|f| f.fact != "count" && !f.fact.starts_with("used "))
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn quota_denial(count: u64, last: i64) -> Record {
        Record::Denial(Denial {
            id: "d1".into(),
            engine: Engine::ResourceQuota,
            enforcement: Enforcement::Deny,
            policy: None,
            webhook: None,
            binding: None,
            rule: None,
            object: ObjectRef { kind: "Pod".into(), namespace: Some("ns".into()), name: "p".into() },
            operation: None,
            user: None,
            message: "exceeded quota".into(),
            count,
            first_seen: t(0),
            last_seen: t(last),
            severity: None,
            category: None,
            owner: None,
            exceptions: vec![],
            evidence: vec![],
            class: DenialClass::default(),
        })
    }

    #[test]
    fn a_denial_s_start_and_stop_are_turns_its_growing_count_is_not() {
        let mut s = FleetState::new(t(0));
        let mut tl = Timeline::default();
        let mut step = |s: &mut FleetState, at: i64, record: Option<Record>| {
            let before = s.clone();
            if let Some(record) = record {
                s.apply(&Observation {
                    at: t(at),
                    cluster: ClusterId::new("a"),
                    change: Change::Upsert { record },
                });
            }
            s.set_clock(t(at));
            tl.step(&before, s);
        };
        step(&mut s, 10, Some(quota_denial(1, 10)));
        step(&mut s, 40, Some(quota_denial(5, 40)));
        step(&mut s, 70, Some(quota_denial(9, 70)));
        step(&mut s, 700, None);
        // The first observation also declares the cluster (a turn of its own).
        assert_eq!((tl.entries[0].delta.what, tl.entries[0].delta.kind), ("cluster", DeltaKind::Appeared));
        let denials: Vec<&Entry> = tl.entries.iter().filter(|e| e.delta.what == "denial").collect();
        let turns: Vec<(Timestamp, DeltaKind)> = denials.iter().map(|e| (e.seen_by, e.delta.kind)).collect();
        assert_eq!(turns, [(t(10), DeltaKind::Appeared), (t(700), DeltaKind::Changed)]);
        let stop = &denials[1].delta.facts;
        assert_eq!(stop.len(), 1);
        assert_eq!(stop[0].fact, "activity");
        assert_eq!(stop[0].to.as_deref(), Some("quiet since 08:01:10Z"));
    }
}
