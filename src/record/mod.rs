//! Recording and replay: the `.fleetrec` format (the incident's evidence).
//!
//! A recording holds every [`crate::model::Observation`] of a session, in order, in
//! zstd-compressed, checksummed frames, with periodic keyframes of the
//! [`crate::state::FleetState`] so that seeking does not replay from the start. The layout
//! is a versioned contract documented in `docs/recording-format.md`.
//!
//! - [`RecordWriter`] writes one (file mode 0600, one torn frame at most after a crash).
//! - [`Recording`] reads one whole, keeping everything before a torn or damaged frame.
//! - [`Player`] replays one with pause, speed and seek.
//!
//! Nothing secret is recorded: observations are projections made by the sources (no
//! Secret data, no environment values, no tokens), keyframes are built from them, and the
//! header holds names and times only, never credentials.

mod error;
mod format;
pub mod player;
mod reader;
mod unknown;
pub mod when;
mod writer;

#[cfg(test)]
mod tests;

pub use error::RecordError;
pub use format::{
    FormatVersion, KeyframeInterval, MAGIC, MAX_DECODED_LEN, MAX_HEADER_LEN, MAX_PAYLOAD_LEN, RecordingHeader,
};
pub use player::Player;
pub use reader::{KeyframeEntry, Recording, Truncation, TruncationKind};
pub use unknown::Skipped;
pub use writer::RecordWriter;

/// The file name extension of recordings (without the dot).
pub const EXTENSION: &str = "fleetrec";
