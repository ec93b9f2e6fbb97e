//! Reducer tests: observations in, state out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;

use super::*;
use crate::model::*;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap()
}

fn denial(id: &str, policy: &str, count: u64) -> Denial {
    Denial {
        class: Default::default(),
        id: id.into(),
        engine: Engine::Kyverno,
        enforcement: Enforcement::Deny,
        policy: Some(PolicyRef {
            kind: "ClusterPolicy".into(),
            name: policy.into(),
            namespace: None,
            generation: Some(4),
            resource_version: None,
        }),
        webhook: Some("validate.kyverno.svc-fail".into()),
        binding: None,
        rule: Some("run-as-non-root".into()),
        object: ObjectRef { kind: "Pod".into(), namespace: Some("shop".into()), name: id.into() },
        operation: Some("CREATE".into()),
        user: None,
        message: "denied".into(),
        count,
        first_seen: t(0),
        last_seen: t(count as i64),
        severity: None,
        category: None,
        owner: None,
        exceptions: vec![],
        evidence: vec![],
    }
}

fn workload(name: &str, queue: &str) -> GpuWorkload {
    GpuWorkload {
        namespace: "ml".into(),
        name: name.into(),
        uid: None,
        owner: None,
        local_queue: "lq".into(),
        cluster_queue: Some(queue.into()),
        team: Some("team-a".into()),
        priority_class: None,
        priority: 0,
        gpus: 4,
        cpu: None,
        memory: None,
        flavor: None,
        state: WorkloadState::Admitted,
        created_at: t(0),
        admitted_at: Some(t(1)),
        position: None,
        history: vec![],
    }
}

fn obs(at: i64, cluster: &str, change: Change) -> Observation {
    Observation { at: t(at), cluster: ClusterId::new(cluster), change }
}

fn upsert(at: i64, cluster: &str, record: Record) -> Observation {
    obs(at, cluster, Change::Upsert { record })
}

#[test]
fn upsert_replaces_and_delete_removes() {
    let mut s = FleetState::default();
    s.apply(&upsert(1, "a", Record::Denial(denial("d1", "p", 1))));
    s.apply(&upsert(2, "a", Record::Denial(denial("d1", "p", 5))));
    assert_eq!(s.denials().len(), 1);
    let id = RecordId::new(ClusterId::new("a"), "d1");
    assert_eq!(s.denials()[&id].count, 5);
    s.apply(&obs(3, "a", Change::Delete { kind: RecordKind::Denial, key: "d1".into() }));
    assert!(s.denials().is_empty());
    assert!(s.merged_denials().by_policy().is_empty(), "index entry must go with the row");
}

#[test]
fn same_key_in_two_clusters_is_two_rows() {
    let mut s = FleetState::default();
    s.apply(&upsert(1, "a", Record::Denial(denial("d1", "p", 1))));
    s.apply(&upsert(1, "b", Record::Denial(denial("d1", "p", 1))));
    assert_eq!(s.denials().len(), 2);
    assert_eq!(s.merged_denials().by_policy()["p"].len(), 2);
    assert_eq!(FleetState::in_cluster(s.denials(), &ClusterId::new("b")).count(), 1);
}

#[test]
fn policy_index_follows_a_changed_policy() {
    let mut s = FleetState::default();
    s.apply(&upsert(1, "a", Record::Denial(denial("d1", "old", 1))));
    s.apply(&upsert(2, "a", Record::Denial(denial("d1", "new", 1))));
    assert!(!s.merged_denials().by_policy().contains_key("old"));
    assert_eq!(s.merged_denials().by_policy()["new"].len(), 1);
}

#[test]
fn queue_index_tracks_workloads() {
    let mut s = FleetState::default();
    s.apply(&upsert(1, "a", Record::GpuWorkload(workload("w1", "team-a"))));
    s.apply(&upsert(1, "a", Record::GpuWorkload(workload("w2", "team-a"))));
    s.apply(&upsert(2, "a", Record::GpuWorkload(workload("w2", "research"))));
    let key = |q: &str| (ClusterId::new("a"), q.to_string());
    assert_eq!(s.indexes().workloads_by_queue[&key("team-a")].len(), 1);
    assert_eq!(s.indexes().workloads_by_queue[&key("research")].len(), 1);
}

#[test]
fn relist_drops_records_not_seen_again_and_never_duplicates() {
    let mut s = FleetState::default();
    for i in 0..5 {
        s.apply(&upsert(1, "a", Record::Denial(denial(&format!("d{i}"), "p", 1))));
    }
    s.apply(&upsert(1, "b", Record::Denial(denial("d9", "p", 1))));
    // 410 Gone: the watcher relists; only d1 and d3 still exist.
    s.apply(&obs(5, "a", Change::SyncStart { kind: RecordKind::Denial }));
    s.apply(&upsert(5, "a", Record::Denial(denial("d1", "p", 2))));
    s.apply(&upsert(5, "a", Record::Denial(denial("d3", "p", 2))));
    s.apply(&obs(6, "a", Change::SyncEnd { kind: RecordKind::Denial }));
    let keys: Vec<_> = s.denials().keys().map(|id| format!("{}:{}", id.cluster, id.key)).collect();
    assert_eq!(keys, ["a:d1", "a:d3", "b:d9"], "other clusters are untouched");
    assert_eq!(s.merged_denials().by_policy()["p"].len(), 3);
}

#[test]
fn relist_of_one_kind_leaves_other_kinds_alone() {
    let mut s = FleetState::default();
    s.apply(&upsert(1, "a", Record::Denial(denial("d1", "p", 1))));
    s.apply(&upsert(1, "a", Record::GpuWorkload(workload("w1", "q"))));
    s.apply(&obs(2, "a", Change::SyncStart { kind: RecordKind::GpuWorkload }));
    s.apply(&obs(3, "a", Change::SyncEnd { kind: RecordKind::GpuWorkload }));
    assert_eq!(s.denials().len(), 1);
    assert!(s.gpu_workloads().is_empty());
}

#[test]
fn clock_follows_observations_and_never_goes_back() {
    let mut s = FleetState::new(t(0));
    s.apply(&upsert(10, "a", Record::Denial(denial("d1", "p", 1))));
    assert_eq!(s.now(), t(10));
    s.apply(&upsert(5, "a", Record::Denial(denial("d2", "p", 1))));
    assert_eq!(s.now(), t(10));
    s.set_clock(t(3));
    assert_eq!(s.now(), t(10));
    s.set_clock(t(20));
    assert_eq!(s.now(), t(20));
}

#[test]
fn cluster_health_is_derived_from_connection_and_sources() {
    let mut s = FleetState::default();
    let c = ClusterId::new("a");
    s.add_cluster(c.clone());
    assert_eq!(s.clusters()[&c].health(), ClusterHealth::Syncing);
    let connect = ClusterUpdate {
        connection: Some(ConnectionState::Connected),
        server_version: Some("v1.31.4".into()),
        latency_ms: Some(42),
        labels: None,
    };
    s.apply(&obs(1, "a", Change::Cluster(connect)));
    let source = |state| Change::Source { source: SourceKind::Events, state };
    s.apply(&obs(1, "a", source(SourceState::Syncing)));
    assert_eq!(s.clusters()[&c].health(), ClusterHealth::Syncing);
    s.apply(&obs(2, "a", source(SourceState::Live)));
    assert_eq!(s.clusters()[&c].health(), ClusterHealth::Live);
    assert_eq!(s.clusters()[&c].server_version.as_deref(), Some("v1.31.4"));
    s.apply(&obs(3, "a", source(SourceState::Forbidden { message: "events is forbidden".into() })));
    assert_eq!(s.clusters()[&c].health(), ClusterHealth::Forbidden, "RBAC lets us read nothing");
    s.apply(&obs(3, "a", source(SourceState::Error { message: "boom".into() })));
    assert_eq!(s.clusters()[&c].health(), ClusterHealth::Stale);
    let lost = ClusterUpdate {
        connection: Some(ConnectionState::Unreachable { since: t(4), error: "i/o timeout".into() }),
        ..Default::default()
    };
    s.apply(&obs(4, "a", Change::Cluster(lost)));
    assert_eq!(s.clusters()[&c].health(), ClusterHealth::Unreachable);
    assert_eq!(s.clusters()[&c].latency_ms, Some(42), "partial updates keep other fields");
}

#[test]
fn data_age_counts_from_the_newest_record() {
    let mut s = FleetState::default();
    s.apply(&upsert(10, "a", Record::Denial(denial("d1", "p", 1))));
    s.set_clock(t(70));
    let age = s.clusters()[&ClusterId::new("a")].data_age(s.now()).unwrap();
    assert_eq!(age.as_secs(), 60);
}

fn story() -> Vec<Observation> {
    let mut v = vec![];
    for i in 0..50 {
        let c = if i % 3 == 0 { "a" } else { "b" };
        v.push(upsert(i, c, Record::Denial(denial(&format!("d{}", i % 7), "p", i as u64))));
        v.push(upsert(i, c, Record::GpuWorkload(workload(&format!("w{}", i % 5), "q"))));
        if i % 10 == 9 {
            v.push(obs(i, c, Change::Delete { kind: RecordKind::Denial, key: "d1".into() }));
        }
    }
    v
}

#[test]
fn same_observations_give_the_same_state() {
    let mut a = FleetState::default();
    let mut b = FleetState::default();
    a.apply_all(&story());
    b.apply_all(&story());
    assert_eq!(a, b);
}

#[test]
fn keyframe_round_trip_rebuilds_tables_and_indexes() {
    let mut s = FleetState::default();
    s.apply_all(&story());
    s.apply(&obs(60, "a", Change::SyncStart { kind: RecordKind::Denial }));
    let frame = s.keyframe();
    let json = serde_json::to_string(&frame).unwrap();
    let back: Keyframe = serde_json::from_str(&json).unwrap();
    let mut rebuilt = FleetState::from_keyframe(&back);
    assert!(rebuilt.same_facts(&s));
    assert_eq!(rebuilt.indexes(), s.indexes());
    // The open relist survives the keyframe: ending it drops cluster a's denials in both.
    let end = obs(61, "a", Change::SyncEnd { kind: RecordKind::Denial });
    s.apply(&end);
    rebuilt.apply(&end);
    assert!(rebuilt.same_facts(&s));
    assert_eq!(FleetState::in_cluster(s.denials(), &ClusterId::new("a")).count(), 0);
}

#[test]
fn snapshot_json_names_every_pane() {
    let mut s = FleetState::default();
    s.apply_all(&story());
    let v = serde_json::to_value(s.snapshot()).unwrap();
    for key in crate::state::SECTIONS {
        assert!(v.get(key).is_some_and(|x| x.is_array()), "missing {key}");
    }
    assert_eq!(v["denials"][0]["cluster"], "a");
    assert_eq!(v["clusters"][0]["health"], "syncing");
}

fn policy(generation: i64) -> Record {
    Record::Policy(Policy {
        engine: Engine::Kyverno,
        kind: "ClusterPolicy".into(),
        namespace: None,
        name: "require-run-as-nonroot".into(),
        generation: Some(generation),
        resource_version: None,
        rules: vec!["run-as-non-root".into()],
        enforcement: Some(Enforcement::Deny),
        binds: None,
        severity: None,
        category: None,
        owner: None,
        ready: None,
        created_at: None,
        rollout: None,
    })
}

#[test]
fn a_generation_change_is_remembered_as_a_rollout_and_survives_keyframes() {
    let mut s = FleetState::default();
    let up = |at, generation| obs(at, "a", Change::Upsert { record: policy(generation) });
    let rollout = |s: &FleetState| s.policies().values().next().and_then(|p| p.rollout.clone());
    s.apply(&up(0, 3));
    s.apply(&up(5, 3));
    assert_eq!(rollout(&s), None, "the first sight and a resync of the same generation are no rollout");
    s.apply(&up(10, 4));
    assert_eq!(rollout(&s), Some(Rollout { from: Some(3), at: t(10) }));
    s.apply(&up(20, 4));
    assert_eq!(rollout(&s), Some(Rollout { from: Some(3), at: t(10) }), "a resync keeps the rollout");
    let rebuilt = FleetState::from_keyframe(&s.keyframe());
    assert_eq!(rollout(&rebuilt), Some(Rollout { from: Some(3), at: t(10) }));
}

fn skip(id: &str, exceptions: &[&str], object: &str, count: u64, at: i64) -> Record {
    Record::Skip(ReportSkip {
        id: id.into(),
        report: "PolicyReport/shop/r".into(),
        policy: "require-run-as-nonroot".into(),
        rule: Some("run-as-non-root".into()),
        exceptions: exceptions.iter().map(|s| s.to_string()).collect(),
        object: ObjectRef { kind: "Pod".into(), namespace: Some("shop".into()), name: object.into() },
        count,
        at: t(at),
    })
}

#[test]
fn skips_are_indexed_by_the_exceptions_they_name_in_their_cluster() {
    let mut s = FleetState::default();
    s.apply(&upsert(1, "a", skip("s1", &["allow-shop"], "x", 1, 1)));
    s.apply(&upsert(2, "a", skip("s2", &["shop/allow-shop", "allow-legacy"], "y", 3, 2)));
    s.apply(&upsert(3, "a", skip("s3", &["allow-shop"], "x", 2, 3)));
    s.apply(&upsert(3, "b", skip("s1", &["allow-shop"], "z", 5, 3)));
    let a = ClusterId::new("a");
    let keys = |s: &FleetState, name: &str| -> Vec<String> {
        s.skips_newest_first(&a, name).iter().map(|(id, _)| id.key.clone()).collect()
    };
    assert_eq!(keys(&s, "allow-shop"), ["s3", "s2", "s1"], "newest first, namespace prefix ignored");
    assert_eq!(keys(&s, "shop/allow-shop"), ["s3", "s2", "s1"]);
    assert_eq!(keys(&s, "allow-legacy"), ["s2"]);
    assert_eq!(s.reach(&a, "allow-shop"), Reach { skipped_results: 6, skipped_objects: 2 });
    assert_eq!(s.skipped_results(&a, "allow-shop"), 6);
    assert_eq!(s.reach(&ClusterId::new("b"), "allow-shop"), Reach { skipped_results: 5, skipped_objects: 1 });
    assert_eq!(s.reach(&a, "nobody"), Reach::default());

    // A result that stops naming an exception leaves its index entry.
    s.apply(&upsert(4, "a", skip("s2", &["allow-legacy"], "y", 3, 4)));
    assert_eq!(keys(&s, "allow-shop"), ["s3", "s1"]);
    s.apply(&obs(5, "a", Change::Delete { kind: RecordKind::Skip, key: "s2".into() }));
    assert!(keys(&s, "allow-legacy").is_empty());
    assert!(!s.indexes().skips_by_exception.contains_key(&(a.clone(), "allow-legacy".to_string())));

    // A relist that confirms only s1 drops s3; cluster b keeps its own s1.
    s.apply(&obs(6, "a", Change::SyncStart { kind: RecordKind::Skip }));
    s.apply(&upsert(6, "a", skip("s1", &["allow-shop"], "x", 1, 1)));
    s.apply(&obs(7, "a", Change::SyncEnd { kind: RecordKind::Skip }));
    assert_eq!(keys(&s, "allow-shop"), ["s1"]);
    assert_eq!(s.skips().len(), 2);

    // Keyframes carry them and rebuild the index.
    let frame: Keyframe = serde_json::from_str(&serde_json::to_string(&s.keyframe()).unwrap()).unwrap();
    let rebuilt = FleetState::from_keyframe(&frame);
    assert!(rebuilt.same_facts(&s));
    assert_eq!(rebuilt.indexes(), s.indexes());
    let v = serde_json::to_value(s.snapshot()).unwrap();
    assert_eq!(v["skips"].as_array().map(Vec::len), Some(2));
}

/// A denial with its own id, last seen at `last_seen` seconds.
fn aged_denial(i: usize, last_seen: i64) -> Denial {
    Denial { last_seen: t(last_seen), ..denial(&format!("d{i:06}"), "p", 1) }
}

#[test]
fn a_cluster_keeps_at_most_the_bound_of_denials_dropping_the_oldest() {
    // Issue 13, item 13: denials from an audit log or Events were never deleted.
    let max = bounds::MAX_PER_CLUSTER;
    let mut s = FleetState::with_clusters(t(0), &[ClusterId::new("a"), ClusterId::new("b")]);
    // Oldest first, as an audit log is read: denial i was last seen i + 1 seconds in.
    let n = max + 10;
    for i in 0..n {
        s.apply(&upsert(1, "a", Record::Denial(aged_denial(i, i as i64 + 1))));
    }
    s.apply(&upsert(1, "b", Record::Denial(aged_denial(0, 1))));
    let a = ClusterId::new("a");
    let kept = FleetState::in_cluster(s.denials(), &a).count();
    let dropped = n - kept;
    assert_eq!(dropped, bounds::to_drop(max + 1), "one drop of a 16th when the bound was passed");
    assert!(kept <= max);
    assert_eq!(s.clusters()[&a].dropped[&RecordKind::Denial], dropped as u64);
    // The oldest went (last seen 1..=dropped seconds); the newest stayed.
    let oldest_kept = FleetState::in_cluster(s.denials(), &a).map(|(_, d)| d.last_seen).min().unwrap();
    assert_eq!(oldest_kept, t(dropped as i64 + 1));
    assert_eq!(
        FleetState::in_cluster(s.denials(), &ClusterId::new("b")).count(),
        1,
        "other clusters keep theirs"
    );
    assert!(s.clusters()[&ClusterId::new("b")].dropped.is_empty());
    // Merged rows and indexes went with the rows.
    assert_eq!(s.denial_rows().count(), kept + 1);
    // The count travels in keyframes: a seek agrees with the live state.
    let again = FleetState::from_keyframe(&s.keyframe());
    assert!(again.same_facts(&s));
    let mut more = again.clone();
    more.apply(&upsert(2, "a", Record::Denial(aged_denial(n + 1, 1_000_000))));
    s.apply(&upsert(2, "a", Record::Denial(aged_denial(n + 1, 1_000_000))));
    assert!(more.same_facts(&s), "the sizes are rebuilt from a keyframe");
}

#[test]
fn updates_and_deletes_never_count_as_growth() {
    let max = bounds::MAX_PER_CLUSTER;
    let mut s = FleetState::default();
    for round in 0..3 {
        for i in 0..max {
            s.apply(&upsert(round, "a", Record::Denial(aged_denial(i, round))));
        }
    }
    assert_eq!(s.denials().len(), max);
    for i in 0..10 {
        s.apply(&obs(5, "a", Change::Delete { kind: RecordKind::Denial, key: format!("d{i:06}") }));
    }
    for i in 0..10 {
        s.apply(&upsert(6, "a", Record::Denial(aged_denial(max + i, 6))));
    }
    assert_eq!(s.denials().len(), max);
    assert!(s.clusters()[&ClusterId::new("a")].dropped.is_empty());
}

/// A healthy exporter in cluster "a" scraped at `at`.
fn flowing_exporter(at: i64) -> Record {
    let mut p = PipelineComponent::unmeasured(
        "otel/gw".into(),
        ComponentKind::Exporter,
        "otlp".into(),
        Signal::Traces,
        t(at),
    );
    p.sent_per_s = 100.0;
    Record::Pipeline(p)
}

#[test]
fn a_pipeline_verdict_turns_unknown_when_its_cluster_is_unreachable_or_its_source_stops() {
    let mut s = FleetState::default();
    s.apply(&upsert(1, "a", flowing_exporter(1)));
    let verdict = |s: &FleetState| {
        let (id, p) = s.pipelines().iter().next().unwrap();
        s.pipeline_verdict(id, p)
    };
    assert_eq!(verdict(&s), PipelineVerdict::Known(PipelineHealth::Healthy));
    // The pipelines source failing: unknown since the last scrape, "ok" kept as last-known.
    let source = |state| Change::Source { source: SourceKind::Pipelines, state };
    s.apply(&obs(2, "a", source(SourceState::Error { message: "connection refused".into() })));
    assert_eq!(verdict(&s), PipelineVerdict::Unknown { since: t(1), was: PipelineHealth::Healthy });
    s.apply(&obs(3, "a", source(SourceState::Stale { since: t(2) })));
    assert_eq!(verdict(&s), PipelineVerdict::Unknown { since: t(2), was: PipelineHealth::Healthy });
    s.apply(&obs(4, "a", source(SourceState::Live)));
    assert_eq!(verdict(&s), PipelineVerdict::Known(PipelineHealth::Healthy));
    // The cluster unreachable: unknown since it was lost, whatever the source said last.
    let lost = ClusterUpdate {
        connection: Some(ConnectionState::Unreachable { since: t(5), error: "i/o timeout".into() }),
        ..Default::default()
    };
    s.apply(&obs(5, "a", Change::Cluster(lost)));
    assert_eq!(verdict(&s), PipelineVerdict::Unknown { since: t(5), was: PipelineHealth::Healthy });
    assert!(!verdict(&s).is_losing() && verdict(&s).known().is_none());
}
