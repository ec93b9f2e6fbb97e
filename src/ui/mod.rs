//! The terminal interface: panes, widgets, theme and keymap. Reads [`crate::state::FleetState`];
//! never does I/O while rendering.
//!
//! Owns: the app, its loop, panes, widgets, and choosing the theme and keymap.
//! May not import: `crate::cli`; kube, polars; no network, no clock in render
//! (`tests/boundaries.rs`).

pub mod action;
pub mod app;
pub mod config;
pub mod cost;
pub mod event;
pub mod keymap;
pub mod layout;
pub mod panes;
pub mod render;
pub mod run;
pub mod summaries;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod widgets;

pub use action::Action;
