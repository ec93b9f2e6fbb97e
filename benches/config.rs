//! Loading big user configuration files: a `config.toml` with 80,000 `[prices]` entries and a
//! `keymap.toml` with 20,000 bindings (each key rebound twice). Both load in linear time: the
//! price table is indexed by normalised name and the keymap looks each key's owner up in a map
//! (before, 80k prices took 130 s: every entry scanned the whole table).
//!
//! `cargo bench --bench config` (release), or `cargo bench --profile dev --bench config` for a
//! quick figure without a release build.

use std::fmt::Write as _;
use std::time::Duration;

use criterion::Criterion;
use fleettop::ui::config::load;

/// `n` prices under distinct names, one per line.
fn prices(n: usize) -> String {
    let mut text = String::from("[prices]\n");
    for i in 0..n {
        let _ = writeln!(text, "\"flavor-{i}\" = {}.5", i % 7);
    }
    text
}

/// `n` bindings over `n / 2` distinct keys (`f1`…`f12` with modifiers and letters), so every
/// key is taken from an earlier binding once.
fn keymap(n: usize) -> String {
    let mut text = String::new();
    let keys: Vec<String> = ('a'..='z')
        .chain('0'..='9')
        .flat_map(|c| ["", "ctrl-", "alt-", "ctrl-alt-"].map(|m| format!("{m}{c}")))
        .collect();
    for i in 0..n {
        let key = &keys[(i / 2) % keys.len()];
        let action = if i % 2 == 0 { "select_next" } else { "page_down" };
        let _ = writeln!(text, "[[bindings]]\non = \"{key}\"\nrun = \"{action}\"\n");
    }
    text
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut group = c.benchmark_group("config");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    for n in [10_000, 80_000] {
        std::fs::write(dir.path().join("config.toml"), prices(n)).expect("config.toml written");
        group.bench_function(format!("load {n} prices"), |b| {
            b.iter(|| load(Some(dir.path()), None, None, false));
        });
    }
    std::fs::remove_file(dir.path().join("config.toml")).expect("config.toml removed");
    for n in [2_000, 20_000] {
        std::fs::write(dir.path().join("keymap.toml"), keymap(n)).expect("keymap.toml written");
        group.bench_function(format!("load a keymap of {n} bindings"), |b| {
            b.iter(|| load(Some(dir.path()), None, None, false));
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
