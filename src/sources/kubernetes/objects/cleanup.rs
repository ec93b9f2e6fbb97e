//! Kyverno (Cluster)CleanupPolicies that delete policy exceptions (REFERENCE.md §2): the
//! third step of an exception's expiry, after `spec.expiresAt` and the TTL label.
//!
//! A cleanup policy (`kyverno.io` v2, v2beta1, v2alpha1) deletes what its `spec.match`
//! selects and its `spec.exclude` does not, each time its cron `spec.schedule` fires. The
//! kyverno/policies sample `expiration-for-policyexceptions` generates one per exception, with
//! a schedule for one moment (`30 18 27 11 *`) and a match naming the exception.
//!
//! When it fires: Kyverno's cleanup controller runs a policy at the next time its schedule
//! matches after the policy's creation (then after each run), in the controller's local time,
//! which is UTC in Kyverno's images; the CRD has no time-zone field, so schedules are read in
//! UTC. An exception goes at the first run at which it exists: the first fire strictly after
//! both it and the policy were created.

use jiff::Timestamp;
use kube::api::DynamicObject;
use serde_json::Value;

use super::{array_at, at, created, in_group, kind, str_at, strings_at};
use crate::model::{Engine, Evidence, EvidenceSource, ExpirySource, PolicyException, glob_matches, ns_name};

/// A (Cluster)CleanupPolicy as far as exceptions need it: what it matches and when it runs.
/// Status (`lastExecutionTime`) is left out, so a run of the policy changes nothing here.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanupPolicy {
    /// `ClusterCleanupPolicy` or `CleanupPolicy`.
    pub kind: String,
    /// The namespace of a `CleanupPolicy`: it only deletes objects there.
    pub namespace: Option<String>,
    /// The policy's name.
    pub name: String,
    /// `metadata.creationTimestamp`: it never runs before it exists.
    pub created_at: Option<Timestamp>,
    /// `spec.schedule`, verbatim.
    pub schedule: String,
    /// The parsed schedule, or why it could not be read.
    cron: Result<croner::Cron, String>,
    /// `spec.match`: what it deletes.
    matches: Selection,
    /// `spec.exclude`: what it spares.
    exclude: Selection,
    /// `spec.conditions` is set: fleettop does not evaluate them.
    conditions: bool,
}

/// `spec.match` or `spec.exclude`: `any` (one filter is enough) and `all` (every filter).
#[derive(Debug, Clone, Default, PartialEq)]
struct Selection {
    any: Vec<Filter>,
    all: Vec<Filter>,
}

/// One `resources` filter: kinds, namespaces and names (globs; empty = any).
#[derive(Debug, Clone, Default, PartialEq)]
struct Filter {
    kinds: Vec<String>,
    namespaces: Vec<String>,
    names: Vec<String>,
    /// Selectors, annotations, operations or subjects that fleettop does not evaluate.
    unevaluated: bool,
}

/// Whether something applies: surely not, perhaps (unevaluated parts), or surely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tri {
    No,
    Maybe,
    Yes,
}

/// How a cleanup policy covers an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cover {
    /// Its match selects the exception and nothing unevaluated stands in the way.
    Deletes,
    /// It selects the exception as far as fleettop can tell; conditions, selectors or
    /// annotations it does not evaluate may spare it.
    MayDelete,
}

/// A Kyverno `ClusterCleanupPolicy` or `CleanupPolicy` (`kyverno.io`, any version). `None`
/// for other objects and one without a name. A schedule that does not parse is kept (as
/// unreadable), so the evidence can say so.
pub fn cleanup_policy(obj: &DynamicObject) -> Option<CleanupPolicy> {
    if !in_group(obj, &["kyverno.io"])
        || kind(obj).is_some_and(|k| k != "ClusterCleanupPolicy" && k != "CleanupPolicy")
    {
        return None;
    }
    let meta = &obj.metadata;
    let name = meta.name.clone().filter(|n| !n.is_empty())?;
    // List items may come without a kind: the namespace tells which of the two it is.
    let namespace = meta.namespace.clone().filter(|n| !n.is_empty());
    let kind = match (kind(obj), &namespace) {
        (Some(k), _) => k.to_string(),
        (None, Some(_)) => "CleanupPolicy".to_string(),
        (None, None) => "ClusterCleanupPolicy".to_string(),
    };
    let d = &obj.data;
    let schedule = at(d, &["spec", "schedule"]).and_then(Value::as_str).unwrap_or("").to_string();
    let namespace = match kind.as_str() {
        // A namespaced policy deletes only in its namespace; without one it is malformed.
        "CleanupPolicy" => Some(namespace?),
        _ => None,
    };
    Some(CleanupPolicy {
        namespace,
        kind,
        created_at: created(meta),
        cron: parse_schedule(&schedule),
        matches: selection(at(d, &["spec", "match"])),
        exclude: selection(at(d, &["spec", "exclude"])),
        conditions: at(d, &["spec", "conditions"]).is_some_and(|c| !c.is_null()),
        schedule,
        name,
    })
}

/// A schedule as Kyverno accepts it: five fields (minute, hour, day of month, month, day of
/// week) or a nickname (`@daily`); no seconds, no year.
fn parse_schedule(schedule: &str) -> Result<croner::Cron, String> {
    use croner::parser::{CronParser, Seconds, Year};
    if schedule.trim().is_empty() {
        return Err("no spec.schedule".into());
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(schedule)
        .map_err(|e| e.to_string())
}

fn selection(v: Option<&Value>) -> Selection {
    let v = v.unwrap_or(&Value::Null);
    let filters = |key: &str| array_at(v, &[key]).iter().map(filter).collect();
    Selection { any: filters("any"), all: filters("all") }
}

fn filter(f: &Value) -> Filter {
    let r = f.get("resources").unwrap_or(&Value::Null);
    let mut names = strings_at(r, &["names"]);
    names.extend(str_at(r, &["name"]).map(str::to_string));
    let evaluated = ["kinds", "namespaces", "names", "name"];
    let set = |v: &Value| !(v.is_null() || v.as_array().is_some_and(Vec::is_empty));
    let unevaluated =
        r.as_object().is_some_and(|m| m.iter().any(|(k, v)| !evaluated.contains(&k.as_str()) && set(v)))
            || f.as_object().is_some_and(|m| m.iter().any(|(k, v)| k != "resources" && set(v)));
    Filter {
        kinds: strings_at(r, &["kinds"]),
        namespaces: strings_at(r, &["namespaces"]),
        names,
        unevaluated,
    }
}

/// The API group a PolicyException record came from.
fn exception_group(e: &PolicyException) -> Option<&'static str> {
    match (e.engine, e.kind.as_str()) {
        (Engine::Kyverno, "PolicyException") => Some("kyverno.io"),
        (Engine::KyvernoCel, "PolicyException") => Some("policies.kyverno.io"),
        _ => None,
    }
}

/// Whether one of Kyverno's kind selectors names `group`'s `kind`: `Kind`, `version/Kind` or
/// `group/version/Kind` (globs). Versions are not compared: every served version lists the
/// same objects. A subresource (`group/version/Kind/status`) is not the object.
fn kind_matches(selector: &str, group: &str, kind: &str) -> bool {
    let parts: Vec<&str> = selector.split('/').collect();
    match parts.as_slice() {
        [k] | [_, k] => glob_matches(k, kind),
        [g, _, k] => glob_matches(g, group) && glob_matches(k, kind),
        _ => false,
    }
}

impl Filter {
    fn test(&self, group: &str, e: &PolicyException) -> Tri {
        let ns = e.namespace.as_deref().unwrap_or("");
        let hit = (self.kinds.is_empty() || self.kinds.iter().any(|k| kind_matches(k, group, &e.kind)))
            && (self.namespaces.is_empty() || self.namespaces.iter().any(|g| glob_matches(g, ns)))
            && (self.names.is_empty() || self.names.iter().any(|g| glob_matches(g, &e.name)));
        match (hit, self.unevaluated) {
            (false, _) => Tri::No,
            (true, true) => Tri::Maybe,
            (true, false) => Tri::Yes,
        }
    }
}

impl Selection {
    /// `any` holds when one filter does, `all` when every one does, both when both are given;
    /// an empty selection selects nothing.
    fn test(&self, group: &str, e: &PolicyException) -> Tri {
        if self.any.is_empty() && self.all.is_empty() {
            return Tri::No;
        }
        let any = self.any.iter().map(|f| f.test(group, e)).max().unwrap_or(Tri::Yes);
        let all = self.all.iter().map(|f| f.test(group, e)).min().unwrap_or(Tri::Yes);
        any.min(all)
    }
}

impl CleanupPolicy {
    /// `ClusterCleanupPolicy name` or `CleanupPolicy ns/name`.
    pub fn display(&self) -> String {
        format!("{} {}", self.kind, ns_name(self.namespace.as_deref(), &self.name))
    }

    /// Whether this policy deletes `e` when it runs: `spec.match` selects it (kind, namespace,
    /// name), `spec.exclude` does not, and a `CleanupPolicy` is in its namespace. Selectors,
    /// annotations and `spec.conditions` are not evaluated: where they could decide, it
    /// [`Cover::MayDelete`]. `None` when it does not cover it.
    pub fn covers(&self, e: &PolicyException) -> Option<Cover> {
        let group = exception_group(e)?;
        if self.namespace.is_some() && self.namespace != e.namespace {
            return None;
        }
        let matched = self.matches.test(group, e);
        let excluded = self.exclude.test(group, e);
        match (matched, excluded) {
            (Tri::No, _) | (_, Tri::Yes) => None,
            (Tri::Yes, Tri::No) if !self.conditions => Some(Cover::Deletes),
            _ => Some(Cover::MayDelete),
        }
    }

    /// The first time the schedule fires strictly after `after`, in UTC; why not when the
    /// schedule is unreadable or never fires.
    pub fn next_run(&self, after: Timestamp) -> Result<Timestamp, String> {
        let cron = self.cron.as_ref().map_err(Clone::clone)?;
        next_fire(cron, after)
    }

    /// `ClusterCleanupPolicy name (schedule "30 18 27 11 *")`.
    fn quoted(&self) -> String {
        format!("{} (schedule {:?})", self.display(), self.schedule)
    }
}

/// The first fire of `cron` strictly after `after`, searched in UTC. croner works on the jiff
/// that k8s-openapi uses (0.2); this is the one place times cross between the two.
fn next_fire(cron: &croner::Cron, after: Timestamp) -> Result<Timestamp, String> {
    use k8s_openapi::jiff as jiff02;
    let start = jiff02::Timestamp::from_nanosecond(after.as_nanosecond()).map_err(|e| e.to_string())?;
    let next = cron
        .find_next_occurrence(&start.to_zoned(jiff02::tz::TimeZone::UTC), false)
        .map_err(|e| format!("never fires: {e}"))?;
    Timestamp::from_nanosecond(next.timestamp().as_nanosecond()).map_err(|e| e.to_string())
}

/// One covering policy, as the join weighs it.
struct Candidate<'a> {
    policy: &'a CleanupPolicy,
    cover: Cover,
    /// When it deletes the exception; `Ok(None)` when no creation time is known to count from.
    run: Result<Option<Timestamp>, String>,
}

impl Candidate<'_> {
    /// Readable schedules first, then sure deletions, then known times, the earliest first.
    fn rank(&self) -> (bool, Cover, bool, Option<Timestamp>) {
        let at = self.run.clone().ok().flatten();
        (self.run.is_err(), self.cover, at.is_none(), at)
    }

    fn evidence(&self, chosen: bool) -> Evidence {
        let p = self.policy;
        let mut excerpt = p.quoted();
        let verb = match (self.cover, chosen) {
            (Cover::Deletes, true) => "deletes it",
            (Cover::Deletes, false) => "also deletes it",
            (Cover::MayDelete, _) => "may delete it",
        };
        match &self.run {
            Ok(Some(t)) => excerpt.push_str(&format!(": its run at {t} (UTC) {verb}")),
            Ok(None) => {
                excerpt.push_str(&format!(": {verb} at its first run (no creation time to count from)"))
            }
            Err(why) => excerpt.push_str(&format!(": schedule unreadable ({why}), no expiry from it")),
        }
        if self.cover == Cover::MayDelete {
            let mut why = Vec::new();
            if p.conditions {
                why.push("its spec.conditions are not evaluated");
            }
            if p.matches.unevaluated() || p.exclude.unevaluated() {
                why.push("its match/exclude use selectors or annotations that are not evaluated");
            }
            excerpt.push_str(&format!(" ({})", why.join("; ")));
        }
        Evidence {
            source: EvidenceSource::Object,
            reference: format!("{}/{}", p.kind, ns_name(p.namespace.as_deref(), &p.name)),
            at: p.created_at.unwrap_or(Timestamp::UNIX_EPOCH),
            excerpt,
        }
    }
}

impl Selection {
    fn unevaluated(&self) -> bool {
        self.any.iter().chain(&self.all).any(|f| f.unevaluated)
    }
}

/// An exception with the cleanup-policy step of its expiry done. The order is
/// `spec.expiresAt` → the TTL label → a cleanup policy → a configured annotation → none, so
/// an exception whose expiry came from the first two is returned unchanged. Otherwise the
/// covering policies are weighed: one that surely deletes it before one that may (conditions
/// or selectors not evaluated), then the earliest run; its run becomes the expiry
/// ([`ExpirySource::CleanupPolicy`]). Every covering policy is added to the evidence, the
/// chosen one first; one whose schedule is unreadable gives no expiry and says so.
pub fn with_cleanup_expiry<'a>(
    mut e: PolicyException,
    policies: impl IntoIterator<Item = &'a CleanupPolicy>,
) -> PolicyException {
    if matches!(e.expiry_source, ExpirySource::ExpiresAt | ExpirySource::TtlLabel { .. }) {
        return e;
    }
    let mut candidates: Vec<Candidate> = policies
        .into_iter()
        .filter_map(|policy| {
            let cover = policy.covers(&e)?;
            let after = match (e.created_at, policy.created_at) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            let run = match (&policy.cron, after) {
                (Err(why), _) => Err(why.clone()),
                (Ok(_), None) => Ok(None),
                (Ok(_), Some(after)) => policy.next_run(after).map(Some),
            };
            Some(Candidate { policy, cover, run })
        })
        .collect();
    if candidates.is_empty() {
        return e;
    }
    candidates.sort_by_key(|c| (c.rank(), c.policy.display()));
    let chosen = candidates.first().filter(|c| c.run.is_ok());
    if let Some(c) = chosen {
        e.expires_at = c.run.clone().ok().flatten();
        e.expiry_source = ExpirySource::CleanupPolicy { name: c.policy.name.clone() };
    }
    let has_chosen = chosen.is_some();
    e.evidence.extend(candidates.iter().enumerate().map(|(i, c)| c.evidence(i == 0 && has_chosen)));
    e
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use proptest::prelude::*;
    use serde_json::json;

    use super::super::test_support::{arb_mutation, arb_object, doc, object, with};
    use super::super::{ProjectionConfig, policy_exception};
    use super::*;

    /// The kyverno/policies sample that generates a ClusterCleanupPolicy per exception.
    const GENERATOR: &str = include_str!(
        "../../../../tests/fixtures/real/kyverno/clusterpolicy-expiration-for-policyexceptions.yaml"
    );
    const DELTA: &str = include_str!("../../../../tests/fixtures/real/kyverno/policyexception-v2-delta.yaml");

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// The ClusterCleanupPolicy the sample generates for exception `shop/payments-x` created at
    /// 14:30Z: its `generate.data` with the templates filled as Kyverno would (`time_add` of 4h
    /// then `time_to_cron`: `30 18 27 11 *`).
    fn generated() -> Value {
        let rule = &doc(GENERATOR)["spec"][0];
        let generate = &rule["generate"];
        let data = serde_json::to_string(&generate["data"])
            .unwrap()
            .replace("{{ request.namespace }}", "shop")
            .replace("{{ request.object.metadata.name }}", "payments-x")
            .replace("{{ time_add('{{ time_now_utc() }}','4h') | time_to_cron(@) }}", "30 18 27 11 *");
        let mut v: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(v["spec"]["schedule"], "30 18 27 11 *", "every template is filled: {v}");
        v["apiVersion"] = generate["apiVersion"].clone();
        v["kind"] = generate["kind"].clone();
        v["metadata"]["name"] = json!("polex-shop-payments-x");
        v["metadata"]["creationTimestamp"] = json!("2026-11-27T14:30:01Z");
        v
    }

    /// The delta fixture as `ns/name`, created at `created`.
    fn exception_value(ns: &str, name: &str, created: &str) -> Value {
        let v = with(doc(DELTA), &["metadata", "name"], json!(name));
        let v = with(v, &["metadata", "namespace"], json!(ns));
        with(v, &["metadata", "creationTimestamp"], json!(created))
    }

    fn exception_at(ns: &str, name: &str, created: &str) -> PolicyException {
        policy_exception(&object(exception_value(ns, name, created)), &ProjectionConfig::default()).unwrap()
    }

    fn exception() -> PolicyException {
        exception_at("shop", "payments-x", "2026-11-27T14:30:00Z")
    }

    fn policy(v: Value) -> CleanupPolicy {
        cleanup_policy(&object(v)).expect("a cleanup policy")
    }

    /// A ClusterCleanupPolicy created at 2026-01-01 with `spec`.
    fn cluster_policy(name: &str, spec: Value) -> CleanupPolicy {
        policy(json!({"apiVersion": "kyverno.io/v2", "kind": "ClusterCleanupPolicy",
            "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": spec}))
    }

    /// Matching only: a daily schedule and `match.any[0].resources = resources`.
    fn matching(resources: Value) -> CleanupPolicy {
        cluster_policy("p", json!({"schedule": "0 0 * * *", "match": {"any": [{"resources": resources}]}}))
    }

    #[test]
    fn the_generated_one_shot_policy_expires_its_exception_at_the_intended_moment() {
        let p = policy(generated());
        assert_eq!((p.kind.as_str(), p.namespace.as_deref()), ("ClusterCleanupPolicy", None));
        assert_eq!(p.covers(&exception()), Some(Cover::Deletes));
        let e = with_cleanup_expiry(exception(), [&p]);
        assert_eq!(e.expires_at, Some(ts("2026-11-27T18:30:00Z")), "4 h after creation");
        assert_eq!(e.expiry_source, ExpirySource::CleanupPolicy { name: "polex-shop-payments-x".into() });
        assert_eq!(e.evidence.len(), 2, "the exception, then the policy");
        assert!(e.evidence[0].excerpt.starts_with("no spec.expiresAt"), "{:?}", e.evidence[0]);
        let ev = &e.evidence[1];
        assert_eq!(ev.reference, "ClusterCleanupPolicy/polex-shop-payments-x");
        assert_eq!((ev.source, ev.at), (EvidenceSource::Object, ts("2026-11-27T14:30:01Z")));
        assert_eq!(
            ev.excerpt,
            r#"ClusterCleanupPolicy polex-shop-payments-x (schedule "30 18 27 11 *"): its run at 2026-11-27T18:30:00Z (UTC) deletes it"#
        );
        // The sample's policy names one exception: its neighbours are not covered.
        for other in [
            exception_at("shop", "payments-y", "2026-11-27T14:30:00Z"),
            exception_at("web", "payments-x", "2026-11-27T14:30:00Z"),
        ] {
            assert_eq!(p.covers(&other), None, "{}", other.display_name());
            assert_eq!(with_cleanup_expiry(other, [&p]).expiry_source, ExpirySource::None);
        }
    }

    #[test]
    fn kinds_match_bare_versioned_and_grouped_with_wildcards() {
        let cel = policy_exception(
            &object(json!({"apiVersion": "policies.kyverno.io/v1", "kind": "PolicyException",
                "metadata": {"name": "payments-x", "namespace": "shop"}, "spec": {"policyRefs": [{"name": "p"}]}})),
            &ProjectionConfig::default(),
        )
        .unwrap();
        for (kinds, v2, v1_cel) in [
            (json!(["PolicyException"]), true, true),
            (json!(["kyverno.io/v2/PolicyException"]), true, false),
            (json!(["kyverno.io/v2beta1/PolicyException"]), true, false),
            (json!(["kyverno.io/*/PolicyException"]), true, false),
            (json!(["v2/PolicyException"]), true, true),
            (json!(["policies.kyverno.io/v1/PolicyException"]), false, true),
            (json!(["*.kyverno.io/*/Policy*"]), false, true),
            (json!(["*"]), true, true),
            (json!(["Pod", "ConfigMap"]), false, false),
            (json!(["kyverno.io/v2/PolicyException/status"]), false, false),
            (json!([]), true, true),
        ] {
            let p = matching(json!({"kinds": kinds}));
            assert_eq!(p.covers(&exception()).is_some(), v2, "{kinds} on kyverno.io/v2");
            assert_eq!(p.covers(&cel).is_some(), v1_cel, "{kinds} on policies.kyverno.io/v1");
        }
    }

    #[test]
    fn namespaces_and_names_are_globs_and_exclude_spares() {
        let e = exception();
        let covers = |r: Value| matching(r).covers(&e);
        assert_eq!(
            covers(json!({"kinds": ["PolicyException"], "namespaces": ["sh*"], "names": ["payments-?"]})),
            Some(Cover::Deletes)
        );
        assert_eq!(
            covers(json!({"kinds": ["PolicyException"], "namespaces": ["web", "shop"]})),
            Some(Cover::Deletes)
        );
        assert_eq!(covers(json!({"kinds": ["PolicyException"], "namespaces": ["web"]})), None);
        assert_eq!(
            covers(json!({"kinds": ["PolicyException"], "name": "payments-*"})),
            Some(Cover::Deletes),
            "the deprecated `name`"
        );
        assert_eq!(covers(json!({"kinds": ["PolicyException"], "names": ["orders-*"]})), None);

        let spec = |exclude: Value| json!({"schedule": "0 0 * * *", "match": {"any": [{"resources": {"kinds": ["PolicyException"]}}]}, "exclude": exclude});
        let excluded = |exclude: Value| cluster_policy("p", spec(exclude)).covers(&e);
        assert_eq!(excluded(json!({"any": [{"resources": {"namespaces": ["shop"]}}]})), None);
        assert_eq!(excluded(json!({"any": [{"resources": {"namespaces": ["web"]}}]})), Some(Cover::Deletes));
        assert_eq!(
            excluded(
                json!({"all": [{"resources": {"namespaces": ["shop"]}}, {"resources": {"names": ["other"]}}]})
            ),
            Some(Cover::Deletes),
            "all of an exclude must hold"
        );
        assert_eq!(
            excluded(
                json!({"any": [{"resources": {"namespaces": ["shop"], "selector": {"matchLabels": {"keep": "yes"}}}}]})
            ),
            Some(Cover::MayDelete),
            "an exclude whose selector is not evaluated may spare it"
        );
    }

    #[test]
    fn match_all_needs_every_filter_and_an_empty_match_selects_nothing() {
        let e = exception();
        let all = |filters: Value| {
            cluster_policy("p", json!({"schedule": "0 0 * * *", "match": {"all": filters}})).covers(&e)
        };
        assert_eq!(
            all(
                json!([{"resources": {"kinds": ["PolicyException"]}}, {"resources": {"namespaces": ["shop"]}}])
            ),
            Some(Cover::Deletes)
        );
        assert_eq!(
            all(
                json!([{"resources": {"kinds": ["PolicyException"]}}, {"resources": {"namespaces": ["web"]}}])
            ),
            None
        );
        assert_eq!(cluster_policy("p", json!({"schedule": "0 0 * * *"})).covers(&e), None);
        assert_eq!(
            cluster_policy("p", json!({"schedule": "0 0 * * *", "match": {"any": []}})).covers(&e),
            None
        );
    }

    #[test]
    fn unevaluated_conditions_and_selectors_make_it_may_delete_and_say_so() {
        let e = exception();
        let p = cluster_policy(
            "stale-exceptions",
            json!({"schedule": "0 0 * * *", "match": {"any": [{"resources": {"kinds": ["PolicyException"]}}]},
                "conditions": {"any": [{"key": "{{ target.metadata.labels.temporary }}", "operator": "Equals", "value": "true"}]}}),
        );
        assert_eq!(p.covers(&e), Some(Cover::MayDelete));
        let joined = with_cleanup_expiry(e.clone(), [&p]);
        assert_eq!(joined.expires_at, Some(ts("2026-11-28T00:00:00Z")), "still used: it is the only signal");
        assert_eq!(joined.expiry_source, ExpirySource::CleanupPolicy { name: "stale-exceptions".into() });
        assert_eq!(
            joined.evidence[1].excerpt,
            r#"ClusterCleanupPolicy stale-exceptions (schedule "0 0 * * *"): its run at 2026-11-28T00:00:00Z (UTC) may delete it (its spec.conditions are not evaluated)"#
        );
        let labelled = matching(
            json!({"kinds": ["PolicyException"], "selector": {"matchLabels": {"temporary": "true"}}}),
        );
        assert_eq!(labelled.covers(&e), Some(Cover::MayDelete));
        let ev = &with_cleanup_expiry(e, [&labelled]).evidence[1];
        assert!(
            ev.excerpt.ends_with(
                "may delete it (its match/exclude use selectors or annotations that are not evaluated)"
            ),
            "{}",
            ev.excerpt
        );
    }

    #[test]
    fn a_namespaced_cleanup_policy_only_deletes_in_its_namespace() {
        let p = policy(json!({"apiVersion": "kyverno.io/v2beta1", "kind": "CleanupPolicy",
            "metadata": {"name": "tidy", "namespace": "shop", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"schedule": "@daily", "match": {"any": [{"resources": {"kinds": ["PolicyException"], "namespaces": ["*"]}}]}}}));
        assert_eq!(p.display(), "CleanupPolicy shop/tidy");
        assert_eq!(p.covers(&exception()), Some(Cover::Deletes));
        assert_eq!(p.covers(&exception_at("web", "payments-x", "2026-11-27T14:30:00Z")), None);
        let e = with_cleanup_expiry(exception(), [&p]);
        assert_eq!(e.expires_at, Some(ts("2026-11-28T00:00:00Z")), "@daily is a nickname Kyverno accepts");
        assert_eq!(e.evidence[1].reference, "CleanupPolicy/shop/tidy");
        let nameless_ns = json!({"apiVersion": "kyverno.io/v2", "kind": "CleanupPolicy", "metadata": {"name": "x"}, "spec": {}});
        assert!(cleanup_policy(&object(nameless_ns)).is_none(), "a namespaced policy without a namespace");
    }

    #[test]
    fn the_next_run_is_strictly_after_both_creations_in_utc() {
        let e = exception(); // created 2026-11-27T14:30:00Z
        let at = |schedule: &str, policy_created: &str| {
            let p = policy(json!({"apiVersion": "kyverno.io/v2", "kind": "ClusterCleanupPolicy",
                "metadata": {"name": "p", "creationTimestamp": policy_created},
                "spec": {"schedule": schedule, "match": {"any": [{"resources": {"kinds": ["PolicyException"]}}]}}}));
            with_cleanup_expiry(e.clone(), [&p]).expires_at
        };
        assert_eq!(at("0 */6 * * *", "2026-01-01T00:00:00Z"), Some(ts("2026-11-27T18:00:00Z")));
        assert_eq!(
            at("0 */6 * * *", "2026-11-27T19:10:00Z"),
            Some(ts("2026-11-28T00:00:00Z")),
            "a later policy counts from its own creation"
        );
        // A one-shot moment already past when the exception was made fires next year.
        assert_eq!(at("30 12 27 11 *", "2026-01-01T00:00:00Z"), Some(ts("2027-11-27T12:30:00Z")));
        // Created exactly at a fire: that run was before it existed.
        assert_eq!(at("30 14 * * *", "2026-01-01T00:00:00Z"), Some(ts("2026-11-28T14:30:00Z")));
        // Day of month OR day of week, as cron does: the 1st, or a Monday (Nov 30 2026).
        assert_eq!(at("0 0 1 * MON", "2026-01-01T00:00:00Z"), Some(ts("2026-11-30T00:00:00Z")));
        // UTC, whatever offset the timestamps were written with.
        let local = exception_at("shop", "payments-x", "2026-07-01T08:00:00+02:00");
        let p = matching(json!({"kinds": ["PolicyException"]}));
        let p = CleanupPolicy { cron: parse_schedule("0 9 * * *"), schedule: "0 9 * * *".into(), ..p };
        assert_eq!(with_cleanup_expiry(local, [&p]).expires_at, Some(ts("2026-07-01T09:00:00Z")));
    }

    #[test]
    fn an_unreadable_schedule_gives_no_expiry_and_says_so() {
        for schedule in
            ["every day", "0 0 * * * *", "61 * * * *", "@every 1h", "CRON_TZ=Europe/Paris 0 9 * * *", ""]
        {
            let p = cluster_policy(
                "broken",
                json!({"schedule": schedule, "match": {"any": [{"resources": {"kinds": ["PolicyException"]}}]}}),
            );
            assert!(p.next_run(ts("2026-01-01T00:00:00Z")).is_err(), "{schedule:?}");
            let e = with_cleanup_expiry(exception(), [&p]);
            assert_eq!((e.expires_at, &e.expiry_source), (None, &ExpirySource::None), "{schedule:?}");
            let ev = &e.evidence[1];
            assert!(
                ev.excerpt.starts_with(&format!(
                    "ClusterCleanupPolicy broken (schedule {schedule:?}): schedule unreadable ("
                )),
                "{}",
                ev.excerpt
            );
            assert!(ev.excerpt.ends_with("no expiry from it"), "{}", ev.excerpt);
        }
        // A schedule that parses but never fires (30 February).
        let p = cluster_policy(
            "never",
            json!({"schedule": "0 0 30 2 *", "match": {"any": [{"resources": {"kinds": ["PolicyException"]}}]}}),
        );
        let e = with_cleanup_expiry(exception(), [&p]);
        assert_eq!(e.expiry_source, ExpirySource::None);
        assert!(e.evidence[1].excerpt.contains("never fires"), "{}", e.evidence[1].excerpt);
    }

    #[test]
    fn the_cleanup_policy_comes_after_expires_at_and_the_ttl_label_and_before_the_annotation() {
        let p = policy(generated());
        let base = exception_value("shop", "payments-x", "2026-11-27T14:30:00Z");
        let project = |v: Value| policy_exception(&object(v), &ProjectionConfig::default()).unwrap();
        let annotated =
            with(base.clone(), &["metadata", "annotations"], json!({"fleettop.io/expires-at": "2026-12-31"}));
        let e = with_cleanup_expiry(project(annotated.clone()), [&p]);
        assert_eq!(e.expiry_source, ExpirySource::CleanupPolicy { name: "polex-shop-payments-x".into() });
        assert_eq!(e.expires_at, Some(ts("2026-11-27T18:30:00Z")));
        let ttl = with(annotated, &["metadata", "labels"], json!({"cleanup.kyverno.io/ttl": "1h"}));
        let e = with_cleanup_expiry(project(ttl.clone()), [&p]);
        assert_eq!(
            (e.expires_at, e.evidence.len()),
            (Some(ts("2026-11-27T15:30:00Z")), 1),
            "the TTL label wins, untouched"
        );
        let expires = with(ttl, &["spec", "expiresAt"], json!("2026-11-28T00:00:00Z"));
        assert_eq!(with_cleanup_expiry(project(expires), [&p]).expiry_source, ExpirySource::ExpiresAt);
        // No policy: the annotation, as before.
        let e = with_cleanup_expiry(
            project(with(
                base,
                &["metadata", "annotations"],
                json!({"fleettop.io/expires-at": "2026-12-31"}),
            )),
            [],
        );
        assert!(matches!(e.expiry_source, ExpirySource::Annotation { .. }));
    }

    #[test]
    fn a_sure_deletion_wins_over_a_maybe_then_the_earliest_run_and_all_are_evidence() {
        let e = exception();
        let any = json!({"any": [{"resources": {"kinds": ["PolicyException"]}}]});
        let weekly = cluster_policy("weekly", json!({"schedule": "0 0 * * 0", "match": any}));
        let hourly_maybe = cluster_policy(
            "hourly",
            json!({"schedule": "0 * * * *", "match": any, "conditions": {"all": []}}),
        );
        let daily = cluster_policy("daily", json!({"schedule": "0 0 * * *", "match": any}));
        let broken = cluster_policy("broken", json!({"schedule": "soon", "match": any}));
        let joined = with_cleanup_expiry(e, [&broken, &weekly, &hourly_maybe, &daily]);
        assert_eq!(joined.expiry_source, ExpirySource::CleanupPolicy { name: "daily".into() });
        assert_eq!(joined.expires_at, Some(ts("2026-11-28T00:00:00Z")));
        let refs: Vec<&str> = joined.evidence.iter().map(|e| e.reference.as_str()).collect();
        assert_eq!(
            refs,
            [
                "PolicyException/shop/payments-x",
                "ClusterCleanupPolicy/daily",
                "ClusterCleanupPolicy/weekly",
                "ClusterCleanupPolicy/hourly",
                "ClusterCleanupPolicy/broken"
            ]
        );
        assert!(
            joined.evidence[2].excerpt.ends_with("(UTC) also deletes it"),
            "{}",
            joined.evidence[2].excerpt
        );
        // Only maybes: the earliest maybe.
        let joined = with_cleanup_expiry(exception(), [&hourly_maybe, &broken]);
        assert_eq!(joined.expires_at, Some(ts("2026-11-27T15:00:00Z")));
    }

    #[test]
    fn missing_creation_times_keep_the_source_without_a_time() {
        let mut e = exception();
        e.created_at = None;
        let mut p = policy(generated());
        p.created_at = None;
        let joined = with_cleanup_expiry(e.clone(), [&p]);
        assert_eq!(
            (joined.expires_at, &joined.expiry_source),
            (None, &ExpirySource::CleanupPolicy { name: p.name.clone() })
        );
        assert!(joined.evidence[1].excerpt.contains("no creation time"), "{}", joined.evidence[1].excerpt);
        // The policy's own creation is enough.
        p.created_at = Some(ts("2026-11-27T14:30:01Z"));
        assert_eq!(with_cleanup_expiry(e, [&p]).expires_at, Some(ts("2026-11-27T18:30:00Z")));
    }

    #[test]
    fn other_objects_and_status_changes() {
        assert!(cleanup_policy(&object(doc(DELTA))).is_none(), "an exception is not a cleanup policy");
        let nameless = json!({"apiVersion": "kyverno.io/v2", "kind": "ClusterCleanupPolicy", "metadata": {}, "spec": {}});
        assert!(cleanup_policy(&object(nameless)).is_none());
        // A run updates status.lastExecutionTime: the projection is the same.
        let ran = with(generated(), &["status", "lastExecutionTime"], json!("2026-11-27T18:30:00Z"));
        assert_eq!(policy(ran), policy(generated()));
        // List items may come without kind: the namespace says which.
        let mut untyped = generated();
        untyped.as_object_mut().unwrap().remove("kind");
        untyped.as_object_mut().unwrap().remove("apiVersion");
        assert_eq!(policy(untyped).kind, "ClusterCleanupPolicy");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_cleanup_policies_never_panic(obj in arb_object(
            &["kyverno.io/v2", "kyverno.io/v2beta1", "kyverno.io/v2alpha1"],
            &["ClusterCleanupPolicy", "CleanupPolicy"],
        )) {
            if let Some(p) = cleanup_policy(&obj) {
                let _ = with_cleanup_expiry(exception(), [&p]);
            }
        }

        #[test]
        fn mutated_policies_never_panic(obj in arb_mutation(vec![
            generated(),
            with(generated(), &["spec", "exclude"], json!({"all": [{"resources": {"names": ["x*"], "selector": {}}}]})),
        ])) {
            if let Some(p) = cleanup_policy(&obj) {
                let _ = with_cleanup_expiry(exception(), [&p]);
            }
        }

        #[test]
        fn schedules_never_panic(s in "[0-9*/,LW#@a-zA-Z ?-]{0,24}", secs in -62_000_000_000i64..250_000_000_000i64) {
            if let (Ok(cron), Ok(after)) = (parse_schedule(&s), Timestamp::from_second(secs)) {
                let _ = next_fire(&cron, after);
            }
        }
    }
}
