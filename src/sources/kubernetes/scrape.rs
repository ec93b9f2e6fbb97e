//! Scraping pods' `/metrics` through the API server's pod proxy (only a kubeconfig is needed:
//! no port-forward, no network path to the pods). Shared by [`super::pipelines`] (collectors,
//! Prometheus) and [`super::dcgm`] (GPU exporters).
//!
//! [`run_rounds`] runs one source's rounds: every interval it
//!
//! 1. **discovers** the targets: one LIST of pods per [`TargetSelector`] of the source, keeping
//!    Running pods, with the metrics port taken from the first container port whose name the
//!    selector lists, else the selector's default port;
//! 2. **scrapes** every target in parallel with `GET
//!    /api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/metrics` (needs `get` on `pods/proxy`),
//!    each with a timeout and a body-size cap;
//! 3. hands every target's body or [`ScrapeFailure`] to the source, which turns them into
//!    observations and its state. A pod list that fails is the source's state (`Forbidden` on
//!    403, else `Error`) without asking the source.
//!
//! Only GET requests are sent.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{AsyncReadExt, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client};

use super::watch::observe;
use crate::model::{Change, ClusterId, Observation, SourceKind, SourceState};
use crate::sources::ObservationSender;

/// Default interval between scrape rounds.
pub const SCRAPE_EVERY: Duration = Duration::from_secs(15);
/// Longest a single scrape may take (capped at the interval), and longest the pod list may take.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the pod lists of one round may take. A label-selected list makes the API server
/// read every pod (from etcd, unless its watch cache serves it): on a 10,000-pod cluster with
/// a busy API server that took over 10 s. The lists get the time such a cluster needs.
pub const POD_LIST_TIMEOUT: Duration = Duration::from_secs(120);

/// After this long without an answer, the pod list is reported as slow
/// ([`SourceState::Slow`]); the source's last records stay.
pub const SLOW_AFTER: Duration = Duration::from_secs(10);
/// Largest metrics body read; a bigger one is a scrape error (a collector's self-metrics are a
/// few tens of KB, a large Prometheus server's a few MB).
pub const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// The shortest interval honoured (a zero or tiny `scrape_every` is raised to it).
pub const MIN_SCRAPE_EVERY: Duration = Duration::from_millis(100);
/// Most scrapes in flight at once, per cluster and source.
pub const PARALLEL_SCRAPES: usize = 8;

/// What a discovered workload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetKind {
    /// An OpenTelemetry Collector (self-metrics on `:8888/metrics` by default).
    Collector,
    /// A Prometheus server (`:9090/metrics`).
    Prometheus,
    /// An NVIDIA dcgm-exporter (`:9400/metrics`).
    DcgmExporter,
    /// A Fluent Bit agent (`:2020/api/v1/metrics/prometheus`).
    FluentBit,
}

impl TargetKind {
    /// Every kind by the name configuration files use (`kind = "collector"`).
    pub const NAMES: [(&'static str, TargetKind); 4] = [
        ("collector", TargetKind::Collector),
        ("prometheus", TargetKind::Prometheus),
        ("fluent-bit", TargetKind::FluentBit),
        ("dcgm", TargetKind::DcgmExporter),
    ];

    /// The kind a configuration file names, if any.
    pub fn from_name(name: &str) -> Option<TargetKind> {
        Self::NAMES.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    /// The configuration names, comma separated (for error messages).
    pub fn names() -> String {
        Self::NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    }

    /// The usual metrics port and path of this kind.
    pub fn defaults(self) -> (u16, &'static str) {
        match self {
            TargetKind::Collector => (8888, METRICS_PATH),
            TargetKind::Prometheus => (9090, METRICS_PATH),
            TargetKind::FluentBit => (2020, FLUENT_BIT_PATH),
            TargetKind::DcgmExporter => (9400, METRICS_PATH),
        }
    }
}

/// One way to find pods to scrape: pods whose `label` has one of `values`.
#[derive(Debug, Clone, Copy)]
pub struct TargetSelector {
    /// What the matching pods are.
    pub kind: TargetKind,
    /// The label key.
    pub label: &'static str,
    /// Accepted values (`label in (…)`).
    pub values: &'static [&'static str],
    /// Container port names that serve the metrics, most preferred first.
    pub port_names: &'static [&'static str],
    /// The port when no container port has one of those names.
    pub default_port: u16,
    /// The HTTP path of the metrics on that port (`/metrics`; Fluent Bit serves them under
    /// `/api/v1/metrics/prometheus`).
    pub path: &'static str,
}

/// The usual metrics path.
pub const METRICS_PATH: &str = "/metrics";

/// Fluent Bit's Prometheus-format metrics path on its HTTP server.
pub const FLUENT_BIT_PATH: &str = "/api/v1/metrics/prometheus";

impl TargetSelector {
    /// A selector the user configured. Selectors are `'static` like the built-in tables; the
    /// user's few strings are leaked once, when live mode starts, and live as long as the
    /// process anyway.
    pub fn configured(
        kind: TargetKind,
        label: &str,
        values: &[String],
        port_names: &[String],
        default_port: u16,
        path: &str,
    ) -> Self {
        fn leak(s: &str) -> &'static str {
            Box::leak(s.to_owned().into_boxed_str())
        }
        fn leak_all(items: &[String]) -> &'static [&'static str] {
            Box::leak(items.iter().map(|s| leak(s)).collect::<Vec<_>>().into_boxed_slice())
        }
        TargetSelector {
            kind,
            label: leak(label),
            values: leak_all(values),
            port_names: leak_all(port_names),
            default_port,
            path: leak(path),
        }
    }

    /// The Kubernetes label selector (`key=value` or `key in (a,b)`).
    pub fn label_selector(&self) -> String {
        match self.values {
            [one] => format!("{}={one}", self.label),
            many => format!("{} in ({})", self.label, many.join(",")),
        }
    }

    /// True when `labels` match (applied again on the client: cheap, and exact whatever the
    /// server did with the selector).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        labels.get(self.label).is_some_and(|v| self.values.contains(&v.as_str()))
    }
}

/// How a target's metrics are reached.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Via {
    /// Through the API server's pod proxy (`get pods/proxy`): one pod, found by its labels.
    #[default]
    Pod,
    /// Through the API server's service proxy (`get services/proxy`): a Service named in the
    /// fleet file. Each scrape reaches one of its endpoints, so it suits single-replica
    /// workloads (a Prometheus server, a gateway with one pod); rates across replicas would
    /// mix counters.
    Service,
    /// Directly from this machine, at a URL in the fleet file (a collector's published
    /// endpoint). Sent without the cluster's credentials; the URL's userinfo, if any, is sent
    /// as HTTP basic auth (and shown nowhere).
    Url(String),
}

/// A pod, Service or URL to scrape.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    /// Namespace (empty for a URL).
    pub namespace: String,
    /// Pod or Service name; for a URL, the name the fleet file gives it or its host and port.
    pub name: String,
    /// The metrics port.
    pub port: u16,
    /// What it is.
    pub kind: TargetKind,
    /// The node it runs on (`spec.nodeName`), when scheduled.
    pub node: Option<String>,
    /// The metrics path on the port, starting with `/`.
    pub path: &'static str,
    /// How it is reached.
    pub via: Via,
}

impl Target {
    /// How its records name it: `namespace/pod`, `namespace/service/name`, or a URL
    /// target's name.
    pub fn workload(&self) -> String {
        match &self.via {
            Via::Pod => format!("{}/{}", self.namespace, self.name),
            Via::Service => format!("{}/service/{}", self.namespace, self.name),
            Via::Url(_) => self.name.clone(),
        }
    }

    /// The path (through the API server's proxy) or URL its metrics are read from.
    pub fn proxy_path(&self) -> String {
        let (ns, name, port, path) = (&self.namespace, &self.name, self.port, self.path);
        match &self.via {
            Via::Pod => format!("/api/v1/namespaces/{ns}/pods/{name}:{port}/proxy{path}"),
            Via::Service => format!("/api/v1/namespaces/{ns}/services/{name}:{port}/proxy{path}"),
            Via::Url(url) => crate::redact::text(url).into_owned(),
        }
    }
}

/// A kube client for a URL target's origin (scheme, host and port), with no credentials and
/// no retries: it speaks plain HTTP or TLS with the system's roots, like any metrics scraper.
/// The URL's path is the request's.
pub fn direct_client(url: &str) -> Result<(Client, String), String> {
    let shown = crate::redact::text(url);
    let uri: http::Uri = url.parse().map_err(|e| format!("{shown}: not a URL: {e}"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(format!("{shown}: expected an absolute http:// or https:// URL"));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("{shown}: expected an http:// or https:// URL"));
    }
    let (userinfo, host) = match authority.as_str().rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, authority.as_str()),
    };
    let origin: http::Uri =
        format!("{scheme}://{host}").parse().map_err(|e| format!("{shown}: not a URL: {e}"))?;
    let path = uri.path_and_query().map_or("/".to_string(), |p| p.as_str().to_string());
    // Made inside the runtime (the client's buffer task is spawned there).
    // No retries, as for the proxies (see `Clients::scrape`).
    let mut config = kube::Config::new(origin);
    config.default_retry = false;
    if let Some(userinfo) = userinfo {
        super::credentials::register_userinfo(url);
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        config.auth_info.username = Some(user.to_string());
        config.auth_info.password = Some(password.to_string().into());
    }
    let client = Client::try_from(config).map_err(|e| format!("{shown}: {}", super::chain(&e)))?;
    Ok((client, path))
}

/// The target `pod` makes under `selector`: `None` unless it is Running and named.
pub fn target(pod: &Pod, selector: &TargetSelector) -> Option<Target> {
    let meta = &pod.metadata;
    if !meta.labels.as_ref().is_some_and(|l| selector.matches(l)) || meta.deletion_timestamp.is_some() {
        return None;
    }
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    if !running {
        return None;
    }
    let ports: Vec<_> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.protocol.as_deref().unwrap_or("TCP") == "TCP")
        .collect();
    let port = selector
        .port_names
        .iter()
        .find_map(|want| ports.iter().find(|p| p.name.as_deref() == Some(*want)))
        .and_then(|p| u16::try_from(p.container_port).ok())
        .unwrap_or(selector.default_port);
    Some(Target {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone()?,
        port,
        kind: selector.kind,
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()),
        path: selector.path,
        via: Via::Pod,
    })
}

/// Why a scrape failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeFailure {
    /// The message shown on the record.
    pub message: String,
    /// True when the API server refused the proxy request (403).
    pub forbidden: bool,
}

/// One target of a round: its body, or why not, and when it was read.
pub type Scraped = (Target, Timestamp, Result<String, ScrapeFailure>);

/// Lists the pods of every selector, all at once (on a big cluster each list takes as long as
/// reading every pod, so one after the other would add up); deduplicated (a pod matched twice
/// is one target).
///
/// The lists are served from the API server's watch cache (`resourceVersion=0`, "any version
/// not older than"): without it every list is a quorum read of every pod from etcd, the label
/// filter applied after the read, seven times per round — on a 10,000-pod cluster that kept
/// the API server at 44 % of a core while fleettop idled. Targets a few seconds stale are fine:
/// the next round sees the rest.
pub async fn discover(client: &Client, selectors: &[TargetSelector]) -> Result<Vec<Target>, kube::Error> {
    let pods: Api<Pod> = Api::all(client.clone());
    let params: Vec<ListParams> =
        selectors.iter().map(|s| ListParams::default().labels(&s.label_selector()).match_any()).collect();
    let lists = futures::future::try_join_all(params.iter().map(|p| pods.list(p))).await?;
    let mut found: BTreeMap<(String, String), Target> = BTreeMap::new();
    for (selector, list) in selectors.iter().zip(&lists) {
        for pod in &list.items {
            if let Some(t) = target(pod, selector) {
                found.entry((t.namespace.clone(), t.name.clone())).or_insert(t);
            }
        }
    }
    Ok(found.into_values().collect())
}

/// One scrape: GET `path` with `client` (the cluster's for the proxies, a [`direct_client`]
/// for a URL): the body, or why not.
pub async fn fetch(client: &Client, path: &str, timeout: Duration) -> Result<String, ScrapeFailure> {
    let fail = |message: String| ScrapeFailure { message, forbidden: false };
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| fail(format!("bad request for {path}: {e}")))?;
    let read = async {
        let body = client.request_stream(request).await.map_err(|e| match e {
            kube::Error::Api(s) => ScrapeFailure {
                message: format!("{} {}: {}", s.code, s.reason, s.message),
                forbidden: s.code == 403,
            },
            e => fail(super::chain(&e)),
        })?;
        let mut bytes = Vec::new();
        std::pin::pin!(body)
            .take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| fail(format!("reading the metrics body: {e}")))?;
        Ok(bytes)
    };
    let bytes = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| fail(format!("no answer within {} ms", timeout.as_millis())))??;
    if bytes.len() as u64 > MAX_BODY_BYTES {
        return Err(fail(format!("metrics body larger than {} MiB", MAX_BODY_BYTES / (1024 * 1024))));
    }
    String::from_utf8(bytes).map_err(|_| fail("metrics body is not UTF-8".into()))
}

/// What one source scrapes: the pods its label selectors find, and fixed targets.
#[derive(Debug, Clone, Copy)]
pub struct Targets<'a> {
    /// Pods to discover each round.
    pub selectors: &'a [TargetSelector],
    /// Services and URLs from the fleet file, scraped every round.
    pub fixed: &'a [Target],
}

/// Runs `source`'s scrape rounds on `client`'s cluster every `every` (at least
/// [`MIN_SCRAPE_EVERY`]), forever; returns when the app has gone away.
///
/// Reports `Syncing` first. Each round discovers the pods of the [`Targets`]' selectors, adds
/// its fixed targets (Services and URLs from the fleet file), scrapes them all (at most
/// [`PARALLEL_SCRAPES`] at once, each within [`SCRAPE_TIMEOUT`] or the interval; the pod lists
/// within [`POD_LIST_TIMEOUT`], reported [`SourceState::Slow`] after [`SLOW_AFTER`]) and passes
/// the results to `round`, which returns the observations to send and the source's state;
/// the state is sent when it changes. When the pods cannot be listed, `round` is not called
/// (the records are kept as they were) and the state says why.
pub async fn run_rounds(
    client: Client,
    cluster: ClusterId,
    tx: ObservationSender,
    source: SourceKind,
    Targets { selectors, fixed }: Targets<'_>,
    every: Duration,
    mut round: impl FnMut(Vec<Scraped>) -> (Vec<Observation>, SourceState),
) {
    let every = every.max(MIN_SCRAPE_EVERY);
    let timeout = SCRAPE_TIMEOUT.min(every);
    // One client per URL target, made once; a bad URL is that target's scrape failure.
    let direct: BTreeMap<String, Result<(Client, String), String>> = fixed
        .iter()
        .filter_map(|t| match &t.via {
            Via::Url(url) => Some((url.clone(), direct_client(url))),
            _ => None,
        })
        .collect();
    let request = |t: &Target| -> Result<(Client, String), ScrapeFailure> {
        match &t.via {
            Via::Url(url) => match direct.get(url) {
                Some(Ok(c)) => Ok(c.clone()),
                Some(Err(message)) => Err(ScrapeFailure { message: message.clone(), forbidden: false }),
                None => Err(ScrapeFailure { message: format!("{url}: no client"), forbidden: false }),
            },
            Via::Pod | Via::Service => Ok((client.clone(), t.proxy_path())),
        }
    };
    let mut shown: Option<SourceState> = None;
    let syncing = observe(&cluster, Change::Source { source, state: SourceState::Syncing });
    if !tx.send(vec![syncing]).await {
        return;
    }
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // The pod lists get their own, long timeout (a big cluster's lists are slow), whatever
        // the interval; past `SLOW_AFTER` the source says it is slow, and its records stay.
        let listing = tokio::time::timeout(POD_LIST_TIMEOUT, discover(&client, selectors));
        tokio::pin!(listing);
        let listed = tokio::select! {
            listed = &mut listing => listed,
            () = tokio::time::sleep(SLOW_AFTER) => {
                let state = SourceState::Slow {
                    message: format!(
                        "the pod list has taken over {} s (a big or busy API server); waiting up to {} s, \
                         the last results stay",
                        SLOW_AFTER.as_secs(),
                        POD_LIST_TIMEOUT.as_secs()
                    ),
                };
                if shown.as_ref() != Some(&state) {
                    shown = Some(state.clone());
                    if !tx.send(vec![observe(&cluster, Change::Source { source, state })]).await {
                        return;
                    }
                }
                listing.await
            }
        };
        let (mut out, state) = match listed {
            Ok(Ok(mut targets)) => {
                targets.extend(fixed.iter().cloned());
                let results: Vec<Scraped> = futures::stream::iter(targets)
                    .map(|t| {
                        let request = request(&t);
                        async move {
                            let result = match request {
                                Ok((client, path)) => fetch(&client, &path, timeout).await,
                                Err(failure) => Err(failure),
                            };
                            (t, Timestamp::now(), result)
                        }
                    })
                    .buffer_unordered(PARALLEL_SCRAPES)
                    .collect()
                    .await;
                round(results)
            }
            Ok(Err(kube::Error::Api(s))) if s.code == 403 => {
                (Vec::new(), SourceState::Forbidden { message: s.message.clone() })
            }
            Ok(Err(e)) => (Vec::new(), SourceState::Error { message: super::chain(&e) }),
            Err(_) => (
                Vec::new(),
                SourceState::Error {
                    message: format!("pod list: no answer within {} s", POD_LIST_TIMEOUT.as_secs()),
                },
            ),
        };
        if shown.as_ref() != Some(&state) {
            shown = Some(state.clone());
            out.push(observe(&cluster, Change::Source { source, state }));
        }
        if !out.is_empty() && !tx.send(out).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const SELECTOR: TargetSelector = TargetSelector {
        kind: TargetKind::DcgmExporter,
        label: "app",
        values: &["nvidia-dcgm-exporter"],
        port_names: &["metrics"],
        default_port: 9400,
        path: METRICS_PATH,
    };

    // A kube client needs a runtime to be made.
    #[tokio::test]
    async fn services_and_urls_are_read_where_the_fleet_file_says() {
        let service = Target {
            namespace: "monitoring".into(),
            name: "otel-gateway".into(),
            port: 8888,
            kind: TargetKind::Collector,
            node: None,
            path: METRICS_PATH,
            via: Via::Service,
        };
        assert_eq!(
            service.proxy_path(),
            "/api/v1/namespaces/monitoring/services/otel-gateway:8888/proxy/metrics"
        );
        assert_eq!(service.workload(), "monitoring/service/otel-gateway");
        let (_, path) = direct_client("http://10.0.3.7:8888/metrics?format=text").unwrap();
        assert_eq!(path, "/metrics?format=text");
        let (_, path) = direct_client("https://otel.example.com").unwrap();
        assert_eq!(path, "/");
        for bad in ["10.0.3.7:8888/metrics", "ftp://host/metrics", "http://", "not a url"] {
            assert!(direct_client(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_target_knows_the_node_its_pod_runs_on() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "nvidia-dcgm-exporter-x", "namespace": "gpu-operator",
                "labels": {"app": "nvidia-dcgm-exporter"}},
            "spec": {"nodeName": "gpu-1", "containers": [{"name": "e", "ports": [{"name": "metrics", "containerPort": 9400}]}]},
            "status": {"phase": "Running"},
        }))
        .unwrap();
        let t = target(&pod, &SELECTOR).unwrap();
        assert_eq!((t.node.as_deref(), t.port, t.kind), (Some("gpu-1"), 9400, TargetKind::DcgmExporter));
        assert_eq!(
            t.proxy_path(),
            "/api/v1/namespaces/gpu-operator/pods/nvidia-dcgm-exporter-x:9400/proxy/metrics"
        );
    }
}
