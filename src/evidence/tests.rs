//! Diff semantics: appear, disappear and change per record kind; relists in between; facts
//! that change with the clock alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;

use super::*;
use crate::evidence::text;
use crate::model::*;
use crate::state::FleetState;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap()
}

fn denial(id: &str, count: u64, last: i64) -> Denial {
    Denial {
        id: id.into(),
        engine: Engine::Kyverno,
        enforcement: Enforcement::Deny,
        policy: Some(PolicyRef {
            kind: "ClusterPolicy".into(),
            name: "require-run-as-nonroot".into(),
            namespace: None,
            generation: Some(4),
            resource_version: None,
        }),
        webhook: None,
        binding: None,
        rule: Some("run-as-non-root".into()),
        object: ObjectRef { kind: "Deployment".into(), namespace: Some("shop".into()), name: id.into() },
        operation: Some("CREATE".into()),
        user: None,
        message: "validation error:\n  Running as root\n  is not allowed".into(),
        count,
        first_seen: t(0),
        last_seen: t(last),
        severity: None,
        category: None,
        owner: None,
        exceptions: vec![],
        evidence: vec![],
        class: DenialClass::default(),
    }
}

fn workload(state: WorkloadState) -> GpuWorkload {
    GpuWorkload {
        namespace: "research".into(),
        name: "job-a".into(),
        uid: None,
        owner: None,
        local_queue: "lq".into(),
        cluster_queue: Some("research".into()),
        team: None,
        priority_class: None,
        priority: 0,
        gpus: 8,
        cpu: None,
        memory: None,
        flavor: Some("h100".into()),
        state,
        created_at: t(0),
        admitted_at: Some(t(1)),
        position: None,
        history: vec![],
    }
}

fn exception(expires: i64) -> PolicyException {
    PolicyException {
        engine: Engine::Kyverno,
        kind: "PolicyException".into(),
        namespace: Some("shop".into()),
        name: "debug".into(),
        policies: vec![],
        matches: String::new(),
        scope: vec![],
        created_at: None,
        expires_at: Some(t(expires)),
        expiry_source: ExpirySource::ExpiresAt,
        owner: None,
        ticket: None,
        evidence: vec![],
    }
}

fn upsert(s: &mut FleetState, at: i64, record: Record) {
    s.apply(&Observation { at: t(at), cluster: ClusterId::new("a"), change: Change::Upsert { record } });
}

fn change(s: &mut FleetState, at: i64, change: Change) {
    s.apply(&Observation { at: t(at), cluster: ClusterId::new("a"), change });
}

fn fact<'a>(c: &'a crate::evidence::Delta, name: &str) -> (Option<&'a str>, Option<&'a str>) {
    let f = c.facts.iter().find(|f| f.fact == name).unwrap_or_else(|| panic!("no fact {name} in {c:?}"));
    (f.from.as_deref(), f.to.as_deref())
}

#[test]
fn the_same_state_twice_is_no_change() {
    let mut s = FleetState::default();
    upsert(&mut s, 10, Record::Denial(denial("d1", 3, 10)));
    let d = diff(&s, &s);
    assert!(d.changes.is_empty(), "{d:?}");
    assert_eq!(d.counts(), (0, 0, 0));
}

#[test]
fn a_denial_appears_grows_stops_and_disappears() {
    let mut s = FleetState::default();
    change(&mut s, 0, Change::Cluster(ClusterUpdate::default()));
    let empty = s.clone();
    upsert(&mut s, 10, Record::Denial(denial("d1", 3, 10)));
    let first = s.clone();

    let d = diff(&empty, &first);
    let c = d.pane(Pane::Denials).next().unwrap();
    assert_eq!((c.kind, c.what), (DeltaKind::Appeared, "denial"));
    assert_eq!(c.subject, "kyverno deny require-run-as-nonroot/run-as-non-root on Deployment shop/d1");
    assert_eq!(fact(c, "count"), (None, Some("3")));
    assert_eq!(fact(c, "activity"), (None, Some("firing")));
    // The evidence is the message on one line, verbatim otherwise.
    assert_eq!(c.evidence.as_deref(), Some("validation error: Running as root is not allowed"));

    upsert(&mut s, 60, Record::Denial(denial("d1", 7, 60)));
    let d = diff(&first, &s);
    let c = d.pane(Pane::Denials).next().unwrap();
    assert_eq!(c.kind, DeltaKind::Changed);
    assert_eq!(fact(c, "count"), (Some("3"), Some("7")));
    assert_eq!(c.facts.len(), 1, "still firing: only the count changed: {c:?}");

    // Ten quiet minutes later, only the clock moved: the row stopped firing.
    let grown = s.clone();
    s.set_clock(t(60 + 600));
    let d = diff(&grown, &s);
    let c = d.pane(Pane::Denials).next().unwrap();
    assert_eq!(fact(c, "activity"), (Some("firing"), Some("quiet since 08:01:00Z")));
    assert!(c.facts.iter().all(|f| f.fact != "count"));

    change(&mut s, 700, Change::Delete { kind: RecordKind::Denial, key: "d1".into() });
    let d = diff(&grown, &s);
    let c = d.pane(Pane::Denials).next().unwrap();
    assert_eq!(c.kind, DeltaKind::Disappeared);
    assert_eq!(fact(c, "count"), (Some("7"), None));
}

#[test]
fn a_relist_between_the_two_moments_is_no_change() {
    let mut s = FleetState::default();
    upsert(&mut s, 10, Record::Denial(denial("d1", 3, 10)));
    upsert(&mut s, 10, Record::GpuWorkload(workload(WorkloadState::Admitted)));
    let before = s.clone();
    // A watch restart: the source relists both kinds and confirms the same records.
    for kind in [RecordKind::Denial, RecordKind::GpuWorkload] {
        change(&mut s, 20, Change::SyncStart { kind });
    }
    upsert(&mut s, 21, Record::Denial(denial("d1", 3, 10)));
    upsert(&mut s, 21, Record::GpuWorkload(workload(WorkloadState::Admitted)));
    for kind in [RecordKind::Denial, RecordKind::GpuWorkload] {
        change(&mut s, 22, Change::SyncEnd { kind });
    }
    let d = diff(&before, &s);
    assert!(d.changes.is_empty(), "{:#?}", d.changes);
}

#[test]
fn a_preempted_workload_changes_state_with_its_condition_as_evidence() {
    let mut s = FleetState::default();
    upsert(&mut s, 10, Record::GpuWorkload(workload(WorkloadState::Admitted)));
    let before = s.clone();
    let evicted = WorkloadState::Evicted {
        reason: "Preempted".into(),
        message: "Preempted to accommodate a workload (UID: 42) due to fair sharing within the cohort".into(),
    };
    upsert(&mut s, 20, Record::GpuWorkload(workload(evicted)));
    let d = diff(&before, &s);
    let c = d.pane(Pane::Gpu).next().unwrap();
    assert_eq!(
        (c.kind, c.what, c.subject.as_str()),
        (DeltaKind::Changed, "workload", "research/job-a in research")
    );
    assert_eq!(fact(c, "state"), (Some("admitted"), Some("evicted (Preempted)")));
    assert!(c.evidence.as_deref().unwrap().starts_with("Preempted to accommodate"));

    // Back to admitted: the old condition is not evidence of the new state.
    let evicted_state = s.clone();
    upsert(&mut s, 30, Record::GpuWorkload(workload(WorkloadState::Admitted)));
    let c = diff(&evicted_state, &s).changes.remove(0);
    assert_eq!(fact(&c, "state"), (Some("evicted (Preempted)"), Some("admitted")));
    assert_eq!(c.evidence, None);
}

#[test]
fn a_lost_cluster_is_a_fleet_change_with_the_error_as_evidence() {
    let mut s = FleetState::default();
    let live = ClusterUpdate { connection: Some(ConnectionState::Connected), ..Default::default() };
    change(&mut s, 0, Change::Cluster(live));
    change(&mut s, 0, Change::Source { source: SourceKind::Events, state: SourceState::Live });
    let before = s.clone();
    let lost =
        ConnectionState::Unreachable { since: t(90), error: "dial tcp 10.0.0.1:443: i/o timeout".into() };
    change(&mut s, 90, Change::Cluster(ClusterUpdate { connection: Some(lost), ..Default::default() }));
    let d = diff(&before, &s);
    let c = d.pane(Pane::Fleet).next().unwrap();
    assert_eq!((c.kind, c.what, c.subject.as_str()), (DeltaKind::Changed, "cluster", "a"));
    assert_eq!(fact(c, "health"), (Some("live"), Some("unreachable")));
    assert_eq!(fact(c, "unreachable since"), (None, Some("08:01:30Z")));
    assert_eq!(c.evidence.as_deref(), Some("dial tcp 10.0.0.1:443: i/o timeout"));
}

#[test]
fn an_exception_expires_with_the_clock_alone() {
    let mut s = FleetState::default();
    upsert(&mut s, 0, Record::Exception(exception(100)));
    let before = s.clone();
    s.set_clock(t(101));
    let d = diff(&before, &s);
    let c = d.pane(Pane::Exceptions).next().unwrap();
    assert_eq!(c.subject, "kyverno PolicyException shop/debug");
    assert_eq!(fact(c, "status"), (Some("expiring"), Some("EXPIRED")));
}

#[test]
fn changes_come_in_pane_order_and_the_text_says_each_with_absolute_times() {
    let mut s = FleetState::default();
    upsert(&mut s, 0, Record::Exception(exception(100)));
    let before = s.clone();
    upsert(&mut s, 50, Record::Denial(denial("d1", 2, 50)));
    let lost = ConnectionState::Unreachable { since: t(90), error: "i/o timeout".into() };
    change(&mut s, 90, Change::Cluster(ClusterUpdate { connection: Some(lost), ..Default::default() }));
    s.set_clock(t(120));
    let d = diff(&before, &s);
    let panes: Vec<Pane> = d.changes.iter().map(|c| c.pane).collect();
    assert_eq!(panes, [Pane::Fleet, Pane::Denials, Pane::Exceptions]);

    let text = text::render(&d, "test.fleetrec");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "test.fleetrec: 2027-01-15T08:00:00Z → 2027-01-15T08:02:00Z (2m): 1 appeared · 0 disappeared · 2 changed"
    );
    assert!(text.contains("\nFleet (1)\n  ~ a                cluster a: health syncing → unreachable; unreachable since – → 08:01:30Z\n      evidence: i/o timeout\n"), "{text}");
    assert!(text.contains("\nDenials (1)\n  + a                denial kyverno deny require-run-as-nonroot/run-as-non-root on Deployment shop/d1: count 2; activity firing\n"), "{text}");
    assert!(text.contains("\nExceptions (1)\n  ~ a                exception kyverno PolicyException shop/debug: status expiring → EXPIRED\n"), "{text}");
    assert!(!text.contains("ago"), "absolute times only: {text}");
}

#[test]
fn a_webhook_that_could_not_be_called_is_not_shown_as_a_policy_denial() {
    let mut s = FleetState::default();
    let before = s.clone();
    let mut d = denial("d1", 3, 10);
    d.policy = None;
    d.webhook = Some("namespace.sidecar-injector.istio.io".into());
    d.engine = Engine::Webhook;
    d.class = DenialClass::WebhookUnavailable { failure: FailureKind::Timeout, failure_policy: None };
    upsert(&mut s, 10, Record::Denial(d));
    let c = diff(&before, &s).changes.into_iter().find(|c| c.what == "denial").unwrap();
    assert_eq!(
        c.subject,
        "webhook webhook unavailable namespace.sidecar-injector.istio.io/run-as-non-root on Deployment shop/d1"
    );
}
