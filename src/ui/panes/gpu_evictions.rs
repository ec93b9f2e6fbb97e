//! The GPU pane's "preemptions" view: recent evictions of Kueue workloads across the fleet,
//! newest first — who lost how many GPUs, when, why, and who preempted them. Enter opens the
//! victim's workload detail.

use ratatui::layout::Constraint;

use crate::sources::parse::kueue_message::{self, PreemptionCause};
use crate::state::{Eviction, FleetState, RecordId};
use crate::ui::widgets::format;
use crate::ui::widgets::table::{
    Cell, Column, Ctx, Detail, DetailLine, SortKey, Spec, cluster_column, table_rows,
};

/// Why it was evicted, in words: `Preempted: reclamation within the cohort`, or the reason and
/// Kueue's message on one line (`PodsReadyTimeout: Exceeded the PodsReady timeout …`).
pub fn why(e: &Eviction) -> String {
    let words = match kueue_message::parse_preemption(&e.message) {
        Some(p) => p.cause.words().to_string(),
        None => format::one_line(&e.message),
    };
    match (e.reason.is_empty(), words.is_empty()) {
        (_, true) => e.reason.clone(),
        (true, false) => words,
        (false, false) => format!("{}: {words}", e.reason),
    }
}

/// Who preempted it, when Kueue's message tells: the preemptor workload as `namespace/name`
/// when its UID names a workload of the cluster, else its UID; without a UID, the ClusterQueue
/// of the preemptor (its `preemptor path`, or the victim's own queue for a preemption within
/// it). `None` for evictions that are not preemptions, or a preemptor not named at all.
pub fn preemptor(state: &FleetState, e: &Eviction) -> Option<String> {
    let p = kueue_message::parse_preemption(&e.message)?;
    if let Some(uid) = &p.by_workload_uid {
        let key = (e.workload.cluster.clone(), uid.clone());
        return Some(match state.indexes().workloads_by_uid.get(&key) {
            Some(id) => id.key.clone(),
            None => format!("workload uid {uid}"),
        });
    }
    let queue = match (&p.preemptor_path, &p.cause) {
        (Some(path), _) => path.rsplit('/').next().map(str::to_string),
        (None, PreemptionCause::InClusterQueue) => Some(e.queue.clone()),
        _ => None,
    };
    queue.filter(|q| !q.is_empty()).map(|q| format!("a workload of {q}"))
}

/// [`why`] for the table's narrow column: a preemption's cause in a few words
/// (`cohort reclaimed`), else the eviction reason (`PodsReadyTimeout`).
pub fn why_short(e: &Eviction) -> String {
    let Some(p) = kueue_message::parse_preemption(&e.message) else {
        return if e.reason.is_empty() { format::one_line(&e.message) } else { e.reason.clone() };
    };
    match &p.cause {
        PreemptionCause::InClusterQueue => "priority in its queue".into(),
        PreemptionCause::InCohortReclamation => "cohort reclaimed quota".into(),
        PreemptionCause::InCohortFairSharing => "cohort fair sharing".into(),
        PreemptionCause::InCohortReclaimWhileBorrowing => "reclaimed, was borrowing".into(),
        PreemptionCause::HigherPriority => "higher priority".into(),
        PreemptionCause::Unknown => "preempted".into(),
        PreemptionCause::Other(words) => words.clone(),
    }
}

fn workload_name(e: &Eviction) -> &str {
    &e.workload.key
}

/// The evictions table, newest first.
pub fn evictions() -> Spec<Eviction> {
    Spec {
        all: |s| table_rows(s.evictions().rows()),
        get: |s, id| s.evictions().rows().get(id),
        default_sort: (0, true),
        filter_text: |_, id, e| {
            format!("{} {} {} {} {}", id.cluster, e.workload.key, e.queue, e.reason, why(e))
        },
        detail: eviction_detail,
        columns: vec![
            Column {
                title: "WHEN",
                width: Constraint::Length(8),
                cell: |_, _, e| Cell::text(format::clock(e.at)),
                key: |_, _, e| SortKey::Num(e.at.as_millisecond() as f64),
            },
            cluster_column(),
            Column {
                title: "WORKLOAD",
                width: Constraint::Fill(3),
                cell: |_, _, e| Cell::styled(workload_name(e).to_string(), "gpu.evicted"),
                key: |_, _, e| SortKey::Text(workload_name(e).to_string()),
            },
            Column {
                title: "QUEUE",
                width: Constraint::Fill(1),
                cell: |_, _, e| Cell::text(e.queue.clone()),
                key: |_, _, e| SortKey::Text(e.queue.clone()),
            },
            Column {
                title: "GPUS",
                width: Constraint::Length(4),
                cell: |_, _, e| Cell::text(e.gpus.to_string()),
                key: |_, _, e| SortKey::Num(e.gpus as f64),
            },
            Column {
                title: "WHY",
                width: Constraint::Length(24),
                cell: |_, _, e| Cell::text(why_short(e)),
                key: |_, _, e| SortKey::Text(why_short(e)),
            },
            Column {
                title: "PREEMPTED BY",
                width: Constraint::Fill(3),
                cell: |ctx, _, e| match preemptor(ctx.state, e) {
                    Some(p) => Cell::text(p),
                    None => Cell::styled("—", "ui.dim"),
                },
                key: |ctx, _, e| SortKey::Text(preemptor(ctx.state, e).unwrap_or_default()),
            },
        ],
    }
}

/// The eviction, then the victim's workload detail (its whole history), or a note when the
/// workload is gone.
fn eviction_detail(ctx: &Ctx, _id: &RecordId, e: &Eviction) -> Detail {
    let mut lines = vec![
        DetailLine::Section("this eviction".into()),
        DetailLine::field(
            "when",
            format!("{} ({} ago)", e.at, format::age_precise(ctx.now.duration_since(e.at))),
        ),
        DetailLine::Field { label: "why".into(), value: why(e), scope: "gpu.evicted" },
        DetailLine::field("gpus lost", format!("{} in queue {}", e.gpus, e.queue)),
        DetailLine::field(
            "preempted by",
            preemptor(ctx.state, e).unwrap_or_else(|| "not a preemption, or not named".into()),
        ),
    ];
    if !e.message.is_empty() {
        lines.push(DetailLine::field("kueue says", e.message.clone()));
    }
    match ctx.state.gpu_workloads().get(&e.workload) {
        Some(w) => {
            let detail = super::gpu::workload_detail(ctx, &e.workload, w);
            lines.push(DetailLine::Section("the workload now".into()));
            lines.extend(detail.lines);
            Detail { title: detail.title, lines }
        }
        None => {
            lines.push(DetailLine::Text("the workload no longer exists".into(), "ui.dim"));
            Detail { title: format!("Workload {} (gone)", e.workload.key), lines }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{Change, ClusterId, GpuWorkload, Observation, Record, WorkloadEvent, WorkloadState};
    use jiff::Timestamp;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn wl(
        name: &str,
        uid: &str,
        cq: Option<&str>,
        state: WorkloadState,
        history: Vec<WorkloadEvent>,
    ) -> GpuWorkload {
        GpuWorkload {
            namespace: "ml".into(),
            name: name.into(),
            uid: Some(uid.into()),
            cpu: None,
            memory: None,
            owner: None,
            local_queue: "default".into(),
            cluster_queue: cq.map(String::from),
            team: None,
            priority_class: None,
            priority: 0,
            gpus: 4,
            flavor: None,
            state,
            created_at: t(0),
            admitted_at: None,
            position: None,
            history,
        }
    }

    fn put(s: &mut FleetState, at: i64, w: GpuWorkload) {
        s.apply(&Observation {
            at: t(at),
            cluster: ClusterId::new("c"),
            change: Change::Upsert { record: Record::GpuWorkload(w) },
        });
    }

    fn eviction(message: &str, queue: &str) -> Eviction {
        Eviction {
            at: t(1),
            workload: RecordId::new(ClusterId::new("c"), "ml/victim"),
            queue: queue.into(),
            gpus: 4,
            reason: "Preempted".into(),
            message: message.into(),
        }
    }

    #[test]
    fn the_preemptor_is_named_by_its_uid_else_by_its_queue() {
        let mut s = FleetState::default();
        put(&mut s, 0, wl("hotfix", "u-9", Some("team-a"), WorkloadState::Admitted, vec![]));
        let by_uid = eviction(
            "Preempted to accommodate a workload (UID: u-9, JobUID: j) due to reclamation within the cohort",
            "research",
        );
        assert_eq!(preemptor(&s, &by_uid).as_deref(), Some("ml/hotfix"));
        assert_eq!(why(&by_uid), "Preempted: reclamation within the cohort");
        assert_eq!(why_short(&by_uid), "cohort reclaimed quota");
        let unknown_uid = eviction(
            "Preempted to accommodate a workload (UID: u-404, JobUID: j) due to reclamation within the cohort",
            "research",
        );
        assert_eq!(preemptor(&s, &unknown_uid).as_deref(), Some("workload uid u-404"));
        let by_path = eviction(
            "Preempted to accommodate a workload (UID: UNKNOWN, JobUID: UNKNOWN) due to fair sharing within the cohort; preemptor path: /root/team-b; preemptee path: /root/research",
            "research",
        );
        assert_eq!(preemptor(&s, &by_path).as_deref(), Some("a workload of team-b"));
        let same_queue = eviction(
            "Preempted to accommodate a workload (UID: UNKNOWN, JobUID: UNKNOWN) due to prioritization in the ClusterQueue",
            "research",
        );
        assert_eq!(preemptor(&s, &same_queue).as_deref(), Some("a workload of research"));
        let old = eviction("Preempted to accommodate a higher priority Workload", "research");
        assert_eq!((preemptor(&s, &old), why(&old).as_str()), (None, "Preempted: higher priority"));
        let timeout = Eviction {
            reason: "PodsReadyTimeout".into(),
            ..eviction("Exceeded the PodsReady timeout\n  ml/victim", "research")
        };
        assert_eq!(
            (preemptor(&s, &timeout), why(&timeout).as_str()),
            (None, "PodsReadyTimeout: Exceeded the PodsReady timeout ml/victim")
        );
        assert_eq!(why_short(&timeout), "PodsReadyTimeout");
    }

    #[test]
    fn the_table_lists_newest_first_and_enter_shows_the_victim_with_its_evictions() {
        let msg = "Preempted to accommodate a workload (UID: u-9, JobUID: j) due to prioritization in the ClusterQueue";
        let line = format!("Evicted=True (Preempted): {msg}");
        let ev = |at: i64| WorkloadEvent { at: t(at), what: line.clone() };
        let mut s = FleetState::default();
        put(&mut s, 0, wl("hotfix", "u-9", Some("q"), WorkloadState::Admitted, vec![]));
        put(&mut s, 1, wl("victim", "u-1", Some("q"), WorkloadState::Admitted, vec![]));
        let evicted = WorkloadState::Evicted { reason: "Preempted".into(), message: msg.into() };
        put(&mut s, 10, wl("victim", "u-1", None, evicted.clone(), vec![ev(10)]));
        put(&mut s, 20, wl("victim", "u-1", Some("q"), WorkloadState::Admitted, vec![]));
        put(&mut s, 30, wl("other", "u-2", None, evicted, vec![ev(30)]));
        let spec = evictions();
        let rows = crate::ui::widgets::table::TableView::build(&spec, &s, "", spec.default_sort);
        let names: Vec<&str> = rows.iter().map(|id| s.evictions().rows()[id].workload.key.as_str()).collect();
        assert_eq!(
            names,
            vec!["ml/other", "ml/victim"],
            "newest first; the readmitted victim's eviction stays"
        );
        let victim = &s.evictions().rows()[&rows[1]];
        assert_eq!(victim.queue, "q", "the queue it was admitted through");
        let ctx = Ctx { state: &s, now: s.now() };
        let detail = eviction_detail(&ctx, &rows[1], victim);
        let text = detail.to_text();
        assert_eq!(detail.title, "Workload ml/victim");
        assert!(text.contains("preempted by: ml/hotfix"), "{text}");
        assert!(text.contains("evictions seen (1)"), "{text}");
        assert!(text.contains("Preempted: prioritization in the ClusterQueue · by ml/hotfix"), "{text}");
        // The victim deleted: its eviction stays, and says the workload is gone.
        s.apply(&Observation {
            at: t(40),
            cluster: ClusterId::new("c"),
            change: Change::Delete { kind: crate::model::RecordKind::GpuWorkload, key: "ml/victim".into() },
        });
        let victim = &s.evictions().rows()[&rows[1]];
        let ctx = Ctx { state: &s, now: s.now() };
        let detail = eviction_detail(&ctx, &rows[1], victim);
        assert_eq!(detail.title, "Workload ml/victim (gone)");
        assert!(detail.to_text().contains("the workload no longer exists"));
    }
}
