//! Admission denial messages → engine, policy, rule, object and message.
//!
//! [`parse`] takes the text of an Event, a status condition, an audit annotation or a pasted
//! `kubectl` error and peels the wrappers controllers and clients put around the apiserver's
//! message (`Error creating: `, `pods "x" is forbidden: `, …), then recognises the engine
//! (validating webhooks, Kyverno, Kyverno CEL, Gatekeeper, ValidatingAdmissionPolicy, Pod
//! Security, ResourceQuota, LimitRange). Unknown shapes come back as [`Engine::Other`] with the
//! text kept. Formats are in REFERENCE.md §1; the test vectors are the real strings in
//! `tests/fixtures/real/denials/`.

mod engines;
mod kyverno;
mod quota;
mod text;
mod wrappers;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod tests;

use crate::model::{DenialClass, Enforcement, Engine, FailureKind, ObjectRef};

pub(crate) use text::kind_for_resource;
pub use wrappers::{ResourceName, Wrapper};

/// Everything [`parse`] could read out of one denial message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDenial {
    /// The admission mechanism; [`Engine::Other`] when no shape matched.
    pub engine: Engine,
    /// `Deny` for rejections; `Warn` for `would violate PodSecurity`, VAP `Validation failed
    /// for …`, Kyverno `warn` results and anything behind kubectl's `Warning: `; `Audit` for
    /// Kyverno violation events that did not block (`fail` without `(blocked)`) and
    /// Gatekeeper audit lines.
    pub enforcement: Enforcement,
    /// The prefixes peeled off the message, outermost first.
    pub wrappers: Vec<Wrapper>,
    /// The object the request was for, when the text names it (`pods "x" is forbidden`,
    /// Kyverno's `resource Deployment/ns/name`, a StatefulSet's pod).
    pub object: Option<ObjectRef>,
    /// The validating webhook's name (`validate.kyverno.svc-fail`, `validation.gatekeeper.sh`).
    pub webhook: Option<String>,
    /// The ValidatingAdmissionPolicyBinding, when the message names one.
    pub binding: Option<String>,
    /// One entry per (policy, rule, message): Kyverno map entries, Gatekeeper constraints, the
    /// VAP policy, Pod Security controls, quota resources, LimitRange violations.
    pub findings: Vec<Finding>,
    /// Per-resource figures of an `exceeded quota` message, in message order.
    pub quota: Vec<QuotaUse>,
    /// The innermost message, trimmed: after every wrapper and after the engine header that
    /// names the webhook or policy (`admission webhook "…" denied the request:`,
    /// `ValidatingAdmissionPolicy '…' denied request:`, `violates PodSecurity "…":`, Kyverno's
    /// `resource … was blocked` line). Quota and LimitRange messages are kept whole; a webhook
    /// that gave no explanation keeps its `admission webhook "…" denied …` sentence.
    pub detail: String,
    /// The input, verbatim.
    pub raw: String,
    /// False when no grammar read the message (a gap: kept, counted as unattributed). The
    /// engine then comes from a webhook name found in the text, else [`Engine::Other`].
    pub attributed: bool,
    /// Set when the webhook could not be called (`failed calling webhook "…": …`): no policy
    /// decided, the request failed on the call. Such messages are not policy denials.
    pub failure: Option<FailureKind>,
    /// `Some(true)` when the text says the apiserver failed open (failurePolicy `Ignore`),
    /// `Some(false)` for failing closed (`Fail`).
    pub failing_open: Option<bool>,
    /// The policy's kind when the message tells it more precisely than the engine does
    /// (Kubewarden's `ClusterAdmissionPolicy`, a Gatekeeper constraint behind a generated
    /// ValidatingAdmissionPolicy).
    pub policy_kind: Option<&'static str>,
}

/// One violated policy/rule with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Policy, constraint, VAP, quota name, or Pod Security `level:version`, when known.
    pub policy: Option<String>,
    /// Rule, Pod Security control, or quota/LimitRange resource, when known.
    pub rule: Option<String>,
    /// What was wrong, with terminal line wraps undone.
    pub message: String,
}

/// One resource of an `exceeded quota: name, requested: …, used: …, limited: …` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaUse {
    /// Resource name (`requests.cpu`, `count/pods`).
    pub resource: String,
    /// What the request asked for.
    pub requested: Option<String>,
    /// What the namespace already uses.
    pub used: Option<String>,
    /// The quota's hard limit.
    pub limited: Option<String>,
}

impl ParsedDenial {
    /// The first finding's policy, else the webhook: the name to group by.
    pub fn policy_or_webhook(&self) -> Option<&str> {
        self.findings.iter().find_map(|f| f.policy.as_deref()).or(self.webhook.as_deref())
    }
}

/// What an engine parser read from the inner message; [`parse`] adds wrappers and `raw`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    engine: Engine,
    enforcement: Enforcement,
    object: Option<ObjectRef>,
    webhook: Option<String>,
    binding: Option<String>,
    findings: Vec<Finding>,
    quota: Vec<QuotaUse>,
    detail: String,
    failure: Option<FailureKind>,
    policy_kind: Option<&'static str>,
}

impl Inner {
    /// A denial by `engine` whose innermost text is `detail`, with nothing else known yet.
    fn new(engine: Engine, detail: &str) -> Self {
        Inner {
            engine,
            enforcement: Enforcement::Deny,
            object: None,
            webhook: None,
            binding: None,
            findings: Vec::new(),
            quota: Vec::new(),
            detail: detail.trim().to_string(),
            failure: None,
            policy_kind: None,
        }
    }
}

/// The class of the denial record made from `parsed`: a webhook that could not be called
/// (with the failurePolicy the apiserver's log wording tells), a message no grammar read, or
/// a policy denial.
pub fn class_of(parsed: &ParsedDenial) -> DenialClass {
    match parsed.failure {
        Some(failure) => DenialClass::WebhookUnavailable {
            failure,
            failure_policy: parsed.failing_open.map(|open| if open { "Ignore" } else { "Fail" }.to_string()),
        },
        None if !parsed.attributed => DenialClass::Unattributed,
        None => DenialClass::Admission,
    }
}

/// True when the text shows the apiserver refused the request (a `… is forbidden:` or
/// `… is invalid:` wrapper, an internal error, a kubectl server error, a named webhook), so an
/// unattributed message is still a refusal and not some other controller failure.
pub fn refused_by_apiserver(parsed: &ParsedDenial) -> bool {
    parsed.webhook.is_some()
        || parsed.wrappers.iter().any(|w| {
            matches!(
                w,
                Wrapper::Forbidden(_)
                    | Wrapper::Invalid(_)
                    | Wrapper::InternalError
                    | Wrapper::ClientError { .. }
            )
        })
}

/// Parses one denial message. Never panics; `raw` is always `message` unchanged.
pub fn parse(message: &str) -> ParsedDenial {
    let peeled = wrappers::peel(message);
    let mut found = peeled.wrappers;
    let classified = engines::classify(peeled.rest)
        .or_else(|| behind_unrecognised(peeled.rest, &mut found))
        .or_else(|| warned_constraints(peeled.rest, &found));
    let attributed = classified.is_some();
    let mut inner = classified.unwrap_or_else(|| engines::unattributed(peeled.rest));
    if found.contains(&Wrapper::Warning) {
        inner.enforcement = Enforcement::Warn;
    }
    let failing_open = found.iter().find_map(|w| match w {
        Wrapper::Dispatcher { failing_open } => Some(*failing_open),
        _ => None,
    });
    let object = inner.object.or_else(|| wrappers::object_of(&found));
    ParsedDenial {
        engine: inner.engine,
        enforcement: inner.enforcement,
        wrappers: found,
        object,
        webhook: inner.webhook,
        binding: inner.binding,
        findings: inner.findings,
        quota: inner.quota,
        detail: inner.detail,
        raw: message.to_string(),
        attributed,
        failure: inner.failure,
        failing_open,
        policy_kind: inner.policy_kind,
    }
}

/// An engine message behind text no wrapper rule knows; the text is recorded as
/// [`Wrapper::Unrecognised`] only when the message behind it is recognised.
fn behind_unrecognised(rest: &str, found: &mut Vec<Wrapper>) -> Option<Inner> {
    let (prefix, tail) = wrappers::split_unrecognised(rest)?;
    let inner = engines::classify(tail)?;
    found.push(prefix);
    Some(inner)
}

/// After kubectl's `Warning: `, `[policy.example.com]: message` is a jsPolicy warning and bare
/// `[constraint] message` lines are Gatekeeper warnings.
fn warned_constraints(rest: &str, found: &[Wrapper]) -> Option<Inner> {
    if !found.contains(&Wrapper::Warning) {
        return None;
    }
    engines::jspolicy_warning(rest).or_else(|| engines::bare_gatekeeper(rest))
}
