//! The footer: the filter being typed, a notice, warnings, and key hints from the keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::ui::Action;
use crate::ui::app::App;

/// The actions the footer hints at, with their short labels.
const HINTS: [(Action, &str); 7] = [
    (Action::ToggleHelp, "help"),
    (Action::StartFilter, "filter"),
    (Action::OpenDetail, "detail"),
    (Action::NextPane, "pane"),
    (Action::SortNext, "sort"),
    (Action::Copy, "copy"),
    (Action::Quit, "quit"),
];

/// Draws the footer.
pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut spans = Vec::new();
    if let Some(text) = &app.view.seek_input {
        spans.push(Span::styled(format!(" go to: {text}█ "), theme.style("ui.filter")));
        spans.push(Span::styled(
            " 14:12 · +5m · 2026-11-27T14:12:00Z · enter go · esc cancel",
            theme.style("ui.dim"),
        ));
        f.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    if app.view.filtering {
        let filter =
            app.view.active_table().and_then(|t| app.view.table(t)).map(|t| t.filter.as_str()).unwrap_or("");
        spans.push(Span::styled(format!(" /{filter}█ "), theme.style("ui.filter")));
        spans.push(Span::styled(" enter keep · esc clear", theme.style("ui.dim")));
        f.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    for alert in app.alerts() {
        spans.push(Span::styled(format!(" ✖ {alert} "), theme.style("ui.error")));
    }
    if !app.warnings.is_empty() {
        spans.push(Span::styled(
            format!(" ⚠ {} warning(s), see help ", app.warnings.len()),
            theme.style("ui.warning"),
        ));
    }
    if let Some(n) = &app.notice {
        spans.push(Span::styled(format!(" {} ", crate::sanitise::line(n)), theme.style("ui.warning")));
    }
    let mut hints: Vec<(Action, &str)> = HINTS.to_vec();
    if app.player().is_some() {
        hints.insert(1, (Action::ReplayTogglePause, "play/pause"));
        hints.insert(2, (Action::ReplaySeekForward, "seek"));
    }
    for (action, label) in hints {
        if let Some(key) = app.keymap.keys_for(action).into_iter().next() {
            spans.push(Span::styled(format!(" {key}"), theme.style("ui.key")));
            spans.push(Span::styled(format!(" {label} "), theme.style("ui.footer")));
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)).style(theme.style("ui.footer")), area);
}
