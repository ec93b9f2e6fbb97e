//! Frame render at 200×60 with 1k and 100k rows: the cost must not grow with the row count
//! (only visible rows are formatted and laid out). Also the cost of rebuilding a table's
//! rows (filter + stable sort) after the state changed, which happens at most once a frame.

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fleettop::state::FleetState;
use fleettop::ui::app::{App, Feed};
use fleettop::ui::event::Event;
use fleettop::ui::keymap::Keymap;
use fleettop::ui::render::render;
use fleettop::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

fn app_with(records: usize) -> App {
    let start = fleettop::sim::demo_start();
    let mut state = FleetState::new(start);
    state.apply_all(&fleettop::sim::synthetic_load(2, 50, records, start));
    let theme = Theme::builtin("dark").unwrap_or_else(Theme::mono);
    let keymap = Keymap::builtin("default").unwrap_or_default();
    let mut app = App::new(Feed::Live(Box::new(state)), theme, keymap, Rect::new(0, 0, 200, 60));
    app.handle(Event::Key(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE)));
    app
}

fn frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("render 200x60");
    // synthetic_load spreads records over every table; ~45 % are denials.
    for records in [2_200usize, 225_000] {
        let mut app = app_with(records);
        let rows = app.view.active_table().and_then(|t| app.view.table(t)).map(|t| t.rows.len()).unwrap_or(0);
        let mut term = match Terminal::new(TestBackend::new(200, 60)) {
            Ok(t) => t,
            Err(_) => return,
        };
        report_percentiles(&mut app, &mut term, rows);
        g.bench_function(format!("denials pane, {rows} rows, scrolling"), |b| {
            b.iter(|| {
                app.handle(Event::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)));
                term.draw(|f| render(f, &app)).map(|_| ()).unwrap_or(())
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("rebuild rows");
    g.sample_size(10);
    let app = app_with(225_000);
    if let Some(spec) = app.tables().get(fleettop::ui::view::TableId::Denials) {
        g.bench_function("denials, ~100k rows, default sort", |b| {
            b.iter(|| spec.build(app.state(), "", spec.default_sort()).len())
        });
        g.bench_function("denials, ~100k rows, fuzzy filter", |b| {
            b.iter(|| spec.build(app.state(), "podsec", spec.default_sort()).len())
        });
    }
    g.finish();
}

/// p50/p99 of 2,000 frames, each after a key press (criterion reports means).
fn report_percentiles(app: &mut App, term: &mut Terminal<TestBackend>, rows: usize) {
    let mut times: Vec<std::time::Duration> = (0..2_000)
        .map(|i| {
            let code = if (i / 500) % 2 == 0 { KeyCode::Down } else { KeyCode::Up };
            let t = std::time::Instant::now();
            app.handle(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
            let _ = term.draw(|f| render(f, app));
            t.elapsed()
        })
        .collect();
    times.sort();
    eprintln!(
        "render 200x60, {rows} rows: p50 {:?}, p99 {:?}, max {:?}",
        times[1_000], times[1_980], times[1_999]
    );
}

criterion_group!(benches, frames);
criterion_main!(benches);
