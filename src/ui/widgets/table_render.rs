//! Draws a [`TableView`]: header plus only the rows that fit, so the cost of a frame does
//! not depend on how many rows the table has.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Cell as TuiCell, Row, Table};

use crate::state::FleetState;
use crate::ui::theme::Theme;
use crate::ui::view::TableState;
use crate::ui::widgets::table::TableView;

/// Draws the visible window of `table` into `area`.
pub fn render(
    f: &mut Frame,
    area: Rect,
    spec: &dyn TableView,
    t: &TableState,
    state: &FleetState,
    theme: &Theme,
) {
    let columns = spec.columns();
    let (sort_col, desc) = t.sort.unwrap_or(spec.default_sort());
    let header = Row::new(columns.iter().enumerate().map(|(i, (title, _))| {
        let arrow = if i == sort_col { if desc { "▼" } else { "▲" } } else { "" };
        TuiCell::from(format!("{title}{arrow}"))
    }))
    .style(theme.style("table.header"));
    let visible = area.height.saturating_sub(1) as usize;
    let end = (t.offset + visible).min(t.rows.len());
    let selected_style = theme.style("table.selected");
    let rows = t.rows.get(t.offset..end).unwrap_or(&[]).iter().enumerate().map(|(i, id)| {
        let cells = spec.cells(state, id).unwrap_or_default();
        let row =
            Row::new(cells.into_iter().map(|c| TuiCell::from(Span::styled(c.text, theme.style(c.scope)))));
        if t.offset + i == t.selected { row.style(selected_style) } else { row }
    });
    let widths = columns.iter().map(|(_, w)| *w);
    f.render_widget(Table::new(rows, widths).header(header).column_spacing(1), area);
}
