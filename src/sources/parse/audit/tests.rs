#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The complete lines here are built by hand: no complete, real audit line for an admission
//! denial with a known licence was found (see `tests/fixtures/real/audit/SOURCES.md`). The
//! messages inside them are the exact Go formats of REFERENCE.md §1a; the two real, cut
//! excerpts are used as negative tests and for the annotation shapes.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::model::DenialClass;

/// A fixture under `tests/fixtures/real/audit/`.
fn fixture(name: &str) -> String {
    let full = format!("{}/tests/fixtures/real/audit/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

const KYVERNO_EXCERPT: &str = "audit-annotations-vap-validation-failure-kyverno-issue11828-excerpt.txt";
const FALCO_EXCERPT: &str = "audit-event-vap-head-falco-plugins-issue749-excerpt.txt";

const RECEIVED: &str = "2024-12-30T10:15:03.120315Z";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A ResponseComplete event for `verb` on `resource` (`""` leaves objectRef out) with the
/// given response and annotations, as one JSON line.
fn event(
    verb: &str,
    resource: &str,
    namespace: &str,
    name: Option<&str>,
    code: i64,
    message: Option<&str>,
    annotations: Value,
) -> String {
    let mut v = json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": "5e0a6a59-3c1f-4f6e-9d4a-0d3c1b0e7f21",
        "stage": "ResponseComplete",
        "requestURI": "/apis/apps/v1/namespaces/shop/deployments",
        "verb": verb,
        "user": {"username": "alice@example.com", "groups": ["system:authenticated"]},
        "sourceIPs": ["10.0.0.7"],
        "userAgent": "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0",
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": RECEIVED,
        "stageTimestamp": "2024-12-30T10:15:03.127871Z",
        "annotations": annotations,
    });
    if !resource.is_empty() {
        let mut object = json!({"resource": resource, "namespace": namespace, "apiVersion": "v1"});
        if let Some(name) = name {
            object["name"] = json!(name);
        }
        v["objectRef"] = object;
    }
    if let Some(m) = message {
        v["responseStatus"]["status"] = json!("Failure");
        v["responseStatus"]["message"] = json!(m);
        v["responseStatus"]["reason"] = json!(if code == 422 { "Invalid" } else { "Forbidden" });
    }
    let line = v.to_string();
    assert!(!line.contains('\n'));
    line
}

fn authz() -> Value {
    json!({"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""})
}

fn one(line: &str) -> Denial {
    let mut out = parse_line(line).unwrap();
    assert_eq!(out.len(), 1, "{out:#?}");
    out.remove(0)
}

// ------------------------------------------------------------ the response's own denial

/// A whole line as the API server's log backend writes it (Metadata level, field order of
/// `audit.k8s.io/v1` Event), around the REFERENCE.md VAP string.
const VAP_422_LINE: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"2f4d7b8e-0c1a-4a57-9b1e-5f3c2d1a0b9c","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/default/deployments?fieldManager=kubectl-client-side-apply\u0026fieldValidation=Strict","verb":"create","user":{"username":"kubernetes-admin","groups":["kubeadm:cluster-admins","system:authenticated"]},"sourceIPs":["172.18.0.1"],"userAgent":"kubectl/v1.31.0 (linux/amd64) kubernetes/9edcffc","objectRef":{"resource":"deployments","namespace":"default","name":"nginx","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"metadata":{},"status":"Failure","message":"deployments.apps \"nginx\" is forbidden: ValidatingAdmissionPolicy 'demo-policy.example.com' with binding 'demo-binding-test.example.com' denied request: failed expression: object.spec.replicas \u003c= 5","reason":"Invalid","details":{"name":"nginx","group":"apps","kind":"deployments"},"code":422},"requestReceivedTimestamp":"2024-12-30T10:15:03.120315Z","stageTimestamp":"2024-12-30T10:15:03.127871Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"kubeadm:cluster-admins\" of ClusterRole \"cluster-admin\" to Group \"kubeadm:cluster-admins\""}}"#;

#[test]
fn vap_422_denial_from_a_whole_apiserver_line() {
    let d = one(VAP_422_LINE);
    let message = r#"deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'demo-policy.example.com' with binding 'demo-binding-test.example.com' denied request: failed expression: object.spec.replicas <= 5"#;
    assert_eq!(d.engine, Engine::ValidatingAdmissionPolicy);
    assert_eq!(d.enforcement, Enforcement::Deny);
    let policy = d.policy.as_ref().unwrap();
    assert_eq!(
        (policy.kind.as_str(), policy.name.as_str()),
        ("ValidatingAdmissionPolicy", "demo-policy.example.com")
    );
    assert_eq!(d.binding.as_deref(), Some("demo-binding-test.example.com"));
    assert_eq!(d.rule, None);
    assert_eq!(d.webhook, None);
    assert_eq!(
        d.object,
        ObjectRef { kind: "Deployment".into(), namespace: Some("default".into()), name: "nginx".into() }
    );
    assert_eq!(d.operation.as_deref(), Some("CREATE"));
    assert_eq!(d.user.as_deref(), Some("kubernetes-admin"));
    assert_eq!(d.message, "failed expression: object.spec.replicas <= 5");
    assert_eq!((d.count, d.first_seen, d.last_seen), (1, ts(RECEIVED), ts(RECEIVED)));
    assert_eq!(
        d.evidence,
        [Evidence {
            source: EvidenceSource::AuditLog,
            reference: "audit 2f4d7b8e-0c1a-4a57-9b1e-5f3c2d1a0b9c".into(),
            at: ts(RECEIVED),
            excerpt: message.into(),
        }]
    );
    assert_eq!(
        d.id,
        "audit|vap|deny|demo-policy.example.com|demo-binding-test.example.com||Deployment/default/nginx"
    );
}

#[test]
fn kyverno_webhook_403() {
    // `admission webhook %q denied the request: %s` around Kyverno's GetBlockedMessages body.
    let message = "admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource \
                   Deployment/shop/nginx was blocked due to the following policies \n\nrequire-labels:\n  \
                   check-for-labels: 'validation error: label ''app.kubernetes.io/name'' is required. rule \
                   check-for-labels failed at path /metadata/labels/app.kubernetes.io/name/'\n";
    let d = one(&event("patch", "deployments", "shop", Some("nginx"), 403, Some(message), authz()));
    assert_eq!((d.engine, d.enforcement), (Engine::Kyverno, Enforcement::Deny));
    assert_eq!(d.webhook.as_deref(), Some("validate.kyverno.svc-fail"));
    assert_eq!(d.policy_name(), "require-labels");
    assert_eq!(d.policy.as_ref().unwrap().kind, "ClusterPolicy");
    assert_eq!(d.rule.as_deref(), Some("check-for-labels"));
    assert_eq!(d.object.display(), "Deployment/shop/nginx");
    assert_eq!(d.operation.as_deref(), Some("UPDATE"), "patch is an UPDATE to admission");
    assert_eq!(d.evidence[0].excerpt, message);
    assert!(d.message.contains("check-for-labels"), "{}", d.message);
}

#[test]
fn pod_security_403_for_a_generated_name_takes_the_name_from_the_message() {
    // A create with generateName: the objectRef has no name.
    let message = r#"pods "payments-7d9c-x2k4q" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)"#;
    let d = one(&event("create", "pods", "shop", None, 403, Some(message), authz()));
    assert_eq!((d.engine, d.enforcement), (Engine::PodSecurity, Enforcement::Deny));
    assert_eq!(d.policy_name(), "restricted:latest");
    assert_eq!(d.rule.as_deref(), Some("allowPrivilegeEscalation != false"));
    assert_eq!(
        d.object,
        ObjectRef { kind: "Pod".into(), namespace: Some("shop".into()), name: "payments-7d9c-x2k4q".into() }
    );
    assert!(d.message.contains("runAsNonRoot != true"), "every control stays in the message");
}

#[test]
fn name_absent_everywhere_is_unnamed() {
    let message = r#"violates PodSecurity "baseline:latest": hostPath volumes (volumes "data")"#;
    let d = one(&event("create", "pods", "shop", None, 403, Some(message), authz()));
    assert_eq!(d.object.name, UNNAMED);
    assert_eq!(d.object.kind, "Pod");
    let d = one(&event("create", "", "", None, 403, Some(message), authz()));
    assert_eq!((d.object.kind.as_str(), d.object.namespace.as_deref()), (UNKNOWN_KIND, None));
}

#[test]
fn exceeded_quota_403() {
    let message = "pods \"capybara-ds7zk\" is forbidden: exceeded quota: quota-pods, requested: \
                   count/pods=1, used: count/pods=1, limited: count/pods=1";
    let d = one(&event("create", "pods", "zoo", Some("capybara-ds7zk"), 403, Some(message), authz()));
    assert_eq!((d.engine, d.enforcement), (Engine::ResourceQuota, Enforcement::Deny));
    assert_eq!(d.policy_name(), "quota-pods");
    assert_eq!(d.rule.as_deref(), Some("count/pods"));
    assert_eq!(d.object.display(), "Pod/zoo/capybara-ds7zk");
}

#[test]
fn rbac_403_is_an_authorization_refusal_never_an_admission_denial() {
    // Issue 16: an RBAC 403 is shown apart (class authorization), never as an admission denial.
    for message in [
        r#"deployments.apps is forbidden: User "system:serviceaccount:ci:deployer" cannot create resource "deployments" in API group "apps" in the namespace "prod""#,
        r#"pods "web-0" is forbidden: User "bob" cannot delete resource "pods" in API group "" in the namespace "shop""#,
    ] {
        let line = event(
            "create",
            "deployments",
            "prod",
            None,
            403,
            Some(message),
            json!({
                "authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""
            }),
        );
        let found = parse_line(&line).unwrap();
        assert_eq!(found.len(), 1, "{message}");
        assert_eq!((found[0].class.clone(), found[0].engine), (DenialClass::Authorization, Engine::Other));
        assert_eq!(found[0].message, message);
    }
}

/// Lines the real kube-apiserver v1.20.2 wrote at the `Metadata` audit level (tier 2's
/// binaries, `--audit-policy-file` with one `level: Metadata` rule): pod creates refused by
/// the ServiceAccount and LimitRanger admission plugins, RBAC refusals of a user with no
/// bindings, a 422 and a successful create.
#[test]
fn real_metadata_level_403s_are_admission_refusals_of_unknown_cause_or_rbac() {
    let text = fixture("real-apiserver-v1.20-metadata-403.jsonl");
    let mut admission = Vec::new();
    let mut rbac = Vec::new();
    for line in text.lines() {
        for d in parse_line(line).unwrap() {
            match d.class {
                DenialClass::Unattributed => admission.push(d),
                DenialClass::Authorization => rbac.push(d),
                ref other => panic!("unexpected class {other:?} for {line}"),
            }
        }
    }
    // p1, p2 and big refused while the service account was missing, big again by the
    // LimitRange (max cpu 1, limit 2); the 422 (an invalid Endpoints) and the 201 are not.
    assert_eq!(admission.len(), 4, "{admission:#?}");
    for d in &admission {
        assert_eq!(
            (d.engine, d.user.as_deref(), d.operation.as_deref()),
            (Engine::Other, Some("admin"), Some("CREATE"))
        );
        assert_eq!((d.object.kind.as_str(), d.object.namespace.as_deref()), ("Pod", Some("q")));
        assert_eq!(d.message, NO_MESSAGE);
    }
    assert!(admission.iter().any(|d| d.object.name == "big"));
    assert_eq!(rbac.len(), 2, "{rbac:#?}");
    assert!(rbac.iter().all(|d| d.user.as_deref() == Some("noaccess")));
    assert_eq!(rbac.iter().filter(|d| d.operation.is_none()).count(), 1, "the list is a read");
}

#[test]
fn webhook_500_is_a_denial_other_500s_are_not() {
    let message = r#"Internal error occurred: failed calling webhook "validation.gatekeeper.sh": Post "https://gatekeeper-webhook-service.gatekeeper-system.svc:443/v1/admit?timeout=3s": context deadline exceeded"#;
    let d = one(&event("create", "configmaps", "shop", Some("cfg"), 500, Some(message), authz()));
    assert_eq!((d.engine, d.enforcement), (Engine::Gatekeeper, Enforcement::Deny));
    assert_eq!(d.webhook.as_deref(), Some("validation.gatekeeper.sh"));
    assert_eq!(d.object.display(), "ConfigMap/shop/cfg");
    // A 500 without the webhook wrapper, and a recognised message on another code.
    let vap = "ValidatingAdmissionPolicy 'p' denied request: failed expression: x";
    for (code, message) in [(500, "etcdserver: request timed out"), (500, vap), (409, vap), (200, vap)] {
        let line = event("create", "configmaps", "shop", Some("cfg"), code, Some(message), authz());
        assert_eq!(parse_line(&line).unwrap(), [], "{code} {message}");
    }
}

#[test]
fn only_response_complete_counts() {
    let message =
        r#"pods "a" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volumes "data")"#;
    let line = event("create", "pods", "shop", Some("a"), 403, Some(message), authz());
    assert_eq!(parse_line(&line).unwrap().len(), 1);
    for stage in ["RequestReceived", "ResponseStarted", "Panic", ""] {
        let other = line.replace("\"stage\":\"ResponseComplete\"", &format!("\"stage\":\"{stage}\""));
        assert_ne!(other, line);
        assert_eq!(parse_line(&other).unwrap(), [], "{stage}");
    }
}

#[test]
fn read_verbs_and_connect_operations() {
    let message = r#"admission webhook "deny-exec.example.com" denied the request: exec is not allowed"#;
    let mut v: Value =
        serde_json::from_str(&event("create", "pods", "shop", Some("web-0"), 403, Some(message), authz()))
            .unwrap();
    v["objectRef"]["subresource"] = json!("exec");
    let d = one(&v.to_string());
    assert_eq!(d.operation.as_deref(), Some("CONNECT"));
    assert_eq!(d.object.display(), "Pod/shop/web-0");
    let d = one(&event("deletecollection", "pods", "shop", None, 403, Some(message), authz()));
    assert_eq!(d.operation.as_deref(), Some("DELETE"));
    let d = one(&event("list", "pods", "shop", None, 403, Some(message), authz()));
    assert_eq!(d.operation, None);
}

// ------------------------------------------------------------ annotations

#[test]
fn validation_failure_annotation_on_a_successful_request() {
    let failures = json!([
        {"message": "failed expression: object.spec.replicas <= 5", "policy": "demo-policy.example.com",
         "binding": "demo-binding-test.example.com", "expressionIndex": 1, "validationActions": ["Audit"]},
        {"message": "replicas should be odd", "policy": "odd-replicas", "binding": "odd-replicas-binding",
         "expressionIndex": 0, "validationActions": ["Warn"]},
        {"message": "m", "policy": "both", "expressionIndex": 0, "validationActions": ["Warn", "Audit"]}
    ])
    .to_string();
    let annotations =
        json!({ VALIDATION_FAILURE: failures, "demo-policy.example.com/high-replica-count": "7" });
    let out =
        parse_line(&event("update", "deployments", "shop", Some("web"), 200, None, annotations)).unwrap();
    assert_eq!(out.len(), 3, "{out:#?}");
    let d = &out[0];
    assert_eq!((d.engine, d.enforcement), (Engine::ValidatingAdmissionPolicy, Enforcement::Audit));
    assert_eq!(d.policy_name(), "demo-policy.example.com");
    assert_eq!(d.binding.as_deref(), Some("demo-binding-test.example.com"));
    assert_eq!(d.rule.as_deref(), Some("expression[1]"));
    assert_eq!(d.message, "failed expression: object.spec.replicas <= 5");
    assert_eq!(d.object.display(), "Deployment/shop/web");
    assert_eq!(d.evidence[0].excerpt, format!("{VALIDATION_FAILURE}: {failures}"));
    assert_eq!(
        d.id,
        "audit|vap|audit|demo-policy.example.com|demo-binding-test.example.com|expression[1]|Deployment/shop/web"
    );
    assert_eq!((out[1].enforcement, out[1].rule.as_deref()), (Enforcement::Warn, Some("expression[0]")));
    assert_eq!((out[2].enforcement, out[2].binding.as_deref()), (Enforcement::Audit, None));
    assert!(out.iter().all(|d| d.user.as_deref() == Some("alice@example.com")));
}

#[test]
fn pod_security_audit_violations_on_a_successful_create() {
    let value = r#"would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#;
    let annotations = json!({
        PSA_AUDIT_VIOLATIONS: value,
        "pod-security.kubernetes.io/enforce-policy": "privileged:latest",
    });
    let d = one(&event("create", "pods", "shop", Some("payments-7d9c-x2k4q"), 201, None, annotations));
    assert_eq!((d.engine, d.enforcement), (Engine::PodSecurity, Enforcement::Audit));
    assert_eq!(d.policy_name(), "restricted:latest");
    assert_eq!(d.rule.as_deref(), Some("allowPrivilegeEscalation != false"));
    assert_eq!(d.object.display(), "Pod/shop/payments-7d9c-x2k4q");
    assert_eq!(d.evidence[0].excerpt, format!("{PSA_AUDIT_VIOLATIONS}: {value}"));
    // Text the parser does not know is still a Pod Security finding, kept verbatim.
    let d =
        one(&event("create", "pods", "shop", Some("p"), 201, None, json!({ PSA_AUDIT_VIOLATIONS: " odd " })));
    assert_eq!((d.engine, d.enforcement, d.policy.as_ref()), (Engine::PodSecurity, Enforcement::Audit, None));
    assert_eq!(d.message, "odd");
}

#[test]
fn annotations_that_repeat_the_denial_are_dropped() {
    let message = "deployments.apps \"nginx\" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' \
                   denied request: failed expression: object.spec.replicas <= 5";
    let failures = json!([
        {"message": "failed expression: object.spec.replicas <= 5", "policy": "p", "binding": "b",
         "expressionIndex": 0, "validationActions": ["Deny", "Audit"]},
        {"message": "other", "policy": "q", "binding": "b", "expressionIndex": 0, "validationActions": ["Audit"]}
    ])
    .to_string();
    let line = event(
        "create",
        "deployments",
        "shop",
        Some("nginx"),
        422,
        Some(message),
        json!({
            VALIDATION_FAILURE: failures
        }),
    );
    let out = parse_line(&line).unwrap();
    let got: Vec<_> = out.iter().map(|d| (d.policy_name(), d.enforcement)).collect();
    assert_eq!(got, [("p", Enforcement::Deny), ("q", Enforcement::Audit)]);

    let message = r#"pods "a" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true (pod must set securityContext.runAsNonRoot=true)"#;
    let violations = r#"would violate PodSecurity "restricted:latest": runAsNonRoot != true (pod must set securityContext.runAsNonRoot=true)"#;
    let line = event(
        "create",
        "pods",
        "shop",
        Some("a"),
        403,
        Some(message),
        json!({ PSA_AUDIT_VIOLATIONS: violations }),
    );
    assert_eq!(one(&line).enforcement, Enforcement::Deny);
}

#[test]
fn repeats_share_an_id_other_objects_and_rules_do_not() {
    let message =
        r#"pods "a" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volumes "data")"#;
    let a = one(&event("create", "pods", "shop", Some("a"), 403, Some(message), authz()));
    let again = one(&event("create", "pods", "shop", Some("a"), 403, Some(message), authz())
        .replace(RECEIVED, "2024-12-30T11:00:00Z")
        .replace("5e0a6a59", "77777777"));
    assert_eq!(a.id, again.id);
    assert_ne!(a.evidence, again.evidence);
    let other_pod = message.replace("\"a\"", "\"b\"");
    let b = one(&event("create", "pods", "shop", Some("b"), 403, Some(&other_pod), authz()));
    assert_ne!(a.id, b.id);
    let other_ns = one(&event("create", "pods", "web", Some("a"), 403, Some(message), authz()));
    assert_ne!(a.id, other_ns.id);
    let other_rule = message.replace("hostPath volumes", "privileged");
    let c = one(&event("create", "pods", "shop", Some("a"), 403, Some(&other_rule), authz()));
    assert_ne!(a.id, c.id);
}

// ------------------------------------------------------------ malformed lines

#[test]
fn malformed_lines_are_clear_errors() {
    let err = |line: &str| parse_line(line).unwrap_err().to_string();
    assert!(err("").starts_with("not an audit.k8s.io Event: EOF"), "{}", err(""));
    assert!(err("I1230 10:15:03.12 audit.go:42] not json").starts_with("not an audit.k8s.io Event:"));
    assert!(err("{}").contains("missing field `auditID`"), "{}", err("{}"));
    assert!(err(r#"{"auditID":"x"}"#).contains("missing field `stage`"));
    assert!(err(r#"{"auditID":7,"stage":"ResponseComplete"}"#).contains("invalid type"));
    assert_eq!(err(r#"{"auditID":"x","stage":"ResponseComplete"}"#), AuditLineError::NoTimestamp.to_string());
    let bad_time = r#"{"auditID":"x","stage":"ResponseComplete","requestReceivedTimestamp":"yesterday"}"#;
    assert!(err(bad_time).starts_with(r#"requestReceivedTimestamp "yesterday" is not an RFC 3339 time"#));
    let bad_annotation =
        event("create", "pods", "shop", Some("a"), 201, None, json!({ VALIDATION_FAILURE: "[{" }));
    assert!(err(&bad_annotation).starts_with(&format!("annotation {VALIDATION_FAILURE} is not a JSON list")));
    let not_a_list =
        event("create", "pods", "shop", Some("a"), 201, None, json!({ VALIDATION_FAILURE: "{}" }));
    assert!(matches!(parse_line(&not_a_list), Err(AuditLineError::ValidationFailure(_))));
    // An annotation map with a non-string value is not an audit event.
    let mut v: Value =
        serde_json::from_str(&event("create", "pods", "shop", Some("a"), 201, None, authz())).unwrap();
    v["annotations"]["x"] = json!(1);
    assert!(matches!(parse_line(&v.to_string()), Err(AuditLineError::Json(_))));
    // Other stages are not checked further (their fields are not read).
    assert_eq!(parse_line(r#"{"auditID":"x","stage":"RequestReceived"}"#).unwrap(), []);
}

#[test]
fn stage_timestamp_is_used_when_the_request_time_is_missing() {
    let line = r#"{"auditID":"x","stage":"ResponseComplete","verb":"create","stageTimestamp":"2024-12-30T10:00:00Z","responseStatus":{"code":403,"message":"exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"}}"#;
    assert_eq!(one(line).first_seen, ts("2024-12-30T10:00:00Z"));
}

// ------------------------------------------------------------ the real, cut excerpts

#[test]
fn cut_excerpts_are_errors_whole_and_line_by_line() {
    for name in [KYVERNO_EXCERPT, FALCO_EXCERPT] {
        let text = fixture(name);
        assert!(matches!(parse_line(&text), Err(AuditLineError::Json(_))), "{name}");
        let joined: String = text.lines().map(str::trim).collect();
        assert!(matches!(parse_line(&joined), Err(AuditLineError::Json(_))), "{name}");
        assert!(matches!(parse_line(&format!("{{{joined}")), Err(AuditLineError::Json(_))), "{name}");
        for (i, line) in text.lines().enumerate() {
            assert!(parse_line(line).is_err(), "{name}:{}: {line}", i + 1);
        }
    }
}

#[test]
fn cut_excerpts_pin_the_annotation_key_and_value_shape() {
    // The key is ours, and its value is a JSON *string* that holds a list of objects.
    let shape = format!(r#""{VALIDATION_FAILURE}": "[{{\"message\":\""#);
    for name in [KYVERNO_EXCERPT, FALCO_EXCERPT] {
        assert!(fixture(name).contains(&shape), "{name}");
    }
    assert!(fixture(FALCO_EXCERPT).contains(r#""stage": "ResponseComplete""#));
}

/// The Kyverno issue's annotations block, completed by hand after its cut (`"fa` →
/// `iled expression: …`), inside a hand-made event: the VAP `auditAnnotations` key
/// (`demo-policy/high-replica-count`) and the authorization keys record nothing.
#[test]
fn kyverno_excerpt_completed_by_hand() {
    let head = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","verb":"create","user":{"username":"kubernetes-admin"},"objectRef":{"resource":"deployments","namespace":"default","name":"nginx","apiGroup":"apps"},"responseStatus":{"metadata":{},"code":201},"requestReceivedTimestamp":"2024-12-30T10:15:03.120315Z","#;
    let cut = fixture(KYVERNO_EXCERPT);
    let rest = r#"iled expression: object.spec.replicas <= 5\",\"policy\":\"demo-policy\",\"binding\":\"demo-binding\",\"expressionIndex\":0,\"validationActions\":[\"Warn\",\"Audit\"]}]"}}"#;
    let line = format!("{head}{}{rest}", cut.trim_end_matches('\n'));
    let d = one(&line);
    assert_eq!((d.engine, d.enforcement), (Engine::ValidatingAdmissionPolicy, Enforcement::Audit));
    assert_eq!((d.policy_name(), d.binding.as_deref()), ("demo-policy", Some("demo-binding")));
    assert_eq!(d.message, "failed expression: object.spec.replicas <= 5");
    assert_eq!(d.object.display(), "Deployment/default/nginx");
}

/// The Falco issue's event head (pretty-printed, `objectRef` omitted by its reporter),
/// completed by hand after its cut (`"Pod mu` → `st …`).
#[test]
fn falco_excerpt_completed_by_hand() {
    let cut = fixture(FALCO_EXCERPT);
    let rest = r#"st have label app\",\"policy\":\"require-app-label\",\"binding\":\"require-app-label-binding\",\"expressionIndex\":0,\"validationActions\":[\"Audit\"]}]"
  },
  "responseStatus": {"metadata": {}, "code": 201},
  "requestReceivedTimestamp": "2025-05-03T08:00:00.000000Z"
}"#;
    let text = format!("{}{rest}", cut.trim_end_matches('\n'));
    let d = one(&text);
    assert_eq!((d.engine, d.enforcement), (Engine::ValidatingAdmissionPolicy, Enforcement::Audit));
    assert_eq!(d.message, "Pod must have label app");
    assert_eq!(d.evidence[0].reference, "audit 1b8c216c-9c8c-4f34-9f38-2098ae9c70dc");
    // No objectRef and no message naming the object: said so, not invented.
    assert_eq!((d.object.kind.as_str(), d.object.name.as_str()), (UNKNOWN_KIND, UNNAMED));
}

// ------------------------------------------------------------ properties

const MESSAGES: &[&str] = &[
    "pods \"a\" is forbidden: violates PodSecurity \"restricted:latest\": ",
    "deployments.apps \"nginx\" is forbidden: ValidatingAdmissionPolicy '",
    "admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource ",
    "Internal error occurred: failed calling webhook \"",
    "exceeded quota: ",
    "would violate PodSecurity \"",
    "pods is forbidden: User \"",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        (0..MESSAGES.len(), "[\\PC\n'\"\\[\\](){},:;= /-]{0,60}")
            .prop_map(|(i, t)| format!("{}{t}", MESSAGES[i])),
    ]
}

fn failure_entry() -> impl Strategy<Value = Value> {
    (
        any::<String>(),
        any::<String>(),
        proptest::option::of(any::<String>()),
        proptest::option::of(any::<i64>()),
        proptest::collection::vec(prop_oneof![Just("Audit"), Just("Warn"), Just("Deny"), Just("x")], 0..3),
    )
        .prop_map(|(message, policy, binding, index, actions)| {
            json!({"message": message, "policy": policy, "binding": binding,
                   "expressionIndex": index, "validationActions": actions})
        })
}

prop_compose! {
    fn audit_event()(
        stage in prop_oneof![Just("ResponseComplete".to_string()), Just("RequestReceived".to_string()), any::<String>()],
        verb in prop_oneof![Just("create".to_string()), Just("patch".to_string()), any::<String>()],
        resource in proptest::option::of(prop_oneof![Just("pods".to_string()), Just("Pods".to_string()), any::<String>()]),
        namespace in proptest::option::of(any::<String>()),
        name in proptest::option::of(any::<String>()),
        code in prop_oneof![Just(200i64), Just(403), Just(422), Just(500), any::<i64>()],
        message in proptest::option::of(text()),
        time in prop_oneof![Just(RECEIVED.to_string()), any::<String>()],
        failures in proptest::option::of(prop_oneof![
            proptest::collection::vec(failure_entry(), 0..4).prop_map(|v| Value::Array(v).to_string()),
            any::<String>(),
        ]),
        psa in proptest::option::of(text()),
    ) -> (String, bool) {
        let mut annotations = serde_json::Map::new();
        if let Some(f) = failures { annotations.insert(VALIDATION_FAILURE.into(), json!(f)); }
        if let Some(p) = psa { annotations.insert(PSA_AUDIT_VIOLATIONS.into(), json!(p)); }
        let v = json!({
            "auditID": "id", "stage": stage, "verb": verb,
            "objectRef": {"resource": resource, "namespace": namespace, "name": name},
            "responseStatus": {"code": code, "message": message},
            "requestReceivedTimestamp": time,
            "annotations": annotations,
        });
        (v.to_string(), stage == "ResponseComplete")
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let _ = parse_line(&s);
    }

    #[test]
    fn arbitrary_audit_events_never_panic_and_records_are_whole((line, complete) in audit_event()) {
        match parse_line(&line) {
            Ok(out) => {
                prop_assert!(complete || out.is_empty());
                for d in &out {
                    prop_assert_eq!(&d.id, &denial_id(d));
                    prop_assert!(!d.object.kind.is_empty() && !d.object.name.is_empty());
                    prop_assert_eq!((d.count, d.evidence.len()), (1, 1));
                    prop_assert_eq!(d.first_seen, d.last_seen);
                }
            }
            Err(_) => prop_assert!(complete, "only ResponseComplete lines are read further: {}", line),
        }
    }

    #[test]
    fn every_cut_of_a_whole_line_is_an_error(at in 0..VAP_422_LINE.len()) {
        let cut = VAP_422_LINE.get(..at).unwrap_or("");
        prop_assert!(parse_line(cut).is_err());
    }
}
