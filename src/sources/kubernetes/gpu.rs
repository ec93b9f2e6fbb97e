//! GPU capacity and demand of one cluster: nodes with accelerators (with the GPUs that
//! running pods hold on them) and pods that wait for GPUs. One task watches both, because a
//! node's "allocated" changes when pods do. A node's per-GPU telemetry comes from the DCGM
//! task through a shared [`Telemetry`]: it is put in every record of the node, and the nodes
//! a scrape round reported are emitted again. This host's NVML sample, when this cluster has
//! a GPU node of its name, is merged in the same way ([`crate::sources::local_gpus`]), with
//! the `nvml` source state reported for this cluster.

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};

use super::dcgm::Telemetry;
use super::project;
use super::teams::NamespaceTeams;
use super::watch::{BATCH, Recovery, classify, observe};
use crate::model::{Change, ClusterId, GpuNode, Observation, Record, RecordKind, SourceKind, SourceState};
use crate::sources::ObservationSender;
use crate::sources::local_gpus::{self, LocalGpus};

/// An item of either stream; boxed because pods are large.
enum Watched {
    Node(Box<Result<Event<Node>, watcher::Error>>),
    Pod(Box<Result<Event<Pod>, watcher::Error>>),
}

#[derive(Default)]
struct GpuCache {
    /// GPU nodes by name, as projected (allocated filled in on send).
    nodes: BTreeMap<String, GpuNode>,
    /// GPUs held by each running pod, by pod key, with its node.
    held: HashMap<String, (String, u32)>,
    /// Pending GPU pods sent, by key.
    pending: HashMap<String, ()>,
    /// Per-node devices from DCGM.
    telemetry: Telemetry,
    /// This host's GPUs from NVML, when sampled.
    local: Option<LocalGpus>,
    /// Pods on this host's node: UID → `namespace/name` (to name NVML's processes).
    local_pods: HashMap<String, String>,
}

impl GpuCache {
    fn allocated(&self, node: &str) -> u32 {
        self.held.values().filter(|(n, _)| n == node).map(|(_, g)| g).sum()
    }

    fn node_record(&self, name: &str) -> Option<Record> {
        let mut n = self.nodes.get(name)?.clone();
        n.allocated = self.allocated(name);
        let dcgm = self.telemetry.devices(name);
        let nvml = self.local.as_ref().filter(|l| l.node() == name).and_then(LocalGpus::devices);
        let pod_name = |uid: &str| self.local_pods.get(uid).cloned();
        if let Some(devices) = local_gpus::merge(dcgm, nvml.as_deref(), pod_name) {
            n.devices = devices;
        }
        n.telemetry_error = self.telemetry.failure(name).filter(|_| n.devices.is_empty());
        Some(Record::GpuNode(n))
    }
}

fn pod_key(p: &Pod) -> String {
    format!("{}/{}", p.metadata.namespace.as_deref().unwrap_or(""), p.metadata.name.as_deref().unwrap_or(""))
}

/// Watches nodes and pods of `client`'s cluster forever and sends GPU observations.
///
/// A pending pod's team is its `team_label`, else its namespace's (from `teams`). GPU node
/// records carry the devices `telemetry` holds for them (and this host's node the devices
/// `local` holds), and are sent again when either says they changed.
pub async fn run(
    client: Client,
    cluster: ClusterId,
    team_label: String,
    teams: NamespaceTeams,
    (telemetry, local): (Telemetry, Option<LocalGpus>),
    tx: ObservationSender,
) {
    let nodes = watcher::watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .map(|e| Watched::Node(Box::new(e)));
    let pods = watcher::watcher(Api::<Pod>::all(client), watcher::Config::default())
        .default_backoff()
        .map(|e| Watched::Pod(Box::new(e)));
    let mut stream = std::pin::pin!(futures::stream::select(nodes, pods).ready_chunks(BATCH));
    let mut devices_changed = telemetry.subscribe();
    let mut local_changed = local.as_ref().map(LocalGpus::subscribe);
    let mut cache = GpuCache { telemetry, local, ..GpuCache::default() };
    let mut states: BTreeMap<SourceKind, SourceState> = BTreeMap::new();
    let start = [SourceKind::Nodes, SourceKind::Pods]
        .into_iter()
        .map(|s| observe(&cluster, Change::Source { source: s, state: SourceState::Syncing }))
        .collect();
    if !tx.send(start).await {
        return;
    }
    let mut recovery: BTreeMap<SourceKind, Recovery> = BTreeMap::new();
    loop {
        let mut out = Vec::new();
        let mut reported: Vec<(SourceKind, SourceState)> = Vec::new();
        let nodes_recovered = recovery.get(&SourceKind::Nodes).map(Recovery::recovered);
        let pods_recovered = recovery.get(&SourceKind::Pods).map(Recovery::recovered);
        tokio::select! {
            next = stream.next() => {
                let Some(batch) = next else { return };
                for item in batch {
                    reported.extend(match item {
                        Watched::Node(ev) => match *ev {
                            Ok(ev) => on_node(ev, &mut cache, &cluster, &mut out).map(|s| (SourceKind::Nodes, s)),
                            Err(e) => Some((SourceKind::Nodes, classify(&e))),
                        },
                        Watched::Pod(ev) => match *ev {
                            Ok(ev) => on_pod(ev, &mut cache, (&team_label, &teams), &cluster, &mut out)
                                .map(|s| (SourceKind::Pods, s)),
                            Err(e) => Some((SourceKind::Pods, classify(&e))),
                        },
                    });
                }
            }
            () = maybe(nodes_recovered) => reported.push((SourceKind::Nodes, SourceState::Live)),
            () = maybe(pods_recovered) => reported.push((SourceKind::Pods, SourceState::Live)),
            Ok(()) = devices_changed.changed() => {
                for node in cache.telemetry.take_changed() {
                    upsert_node(&cache, &node, &cluster, &mut out);
                }
            }
            () = local_sample(local_changed.as_mut()) => {
                if let Some(name) = cache.local.as_ref().map(|l| l.node().to_string()) {
                    upsert_node(&cache, &name, &cluster, &mut out);
                }
            }
        }
        // The NVML state is this cluster's when it has this host's node.
        if let Some(local) = cache.local.as_ref().filter(|l| cache.nodes.contains_key(l.node())) {
            let state = local.state();
            if state != SourceState::Syncing {
                reported.push((SourceKind::Nvml, state));
            }
        }
        for (source, state) in reported {
            let state = recovery.entry(source).or_default().note(state);
            if states.get(&source) != Some(&state) {
                states.insert(source, state.clone());
                out.push(observe(&cluster, Change::Source { source, state }));
            }
        }
        if !out.is_empty() && !tx.send(out).await {
            return;
        }
    }
}

/// Resolves when `local` has a new sample or state; never without NVML sampling (or once the
/// sampler has gone).
async fn local_sample(local: Option<&mut tokio::sync::watch::Receiver<u64>>) {
    let Some(rx) = local else { return std::future::pending().await };
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Awaits `f`, or forever when there is none.
async fn maybe(f: Option<impl std::future::Future<Output = ()>>) {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

fn upsert_node(cache: &GpuCache, name: &str, cluster: &ClusterId, out: &mut Vec<Observation>) {
    if let Some(record) = cache.node_record(name) {
        out.push(observe(cluster, Change::Upsert { record }));
    }
}

fn on_node(
    ev: Event<Node>,
    cache: &mut GpuCache,
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) -> Option<SourceState> {
    let kind = RecordKind::GpuNode;
    // Only an established watch delivers these: the source is live (see `watch::Tracker`).
    let watched = matches!(ev, Event::Apply(_) | Event::Delete(_));
    match ev {
        Event::Init => {
            cache.nodes.clear();
            out.push(observe(cluster, Change::SyncStart { kind }));
        }
        Event::InitApply(n) | Event::Apply(n) => {
            let name = n.metadata.name.clone().unwrap_or_default();
            match project::gpu_node(&n) {
                Some(g) => {
                    cache.nodes.insert(name.clone(), g);
                    upsert_node(cache, &name, cluster, out);
                }
                None => {
                    if cache.nodes.remove(&name).is_some() {
                        out.push(observe(cluster, Change::Delete { kind, key: name }));
                    }
                }
            }
        }
        Event::InitDone => {
            out.push(observe(cluster, Change::SyncEnd { kind }));
            return Some(SourceState::Live);
        }
        Event::Delete(n) => {
            let name = n.metadata.name.clone().unwrap_or_default();
            if cache.nodes.remove(&name).is_some() {
                out.push(observe(cluster, Change::Delete { kind, key: name }));
            }
        }
    }
    watched.then_some(SourceState::Live)
}

fn on_pod(
    ev: Event<Pod>,
    cache: &mut GpuCache,
    (team_label, teams): (&str, &NamespaceTeams),
    cluster: &ClusterId,
    out: &mut Vec<Observation>,
) -> Option<SourceState> {
    let kind = RecordKind::PendingGpuPod;
    // Only an established watch delivers these: the source is live (see `watch::Tracker`).
    let watched = matches!(ev, Event::Apply(_) | Event::Delete(_));
    match ev {
        Event::Init => {
            cache.held.clear();
            cache.pending.clear();
            cache.local_pods.clear();
            out.push(observe(cluster, Change::SyncStart { kind }));
        }
        Event::InitApply(p) | Event::Apply(p) => {
            let key = pod_key(&p);
            note_local_pod(cache, &p, &key, true);
            match project::pending_gpu_pod(&p, team_label) {
                Some(mut pending) => {
                    if pending.team.is_none() {
                        pending.team = teams.get(&pending.namespace);
                    }
                    cache.pending.insert(key.clone(), ());
                    out.push(observe(cluster, Change::Upsert { record: Record::PendingGpuPod(pending) }));
                }
                None => {
                    if cache.pending.remove(&key).is_some() {
                        out.push(observe(cluster, Change::Delete { kind, key: key.clone() }));
                    }
                }
            }
            let before = cache.held.get(&key).cloned();
            let now = project::gpu_allocation(&p);
            if before != now {
                match &now {
                    Some(h) => cache.held.insert(key, h.clone()),
                    None => cache.held.remove(&key),
                };
                for node in [before.map(|b| b.0), now.map(|n| n.0)].into_iter().flatten() {
                    upsert_node(cache, &node, cluster, out);
                }
            }
        }
        Event::InitDone => {
            out.push(observe(cluster, Change::SyncEnd { kind }));
            // The pod list is the largest fleettop reads: give its decoding buffers back.
            crate::sources::memory::release_freed_memory();
            let names: Vec<String> = cache.nodes.keys().cloned().collect();
            for n in names {
                upsert_node(cache, &n, cluster, out);
            }
            return Some(SourceState::Live);
        }
        Event::Delete(p) => {
            let key = pod_key(&p);
            note_local_pod(cache, &p, &key, false);
            if cache.pending.remove(&key).is_some() {
                out.push(observe(cluster, Change::Delete { kind, key: key.clone() }));
            }
            if let Some((node, _)) = cache.held.remove(&key) {
                upsert_node(cache, &node, cluster, out);
            }
        }
    }
    watched.then_some(SourceState::Live)
}

/// Keeps the UIDs of the pods on this host's node (`present`: the pod exists), so NVML's
/// processes can be named.
fn note_local_pod(cache: &mut GpuCache, p: &Pod, key: &str, present: bool) {
    let Some(local) = cache.local.as_ref() else { return };
    let Some(uid) = p.metadata.uid.clone() else { return };
    let here = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(local.node());
    if present && here {
        cache.local_pods.insert(uid, key.to_string());
    } else {
        cache.local_pods.remove(&uid);
    }
}
