//! Turns a kube-runtime watcher into observations: initial lists and relists become
//! `SyncStart … SyncEnd` (so a 410 Gone relist never doubles records), objects are projected
//! on arrival, and errors become the source's visible state instead of ending anything.

use std::collections::HashSet;
use std::fmt::Debug;

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

/// What a watcher error means for the source: 403 → forbidden, 404 → not installed,
/// anything else → an error it retries with backoff.
pub fn classify(e: &watcher::Error) -> SourceState {
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
        _ => SourceState::Error { message: super::chain(e) },
    }
}

/// One observation about `cluster` now.
pub fn observe(cluster: &ClusterId, change: Change) -> Observation {
    Observation { at: Timestamp::now(), cluster: cluster.clone(), change }
}

/// Projects an object into a record, or into nothing when fleettop does not keep it.
pub type ProjectFn<K> = Box<dyn Fn(&K) -> Option<Record> + Send>;

/// How a watched object becomes a record (or none), and which record key it would have.
pub struct Projection<K> {
    /// The table its records go to.
    pub kind: RecordKind,
    /// The source it reports as.
    pub source: SourceKind,
    /// The record, when the object is one fleettop keeps.
    pub project: ProjectFn<K>,
    /// The key the object's record has (to delete it when it stops qualifying).
    pub key: fn(&K) -> String,
}

/// Watches `api` forever (with kube-runtime's default backoff) and sends observations.
/// Returns when the app has gone away.
pub async fn pump<K>(
    api: Api<K>,
    config: watcher::Config,
    p: Projection<K>,
    cluster: ClusterId,
    tx: ObservationSender,
) where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut emitted: HashSet<String> = HashSet::new();
    let mut state = SourceState::Syncing;
    if !tx.send(vec![observe(&cluster, Change::Source { source: p.source, state: state.clone() })]).await {
        return;
    }
    let mut stream = std::pin::pin!(watcher::watcher(api, config).default_backoff().ready_chunks(BATCH));
    while let Some(events) = stream.next().await {
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            let next_state = match event {
                Ok(ev) => apply(ev, &p, &mut emitted, &cluster, &mut out),
                Err(e) => Some(classify(&e)),
            };
            if let Some(s) = next_state.filter(|s| *s != state) {
                state = s.clone();
                out.push(observe(&cluster, Change::Source { source: p.source, state: s }));
            }
        }
        if !out.is_empty() && !tx.send(out).await {
            return;
        }
    }
}

/// Applies one watcher event; returns the source state it implies, if any.
fn apply<K>(
    event: Event<K>,
    p: &Projection<K>,
    emitted: &mut HashSet<String>,
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) -> Option<SourceState> {
    let kind = p.kind;
    match event {
        Event::Init => {
            emitted.clear();
            out.push(observe(cluster, Change::SyncStart { kind }));
            None
        }
        Event::InitApply(o) | Event::Apply(o) => {
            match (p.project)(&o) {
                Some(record) => {
                    emitted.insert(record.key());
                    out.push(observe(cluster, Change::Upsert { record }));
                }
                None => {
                    let key = (p.key)(&o);
                    if emitted.remove(&key) {
                        out.push(observe(cluster, Change::Delete { kind, key }));
                    }
                }
            }
            None
        }
        Event::InitDone => {
            out.push(observe(cluster, Change::SyncEnd { kind }));
            Some(SourceState::Live)
        }
        Event::Delete(o) => {
            let key = (p.key)(&o);
            if emitted.remove(&key) {
                out.push(observe(cluster, Change::Delete { kind, key }));
            }
            None
        }
    }
}
