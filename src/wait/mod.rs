//! Why is it waiting: one causal chain from a Kueue workload or a pending GPU pod to what
//! blocks it, each step with its evidence and its time. Pure functions over the
//! [`FleetState`] (like [`crate::explain`] for denials): the GPU pane's detail view and
//! `fleettop why workload/NAME`, `why pod/NAME` and `why --waiting` all print what
//! [`explain_workload`], [`explain_pod`] and [`waiters`] return; in a replay the state is the
//! one at the play head, so the chain is too.
//!
//! The chain has stages, in order ([`Stage`]):
//! - **admission** ([`admission`]): the ClusterQueue and flavor, nominal vs used vs borrowed,
//!   the cohort's free quota, who holds the quota it needs (by priority and age), Kueue's
//!   `QuotaReserved` reason in words, the queue position, and the preemption candidates and
//!   why they were not taken;
//! - **placement** ([`placement`]): the scheduler's FailedScheduling reasons per node group and
//!   the nodes that would fit if one thing changed (a taint, a cordon);
//! - **fleet** ([`fleet`]): where the same request would fit now on another cluster.
//!
//! DRA claims and MultiKueue worker clusters are stages still to come: a new [`Stage`] and
//! one more function adding its [`Step`]s, without changing the others.

pub mod admission;
pub mod fleet;
pub mod placement;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::model::{GpuWorkload, PendingGpuPod, WorkloadState};
use crate::state::{FleetState, RecordId};

/// What waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A Kueue Workload.
    Workload,
    /// A pod that asks for GPUs and is not scheduled.
    Pod,
}

impl SubjectKind {
    /// `workload` / `pod`, as `why` takes it.
    pub fn label(self) -> &'static str {
        match self {
            SubjectKind::Workload => "workload",
            SubjectKind::Pod => "pod",
        }
    }
}

/// Where in the chain a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Kueue's admission: quota, cohort, queue, preemption.
    Admission,
    /// The scheduler's placement of the pods on nodes.
    Placement,
    /// The rest of the fleet: where the same request would fit now.
    Fleet,
}

impl Stage {
    /// The word for headings.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Admission => "admission",
            Stage::Placement => "placement",
            Stage::Fleet => "fleet",
        }
    }
}

/// The class of the wait, as the one-line verdict names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitClass {
    /// Quota exists but others use it (`insufficient unused quota …`).
    WaitingForQuota,
    /// The request exceeds what the queue could ever have (nominal plus borrowable).
    ExceedsMaxQuota,
    /// No flavor of the queue matches the workload (node affinity, taint, flavor missing).
    NoMatchingFlavor,
    /// Kueue reserved quota by preempting others and waits for them to go.
    WaitingForPreemptedWorkloads,
    /// Topology-aware scheduling found no placement.
    TopologyPlacementFailed,
    /// Its LocalQueue or ClusterQueue is missing or inactive.
    QueueMissing,
    /// Quota reserved; admission checks (provisioning, MultiKueue) pending.
    WaitingForAdmissionChecks,
    /// Evicted (preempted) and not yet requeued.
    Evicted,
    /// Admitted, but its pods fit no node (no node with enough free GPUs).
    WaitingForNode,
    /// Nodes would fit but carry a taint the pod does not tolerate.
    UntoleratedTaint,
    /// Nodes would fit but are cordoned.
    NodesCordoned,
    /// fleettop has no record that says why (no condition message, no scheduler event yet).
    Unknown,
}

impl WaitClass {
    /// Words for the verdict's head (`waiting for quota`).
    pub fn words(self) -> &'static str {
        match self {
            WaitClass::WaitingForQuota => "waiting for quota",
            WaitClass::ExceedsMaxQuota => "exceeds its queue's maximum quota",
            WaitClass::NoMatchingFlavor => "no matching flavor",
            WaitClass::WaitingForPreemptedWorkloads => "waiting for preempted workloads",
            WaitClass::TopologyPlacementFailed => "no topology placement",
            WaitClass::QueueMissing => "queue missing",
            WaitClass::WaitingForAdmissionChecks => "waiting for admission checks",
            WaitClass::Evicted => "evicted",
            WaitClass::WaitingForNode => "waiting for a node",
            WaitClass::UntoleratedTaint => "untolerated taint",
            WaitClass::NodesCordoned => "nodes cordoned",
            WaitClass::Unknown => "reason unknown",
        }
    }
}

/// The one-line verdict that heads the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The class.
    pub class: WaitClass,
    /// The line (`waiting for quota: research needs 8 h100-80gb, cohort gpu-pool has 4 free;
    /// team-b borrows 6 since 13:55`).
    pub words: String,
}

/// A record a step leads to: the GPU pane can jump to it. Written to JSON as
/// `{"kind": "workload", "cluster": …, "key": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// A workload (one holding the quota, or the one a pod belongs to).
    Workload(RecordId),
    /// A node (tainted, cordoned).
    Node(RecordId),
    /// A ClusterQueue.
    Queue(RecordId),
    /// A pending pod.
    Pod(RecordId),
}

impl Link {
    /// The record it names.
    pub fn id(&self) -> &RecordId {
        match self {
            Link::Workload(id) | Link::Node(id) | Link::Queue(id) | Link::Pod(id) => id,
        }
    }

    /// `workload`, `node`, `queue`, `pod`.
    pub fn kind(&self) -> &'static str {
        match self {
            Link::Workload(_) => "workload",
            Link::Node(_) => "node",
            Link::Queue(_) => "queue",
            Link::Pod(_) => "pod",
        }
    }
}

impl Serialize for Link {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Link", 3)?;
        st.serialize_field("kind", self.kind())?;
        st.serialize_field("cluster", self.id().cluster.as_str())?;
        st.serialize_field("key", &self.id().key)?;
        st.end()
    }
}

/// One record a step rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Where it comes from (`Workload condition QuotaReserved`, `ClusterQueue research status`,
    /// `FailedScheduling event`).
    pub source: String,
    /// What it says, verbatim where it is a message.
    pub text: String,
    /// When, where the record says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
}

impl Evidence {
    fn new(source: impl Into<String>, text: impl Into<String>, at: Option<Timestamp>) -> Self {
        Self { source: source.into(), text: text.into(), at }
    }
}

/// One link of the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Stage.
    pub stage: Stage,
    /// What this step establishes (`reason`, `quota`, `cohort`, `holders`, `position`,
    /// `preemption`, `nodes`, `taint`, `cordon`, `elsewhere`).
    pub finding: &'static str,
    /// In words.
    pub words: String,
    /// Since when this holds, where the records say (a holder's admission, the moment a queue
    /// started borrowing, the condition's transition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// The records behind it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Records it leads to (the blockers), strongest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

impl Step {
    fn new(stage: Stage, finding: &'static str, words: impl Into<String>) -> Self {
        Self { stage, finding, words: words.into(), since: None, evidence: Vec::new(), links: Vec::new() }
    }

    fn since(mut self, at: Option<Timestamp>) -> Self {
        self.since = at;
        self
    }

    fn evidence(mut self, e: Evidence) -> Self {
        self.evidence.push(e);
        self
    }

    fn link(mut self, l: Link) -> Self {
        self.links.push(l);
        self
    }
}

/// What one stage found: its steps, and the verdict it would give.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The verdict this stage gives.
    pub verdict: Verdict,
    /// Its steps.
    pub steps: Vec<Step>,
}

/// Why one workload or pod waits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Wait {
    /// Its cluster.
    pub cluster: String,
    /// Workload or pod.
    pub kind: SubjectKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The job that owns it (`Job/train-llm`), for a workload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// GPUs it asks for.
    pub gpus: u32,
    /// Waiting since (creation, as the GPU pane's WAIT column).
    pub since: Timestamp,
    /// How long at the state's clock, in seconds.
    pub waited_s: i64,
    /// The one-line verdict.
    pub verdict: Verdict,
    /// The chain, admission first.
    pub steps: Vec<Step>,
}

impl Wait {
    /// The record it explains.
    pub fn id(&self) -> RecordId {
        RecordId::new(
            crate::model::ClusterId::new(&self.cluster),
            format!("{}/{}", self.namespace, self.name),
        )
    }

    /// The blocker the GPU pane's jump key goes to: a workload holding the quota, else a node
    /// that would fit (tainted, cordoned), else the first record the chain leads to.
    pub fn blocker(&self) -> Option<&Link> {
        let of = |findings: &[&str]| {
            self.steps.iter().filter(|s| findings.contains(&s.finding)).flat_map(|s| &s.links).next()
        };
        of(&["holder"]).or_else(|| of(&["taint", "cordon"])).or_else(|| self.blockers().into_iter().next())
    }

    /// Every record the chain leads to, first seen first, without repeats.
    pub fn blockers(&self) -> Vec<&Link> {
        let mut out: Vec<&Link> = Vec::new();
        for l in self.steps.iter().flat_map(|s| &s.links) {
            if !out.contains(&l) {
                out.push(l);
            }
        }
        out
    }
}

/// True while a workload waits: not admitted (pending, evicted, quota reserved with checks
/// pending). An admitted workload whose pods are not scheduled waits too, see
/// [`placement::pods_of`].
pub fn workload_waits(w: &GpuWorkload) -> bool {
    matches!(
        w.state,
        WorkloadState::Pending { .. } | WorkloadState::Evicted { .. } | WorkloadState::QuotaReserved
    )
}

/// Explains why the workload `id` waits; `None` when there is no such workload or it does
/// not wait (admitted with every pod placed, or finished).
pub fn explain_workload(state: &FleetState, id: &RecordId) -> Option<Wait> {
    let w = state.gpu_workloads().get(id)?;
    let pods = placement::pods_of(state, id, w);
    let placing = matches!(w.state, WorkloadState::Admitted) && !pods.is_empty();
    if !workload_waits(w) && !placing {
        return None;
    }
    let mut steps = Vec::new();
    let mut verdict = None;
    if workload_waits(w) {
        let a = admission::explain(state, id, w);
        steps.extend(a.steps);
        verdict = Some(a.verdict);
    } else {
        steps.push(
            Step::new(
                Stage::Admission,
                "admitted",
                format!(
                    "admitted in ClusterQueue {}{}",
                    w.cluster_queue.as_deref().unwrap_or("?"),
                    w.flavor.as_ref().map(|f| format!(", flavor {f}")).unwrap_or_default()
                ),
            )
            .since(w.admitted_at),
        );
    }
    let mut pod_verdict = None;
    for (pid, p) in &pods {
        let mut pl = placement::explain(state, pid, p, Some(w));
        if let Some(first) = pl.steps.first_mut() {
            first.links.push(Link::Pod((*pid).clone()));
        }
        steps.extend(pl.steps);
        pod_verdict = pod_verdict.or(Some(pl.verdict));
    }
    let verdict = match (verdict, pod_verdict) {
        (Some(v), _) => v,
        (None, Some(v)) => v,
        (None, None) => Verdict { class: WaitClass::Unknown, words: WaitClass::Unknown.words().into() },
    };
    let flavor_product = admission::wanted_flavor(state, id, w);
    steps.extend(fleet::explain(state, id, w.gpus, flavor_product.as_deref()));
    Some(Wait {
        cluster: id.cluster.to_string(),
        kind: SubjectKind::Workload,
        namespace: w.namespace.clone(),
        name: w.name.clone(),
        owner: w.owner.clone(),
        gpus: w.gpus,
        since: w.created_at,
        waited_s: waited(state.now(), w.created_at).as_secs(),
        verdict,
        steps,
    })
}

/// Explains why the pending GPU pod `id` waits; `None` when there is no such pod.
pub fn explain_pod(state: &FleetState, id: &RecordId) -> Option<Wait> {
    let p = state.pending_gpu_pods().get(id)?;
    let owner = placement::workload_of(state, id, p);
    let mut steps = Vec::new();
    if let Some((wid, w)) = owner {
        steps.push(
            Step::new(
                Stage::Admission,
                "workload",
                format!(
                    "belongs to Kueue workload {}/{} ({})",
                    w.namespace,
                    w.name,
                    if workload_waits(w) { "not admitted: its own chain says why" } else { "admitted" }
                ),
            )
            .since(w.admitted_at)
            .link(Link::Workload(wid.clone())),
        );
    }
    let pl = placement::explain(state, id, p, owner.map(|(_, w)| w));
    steps.extend(pl.steps);
    let flavor = owner.and_then(|(wid, w)| admission::wanted_flavor(state, wid, w));
    steps.extend(fleet::explain(state, id, p.gpus, flavor.as_deref()));
    Some(Wait {
        cluster: id.cluster.to_string(),
        kind: SubjectKind::Pod,
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        owner: None,
        gpus: p.gpus,
        since: p.since,
        waited_s: waited(state.now(), p.since).as_secs(),
        verdict: pl.verdict,
        steps,
    })
}

fn waited(now: Timestamp, since: Timestamp) -> SignedDuration {
    now.duration_since(since).max(SignedDuration::ZERO)
}

/// Every waiter of the fleet, longest wait first: workloads that wait, and pending GPU pods
/// that belong to no workload listed (a pod of a waiting or admitted workload is part of that
/// workload's chain).
pub fn waiters(state: &FleetState) -> Vec<Wait> {
    let mut out: Vec<Wait> =
        state.gpu_workloads().keys().filter_map(|id| explain_workload(state, id)).collect();
    let listed: std::collections::BTreeSet<RecordId> = out.iter().map(Wait::id).collect();
    for (pid, p) in state.pending_gpu_pods() {
        if placement::workload_of(state, pid, p).is_some_and(|(wid, _)| listed.contains(wid)) {
            continue;
        }
        if let Some(w) = explain_pod(state, pid) {
            out.push(w);
        }
    }
    out.sort_by(|a, b| {
        b.waited_s
            .cmp(&a.waited_s)
            .then_with(|| a.cluster.cmp(&b.cluster))
            .then_with(|| (a.kind, &a.namespace, &a.name).cmp(&(b.kind, &b.namespace, &b.name)))
    });
    out
}

/// What `why` asks for: a workload or a pod by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Workload or pod.
    pub kind: SubjectKind,
    /// Its name; a workload also answers to its job's name (`Job/NAME` owner), since Kueue
    /// names workloads `job-NAME-<hash>`.
    pub name: String,
    /// Its namespace; any when absent.
    pub namespace: Option<String>,
    /// Cluster names or patterns; any when empty.
    pub clusters: Vec<String>,
}

/// `workload`, `workloads`, `wl` → workload; `pod`, `pods`, `po` → pod; else `None`.
pub fn subject_kind(kind: &str) -> Option<SubjectKind> {
    match kind.to_ascii_lowercase().as_str() {
        "workload" | "workloads" | "wl" | "workload.kueue.x-k8s.io" => Some(SubjectKind::Workload),
        "pod" | "pods" | "po" => Some(SubjectKind::Pod),
        _ => None,
    }
}

/// The waits that answer `target`, longest wait first (several when the name is in several
/// clusters or namespaces).
pub fn find(state: &FleetState, target: &Target) -> Vec<Wait> {
    let cluster_ok = |id: &RecordId| {
        target.clusters.is_empty()
            || target.clusters.iter().any(|p| crate::model::glob_matches(p, id.cluster.as_str()))
    };
    let ns_ok = |ns: &str| target.namespace.as_deref().is_none_or(|n| n == ns);
    let mut out: Vec<Wait> = match target.kind {
        SubjectKind::Workload => state
            .gpu_workloads()
            .iter()
            .filter(|(id, w)| cluster_ok(id) && ns_ok(&w.namespace))
            .filter(|(_, w)| {
                w.name == target.name
                    || w.owner
                        .as_deref()
                        .and_then(|o| o.split_once('/'))
                        .is_some_and(|(_, n)| n == target.name)
            })
            .filter_map(|(id, _)| explain_workload(state, id))
            .collect(),
        SubjectKind::Pod => state
            .pending_gpu_pods()
            .iter()
            .filter(|(id, p)| cluster_ok(id) && ns_ok(&p.namespace) && p.name == target.name)
            .filter_map(|(id, _)| explain_pod(state, id))
            .collect(),
    };
    out.sort_by(|a, b| b.waited_s.cmp(&a.waited_s).then_with(|| a.cluster.cmp(&b.cluster)));
    out
}

/// True when `state` holds a pending GPU pod called `name` (in `namespace` when given): `why
/// pod/NAME` then explains a wait, not a denial.
pub fn has_pending_pod(state: &FleetState, name: &str, namespace: Option<&str>) -> bool {
    state
        .pending_gpu_pods()
        .values()
        .any(|p: &PendingGpuPod| p.name == name && namespace.is_none_or(|n| n == p.namespace))
}

/// `hh:mm` of a timestamp in UTC, for verdicts.
pub(crate) fn hm(t: Timestamp) -> String {
    t.strftime("%H:%M").to_string()
}

/// A quantity without a trailing `.0`.
pub(crate) fn qty(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{}", v.round() as i64) } else { format!("{v:.1}") }
}

#[cfg(test)]
mod tests;
