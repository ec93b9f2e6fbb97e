//! Recognises the engine behind an unwrapped admission message: validating webhooks (and the
//! Kyverno, Kyverno CEL, Gatekeeper and Kubewarden bodies inside them), webhook call failures,
//! ValidatingAdmissionPolicy (and MutatingAdmissionPolicy), Pod Security, and hands quota,
//! LimitRange and Kyverno event shapes to their modules. Each shape names the source file and
//! release it was read from.

use super::text::{quoted, split_top_level, strip_parens, unwrap_lines};
use super::{Finding, Inner, kyverno, quota};
use crate::model::{Enforcement, Engine, FailureKind};

/// The engine message at the start of `s`, or `None` when no shape matches.
pub fn classify(s: &str) -> Option<Inner> {
    webhook(s)
        .or_else(|| failed_call(s))
        .or_else(|| vap(s))
        .or_else(|| generic_policy(s))
        .or_else(|| kyverno::event(s))
        .or_else(|| kyverno::cel(s))
        .or_else(|| kyverno::block(s))
        .or_else(|| gatekeeper_audit(s))
        .or_else(|| pod_security(s))
        .or_else(|| quota::quota(s))
        .or_else(|| quota::limit_range(s))
        .or_else(|| istio(s))
}

/// A message no grammar reads. It is still a denial: when the text names a webhook
/// (`… webhook "<name>" …`) the engine comes from that name and the webhook is recorded;
/// the detail is the text as given.
pub fn unattributed(s: &str) -> Inner {
    let name =
        s.match_indices("webhook \"").find_map(|(at, m)| quoted(&s[at + m.len() - 1..], '"')).map(|(n, _)| n);
    match name.filter(|n| !n.is_empty() && !n.contains(char::is_whitespace)) {
        Some(name) => {
            let mut inner = Inner::new(engine_for_webhook(name), s);
            inner.webhook = Some(name.to_string());
            inner
        }
        None => Inner::new(Engine::Other, s),
    }
}

/// The engine implied by a webhook's name alone. Kyverno names its webhooks
/// `validate.kyverno.svc-fail`, `mutate.kyverno.svc-ignore`, `validate-policy.kyverno.svc`
/// (`pkg/config/config.go`, 1.3–1.16) and, for CEL policies, `vpol.validate.kyverno.svc-fail`,
/// `ivpol.validate.kyverno.svc-fail-finegrained-<policy>`, `gpol.`, `mpol.`, `dpol.` (1.14+);
/// Gatekeeper `validation.gatekeeper.sh`, `check-ignore-label.gatekeeper.sh`.
pub fn engine_for_webhook(name: &str) -> Engine {
    let cel = ["vpol.", "ivpol.", "gpol.", "mpol.", "dpol.", "nvpol.", "nmpol."];
    if cel.iter().any(|p| name.starts_with(p)) {
        Engine::KyvernoCel
    } else if name.contains("kyverno") {
        Engine::Kyverno
    } else if name.contains("gatekeeper") {
        Engine::Gatekeeper
    } else {
        Engine::Webhook
    }
}

/// `admission webhook "<name>" denied the request: <body>` and `… without explanation`
/// (`staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook/errors/statuserror.go`
/// `ToStatusErr`, unchanged 1.9 → 1.35: the body is the webhook's `status.message`, else its
/// `status.reason`).
fn webhook(s: &str) -> Option<Inner> {
    let (name, after) = quoted(s.strip_prefix("admission webhook ")?, '"')?;
    let name = name.trim();
    if after.trim() == "denied the request without explanation" {
        let mut inner = Inner::new(engine_for_webhook(name), s);
        inner.webhook = Some(name.to_string());
        return Some(inner);
    }
    let body = after.trim_start().strip_prefix("denied the request")?;
    let body = body.strip_prefix(':').unwrap_or(body);
    let mut inner = webhook_body(name, body);
    inner.webhook = Some(name.to_string());
    Some(inner)
}

/// What a named webhook said: a Kyverno block map, a Kyverno CEL result, a Kubewarden
/// policy's answer, Gatekeeper constraints, or free text (jsPolicy, OPA kube-mgmt and any
/// other webhook: the webhook's name is then what names the policy).
fn webhook_body(name: &str, body: &str) -> Inner {
    let engine = engine_for_webhook(name);
    if let Some(inner) = kyverno::block(body).or_else(|| kyverno::cel(body)) {
        return inner;
    }
    if let Some(inner) = kubewarden(name, body) {
        return inner;
    }
    if engine != Engine::Kyverno
        && let Some(findings) = gatekeeper_constraints(body, engine == Engine::Gatekeeper)
    {
        let mut inner = Inner::new(Engine::Gatekeeper, body);
        inner.findings = findings;
        return inner;
    }
    if engine == Engine::KyvernoCel {
        // `ivpol.validate.kyverno.svc-fail-finegrained-<policy>` names its one policy.
        if let Some((_, policy)) = name.split_once("-finegrained-") {
            let mut inner = Inner::new(engine, body);
            inner.findings.push(Finding {
                policy: Some(policy.to_string()),
                rule: None,
                message: unwrap_lines(body),
            });
            return inner;
        }
    }
    Inner::new(engine, body)
}

/// Kubewarden's policy server answers under webhooks named `clusterwide-<policy>` (a
/// ClusterAdmissionPolicy), `namespaced-<namespace>-<policy>` (an AdmissionPolicy) or, before
/// 1.0, `<policy>`, each followed by `.kubewarden.admission` (kubewarden-controller
/// `internal/pkg/.../policy.go` `GetUniqueName`, docs 1.16–1.26). Its own refusal for a
/// mutation it may not make: `Request rejected by policy <p>. The policy attempted to mutate
/// the request, but it is currently configured to not allow mutations.` (policy-server
/// `src/api/service.rs`).
fn kubewarden(name: &str, body: &str) -> Option<Inner> {
    let unique = name.strip_suffix(".kubewarden.admission")?;
    let (kind, policy) = match (unique.strip_prefix("clusterwide-"), unique.strip_prefix("namespaced-")) {
        (Some(p), _) => ("ClusterAdmissionPolicy", p),
        (None, Some(p)) => ("AdmissionPolicy", p),
        (None, None) => ("ClusterAdmissionPolicy", unique),
    };
    let named = body
        .trim()
        .strip_prefix("Request rejected by policy ")
        .and_then(|r| r.split_once(". "))
        .map(|(p, _)| p);
    let mut inner = Inner::new(Engine::Webhook, body);
    inner.policy_kind = Some(kind);
    inner.findings.push(Finding {
        policy: Some(named.unwrap_or(policy).to_string()),
        rule: None,
        message: unwrap_lines(body),
    });
    Some(inner)
}

/// A jsPolicy warning after kubectl's `Warning: `: `[<policy>]: <message>`
/// (`pkg/webhook/webhook.go`, v0.1 → v0.3). A JsPolicy's name is its webhook's name.
pub fn jspolicy_warning(s: &str) -> Option<Inner> {
    let (name, msg) = s.strip_prefix('[')?.split_once("]: ")?;
    if !name.contains('.') || !is_object_name(name) {
        return None;
    }
    let mut inner = Inner::new(Engine::Webhook, msg);
    inner.enforcement = Enforcement::Warn;
    inner.webhook = Some(name.to_string());
    Some(inner)
}

/// Bare Gatekeeper `[constraint] message` lines (kubectl warnings for `warn` constraints);
/// constraint names must be single words.
pub fn bare_gatekeeper(s: &str) -> Option<Inner> {
    let findings = gatekeeper_constraints(s, false)?;
    let mut inner = Inner::new(Engine::Gatekeeper, s);
    inner.findings = findings;
    Some(inner)
}

/// Gatekeeper's constraint lines, joined by `\n` (`pkg/webhook/policy.go`
/// `getValidationMessages`: `[denied by %s] %s` in v3.0–v3.3, `[%s] %s` from v3.4 on, the same
/// for `warn` constraints, which kubectl prints after `Warning: `). Lines not starting with `[`
/// continue the previous message (terminal wraps). When the newlines were collapsed, a new
/// constraint starts at ` [<name>] ` where `<name>` is a Kubernetes object name. Unless
/// `trusted` (the webhook is Gatekeeper's), every constraint name must be a single word.
fn gatekeeper_constraints(body: &str, trusted: bool) -> Option<Vec<Finding>> {
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in body.trim().lines() {
        let mut pieces = collapsed_constraints(line.trim_start()).into_iter();
        let first = pieces.next().unwrap_or_default();
        match constraint_line(first) {
            Some((name, msg)) => entries.push((name.to_string(), msg.to_string())),
            None => entries.last_mut()?.1.push_str(&format!("\n{first}")),
        }
        for piece in pieces {
            if let Some((name, msg)) = constraint_line(piece) {
                entries.push((name.to_string(), msg.to_string()));
            }
        }
    }
    if entries.is_empty() || (!trusted && entries.iter().any(|(n, _)| n.contains(' '))) {
        return None;
    }
    let findings = entries
        .into_iter()
        .map(|(name, msg)| Finding { policy: Some(name), rule: None, message: unwrap_lines(&msg) })
        .collect();
    Some(findings)
}

/// Splits a line at every ` [<name>] ` that starts another constraint (newlines collapsed).
fn collapsed_constraints(line: &str) -> Vec<&str> {
    let mut cuts = vec![0];
    for (at, _) in line.match_indices(" [") {
        let rest = &line[at + 1..];
        if constraint_line(rest).is_some_and(|(name, _)| is_object_name(name)) && rest.contains("] ") {
            cuts.push(at + 1);
        }
    }
    cuts.push(line.len());
    cuts.windows(2).map(|w| line[w[0]..w[1]].trim_end()).collect()
}

/// A Kubernetes object name (DNS subdomain: lower-case letters, digits, `-`, `.`).
fn is_object_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

/// `[name] message` or `[denied by name] message` → (`name`, `message`).
fn constraint_line(line: &str) -> Option<(&str, &str)> {
    let body = line.strip_prefix('[')?;
    let (name, msg) = body.split_once(']')?;
    let name = name.strip_prefix("denied by ").unwrap_or(name);
    (!name.is_empty()).then_some((name, msg.trim_start()))
}

/// `failed calling webhook "<name>": <error>` (`staging/src/k8s.io/apiserver/pkg/util/webhook/
/// error.go` `ErrCallingWebhook`, 1.14 → 1.35; `failed calling webhook "<name>"; no further
/// details available` without a reason; `failed calling admission webhook "<name>"` up to
/// 1.13). From 1.23 the reason starts with `failed to call webhook: `. The webhook was never
/// asked: the class is "webhook unavailable", not a denial.
fn failed_call(s: &str) -> Option<Inner> {
    let body = s
        .strip_prefix("failed calling webhook ")
        .or_else(|| s.strip_prefix("failed calling admission webhook "))?;
    let (name, after) = quoted(body, '"')?;
    let detail = after.strip_prefix(':').unwrap_or(after);
    let mut inner = Inner::new(engine_for_webhook(name), detail);
    inner.webhook = Some(name.to_string());
    inner.failure = Some(failure_kind(detail));
    Some(inner)
}

/// How a webhook call failed, from the Go error text of the HTTP client.
pub fn failure_kind(error: &str) -> FailureKind {
    let e = unwrap_lines(error).to_ascii_lowercase();
    if e.contains("deadline exceeded")
        || e.contains("i/o timeout")
        || e.contains("timeout exceeded")
        || e.contains("timed out")
    {
        FailureKind::Timeout
    } else if e.contains("connection refused") {
        FailureKind::Refused
    } else if e.contains("x509:") || e.contains("tls:") || e.contains("certificate") {
        FailureKind::Tls
    } else if e.contains("no endpoints available for service") {
        FailureKind::NoEndpoints
    } else if e.contains("service \"") && e.contains("\" not found") {
        FailureKind::NoService
    } else if e.contains("an error on the server")
        || e.contains("internal server error")
        || e.contains("bad gateway")
        || e.contains("service unavailable")
        || e.ends_with(": eof")
        || e.contains("expected response code")
    {
        FailureKind::ServerError
    } else {
        FailureKind::Unknown
    }
}

/// `ValidatingAdmissionPolicy '<p>'[ with binding '<b>'] denied request: <msg>` and the warning
/// `Validation failed for ValidatingAdmissionPolicy '<p>'[ with binding '<b>']: <msg>`
/// (`staging/src/k8s.io/apiserver/pkg/admission/plugin/validatingadmissionpolicy/controller.go`
/// 1.26–1.29, `.../policy/validating/dispatcher.go` 1.30 → 1.35; `<msg>` is the validation's
/// `message`, its `messageExpression` result, or `failed expression: <expr>`). A policy named
/// `gatekeeper-<template>` with binding `gatekeeper-<kind>-<constraint>` (v3.23+) or
/// `gatekeeper-<constraint>` was generated by Gatekeeper
/// (`pkg/drivers/k8scel/transform/make_vap_objects.go`): it is recorded as that constraint.
fn vap(s: &str) -> Option<Inner> {
    let (enforcement, body) = match s.strip_prefix("Validation failed for ") {
        Some(body) => (Enforcement::Warn, body),
        None => (Enforcement::Deny, s),
    };
    let (policy, after) = quoted(body.strip_prefix("ValidatingAdmissionPolicy ")?, '\'')?;
    let (binding, after) = match after.strip_prefix(" with binding ") {
        Some(b) => quoted(b, '\'').map(|(b, a)| (Some(b), a))?,
        None => (None, after),
    };
    let msg = match enforcement {
        Enforcement::Warn => after.strip_prefix(':')?,
        _ => after.trim_start().strip_prefix("denied request:")?,
    };
    let mut inner = Inner::new(Engine::ValidatingAdmissionPolicy, msg);
    inner.enforcement = enforcement;
    inner.binding = binding.map(str::to_string);
    let constraint = gatekeeper_constraint(policy, binding);
    if constraint.is_some() {
        inner.engine = Engine::Gatekeeper;
        inner.policy_kind = Some("Constraint");
    }
    inner.findings.push(Finding {
        policy: Some(constraint.unwrap_or(policy).to_string()),
        rule: None,
        message: unwrap_lines(msg),
    });
    Some(inner)
}

/// The Gatekeeper constraint behind a generated ValidatingAdmissionPolicy binding.
fn gatekeeper_constraint<'a>(policy: &str, binding: Option<&'a str>) -> Option<&'a str> {
    let template = policy.strip_prefix("gatekeeper-")?;
    let binding = binding?.strip_prefix("gatekeeper-")?;
    Some(binding.strip_prefix(template).and_then(|b| b.strip_prefix('-')).unwrap_or(binding))
}

/// The generic policy dispatcher's refusal, used by MutatingAdmissionPolicy (1.32+):
/// `policy '<p>' with binding '<b>' denied request: <msg>` and `policy "<p>" denied request:
/// <msg>` (`staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/generic/
/// policy_dispatcher.go` `PolicyError.Error`). Recorded under the admission-policy engine.
fn generic_policy(s: &str) -> Option<Inner> {
    let body = s.strip_prefix("policy ")?;
    let (policy, after) = quoted(body, '\'').or_else(|| quoted(body, '"'))?;
    let (binding, after) = match after.strip_prefix(" with binding ") {
        Some(b) => quoted(b, '\'').map(|(b, a)| (Some(b), a))?,
        None => (None, after),
    };
    let msg = after.strip_prefix(" denied request:")?;
    let mut inner = Inner::new(Engine::ValidatingAdmissionPolicy, msg);
    inner.binding = binding.map(str::to_string);
    inner.policy_kind = Some("MutatingAdmissionPolicy");
    inner.findings.push(Finding { policy: Some(policy.to_string()), rule: None, message: unwrap_lines(msg) });
    Some(inner)
}

/// `[pod ]violates PodSecurity "<level:version>": <controls>` (enforce) and
/// `would violate PodSecurity "…": …` (warn / audit annotation), one finding per control
/// (`k8s.io/pod-security-admission/admission/admission.go`, v0.23 → v0.35). The v0.22 (1.22
/// alpha) warning read `would violate "<version>" version of "<level>" PodSecurity profile:
/// <controls>`.
fn pod_security(s: &str) -> Option<Inner> {
    if let Some(inner) = pod_security_1_22(s) {
        return Some(inner);
    }
    let (enforcement, rest) = match s.strip_prefix("would violate PodSecurity ") {
        Some(rest) => (Enforcement::Warn, rest),
        None => {
            (Enforcement::Deny, s.strip_prefix("pod ").unwrap_or(s).strip_prefix("violates PodSecurity ")?)
        }
    };
    let (level, after) = quoted(rest, '"')?;
    let controls = after.strip_prefix(':').unwrap_or(after);
    let mut inner = Inner::new(Engine::PodSecurity, controls);
    inner.enforcement = enforcement;
    inner.findings = psa_controls(level, controls);
    Some(inner)
}

/// `would violate "<version>" version of "<level>" PodSecurity profile: <controls>` (1.22).
fn pod_security_1_22(s: &str) -> Option<Inner> {
    let (version, after) = quoted(s.strip_prefix("would violate ")?, '"')?;
    let (level, after) = quoted(after.strip_prefix(" version of ")?, '"')?;
    let controls = after.strip_prefix(" PodSecurity profile:")?;
    let mut inner = Inner::new(Engine::PodSecurity, controls);
    inner.enforcement = Enforcement::Warn;
    inner.findings = psa_controls(&format!("{level}:{version}"), controls);
    Some(inner)
}

/// Splits `ctl (detail), ctl (detail)` at top-level commas into one finding per control.
pub fn psa_controls(level: &str, controls: &str) -> Vec<Finding> {
    let controls = unwrap_lines(controls);
    split_top_level(controls.trim(), ", ")
        .into_iter()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|control| {
            let (rule, detail) = match control.find(" (").filter(|_| control.ends_with(')')) {
                Some(at) => (Some(control[..at].trim()), strip_parens(control[at..].trim())),
                None if control.starts_with('(') => (None, strip_parens(control)),
                None => (Some(control), ""),
            };
            Finding {
                policy: Some(level.to_string()),
                rule: rule.map(unwrap_lines),
                message: unwrap_lines(detail),
            }
        })
        .collect()
}

/// A Gatekeeper audit log line: `Timestamp: …, Resource Namespace: …, Constraint: <c>,
/// Message: <msg>`.
fn gatekeeper_audit(s: &str) -> Option<Inner> {
    let body = s.strip_prefix("Timestamp: ")?;
    let (_, after) = body.split_once(", Constraint: ")?;
    let (constraint, msg) = after.split_once(", Message: ")?;
    let mut inner = Inner::new(Engine::Gatekeeper, msg);
    inner.enforcement = Enforcement::Audit;
    inner.findings.push(Finding {
        policy: Some(constraint.trim().to_string()),
        rule: None,
        message: unwrap_lines(msg),
    });
    Some(inner)
}

/// Istio's validation webhook (`configuration is invalid: <msg>`, istiod's validation server).
fn istio(s: &str) -> Option<Inner> {
    let msg = s.strip_prefix("configuration is invalid: ")?;
    Some(Inner::new(Engine::Webhook, msg))
}
