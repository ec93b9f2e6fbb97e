//! Recent evictions (preemptions among them) of Kueue workloads, newest last in time order:
//! the GPU pane's "preemptions" view. Derived by the reducer from workload records, never
//! recorded.
//!
//! A live Workload shows only its latest eviction, and only until it is admitted again (Kueue
//! then flips `Evicted` to `False` with `Previously: …`), so each eviction is taken when a
//! record carries it (an `Evicted=True` entry in its history, or the Evicted state) and kept
//! after the workload moves on, is readmitted or is deleted. A repeated upsert of the same
//! eviction (a relist, the simulator's growing history) is the same row: rows are keyed by
//! workload and eviction time. Rebuilt from keyframes like the other derived tables, a seek
//! keeps what the keyframe's workloads still show.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::{RecordId, Table};
use crate::model::{GpuWorkload, WorkloadState};

/// At most this many evictions are kept; the oldest go first.
pub const MAX_EVICTIONS: usize = 10_000;

/// One eviction of one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Eviction {
    /// When (the `Evicted` condition's transition time, else when it was first seen).
    pub at: Timestamp,
    /// The evicted workload's record id (its cluster and `namespace/name`).
    pub workload: RecordId,
    /// Its ClusterQueue when known (Kueue clears the admission on eviction, so the one it was
    /// admitted through), else its LocalQueue.
    pub queue: String,
    /// GPUs it held.
    pub gpus: u32,
    /// The `Evicted` condition's reason (`Preempted`, `PodsReadyTimeout`, `InactiveWorkload`, …).
    pub reason: String,
    /// The condition's message, verbatim (names the preemptor for preemptions).
    pub message: String,
}

/// The eviction rows, keyed `<namespace>/<name>@<milliseconds>` within the victim's cluster
/// (a workload's evictions are one key range, oldest first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evictions {
    rows: Table<Eviction>,
    by_time: BTreeSet<(Timestamp, RecordId)>,
}

impl Evictions {
    /// Every row.
    pub fn rows(&self) -> &Table<Eviction> {
        &self.rows
    }

    /// The evictions of one workload, oldest first.
    pub fn of_workload<'a>(
        &'a self,
        workload: &RecordId,
    ) -> impl Iterator<Item = (&'a RecordId, &'a Eviction)> + 'a {
        let prefix = format!("{}@", workload.key);
        let start = RecordId::new(workload.cluster.clone(), prefix.clone());
        let cluster = workload.cluster.clone();
        self.rows
            .range(start..)
            .take_while(move |(id, _)| id.cluster == cluster && id.key.starts_with(&prefix))
    }

    /// A workload record arrived (`old` is the record it replaces): each eviction it shows
    /// becomes a row unless already there. `now` dates an Evicted state whose condition has no
    /// transition time (once per eviction: not again while the workload stays evicted).
    pub(super) fn on_upsert(
        &mut self,
        id: &RecordId,
        w: &GpuWorkload,
        old: Option<&GpuWorkload>,
        now: Timestamp,
    ) {
        let queue = w
            .cluster_queue
            .clone()
            .or_else(|| old.and_then(|o| o.cluster_queue.clone()))
            .unwrap_or_else(|| w.local_queue.clone());
        let mut dated = false;
        for e in &w.history {
            if let Some((reason, message)) = evicted_words(&e.what) {
                dated = true;
                self.insert(Eviction {
                    at: e.at,
                    workload: id.clone(),
                    queue: queue.clone(),
                    gpus: w.gpus,
                    reason: reason.to_string(),
                    message: message.to_string(),
                });
            }
        }
        let WorkloadState::Evicted { reason, message } = &w.state else { return };
        if dated {
            return;
        }
        // Old Kueue sets only `Preempted`; without any dated condition, the first time seen.
        let at = w.history.iter().rev().find(|e| e.what.starts_with("Preempted=True")).map(|e| e.at);
        let since = w.admitted_at.unwrap_or(w.created_at);
        let known =
            self.of_workload(id).any(|(_, e)| e.reason == *reason && e.message == *message && e.at >= since);
        if at.is_none() && known {
            return;
        }
        self.insert(Eviction {
            at: at.unwrap_or(now),
            workload: id.clone(),
            queue,
            gpus: w.gpus,
            reason: reason.clone(),
            message: message.clone(),
        });
    }

    fn insert(&mut self, e: Eviction) {
        let key = RecordId::new(
            e.workload.cluster.clone(),
            format!("{}@{:015}", e.workload.key, e.at.as_millisecond()),
        );
        if self.rows.contains_key(&key) {
            return;
        }
        self.by_time.insert((e.at, key.clone()));
        self.rows.insert(key, e);
        while self.rows.len() > MAX_EVICTIONS {
            let Some((_, oldest)) = self.by_time.pop_first() else { break };
            self.rows.remove(&oldest);
        }
    }
}

/// `Evicted=True (Reason): message` (a history entry as the Kueue projection and the simulator
/// write it) → (reason, message).
pub(crate) fn evicted_words(what: &str) -> Option<(&str, &str)> {
    let rest = what.strip_prefix("Evicted=True")?;
    let (reason, rest) = match rest.strip_prefix(" (").and_then(|r| r.split_once(')')) {
        Some((reason, rest)) => (reason, rest),
        None => ("", rest),
    };
    Some((reason, rest.strip_prefix(": ").unwrap_or("")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{ClusterId, WorkloadEvent};

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn wl(state: WorkloadState, cq: Option<&str>, history: &[(i64, &str)]) -> GpuWorkload {
        GpuWorkload {
            namespace: "research".into(),
            name: "train".into(),
            uid: None,
            cpu: None,
            memory: None,
            owner: None,
            local_queue: "default".into(),
            cluster_queue: cq.map(String::from),
            team: None,
            priority_class: None,
            priority: 100,
            gpus: 8,
            flavor: None,
            state,
            created_at: t(0),
            admitted_at: None,
            position: None,
            history: history.iter().map(|(s, w)| WorkloadEvent { at: t(*s), what: w.to_string() }).collect(),
        }
    }

    const MSG: &str =
        "Preempted to accommodate a workload (UID: u-1, JobUID: j-1) due to reclamation within the cohort";

    fn evicted() -> WorkloadState {
        WorkloadState::Evicted { reason: "Preempted".into(), message: MSG.into() }
    }

    #[test]
    fn history_words_split_into_reason_and_message() {
        assert_eq!(evicted_words(&format!("Evicted=True (Preempted): {MSG}")), Some(("Preempted", MSG)));
        assert_eq!(evicted_words("Evicted=True (PodsReadyTimeout)"), Some(("PodsReadyTimeout", "")));
        assert_eq!(evicted_words("Evicted=False (QuotaReserved): Previously: x"), None);
        assert_eq!(evicted_words("Preempted=True (InCohortReclamation): x"), None);
    }

    #[test]
    fn an_eviction_outlives_readmission_and_repeats_are_one_row() {
        let id = RecordId::new(ClusterId::new("c"), "research/train");
        let mut ev = Evictions::default();
        let admitted = wl(WorkloadState::Admitted, Some("research"), &[(0, "Created")]);
        ev.on_upsert(&id, &admitted, None, t(10));
        assert!(ev.rows().is_empty());
        // Kueue clears the admission on eviction: the queue comes from the replaced record.
        let line = format!("Evicted=True (Preempted): {MSG}");
        let live = wl(evicted(), None, &[(0, "Created"), (60, &line)]);
        ev.on_upsert(&id, &live, Some(&admitted), t(61));
        ev.on_upsert(&id, &live, Some(&live), t(90));
        let rows: Vec<&Eviction> = ev.rows().values().collect();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!((rows[0].at, rows[0].queue.as_str(), rows[0].gpus), (t(60), "research", 8));
        assert_eq!((rows[0].reason.as_str(), rows[0].message.as_str()), ("Preempted", MSG));
        // Readmitted: the object now says `Previously: …`; the row stays, no new one.
        let again = wl(
            WorkloadState::Admitted,
            Some("research"),
            &[(0, "Created"), (120, &format!("Evicted=False (QuotaReserved): Previously: {MSG}"))],
        );
        ev.on_upsert(&id, &again, Some(&live), t(120));
        assert_eq!(ev.rows().len(), 1);
        // Evicted a second time: a second row, and both are the workload's range.
        let second = wl(evicted(), None, &[(0, "Created"), (300, &line)]);
        ev.on_upsert(&id, &second, Some(&again), t(301));
        let times: Vec<Timestamp> = ev.of_workload(&id).map(|(_, e)| e.at).collect();
        assert_eq!(times, vec![t(60), t(300)]);
        let other = RecordId::new(ClusterId::new("c"), "research/train-2");
        assert_eq!(ev.of_workload(&other).count(), 0, "a name that extends another is not its range");
    }

    #[test]
    fn an_undated_eviction_is_dated_when_first_seen_and_not_repeated() {
        let id = RecordId::new(ClusterId::new("c"), "research/train");
        let mut ev = Evictions::default();
        let w = wl(evicted(), Some("research"), &[(0, "Created")]);
        ev.on_upsert(&id, &w, None, t(50));
        ev.on_upsert(&id, &w, Some(&w), t(70));
        let times: Vec<Timestamp> = ev.rows().values().map(|e| e.at).collect();
        assert_eq!(times, vec![t(50)]);
    }

    #[test]
    fn the_oldest_rows_go_beyond_the_limit() {
        let mut ev = Evictions::default();
        for i in 0..(MAX_EVICTIONS as i64 + 5) {
            let id = RecordId::new(ClusterId::new("c"), format!("ns/w{i}"));
            let line = format!("Evicted=True (InactiveWorkload): stopped {i}");
            ev.on_upsert(&id, &wl(WorkloadState::Admitted, None, &[(i, &line)]), None, t(i));
        }
        assert_eq!(ev.rows().len(), MAX_EVICTIONS);
        let oldest = ev.rows().values().map(|e| e.at).min().unwrap();
        assert_eq!(oldest, t(5));
    }
}
