//! The terminal interface: panes, widgets, theme and keymap. Reads [`crate::state::FleetState`];
//! never does I/O while rendering.

pub mod action;
pub mod keymap;
pub mod theme;

pub use action::Action;
