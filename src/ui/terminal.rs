//! The terminal: raw mode and the alternate screen on the way in, always restored on the way
//! out (also on a panic of the UI thread, through [`crate::panics`]; a panic elsewhere ends
//! the app loop, which restores it), and OSC 52 clipboard writes.

use std::io::Write;

use base64::Engine as _;

/// Enters raw mode and the alternate screen, and tells [`crate::panics`] that the calling
/// thread owns the terminal (a panic there restores it before the message is printed).
///
/// Not `ratatui::try_init`: its panic hook restores the terminal on a panic in *any* thread,
/// which left the UI running in line mode when a background task panicked.
pub fn init() -> std::io::Result<ratatui::DefaultTerminal> {
    crate::panics::set_ui_thread(Some((std::thread::current().id(), restore)));
    let entered = crossterm::terminal::enable_raw_mode()
        .and_then(|()| crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen))
        .and_then(|()| ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout())));
    if entered.is_err() {
        restore();
    }
    entered
}

/// Leaves raw mode and the alternate screen; the terminal is nobody's again.
pub fn restore() {
    ratatui::restore();
    crate::panics::set_ui_thread(None);
}

/// The OSC 52 sequence that asks the terminal (also through SSH and tmux) to set the clipboard.
pub fn osc52(text: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("\x1b]52;c;{b64}\x07")
}

/// Writes an OSC 52 clipboard sequence to the terminal.
pub fn copy_to_clipboard(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout();
    out.write_all(osc52(text).as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    #[test]
    fn osc52_encodes_base64_and_terminates_with_bel() {
        assert_eq!(super::osc52("hi"), "\x1b]52;c;aGk=\x07");
    }
}
