//! The replay timeline: play state, speed, position and a progress bar.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::record::Player;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// Draws `▶ 10×  14:12:30 ━━━━━━╸──── 14:30:00  +12m30s / 30m00s`.
pub fn render(f: &mut Frame, area: Rect, player: &Player, theme: &Theme) {
    let state = if player.at_end() {
        "■ end"
    } else if player.paused() {
        "⏸ paused"
    } else {
        "▶ playing"
    };
    let left = format!(" {state} {}×  {} ", format::qty(player.speed()), format::clock(player.position()));
    let elapsed = player.position().duration_since(player.start());
    let total = player.end().duration_since(player.start());
    let right = format!(
        " {}  +{} / {} ",
        format::clock(player.end()),
        format::age_precise(elapsed),
        format::age_precise(total)
    );
    let width = (area.width as usize).saturating_sub(left.chars().count() + right.chars().count()).max(1);
    let played = ((player.progress().clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    let head = if played < width { "╸" } else { "" };
    let rest = width.saturating_sub(played + head.chars().count());
    let line = Line::from(vec![
        Span::styled(left, theme.style(if player.paused() { "mode.paused" } else { "mode.replay" })),
        Span::styled("━".repeat(played), theme.style("timeline.played")),
        Span::styled(head, theme.style("timeline.head")),
        Span::styled("─".repeat(rest), theme.style("timeline.rest")),
        Span::styled(right, theme.style("ui.dim")),
    ]);
    f.render_widget(Paragraph::new(line), area);
}
