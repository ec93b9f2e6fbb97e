//! One table mapping pipeline self-metric names (OpenTelemetry Collector of every version seen,
//! Prometheus remote-write, Fluent Bit) to a canonical `(ComponentKind, Measure, Signal)`.
//!
//! Naming drift handled before the table is consulted ([`canonical_name`]):
//! - `_total` suffix (collector ≥ v0.119 with the Prometheus reader; always on Prometheus and
//!   Fluent Bit counters): stripped, so each table row is written once, without it;
//! - the doubled-unit bug (`otelcol_exporter_sent_spans__spans__total`, v0.130): everything from
//!   the first `__` on is cut;
//! - `otel_scope_name`/`otel_scope_version`/`otel_scope_schema_url` and the old
//!   `service_instance_id`/`service_name`/`service_version` labels: ignored (they name the
//!   instrumentation scope or the collector process, never the component);
//! - the signal comes from the name (`_spans`, `_metric_points`, `_log_records`) or, for
//!   `otelcol_processor_{incoming,outgoing}_items`, from the `otel_signal` label, and for the queue
//!   gauges from the `data_type` label (absent in older versions: the queue then applies to every
//!   signal the exporter reports);
//! - pre-2020 names (`otelcol_otelcol_receiver_received_spans{otelsvc_receiver=…}`).
//!
//! Not mapped (ignored and counted in [`Normalised::ignored`]): `otelcol_exporter_dropped_*` (proposed
//! in collector PR 5427, never merged), `*_profile_samples` (no profile [`Signal`]), process and
//! runtime metrics, batch-processor sizes, `otel_scope_info`.

use std::collections::BTreeMap;

use super::prometheus::{Sample, Scrape};
use crate::model::{ComponentKind, Signal};

/// What a pipeline self-metric measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    /// Items taken in (counter).
    Accepted,
    /// Items refused to the sender (counter; data loss unless the sender retries).
    Refused,
    /// Items dropped by the component (counter; data loss).
    Dropped,
    /// Items sent on (counter).
    Sent,
    /// Items in failed send attempts (counter).
    SendFailed,
    /// Items that could not be put on the sending queue (counter; data loss).
    EnqueueFailed,
    /// Items or batches retried (counter; informational).
    Retried,
    /// Items or batches waiting in the sending queue (gauge).
    QueueSize,
    /// Capacity of the sending queue (gauge).
    QueueCapacity,
    /// Items into a processor (counter; collector ≥ v0.110).
    Incoming,
    /// Items out of a processor (counter; collector ≥ v0.110).
    Outgoing,
    /// Remote-write shards running (gauge).
    Shards,
    /// Remote-write shards wanted (gauge).
    ShardsDesired,
    /// Remote-write samples each shard can queue (gauge).
    ShardCapacity,
    /// Newest sample timestamp ingested, seconds (gauge; no `remote_name`).
    HighestTimestamp,
    /// Newest sample timestamp sent by a remote-write queue, seconds (gauge).
    HighestSentTimestamp,
}

impl Measure {
    /// True for gauges, taken as they are; false for counters, which become rates.
    pub fn is_gauge(self) -> bool {
        matches!(
            self,
            Measure::QueueSize
                | Measure::QueueCapacity
                | Measure::Shards
                | Measure::ShardsDesired
                | Measure::ShardCapacity
                | Measure::HighestTimestamp
                | Measure::HighestSentTimestamp
        )
    }
}

/// Where a row's signal comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalFrom {
    /// Fixed by the name.
    Name(Signal),
    /// From this label (`otel_signal`, `data_type`); `None` when the label is absent.
    Label(&'static str),
}

/// One row of the mapping table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Canonical metric name: no `_total`, no doubled unit.
    pub name: &'static str,
    /// Component kind.
    pub kind: ComponentKind,
    /// What it measures.
    pub measure: Measure,
    /// Where the signal comes from.
    pub signal: SignalFrom,
    /// Labels naming the component, first present wins; empty: the whole process (`*`).
    pub id_labels: &'static [&'static str],
}

const RECV: &[&str] = &["receiver"];
const LEGACY_RECV: &[&str] = &["otelsvc_receiver"];
const PROC: &[&str] = &["processor"];
const EXP: &[&str] = &["exporter"];
// Current Prometheus labels queues `remote_name` (may be empty) and `url`; older 2.x used `queue`
// (from memory of the old `succeeded_samples_total{queue=…}` series; no fixture has it).
const RW: &[&str] = &["remote_name", "url", "queue"];
const FB: &[&str] = &["name"];
const GLOBAL: &[&str] = &[];

const fn row(
    name: &'static str,
    kind: ComponentKind,
    measure: Measure,
    signal: SignalFrom,
    id_labels: &'static [&'static str],
) -> Rule {
    Rule { name, kind, measure, signal, id_labels }
}

use ComponentKind::{Exporter as E, Processor as P, Receiver as R, RemoteWrite as W};
use Measure::*;
use Signal::{Logs as L, Metrics as M, Traces as T};
use SignalFrom::{Label, Name as N};

/// The mapping table: every known name, once, in canonical form (see [`canonical_name`]).
pub const RULES: &[Rule] = &[
    // --- OpenTelemetry Collector receivers (receiverhelper; `failed_*` is the newer split of refused).
    row("otelcol_receiver_accepted_spans", R, Accepted, N(T), RECV),
    row("otelcol_receiver_accepted_metric_points", R, Accepted, N(M), RECV),
    row("otelcol_receiver_accepted_log_records", R, Accepted, N(L), RECV),
    row("otelcol_receiver_refused_spans", R, Refused, N(T), RECV),
    row("otelcol_receiver_refused_metric_points", R, Refused, N(M), RECV),
    row("otelcol_receiver_refused_log_records", R, Refused, N(L), RECV),
    row("otelcol_receiver_failed_spans", R, Refused, N(T), RECV),
    row("otelcol_receiver_failed_metric_points", R, Refused, N(M), RECV),
    row("otelcol_receiver_failed_log_records", R, Refused, N(L), RECV),
    // --- Pre-2020 receiver names (collector PR 544).
    row("otelcol_otelcol_receiver_received_spans", R, Accepted, N(T), LEGACY_RECV),
    row("otelcol_otelcol_receiver_dropped_spans", R, Dropped, N(T), LEGACY_RECV),
    // --- Processors, ≤ v0.110 (deprecated then removed, CHANGELOG #11201).
    row("otelcol_processor_accepted_spans", P, Accepted, N(T), PROC),
    row("otelcol_processor_accepted_metric_points", P, Accepted, N(M), PROC),
    row("otelcol_processor_accepted_log_records", P, Accepted, N(L), PROC),
    row("otelcol_processor_refused_spans", P, Refused, N(T), PROC),
    row("otelcol_processor_refused_metric_points", P, Refused, N(M), PROC),
    row("otelcol_processor_refused_log_records", P, Refused, N(L), PROC),
    row("otelcol_processor_dropped_spans", P, Dropped, N(T), PROC),
    row("otelcol_processor_dropped_metric_points", P, Dropped, N(M), PROC),
    row("otelcol_processor_dropped_log_records", P, Dropped, N(L), PROC),
    // --- Processors, the short-lived per-signal names, then the `_items` with `otel_signal` (OTEP 259).
    row("otelcol_processor_incoming_spans", P, Incoming, N(T), PROC),
    row("otelcol_processor_incoming_metric_points", P, Incoming, N(M), PROC),
    row("otelcol_processor_incoming_log_records", P, Incoming, N(L), PROC),
    row("otelcol_processor_outgoing_spans", P, Outgoing, N(T), PROC),
    row("otelcol_processor_outgoing_metric_points", P, Outgoing, N(M), PROC),
    row("otelcol_processor_outgoing_log_records", P, Outgoing, N(L), PROC),
    row("otelcol_processor_incoming_items", P, Incoming, Label("otel_signal"), PROC),
    row("otelcol_processor_outgoing_items", P, Outgoing, Label("otel_signal"), PROC),
    // --- Exporters (exporterhelper).
    row("otelcol_exporter_sent_spans", E, Sent, N(T), EXP),
    row("otelcol_exporter_sent_metric_points", E, Sent, N(M), EXP),
    row("otelcol_exporter_sent_log_records", E, Sent, N(L), EXP),
    row("otelcol_exporter_send_failed_spans", E, SendFailed, N(T), EXP),
    row("otelcol_exporter_send_failed_metric_points", E, SendFailed, N(M), EXP),
    row("otelcol_exporter_send_failed_log_records", E, SendFailed, N(L), EXP),
    row("otelcol_exporter_enqueue_failed_spans", E, EnqueueFailed, N(T), EXP),
    row("otelcol_exporter_enqueue_failed_metric_points", E, EnqueueFailed, N(M), EXP),
    row("otelcol_exporter_enqueue_failed_log_records", E, EnqueueFailed, N(L), EXP),
    row("otelcol_exporter_queue_size", E, QueueSize, Label("data_type"), EXP),
    row("otelcol_exporter_queue_capacity", E, QueueCapacity, Label("data_type"), EXP),
    // --- Prometheus remote-write (storage/remote/queue_manager.go); 2.x names, then pre-2.x.
    row("prometheus_remote_storage_samples", W, Sent, N(M), RW),
    row("prometheus_remote_storage_histograms", W, Sent, N(M), RW),
    row("prometheus_remote_storage_succeeded_samples", W, Sent, N(M), RW),
    row("prometheus_remote_storage_samples_failed", W, SendFailed, N(M), RW),
    row("prometheus_remote_storage_histograms_failed", W, SendFailed, N(M), RW),
    row("prometheus_remote_storage_failed_samples", W, SendFailed, N(M), RW),
    row("prometheus_remote_storage_samples_dropped", W, Dropped, N(M), RW),
    row("prometheus_remote_storage_dropped_samples", W, Dropped, N(M), RW),
    row("prometheus_remote_storage_samples_retried", W, Retried, N(M), RW),
    row("prometheus_remote_storage_histograms_retried", W, Retried, N(M), RW),
    row("prometheus_remote_storage_retried_samples", W, Retried, N(M), RW),
    row("prometheus_remote_storage_samples_pending", W, QueueSize, N(M), RW),
    row("prometheus_remote_storage_pending_samples", W, QueueSize, N(M), RW),
    row("prometheus_remote_storage_shard_capacity", W, ShardCapacity, N(M), RW),
    row("prometheus_remote_storage_shards", W, Shards, N(M), RW),
    row("prometheus_remote_storage_shards_desired", W, ShardsDesired, N(M), RW),
    row("prometheus_remote_storage_highest_timestamp_in_seconds", W, HighestTimestamp, N(M), GLOBAL),
    row("prometheus_remote_storage_queue_highest_sent_timestamp_seconds", W, HighestSentTimestamp, N(M), RW),
    // --- Fluent Bit v1 metrics (`name` = plugin alias); inputs are receivers, outputs exporters.
    row("fluentbit_input_records", R, Accepted, N(L), FB),
    row("fluentbit_output_proc_records", E, Sent, N(L), FB),
    row("fluentbit_output_errors", E, SendFailed, N(L), FB),
    row("fluentbit_output_dropped_records", E, Dropped, N(L), FB),
    row("fluentbit_output_retries_failed", E, Dropped, N(L), FB),
    row("fluentbit_output_retried_records", E, Retried, N(L), FB),
    row("fluentbit_output_retries", E, Retried, N(L), FB),
];

/// The name the table is keyed on: cut at the first `__` (doubled-unit bug), then `_total` removed.
pub fn canonical_name(name: &str) -> &str {
    let name = match name.find("__") {
        Some(i) => &name[..i],
        None => name,
    };
    name.strip_suffix("_total").unwrap_or(name)
}

/// The table row for a metric name as written, if any.
pub fn lookup(name: &str) -> Option<&'static Rule> {
    let canonical = canonical_name(name);
    RULES.iter().find(|r| r.name == canonical)
}

/// A sample recognised as a pipeline self-metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// Component kind.
    pub kind: ComponentKind,
    /// Component id (`otlp`, `otlphttp/backend`, `stdout.0`, a remote-write queue name), or `*`
    /// for a process-wide series.
    pub component: String,
    /// What the series measures.
    pub measure: Measure,
    /// The signal; `None` when it comes from a label the series lacks.
    pub signal: Option<Signal>,
    /// Index of the sample in [`Scrape::samples`].
    pub sample: usize,
}

/// A scrape sorted into pipeline series and ignored names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Normalised {
    /// Recognised samples, in scrape order.
    pub mapped: Vec<Mapped>,
    /// Samples not mapped, counted by metric name as written (unknown names, unknown signals such
    /// as `profiles`, series lacking their component label).
    pub ignored: BTreeMap<String, usize>,
}

fn signal_from_label(value: &str) -> Option<Signal> {
    match value {
        "traces" => Some(Signal::Traces),
        "metrics" => Some(Signal::Metrics),
        "logs" => Some(Signal::Logs),
        _ => None,
    }
}

/// Maps one sample; `None` when it is not a pipeline self-metric this table knows.
pub fn classify(sample: &Sample, index: usize) -> Option<Mapped> {
    let rule = lookup(&sample.name)?;
    let signal = match rule.signal {
        SignalFrom::Name(s) => Some(s),
        SignalFrom::Label(label) => match sample.labels.get(label) {
            // A signal this model has no place for (`profiles`): not ours.
            Some(v) => Some(signal_from_label(v)?),
            None => None,
        },
    };
    let component = if rule.id_labels.is_empty() {
        "*".to_string()
    } else {
        rule.id_labels.iter().find_map(|l| sample.labels.get(*l).filter(|v| !v.is_empty()))?.clone()
    };
    Some(Mapped { kind: rule.kind, component, measure: rule.measure, signal, sample: index })
}

/// Sorts every sample of a scrape into recognised series and ignored names.
pub fn normalise(scrape: &Scrape) -> Normalised {
    let mut out = Normalised::default();
    for (i, sample) in scrape.samples.iter().enumerate() {
        match classify(sample, i) {
            Some(m) => out.mapped.push(m),
            None => *out.ignored.entry(sample.name.clone()).or_default() += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::sources::parse::prometheus::parse_text;

    fn load(text: &str) -> (Scrape, Normalised) {
        let scrape = parse_text(text).unwrap();
        let norm = normalise(&scrape);
        (scrape, norm)
    }

    /// `(kind, component, measure, signal, value)` of every mapped sample.
    fn rows(
        scrape: &Scrape,
        norm: &Normalised,
    ) -> Vec<(ComponentKind, String, Measure, Option<Signal>, f64)> {
        norm.mapped
            .iter()
            .map(|m| (m.kind, m.component.clone(), m.measure, m.signal, scrape.samples[m.sample].value))
            .collect()
    }

    #[test]
    fn table_has_no_duplicates_and_is_canonical() {
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(canonical_name(r.name), r.name, "{}", r.name);
            assert!(RULES[i + 1..].iter().all(|o| o.name != r.name), "duplicate {}", r.name);
        }
    }

    #[test]
    fn naming_drift_maps_to_one_row() {
        for name in [
            "otelcol_exporter_sent_spans",
            "otelcol_exporter_sent_spans_total",
            "otelcol_exporter_sent_spans__spans__total",
        ] {
            let r = lookup(name).unwrap();
            assert_eq!((r.kind, r.measure, r.signal), (E, Sent, N(T)), "{name}");
        }
        let r = lookup("otelcol_processor_incoming_items__items__total").unwrap();
        assert_eq!((r.kind, r.measure), (P, Incoming));
        assert!(lookup("otelcol_exporter_dropped_spans").is_none());
        assert!(lookup("otelcol_receiver_accepted_profile_samples_total").is_none());
    }

    #[test]
    fn new_generation_labels_and_items() {
        let text = r#"# TYPE otelcol_processor_incoming_items_total counter
otelcol_processor_incoming_items_total{otel_scope_name="go.opentelemetry.io/collector/processor/processorhelper",otel_scope_version="",otel_signal="traces",processor="batch"} 120
otelcol_processor_outgoing_items_total{otel_scope_name="x",otel_signal="logs",processor="memory_limiter"} 7
otelcol_processor_outgoing_items_total{otel_signal="profiles",processor="batch"} 7
otelcol_receiver_accepted_spans_total{otel_scope_name="x",receiver="otlp",transport="grpc"} 5
"#;
        let (s, n) = load(text);
        assert_eq!(
            rows(&s, &n),
            vec![
                (P, "batch".to_string(), Incoming, Some(T), 120.0),
                (P, "memory_limiter".to_string(), Outgoing, Some(L), 7.0),
                (R, "otlp".to_string(), Accepted, Some(T), 5.0),
            ]
        );
        assert_eq!(n.ignored["otelcol_processor_outgoing_items_total"], 1);
    }

    #[test]
    fn v0_16_without_type_lines() {
        let (s, n) = load(include_str!(
            "../../../tests/fixtures/real/otel/otelcol-v0.16-jaeger-issue2165-excerpt.prom"
        ));
        assert_eq!(
            rows(&s, &n),
            vec![
                (R, "jaeger".to_string(), Accepted, Some(T), 3.0),
                (R, "jaeger".to_string(), Refused, Some(T), 0.0),
                (E, "jaeger".to_string(), SendFailed, Some(T), 10.0),
                (E, "jaeger".to_string(), Sent, Some(T), 3.0),
            ]
        );
        assert!(n.ignored.is_empty());
    }

    #[test]
    fn v0_52_unmerged_exporter_dropped_is_ignored_and_counted() {
        let (_, n) =
            load(include_str!("../../../tests/fixtures/real/otel/otelcol-v0.52-dropped-pr5427-excerpt.prom"));
        assert!(n.mapped.is_empty());
        assert_eq!(n.ignored["otelcol_exporter_dropped_log_records"], 2);
        assert_eq!(n.ignored["otelcol_exporter_dropped_metric_points"], 2);
        assert_eq!(n.ignored.values().sum::<usize>(), 4);
    }

    #[test]
    fn v0_93_contrib_service_labels_ignored() {
        let (s, n) = load(include_str!(
            "../../../tests/fixtures/real/otel/otelcol-contrib-v0.93-dev-filelog-issue31074-excerpt.prom"
        ));
        assert_eq!(
            rows(&s, &n),
            vec![
                (E, "file".to_string(), SendFailed, Some(L), 0.0),
                (E, "file".to_string(), Sent, Some(L), 599_838.0),
            ]
        );
        assert_eq!(n.ignored["otelcol_process_cpu_seconds"], 1);
    }

    #[test]
    fn pre2020_legacy_names_next_to_new_ones() {
        let (s, n) = load(include_str!(
            "../../../tests/fixtures/real/otel/otelcol-pre2020-legacy-names-pr544-excerpt.prom"
        ));
        let r = rows(&s, &n);
        assert_eq!(r.len(), 8);
        assert!(r.contains(&(R, "jaeger-collector".to_string(), Dropped, Some(T), 0.0)));
        assert!(r.contains(&(R, "zipkinV2".to_string(), Accepted, Some(T), 763.0)));
        assert!(r.contains(&(R, "jaeger".to_string(), Accepted, Some(T), 709.0)));
        assert!(r.contains(&(R, "zipkin".to_string(), Refused, Some(T), 0.0)));
        assert!(n.ignored.is_empty());
    }

    #[test]
    fn scope_labels_dump_queue_gauges_by_data_type() {
        let (s, n) = load(include_str!(
            "../../../tests/fixtures/real/otel/otelcol-scope-labels-alpha-trustify-pr1757-excerpt.prom"
        ));
        assert_eq!(
            rows(&s, &n),
            vec![
                (E, "otlphttp/prometheus".to_string(), QueueCapacity, Some(M), 1000.0),
                (E, "otlp".to_string(), QueueCapacity, Some(T), 1000.0),
                (E, "otlphttp/prometheus".to_string(), QueueSize, Some(M), 0.0),
            ]
        );
        assert_eq!(n.ignored["otel_scope_info"], 3);
    }

    #[test]
    fn grafana_agent_remote_storage() {
        let (s, n) = load(include_str!(
            "../../../tests/fixtures/real/prometheus/grafana-agent-remote-storage-issue3885-excerpt.prom"
        ));
        assert_eq!(
            rows(&s, &n),
            vec![
                (W, "0928ab-4a5a87".to_string(), Retried, Some(M), 0.0),
                (W, "0928ab-4a5a87".to_string(), Sent, Some(M), 0.0),
            ]
        );
        assert_eq!(n.ignored["prometheus_remote_storage_max_samples_per_send"], 1);
    }

    #[test]
    fn fluentbit_inputs_and_outputs() {
        let (s, n) = load(include_str!(
            "../../../tests/fixtures/real/fluentbit/fluentbit-v1.9.1-api-v1-datadog-fixture.txt"
        ));
        let r = rows(&s, &n);
        assert!(r.contains(&(R, "dummy.0".to_string(), Accepted, Some(L), 34.0)));
        assert!(r.contains(&(R, "dummy.1".to_string(), Accepted, Some(L), 134.0)));
        assert!(r.contains(&(E, "stdout.0".to_string(), Sent, Some(L), 64.0)));
        assert!(r.contains(&(E, "stdout.0".to_string(), SendFailed, Some(L), 0.0)));
        assert_eq!(r.iter().filter(|x| x.2 == Dropped).count(), 2);
        assert_eq!(r.iter().filter(|x| x.2 == Retried).count(), 2);
        assert_eq!(r.len(), 8);
        // bytes, filters, uptime, process start, build info.
        assert_eq!(n.ignored.values().sum::<usize>(), 8);
    }

    #[test]
    fn remote_write_old_names_and_queue_label() {
        let text = "prometheus_remote_storage_succeeded_samples_total{queue=\"0:http://x/api/v1/write\"} 10\n\
prometheus_remote_storage_failed_samples_total{queue=\"0:http://x/api/v1/write\"} 1\n";
        let (s, n) = load(text);
        assert_eq!(
            rows(&s, &n),
            vec![
                (W, "0:http://x/api/v1/write".to_string(), Sent, Some(M), 10.0),
                (W, "0:http://x/api/v1/write".to_string(), SendFailed, Some(M), 1.0),
            ]
        );
    }

    #[test]
    fn remote_write_prometheus_names() {
        let text = "prometheus_remote_storage_highest_timestamp_in_seconds 1.7e9\n\
prometheus_remote_storage_queue_highest_sent_timestamp_seconds{remote_name=\"a\",url=\"http://x\"} 1.6999996e9\n\
prometheus_remote_storage_samples_pending{remote_name=\"\",url=\"http://y\"} 50000\n";
        let (s, n) = load(text);
        assert_eq!(
            rows(&s, &n),
            vec![
                (W, "*".to_string(), HighestTimestamp, Some(M), 1.7e9),
                (W, "a".to_string(), HighestSentTimestamp, Some(M), 1.6999996e9),
                (W, "http://y".to_string(), QueueSize, Some(M), 50_000.0),
            ]
        );
    }
}
