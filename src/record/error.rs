//! Errors of reading and writing recordings.

use std::fmt;
use std::io;

use super::format::FormatVersion;

/// Why a recording could not be opened or written. Every message says which file and,
/// where it matters, at which byte.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The bytes are not a fleettop recording at all (empty, text, another format).
    #[error("{file} is not a fleettop recording: {reason}")]
    NotARecording {
        /// The file (or a description of in-memory bytes).
        file: String,
        /// What was found instead.
        reason: String,
    },

    /// The recording was written in a format version this build cannot read.
    #[error(
        "{file} uses recording format {found}, but this fleettop ({}) reads format {}.x; {}",
        env!("CARGO_PKG_VERSION"),
        supported.major,
        VersionHint(*found, *supported)
    )]
    UnsupportedVersion {
        /// The file.
        file: String,
        /// The version in the file.
        found: FormatVersion,
        /// The version this build writes (it reads every minor of that major).
        supported: FormatVersion,
    },

    /// The header (magic, version, header JSON) is truncated or damaged.
    #[error("{file}: the recording header is unreadable at byte {offset}: {reason}")]
    BadHeader {
        /// The file.
        file: String,
        /// Where the problem was found.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// Opening or reading the file failed.
    #[error("{file}: cannot {action}: {source}")]
    Io {
        /// The file.
        file: String,
        /// What was being done (`open the recording`, `create the recording`, …).
        action: &'static str,
        /// The OS error.
        source: io::Error,
    },

    /// Writing a frame failed (disk full, I/O error). The file holds every frame before
    /// `offset` and at most one torn frame after it.
    #[error("{file}: writing the recording failed at byte {offset}: {source}")]
    Write {
        /// The file.
        file: String,
        /// Where the frame that failed starts.
        offset: u64,
        /// The OS error.
        source: io::Error,
    },

    /// An earlier write failed; the writer accepts nothing more.
    #[error(
        "{file}: the recording stopped at byte {offset} after an earlier write error; \
         start a new recording to keep recording"
    )]
    WriterFailed {
        /// The file.
        file: String,
        /// How far the recording got (anything after it is missing or torn).
        offset: u64,
    },

    /// A frame could not be encoded (JSON or compression failed, or it is too large).
    #[error("{file}: cannot encode a {what} frame: {reason}")]
    Encode {
        /// The file.
        file: String,
        /// `observations`, `keyframe` or `header`.
        what: &'static str,
        /// What failed.
        reason: String,
    },
}

/// The advice at the end of [`RecordError::UnsupportedVersion`].
struct VersionHint(FormatVersion, FormatVersion);

impl fmt::Display for VersionHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (found, supported) = (self.0, self.1);
        if found.major > supported.major {
            write!(f, "upgrade fleettop to replay it")
        } else {
            write!(f, "no fleettop release writes format {}.x", found.major)
        }
    }
}
