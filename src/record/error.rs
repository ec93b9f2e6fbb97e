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

    /// Writing a frame failed (disk full, I/O error). The file holds every whole frame up
    /// to `kept.offset`; a file the writer created is cut back to that byte.
    #[error("{file}: writing the recording failed: {source}; {kept}")]
    Write {
        /// The file.
        file: String,
        /// What the file holds whole.
        kept: Kept,
        /// The OS error.
        source: io::Error,
    },

    /// An earlier write failed; the writer accepts nothing more.
    #[error(
        "{file}: the recording stopped after an earlier write error ({kept}); start a new recording to keep recording"
    )]
    WriterFailed {
        /// The file.
        file: String,
        /// What the file holds whole.
        kept: Kept,
    },

    /// Something already exists where a new recording was to be created; it is left alone.
    #[error("{file} already exists ({what}); fleettop does not overwrite files")]
    Exists {
        /// The path.
        file: String,
        /// What is there, in words.
        what: String,
    },

    /// Asked to replace what is not a regular file or a symbolic link (a directory, a device,
    /// a FIFO): refused, whatever was asked.
    #[error("{file} is {what}, not a regular file: recordings replace only regular files")]
    NotReplaceable {
        /// The path.
        file: String,
        /// What is there, in words.
        what: String,
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

/// What a recording file holds after a failed write: every frame up to `offset`, whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    /// Where the last whole frame ends (the header's end when no frame reached the file).
    pub offset: u64,
    /// Observations in the whole frames.
    pub observations: u64,
    /// The latest observation time in them.
    pub until: Option<jiff::Timestamp>,
    /// True when the file ends exactly there (the torn rest, if any, was cut off).
    pub clean: bool,
}

impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.observations;
        write!(
            f,
            "the file keeps {n} observation{} in its first {} bytes",
            if n == 1 { "" } else { "s" },
            self.offset
        )?;
        if let Some(t) = self.until {
            write!(f, ", up to {}", t.strftime("%Y-%m-%d %H:%M:%S UTC"))?;
        }
        if !self.clean {
            write!(f, "; a torn frame follows (readers drop it)")?;
        }
        Ok(())
    }
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
