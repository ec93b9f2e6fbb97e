//! Recognises the engine behind an unwrapped admission message: validating webhooks (and the
//! Kyverno/Gatekeeper bodies inside them), ValidatingAdmissionPolicy, Pod Security, and hands
//! quota, LimitRange and Kyverno event shapes to their modules.

use super::text::{quoted, split_top_level, strip_parens, unwrap_lines};
use super::{Finding, Inner, kyverno, quota};
use crate::model::{Enforcement, Engine};

/// The engine message at the start of `s`, or `None` when no shape matches.
pub fn classify(s: &str) -> Option<Inner> {
    webhook(s)
        .or_else(|| failed_call(s))
        .or_else(|| vap(s))
        .or_else(|| kyverno::event(s))
        .or_else(|| kyverno::cel(s))
        .or_else(|| kyverno::block(s))
        .or_else(|| gatekeeper_audit(s))
        .or_else(|| pod_security(s))
        .or_else(|| quota::quota(s))
        .or_else(|| quota::limit_range(s))
        .or_else(|| istio(s))
}

/// The engine implied by a webhook's name alone.
fn engine_for_webhook(name: &str) -> Engine {
    let cel = ["vpol.", "ivpol.", "gpol.", "mpol.", "dpol."];
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

/// `admission webhook "<name>" denied the request: <body>` and `… without explanation`.
fn webhook(s: &str) -> Option<Inner> {
    let (name, after) = quoted(s.strip_prefix("admission webhook ")?, '"')?;
    if after.trim() == "denied the request without explanation" {
        let mut inner = Inner::new(engine_for_webhook(name), s);
        inner.webhook = Some(name.to_string());
        return Some(inner);
    }
    let body = after.strip_prefix(" denied the request:")?;
    let mut inner = webhook_body(name, body);
    inner.webhook = Some(name.to_string());
    Some(inner)
}

/// What a named webhook said: a Kyverno block map, a Kyverno CEL result, Gatekeeper
/// constraints, or free text.
fn webhook_body(name: &str, body: &str) -> Inner {
    let engine = engine_for_webhook(name);
    if let Some(inner) = kyverno::block(body).or_else(|| kyverno::cel(body)) {
        return inner;
    }
    if let Some(findings) = gatekeeper_constraints(body, engine == Engine::Gatekeeper) {
        let mut inner = Inner::new(Engine::Gatekeeper, body);
        inner.findings = findings;
        return inner;
    }
    Inner::new(engine, body)
}

/// Bare Gatekeeper `[constraint] message` lines (kubectl warnings for `warn` constraints);
/// constraint names must be single words.
pub fn bare_gatekeeper(s: &str) -> Option<Inner> {
    let findings = gatekeeper_constraints(s, false)?;
    let mut inner = Inner::new(Engine::Gatekeeper, s);
    inner.findings = findings;
    Some(inner)
}

/// Gatekeeper's `[constraint] message` lines (several joined by `\n`). Lines not starting with
/// `[` continue the previous message (terminal wraps). Unless `trusted` (the webhook is
/// Gatekeeper's), every constraint name must be a single word.
fn gatekeeper_constraints(body: &str, trusted: bool) -> Option<Vec<Finding>> {
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in body.trim().lines() {
        match constraint_line(line.trim_start()) {
            Some((name, msg)) => entries.push((name.to_string(), msg.to_string())),
            None => entries.last_mut()?.1.push_str(&format!("\n{line}")),
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

/// `[name] message` → (`name`, `message`).
fn constraint_line(line: &str) -> Option<(&str, &str)> {
    let body = line.strip_prefix('[')?;
    let (name, msg) = body.split_once(']')?;
    (!name.is_empty()).then_some((name, msg.trim_start()))
}

/// `failed calling webhook "<name>": <error>` — the inner text of a webhook 500.
fn failed_call(s: &str) -> Option<Inner> {
    let (name, after) = quoted(s.strip_prefix("failed calling webhook ")?, '"')?;
    let detail = after.strip_prefix(':').unwrap_or(after);
    let mut inner = Inner::new(engine_for_webhook(name), detail);
    inner.webhook = Some(name.to_string());
    Some(inner)
}

/// `ValidatingAdmissionPolicy '<p>'[ with binding '<b>'] denied request: <msg>` and the warning
/// `Validation failed for ValidatingAdmissionPolicy '<p>'[ with binding '<b>']: <msg>`.
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
        _ => after.strip_prefix(" denied request:")?,
    };
    let mut inner = Inner::new(Engine::ValidatingAdmissionPolicy, msg);
    inner.enforcement = enforcement;
    inner.binding = binding.map(str::to_string);
    inner.findings.push(Finding { policy: Some(policy.to_string()), rule: None, message: unwrap_lines(msg) });
    Some(inner)
}

/// `[pod ]violates PodSecurity "<level:version>": <controls>` (enforce) and
/// `would violate PodSecurity "…": …` (warn / audit annotation), one finding per control.
fn pod_security(s: &str) -> Option<Inner> {
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

/// Splits `ctl (detail), ctl (detail)` at top-level commas into one finding per control.
pub fn psa_controls(level: &str, controls: &str) -> Vec<Finding> {
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
