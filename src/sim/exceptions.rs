//! Policy exceptions across the fleet: Kyverno `PolicyException`s with no expiry, with a
//! `cleanup.kyverno.io/ttl` label, with `spec.expiresAt`, with an expiry annotation; a Gatekeeper
//! `Config` exemption; a PSA-privileged namespace; and the emergency exception on-call creates
//! at t≈+21m to unblock payments.

use jiff::Timestamp;

use super::clusters::{self, GPU_TRAIN, PROD_AP, PROD_EU, PROD_US, STAGING_EU};
use super::denials::ROLLOUT_POLICY;
use super::timeline::{Ms, Timeline, abs, mins, secs};
use crate::model::{
    ClusterId, Engine, Evidence, EvidenceSource, ExpirySource, PolicyException, PolicyRuleRef, Record,
    RecordKind,
};

/// The exception created during the incident to unblock `shop/payments`.
pub(crate) const INCIDENT_EXCEPTION: &str = "payments-runasroot-incident-4711";
/// When on-call creates it.
const INCIDENT_EXCEPTION_AT: Ms = mins(20) + secs(50);
/// When Kyverno's cleanup controller deletes `shop/checkout-hostpath-debug` (its TTL ran out).
pub(crate) const CHECKOUT_DEBUG_DELETED_AT: Ms = mins(11) + secs(7);
/// The expiry annotation this fleet's policy-as-code repo uses (configurable in fleettop).
const EXPIRES_ANNOTATION: &str = "fleettop.io/expires-at";

/// How a demo exception says when it ends.
enum Expiry {
    None,
    /// Relative TTL label, measured from creation.
    TtlRelative(&'static str, Ms),
    /// Absolute TTL label at an offset from the start.
    TtlAbsolute(Ms),
    /// `spec.expiresAt` at an offset.
    ExpiresAt(Ms),
    /// The expiry annotation at an offset.
    Annotation(Ms),
}

struct Spec {
    cluster: &'static str,
    engine: Engine,
    kind: &'static str,
    api: &'static str,
    namespace: Option<&'static str>,
    name: &'static str,
    policies: &'static [(&'static str, &'static [&'static str])],
    matches: &'static str,
    created: Ms,
    expiry: Expiry,
    owner: Option<&'static str>,
    ticket: Option<&'static str>,
    /// Deleted (by Kyverno's cleanup controller) at this offset.
    deleted: Option<Ms>,
}

const DAY: Ms = mins(24 * 60);

fn specs() -> Vec<Spec> {
    let v2 = |cluster, namespace, name, policies, matches, created, expiry, owner, ticket| Spec {
        cluster,
        engine: Engine::Kyverno,
        kind: "PolicyException",
        api: "kyverno.io/v2",
        namespace: Some(namespace),
        name,
        policies,
        matches,
        created,
        expiry,
        owner,
        ticket,
        deleted: None,
    };
    let cel = |cluster, namespace, name, policies, matches, created, expiry, owner, ticket| Spec {
        engine: Engine::KyvernoCel,
        api: "policies.kyverno.io/v1",
        ..v2(cluster, namespace, name, policies, matches, created, expiry, owner, ticket)
    };
    const NONROOT_RULES: &[&str] = &["run-as-non-root", "autogen-run-as-non-root"];
    vec![
        v2(
            PROD_EU,
            "shop",
            "payments-legacy-root",
            &[(ROLLOUT_POLICY, NONROOT_RULES)],
            "Pod, Deployment in ns shop named payments-legacy*",
            -41 * DAY,
            Expiry::None,
            Some("team-payments"),
            Some("SEC-1182"),
        ),
        Spec {
            deleted: Some(CHECKOUT_DEBUG_DELETED_AT),
            ..v2(
                PROD_EU,
                "shop",
                "checkout-hostpath-debug",
                &[("disallow-host-path", &["host-path", "autogen-host-path"])],
                "Pod in ns shop named checkout-debug-*",
                -mins(230),
                Expiry::TtlRelative("4h", mins(240)),
                Some("j.alvarez"),
                Some("INC-4690"),
            )
        },
        v2(
            PROD_EU,
            "observability",
            "otel-agent-hostnetwork",
            &[("disallow-host-namespaces", &["host-namespaces"])],
            "DaemonSet, Pod in ns observability named otel-agent*",
            -120 * DAY,
            Expiry::Annotation(214 * DAY),
            Some("team-observability"),
            Some("OBS-301"),
        ),
        cel(
            PROD_US,
            "ml-platform",
            "gpu-images-allowlist",
            &[("restrict-image-registries", &[])],
            "images nvcr.io/nvidia/*, ghcr.io/acme-ml/*",
            -14 * DAY,
            Expiry::ExpiresAt(mins(18)),
            Some("ml-platform"),
            Some("CHG-20931"),
        ),
        v2(
            PROD_US,
            "kube-system",
            "node-exporter-hostpid",
            &[("disallow-host-namespaces", &["host-namespaces", "autogen-host-namespaces"])],
            "DaemonSet, Pod in ns kube-system named node-exporter*",
            -300 * DAY,
            Expiry::None,
            None,
            None,
        ),
        cel(
            PROD_US,
            "ml-platform",
            "triton-hostipc",
            &[("disallow-host-ipc", &[])],
            "Deployment ml-platform/triton-* (matchCondition object.metadata.labels.app == 'triton')",
            -5 * DAY,
            Expiry::ExpiresAt(2 * DAY + mins(6 * 60)),
            Some("ml-serving"),
            Some("CHG-21077"),
        ),
        v2(
            STAGING_EU,
            "sandbox",
            "load-test-privileged",
            &[("disallow-privileged-containers", &["privileged-containers"])],
            "Pod in ns sandbox named load-test-*",
            -mins(150),
            Expiry::TtlAbsolute(mins(30)),
            Some("perf-team"),
            None,
        ),
        v2(
            STAGING_EU,
            "shop",
            "legacy-ftp-exemption",
            &[(ROLLOUT_POLICY, &["run-as-non-root"])],
            "Pod in ns shop named legacy-ftp-*",
            -90 * DAY,
            Expiry::Annotation(-3 * DAY),
            Some("team-shop"),
            Some("SEC-977"),
        ),
        Spec {
            cluster: GPU_TRAIN,
            engine: Engine::Gatekeeper,
            kind: "Config",
            api: "config.gatekeeper.sh/v1alpha1",
            namespace: Some("gatekeeper-system"),
            name: "config",
            policies: &[("*", &[])],
            matches: "excludedNamespaces [kube-*, gpu-operator, research-scratch] for processes [*]",
            created: -200 * DAY,
            expiry: Expiry::None,
            owner: Some("team-platform"),
            ticket: None,
            deleted: None,
        },
        Spec {
            cluster: PROD_AP,
            engine: Engine::PodSecurity,
            kind: "Namespace",
            api: "v1",
            namespace: None,
            name: "monitoring",
            policies: &[("restricted:latest", &[])],
            matches: "namespace monitoring labelled pod-security.kubernetes.io/enforce=privileged",
            created: -400 * DAY,
            expiry: Expiry::None,
            owner: None,
            ticket: None,
            deleted: None,
        },
    ]
}

/// The incident exception, created by on-call.
fn incident_spec() -> Spec {
    Spec {
        cluster: PROD_EU,
        engine: Engine::Kyverno,
        kind: "PolicyException",
        api: "kyverno.io/v2",
        namespace: Some("shop"),
        name: INCIDENT_EXCEPTION,
        policies: &[(ROLLOUT_POLICY, &["run-as-non-root", "autogen-run-as-non-root"])],
        matches: "Pod, Deployment in ns shop named payments*",
        created: INCIDENT_EXCEPTION_AT,
        expiry: Expiry::TtlRelative("2h", mins(120)),
        owner: Some("oncall (m.chen)"),
        ticket: Some("INC-4711"),
        deleted: None,
    }
}

fn record(start: Timestamp, s: &Spec) -> PolicyException {
    let created_at = abs(start, s.created);
    let (expires_at, expiry_source, field) = match s.expiry {
        Expiry::None => (None, ExpirySource::None, "no expiry field, label or annotation".to_string()),
        Expiry::TtlRelative(v, d) => (
            Some(abs(start, s.created + d)),
            ExpirySource::TtlLabel { value: v.into() },
            format!("metadata.labels[cleanup.kyverno.io/ttl]: {v}"),
        ),
        Expiry::TtlAbsolute(at) => {
            let v = abs(start, at).strftime("%Y-%m-%dT%H%M%SZ").to_string();
            let field = format!("metadata.labels[cleanup.kyverno.io/ttl]: {v}");
            (Some(abs(start, at)), ExpirySource::TtlLabel { value: v }, field)
        }
        Expiry::ExpiresAt(at) => {
            (Some(abs(start, at)), ExpirySource::ExpiresAt, format!("spec.expiresAt: {}", abs(start, at)))
        }
        Expiry::Annotation(at) => (
            Some(abs(start, at)),
            ExpirySource::Annotation { key: EXPIRES_ANNOTATION.into() },
            format!("metadata.annotations[{EXPIRES_ANNOTATION}]: {}", abs(start, at)),
        ),
    };
    let reference = match s.namespace {
        Some(ns) => format!("{} {ns}/{} ({})", s.kind, s.name, s.api),
        None => format!("{} {} ({})", s.kind, s.name, s.api),
    };
    PolicyException {
        engine: s.engine,
        kind: s.kind.into(),
        namespace: s.namespace.map(str::to_string),
        name: s.name.into(),
        policies: s
            .policies
            .iter()
            .map(|(p, rules)| PolicyRuleRef {
                policy: (*p).into(),
                rules: rules.iter().map(|r| (*r).to_string()).collect(),
            })
            .collect(),
        matches: s.matches.into(),
        scope: Vec::new(),
        created_at: Some(created_at),
        expires_at,
        expiry_source,
        owner: s.owner.map(str::to_string),
        ticket: s.ticket.map(str::to_string),
        evidence: vec![Evidence {
            source: EvidenceSource::Object,
            reference,
            at: created_at,
            excerpt: field,
        }],
    }
}

/// Initial lists, the TTL cleanup during the incident and the emergency exception.
pub(crate) fn generate(start: Timestamp, tl: &mut Timeline) {
    for s in specs() {
        let cluster = ClusterId::new(s.cluster);
        let r = record(start, &s);
        let key = r.key();
        tl.upsert(clusters::list_at(s.cluster, RecordKind::Exception), &cluster, Record::Exception(r));
        if let Some(at) = s.deleted
            && clusters::reachable(s.cluster, at)
        {
            tl.delete(at, &cluster, RecordKind::Exception, key);
        }
    }
    let s = incident_spec();
    tl.upsert(s.created + secs(1), &ClusterId::new(s.cluster), Record::Exception(record(start, &s)));
}
