//! Draws the whole screen. A pure function of [`App`]: no I/O, no clock, no locks.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::ui::app::App;
use crate::ui::layout;
use crate::ui::panes::{PaneId, cost};
use crate::ui::summaries::Segment;
use crate::ui::view::{Popup, TableId};
use crate::ui::widgets::{footer, header, popup, table_render, timeline};

/// Summary, finding and cost lines: their segments quote cluster names, team labels and
/// errors, so each passes the terminal sanitiser.
fn line_of<'a>(segments: Vec<Segment>, app: &App) -> Line<'a> {
    Line::from(
        segments
            .into_iter()
            .map(|(t, s)| Span::styled(crate::sanitise::line_owned(t), app.theme.style(s)))
            .collect::<Vec<_>>(),
    )
}

/// Draws one frame.
pub fn render(f: &mut Frame, app: &App) {
    let area = f.area();
    let areas = app.areas(area);
    header::render(f, &areas, app);
    body(f, &areas, app);
    if let Some(p) = app.player() {
        timeline::render(f, areas.timeline, p, &app.theme);
    }
    footer::render(f, areas.footer, app);
    match &app.view.popup {
        Some(Popup::Help { scroll }) => popup::help(f, area, *scroll, app),
        Some(Popup::Detail { table, id, scroll }) => {
            let detail = app.tables().get(*table).and_then(|t| t.detail(app.state(), id));
            popup::detail(f, area, detail.as_ref(), *scroll, app);
        }
        None => {}
    }
}

fn body(f: &mut Frame, areas: &layout::Areas, app: &App) {
    let theme = &app.theme;
    let mut title = vec![Span::styled(format!(" {} ", app.view.pane.title()), theme.style("ui.title"))];
    if let Some(table) = app.view.active_table() {
        let t = app.view.table(table);
        let shown = t.map(|t| t.rows.len()).unwrap_or(0);
        let selected = t.map(|t| if t.rows.is_empty() { 0 } else { t.selected + 1 }).unwrap_or(0);
        title.push(Span::styled(format!("{selected}/{shown} "), theme.style("ui.dim")));
        if let Some(filter) = t.map(|t| t.filter.as_str()).filter(|f| !f.is_empty()) {
            title.push(Span::styled(format!(" /{filter} "), theme.style("ui.filter")));
        }
        if let (TableId::Denials, Some(eid)) = (table, &app.view.denials_linked_to) {
            let name = app.state().exceptions().get(eid).map_or(eid.key.clone(), |e| e.display_name());
            title.push(Span::styled(
                format!(" linked to exception {}/{name} · esc shows all ", eid.cluster),
                theme.style("ui.filter"),
            ));
        }
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style("ui.border"))
        .title(Line::from(title));
    f.render_widget(block, areas.body);
    summary(f, areas.summary, app);
    match app.view.active_table() {
        Some(table) => {
            if let (Some(spec), Some(t)) = (app.tables().get(table), app.view.table(table)) {
                if t.rows.is_empty() {
                    let linked = table == TableId::Denials && app.view.denials_linked_to.is_some();
                    let msg = if linked {
                        "no denial is linked to this exception (esc shows all)"
                    } else if t.filter.is_empty() {
                        "nothing here yet"
                    } else {
                        "no rows match the filter (esc clears it)"
                    };
                    let [_, below] = ratatui::layout::Layout::vertical([
                        ratatui::layout::Constraint::Length(1),
                        ratatui::layout::Constraint::Min(0),
                    ])
                    .areas(areas.table);
                    table_render::render(f, areas.table, spec, t, app.state(), theme);
                    f.render_widget(
                        Paragraph::new(Line::styled(format!(" {msg}"), theme.style("ui.dim"))),
                        below,
                    );
                } else {
                    table_render::render(f, areas.table, spec, t, app.state(), theme);
                }
            }
        }
        None => cost_pane(f, areas.table, app),
    }
    if app.view.pane == PaneId::Fleet && areas.below.height > 1 {
        let mut lines = vec![Line::styled("── needs attention", app.theme.style("ui.title"))];
        let found = &app.derived().findings;
        if found.is_empty() {
            lines.push(Line::styled(
                "nothing: every cluster is live and no finding is open",
                app.theme.style("ui.dim"),
            ));
        }
        lines.extend(found.iter().map(|s| line_of(s.clone(), app)));
        let [_, area] = ratatui::layout::Layout::vertical([
            ratatui::layout::Constraint::Length(1),
            ratatui::layout::Constraint::Min(0),
        ])
        .areas(areas.below);
        f.render_widget(Paragraph::new(lines), area);
    }
}

fn summary(f: &mut Frame, area: Rect, app: &App) {
    if area.height == 0 {
        return;
    }
    let lines: Vec<Line> = app.derived().summary.iter().map(|s| line_of(s.clone(), app)).collect();
    f.render_widget(Paragraph::new(lines), area);
}

fn cost_pane(f: &mut Frame, area: Rect, app: &App) {
    let status = app.cost().status();
    let lines: Vec<Line> =
        cost::lines(&status, app.view.cost_by, area.width).into_iter().map(|s| line_of(s, app)).collect();
    // Long verdicts wrap; the tables are narrower than 80 columns.
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((app.view.cost_scroll, 0)), area);
}
