//! Keymaps (placeholder).
