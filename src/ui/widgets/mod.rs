//! Reusable drawing pieces: the virtual table, formatting helpers, popups, header, timeline.

pub mod footer;
pub mod format;
pub mod header;
pub mod popup;
pub mod table;
pub mod table_render;
pub mod timeline;
