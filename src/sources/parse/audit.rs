//! API server audit log lines → admission denials and audit findings.
//!
//! The input is one line of the log backend's `json` format (the default of
//! `--audit-log-format`): one `audit.k8s.io/v1` `Event` object. [`parse_line`] reads the few
//! fields it needs and returns what the line records (REFERENCE.md §1c, message formats §1a):
//!
//! - only `stage: ResponseComplete` counts; the other stages of the same request would count
//!   it twice (`RequestReceived`, `ResponseStarted`) or are not an answer (`Panic`);
//! - a **denial** ([`Enforcement::Deny`]): `responseStatus.code` 403 or 422 (422 is the
//!   ValidatingAdmissionPolicy default), or 500 `Internal error occurred: …` from a webhook,
//!   whose message [`denial::parse`] recognises. RBAC refusals (`… cannot list resource …`)
//!   name no admission engine and are skipped;
//! - the `validation.policy.admission.k8s.io/validation_failure` annotation (a JSON string
//!   holding a list): one ValidatingAdmissionPolicy finding per entry, `Audit` (`Warn` when the
//!   binding's actions have `Warn` and not `Audit`), rule `expression[<index>]`. It also comes
//!   on requests that succeeded;
//! - the `pod-security.kubernetes.io/audit-violations` annotation: one Pod Security finding,
//!   `Audit`, level and first control read by [`denial::parse`].
//!
//! An annotation finding that repeats the response's own denial (the same
//! ValidatingAdmissionPolicy and binding, or Pod Security) is dropped: the denial says it.
//!
//! Every record has `count` 1 and an id that is the same for every repeat of the same denial
//! (see [`denial_id`]); collapsing repeats is the tail's job ([`crate::sources::auditlog`]).
//! Pure: no I/O, no clock. Malformed lines are errors, never panics.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use super::denial::{self, ParsedDenial, Wrapper, kind_for_resource};
use crate::model::{
    Denial, DenialClass, Enforcement, Engine, Evidence, EvidenceSource, ObjectRef, PolicyRef,
};

/// The annotation ValidatingAdmissionPolicy bindings with the `Audit` action write.
pub const VALIDATION_FAILURE: &str = "validation.policy.admission.k8s.io/validation_failure";
/// The annotation Pod Security admission writes when the namespace's `audit` level is violated.
pub const PSA_AUDIT_VIOLATIONS: &str = "pod-security.kubernetes.io/audit-violations";
/// The annotation the authorizer writes on every event: `allow` or `forbid`.
pub const AUTHZ_DECISION: &str = "authorization.k8s.io/decision";
/// The message of an admission refusal logged at an audit level that keeps no message.
pub const NO_MESSAGE: &str =
    "refused at admission (403); this audit level keeps no message: the Event names the policy";
/// The object name used when neither the event nor the message names the object.
pub const UNNAMED: &str = crate::model::ObjectRef::UNNAMED;
/// The object kind used when neither the event nor the message names the resource.
pub const UNKNOWN_KIND: &str = "(unknown)";

/// Why a line is not a readable audit event.
#[derive(Debug, thiserror::Error)]
pub enum AuditLineError {
    /// Not JSON, cut short, or a required field (`auditID`, `stage`) missing or of the wrong
    /// type; serde's message gives the column.
    #[error("not an audit.k8s.io Event: {0}")]
    Json(serde_json::Error),
    /// The `validation_failure` annotation is not the JSON list the API server writes.
    #[error("annotation {VALIDATION_FAILURE} is not a JSON list of validation failures: {0}")]
    ValidationFailure(serde_json::Error),
    /// A timestamp field does not hold an RFC 3339 time.
    #[error("{field} {value:?} is not an RFC 3339 time: {error}")]
    Timestamp {
        /// `requestReceivedTimestamp` or `stageTimestamp`.
        field: &'static str,
        /// The text found.
        value: String,
        /// What jiff said.
        error: jiff::Error,
    },
    /// A ResponseComplete event with neither `requestReceivedTimestamp` nor `stageTimestamp`.
    #[error("neither requestReceivedTimestamp nor stageTimestamp is set")]
    NoTimestamp,
}

/// The fields of an audit `Event` that are read; everything else is ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(rename = "auditID")]
    audit_id: String,
    stage: String,
    #[serde(default)]
    verb: Option<String>,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    object_ref: Option<EventObject>,
    #[serde(default)]
    response_status: Option<Status>,
    #[serde(default)]
    request_received_timestamp: Option<String>,
    #[serde(default)]
    stage_timestamp: Option<String>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
struct EventObject {
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    subresource: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

/// One entry of the `validation_failure` annotation (`dispatcher.go`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidationFailure {
    #[serde(default)]
    message: String,
    policy: String,
    #[serde(default)]
    binding: Option<String>,
    #[serde(default)]
    expression_index: Option<i64>,
    #[serde(default)]
    validation_actions: Vec<String>,
}

/// What every record of one event shares.
struct Request<'a> {
    audit_id: &'a str,
    at: Timestamp,
    operation: Option<String>,
    user: Option<String>,
    object: Option<&'a EventObject>,
}

/// The parts that differ between the records of one event.
struct Parts {
    engine: Engine,
    enforcement: Enforcement,
    policy: Option<String>,
    webhook: Option<String>,
    binding: Option<String>,
    rule: Option<String>,
    /// The object the message names, used where the event's `objectRef` does not say.
    named: Option<ObjectRef>,
    /// Policy denial, webhook failure, unattributed admission refusal or RBAC refusal.
    class: DenialClass,
    message: String,
    excerpt: String,
}

/// The denials and audit findings one audit log line records: none for other stages,
/// successful requests without admission annotations, and RBAC refusals.
pub fn parse_line(line: &str) -> Result<Vec<Denial>, AuditLineError> {
    let event: Event = serde_json::from_str(line).map_err(AuditLineError::Json)?;
    if event.stage != "ResponseComplete" {
        return Ok(Vec::new());
    }
    let request = Request {
        audit_id: &event.audit_id,
        at: event_time(&event)?,
        operation: operation(
            event.verb.as_deref(),
            event.object_ref.as_ref().and_then(|o| o.subresource.as_deref()),
        ),
        user: event.user.as_ref().and_then(|u| u.username.clone()).filter(|u| !u.is_empty()),
        object: event.object_ref.as_ref(),
    };
    let mut out = Vec::new();
    let no_annotations = BTreeMap::new();
    let annotations = event.annotations.as_ref().unwrap_or(&no_annotations);
    let decision = annotations.get(AUTHZ_DECISION).map(String::as_str);
    if let Some(parts) = event.response_status.as_ref().and_then(|s| response_denial(s, decision)) {
        out.push(build(parts, &request));
    }
    if let Some(value) = annotations.get(VALIDATION_FAILURE) {
        let entries: Vec<ValidationFailure> =
            serde_json::from_str(value).map_err(AuditLineError::ValidationFailure)?;
        for entry in entries {
            if !repeats_denial(
                &out,
                Engine::ValidatingAdmissionPolicy,
                Some(&entry.policy),
                entry.binding.as_deref(),
            ) {
                out.push(build(validation_failure(entry, value), &request));
            }
        }
    }
    if let Some(value) = annotations.get(PSA_AUDIT_VIOLATIONS)
        && !repeats_denial(&out, Engine::PodSecurity, None, None)
    {
        out.push(build(pod_security_audit(value), &request));
    }
    Ok(out)
}

/// The id shared by every repeat of one denial in one cluster: engine, enforcement,
/// policy (or webhook), binding, rule and object. The object name is kept as the event or
/// message gives it, so pods of one ReplicaSet (`payments-7d9c-x2k4q`) are separate denials.
pub fn denial_id(d: &Denial) -> String {
    let action = if d.class.is_admission() { d.enforcement.label() } else { d.class.label() };
    format!(
        "audit|{}|{}|{}|{}|{}|{}/{}/{}",
        d.engine.label(),
        action,
        d.policy_name(),
        d.binding.as_deref().unwrap_or(""),
        d.rule.as_deref().unwrap_or(""),
        d.object.kind,
        d.object.namespace.as_deref().unwrap_or(""),
        d.object.name,
    )
}

/// `requestReceivedTimestamp`, else `stageTimestamp`.
fn event_time(event: &Event) -> Result<Timestamp, AuditLineError> {
    let (field, value) = match (&event.request_received_timestamp, &event.stage_timestamp) {
        (Some(v), _) => ("requestReceivedTimestamp", v),
        (None, Some(v)) => ("stageTimestamp", v),
        (None, None) => return Err(AuditLineError::NoTimestamp),
    };
    value.parse::<Timestamp>().map_err(|error| AuditLineError::Timestamp {
        field,
        value: value.clone(),
        error,
    })
}

/// The admission operation of a request verb (`patch` is an `UPDATE` to admission; a request
/// to `exec`, `attach`, `portforward` or `proxy` is a `CONNECT`). `None` for read verbs.
fn operation(verb: Option<&str>, subresource: Option<&str>) -> Option<String> {
    if matches!(subresource, Some("exec" | "attach" | "portforward" | "proxy")) {
        return Some("CONNECT".to_string());
    }
    let op = match verb? {
        "create" => "CREATE",
        "update" | "patch" => "UPDATE",
        "delete" | "deletecollection" => "DELETE",
        _ => return None,
    };
    Some(op.to_string())
}

/// The response's own refusal:
/// - an RBAC 403 (`authorization.k8s.io/decision: forbid`, or a `… cannot <verb> resource …`
///   message) is an authorization refusal, never an admission denial;
/// - a 403 the authorizer allowed, at an audit level that keeps no message (`Metadata`: the
///   real v1.20 apiserver writes only `status`, `reason`, `code`), was refused at admission by
///   an unknown step: recorded as unattributed, with the user, verb and object, for the join
///   to the Event that names the policy;
/// - a 403/422, or a webhook's 500, with a message: read by [`denial::parse`] (a webhook that
///   could not be called is a webhook failure; a 403 no grammar reads stays, unattributed).
fn response_denial(status: &Status, decision: Option<&str>) -> Option<Parts> {
    let code = status.code?;
    if !matches!(code, 403 | 422 | 500) {
        return None;
    }
    let message = status.message.as_deref().filter(|m| !m.trim().is_empty());
    let rbac = message.is_some_and(|m| m.contains(" cannot ") && m.contains(" resource \""));
    if code == 403 && (decision == Some("forbid") || rbac) {
        let text = message.unwrap_or("forbidden by RBAC (authorization.k8s.io/decision: forbid)");
        return Some(unread(DenialClass::Authorization, text, format!("{code} {text}")));
    }
    let Some(message) = message else {
        let allowed = code == 403 && decision == Some("allow");
        return allowed.then(|| {
            unread(
                DenialClass::Unattributed,
                NO_MESSAGE,
                format!("{code} Forbidden; {AUTHZ_DECISION}: allow"),
            )
        });
    };
    let parsed = denial::parse(message);
    if code == 500 && !parsed.wrappers.contains(&Wrapper::InternalError) {
        return None;
    }
    if !parsed.attributed && (code != 403 || !denial::refused_by_apiserver(&parsed)) {
        return None;
    }
    Some(from_parsed(parsed, Enforcement::Deny, message.to_string()))
}

/// A record of a refusal whose cause the line does not tell.
fn unread(class: DenialClass, message: &str, excerpt: String) -> Parts {
    Parts {
        engine: Engine::Other,
        enforcement: Enforcement::Deny,
        policy: None,
        webhook: None,
        binding: None,
        rule: None,
        named: None,
        class,
        message: message.to_string(),
        excerpt,
    }
}

/// A record from what [`denial::parse`] read: the first finding's policy and rule, as the
/// Event projection does.
fn from_parsed(parsed: ParsedDenial, enforcement: Enforcement, excerpt: String) -> Parts {
    let finding = parsed.findings.first();
    Parts {
        engine: parsed.engine,
        enforcement,
        policy: finding.and_then(|f| f.policy.clone()),
        webhook: parsed.webhook.clone(),
        binding: parsed.binding.clone(),
        rule: finding.and_then(|f| f.rule.clone()),
        named: parsed.object.clone(),
        class: denial::class_of(&parsed),
        message: parsed.detail.clone(),
        excerpt,
    }
}

/// True when `found` already holds a denial by `engine` (and by `policy`/`binding`, where
/// given) that an annotation finding would repeat.
fn repeats_denial(found: &[Denial], engine: Engine, policy: Option<&str>, binding: Option<&str>) -> bool {
    found.iter().any(|d| {
        d.engine == engine
            && d.enforcement == Enforcement::Deny
            && policy.is_none_or(|p| d.policy.as_ref().is_some_and(|dp| dp.name == p))
            && (binding.is_none() || d.binding.is_none() || d.binding.as_deref() == binding)
    })
}

/// One entry of the `validation_failure` annotation; `value` is the whole annotation.
fn validation_failure(entry: ValidationFailure, value: &str) -> Parts {
    let has = |action: &str| entry.validation_actions.iter().any(|a| a == action);
    let enforcement = if !has("Audit") && has("Warn") { Enforcement::Warn } else { Enforcement::Audit };
    Parts {
        engine: Engine::ValidatingAdmissionPolicy,
        enforcement,
        policy: Some(entry.policy),
        webhook: None,
        binding: entry.binding.filter(|b| !b.is_empty()),
        rule: entry.expression_index.map(|i| format!("expression[{i}]")),
        named: None,
        class: DenialClass::Admission,
        message: entry.message,
        excerpt: format!("{VALIDATION_FAILURE}: {value}"),
    }
}

/// The `audit-violations` annotation (`would violate PodSecurity "<level>": <controls>`).
fn pod_security_audit(value: &str) -> Parts {
    let excerpt = format!("{PSA_AUDIT_VIOLATIONS}: {value}");
    let parsed = denial::parse(value);
    if parsed.engine == Engine::PodSecurity {
        return from_parsed(parsed, Enforcement::Audit, excerpt);
    }
    // The key says what it is even when the text has a shape the parser does not know.
    Parts {
        engine: Engine::PodSecurity,
        enforcement: Enforcement::Audit,
        policy: None,
        webhook: None,
        binding: None,
        rule: None,
        named: None,
        class: DenialClass::Admission,
        message: value.trim().to_string(),
        excerpt,
    }
}

/// The object of the request: the event's `objectRef`, else what the message names.
fn object(event: Option<&EventObject>, named: Option<ObjectRef>) -> ObjectRef {
    let field = |f: fn(&EventObject) -> &Option<String>| {
        event.and_then(|o| f(o).as_deref()).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
    };
    let kind = field(|o| &o.resource)
        .map(|r| kind_for_resource(&r))
        .or_else(|| named.as_ref().map(|n| n.kind.clone()).filter(|k| !k.is_empty()))
        .unwrap_or_else(|| UNKNOWN_KIND.to_string());
    let namespace = field(|o| &o.namespace).or_else(|| named.as_ref().and_then(|n| n.namespace.clone()));
    let name = field(|o| &o.name)
        .or_else(|| named.map(|n| n.name).filter(|n| !n.is_empty()))
        .unwrap_or_else(|| UNNAMED.to_string());
    ObjectRef { kind, namespace, name }
}

/// One record of `request`.
fn build(parts: Parts, request: &Request<'_>) -> Denial {
    let policy = parts.policy.map(|name| PolicyRef {
        kind: parts.engine.policy_kind().to_string(),
        name,
        namespace: None,
        generation: None,
        resource_version: None,
    });
    let mut d = Denial {
        class: parts.class,
        id: String::new(),
        engine: parts.engine,
        enforcement: parts.enforcement,
        policy,
        webhook: parts.webhook,
        binding: parts.binding,
        rule: parts.rule,
        object: object(request.object, parts.named),
        operation: request.operation.clone(),
        user: request.user.clone(),
        message: parts.message,
        count: 1,
        first_seen: request.at,
        last_seen: request.at,
        severity: None,
        category: None,
        owner: None,
        exceptions: Vec::new(),
        evidence: vec![Evidence {
            source: EvidenceSource::AuditLog,
            reference: format!("audit {}", request.audit_id),
            at: request.at,
            excerpt: parts.excerpt,
        }],
    };
    d.id = denial_id(&d);
    d
}
