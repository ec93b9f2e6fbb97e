//! Test helpers: real fixtures (YAML) into `DynamicObject`s, and arbitrary JSON for proptests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kube::api::DynamicObject;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Every YAML document of a fixture, as JSON values.
pub fn docs(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .expect("fixture parses as YAML")
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

/// The only document of a fixture.
pub fn doc(yaml: &str) -> Value {
    let mut all = docs(yaml);
    assert_eq!(all.len(), 1, "one document expected");
    all.remove(0)
}

/// A doc excerpt with literal `...` placeholder lines (their SOURCES line says to drop them).
pub fn excerpt(yaml: &str) -> Value {
    let kept: Vec<&str> = yaml.lines().filter(|l| l.trim() != "...").collect();
    doc(&kept.join("\n"))
}

/// A JSON value as the watcher would hand it over.
pub fn object(v: Value) -> DynamicObject {
    serde_json::from_value(v).expect("a Kubernetes object")
}

/// `obj` with `value` set at `path` (objects created on the way).
pub fn with(mut obj: Value, path: &[&str], value: Value) -> Value {
    let mut cur = &mut obj;
    for key in path {
        if !cur.is_object() {
            *cur = json!({});
        }
        cur = cur.as_object_mut().unwrap().entry(key.to_string()).or_insert(Value::Null);
    }
    *cur = value;
    obj
}

/// Keys the projections look for, so random objects hit real paths.
const KEYS: &[&str] = &[
    "spec",
    "status",
    "metadata",
    "resourceGroups",
    "flavors",
    "resources",
    "name",
    "nominalQuota",
    "borrowingLimit",
    "lendingLimit",
    "flavorsUsage",
    "flavorsReservation",
    "total",
    "borrowed",
    "pendingWorkloads",
    "admittedWorkloads",
    "cohort",
    "cohortName",
    "clusterQueue",
    "podSets",
    "count",
    "template",
    "containers",
    "initContainers",
    "limits",
    "requests",
    "nvidia.com/gpu",
    "conditions",
    "type",
    "reason",
    "message",
    "lastTransitionTime",
    "admission",
    "podSetAssignments",
    "resourceUsage",
    "resourceRequests",
    "priority",
    "priorityClassName",
    "priorityClassRef",
    "queueName",
    "exceptions",
    "policyName",
    "ruleNames",
    "policyRefs",
    "match",
    "any",
    "all",
    "kinds",
    "namespaces",
    "names",
    "selector",
    "matchLabels",
    "podSecurity",
    "controlName",
    "images",
    "matchConditions",
    "expression",
    "expiresAt",
    "properties",
    "excludedNamespaces",
    "processes",
    "results",
    "result",
    "policy",
    "rule",
    "scope",
    "source",
    "severity",
    "category",
    "timestamp",
    "seconds",
    "nanos",
    "kind",
    "namespace",
    "violations",
    "enforcementAction",
    "enforcementActions",
    "auditTimestamp",
    "admissionChecks",
    "state",
];

/// Arbitrary JSON leaning towards the shapes the projections read.
pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        prop::sample::select(vec![
            "",
            "True",
            "False",
            "fail",
            "warn",
            "skip",
            "error",
            "pass",
            "deny",
            "dryrun",
            "scoped",
            "8",
            "36Gi",
            "1e999",
            "-3",
            "x",
            "4h",
            "1d",
            "2026-11-30",
            "2026-11-30T000000Z",
            "2024-03-21T13:55:21Z",
            "Admitted",
            "QuotaReserved",
            "Evicted",
            "Finished",
            "Succeeded",
            "Preempted",
            "PodsReady",
            "kyverno",
            "KyvernoValidatingPolicy",
            "ns/name",
            "a,b",
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kvs| {
                Value::Object(kvs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// A `DynamicObject` of `api_version`/`kind` with arbitrary data and arbitrary metadata when
/// that metadata is valid `ObjectMeta` (otherwise kube itself would refuse the object).
pub fn arb_object(
    api_versions: &'static [&'static str],
    kinds: &'static [&'static str],
) -> impl Strategy<Value = DynamicObject> {
    (prop::sample::select(api_versions), prop::sample::select(kinds), arb_json(), arb_json()).prop_map(
        |(av, kind, data, meta)| {
            let mut v = match data {
                Value::Object(m) => Value::Object(m),
                other => json!({ "spec": other }),
            };
            v["apiVersion"] = json!(av);
            v["kind"] = json!(kind);
            v["metadata"] =
                json!({"name": "x", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z"});
            let mut obj: DynamicObject = serde_json::from_value(v).unwrap();
            if let Ok(m) = serde_json::from_value(meta) {
                obj.metadata = m;
            }
            obj
        },
    )
}

/// JSON pointers of every node of `v` (root included).
fn pointers(v: &Value, here: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                pointers(child, format!("{here}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(here);
}

/// A real object with one node (anywhere, metadata included) replaced by arbitrary JSON;
/// objects kube itself would refuse to decode are not generated.
pub fn arb_mutation(bases: Vec<Value>) -> impl Strategy<Value = DynamicObject> {
    (prop::sample::select(bases), any::<prop::sample::Index>(), arb_json()).prop_filter_map(
        "kube cannot decode it",
        |(mut v, idx, replacement)| {
            let mut paths = Vec::new();
            pointers(&v, String::new(), &mut paths);
            let path = idx.get(&paths).clone();
            if let Some(slot) = v.pointer_mut(&path) {
                *slot = replacement;
            }
            serde_json::from_value(v).ok()
        },
    )
}
