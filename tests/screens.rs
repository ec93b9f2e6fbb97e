//! Screen tests: every pane of the demo at fixed moments, at 120×40 and 80×24, rendered
//! with ratatui's TestBackend (fixed size, the recording's clock) and compared with insta
//! snapshots; plus style assertions where colour carries meaning, and replay exactness.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fleettop::record::{Player, Recording};
use fleettop::ui::app::{App, Feed};
use fleettop::ui::event::Event;
use fleettop::ui::keymap::Keymap;
use fleettop::ui::panes::PaneId;
use fleettop::ui::render::render;
use fleettop::ui::theme::Theme;
use jiff::SignedDuration;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};

fn demo() -> Arc<Recording> {
    Arc::new(fleettop::demo::recording().expect("bundled demo decodes"))
}

/// An app replaying the demo, paused at `offset` from its start.
fn app_at(offset: SignedDuration, w: u16, h: u16, theme: &str) -> App {
    let mut player = Player::new(demo());
    let start = player.start();
    player.seek_to(start.checked_add(offset).unwrap());
    if !player.paused() {
        player.toggle_pause();
    }
    App::new(
        Feed::Replay(Box::new(player)),
        Theme::builtin(theme).unwrap(),
        Keymap::builtin("default").unwrap(),
        Rect::new(0, 0, w, h),
    )
}

fn key(app: &mut App, code: KeyCode) {
    app.handle(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn draw(app: &mut App) -> Buffer {
    // The Cost pane's report comes from the analytics thread: wait for it, as the loop would
    // be woken by it.
    assert!(app.wait_for_analytics(std::time::Duration::from_secs(120)) || app.view.pane != PaneId::Cost);
    app.prepare();
    let size = app.size();
    let mut term = Terminal::new(TestBackend::new(size.width, size.height)).unwrap();
    term.draw(|f| render(f, app)).unwrap();
    term.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn frame_hash(buf: &Buffer) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for cell in buf.content() {
        cell.symbol().hash(&mut h);
        format!("{:?}{:?}{:?}", cell.fg, cell.bg, cell.modifier).hash(&mut h);
    }
    h.finish()
}

const PANES: [(char, &str); 6] =
    [('1', "fleet"), ('2', "denials"), ('3', "gpu"), ('4', "pipelines"), ('5', "exceptions"), ('6', "cost")];

fn snapshot_all_panes(minutes: i64, w: u16, h: u16) {
    for (k, name) in PANES {
        let mut app = app_at(SignedDuration::from_mins(minutes), w, h, "dark");
        key(&mut app, KeyCode::Char(k));
        insta::assert_snapshot!(format!("{name}_{minutes}m_{w}x{h}"), text(&draw(&mut app)));
    }
}

#[test]
fn every_pane_at_120x40() {
    snapshot_all_panes(18, 120, 40);
}

/// Where verdicts turn is a value the state carries (`config.toml`'s
/// `[pipelines.thresholds]` and `[exceptions] expiring_within`), so a raised threshold is seen
/// in-process: tolerating a billion lost items a second, nothing is losing data at 18 minutes
/// (no finding, no tab badge); with a year as the horizon, no dated exception is "active".
#[test]
fn raised_verdict_thresholds_change_the_panes() {
    use fleettop::model::{PipelineThresholds, Verdicts};
    let verdicts = Verdicts {
        pipelines: PipelineThresholds { dropped_per_s: 1e9, ..PipelineThresholds::default() },
        expiring_within: SignedDuration::from_hours(24 * 365),
    };
    let mut strict = app_at(SignedDuration::from_mins(18), 120, 40, "dark");
    key(&mut strict, KeyCode::Char('4'));
    assert!(text(&draw(&mut strict)).contains("LOSING DATA"), "the demo loses data at 18 minutes");
    let mut app = app_at(SignedDuration::from_mins(18), 120, 40, "dark");
    app.set_verdicts(verdicts);
    key(&mut app, KeyCode::Char('4'));
    let pipelines = text(&draw(&mut app));
    assert!(!pipelines.contains("LOSING DATA") && !pipelines.contains("losing"), "{pipelines}");
    insta::assert_snapshot!("pipelines_lenient_18m_120x40", pipelines);
    key(&mut app, KeyCode::Char('5'));
    let exceptions = text(&draw(&mut app));
    assert!(!exceptions.contains(" active "), "{exceptions}");
    insta::assert_snapshot!("exceptions_year_horizon_18m_120x40", exceptions);
}

#[test]
fn every_pane_at_80x24() {
    snapshot_all_panes(18, 80, 24);
}

#[test]
fn late_in_the_incident() {
    snapshot_all_panes(27, 120, 40);
}

/// At 25 minutes prod-ap-south-1 is unreachable: its pipeline components read "unknown since"
/// with their last-known verdict, in the Pipelines rows and summary, the Fleet pane's PIPELINES
/// column (its LATENCY marked last-known) and the tab badge; never "ok".
#[test]
fn an_unreachable_clusters_pipelines_read_unknown() {
    let expect: [(char, &str, &[&str]); 2] = [
        ('4', "pipelines", &["9 ? unknown since 14:20", "prod-ap-south-1 ? 14:20 (was ok)", "?4.5k/s"]),
        ('1', "fleet", &["?1700ms 1       0        ? 14:20 (was ok)"]),
    ];
    for (k, name, wanted) in expect {
        let mut app = app_at(SignedDuration::from_mins(25), 120, 40, "dark");
        key(&mut app, KeyCode::Char(k));
        let screen = text(&draw(&mut app));
        assert!(screen.contains("4 Pipelines ?9 unknown"), "the tab badge: {screen}");
        for w in wanted {
            assert!(screen.contains(w), "{w}: {screen}");
        }
        assert!(!screen.contains("prod-ap-south-1 ok") && !screen.contains("38 ok"), "{screen}");
        insta::assert_snapshot!(format!("{name}_unreachable_25m_120x40"), screen);
    }
}

#[test]
fn gpu_sub_views() {
    for (i, name) in ["workloads", "pending", "nodes", "preemptions"].iter().enumerate() {
        let mut app = app_at(SignedDuration::from_mins(18), 120, 40, "dark");
        key(&mut app, KeyCode::Char('3'));
        for _ in 0..=i {
            key(&mut app, KeyCode::Char(']'));
        }
        insta::assert_snapshot!(format!("gpu_{name}_18m_120x40"), text(&draw(&mut app)));
    }
}

#[test]
fn a_preemption_opens_its_victim_with_the_preemptor_and_whole_history() {
    let mut app = app_at(SignedDuration::from_mins(18), 120, 40, "dark");
    key(&mut app, KeyCode::Char('3'));
    for _ in 0..4 {
        key(&mut app, KeyCode::Char(']'));
    }
    key(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("gpu_preemption_detail_18m_120x40", text(&draw(&mut app)));
}

/// The workloads view at 18m, sorted by wait (longest first): the first row is the research
/// sweep preempted longest ago, waiting for the H100s team-a reclaimed.
#[test]
fn enter_on_a_waiting_workload_opens_its_chain_and_d_jumps_to_the_blocker() {
    let mut app = app_at(SignedDuration::from_mins(18), 120, 40, "dark");
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char(']'));
    draw(&mut app);
    key(&mut app, KeyCode::Enter);
    let chain = text(&draw(&mut app));
    assert!(chain.contains("waiting for quota: research needs 8 h100-80gb"), "{chain}");
    insta::assert_snapshot!("gpu_wait_chain_18m_120x40", chain);
    // `d`: to the workload holding the quota, its detail open.
    key(&mut app, KeyCode::Char('d'));
    let blocker = text(&draw(&mut app));
    assert!(blocker.contains("blocker: workload "), "{blocker}");
    insta::assert_snapshot!("gpu_wait_blocker_18m_120x40", blocker);
}

#[test]
fn a_wait_chain_at_80x24() {
    let mut app = app_at(SignedDuration::from_mins(27), 80, 24, "dark");
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char(']'));
    draw(&mut app);
    key(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("gpu_wait_chain_27m_80x24", text(&draw(&mut app)));
}

#[test]
fn enter_on_a_pending_pod_opens_its_chain_and_d_jumps_to_a_node() {
    let mut app = app_at(SignedDuration::from_mins(18), 120, 40, "dark");
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char(']'));
    key(&mut app, KeyCode::Char(']'));
    draw(&mut app);
    key(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("gpu_wait_pod_chain_18m_120x40", text(&draw(&mut app)));
    key(&mut app, KeyCode::Char('d'));
    let node = text(&draw(&mut app));
    assert!(node.contains("blocker: node "), "{node}");
}

#[test]
fn cost_pane_groupings_and_scroll() {
    let mut app = app_at(SignedDuration::from_mins(18), 120, 40, "dark");
    key(&mut app, KeyCode::Char('6'));
    // `]` cycles the grouping: team → namespace → queue → cluster → product; `[` goes back.
    for _ in 0..4 {
        key(&mut app, KeyCode::Char(']'));
    }
    insta::assert_snapshot!("cost_by_product_18m_120x40", text(&draw(&mut app)));
    key(&mut app, KeyCode::Char('['));
    let screen = text(&draw(&mut app));
    assert!(screen.contains("[cluster]") && screen.contains("GPU-hours and cost by cluster"), "{screen}");
    // Scrolling down brings the preemptions into view at 80×24.
    let mut small = app_at(SignedDuration::from_mins(18), 80, 24, "dark");
    key(&mut small, KeyCode::Char('6'));
    assert!(!text(&draw(&mut small)).contains("preemptions per team"));
    for _ in 0..25 {
        key(&mut small, KeyCode::Char('j'));
    }
    assert!(text(&draw(&mut small)).contains("preemptions per team"));
}

#[test]
fn cost_pane_follows_the_play_head_and_marks_who_is_over_its_share() {
    let mut early = app_at(SignedDuration::from_mins(5), 120, 40, "dark");
    key(&mut early, KeyCode::Char('6'));
    let early_screen = text(&draw(&mut early));
    assert!(early_screen.contains("window 14:00:00 – 14:05:00 UTC (5m00s)"), "{early_screen}");
    let mut late = app_at(SignedDuration::from_mins(27), 120, 40, "dark");
    key(&mut late, KeyCode::Char('6'));
    let buf = draw(&mut late);
    assert!(text(&buf).contains("window 14:00:00 – 14:27:00 UTC (27m00s)"));
    // research is over its share: its usage bar is drawn in the borrowed style, the verdict as a warning.
    let theme = Theme::builtin("dark").unwrap();
    let row = (0..buf.area.height)
        .find(|y| {
            let line = text_of_row(&buf, *y);
            line.trim_start_matches('│').starts_with("research ") && line.contains('█')
        })
        .unwrap();
    let bar_x = (0..buf.area.width).find(|x| buf[(*x, row)].symbol() == "█").unwrap();
    assert_eq!(buf[(bar_x, row)].fg, theme.style("gpu.quota.borrowed").fg.unwrap());
    let (vx, vy) = find(&buf, "team research uses").unwrap();
    assert_eq!(buf[(vx, vy)].fg, theme.style("ui.warning").fg.unwrap());
}

fn text_of_row(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
}

#[test]
fn detail_and_help_popups() {
    let mut app = app_at(SignedDuration::from_mins(18), 120, 40, "dark");
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter);
    let screen = text(&draw(&mut app));
    assert!(screen.contains("what was denied"), "{screen}");
    insta::assert_snapshot!("denial_detail_18m_120x40", screen);
    key(&mut app, KeyCode::PageDown);
    key(&mut app, KeyCode::PageDown);
    let scrolled = text(&draw(&mut app));
    assert!(scrolled.contains("evidence") && !scrolled.contains("what was denied"), "{scrolled}");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('?'));
    let help = text(&draw(&mut app));
    insta::assert_snapshot!("help_120x40", help);
}

#[test]
fn denials_grouped_by_policy_then_namespace_and_a_group_detail() {
    let mut app = app_at(SignedDuration::from_mins(27), 120, 40, "dark");
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char(']'));
    let by_policy = text(&draw(&mut app));
    assert!(by_policy.contains("[policy]") && by_policy.contains("RATE/15m"), "{by_policy}");
    insta::assert_snapshot!("denials_by_policy_27m_120x40", by_policy);
    key(&mut app, KeyCode::Enter);
    let detail = text(&draw(&mut app));
    assert!(detail.contains("denials by policy · require-run-as-nonroot"), "largest group first: {detail}");
    insta::assert_snapshot!("denials_by_policy_detail_27m_120x40", detail);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char(']'));
    let by_namespace = text(&draw(&mut app));
    assert!(by_namespace.contains("NAMESPACE") && by_namespace.contains("shop"), "{by_namespace}");
    for _ in 0..3 {
        key(&mut app, KeyCode::Char(']'));
    }
    let back = text(&draw(&mut app));
    assert!(back.contains("[denial]") && back.contains("MESSAGE"), "the cycle returns to one row per denial");
}

#[test]
fn fuzzy_filter_narrows_rows_and_esc_restores() {
    let mut app = app_at(SignedDuration::from_mins(18), 120, 40, "dark");
    key(&mut app, KeyCode::Char('2'));
    let table = app.view.active_table().unwrap();
    let all = app.view.table(table).unwrap().rows.len();
    key(&mut app, KeyCode::Char('/'));
    for c in "podsec".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    let filtered = app.view.table(table).unwrap().rows.len();
    assert!(filtered > 0 && filtered < all, "filter kept {filtered} of {all}");
    let screen = text(&draw(&mut app));
    assert!(screen.contains("/podsec"), "the filter is shown: {screen}");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view.table(table).unwrap().rows.len(), all);
}

#[test]
fn an_exception_detail_shows_its_reach() {
    // The incident exception (created at +20m50s): the skip results naming it arrive once the
    // payments pods it unblocked are admitted, next to the denials it is linked to.
    let mut app = app_at(SignedDuration::from_mins(27), 120, 40, "dark");
    key(&mut app, KeyCode::Char('5'));
    key(&mut app, KeyCode::Char('/'));
    for c in "incident-4711".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    draw(&mut app);
    key(&mut app, KeyCode::Enter);
    let screen = text(&draw(&mut app));
    assert!(screen.contains("exception shop/payments-runasroot-incident-4711"), "{screen}");
    assert!(screen.contains("skipped  4 results across 4 objects"), "{screen}");
    assert!(screen.contains("Deployment/shop/payments") && screen.contains("denials linked"), "{screen}");
    insta::assert_snapshot!("exception_detail_reach_27m_120x40", screen);
    assert!(!screen.contains("after it expired"), "it has not expired");

    // An exception past its expiry that reports still name: it is still in use.
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('/'));
    for c in "legacy-ftp".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    draw(&mut app);
    key(&mut app, KeyCode::Enter);
    let screen = text(&draw(&mut app));
    assert!(screen.contains("exception shop/legacy-ftp-exemption"), "{screen}");
    assert!(screen.contains("⚠ 1 skip result reported after it expired"), "{screen}");
}

#[test]
fn expired_exceptions_and_denies_carry_their_style() {
    let mut app = app_at(SignedDuration::from_mins(27), 120, 40, "dark");
    key(&mut app, KeyCode::Char('5'));
    let buf = draw(&mut app);
    let theme = Theme::builtin("dark").unwrap();
    let expired = theme.style("exceptions.expired");
    let (x, y) = find(&buf, "EXPIRED").expect("an expired exception is on screen");
    let cell = &buf[(x, y)];
    assert_eq!(Some(cell.fg), expired.fg.or(Some(Color::Reset)), "expired uses exceptions.expired");
    assert!(expired.fg.is_some() || expired.add_modifier != Modifier::empty());

    let mut app = app_at(SignedDuration::from_mins(18), 120, 40, "mono");
    key(&mut app, KeyCode::Char('2'));
    let buf = draw(&mut app);
    let (x, y) = find(&buf, "deny").expect("a deny is on screen");
    let cell = &buf[(x, y)];
    assert_eq!(cell.fg, Color::Reset, "mono uses no colour");
    assert!(
        !Theme::mono().style("denials.enforcement.deny").add_modifier.is_empty(),
        "mono marks deny by modifier"
    );
}

fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let t = text(buf);
    for (y, line) in t.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            let x = line[..byte].chars().count();
            return Some((x as u16, y as u16));
        }
    }
    None
}

#[test]
fn replay_is_exact_frame_for_frame() {
    let hashes = || {
        let mut player = Player::new(demo());
        player.set_speed(100.0);
        let mut app = App::new(
            Feed::Replay(Box::new(player)),
            Theme::builtin("dark").unwrap(),
            Keymap::builtin("default").unwrap(),
            Rect::new(0, 0, 120, 40),
        );
        let mut out = Vec::new();
        for (i, (k, _)) in PANES.iter().cycle().take(24).enumerate() {
            key(&mut app, KeyCode::Char(*k));
            app.handle(Event::Tick(std::time::Duration::from_millis(750 + 10 * i as u64)));
            out.push(frame_hash(&draw(&mut app)));
        }
        out
    };
    let a = hashes();
    assert_eq!(a, hashes());
    assert!(a.windows(2).any(|w| w[0] != w[1]), "frames change as the replay plays");
}

#[test]
fn seeking_back_and_forth_gives_the_same_screen() {
    let mut app = app_at(SignedDuration::from_mins(20), 120, 40, "dark");
    key(&mut app, KeyCode::Char('3'));
    let before = frame_hash(&draw(&mut app));
    for _ in 0..3 {
        app.handle(Event::Key(KeyEvent::new(KeyCode::Left, KeyModifiers::NONE)));
    }
    assert_ne!(frame_hash(&draw(&mut app)), before);
    for _ in 0..3 {
        app.handle(Event::Key(KeyEvent::new(KeyCode::Right, KeyModifiers::NONE)));
    }
    assert_eq!(frame_hash(&draw(&mut app)), before);
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (w, h) in [(1, 1), (10, 5), (40, 10), (80, 24), (300, 100)] {
        for (k, _) in PANES {
            let mut app = app_at(SignedDuration::from_mins(18), w, h, "dark");
            key(&mut app, KeyCode::Char(k));
            key(&mut app, KeyCode::Enter);
            draw(&mut app);
        }
    }
}

#[test]
fn go_to_a_wall_clock_time_from_the_prompt() {
    let mut app = app_at(SignedDuration::from_mins(2), 120, 40, "dark");
    key(&mut app, KeyCode::Char('t'));
    for c in "14:25".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert!(text(&draw(&mut app)).contains("go to: 14:25"));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.player().unwrap().position().to_string(), "2026-11-27T14:25:00Z");
    key(&mut app, KeyCode::Char('t'));
    for c in "-5m".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.player().unwrap().position().to_string(), "2026-11-27T14:00:00Z", "clamped to the start");
    key(&mut app, KeyCode::Char('t'));
    for c in "lunch".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    assert!(text(&draw(&mut app)).contains("expected an offset"), "a bad time says why");
}

#[test]
fn a_paused_replay_asks_for_no_redraws_and_no_ticks() {
    let mut app = app_at(SignedDuration::from_mins(5), 120, 40, "dark");
    app.mark_drawn();
    assert!(!app.is_playing(), "the loop only ticks a playing replay");
    app.handle(Event::Tick(std::time::Duration::from_secs(1)));
    assert!(!app.is_dirty(), "time passing while paused changes nothing");
    key(&mut app, KeyCode::Char(' '));
    assert!(app.is_playing());
    app.mark_drawn();
    app.handle(Event::Tick(std::time::Duration::from_secs(1)));
    assert!(app.is_dirty(), "a playing replay redraws as it moves");
}

#[test]
fn d_on_an_exception_shows_the_denials_linked_to_it_and_esc_shows_all_again() {
    let mut app = app_at(SignedDuration::from_mins(27), 120, 40, "dark");
    key(&mut app, KeyCode::Char('5'));
    draw(&mut app);
    // The exception with the most linked denials, found the way the pane links them.
    let state = app.state();
    let (eid, linked) = state
        .exceptions()
        .iter()
        .map(|(id, e)| (id.clone(), fleettop::explain::denials_linked_to(state, id, e).len()))
        .max_by_key(|(_, n)| *n)
        .unwrap();
    assert!(linked > 0, "the demo links some denial to an exception");
    let all = state.denial_rows().count();
    assert!(all > linked);
    let row = app
        .view
        .table(fleettop::ui::view::TableId::Exceptions)
        .unwrap()
        .rows
        .iter()
        .position(|r| *r == eid)
        .unwrap();
    for _ in 0..row {
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Char('d'));
    let screen = text(&draw(&mut app));
    assert_eq!(app.view.pane, PaneId::Denials);
    let rows = &app.view.table(fleettop::ui::view::TableId::Denials).unwrap().rows;
    assert_eq!(rows.len(), linked, "{screen}");
    assert!(screen.contains(&format!("linked to exception {}/", eid.cluster)), "{screen}");
    key(&mut app, KeyCode::Esc);
    draw(&mut app);
    assert_eq!(app.view.table(fleettop::ui::view::TableId::Denials).unwrap().rows.len(), all);
}

/// Hostile text in a cluster name and a denial message (anyone who may create an Event writes
/// one): the UI shows escape sequences, C1 controls and bidi overrides as visible escapes —
/// the rule of every terminal output — instead of dropping ESC and drawing the rest, or
/// drawing the override that reorders the line.
#[test]
fn hostile_text_is_drawn_as_visible_escapes() {
    use fleettop::model::{ClusterId, Observation};
    use fleettop::state::FleetState;
    let cluster = "prod\u{1b}]0;pwned\u{7}\u{202e}";
    let at = "2026-11-27T14:00:00Z";
    let denial: Observation = serde_json::from_value(serde_json::json!({
        "at": at, "cluster": cluster, "change": {"op": "upsert", "record": {
            "record": "denial", "id": "event/shop/web.1", "engine": "resource_quota", "enforcement": "deny",
            "policy": {"kind": "ResourceQuota", "name": "pods"}, "rule": "pods",
            "object": {"kind": "Pod", "namespace": "shop", "name": "web-7d9c-x2"}, "operation": "CREATE",
            "message": "exceeded quota \u{1b}]52;c;cm0gLXJmIH4K\u{7} \u{9b}31m \u{202e}gnp.exe",
            "count": 1, "first_seen": at, "last_seen": at, "evidence": []}}}))
    .unwrap();
    let mut state = FleetState::with_clusters(at.parse().unwrap(), [&ClusterId::new(cluster)]);
    state.apply_all([&denial]);
    let mut app = App::new(
        Feed::Live(Box::new(state)),
        Theme::builtin("dark").unwrap(),
        Keymap::builtin("default").unwrap(),
        Rect::new(0, 0, 120, 40),
    );
    let hidden = |buf: &Buffer| -> Vec<String> {
        buf.content()
            .iter()
            .map(|c| c.symbol())
            .filter(|s| s.chars().any(|c| c.is_control() || fleettop::sanitise::is_invisible_format(c)))
            .map(|s| format!("{s:?}"))
            .collect()
    };
    let fleet = draw(&mut app);
    assert_eq!(hidden(&fleet), Vec::<String>::new());
    assert!(text(&fleet).contains("prod\\x1b]0;pwned\\x07\\u{202e}"), "{}", text(&fleet));
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter);
    let detail = draw(&mut app);
    assert_eq!(hidden(&detail), Vec::<String>::new());
    let shown = text(&detail);
    assert!(
        shown.contains("exceeded quota \\x1b]52;c;cm0gLXJmIH4K\\x07 \\x9b31m \\u{202e}gnp.exe"),
        "{shown}"
    );
}
