//! Policy report `skip` results naming the demo's Kyverno exceptions: what each bypassed.
//! Kyverno's background scan reports them in the initial list and again every few minutes
//! (same results, a newer timestamp); the incident exception's skips appear once the payments
//! pods it unblocks are admitted, and the TTL-cleaned exception's go with it.

use super::clusters::{self, PROD_EU, PROD_US, STAGING_EU};
use super::denials::{BlockedPayments, ROLLOUT_POLICY};
use super::exceptions::{CHECKOUT_DEBUG_DELETED_AT, INCIDENT_EXCEPTION};
use super::timeline::{Ms, Timeline, mins, secs};
use crate::model::{ClusterId, ObjectRef, Record, RecordKind, ReportSkip};

/// How often the background scan re-reports the same results.
const RESCAN_EVERY: Ms = mins(5);

/// One skip result series: a policy rule an exception bypasses for one object.
struct Skip {
    cluster: &'static str,
    exception: &'static str,
    policy: &'static str,
    rule: &'static str,
    kind: &'static str,
    namespace: &'static str,
    name: String,
    /// First reported (the initial list when at or before it).
    from: Ms,
    /// Reported until (the report result goes away).
    until: Option<Ms>,
}

fn skips(payments: &BlockedPayments) -> Vec<Skip> {
    let s = |cluster, exception, policy, rule, kind, namespace, name: &str| Skip {
        cluster,
        exception,
        policy,
        rule,
        kind,
        namespace,
        name: name.to_string(),
        from: 0,
        until: None,
    };
    const NONROOT: &str = "run-as-non-root";
    const AUTOGEN_NONROOT: &str = "autogen-run-as-non-root";
    const HOSTNS: &str = "disallow-host-namespaces";
    // The pods of the ReplicaSet the rollout blocked, admitted once the exception exists.
    let pod = |suffix: &str| format!("{}-{suffix}", payments.replica_set);
    let incident = |rule, kind, name: &str, from| Skip {
        from,
        ..s(PROD_EU, INCIDENT_EXCEPTION, ROLLOUT_POLICY, rule, kind, "shop", name)
    };
    vec![
        s(
            PROD_EU,
            "payments-legacy-root",
            ROLLOUT_POLICY,
            AUTOGEN_NONROOT,
            "Deployment",
            "shop",
            "payments-legacy-batch",
        ),
        s(
            PROD_EU,
            "payments-legacy-root",
            ROLLOUT_POLICY,
            NONROOT,
            "Pod",
            "shop",
            "payments-legacy-batch-6f8d9-k2x7q",
        ),
        s(
            PROD_EU,
            "otel-agent-hostnetwork",
            HOSTNS,
            "host-namespaces",
            "DaemonSet",
            "observability",
            "otel-agent",
        ),
        s(
            PROD_EU,
            "otel-agent-hostnetwork",
            HOSTNS,
            "host-namespaces",
            "Pod",
            "observability",
            "otel-agent-4xk9p",
        ),
        s(
            PROD_EU,
            "otel-agent-hostnetwork",
            HOSTNS,
            "host-namespaces",
            "Pod",
            "observability",
            "otel-agent-9dmw2",
        ),
        s(
            PROD_EU,
            "otel-agent-hostnetwork",
            HOSTNS,
            "host-namespaces",
            "Pod",
            "observability",
            "otel-agent-tq7ln",
        ),
        Skip {
            until: Some(CHECKOUT_DEBUG_DELETED_AT + secs(20)),
            ..s(
                PROD_EU,
                "checkout-hostpath-debug",
                "disallow-host-path",
                "host-path",
                "Pod",
                "shop",
                "checkout-debug-5b7d",
            )
        },
        incident(AUTOGEN_NONROOT, "Deployment", "payments", mins(21) + secs(5)),
        incident(NONROOT, "Pod", &pod("h8s2x"), mins(21) + secs(12)),
        incident(NONROOT, "Pod", &pod("m4q9z"), mins(21) + secs(14)),
        incident(NONROOT, "Pod", &pod("x7v2c"), mins(21) + secs(17)),
        s(
            PROD_US,
            "gpu-images-allowlist",
            "restrict-image-registries",
            "",
            "Pod",
            "ml-platform",
            "llm-finetune-0",
        ),
        s(
            PROD_US,
            "gpu-images-allowlist",
            "restrict-image-registries",
            "",
            "Pod",
            "ml-platform",
            "llm-finetune-1",
        ),
        s(
            PROD_US,
            "node-exporter-hostpid",
            HOSTNS,
            "autogen-host-namespaces",
            "DaemonSet",
            "kube-system",
            "node-exporter",
        ),
        s(
            PROD_US,
            "node-exporter-hostpid",
            HOSTNS,
            "host-namespaces",
            "Pod",
            "kube-system",
            "node-exporter-2jv8c",
        ),
        s(
            PROD_US,
            "node-exporter-hostpid",
            HOSTNS,
            "host-namespaces",
            "Pod",
            "kube-system",
            "node-exporter-wq5rt",
        ),
        s(PROD_US, "triton-hostipc", "disallow-host-ipc", "", "Deployment", "ml-platform", "triton-server"),
        s(
            STAGING_EU,
            "load-test-privileged",
            "disallow-privileged-containers",
            "privileged-containers",
            "Pod",
            "sandbox",
            "load-test-7c4f-1",
        ),
        s(
            STAGING_EU,
            "load-test-privileged",
            "disallow-privileged-containers",
            "privileged-containers",
            "Pod",
            "sandbox",
            "load-test-7c4f-2",
        ),
        s(STAGING_EU, "legacy-ftp-exemption", ROLLOUT_POLICY, NONROOT, "Pod", "shop", "legacy-ftp-0"),
    ]
}

/// A stable, UID-shaped report name for an object (Kyverno names reports by the object's UID).
fn report_uid(cluster: &str, object: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in cluster.bytes().chain(object.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let x = format!("{h:016x}{:016x}", h.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15);
    format!("{}-{}-{}-{}-{}", &x[0..8], &x[8..12], &x[12..16], &x[16..20], &x[20..32])
}

fn record(s: &Skip, at: jiff::Timestamp) -> ReportSkip {
    let object = ObjectRef { kind: s.kind.into(), namespace: Some(s.namespace.into()), name: s.name.clone() };
    let report = format!("PolicyReport/{}/{}", s.namespace, report_uid(s.cluster, &object.display()));
    ReportSkip {
        id: format!("skip|{report}|{}|{}|{}", s.policy, s.rule, object.display()),
        report,
        policy: s.policy.into(),
        rule: (!s.rule.is_empty()).then(|| s.rule.to_string()),
        exceptions: vec![s.exception.into()],
        object,
        count: 1,
        at,
    }
}

/// The initial list, the rescans and the removals.
pub(crate) fn generate(tl: &mut Timeline, payments: &BlockedPayments) {
    for s in skips(payments) {
        let cluster = ClusterId::new(s.cluster);
        let listed = clusters::list_at(s.cluster, RecordKind::Skip);
        let mut t = s.from.max(listed);
        let end = s.until.unwrap_or(clusters::DURATION).min(clusters::DURATION);
        let mut last = None;
        while t < end && clusters::reachable(s.cluster, t) {
            let r = record(&s, tl.at(t));
            last = Some(r.key());
            tl.upsert(t, &cluster, Record::Skip(r));
            t += RESCAN_EVERY;
        }
        if let (Some(until), Some(key)) = (s.until, last) {
            tl.delete(until, &cluster, RecordKind::Skip, key);
        }
    }
}
