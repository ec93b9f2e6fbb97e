//! The one input type of the app loop.

use crossterm::event::KeyEvent;

use crate::model::Observation;

/// Everything that can wake the app.
#[derive(Debug, Clone)]
pub enum Event {
    /// A key press.
    Key(KeyEvent),
    /// The terminal was resized to (columns, rows).
    Resize(u16, u16),
    /// Real time passed (drives the live clock and replay playback).
    Tick(std::time::Duration),
    /// Observations from the sources, in order.
    Observations(Vec<Observation>),
    /// The analytics worker computed a cost report.
    Analytics,
}
