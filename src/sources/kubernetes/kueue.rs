//! Kueue of one cluster: ClusterQueues, LocalQueues and Workloads watched together, because
//! they explain each other. A workload that Kueue has not admitted names only its LocalQueue;
//! the LocalQueue says which ClusterQueue it waits in, and a ClusterQueue lists the
//! LocalQueues that feed it. When a LocalQueue arrives or changes, the records it explains are
//! sent again, so the join does not depend on which watch answered first.
//!
//! Only projected records are kept (never the objects), to re-send them with the join filled.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use kube::api::DynamicObject;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};

use super::discovery::{Found, Role};
use super::objects::{self, ProjectionConfig};
use super::teams::NamespaceTeams;
use super::watch::{BATCH, SourceStates, classify, observe};
use crate::model::{
    Change, ClusterId, GpuQueue, GpuWorkload, Observation, Record, RecordKind, SourceKind, SourceState,
    WorkloadState,
};
use crate::sources::ObservationSender;

/// One event of one of the three watches.
type Item = (Role, Result<Event<DynamicObject>, watcher::Error>);

/// What the task knows: the LocalQueue map and the projected records.
#[derive(Debug, Default)]
struct KueueCache {
    /// `(namespace, LocalQueue)` → ClusterQueue.
    local_queues: BTreeMap<(String, String), String>,
    /// ClusterQueues by name, as projected (without `local_queues`).
    queues: BTreeMap<String, GpuQueue>,
    /// GPU workloads by key, as projected (ClusterQueue only when Kueue admitted them).
    workloads: BTreeMap<String, GpuWorkload>,
    /// ResourceFlavor → the GPU product its node labels select.
    flavors: BTreeMap<String, Option<String>>,
    /// WorkloadPriorityClass → value.
    priority_classes: BTreeMap<String, i32>,
    /// Workload key → position in its ClusterQueue, from the visibility API.
    positions: BTreeMap<String, u32>,
    /// The relists in progress, per role.
    relists: super::watch::Relists<Role>,
}

impl KueueCache {
    fn queue_record(&self, name: &str) -> Option<Record> {
        let mut q = self.queues.get(name)?.clone();
        q.local_queues = self
            .local_queues
            .iter()
            .filter(|(_, cq)| *cq == name)
            .map(|((ns, lq), _)| format!("{ns}/{lq}"))
            .collect();
        for quota in &mut q.quotas {
            quota.product = self.flavors.get(&quota.flavor).cloned().flatten();
        }
        Some(Record::GpuQueue(q))
    }

    fn workload_record(&self, key: &str) -> Option<Record> {
        let mut w = self.workloads.get(key)?.clone();
        if w.cluster_queue.is_none() {
            w.cluster_queue = self.local_queues.get(&(w.namespace.clone(), w.local_queue.clone())).cloned();
        }
        w.position = self.positions.get(key).copied();
        // Kueue copies the class's value into the workload; older workloads may carry only the class.
        if w.priority == 0
            && let Some(value) = w.priority_class.as_ref().and_then(|c| self.priority_classes.get(c))
        {
            w.priority = *value;
        }
        Some(Record::GpuWorkload(w))
    }

    fn keys(&self, role: Role) -> BTreeSet<String> {
        match role {
            Role::ClusterQueue => self.queues.keys().cloned().collect(),
            Role::Workload => self.workloads.keys().cloned().collect(),
            Role::ResourceFlavor => self.flavors.keys().cloned().collect(),
            Role::PriorityClass => self.priority_classes.keys().cloned().collect(),
            _ => self.local_queues.keys().map(|(ns, n)| format!("{ns}/{n}")).collect(),
        }
    }
}

/// Watches the Kueue resources in `found` (ClusterQueues, LocalQueues, Workloads) forever.
pub async fn run(
    client: Client,
    cluster: ClusterId,
    found: Vec<Found>,
    states: SourceStates,
    config: Arc<ProjectionConfig>,
    teams: NamespaceTeams,
    tx: ObservationSender,
) {
    let mut streams: Vec<BoxStream<'static, Item>> = Vec::new();
    let mut labels: BTreeMap<Role, String> = BTreeMap::new();
    let mut out = Vec::new();
    for f in &found {
        let api = Api::<DynamicObject>::all_with(client.clone(), &f.resource);
        let role = f.role;
        streams.push(
            watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .map(move |e| (role, e))
                .boxed(),
        );
        labels.insert(role, f.label());
        if let Some(state) = states.set(SourceKind::Kueue, &f.label(), SourceState::Syncing) {
            out.push(observe(&cluster, Change::Source { source: SourceKind::Kueue, state }));
        }
    }
    if !out.is_empty() && !tx.send(out).await {
        return;
    }
    let mut cache = KueueCache::default();
    let mut events = std::pin::pin!(stream::select_all(streams).ready_chunks(BATCH));
    let mut visibility = tokio::time::interval(VISIBILITY_EVERY);
    visibility.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut out = Vec::new();
        let batch = tokio::select! {
            next = events.next() => match next {
                Some(batch) => batch,
                None => return,
            },
            _ = visibility.tick() => {
                let positions = queue_positions(&client, &cache).await;
                set_positions(positions, &mut cache, &cluster, &mut out);
                if !out.is_empty() && !tx.send(out).await {
                    return;
                }
                continue;
            }
        };
        let mut workloads_listed = false;
        for (role, event) in batch {
            workloads_listed |= role == Role::Workload && matches!(event, Ok(Event::InitDone));
            let state = match event {
                Ok(ev) => on_event(role, ev, &mut cache, &config, &teams, &cluster, &mut out),
                Err(e) => Some(classify(&e)),
            };
            let label = labels.get(&role).map(String::as_str).unwrap_or("kueue");
            if let Some(state) = state.and_then(|s| states.set(SourceKind::Kueue, label, s)) {
                out.push(observe(&cluster, Change::Source { source: SourceKind::Kueue, state }));
            }
        }
        // Positions are wanted as soon as the workloads are known, then every 15 s.
        if workloads_listed {
            let positions = queue_positions(&client, &cache).await;
            set_positions(positions, &mut cache, &cluster, &mut out);
        }
        if !out.is_empty() && !tx.send(out).await {
            return;
        }
    }
}

/// Applies one event of one watch; returns the state it implies for that watch, if any.
fn on_event(
    role: Role,
    event: Event<DynamicObject>,
    cache: &mut KueueCache,
    config: &ProjectionConfig,
    teams: &NamespaceTeams,
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) -> Option<SourceState> {
    // Only an established watch delivers `Apply`/`Delete`: the watch is live.
    let watched = matches!(event, Event::Apply(_) | Event::Delete(_));
    match event {
        Event::Init => {
            let before = cache.keys(role);
            cache.relists.begin(role, before);
            None
        }
        Event::InitApply(o) | Event::Apply(o) => {
            let key = apply(role, &o, cache, config, teams, cluster, out);
            cache.relists.saw(role, &key);
            watched.then_some(SourceState::Live)
        }
        Event::InitDone => {
            for key in cache.relists.end(role) {
                remove(role, &key, cache, cluster, out);
            }
            Some(SourceState::Live)
        }
        Event::Delete(o) => {
            let key = object_key(role, &o);
            remove(role, &key, cache, cluster, out);
            watched.then_some(SourceState::Live)
        }
    }
}

/// The key of an object in the cache: ClusterQueue name, or `ns/name`.
fn object_key(role: Role, o: &DynamicObject) -> String {
    let name = o.metadata.name.clone().unwrap_or_default();
    match role {
        Role::ClusterQueue | Role::ResourceFlavor | Role::PriorityClass => name,
        _ => format!("{}/{name}", o.metadata.namespace.as_deref().unwrap_or("")),
    }
}

/// Projects an added or changed object and sends what it changes; returns its key.
#[allow(clippy::too_many_arguments)] // the task's parts, passed rather than bundled for one call
fn apply(
    role: Role,
    o: &DynamicObject,
    cache: &mut KueueCache,
    config: &ProjectionConfig,
    teams: &NamespaceTeams,
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) -> String {
    let key = object_key(role, o);
    match role {
        Role::ClusterQueue => match objects::cluster_queue(o, config) {
            Some(q) => {
                cache.queues.insert(key.clone(), q);
                send(cache.queue_record(&key), cluster, out);
            }
            None => remove(role, &key, cache, cluster, out),
        },
        Role::Workload => match objects::workload(o, config) {
            Some(mut w) => {
                if w.team.is_none() {
                    w.team = teams.get(&w.namespace);
                }
                cache.workloads.insert(key.clone(), w);
                send(cache.workload_record(&key), cluster, out);
            }
            None => remove(role, &key, cache, cluster, out),
        },
        Role::ResourceFlavor => match objects::resource_flavor(o) {
            Some((name, product)) => {
                if cache.flavors.insert(name.clone(), product.clone()) != Some(product) {
                    resend_for_flavor(&name, cache, cluster, out);
                }
            }
            None => remove(role, &key, cache, cluster, out),
        },
        Role::PriorityClass => match objects::priority_class(o) {
            Some((name, value)) => {
                if cache.priority_classes.insert(name.clone(), value) != Some(value) {
                    resend_for_priority_class(&name, cache, cluster, out);
                }
            }
            None => remove(role, &key, cache, cluster, out),
        },
        _ => {
            let namespace = o.metadata.namespace.clone().unwrap_or_default();
            let name = o.metadata.name.clone().unwrap_or_default();
            let target = objects::local_queue(o).map(|lq| lq.cluster_queue);
            let id = (namespace, name);
            let before = match target.clone() {
                Some(cq) => cache.local_queues.insert(id.clone(), cq),
                None => cache.local_queues.remove(&id),
            };
            if before != target {
                resend_for_local_queue(&id, [before, target], cache, cluster, out);
            }
        }
    }
    key
}

/// Removes an object's record (or LocalQueue) and sends what that changes.
fn remove(role: Role, key: &str, cache: &mut KueueCache, cluster: &ClusterId, out: &mut Vec<Observation>) {
    match role {
        Role::ClusterQueue => {
            if cache.queues.remove(key).is_some() {
                out.push(observe(
                    cluster,
                    Change::Delete { kind: RecordKind::GpuQueue, key: key.to_string() },
                ));
            }
        }
        Role::Workload => {
            if cache.workloads.remove(key).is_some() {
                out.push(observe(
                    cluster,
                    Change::Delete { kind: RecordKind::GpuWorkload, key: key.to_string() },
                ));
            }
        }
        Role::ResourceFlavor => {
            if cache.flavors.remove(key).is_some() {
                resend_for_flavor(key, cache, cluster, out);
            }
        }
        Role::PriorityClass => {
            if cache.priority_classes.remove(key).is_some() {
                resend_for_priority_class(key, cache, cluster, out);
            }
        }
        _ => {
            let Some((ns, name)) = key.split_once('/') else { return };
            let id = (ns.to_string(), name.to_string());
            if let Some(before) = cache.local_queues.remove(&id) {
                resend_for_local_queue(&id, [Some(before), None], cache, cluster, out);
            }
        }
    }
}

/// A LocalQueue now feeds another ClusterQueue (or none): the ClusterQueues on both sides and
/// the workloads queued in it are sent again with the join redone.
fn resend_for_local_queue(
    id: &(String, String),
    queues: [Option<String>; 2],
    cache: &KueueCache,
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) {
    for cq in queues.into_iter().flatten() {
        send(cache.queue_record(&cq), cluster, out);
    }
    let waiting: Vec<&String> = cache
        .workloads
        .iter()
        .filter(|(_, w)| w.namespace == id.0 && w.local_queue == id.1)
        .map(|(k, _)| k)
        .collect();
    for key in waiting {
        send(cache.workload_record(key), cluster, out);
    }
}

/// How often queue positions are asked of Kueue's visibility API.
pub const VISIBILITY_EVERY: std::time::Duration = std::time::Duration::from_secs(15);
/// A visibility request that takes longer fails (positions stay unknown).
const VISIBILITY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Positions of the pending workloads in each ClusterQueue some pending workload waits in,
/// from `visibility.kueue.x-k8s.io` (v1beta2, else v1beta1). Where the API is not served or
/// fails, those workloads get no position ("unknown"), and nothing else changes.
async fn queue_positions(client: &Client, cache: &KueueCache) -> BTreeMap<String, u32> {
    let queues: BTreeSet<String> = cache
        .workloads
        .keys()
        .filter_map(|k| match cache.workload_record(k) {
            Some(Record::GpuWorkload(w)) if matches!(w.state, WorkloadState::Pending { .. }) => {
                w.cluster_queue
            }
            _ => None,
        })
        .collect();
    let mut positions = BTreeMap::new();
    for cq in queues {
        for version in ["v1beta2", "v1beta1"] {
            let path =
                format!("/apis/visibility.kueue.x-k8s.io/{version}/clusterqueues/{cq}/pendingworkloads");
            let Ok(request) = http::Request::get(path).body(Vec::new()) else { break };
            match tokio::time::timeout(VISIBILITY_TIMEOUT, client.request::<serde_json::Value>(request)).await
            {
                Ok(Ok(body)) => {
                    for (ns, name, position) in objects::pending_positions(&body) {
                        positions.insert(format!("{ns}/{name}"), position);
                    }
                    break;
                }
                // Not served at this version: try the older one.
                Ok(Err(kube::Error::Api(s))) if s.code == 404 => continue,
                _ => break,
            }
        }
    }
    positions
}

/// Stores new positions and re-sends the workloads whose position changed.
fn set_positions(
    positions: BTreeMap<String, u32>,
    cache: &mut KueueCache,
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) {
    let changed: Vec<String> =
        cache.workloads.keys().filter(|k| cache.positions.get(*k) != positions.get(*k)).cloned().collect();
    cache.positions = positions;
    for key in changed {
        send(cache.workload_record(&key), cluster, out);
    }
}

/// A ResourceFlavor changed: the ClusterQueues with a quota in it are sent again.
fn resend_for_flavor(flavor: &str, cache: &KueueCache, cluster: &ClusterId, out: &mut Vec<Observation>) {
    let queues: Vec<&String> = cache
        .queues
        .iter()
        .filter(|(_, q)| q.quotas.iter().any(|f| f.flavor == flavor))
        .map(|(k, _)| k)
        .collect();
    for key in queues {
        send(cache.queue_record(key), cluster, out);
    }
}

/// A WorkloadPriorityClass changed: the workloads of that class are sent again.
fn resend_for_priority_class(
    class: &str,
    cache: &KueueCache,
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) {
    let workloads: Vec<&String> = cache
        .workloads
        .iter()
        .filter(|(_, w)| w.priority_class.as_deref() == Some(class))
        .map(|(k, _)| k)
        .collect();
    for key in workloads {
        send(cache.workload_record(key), cluster, out);
    }
}

fn send(record: Option<Record>, cluster: &ClusterId, out: &mut Vec<Observation>) {
    if let Some(record) = record {
        out.push(observe(cluster, Change::Upsert { record }));
    }
}
