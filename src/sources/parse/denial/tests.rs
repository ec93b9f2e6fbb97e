#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::kyverno::scalar;
use super::*;

/// A fixture under `tests/fixtures/real/`.
fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/real/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The `message:` values of a YAML fixture (plain or quoted, folded over indented lines).
fn yaml_messages(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(at) = line.find("message: ") else { continue };
        let mut parts = vec![line[at + "message: ".len()..].trim().to_string()];
        for next in &lines[i + 1..] {
            let indent = next.len() - next.trim_start().len();
            if indent <= at || next.trim().is_empty() {
                break;
            }
            parts.push(next.trim().to_string());
        }
        out.push(scalar(&parts));
    }
    out
}

fn finding(policy: Option<&str>, rule: Option<&str>, message: &str) -> Finding {
    Finding {
        policy: policy.map(str::to_string),
        rule: rule.map(str::to_string),
        message: message.to_string(),
    }
}

fn pod(name: &str) -> Option<ObjectRef> {
    Some(ObjectRef { kind: "Pod".to_string(), namespace: None, name: name.to_string() })
}

// ------------------------------------------------------------ denials.jsonl

fn engine_for_label(label: &str) -> Engine {
    match label {
        "podsecurity" => Engine::PodSecurity,
        "kyverno" => Engine::Kyverno,
        "gatekeeper" => Engine::Gatekeeper,
        "webhook" => Engine::Webhook,
        "vap" => Engine::ValidatingAdmissionPolicy,
        "quota" => Engine::ResourceQuota,
        "limitrange" => Engine::LimitRange,
        other => panic!("unknown engine label {other}"),
    }
}

/// Checks the labelled policy/webhook. A label with a parenthesised part (`(default
/// LimitRange)`, `validation.istio.io (istiod validationServer log)`) was not in the text, so
/// the parse must not invent a policy or webhook name.
fn assert_names(p: &ParsedDenial, label: &str, line: usize) {
    if label.contains('(') {
        assert!(p.findings.iter().all(|f| f.policy.is_none()), "line {line}: invented policy {p:?}");
        assert_eq!(p.webhook, None, "line {line}");
        return;
    }
    for name in label.split(" / ") {
        let in_findings = p.findings.iter().any(|f| f.policy.as_deref() == Some(name));
        assert!(in_findings || p.webhook.as_deref() == Some(name), "line {line}: {name} not named in {p:#?}");
    }
}

#[test]
fn every_real_denial_parses_to_its_labelled_engine_and_name() {
    let text = fixture("denials/denials.jsonl");
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let message = v["message"].as_str().unwrap();
        let p = parse(message);
        assert_eq!(p.engine, engine_for_label(v["engine"].as_str().unwrap()), "line {}: {p:#?}", i + 1);
        assert_names(&p, v["policy_or_webhook"].as_str().unwrap(), i + 1);
        assert_eq!(p.raw, message);
        assert!(!p.detail.is_empty(), "line {}", i + 1);
        assert!(p.findings.iter().all(|f| !f.message.contains('\n')), "line {}: {p:#?}", i + 1);
        count += 1;
    }
    assert_eq!(count, 25);
}

#[test]
fn real_pod_security_denial_splits_every_control() {
    let text = fixture("denials/denials.jsonl");
    let v: serde_json::Value = serde_json::from_str(text.lines().nth(3).unwrap()).unwrap();
    let p = parse(v["message"].as_str().unwrap());
    assert_eq!(p.wrappers.first(), Some(&Wrapper::ControllerCreate));
    let rules: Vec<_> = p.findings.iter().map(|f| f.rule.as_deref().unwrap()).collect();
    assert_eq!(rules, ["allowPrivilegeEscalation != false", "unrestricted capabilities", "seccompProfile"]);
    assert_eq!(
        p.findings[2].message,
        r#"pod or containers "kube-rbac-proxy", "manager" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#
    );
}

#[test]
fn real_kyverno_block_message_with_folded_quoted_value() {
    let text = fixture("denials/denials.jsonl");
    let v: serde_json::Value = serde_json::from_str(text.lines().nth(5).unwrap()).unwrap();
    let p = parse(v["message"].as_str().unwrap());
    assert_eq!(p.wrappers, [Wrapper::ClientCreate { what: "deployment".to_string() }]);
    assert_eq!(p.webhook.as_deref(), Some("validate.kyverno.svc-fail"));
    assert_eq!(
        p.object,
        Some(ObjectRef {
            kind: "Deployment".into(),
            namespace: Some("default".into()),
            name: "nginx".into()
        })
    );
    assert_eq!(
        p.findings,
        [finding(
            Some("require-labels"),
            Some("autogen-check-for-labels"),
            "validation error: label 'app.kubernetes.io/name' is required. Rule autogen-check-for-labels \
             failed at path /spec/template/metadata/labels/app.kubernetes.io/name/"
        )]
    );
}

#[test]
fn real_gatekeeper_line_break_inside_a_message_is_undone() {
    let text = fixture("denials/denials.jsonl");
    let v: serde_json::Value = serde_json::from_str(text.lines().nth(8).unwrap()).unwrap();
    let p = parse(v["message"].as_str().unwrap());
    assert_eq!(
        p.findings,
        [finding(
            Some("allow-privilege-escalation"),
            None,
            "Privilege escalation container is not allowed: airflow-webserver-container"
        )]
    );
}

#[test]
fn real_gatekeeper_four_constraints_in_one_denial() {
    let text = fixture("denials/denials.jsonl");
    let v: serde_json::Value = serde_json::from_str(text.lines().nth(6).unwrap()).unwrap();
    let p = parse(v["message"].as_str().unwrap());
    let names: Vec<_> = p.findings.iter().map(|f| f.policy.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "container-must-have-limits",
            "container-must-meet-ratio",
            "container-must-meet-ratio",
            "container-must-have-requests"
        ]
    );
}

#[test]
fn real_statefulset_wrapper_and_quota_lists() {
    let text = fixture("denials/denials.jsonl");
    let v: serde_json::Value = serde_json::from_str(text.lines().nth(17).unwrap()).unwrap();
    let p = parse(v["message"].as_str().unwrap());
    assert_eq!(
        p.wrappers[0],
        Wrapper::StatefulSetCreate {
            pod: "fpl-case-service-pr-3308-es-master-0".into(),
            statefulset: "fpl-case-service-pr-3308-es-master".into()
        }
    );
    assert_eq!(
        p.findings,
        [
            finding(Some("fpl-quota"), Some("requests.cpu"), "must specify requests.cpu"),
            finding(Some("fpl-quota"), Some("requests.memory"), "must specify requests.memory"),
        ]
    );
}

#[test]
fn real_pre_1_2_quota_and_capital_failed_quota() {
    let p = parse(
        r#"Error creating: Pod "nginx-" is forbidden: cpu quota is 200m, current usage is 200m, requesting 100m."#,
    );
    assert_eq!(p.engine, Engine::ResourceQuota);
    assert_eq!(p.object, pod("nginx-"));
    assert_eq!(
        p.quota,
        [QuotaUse {
            resource: "cpu".into(),
            requested: Some("100m".into()),
            used: Some("200m".into()),
            limited: Some("200m".into())
        }]
    );
    let p = parse(
        r#"Error creating: pods "nginx-3137573019-" is forbidden: Failed quota: compute-resources: must specify limits.cpu,limits.memory,requests.cpu,requests.memory"#,
    );
    assert_eq!(p.findings.len(), 4);
    assert!(matches!(&p.wrappers[1], Wrapper::Forbidden(r) if r.generate_name));
}

#[test]
fn real_limitrange_bracketed_list() {
    let text = fixture("denials/denials.jsonl");
    let v: serde_json::Value = serde_json::from_str(text.lines().nth(21).unwrap()).unwrap();
    let p = parse(v["message"].as_str().unwrap());
    assert_eq!(
        p.findings,
        [
            finding(
                None,
                Some("minimum memory usage per Pod"),
                "minimum memory usage per Pod is 204Mi, but request is 209715200."
            ),
            finding(
                None,
                Some("minimum memory usage per Container"),
                "minimum memory usage per Container is 204Mi, but request is 200Mi."
            ),
        ]
    );
    assert!(
        matches!(&p.wrappers[1], Wrapper::ClientFile { verb, file } if verb == "creating" && file.ends_with("caddy-docker.json"))
    );
}

#[test]
fn unrecognised_client_prefix_is_kept_as_a_wrapper() {
    let p = parse(
        r#"Kubeclient::HttpError: Kubernetes error foo-app-server pod123 Pod123: admission webhook "foo.io" denied the request: found violations in docker-images"#,
    );
    assert_eq!(p.engine, Engine::Webhook);
    assert_eq!(
        p.wrappers,
        [Wrapper::Unrecognised(
            "Kubeclient::HttpError: Kubernetes error foo-app-server pod123 Pod123:".into()
        )]
    );
    assert_eq!(p.detail, "found violations in docker-images");
}

// ------------------------------------------------------------ REFERENCE.md strings

#[test]
fn vap_with_binding() {
    let p = parse(
        r#"deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'demo-policy.example.com' with binding 'demo-binding-test.example.com' denied request: failed expression: object.spec.replicas <= 5"#,
    );
    assert_eq!(p.engine, Engine::ValidatingAdmissionPolicy);
    assert_eq!(p.enforcement, Enforcement::Deny);
    assert_eq!(p.binding.as_deref(), Some("demo-binding-test.example.com"));
    assert_eq!(p.detail, "failed expression: object.spec.replicas <= 5");
    assert_eq!(
        p.findings,
        [finding(Some("demo-policy.example.com"), None, "failed expression: object.spec.replicas <= 5")]
    );
    assert_eq!(
        p.wrappers,
        [Wrapper::Forbidden(ResourceName {
            resource: "deployments".into(),
            group: Some("apps".into()),
            name: "nginx".into(),
            generate_name: false
        })]
    );
    assert_eq!(
        p.object,
        Some(ObjectRef { kind: "Deployment".into(), namespace: None, name: "nginx".into() })
    );
}

// The warning form is constructed from the VAP dispatcher's `Validation failed for
// ValidatingAdmissionPolicy %q with binding %q: %s`; not a captured string.
#[test]
fn vap_without_binding_and_warning() {
    let p = parse(
        "ValidatingAdmissionPolicy 'demo-policy' denied request: failed expression: object.spec.replicas <= 5",
    );
    assert_eq!(p.engine, Engine::ValidatingAdmissionPolicy);
    assert_eq!(p.binding, None);
    assert_eq!(p.policy_or_webhook(), Some("demo-policy"));
    let p = parse(
        "Validation failed for ValidatingAdmissionPolicy 'demo-policy' with binding 'demo-binding': replicas too high",
    );
    assert_eq!(p.enforcement, Enforcement::Warn);
    assert_eq!(p.binding.as_deref(), Some("demo-binding"));
    assert_eq!(p.detail, "replicas too high");
}

#[test]
fn webhook_without_explanation() {
    let p = parse(r#"admission webhook "deny.example.com" denied the request without explanation"#);
    assert_eq!(p.engine, Engine::Webhook);
    assert_eq!(p.webhook.as_deref(), Some("deny.example.com"));
    assert!(p.findings.is_empty());
    assert_eq!(p.detail, r#"admission webhook "deny.example.com" denied the request without explanation"#);
}

#[test]
fn webhook_500_internal_error() {
    // Built from the Go format `failed calling webhook %q: %w` (statuserror.go / dispatcher).
    let p = parse(
        r#"Internal error occurred: failed calling webhook "validation.gatekeeper.sh": Post "https://gatekeeper-webhook-service.gatekeeper-system.svc:443/v1/admit?timeout=3s": context deadline exceeded"#,
    );
    assert_eq!(p.wrappers, [Wrapper::InternalError]);
    assert_eq!(p.engine, Engine::Gatekeeper);
    assert_eq!(p.webhook.as_deref(), Some("validation.gatekeeper.sh"));
    assert!(p.detail.ends_with("context deadline exceeded"));
    let p =
        parse(r#"Internal error occurred: failed calling webhook "checks.example.com": connection refused"#);
    assert_eq!(p.engine, Engine::Webhook);
    assert_eq!(p.detail, "connection refused");
}

#[test]
fn gatekeeper_reference_strings() {
    let p = parse(
        r#"admission webhook "validation.gatekeeper.sh" denied the request: [psp-privileged-container] Privileged container is not allowed: nginx, securityContext: {"privileged": true}"#,
    );
    assert_eq!(p.engine, Engine::Gatekeeper);
    assert_eq!(
        p.findings,
        [finding(
            Some("psp-privileged-container"),
            None,
            r#"Privileged container is not allowed: nginx, securityContext: {"privileged": true}"#
        )]
    );
    let p = parse(
        r#"Error from server ([ns-must-have-gk] you must provide labels: {"gatekeeper"}): admission webhook "validation.gatekeeper.sh" denied the request: [ns-must-have-gk] you must provide labels: {"gatekeeper"}"#,
    );
    assert_eq!(
        p.wrappers,
        [Wrapper::ClientError {
            reason: Some(r#"[ns-must-have-gk] you must provide labels: {"gatekeeper"}"#.into())
        }]
    );
    assert_eq!(
        p.findings,
        [finding(Some("ns-must-have-gk"), None, r#"you must provide labels: {"gatekeeper"}"#)]
    );
}

// Constructed from the Gatekeeper webhook format (`[constraint] message` per violation,
// joined by newlines); not a captured string.
#[test]
fn gatekeeper_two_constraints() {
    let p = parse(
        "admission webhook \"validation.gatekeeper.sh\" denied the request: [must-have-owner] you must provide labels: {\"owner\"}\n[repo-is-allowed] container <app> has an invalid image repo <docker.io/nginx>",
    );
    assert_eq!(
        p.findings,
        [
            finding(Some("must-have-owner"), None, r#"you must provide labels: {"owner"}"#),
            finding(
                Some("repo-is-allowed"),
                None,
                "container <app> has an invalid image repo <docker.io/nginx>"
            ),
        ]
    );
}

#[test]
fn pod_security_reference_strings() {
    let p = parse(
        r#"Error creating: pods "kitchen-logs-gc9m4" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volumes "data", "var-log")"#,
    );
    assert_eq!(p.engine, Engine::PodSecurity);
    assert_eq!(p.object, pod("kitchen-logs-gc9m4"));
    assert_eq!(
        p.findings,
        [finding(Some("baseline:latest"), Some("hostPath volumes"), r#"volumes "data", "var-log""#)]
    );
    let p = parse(
        r#"pod violates PodSecurity "restricted:v1.35": runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true)"#,
    );
    assert_eq!(p.enforcement, Enforcement::Deny);
    assert_eq!(p.findings[0].rule.as_deref(), Some("runAsNonRoot != true"));
    let p = parse(
        r#"would violate PodSecurity "restricted:latest": privileged (container "a" must not set securityContext.privileged=true)"#,
    );
    assert_eq!(p.enforcement, Enforcement::Warn);
    assert_eq!(
        p.findings,
        [finding(
            Some("restricted:latest"),
            Some("privileged"),
            r#"container "a" must not set securityContext.privileged=true"#
        )]
    );
}

#[test]
fn quota_reference_strings() {
    let p = parse(
        r#"Error creating: pods "capybara-ds7zk" is forbidden: exceeded quota: quota-pods, requested: count/pods=1, used: count/pods=1, limited: count/pods=1"#,
    );
    assert_eq!(p.engine, Engine::ResourceQuota);
    assert_eq!(
        p.findings,
        [finding(Some("quota-pods"), Some("count/pods"), "requested: 1, used: 1, limited: 1")]
    );
    let p = parse(
        r#"(combined from similar events): Error creating: pods "pod-quota-demo-56d6f96f68-xwvqs" is forbidden: exceeded quota: pod-demo, requested: pods=1, used: pods=2, limited: pods=2"#,
    );
    assert_eq!(&p.wrappers[..2], [Wrapper::Combined, Wrapper::ControllerCreate]);
    assert_eq!(
        p.quota,
        [QuotaUse {
            resource: "pods".into(),
            requested: Some("1".into()),
            used: Some("2".into()),
            limited: Some("2".into())
        }]
    );
    // Constructed from the [obs] shape in REFERENCE.md §1a; not a captured string.
    let p = parse("failed quota: compute: must specify limits.cpu for: app; limits.memory for: app,sidecar");
    assert_eq!(
        p.findings,
        [
            finding(Some("compute"), Some("limits.cpu"), "must specify limits.cpu for: app"),
            finding(Some("compute"), Some("limits.memory"), "must specify limits.memory for: app,sidecar"),
        ]
    );
}

#[test]
fn limitrange_reference_formats() {
    for (msg, rule) in [
        ("minimum cpu usage per Container is 100m, but request is 50m", "minimum cpu usage per Container"),
        ("maximum memory usage per Pod is 1Gi, but limit is 2Gi", "maximum memory usage per Pod"),
        (
            "cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000",
            "cpu max limit to request ratio per Container",
        ),
    ] {
        let p = parse(&format!(r#"pods "x" is forbidden: {msg}"#));
        assert_eq!(p.engine, Engine::LimitRange, "{msg}");
        assert_eq!(p.findings, [finding(None, Some(rule), msg)]);
    }
}

#[test]
fn generate_name_prefix() {
    let p = parse(
        r#"Error creating: pods "my-deployment-f9c7845d9-" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"#,
    );
    let Some(Wrapper::Forbidden(r)) = p.wrappers.get(1) else { panic!("{p:?}") };
    assert!(r.generate_name);
    assert_eq!(r.name, "my-deployment-f9c7845d9-");
    assert_eq!(p.object, pod("my-deployment-f9c7845d9-"));
}

// Constructed from the chainsaw-test format `Policy <name> failed: <msg>` inside a `vpol.`
// webhook denial; not a captured string.
#[test]
fn kyverno_cel_policy() {
    let p = parse(
        r#"admission webhook "vpol.validate.kyverno.svc-fail-finegrained-check-labels" denied the request: Policy check-labels failed: label 'env' is required"#,
    );
    assert_eq!(p.engine, Engine::KyvernoCel);
    assert_eq!(p.findings, [finding(Some("check-labels"), None, "label 'env' is required")]);
    assert_eq!(parse("Policy x failed: y").findings, [finding(Some("x"), None, "y")]);
}

// Constructed from `GetBlockedMessages` in kyverno `pkg/webhooks/utils/block.go`; not a
// captured string.
#[test]
fn kyverno_block_message_go_format_several_policies() {
    // `GetBlockedMessages` format: leading blank lines, trailing space after `policies`.
    let msg = "admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource Pod/default/badpod was blocked due to the following policies \n\ndisallow-latest-tag:\n  require-image-tag: 'validation error: An image tag is required. rule require-image-tag failed at path /spec/containers/0/image/'\n  validate-image-tag: 'validation error: Using a mutable image tag e.g. ''latest'' is not allowed.'\nrequire-labels:\n  check-for-labels: validation error: label app is\n    required\n  \"quoted-rule\": \"a \\\"b\\\" c\"\n";
    let p = parse(msg);
    assert_eq!(p.engine, Engine::Kyverno);
    assert_eq!(
        p.object,
        Some(ObjectRef { kind: "Pod".into(), namespace: Some("default".into()), name: "badpod".into() })
    );
    assert_eq!(
        p.findings,
        [
            finding(
                Some("disallow-latest-tag"),
                Some("require-image-tag"),
                "validation error: An image tag is required. rule require-image-tag failed at path /spec/containers/0/image/"
            ),
            finding(
                Some("disallow-latest-tag"),
                Some("validate-image-tag"),
                "validation error: Using a mutable image tag e.g. 'latest' is not allowed."
            ),
            finding(
                Some("require-labels"),
                Some("check-for-labels"),
                "validation error: label app is required"
            ),
            finding(Some("require-labels"), Some("quoted-rule"), r#"a "b" c"#),
        ]
    );
}

#[test]
fn kyverno_block_message_cut_short_keeps_text() {
    let msg = "\n\nresource Namespace//prod was blocked due to the following policies \n\nns-policy:\n  rule-a: 'validation error: cut here..\n";
    let p = parse(msg);
    assert_eq!(p.engine, Engine::Kyverno);
    assert_eq!(p.object, Some(ObjectRef { kind: "Namespace".into(), namespace: None, name: "prod".into() }));
    assert_eq!(p.findings, [finding(Some("ns-policy"), Some("rule-a"), "validation error: cut here..")]);
    let p = parse("resource Pod/a/b was blocked due to the following policies \n\np:\nstray text..\n");
    assert_eq!(p.findings, [finding(Some("p"), None, "stray text..")]);
}

#[test]
fn kubectl_warnings_are_warn() {
    let p = parse(
        r#"Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false)"#,
    );
    assert_eq!((p.engine, p.enforcement), (Engine::PodSecurity, Enforcement::Warn));
    assert_eq!(p.wrappers, [Wrapper::Warning]);
    let p = parse("Warning: [require-owner] you must provide labels: {\"owner\"}");
    assert_eq!((p.engine, p.enforcement), (Engine::Gatekeeper, Enforcement::Warn));
    assert_eq!(p.findings, [finding(Some("require-owner"), None, r#"you must provide labels: {"owner"}"#)]);
    let p = parse("[not gatekeeper] text");
    assert_eq!(p.engine, Engine::Other);
}

#[test]
fn unknown_prefix_without_an_engine_message_is_not_a_wrapper() {
    // No grammar reads it, so it is unattributed; the webhook it names gives the engine
    // (issue 16: nothing is dropped, a gap stays visible).
    let p = parse(r#"oops: admission webhook "x" broke"#);
    assert_eq!(p.engine, Engine::Webhook);
    assert_eq!(p.webhook.as_deref(), Some("x"));
    assert!(!p.attributed);
    assert!(p.wrappers.is_empty());
    assert_eq!(p.detail, r#"oops: admission webhook "x" broke"#);
}

#[test]
fn kyverno_map_keeps_order_of_stray_lines_and_folds_blank_lines() {
    let map = "p1:\n  r1: 'first\n\n    second'\nloose words\np2:\n  r2:\n    value on the next line\n";
    assert_eq!(
        kyverno::policy_map(map),
        [
            finding(Some("p1"), Some("r1"), "first\nsecond"),
            finding(Some("p1"), None, "loose words"),
            finding(Some("p2"), Some("r2"), "value on the next line"),
        ]
    );
}

// ------------------------------------------------------------ events and conditions

#[test]
fn kyverno_policy_centric_events() {
    let messages = yaml_messages(&fixture("kyverno/events-policyviolation-blocked.yaml"));
    assert_eq!(messages.len(), 4);
    let parsed: Vec<_> = messages.iter().map(|m| parse(m)).collect();
    assert_eq!(parsed[0].engine, Engine::Kyverno);
    assert_eq!(parsed[0].enforcement, Enforcement::Audit);
    assert_eq!(parsed[0].findings[0].rule.as_deref(), Some("require-ns-env-label"));
    assert_eq!(
        parsed[0].object,
        Some(ObjectRef { kind: "Namespace".into(), namespace: None, name: "good-ns-1".into() })
    );
    assert_eq!(parsed[1].engine, Engine::Other, "a pass is not a denial");
    for p in &parsed[2..] {
        assert_eq!((p.engine, p.enforcement), (Engine::Kyverno, Enforcement::Deny));
        assert_eq!(p.findings[0].rule.as_deref(), Some("require-ns-purpose-label"));
        assert!(p.findings[0].message.starts_with("validation error: You must have label `purpose`"));
    }
}

#[test]
fn kyverno_scan_event_with_pod_security_subrule() {
    let messages = yaml_messages(&fixture("kyverno/event-policyviolation-pss-scan.yaml"));
    let p = parse(&messages[0]);
    assert_eq!((p.engine, p.enforcement), (Engine::Kyverno, Enforcement::Audit));
    assert_eq!(p.findings[0].policy.as_deref(), Some("podsecurity-subrule-restricted"));
    assert_eq!(p.findings[0].rule.as_deref(), Some("restricted"));
    assert!(p.detail.contains(r#"It violates PodSecurity "restricted:latest""#));
}

#[test]
fn kyverno_kubectl_get_events_both_shapes() {
    let text = fixture("kyverno/events-kubectl-get-policyviolation-issue3732.txt");
    let rows: Vec<String> = text
        .lines()
        .filter(|l| l.contains("PolicyViolation"))
        .map(|l| l.split_whitespace().skip(5).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(rows.len(), 6);
    for row in &rows {
        let p = parse(row);
        assert_eq!(p.engine, Engine::Kyverno, "{row}");
    }
    let p = parse(&rows[0]);
    assert_eq!(
        p.object,
        Some(ObjectRef { kind: "Pod".into(), namespace: Some("default".into()), name: "test".into() })
    );
    let p = parse(&rows[2]);
    assert_eq!(p.policy_or_webhook(), Some("disallow-capabilities-strict"));
}

#[test]
fn kyverno_1_7_describe_event() {
    let text = fixture("kyverno/events-describe-policyviolation-v1.7-pr3710.txt");
    let at = text.find("Rule(s)").unwrap();
    let p = parse(text[at..].trim());
    assert_eq!(p.engine, Engine::Kyverno);
    assert_eq!(p.findings[0].rule.as_deref(), Some("check-image-keyless"));
    assert_eq!(
        p.object,
        Some(ObjectRef { kind: "Pod".into(), namespace: Some("default".into()), name: "pod".into() })
    );
}

#[test]
fn gatekeeper_replicaset_condition() {
    let messages = yaml_messages(&fixture("gatekeeper/replicaset-status-condition-webhook-denied.yaml"));
    let p = parse(&messages[0]);
    assert_eq!(p.engine, Engine::Gatekeeper);
    assert_eq!(
        p.findings,
        [finding(
            Some("psp-privileged-container"),
            None,
            r#"Privileged container is not allowed: nginx, securityContext: {"privileged":true}"#
        )]
    );
}

// ------------------------------------------------------------ unknown text and fuzzing

#[test]
fn unknown_text_is_kept_as_other() {
    for msg in ["", "   ", "something odd happened", "\n\nError creating: the server is on fire  "] {
        let p = parse(msg);
        assert_eq!(p.engine, Engine::Other);
        assert_eq!(p.raw, msg);
        assert!(p.findings.is_empty());
    }
    let p = parse("Error creating: the server is on fire  ");
    assert_eq!(p.detail, "the server is on fire");
    assert_eq!(p.wrappers, [Wrapper::ControllerCreate]);
}

const PREFIXES: &[&str] = &[
    "(combined from similar events): ",
    "Error creating: ",
    "Error from server (",
    "Error from server (Forbidden): error when creating \"",
    "create Pod a in StatefulSet ",
    "error: failed to create deployment: ",
    "pods \"",
    "deployments.apps \"x\" is forbidden: ",
    "The galaxies \"g\" is invalid: : ",
    "Internal error occurred: failed calling webhook \"",
    "admission webhook \"",
    "admission webhook \"validation.gatekeeper.sh\" denied the request: [",
    "admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource ",
    "\n\nresource Pod/ns/n was blocked due to the following policies \n\n",
    "resource Pod/ns/n was blocked due to the following policies \n\np:\n  r: '",
    "ValidatingAdmissionPolicy '",
    "Validation failed for ValidatingAdmissionPolicy 'p' with binding '",
    "violates PodSecurity \"",
    "would violate PodSecurity \"restricted:latest\": ",
    "exceeded quota: ",
    "exceeded quota: q, requested: ",
    "failed quota: ",
    "Failed quota: q: must specify ",
    "cpu quota is ",
    "[minimum ",
    "maximum cpu usage per ",
    "policy ",
    "Pod ns/n: [",
    "Rule(s) '",
    "Policy ",
    "Timestamp: x, Constraint: ",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let p = parse(&s);
        prop_assert_eq!(p.raw, s);
    }

    #[test]
    fn real_prefixes_with_arbitrary_tails_never_panic(
        i in 0..PREFIXES.len(),
        j in 0..PREFIXES.len(),
        tail in "[\\PC\n'\"\\[\\](){},:;= /-]{0,80}",
    ) {
        let s = format!("{}{}{}", PREFIXES[i], tail, PREFIXES[j]);
        let p = parse(&s);
        prop_assert_eq!(&p.raw, &s);
        if p.engine == Engine::Other {
            prop_assert!(!p.detail.is_empty() || s.trim().is_empty() || !p.wrappers.is_empty());
        }
    }
}

#[test]
fn large_damaged_inputs_parse() {
    let mut msg =
        String::from("resource Pod/a/b was blocked due to the following policies \n\np:\n  r: 'open\n");
    msg.push_str(&"  x ''y'' (z [ \" \n".repeat(20_000));
    let p = parse(&msg);
    assert_eq!(p.engine, Engine::Kyverno);
    assert_eq!(p.findings.len(), 1);
    let psa = format!("violates PodSecurity \"restricted:latest\": {}", "c (d \"e\", [f]), ".repeat(20_000));
    assert_eq!(parse(&psa).findings.len(), 20_000);
}

// ------------------------------------------------------------ shapes read from the engines' sources

/// Gatekeeper v3.0–v3.3 (`pkg/webhook/policy.go`: `[denied by %s] %s`, joined by `\n`); no
/// real string of that era with a known source was found, so the format itself is the input.
#[test]
fn gatekeeper_denied_by_prefix_and_collapsed_constraints() {
    let msg = "admission webhook \"validation.gatekeeper.sh\" denied the request: [denied by ns-must-have-gk] you must provide labels: {\"gatekeeper\"}\n[denied by must-have-owner] you must provide labels: {\"owner\"}";
    for text in [msg.to_string(), msg.replace('\n', " ")] {
        let p = parse(&text);
        assert_eq!(p.engine, Engine::Gatekeeper, "{text}");
        let names: Vec<_> = p.findings.iter().map(|f| f.policy.as_deref()).collect();
        assert_eq!(names, [Some("ns-must-have-gk"), Some("must-have-owner")], "{text}");
        assert_eq!(p.findings[0].message, "you must provide labels: {\"gatekeeper\"}");
    }
}

/// Kyverno 1.8–1.9 (`pkg/webhooks/utils/block.go` `GetBlockedMessages` with `getAction`) and
/// CEL results joined by `; ` (`multierr.Combine` in `pkg/webhooks/resource/vpol/handler.go`).
#[test]
fn kyverno_1_8_header_and_cel_lists() {
    let p = parse(
        "policy Pod/default/badpod01 for resource violations: \n\npsa:\n  restricted: |\n    Validation rule 'restricted' failed.\nrequire-labels:\n  check-team: 'label ''team'' is required'\n",
    );
    assert_eq!(p.engine, Engine::Kyverno);
    assert_eq!(p.object.as_ref().map(|o| o.display()), Some("Pod/default/badpod01".to_string()));
    let got: Vec<_> =
        p.findings.iter().map(|f| (f.policy.as_deref(), f.rule.as_deref(), f.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (Some("psa"), Some("restricted"), "Validation rule 'restricted' failed."),
            (Some("require-labels"), Some("check-team"), "label 'team' is required")
        ]
    );
    let p = parse("Policy a failed: x must be set; Policy b error: cannot evaluate: no such key");
    let got: Vec<_> = p.findings.iter().map(|f| (f.policy.as_deref(), f.message.as_str())).collect();
    assert_eq!(got, [(Some("a"), "x must be set"), (Some("b"), "cannot evaluate: no such key")]);
}

/// A generated Gatekeeper VAP is its constraint; MutatingAdmissionPolicy's generic dispatcher.
#[test]
fn gatekeeper_generated_vap_and_generic_policy_dispatcher() {
    let p = parse(
        "ValidatingAdmissionPolicy 'gatekeeper-k8srequiredlabels' with binding 'gatekeeper-k8srequiredlabels-ns-must-have-gk' denied request: you must provide labels",
    );
    assert_eq!((p.engine, p.policy_or_webhook()), (Engine::Gatekeeper, Some("ns-must-have-gk")));
    let p = parse("policy 'add-label' with binding 'add-label-binding' denied request: expression failed");
    assert_eq!(
        (p.engine, p.policy_or_webhook(), p.binding.as_deref()),
        (Engine::ValidatingAdmissionPolicy, Some("add-label"), Some("add-label-binding"))
    );
}
