//! Every measure on small fleets whose numbers are worked out by hand in the comments.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::{Query, compute};
use crate::analytics::ledger::{Allocation, Ledger, Preemption, QueueInfo, UtilInterval, Wait, WaitEnd};
use crate::analytics::prices::Prices;
use crate::analytics::report::{By, CostReport, UsageRow, verdict};
use crate::analytics::window::Window;

const MIN: i64 = 60_000;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Builds ledgers in minutes, one cluster `c1`.
struct Fleet {
    l: Ledger,
}

impl Fleet {
    fn new() -> Self {
        Self { l: Ledger::new() }
    }

    /// A ClusterQueue named like its team, with nominal GPUs per flavor, in `cohort`.
    fn queue(&mut self, name: &str, cohort: Option<&str>, nominal: &[(&str, f64)]) -> &mut Self {
        let c = self.l.intern("c1");
        let q = self.l.intern(name);
        let info = QueueInfo {
            team: Some(q),
            cohort: cohort.map(|x| self.l.intern(x)),
            nominal_gpus: nominal.iter().map(|(f, n)| (self.l.intern(f), *n)).collect::<BTreeMap<_, _>>(),
            nominal_cpu: 0.0,
            nominal_memory: 0.0,
        };
        self.l.set_queue(c, q, info);
        self
    }

    /// An allocation of `gpus` through queue (= team = namespace) `team`, `start`–`end` minutes.
    fn alloc(&mut self, team: &str, flavor: &str, gpus: u32, start: i64, end: Option<i64>) -> &mut Self {
        let row = Allocation {
            cluster: self.l.intern("c1"),
            namespace: self.l.intern(team),
            workload: self.l.intern(&format!("{team}/job-{start}")),
            team: Some(self.l.intern(team)),
            cluster_queue: Some(self.l.intern(team)),
            local_queue: self.l.intern("default"),
            flavor: Some(self.l.intern(flavor)),
            gpus,
            cpu: 0.0,
            memory: 0.0,
            start_ms: start * MIN,
            end_ms: end.map(|e| e * MIN),
        };
        self.l.push_allocation(row);
        self
    }

    /// Gives queue `name` (already declared) CPU (cores) and memory (GiB) quota.
    fn cpu_memory_quota(&mut self, name: &str, cores: f64, gib: f64) -> &mut Self {
        let (c, q) = (self.l.intern("c1"), self.l.intern(name));
        let mut info = self.l.queues().get(&(c, q)).cloned().unwrap();
        (info.nominal_cpu, info.nominal_memory) = (cores, gib * GIB);
        self.l.set_queue(c, q, info);
        self
    }

    /// [`Fleet::alloc`] that also holds `cores` CPUs and `gib` GiB of memory.
    #[allow(clippy::too_many_arguments)]
    fn alloc_cpu_memory(
        &mut self,
        team: &str,
        gpus: u32,
        cores: f32,
        gib: f32,
        start: i64,
        end: i64,
    ) -> &mut Self {
        self.alloc(team, "h100", gpus, start, Some(end));
        let last = self.l.allocations().len() - 1;
        let mut row = self.l.allocations()[last];
        (row.cpu, row.memory) = (cores, gib * GIB as f32);
        self.l.replace_last_allocation(row);
        self
    }

    /// A wait in `queue` from `start`; an admission time in `end` is in minutes too.
    fn wait(&mut self, queue: &str, start: i64, end: WaitEnd) -> &mut Self {
        let end = match end {
            WaitEnd::Admitted(m) => WaitEnd::Admitted(m * MIN),
            other => other,
        };
        let row = Wait {
            cluster: self.l.intern("c1"),
            namespace: self.l.intern(queue),
            workload: self.l.intern(&format!("{queue}/w-{start}")),
            team: None,
            cluster_queue: Some(self.l.intern(queue)),
            gpus: 8,
            start_ms: start * MIN,
            end,
        };
        self.l.push_wait(row);
        self
    }

    fn preempted(&mut self, victim: &str, gpus: u32, at: i64, by_queue: Option<&str>) -> &mut Self {
        let row = Preemption {
            cluster: self.l.intern("c1"),
            namespace: self.l.intern(victim),
            workload: self.l.intern(&format!("{victim}/p-{at}")),
            team: None,
            cluster_queue: Some(self.l.intern(victim)),
            gpus,
            at_ms: at * MIN,
            cause: self.l.intern("InCohortReclamation"),
            preemptor_queue: by_queue.map(|q| self.l.intern(q)),
        };
        self.l.push_preemption(row);
        self
    }

    /// GPU `device` of node `n1` (an H100) held by a pod of `ns`, `start`–`end` minutes.
    fn gpu(&mut self, device: u32, ns: &str, idle: bool, start: i64, end: i64) -> &mut Self {
        let row = UtilInterval {
            cluster: self.l.intern("c1"),
            node: self.l.intern("n1"),
            device,
            mig: None,
            product: Some(self.l.intern("NVIDIA-H100-80GB-HBM3")),
            namespace: Some(self.l.intern(ns)),
            allocated: true,
            idle,
            start_ms: start * MIN,
            last_sample_ms: end * MIN,
            end_ms: Some(end * MIN),
        };
        self.l.push_utilisation(row);
        self
    }

    fn report(&self, start: i64, end: i64) -> CostReport {
        compute(&self.l, &Query::all(Window::new(start * MIN, end * MIN), Prices::default())).unwrap()
    }
}

fn row<'a>(r: &'a CostReport, by: By, key: &str) -> &'a UsageRow {
    r.rows(by).unwrap().iter().find(|x| x.key == key).unwrap_or_else(|| panic!("no {key} in {by:?}"))
}

/// Two teams in cohort `ai`, observed over [0, 120) minutes:
/// research (queue nominal 8 H100) and search (nominal 8 A100 + 8 H100 = 16).
fn two_teams() -> Fleet {
    let mut f = Fleet::new();
    f.queue("research", Some("ai"), &[("h100-80gb", 8.0)])
        .queue("search", Some("ai"), &[("a100-80gb", 8.0), ("h100-80gb", 8.0)])
        // Started an hour before the window: only [0, 60) counts.
        .alloc("research", "h100-80gb", 8, -60, Some(60))
        // Still running: [30, 120).
        .alloc("research", "h100-80gb", 8, 30, None)
        .alloc("search", "a100-80gb", 4, 60, Some(90))
        // Starts after the window, and ended before it: neither counts.
        .alloc("search", "a100-80gb", 4, 130, None)
        .alloc("search", "a100-80gb", 2, -30, Some(-10));
    f
}

#[test]
fn gpu_hours_and_cost_per_team_clip_to_the_window() {
    let r = two_teams().report(0, 120);
    // research: 8 GPUs × 1 h ([0, 60)) + 8 GPUs × 1.5 h ([30, 120)) = 8 + 12 = 20 GPU-h;
    //           20 × $4.00 (H100) = $80.
    let research = row(&r, By::Team, "research");
    assert_eq!((research.gpu_hours, research.cost_usd, research.allocations), (20.0, 80.0, 2));
    // search: 4 GPUs × 0.5 h = 2 GPU-h; 2 × $3.00 (A100) = $6.
    let search = row(&r, By::Team, "search");
    assert_eq!((search.gpu_hours, search.cost_usd, search.allocations), (2.0, 6.0, 1));
    // Shares: 20 / 22 = 0.90909…, 2 / 22 = 0.090909….
    assert_eq!((research.share, search.share), (0.9091, 0.0909));
    assert_eq!((r.total.gpu_hours, r.total.cost_usd, r.total.allocations), (22.0, 86.0, 3));
    // Most GPU-hours first.
    assert_eq!(r.rows(By::Team).unwrap()[0].key, "research");
}

#[test]
fn gpu_hours_per_product_queue_cluster_and_namespace() {
    let r = two_teams().report(0, 120);
    // By product: the H100 allocations (20 GPU-h, $80) and the A100 one (2 GPU-h, $6).
    assert_eq!((row(&r, By::Product, "H100").gpu_hours, row(&r, By::Product, "H100").cost_usd), (20.0, 80.0));
    assert_eq!((row(&r, By::Product, "A100").gpu_hours, row(&r, By::Product, "A100").cost_usd), (2.0, 6.0));
    // Queues are cluster/queue; one cluster holds all 22 GPU-h.
    assert_eq!(row(&r, By::Queue, "c1/research").gpu_hours, 20.0);
    assert_eq!(row(&r, By::Queue, "c1/search").gpu_hours, 2.0);
    assert_eq!(row(&r, By::Cluster, "c1").gpu_hours, 22.0);
    assert_eq!(row(&r, By::Namespace, "search").cost_usd, 6.0);
    // The prices used are the products that appear.
    let used: Vec<_> = r.prices.iter().map(|p| (p.product.as_str(), p.usd_per_gpu_hour)).collect();
    assert_eq!(used, [("A100", 3.0), ("H100", 4.0)]);
}

#[test]
fn share_of_usage_against_share_of_entitlement_with_borrowing() {
    let r = two_teams().report(0, 120);
    let t = |name: &str| r.fairness.teams.iter().find(|t| t.team == name).unwrap();
    // Entitlement: research 8 of 24 nominal GPUs = 0.3333; search 16 of 24 = 0.6667.
    assert_eq!((t("research").nominal_gpus, t("research").entitlement_share), (8.0, 0.3333));
    assert_eq!((t("search").nominal_gpus, t("search").entitlement_share), (16.0, 0.6667));
    // Ratios: (20/22) ÷ (8/24) = 30/11 = 2.7273; (2/22) ÷ (16/24) = 3/22 = 0.1364.
    assert_eq!(t("research").ratio, Some(2.7273));
    assert_eq!(t("search").ratio, Some(0.1364));
    // research's H100 level: 8 on [0, 30), 16 on [30, 60), 8 on [60, 120); nominal 8, so it
    // borrows 8 GPUs for 0.5 h = 4 GPU-h. search never exceeds its 8 A100s.
    assert_eq!(t("research").borrowed_gpu_hours, 4.0);
    assert_eq!(t("search").borrowed_gpu_hours, 0.0);
    assert_eq!(t("research").cohorts, ["ai"]);
    // Most over its share first.
    assert_eq!(r.fairness.teams[0].team, "research");
}

#[test]
fn jains_index_over_usage_to_entitlement_ratios() {
    let r = two_teams().report(0, 120);
    // x = (30/11, 3/22): (Σx)² = (63/22)² = 3969/484; n·Σx² = 2 × (3600 + 9)/484 = 7218/484;
    // J = 3969 / 7218 = 0.54988….
    assert_eq!(r.fairness.jain_index, Some(0.5499));
    assert_eq!(r.fairness.teams_in_index, 2);
    assert_eq!(
        verdict(&r.fairness),
        "team research uses 91 % of GPU-hours on a 33 % entitlement (borrowing from cohort ai); \
         team search is under its share"
    );
    // The index itself: equal ratios are perfectly fair; one team using everything is 1/n.
    assert_eq!(super::fairness::jain(&[1.0, 1.0, 1.0]), Some(1.0));
    assert_eq!(super::fairness::jain(&[3.0, 0.0, 0.0]), Some(1.0 / 3.0));
    assert_eq!(super::fairness::jain(&[]), None);
}

#[test]
fn idle_but_allocated_gpus_cost_their_product_price() {
    let mut f = two_teams();
    // Device 0: idle [0, 30), busy [30, 60); device 1: idle from −30 to 15, clipped to [0, 15).
    f.gpu(0, "research", true, 0, 30).gpu(0, "research", false, 30, 60).gpu(1, "research", true, -30, 15);
    let r = f.report(0, 120);
    assert!(r.utilisation_data);
    // research idle: 0.5 h + 0.25 h = 0.75 GPU-h × $4.00 (an H100 node) = $3.00.
    let research = row(&r, By::Team, "research");
    assert_eq!((research.idle_gpu_hours, research.idle_cost_usd), (Some(0.75), Some(3.0)));
    // No GPU of search's reported: unknown, not zero.
    assert_eq!(row(&r, By::Team, "search").idle_gpu_hours, None);
    assert_eq!((r.total.idle_gpu_hours, r.total.idle_cost_usd), (Some(0.75), Some(3.0)));
}

#[test]
fn without_utilisation_samples_idle_cost_is_unknown() {
    let r = two_teams().report(0, 120);
    assert!(!r.utilisation_data);
    assert!(
        r.rows(By::Team).unwrap().iter().all(|x| x.idle_gpu_hours.is_none() && x.idle_cost_usd.is_none())
    );
    assert_eq!(r.total.idle_gpu_hours, None);
}

#[test]
fn wait_percentiles_per_cluster_queue() {
    let mut f = Fleet::new();
    f.wait("research", -20, WaitEnd::Admitted(-10)) // ended before the window: out
        .wait("research", -10, WaitEnd::Admitted(30)) // 40 min = 2400 s
        .wait("research", 20, WaitEnd::Admitted(50)) // 30 min = 1800 s
        .wait("research", 100, WaitEnd::Waiting) // still waiting at 120: 20 min = 1200 s so far
        .wait("research", 110, WaitEnd::Admitted(150)) // admitted after the window: 10 min so far
        .wait("research", 5, WaitEnd::Abandoned) // never admitted: not a queue wait
        .wait("search", 0, WaitEnd::Admitted(1)); // 60 s
    let r = f.report(0, 120);
    let research = r.waits.iter().find(|w| w.cluster_queue == "research").unwrap();
    // Sorted: 600, 1200, 1800, 2400 s. Linear between ranks: p50 at rank 1.5 = 1200 + 0.5 × 600 = 1500;
    // p95 at rank 3 × 0.95 = 2.85 → 1800 + 0.85 × 600 = 2310; max 2400.
    assert_eq!((research.waits, research.still_waiting), (4, 2));
    assert_eq!((research.p50_s, research.p95_s, research.max_s), (1500.0, 2310.0, 2400.0));
    let search = r.waits.iter().find(|w| w.cluster_queue == "search").unwrap();
    assert_eq!((search.waits, search.p50_s, search.p95_s, search.max_s), (1, 60.0, 60.0, 60.0));
    assert_eq!(research.cluster, "c1");
}

#[test]
fn preemptions_suffered_and_caused_per_team() {
    let mut f = two_teams();
    f.preempted("research", 8, 30, Some("search")) // search took it back
        .preempted("research", 8, 45, None) // the message names the preemptor by UID only
        .preempted("search", 4, -5, Some("research")) // before the window: out
        .preempted("search", 4, 100, Some("research"));
    let r = f.report(0, 120);
    let p = |team: &str| r.preemptions.teams.iter().find(|t| t.team == team).unwrap();
    // research suffered 2 (8 + 8 = 16 GPUs) and caused 1; search suffered 1 (4 GPUs), caused 1.
    assert_eq!((p("research").suffered, p("research").suffered_gpus, p("research").caused), (2, 16, 1));
    assert_eq!((p("search").suffered, p("search").suffered_gpus, p("search").caused), (1, 4, 1));
    assert_eq!(r.preemptions.unattributed, 1);
}

#[test]
fn an_empty_fleet_has_nothing_to_share() {
    let r = Fleet::new().report(0, 60);
    assert!(r.rows(By::Team).unwrap().is_empty());
    assert_eq!((r.total.gpu_hours, r.total.cost_usd, r.total.share), (0.0, 0.0, 0.0));
    assert!(r.fairness.teams.is_empty());
    assert_eq!((r.fairness.jain_index, r.fairness.teams_in_index), (None, 0));
    assert!(r.waits.is_empty() && r.preemptions.teams.is_empty());
    assert!(r.prices.is_empty());
    assert!(verdict(&r.fairness).contains("no team has a GPU quota"));
}

#[test]
fn a_single_team_is_perfectly_fair_to_itself() {
    let mut f = Fleet::new();
    f.queue("solo", None, &[("l4", 4.0)]).alloc("solo", "l4", 2, 0, Some(30));
    let r = f.report(0, 60);
    // 2 GPUs × 0.5 h = 1 GPU-h × $0.80 (L4) = $0.80; the only team has all usage and all quota.
    let solo = row(&r, By::Team, "solo");
    assert_eq!((solo.gpu_hours, solo.cost_usd, solo.share), (1.0, 0.8, 1.0));
    let t = &r.fairness.teams[0];
    assert_eq!(
        (t.usage_share, t.entitlement_share, t.ratio, t.borrowed_gpu_hours),
        (1.0, 1.0, Some(1.0), 0.0)
    );
    assert_eq!(r.fairness.jain_index, Some(1.0));
    assert_eq!(verdict(&r.fairness), "every team uses about its share of GPU-hours");
}

#[test]
fn window_edges_touching_and_spanning_allocations() {
    let mut f = Fleet::new();
    f.queue("a", None, &[("h100", 8.0)])
        .alloc("a", "h100", 1, -100, Some(200)) // spans the whole window [0, 60): 1 GPU-h
        .alloc("a", "h100", 4, -30, Some(0)) // ends exactly at the start: nothing
        .alloc("a", "h100", 4, 60, None) // starts exactly at the end: nothing
        .alloc("a", "h100", 2, 59, Some(59)); // zero length: nothing
    let r = f.report(0, 60);
    let a = row(&r, By::Team, "a");
    assert_eq!((a.gpu_hours, a.allocations), (1.0, 1));
    // An empty window measures nothing.
    let empty = f.report(30, 30);
    assert_eq!(empty.total.gpu_hours, 0.0);
    // A later window sees the running allocation: [60, 90) = 0.5 h × (1 + 4 GPUs) = 2.5 GPU-h.
    assert_eq!(f.report(60, 90).total.gpu_hours, 2.5);
}

#[test]
fn a_workload_without_team_label_falls_back_to_its_queue_team() {
    let mut f = Fleet::new();
    f.queue("vision", None, &[("a100", 8.0)]);
    let c1 = f.l.intern("c1");
    let vision = f.l.intern("vision");
    let unknown_q = f.l.intern("adhoc");
    let row_for = |queue, start: i64| Allocation {
        cluster: c1,
        namespace: vision,
        workload: vision,
        team: None,
        cluster_queue: queue,
        local_queue: vision,
        flavor: None,
        gpus: 1,
        cpu: 0.0,
        memory: 0.0,
        start_ms: start * MIN,
        end_ms: Some((start + 60) * MIN),
    };
    let (with_queue, with_unknown_queue, without) =
        (row_for(Some(vision), 0), row_for(Some(unknown_q), 0), row_for(None, 0));
    f.l.push_allocation(with_queue);
    f.l.push_allocation(with_unknown_queue);
    f.l.push_allocation(without);
    let r = f.report(0, 60);
    // The queue `vision` belongs to team vision; the other two have no team to fall back to.
    assert_eq!(row(&r, By::Team, "vision").gpu_hours, 1.0);
    assert_eq!(row(&r, By::Team, "(no team)").gpu_hours, 2.0);
    // No flavor: priced at the fallback ($2.00), shown as an unknown product.
    assert_eq!(row(&r, By::Product, "(unknown)").cost_usd, 6.0);
    assert_eq!(row(&r, By::Queue, "c1/(no queue)").gpu_hours, 1.0);
}

#[test]
fn the_scan_only_measures_match_the_full_report() {
    let mut f = two_teams();
    f.wait("research", 10, WaitEnd::Admitted(40)).wait("search", 50, WaitEnd::Waiting);
    let query = Query {
        groupings: vec![By::Team, By::Product],
        ..Query::all(Window::new(0, 120 * MIN), Prices::default())
    };
    let full = compute(&f.l, &query).unwrap();
    let (groups, waits) = super::usage_and_waits(&f.l, &query).unwrap();
    assert_eq!(groups, full.groups);
    assert_eq!(waits, full.waits);
    assert_eq!(groups.len(), 2);
}

#[test]
fn dominant_resource_share_is_the_time_weighted_largest_share_of_quota() {
    let mut f = Fleet::new();
    // Capacity over both queues: 16 GPUs, 128 cores, 1024 GiB.
    f.queue("a", None, &[("h100", 8.0)]).cpu_memory_quota("a", 64.0, 512.0);
    f.queue("b", None, &[("h100", 8.0)]).cpu_memory_quota("b", 64.0, 512.0);
    // Team a, −30 to 30 min (clipped to 0–30 in a 0–60 window): 4/16 GPUs = 0.25, 16/128 cores
    // = 0.125, 64/1024 GiB = 0.0625 → 0.25 (GPU) for 30 of 60 minutes, then nothing: 0.125.
    f.alloc_cpu_memory("a", 4, 16.0, 64.0, -30, 30);
    // Team b holds 2 GPUs, 64 cores, 128 GiB all window: GPU 0.125, CPU 0.5, memory 0.125 → 0.5;
    // from 30 min also 1 GPU, no CPU, 512 GiB: GPU 3/16 = 0.1875, CPU 0.5, memory 640/1024 =
    // 0.625 → 0.625. Mean (0.5 × 30 + 0.625 × 30) / 60 = 0.5625 (more than the largest mean
    // share of one resource, CPU's 0.5: the dominant resource changed). Mean shares: GPU
    // (0.125 + 0.1875) / 2 = 0.15625, CPU 0.5, memory (0.125 + 0.625) / 2 = 0.375 → CPU.
    f.alloc_cpu_memory("b", 2, 64.0, 128.0, 0, 60);
    f.alloc_cpu_memory("b", 1, 0.0, 512.0, 30, 90);
    let r = f.report(0, 60);
    let t = |name: &str| r.fairness.teams.iter().find(|t| t.team == name).unwrap();
    assert_eq!(t("a").dominant_share, Some(0.125));
    assert_eq!(t("a").dominant_resource.as_deref(), Some("gpu"));
    assert_eq!(t("b").dominant_share, Some(0.5625));
    assert_eq!(t("b").dominant_resource.as_deref(), Some("cpu"));

    // Window edge: 30–60 only sees team b's second half (0.625, memory now) and nothing of a.
    let r = f.report(30, 60);
    let t = |name: &str| r.fairness.teams.iter().find(|t| t.team == name).unwrap();
    assert_eq!((t("b").dominant_share, t("b").dominant_resource.as_deref()), (Some(0.625), Some("memory")));
    assert_eq!((t("a").dominant_share, t("a").dominant_resource.as_deref()), (Some(0.0), None));
}

#[test]
fn dominant_resource_share_without_cpu_memory_quota_is_the_gpu_share_and_none_without_any_quota() {
    // GPU quota only: CPU and memory have no capacity and no share; 2 of 8 GPUs half the window.
    let mut f = Fleet::new();
    f.queue("solo", None, &[("h100", 8.0)]).alloc_cpu_memory("solo", 2, 32.0, 256.0, 0, 30);
    let r = f.report(0, 60);
    // 2/8 = 0.25 for 30 of 60 minutes = 0.125.
    assert_eq!(r.fairness.teams[0].dominant_share, Some(0.125));
    assert_eq!(r.fairness.teams[0].dominant_resource.as_deref(), Some("gpu"));
    // No quota at all: nothing to be a share of.
    let mut f = Fleet::new();
    f.alloc("nobody", "h100", 2, 0, Some(30));
    let r = f.report(0, 60);
    assert_eq!(
        (r.fairness.teams[0].dominant_share, r.fairness.teams[0].dominant_resource.clone()),
        (None, None)
    );
}
