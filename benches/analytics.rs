//! The cost engine on a big ledger: 10M seeded allocation rows (and as many queue waits)
//! aggregated per team and per product with the wait percentiles per ClusterQueue, polars on
//! 2 threads (`POLARS_MAX_THREADS=2` unless set); target ≤ 1.5 s (DESIGN.md §8). The whole
//! report (five groupings, shares with borrowing, dominant-resource share, Jain's index, waits,
//! preemptions) is timed too. The times include turning the Rust rows into DataFrames.
//!
//! `cargo bench --bench analytics` (release; the rows take ~1.5 GB, the engine as much again).
//! `FLEETTOP_BENCH_ROWS=1000000` runs a smaller ledger.

use std::time::Duration;

use criterion::Criterion;
use fleettop::analytics::engine::usage_and_waits;
use fleettop::analytics::ledger::{Allocation, Wait, WaitEnd};
use fleettop::analytics::{By, Ledger, Prices, Query, Window, compute};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const HOUR_MS: i64 = 3_600_000;
/// The ledger spans 30 days; the window is all of it.
const SPAN_MS: i64 = 30 * 24 * HOUR_MS;

/// `rows` allocations and `rows` waits over 10 clusters × 4 ClusterQueues, 20 teams,
/// 100 namespaces and 4 flavors; one in ten allocations (and one in twenty waits) still open.
/// `keep` says which of the two to keep (the same rows either way).
fn ledger(rows: usize, seed: u64, keep: (bool, bool)) -> Ledger {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut l = Ledger::new();
    let clusters: Vec<u32> = (0..10).map(|i| l.intern(&format!("cluster-{i:02}"))).collect();
    let queues: Vec<u32> = (0..4).map(|i| l.intern(&format!("queue-{i}"))).collect();
    let teams: Vec<u32> = (0..20).map(|i| l.intern(&format!("team-{i:02}"))).collect();
    let namespaces: Vec<u32> = (0..100).map(|i| l.intern(&format!("ns-{i:03}"))).collect();
    let flavors: Vec<u32> = ["h100-80gb", "a100-80gb", "l40s", "l4"].iter().map(|f| l.intern(f)).collect();
    let local = l.intern("default");
    let pick = |rng: &mut SmallRng, v: &[u32]| v[rng.random_range(0..v.len())];
    for _ in 0..rows {
        let ns = rng.random_range(0..namespaces.len());
        let start = rng.random_range(-2 * 24 * HOUR_MS..SPAN_MS);
        let running = rng.random_range(0..10) == 0;
        let end = (!running).then(|| start + rng.random_range(60_000..48 * HOUR_MS));
        let cluster = pick(&mut rng, &clusters);
        let queue = pick(&mut rng, &queues);
        let gpus: u32 = 1 << rng.random_range(0..4);
        let allocation = Allocation {
            cluster,
            namespace: namespaces[ns],
            workload: namespaces[ns],
            team: Some(teams[ns % teams.len()]),
            cluster_queue: Some(queue),
            local_queue: local,
            flavor: Some(pick(&mut rng, &flavors)),
            gpus,
            // 8 cores and 64 GiB per GPU (the whole report's dominant-resource share reads them).
            cpu: gpus as f32 * 8.0,
            memory: gpus as f32 * 64.0 * 1024.0 * 1024.0 * 1024.0,
            start_ms: start,
            end_ms: end,
        };
        if keep.0 {
            l.push_allocation(allocation);
        }
        let waited = rng.random_range(1_000..2 * HOUR_MS);
        let admitted = rng.random_range(0..20) != 0;
        let wait = Wait {
            cluster,
            namespace: namespaces[ns],
            workload: namespaces[ns],
            team: None,
            cluster_queue: Some(queue),
            gpus: 8,
            start_ms: start - waited,
            end: if admitted { WaitEnd::Admitted(start) } else { WaitEnd::Waiting },
        };
        if keep.1 {
            l.push_wait(wait);
        }
    }
    l
}

fn engine(c: &mut Criterion) {
    let rows: usize =
        std::env::var("FLEETTOP_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let built = std::time::Instant::now();
    let l = ledger(rows, 7, (true, true));
    eprintln!(
        "ledger: {} allocations, {} waits, generated in {:.1} s; POLARS_MAX_THREADS={}",
        l.allocations().len(),
        l.waits().len(),
        built.elapsed().as_secs_f64(),
        std::env::var("POLARS_MAX_THREADS").unwrap_or_default()
    );
    let window = Window::new(0, SPAN_MS);
    if std::env::var_os("FLEETTOP_BENCH_SPLIT").is_some() {
        split(&l, rows, window);
        return;
    }
    let target = Query { window, prices: Prices::default(), groupings: vec![By::Team, By::Product] };
    let mut g = c.benchmark_group(format!("analytics {}M rows", rows / 1_000_000));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.bench_function("usage per team and product + wait p50/p95/max per queue", |b| {
        b.iter(|| usage_and_waits(&l, &target).map(|(groups, waits)| (groups.len(), waits.len())))
    });
    g.bench_function("whole report: 5 groupings, shares and borrowing, Jain, waits, preemptions", |b| {
        b.iter(|| compute(&l, &Query::all(window, Prices::default())).map(|r| r.groups.len()))
    });
    g.finish();
}

/// Times the allocation side and the wait side apart, three runs each (where the time goes).
fn split(l: &Ledger, rows: usize, window: Window) {
    let allocations = ledger(rows, 7, (true, false));
    let waits = ledger(rows, 7, (false, true));
    let nothing = Window::new(-1, -1);
    for (name, ledger, by, window) in [
        ("allocations, empty window (frames and clipping)", &allocations, vec![By::Team], nothing),
        ("allocations, by team", &allocations, vec![By::Team], window),
        ("allocations, by team and product", &allocations, vec![By::Team, By::Product], window),
        ("waits only", &waits, vec![], window),
        ("both, by team and product", l, vec![By::Team, By::Product], window),
    ] {
        let q = Query { window, prices: Prices::default(), groupings: by };
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let ok = usage_and_waits(ledger, &q).is_ok();
            eprintln!("{name}: {:.3} s ({ok})", t.elapsed().as_secs_f64());
        }
    }
}

fn main() {
    if std::env::var_os("POLARS_MAX_THREADS").is_none() {
        // SAFETY: nothing else runs yet (no polars pool, no other thread reads the environment).
        unsafe { std::env::set_var("POLARS_MAX_THREADS", "2") };
    }
    let mut c = Criterion::default().configure_from_args();
    engine(&mut c);
    c.final_summary();
}
