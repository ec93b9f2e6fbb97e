//! Telemetry pipeline components (OpenTelemetry Collector, Prometheus, Fluent Bit) and their health.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A telemetry signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Traces (spans).
    Traces,
    /// Metrics (points).
    Metrics,
    /// Logs (records).
    Logs,
}

impl Signal {
    /// Short name for tables.
    pub fn label(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
}

/// The role of a component in a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// Takes data in.
    Receiver,
    /// Transforms or batches.
    Processor,
    /// Sends data out.
    Exporter,
    /// Prometheus remote-write queue.
    RemoteWrite,
    /// The self-metrics endpoint itself: stands for a workload whose scrape failed before any
    /// of its components was known.
    Endpoint,
}

impl ComponentKind {
    /// Short name for tables.
    pub fn label(self) -> &'static str {
        match self {
            ComponentKind::Receiver => "receiver",
            ComponentKind::Processor => "processor",
            ComponentKind::Exporter => "exporter",
            ComponentKind::RemoteWrite => "remote-write",
            ComponentKind::Endpoint => "endpoint",
        }
    }
}

/// The verdict on one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineHealth {
    /// Data is being dropped (enqueue failures, refusals): signals are lost.
    Losing,
    /// The scrape of its self-metrics failed: we cannot tell.
    ScrapeFailed,
    /// Nothing flowed in the last interval.
    Silent,
    /// Send failures or a queue above 80 %: at risk.
    Degraded,
    /// Flowing.
    Healthy,
}

impl PipelineHealth {
    /// The word shown in the table.
    pub fn label(self) -> &'static str {
        match self {
            PipelineHealth::Losing => "LOSING DATA",
            PipelineHealth::ScrapeFailed => "scrape failed",
            PipelineHealth::Silent => "silent",
            PipelineHealth::Degraded => "degraded",
            PipelineHealth::Healthy => "ok",
        }
    }
}

/// Rates (per second) and queue of one pipeline component for one signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineComponent {
    /// The collector or server (`otel/gateway`, `monitoring/prometheus-k8s-0`).
    pub workload: String,
    /// Component kind.
    pub kind: ComponentKind,
    /// Component id (`otlp`, `otlphttp/backend`, `batch`).
    pub name: String,
    /// Signal.
    pub signal: Signal,
    /// Items accepted per second (receivers, processors).
    pub accepted_per_s: f64,
    /// Items refused per second.
    pub refused_per_s: f64,
    /// Items sent per second (exporters).
    pub sent_per_s: f64,
    /// Items that failed to send per second.
    pub send_failed_per_s: f64,
    /// Items that could not be queued per second: data loss.
    pub enqueue_failed_per_s: f64,
    /// Exporter queue size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_size: Option<u64>,
    /// Exporter queue capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_capacity: Option<u64>,
    /// When these rates were computed.
    pub scraped_at: Timestamp,
    /// The last scrape error, if the scrape failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_error: Option<String>,
}

impl PipelineComponent {
    /// A component with nothing measured yet: every rate zero, no queue, no scrape error.
    /// Callers fill in what they know.
    pub fn unmeasured(
        workload: String,
        kind: ComponentKind,
        name: String,
        signal: Signal,
        scraped_at: Timestamp,
    ) -> Self {
        Self {
            workload,
            kind,
            name,
            signal,
            accepted_per_s: 0.0,
            refused_per_s: 0.0,
            sent_per_s: 0.0,
            send_failed_per_s: 0.0,
            enqueue_failed_per_s: 0.0,
            queue_size: None,
            queue_capacity: None,
            scraped_at,
            scrape_error: None,
        }
    }

    /// The record key within its cluster.
    pub fn key(&self) -> String {
        format!("{}/{}/{}/{}", self.workload, self.kind.label(), self.name, self.signal.label())
    }

    /// Queue fill in 0..=1, when both size and capacity are known.
    pub fn queue_fill(&self) -> Option<f64> {
        match (self.queue_size, self.queue_capacity) {
            (Some(s), Some(c)) if c > 0 => Some((s as f64 / c as f64).min(1.0)),
            _ => None,
        }
    }

    /// The verdict, from the rates and the queue.
    pub fn health(&self) -> PipelineHealth {
        if self.scrape_error.is_some() {
            PipelineHealth::ScrapeFailed
        } else if self.enqueue_failed_per_s > 0.0 || self.refused_per_s > 0.0 {
            PipelineHealth::Losing
        } else if self.send_failed_per_s > 0.0 || self.queue_fill().is_some_and(|f| f >= 0.8) {
            PipelineHealth::Degraded
        } else if self.accepted_per_s == 0.0 && self.sent_per_s == 0.0 {
            PipelineHealth::Silent
        } else {
            PipelineHealth::Healthy
        }
    }
}
