//! Replay speed and seek latency on the bundled demo (30 minutes, 6,603 observations):
//! targets are replay ≥ 60× real time and seek ≤ 200 ms (DESIGN.md §8).

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use fleettop::record::Player;
use jiff::SignedDuration;

fn replay(c: &mut Criterion) {
    let Ok(rec) = fleettop::demo::recording() else { return };
    let rec = Arc::new(rec);
    let span = rec.end().duration_since(rec.start());
    let mut g = c.benchmark_group("replay demo");
    g.sample_size(20);
    g.bench_function("decode the recording", |b| {
        b.iter(|| fleettop::demo::recording().map(|r| r.observations().len()))
    });
    g.bench_function("apply every observation from the start", |b| {
        b.iter(|| {
            let mut s = rec.initial_state();
            s.apply_all(rec.observations());
            s.applied()
        })
    });
    g.bench_function("play start to end at 1000x in 33 ms frames", |b| {
        b.iter(|| {
            let mut p = Player::new(rec.clone());
            p.set_speed(1000.0);
            while !p.at_end() {
                p.advance(Duration::from_millis(33));
            }
            p.state().applied()
        })
    });
    g.bench_function("seek back from the end to 10 points", |b| {
        let mut p = Player::new(rec.clone());
        b.iter(|| {
            for i in 0..10 {
                let end = p.end();
                p.seek_to(end);
                let back = span.as_secs() * (10 - i) / 10;
                p.seek_by(SignedDuration::from_secs(-back));
            }
            p.state().applied()
        })
    });
    g.finish();
    eprintln!("demo spans {span:#}; replaying it in T seconds is {}/T × real time", span.as_secs());
}

criterion_group!(benches, replay);
criterion_main!(benches);
