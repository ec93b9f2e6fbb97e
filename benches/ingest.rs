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
    g.bench_function("relist (SyncStart, 100k upserts, SyncEnd) over a full state", |b| {
        let mut full = FleetState::new(start);
        full.apply_all(&observations);
        b.iter_batched(
            || full.clone(),
            |mut state| {
                state.apply_all(&observations);
                state
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
