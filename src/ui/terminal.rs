//! The terminal: raw mode and the alternate screen on the way in, always restored on the way
//! out (also on panic), and OSC 52 clipboard writes.

use std::io::Write;

use base64::Engine as _;

/// Enters raw mode and the alternate screen; installs a panic hook that restores the terminal
/// before the panic message is printed.
pub fn init() -> std::io::Result<ratatui::DefaultTerminal> {
    ratatui::try_init()
}

/// Leaves raw mode and the alternate screen.
pub fn restore() {
    ratatui::restore();
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
