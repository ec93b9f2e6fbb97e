//! The one input type of the app loop (observations reach the app through `App::ingest`,
//! straight from the channel, not as events).

use crossterm::event::KeyEvent;

/// Everything that can wake the app.
#[derive(Debug, Clone)]
pub enum Event {
    /// A key press.
    Key(KeyEvent),
    /// The terminal was resized to (columns, rows).
    Resize(u16, u16),
    /// Real time passed (drives the live clock and replay playback).
    Tick(std::time::Duration),
    /// The analytics worker computed a cost report.
    Analytics,
}
