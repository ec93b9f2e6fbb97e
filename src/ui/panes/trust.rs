//! The trust matrix of the Pipelines pane: for each cluster and signal, can I trust what
//! reaches the backends right now, and if not, which component says so and at what rate.

use std::collections::BTreeMap;

use crate::model::{
    ClusterHealth, ClusterId, ComponentKind, PipelineComponent, PipelineHealth, Signal, SourceKind,
    SourceState, Verdicts,
};
use crate::state::FleetState;
use crate::ui::widgets::format;

/// The signals in matrix column order.
pub const SIGNALS: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

/// One cell: the verdict for a cluster's signal and the reason in a few words.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The worst that applies; `Healthy` when the signal flows end to end.
    pub verdict: PipelineHealth,
    /// Why, in a few words (`otlphttp/backend loses 8.7k/s`); empty when healthy.
    pub reason: String,
}

/// Every cluster with pipeline components, and for each signal its cell (`None`: no
/// component carries that signal there, so fleettop cannot say).
pub fn matrix(state: &FleetState) -> BTreeMap<ClusterId, [Option<Cell>; 3]> {
    let mut by: BTreeMap<(&ClusterId, Signal), Vec<&PipelineComponent>> = BTreeMap::new();
    for (id, p) in state.pipelines() {
        by.entry((&id.cluster, p.signal)).or_default().push(p);
    }
    let mut out: BTreeMap<ClusterId, [Option<Cell>; 3]> = BTreeMap::new();
    for ((cluster, signal), comps) in by {
        let blind = blind(state, cluster);
        let row = out.entry(cluster.clone()).or_default();
        if let Some(i) = SIGNALS.iter().position(|s| *s == signal) {
            row[i] = Some(match blind {
                Some(reason) => Cell { verdict: PipelineHealth::ScrapeFailed, reason },
                None => cell(&comps, state.verdicts()),
            });
        }
    }
    out
}

/// Why fleettop cannot see a cluster's pipelines now (the cluster is unreachable or
/// refused us, or the pipelines source is failing), so its last rates prove nothing.
fn blind(state: &FleetState, cluster: &ClusterId) -> Option<String> {
    let status = state.clusters().get(cluster)?;
    match status.health() {
        ClusterHealth::Unreachable | ClusterHealth::Forbidden => {
            return Some(format!("cluster {}", status.health().label()));
        }
        _ => {}
    }
    match status.sources.get(&SourceKind::Pipelines) {
        Some(SourceState::Error { .. } | SourceState::Stale { .. }) => Some("scrapes failing".into()),
        Some(SourceState::Forbidden { .. }) => Some("no permission to scrape".into()),
        _ => None,
    }
}

/// The verdict of one cluster's signal from its components: data lost anywhere, then an
/// unknown (failed scrape), then a silent pipeline, then one at risk; a single idle
/// component while the signal flows elsewhere is not a finding.
fn cell(comps: &[&PipelineComponent], verdicts: &Verdicts) -> Cell {
    let t = verdicts.pipelines;
    let worst = |h: PipelineHealth| comps.iter().copied().filter(move |p| p.health(verdicts) == h);
    if let Some(p) =
        worst(PipelineHealth::Losing).max_by(|a, b| a.dropped_per_s().total_cmp(&b.dropped_per_s()))
    {
        return Cell {
            verdict: PipelineHealth::Losing,
            reason: format!("{} loses {}", p.name, format::rate(p.dropped_per_s())),
        };
    }
    if let Some(p) = worst(PipelineHealth::ScrapeFailed).next() {
        return Cell { verdict: PipelineHealth::ScrapeFailed, reason: format!("{} not scraped", p.workload) };
    }
    if let Some(reason) = silent(comps, t.silent_per_s) {
        return Cell { verdict: PipelineHealth::Silent, reason };
    }
    if let Some(p) = worst(PipelineHealth::Degraded).next() {
        let reason = match p.queue_fill() {
            Some(f) if p.queue_filling(&t) && p.send_failed_per_s <= t.send_failed_per_s => {
                format!("{} queue {:.0}%", p.name, f * 100.0)
            }
            _ => format!("{} fails {}", p.name, format::rate(p.send_failed_per_s)),
        };
        return Cell { verdict: PipelineHealth::Degraded, reason };
    }
    Cell { verdict: PipelineHealth::Healthy, reason: String::new() }
}

/// Silent: nothing flows through any component, or a workload takes data in (its receivers
/// accept) while its exporters send nothing; "nothing" is at most `floor` per second
/// (`[pipelines.thresholds] silent_per_s`).
fn silent(comps: &[&PipelineComponent], floor: f64) -> Option<String> {
    let flowing = |p: &&PipelineComponent| p.accepted_per_s > floor || p.sent_per_s > floor;
    if !comps.iter().any(flowing) {
        return Some("nothing flows".into());
    }
    let mut workloads: BTreeMap<&str, (f64, f64, bool)> = BTreeMap::new();
    for p in comps {
        let w = workloads.entry(p.workload.as_str()).or_default();
        match p.kind {
            ComponentKind::Receiver => w.0 += p.accepted_per_s,
            ComponentKind::Exporter | ComponentKind::RemoteWrite => {
                w.1 += p.sent_per_s;
                w.2 = true;
            }
            ComponentKind::Processor | ComponentKind::Endpoint => {}
        }
    }
    workloads
        .into_iter()
        .find(|(_, (accepted, sent, has_exporter))| *accepted > floor && *has_exporter && *sent <= floor)
        .map(|(w, (accepted, _, _))| format!("{w} takes {}, sends none", format::rate(accepted)))
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::model::{Change, Observation, Record};

    fn comp(workload: &str, kind: ComponentKind, name: &str, signal: Signal) -> PipelineComponent {
        PipelineComponent::unmeasured(workload.into(), kind, name.into(), signal, Timestamp::UNIX_EPOCH)
    }

    fn state(comps: Vec<PipelineComponent>) -> FleetState {
        let mut s = FleetState::default();
        for p in comps {
            s.apply(&Observation {
                at: Timestamp::UNIX_EPOCH,
                cluster: ClusterId::new("a"),
                change: Change::Upsert { record: Record::Pipeline(p) },
            });
        }
        s
    }

    fn verdicts(s: &FleetState) -> Vec<Option<PipelineHealth>> {
        matrix(s)[&ClusterId::new("a")].iter().map(|c| c.as_ref().map(|c| c.verdict)).collect()
    }

    #[test]
    fn each_signal_gets_its_worst_reason_and_an_idle_component_alone_is_fine() {
        let mut traces_in = comp("otel/gw", ComponentKind::Receiver, "otlp", Signal::Traces);
        traces_in.accepted_per_s = 100.0;
        let mut traces_out = comp("otel/gw", ComponentKind::Exporter, "otlphttp", Signal::Traces);
        traces_out.sent_per_s = 60.0;
        traces_out.enqueue_failed_per_s = 40.0;
        let mut metrics_in = comp("otel/gw", ComponentKind::Receiver, "otlp", Signal::Metrics);
        metrics_in.accepted_per_s = 10.0;
        let mut metrics_out = comp("otel/gw", ComponentKind::Exporter, "prometheus", Signal::Metrics);
        metrics_out.sent_per_s = 10.0;
        // An unused receiver on another workload: idle, not a finding.
        let idle = comp("otel/agent", ComponentKind::Receiver, "jaeger", Signal::Metrics);
        let s = state(vec![traces_in, traces_out, metrics_in, metrics_out, idle]);
        assert_eq!(verdicts(&s), [Some(PipelineHealth::Losing), Some(PipelineHealth::Healthy), None]);
        assert_eq!(
            matrix(&s)[&ClusterId::new("a")][0].as_ref().map(|c| c.reason.as_str()),
            Some("otlphttp loses 40/s")
        );
    }

    #[test]
    fn a_workload_that_takes_data_in_and_sends_none_is_silent() {
        let mut logs_in = comp("otel/gw", ComponentKind::Receiver, "otlp", Signal::Logs);
        logs_in.accepted_per_s = 250.0;
        let logs_out = comp("otel/gw", ComponentKind::Exporter, "loki", Signal::Logs);
        let nothing = comp("otel/gw", ComponentKind::Receiver, "otlp", Signal::Traces);
        let s = state(vec![logs_in, logs_out, nothing]);
        let m = matrix(&s);
        let row = &m[&ClusterId::new("a")];
        assert_eq!(row[2].as_ref().map(|c| c.reason.as_str()), Some("otel/gw takes 250/s, sends none"));
        assert_eq!(
            row[0].as_ref().map(|c| (c.verdict, c.reason.as_str())),
            Some((PipelineHealth::Silent, "nothing flows"))
        );
    }

    #[test]
    fn the_demo_cannot_trust_prod_eu_logs_and_traces_at_18m() {
        let sim = crate::sim::demo_incident(crate::sim::DEMO_SEED, crate::sim::demo_start());
        let s = sim.state_at(sim.start + jiff::SignedDuration::from_mins(18));
        let m = matrix(&s);
        let eu = &m[&ClusterId::new("prod-eu-west-1")];
        let v: Vec<_> = eu.iter().map(|c| c.as_ref().map(|c| c.verdict)).collect();
        assert_eq!(
            v,
            [Some(PipelineHealth::Losing), Some(PipelineHealth::Healthy), Some(PipelineHealth::Losing)]
        );
        assert!(eu[0].as_ref().is_some_and(|c| c.reason.starts_with("otlphttp/backend loses")), "{eu:?}");
        // At 27 minutes ap-south is unreachable: its last rates prove nothing.
        let late = sim.state_at(sim.start + jiff::SignedDuration::from_mins(27));
        let ap = &matrix(&late)[&ClusterId::new("prod-ap-south-1")];
        assert!(
            ap.iter()
                .flatten()
                .all(|c| c.verdict == PipelineHealth::ScrapeFailed && c.reason == "cluster unreachable"),
            "{ap:?}"
        );
    }
}
