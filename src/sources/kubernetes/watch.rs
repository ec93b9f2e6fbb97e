//! Turns a kube-runtime watcher into observations: objects are projected on arrival, a relist
//! (initial list, or after `410 Gone`) deletes exactly the records its objects no longer
//! produce (so nothing doubles and nothing stale survives), and errors become the source's
//! visible state instead of ending anything.
//!
//! Several watchers may feed one table (Events, PolicyReports and Gatekeeper constraints all
//! produce denials), so a watcher never relists a whole table: it tracks the record keys each
//! of its objects produced and deletes only those.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use jiff::Timestamp;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;

use crate::model::{Change, ClusterId, Observation, Record, RecordKind, SourceKind, SourceState};
use crate::sources::ObservationSender;

/// Most observations sent in one batch.
pub const BATCH: usize = 512;

/// What a watcher error means for the source: 403 → forbidden, 404 → not installed, `410
/// Gone` inside a watch (the resourceVersion was compacted away; kube-runtime relists at once)
/// → syncing, not an error: etcd compaction is routine, and the relist is what follows;
/// anything else → an error it retries with backoff.
pub fn classify(e: &watcher::Error) -> SourceState {
    if let watcher::Error::WatchError(s) = e
        && s.code == 410
    {
        return SourceState::Syncing;
    }
    let api = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.as_ref()),
        watcher::Error::WatchError(s) => Some(s.as_ref()),
        _ => None,
    };
    match api {
        Some(s) if s.code == 403 => SourceState::Forbidden { message: s.message.clone() },
        Some(s) if s.code == 404 => SourceState::NotInstalled,
        // The server's own words (`401 Unauthorized: Unauthorized`), not the client's debug
        // dump of the whole Status.
        Some(s) => SourceState::Error { message: format!("{} {}: {}", s.code, s.reason, s.message) },
        _ => SourceState::Error { message: super::chain(e) },
    }
}

/// One observation about `cluster` now.
pub fn observe(cluster: &ClusterId, change: Change) -> Observation {
    Observation { at: Timestamp::now(), cluster: cluster.clone(), change }
}

/// Projects an object into the records fleettop keeps of it (often none, sometimes several:
/// a PolicyReport holds many results).
pub type ProjectFn<K> = Box<dyn Fn(&K) -> Vec<Record> + Send + Sync>;

/// How a watched object becomes records, and where its state is reported.
pub struct Projection<K> {
    /// The table its records go to (a projection may also produce records of other kinds:
    /// a Gatekeeper constraint is a policy and a list of violations).
    pub kind: RecordKind,
    /// The source it reports as.
    pub source: SourceKind,
    /// The resource watched (`events`, `policyexceptions.kyverno.io`): several resources can
    /// make up one source, and their states are combined (see [`SourceStates`]).
    pub resource: String,
    /// The records of one object.
    pub project: ProjectFn<K>,
}

/// The states of every resource behind each source of one cluster, combined into the one
/// state per source the model shows: an error or a refusal of any resource wins (it names the
/// resource), then syncing, then live; a source is "not installed" only when none of its
/// resources is served.
#[derive(Debug, Clone, Default)]
pub struct SourceStates {
    inner: Arc<Mutex<BTreeMap<SourceKind, Combined>>>,
}

#[derive(Debug, Default)]
struct Combined {
    resources: BTreeMap<String, SourceState>,
    shown: Option<SourceState>,
}

impl SourceStates {
    /// Records `resource`'s state; returns the source's combined state when it changed.
    pub fn set(&self, source: SourceKind, resource: &str, state: SourceState) -> Option<SourceState> {
        let mut all = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = all.entry(source).or_default();
        entry.resources.insert(resource.to_string(), state);
        let combined = combine(entry.resources.values());
        if entry.shown.as_ref() == Some(&combined) {
            return None;
        }
        entry.shown = Some(combined.clone());
        Some(combined)
    }
}

/// The state a source shows given its resources' states.
pub fn combine<'a>(states: impl Iterator<Item = &'a SourceState> + Clone) -> SourceState {
    let first = |pred: fn(&SourceState) -> bool| states.clone().find(|s| pred(s)).cloned();
    first(|s| matches!(s, SourceState::Error { .. }))
        .or_else(|| first(|s| matches!(s, SourceState::Forbidden { .. })))
        .or_else(|| first(|s| matches!(s, SourceState::Stale { .. })))
        .or_else(|| first(|s| matches!(s, SourceState::Syncing)))
        .or_else(|| first(|s| matches!(s, SourceState::Slow { .. })))
        .or_else(|| first(|s| matches!(s, SourceState::Live)))
        .unwrap_or(SourceState::NotInstalled)
}

/// The identity of a watched object: its namespace and name.
fn object_key<K: kube::Resource>(o: &K) -> String {
    let meta = o.meta();
    format!("{}/{}", meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or(""))
}

/// Watches `api` forever (with kube-runtime's default backoff) and sends observations.
/// Returns when the app has gone away.
pub async fn pump<K>(
    api: Api<K>,
    config: watcher::Config,
    p: Projection<K>,
    cluster: ClusterId,
    states: SourceStates,
    tx: ObservationSender,
) where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut tracker = Tracker::default();
    let mut initial = Vec::new();
    if let Some(s) = states.set(p.source, &p.resource, SourceState::Syncing) {
        initial.push(observe(&cluster, Change::Source { source: p.source, state: s }));
    }
    if !initial.is_empty() && !tx.send(initial).await {
        return;
    }
    let mut stream = std::pin::pin!(watcher::watcher(api, config).default_backoff().ready_chunks(BATCH));
    let mut recovery = Recovery::default();
    loop {
        let mut out = Vec::new();
        tokio::select! {
            next = stream.next() => {
                let Some(events) = next else { return };
                for event in events {
                    let next_state = match event {
                        Ok(ev) => tracker.apply(ev, &p, &cluster, &mut out),
                        Err(e) => Some(classify(&e)),
                    };
                    if let Some(s) = next_state.map(|s| recovery.note(s)).and_then(|s| states.set(p.source, &p.resource, s)) {
                        out.push(observe(&cluster, Change::Source { source: p.source, state: s }));
                    }
                }
            }
            () = recovery.recovered() => {
                recovery.note(SourceState::Live);
                if let Some(s) = states.set(p.source, &p.resource, SourceState::Live) {
                    out.push(observe(&cluster, Change::Source { source: p.source, state: s }));
                }
            }
        }
        if !out.is_empty() && !tx.send(out).await {
            return;
        }
    }
}

/// A watch with no new error for this long after one is taken to be running again.
/// kube-runtime retries a failed watch with backoff (at most 30 s apart, after a connect
/// that may itself take 30 s) and reports nothing when a retried watch starts: a watch
/// resumed from its last resourceVersion without a relist (events are not served from the
/// watch cache, so this is what happens after an apiserver restart) would otherwise show its
/// error forever when nothing changes. Any event it delivers makes it live at once.
pub const RECOVERED_AFTER: std::time::Duration = std::time::Duration::from_secs(90);

/// When a source in error counts as recovered, absent new errors (see [`RECOVERED_AFTER`]).
#[derive(Debug, Default)]
pub struct Recovery {
    failing_since: Option<tokio::time::Instant>,
}

impl Recovery {
    /// Notes a state the watch reported; returns it unchanged. Errors (re)start the clock.
    pub fn note(&mut self, state: SourceState) -> SourceState {
        self.failing_since = match state {
            SourceState::Error { .. } => Some(tokio::time::Instant::now()),
            _ => None,
        };
        state
    }

    /// Completes once the watch has been quiet for [`RECOVERED_AFTER`] since its last error;
    /// never while it is not in error.
    pub async fn recovered(&self) {
        match self.failing_since {
            Some(t) => tokio::time::sleep_until(t + RECOVERED_AFTER).await,
            None => std::future::pending().await,
        }
    }
}

/// The record keys each watched object produced, so updates, deletes and relists remove
/// exactly the records that no longer exist.
#[derive(Debug, Default)]
struct Tracker {
    /// Object key → the records (table and key) it produced.
    emitted: HashMap<String, Vec<(RecordKind, String)>>,
    /// During a relist: what was emitted before it began.
    before_relist: Option<HashMap<String, Vec<(RecordKind, String)>>>,
}

impl Tracker {
    /// Applies one watcher event; returns the source state it implies, if any.
    fn apply<K: kube::Resource>(
        &mut self,
        event: Event<K>,
        p: &Projection<K>,
        cluster: &ClusterId,
        out: &mut Vec<Observation>,
    ) -> Option<SourceState> {
        let watched = matches!(event, Event::Apply(_));
        match event {
            Event::Init => {
                let previous = std::mem::take(&mut self.emitted);
                // A relist interrupted by another keeps the oldest baseline: its records
                // were never confirmed either.
                let baseline = self.before_relist.get_or_insert_with(HashMap::new);
                for (object, keys) in previous {
                    baseline.entry(object).or_default().extend(keys);
                }
                None
            }
            Event::InitApply(o) | Event::Apply(o) => {
                let object = object_key(&o);
                let records = (p.project)(&o);
                let keys: Vec<(RecordKind, String)> = records.iter().map(|r| (r.kind(), r.key())).collect();
                let old = self.emitted.insert(object, keys.clone()).unwrap_or_default();
                delete_missing(&old, &keys, cluster, out);
                out.extend(records.into_iter().map(|record| observe(cluster, Change::Upsert { record })));
                // An `Apply` only comes from an established watch: the source is live (this is
                // what clears an error once a retried watch delivers again).
                watched.then_some(SourceState::Live)
            }
            Event::InitDone => {
                if let Some(baseline) = self.before_relist.take() {
                    let kept: HashSet<&(RecordKind, String)> = self.emitted.values().flatten().collect();
                    for (kind, key) in baseline.values().flatten() {
                        if !kept.contains(&(*kind, key.clone())) {
                            out.push(observe(cluster, Change::Delete { kind: *kind, key: key.clone() }));
                        }
                    }
                }
                Some(SourceState::Live)
            }
            Event::Delete(o) => {
                let old = self.emitted.remove(&object_key(&o)).unwrap_or_default();
                delete_missing(&old, &[], cluster, out);
                Some(SourceState::Live)
            }
        }
    }
}

/// Deletes the keys of `old` that are not in `new`.
fn delete_missing(
    old: &[(RecordKind, String)],
    new: &[(RecordKind, String)],
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) {
    for (kind, key) in old.iter().filter(|k| !new.contains(k)) {
        out.push(observe(cluster, Change::Delete { kind: *kind, key: key.clone() }));
    }
}

#[cfg(test)]
mod tests {
    /// A `410 Gone` in a watch is a relist, shown as syncing (it used to flash every source
    /// as an error, and the cluster as stale, on each compaction); other errors stay errors.
    #[test]
    fn a_410_gone_is_a_relist_not_an_error() {
        let status = |code: u16, reason: &str| {
            Box::new(kube::core::Status::failure("too old resource version: 2 (5)", reason).with_code(code))
        };
        assert_eq!(classify(&watcher::Error::WatchError(status(410, "Expired"))), SourceState::Syncing);
        assert_eq!(
            classify(&watcher::Error::WatchError(status(500, "InternalError"))),
            SourceState::Error { message: "500 InternalError: too old resource version: 2 (5)".into() }
        );
        let unauthorized = kube::Error::Api(status(401, "Unauthorized"));
        assert_eq!(
            classify(&watcher::Error::WatchStartFailed(unauthorized)),
            SourceState::Error { message: "401 Unauthorized: too old resource version: 2 (5)".into() },
            "the server's words, not a debug dump of the Status"
        );
        assert!(matches!(
            classify(&watcher::Error::WatchError(status(403, "Forbidden"))),
            SourceState::Forbidden { .. }
        ));
    }

    use k8s_openapi::api::core::v1::Namespace;

    use super::*;
    use crate::model::{Engine, ExpirySource, PolicyException};

    /// A namespace with one record per value of its `records` annotation (comma-separated).
    fn namespace(name: &str, records: &str) -> Namespace {
        let mut ns = Namespace::default();
        ns.metadata.name = Some(name.into());
        ns.metadata.annotations = Some([("records".to_string(), records.to_string())].into());
        ns
    }

    fn projection() -> Projection<Namespace> {
        Projection {
            kind: RecordKind::Exception,
            source: SourceKind::Namespaces,
            resource: "namespaces".into(),
            project: Box::new(|ns| {
                let list = ns.metadata.annotations.as_ref().and_then(|a| a.get("records")).cloned();
                list.unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|name| {
                        Record::Exception(PolicyException {
                            engine: Engine::PodSecurity,
                            kind: "Namespace".into(),
                            namespace: None,
                            name: name.into(),
                            policies: Vec::new(),
                            matches: String::new(),
                            scope: Vec::new(),
                            created_at: None,
                            expires_at: None,
                            expiry_source: ExpirySource::None,
                            owner: None,
                            ticket: None,
                            evidence: Vec::new(),
                        })
                    })
                    .collect()
            }),
        }
    }

    /// Runs events through a tracker; returns the upserted and deleted record keys.
    fn run(tracker: &mut Tracker, events: Vec<Event<Namespace>>) -> (Vec<String>, Vec<String>) {
        let (p, cluster, mut out) = (projection(), ClusterId::new("c"), Vec::new());
        for e in events {
            tracker.apply(e, &p, &cluster, &mut out);
        }
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for o in out {
            match o.change {
                Change::Upsert { record } => upserts.push(record.key()),
                Change::Delete { key, .. } => deletes.push(key),
                _ => {}
            }
        }
        (upserts, deletes)
    }

    #[test]
    fn only_an_established_watch_implies_live() {
        let (p, cluster, mut out) = (projection(), ClusterId::new("c"), Vec::new());
        let mut t = Tracker::default();
        let mut state = |e| t.apply(e, &p, &cluster, &mut out);
        assert_eq!(state(Event::Init), None);
        assert_eq!(state(Event::InitApply(namespace("a", "a1"))), None, "still listing");
        assert_eq!(state(Event::InitDone), Some(SourceState::Live));
        // After an error, a retried watch that resumes says nothing until it delivers.
        assert_eq!(state(Event::Apply(namespace("a", "a2"))), Some(SourceState::Live));
        assert_eq!(state(Event::Delete(namespace("a", "a2"))), Some(SourceState::Live));
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_watch_counts_as_recovered_only_after_a_while_without_errors() {
        let mut r = Recovery::default();
        let pending = |r: &Recovery| {
            let mut f = std::pin::pin!(r.recovered());
            futures::FutureExt::now_or_never(f.as_mut()).is_none()
        };
        assert!(pending(&r), "not in error: nothing to recover from");
        r.note(SourceState::Error { message: "connection refused".into() });
        assert!(pending(&r));
        tokio::time::advance(RECOVERED_AFTER - std::time::Duration::from_secs(1)).await;
        assert!(pending(&r), "an error in the last 90 s: still failing");
        tokio::time::advance(std::time::Duration::from_secs(2)).await;
        assert!(!pending(&r), "quiet for 90 s: recovered");
        r.note(SourceState::Live);
        assert!(pending(&r));
    }

    #[test]
    fn updates_deletes_and_relists_remove_exactly_the_records_that_went_away() {
        let mut t = Tracker::default();
        let (up, del) = run(
            &mut t,
            vec![
                Event::Init,
                Event::InitApply(namespace("a", "a1,a2")),
                Event::InitApply(namespace("b", "b1")),
                Event::InitDone,
            ],
        );
        assert_eq!(up, ["Namespace/a1", "Namespace/a2", "Namespace/b1"]);
        assert!(del.is_empty(), "a first list deletes nothing");

        // An update that produces fewer records deletes the one that went away.
        let (up, del) = run(&mut t, vec![Event::Apply(namespace("a", "a1"))]);
        assert_eq!((up, del), (vec!["Namespace/a1".to_string()], vec!["Namespace/a2".to_string()]));

        // A relist (410 Gone) in which b no longer exists, interrupted and restarted.
        let (up, del) = run(
            &mut t,
            vec![
                Event::Init,
                Event::InitApply(namespace("a", "a1")),
                Event::Init,
                Event::InitApply(namespace("a", "a1,a3")),
                Event::InitDone,
            ],
        );
        assert_eq!(up, ["Namespace/a1", "Namespace/a1", "Namespace/a3"]);
        assert_eq!(del, ["Namespace/b1"], "only what the relist did not confirm is deleted");

        let (_, del) = run(&mut t, vec![Event::Delete(namespace("a", "a1,a3"))]);
        assert_eq!(del, ["Namespace/a1", "Namespace/a3"]);
    }

    #[test]
    fn a_report_relist_deletes_exactly_the_skips_and_denials_it_no_longer_confirms() {
        use kube::api::DynamicObject;
        use serde_json::json;

        use super::super::objects::report_records;
        use super::super::objects::test_support::{doc, object, with};
        const SKIP_CEL: &str = include_str!(
            "../../../tests/fixtures/real/kyverno/policyreport-skip-policyexception-celpolicy.yaml"
        );
        let real = object(with(doc(SKIP_CEL), &["metadata", "name"], json!("r1")));
        let other = |skips: bool| {
            let mut results = vec![json!({"policy": "p", "rule": "r", "result": "fail", "source": "kyverno",
                "resources": [{"kind": "Pod", "namespace": "default", "name": "x"}]})];
            if skips {
                results.push(json!({"policy": "p", "rule": "r", "result": "skip", "source": "kyverno",
                    "properties": {"exceptions": "allow-y"}, "resources": [{"kind": "Pod", "namespace": "default", "name": "y"}]}));
            }
            object(json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
                "metadata": {"name": "r2", "namespace": "default"}, "results": results}))
        };
        let p = Projection::<DynamicObject> {
            kind: RecordKind::Denial,
            source: SourceKind::PolicyReports,
            resource: "policyreports.wgpolicyk8s.io".into(),
            project: Box::new(|o| report_records(o, Timestamp::UNIX_EPOCH)),
        };
        let (cluster, mut t) = (ClusterId::new("c"), Tracker::default());
        let mut run = |events: Vec<Event<DynamicObject>>| {
            let mut out = Vec::new();
            for e in events {
                t.apply(e, &p, &cluster, &mut out);
            }
            let mut upserts = Vec::new();
            let mut deletes = Vec::new();
            for o in out {
                match o.change {
                    Change::Upsert { record } => upserts.push((record.kind(), record.key())),
                    Change::Delete { kind, key } => deletes.push((kind, key)),
                    _ => {}
                }
            }
            (upserts, deletes)
        };
        let (up, del) = run(vec![
            Event::Init,
            Event::InitApply(real.clone()),
            Event::InitApply(other(true)),
            Event::InitDone,
        ]);
        let kinds: Vec<RecordKind> = up.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, [RecordKind::Skip, RecordKind::Denial, RecordKind::Skip]);
        assert!(del.is_empty());
        let (real_skip, other_skip) = (up[0].clone(), up[2].clone());
        assert!(
            real_skip
                .1
                .contains("|vpol-report-background-sample|exception|Deployment/default/skipped-deployment")
        );

        // 410 Gone: r1 is gone and r2 lost its skip result; its denial stays.
        let (up, del) = run(vec![Event::Init, Event::InitApply(other(false)), Event::InitDone]);
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].0, RecordKind::Denial);
        let mut del = del;
        del.sort();
        let mut want = vec![other_skip.clone(), real_skip];
        want.sort();
        assert_eq!(del, want, "exactly the skips no longer confirmed");

        // An update that brings the skip back, then the report's deletion.
        let (up, _) = run(vec![Event::Apply(other(true))]);
        assert_eq!(up.last(), Some(&other_skip));
        let (_, del) = run(vec![Event::Delete(other(true))]);
        assert_eq!(del.len(), 2, "its denial and its skip");
    }

    #[test]
    fn a_refusal_or_error_of_any_resource_is_what_the_source_shows() {
        let states = [
            SourceState::Live,
            SourceState::Forbidden { message: "cannot list workloads".into() },
            SourceState::Syncing,
        ];
        assert_eq!(combine(states.iter()), states[1]);
        let error = SourceState::Error { message: "boom".into() };
        assert_eq!(combine([states[1].clone(), error.clone()].iter()), error);
        assert_eq!(combine([SourceState::Live, SourceState::Syncing].iter()), SourceState::Syncing);
        assert_eq!(combine([SourceState::NotInstalled, SourceState::Live].iter()), SourceState::Live);
        assert_eq!(combine([SourceState::NotInstalled].iter()), SourceState::NotInstalled);
    }

    #[test]
    fn source_states_report_only_changes_of_the_combined_state() {
        let s = SourceStates::default();
        assert_eq!(
            s.set(SourceKind::Kueue, "clusterqueues", SourceState::Syncing),
            Some(SourceState::Syncing)
        );
        assert_eq!(s.set(SourceKind::Kueue, "workloads", SourceState::Syncing), None);
        assert_eq!(s.set(SourceKind::Kueue, "clusterqueues", SourceState::Live), None);
        assert_eq!(s.set(SourceKind::Kueue, "workloads", SourceState::Live), Some(SourceState::Live));
        // Other sources are independent.
        assert_eq!(s.set(SourceKind::Events, "events", SourceState::Live), Some(SourceState::Live));
    }
}
