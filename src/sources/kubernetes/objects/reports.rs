//! Policy reports (REFERENCE.md §1d): wgpolicyk8s.io/v1alpha2 `PolicyReport` /
//! `ClusterPolicyReport` and their successor openreports.io/v1alpha1 `Report` /
//! `ClusterReport`, same shape. The kind is not checked: openreports' own samples still say
//! `PolicyReport` under openreports.io.
//!
//! A report holds the *current* verdicts on objects that exist. `fail` results become
//! [`Enforcement::Audit`] denials: the object was admitted (an Audit-mode policy, a
//! background scan, or a policy added later) and violates the policy now; requests a policy
//! blocked never appear in reports. `warn` becomes [`Enforcement::Warn`]; `error` (the
//! policy could not be evaluated) is kept as an audit finding with its message. `pass`
//! results are dropped and `skip` results that name exceptions become [`ReportSkip`]s
//! ([`report_skips`]), for the exceptions' reach. [`report_records`] is both, as the report
//! watcher emits them.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kube::api::DynamicObject;
use serde_json::Value;

use super::{array_at, in_group, int_at, kind, merge_by_id, ns_name, str_at, string_at};
use crate::model::{
    Denial, Enforcement, Engine, Evidence, EvidenceSource, ObjectRef, PolicyRef, Record, ReportSkip, Severity,
};

const GROUPS: [&str; 2] = ["wgpolicyk8s.io", "openreports.io"];
/// Label some producers (Falco's adapter) set instead of a `source`.
const ENGINE_LABEL: &str = "policy.kubernetes.io/engine";

/// What every result of one report shares.
struct Report<'a> {
    /// `Kind/namespace/name` of the report.
    reference: String,
    /// `scope`, else the report itself (kube-bench and Falco cluster reports have no scope).
    scope: ObjectRef,
    /// The report-level `source`, else the engine label.
    source: Option<&'a str>,
}

impl<'a> Report<'a> {
    fn of(obj: &'a DynamicObject) -> Option<Self> {
        if !in_group(obj, &GROUPS) {
            return None;
        }
        let kind = kind(obj).unwrap_or("PolicyReport");
        let meta = &obj.metadata;
        let this = ObjectRef {
            kind: kind.to_string(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
        };
        let scope =
            obj.data.get("scope").and_then(|s| object_ref(s, meta.namespace.as_deref())).unwrap_or(this);
        let source = str_at(&obj.data, &["source"])
            .or_else(|| meta.labels.as_ref().and_then(|l| l.get(ENGINE_LABEL)).map(String::as_str));
        Some(Report { reference: format!("{kind}/{}", ns_name(meta)), scope, source })
    }

    /// The objects a result is about: its `resources[]`, else the report's scope.
    fn objects(&self, result: &Value) -> Vec<ObjectRef> {
        let listed: Vec<ObjectRef> =
            array_at(result, &["resources"]).iter().filter_map(|r| object_ref(r, None)).collect();
        if listed.is_empty() { vec![self.scope.clone()] } else { listed }
    }
}

/// An ObjectReference; a namespaced report's scope without a namespace is in the report's.
fn object_ref(v: &Value, default_ns: Option<&str>) -> Option<ObjectRef> {
    Some(ObjectRef {
        kind: string_at(v, &["kind"]).unwrap_or_default(),
        namespace: string_at(v, &["namespace"]).or_else(|| default_ns.map(str::to_string)),
        name: string_at(v, &["name"])?,
    })
}

/// One `results[]` entry, as read.
struct Entry<'a> {
    result: &'a str,
    policy: &'a str,
    rule: Option<&'a str>,
    source: Option<&'a str>,
    message: &'a str,
    properties: BTreeMap<&'a str, String>,
    raw: &'a Value,
}

fn results<'a>(obj: &'a DynamicObject, report: &Report<'a>) -> Vec<Entry<'a>> {
    array_at(&obj.data, &["results"])
        .iter()
        .filter_map(|r| {
            Some(Entry {
                result: str_at(r, &["result"])?,
                policy: str_at(r, &["policy"])?,
                rule: str_at(r, &["rule"]),
                source: str_at(r, &["source"]).or(report.source),
                message: str_at(r, &["message"]).unwrap_or(""),
                properties: properties(r),
                raw: r,
            })
        })
        .collect()
}

/// `properties` (a string map; other values are rendered as JSON).
fn properties(r: &Value) -> BTreeMap<&str, String> {
    r.get("properties")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `properties.exceptions`: a comma list of PolicyException names.
fn exception_names(props: &BTreeMap<&str, String>) -> Vec<String> {
    props
        .get("exceptions")
        .map(|e| e.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// One denial per `fail`/`warn`/`error` result and object, with id
/// `report|<Kind/ns/report>|<policy>|<rule>|<object>`: stable across re-lists and unique per
/// (report, policy, rule, resource). Repeats of the same id are folded into one, counted.
/// `observed_at` stands in for results without a timestamp.
pub fn report_denials(obj: &DynamicObject, observed_at: Timestamp) -> Vec<Denial> {
    let Some(report) = Report::of(obj) else { return Vec::new() };
    let denials = results(obj, &report)
        .into_iter()
        .filter_map(|r| enforcement(r.result).map(|e| (r, e)))
        .flat_map(|(r, e)| {
            report
                .objects(r.raw)
                .into_iter()
                .map(|o| denial(&report, &r, o, e, observed_at))
                .collect::<Vec<_>>()
        })
        .collect();
    merge_by_id(denials)
}

/// The `skip` results of a report that name exceptions, one per (policy, rule, object), with
/// id `skip|<Kind/ns/report>|<policy>|<rule>|<object>`; repeats of an id are folded into one,
/// counted, with the latest time. Skips naming no exception (a precondition did not hold) are
/// left out. `observed_at` stands in for results without a timestamp.
pub fn report_skips(obj: &DynamicObject, observed_at: Timestamp) -> Vec<ReportSkip> {
    let Some(report) = Report::of(obj) else { return Vec::new() };
    let mut by_id: BTreeMap<String, ReportSkip> = BTreeMap::new();
    for r in results(obj, &report).into_iter().filter(|r| r.result == "skip") {
        let exceptions = exception_names(&r.properties);
        if exceptions.is_empty() {
            continue;
        }
        let at = result_time(r.raw).unwrap_or(observed_at);
        for object in report.objects(r.raw) {
            let id = format!(
                "skip|{}|{}|{}|{}",
                report.reference,
                r.policy,
                r.rule.unwrap_or(""),
                object.display()
            );
            match by_id.get_mut(&id) {
                Some(s) => {
                    s.count += 1;
                    s.at = s.at.max(at);
                    for e in &exceptions {
                        if !s.exceptions.contains(e) {
                            s.exceptions.push(e.clone());
                        }
                    }
                }
                None => {
                    let skip = ReportSkip {
                        id: id.clone(),
                        report: report.reference.clone(),
                        policy: r.policy.to_string(),
                        rule: r.rule.map(str::to_string),
                        exceptions: exceptions.clone(),
                        object,
                        count: 1,
                        at,
                    };
                    by_id.insert(id, skip);
                }
            }
        }
    }
    by_id.into_values().collect()
}

/// Every record of a report: its denials ([`report_denials`]), then its skips naming
/// exceptions ([`report_skips`]).
pub fn report_records(obj: &DynamicObject, observed_at: Timestamp) -> Vec<Record> {
    let denials = report_denials(obj, observed_at).into_iter().map(Record::Denial);
    denials.chain(report_skips(obj, observed_at).into_iter().map(Record::Skip)).collect()
}

/// `fail`/`error` → audit findings, `warn` → warnings; anything else is not a finding.
fn enforcement(result: &str) -> Option<Enforcement> {
    match result {
        "fail" | "error" => Some(Enforcement::Audit),
        "warn" => Some(Enforcement::Warn),
        _ => None,
    }
}

/// The engine behind a result's `source` (Kyverno's values, REFERENCE.md §1d). Non-admission
/// producers (Falco, kube-bench, scanners) are [`Engine::Other`].
fn engine(source: Option<&str>) -> Engine {
    match source.unwrap_or("") {
        s if s.eq_ignore_ascii_case("kyverno") => Engine::Kyverno,
        // KyvernoValidatingPolicy, KyvernoImageValidatingPolicy, KyvernoMutatingPolicy, …
        s if s.starts_with("Kyverno") => Engine::KyvernoCel,
        "ValidatingAdmissionPolicy" => Engine::ValidatingAdmissionPolicy,
        s if s.eq_ignore_ascii_case("gatekeeper") => Engine::Gatekeeper,
        _ => Engine::Other,
    }
}

/// The policy object's kind for a source: `ClusterPolicy`/`Policy` for classic Kyverno
/// (namespaced when reported as `ns/name`), the CEL kind without the `Kyverno` prefix, else
/// the source itself.
fn policy_kind(source: Option<&str>, engine: Engine, namespaced: bool) -> String {
    let source = source.unwrap_or("");
    match engine {
        Engine::Kyverno if namespaced => "Policy".into(),
        Engine::Kyverno => "ClusterPolicy".into(),
        Engine::KyvernoCel => source.trim_start_matches("Kyverno").to_string(),
        Engine::Gatekeeper => "Constraint".into(),
        _ if source.is_empty() => "Policy".into(),
        _ => source.to_string(),
    }
}

fn severity(s: &str) -> Option<Severity> {
    Some(match s.to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" => Severity::Medium,
        "low" => Severity::Low,
        "info" | "informational" => Severity::Info,
        _ => return None,
    })
}

/// `timestamp{seconds, nanos}`; `seconds` may be rendered as a float (`1.666094801e+09`).
fn result_time(r: &Value) -> Option<Timestamp> {
    let ts = r.get("timestamp")?;
    let seconds = ts.get("seconds")?;
    let secs = seconds
        .as_i64()
        .or_else(|| seconds.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f as i64))?;
    let nanos =
        int_at(ts, &["nanos"]).and_then(|n| i32::try_from(n).ok()).filter(|n| (0..1_000_000_000).contains(n));
    Timestamp::new(secs, nanos.unwrap_or(0)).ok()
}

/// `fail: policy/rule: message [k=v, …]`, the result as the detail view shows it.
fn excerpt(r: &Entry<'_>) -> String {
    let mut s = format!("{}: {}", r.result, r.policy);
    if let Some(rule) = r.rule {
        s.push_str(&format!("/{rule}"));
    }
    if !r.message.is_empty() {
        s.push_str(&format!(": {}", r.message));
    }
    if !r.properties.is_empty() {
        let props: Vec<String> = r.properties.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push_str(&format!(" [{}]", props.join(", ")));
    }
    s
}

fn denial(
    report: &Report<'_>,
    r: &Entry<'_>,
    object: ObjectRef,
    enforcement: Enforcement,
    observed_at: Timestamp,
) -> Denial {
    let engine = engine(r.source);
    let kyverno = matches!(engine, Engine::Kyverno | Engine::KyvernoCel);
    // Kyverno reports namespaced policies as `ns/name`; the name is kept whole (exceptions
    // name policies the same way) and the namespace is split out.
    let policy_ns = r.policy.split_once('/').filter(|_| kyverno).map(|(ns, _)| ns.to_string());
    let at = result_time(r.raw).unwrap_or(observed_at);
    let prop = |k: &str| r.properties.get(k).filter(|v| !v.is_empty()).cloned();
    Denial {
        class: Default::default(),
        id: format!("report|{}|{}|{}|{}", report.reference, r.policy, r.rule.unwrap_or(""), object.display()),
        engine,
        enforcement,
        policy: Some(PolicyRef {
            kind: policy_kind(r.source, engine, policy_ns.is_some()),
            name: r.policy.to_string(),
            namespace: policy_ns,
            generation: None,
            resource_version: None,
        }),
        webhook: None,
        binding: prop("binding"),
        rule: r.rule.map(str::to_string),
        object,
        operation: None,
        // Falco's Kubernetes audit rules name the requesting user.
        user: prop("user"),
        message: r.message.to_string(),
        count: 1,
        first_seen: at,
        last_seen: at,
        severity: str_at(r.raw, &["severity"])
            .or(r.properties.get("severity").map(String::as_str))
            .and_then(severity),
        category: string_at(r.raw, &["category"]).or_else(|| prop("category")),
        owner: None,
        exceptions: exception_names(&r.properties),
        evidence: vec![Evidence {
            source: EvidenceSource::PolicyReport,
            reference: report.reference.clone(),
            at,
            excerpt: excerpt(r),
        }],
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use proptest::prelude::*;
    use serde_json::json;

    use super::super::test_support::{arb_mutation, arb_object, doc, docs, object, with};
    use super::*;
    use crate::model::RecordKind;

    const FULL: &str =
        include_str!("../../../../tests/fixtures/real/kyverno/policyreport-wgpolicy-v1alpha2-full.yaml");
    const SKIP_CEL: &str = include_str!(
        "../../../../tests/fixtures/real/kyverno/policyreport-skip-policyexception-celpolicy.yaml"
    );
    const SKIP_PSS: &str =
        include_str!("../../../../tests/fixtures/real/kyverno/policyreport-skip-by-exception-assert.yaml");
    const IVPOL: &str =
        include_str!("../../../../tests/fixtures/real/kyverno/policyreport-ivpol-fail-assert.yaml");
    const OPENREPORTS_ASSERT: &str =
        include_str!("../../../../tests/fixtures/real/kyverno/openreports-report-assert.yaml");
    const KUBE_BENCH: &str =
        include_str!("../../../../tests/fixtures/real/openreports/report-cis-kube-bench.yaml");
    const FALCO: &str = include_str!("../../../../tests/fixtures/real/openreports/report-falco-sample.yaml");
    const KYVERNO_SAMPLE: &str =
        include_str!("../../../../tests/fixtures/real/openreports/report-kyverno-sample.yaml");

    fn now() -> Timestamp {
        "2026-11-27T14:00:00Z".parse().unwrap()
    }

    /// Chainsaw assert files are partial objects: their `ownerReferences` lack the `uid` the
    /// API server always sets (and `ObjectMeta` requires), and they have no name. This adds
    /// both around the verbatim rest.
    fn complete_assert(mut v: Value) -> Value {
        for r in v["metadata"]["ownerReferences"].as_array_mut().into_iter().flatten() {
            r["uid"] = json!("00000000-0000-0000-0000-000000000000");
        }
        with(v, &["metadata", "name"], json!("report"))
    }

    #[test]
    fn full_kyverno_report_one_audit_denial_per_fail() {
        let ds = report_denials(&object(doc(FULL)), now());
        assert_eq!(ds.len(), 1, "one fail, one pass");
        let d = &ds[0];
        assert_eq!((d.engine, d.enforcement), (Engine::Kyverno, Enforcement::Audit));
        let p = d.policy.as_ref().unwrap();
        assert_eq!(
            (p.kind.as_str(), p.name.as_str(), p.namespace.as_deref()),
            ("ClusterPolicy", "disallow-host-namespaces", None)
        );
        assert_eq!(d.rule.as_deref(), Some("host-namespaces"));
        assert_eq!(d.object.display(), "Pod/kube-system/kube-apiserver-kind-control-plane");
        assert_eq!(
            d.message,
            "validation error: Sharing the host namespaces is disallowed. The fields spec.hostNetwork, spec.hostIPC, and spec.hostPID must be unset or set to `false`. rule host-namespaces failed at path /spec/hostNetwork/"
        );
        assert_eq!(
            (d.severity, d.category.as_deref()),
            (Some(Severity::Medium), Some("Pod Security Standards (Baseline)"))
        );
        assert_eq!(d.first_seen, Timestamp::from_second(1701868762).unwrap());
        assert_eq!(d.last_seen.to_string(), "2023-12-06T13:19:22Z");
        assert_eq!(
            d.id,
            "report|PolicyReport/kube-system/487df031-11d8-4ab4-b089-dfc0db1e533e|disallow-host-namespaces|host-namespaces|Pod/kube-system/kube-apiserver-kind-control-plane"
        );
        let e = &d.evidence[0];
        assert_eq!(e.source, EvidenceSource::PolicyReport);
        assert_eq!(e.reference, "PolicyReport/kube-system/487df031-11d8-4ab4-b089-dfc0db1e533e");
        assert!(
            e.excerpt
                .starts_with("fail: disallow-host-namespaces/host-namespaces: validation error: Sharing")
        );
        assert!(report_skips(&object(doc(FULL)), now()).is_empty());
        assert_eq!(report_denials(&object(doc(FULL)), now()), ds, "stable");
    }

    #[test]
    fn skips_carry_exception_names_and_object() {
        let skips = report_skips(&object(doc(SKIP_CEL)), now());
        assert_eq!(skips.len(), 1);
        let s = &skips[0];
        assert!(s.report.starts_with("PolicyReport/default/"), "{}", s.report);
        assert_eq!(
            s,
            &ReportSkip {
                id: format!(
                    "skip|{}|vpol-report-background-sample|exception|Deployment/default/skipped-deployment",
                    s.report
                ),
                report: s.report.clone(),
                policy: "vpol-report-background-sample".into(),
                rule: Some("exception".into()),
                exceptions: vec!["exclude-skipped-deployment".into()],
                object: ObjectRef {
                    kind: "Deployment".into(),
                    namespace: Some("default".into()),
                    name: "skipped-deployment".into()
                },
                count: 1,
                at: s.at,
            }
        );
        assert!(report_denials(&object(doc(SKIP_CEL)), now()).is_empty());
        let skips = report_skips(&object(complete_assert(doc(SKIP_PSS))), now());
        assert_eq!((skips[0].policy.as_str(), skips[0].rule.as_deref()), ("psa-1", Some("restricted")));
        assert_eq!(skips[0].exceptions, ["pod-security-exception"]);
        assert_eq!(skips[0].object.display(), "Pod/default/nginx", "scope without namespace: the report's");
        assert_eq!(skips[0].at, now(), "no timestamp: observed_at");
    }

    #[test]
    fn skips_fold_repeats_and_drop_those_naming_no_exception() {
        let v = json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "ClusterPolicyReport", "metadata": {"name": "cpol"},
            "results": [
                {"policy": "require-labels", "rule": "check", "result": "skip", "source": "kyverno",
                 "properties": {"exceptions": "allow-a"}, "timestamp": {"seconds": 1666094801},
                 "resources": [{"kind": "Pod", "namespace": "ns", "name": "x"}, {"kind": "Pod", "namespace": "ns", "name": "y"}]},
                {"policy": "require-labels", "rule": "check", "result": "skip", "source": "kyverno",
                 "properties": {"exceptions": "allow-a, allow-b"}, "timestamp": {"seconds": 1666094901},
                 "resources": [{"kind": "Pod", "namespace": "ns", "name": "x"}]},
                {"policy": "require-labels", "rule": "check", "result": "skip", "message": "preconditions not met",
                 "resources": [{"kind": "Pod", "namespace": "ns", "name": "z"}]},
                {"policy": "require-labels", "rule": "check", "result": "fail", "source": "kyverno",
                 "resources": [{"kind": "Pod", "namespace": "ns", "name": "z"}]}]});
        let skips = report_skips(&object(v.clone()), now());
        let got: Vec<(&str, u64, &[String], String)> = skips
            .iter()
            .map(|s| (s.object.name.as_str(), s.count, &s.exceptions[..], s.at.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "x",
                    2,
                    &["allow-a".to_string(), "allow-b".to_string()][..],
                    "2022-10-18T12:08:21Z".to_string()
                ),
                ("y", 1, &["allow-a".to_string()][..], "2022-10-18T12:06:41Z".to_string()),
            ]
        );
        assert_eq!(skips[0].id, "skip|ClusterPolicyReport/cpol|require-labels|check|Pod/ns/x");
        let kinds: Vec<_> = report_records(&object(v), now()).iter().map(|r| (r.kind(), r.key())).collect();
        assert_eq!(
            kinds,
            [
                (
                    RecordKind::Denial,
                    "report|ClusterPolicyReport/cpol|require-labels|check|Pod/ns/z".to_string()
                ),
                (RecordKind::Skip, skips[0].id.clone()),
                (RecordKind::Skip, skips[1].id.clone()),
            ]
        );
    }

    #[test]
    fn image_validating_policy_fail_is_kyverno_cel() {
        let ds = report_denials(&object(complete_assert(doc(IVPOL))), now());
        let d = &ds[0];
        assert_eq!((d.engine, d.enforcement), (Engine::KyvernoCel, Enforcement::Audit));
        assert_eq!(d.policy.as_ref().unwrap().kind, "ImageValidatingPolicy");
        assert_eq!(d.policy_name(), "ivpol-report-admission-sample");
        assert_eq!((d.rule.as_deref(), d.object.display().as_str()), (None, "Deployment/test-deployment"));
        assert_eq!(d.message, "failed to verify image with notary cert");
        assert_eq!((d.first_seen, d.severity), (now(), None), "no timestamp: observed_at");
        assert_eq!(
            d.evidence[0].excerpt,
            "fail: ivpol-report-admission-sample: failed to verify image with notary cert [label=prod]"
        );
    }

    #[test]
    fn pass_only_reports_give_nothing() {
        // The openreports chainsaw assert holds JMESPath expressions as values; pass only.
        let v = with(doc(OPENREPORTS_ASSERT), &["metadata", "name"], json!("r"));
        assert!(report_denials(&object(v.clone()), now()).is_empty());
        assert!(report_skips(&object(v), now()).is_empty());
        assert!(
            report_denials(&object(doc(KYVERNO_SAMPLE)), now()).is_empty(),
            "stale kind PolicyReport under openreports.io"
        );
    }

    #[test]
    fn kube_bench_report_without_scope_is_about_the_report() {
        let ds = report_denials(&object(doc(KUBE_BENCH)), now());
        let policies: Vec<(&str, Enforcement)> =
            ds.iter().map(|d| (d.policy_name(), d.enforcement)).collect();
        assert_eq!(
            policies,
            [
                ("api-server:anonymous-auth", Enforcement::Warn),
                ("api-server:basic-auth-file", Enforcement::Audit),
                ("api-server:token-auth-file", Enforcement::Warn),
            ]
        );
        let d = &ds[1];
        assert_eq!(d.engine, Engine::Other);
        assert_eq!(d.policy.as_ref().unwrap().kind, "kube-bench-adapter", "report-level source");
        assert_eq!(d.object.display(), "Report/sample-cis-bench-api-server");
        assert_eq!(d.category.as_deref(), Some("API Server"));
        assert_eq!(d.message, "ensure that --basic-auth-file argument is not set");
        assert!(
            d.evidence[0].excerpt.ends_with("[category=API Server, index=1.2.2]"),
            "{}",
            d.evidence[0].excerpt
        );
    }

    #[test]
    fn falco_reports_use_resources_labels_and_properties() {
        let [ns_report, cluster_report]: [Value; 2] = docs(FALCO).try_into().unwrap();
        let ds = report_denials(&object(ns_report), now());
        let d = &ds[0];
        assert_eq!((d.engine, d.enforcement), (Engine::Other, Enforcement::Audit));
        assert_eq!(d.policy.as_ref().unwrap().kind, "falco-agent", "from the engine label");
        assert_eq!(d.object.display(), "Pod/my-namespace/a-pod");
        assert_eq!(d.severity, Some(Severity::Low), "from properties.severity");
        assert_eq!(d.message, "Falco alert created due to the Change thread namespace rule");
        assert!(d.evidence[0].excerpt.contains("container.id=0f8d7e2a3296"));
        let ds = report_denials(&object(cluster_report), now());
        let d = &ds[0];
        assert_eq!(d.object.display(), "ClusterPolicyReport/falco-alerts-policy");
        assert_eq!((d.user.as_deref(), d.severity), (Some("username"), Some(Severity::Medium)));
    }

    #[test]
    fn ids_are_unique_per_resource_and_repeats_fold() {
        let v = json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "ClusterPolicyReport", "metadata": {"name": "cpol"},
            "results": [
                {"policy": "team-ns/require-labels", "rule": "check", "result": "fail", "source": "kyverno", "message": "a",
                 "resources": [{"kind": "Pod", "namespace": "team-ns", "name": "x"}, {"kind": "Pod", "namespace": "team-ns", "name": "y"}],
                 "timestamp": {"seconds": 1.666094801e9, "nanos": 5}},
                {"policy": "team-ns/require-labels", "rule": "check", "result": "fail", "source": "kyverno", "message": "b",
                 "resources": [{"kind": "Pod", "namespace": "team-ns", "name": "x"}], "timestamp": {"seconds": 1666094901}},
                {"policy": "vap", "result": "error", "source": "ValidatingAdmissionPolicy", "properties": {"binding": "vap-binding", "exceptions": "e1, e2"}},
                {"policy": "p", "result": "pass"}, {"result": "fail"}, {"policy": "q", "result": "unknown"}, "garbage"]});
        let ds = report_denials(&object(v), now());
        assert_eq!(ds.len(), 3);
        assert_eq!(ds[0].object.name, "x");
        assert_eq!((ds[0].count, ds[0].message.as_str()), (2, "a\nb"));
        assert_eq!(ds[0].first_seen.to_string(), "2022-10-18T12:06:41.000000005Z");
        assert_eq!(ds[0].last_seen.to_string(), "2022-10-18T12:08:21Z");
        assert_eq!(ds[0].evidence.len(), 2);
        let p = ds[0].policy.as_ref().unwrap();
        assert_eq!(
            (p.kind.as_str(), p.name.as_str(), p.namespace.as_deref()),
            ("Policy", "team-ns/require-labels", Some("team-ns"))
        );
        assert_ne!(ds[0].id, ds[1].id);
        assert_eq!(ds[2].engine, Engine::ValidatingAdmissionPolicy);
        assert_eq!(
            (ds[2].binding.as_deref(), ds[2].exceptions.clone()),
            (Some("vap-binding"), vec!["e1".to_string(), "e2".to_string()])
        );
        assert_eq!(ds[2].object.display(), "ClusterPolicyReport/cpol");
    }

    #[test]
    fn malformed_reports_and_other_groups() {
        let v = json!({"apiVersion": "openreports.io/v1alpha1", "kind": "Report", "metadata": {"name": "r", "namespace": "n"},
            "scope": "not an object", "results": {"not": "a list"}});
        assert!(report_denials(&object(v), now()).is_empty());
        let v = json!({"apiVersion": "openreports.io/v1alpha1", "kind": "Report", "metadata": {"name": "r", "namespace": "n"},
            "results": [{"policy": "p", "result": "fail", "severity": 3, "timestamp": {"seconds": "1701868762", "nanos": -1},
                         "resources": [{"kind": "Pod"}], "properties": {"n": 1}}]});
        let ds = report_denials(&object(v), now());
        assert_eq!(ds[0].first_seen, now(), "a string is not seconds");
        assert_eq!(ds[0].severity, None);
        assert_eq!(ds[0].object.display(), "Report/n/r", "a resource without a name is not an object");
        assert!(ds[0].evidence[0].excerpt.ends_with("[n=1]"));
        let other = json!({"apiVersion": "kyverno.io/v2", "kind": "PolicyException", "metadata": {"name": "x"}, "results": [{"policy": "p", "result": "fail"}]});
        assert!(report_denials(&object(other.clone()), now()).is_empty());
        assert!(report_skips(&object(other), now()).is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_objects_never_panic(obj in arb_object(
            &["wgpolicyk8s.io/v1alpha2", "openreports.io/v1alpha1"],
            &["PolicyReport", "ClusterPolicyReport", "Report", "ClusterReport"],
        )) {
            let _ = report_denials(&obj, Timestamp::UNIX_EPOCH);
            let _ = report_records(&obj, Timestamp::UNIX_EPOCH);
        }

        #[test]
        fn mutated_fixtures_never_panic(obj in arb_mutation(
            [doc(FULL), doc(SKIP_CEL), doc(KUBE_BENCH)].into_iter().chain(docs(FALCO)).collect()
        )) {
            let _ = report_denials(&obj, Timestamp::UNIX_EPOCH);
            let _ = report_records(&obj, Timestamp::UNIX_EPOCH);
        }
    }
}
