//! Overlays: the detail view of a record and the help generated from the keymap.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::sanitise;
use crate::ui::Action;
use crate::ui::app::App;
use crate::ui::theme::Theme;
use crate::ui::widgets::table::{Detail, DetailLine};

/// A centred rectangle of `pct_w`×`pct_h` percent of `area`.
pub fn centered(area: Rect, pct_w: u16, pct_h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Percentage(pct_h)]).flex(Flex::Center).areas(area);
    let [h] = Layout::horizontal([Constraint::Percentage(pct_w)]).flex(Flex::Center).areas(v);
    h
}

fn detail_lines<'a>(detail: &'a Detail, theme: &Theme) -> Vec<Line<'a>> {
    let label_width = detail
        .lines
        .iter()
        .filter_map(|l| match l {
            DetailLine::Field { label, .. } => Some(label.chars().count()),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        .min(24);
    detail
        .lines
        .iter()
        .flat_map(|l| match l {
            // Detail views quote outside text: every part passes the terminal sanitiser.
            DetailLine::Section(s) => {
                vec![Line::styled(format!("── {} ", sanitise::line(s)), theme.style("ui.title"))]
            }
            DetailLine::Field { label, value, scope } => vec![Line::from(vec![
                Span::styled(format!("{:>label_width$}  ", sanitise::line(label)), theme.style("ui.dim")),
                Span::styled(sanitise::line(value), theme.style(scope)),
            ])],
            // Messages keep their own line breaks (Kyverno's policy → rule → message block).
            DetailLine::Text(t, scope) => {
                t.lines().map(|l| Line::styled(sanitise::line(l), theme.style(scope))).collect()
            }
            DetailLine::Blank => vec![Line::raw("")],
        })
        .collect()
}

/// Draws a record's detail view, or a note when the record is gone.
pub fn detail(f: &mut Frame, area: Rect, detail: Option<&Detail>, scroll: u16, app: &App) {
    let theme = &app.theme;
    let rect = centered(area, 90, 85);
    f.render_widget(Clear, rect);
    let copy = app.keymap.keys_for(Action::Copy).into_iter().next().unwrap_or_default();
    let close = app.keymap.keys_for(Action::Close).into_iter().next().unwrap_or_default();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style("ui.border.focus"))
        .title(Span::styled(
            format!(" {} ", sanitise::line(detail.map(|d| d.title.as_str()).unwrap_or("record"))),
            theme.style("ui.title"),
        ))
        .title_bottom(Line::styled(
            format!(" {close} close · {copy} copy · ↑↓ scroll "),
            theme.style("ui.dim"),
        ))
        .style(theme.style("ui.popup"));
    let lines = match detail {
        Some(d) => detail_lines(d, theme),
        None => vec![Line::styled(
            "This record no longer exists (deleted since it was opened).",
            theme.style("ui.dim"),
        )],
    };
    f.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }).scroll((scroll, 0)), rect);
}

/// Draws the help overlay: every binding of the keymap with its description, then warnings.
pub fn help(f: &mut Frame, area: Rect, scroll: u16, app: &App) {
    let theme = &app.theme;
    let rect = centered(area, 80, 85);
    f.render_widget(Clear, rect);
    let mut lines = Vec::new();
    if !app.warnings.is_empty() {
        lines.push(Line::styled(format!("── warnings ({})", app.warnings.len()), theme.style("ui.warning")));
        for w in &app.warnings {
            lines.push(Line::styled(sanitise::line(w), theme.style("ui.warning")));
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled("── keys", theme.style("ui.title")));
    for b in app.keymap.bindings() {
        let keys = b.keys.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ");
        lines.push(Line::from(vec![
            Span::styled(format!("{keys:>22}  "), theme.style("ui.key")),
            Span::styled(b.desc.as_str(), theme.style("ui.text")),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Filter (/) matches fuzzily on every column; rows keep a stable order; Enter opens the evidence.",
        theme.style("ui.dim"),
    ));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style("ui.border.focus"))
        .title(Span::styled(
            format!(" help · keymap {} · theme {} ", app.keymap.name(), theme.name()),
            theme.style("ui.title"),
        ))
        .style(theme.style("ui.popup"));
    f.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }).scroll((scroll, 0)), rect);
}
