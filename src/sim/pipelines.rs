//! Telemetry pipelines: an OpenTelemetry Collector gateway per production cluster, an agent in
//! staging, Prometheus remote-write; self-metrics scraped every ~15 s and turned into rates.
//!
//! In `prod-eu-west-1` the `otlphttp/backend` exporter's backend slows from t≈+10m: sends
//! fail, the sending queue fills to its capacity by t≈+16m, then enqueues fail (data loss)
//! until the backend recovers at t≈+23m45s and the backlog drains. In `staging-eu` the agent's
//! metrics endpoint cannot be scraped from t=+5m to t=+12m.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::clusters::{self, DURATION, GPU_TRAIN, PROD_AP, PROD_EU, PROD_US, STAGING_EU};
use super::messages::round1;
use super::timeline::{Ms, Timeline, mins, secs, stream};
use crate::model::{
    Change, ClusterId, ComponentKind, PipelineComponent, Record, RecordKind, Signal, SourceKind, SourceState,
};

/// Sending-queue capacity of the gateway exporters (batches).
pub(crate) const QUEUE_CAPACITY: u64 = 5_000;
/// The backend starts to slow down.
const SLOW_AT: Ms = mins(10);
/// It gets much worse.
const WORSE_AT: Ms = mins(12);
/// It recovers.
const RECOVER_AT: Ms = mins(23) + secs(45);
/// The staging agent's scrape failure window.
const SCRAPE_FAIL: (Ms, Ms) = (mins(5), mins(12));
/// The error the API server proxy returns for the unreachable metrics port.
const SCRAPE_ERROR: &str =
    "error trying to reach service: dial tcp 10.64.3.17:8888: connect: connection refused";

/// One component of one collector for one signal.
struct Comp {
    kind: ComponentKind,
    name: &'static str,
    signal: Signal,
    /// Items per second at the start.
    rate: f64,
    /// Items per exported request (queue unit).
    batch: f64,
    /// This exporter's backend is the one that degrades.
    degrades: bool,
}

struct Collector {
    cluster: &'static str,
    workload: &'static str,
    comps: Vec<Comp>,
}

fn gateway(cluster: &'static str, scale: f64, degrades: bool) -> Collector {
    let c = |kind, name, signal, rate: f64, degrades| Comp {
        kind,
        name,
        signal,
        rate: rate * scale,
        batch: 512.0,
        degrades,
    };
    use ComponentKind::{Exporter, Processor, Receiver};
    use Signal::{Logs, Metrics, Traces};
    Collector {
        cluster,
        workload: "observability/otel-gateway",
        comps: vec![
            c(Receiver, "otlp", Traces, 12_400.0, false),
            c(Receiver, "otlp", Metrics, 46_000.0, false),
            c(Receiver, "otlp", Logs, 8_300.0, false),
            c(Processor, "batch", Traces, 12_400.0, false),
            c(Processor, "batch", Metrics, 46_000.0, false),
            c(Processor, "batch", Logs, 8_300.0, false),
            c(Exporter, "otlphttp/backend", Traces, 12_400.0, degrades),
            c(Exporter, "otlphttp/backend", Logs, 8_300.0, degrades),
            c(Exporter, "prometheusremotewrite", Metrics, 46_000.0, false),
        ],
    }
}

fn collectors() -> Vec<Collector> {
    let mut agent = gateway(STAGING_EU, 0.08, false);
    agent.workload = "observability/otel-agent";
    for c in &mut agent.comps {
        if c.kind == ComponentKind::Exporter {
            c.name = "otlp/gateway";
        }
    }
    let prometheus = |cluster, rate| Collector {
        cluster,
        workload: "monitoring/prometheus-k8s-0",
        comps: vec![Comp {
            kind: ComponentKind::RemoteWrite,
            name: "thanos-receive",
            signal: Signal::Metrics,
            rate,
            batch: 2_000.0,
            degrades: false,
        }],
    };
    vec![
        gateway(PROD_EU, 1.0, true),
        gateway(PROD_US, 1.35, false),
        gateway(PROD_AP, 0.55, false),
        agent,
        prometheus(PROD_US, 182_000.0),
        prometheus(GPU_TRAIN, 96_000.0),
    ]
}

/// Fraction of the incoming rate the degrading backend accepts at `t`.
fn backend_capacity(t: Ms) -> f64 {
    if t < SLOW_AT {
        1.0
    } else if t < WORSE_AT {
        0.7
    } else if t < RECOVER_AT {
        0.25
    } else {
        // Backlog drains at up to 2.5× the incoming rate.
        2.5
    }
}

/// All pipeline scrapes.
pub(crate) fn generate(seed: u64, tl: &mut Timeline) {
    let mut rng = stream(seed, "pipelines");
    for c in collectors() {
        emit(&mut rng, tl, &c);
    }
    let staging = ClusterId::new(STAGING_EU);
    tl.push(
        SCRAPE_FAIL.0 + 1,
        &staging,
        Change::Source {
            source: SourceKind::Pipelines,
            state: SourceState::Error { message: SCRAPE_ERROR.into() },
        },
    );
    tl.push(
        SCRAPE_FAIL.1 + 1,
        &staging,
        Change::Source { source: SourceKind::Pipelines, state: SourceState::Live },
    );
}

fn emit(rng: &mut ChaCha8Rng, tl: &mut Timeline, c: &Collector) {
    let cluster = ClusterId::new(c.cluster);
    let list_at = clusters::list_at(c.cluster, RecordKind::Pipeline);
    let mut queues: Vec<f64> = c.comps.iter().map(|_| rng.random_range(0.0..30.0)).collect();
    let mut last: Vec<Option<PipelineComponent>> = c.comps.iter().map(|_| None).collect();
    let mut t = list_at;
    let mut prev = list_at - secs(15);
    // Traffic: the same noise for every component of a signal in one scrape.
    while t < DURATION && clusters::reachable(c.cluster, t) {
        let dt = (t - prev) as f64 / 1000.0;
        let failing = c.cluster == STAGING_EU && (SCRAPE_FAIL.0..SCRAPE_FAIL.1).contains(&t);
        let noise: [f64; 3] = [(); 3].map(|_| 1.0 + (rng.random::<f64>() - 0.5) * 0.08);
        // prod-eu's logs grow while the denials storm (retries log errors).
        let storm = if c.cluster == PROD_EU && t > mins(8) { 1.35 } else { 1.0 };
        for (i, comp) in c.comps.iter().enumerate() {
            if failing {
                // The scrape failed: keep the last rates, flag the error.
                if let Some(mut p) = last[i].clone() {
                    p.scrape_error = Some(SCRAPE_ERROR.into());
                    p.scraped_at = tl.at(t);
                    tl.upsert(t, &cluster, Record::Pipeline(p));
                }
                continue;
            }
            let sig = match comp.signal {
                Signal::Traces => 0,
                Signal::Metrics => 1,
                Signal::Logs => 2,
            };
            let mut incoming = comp.rate * noise[sig];
            if comp.signal == Signal::Logs {
                incoming *= storm;
            }
            let mut p = PipelineComponent::unmeasured(
                c.workload.into(),
                comp.kind,
                comp.name.into(),
                comp.signal,
                tl.at(t),
            );
            match comp.kind {
                ComponentKind::Receiver => p.accepted_per_s = round1(incoming),
                // The simulator's scrapes never fail.
                ComponentKind::Endpoint => {}
                ComponentKind::Processor => {
                    p.accepted_per_s = round1(incoming);
                    p.sent_per_s = round1(incoming);
                }
                ComponentKind::Exporter | ComponentKind::RemoteWrite => {
                    let cap = if comp.degrades { backend_capacity(t) } else { 1.0 };
                    let q = &mut queues[i];
                    let in_batches = incoming / comp.batch;
                    let out_batches = if cap >= 1.0 {
                        // Healthy: drain whatever is queued, up to the backend's headroom.
                        (in_batches + *q / dt).min(in_batches * cap)
                    } else {
                        in_batches * cap
                    };
                    let mut next = *q + (in_batches - out_batches) * dt;
                    let mut dropped = 0.0;
                    let capacity = QUEUE_CAPACITY as f64;
                    if next > capacity {
                        dropped = (next - capacity) / dt * comp.batch;
                        next = capacity;
                    }
                    if !comp.degrades || cap >= 1.0 && next < 50.0 {
                        // Steady state: a few batches in flight.
                        next = rng.random_range(0.0..40.0);
                    }
                    *q = next;
                    p.sent_per_s = round1(out_batches * comp.batch);
                    p.send_failed_per_s = if cap < 1.0 { round1(incoming * (1.0 - cap) * 0.6) } else { 0.0 };
                    p.enqueue_failed_per_s = round1(dropped);
                    p.queue_size = Some(next.round() as u64);
                    p.queue_capacity =
                        Some(if comp.kind == ComponentKind::RemoteWrite { 50_000 } else { QUEUE_CAPACITY });
                }
            }
            last[i] = Some(p.clone());
            tl.upsert(t, &cluster, Record::Pipeline(p));
        }
        prev = t;
        t += secs(15) + rng.random_range(-300..300);
    }
}
