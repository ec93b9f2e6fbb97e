//! Policy exceptions (REFERENCE.md §2): Kyverno `PolicyException`s, namespaces that Pod
//! Security admission exempts by being `privileged`, and Gatekeeper `Config` exemptions.
//!
//! Expiry, in order: `spec.expiresAt` → the `cleanup.kyverno.io/ttl` label → a
//! (Cluster)CleanupPolicy that deletes it (joined later, in [`super::with_cleanup_expiry`]: the
//! policies are other objects) → a configured annotation (or label) → none. Only the TTL
//! *label* is honoured by Kyverno's cleanup controller (kyverno#10443: the same key as an
//! annotation deletes nothing), so an annotation with that key is not an expiry.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::DynamicObject;
use serde_json::Value;

use super::{
    ProjectionConfig, array_at, at, created, group_version, in_group, kind, label, meta_lookup, ns_name,
    str_at, strings_at,
};
use crate::model::{
    Engine, Evidence, EvidenceSource, ExpirySource, PolicyException, PolicyRuleRef, ScopeFilter,
};

/// Kyverno's TTL label (`pkg/controllers/ttl`).
const TTL_LABEL: &str = "cleanup.kyverno.io/ttl";
/// Pod Security admission's enforce label.
const PSA_ENFORCE: &str = "pod-security.kubernetes.io/enforce";

/// A Kyverno PolicyException: `kyverno.io/v2` and `v2beta1` (`spec.exceptions[]` of policy
/// and rule names, `spec.match` of resource filters, `spec.podSecurity` controls) or
/// `policies.kyverno.io/v1` for CEL policies (`spec.policyRefs[]`, `spec.images`,
/// `spec.matchConditions`, `spec.expiresAt`, `spec.properties`). `None` for other objects or
/// one without a name.
///
/// `spec.expiresAt` is read on every version: on kyverno.io/v2 Kyverno does not enforce it
/// (the field was proposed, not merged), but it is what the author meant, and an exception
/// past it still bypasses policy. A relative TTL label on an object without
/// `creationTimestamp` keeps its source with no time. The cleanup-policy step is not done here
/// (an annotation's expiry may still give way to a policy's run in
/// [`super::with_cleanup_expiry`]). Owner and ticket come from `cfg`'s keys
/// in the annotations, the labels, then a CEL exception's `spec.properties`. The one piece of
/// evidence is the object, at its creation (the Unix epoch when it has none), quoting the
/// expiry field used (or saying that there is none).
pub fn policy_exception(obj: &DynamicObject, cfg: &ProjectionConfig) -> Option<PolicyException> {
    let groups = ["kyverno.io", "policies.kyverno.io"];
    if !in_group(obj, &groups) || kind(obj).is_some_and(|k| k != "PolicyException") {
        return None;
    }
    let meta = &obj.metadata;
    let name = meta.name.clone().filter(|n| !n.is_empty())?;
    let d = &obj.data;
    let cel = group_version(obj).map_or(at(d, &["spec", "policyRefs"]).is_some(), |(g, _)| g == groups[1]);
    let created_at = created(meta);
    let expiry = expiry(meta, d, cfg, created_at);
    let lookup = |keys: &[String]| {
        meta_lookup(meta, keys)
            .map(|(_, v)| v)
            .or_else(|| keys.iter().find_map(|k| str_at(d, &["spec", "properties", k]).map(str::to_string)))
    };
    Some(PolicyException {
        engine: if cel { Engine::KyvernoCel } else { Engine::Kyverno },
        kind: "PolicyException".into(),
        namespace: meta.namespace.clone(),
        policies: if cel { cel_policies(d) } else { kyverno_policies(d) },
        matches: if cel { cel_matches(d) } else { kyverno_matches(d) },
        scope: if cel { cel_scope(d) } else { kyverno_scope(d) },
        created_at,
        expires_at: expiry.at,
        expiry_source: expiry.source,
        owner: lookup(&cfg.owner_keys),
        ticket: lookup(&cfg.ticket_keys),
        evidence: vec![Evidence {
            source: EvidenceSource::Object,
            reference: format!("PolicyException/{}", ns_name(meta)),
            at: created_at.unwrap_or(Timestamp::UNIX_EPOCH),
            excerpt: expiry.excerpt,
        }],
        name,
    })
}

/// `spec.exceptions[]{policyName, ruleNames[]}`; entries without a policy name are skipped.
fn kyverno_policies(d: &Value) -> Vec<PolicyRuleRef> {
    array_at(d, &["spec", "exceptions"])
        .iter()
        .filter_map(|e| {
            Some(PolicyRuleRef {
                policy: str_at(e, &["policyName"])?.to_string(),
                rules: strings_at(e, &["ruleNames"]),
            })
        })
        .collect()
}

/// `spec.policyRefs[]{name, kind}`: CEL policies have no rules, so every rule. The kind
/// (`ValidatingPolicy`, `MutatingPolicy`, …) is not kept: a PolicyRuleRef holds a name.
fn cel_policies(d: &Value) -> Vec<PolicyRuleRef> {
    array_at(d, &["spec", "policyRefs"])
        .iter()
        .filter_map(|r| Some(PolicyRuleRef { policy: str_at(r, &["name"])?.to_string(), rules: Vec::new() }))
        .collect()
}

/// `a, b`, or `None` for an empty list.
fn list(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.join(", "))
}

/// `k=v, k2=v2 (+N expressions)` of a LabelSelector.
fn selector_words(sel: &Value) -> Option<String> {
    let mut parts: Vec<String> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?"))).collect())
        .unwrap_or_default();
    let expressions = array_at(sel, &["matchExpressions"]).len();
    if expressions > 0 {
        parts.push(format!("+{expressions} expressions"));
    }
    list(&parts)
}

/// One Kyverno resource filter in words: `Pod, Deployment in ns delta named important-tool*`.
fn filter_words(filter: &Value) -> Option<String> {
    let r = filter.get("resources").unwrap_or(&Value::Null);
    let mut names = strings_at(r, &["names"]);
    names.extend(str_at(r, &["name"]).map(str::to_string));
    let mut s = list(&strings_at(r, &["kinds"])).unwrap_or_else(|| "any kind".into());
    if let Some(ns) = list(&strings_at(r, &["namespaces"])) {
        s.push_str(&format!(" in ns {ns}"));
    }
    if let Some(sel) = r.get("namespaceSelector").and_then(selector_words) {
        s.push_str(&format!(" in namespaces labelled {sel}"));
    }
    if let Some(n) = list(&names) {
        s.push_str(&format!(" named {n}"));
    }
    if let Some(sel) = r.get("selector").and_then(selector_words) {
        s.push_str(&format!(" labelled {sel}"));
    }
    if let Some(ops) = list(&strings_at(r, &["operations"])) {
        s.push_str(&format!(" on {ops}"));
    }
    let subjects: Vec<String> = array_at(filter, &["subjects"])
        .iter()
        .filter_map(|x| {
            Some(format!("{} {}", str_at(x, &["kind"]).unwrap_or("subject"), str_at(x, &["name"])?))
        })
        .collect();
    if let Some(by) = list(&subjects) {
        s.push_str(&format!(" by {by}"));
    }
    (r.is_object() || !subjects.is_empty()).then_some(s)
}

/// One Kyverno resource filter as a [`ScopeFilter`]: selectors, subjects, operations and
/// the exception's conditions make it partial.
fn filter_scope(filter: &Value, conditions: bool) -> Option<ScopeFilter> {
    let r = filter.get("resources")?;
    let mut names = strings_at(r, &["names"]);
    names.extend(str_at(r, &["name"]).map(str::to_string));
    let evaluated_only = ["kinds", "namespaces", "names", "name"];
    let unevaluated = r
        .as_object()
        .is_some_and(|m| m.iter().any(|(k, v)| !evaluated_only.contains(&k.as_str()) && !v.is_null()))
        || !array_at(filter, &["subjects"]).is_empty()
        || !array_at(filter, &["roles"]).is_empty()
        || !array_at(filter, &["clusterRoles"]).is_empty();
    Some(ScopeFilter {
        kinds: strings_at(r, &["kinds"]),
        namespaces: strings_at(r, &["namespaces"]),
        names,
        partial: unevaluated || conditions,
    })
}

/// `spec.match.any[]` as alternative filters; `spec.match.all[]` (every filter must hold)
/// as one partial filter per entry, since one entry alone is not enough.
fn kyverno_scope(d: &Value) -> Vec<ScopeFilter> {
    let conditions = at(d, &["spec", "conditions"]).is_some_and(|c| !c.is_null())
        || !array_at(d, &["spec", "podSecurity"]).is_empty();
    let mut out: Vec<ScopeFilter> =
        array_at(d, &["spec", "match", "any"]).iter().filter_map(|f| filter_scope(f, conditions)).collect();
    out.extend(array_at(d, &["spec", "match", "all"]).iter().filter_map(|f| {
        let mut s = filter_scope(f, conditions)?;
        s.partial = true;
        Some(s)
    }));
    out
}

/// A CEL exception matches what its policies match, narrowed by images and CEL conditions
/// fleettop does not evaluate: one partial filter over everything.
fn cel_scope(_d: &Value) -> Vec<ScopeFilter> {
    vec![ScopeFilter { partial: true, ..ScopeFilter::default() }]
}

/// `spec.match` (any: `or`, all: `and`), `spec.conditions` and `spec.podSecurity` in words.
fn kyverno_matches(d: &Value) -> String {
    let words = |key: &str| -> Vec<String> {
        array_at(d, &["spec", "match", key]).iter().filter_map(filter_words).collect()
    };
    let mut parts = Vec::new();
    let any = words("any");
    if !any.is_empty() {
        parts.push(any.join(" or "));
    }
    let all = words("all");
    if !all.is_empty() {
        parts.push(all.join(" and "));
    }
    let mut s = if parts.is_empty() { "any resource".to_string() } else { parts.join(" and ") };
    if at(d, &["spec", "conditions"]).is_some_and(|c| !c.is_null()) {
        s.push_str(" when its conditions hold");
    }
    let controls: Vec<String> =
        array_at(d, &["spec", "podSecurity"]).iter().filter_map(control_words).collect();
    if let Some(c) = list(&controls) {
        s.push_str(&format!(" (Pod Security {c})"));
    }
    s
}

/// `Capabilities for images nginx*, redis*` of one `spec.podSecurity[]` entry.
fn control_words(c: &Value) -> Option<String> {
    let mut s = str_at(c, &["controlName"])?.to_string();
    if let Some(images) = list(&strings_at(c, &["images"])) {
        s.push_str(&format!(" for images {images}"));
    }
    if let Some(field) = str_at(c, &["restrictedField"]) {
        let values = list(&strings_at(c, &["values"])).unwrap_or_default();
        s.push_str(&format!(" where {field} in [{values}]"));
    }
    Some(s)
}

/// A CEL exception's `spec.images` and `spec.matchConditions` in words.
fn cel_matches(d: &Value) -> String {
    let images = list(&strings_at(d, &["spec", "images"])).map(|i| format!("images {i}"));
    let conditions: Vec<String> = array_at(d, &["spec", "matchConditions"])
        .iter()
        .filter_map(|c| str_at(c, &["expression"]).or_else(|| str_at(c, &["name"])).map(str::to_string))
        .collect();
    let when = (!conditions.is_empty()).then(|| format!("where {}", conditions.join(" and ")));
    match (images, when) {
        (Some(i), Some(w)) => format!("{i} {w}"),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => "everything the policies match".into(),
    }
}

/// When an exception ends, where that came from, and the field's text for the evidence.
struct Expiry {
    at: Option<Timestamp>,
    source: ExpirySource,
    excerpt: String,
}

fn expiry(meta: &ObjectMeta, d: &Value, cfg: &ProjectionConfig, created_at: Option<Timestamp>) -> Expiry {
    if let Some((text, at)) = str_at(d, &["spec", "expiresAt"]).and_then(|s| Some((s, s.parse().ok()?))) {
        return Expiry {
            at: Some(at),
            source: ExpirySource::ExpiresAt,
            excerpt: format!("spec.expiresAt: {text}"),
        };
    }
    if let Some(value) = label(meta, TTL_LABEL) {
        let at = match parse_ttl(value) {
            Some(Ttl::At(t)) => Some(Some(t)),
            // Kyverno counts a relative TTL from creationTimestamp.
            Some(Ttl::After(d)) => Some(created_at.and_then(|c| c.checked_add(d).ok())),
            // Kyverno's webhook refuses such labels and its cleanup controller skips them.
            None => None,
        };
        if let Some(at) = at {
            let source = ExpirySource::TtlLabel { value: value.to_string() };
            return Expiry { at, source, excerpt: format!("{TTL_LABEL}={value}") };
        }
    }
    if let Some(e) = annotation_expiry(meta, cfg) {
        return e;
    }
    let keys = cfg.expiry_keys.join(", ");
    let excerpt = format!("no spec.expiresAt, no {TTL_LABEL} label, none of [{keys}]");
    Expiry { at: None, source: ExpirySource::None, excerpt }
}

/// The first configured expiry key (annotations, then labels) whose value is a time.
fn annotation_expiry(meta: &ObjectMeta, cfg: &ProjectionConfig) -> Option<Expiry> {
    cfg.expiry_keys.iter().find_map(|key| {
        let (key, value) = meta_lookup(meta, std::slice::from_ref(key))?;
        let at = parse_time(&value)?;
        Some(Expiry {
            at: Some(at),
            excerpt: format!("{key}={value}"),
            source: ExpirySource::Annotation { key },
        })
    })
}

/// An expiry written by a person: RFC 3339, a date (midnight UTC), or Kyverno's TTL layout.
fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    s.parse().ok().or_else(|| kyverno_time(s))
}

/// What a `cleanup.kyverno.io/ttl` value says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ttl {
    /// Delete at this time.
    At(Timestamp),
    /// Delete this long after creation.
    After(SignedDuration),
}

/// Parses a TTL label the way Kyverno does (`pkg/controllers/ttl` `parseDeletionTime`): a
/// duration (`strfmt.ParseDuration`: Go's `time.ParseDuration`, else `<n><unit>` pieces with
/// units up to days and weeks: `1d`, `2w`, `3 days`), else `2006-01-02T150405Z`, else
/// `2006-01-02` (UTC).
fn parse_ttl(value: &str) -> Option<Ttl> {
    if let Some(d) = go_duration(value).or_else(|| strfmt_duration(value)) {
        return Some(Ttl::After(d));
    }
    kyverno_time(value).map(Ttl::At)
}

/// Kyverno's two absolute layouts: `2006-01-02T150405Z` and `2006-01-02`, in UTC.
fn kyverno_time(s: &str) -> Option<Timestamp> {
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok()).flatten()
    };
    let b = s.as_bytes();
    let date = match (s.len(), b.get(4), b.get(7)) {
        (10 | 18, Some(b'-'), Some(b'-')) => {
            Date::new(i16::try_from(digits(0..4)?).ok()?, digits(5..7)? as i8, digits(8..10)? as i8).ok()?
        }
        _ => return None,
    };
    let time = if s.len() == 18 {
        if b.get(10) != Some(&b'T') || b.get(17) != Some(&b'Z') {
            return None;
        }
        Time::new(digits(11..13)? as i8, digits(13..15)? as i8, digits(15..17)? as i8, 0).ok()?
    } else {
        Time::midnight()
    };
    TimeZone::UTC.to_timestamp(DateTime::from_parts(date, time)).ok()
}

/// Nanoseconds per unit of Go's `time.ParseDuration`.
fn go_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" | "µs" | "μs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    })
}

/// Go's `time.ParseDuration`: `[-+]` then one or more `<decimal><unit>` (`1h30m`, `1.5h`), or `0`.
fn go_duration(s: &str) -> Option<SignedDuration> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(SignedDuration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos = 0.0f64;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_end);
        if num.is_empty() || num == "." {
            return None;
        }
        let unit_end = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        nanos += num.parse::<f64>().ok()? * go_unit(unit)?;
        rest = tail;
    }
    let secs = if negative { -nanos / 1e9 } else { nanos / 1e9 };
    SignedDuration::try_from_secs_f64(secs).ok()
}

/// The units `strfmt.ParseDuration` knows beyond Go's, each with its spellings: a unit
/// matches a spelling exactly, or starts with the last (longest) one (`days`, `hours`).
const STRFMT_UNITS: [(&[&str], i64); 8] = [
    (&["ns", "nano"], 1),
    (&["us", "µs", "micro"], 1_000),
    (&["ms", "milli"], 1_000_000),
    (&["s", "sec"], 1_000_000_000),
    (&["m", "min"], 60_000_000_000),
    (&["h", "hr", "hour"], 3_600_000_000_000),
    (&["d", "day"], 86_400_000_000_000),
    (&["w", "wk", "week"], 604_800_000_000_000),
];

/// `strfmt.ParseDuration`'s fallback (kube-openapi): every `<digits>\s*<letters>` piece in
/// the text, summed; `None` when no piece has a known unit.
fn strfmt_duration(s: &str) -> Option<SignedDuration> {
    let mut total: i64 = 0;
    let mut matched = false;
    let mut rest = s;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let after_start = &rest[start..];
        let digits_end = after_start.find(|c: char| !c.is_ascii_digit()).unwrap_or(after_start.len());
        let (digits, tail) = after_start.split_at(digits_end);
        let trimmed = tail.trim_start();
        let unit_end =
            trimmed.find(|c: char| !(c.is_ascii_alphabetic() || c == 'µ')).unwrap_or(trimmed.len());
        let (unit, tail) = trimmed.split_at(unit_end);
        rest = tail;
        if unit.is_empty() {
            continue;
        }
        let factor: i64 = digits.parse().ok()?;
        let unit = unit.to_lowercase();
        for (spellings, nanos) in STRFMT_UNITS {
            let last = spellings.len() - 1;
            let hit =
                spellings.iter().enumerate().any(|(i, v)| unit == *v || (i == last && unit.starts_with(v)));
            if hit {
                matched = true;
                total = total.checked_add(factor.checked_mul(nanos)?)?;
            }
        }
    }
    matched.then(|| SignedDuration::from_nanos(total))
}

/// A namespace labelled `pod-security.kubernetes.io/enforce=privileged`: Pod Security
/// admission lets every pod in, a standing exception. No expiry unless one of `cfg`'s expiry
/// annotations says so. `None` for any other namespace.
pub fn namespace_exception(ns: &Namespace, cfg: &ProjectionConfig) -> Option<PolicyException> {
    let meta = &ns.metadata;
    if label(meta, PSA_ENFORCE) != Some("privileged") {
        return None;
    }
    let name = meta.name.clone().filter(|n| !n.is_empty())?;
    let created_at = created(meta);
    let expiry = annotation_expiry(meta, cfg);
    let mut excerpt = format!("{PSA_ENFORCE}=privileged");
    if let Some(e) = &expiry {
        excerpt.push_str(&format!("; {}", e.excerpt));
    }
    Some(PolicyException {
        engine: Engine::PodSecurity,
        kind: "Namespace".into(),
        namespace: None,
        policies: vec![PolicyRuleRef { policy: "pod-security".into(), rules: Vec::new() }],
        matches: format!("namespace {name} labelled {PSA_ENFORCE}=privileged"),
        scope: vec![ScopeFilter { namespaces: vec![name.clone()], ..ScopeFilter::default() }],
        created_at,
        expires_at: expiry.as_ref().and_then(|e| e.at),
        expiry_source: expiry.map(|e| e.source).unwrap_or(ExpirySource::None),
        owner: meta_lookup(meta, &cfg.owner_keys).map(|(_, v)| v),
        ticket: meta_lookup(meta, &cfg.ticket_keys).map(|(_, v)| v),
        evidence: vec![Evidence {
            source: EvidenceSource::Object,
            reference: format!("Namespace/{name}"),
            at: created_at.unwrap_or(Timestamp::UNIX_EPOCH),
            excerpt,
        }],
        name,
    })
}

/// The team a namespace belongs to: its `cfg.team_label` label.
pub fn namespace_team(ns: &Namespace, cfg: &ProjectionConfig) -> Option<String> {
    label(&ns.metadata, &cfg.team_label).map(str::to_string)
}

/// Gatekeeper's `Config` (config.gatekeeper.sh): one exception per `spec.match[]` entry that
/// excludes namespaces, bypassing every constraint (`*`) for its `processes`. Entries are
/// named `<config>/match[<i>]` so each is its own record. Gatekeeper has no expiry.
pub fn gatekeeper_config_exceptions(obj: &DynamicObject) -> Vec<PolicyException> {
    if !in_group(obj, &["config.gatekeeper.sh"]) || kind(obj).is_some_and(|k| k != "Config") {
        return Vec::new();
    }
    let meta = &obj.metadata;
    let Some(name) = meta.name.as_deref().filter(|n| !n.is_empty()) else { return Vec::new() };
    let created_at = created(meta);
    let reference = format!("Config/{}", ns_name(meta));
    array_at(&obj.data, &["spec", "match"])
        .iter()
        .enumerate()
        .filter_map(|(i, entry)| {
            let namespaces = strings_at(entry, &["excludedNamespaces"]);
            if namespaces.is_empty() {
                return None;
            }
            let words = format!(
                "excludedNamespaces [{}] for processes [{}]",
                namespaces.join(", "),
                strings_at(entry, &["processes"]).join(", ")
            );
            Some(PolicyException {
                engine: Engine::Gatekeeper,
                kind: "Config".into(),
                namespace: meta.namespace.clone(),
                name: format!("{name}/match[{i}]"),
                policies: vec![PolicyRuleRef { policy: "*".into(), rules: Vec::new() }],
                matches: words.clone(),
                scope: vec![ScopeFilter { namespaces: namespaces.clone(), ..ScopeFilter::default() }],
                created_at,
                expires_at: None,
                expiry_source: ExpirySource::None,
                owner: None,
                ticket: None,
                evidence: vec![Evidence {
                    source: EvidenceSource::Object,
                    reference: reference.clone(),
                    at: created_at.unwrap_or(Timestamp::UNIX_EPOCH),
                    excerpt: format!("spec.match[{i}]: {words}"),
                }],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use proptest::prelude::*;
    use serde_json::json;

    use super::super::test_support::{arb_json, arb_mutation, arb_object, doc, docs, object, with};
    use super::*;

    const DELTA: &str = include_str!("../../../../tests/fixtures/real/kyverno/policyexception-v2-delta.yaml");
    const PODSECURITY: &str =
        include_str!("../../../../tests/fixtures/real/kyverno/policyexception-v2-podsecurity.yaml");
    const CEL_IMAGES: &str =
        include_str!("../../../../tests/fixtures/real/kyverno/policyexception-policies-v1-images.yaml");
    const EXPIRES_PROPOSAL: &str = include_str!(
        "../../../../tests/fixtures/real/kyverno/policyexception-expiresAt-proposal-pr14539.yaml"
    );
    const TTL_ISSUE: &str = include_str!(
        "../../../../tests/fixtures/real/kyverno/ttl-label-pod-namespace-clusterrole-issue10443.yaml"
    );
    const GK_CONFIG: &str =
        include_str!("../../../../tests/fixtures/real/gatekeeper/config-match-excludednamespaces.yaml");

    fn cfg() -> ProjectionConfig {
        ProjectionConfig::default()
    }

    fn exception(v: Value) -> PolicyException {
        policy_exception(&object(v), &cfg()).expect("a PolicyException")
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn v2_exception_lists_policy_rules_and_match_in_words() {
        let e = exception(doc(DELTA));
        assert_eq!((e.engine, e.kind.as_str()), (Engine::Kyverno, "PolicyException"));
        assert_eq!(e.key(), "PolicyException/delta/delta-exception");
        assert_eq!(
            e.policies,
            [PolicyRuleRef {
                policy: "disallow-host-namespaces".into(),
                rules: vec!["host-namespaces".into(), "autogen-host-namespaces".into()]
            }]
        );
        assert_eq!(e.matches, "Pod, Deployment in ns delta named important-tool*");
        assert_eq!((e.expires_at, &e.expiry_source), (None, &ExpirySource::None));
        assert_eq!((e.owner.as_deref(), e.ticket.as_deref(), e.created_at), (None, None, None));
        assert_eq!(e.evidence[0].reference, "PolicyException/delta/delta-exception");
        assert_eq!(e.evidence[0].source, EvidenceSource::Object);
        assert!(e.evidence[0].excerpt.starts_with("no spec.expiresAt, no cleanup.kyverno.io/ttl label"));
    }

    #[test]
    fn pod_security_controls_are_part_of_the_match() {
        let e = exception(doc(PODSECURITY));
        assert_eq!(e.namespace, None);
        assert_eq!(e.policies, [PolicyRuleRef { policy: "psa-1".into(), rules: vec!["restricted".into()] }]);
        assert_eq!(
            e.matches,
            "Pod (Pod Security Capabilities for images public.ecr.aws/docker/library/nginx*, public.ecr.aws/docker/library/redis*)"
        );
    }

    #[test]
    fn cel_exception_refs_policies_by_name_and_matches_images() {
        let e = exception(doc(CEL_IMAGES));
        assert_eq!(e.engine, Engine::KyvernoCel);
        assert_eq!(e.policies, [PolicyRuleRef { policy: "exclude-images".into(), rules: vec![] }]);
        assert_eq!(
            e.matches,
            "images public.ecr.aws/docker/library/busybox:latest, public.ecr.aws/docker/library/nginx:latest"
        );
        assert_eq!(e.display_name(), "exclude-images");
        // v1 with expiresAt, properties, matchConditions (fields of the policies.kyverno.io CRD).
        let mut v = with(doc(CEL_IMAGES), &["spec", "expiresAt"], json!("2026-11-30T18:00:00Z"));
        v = with(v, &["spec", "properties"], json!({"ticket": "CHG-20931", "approved-by": "ml-platform"}));
        v = with(
            v,
            &["spec", "matchConditions"],
            json!([{"name": "triton", "expression": "object.metadata.labels.app == 'triton'"}]),
        );
        v = with(v, &["metadata", "creationTimestamp"], json!("2026-11-16T09:00:00Z"));
        let e = exception(v);
        assert_eq!(
            (e.expires_at, &e.expiry_source),
            (Some(ts("2026-11-30T18:00:00Z")), &ExpirySource::ExpiresAt)
        );
        assert_eq!((e.owner.as_deref(), e.ticket.as_deref()), (Some("ml-platform"), Some("CHG-20931")));
        assert!(e.matches.ends_with(" where object.metadata.labels.app == 'triton'"), "{}", e.matches);
        assert_eq!(e.evidence[0].excerpt, "spec.expiresAt: 2026-11-30T18:00:00Z");
        assert_eq!(e.evidence[0].at, ts("2026-11-16T09:00:00Z"));
    }

    #[test]
    fn expires_at_on_v2_is_read_though_kyverno_ignores_it() {
        let e = exception(doc(EXPIRES_PROPOSAL));
        assert_eq!(e.engine, Engine::Kyverno);
        assert_eq!(
            (e.expires_at, &e.expiry_source),
            (Some(ts("2026-03-31T23:59:59Z")), &ExpirySource::ExpiresAt)
        );
        assert_eq!(e.matches, "Pod in ns legacy-app");
        assert_eq!(e.ticket, None, "the ticket in spec.description is free text");
    }

    #[test]
    fn ttl_label_relative_from_creation_and_absolute_in_kyverno_layouts() {
        let base = with(doc(DELTA), &["metadata", "creationTimestamp"], json!("2026-11-27T10:00:00Z"));
        for (value, expires) in [
            ("4h", "2026-11-27T14:00:00Z"),
            ("1d", "2026-11-28T10:00:00Z"),
            ("1h30m", "2026-11-27T11:30:00Z"),
            ("2 weeks", "2026-12-11T10:00:00Z"),
            ("1d12h", "2026-11-28T22:00:00Z"),
            ("2026-11-30T000000Z", "2026-11-30T00:00:00Z"),
            ("2026-11-30", "2026-11-30T00:00:00Z"),
        ] {
            let e = exception(with(base.clone(), &["metadata", "labels"], json!({TTL_LABEL: value})));
            assert_eq!(e.expires_at, Some(ts(expires)), "{value}");
            assert_eq!(e.expiry_source, ExpirySource::TtlLabel { value: value.into() });
            assert_eq!(e.evidence[0].excerpt, format!("cleanup.kyverno.io/ttl={value}"));
        }
        for bad in ["soon", "2026-13-01", "2026-11-30T250000Z", "h"] {
            let e = exception(with(base.clone(), &["metadata", "labels"], json!({TTL_LABEL: bad})));
            assert_eq!(e.expiry_source, ExpirySource::None, "{bad}");
        }
    }

    #[test]
    fn ttl_fixture_only_the_label_counts() {
        let [namespace, pod, cluster_role]: [Value; 3] = docs(TTL_ISSUE).try_into().unwrap();
        // The Pod carries the label (1-space indentation upstream), but no creationTimestamp.
        let pod = object(pod);
        let e = expiry(&pod.metadata, &pod.data, &cfg(), None);
        assert_eq!((e.at, e.source), (None, ExpirySource::TtlLabel { value: "1m".into() }));
        let e = expiry(&pod.metadata, &pod.data, &cfg(), Some(ts("2024-06-12T08:00:00Z")));
        assert_eq!(e.at, Some(ts("2024-06-12T08:01:00Z")));
        // As an annotation (Namespace, ClusterRole) Kyverno deletes nothing: no expiry.
        for v in [namespace.clone(), cluster_role] {
            let o = object(v);
            assert_eq!(expiry(&o.metadata, &o.data, &cfg(), None).source, ExpirySource::None);
        }
        let ns: Namespace = serde_json::from_value(namespace).unwrap();
        assert!(namespace_exception(&ns, &cfg()).is_none(), "not privileged");
    }

    #[test]
    fn configured_annotation_owner_and_ticket() {
        let mut v = with(
            doc(DELTA),
            &["metadata", "annotations"],
            json!({
            "fleettop.io/expires-at": "2027-01-15T12:00:00+01:00", "owner": "team-delta", "ticket": "SEC-1182"}),
        );
        v = with(v, &["metadata", "labels"], json!({"fleettop.io/ticket": "ignored: annotations first"}));
        let e = exception(v.clone());
        assert_eq!(e.expires_at, Some(ts("2027-01-15T11:00:00Z")));
        assert_eq!(e.expiry_source, ExpirySource::Annotation { key: "fleettop.io/expires-at".into() });
        assert_eq!((e.owner.as_deref(), e.ticket.as_deref()), (Some("team-delta"), Some("SEC-1182")));
        // A malformed annotation is no expiry; a custom key list is honoured.
        v["metadata"]["annotations"]["fleettop.io/expires-at"] = json!("next quarter");
        assert_eq!(exception(v.clone()).expiry_source, ExpirySource::None);
        let custom = ProjectionConfig { expiry_keys: vec!["acme.io/until".into()], ..cfg() };
        v["metadata"]["annotations"]["acme.io/until"] = json!("2027-02-01");
        let e = policy_exception(&object(v), &custom).unwrap();
        assert_eq!(e.expires_at, Some(ts("2027-02-01T00:00:00Z")));
    }

    #[test]
    fn precedence_expires_at_then_ttl_then_annotation() {
        let mut v = with(doc(DELTA), &["metadata", "labels"], json!({TTL_LABEL: "2026-12-01"}));
        v = with(v, &["metadata", "annotations"], json!({"fleettop.io/expires-at": "2026-12-02"}));
        assert!(matches!(exception(v.clone()).expiry_source, ExpirySource::TtlLabel { .. }));
        v = with(v, &["spec", "expiresAt"], json!("2026-12-03T00:00:00Z"));
        assert_eq!(exception(v.clone()).expiry_source, ExpirySource::ExpiresAt);
        v["spec"]["expiresAt"] = json!(20261203);
        assert!(
            matches!(exception(v).expiry_source, ExpirySource::TtlLabel { .. }),
            "a number is not a time"
        );
    }

    #[test]
    fn match_words_cover_all_selectors_subjects_and_conditions() {
        let v = with(
            doc(DELTA),
            &["spec", "match"],
            json!({
            "any": [{"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"app": "x"}}, "operations": ["CREATE"]}},
                    {"subjects": [{"kind": "ServiceAccount", "name": "ci"}]}],
            "all": [{"resources": {"namespaceSelector": {"matchLabels": {"env": "dev"}, "matchExpressions": [{}]}}}]}),
        );
        let v = with(v, &["spec", "conditions"], json!({"any": []}));
        assert_eq!(
            exception(v).matches,
            "Pod labelled app=x on CREATE or any kind by ServiceAccount ci and any kind in namespaces labelled env=dev, +1 expressions when its conditions hold"
        );
    }

    #[test]
    fn malformed_exceptions_skip_fields_not_objects() {
        let v = json!({"apiVersion": "kyverno.io/v2beta1", "kind": "PolicyException", "metadata": {"name": "odd", "namespace": "x"},
            "spec": {"exceptions": [{"ruleNames": ["r"]}, {"policyName": 3}, "x", {"policyName": "p", "ruleNames": "r"}],
                     "match": "everything", "podSecurity": [{"images": ["a"]}], "somethingNew": true}});
        let e = exception(v);
        assert_eq!(e.policies, [PolicyRuleRef { policy: "p".into(), rules: vec![] }]);
        assert_eq!(e.matches, "any resource");
        let nameless = json!({"apiVersion": "kyverno.io/v2", "kind": "PolicyException", "metadata": {}});
        assert!(policy_exception(&object(nameless), &cfg()).is_none());
        let policy =
            json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"}});
        assert!(policy_exception(&object(policy), &cfg()).is_none());
    }

    #[test]
    fn privileged_namespaces_are_standing_exceptions() {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "monitoring",
            "creationTimestamp": "2025-10-01T00:00:00Z",
            "labels": {"pod-security.kubernetes.io/enforce": "privileged", "team": "observability"},
            "annotations": {"owner": "team-observability"}}}))
        .unwrap();
        let e = namespace_exception(&ns, &cfg()).unwrap();
        assert_eq!(
            (e.engine, e.kind.as_str(), e.key().as_str()),
            (Engine::PodSecurity, "Namespace", "Namespace/monitoring")
        );
        assert_eq!(e.policies, [PolicyRuleRef { policy: "pod-security".into(), rules: vec![] }]);
        assert_eq!(e.matches, "namespace monitoring labelled pod-security.kubernetes.io/enforce=privileged");
        assert_eq!((e.expires_at, &e.expiry_source), (None, &ExpirySource::None));
        assert_eq!(e.owner.as_deref(), Some("team-observability"));
        assert_eq!(e.evidence[0].excerpt, "pod-security.kubernetes.io/enforce=privileged");
        assert_eq!(namespace_team(&ns, &cfg()).as_deref(), Some("observability"));
        let mut until = ns.clone();
        until
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert("fleettop.io/expires-at".into(), "2026-12-24".into());
        let e = namespace_exception(&until, &cfg()).unwrap();
        assert_eq!(e.expires_at, Some(ts("2026-12-24T00:00:00Z")));
        assert_eq!(
            e.evidence[0].excerpt,
            "pod-security.kubernetes.io/enforce=privileged; fleettop.io/expires-at=2026-12-24"
        );
        let mut baseline = ns;
        baseline.metadata.labels.as_mut().unwrap().insert(PSA_ENFORCE.into(), "baseline".into());
        assert!(namespace_exception(&baseline, &cfg()).is_none());
        assert_eq!(namespace_team(&Namespace::default(), &cfg()), None);
    }

    #[test]
    fn gatekeeper_config_one_exception_per_match_entry() {
        let es = gatekeeper_config_exceptions(&object(doc(GK_CONFIG)));
        let names: Vec<String> = es.iter().map(|e| e.display_name()).collect();
        assert_eq!(
            names,
            [
                "gatekeeper-system/config/match[0]",
                "gatekeeper-system/config/match[1]",
                "gatekeeper-system/config/match[2]",
                "gatekeeper-system/config/match[3]"
            ]
        );
        assert_eq!(es[0].matches, "excludedNamespaces [kube-*, my-namespace] for processes [*]");
        assert_eq!(
            es[2].matches,
            "excludedNamespaces [audit-webhook-sync-excluded-ns] for processes [audit, webhook, sync]"
        );
        assert_eq!(
            es[3].matches,
            "excludedNamespaces [mutation-excluded-ns] for processes [mutation-webhook]"
        );
        assert!(es.iter().all(|e| e.engine == Engine::Gatekeeper && e.expiry_source == ExpirySource::None));
        assert_eq!(es[1].policies, [PolicyRuleRef { policy: "*".into(), rules: vec![] }]);
        assert_eq!(es[1].evidence[0].reference, "Config/gatekeeper-system/config");
        assert_eq!(
            es[1].evidence[0].excerpt,
            "spec.match[1]: excludedNamespaces [audit-excluded-ns] for processes [audit]"
        );
        let keys: std::collections::BTreeSet<String> = es.iter().map(|e| e.key()).collect();
        assert_eq!(keys.len(), 4, "distinct records");
        let odd = with(
            doc(GK_CONFIG),
            &["spec", "match"],
            json!([{"processes": ["*"]}, {"excludedNamespaces": "kube-*"}, 5]),
        );
        assert!(gatekeeper_config_exceptions(&object(odd)).is_empty());
        assert!(gatekeeper_config_exceptions(&object(doc(DELTA))).is_empty());
    }

    #[test]
    fn duration_parsers_match_go_and_strfmt() {
        let secs = |s: &str| go_duration(s).or_else(|| strfmt_duration(s)).map(|d| d.as_secs());
        assert_eq!(secs("0"), Some(0));
        assert_eq!(secs("1.5h"), Some(5400));
        assert_eq!(secs("-1m"), Some(-60));
        assert_eq!(secs("300ms"), Some(0));
        assert_eq!(secs("3 days"), Some(3 * 86400));
        assert_eq!(secs("1w"), Some(7 * 86400));
        assert_eq!(secs("90 minutes"), Some(5400));
        assert_eq!(go_duration("1d"), None, "Go's parser has no days");
        assert_eq!(secs(""), None);
        assert_eq!(secs("."), None);
        assert_eq!(secs("99999999999999999999h"), None, "overflow is an error, not a wrap");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_objects_never_panic(obj in arb_object(
            &["kyverno.io/v2", "kyverno.io/v2beta1", "policies.kyverno.io/v1", "config.gatekeeper.sh/v1alpha1"],
            &["PolicyException", "Config"],
        ), ns in arb_json()) {
            let _ = policy_exception(&obj, &cfg());
            let _ = gatekeeper_config_exceptions(&obj);
            if let Ok(ns) = serde_json::from_value::<Namespace>(ns) {
                let _ = namespace_exception(&ns, &cfg());
                let _ = namespace_team(&ns, &cfg());
            }
        }

        #[test]
        fn mutated_fixtures_never_panic(obj in arb_mutation(vec![
            with(doc(DELTA), &["metadata", "labels"], json!({TTL_LABEL: "4h", "fleettop.io/expires-at": "2026-12-01"})),
            doc(PODSECURITY),
            with(doc(CEL_IMAGES), &["spec", "properties"], json!({"ticket": "T-1"})),
            doc(EXPIRES_PROPOSAL),
            doc(GK_CONFIG),
        ])) {
            let _ = policy_exception(&obj, &cfg());
            let _ = gatekeeper_config_exceptions(&obj);
        }

        #[test]
        fn ttl_values_never_panic(s in ".{0,24}") {
            let _ = parse_ttl(&s);
            let _ = parse_time(&s);
        }
    }
}
