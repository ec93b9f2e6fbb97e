//! The placement stage: why the scheduler puts a GPU pod on no node, per node group of its
//! FailedScheduling message, joined to the GPU nodes fleettop sees: which nodes would fit if
//! one thing changed (a taint tolerated, a node uncordoned), and the most free GPUs anywhere.
//!
//! A node's free GPUs are `allocatable − allocated` (requests of running pods).

use super::{Evidence, Link, Part, Stage, Step, Verdict, WaitClass};
use crate::model::{GpuNode, GpuWorkload, PendingGpuPod};
use crate::sources::parse::scheduling::reason_words;
use crate::state::{FleetState, RecordId};

/// How many nodes a step names (the rest are counted).
const NODES_SHOWN: usize = 4;

/// Free GPUs of a node.
pub fn free(n: &GpuNode) -> u32 {
    n.allocatable.saturating_sub(n.allocated)
}

/// The job name a workload's pods start with: its owner's name (`Job/train` → `train`).
fn job_name(w: &GpuWorkload) -> Option<&str> {
    w.owner.as_deref().and_then(|o| o.split_once('/')).map(|(_, n)| n).filter(|n| !n.is_empty())
}

/// The pending GPU pods of workload `id`: same cluster and namespace, named after its job
/// (`<job>-…`).
pub fn pods_of<'a>(
    state: &'a FleetState,
    id: &RecordId,
    w: &GpuWorkload,
) -> Vec<(&'a RecordId, &'a PendingGpuPod)> {
    let Some(job) = job_name(w) else { return Vec::new() };
    FleetState::in_cluster(state.pending_gpu_pods(), &id.cluster)
        .filter(|(_, p)| {
            p.namespace == w.namespace && p.name.strip_prefix(job).is_some_and(|r| r.starts_with('-'))
        })
        // A longer job name of the same prefix (`train-2` for `train`) owns the pod instead.
        .filter(|(pid, p)| workload_of(state, pid, p).is_some_and(|(_, o)| o.name == w.name))
        .collect()
}

/// The Kueue workload a pending pod belongs to, by its job's name (the longest that matches).
pub fn workload_of<'a>(
    state: &'a FleetState,
    id: &RecordId,
    p: &PendingGpuPod,
) -> Option<(&'a RecordId, &'a GpuWorkload)> {
    FleetState::in_cluster(state.gpu_workloads(), &id.cluster)
        .filter(|(_, w)| w.namespace == p.namespace)
        .filter_map(|(wid, w)| {
            let job = job_name(w)?;
            p.name.strip_prefix(job).filter(|r| r.starts_with('-')).map(|_| (job.len(), wid, w))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, wid, w)| (wid, w))
}

/// `{nvidia.com/gpu: present}` in a scheduler reason → `("nvidia.com/gpu", "present")`.
fn taint_of(reason: &str) -> Option<(String, String)> {
    let inner = reason.split_once('{')?.1.split_once('}')?.0;
    let (k, v) = inner.split_once(':').unwrap_or((inner, ""));
    Some((k.trim().to_string(), v.trim().to_string()))
}

/// Whether a node taint (`key=value:Effect`, `key:Effect`) is `key`/`value`.
fn taint_matches(taint: &str, key: &str, value: &str) -> bool {
    let head = taint.rsplit_once(':').map_or(taint, |(h, _)| h);
    let (k, v) = head.split_once('=').unwrap_or((head, ""));
    k == key && v == value
}

/// `1 node`, `3 nodes`.
pub(crate) fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn names(nodes: &[(&RecordId, &GpuNode)]) -> String {
    let mut s: Vec<String> =
        nodes.iter().take(NODES_SHOWN).map(|(_, n)| format!("{} ({} free)", n.name, free(n))).collect();
    if nodes.len() > NODES_SHOWN {
        s.push(format!("{} more", nodes.len() - NODES_SHOWN));
    }
    s.join(", ")
}

/// The placement stage of pending pod `id`; `workload` is the Kueue workload it belongs to,
/// when known (its flavor narrows the nodes that count).
pub fn explain(state: &FleetState, id: &RecordId, p: &PendingGpuPod, workload: Option<&GpuWorkload>) -> Part {
    let mut steps = Vec::new();
    let pod = format!("pod {}/{}", p.namespace, p.name);
    let Some(message) = &p.message else {
        steps.push(
            Step::new(Stage::Placement, "scheduler", format!("{pod}: no FailedScheduling event seen yet"))
                .since(Some(p.since)),
        );
        return Part {
            verdict: Verdict {
                class: WaitClass::Unknown,
                words: format!("{}: no FailedScheduling event seen yet", WaitClass::Unknown.words()),
            },
            steps,
        };
    };
    let summary = crate::ui::panes::gpu::scheduling_summary(p);
    steps.push(
        Step::new(Stage::Placement, "scheduler", format!("{pod} ({} × {}): {summary}", p.gpus, p.resource))
            .since(Some(p.since))
            .evidence(Evidence::new("FailedScheduling event", message.clone(), None)),
    );
    let gpu_nodes: Vec<(&RecordId, &GpuNode)> =
        FleetState::in_cluster(state.gpu_nodes(), &id.cluster).collect();
    let flavor = workload.and_then(|w| w.flavor.clone());
    let of_flavor = |n: &GpuNode| {
        flavor
            .as_deref()
            .is_none_or(|f| n.product.as_deref().is_some_and(|prod| super::fleet::matches(f, prod)))
    };
    // Taints the pod does not tolerate: a cordoned node carrying one would not fit either.
    let untolerated: Vec<(String, String)> = p
        .reasons
        .iter()
        .filter(|(r, _)| reason_words(r) == "untolerated taint")
        .filter_map(|(r, _)| taint_of(r))
        .collect();
    let tolerated =
        |n: &GpuNode| !n.taints.iter().any(|t| untolerated.iter().any(|(k, v)| taint_matches(t, k, v)));
    let mut verdict: Option<Verdict> = None;
    for (reason, count) in &p.reasons {
        let words = reason_words(reason);
        if words == "untolerated taint" {
            let Some((key, value)) = taint_of(reason) else {
                steps.push(Step::new(Stage::Placement, "nodes", format!("{count} nodes: {words}")));
                continue;
            };
            let shown = if value.is_empty() { key.clone() } else { format!("{key}={value}") };
            let tainted: Vec<(&RecordId, &GpuNode)> = gpu_nodes
                .iter()
                .copied()
                .filter(|(_, n)| n.taints.iter().any(|t| taint_matches(t, &key, &value)))
                .collect();
            let fit: Vec<(&RecordId, &GpuNode)> = tainted
                .iter()
                .copied()
                .filter(|(_, n)| n.schedulable && free(n) >= p.gpus && of_flavor(n))
                .collect();
            let text = if !fit.is_empty() {
                format!("{} would fit without taint {shown}: {}", plural(fit.len(), "node"), names(&fit))
            } else if tainted.is_empty() {
                format!(
                    "{count} nodes have taint {shown} the pod does not tolerate (no GPU node with it is watched)"
                )
            } else {
                let most = tainted.iter().map(|(_, n)| free(n)).max().unwrap_or(0);
                format!(
                    "{count} nodes have taint {shown} the pod does not tolerate; none of the {} GPU nodes with it has {} free now either (most free: {most})",
                    tainted.len(),
                    p.gpus
                )
            };
            let mut step = Step::new(Stage::Placement, "taint", text.clone()).evidence(Evidence::new(
                "scheduler reason",
                format!("{count} {reason}"),
                None,
            ));
            for (nid, _) in if fit.is_empty() { &tainted } else { &fit }.iter().take(NODES_SHOWN) {
                step = step.link(Link::Node((*nid).clone()));
            }
            steps.push(step);
            if verdict.is_none() || !fit.is_empty() {
                verdict = Some(Verdict {
                    class: WaitClass::UntoleratedTaint,
                    words: format!("{}: {text}", WaitClass::UntoleratedTaint.words()),
                });
            }
        } else if words == "unschedulable" {
            let cordoned: Vec<(&RecordId, &GpuNode)> =
                gpu_nodes.iter().copied().filter(|(_, n)| !n.schedulable).collect();
            let fit: Vec<(&RecordId, &GpuNode)> = cordoned
                .iter()
                .copied()
                .filter(|(_, n)| free(n) >= p.gpus && of_flavor(n) && tolerated(n))
                .collect();
            let text = if fit.is_empty() {
                format!(
                    "{} cordoned{}",
                    if *count == 1 { "1 node is".to_string() } else { format!("{count} nodes are") },
                    if cordoned.is_empty() { String::new() } else { format!(": {}", names(&cordoned)) }
                )
            } else {
                format!("{} would fit if uncordoned: {}", plural(fit.len(), "cordoned node"), names(&fit))
            };
            let mut step = Step::new(Stage::Placement, "cordon", text.clone()).evidence(Evidence::new(
                "scheduler reason",
                format!("{count} {reason}"),
                None,
            ));
            for (nid, _) in if fit.is_empty() { &cordoned } else { &fit }.iter().take(NODES_SHOWN) {
                step = step.link(Link::Node((*nid).clone()));
            }
            steps.push(step);
            if !fit.is_empty() && verdict.as_ref().is_none_or(|v| v.class != WaitClass::UntoleratedTaint) {
                verdict = Some(Verdict {
                    class: WaitClass::NodesCordoned,
                    words: format!("{}: {text}", WaitClass::NodesCordoned.words()),
                });
            }
        } else if words.starts_with("insufficient ") {
            let mut open: Vec<(&RecordId, &GpuNode)> =
                gpu_nodes.iter().copied().filter(|(_, n)| n.schedulable && of_flavor(n)).collect();
            open.sort_by(|a, b| free(b.1).cmp(&free(a.1)).then_with(|| a.0.cmp(b.0)));
            let group = flavor.as_ref().map(|f| format!(" {f}")).unwrap_or_default();
            // The node with the most free GPUs may have enough and still be ruled out by another
            // of the scheduler's reasons (a taint the pod does not tolerate, a cordon, affinity):
            // say so rather than "no node has 1 free (most free: 8 on …)".
            let text = match open.first() {
                Some((_, n)) if free(n) >= p.gpus => format!(
                    "{count} nodes: {words}; the schedulable{group} GPU nodes with {} free (most: {} on {}) are ruled out by the scheduler's other reasons",
                    p.gpus,
                    free(n),
                    n.name
                ),
                Some((_, n)) => format!(
                    "{count} nodes: {words}; no schedulable{group} GPU node has {} free (most free: {} on {})",
                    p.gpus,
                    free(n),
                    n.name
                ),
                None => format!("{count} nodes: {words}"),
            };
            steps.push(Step::new(Stage::Placement, "nodes", text).evidence(Evidence::new(
                "scheduler reason",
                format!("{count} {reason}"),
                None,
            )));
            if verdict.is_none() {
                let most = open
                    .first()
                    .filter(|(_, n)| free(n) < p.gpus)
                    .map(|(_, n)| format!(" (most free: {} on {})", free(n), n.name))
                    .unwrap_or_default();
                let usable = if most.is_empty() && !open.is_empty() { " it can use" } else { "" };
                verdict = Some(Verdict {
                    class: WaitClass::WaitingForNode,
                    words: format!(
                        "{}: no{group} node{usable} has {} free GPUs{most}",
                        WaitClass::WaitingForNode.words(),
                        p.gpus
                    ),
                });
            }
        } else {
            let pinned = match (&flavor, words.as_str()) {
                (Some(f), "node affinity/selector mismatch") => {
                    format!(" (Kueue's flavor {f} pins the pods to its nodes)")
                }
                _ => String::new(),
            };
            steps.push(
                Step::new(Stage::Placement, "nodes", format!("{count} nodes: {words}{pinned}"))
                    .evidence(Evidence::new("scheduler reason", format!("{count} {reason}"), None)),
            );
        }
    }
    let verdict = verdict.unwrap_or_else(|| Verdict {
        class: WaitClass::WaitingForNode,
        words: format!("{}: {summary}", WaitClass::WaitingForNode.words()),
    });
    Part { verdict, steps }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taints_as_the_scheduler_and_the_node_write_them() {
        assert_eq!(
            taint_of("node(s) had untolerated taint {nvidia.com/gpu: present}"),
            Some(("nvidia.com/gpu".into(), "present".into()))
        );
        assert_eq!(
            taint_of("node(s) had taint {dedicated: }, that the pod didn't tolerate"),
            Some(("dedicated".into(), String::new()))
        );
        assert_eq!(taint_of("Insufficient nvidia.com/gpu"), None);
        assert!(taint_matches("nvidia.com/gpu=present:NoSchedule", "nvidia.com/gpu", "present"));
        assert!(taint_matches("dedicated:NoSchedule", "dedicated", ""));
        assert!(!taint_matches("nvidia.com/gpu=maintenance:NoSchedule", "nvidia.com/gpu", "present"));
    }
}
