//! Observation ingest: observations per second into `FleetState`, against decoding the same
//! observations from JSON (the floor any live source pays) as the in-run baseline.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use fleettop::model::Observation;
use fleettop::state::FleetState;

fn ingest(c: &mut Criterion) {
    let start = fleettop::sim::demo_start();
    let observations = fleettop::sim::synthetic_load(1, 50, 100_000, start);
    let json: Vec<String> =
        observations.iter().map(|o| serde_json::to_string(o).unwrap_or_default()).collect();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(observations.len() as u64));
    g.sample_size(10);
    g.bench_function("apply 100k observations over 50 clusters", |b| {
        b.iter_batched(
            || FleetState::new(start),
            |mut state| {
                state.apply_all(&observations);
                state
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("baseline: serde_json decode of the same observations", |b| {
        b.iter(|| json.iter().filter_map(|s| serde_json::from_str::<Observation>(s).ok()).count())
    });
    let relist = relist_of(&observations);
    let mut full = FleetState::new(start);
    full.apply_all(&observations);
    let mut after = full.clone();
    after.apply_all(&relist);
    eprintln!("relist keeps {} records (was {}): nothing doubles", after.record_count(), full.record_count());
    g.bench_function("relist of every kind in every cluster over a full state", |b| {
        b.iter_batched(
            || full.clone(),
            |mut state| {
                state.apply_all(&relist);
                state
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// The same upserts wrapped in SyncStart/SyncEnd for every (cluster, kind), as watchers
/// send them after a 410 Gone.
fn relist_of(observations: &[Observation]) -> Vec<Observation> {
    use fleettop::model::{Change, RecordKind};
    let kinds = RecordKind::ALL;
    let clusters: std::collections::BTreeSet<_> = observations.iter().map(|o| o.cluster.clone()).collect();
    let at = observations.last().map(|o| o.at).unwrap_or_default();
    let marker = |cluster: &fleettop::model::ClusterId, change: Change| Observation {
        at,
        cluster: cluster.clone(),
        change,
    };
    let mut out = Vec::with_capacity(observations.len() + clusters.len() * kinds.len() * 2);
    for c in &clusters {
        out.extend(kinds.iter().map(|k| marker(c, Change::SyncStart { kind: *k })));
    }
    out.extend(observations.iter().filter(|o| matches!(o.change, Change::Upsert { .. })).cloned());
    for c in &clusters {
        out.extend(kinds.iter().map(|k| marker(c, Change::SyncEnd { kind: *k })));
    }
    out
}

criterion_group!(benches, ingest);
criterion_main!(benches);
