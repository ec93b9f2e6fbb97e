//! Core objects as the watchers hand them over (JSON → k8s-openapi types) through their
//! projections: Events → denials, Pods → GPU requests and pending GPU pods, Nodes → GPU nodes,
//! Namespaces → Pod Security exemptions and teams. The input is one object or an array.
#![no_main]

use fleettop::sources::kubernetes::objects::{ProjectionConfig, namespace_exception, namespace_team};
use fleettop::sources::kubernetes::project::{
    denial, gpu_allocation, gpu_node, gpu_request, pending_gpu_pod,
};
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let values = match value {
        Value::Array(a) => a,
        v => vec![v],
    };
    let cfg = ProjectionConfig::default();
    for v in values {
        if let Ok(event) = serde_json::from_value::<Event>(v.clone()) {
            let _ = denial(&event);
        }
        if let Ok(pod) = serde_json::from_value::<Pod>(v.clone()) {
            let _ = gpu_request(&pod);
            let _ = gpu_allocation(&pod);
            let _ = pending_gpu_pod(&pod, &cfg.team_label);
        }
        if let Ok(node) = serde_json::from_value::<Node>(v.clone()) {
            let _ = gpu_node(&node);
        }
        if let Ok(ns) = serde_json::from_value::<Namespace>(v) {
            let _ = namespace_exception(&ns, &cfg);
            let _ = namespace_team(&ns, &cfg);
        }
    }
});
