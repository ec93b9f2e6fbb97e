//! Recording and replay: the `.fleetrec` format (the incident's evidence).
//!
//! A recording holds every [`crate::model::Observation`] of a session, in order, in
//! zstd-compressed, checksummed frames, with periodic keyframes of the
//! [`crate::state::FleetState`] so that seeking does not replay from the start. The layout
//! is a versioned contract documented in `docs/recording-format.md`.
//!
//! - [`RecordWriter`] writes one (a new file only, mode 0600, one torn frame at most after a
//!   crash; a failed write says exactly what the file keeps).
//! - [`Recording`] reads one frame by frame within memory bounds, skipping damaged frames
//!   (a [`Gap`] says what was lost) and keeping everything before a torn end.
//! - [`Player`] replays one with pause, speed and seek.
//!
//! Nothing secret is recorded: observations are projections made by the sources (no
//! Secret data, no environment values, no tokens), keyframes are built from them, and the
//! header holds names and times only, never credentials.
//!
//! Owns: the `.fleetrec` format, its writer, reader and player.
//! May not import: `crate::ui`, `cli`, `analytics`, `sources`; ratatui (`tests/boundaries.rs`).

mod error;
mod format;
pub mod player;
mod reader;
mod unknown;
pub mod when;
mod writer;

#[cfg(test)]
mod tests;

pub use error::{Kept, RecordError};
pub use format::{
    FormatVersion, KeyframeInterval, MAGIC, MAX_DECODE_RATIO, MAX_DECODED_LEN, MAX_FRAME_JSON,
    MAX_HEADER_LEN, MAX_PAYLOAD_LEN, MIN_DECODE_ALLOWANCE, RecordingHeader, frame_decode_limit,
};
pub use player::Player;
pub use reader::{Gap, KeyframeEntry, ReadLimits, Recording, Truncation, TruncationKind};
pub use unknown::Skipped;
pub use writer::{Existing, RecordWriter};

/// The file name extension of recordings (without the dot).
pub const EXTENSION: &str = "fleetrec";
