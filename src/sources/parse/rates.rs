//! Two scrapes of one workload's self-metrics → [`PipelineComponent`]s with per-second rates.
//!
//! Counters become rates between the two scrapes, per series (canonical name + labels, so a
//! series matches across the `_total` / doubled-unit drift),
//! then summed per component and signal (a receiver's `transport`s, a remote-write queue's
//! samples and histograms). A counter that went down was reset (restart): its rate is the new
//! value over the interval, never negative. A series absent from the previous scrape counts from
//! 0 (collector counters appear on their first increment, so the first enqueue failure must show).
//! Gauges are taken as they are. With no previous scrape every rate is 0 and the components are
//! still listed. Output is ordered by kind, component and signal.
//!
//! Folding into [`PipelineComponent`]: `Incoming` → accepted and `Outgoing` → sent (processors);
//! `Dropped` → refused for receivers and processors, → enqueue-failed for exporters and remote
//! write (both read as data loss by [`PipelineComponent::health`]); `Retried` is not shown.
//! Remote-write queue size is `samples_pending`, capacity `shard_capacity × shards`.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::otelcol::{Measure, canonical_name, normalise};
use super::prometheus::Scrape;
use crate::model::{ComponentKind, PipelineComponent, Signal};

#[derive(Debug, Default, Clone)]
struct Acc {
    accepted: f64,
    refused: f64,
    sent: f64,
    send_failed: f64,
    enqueue_failed: f64,
    queue_size: Option<f64>,
    queue_capacity: Option<f64>,
    shards: Option<f64>,
    shard_capacity: Option<f64>,
}

fn add(slot: &mut Option<f64>, v: f64) {
    if v.is_finite() {
        *slot = Some(slot.unwrap_or(0.0) + v);
    }
}

fn gauge_u64(v: Option<f64>) -> Option<u64> {
    // `as` saturates; negatives are clamped to 0 first.
    v.filter(|x| x.is_finite()).map(|x| x.max(0.0).round() as u64)
}

/// Per-second rate of a counter between two readings `dt_s` seconds apart.
///
/// `prev` is `None` when the series is new since the previous scrape (counted from 0). A value
/// lower than before is a reset: the rate is `cur / dt`. Non-finite values and `dt_s <= 0` give 0.
pub fn counter_rate(prev: Option<f64>, cur: f64, dt_s: f64) -> f64 {
    if dt_s.is_nan() || dt_s <= 0.0 || !cur.is_finite() {
        return 0.0;
    }
    let prev = prev.filter(|p| p.is_finite()).unwrap_or(0.0);
    let delta = if cur >= prev { cur - prev } else { cur };
    (delta / dt_s).max(0.0)
}

type Key = (ComponentKind, String, Option<Signal>);

/// Previous counter values by (canonical name, labels), and the seconds since that scrape.
type Previous<'a> = (BTreeMap<(&'a str, &'a BTreeMap<String, String>), f64>, f64);

/// Builds the pipeline components of `workload` from the current scrape taken at `cur_at` and,
/// when there is one, the previous scrape with the time it was taken.
pub fn components(
    prev: Option<(&Scrape, Timestamp)>,
    cur: &Scrape,
    cur_at: Timestamp,
    workload: &str,
) -> Vec<PipelineComponent> {
    let prev_values: Option<Previous<'_>> = prev.map(|(p, at)| {
        let map = p.samples.iter().map(|s| ((canonical_name(&s.name), &s.labels), s.value)).collect();
        (map, cur_at.duration_since(at).as_secs_f64())
    });

    let norm = normalise(cur);
    let mut accs: BTreeMap<Key, Acc> = BTreeMap::new();
    for m in &norm.mapped {
        let Some(sample) = cur.samples.get(m.sample) else { continue };
        let acc = accs.entry((m.kind, m.component.clone(), m.signal)).or_default();
        let v = sample.value;
        if m.measure.is_gauge() {
            match m.measure {
                Measure::QueueSize => add(&mut acc.queue_size, v),
                Measure::QueueCapacity => add(&mut acc.queue_capacity, v),
                Measure::Shards => add(&mut acc.shards, v),
                Measure::ShardCapacity => add(&mut acc.shard_capacity, v),
                _ => {}
            }
            continue;
        }
        let rate = match &prev_values {
            Some((map, dt)) => {
                counter_rate(map.get(&(canonical_name(&sample.name), &sample.labels)).copied(), v, *dt)
            }
            None => 0.0,
        };
        let loss_to_refused = matches!(m.kind, ComponentKind::Receiver | ComponentKind::Processor);
        match m.measure {
            Measure::Accepted | Measure::Incoming => acc.accepted += rate,
            Measure::Refused => acc.refused += rate,
            Measure::Dropped if loss_to_refused => acc.refused += rate,
            Measure::Dropped => acc.enqueue_failed += rate,
            Measure::Sent | Measure::Outgoing => acc.sent += rate,
            Measure::SendFailed => acc.send_failed += rate,
            Measure::EnqueueFailed => acc.enqueue_failed += rate,
            _ => {}
        }
    }

    // Series without a signal (queue gauges before `data_type`) apply to every signal the
    // component reports; with none, they are dropped (nothing to attach them to).
    let mut resolved: BTreeMap<(ComponentKind, String, Signal), Acc> = BTreeMap::new();
    let mut unsignalled: Vec<(ComponentKind, String, Acc)> = Vec::new();
    for ((kind, name, signal), acc) in accs {
        match signal {
            Some(s) => {
                let slot = resolved.entry((kind, name, s)).or_default();
                merge(slot, &acc);
            }
            None => unsignalled.push((kind, name, acc)),
        }
    }
    for (kind, name, acc) in unsignalled {
        for ((k, n, _), slot) in resolved.iter_mut() {
            if *k == kind && *n == name {
                merge(slot, &acc);
            }
        }
    }

    resolved
        .into_iter()
        // `*` rows are process-wide remote-write gauges (highest timestamp), not components.
        .filter(|((_, name, _), _)| name != "*")
        .map(|((kind, name, signal), acc)| {
            let queue_capacity = match (kind, acc.queue_capacity) {
                (ComponentKind::RemoteWrite, None) => match (acc.shard_capacity, acc.shards) {
                    (Some(c), Some(s)) => Some(c * s),
                    _ => None,
                },
                (_, c) => c,
            };
            PipelineComponent {
                workload: workload.to_string(),
                kind,
                name,
                signal,
                accepted_per_s: acc.accepted,
                refused_per_s: acc.refused,
                sent_per_s: acc.sent,
                send_failed_per_s: acc.send_failed,
                enqueue_failed_per_s: acc.enqueue_failed,
                queue_size: gauge_u64(acc.queue_size),
                queue_capacity: gauge_u64(queue_capacity),
                scraped_at: cur_at,
                scrape_error: None,
            }
        })
        .collect()
}

fn merge(into: &mut Acc, from: &Acc) {
    into.accepted += from.accepted;
    into.refused += from.refused;
    into.sent += from.sent;
    into.send_failed += from.send_failed;
    into.enqueue_failed += from.enqueue_failed;
    for (slot, v) in [
        (&mut into.queue_size, from.queue_size),
        (&mut into.queue_capacity, from.queue_capacity),
        (&mut into.shards, from.shards),
        (&mut into.shard_capacity, from.shard_capacity),
    ] {
        if let Some(v) = v {
            add(slot, v);
        }
    }
}

/// Remote-write lag per queue, in seconds: the newest sample ingested
/// (`prometheus_remote_storage_highest_timestamp_in_seconds`, process-wide) minus the newest sent
/// by that queue (`…_queue_highest_sent_timestamp_seconds`). Ordered by queue name; empty when
/// either side is missing.
pub fn remote_write_lag_s(scrape: &Scrape) -> Vec<(String, f64)> {
    let norm = normalise(scrape);
    let value = |i: usize| scrape.samples.get(i).map(|s| s.value).filter(|v| v.is_finite());
    let Some(highest) = norm
        .mapped
        .iter()
        .filter(|m| m.measure == Measure::HighestTimestamp)
        .filter_map(|m| value(m.sample))
        .reduce(f64::max)
    else {
        return Vec::new();
    };
    let mut sent: BTreeMap<String, f64> = BTreeMap::new();
    for m in norm.mapped.iter().filter(|m| m.measure == Measure::HighestSentTimestamp) {
        if let Some(v) = value(m.sample) {
            let e = sent.entry(m.component.clone()).or_insert(v);
            *e = e.max(v);
        }
    }
    sent.into_iter().map(|(name, s)| (name, (highest - s).max(0.0))).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::model::PipelineHealth;
    use crate::sources::parse::prometheus::parse_text;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    #[test]
    fn counter_rate_handles_resets_and_edges() {
        assert_eq!(counter_rate(Some(100.0), 160.0, 30.0), 2.0);
        // Reset: went from 1000 to 30 in 15 s → 30 / 15.
        assert_eq!(counter_rate(Some(1000.0), 30.0, 15.0), 2.0);
        assert_eq!(counter_rate(None, 30.0, 15.0), 2.0);
        assert_eq!(counter_rate(Some(5.0), 10.0, 0.0), 0.0);
        assert_eq!(counter_rate(Some(5.0), 10.0, -3.0), 0.0);
        assert_eq!(counter_rate(Some(5.0), f64::NAN, 10.0), 0.0);
        assert_eq!(counter_rate(Some(f64::NAN), 10.0, 10.0), 1.0);
        assert_eq!(counter_rate(Some(5.0), f64::INFINITY, 10.0), 0.0);
    }

    const PREV: &str = r#"# TYPE otelcol_receiver_accepted_spans_total counter
otelcol_receiver_accepted_spans_total{otel_scope_name="x",receiver="otlp",transport="grpc"} 1000
otelcol_receiver_accepted_spans_total{otel_scope_name="x",receiver="otlp",transport="http"} 500
otelcol_receiver_refused_spans_total{otel_scope_name="x",receiver="otlp",transport="grpc"} 0
otelcol_processor_incoming_items_total{otel_signal="traces",processor="batch"} 1500
otelcol_processor_outgoing_items_total{otel_signal="traces",processor="batch"} 1500
otelcol_exporter_sent_spans_total{exporter="otlp/tempo"} 5000
otelcol_exporter_send_failed_spans_total{exporter="otlp/tempo"} 0
otelcol_exporter_queue_size{data_type="traces",exporter="otlp/tempo"} 100
otelcol_exporter_queue_capacity{data_type="traces",exporter="otlp/tempo"} 1000
otelcol_exporter_sent_log_records{exporter="loki"} 300
otelcol_exporter_queue_size{exporter="loki"} 10
otelcol_exporter_queue_capacity{exporter="loki"} 100
"#;

    // 30 s later: grpc +600, http reset to 300 (counts 300), batch +900/+900, tempo +300 sent,
    // +60 send-failed, a new enqueue_failed series (+90), queue 850/1000; loki +0 sent, queue 85/100.
    const CUR: &str = r#"# TYPE otelcol_receiver_accepted_spans_total counter
otelcol_receiver_accepted_spans_total{otel_scope_name="x",receiver="otlp",transport="grpc"} 1600
otelcol_receiver_accepted_spans_total{otel_scope_name="x",receiver="otlp",transport="http"} 300
otelcol_receiver_refused_spans_total{otel_scope_name="x",receiver="otlp",transport="grpc"} 0
otelcol_processor_incoming_items_total{otel_signal="traces",processor="batch"} 2400
otelcol_processor_outgoing_items_total{otel_signal="traces",processor="batch"} 2400
otelcol_exporter_sent_spans__spans__total{exporter="otlp/tempo"} 5300
otelcol_exporter_send_failed_spans_total{exporter="otlp/tempo"} 60
otelcol_exporter_enqueue_failed_spans_total{exporter="otlp/tempo"} 90
otelcol_exporter_queue_size{data_type="traces",exporter="otlp/tempo"} 850
otelcol_exporter_queue_capacity{data_type="traces",exporter="otlp/tempo"} 1000
otelcol_exporter_sent_log_records{exporter="loki"} 300
otelcol_exporter_queue_size{exporter="loki"} 85
otelcol_exporter_queue_capacity{exporter="loki"} 100
otelcol_process_uptime_total 99
"#;

    #[test]
    fn hand_checked_two_scrapes() {
        let prev = parse_text(PREV).unwrap();
        let cur = parse_text(CUR).unwrap();
        let got = components(Some((&prev, ts(0))), &cur, ts(30), "otel/gateway");
        let keys: Vec<String> = got.iter().map(|c| c.key()).collect();
        assert_eq!(
            keys,
            [
                "otel/gateway/receiver/otlp/traces",
                "otel/gateway/processor/batch/traces",
                "otel/gateway/exporter/loki/logs",
                "otel/gateway/exporter/otlp/tempo/traces",
            ]
        );
        let recv = &got[0];
        // grpc 600/30 = 20, http reset 300/30 = 10.
        assert_eq!(recv.accepted_per_s, 30.0);
        assert_eq!(recv.refused_per_s, 0.0);
        assert_eq!(recv.health(&crate::model::Verdicts::default()), PipelineHealth::Healthy);
        let batch = &got[1];
        assert_eq!((batch.accepted_per_s, batch.sent_per_s), (30.0, 30.0));
        assert_eq!(batch.health(&crate::model::Verdicts::default()), PipelineHealth::Healthy);
        let loki = &got[2];
        assert_eq!(loki.sent_per_s, 0.0);
        assert_eq!((loki.queue_size, loki.queue_capacity), (Some(85), Some(100)));
        assert_eq!(loki.health(&crate::model::Verdicts::default()), PipelineHealth::Degraded);
        let tempo = &got[3];
        assert_eq!(tempo.sent_per_s, 10.0);
        assert_eq!(tempo.send_failed_per_s, 2.0);
        assert_eq!(tempo.enqueue_failed_per_s, 3.0);
        assert_eq!((tempo.queue_size, tempo.queue_capacity), (Some(850), Some(1000)));
        assert_eq!(tempo.scraped_at, ts(30));
        assert_eq!(tempo.health(&crate::model::Verdicts::default()), PipelineHealth::Losing);

        // Without the enqueue failures the same exporter is Degraded (queue at 85 %).
        let text2 = CUR
            .replace("otelcol_exporter_enqueue_failed_spans_total{exporter=\"otlp/tempo\"} 90\n", "")
            .replace(
                "otelcol_exporter_send_failed_spans_total{exporter=\"otlp/tempo\"} 60",
                "otelcol_exporter_send_failed_spans_total{exporter=\"otlp/tempo\"} 0",
            );
        let cur2 = parse_text(&text2).unwrap();
        let got2 = components(Some((&prev, ts(0))), &cur2, ts(30), "otel/gateway");
        let tempo2 = got2.iter().find(|c| c.name == "otlp/tempo").unwrap();
        assert_eq!(tempo2.enqueue_failed_per_s, 0.0);
        assert_eq!(tempo2.health(&crate::model::Verdicts::default()), PipelineHealth::Degraded);
    }

    #[test]
    fn first_scrape_lists_components_with_zero_rates() {
        let cur = parse_text(CUR).unwrap();
        let got = components(None, &cur, ts(0), "w");
        assert_eq!(got.len(), 4);
        assert!(
            got.iter()
                .all(|c| c.accepted_per_s == 0.0 && c.sent_per_s == 0.0 && c.enqueue_failed_per_s == 0.0)
        );
        let tempo = got.iter().find(|c| c.name == "otlp/tempo").unwrap();
        assert_eq!(tempo.queue_size, Some(850));
        assert_eq!(tempo.health(&crate::model::Verdicts::default()), PipelineHealth::Degraded);
        assert_eq!(got[0].health(&crate::model::Verdicts::default()), PipelineHealth::Silent);
    }

    #[test]
    fn every_fixture_gives_deterministic_components() {
        for text in [
            include_str!("../../../tests/fixtures/real/otel/otelcol-v0.16-jaeger-issue2165-excerpt.prom"),
            include_str!("../../../tests/fixtures/real/otel/otelcol-pre2020-legacy-names-pr544-excerpt.prom"),
            include_str!(
                "../../../tests/fixtures/real/otel/otelcol-scope-labels-alpha-trustify-pr1757-excerpt.prom"
            ),
            include_str!(
                "../../../tests/fixtures/real/fluentbit/fluentbit-v1.9.1-api-v1-datadog-fixture.txt"
            ),
            include_str!(
                "../../../tests/fixtures/real/prometheus/grafana-agent-remote-storage-issue3885-excerpt.prom"
            ),
        ] {
            let s = parse_text(text).unwrap();
            let a = components(Some((&s, ts(0))), &s, ts(15), "w");
            let b = components(Some((&s, ts(0))), &s, ts(15), "w");
            assert_eq!(a, b);
            assert!(!a.is_empty());
            // Same scrape twice: no rate anywhere.
            assert!(a.iter().all(|c| c.accepted_per_s == 0.0 && c.send_failed_per_s == 0.0));
        }
        let fb = parse_text(include_str!(
            "../../../tests/fixtures/real/fluentbit/fluentbit-v1.9.1-api-v1-datadog-fixture.txt"
        ))
        .unwrap();
        let keys: Vec<String> =
            components(None, &fb, ts(0), "logging/fluent-bit").iter().map(|c| c.key()).collect();
        assert_eq!(
            keys,
            [
                "logging/fluent-bit/receiver/dummy.0/logs",
                "logging/fluent-bit/receiver/dummy.1/logs",
                "logging/fluent-bit/exporter/stdout.0/logs",
            ]
        );
    }

    #[test]
    fn remote_write_queue_capacity_and_lag() {
        let prev = parse_text(
            "prometheus_remote_storage_samples_total{remote_name=\"a\",url=\"u\"} 1000\n\
prometheus_remote_storage_samples_dropped_total{remote_name=\"a\",url=\"u\"} 0\n",
        )
        .unwrap();
        let cur = parse_text(
            "prometheus_remote_storage_samples_total{remote_name=\"a\",url=\"u\"} 4000\n\
prometheus_remote_storage_samples_dropped_total{remote_name=\"a\",url=\"u\"} 30\n\
prometheus_remote_storage_samples_pending{remote_name=\"a\",url=\"u\"} 50000\n\
prometheus_remote_storage_shard_capacity{remote_name=\"a\",url=\"u\"} 2500\n\
prometheus_remote_storage_shards{remote_name=\"a\",url=\"u\"} 20\n\
prometheus_remote_storage_highest_timestamp_in_seconds 1700000400\n\
prometheus_remote_storage_queue_highest_sent_timestamp_seconds{remote_name=\"a\",url=\"u\"} 1700000000\n",
        )
        .unwrap();
        let got = components(Some((&prev, ts(0))), &cur, ts(15), "monitoring/prometheus-k8s-0");
        assert_eq!(got.len(), 1);
        let rw = &got[0];
        assert_eq!(rw.key(), "monitoring/prometheus-k8s-0/remote-write/a/metrics");
        assert_eq!(rw.sent_per_s, 200.0);
        assert_eq!(rw.enqueue_failed_per_s, 2.0);
        assert_eq!((rw.queue_size, rw.queue_capacity), (Some(50_000), Some(50_000)));
        assert_eq!(rw.health(&crate::model::Verdicts::default()), PipelineHealth::Losing);
        assert_eq!(remote_write_lag_s(&cur), vec![("a".to_string(), 400.0)]);
    }

    /// A metric line of the collector, remote-write or Fluent Bit families with hostile labels
    /// and values (NaN, infinities, negatives, huge numbers).
    fn metric_line() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let known = prop_oneof![
            Just("otelcol_receiver_accepted_spans"),
            Just("otelcol_receiver_refused_metric_points_total"),
            Just("otelcol_exporter_sent_log_records"),
            Just("otelcol_exporter_send_failed_spans_total"),
            Just("otelcol_exporter_enqueue_failed_spans"),
            Just("otelcol_exporter_queue_size"),
            Just("otelcol_exporter_queue_capacity"),
            Just("otelcol_processor_dropped_spans"),
            Just("prometheus_remote_storage_samples_total"),
            Just("prometheus_remote_storage_samples_pending"),
            Just("prometheus_remote_storage_shards"),
            Just("prometheus_remote_storage_highest_timestamp_in_seconds"),
            Just("prometheus_remote_storage_queue_highest_sent_timestamp_seconds"),
            Just("fluentbit_input_records_total"),
            Just("fluentbit_output_proc_records_total"),
            Just("fluentbit_output_retries_failed_total"),
        ];
        let name = prop_oneof![known.prop_map(|n: &str| n.to_string()), "[a-z_]{1,12}"];
        let key = prop_oneof![
            Just("receiver"),
            Just("exporter"),
            Just("processor"),
            Just("name"),
            Just("remote_name"),
            Just("data_type"),
            Just("url")
        ];
        let value = prop_oneof![
            Just("NaN".to_string()),
            Just("+Inf".to_string()),
            Just("-Inf".to_string()),
            Just("1e308".to_string()),
            Just("-5".to_string()),
            any::<f64>().prop_map(|v| v.to_string()),
            (0u64..10_000).prop_map(|v| v.to_string()),
        ];
        (name, proptest::collection::vec((key, "[a-z0-9/ ]{0,6}"), 0..3), value).prop_map(|(n, labels, v)| {
            let labels: Vec<String> = labels.iter().map(|(k, l)| format!("{k}=\"{l}\"")).collect();
            format!("{n}{{{}}} {v}", labels.join(","))
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// No scrape pair panics the rates, whatever the counters, labels or the gap between
        /// scrapes (zero, or the current one older than the previous).
        #[test]
        fn arbitrary_scrapes_never_panic(
            prev in proptest::collection::vec(metric_line(), 0..12),
            cur in proptest::collection::vec(metric_line(), 0..12),
            gap in -5i64..100,
        ) {
            if let (Ok(prev), Ok(cur)) = (parse_text(&prev.join("\n")), parse_text(&cur.join("\n"))) {
                let _ = components(Some((&prev, ts(-gap))), &cur, ts(0), "ns/w");
                let _ = components(None, &cur, ts(0), "ns/w");
                let _ = remote_write_lag_s(&cur);
            }
        }
    }
}
