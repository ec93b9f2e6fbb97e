//! What changed between two moments: the per-pane difference of two fleet states.
//!
//! Each record kind is reduced to its *facts*: the few values a pane shows and an incident
//! review asks about (a denial row's count and whether it is still firing, a queue's usage and
//! waiters, a workload's state, a pipeline's verdict, an exception's status, a cluster's
//! health). Two moments differ in a record when it appeared, disappeared, or one of its facts
//! changed. Comparing states, not observations, makes a relist between the two moments (a
//! record deleted and listed again) no change, exactly as the panes show it.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::model::{ClusterId, ClusterStatus, Denial, PipelineComponent, SourceState};
use crate::state::{FleetState, RecordId, merged_object};

/// A denial row that saw no new occurrence for this long is "quiet" (it stopped).
pub const QUIET_AFTER: SignedDuration = SignedDuration::from_mins(5);

/// The pane a change belongs to, in the order the tabs show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pane {
    /// Clusters: reachability, health and sources.
    Fleet,
    /// Admission denials (merged rows) and the policies behind them.
    Denials,
    /// Kueue queues and workloads, pending GPU pods, GPU nodes.
    Gpu,
    /// Telemetry pipeline components.
    Pipelines,
    /// Policy exceptions.
    Exceptions,
}

impl Pane {
    /// The pane's tab title.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Fleet => "Fleet",
            Pane::Denials => "Denials",
            Pane::Gpu => "GPU",
            Pane::Pipelines => "Pipelines",
            Pane::Exceptions => "Exceptions",
        }
    }
}

/// How a record differs between the two moments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeltaKind {
    /// Absent at the first moment, present at the second.
    Appeared,
    /// Present at the first moment, absent at the second.
    Disappeared,
    /// Present at both, with at least one fact changed.
    Changed,
}

impl DeltaKind {
    /// The sign a text diff starts the line with.
    pub fn sign(self) -> char {
        match self {
            DeltaKind::Appeared => '+',
            DeltaKind::Disappeared => '-',
            DeltaKind::Changed => '~',
        }
    }
}

/// One fact of a record at both moments (`None`: the record or the fact is absent then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactDelta {
    /// The fact's name (`count`, `state`, `health`, `used a100`).
    pub fact: String,
    /// Its value at the first moment.
    pub from: Option<String>,
    /// Its value at the second moment.
    pub to: Option<String>,
}

/// One record that differs between the two moments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delta {
    /// The pane that shows the record.
    pub pane: Pane,
    /// What the record is (`denial`, `workload`, `cluster queue`, …).
    pub what: &'static str,
    /// Appeared, disappeared or changed.
    pub kind: DeltaKind,
    /// The record's cluster.
    pub cluster: ClusterId,
    /// The record in words (`kyverno deny require-run-as-nonroot/check on Deployment shop/payments`).
    pub subject: String,
    /// The facts that differ (for an appeared or disappeared record: all of its facts, on
    /// one side).
    pub facts: Vec<FactDelta>,
    /// The evidence of the change, verbatim from the record (a denial's message, an
    /// eviction's condition message, a scrape error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// The difference between the fleet at two moments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    /// The first moment.
    pub from: Timestamp,
    /// The second moment.
    pub to: Timestamp,
    /// Every differing record, by pane, then cluster, then what and subject.
    pub changes: Vec<Delta>,
}

impl Diff {
    /// The changes one pane shows.
    pub fn pane(&self, pane: Pane) -> impl Iterator<Item = &Delta> {
        self.changes.iter().filter(move |c| c.pane == pane)
    }

    /// How many records appeared, disappeared and changed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |k| self.changes.iter().filter(|c| c.kind == k).count();
        (n(DeltaKind::Appeared), n(DeltaKind::Disappeared), n(DeltaKind::Changed))
    }
}

/// A record reduced to what the diff compares.
struct Facts {
    pane: Pane,
    what: &'static str,
    cluster: ClusterId,
    subject: String,
    facts: Vec<(String, String)>,
    evidence: Option<String>,
}

/// The difference between `a` (the earlier moment) and `b`.
pub fn diff(a: &FleetState, b: &FleetState) -> Diff {
    let before = facts_of(a);
    let mut after = facts_of(b);
    let mut changes = Vec::new();
    for (key, old) in before {
        match after.remove(&key) {
            None => changes.push(one_sided(old, DeltaKind::Disappeared)),
            Some(new) => {
                if let Some(c) = changed(old, new) {
                    changes.push(c);
                }
            }
        }
    }
    changes.extend(after.into_values().map(|new| one_sided(new, DeltaKind::Appeared)));
    changes.sort_by(|x, y| {
        (x.pane, &x.cluster, x.what, &x.subject, x.kind)
            .cmp(&(y.pane, &y.cluster, y.what, &y.subject, y.kind))
    });
    Diff { from: a.now(), to: b.now(), changes }
}

fn one_sided(f: Facts, kind: DeltaKind) -> Delta {
    let facts = f
        .facts
        .into_iter()
        .map(|(fact, v)| match kind {
            DeltaKind::Disappeared => FactDelta { fact, from: Some(v), to: None },
            _ => FactDelta { fact, from: None, to: Some(v) },
        })
        .collect();
    Delta {
        pane: f.pane,
        what: f.what,
        kind,
        cluster: f.cluster,
        subject: f.subject,
        facts,
        evidence: f.evidence,
    }
}

fn changed(old: Facts, new: Facts) -> Option<Delta> {
    let before: BTreeMap<&str, &str> = old.facts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut names: Vec<&str> = old.facts.iter().map(|(k, _)| k.as_str()).collect();
    for (k, _) in &new.facts {
        if !before.contains_key(k.as_str()) {
            names.push(k);
        }
    }
    let after: BTreeMap<&str, &str> = new.facts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let facts: Vec<FactDelta> = names
        .into_iter()
        .filter(|n| before.get(n) != after.get(n))
        .map(|n| FactDelta {
            fact: n.to_string(),
            from: before.get(n).map(|v| v.to_string()),
            to: after.get(n).map(|v| v.to_string()),
        })
        .collect();
    if facts.is_empty() {
        return None;
    }
    Some(Delta {
        pane: new.pane,
        what: new.what,
        kind: DeltaKind::Changed,
        cluster: new.cluster,
        subject: new.subject,
        facts,
        // The evidence of the second moment: the first one's would explain a state that is gone
        // (a pending message on a workload since admitted).
        evidence: new.evidence,
    })
}

/// Every record of `s` reduced to its facts, keyed by (what, id) so the two moments line up.
fn facts_of(s: &FleetState) -> BTreeMap<(&'static str, RecordId), Facts> {
    let now = s.now();
    let mut out = BTreeMap::new();
    let mut put = |id: &RecordId, f: Facts| {
        out.insert((f.what, id.clone()), f);
    };
    for (id, c) in s.clusters() {
        put(&RecordId::new(id.clone(), ""), cluster_facts(c));
    }
    for (id, d) in s.denial_rows() {
        put(id, denial_facts(id, d, now));
    }
    for (id, p) in s.policies() {
        let mut facts = vec![("generation".to_string(), opt(p.generation))];
        if let Some(e) = p.enforcement {
            facts.push(("enforcement".into(), e.label().into()));
        }
        if let Some(r) = p.ready {
            facts.push(("ready".into(), r.to_string()));
        }
        let subject = format!("{} {} {}", p.engine.label(), p.kind, p.display_name());
        put(
            id,
            Facts {
                pane: Pane::Denials,
                what: "policy",
                cluster: id.cluster.clone(),
                subject,
                facts,
                evidence: None,
            },
        );
    }
    for (id, q) in s.gpu_queues() {
        let mut facts = Vec::new();
        for f in &q.quotas {
            let name = format!("{} {}", f.flavor, f.resource);
            let q = |v| quantity(&f.resource, v);
            facts.push((format!("used {name}"), format!("{} of {}", q(f.used), q(f.nominal))));
            if f.borrowed > 0.0 {
                facts.push((format!("borrowed {name}"), q(f.borrowed)));
            }
        }
        facts.push(("pending workloads".into(), q.pending_workloads.to_string()));
        facts.push(("admitted workloads".into(), q.admitted_workloads.to_string()));
        let subject = match &q.cohort {
            Some(c) => format!("{} (cohort {c})", q.name),
            None => q.name.clone(),
        };
        put(
            id,
            Facts {
                pane: Pane::Gpu,
                what: "cluster queue",
                cluster: id.cluster.clone(),
                subject,
                facts,
                evidence: None,
            },
        );
    }
    for (id, w) in s.gpu_workloads() {
        use crate::model::WorkloadState as W;
        let (state, evidence) = match &w.state {
            W::Pending { reason, message } => (format!("pending ({reason})"), Some(one_line(message))),
            W::Evicted { reason, message } => (format!("evicted ({reason})"), Some(one_line(message))),
            W::Finished { succeeded: true } => ("finished (succeeded)".into(), None),
            W::Finished { succeeded: false } => ("finished (failed)".into(), None),
            other => (other.label().to_string(), None),
        };
        let mut facts = vec![("state".to_string(), state), ("gpus".into(), w.gpus.to_string())];
        if let Some(f) = &w.flavor {
            facts.push(("flavor".into(), f.clone()));
        }
        if let Some(t) = w.admitted_at {
            facts.push(("admitted at".into(), clock(t)));
        }
        let subject =
            format!("{}/{} in {}", w.namespace, w.name, w.cluster_queue.as_deref().unwrap_or(&w.local_queue));
        put(
            id,
            Facts {
                pane: Pane::Gpu,
                what: "workload",
                cluster: id.cluster.clone(),
                subject,
                facts,
                evidence,
            },
        );
    }
    for (id, p) in s.pending_gpu_pods() {
        let facts = vec![
            (format!("requests {}", p.resource), p.gpus.to_string()),
            ("pending since".into(), clock(p.since)),
        ];
        let subject = format!("{}/{}", p.namespace, p.name);
        put(
            id,
            Facts {
                pane: Pane::Gpu,
                what: "pending gpu pod",
                cluster: id.cluster.clone(),
                subject,
                facts,
                evidence: p.message.as_deref().map(one_line),
            },
        );
    }
    for (id, n) in s.gpu_nodes() {
        let mut facts = vec![
            ("allocated".to_string(), format!("{} of {}", n.allocated, n.allocatable)),
            ("schedulable".into(), n.schedulable.to_string()),
        ];
        if !n.taints.is_empty() {
            facts.push(("taints".into(), n.taints.join(", ")));
        }
        let evidence = n.telemetry_error.as_deref().map(one_line);
        if evidence.is_some() {
            facts.push(("telemetry".into(), "failing".into()));
        }
        put(
            id,
            Facts {
                pane: Pane::Gpu,
                what: "gpu node",
                cluster: id.cluster.clone(),
                subject: n.name.clone(),
                facts,
                evidence,
            },
        );
    }
    for (id, p) in s.pipelines() {
        put(id, pipeline_facts(id, p, s.pipeline_verdict(id, p)));
    }
    for (id, e) in s.exceptions() {
        let mut facts = vec![("status".to_string(), e.status(now, s.verdicts()).label().to_string())];
        if let Some(t) = e.expires_at {
            facts.push(("expires".into(), t.to_string()));
        }
        let subject = match &e.namespace {
            Some(ns) => format!("{} {} {ns}/{}", e.engine.label(), e.kind, e.name),
            None => format!("{} {} {}", e.engine.label(), e.kind, e.name),
        };
        put(
            id,
            Facts {
                pane: Pane::Exceptions,
                what: "exception",
                cluster: id.cluster.clone(),
                subject,
                facts,
                evidence: None,
            },
        );
    }
    out
}

fn cluster_facts(c: &ClusterStatus) -> Facts {
    use crate::model::ConnectionState as C;
    let mut facts = vec![("health".to_string(), c.health().label().to_string())];
    let evidence = match &c.connection {
        C::Unreachable { since, error } => {
            facts.push(("unreachable since".into(), clock(*since)));
            Some(one_line(error))
        }
        _ => None,
    };
    for (kind, state) in &c.sources {
        facts.push((format!("source {}", kind.label()), source_word(state)));
    }
    if let Some(v) = &c.server_version {
        facts.push(("server version".into(), v.clone()));
    }
    let dropped: u64 = c.dropped.values().sum();
    if dropped > 0 {
        facts.push(("records dropped (bounds)".into(), dropped.to_string()));
    }
    Facts {
        pane: Pane::Fleet,
        what: "cluster",
        cluster: c.id.clone(),
        subject: c.id.to_string(),
        facts,
        evidence,
    }
}

/// A source's state in a word (its message is evidence, not a fact: it may carry a
/// changing number of seconds).
fn source_word(s: &SourceState) -> String {
    match s {
        SourceState::Syncing => "syncing",
        SourceState::Live => "live",
        SourceState::Forbidden { .. } => "forbidden",
        SourceState::NotInstalled => "not installed",
        SourceState::Error { .. } => "error",
        SourceState::Unavailable { .. } => "unavailable",
        SourceState::Degraded { .. } => "degraded",
        SourceState::Stale { .. } => "stale",
        SourceState::Slow { .. } => "slow",
    }
    .to_string()
}

fn denial_facts(id: &RecordId, d: &Denial, now: Timestamp) -> Facts {
    let rule = d.rule.as_deref().map(|r| format!("/{r}")).unwrap_or_default();
    let object = merged_object(&d.object);
    let ns = object.namespace.as_deref().map(|n| format!("{n}/")).unwrap_or_default();
    // A webhook that could not be called, a refusal no grammar read and an RBAC refusal are
    // not policy denials: their class leads the subject, as in the Denials pane.
    let action = if d.class.is_admission() { d.enforcement.label() } else { d.class.label() };
    let subject = format!(
        "{} {action} {}{rule} on {} {ns}{}",
        d.engine.label(),
        d.policy_name(),
        object.kind,
        object.name
    );
    let activity = if now.duration_since(d.last_seen) <= QUIET_AFTER {
        "firing".to_string()
    } else {
        format!("quiet since {}", clock(d.last_seen))
    };
    let facts = vec![("count".to_string(), d.count.to_string()), ("activity".into(), activity)];
    let evidence = Some(one_line(&d.message)).filter(|m| !m.is_empty());
    Facts { pane: Pane::Denials, what: "denial", cluster: id.cluster.clone(), subject, facts, evidence }
}

/// A component's facts: its verdict as the panes say it — unknown since its cluster's pipelines
/// went out of sight, with the last-known verdict — never "ok" about a cluster fleettop cannot see.
fn pipeline_facts(id: &RecordId, p: &PipelineComponent, verdict: crate::model::PipelineVerdict) -> Facts {
    let word = match verdict {
        crate::model::PipelineVerdict::Known(h) => h.label().to_string(),
        // The moment is left out of the fact: for a failing scrape it is the last attempt, which
        // moves every round, and would make every round a change.
        crate::model::PipelineVerdict::Unknown { was, .. } => format!("unknown (was {})", was.label()),
    };
    let facts = vec![("verdict".to_string(), word)];
    let subject = format!("{} {} {} ({})", p.kind.label(), p.workload, p.name, p.signal.label());
    Facts {
        pane: Pane::Pipelines,
        what: "pipeline",
        cluster: id.cluster.clone(),
        subject,
        facts,
        evidence: p.scrape_error.as_deref().map(one_line),
    }
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "?".to_string(), |g| g.to_string())
}

/// A resource quantity as Kubernetes writes it: memory and storage in binary units (`1600Gi`),
/// the rest as a plain number.
fn quantity(resource: &str, v: f64) -> String {
    const GI: f64 = (1u64 << 30) as f64;
    if (resource.contains("memory") || resource.contains("storage")) && v.abs() >= GI {
        format!("{}Gi", num((v / GI * 100.0).round() / 100.0))
    } else {
        num(v)
    }
}

/// A message on one line: its lines joined by a space, runs of white space collapsed (Kyverno
/// puts the policy and rule on lines of their own).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A quantity without a needless fraction (`4`, `2.5`).
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v:.2}") }
}

/// A moment as a UTC time of day with seconds (`14:05:31Z`).
pub fn clock(t: Timestamp) -> String {
    t.strftime("%H:%M:%SZ").to_string()
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
