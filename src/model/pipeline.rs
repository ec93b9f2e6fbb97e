//! Telemetry pipeline components (OpenTelemetry Collector, Prometheus, Fluent Bit) and their health.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a component's verdict turns: `[pipelines.thresholds]` in `config.toml`.
///
/// The defaults are the strict ones: any loss is losing, any send failure degraded, a queue
/// 80 % full degraded, and a component silent only when nothing at all flows. Fleets whose
/// exporters shed a trickle by design raise them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineThresholds {
    /// Exporter queue fill (0..=1) from which a component is degraded.
    pub queue_fill: f64,
    /// Send failures per second above which a component is degraded.
    pub send_failed_per_s: f64,
    /// Items lost per second (refused plus enqueue-failed) above which it is losing.
    pub dropped_per_s: f64,
    /// Flow per second (accepted, and sent) at or below which it is silent.
    pub silent_per_s: f64,
}

impl Default for PipelineThresholds {
    fn default() -> Self {
        Self { queue_fill: 0.8, send_failed_per_s: 0.0, dropped_per_s: 0.0, silent_per_s: 0.0 }
    }
}

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

/// What may be said of a component now: its verdict, or "unknown" when fleettop cannot see
/// its cluster's pipelines (the cluster is unreachable or refused us, or the pipelines source
/// is stale, failing or refused), with the last-known verdict kept as last-known. Ordered
/// worst first, an unknown before every known verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PipelineVerdict {
    /// Not seen since `since`; `was` is the verdict on the rates last seen.
    Unknown {
        /// Since when the cluster's pipelines cannot be seen.
        since: Timestamp,
        /// The last-known verdict (from the last rates seen).
        was: PipelineHealth,
    },
    /// The verdict on current rates.
    Known(PipelineHealth),
}

impl PipelineVerdict {
    /// The verdict, when it is current.
    pub fn known(self) -> Option<PipelineHealth> {
        match self {
            PipelineVerdict::Known(h) => Some(h),
            PipelineVerdict::Unknown { .. } => None,
        }
    }

    /// True when the component is known to be losing data now.
    pub fn is_losing(self) -> bool {
        self == PipelineVerdict::Known(PipelineHealth::Losing)
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

    /// Items through it per second: what a receiver accepts, an exporter sends, and for a
    /// processor the larger of what comes in and goes out (never their sum).
    pub fn throughput_per_s(&self) -> f64 {
        self.accepted_per_s.max(self.sent_per_s)
    }

    /// Items lost per second: refused plus those that could not be queued.
    pub fn dropped_per_s(&self) -> f64 {
        self.enqueue_failed_per_s + self.refused_per_s
    }

    /// The verdict under the thresholds of `verdicts`.
    pub fn health(&self, verdicts: &super::Verdicts) -> PipelineHealth {
        self.health_under(&verdicts.pipelines)
    }

    /// The verdict the screen may state, given what is known of the component's cluster
    /// (`None`: no status, taken as seen): [`PipelineVerdict::Unknown`] when
    /// [`ClusterStatus::pipelines_unseen_since`](super::ClusterStatus::pipelines_unseen_since)
    /// says the rates are not current (since the moment it names, else since this component
    /// was last scraped), with [`Self::health`] kept as the last-known verdict.
    pub fn verdict(
        &self,
        verdicts: &super::Verdicts,
        cluster: Option<&super::ClusterStatus>,
    ) -> PipelineVerdict {
        let was = self.health(verdicts);
        match cluster.and_then(|c| c.pipelines_unseen_since()) {
            Some(since) => PipelineVerdict::Unknown { since: since.unwrap_or(self.scraped_at), was },
            None => PipelineVerdict::Known(was),
        }
    }

    /// The verdict from the rates and the queue under `t`: a failed scrape, then loss, then
    /// send failures or a filling queue, then no flow.
    pub fn health_under(&self, t: &PipelineThresholds) -> PipelineHealth {
        if self.scrape_error.is_some() {
            PipelineHealth::ScrapeFailed
        } else if self.dropped_per_s() > t.dropped_per_s {
            PipelineHealth::Losing
        } else if self.send_failed_per_s > t.send_failed_per_s || self.queue_filling(t) {
            PipelineHealth::Degraded
        } else if self.accepted_per_s <= t.silent_per_s && self.sent_per_s <= t.silent_per_s {
            PipelineHealth::Silent
        } else {
            PipelineHealth::Healthy
        }
    }

    /// True when the exporter queue is at least `t.queue_fill` full.
    pub fn queue_filling(&self, t: &PipelineThresholds) -> bool {
        self.queue_fill().is_some_and(|f| f >= t.queue_fill)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exporter(sent: f64, failed: f64, lost: f64, queue: Option<(u64, u64)>) -> PipelineComponent {
        let mut p = PipelineComponent::unmeasured(
            "otel/gw".into(),
            ComponentKind::Exporter,
            "otlp".into(),
            Signal::Traces,
            Timestamp::UNIX_EPOCH,
        );
        (p.sent_per_s, p.send_failed_per_s, p.enqueue_failed_per_s) = (sent, failed, lost);
        (p.queue_size, p.queue_capacity) = (queue.map(|q| q.0), queue.map(|q| q.1));
        p
    }

    #[test]
    fn the_default_thresholds_flag_any_loss_failure_full_queue_or_silence() {
        let t = PipelineThresholds::default();
        assert_eq!(exporter(100.0, 0.0, 0.1, None).health_under(&t), PipelineHealth::Losing);
        assert_eq!(exporter(100.0, 0.1, 0.0, None).health_under(&t), PipelineHealth::Degraded);
        assert_eq!(exporter(100.0, 0.0, 0.0, Some((800, 1000))).health_under(&t), PipelineHealth::Degraded);
        assert_eq!(exporter(100.0, 0.0, 0.0, Some((799, 1000))).health_under(&t), PipelineHealth::Healthy);
        assert_eq!(exporter(0.0, 0.0, 0.0, None).health_under(&t), PipelineHealth::Silent);
    }

    #[test]
    fn raised_thresholds_tolerate_a_trickle_and_lowered_ones_catch_a_queue_earlier() {
        let t = PipelineThresholds {
            queue_fill: 0.5,
            send_failed_per_s: 1.0,
            dropped_per_s: 2.0,
            silent_per_s: 0.5,
        };
        // 1.5/s lost is under 2/s; 0.5/s failed is under 1/s: healthy.
        assert_eq!(exporter(100.0, 0.5, 1.5, None).health_under(&t), PipelineHealth::Healthy);
        assert_eq!(exporter(100.0, 0.0, 2.5, None).health_under(&t), PipelineHealth::Losing);
        assert_eq!(exporter(100.0, 0.0, 0.0, Some((500, 1000))).health_under(&t), PipelineHealth::Degraded);
        // 0.4/s sent is "nothing" under a 0.5/s floor.
        assert_eq!(exporter(0.4, 0.0, 0.0, None).health_under(&t), PipelineHealth::Silent);
        // A failed scrape is unknown whatever the thresholds.
        let mut p = exporter(100.0, 0.0, 0.0, None);
        p.scrape_error = Some("403".into());
        assert_eq!(p.health_under(&t), PipelineHealth::ScrapeFailed);
    }
}
