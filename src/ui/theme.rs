//! Themes (placeholder).
