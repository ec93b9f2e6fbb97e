//! Message texts in the exact formats the real components emit (see `REFERENCE.md` §1–§4),
//! and the random-looking names Kubernetes generates (pod hashes, event names, UIDs).

use rand::Rng;

/// Kubernetes' `SafeEncodeString` alphabet: no vowels, no look-alike digits.
const K8S_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `n` characters from the Kubernetes name-suffix alphabet.
pub(crate) fn k8s_suffix(rng: &mut impl Rng, n: usize) -> String {
    (0..n).map(|_| char::from(K8S_ALPHABET[rng.random_range(0..K8S_ALPHABET.len())])).collect()
}

/// A ReplicaSet pod-template hash (`7d9c8b5f4`).
pub(crate) fn template_hash(rng: &mut impl Rng) -> String {
    let len = rng.random_range(9..=10);
    k8s_suffix(rng, len)
}

/// `n` lowercase hex digits.
pub(crate) fn hex(rng: &mut impl Rng, n: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    (0..n).map(|_| char::from(HEX[rng.random_range(0..16)])).collect()
}

/// A random (version 4 shaped) UID.
pub(crate) fn uid(rng: &mut impl Rng) -> String {
    format!(
        "{}-{}-4{}-{}{}-{}",
        hex(rng, 8),
        hex(rng, 4),
        hex(rng, 3),
        ["8", "9", "a", "b"][rng.random_range(0..4)],
        hex(rng, 3),
        hex(rng, 12)
    )
}

/// The name of an Event about `object` (`payments-7d9c8b5f4.181b2c3d4e5f6a7b`).
pub(crate) fn event_name(rng: &mut impl Rng, object: &str) -> String {
    format!("{object}.{}", hex(rng, 16))
}

/// `admission webhook "<name>" denied the request: <inner>` (apiserver `ToStatusErr`).
pub(crate) fn webhook_denied(webhook: &str, inner: &str) -> String {
    format!("admission webhook \"{webhook}\" denied the request: {inner}")
}

/// The controller's FailedCreate prefix: `Error creating: <err>`.
pub(crate) fn error_creating(err: &str) -> String {
    format!("Error creating: {err}")
}

/// The apiserver's admission wrapper: `<resource> "<name>" is forbidden: <inner>`.
pub(crate) fn forbidden(resource: &str, name: &str, inner: &str) -> String {
    format!("{resource} \"{name}\" is forbidden: {inner}")
}

/// The event recorder's aggregation prefix.
pub(crate) const COMBINED_PREFIX: &str = "(combined from similar events): ";

/// Kyverno's `GetBlockedMessages` text for one policy and rule: a YAML map after a header line.
pub(crate) fn kyverno_blocked(
    kind: &str,
    ns: &str,
    name: &str,
    policy: &str,
    rule: &str,
    msg: &str,
) -> String {
    format!(
        "\n\nresource {kind}/{ns}/{name} was blocked due to the following policies \n\n{policy}:\n  {rule}: {}\n",
        yaml_single_quoted(msg)
    )
}

/// Kyverno's policy-centric PolicyViolation event message.
pub(crate) fn kyverno_violation_event(kind: &str, ns: &str, name: &str, rule: &str, msg: &str) -> String {
    format!("{kind} {ns}/{name}: [{rule}] fail (blocked); {msg}")
}

/// A YAML single-quoted scalar (quotes doubled), as `yaml.Marshal` writes strings with `: `.
fn yaml_single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// ValidatingAdmissionPolicy denial with a binding.
pub(crate) fn vap_denied(policy: &str, binding: &str, msg: &str) -> String {
    format!("ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied request: {msg}")
}

/// Pod Security admission (enforce) as it reads in controller events.
pub(crate) fn pod_security(level: &str, detail: &str) -> String {
    format!("violates PodSecurity \"{level}\": {detail}")
}

/// The restricted-profile detail for a container that sets nothing.
pub(crate) fn restricted_detail(container: &str) -> String {
    format!(
        "allowPrivilegeEscalation != false (container \"{c}\" must set securityContext.allowPrivilegeEscalation=false), \
unrestricted capabilities (container \"{c}\" must set securityContext.capabilities.drop=[\"ALL\"]), \
runAsNonRoot != true (pod or container \"{c}\" must set securityContext.runAsNonRoot=true), \
seccompProfile (pod or container \"{c}\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
        c = container
    )
}

/// ResourceQuota admission: `exceeded quota: <name>, requested: …, used: …, limited: …`.
pub(crate) fn quota_exceeded(name: &str, requested: &str, used: &str, limited: &str) -> String {
    format!("exceeded quota: {name}, requested: {requested}, used: {used}, limited: {limited}")
}

/// Gatekeeper's per-constraint line: `[<constraint>] <msg>`.
pub(crate) fn gatekeeper(constraint: &str, msg: &str) -> String {
    format!("[{constraint}] {msg}")
}

/// The scheduler's `FitError` text: reasons as `<count> <reason>`, sorted as strings, then the
/// preemption post-filter's summary in the same shape.
pub(crate) fn failed_scheduling(total: u32, reasons: &[(&str, u32)], preemption: &[(&str, u32)]) -> String {
    fn join(items: &[(&str, u32)]) -> String {
        let mut parts: Vec<String> = items.iter().map(|(r, n)| format!("{n} {r}")).collect();
        parts.sort();
        parts.join(", ")
    }
    let mut s = format!("0/{total} nodes are available: {}.", join(reasons));
    if !preemption.is_empty() {
        s.push_str(&format!(" preemption: 0/{total} nodes are available: {}.", join(preemption)));
    }
    s
}

/// Parses the first part of a FailedScheduling message into (total nodes, per-reason counts), with the
/// source parser (`sources::parse::scheduling`), so the simulator reads its messages as fleettop does.
pub(crate) fn parse_failed_scheduling(msg: &str) -> (Option<u32>, Vec<(String, u32)>) {
    match crate::sources::parse::scheduling::parse_failed_scheduling(msg) {
        Some(f) => (Some(f.nodes_total), f.reasons),
        None => (None, Vec::new()),
    }
}

/// Kueue's QuotaReserved=False/Pending message for one pod set.
pub(crate) fn kueue_pending(pod_set: &str, needs: &[(&str, u32)]) -> String {
    let parts: Vec<String> = needs
        .iter()
        .map(|(flavor, n)| {
            format!("insufficient unused quota for nvidia.com/gpu in flavor {flavor}, {n} more needed")
        })
        .collect();
    format!("couldn't assign flavors to pod set {pod_set}: {}", parts.join(", "))
}

/// Kueue's preemption message (Evicted=True/Preempted and Preempted=True).
pub(crate) fn kueue_preempted(workload_uid: &str, job_uid: &str, reason: PreemptReason) -> String {
    format!(
        "Preempted to accommodate a workload (UID: {workload_uid}, JobUID: {job_uid}) due to {}",
        reason.human()
    )
}

/// Why Kueue preempted a workload (the `Preempted` condition's reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PreemptReason {
    /// A higher-priority workload of the same ClusterQueue.
    InClusterQueue,
    /// Another ClusterQueue of the cohort took back its nominal quota.
    InCohortReclamation,
}

impl PreemptReason {
    /// The condition reason.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            PreemptReason::InClusterQueue => "InClusterQueue",
            PreemptReason::InCohortReclamation => "InCohortReclamation",
        }
    }

    fn human(self) -> &'static str {
        match self {
            PreemptReason::InClusterQueue => "prioritization in the ClusterQueue",
            PreemptReason::InCohortReclamation => "reclamation within the cohort",
        }
    }
}

/// Rounds to one decimal place (keeps recorded values short and stable).
pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
