//! Custom resources of one cluster: discovers which optional groups it serves (Kueue, Kyverno
//! exceptions and cleanup policies, policy reports, Gatekeeper), watches each served resource
//! as a dynamic object projected on arrival, and rediscovers periodically so a CRD installed
//! later is picked up. Resources that explain each other are joined in one task: Kueue's in
//! `kueue`, Kyverno's exceptions and cleanup policies in `exceptions`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::api::DynamicObject;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::discovery::{self, Found, Role};
use super::objects::{self, ProjectionConfig};
use super::teams::NamespaceTeams;
use super::watch::{ProjectFn, Projection, SourceStates, observe, pump};
use crate::model::{Change, ClusterId, Record, RecordKind, SourceKind, SourceState};
use crate::sources::ObservationSender;

/// How often a cluster's optional groups are discovered again.
pub const REDISCOVER_EVERY: Duration = Duration::from_secs(300);
/// How soon discovery is retried after `GET /apis` itself failed.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(15);

/// The resource label under which discovery itself reports a source's state.
const DISCOVERY: &str = "discovery";

/// Discovers and watches the cluster's custom resources forever.
pub async fn run(
    client: Client,
    cluster: ClusterId,
    states: SourceStates,
    config: Arc<ProjectionConfig>,
    teams: NamespaceTeams,
    tx: ObservationSender,
    rediscover_every: Duration,
) {
    let mut watching: BTreeSet<String> = BTreeSet::new();
    let mut tasks = JoinSet::new();
    // The exceptions task, once started: resources discovered later are handed to it.
    let mut exceptions: Option<mpsc::UnboundedSender<Found>> = None;
    let sources = discovery::optional_sources();
    let mut out = Vec::new();
    for source in &sources {
        if let Some(state) = states.set(*source, DISCOVERY, SourceState::Syncing) {
            out.push(observe(&cluster, Change::Source { source: *source, state }));
        }
    }
    if !tx.send(out).await {
        return;
    }
    loop {
        let mut out = Vec::new();
        let wait = match discovery::discover(&client).await {
            Ok(found) => {
                // Resources about to be watched are syncing before discovery's own entry
                // stops colouring their source, so the source never looks settled early.
                let mut reports: Vec<_> = found
                    .found
                    .iter()
                    .filter(|f| !already_watched(&watching, f))
                    .map(|f| (f.source, f.label(), SourceState::Syncing))
                    .collect();
                reports
                    .extend(sources.iter().map(|s| (*s, DISCOVERY.to_string(), SourceState::NotInstalled)));
                reports.extend(found.problems);
                for (source, resource, state) in reports {
                    if let Some(state) = states.set(source, &resource, state) {
                        out.push(observe(&cluster, Change::Source { source, state }));
                    }
                }
                let (kueue, others): (Vec<Found>, Vec<Found>) =
                    found.found.into_iter().partition(|f| f.source == SourceKind::Kueue);
                let (joined, others): (Vec<Found>, Vec<Found>) = others
                    .into_iter()
                    .partition(|f| matches!(f.role, Role::PolicyException | Role::CleanupPolicy));
                // Kueue's three resources explain each other: one task joins them.
                if !kueue.is_empty() && watching.insert("kueue".into()) {
                    let (c, s, t) = (cluster.clone(), states.clone(), tx.clone());
                    tasks.spawn(super::kueue::run(
                        client.clone(),
                        c,
                        kueue,
                        s,
                        config.clone(),
                        teams.clone(),
                        t,
                    ));
                }
                // An exception's expiry may come from a cleanup policy: one task joins them.
                let joined: Vec<Found> = joined.into_iter().filter(|f| watching.insert(f.label())).collect();
                if let Some(task) = &exceptions {
                    for f in joined {
                        // A send fails only when the task has ended (the app went away).
                        let _ = task.send(f);
                    }
                } else if !joined.is_empty() {
                    let (add, added) = mpsc::unbounded_channel();
                    exceptions = Some(add);
                    let (c, s, t) = (cluster.clone(), states.clone(), tx.clone());
                    tasks.spawn(super::exceptions::run(
                        client.clone(),
                        c,
                        joined,
                        added,
                        s,
                        config.clone(),
                        t,
                    ));
                }
                for f in others {
                    if watching.insert(f.label()) {
                        let Some(p) = projection(&f, config.clone()) else { continue };
                        let api = Api::<DynamicObject>::all_with(client.clone(), &f.resource);
                        let (c, s, t) = (cluster.clone(), states.clone(), tx.clone());
                        tasks.spawn(pump(api, watcher::Config::default(), p, c, s, t));
                    }
                }
                rediscover_every
            }
            Err(state) => {
                for source in &sources {
                    if let Some(state) = states.set(*source, DISCOVERY, state.clone()) {
                        out.push(observe(&cluster, Change::Source { source: *source, state }));
                    }
                }
                RETRY_AFTER_FAILURE.min(rediscover_every)
            }
        };
        if !out.is_empty() && !tx.send(out).await {
            return;
        }
        // Reap pumps that ended (the app went away) without blocking.
        while tasks.try_join_next().is_some() {}
        tokio::time::sleep(wait).await;
    }
}

/// True when `f` is watched already (Kueue's resources by the one Kueue task).
fn already_watched(watching: &BTreeSet<String>, f: &Found) -> bool {
    let task = if f.source == SourceKind::Kueue { "kueue".to_string() } else { f.label() };
    watching.contains(&task)
}

/// How a discovered resource's objects become records (Kueue's are joined in `kueue`,
/// Kyverno's exceptions and cleanup policies in `exceptions`).
fn projection(found: &Found, config: Arc<ProjectionConfig>) -> Option<Projection<DynamicObject>> {
    let (kind, project): (RecordKind, ProjectFn<DynamicObject>) = match found.role {
        Role::ClusterQueue
        | Role::LocalQueue
        | Role::Workload
        | Role::ResourceFlavor
        | Role::PriorityClass
        | Role::PolicyException
        | Role::CleanupPolicy => {
            return None;
        }
        // Denials and the skip results naming exceptions; the tracker deletes exactly the
        // records of either kind a report no longer gives.
        Role::PolicyReport => {
            (RecordKind::Denial, Box::new(|o| objects::report_records(o, Timestamp::now())))
        }
        Role::Constraint => {
            let kind = found.resource.kind.clone();
            (
                RecordKind::Denial,
                Box::new(move |o| {
                    // A constraint is a policy and the audit's list of its violations.
                    let policy = objects::constraint_policy(o, &kind, &config).map(Record::Policy);
                    let denials =
                        objects::constraint_denials(o, Timestamp::now()).into_iter().map(Record::Denial);
                    policy.into_iter().chain(denials).collect()
                }),
            )
        }
        Role::KyvernoPolicy => {
            let kind = found.resource.kind.clone();
            (
                RecordKind::Policy,
                Box::new(move |o| {
                    objects::kyverno_policy(o, &kind, &config).map(Record::Policy).into_iter().collect()
                }),
            )
        }
        Role::AdmissionPolicy => {
            let kind = found.resource.kind.clone();
            (
                RecordKind::Policy,
                Box::new(move |o| {
                    objects::admission_policy(o, &kind, &config).map(Record::Policy).into_iter().collect()
                }),
            )
        }
        Role::GatekeeperConfig => (
            RecordKind::Exception,
            Box::new(|o| {
                objects::gatekeeper_config_exceptions(o).into_iter().map(Record::Exception).collect()
            }),
        ),
    };
    Some(Projection { kind, source: found.source, resource: found.label(), project })
}
