//! The title bar, the cluster badges and the pane tabs.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::model::ClusterHealth;
use crate::state::FleetState;
use crate::ui::app::App;
use crate::ui::layout::{self, Areas};
use crate::ui::panes::PaneId;
use crate::ui::panes::fleet::{health_glyph, health_scope};
use crate::ui::widgets::format;

/// Draws the title bar: name, mode, clock and the fleet's health counts.
pub fn title(f: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let state = app.state();
    let mut spans = vec![Span::styled(" fleettop ", theme.style("ui.title"))];
    match app.player() {
        Some(p) if p.paused() => spans.push(Span::styled(" ⏸ REPLAY (paused) ", theme.style("mode.paused"))),
        Some(p) => spans.push(Span::styled(
            format!(" ▶ REPLAY {}× ", format::qty(p.speed())),
            theme.style("mode.replay"),
        )),
        None => spans.push(Span::styled(" ● LIVE ", theme.style("mode.live"))),
    }
    spans.push(Span::styled(
        format!(" {} UTC ", state.now().strftime("%Y-%m-%d %H:%M:%S")),
        theme.style("ui.header"),
    ));
    let mut counts = std::collections::BTreeMap::new();
    for c in state.clusters().values() {
        *counts.entry(c.health()).or_insert(0usize) += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(h, n)| format!("{n} {}", h.label())).collect();
    spans.push(Span::styled(
        format!(
            " {}: {}",
            crate::ui::summaries::plural(state.clusters().len() as u64, "cluster"),
            summary.join(" · ")
        ),
        theme.style("ui.header"),
    ));
    if app.backpressure > 0 {
        spans.push(Span::styled(
            format!("  ⚠ sources waited {}× for the UI", app.backpressure),
            theme.style("ui.warning"),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)).style(theme.style("ui.header")), area);
}

/// Draws one badge per cluster, or a per-health summary when there are too many.
pub fn badges(f: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let state = app.state();
    let lines: Vec<Line> = match layout::badge_lines(state, area.width) {
        Some(lines) if !lines.is_empty() => lines
            .into_iter()
            .map(|line| {
                Line::from(
                    line.into_iter()
                        .flat_map(|b| {
                            [
                                Span::styled(
                                    format!(" {} ", health_glyph(b.health)),
                                    theme.style(health_scope(b.health)),
                                ),
                                Span::styled(
                                    format!("{} ", crate::sanitise::line(&b.text)),
                                    theme.style(badge_text_scope(b.health)),
                                ),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .collect(),
        Some(_) => vec![Line::styled(" no clusters yet", theme.style("ui.dim"))],
        None => vec![too_many(state, app)],
    };
    f.render_widget(Paragraph::new(lines), area);
}

fn badge_text_scope(h: ClusterHealth) -> &'static str {
    match h {
        ClusterHealth::Live => "ui.text",
        other => health_scope(other),
    }
}

fn too_many<'a>(state: &FleetState, app: &'a App) -> Line<'a> {
    let mut spans = vec![Span::styled(" worst: ", app.theme.style("ui.dim"))];
    let mut bad: Vec<_> = state.clusters().values().filter(|c| c.health() != ClusterHealth::Live).collect();
    bad.sort_by_key(|c| (std::cmp::Reverse(c.health()), c.id.clone()));
    for c in bad.iter().take(4) {
        let b = layout::badge(c, state.now());
        spans.push(Span::styled(
            format!("{} {} ", health_glyph(b.health), crate::sanitise::line(&b.text)),
            app.theme.style(health_scope(b.health)),
        ));
    }
    if bad.len() > 4 {
        spans.push(Span::styled(format!("+{} more (Fleet pane)", bad.len() - 4), app.theme.style("ui.dim")));
    }
    Line::from(spans)
}

/// Draws the pane tabs with their alert counts.
pub fn tabs(f: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut spans = Vec::new();
    for (i, pane) in PaneId::ALL.iter().enumerate() {
        let active = *pane == app.view.pane;
        let scope = if active { "ui.tab.active" } else { "ui.tab" };
        spans.push(Span::styled(format!(" {} {} ", i + 1, pane.title()), theme.style(scope)));
        if let Some(b) = app.derived().tab_badges.get(i).cloned().flatten() {
            spans.push(Span::styled(
                format!("{b} "),
                theme.style(if active { "ui.tab.active" } else { "ui.warning" }),
            ));
        }
        spans.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Draws title, badges and tabs.
pub fn render(f: &mut Frame, areas: &Areas, app: &App) {
    title(f, areas.title, app);
    badges(f, areas.badges, app);
    tabs(f, areas.tabs, app);
}
