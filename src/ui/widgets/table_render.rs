//! Draws a [`TableView`]: header plus only the rows that fit, so the cost of a frame does
//! not depend on how many rows the table has.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell as TuiCell, Row, Table};

use crate::state::FleetState;
use crate::ui::theme::Theme;
use crate::ui::view::TableState;
use crate::ui::widgets::table::TableView;

/// Narrowest a `Fill` column may get before columns are dropped.
const MIN_FILL: u16 = 10;

/// How many columns fit in `width`: columns are dropped from the right (the least important
/// by convention) until the fixed widths plus a minimum for each flexible column fit.
pub fn columns_that_fit(columns: &[(&'static str, Constraint)], width: u16) -> usize {
    let need = |n: usize| -> u32 {
        let cols: u32 = columns[..n]
            .iter()
            .map(|(_, c)| match c {
                Constraint::Length(l) | Constraint::Min(l) | Constraint::Max(l) => u32::from(*l),
                _ => u32::from(MIN_FILL),
            })
            .sum();
        cols + n.saturating_sub(1) as u32
    };
    let mut n = columns.len();
    while n > 1 && need(n) > u32::from(width) {
        n -= 1;
    }
    n
}

/// Draws the visible window of `table` into `area`.
pub fn render(
    f: &mut Frame,
    area: Rect,
    spec: &dyn TableView,
    t: &TableState,
    state: &FleetState,
    theme: &Theme,
) {
    let mut columns = spec.columns();
    let shown = columns_that_fit(&columns, area.width);
    columns.truncate(shown);
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
        let mut cells = spec.cells(state, id).unwrap_or_default();
        cells.truncate(shown);
        // Cells quote outside text: each passes the terminal sanitiser as it is drawn.
        let row =
            Row::new(cells.into_iter().map(|c| {
                TuiCell::from(Span::styled(crate::sanitise::line_owned(c.text), theme.style(c.scope)))
            }));
        if t.offset + i == t.selected { row.style(selected_style) } else { row }
    });
    let widths = columns.iter().map(|(_, w)| *w);
    f.render_widget(Table::new(rows, widths).header(header).column_spacing(1), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_drop_from_the_right_until_they_fit() {
        let cols = [("A", Constraint::Length(10)), ("B", Constraint::Fill(1)), ("C", Constraint::Length(10))];
        assert_eq!(columns_that_fit(&cols, 100), 3);
        assert_eq!(columns_that_fit(&cols, 32), 3, "10 + 10 + 10 + 2 spaces");
        assert_eq!(columns_that_fit(&cols, 31), 2);
        assert_eq!(columns_that_fit(&cols, 3), 1, "the first column always shows");
    }
}
