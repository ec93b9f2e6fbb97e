//! The app: fleet state (live or replayed) plus view state, changed only by [`Event`]s.
//!
//! `handle` turns events into state changes and returns side effects as values
//! ([`Effect`]); the loop in [`crate::ui::run`] performs them. Rendering reads `&App` only.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use ratatui::layout::Rect;

use crate::analytics::{By, Prices};
use crate::model::Observation;
use crate::record::Player;
use crate::state::FleetState;
use crate::ui::Action;
use crate::ui::cost::CostFeed;
use crate::ui::event::Event;
use crate::ui::keymap::Keymap;
use crate::ui::layout;
use crate::ui::panes::denial_groups::GroupBy;
use crate::ui::panes::gpu::GpuView;
use crate::ui::panes::{self, PaneId};
use crate::ui::summaries::{self, Segment};
use crate::ui::theme::Theme;
use crate::ui::view::{BuiltFrom, Popup, TableId, ViewState};
use crate::ui::widgets::table::TableView;

/// Where the fleet state comes from.
pub enum Feed {
    /// Sources deliver observations; the clock is real time.
    Live(Box<FleetState>),
    /// A recording plays back; the clock is the play head.
    Replay(Box<Player>),
}

/// Tables up to this many rows are re-sorted when only the clock moved.
const CLOCK_REBUILD_MAX_ROWS: usize = 10_000;

impl Feed {
    /// The state this feed shows.
    pub fn state(&self) -> &FleetState {
        match self {
            Feed::Live(s) => s,
            Feed::Replay(p) => p.state(),
        }
    }
}

/// A side effect the loop must perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Put text on the clipboard (OSC 52).
    Copy(String),
}

/// Pane summaries and Fleet findings, derived from the state once per state change (they
/// scan whole tables), so that drawing a frame costs the same whatever the row count.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    built_for: Option<(u64, PaneId, GpuView, GroupBy)>,
    /// Lines the visible pane draws above its table.
    pub summary: Vec<Vec<Segment>>,
    /// What needs attention (Fleet pane only).
    pub findings: Vec<Vec<Segment>>,
    /// The alert after each tab title, in tab order.
    pub tab_badges: Vec<Option<String>>,
}

impl Derived {
    fn refresh(&mut self, state: &FleetState, view: &ViewState, alerts: &[String]) {
        let key = (state.version(), view.pane, view.gpu_view, view.denial_group);
        if self.built_for == Some(key) {
            return;
        }
        self.built_for = Some(key);
        self.summary = match view.pane {
            PaneId::Denials => {
                let mut lines = vec![summaries::denials(state), summaries::denial_groups(view.denial_group)];
                lines.extend(
                    summaries::rollouts(state).iter().map(|r| vec![(r.words(), "denials.enforcement.deny")]),
                );
                lines
            }
            PaneId::Pipelines => {
                let mut lines = vec![summaries::pipelines(state)];
                lines.extend(summaries::trust_matrix(state));
                lines
            }
            PaneId::Exceptions => vec![summaries::exceptions(state)],
            PaneId::Gpu => {
                let mut lines = vec![summaries::gpu_views(view.gpu_view)];
                lines.extend(summaries::gpu_contention(state));
                lines
            }
            PaneId::Fleet | PaneId::Cost => Vec::new(),
        };
        self.findings = if view.pane == PaneId::Fleet {
            let mut lines: Vec<Vec<Segment>> =
                alerts.iter().map(|a| vec![(format!("✖ {a}"), "ui.error")]).collect();
            lines.extend(summaries::findings(state));
            lines
        } else {
            Vec::new()
        };
        self.tab_badges = PaneId::ALL.iter().map(|p| summaries::tab_badge(*p, state)).collect();
    }
}

/// The table specs, built once.
pub struct Tables(BTreeMap<TableId, Box<dyn TableView>>);

impl Tables {
    /// Every table of every pane.
    pub fn new() -> Self {
        let mut m: BTreeMap<TableId, Box<dyn TableView>> = BTreeMap::new();
        m.insert(TableId::Fleet, Box::new(panes::fleet::spec()));
        m.insert(TableId::Denials, Box::new(panes::denials::spec()));
        for (id, by) in [
            (TableId::DenialsByPolicy, GroupBy::Policy),
            (TableId::DenialsByNamespace, GroupBy::Namespace),
            (TableId::DenialsByCluster, GroupBy::Cluster),
            (TableId::DenialsByEngine, GroupBy::Engine),
        ] {
            m.insert(id, Box::new(panes::denial_groups::GroupedDenials::new(by)));
        }
        m.insert(TableId::GpuQueues, Box::new(panes::gpu::queues()));
        m.insert(TableId::GpuWorkloads, Box::new(panes::gpu::workloads()));
        m.insert(TableId::GpuPending, Box::new(panes::gpu::pending()));
        m.insert(TableId::GpuNodes, Box::new(panes::gpu::nodes()));
        m.insert(TableId::GpuEvictions, Box::new(panes::gpu_evictions::evictions()));
        m.insert(TableId::Pipelines, Box::new(panes::pipelines::spec()));
        m.insert(TableId::Exceptions, Box::new(panes::exceptions::spec()));
        Self(m)
    }

    /// One table's spec.
    pub fn get(&self, id: TableId) -> Option<&dyn TableView> {
        self.0.get(&id).map(|b| b.as_ref())
    }
}

impl Default for Tables {
    fn default() -> Self {
        Self::new()
    }
}

/// The whole application state.
pub struct App {
    feed: Feed,
    /// View state (pane, selection, popups).
    pub view: ViewState,
    /// Colours and styles.
    pub theme: Theme,
    /// Key bindings.
    pub keymap: Keymap,
    /// Problems to show the user (config warnings, a damaged recording), in the help overlay.
    pub warnings: Vec<String>,
    /// Failures the user must not miss (the recording stopped): in the footer and at the top
    /// of the Fleet pane's findings until the session ends. Set with [`App::alert`].
    alerts: Vec<String>,
    /// A one-off message for the footer (`copied 312 bytes`).
    pub notice: Option<String>,
    /// How many times a source found the observation channel full (the UI fell behind).
    pub backpressure: u64,
    tables: Tables,
    derived: Derived,
    cost: CostFeed,
    size: Rect,
    quit: bool,
    dirty: bool,
}

impl App {
    /// An app over `feed` with a terminal of `size`.
    pub fn new(feed: Feed, theme: Theme, keymap: Keymap, size: Rect) -> Self {
        let cost = CostFeed::new(feed.state().now());
        let mut app = Self {
            feed,
            view: ViewState::default(),
            theme,
            keymap,
            warnings: Vec::new(),
            alerts: Vec::new(),
            notice: None,
            backpressure: 0,
            tables: Tables::new(),
            derived: Derived::default(),
            cost,
            size,
            quit: false,
            dirty: true,
        };
        app.prepare();
        app
    }

    /// The fleet state being shown.
    pub fn state(&self) -> &FleetState {
        self.feed.state()
    }

    /// The replay player, when replaying.
    pub fn player(&self) -> Option<&Player> {
        match &self.feed {
            Feed::Replay(p) => Some(p),
            Feed::Live(_) => None,
        }
    }

    /// The live state, when live (for the recorder).
    pub fn live_state(&self) -> Option<&FleetState> {
        match &self.feed {
            Feed::Live(s) => Some(s),
            Feed::Replay(_) => None,
        }
    }

    /// Raises an alert: shown in the footer and first among the Fleet findings from the next
    /// frame on, and kept in the help overlay's warnings.
    pub fn alert(&mut self, text: String) {
        self.warnings.push(text.clone());
        self.alerts.push(text);
        self.derived.built_for = None;
        self.dirty = true;
    }

    /// The alerts raised so far (see [`App::alert`]).
    pub fn alerts(&self) -> &[String] {
        &self.alerts
    }

    /// The table specs.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Summaries derived from the state for the visible pane.
    pub fn derived(&self) -> &Derived {
        &self.derived
    }

    /// The Cost pane's data: the latest cost report, or why there is none yet.
    pub fn cost(&self) -> &CostFeed {
        &self.cost
    }

    /// Prices for the Cost pane (the config file's `[prices]` over the default table).
    pub fn set_prices(&mut self, prices: Prices) {
        self.cost.set_prices(prices);
    }

    /// Notified when a cost report arrives from the analytics thread; the loop then sends
    /// [`Event::Analytics`].
    pub fn analytics_wake(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.cost.wake()
    }

    /// Asks for the cost report of the moment shown (when the Cost pane is visible) and
    /// blocks until it arrives, at most `timeout`: for headless use and tests, where there is
    /// no loop to wake. True when a report is there.
    pub fn wait_for_analytics(&mut self, timeout: std::time::Duration) -> bool {
        self.prepare();
        self.cost.wait(timeout)
    }

    /// The screen regions for the current size, state and view.
    pub fn areas(&self, area: Rect) -> layout::Areas {
        let replay = self.player().is_some();
        layout::areas(area, self.state(), &self.view, replay, self.derived.summary.len() as u16)
    }

    /// The terminal size the app lays out for.
    pub fn size(&self) -> Rect {
        self.size
    }

    /// True once the user asked to quit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// True when something changed since the last [`App::mark_drawn`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The loop drew a frame.
    pub fn mark_drawn(&mut self) {
        self.dirty = false;
    }

    /// True while a replay is playing (the loop then ticks at frame rate).
    pub fn is_playing(&self) -> bool {
        self.player().is_some_and(|p| !p.paused() && !p.at_end())
    }

    /// Handles one event; returns the side effects to perform.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut effects = Vec::new();
        let event_kind = match event {
            Event::Key(_) | Event::Resize(..) => EventKind::Input,
            Event::Tick(_) | Event::Observations(_) | Event::Analytics => EventKind::Data,
        };
        match event {
            Event::Key(key) => {
                // Keys act on rows: bring them up to date first.
                self.prepare();
                if self.view.seek_input.is_some() {
                    self.seek_key(key);
                } else if self.view.filtering {
                    self.filter_key(key);
                } else if let Some(action) = self.keymap.action_for(&key) {
                    self.notice = None;
                    effects.extend(self.act(action));
                }
                self.dirty = true;
            }
            Event::Resize(w, h) => {
                self.size = Rect::new(0, 0, w, h);
                self.dirty = true;
            }
            Event::Tick(elapsed) => match &mut self.feed {
                Feed::Live(s) => {
                    let now = Timestamp::now();
                    let before = s.version();
                    s.set_clock(now);
                    self.dirty |= s.version() != before && elapsed > std::time::Duration::ZERO;
                }
                Feed::Replay(p) => self.dirty |= p.advance(elapsed),
            },
            Event::Observations(batch) => self.ingest(&batch),
            Event::Analytics => self.dirty |= self.cost.poll(),
        }
        if matches!(event_kind, EventKind::Input) {
            self.prepare();
        }
        effects
    }

    /// Applies observations to the live state. Views are not rebuilt here but once before
    /// the next frame ([`App::prepare`]), however many batches arrive in between.
    pub fn ingest(&mut self, batch: &[Observation]) {
        if let Feed::Live(s) = &mut self.feed {
            s.apply_all(batch);
            self.cost.ingest(batch);
            self.dirty = true;
        }
    }

    /// Keys while the "go to time" prompt is open.
    fn seek_key(&mut self, key: crossterm::event::KeyEvent) {
        use crossterm::event::KeyCode;
        let Some(text) = self.view.seek_input.as_mut() else { return };
        match key.code {
            KeyCode::Esc => self.view.seek_input = None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(crossterm::event::KeyModifiers::CONTROL) => {
                text.push(c)
            }
            KeyCode::Enter => {
                let text = self.view.seek_input.take().unwrap_or_default();
                if let Feed::Replay(p) = &mut self.feed {
                    match crate::record::when::resolve(&text, p.start()) {
                        Ok(t) => {
                            p.seek_to(t);
                            self.notice = Some(format!("went to {}", p.position()));
                        }
                        Err(e) => self.notice = Some(e),
                    }
                }
            }
            _ => {}
        }
    }

    fn filter_key(&mut self, key: crossterm::event::KeyEvent) {
        use crossterm::event::KeyCode;
        let Some(table) = self.view.active_table() else {
            self.view.filtering = false;
            return;
        };
        let t = self.view.table_mut(table);
        match key.code {
            KeyCode::Enter => self.view.filtering = false,
            KeyCode::Esc => {
                t.filter.clear();
                self.view.filtering = false;
            }
            KeyCode::Backspace => {
                t.filter.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(crossterm::event::KeyModifiers::CONTROL) => {
                t.filter.push(c);
            }
            _ => {}
        }
        let t = self.view.table_mut(table);
        t.selected = 0;
        t.offset = 0;
        t.selected_id = None;
    }

    fn act(&mut self, action: Action) -> Vec<Effect> {
        if let Some(effects) = self.act_on_popup(action) {
            return effects;
        }
        match action {
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.view.popup = Some(Popup::Help { scroll: 0 }),
            Action::NextPane => self.cycle_pane(1),
            Action::PrevPane => self.cycle_pane(PaneId::ALL.len() - 1),
            Action::ShowFleet => self.view.pane = PaneId::Fleet,
            Action::ShowDenials => self.view.pane = PaneId::Denials,
            Action::ShowGpu => self.view.pane = PaneId::Gpu,
            Action::ShowPipelines => self.view.pane = PaneId::Pipelines,
            Action::ShowExceptions => self.view.pane = PaneId::Exceptions,
            Action::ShowCost => self.view.pane = PaneId::Cost,
            Action::NextView => self.cycle_view(true),
            Action::PrevView => self.cycle_view(false),
            Action::SelectNext => self.move_selection(1),
            Action::SelectPrev => self.move_selection(-1),
            Action::PageDown => self.move_selection(self.page() as isize),
            Action::PageUp => self.move_selection(-(self.page() as isize)),
            Action::SelectFirst => self.move_selection(isize::MIN / 2),
            Action::SelectLast => self.move_selection(isize::MAX / 2),
            Action::OpenDetail => self.open_detail(),
            Action::ShowLinked => self.show_linked(),
            Action::Close => {
                if self.view.active_table() == Some(TableId::Denials) && self.view.denials_linked_to.is_some()
                {
                    self.view.denials_linked_to = None;
                } else if let Some(t) = self.view.active_table() {
                    self.view.table_mut(t).filter.clear();
                }
            }
            Action::StartFilter => self.view.filtering = self.view.active_table().is_some(),
            Action::SortNext => self.cycle_sort(),
            Action::SortReverse => self.reverse_sort(),
            Action::Copy => return self.copy_selected(),
            a => self.replay_action(a),
        }
        Vec::new()
    }

    /// Keys while a popup is open: scrolling, closing, copying; `None` = not consumed.
    fn act_on_popup(&mut self, action: Action) -> Option<Vec<Effect>> {
        let popup = self.view.popup.as_mut()?;
        let is_help = matches!(popup, Popup::Help { .. });
        let scroll = match popup {
            Popup::Help { scroll } | Popup::Detail { scroll, .. } => scroll,
        };
        match action {
            Action::Close | Action::OpenDetail => self.view.popup = None,
            Action::ToggleHelp if is_help => self.view.popup = None,
            Action::SelectNext => *scroll = scroll.saturating_add(1),
            Action::SelectPrev => *scroll = scroll.saturating_sub(1),
            Action::PageDown => *scroll = scroll.saturating_add(10),
            Action::PageUp => *scroll = scroll.saturating_sub(10),
            Action::SelectFirst => *scroll = 0,
            Action::Copy => return Some(self.copy_selected()),
            Action::ShowLinked => self.show_linked(),
            Action::Quit => self.quit = true,
            a if is_replay(a) => self.replay_action(a),
            _ => {}
        }
        Some(Vec::new())
    }

    fn replay_action(&mut self, action: Action) {
        let Feed::Replay(p) = &mut self.feed else {
            self.notice = Some("replay controls work on recordings (fleettop replay FILE, --demo)".into());
            return;
        };
        match action {
            Action::ReplayTogglePause => p.toggle_pause(),
            Action::ReplayFaster => p.faster(),
            Action::ReplaySlower => p.slower(),
            Action::ReplaySeekForward => p.seek_by(SignedDuration::from_secs(10)),
            Action::ReplaySeekBack => p.seek_by(SignedDuration::from_secs(-10)),
            Action::ReplaySeekForwardLong => p.seek_by(SignedDuration::from_mins(1)),
            Action::ReplaySeekBackLong => p.seek_by(SignedDuration::from_mins(-1)),
            Action::ReplaySeekStart => {
                let start = p.start();
                p.seek_to(start);
            }
            Action::ReplaySeekEnd => {
                let end = p.end();
                p.seek_to(end);
            }
            Action::ReplaySeekTo => self.view.seek_input = Some(String::new()),
            _ => {}
        }
    }

    fn cycle_pane(&mut self, step: usize) {
        let i = (self.view.pane.index() + step) % PaneId::ALL.len();
        self.view.pane = PaneId::ALL[i];
    }

    fn cycle_view(&mut self, forward: bool) {
        /// The element after (or before) `current` in `all`, wrapping around.
        fn step<T: Copy + PartialEq>(all: &[T], current: T, forward: bool) -> T {
            let n = all.len().max(1);
            let i = all.iter().position(|x| *x == current).unwrap_or(0);
            all.get(if forward { (i + 1) % n } else { (i + n - 1) % n }).copied().unwrap_or(current)
        }
        match self.view.pane {
            PaneId::Gpu => self.view.gpu_view = step(&GpuView::ALL, self.view.gpu_view, forward),
            PaneId::Denials => {
                self.view.denial_group = step(&GroupBy::ALL, self.view.denial_group, forward);
                self.notice = Some(match self.view.denial_group {
                    GroupBy::None => "one row per denial".to_string(),
                    by => format!("denials grouped by {}", by.label()),
                });
            }
            PaneId::Cost => {
                self.view.cost_by = step(&By::ALL, self.view.cost_by, forward);
                self.view.cost_scroll = 0;
                self.notice = Some(format!("cost by {}", self.view.cost_by.label()));
            }
            _ => {}
        }
    }

    fn page(&self) -> usize {
        self.areas(self.size).table_rows().max(1)
    }

    fn move_selection(&mut self, delta: isize) {
        let Some(table) = self.view.active_table() else {
            if self.view.pane == PaneId::Cost {
                let scroll = i64::from(self.view.cost_scroll).saturating_add(delta as i64);
                self.view.cost_scroll = scroll.clamp(0, i64::from(crate::ui::panes::cost::MAX_SCROLL)) as u16;
            }
            return;
        };
        let t = self.view.table_mut(table);
        if t.rows.is_empty() {
            return;
        }
        let last = t.rows.len() - 1;
        let next = (t.selected as isize).saturating_add(delta).clamp(0, last as isize) as usize;
        t.selected = next;
        t.selected_id = t.rows.get(next).cloned();
    }

    fn cycle_sort(&mut self) {
        let Some(table) = self.view.active_table() else {
            return;
        };
        let Some(spec) = self.tables.get(table) else {
            return;
        };
        let ncols = spec.columns().len();
        let default = spec.default_sort();
        let t = self.view.table_mut(table);
        let (col, desc) = t.sort.unwrap_or(default);
        t.sort = Some(((col + 1) % ncols.max(1), desc));
        let name = spec.columns().get((col + 1) % ncols.max(1)).map(|c| c.0).unwrap_or("");
        self.notice = Some(format!("sorted by {name}"));
    }

    fn reverse_sort(&mut self) {
        let Some(table) = self.view.active_table() else {
            return;
        };
        let Some(spec) = self.tables.get(table) else {
            return;
        };
        let default = spec.default_sort();
        let t = self.view.table_mut(table);
        let (col, desc) = t.sort.unwrap_or(default);
        t.sort = Some((col, !desc));
    }

    fn open_detail(&mut self) {
        let Some(table) = self.view.active_table() else {
            return;
        };
        let Some(t) = self.view.table(table) else {
            return;
        };
        if let Some(id) = t.rows.get(t.selected) {
            self.view.popup = Some(Popup::Detail { table, id: id.clone(), scroll: 0 });
        }
    }

    /// From the Exceptions pane (its table or an exception's detail): the Denials pane, one
    /// row per denial, narrowed to the denials linked to that exception.
    fn show_linked(&mut self) {
        if self.jump_to_blocker() {
            return;
        }
        let exception = match &self.view.popup {
            Some(Popup::Detail { table: TableId::Exceptions, id, .. }) => Some(id.clone()),
            Some(_) => None,
            None if self.view.active_table() == Some(TableId::Exceptions) => {
                self.view.table(TableId::Exceptions).and_then(|t| t.rows.get(t.selected).cloned())
            }
            None => None,
        };
        let Some(id) = exception else {
            self.notice =
                Some("links lead from an exception to its denials and from a GPU waiter to its blocker: select one".into());
            return;
        };
        self.view.popup = None;
        self.view.denials_linked_to = Some(id);
        self.view.denial_group = GroupBy::None;
        self.view.pane = PaneId::Denials;
        let t = self.view.table_mut(TableId::Denials);
        (t.selected, t.offset) = (0, 0);
    }

    /// On a waiting workload or pod of the GPU pane (its detail, or its row), opens what blocks
    /// it ([`crate::wait::Wait::blocker`]); false when the selection is not a GPU waiter.
    fn jump_to_blocker(&mut self) -> bool {
        let from = match &self.view.popup {
            Some(Popup::Detail { table, id, .. }) => Some((*table, id.clone())),
            Some(_) => None,
            None => self.view.active_table().and_then(|t| {
                self.view.table(t).and_then(|ts| ts.rows.get(ts.selected).cloned()).map(|id| (t, id))
            }),
        };
        let wait = match from {
            Some((TableId::GpuWorkloads, id)) => crate::wait::explain_workload(self.state(), &id),
            Some((TableId::GpuPending, id)) => crate::wait::explain_pod(self.state(), &id),
            _ => return false,
        };
        let Some(link) = wait.as_ref().and_then(|w| w.blocker()).cloned() else {
            self.notice = Some("nothing blocks it that fleettop can show".into());
            return true;
        };
        let (view, table) = match &link {
            crate::wait::Link::Workload(_) => (GpuView::Workloads, TableId::GpuWorkloads),
            crate::wait::Link::Node(_) => (GpuView::Nodes, TableId::GpuNodes),
            crate::wait::Link::Queue(_) => (GpuView::Queues, TableId::GpuQueues),
            crate::wait::Link::Pod(_) => (GpuView::Pending, TableId::GpuPending),
        };
        let id = link.id().clone();
        (self.view.pane, self.view.gpu_view) = (PaneId::Gpu, view);
        let t = self.view.table_mut(table);
        t.filter.clear();
        t.selected_id = Some(id.clone());
        self.notice = Some(format!("blocker: {}", panes::gpu_wait::link_words(&link)));
        self.view.popup = Some(Popup::Detail { table, id, scroll: 0 });
        true
    }

    fn copy_selected(&mut self) -> Vec<Effect> {
        let text = match &self.view.popup {
            Some(Popup::Detail { table, id, .. }) => {
                self.tables.get(*table).and_then(|s| s.detail(self.state(), id)).map(|d| d.to_text())
            }
            _ => self.view.active_table().and_then(|table| {
                let t = self.view.table(table)?;
                let id = t.rows.get(t.selected)?;
                let cells = self.tables.get(table)?.cells(self.state(), id)?;
                Some(cells.into_iter().map(|c| c.text).collect::<Vec<_>>().join("\t"))
            }),
        };
        match text {
            Some(text) => {
                self.notice = Some(format!("copied {} bytes to the clipboard (OSC 52)", text.len()));
                vec![Effect::Copy(text)]
            }
            None => {
                self.notice = Some("nothing selected to copy".into());
                Vec::new()
            }
        }
    }

    /// Rebuilds the visible table's rows if the state, filter or sort changed, keeps the
    /// selection on the same record, and scrolls so the selection is visible.
    pub fn prepare(&mut self) {
        self.derived.refresh(self.feed.state(), &self.view, &self.alerts);
        if self.view.pane == PaneId::Cost {
            self.cost.poll();
            self.cost.refresh(&self.feed);
        }
        let Some(table) = self.view.active_table() else {
            return;
        };
        let rows_visible = self.page();
        let Some(spec) = self.tables.get(table) else {
            return;
        };
        let state = self.feed.state();
        let t = self.view.tables.entry(table).or_default();
        let sort = t.sort.unwrap_or(spec.default_sort());
        // Row order depends on the data, and for a few columns (status, waits) on the clock:
        // small tables follow the clock too; big ones rebuild only when data changed.
        let version =
            if t.rows.len() < CLOCK_REBUILD_MAX_ROWS { state.version() } else { state.data_version() };
        let linked_to = if table == TableId::Denials { self.view.denials_linked_to.clone() } else { None };
        let want = BuiltFrom { version, filter: t.filter.clone(), sort, linked_to };
        if t.built.as_ref() != Some(&want) {
            t.rows = spec.build(state, &t.filter, sort);
            if let Some(eid) = &want.linked_to {
                let linked: std::collections::BTreeSet<&crate::state::RecordId> = state
                    .exceptions()
                    .get(eid)
                    .map(|e| {
                        crate::explain::denials_linked_to(state, eid, e)
                            .into_iter()
                            .map(|(id, _, _)| id)
                            .collect()
                    })
                    .unwrap_or_default();
                t.rows.retain(|id| linked.contains(id));
            }
            t.built = Some(want);
            if let Some(i) = t.selected_id.as_ref().and_then(|id| t.rows.iter().position(|r| r == id)) {
                t.selected = i;
            }
        }
        t.selected = t.selected.min(t.rows.len().saturating_sub(1));
        t.selected_id = t.rows.get(t.selected).cloned();
        if t.selected < t.offset {
            t.offset = t.selected;
        } else if t.selected >= t.offset + rows_visible {
            t.offset = t.selected + 1 - rows_visible;
        }
        let max_offset = t.rows.len().saturating_sub(rows_visible);
        t.offset = t.offset.min(max_offset);
    }
}

/// Input events rebuild views at once (the user sees the result of a key); data events
/// leave it to the next frame.
enum EventKind {
    Input,
    Data,
}

fn is_replay(a: Action) -> bool {
    matches!(
        a,
        Action::ReplayTogglePause
            | Action::ReplayFaster
            | Action::ReplaySlower
            | Action::ReplaySeekForward
            | Action::ReplaySeekBack
            | Action::ReplaySeekForwardLong
            | Action::ReplaySeekBackLong
            | Action::ReplaySeekStart
            | Action::ReplaySeekEnd
            | Action::ReplaySeekTo
    )
}
