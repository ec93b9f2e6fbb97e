//! Projections of custom resources (read as kube `DynamicObject`s) into fleettop's records.
//!
//! The dynamic watchers hand each object here on arrival; these functions keep only what a
//! pane or the evidence needs. They are pure: no I/O, no clock (callers pass `observed_at`
//! where a record needs one), and they never panic on what the API server sends. A missing
//! or malformed field becomes `None` (or the object is skipped when a required field is
//! missing); unknown fields are ignored, so newer API versions still project.
//!
//! - [`kueue`](cluster_queue): Kueue `ClusterQueue` → [`GpuQueue`](crate::model::GpuQueue),
//!   `LocalQueue` → [`LocalQueueRef`], `Workload` → [`GpuWorkload`](crate::model::GpuWorkload)
//!   (kueue.x-k8s.io v1beta1 and v1beta2; REFERENCE.md §3).
//! - [`exceptions`](policy_exception): Kyverno `PolicyException` (kyverno.io v2/v2beta1 and
//!   policies.kyverno.io v1), PSA-privileged namespaces and Gatekeeper `Config` exemptions →
//!   [`PolicyException`](crate::model::PolicyException) (REFERENCE.md §2).
//! - [`cleanup`](cleanup_policy): Kyverno `ClusterCleanupPolicy`/`CleanupPolicy` → what it
//!   deletes and when it runs, joined into an exception's expiry by [`with_cleanup_expiry`]
//!   (REFERENCE.md §2).
//! - [`reports`](report_denials): wgpolicyk8s.io `PolicyReport`/`ClusterPolicyReport` and
//!   openreports.io `Report`/`ClusterReport` results → [`Denial`]s (REFERENCE.md §1d).
//! - [`gatekeeper`](constraint_denials): Gatekeeper constraint audit violations → [`Denial`]s
//!   (REFERENCE.md §1e).
//!
//! Labels and annotations that carry an owner, a ticket, an expiry or a team differ between
//! organisations, so they are read through a [`ProjectionConfig`].

mod cleanup;
mod exceptions;
mod gatekeeper;
mod kueue;
mod policies;
mod reports;

#[cfg(test)]
pub(crate) mod test_support;

pub use cleanup::{CleanupPolicy, Cover, cleanup_policy, with_cleanup_expiry};
pub use exceptions::{gatekeeper_config_exceptions, namespace_exception, namespace_team, policy_exception};
pub use gatekeeper::constraint_denials;
pub use kueue::{
    LocalQueueRef, cluster_queue, local_queue, pending_positions, priority_class, resource_flavor, workload,
};
pub use policies::{admission_policy, constraint_policy, kyverno_policy};
pub use reports::{report_denials, report_records, report_skips};

use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::DynamicObject;
use serde_json::Value;

use super::project::timestamp;
use crate::model::Denial;
use crate::sources::parse::kueue_message::parse_quantity;

/// Which labels and annotations carry the facts no API field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionConfig {
    /// Label (on workloads, queues and namespaces) that names the owning team.
    pub team_label: String,
    /// Annotations (then labels, then a CEL exception's `spec.properties`) naming an owner or
    /// approver, first match wins.
    pub owner_keys: Vec<String>,
    /// Annotations (then labels, then `spec.properties`) holding a ticket reference.
    pub ticket_keys: Vec<String>,
    /// Annotations (then labels, then `spec.properties`) holding an expiry: an RFC 3339
    /// timestamp, a date (`2026-11-30`) or Kyverno's TTL layout (`2026-11-30T000000Z`).
    pub expiry_keys: Vec<String>,
}

impl Default for ProjectionConfig {
    fn default() -> Self {
        let keys = |ks: &[&str]| ks.iter().map(|k| k.to_string()).collect();
        Self {
            team_label: "team".into(),
            // `approved-by` and `ticket` are the keys the policies.kyverno.io PolicyException CRD
            // suggests for `spec.properties`; `owner`/`contact` are common label conventions.
            owner_keys: keys(&[
                "fleettop.io/owner",
                "fleettop.io/approved-by",
                "approved-by",
                "owner",
                "contact",
            ]),
            ticket_keys: keys(&["fleettop.io/ticket", "ticket"]),
            expiry_keys: keys(&["fleettop.io/expires-at", "fleettop.io/expires", "expires-at"]),
        }
    }
}

/// The value at `path` (object keys) under `v`.
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(*key))
}

/// A non-empty string at `path`.
fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// An owned non-empty string at `path`.
fn string_at(v: &Value, path: &[&str]) -> Option<String> {
    str_at(v, path).map(str::to_string)
}

/// An integer at `path`: a JSON integer, or a float without fraction. Strings are not numbers.
fn int_at(v: &Value, path: &[&str]) -> Option<i64> {
    let n = at(v, path)?;
    n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
}

/// A count at `path` (non-negative, fits `u32`).
fn count_at(v: &Value, path: &[&str]) -> Option<u32> {
    int_at(v, path).and_then(|n| u32::try_from(n).ok())
}

/// The array at `path`, or an empty slice when it is missing or not an array.
fn array_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// Strings of the array at `path`; non-string items are skipped.
fn strings_at(v: &Value, path: &[&str]) -> Vec<String> {
    array_at(v, path).iter().filter_map(Value::as_str).map(str::to_string).collect()
}

/// A Kubernetes quantity as JSON gives it (`9`, `"36Gi"`, `"300m"`), in base units.
fn quantity(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => parse_quantity(s),
        _ => None,
    }
}

/// An RFC 3339 timestamp string at `path`.
fn time_at(v: &Value, path: &[&str]) -> Option<Timestamp> {
    str_at(v, path).and_then(|s| s.parse().ok())
}

/// `metadata.creationTimestamp`, in our jiff.
fn created(meta: &ObjectMeta) -> Option<Timestamp> {
    meta.creation_timestamp.as_ref().and_then(|t| timestamp(&t.0))
}

/// The first of `keys` found in the annotations, then the labels; empty values do not count.
fn meta_lookup(meta: &ObjectMeta, keys: &[String]) -> Option<(String, String)> {
    [meta.annotations.as_ref(), meta.labels.as_ref()].into_iter().flatten().find_map(|map| {
        keys.iter().find_map(|k| map.get(k).filter(|v| !v.trim().is_empty()).map(|v| (k.clone(), v.clone())))
    })
}

/// A label's value.
fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels.as_ref().and_then(|l| l.get(key)).map(String::as_str).filter(|s| !s.is_empty())
}

/// `(group, version)` of the object's apiVersion (`("", "v1")` for core); `None` without types.
fn group_version(obj: &DynamicObject) -> Option<(&str, &str)> {
    let av = obj.types.as_ref()?.api_version.as_str();
    Some(av.rsplit_once('/').unwrap_or(("", av)))
}

/// The object's kind, when the object carries its types.
fn kind(obj: &DynamicObject) -> Option<&str> {
    obj.types.as_ref().map(|t| t.kind.as_str()).filter(|k| !k.is_empty())
}

/// False only when the object says it belongs to another API group: list items may come
/// without `apiVersion`/`kind`, and those are taken to be what the caller watched.
fn in_group(obj: &DynamicObject, groups: &[&str]) -> bool {
    group_version(obj).is_none_or(|(g, _)| groups.contains(&g))
}

/// `namespace/name`, or `name` for cluster-scoped objects.
fn ns_name(meta: &ObjectMeta) -> String {
    crate::model::ns_name(meta.namespace.as_deref(), meta.name.as_deref().unwrap_or(""))
}

/// Folds denials with the same id into one: counts add up, the time span widens, distinct
/// messages are kept on separate lines and every piece of evidence is kept. Order of first
/// appearance is preserved.
fn merge_by_id(denials: Vec<Denial>) -> Vec<Denial> {
    let mut out: Vec<Denial> = Vec::with_capacity(denials.len());
    let mut index: HashMap<String, usize> = HashMap::with_capacity(denials.len());
    for d in denials {
        let Some(&i) = index.get(&d.id) else {
            index.insert(d.id.clone(), out.len());
            out.push(d);
            continue;
        };
        let o = &mut out[i];
        o.count = o.count.saturating_add(d.count);
        o.first_seen = o.first_seen.min(d.first_seen);
        o.last_seen = o.last_seen.max(d.last_seen);
        if !o.message.lines().any(|l| l == d.message) {
            o.message = format!("{}\n{}", o.message, d.message);
        }
        for e in d.exceptions {
            if !o.exceptions.contains(&e) {
                o.exceptions.push(e);
            }
        }
        o.evidence.extend(d.evidence);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn value_helpers_read_paths_and_refuse_wrong_types() {
        let v = json!({"a": {"n": 3, "f": 2.0, "frac": 2.5, "s": "7", "neg": -1, "list": ["x", 1, "y"], "q": "36Gi", "t": "2024-03-21T13:55:21Z"}});
        assert_eq!(int_at(&v, &["a", "n"]), Some(3));
        assert_eq!(int_at(&v, &["a", "f"]), Some(2));
        assert_eq!(int_at(&v, &["a", "frac"]), None);
        assert_eq!(int_at(&v, &["a", "s"]), None, "a string is not a number");
        assert_eq!(count_at(&v, &["a", "neg"]), None);
        assert_eq!(strings_at(&v, &["a", "list"]), ["x", "y"]);
        assert!(array_at(&v, &["a", "n"]).is_empty());
        assert_eq!(quantity(&v["a"]["q"]), Some(36.0 * 1024f64.powi(3)));
        assert_eq!(quantity(&v["a"]["n"]), Some(3.0));
        assert_eq!(quantity(&v["a"]["list"]), None);
        assert_eq!(time_at(&v, &["a", "t"]).unwrap().to_string(), "2024-03-21T13:55:21Z");
        assert_eq!(time_at(&v, &["a", "s"]), None);
        assert_eq!(str_at(&v, &["a", "missing", "deeper"]), None);
    }

    #[test]
    fn meta_lookup_prefers_annotations_then_labels_in_key_order() {
        let meta: ObjectMeta = serde_json::from_value(json!({
            "annotations": {"owner": "from-annotation", "ticket": " "},
            "labels": {"fleettop.io/owner": "from-label", "ticket": "SEC-1"}
        }))
        .unwrap();
        let cfg = ProjectionConfig::default();
        assert_eq!(meta_lookup(&meta, &cfg.owner_keys).unwrap().1, "from-annotation");
        assert_eq!(
            meta_lookup(&meta, &cfg.ticket_keys).unwrap(),
            ("ticket".to_string(), "SEC-1".to_string())
        );
        assert_eq!(meta_lookup(&meta, &cfg.expiry_keys), None);
    }
}
