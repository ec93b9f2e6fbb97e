//! Writing recordings: the header once, then observations frames and periodic keyframes.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use jiff::Timestamp;

use super::error::RecordError;
use super::format::{
    FormatVersion, KIND_KEYFRAME, KIND_OBSERVATIONS, MAX_OBSERVATIONS_PER_FRAME, RecordingHeader,
    encode_file_header, encode_frame,
};
use crate::model::Observation;
use crate::state::FleetState;

/// Buffer in front of the sink; every [`RecordWriter::write_batch`] flushes it.
const BUFFER: usize = 256 * 1024;

/// Writes a `.fleetrec` recording.
///
/// Each frame is encoded whole in memory and handed to the OS in one piece at the end of
/// every [`RecordWriter::write_batch`], so a crash of fleettop leaves at most one torn
/// frame at the end of the file, which readers detect and drop. Errors (disk full, …) are
/// returned; after a failed write the writer refuses further batches with
/// [`RecordError::WriterFailed`] because anything appended after a torn frame would be
/// unreachable.
///
/// The writer records only what it is given: [`Observation`]s, which sources have
/// already projected (no Secret data, no environment values, no tokens), and keyframes of
/// the [`FleetState`] those observations built.
pub struct RecordWriter<W: Write = File> {
    out: BufWriter<W>,
    /// Handle used to fsync a file-backed recording.
    sync_handle: Option<File>,
    file: String,
    header: RecordingHeader,
    /// Bytes of complete frames (and the header) handed to the buffer.
    offset: u64,
    observations: u64,
    keyframes: u64,
    /// The state clock a replay has after the observations written so far.
    clock: Timestamp,
    /// Observation count and clock of the last keyframe.
    last_keyframe: Option<(u64, Timestamp)>,
    /// Set when a write failed: where the last complete frame ends.
    failed: Option<u64>,
}

impl<W: Write> std::fmt::Debug for RecordWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordWriter")
            .field("file", &self.file)
            .field("bytes_written", &self.offset)
            .field("observations", &self.observations)
            .field("keyframes", &self.keyframes)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl RecordWriter<File> {
    /// Creates (or truncates) `path` with mode 0600 and writes the header.
    ///
    /// An existing file's permissions are reset to 0600 as well. Parent directories are
    /// not created.
    pub fn create(path: impl AsRef<Path>, header: RecordingHeader) -> Result<Self, RecordError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io_err = |action, source| RecordError::Io { file: name.clone(), action, source };
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|e| io_err("create the recording", e))?;
        #[cfg(unix)]
        {
            // `mode` only applies to new files; an existing one keeps its mode otherwise.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io_err("make the recording private (mode 0600)", e))?;
        }
        let sync_handle = file.try_clone().ok();
        let mut writer = Self::with_name(file, header, name)?;
        writer.sync_handle = sync_handle;
        Ok(writer)
    }
}

impl<W: Write> RecordWriter<W> {
    /// A writer into any sink (a `Vec<u8>` in tests); writes the header.
    pub fn new(writer: W, header: RecordingHeader) -> Result<Self, RecordError> {
        Self::with_name(writer, header, "(in-memory recording)".to_string())
    }

    fn with_name(writer: W, mut header: RecordingHeader, file: String) -> Result<Self, RecordError> {
        header.format_version = FormatVersion::CURRENT;
        let json = serde_json::to_vec(&header).map_err(|e| RecordError::Encode {
            file: file.clone(),
            what: "header",
            reason: e.to_string(),
        })?;
        let bytes = encode_file_header(FormatVersion::CURRENT, &json)
            .map_err(|reason| RecordError::Encode { file: file.clone(), what: "header", reason })?;
        let clock = header.started_at;
        let mut w = Self {
            out: BufWriter::with_capacity(BUFFER, writer),
            sync_handle: None,
            file,
            header,
            offset: 0,
            observations: 0,
            keyframes: 0,
            clock,
            last_keyframe: None,
            failed: None,
        };
        w.put(&bytes)?;
        w.flush()?;
        Ok(w)
    }

    /// Appends `batch` as observations frame(s) and, when one is due, a keyframe of
    /// `state_after`; then hands the bytes to the OS. An empty batch writes nothing.
    ///
    /// `state_after` must be the state after applying exactly the observations given to
    /// this writer, in order, to a state that declared the header's clusters (the live
    /// reducer). Its clock may run ahead of the observations (ticks): keyframes store the
    /// clock and observation count a replay would have, so seeking through a keyframe
    /// gives the same state as replaying from the start.
    ///
    /// A keyframe is due after the first batch, then after
    /// [`KeyframeInterval::observations`](super::format::KeyframeInterval) observations or
    /// [`KeyframeInterval::seconds`](super::format::KeyframeInterval) of observation time
    /// since the previous one.
    pub fn write_batch(
        &mut self,
        batch: &[Observation],
        state_after: &FleetState,
    ) -> Result<(), RecordError> {
        self.check_usable()?;
        if batch.is_empty() {
            return Ok(());
        }
        for chunk in batch.chunks(MAX_OBSERVATIONS_PER_FRAME) {
            self.write_observations(chunk)?;
        }
        if self.keyframe_due() {
            self.write_keyframe(state_after)?;
        }
        self.flush()
    }

    /// Hands buffered bytes to the OS (no fsync; see [`RecordWriter::sync`]).
    pub fn flush(&mut self) -> Result<(), RecordError> {
        self.check_usable()?;
        if let Err(source) = self.out.flush() {
            // Part of the buffer may have reached the file: the end may be torn.
            let offset = self.offset - self.out.buffer().len() as u64;
            self.failed = Some(offset);
            return Err(RecordError::Write { file: self.file.clone(), offset, source });
        }
        Ok(())
    }

    /// Flushes and, for a file created by [`RecordWriter::create`], asks the OS to put the
    /// data on disk (fsync), so that even a power loss keeps what was written.
    pub fn sync(&mut self) -> Result<(), RecordError> {
        self.flush()?;
        if let Some(f) = &self.sync_handle {
            f.sync_data().map_err(|source| RecordError::Write {
                file: self.file.clone(),
                offset: self.offset,
                source,
            })?;
        }
        Ok(())
    }

    /// Flushes, syncs (files) and returns the sink.
    pub fn finish(mut self) -> Result<W, RecordError> {
        self.sync()?;
        let file = self.file.clone();
        let offset = self.offset;
        self.out.into_inner().map_err(|e| RecordError::Write { file, offset, source: e.into_error() })
    }

    /// The header as written (with the format version this build writes).
    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// Observations written so far.
    pub fn observations_written(&self) -> u64 {
        self.observations
    }

    /// Keyframes written so far.
    pub fn keyframes_written(&self) -> u64 {
        self.keyframes
    }

    /// Bytes of the header and complete frames written so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    fn check_usable(&self) -> Result<(), RecordError> {
        match self.failed {
            Some(offset) => Err(RecordError::WriterFailed { file: self.file.clone(), offset }),
            None => Ok(()),
        }
    }

    fn write_observations(&mut self, chunk: &[Observation]) -> Result<(), RecordError> {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
            return Ok(());
        };
        let json = serde_json::to_vec(chunk).map_err(|e| self.encode_error("observations", e))?;
        let frame = encode_frame(
            KIND_OBSERVATIONS,
            first.at.as_millisecond(),
            last.at.as_millisecond(),
            chunk.len() as u64,
            &json,
        )
        .map_err(|e| self.encode_error("observations", e))?;
        self.put(&frame)?;
        self.observations += chunk.len() as u64;
        for obs in chunk {
            if obs.at > self.clock {
                self.clock = obs.at;
            }
        }
        Ok(())
    }

    fn keyframe_due(&self) -> bool {
        let Some((at_count, at_time)) = self.last_keyframe else {
            return self.observations > 0;
        };
        let interval = self.header.keyframe_interval;
        let by_count = interval.observations > 0 && self.observations - at_count >= interval.observations;
        let by_time = interval.seconds > 0
            && self.clock.duration_since(at_time).as_secs()
                >= i64::try_from(interval.seconds).unwrap_or(i64::MAX);
        self.observations > at_count && (by_count || by_time)
    }

    fn write_keyframe(&mut self, state: &FleetState) -> Result<(), RecordError> {
        let mut keyframe = state.keyframe();
        // What a replay has at this point: the live clock may be ahead (ticks) and the
        // live reducer may count observations differently; the recording is the truth.
        keyframe.now = self.clock;
        keyframe.applied = self.observations;
        let ms = self.clock.as_millisecond();
        let json = serde_json::to_vec(&keyframe).map_err(|e| self.encode_error("keyframe", e))?;
        let frame = encode_frame(KIND_KEYFRAME, ms, ms, self.observations, &json)
            .map_err(|e| self.encode_error("keyframe", e))?;
        self.put(&frame)?;
        self.keyframes += 1;
        self.last_keyframe = Some((self.observations, self.clock));
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), RecordError> {
        if let Err(source) = self.out.write_all(bytes) {
            self.failed = Some(self.offset);
            return Err(RecordError::Write { file: self.file.clone(), offset: self.offset, source });
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn encode_error(&self, what: &'static str, e: impl std::fmt::Display) -> RecordError {
        RecordError::Encode { file: self.file.clone(), what, reason: e.to_string() }
    }
}
