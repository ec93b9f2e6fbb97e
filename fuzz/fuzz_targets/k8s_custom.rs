//! Custom resources as the dynamic watchers hand them over (JSON → `DynamicObject`) through
//! every projection: Kueue, Kyverno/PolicyException, cleanup policies (cron expiry search),
//! policy reports, Gatekeeper constraints and Config, VAP/Kyverno/constraint policies, and the
//! Kueue visibility API's pending workloads. The input is one object or an array of them;
//! each exception is joined with every cleanup policy of the input.
#![no_main]

use fleettop::sources::kubernetes::objects::{
    ProjectionConfig, admission_policy, cleanup_policy, cluster_queue, constraint_denials, constraint_policy,
    gatekeeper_config_exceptions, kyverno_policy, local_queue, pending_positions, policy_exception,
    priority_class, report_records, resource_flavor, with_cleanup_expiry, workload,
};
use jiff::Timestamp;
use kube::api::DynamicObject;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let _ = pending_positions(&value);
    let values = match value {
        Value::Array(a) => a,
        v => vec![v],
    };
    let cfg = ProjectionConfig::default();
    let at = Timestamp::from_second(1_700_000_000).unwrap_or_default();
    let mut exceptions = Vec::new();
    let mut cleanups = Vec::new();
    for v in values {
        let Ok(obj) = serde_json::from_value::<DynamicObject>(v) else { continue };
        let kind = obj.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default();
        let _ = cluster_queue(&obj, &cfg);
        let _ = local_queue(&obj);
        let _ = workload(&obj, &cfg);
        let _ = resource_flavor(&obj);
        let _ = priority_class(&obj);
        let _ = report_records(&obj, at);
        let _ = constraint_denials(&obj, at);
        let _ = kyverno_policy(&obj, &kind, &cfg);
        let _ = admission_policy(&obj, &kind, &cfg);
        let _ = constraint_policy(&obj, &kind, &cfg);
        exceptions.extend(gatekeeper_config_exceptions(&obj));
        exceptions.extend(policy_exception(&obj, &cfg));
        cleanups.extend(cleanup_policy(&obj));
    }
    for e in exceptions {
        let _ = with_cleanup_expiry(e, &cleanups);
    }
});
