//! Why was this denied: a merged denial row joined to the policy object that produced it (its
//! version at the time, rules, enforcement, owner), the exceptions that name or cover it,
//! and the source records behind it. Pure functions over the [`FleetState`]; the Denials
//! detail view and `fleettop why` both print what [`explain`] returns.

use jiff::Timestamp;
use serde::Serialize;

use crate::model::{Denial, ObjectRef, Policy, PolicyException, ReportSkip, ScopeMatch};
use crate::state::{FleetState, RecordId};

/// A denial with everything it joins to.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation<'a> {
    /// The merged row's cluster.
    pub cluster: &'a str,
    /// The row's key: engine, action, policy, rule and object (the same for every source
    /// record merged into it).
    pub row: &'a str,
    /// The row: the merged copy, or for a row of one record that record itself (its own `id`
    /// and object name).
    pub denial: &'a Denial,
    /// The policy object, when fleettop watches one of that engine, kind and name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<&'a Policy>,
    /// The ValidatingAdmissionPolicyBinding the denial names, when seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<&'a Policy>,
    /// Which generation of the policy the denial happened under.
    pub version: VersionAt,
    /// Exceptions that name or cover the denial, strongest link first.
    pub exceptions: Vec<ExceptionLink<'a>>,
    /// How many source records (events, report results, audit lines) were merged into it.
    pub sources: usize,
    /// Policy report skip results of the same policy for the same object (pods of one
    /// controller count as one) that name exceptions, newest first: the engine has since let
    /// the object through because of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skips: Vec<&'a ReportSkip>,
    /// The other side of the audit-log join (issue 16): for a policy denial, the audit lines
    /// that witnessed it (who was refused, when; at the Metadata level they carry no
    /// message); for an audit line of unknown cause, the policy denials that explain it. Same
    /// cluster, same object (pods of one controller as one; an unnamed object by kind and
    /// namespace), within [`JOIN_WINDOW`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub joined: Vec<&'a Denial>,
}

/// How far apart in time an audit line and an Event may be and still be joined.
pub const JOIN_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(2);

/// The policy generation a denial happened under, as far as fleettop can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum VersionAt {
    /// A source stated the generation (policy reports do).
    Stated {
        /// The generation.
        generation: i64,
    },
    /// Every occurrence came after the policy's last generation change (or no change was
    /// seen): the current generation.
    Current {
        /// The generation, when the policy object says.
        generation: Option<i64>,
    },
    /// Every occurrence came before the change fleettop saw.
    Before {
        /// The generation before the change.
        generation: Option<i64>,
        /// When the change was seen.
        changed_at: Timestamp,
    },
    /// Occurrences on both sides of the change.
    Spans {
        /// The generation before.
        from: Option<i64>,
        /// The generation after.
        to: Option<i64>,
        /// When the change was seen.
        changed_at: Timestamp,
    },
    /// No policy object is known.
    Unknown,
}

/// Why an exception is listed with a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkReason {
    /// A source (a report's `properties.exceptions`) named it.
    NamedBySource,
    /// It bypasses this policy and rule, and its match covers the object.
    Covers,
    /// It bypasses this policy and rule, and may cover the object (conditions fleettop does
    /// not evaluate).
    MayCover,
}

impl LinkReason {
    /// Words for the detail view.
    pub fn label(self) -> &'static str {
        match self {
            LinkReason::NamedBySource => "named by the evidence",
            LinkReason::Covers => "covers this policy, rule and object",
            LinkReason::MayCover => {
                "covers this policy and rule; may cover the object (conditions not evaluated)"
            }
        }
    }
}

/// One exception linked to a denial.
#[derive(Debug, Clone, Serialize)]
pub struct ExceptionLink<'a> {
    /// The exception record, when fleettop sees it; a name a source gave may not be watched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<&'a PolicyException>,
    /// The name as linked.
    pub name: String,
    /// Why it is linked.
    pub reason: LinkReason,
    /// True when the exception existed before the denial's last occurrence yet the request
    /// was still denied: the engine is not honouring it (wrong namespace for exceptions,
    /// feature off, expired CEL exception).
    pub denied_anyway: bool,
}

/// Explains the merged denial row `id`, or `None` when there is no such row.
pub fn explain<'a>(state: &'a FleetState, id: &'a RecordId) -> Option<Explanation<'a>> {
    let denial = state.denial_row(id)?;
    let policy = find_policy(state, id, denial);
    let binding = denial.binding.as_deref().and_then(|b| {
        FleetState::in_cluster(state.policies(), &id.cluster)
            .map(|(_, p)| p)
            .find(|p| p.kind == "ValidatingAdmissionPolicyBinding" && p.name == b)
    });
    Some(Explanation {
        cluster: id.cluster.as_str(),
        row: id.key.as_str(),
        denial,
        policy,
        binding,
        version: version_at(denial, policy),
        exceptions: exception_links(state, id, denial),
        sources: state.merged_denials().members(id).count(),
        skips: skips_of(state, id, denial),
        joined: joined(state, id, denial),
    })
}

/// True when the row's records came from the audit log.
fn from_audit(d: &Denial) -> bool {
    d.evidence.iter().all(|e| e.source == crate::model::EvidenceSource::AuditLog) && !d.evidence.is_empty()
}

/// The rows on the other side of the audit-log join (see [`Explanation::joined`]).
fn joined<'a>(state: &'a FleetState, id: &RecordId, d: &Denial) -> Vec<&'a Denial> {
    let witness = |x: &Denial| from_audit(x) && x.class == crate::model::DenialClass::Unattributed;
    let wanted: fn(&Denial) -> bool = if witness(d) {
        |x| x.class.is_admission() && !from_audit(x)
    } else if d.class.is_admission() && !from_audit(d) {
        |x| from_audit(x) && x.class == crate::model::DenialClass::Unattributed
    } else {
        return Vec::new();
    };
    let (kind, ns, name) = pods_as_one(&d.object);
    let overlaps =
        |x: &Denial| x.first_seen <= d.last_seen + JOIN_WINDOW && d.first_seen <= x.last_seen + JOIN_WINDOW;
    let unnamed = |n: &str| n == crate::model::ObjectRef::UNNAMED;
    let mut out: Vec<&Denial> = state
        .merged_denials()
        .in_cluster(&id.cluster, state.denials())
        .map(|(_, x)| x)
        .filter(|x| wanted(x) && overlaps(x))
        .filter(|x| {
            let (k, n, nm) = pods_as_one(&x.object);
            k == kind && n == ns && (nm == name || unnamed(nm) || unnamed(name))
        })
        .collect();
    out.sort_by_key(|d| std::cmp::Reverse(d.last_seen));
    out
}

/// The skip results in the denial's cluster for its policy and object, newest first.
fn skips_of<'a>(state: &'a FleetState, id: &RecordId, d: &Denial) -> Vec<&'a ReportSkip> {
    let policy = bare(d.policy_name());
    let object = pods_as_one(&d.object);
    let mut skips: Vec<&ReportSkip> = FleetState::in_cluster(state.skips(), &id.cluster)
        .map(|(_, s)| s)
        .filter(|s| bare(&s.policy) == policy && pods_as_one(&s.object) == object)
        .collect();
    skips.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.id.cmp(&b.id)));
    skips
}

/// An object as merged rows name it, without allocating: kind, namespace, and the name, or
/// for a controller's pods their shared prefix (`payments-7d9c-` for `payments-7d9c-x2k4q`,
/// `payments-7d9c-` and the merged `payments-7d9c-*`).
fn pods_as_one(o: &ObjectRef) -> (&str, Option<&str>, &str) {
    let name = match o.kind.as_str() {
        "Pod" => {
            crate::state::generated_prefix(&o.name).or_else(|| o.name.strip_suffix('*')).unwrap_or(&o.name)
        }
        _ => &o.name,
    };
    (&o.kind, o.namespace.as_deref(), name)
}

/// `ns/name` → `name`.
fn bare(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The policy object of `denial` in its cluster: same engine family and name; a namespaced
/// policy only for its own namespace (the `ns/` in the name, else the object's).
fn find_policy<'a>(state: &'a FleetState, id: &RecordId, denial: &Denial) -> Option<&'a Policy> {
    let named = denial.policy.as_ref()?;
    let (ns, name) = match named.name.split_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (named.namespace.as_deref().or(denial.object.namespace.as_deref()), named.name.as_str()),
    };
    FleetState::in_cluster(state.policies(), &id.cluster)
        .map(|(_, p)| p)
        .filter(|p| p.engine.same_family(denial.engine) && p.binds.is_none() && p.name == name)
        .filter(|p| p.namespace.is_none() || p.namespace.as_deref() == ns)
        // A cluster-wide policy and a namespaced one of the same name: the namespaced one is
        // the more specific match.
        .max_by_key(|p| p.namespace.is_some())
}

fn version_at(denial: &Denial, policy: Option<&Policy>) -> VersionAt {
    if let Some(generation) = denial.policy.as_ref().and_then(|p| p.generation) {
        return VersionAt::Stated { generation };
    }
    let Some(p) = policy else { return VersionAt::Unknown };
    match &p.rollout {
        Some(r) if denial.last_seen < r.at => VersionAt::Before { generation: r.from, changed_at: r.at },
        Some(r) if denial.first_seen < r.at => {
            VersionAt::Spans { from: r.from, to: p.generation, changed_at: r.at }
        }
        _ => VersionAt::Current { generation: p.generation },
    }
}

impl VersionAt {
    /// Words for the detail view: `generation 4 (changed from 3 at 14:08:00Z, before every
    /// occurrence)`.
    pub fn words(&self) -> String {
        let g = |g: &Option<i64>| g.map_or("?".to_string(), |g| g.to_string());
        let hm = |t: &Timestamp| t.strftime("%H:%M:%S").to_string();
        match self {
            VersionAt::Stated { generation } => format!("generation {generation} (as the source states)"),
            VersionAt::Current { generation } => format!("generation {} (the current one)", g(generation)),
            VersionAt::Before { generation, changed_at } => format!(
                "generation {} (every occurrence came before the change at {})",
                g(generation),
                hm(changed_at)
            ),
            VersionAt::Spans { from, to, changed_at } => format!(
                "generations {} and {} (occurrences on both sides of the change at {})",
                g(from),
                g(to),
                hm(changed_at)
            ),
            VersionAt::Unknown => "unknown (the policy object is not watched)".into(),
        }
    }
}

/// Exceptions named by a source, then those that cover the policy, rule and object.
fn exception_links<'a>(state: &'a FleetState, id: &RecordId, d: &Denial) -> Vec<ExceptionLink<'a>> {
    let in_cluster: Vec<(&RecordId, &PolicyException)> =
        FleetState::in_cluster(state.exceptions(), &id.cluster).collect();
    let mut links: Vec<ExceptionLink> = d
        .exceptions
        .iter()
        .map(|name| {
            let found = in_cluster
                .iter()
                .find(|(_, e)| e.name == *name || e.display_name() == *name || e.name == bare(name))
                .map(|(_, e)| *e);
            link(found, name.clone(), LinkReason::NamedBySource, d)
        })
        .collect();
    let policy = d.policy_name();
    let object: &ObjectRef = &d.object;
    for (_, e) in &in_cluster {
        if links.iter().any(|l| l.exception.is_some_and(|x| std::ptr::eq(x, *e))) {
            continue;
        }
        if !e.covers_policy(d.engine, policy, d.rule.as_deref()) {
            continue;
        }
        let reason = match e.covers_object(object) {
            Some(ScopeMatch::Matches) => LinkReason::Covers,
            Some(ScopeMatch::MayMatch) => LinkReason::MayCover,
            None => continue,
        };
        links.push(link(Some(e), e.display_name(), reason, d));
    }
    links.sort_by(|a, b| a.reason.cmp(&b.reason).then_with(|| a.name.cmp(&b.name)));
    links
}

fn link<'a>(
    e: Option<&'a PolicyException>,
    name: String,
    reason: LinkReason,
    d: &Denial,
) -> ExceptionLink<'a> {
    let denied_anyway = reason == LinkReason::Covers
        && d.enforcement == crate::model::Enforcement::Deny
        && e.and_then(|e| e.created_at).is_some_and(|c| c < d.last_seen);
    ExceptionLink { exception: e, name, reason, denied_anyway }
}

/// The merged denial rows of `exception`'s cluster that it is linked to, the way
/// [`explain`] links them (named by a source, or covering the policy, rule and object),
/// strongest link first, then most occurrences.
pub fn denials_linked_to<'a>(
    state: &'a FleetState,
    id: &RecordId,
    exception: &PolicyException,
) -> Vec<(&'a RecordId, &'a Denial, LinkReason)> {
    let names = [exception.name.clone(), exception.display_name()];
    let mut out: Vec<(&RecordId, &Denial, LinkReason)> = state
        .denial_rows_in(&id.cluster)
        .filter_map(|(rid, d)| {
            if d.exceptions.iter().any(|n| names.contains(n) || bare(n) == exception.name) {
                return Some((rid, d, LinkReason::NamedBySource));
            }
            if !exception.covers_policy(d.engine, d.policy_name(), d.rule.as_deref()) {
                return None;
            }
            match exception.covers_object(&d.object)? {
                ScopeMatch::Matches => Some((rid, d, LinkReason::Covers)),
                ScopeMatch::MayMatch => Some((rid, d, LinkReason::MayCover)),
            }
        })
        .collect();
    out.sort_by(|a, b| a.2.cmp(&b.2).then(b.1.count.cmp(&a.1.count)).then_with(|| a.0.cmp(b.0)));
    out
}

/// What `fleettop why` looks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `kind/name` of an object (`deployment/payments`, `pod/x`), case-insensitive kind.
    pub object: Option<(String, String)>,
    /// Namespace of the object (any when absent).
    pub namespace: Option<String>,
    /// Policy name (bare or `ns/name`).
    pub policy: Option<String>,
    /// Cluster (context) names or patterns (`prod-*`); any when empty.
    pub clusters: Vec<String>,
    /// Only denials last seen at or after this moment.
    pub since: Option<Timestamp>,
}

/// Kinds whose pods a denial on a Pod can belong to: `payments` owns `payments-7d9c-*`.
const POD_OWNERS: [&str; 6] = ["deployment", "replicaset", "statefulset", "daemonset", "job", "cronjob"];

impl Query {
    /// Whether the merged row `d` in `cluster` answers this query.
    pub fn matches(&self, cluster: &str, d: &Denial) -> bool {
        if !self.clusters.is_empty() && !self.clusters.iter().any(|p| crate::model::glob_matches(p, cluster))
        {
            return false;
        }
        if self.since.is_some_and(|s| d.last_seen < s) {
            return false;
        }
        if let Some(ns) = &self.namespace
            && d.object.namespace.as_deref() != Some(ns.as_str())
        {
            return false;
        }
        if let Some(p) = &self.policy
            && !(d.policy_name() == p || bare(d.policy_name()) == bare(p))
        {
            return false;
        }
        match &self.object {
            None => true,
            // A row of one record keeps its pod's own name; match it as its row reads.
            Some((kind, name)) => object_matches(kind, name, &crate::state::merged_object(&d.object)),
        }
    }
}

/// A kind as kubectl accepts it (`Deployment`, `deployments`, `deploy`) → `deployment`.
pub fn canonical_kind(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    let short = match k.as_str() {
        "po" => "pod",
        "deploy" => "deployment",
        "rs" => "replicaset",
        "sts" => "statefulset",
        "ds" => "daemonset",
        "cj" => "cronjob",
        "ns" => "namespace",
        "svc" => "service",
        _ => "",
    };
    if !short.is_empty() {
        return short.to_string();
    }
    // Plural resource names: `pods`, `deployments`, `ingresses`, `policies`.
    if let Some(stem) = k.strip_suffix("ies") {
        return format!("{stem}y");
    }
    if let Some(stem) = k.strip_suffix("sses").or_else(|| k.strip_suffix("xes")) {
        return format!("{stem}{}", if k.ends_with("sses") { "ss" } else { "x" });
    }
    match k.strip_suffix('s') {
        Some(stem) if !stem.ends_with('s') && !stem.is_empty() => stem.to_string(),
        _ => k,
    }
}

/// `deployment/payments` covers the Deployment itself and the pods named `payments-…` that
/// its ReplicaSets create; `pod/x` covers the pod and, when `x` is a generated name, its
/// merged row.
fn object_matches(kind: &str, name: &str, o: &ObjectRef) -> bool {
    let kind = canonical_kind(kind);
    let kind = kind.as_str();
    let same_kind = o.kind.eq_ignore_ascii_case(kind);
    if same_kind && o.name == name {
        return true;
    }
    if o.kind == "Pod" {
        if same_kind {
            // A merged `prefix-*` row covers each of its pods.
            return o.name.strip_suffix('*').is_some_and(|prefix| name.starts_with(prefix));
        }
        if POD_OWNERS.contains(&kind) {
            return o.name.strip_prefix(name).is_some_and(|rest| rest.starts_with('-'));
        }
    }
    false
}

/// The merged rows that answer `query`, most recent first.
pub fn find<'a>(state: &'a FleetState, query: &Query) -> Vec<&'a RecordId> {
    let mut found: Vec<(&RecordId, &Denial)> =
        state.denial_rows().filter(|(id, d)| query.matches(id.cluster.as_str(), d)).collect();
    found.sort_by(|(ia, a), (ib, b)| b.last_seen.cmp(&a.last_seen).then_with(|| ia.cmp(ib)));
    found.into_iter().map(|(id, _)| id).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::model::{Enforcement, Engine, PolicyRef, Rollout};

    fn demo_end() -> FleetState {
        let sim = crate::sim::demo_incident(crate::sim::DEMO_SEED, crate::sim::demo_start());
        sim.state_at(sim.end)
    }

    /// The demo's incident: the payments Deployment in prod-eu-west-1.
    fn payments_query() -> Query {
        Query {
            object: Some(("deployment".into(), "payments".into())),
            namespace: Some("shop".into()),
            clusters: vec!["prod-eu-west-1".into()],
            ..Query::default()
        }
    }

    fn denial() -> Denial {
        Denial {
            class: Default::default(),
            id: "d".into(),
            engine: Engine::Kyverno,
            enforcement: Enforcement::Deny,
            policy: Some(PolicyRef {
                kind: "ClusterPolicy".into(),
                name: "p".into(),
                namespace: None,
                generation: None,
                resource_version: None,
            }),
            webhook: None,
            binding: None,
            rule: Some("r".into()),
            object: pod("shop", "web-0"),
            operation: None,
            user: None,
            message: "denied".into(),
            count: 1,
            first_seen: Timestamp::UNIX_EPOCH,
            last_seen: Timestamp::UNIX_EPOCH,
            severity: None,
            category: None,
            owner: None,
            exceptions: Vec::new(),
            evidence: Vec::new(),
        }
    }

    fn pod(ns: &str, name: &str) -> ObjectRef {
        ObjectRef { kind: "Pod".into(), namespace: Some(ns.into()), name: name.into() }
    }

    #[test]
    fn an_audit_line_without_message_joins_the_event_that_names_the_policy() {
        use crate::model::{Change, ClusterId, DenialClass, Observation, Record};
        let c = ClusterId::new("real");
        let mut state = FleetState::with_clusters(Timestamp::UNIX_EPOCH, [&c]);
        let mut put = |d: Denial| {
            state.apply(&Observation {
                at: d.last_seen,
                cluster: c.clone(),
                change: Change::Upsert { record: Record::Denial(d) },
            })
        };
        // The real v1.20 apiserver's Metadata-level line for the LimitRange refusal of pod "big"
        // (tests/fixtures/real/audit), and the message kubectl got for that request.
        let path = format!(
            "{}/tests/fixtures/real/audit/real-apiserver-v1.20-metadata-403.jsonl",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).unwrap();
        let line = text.lines().rfind(|l| l.contains("\"name\":\"big\"")).unwrap();
        let audit = crate::sources::parse::audit::parse_line(line).unwrap().remove(0);
        assert_eq!(audit.class, DenialClass::Unattributed);
        let parsed = crate::sources::parse::denial::parse(
            "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2",
        );
        let mut event = denial();
        event.id = "event/q/big.1".into();
        event.engine = parsed.engine;
        event.policy = None;
        event.rule = parsed.findings[0].rule.clone();
        event.object = pod("q", "big");
        event.evidence = vec![crate::model::Evidence {
            source: crate::model::EvidenceSource::Event,
            reference: "Event q/big.1".into(),
            at: audit.last_seen,
            excerpt: parsed.raw.clone(),
        }];
        (event.first_seen, event.last_seen) =
            (audit.first_seen + SignedDuration::from_secs(1), audit.last_seen + SignedDuration::from_secs(1));
        let far = Denial {
            id: "event/q/big.2".into(),
            first_seen: audit.last_seen + SignedDuration::from_mins(30),
            last_seen: audit.last_seen + SignedDuration::from_mins(30),
            ..event.clone()
        };
        let far = Denial { rule: Some("other".into()), ..far };
        put(audit);
        put(event);
        put(far);
        let rows: Vec<RecordId> = state.denial_rows().map(|(id, _)| id.clone()).collect();
        let explained: Vec<Explanation> = rows.iter().filter_map(|id| explain(&state, id)).collect();
        let of =
            |class: fn(&Denial) -> bool| explained.iter().filter(|e| class(e.denial)).collect::<Vec<_>>();
        let audit_rows = of(|d| d.class == DenialClass::Unattributed);
        assert_eq!(audit_rows.len(), 1);
        let by = &audit_rows[0].joined;
        assert_eq!(by.len(), 1, "only the event at the same time explains it: {by:#?}");
        assert_eq!(
            (by[0].engine, by[0].rule.as_deref()),
            (Engine::LimitRange, Some("maximum cpu usage per Container"))
        );
        let event_rows = of(|d| d.class.is_admission() && d.rule.as_deref() != Some("other"));
        assert_eq!(event_rows[0].joined.len(), 1);
        assert_eq!(event_rows[0].joined[0].user.as_deref(), Some("admin"));
        let far_rows = of(|d| d.rule.as_deref() == Some("other"));
        assert!(far_rows[0].joined.is_empty(), "30 minutes apart is not the same request");
    }

    #[test]
    fn kinds_as_kubectl_takes_them() {
        for (k, want) in [
            ("Deployment", "deployment"),
            ("deployments", "deployment"),
            ("deploy", "deployment"),
            ("po", "pod"),
            ("pods", "pod"),
            ("sts", "statefulset"),
            ("ingresses", "ingress"),
            ("ingress", "ingress"),
            ("networkpolicies", "networkpolicy"),
            ("", ""),
        ] {
            assert_eq!(canonical_kind(k), want, "{k}");
        }
    }

    #[test]
    fn a_workload_covers_the_pods_it_creates_and_a_pod_its_merged_row() {
        let merged = pod("shop", "payments-7d9c-*");
        assert!(object_matches("deployment", "payments", &merged));
        assert!(object_matches("rs", "payments-7d9c", &merged));
        assert!(object_matches("pod", "payments-7d9c-x2k4q", &merged));
        assert!(!object_matches("deployment", "pay", &merged), "a name prefix is not a workload");
        assert!(!object_matches("service", "payments", &merged));
        let deployment =
            ObjectRef { kind: "Deployment".into(), namespace: Some("shop".into()), name: "payments".into() };
        assert!(object_matches("deployments", "payments", &deployment));
        assert!(!object_matches("pod", "payments", &deployment));
    }

    #[test]
    fn queries_narrow_by_cluster_pattern_namespace_policy_and_time() {
        let state = demo_end();
        let all = find(&state, &Query { since: Some(Timestamp::MIN), ..Query::default() });
        assert_eq!(all.len(), state.merged_denials().len());
        let q = Query {
            clusters: vec!["prod-*".into()],
            policy: Some("require-run-as-nonroot".into()),
            ..Query::default()
        };
        let found = find(&state, &q);
        assert!(!found.is_empty());
        assert!(found.iter().all(|id| id.cluster.as_str().starts_with("prod-")));
        let times: Vec<Timestamp> =
            found.iter().filter_map(|id| state.denial_row(id)).map(|d| d.last_seen).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "latest first");
        let recent = Query { since: Some(state.now() - SignedDuration::from_mins(1)), ..Query::default() };
        assert!(find(&state, &recent).len() < all.len());
        let in_search =
            Query { namespace: Some("search".into()), since: Some(Timestamp::MIN), ..Query::default() };
        assert!(
            find(&state, &in_search).iter().all(|id| state.denial_row(id).is_some_and(|d| d
                .object
                .namespace
                .as_deref()
                == Some("search")))
        );
    }

    #[test]
    fn the_demo_rollout_joins_its_policy_object_and_the_on_call_exception() {
        let state = demo_end();
        let q = payments_query();
        let found = find(&state, &q);
        let pods = found
            .iter()
            .filter_map(|id| explain(&state, id))
            .find(|e| e.denial.object.kind == "Pod" && e.denial.enforcement == Enforcement::Deny)
            .unwrap();
        let policy = pods.policy.unwrap();
        assert_eq!((policy.kind.as_str(), policy.generation), ("ClusterPolicy", Some(4)));
        assert_eq!(pods.sources, 2, "FailedCreate and Kyverno's own event");
        let link = pods.exceptions.iter().find(|l| l.reason == LinkReason::NamedBySource).unwrap();
        assert!(link.exception.is_some(), "the named exception is watched: {}", link.name);
        // And back: the exception's detail finds that row.
        let (eid, e) = state.exceptions().iter().find(|(_, e)| e.display_name() == link.name).unwrap();
        assert!(
            denials_linked_to(&state, eid, e)
                .iter()
                .any(|(_, d, r)| *r == LinkReason::NamedBySource && d.object == pods.denial.object)
        );
    }

    #[test]
    fn pods_of_one_controller_are_one_object_whatever_their_name_says() {
        let key = |kind: &str, name: &str| {
            let o = ObjectRef { kind: kind.into(), namespace: Some("shop".into()), name: name.into() };
            let (k, ns, n) = pods_as_one(&o);
            (k.to_string(), ns.map(str::to_string), n.to_string())
        };
        let merged = key("Pod", "payments-7d9c-*");
        assert_eq!(key("Pod", "payments-7d9c-x2k4q"), merged);
        assert_eq!(key("Pod", "payments-7d9c-"), merged);
        assert_ne!(key("Pod", "payments-8e0d-x2k4q"), merged);
        assert_ne!(key("Deployment", "payments-7d9c-*"), merged);
        assert_eq!(key("Deployment", "payments").2, "payments");
        assert_eq!(key("Pod", "web-0").2, "web-0", "not a generated name");
    }

    #[test]
    fn an_explanation_lists_the_skips_of_its_policy_for_its_object_and_its_controllers_pods() {
        let state = demo_end();
        let q = payments_query();
        let explained: Vec<Explanation> =
            find(&state, &q).iter().filter_map(|id| explain(&state, id)).collect();
        let blocked_pods = explained
            .iter()
            .find(|e| e.denial.object.kind == "Pod" && e.denial.enforcement == Enforcement::Deny)
            .unwrap();
        let names: Vec<&str> = blocked_pods.skips.iter().map(|s| s.object.name.as_str()).collect();
        assert_eq!(names.len(), 3, "the three admitted pods of the blocked ReplicaSet: {names:?}");
        assert!(blocked_pods.skips.windows(2).all(|w| w[0].at >= w[1].at), "newest first");
        assert!(blocked_pods.skips.iter().all(|s| s.exceptions == ["payments-runasroot-incident-4711"]));
        let deployment = explained.iter().find(|e| e.denial.object.kind == "Deployment").unwrap();
        assert_eq!(deployment.skips.len(), 1);
        // The audit findings of generation 3 were about other pods (another ReplicaSet).
        let audit = explained.iter().find(|e| e.denial.enforcement == Enforcement::Audit).unwrap();
        assert!(audit.skips.is_empty(), "{:?}", audit.skips);
        let json = serde_json::to_value(audit).unwrap();
        assert!(json.get("skips").is_none(), "not written when there are none");
    }

    #[test]
    fn the_version_a_denial_happened_under() {
        let mut d = denial();
        let at = |s: &str| -> Timestamp { s.parse().unwrap() };
        let mut p = crate::model::Policy {
            engine: Engine::Kyverno,
            kind: "ClusterPolicy".into(),
            namespace: None,
            name: "p".into(),
            generation: Some(4),
            resource_version: None,
            rules: Vec::new(),
            enforcement: None,
            binds: None,
            severity: None,
            category: None,
            owner: None,
            ready: None,
            created_at: None,
            rollout: Some(Rollout { from: Some(3), at: at("2026-11-27T14:08:00Z") }),
        };
        d.policy.as_mut().unwrap().generation = None;
        (d.first_seen, d.last_seen) = (at("2026-11-27T14:00:00Z"), at("2026-11-27T14:05:00Z"));
        assert_eq!(
            version_at(&d, Some(&p)),
            VersionAt::Before { generation: Some(3), changed_at: at("2026-11-27T14:08:00Z") }
        );
        d.last_seen = at("2026-11-27T14:09:00Z");
        assert!(matches!(version_at(&d, Some(&p)), VersionAt::Spans { from: Some(3), to: Some(4), .. }));
        d.first_seen = at("2026-11-27T14:08:30Z");
        assert_eq!(version_at(&d, Some(&p)), VersionAt::Current { generation: Some(4) });
        p.rollout = None;
        assert_eq!(version_at(&d, Some(&p)), VersionAt::Current { generation: Some(4) });
        assert_eq!(version_at(&d, None), VersionAt::Unknown);
        d.policy.as_mut().unwrap().generation = Some(2);
        assert_eq!(version_at(&d, Some(&p)), VersionAt::Stated { generation: 2 });
    }
}
