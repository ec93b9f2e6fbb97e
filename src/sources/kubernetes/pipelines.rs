//! Telemetry-pipeline self-metrics, scraped through the API server's pod proxy (only a
//! kubeconfig is needed: no port-forward, no network path to the pods).
//!
//! Every round (every [`super::Options::scrape_every`]) one task per cluster, with the shared
//! machinery of [`super::scrape`]:
//!
//! 1. **discovers** the targets: one LIST of pods per entry of [`SELECTORS`] and of the user's
//!    `[[pipelines.targets]]` in `config.toml`, keeping Running pods, with the metrics port taken
//!    from the first container port whose name the entry lists, else the entry's default port;
//!    plus the cluster's `[[cluster.scrape]]` Services and URLs from the fleet file;
//! 2. **scrapes** every target in parallel with `GET
//!    /api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/metrics` (needs `get` on `pods/proxy`),
//!    each with a timeout and a body-size cap;
//! 3. **parses** with [`parse::prometheus`] and turns the target's previous scrape and this one
//!    into [`PipelineComponent`]s with [`rates::components`] (counter resets handled there).
//!
//! Records: a target's components are published from its second successful scrape on (the
//! first has no rates, and all-zero rates would read as "silent", which is unhealthy). A failed
//! scrape (timeout, 403, 5xx, a body that does not parse) is a finding, not a crash: the
//! target's last components are re-sent with `scrape_error` set (their rates and `scraped_at`
//! are those of the last good scrape), or, when it has none yet, one
//! [`ComponentKind::Endpoint`] record stands for it. Records of targets that disappeared are
//! deleted.
//!
//! The source state, reported after every round that changes it:
//! * pods cannot be listed: `Forbidden` (403) or `Error`, records kept;
//! * no target found: `NotInstalled`. Honest only as "no collector or Prometheus found by
//!   [`SELECTORS`]": collectors deployed with other labels are not seen, so the Fleet pane says
//!   "not installed" for a cluster that may well run one;
//! * any scrape refused with 403: `Forbidden` with the API server's message (fleettop lacks
//!   `get pods/proxy`; the per-target records say the same);
//! * otherwise `Live`, even when some targets fail: those failures are the targets' findings
//!   (records with `scrape_error`), not the source's.
//!
//! Only GET requests are sent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use kube::Client;

use super::scrape::{
    FLUENT_BIT_PATH, METRICS_PATH, ScrapeFailure, Scraped, Target, TargetKind, TargetSelector, Targets,
    run_rounds,
};
use super::watch::observe;
use crate::model::{
    Change, ClusterId, ComponentKind, Observation, PipelineComponent, Record, RecordKind, Signal, SourceKind,
    SourceState,
};
use crate::sources::ObservationSender;
use crate::sources::parse::{prometheus, rates};

const COLLECTOR_PORTS: &[&str] = &["metrics", "http-metrics", "monitoring"];

/// Where pipeline pods are looked for, beside the user's `[[pipelines.targets]]`:
/// * the collector Helm chart sets `app.kubernetes.io/name: opentelemetry-collector` (its chart
///   name); `otelcol` and `otel-collector` are common hand-written names;
/// * the OpenTelemetry Operator sets `app.kubernetes.io/component: opentelemetry-collector`
///   (its `name` is `<cr>-collector`, so it needs its own entry) and a container port named
///   `metrics`;
/// * the Prometheus Operator and the prometheus-community chart set
///   `app.kubernetes.io/name: prometheus`; the operator names the port `web`;
/// * Fluent Bit (its chart and the older logging manifests), on its own metrics path.
pub const SELECTORS: &[TargetSelector] = &[
    TargetSelector {
        kind: TargetKind::Collector,
        label: "app.kubernetes.io/name",
        values: &["opentelemetry-collector", "otelcol", "otel-collector"],
        port_names: COLLECTOR_PORTS,
        default_port: 8888,
        path: METRICS_PATH,
    },
    TargetSelector {
        kind: TargetKind::Collector,
        label: "app.kubernetes.io/component",
        values: &["opentelemetry-collector"],
        port_names: COLLECTOR_PORTS,
        default_port: 8888,
        path: METRICS_PATH,
    },
    TargetSelector {
        kind: TargetKind::Prometheus,
        label: "app.kubernetes.io/name",
        values: &["prometheus"],
        port_names: &["web", "http-web", "metrics", "http-metrics", "monitoring"],
        default_port: 9090,
        path: METRICS_PATH,
    },
    // Fluent Bit's Helm chart sets `app.kubernetes.io/name: fluent-bit` and names the HTTP
    // server's port `http` (2020); the older manifests (fluent-bit-kubernetes-logging) set
    // `k8s-app: fluent-bit-logging`. The metrics need `HTTP_Server On` in the service config,
    // as the chart sets; the v1 path is served by every version since 1.x.
    TargetSelector {
        kind: TargetKind::FluentBit,
        label: "app.kubernetes.io/name",
        values: &["fluent-bit"],
        port_names: &["http", "http-metrics", "metrics"],
        default_port: 2020,
        path: FLUENT_BIT_PATH,
    },
    TargetSelector {
        kind: TargetKind::FluentBit,
        label: "k8s-app",
        values: &["fluent-bit-logging", "fluent-bit"],
        port_names: &["http", "http-metrics", "metrics"],
        default_port: 2020,
        path: FLUENT_BIT_PATH,
    },
];

/// What one target left behind: its last good scrape and the records it published.
#[derive(Debug, Default)]
struct TargetState {
    previous: Option<(prometheus::Scrape, Timestamp)>,
    published: BTreeMap<String, PipelineComponent>,
}

/// The scraper of one cluster, between rounds.
#[derive(Debug, Default)]
pub struct Scraper {
    targets: BTreeMap<Target, TargetState>,
}

impl Scraper {
    /// Takes one round's results (every current target with its body or failure, at the time
    /// it was read) and returns the observations it makes and the source state.
    pub fn round(&mut self, cluster: &ClusterId, results: Vec<Scraped>) -> (Vec<Observation>, SourceState) {
        let mut out = Vec::new();
        let current: BTreeSet<Target> = results.iter().map(|(t, _, _)| t.clone()).collect();
        // Gone targets (deleted, not Running, port changed): delete their records.
        let gone: Vec<Target> = self.targets.keys().filter(|t| !current.contains(*t)).cloned().collect();
        for t in gone {
            if let Some(st) = self.targets.remove(&t) {
                for key in st.published.into_keys() {
                    out.push(observe(cluster, Change::Delete { kind: RecordKind::Pipeline, key }));
                }
            }
        }
        let mut refused: Option<String> = None;
        for (target, at, result) in results {
            let st = self.targets.entry(target.clone()).or_default();
            let parsed = result.and_then(|body| {
                prometheus::parse_text(&body).map_err(|e| ScrapeFailure {
                    message: format!("metrics do not parse: {e}"),
                    forbidden: false,
                })
            });
            let next: BTreeMap<String, PipelineComponent> = match parsed {
                Ok(scrape) => {
                    let workload = target.workload();
                    let next = match &st.previous {
                        Some((prev, prev_at)) => {
                            rates::components(Some((prev, *prev_at)), &scrape, at, &workload)
                                .into_iter()
                                .map(|c| (c.key(), c))
                                .collect()
                        }
                        None => BTreeMap::new(),
                    };
                    st.previous = Some((scrape, at));
                    next
                }
                Err(failure) => {
                    if failure.forbidden && refused.is_none() {
                        refused = Some(failure.message.clone());
                    }
                    failed(&target, &st.published, at, &failure.message)
                }
            };
            for key in st.published.keys().filter(|k| !next.contains_key(*k)) {
                out.push(observe(cluster, Change::Delete { kind: RecordKind::Pipeline, key: key.clone() }));
            }
            for c in next.values() {
                if st.published.get(&c.key()) != Some(c) {
                    out.push(observe(cluster, Change::Upsert { record: Record::Pipeline(c.clone()) }));
                }
            }
            st.published = next;
        }
        let state = match refused {
            Some(message) => SourceState::Forbidden { message },
            None if current.is_empty() => SourceState::NotInstalled,
            None => SourceState::Live,
        };
        (out, state)
    }
}

/// The records of a target whose scrape failed: its last components marked with the error,
/// or one [`ComponentKind::Endpoint`] record when it has none yet (named `metrics:<port>`,
/// signal `metrics`: the model has no "all signals", and what failed is a metrics endpoint).
fn failed(
    target: &Target,
    published: &BTreeMap<String, PipelineComponent>,
    at: Timestamp,
    message: &str,
) -> BTreeMap<String, PipelineComponent> {
    let error = Some(format!("{}: {message}", target.proxy_path()));
    let marked: BTreeMap<String, PipelineComponent> = published
        .iter()
        .filter(|(_, c)| c.kind != ComponentKind::Endpoint)
        .map(|(k, c)| (k.clone(), PipelineComponent { scrape_error: error.clone(), ..c.clone() }))
        .collect();
    if !marked.is_empty() {
        return marked;
    }
    let endpoint = PipelineComponent {
        scrape_error: error,
        ..PipelineComponent::unmeasured(
            target.workload(),
            ComponentKind::Endpoint,
            format!("metrics:{}", target.port),
            Signal::Metrics,
            at,
        )
    };
    BTreeMap::from([(endpoint.key(), endpoint)])
}

/// Discovers and scrapes `client`'s cluster every `every` (see [`run_rounds`]),
/// forever; returns when the app has gone away.
/// `extra` adds the user's selectors (`[[pipelines.targets]]`) to [`SELECTORS`]; those of
/// other kinds (dcgm-exporters) are left to their own source.
pub async fn run(
    client: Client,
    cluster: ClusterId,
    tx: ObservationSender,
    every: Duration,
    extra: &[TargetSelector],
    fixed: &[Target],
) {
    let fixed: Vec<Target> = fixed.iter().filter(|t| t.kind != TargetKind::DcgmExporter).cloned().collect();
    let mut scraper = Scraper::default();
    let round_cluster = cluster.clone();
    let selectors: Vec<TargetSelector> = SELECTORS
        .iter()
        .chain(extra.iter().filter(|s| s.kind != TargetKind::DcgmExporter))
        .copied()
        .collect();
    let targets = Targets { selectors: &selectors, fixed: &fixed };
    run_rounds(client, cluster, tx, SourceKind::Pipelines, targets, every, |results| {
        scraper.round(&round_cluster, results)
    })
    .await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::model::PipelineHealth;
    use crate::sources::kubernetes::scrape::target;
    use k8s_openapi::api::core::v1::Pod;

    fn pod(labels: serde_json::Value, phase: &str, ports: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "gw-0", "namespace": "otel", "labels": labels},
            "spec": {"containers": [{"name": "otc", "ports": ports}]},
            "status": {"phase": phase},
        }))
        .unwrap()
    }

    fn t() -> Target {
        Target {
            namespace: "otel".into(),
            name: "gw-0".into(),
            port: 8888,
            kind: TargetKind::Collector,
            node: None,
            path: METRICS_PATH,
            via: Default::default(),
        }
    }

    #[test]
    fn selectors_render_as_kubernetes_label_selectors() {
        assert_eq!(
            SELECTORS[0].label_selector(),
            "app.kubernetes.io/name in (opentelemetry-collector,otelcol,otel-collector)"
        );
        assert_eq!(SELECTORS[1].label_selector(), "app.kubernetes.io/component=opentelemetry-collector");
        assert_eq!(SELECTORS[2].label_selector(), "app.kubernetes.io/name=prometheus");
    }

    #[test]
    fn targets_are_running_matching_pods_with_their_named_port_or_the_default() {
        let helm = serde_json::json!({"app.kubernetes.io/name": "opentelemetry-collector"});
        let ports = serde_json::json!([{"name": "otlp", "containerPort": 4317}, {"name": "metrics", "containerPort": 9999}]);
        let p = pod(helm.clone(), "Running", ports);
        assert_eq!(target(&p, &SELECTORS[0]).map(|t| t.port), Some(9999));
        assert_eq!(target(&p, &SELECTORS[2]), None, "not a Prometheus");
        let p = pod(helm.clone(), "Running", serde_json::json!([{"name": "otlp", "containerPort": 4317}]));
        let got = target(&p, &SELECTORS[0]).unwrap();
        assert_eq!((got.port, got.workload()), (8888, "otel/gw-0".to_string()));
        assert_eq!(got.proxy_path(), "/api/v1/namespaces/otel/pods/gw-0:8888/proxy/metrics");
        assert_eq!(target(&pod(helm, "Pending", serde_json::json!([])), &SELECTORS[0]), None);
        let operator = serde_json::json!({"app.kubernetes.io/component": "opentelemetry-collector",
            "app.kubernetes.io/name": "gateway-collector"});
        assert!(target(&pod(operator.clone(), "Running", serde_json::json!([])), &SELECTORS[1]).is_some());
        assert_eq!(target(&pod(operator, "Running", serde_json::json!([])), &SELECTORS[0]), None);
        let prom = serde_json::json!({"app.kubernetes.io/name": "prometheus"});
        let p = pod(prom, "Running", serde_json::json!([{"name": "web", "containerPort": 9090}]));
        assert_eq!(target(&p, &SELECTORS[2]).map(|t| (t.port, t.kind)), Some((9090, TargetKind::Prometheus)));
    }

    const BODY_1: &str = "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 100\n\
        otelcol_exporter_sent_spans_total{exporter=\"otlp\"} 100\n\
        otelcol_exporter_enqueue_failed_spans_total{exporter=\"otlp\"} 0\n";
    const BODY_2: &str = "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 250\n\
        otelcol_exporter_sent_spans_total{exporter=\"otlp\"} 200\n\
        otelcol_exporter_enqueue_failed_spans_total{exporter=\"otlp\"} 30\n";

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn upserts(obs: &[Observation]) -> Vec<PipelineComponent> {
        obs.iter()
            .filter_map(|o| match &o.change {
                Change::Upsert { record: Record::Pipeline(p) } => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    fn deletes(obs: &[Observation]) -> Vec<String> {
        obs.iter()
            .filter_map(|o| match &o.change {
                Change::Delete { kind: RecordKind::Pipeline, key } => Some(key.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn rates_appear_from_the_second_scrape_and_failures_mark_the_last_components() {
        let c = ClusterId::new("a");
        let mut s = Scraper::default();
        let (obs, state) = s.round(&c, vec![(t(), at(0), Ok(BODY_1.into()))]);
        assert_eq!((obs.len(), state), (0, SourceState::Live), "no rates yet: nothing published");
        let (obs, _) = s.round(&c, vec![(t(), at(10), Ok(BODY_2.into()))]);
        let got = upserts(&obs);
        assert_eq!(got.len(), 2);
        let recv = got.iter().find(|p| p.kind == ComponentKind::Receiver).unwrap();
        assert_eq!((recv.accepted_per_s, recv.workload.as_str()), (15.0, "otel/gw-0"));
        let exp = got.iter().find(|p| p.kind == ComponentKind::Exporter).unwrap();
        assert_eq!((exp.sent_per_s, exp.enqueue_failed_per_s), (10.0, 3.0));
        assert_eq!(exp.health(&crate::model::Verdicts::default()), PipelineHealth::Losing);

        let refused = ScrapeFailure { message: "403 Forbidden: no".into(), forbidden: true };
        let (obs, state) = s.round(&c, vec![(t(), at(20), Err(refused))]);
        assert_eq!(state, SourceState::Forbidden { message: "403 Forbidden: no".into() });
        let got = upserts(&obs);
        assert_eq!(got.len(), 2, "both components are re-sent, marked");
        assert!(
            got.iter().all(|p| p.health(&crate::model::Verdicts::default()) == PipelineHealth::ScrapeFailed
                && p.scraped_at == at(10))
        );

        let (obs, state) = s.round(&c, vec![]);
        assert_eq!(state, SourceState::NotInstalled);
        assert_eq!(deletes(&obs).len(), 2, "the gone target's records are deleted");
    }

    #[test]
    fn a_target_that_never_scraped_is_one_endpoint_record_until_it_does() {
        let c = ClusterId::new("a");
        let mut s = Scraper::default();
        let (obs, state) = s.round(&c, vec![(t(), at(0), Ok("not metrics at all {".into()))]);
        assert_eq!(state, SourceState::Live, "a bad target is its own finding");
        let got = upserts(&obs);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].kind, got[0].name.as_str()), (ComponentKind::Endpoint, "metrics:8888"));
        assert!(got[0].scrape_error.as_deref().unwrap().contains("do not parse"), "{got:?}");
        let (obs, _) = s.round(&c, vec![(t(), at(10), Ok(BODY_1.into()))]);
        assert_eq!(deletes(&obs), vec![got[0].key()], "the endpoint record goes once a scrape works");
        assert!(upserts(&obs).is_empty(), "no rates before a second good scrape");
        let (obs, _) = s.round(&c, vec![(t(), at(20), Ok(BODY_2.into()))]);
        assert_eq!(upserts(&obs).len(), 2);
    }
}
