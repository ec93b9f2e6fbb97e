//! Where everything goes on screen. A pure function of the terminal size and the state, shared
//! by rendering and by the app (which needs the table height for paging and scrolling).

use ratatui::layout::{Constraint, Layout, Rect};

use crate::model::{ClusterHealth, ClusterStatus};
use crate::state::FleetState;
use crate::ui::panes::PaneId;
use crate::ui::view::ViewState;

/// Most lines the cluster badges may take before they collapse into a summary.
pub const MAX_BADGE_LINES: usize = 3;

/// The screen's regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// Title bar.
    pub title: Rect,
    /// Cluster badges.
    pub badges: Rect,
    /// Pane tabs.
    pub tabs: Rect,
    /// The pane (bordered).
    pub body: Rect,
    /// Pane summary lines inside the border.
    pub summary: Rect,
    /// The table inside the border (header row included).
    pub table: Rect,
    /// Below the table: the Fleet pane's findings (zero height elsewhere).
    pub below: Rect,
    /// Replay timeline (zero height when live).
    pub timeline: Rect,
    /// Footer with key hints, filter and notices.
    pub footer: Rect,
}

impl Areas {
    /// Rows of data the table can show (its height minus the header row).
    pub fn table_rows(&self) -> usize {
        self.table.height.saturating_sub(1) as usize
    }
}

/// One cluster badge: `● prod-eu-west-1 live 3s`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    /// Health.
    pub health: ClusterHealth,
    /// Text after the glyph.
    pub text: String,
}

/// Badge text for one cluster.
pub fn badge(c: &ClusterStatus, now: jiff::Timestamp) -> Badge {
    let h = c.health();
    let age = c.data_age(now).map(crate::ui::widgets::format::age).unwrap_or_else(|| "—".into());
    Badge { health: h, text: format!("{} {} {}", c.id, h.label(), age) }
}

/// The badges laid out in lines of at most `width` columns; `None` when they need more than
/// [`MAX_BADGE_LINES`] lines (the caller then shows a per-health summary instead).
pub fn badge_lines(state: &FleetState, width: u16) -> Option<Vec<Vec<Badge>>> {
    let mut lines: Vec<Vec<Badge>> = vec![];
    let mut used = 0usize;
    for c in state.clusters().values() {
        let b = badge(c, state.now());
        let w = b.text.chars().count() + 4;
        if lines.is_empty() || used + w > width as usize {
            lines.push(vec![]);
            used = 0;
        }
        used += w;
        if let Some(line) = lines.last_mut() {
            line.push(b);
        }
    }
    if lines.len() > MAX_BADGE_LINES { None } else { Some(lines) }
}

/// Computes every region for a frame of `area`; `summary_lines` is how many lines the pane
/// draws above its table (see [`crate::ui::app::Derived`]).
pub fn areas(area: Rect, state: &FleetState, view: &ViewState, replay: bool, summary_lines: u16) -> Areas {
    let badge_height = badge_lines(state, area.width).map(|l| l.len().max(1)).unwrap_or(1) as u16;
    let [title, badges, tabs, body, timeline, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(badge_height),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(u16::from(replay)),
        Constraint::Length(1),
    ])
    .areas(area);
    let inner = Rect {
        x: body.x.saturating_add(1),
        y: body.y.saturating_add(1),
        width: body.width.saturating_sub(2),
        height: body.height.saturating_sub(2),
    };
    let summary_h = summary_lines.min(inner.height.saturating_sub(2));
    let [summary, rest] = Layout::vertical([Constraint::Length(summary_h), Constraint::Min(0)]).areas(inner);
    let table_h = if view.pane == PaneId::Fleet {
        let wanted = state.clusters().len() as u16 + 1;
        wanted.min((rest.height / 2).max(3)).min(rest.height)
    } else {
        rest.height
    };
    let [table, below] = Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)]).areas(rest);
    Areas { title, badges, tabs, body, summary, table, below, timeline, footer }
}
