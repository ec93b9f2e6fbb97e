//! The policy rollout: Kyverno `require-run-as-nonroot` goes from generation 3 (Audit) to 4
//! (Enforce) at t≈+8m and starts blocking pods in three clusters, while other engines (VAP,
//! Pod Security, Gatekeeper, ResourceQuota, an unrecognised webhook failure) deny alongside.
//!
//! Each denial is a series of occurrences; every occurrence after the initial list upserts the
//! same `id` with a higher `count`, a later `last_seen` and the Event it came from as evidence.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::clusters::{self, DURATION, GPU_TRAIN, PROD_AP, PROD_EU, PROD_US, STAGING_EU};
use super::exceptions::INCIDENT_EXCEPTION;
use super::messages::{self as msg, COMBINED_PREFIX};
use super::timeline::{Ms, Timeline, mins, secs, stream};
use crate::model::{
    ClusterId, Denial, Enforcement, Engine, Evidence, EvidenceSource, ObjectRef, PolicyRef, Record,
    RecordKind, Severity,
};

/// The policy whose rollout starts the incident.
pub(crate) const ROLLOUT_POLICY: &str = "require-run-as-nonroot";
/// When generation 4 reaches the first cluster.
pub(crate) const ROLLOUT_AT: Ms = mins(8);
/// Kyverno's webhook for Enforce policies.
pub(crate) const KYVERNO_WEBHOOK: &str = "validate.kyverno.svc-fail";
/// Gatekeeper's validating webhook.
const GATEKEEPER_WEBHOOK: &str = "validation.gatekeeper.sh";

/// The kyverno/policies `require-run-as-nonroot` message, with the anyPattern failure paths.
fn nonroot_message(rule: &str, template: bool) -> String {
    let base = if template { "/spec/template/spec" } else { "/spec" };
    format!(
        "validation error: Running as root is not allowed. Either the field spec.securityContext.runAsNonRoot \
must be set to `true`, or the fields spec.containers[*].securityContext.runAsNonRoot, \
spec.initContainers[*].securityContext.runAsNonRoot, and spec.ephemeralContainers[*].securityContext.runAsNonRoot \
must be set to `true`. rule {rule}[0] failed at path {base}/securityContext/runAsNonRoot/ \
rule {rule}[1] failed at path {base}/containers/0/securityContext/runAsNonRoot/"
    )
}

/// How one occurrence's message is written.
enum Shape {
    /// Kyverno blocks a pod a ReplicaSet tries to create.
    KyvernoPod,
    /// Kyverno blocks a Deployment update (policy-centric PolicyViolation event).
    KyvernoDeployment,
    /// A PolicyReport result from a background scan (generation 3, Audit).
    KyvernoReport,
    /// VAP denies a Deployment update (seen in the audit log).
    Vap,
    /// Pod Security admission blocks a pod a ReplicaSet creates.
    PodSecurity { container: &'static str },
    /// Gatekeeper blocks a pod a Job creates.
    Gatekeeper,
    /// ResourceQuota rejects a pod a ReplicaSet creates.
    Quota,
    /// A webhook call failure nobody parses.
    Unknown,
}

/// One denial series.
struct Series {
    cluster: &'static str,
    namespace: &'static str,
    /// The controller (or object) name: `payments` → ReplicaSet `payments-<hash>`.
    owner: &'static str,
    shape: Shape,
    /// Occurrences in [first, last).
    first: Ms,
    last: Ms,
    /// First retry gap and the cap of the exponential backoff.
    gap: (Ms, Ms),
    /// Exceptions joined to it from a given moment.
    exception_from: Option<(Ms, &'static str)>,
}

fn series() -> Vec<Series> {
    use Shape::*;
    let s = |cluster, namespace, owner, shape, first, last, gap| Series {
        cluster,
        namespace,
        owner,
        shape,
        first,
        last,
        gap,
        exception_from: None,
    };
    let rs = (secs(1), mins(5));
    vec![
        // Generation 3 was Audit: background-scan findings already in the reports.
        s(PROD_EU, "shop", "payments", KyvernoReport, -mins(26 * 60), -mins(11), (mins(60), mins(60))),
        s(
            PROD_US,
            "ml-platform",
            "feature-store",
            KyvernoReport,
            -mins(50 * 60),
            -mins(34),
            (mins(60), mins(60)),
        ),
        s(
            STAGING_EU,
            "sandbox",
            "load-generator",
            KyvernoReport,
            -mins(7 * 60),
            -mins(3),
            (mins(60), mins(60)),
        ),
        // Generation 4 (Enforce) reaches prod-eu, staging, then prod-us.
        Series {
            exception_from: Some((mins(21), INCIDENT_EXCEPTION)),
            ..s(PROD_EU, "shop", "payments", KyvernoPod, ROLLOUT_AT + secs(6), mins(21), rs)
        },
        s(PROD_EU, "shop", "cart", KyvernoPod, ROLLOUT_AT + secs(71), DURATION, rs),
        s(PROD_EU, "shop", "payments", KyvernoDeployment, mins(12), mins(21), (secs(5), mins(3))),
        s(STAGING_EU, "shop", "checkout", KyvernoPod, ROLLOUT_AT + secs(24), DURATION, rs),
        s(STAGING_EU, "sandbox", "load-generator", KyvernoPod, ROLLOUT_AT + secs(39), DURATION, rs),
        s(PROD_US, "ml-platform", "feature-store", KyvernoPod, ROLLOUT_AT + secs(52), DURATION, rs),
        s(PROD_US, "checkout", "checkout-api", KyvernoPod, mins(10) + secs(20), mins(18), rs),
        // The same Argo CD sync wave raises a replica count a VAP caps.
        s(PROD_US, "ml-platform", "batch-scorer", Vap, mins(9) + secs(30), DURATION, (secs(5), mins(3))),
        // staging's `shop` namespace was relabelled to enforce restricted:latest.
        s(
            STAGING_EU,
            "shop",
            "legacy-ftp",
            PodSecurity { container: "ftp" },
            mins(8) + secs(35),
            DURATION,
            rs,
        ),
        // Background noise on the GPU cluster: sweep jobs without an owner label.
        s(
            GPU_TRAIN,
            "research",
            "hparam-sweep-lr-0042",
            Gatekeeper,
            -mins(41),
            DURATION,
            (secs(10), mins(6)),
        ),
        // Cart denials push traffic to search, whose HPA hits the namespace quota.
        s(PROD_EU, "search", "search-api", Quota, mins(13), mins(19), (secs(2), mins(2))),
        // ap-south's sidecar injector times out just before the region drops.
        s(PROD_AP, "shop", "payments", Unknown, mins(17) + secs(30), DURATION, (secs(1), mins(1))),
    ]
}

/// The ReplicaSet whose pods the rollout blocked in `shop/payments` on `prod-eu-west-1`
/// (the pods the incident exception lets in).
pub(crate) struct BlockedPayments {
    /// `payments-<pod-template-hash>`.
    pub replica_set: String,
}

/// Every denial series of the demo.
pub(crate) fn generate(seed: u64, tl: &mut Timeline) -> BlockedPayments {
    let mut rng = stream(seed, "denials");
    let mut replica_set = String::new();
    for s in series() {
        let rs = emit(&mut rng, tl, &s);
        if s.exception_from.is_some_and(|(_, e)| e == INCIDENT_EXCEPTION) {
            replica_set = rs;
        }
    }
    BlockedPayments { replica_set }
}

/// Occurrence times: exponential backoff with jitter, from `first` until `last`.
fn occurrences(rng: &mut ChaCha8Rng, s: &Series) -> Vec<Ms> {
    let mut out = Vec::new();
    let mut t = s.first;
    let mut gap = s.gap.0;
    while t < s.last && t < DURATION {
        out.push(t);
        let jitter = rng.random_range(0..=gap / 5 + 1);
        t += gap + jitter;
        gap = (gap * 2).min(s.gap.1);
    }
    out
}

/// Generation and resourceVersion of the rollout policy before and after.
fn policy_ref(rng: &mut ChaCha8Rng, generation: i64) -> PolicyRef {
    PolicyRef {
        kind: "ClusterPolicy".into(),
        name: ROLLOUT_POLICY.into(),
        namespace: None,
        generation: Some(generation),
        resource_version: Some(rng.random_range(40_000_000..90_000_000u64).to_string()),
    }
}

/// The fixed part of a series' denial record.
fn base(rng: &mut ChaCha8Rng, s: &Series, rs: &str) -> Denial {
    let mut d = Denial {
        class: Default::default(),
        id: String::new(),
        engine: Engine::Kyverno,
        enforcement: Enforcement::Deny,
        policy: None,
        webhook: None,
        binding: None,
        rule: None,
        object: ObjectRef { kind: "Pod".into(), namespace: Some(s.namespace.into()), name: format!("{rs}-") },
        operation: Some("CREATE".into()),
        user: None,
        message: String::new(),
        count: 0,
        first_seen: jiff::Timestamp::UNIX_EPOCH,
        last_seen: jiff::Timestamp::UNIX_EPOCH,
        severity: None,
        category: None,
        owner: None,
        exceptions: Vec::new(),
        evidence: Vec::new(),
    };
    let mut kyverno = |d: &mut Denial, generation, rule: &str| {
        d.severity = Some(Severity::Medium);
        d.category = Some("Pod Security Standards (Restricted)".into());
        d.owner = Some("platform-security".into());
        d.rule = Some(rule.into());
        d.webhook = Some(KYVERNO_WEBHOOK.into());
        d.policy = Some(policy_ref(rng, generation));
    };
    match &s.shape {
        Shape::KyvernoPod => kyverno(&mut d, 4, "run-as-non-root"),
        Shape::KyvernoDeployment => {
            kyverno(&mut d, 4, "autogen-run-as-non-root");
            d.object = ObjectRef {
                kind: "Deployment".into(),
                namespace: Some(s.namespace.into()),
                name: s.owner.into(),
            };
            d.operation = Some("UPDATE".into());
            d.user = Some("system:serviceaccount:argocd:argocd-application-controller".into());
        }
        Shape::KyvernoReport => {
            kyverno(&mut d, 3, "run-as-non-root");
            d.webhook = None;
            d.enforcement = Enforcement::Audit;
            d.operation = None;
            d.object.name = format!("{rs}-{}", msg::k8s_suffix(rng, 5));
        }
        Shape::Vap => {
            d.engine = Engine::ValidatingAdmissionPolicy;
            d.policy = Some(PolicyRef {
                kind: "ValidatingAdmissionPolicy".into(),
                name: "replica-limit.example.com".into(),
                namespace: None,
                generation: Some(1),
                resource_version: Some(rng.random_range(40_000_000..90_000_000u64).to_string()),
            });
            d.binding = Some("replica-limit-binding".into());
            d.rule = Some("object.spec.replicas <= 5".into());
            d.object = ObjectRef {
                kind: "Deployment".into(),
                namespace: Some(s.namespace.into()),
                name: s.owner.into(),
            };
            d.operation = Some("UPDATE".into());
            d.user = Some("system:serviceaccount:argocd:argocd-application-controller".into());
            d.owner = Some("ml-platform".into());
        }
        Shape::PodSecurity { .. } => {
            d.engine = Engine::PodSecurity;
            d.policy = Some(PolicyRef {
                kind: "PodSecurity".into(),
                name: "restricted:latest".into(),
                namespace: Some(s.namespace.into()),
                generation: None,
                resource_version: None,
            });
            d.rule = Some("allowPrivilegeEscalation".into());
            d.severity = Some(Severity::High);
            d.category = Some("Pod Security Standards (Restricted)".into());
        }
        Shape::Gatekeeper => {
            d.engine = Engine::Gatekeeper;
            d.webhook = Some(GATEKEEPER_WEBHOOK.into());
            d.policy = Some(PolicyRef {
                kind: "K8sRequiredLabels".into(),
                name: "k8srequiredlabels-owner".into(),
                namespace: None,
                generation: Some(2),
                resource_version: Some(rng.random_range(1_000_000..9_000_000u64).to_string()),
            });
            d.rule = Some("owner".into());
            d.object.name = format!("{}-", s.owner);
            d.severity = Some(Severity::Low);
            d.owner = Some("team-platform".into());
        }
        Shape::Quota => {
            d.engine = Engine::ResourceQuota;
            d.policy = Some(PolicyRef {
                kind: "ResourceQuota".into(),
                name: "search-quota".into(),
                namespace: Some(s.namespace.into()),
                generation: None,
                resource_version: Some(rng.random_range(40_000_000..90_000_000u64).to_string()),
            });
            d.rule = Some("requests.cpu".into());
        }
        Shape::Unknown => {
            // A webhook that could not be called (issue 16): engine, webhook and class as the live
            // parser reads the message the occurrences carry.
            let parsed = crate::sources::parse::denial::parse(ISTIO_TIMEOUT);
            d.engine = parsed.engine;
            d.webhook = parsed.webhook.clone();
            d.class = crate::sources::parse::denial::class_of(&parsed);
        }
    }
    let (pkind, pname) = d.policy.as_ref().map_or(("none", "none"), |p| (p.kind.as_str(), p.name.as_str()));
    let source = if matches!(s.shape, Shape::KyvernoReport) { "report" } else { "event" };
    d.id = format!(
        "{source}/{}/{pkind}/{pname}/{}/{}/{}",
        d.engine.label(),
        d.rule.as_deref().unwrap_or("-"),
        s.namespace,
        d.object.name
    );
    d
}

/// One occurrence's verbatim message, the Event excerpt (when it differs), and for a pod
/// Kyverno blocks, the text of Kyverno's own policy-centric PolicyViolation event.
struct Occurrence {
    message: String,
    excerpt: String,
    policy_event: Option<String>,
}

/// Builds one occurrence's texts.
fn occurrence_text(rng: &mut ChaCha8Rng, s: &Series, rs: &str, d: &Denial) -> Occurrence {
    let pod = format!("{rs}-{}", msg::k8s_suffix(rng, 5));
    let (message, excerpt) = match &s.shape {
        Shape::KyvernoPod => {
            let rule = d.rule.as_deref().unwrap_or("run-as-non-root");
            let text = nonroot_message(rule, false);
            let inner = msg::kyverno_blocked("Pod", s.namespace, &pod, ROLLOUT_POLICY, rule, &text);
            let m = msg::error_creating(&msg::webhook_denied(KYVERNO_WEBHOOK, &inner));
            let event = msg::kyverno_violation_event("Pod", s.namespace, &pod, rule, &text);
            return Occurrence { message: m.clone(), excerpt: m, policy_event: Some(event) };
        }
        Shape::KyvernoDeployment => {
            let rule = "autogen-run-as-non-root";
            let text = nonroot_message(rule, true);
            let inner = msg::kyverno_blocked("Deployment", s.namespace, s.owner, ROLLOUT_POLICY, rule, &text);
            (
                msg::webhook_denied(KYVERNO_WEBHOOK, &inner),
                msg::kyverno_violation_event("Deployment", s.namespace, s.owner, rule, &text),
            )
        }
        Shape::KyvernoReport => {
            let m = nonroot_message("run-as-non-root", false);
            (m.clone(), m)
        }
        Shape::Vap => {
            let m = msg::forbidden(
                "deployments.apps",
                s.owner,
                &msg::vap_denied(
                    "replica-limit.example.com",
                    "replica-limit-binding",
                    "failed expression: object.spec.replicas <= 5",
                ),
            );
            (m.clone(), m)
        }
        Shape::PodSecurity { container } => {
            let m = msg::error_creating(&msg::forbidden(
                "pods",
                &pod,
                &msg::pod_security("restricted:latest", &msg::restricted_detail(container)),
            ));
            (m.clone(), m)
        }
        Shape::Gatekeeper => {
            let m = msg::error_creating(&msg::webhook_denied(
                GATEKEEPER_WEBHOOK,
                &msg::gatekeeper("k8srequiredlabels-owner", "you must provide labels: {\"owner\"}"),
            ));
            (m.clone(), m)
        }
        Shape::Quota => {
            let used = rng.random_range(38..=39) * 1000 + 500;
            let m = msg::error_creating(&msg::forbidden(
                "pods",
                &pod,
                &msg::quota_exceeded(
                    "search-quota",
                    "requests.cpu=2",
                    &format!("requests.cpu={used}m"),
                    "requests.cpu=40",
                ),
            ));
            (m.clone(), m)
        }
        Shape::Unknown => {
            let m = msg::error_creating(ISTIO_TIMEOUT);
            (m.clone(), m)
        }
    };
    Occurrence { message, excerpt, policy_event: None }
}

/// The demo's webhook call failure: istio's sidecar injector timing out.
const ISTIO_TIMEOUT: &str = "Internal error occurred: failed calling webhook \"namespace.sidecar-injector.istio.io\": \
failed to call webhook: Post \"https://istiod.istio-system.svc:443/inject?timeout=10s\": context deadline exceeded";

/// Where the evidence of a series lives.
fn evidence_ref(rng: &mut ChaCha8Rng, s: &Series, rs: &str, d: &Denial) -> (EvidenceSource, String) {
    match s.shape {
        Shape::KyvernoReport => {
            (EvidenceSource::PolicyReport, format!("PolicyReport {}/{}", s.namespace, msg::uid(rng)))
        }
        Shape::Vap => (EvidenceSource::AuditLog, format!("audit {}", msg::uid(rng))),
        // Kyverno's policy-centric events live in `default` for cluster-scoped policies.
        Shape::KyvernoDeployment => (
            EvidenceSource::Event,
            format!("Event default/{} (PolicyViolation)", msg::event_name(rng, d.policy_name())),
        ),
        Shape::Gatekeeper => (
            EvidenceSource::Event,
            format!("Event {}/{} (FailedCreate)", s.namespace, msg::event_name(rng, s.owner)),
        ),
        _ => (
            EvidenceSource::Event,
            format!("Event {}/{} (FailedCreate)", s.namespace, msg::event_name(rng, rs)),
        ),
    }
}

/// Kyverno's policy-centric PolicyViolation event (in `default`, on the ClusterPolicy) for
/// the pods of ReplicaSet `rs` that `d` records; its name is derived from `rs` so the
/// simulator's other random streams are untouched.
fn policy_event_record(d: &Denial, rs: &str) -> Denial {
    let hash =
        rs.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let name = format!("{ROLLOUT_POLICY}.{hash:016x}");
    Denial {
        class: Default::default(),
        id: format!("event/default/{name}"),
        operation: None,
        webhook: None,
        message: String::new(),
        exceptions: Vec::new(),
        evidence: vec![Evidence {
            source: EvidenceSource::Event,
            reference: format!("Event default/{name} (PolicyViolation)"),
            at: d.last_seen,
            excerpt: String::new(),
        }],
        ..d.clone()
    }
}

/// Emits one series: the state at its cluster's initial list, then one upsert per occurrence.
/// Returns the name of the object it blocks (a ReplicaSet's `owner-<hash>` for pods).
fn emit(rng: &mut ChaCha8Rng, tl: &mut Timeline, s: &Series) -> String {
    let cluster = ClusterId::new(s.cluster);
    let rs = match s.shape {
        Shape::KyvernoDeployment | Shape::Vap | Shape::Gatekeeper => s.owner.to_string(),
        _ => format!("{}-{}", s.owner, msg::template_hash(rng)),
    };
    let mut d = base(rng, s, &rs);
    let list_at = clusters::list_at(s.cluster, RecordKind::Denial);
    let times = occurrences(rng, s);
    let mut combined: Option<usize> = None;
    let mut listed = false;
    // Kyverno's policy-centric event for the same blocked pods: a second reporter of the same
    // requests, merged with the FailedCreate record into one row by the state.
    let mut kyverno_event: Option<Denial> = None;
    for (i, &t) in times.iter().enumerate() {
        if !clusters::reachable(s.cluster, t) {
            break;
        }
        let Occurrence { message, excerpt, policy_event } = occurrence_text(rng, s, &rs, &d);
        let at = tl.at(t);
        if d.count == 0 {
            d.first_seen = at;
        }
        d.count += 1;
        d.last_seen = at;
        d.message = message;
        // The event recorder creates a new Event per distinct message, until it aggregates
        // ten similar ones into a single "(combined from similar events)" Event.
        let in_place = match s.shape {
            Shape::KyvernoReport => d.evidence.len().checked_sub(1),
            _ => combined,
        };
        match in_place {
            Some(idx) => {
                if let Some(e) = d.evidence.get_mut(idx) {
                    e.at = at;
                    e.excerpt =
                        if combined.is_some() { format!("{COMBINED_PREFIX}{excerpt}") } else { excerpt };
                }
            }
            None => {
                let (source, reference) = evidence_ref(rng, s, &rs, &d);
                let aggregate = i >= 10 && source == EvidenceSource::Event;
                let excerpt = if aggregate { format!("{COMBINED_PREFIX}{excerpt}") } else { excerpt };
                d.evidence.push(Evidence { source, reference, at, excerpt });
                if d.evidence.len() > 5 {
                    d.evidence.remove(0);
                }
                if aggregate {
                    combined = Some(d.evidence.len() - 1);
                }
            }
        }
        if matches!(s.shape, Shape::Gatekeeper)
            && d.evidence.iter().all(|e| e.source != EvidenceSource::ConstraintStatus)
        {
            d.evidence.insert(
                0,
                Evidence {
                    source: EvidenceSource::ConstraintStatus,
                    reference: "K8sRequiredLabels k8srequiredlabels-owner".into(),
                    at,
                    excerpt: format!(
                        "[k8srequiredlabels-owner] Job {}/{}: you must provide labels: {{\"owner\"}}",
                        s.namespace, s.owner
                    ),
                },
            );
        }
        if let Some(text) = policy_event {
            let k = kyverno_event.get_or_insert_with(|| policy_event_record(&d, &rs));
            k.count = d.count;
            (k.first_seen, k.last_seen) = (d.first_seen, d.last_seen);
            k.message = text.split_once("; ").map_or(text.as_str(), |(_, m)| m).to_string();
            if let Some(e) = k.evidence.first_mut() {
                e.at = at;
                e.excerpt = text;
            }
        }
        let next = times.get(i + 1).copied().unwrap_or(Ms::MAX);
        if t < list_at {
            // Folded into the initial list.
            if next >= list_at && clusters::lists(s.cluster, RecordKind::Denial) {
                tl.upsert(list_at, &cluster, Record::Denial(d.clone()));
                if let Some(k) = &kyverno_event {
                    tl.upsert(list_at, &cluster, Record::Denial(k.clone()));
                }
                listed = true;
            }
            continue;
        }
        tl.upsert(t, &cluster, Record::Denial(d.clone()));
        if let Some(k) = &kyverno_event {
            tl.upsert(t, &cluster, Record::Denial(k.clone()));
        }
        listed = true;
    }
    if let Some((t, name)) = s.exception_from
        && listed
        && clusters::reachable(s.cluster, t)
    {
        d.exceptions = vec![format!("{}/{name}", s.namespace)];
        tl.upsert(t + secs(4), &cluster, Record::Denial(d));
    }
    rs
}
