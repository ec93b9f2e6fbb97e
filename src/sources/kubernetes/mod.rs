//! Live Kubernetes sources through kube-rs: one supervisor task per cluster that connects,
//! probes the API server (version, round-trip latency, reachability) and runs the watchers.
//! Read-only: only GET/LIST/WATCH requests are ever made. kube types stay in this module.

pub mod credentials;
pub mod custom;
pub mod dcgm;
pub mod discovery;
pub mod exceptions;
pub mod gpu;
pub mod kueue;
pub mod objects;
pub mod pipelines;
pub mod project;
pub mod scrape;
pub mod teams;
pub mod watch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, Config};

use self::objects::ProjectionConfig;
use self::watch::{Projection, SourceStates, observe, pump};
use crate::model::{Change, ClusterId, ClusterUpdate, ConnectionState, Record, RecordKind, SourceKind};
use crate::sources::ObservationSender;

/// How often the API server is probed for reachability and latency.
pub const PROBE_EVERY: Duration = Duration::from_secs(10);
/// A probe that takes longer than this counts as a failure.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The sources every cluster runs; a cluster has finished its initial sync when each of
/// them has reported something other than "syncing" (optional ones report "not installed"
/// once discovery says the cluster does not serve them).
pub const SOURCES: [SourceKind; 11] = [
    SourceKind::Events,
    SourceKind::Nodes,
    SourceKind::Pods,
    SourceKind::Namespaces,
    SourceKind::Kueue,
    SourceKind::Kyverno,
    SourceKind::PolicyReports,
    SourceKind::Gatekeeper,
    SourceKind::AdmissionPolicies,
    SourceKind::Pipelines,
    SourceKind::Dcgm,
];

/// True when a cluster (its status, as the state shows it) has finished its initial sync, or
/// cannot (unreachable, refused); `None` (not seen yet) is not settled.
pub fn settled(status: Option<&crate::model::ClusterStatus>) -> bool {
    let Some(c) = status else { return false };
    match c.connection {
        ConnectionState::Unreachable { .. } | ConnectionState::Forbidden { .. } => true,
        ConnectionState::Connecting => false,
        ConnectionState::Connected => SOURCES
            .iter()
            .all(|s| c.sources.get(s).is_some_and(|st| *st != crate::model::SourceState::Syncing)),
    }
}

/// The clients of one context.
#[derive(Clone)]
pub struct Clients {
    /// For watches, lists and probes: kube's default retries of 429/503/504 apply.
    pub api: Client,
    /// For scrapes through the proxies: no retries. A 503 there is the target's answer (a
    /// Service without endpoints, an exporter that is down), a finding to show now; kube's
    /// retries would back off past the scrape's timeout and hide it as "no answer". The next
    /// round is the retry.
    pub scrape: Client,
    /// The API server's URL, without userinfo.
    pub url: String,
    /// The token a credential plugin gave, when the context has one (see [`credentials`]):
    /// refreshed before it expires while the cluster is watched.
    pub credential: Option<credentials::Credential>,
}

/// The [`Clients`] of one context of `kubeconfig`. Client certificates, tokens and proxies
/// are handled by kube-rs as kubectl does; a credential plugin (`exec`) is run by
/// [`credentials`], off the async runtime and with a deadline, and its answer given to kube
/// as a static credential. Every credential of the kubeconfig is registered for redaction
/// first, and the error returned is redacted.
pub async fn clients_for(kubeconfig: &Kubeconfig, context: &str) -> Result<Clients, String> {
    credentials::register_kubeconfig(kubeconfig);
    let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let mut config = Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
        .await
        .map_err(|e| format!("kubeconfig context {context:?}: {}", chain(&e)))?;
    let url = crate::redact::text(&config.cluster_url.to_string()).into_owned();
    let mut credential = None;
    if let Some(exec) = config.auth_info.exec.take() {
        let plugin = credentials::Plugin::new(exec, context);
        match plugin.run().await.map_err(|e| format!("context {context:?}: {e}"))? {
            (credentials::Secret::Token(token), expires) => {
                credential = Some(credentials::Credential::new(plugin, token, expires));
            }
            (credentials::Secret::Certificate { cert, key }, _) => {
                use base64::Engine;
                use secrecy::ExposeSecret;
                let b64 = base64::engine::general_purpose::STANDARD;
                config.auth_info.client_certificate_data = Some(b64.encode(cert));
                config.auth_info.client_key_data = Some(b64.encode(key.expose_secret()).into());
            }
        }
    }
    let build = |config: Config| -> Result<Client, String> {
        let builder = kube::client::ClientBuilder::try_from(config)
            .map_err(|e| format!("context {context:?}: cannot build a client: {}", chain(&e)))?;
        Ok(match &credential {
            Some(c) => builder.with_layer(&c.layer()).build(),
            None => builder.build(),
        })
    };
    let mut no_retry = config.clone();
    no_retry.default_retry = false;
    let scrape = build(no_retry)?;
    Ok(Clients { api: build(config)?, scrape, url, credential })
}

/// An error with its causes (`client error (Connect): tcp connect error: Connection refused`),
/// each said once and redacted ([`crate::redact::error`]).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    crate::redact::error(e)
}

/// How a cluster is watched.
#[derive(Debug, Clone)]
pub struct Options {
    /// Interval between `/version` probes.
    pub probe_every: Duration,
    /// Interval between discoveries of optional groups (CRDs installed later appear).
    pub rediscover_every: Duration,
    /// Labels and annotations the projections read (team, owner, ticket, expiry).
    pub projection: Arc<ProjectionConfig>,
    /// Interval between scrape rounds of telemetry pipelines ([`pipelines`]) and GPU
    /// exporters ([`dcgm`]).
    pub scrape_every: Duration,
    /// Extra pods to scrape (`[[pipelines.targets]]` in `config.toml`), beside the built-in
    /// selectors of the pipelines and DCGM sources.
    pub extra_targets: Arc<Vec<scrape::TargetSelector>>,
    /// This cluster's Services and URLs to scrape (`[[cluster.scrape]]` in the fleet file).
    pub fixed_targets: Arc<Vec<scrape::Target>>,
    /// This host's GPUs from NVML, merged into the node of that name where this cluster has
    /// one (see [`crate::sources::local_gpus`]); `None` without NVML sampling (`--no-nvml`).
    pub local_gpus: Option<crate::sources::local_gpus::LocalGpus>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            probe_every: PROBE_EVERY,
            rediscover_every: custom::REDISCOVER_EVERY,
            projection: Arc::new(ProjectionConfig::default()),
            scrape_every: scrape::SCRAPE_EVERY,
            extra_targets: Arc::new(Vec::new()),
            fixed_targets: Arc::new(Vec::new()),
            local_gpus: None,
        }
    }
}

/// Runs everything for one cluster until the app goes away: connect, then watch and probe.
/// Never returns early on errors: they become the cluster's visible state.
pub async fn run_cluster(kubeconfig: Kubeconfig, cluster: ClusterId, tx: ObservationSender) {
    run_cluster_with(kubeconfig, cluster, tx, Options::default()).await;
}

/// [`run_cluster`] with explicit options.
pub async fn run_cluster_with(
    kubeconfig: Kubeconfig,
    cluster: ClusterId,
    tx: ObservationSender,
    options: Options,
) {
    let Clients { api: client, scrape: scrape_client, url, credential } =
        match clients_for(&kubeconfig, cluster.as_str()).await {
            Ok(c) => c,
            Err(error) => {
                let since = jiff::Timestamp::now();
                let update = ClusterUpdate {
                    connection: Some(ConnectionState::Unreachable { since, error }),
                    ..Default::default()
                };
                tx.send(vec![observe(&cluster, Change::Cluster(update))]).await;
                return;
            }
        };
    let states = SourceStates::default();
    let events = Projection::<Event> {
        kind: RecordKind::Denial,
        source: SourceKind::Events,
        resource: "events".into(),
        project: Box::new(|e| project::denial(e).map(Record::Denial).into_iter().collect()),
    };
    let config = options.projection.clone();
    let teams = teams::NamespaceTeams::default();
    let namespace_teams = teams.clone();
    let namespaces = Projection::<Namespace> {
        kind: RecordKind::Exception,
        source: SourceKind::Namespaces,
        resource: "namespaces".into(),
        project: Box::new(move |n| {
            namespace_teams.observe(n, &config);
            objects::namespace_exception(n, &config).map(Record::Exception).into_iter().collect()
        }),
    };
    // Only Warning events can be denials: let the API server filter the rest out.
    let warnings = watcher::Config::default().fields("type=Warning");
    // DCGM scrapes land in the GPU node records the nodes+pods task emits.
    let telemetry = dcgm::Telemetry::default();
    let refresh = credential.clone();
    tokio::join!(
        async {
            if let Some(c) = refresh {
                c.refresh().await;
            }
        },
        probe(client.clone(), url, credential, cluster.clone(), tx.clone(), options.probe_every),
        pipelines::run(
            scrape_client.clone(),
            cluster.clone(),
            tx.clone(),
            options.scrape_every,
            &options.extra_targets,
            &options.fixed_targets
        ),
        dcgm::run(
            scrape_client.clone(),
            cluster.clone(),
            tx.clone(),
            options.scrape_every,
            telemetry.clone(),
            &options.extra_targets,
            &options.fixed_targets
        ),
        pump(
            Api::<Event>::all(client.clone()),
            warnings,
            events,
            cluster.clone(),
            states.clone(),
            tx.clone()
        ),
        pump(
            Api::<Namespace>::all(client.clone()),
            watcher::Config::default(),
            namespaces,
            cluster.clone(),
            states.clone(),
            tx.clone()
        ),
        // Pods and Kueue workloads take their namespace's team: list namespaces once first
        // (the probe and the other watches do not wait for it).
        async {
            teams.preload(client.clone(), &options.projection).await;
            tokio::join!(
                custom::run(
                    client.clone(),
                    cluster.clone(),
                    states,
                    options.projection.clone(),
                    teams.clone(),
                    tx.clone(),
                    options.rediscover_every
                ),
                gpu::run(
                    client.clone(),
                    cluster.clone(),
                    options.projection.team_label.clone(),
                    teams.clone(),
                    (telemetry, options.local_gpus.clone()),
                    tx.clone()
                ),
            );
        },
    );
}

/// Probes `/version` every [`PROBE_EVERY`]: reports the server version, the round-trip
/// latency, and reachability (unreachable since the first failed probe).
async fn probe(
    client: Client,
    url: String,
    credential: Option<credentials::Credential>,
    cluster: ClusterId,
    tx: ObservationSender,
    every: Duration,
) {
    let mut down_since: Option<jiff::Timestamp> = None;
    loop {
        let started = Instant::now();
        let result = tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await;
        let update = match result {
            Ok(Ok(info)) => {
                down_since = None;
                ClusterUpdate {
                    connection: Some(ConnectionState::Connected),
                    server_version: Some(info.git_version),
                    latency_ms: Some(started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32),
                    labels: None,
                }
            }
            Ok(Err(kube::Error::Api(s))) if s.code == 401 || s.code == 403 => {
                // A token the plugin could not refresh explains a 401 better than the server.
                let error = match credential.as_ref().and_then(|c| c.refresh_error()) {
                    Some(why) => format!("{}; refreshing the credential failed: {why}", s.message),
                    None => s.message.clone(),
                };
                ClusterUpdate { connection: Some(ConnectionState::Forbidden { error }), ..Default::default() }
            }
            other => {
                let error = match other {
                    Ok(Err(e)) => format!("{url}: {}", chain(&e)),
                    _ => format!("{url}: no answer within {}s", PROBE_TIMEOUT.as_secs()),
                };
                let since = *down_since.get_or_insert_with(jiff::Timestamp::now);
                ClusterUpdate {
                    connection: Some(ConnectionState::Unreachable { since, error }),
                    ..Default::default()
                }
            }
        };
        if !tx.send(vec![observe(&cluster, Change::Cluster(update))]).await {
            return;
        }
        tokio::time::sleep(every).await;
    }
}
