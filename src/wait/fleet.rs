//! The fleet stage: where the same request would fit now on another cluster — schedulable
//! nodes of the same GPU product with enough free GPUs, and a ClusterQueue there with free
//! quota in a flavor of that product.
//!
//! Products and flavors are matched by name ([`matches`]): every word of the flavor
//! (`a100-80gb`) is a word of the product label (`NVIDIA-A100-SXM4-80GB`), or a flavor's
//! `ResourceFlavor` names the product outright.

use super::{Evidence, Link, Stage, Step, qty};
use crate::model::{ClusterId, GpuNode, is_gpu_resource};
use crate::state::{FleetState, RecordId};

fn words(s: &str) -> Vec<String> {
    s.split(['-', '_', ' ', '.']).filter(|w| !w.is_empty()).map(str::to_ascii_lowercase).collect()
}

/// Whether `want` (a flavor name or a GPU product) names the GPU `product`: every word of
/// `want` is a word of `product`.
pub fn matches(want: &str, product: &str) -> bool {
    let have = words(product);
    let want = words(want);
    !want.is_empty() && want.iter().all(|w| have.contains(w))
}

/// The one GPU product of `cluster`'s nodes, when they all carry the same.
fn cluster_product(state: &FleetState, cluster: &ClusterId) -> Option<String> {
    let mut products = FleetState::in_cluster(state.gpu_nodes(), cluster).map(|(_, n)| n.product.clone());
    let first = products.next()??;
    products.all(|p| p.as_deref() == Some(first.as_str())).then_some(first)
}

/// The fleet stage for a request of `gpus` in cluster of `id`, after `want` (a product or a
/// flavor name; the request's own cluster's product when `None` and its nodes agree).
pub fn explain(state: &FleetState, id: &RecordId, gpus: u32, want: Option<&str>) -> Vec<Step> {
    let want = want.map(str::to_string).or_else(|| cluster_product(state, &id.cluster));
    let of_want = |n: &GpuNode| match &want {
        Some(w) => n.product.as_deref().is_some_and(|p| matches(w, p) || matches(p, w)),
        None => true,
    };
    let what = want.clone().unwrap_or_else(|| "GPU".into());
    let mut per_cluster = Vec::new();
    let mut fits = Vec::new();
    let mut checked = 0;
    for cluster in state.clusters().keys().filter(|c| **c != id.cluster) {
        let mut nodes: Vec<(&RecordId, &GpuNode)> = FleetState::in_cluster(state.gpu_nodes(), cluster)
            .filter(|(_, n)| n.schedulable && of_want(n))
            .collect();
        if nodes.is_empty() {
            continue;
        }
        checked += 1;
        nodes.sort_by(|a, b| {
            super::placement::free(b.1).cmp(&super::placement::free(a.1)).then_with(|| a.0.cmp(b.0))
        });
        let total: u32 = nodes.iter().map(|(_, n)| super::placement::free(n)).sum();
        let (best_id, best) = nodes[0];
        let best_free = super::placement::free(best);
        // Kueue there: the queue with the most free quota in a flavor of the product.
        let mut quota: Option<(String, String, f64)> = None;
        let mut has_queues = false;
        for (_, q) in FleetState::in_cluster(state.gpu_queues(), cluster) {
            for fq in q.quotas.iter().filter(|f| is_gpu_resource(&f.resource)) {
                let named = want.as_deref().is_none_or(|w| {
                    fq.flavor == w
                        || matches(&fq.flavor, w)
                        || fq.product.as_deref().is_some_and(|p| matches(w, p) || matches(p, w))
                });
                if !named {
                    continue;
                }
                has_queues = true;
                let v = super::admission::flavor_view(state, cluster, q, fq);
                if quota.as_ref().is_none_or(|(_, _, a)| v.available > *a) {
                    quota = Some((q.name.clone(), fq.flavor.clone(), v.available));
                }
            }
        }
        let nodes_fit = best_free >= gpus || total >= gpus;
        let quota_fits = !has_queues || quota.as_ref().is_some_and(|(_, _, a)| *a + 1e-9 >= f64::from(gpus));
        let where_ = if best_free >= gpus {
            format!("{} has {best_free} free", best.name)
        } else {
            format!("{total} free across {} nodes (most on one: {best_free} on {})", nodes.len(), best.name)
        };
        let quota_words = match &quota {
            Some((q, f, a)) => format!("; ClusterQueue {q} has {} free in {f}", qty(*a)),
            None if has_queues => String::new(),
            None => "; no Kueue queue for it there".into(),
        };
        let verdict = if nodes_fit && quota_fits { "would fit now" } else { "would not fit now" };
        let step = Step::new(Stage::Fleet, "cluster", format!("{cluster}: {verdict}: {where_}{quota_words}"))
            .evidence(Evidence::new(
                "GPU nodes",
                format!("{} schedulable {what} nodes, {total} GPUs free", nodes.len()),
                None,
            ))
            .link(Link::Node(best_id.clone()));
        if nodes_fit && quota_fits {
            fits.push(cluster.to_string());
        }
        per_cluster.push(step);
    }
    if checked == 0 {
        return vec![Step::new(
            Stage::Fleet,
            "elsewhere",
            format!("no other cluster has schedulable {what} nodes"),
        )];
    }
    let head = if fits.is_empty() {
        format!(
            "{gpus} × {what} fits nowhere else in the fleet right now ({} checked)",
            super::placement::plural(checked, "cluster")
        )
    } else {
        format!("{gpus} × {what} would fit now on {}", fits.join(", "))
    };
    let mut out = vec![Step::new(Stage::Fleet, "elsewhere", head)];
    out.extend(per_cluster);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavors_and_products_match_by_their_words() {
        assert!(matches("a100-80gb", "NVIDIA-A100-SXM4-80GB"));
        assert!(matches("h100-80gb", "NVIDIA-H100-80GB-HBM3"));
        assert!(matches("NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-80GB-HBM3"));
        assert!(!matches("h100-80gb", "NVIDIA-A100-SXM4-80GB"));
        assert!(!matches("a100-40gb", "NVIDIA-A100-SXM4-80GB"));
        assert!(!matches("", "NVIDIA-L4"));
    }
}
