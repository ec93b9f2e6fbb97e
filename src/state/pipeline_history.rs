//! The recent rates of each pipeline component: one sample per scrape (its `scraped_at`),
//! for the Pipelines pane's sparklines and the raw series behind a verdict. Derived from the
//! pipeline table by the reducer, never recorded.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::RecordId;
use super::minutes::{bin, minute, push_recent};
use crate::model::PipelineComponent;

/// How far back samples are kept.
pub const HISTORY: SignedDuration = SignedDuration::from_mins(15);

/// One scrape's rates of a component.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSample {
    /// When the rates were computed.
    pub at: Timestamp,
    /// Items through it per second ([`PipelineComponent::throughput_per_s`]).
    pub flow: f64,
    /// Items lost per second: refused plus enqueue failures.
    pub lost: f64,
    /// Items in failed sends per second.
    pub failed: f64,
}

impl RateSample {
    fn of(p: &PipelineComponent) -> Self {
        RateSample {
            at: p.scraped_at,
            flow: p.throughput_per_s(),
            lost: p.dropped_per_s(),
            failed: p.send_failed_per_s,
        }
    }
}

/// Samples per component, oldest first, the last [`HISTORY`] of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineHistory {
    series: BTreeMap<RecordId, Vec<RateSample>>,
}

impl PipelineHistory {
    /// The samples of one component, oldest first.
    pub fn samples(&self, id: &RecordId) -> &[RateSample] {
        self.series.get(id).map_or(&[], Vec::as_slice)
    }

    /// A new state of a component: a new sample when it carries a new scrape time (a failed
    /// scrape re-sends the last rates with the same time, which adds nothing).
    pub(super) fn on_upsert(&mut self, id: &RecordId, p: &PipelineComponent) {
        let series = self.series.entry(id.clone()).or_default();
        push_recent(series, RateSample::of(p), p.scraped_at, |s| s.at, HISTORY);
    }

    /// The component is gone.
    pub(super) fn on_remove(&mut self, id: &RecordId) {
        self.series.remove(id);
    }

    /// `bins` one-minute values up to `now`'s minute, oldest first: the largest `value` of the
    /// samples in each minute (0 where there is none).
    pub fn per_minute(
        &self,
        id: &RecordId,
        now: Timestamp,
        bins: usize,
        value: impl Fn(&RateSample) -> f64,
    ) -> Vec<f64> {
        let mut out = vec![0.0_f64; bins];
        for s in self.samples(id) {
            if let Some(i) = bin(minute(s.at), now, bins) {
                out[i] = f64::max(out[i], value(s));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{ClusterId, ComponentKind, Signal};

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn comp(t: &str, sent: f64, lost: f64) -> PipelineComponent {
        let mut p = PipelineComponent::unmeasured(
            "otel/gw".into(),
            ComponentKind::Exporter,
            "otlp".into(),
            Signal::Logs,
            at(t),
        );
        p.sent_per_s = sent;
        p.enqueue_failed_per_s = lost;
        p
    }

    #[test]
    fn one_sample_per_scrape_for_the_last_fifteen_minutes() {
        let id = RecordId::new(ClusterId::new("a"), "otel/gw/exporter/otlp/logs");
        let mut h = PipelineHistory::default();
        h.on_upsert(&id, &comp("2026-11-27T14:00:00Z", 100.0, 0.0));
        h.on_upsert(&id, &comp("2026-11-27T14:00:00Z", 100.0, 0.0)); // a failed scrape's re-send
        h.on_upsert(&id, &comp("2026-11-27T14:00:15Z", 90.0, 10.0));
        h.on_upsert(&id, &comp("2026-11-27T14:16:00Z", 50.0, 50.0));
        let samples = h.samples(&id);
        assert_eq!(samples.len(), 1, "older than 15 minutes are dropped: {samples:?}");
        h.on_upsert(&id, &comp("2026-11-27T14:17:10Z", 0.0, 80.0));
        let lost = h.per_minute(&id, at("2026-11-27T14:17:30Z"), 3, |s| s.lost);
        assert_eq!(lost, [0.0, 50.0, 80.0], "14:15, 14:16, 14:17");
        h.on_remove(&id);
        assert!(h.samples(&id).is_empty());
    }
}
