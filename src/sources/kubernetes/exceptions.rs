//! Kyverno exceptions of one cluster, watched together with the (Cluster)CleanupPolicies that
//! delete them, because a cleanup policy is where an exception's expiry may come from
//! (REFERENCE.md §2: `spec.expiresAt` → TTL label → cleanup policy). PolicyExceptions
//! (`kyverno.io` and `policies.kyverno.io`) and cleanup policies arrive in any order: when a
//! cleanup policy arrives, changes or goes, the exceptions it covers are sent again with their
//! expiry recomputed, so the join does not depend on which watch answered first.
//!
//! Only projected records are kept (exceptions as projected, cleanup policies as what they
//! match and when they run), never the objects. Resources discovered later (a Kyverno upgrade
//! that starts serving `policies.kyverno.io`) are added to the running task.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::FutureExt;
use futures::stream::{BoxStream, SelectAll, StreamExt};
use kube::api::DynamicObject;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::sync::mpsc;

use super::discovery::{Found, Role};
use super::objects::{self, CleanupPolicy, ProjectionConfig};
use super::watch::{BATCH, Recovery, SourceStates, classify, observe};
use crate::model::{
    Change, ClusterId, Observation, PolicyException, Record, RecordKind, SourceKind, SourceState,
};
use crate::sources::ObservationSender;

/// One event of one of the watches (by index into the task's watches).
type Item = (usize, Result<Event<DynamicObject>, watcher::Error>);

/// One watched resource.
struct Watched {
    /// `plural.group`, under which its state is reported.
    label: String,
    /// PolicyException or CleanupPolicy.
    role: Role,
    /// When its error counts as over (see [`Recovery`]).
    recovery: Recovery,
}

/// What the task knows: projected exceptions and cleanup policies, by watch and object key.
#[derive(Debug, Default)]
struct ExceptionCache {
    /// Exceptions as projected, before the cleanup-policy step of their expiry.
    exceptions: BTreeMap<(usize, String), PolicyException>,
    /// Cleanup policies, as far as the join needs them.
    policies: BTreeMap<(usize, String), CleanupPolicy>,
    /// The relists in progress, per watch.
    relists: super::watch::Relists<usize>,
}

impl ExceptionCache {
    /// An exception's record with its expiry joined to the cleanup policies known now.
    fn record(&self, e: &PolicyException) -> Record {
        Record::Exception(objects::with_cleanup_expiry(e.clone(), self.policies.values()))
    }

    fn keys(&self, watch: usize) -> BTreeSet<String> {
        let exceptions = self.exceptions.keys();
        let policies = self.policies.keys();
        exceptions.chain(policies).filter(|(w, _)| *w == watch).map(|(_, k)| k.clone()).collect()
    }

    /// Sends again every exception one of `policies` covers.
    fn resend_covered(&self, policies: &[&CleanupPolicy], cluster: &ClusterId, out: &mut Vec<Observation>) {
        for e in self.exceptions.values() {
            if policies.iter().any(|p| p.covers(e).is_some()) {
                out.push(observe(cluster, Change::Upsert { record: self.record(e) }));
            }
        }
    }
}

/// Watches the PolicyExceptions and cleanup policies in `found`, and those `added` later,
/// forever. Returns when the app has gone away.
pub async fn run(
    client: Client,
    cluster: ClusterId,
    found: Vec<Found>,
    mut added: mpsc::UnboundedReceiver<Found>,
    states: SourceStates,
    config: Arc<ProjectionConfig>,
    tx: ObservationSender,
) {
    let mut watches: Vec<Watched> = Vec::new();
    let mut streams: SelectAll<BoxStream<'static, Item>> = SelectAll::new();
    let mut out = Vec::new();
    for f in found {
        start(&client, &cluster, f, &states, &mut watches, &mut streams, &mut out);
    }
    if !out.is_empty() && !tx.send(out).await {
        return;
    }
    let mut cache = ExceptionCache::default();
    let mut more = true;
    loop {
        if !more && streams.is_empty() {
            return;
        }
        let mut out = Vec::new();
        tokio::select! {
            f = added.recv(), if more => match f {
                Some(f) => start(&client, &cluster, f, &states, &mut watches, &mut streams, &mut out),
                // Discovery has stopped (the app is going away): keep the watches running.
                None => more = false,
            },
            Some(first) = streams.next() => {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match streams.next().now_or_never() {
                        Some(Some(item)) => batch.push(item),
                        _ => break,
                    }
                }
                for (i, event) in batch {
                    let Some(w) = watches.get_mut(i) else { continue };
                    let state = match event {
                        Ok(ev) => on_event(i, w.role, ev, &mut cache, &config, &cluster, &mut out),
                        Err(e) => Some(classify(&e)),
                    };
                    if let Some(state) = state.map(|s| w.recovery.note(s)) {
                        report(&states, &w.label, state, &cluster, &mut out);
                    }
                }
            }
            i = any_recovered(&watches) => {
                if let Some(w) = watches.get_mut(i) {
                    w.recovery.note(SourceState::Live);
                    report(&states, &w.label, SourceState::Live, &cluster, &mut out);
                }
            }
            else => return,
        }
        if !out.is_empty() && !tx.send(out).await {
            return;
        }
    }
}

/// Starts watching one more resource; it reports "syncing" until its list is done.
fn start(
    client: &Client,
    cluster: &ClusterId,
    f: Found,
    states: &SourceStates,
    watches: &mut Vec<Watched>,
    streams: &mut SelectAll<BoxStream<'static, Item>>,
    out: &mut Vec<Observation>,
) {
    if watches.iter().any(|w| w.label == f.label()) {
        return;
    }
    let i = watches.len();
    let api = Api::<DynamicObject>::all_with(client.clone(), &f.resource);
    streams.push(
        watcher::watcher(api, watcher::Config::default()).default_backoff().map(move |e| (i, e)).boxed(),
    );
    report(states, &f.label(), SourceState::Syncing, cluster, out);
    watches.push(Watched { label: f.label(), role: f.role, recovery: Recovery::default() });
}

/// Records a watch's state; sends the Kyverno source's state when that changed.
fn report(
    states: &SourceStates,
    label: &str,
    state: SourceState,
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) {
    if let Some(state) = states.set(SourceKind::Kyverno, label, state) {
        out.push(observe(cluster, Change::Source { source: SourceKind::Kyverno, state }));
    }
}

/// Completes with the index of a watch whose error is over (never while none is failing).
async fn any_recovered(watches: &[Watched]) -> usize {
    let waits: Vec<_> = watches
        .iter()
        .enumerate()
        .map(|(i, w)| {
            async move {
                w.recovery.recovered().await;
                i
            }
            .boxed()
        })
        .collect();
    if waits.is_empty() {
        return std::future::pending().await;
    }
    futures::future::select_all(waits).await.0
}

/// Applies one event of one watch; returns the state it implies for that watch, if any.
fn on_event(
    watch: usize,
    role: Role,
    event: Event<DynamicObject>,
    cache: &mut ExceptionCache,
    config: &ProjectionConfig,
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) -> Option<SourceState> {
    // Only an established watch delivers `Apply`/`Delete`: the watch is live.
    let watched = matches!(event, Event::Apply(_) | Event::Delete(_));
    match event {
        Event::Init => {
            let before = cache.keys(watch);
            cache.relists.begin(watch, before);
            None
        }
        Event::InitApply(o) | Event::Apply(o) => {
            let key = object_key(&o);
            apply(watch, role, &key, &o, cache, config, cluster, out);
            cache.relists.saw(watch, &key);
            watched.then_some(SourceState::Live)
        }
        Event::InitDone => {
            for key in cache.relists.end(watch) {
                remove(watch, role, &key, cache, cluster, out);
            }
            Some(SourceState::Live)
        }
        Event::Delete(o) => {
            remove(watch, role, &object_key(&o), cache, cluster, out);
            watched.then_some(SourceState::Live)
        }
    }
}

/// `namespace/name` (`/name` for cluster-scoped objects).
fn object_key(o: &DynamicObject) -> String {
    format!("{}/{}", o.metadata.namespace.as_deref().unwrap_or(""), o.metadata.name.as_deref().unwrap_or(""))
}

/// Projects an added or changed object and sends what it changes.
#[allow(clippy::too_many_arguments)] // the task's parts, passed rather than bundled for one call
fn apply(
    watch: usize,
    role: Role,
    key: &str,
    o: &DynamicObject,
    cache: &mut ExceptionCache,
    config: &ProjectionConfig,
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) {
    let id = (watch, key.to_string());
    if role == Role::CleanupPolicy {
        let Some(policy) = objects::cleanup_policy(o) else {
            return remove(watch, role, key, cache, cluster, out);
        };
        let before = cache.policies.insert(id, policy.clone());
        if before.as_ref() != Some(&policy) {
            let changed: Vec<&CleanupPolicy> = before.iter().chain([&policy]).collect();
            cache.resend_covered(&changed, cluster, out);
        }
        return;
    }
    let Some(e) = objects::policy_exception(o, config) else {
        return remove(watch, role, key, cache, cluster, out);
    };
    let record = cache.record(&e);
    if let Some(before) = cache.exceptions.insert(id, e)
        && before.key() != record.key()
    {
        out.push(observe(cluster, Change::Delete { kind: RecordKind::Exception, key: before.key() }));
    }
    out.push(observe(cluster, Change::Upsert { record }));
}

/// Removes an object's exception (or cleanup policy, re-sending what it covered).
fn remove(
    watch: usize,
    role: Role,
    key: &str,
    cache: &mut ExceptionCache,
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) {
    let id = (watch, key.to_string());
    if role == Role::CleanupPolicy {
        if let Some(before) = cache.policies.remove(&id) {
            cache.resend_covered(&[&before], cluster, out);
        }
    } else if let Some(before) = cache.exceptions.remove(&id) {
        out.push(observe(cluster, Change::Delete { kind: RecordKind::Exception, key: before.key() }));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use jiff::Timestamp;
    use serde_json::{Value, json};

    use super::*;
    use crate::model::ExpirySource;

    /// Watch 0 lists exceptions, watch 1 cleanup policies.
    const EXCEPTIONS: usize = 0;
    const POLICIES: usize = 1;

    fn obj(v: Value) -> DynamicObject {
        serde_json::from_value(v).unwrap()
    }

    fn exception(name: &str) -> DynamicObject {
        obj(json!({"apiVersion": "kyverno.io/v2", "kind": "PolicyException",
            "metadata": {"name": name, "namespace": "shop", "creationTimestamp": "2026-11-27T14:30:00Z"},
            "spec": {"exceptions": [{"policyName": "require-labels"}],
                "match": {"any": [{"resources": {"kinds": ["Deployment"], "namespaces": ["shop"]}}]}}}))
    }

    /// The one-shot ClusterCleanupPolicy the kyverno/policies sample generates for `exception`.
    fn cleanup(name: &str, exception: &str, schedule: &str) -> DynamicObject {
        obj(json!({"apiVersion": "kyverno.io/v2", "kind": "ClusterCleanupPolicy",
            "metadata": {"name": name, "creationTimestamp": "2026-11-27T14:30:01Z", "labels": {"kyverno.io/automated": "true"}},
            "spec": {"schedule": schedule,
                "match": {"any": [{"resources": {"kinds": ["PolicyException"], "namespaces": ["shop"], "names": [exception]}}]}}}))
    }

    /// Feeds events to the cache; returns `(record key, expires_at, source)` per upsert and the
    /// deleted keys.
    #[allow(clippy::type_complexity)]
    fn run(
        cache: &mut ExceptionCache,
        events: Vec<(usize, Event<DynamicObject>)>,
    ) -> (Vec<(String, Option<Timestamp>, ExpirySource)>, Vec<String>) {
        let (cluster, config, mut out) = (ClusterId::new("c"), ProjectionConfig::default(), Vec::new());
        for (watch, event) in events {
            let role = if watch == POLICIES { Role::CleanupPolicy } else { Role::PolicyException };
            on_event(watch, role, event, cache, &config, &cluster, &mut out);
        }
        let (mut upserts, mut deletes) = (Vec::new(), Vec::new());
        for o in out {
            match o.change {
                Change::Upsert { record: Record::Exception(e) } => {
                    upserts.push((e.key(), e.expires_at, e.expiry_source))
                }
                Change::Delete { key, .. } => deletes.push(key),
                other => panic!("unexpected {other:?}"),
            }
        }
        (upserts, deletes)
    }

    fn ts(s: &str) -> Option<Timestamp> {
        Some(s.parse().unwrap())
    }

    fn by(name: &str) -> ExpirySource {
        ExpirySource::CleanupPolicy { name: name.into() }
    }

    const KEY: &str = "PolicyException/shop/payments-x";

    #[test]
    fn a_policy_listed_before_its_exception_gives_the_expiry_at_once() {
        let mut cache = ExceptionCache::default();
        let (up, _) = run(
            &mut cache,
            vec![
                (POLICIES, Event::Init),
                (POLICIES, Event::InitApply(cleanup("polex-shop-payments-x", "payments-x", "30 18 27 11 *"))),
                (POLICIES, Event::InitDone),
            ],
        );
        assert!(up.is_empty(), "no exception to send yet");
        let (up, _) = run(
            &mut cache,
            vec![
                (EXCEPTIONS, Event::Init),
                (EXCEPTIONS, Event::InitApply(exception("payments-x"))),
                (EXCEPTIONS, Event::InitDone),
            ],
        );
        assert_eq!(up, [(KEY.to_string(), ts("2026-11-27T18:30:00Z"), by("polex-shop-payments-x"))]);
    }

    #[test]
    fn a_policy_that_arrives_changes_or_goes_later_resends_the_exceptions_it_covers() {
        let mut cache = ExceptionCache::default();
        let (up, _) = run(
            &mut cache,
            vec![
                (EXCEPTIONS, Event::Init),
                (EXCEPTIONS, Event::InitApply(exception("payments-x"))),
                (EXCEPTIONS, Event::InitApply(exception("orders-y"))),
                (EXCEPTIONS, Event::InitDone),
            ],
        );
        assert!(up.iter().all(|(_, at, source)| at.is_none() && *source == ExpirySource::None), "{up:?}");

        // The generated policy arrives after its exception: only that exception is re-sent.
        let (up, _) = run(
            &mut cache,
            vec![(POLICIES, Event::Apply(cleanup("polex-x", "payments-x", "30 18 27 11 *")))],
        );
        assert_eq!(up, [(KEY.to_string(), ts("2026-11-27T18:30:00Z"), by("polex-x"))]);

        // A run of the policy (status only) changes nothing, so nothing is sent.
        let mut ran = cleanup("polex-x", "payments-x", "30 18 27 11 *");
        ran.data["status"] = json!({"lastExecutionTime": "2026-11-27T18:30:00Z"});
        assert_eq!(run(&mut cache, vec![(POLICIES, Event::Apply(ran))]), (vec![], vec![]));

        // Its schedule changes: the expiry follows.
        let (up, _) =
            run(&mut cache, vec![(POLICIES, Event::Apply(cleanup("polex-x", "payments-x", "0 20 27 11 *")))]);
        assert_eq!(up, [(KEY.to_string(), ts("2026-11-27T20:00:00Z"), by("polex-x"))]);

        // It now names the other exception: both are re-sent, the first falls back.
        let (up, _) =
            run(&mut cache, vec![(POLICIES, Event::Apply(cleanup("polex-x", "orders-y", "0 20 27 11 *")))]);
        assert_eq!(
            up,
            [
                ("PolicyException/shop/orders-y".to_string(), ts("2026-11-27T20:00:00Z"), by("polex-x")),
                (KEY.to_string(), None, ExpirySource::None),
            ]
        );

        // It is deleted: the exception it covered falls back to no expiry.
        let (up, del) =
            run(&mut cache, vec![(POLICIES, Event::Delete(cleanup("polex-x", "orders-y", "0 20 27 11 *")))]);
        assert_eq!(up, [("PolicyException/shop/orders-y".to_string(), None, ExpirySource::None)]);
        assert!(del.is_empty(), "a cleanup policy is no record of its own");
    }

    #[test]
    fn a_relist_without_the_policy_falls_back_and_exceptions_are_deleted_by_their_own_watch() {
        let mut cache = ExceptionCache::default();
        run(
            &mut cache,
            vec![
                (POLICIES, Event::Init),
                (POLICIES, Event::InitApply(cleanup("polex-x", "payments-x", "30 18 27 11 *"))),
                (POLICIES, Event::InitDone),
                (EXCEPTIONS, Event::Init),
                (EXCEPTIONS, Event::InitApply(exception("payments-x"))),
                (EXCEPTIONS, Event::InitDone),
            ],
        );
        // 410 Gone: the policies are listed again, and the policy has gone meanwhile.
        let (up, del) = run(&mut cache, vec![(POLICIES, Event::Init), (POLICIES, Event::InitDone)]);
        assert_eq!((up, del), (vec![(KEY.to_string(), None, ExpirySource::None)], vec![]));

        // The policy is back (a new one), then the exception is deleted (the cleanup ran).
        let (up, _) = run(
            &mut cache,
            vec![(POLICIES, Event::Apply(cleanup("polex-z", "payments-x", "30 18 27 11 *")))],
        );
        assert_eq!(up, [(KEY.to_string(), ts("2026-11-27T18:30:00Z"), by("polex-z"))]);
        let (up, del) = run(&mut cache, vec![(EXCEPTIONS, Event::Delete(exception("payments-x")))]);
        assert_eq!((up, del), (vec![], vec![KEY.to_string()]));
        // A relist of the exceptions that no longer finds one deletes it; the policy stays.
        run(&mut cache, vec![(EXCEPTIONS, Event::Apply(exception("payments-x")))]);
        let (_, del) = run(&mut cache, vec![(EXCEPTIONS, Event::Init), (EXCEPTIONS, Event::InitDone)]);
        assert_eq!(del, [KEY]);
        assert_eq!(cache.policies.len(), 1);
    }

    #[test]
    fn unreadable_objects_remove_what_they_replaced() {
        let mut cache = ExceptionCache::default();
        run(
            &mut cache,
            vec![
                (POLICIES, Event::Apply(cleanup("polex-x", "payments-x", "30 18 27 11 *"))),
                (EXCEPTIONS, Event::Apply(exception("payments-x"))),
            ],
        );
        // The object turns into something that is not a cleanup policy: it no longer counts.
        let mut other = cleanup("polex-x", "payments-x", "30 18 27 11 *");
        other.types =
            Some(kube::api::TypeMeta { api_version: "kyverno.io/v1".into(), kind: "ClusterPolicy".into() });
        let (up, _) = run(&mut cache, vec![(POLICIES, Event::Apply(other))]);
        assert_eq!(up, [(KEY.to_string(), None, ExpirySource::None)]);
        assert!(cache.policies.is_empty());
        // An exception that can no longer be read is deleted.
        let mut nameless = exception("payments-x");
        nameless.metadata.name = Some(String::new());
        nameless.metadata.namespace = Some("shop".into());
        let (_, del) = run(&mut cache, vec![(EXCEPTIONS, Event::Apply(nameless))]);
        assert!(del.is_empty(), "a nameless object has another key: nothing of it was known");
        let mut unreadable = exception("payments-x");
        unreadable.types =
            Some(kube::api::TypeMeta { api_version: "kyverno.io/v2".into(), kind: "Other".into() });
        let (up, del) = run(&mut cache, vec![(EXCEPTIONS, Event::Apply(unreadable))]);
        assert_eq!((up, del), (vec![], vec![KEY.to_string()]));
    }
}
