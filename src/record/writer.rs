//! Writing recordings: the header once, then observations frames and periodic keyframes.
//!
//! Creating a recording never touches what fleettop did not create: the file is made with
//! `O_CREAT | O_EXCL` (an existing path, a symbolic link included, is refused, and a link is
//! never followed) and mode 0600, and nothing is ever `chmod`ed. See [`Existing`] for asking
//! to replace a file.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::error::{Kept, RecordError};
use super::format::{
    FormatVersion, KIND_KEYFRAME, KIND_OBSERVATIONS, MAX_FRAME_JSON, MAX_OBSERVATIONS_PER_FRAME,
    RecordingHeader, encode_file_header, encode_frame,
};
use crate::model::Observation;
use crate::state::FleetState;

/// What [`RecordWriter::create`] does when something already exists at the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse with [`RecordError::Exists`]: an existing file may be someone's evidence.
    Refuse,
    /// Replace a regular file or a symbolic link (the link itself, never what it points to)
    /// with a new file; directories, devices, FIFOs and sockets are still refused.
    Replace,
}

/// The most numbered names [`RecordWriter::create_numbered`] tries.
const MAX_NUMBERED: u32 = 1000;

/// Where the last frame that reached the sink whole ends, and what the sink holds up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    /// Byte offset of the end of the frame (the header's end before any frame).
    end: u64,
    /// Observations in the frames up to `end`.
    observations: u64,
    /// The latest observation time up to `end`.
    until: Option<Timestamp>,
}

/// Writes a `.fleetrec` recording.
///
/// Each batch's frames are encoded whole in memory and handed to the OS at the end of every
/// [`RecordWriter::write_batch`], so a crash of fleettop leaves at most one torn frame at the
/// end of the file, which readers detect and drop. Errors (disk full, …) are returned with
/// the exact byte where the whole frames end ([`RecordError::Write`]); a file created by
/// [`RecordWriter::create`] is then cut back to that byte, so it ends on a whole frame.
/// After a failed write the writer refuses further batches with
/// [`RecordError::WriterFailed`] because anything appended after a torn frame would be
/// unreachable.
///
/// The writer records only what it is given: [`Observation`]s, which sources have
/// already projected (no Secret data, no environment values, no tokens), and keyframes of
/// the [`FleetState`] those observations built.
pub struct RecordWriter<W: Write = File> {
    out: W,
    /// Encoded bytes not yet accepted by the sink.
    pending: Vec<u8>,
    /// The frames in `pending`, in order.
    pending_marks: Vec<Mark>,
    /// Handle used to fsync and, after a failed write, cut a file-backed recording.
    file_handle: Option<File>,
    file: String,
    header: RecordingHeader,
    /// Bytes of the header and frames encoded so far (accepted by the sink or pending).
    offset: u64,
    /// Bytes the sink accepted.
    accepted: u64,
    /// The last frame the sink accepted whole.
    whole: Mark,
    observations: u64,
    keyframes: u64,
    /// The state clock a replay has after the observations written so far.
    clock: Timestamp,
    /// The latest observation time written so far.
    until: Option<Timestamp>,
    /// Observation count and clock of the last keyframe.
    last_keyframe: Option<(u64, Timestamp)>,
    /// Set when a write failed: what the sink holds whole.
    failed: Option<Kept>,
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
    /// Creates `path` with mode 0600 and writes the header. Parent directories are not
    /// created.
    ///
    /// The file is opened with `O_CREAT | O_EXCL`: it must not exist, and a symbolic link
    /// at `path` is never followed. With [`Existing::Refuse`] an existing path is
    /// [`RecordError::Exists`]; with [`Existing::Replace`] a regular file or a link there is
    /// removed first (anything else is refused). Nothing that fleettop did not create is
    /// written to or `chmod`ed. When the header cannot be written the new file is removed.
    pub fn create(
        path: impl AsRef<Path>,
        header: RecordingHeader,
        existing: Existing,
    ) -> Result<Self, RecordError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        if existing == Existing::Replace {
            remove_replaceable(path, &name)?;
        }
        let file = match open_new(path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(RecordError::Exists { file: name, what: describe_existing(path) });
            }
            Err(source) => {
                return Err(RecordError::Io { file: name, action: "create the recording", source });
            }
        };
        Self::start_file(file, path, header, name)
    }

    /// Creates `stem.fleetrec`, or the first of `stem-2.fleetrec`, `stem-3.fleetrec`, … that
    /// does not exist yet (the default name of `--record` has a time in it, so a second
    /// session started in the same second gets the next number). Returns the writer and the
    /// path it chose.
    pub fn create_numbered(
        dir: impl AsRef<Path>,
        stem: &str,
        header: RecordingHeader,
    ) -> Result<(Self, PathBuf), RecordError> {
        let dir = dir.as_ref();
        let ext = super::EXTENSION;
        for n in 1..=MAX_NUMBERED {
            let path = if n == 1 {
                dir.join(format!("{stem}.{ext}"))
            } else {
                dir.join(format!("{stem}-{n}.{ext}"))
            };
            let name = path.display().to_string();
            match open_new(&path) {
                Ok(file) => return Ok((Self::start_file(file, &path, header, name)?, path)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(RecordError::Io { file: name, action: "create the recording", source });
                }
            }
        }
        Err(RecordError::Exists {
            file: dir.join(format!("{stem}-{MAX_NUMBERED}.{ext}")).display().to_string(),
            what: format!("a file, like the {} numbered names before it", MAX_NUMBERED - 1),
        })
    }

    /// Writes the header into a file this process just created; removes it when that fails.
    fn start_file(
        file: File,
        path: &Path,
        header: RecordingHeader,
        name: String,
    ) -> Result<Self, RecordError> {
        let handle = file.try_clone().ok();
        match Self::with_name(file, header, name) {
            Ok(mut writer) => {
                writer.file_handle = handle;
                Ok(writer)
            }
            Err(e) => {
                // Ours, and holding no whole header: nothing to keep.
                let _ = std::fs::remove_file(path);
                Err(e)
            }
        }
    }
}

/// Opens a new file for writing: `O_CREAT | O_EXCL` (fails on anything existing, a symbolic
/// link included, without following it), mode 0600 (before the umask, which can only take
/// permissions away).
fn open_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

/// For [`Existing::Replace`]: removes a regular file or a symbolic link at `path` (the link,
/// not its target); refuses anything else; nothing there is fine.
fn remove_replaceable(path: &Path, name: &str) -> Result<(), RecordError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(RecordError::Io { file: name.to_string(), action: "look at the path", source });
        }
    };
    let kind = meta.file_type();
    if !(kind.is_file() || kind.is_symlink()) {
        return Err(RecordError::NotReplaceable { file: name.to_string(), what: describe_existing(path) });
    }
    std::fs::remove_file(path).map_err(|source| RecordError::Io {
        file: name.to_string(),
        action: "remove the file it replaces",
        source,
    })
}

/// What is at `path`, in words (`a regular file of 1042 bytes`, `a symbolic link to …`).
fn describe_existing(path: &Path) -> String {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return "something".to_string();
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        match std::fs::read_link(path) {
            Ok(target) => format!("a symbolic link to {}", target.display()),
            Err(_) => "a symbolic link".to_string(),
        }
    } else if kind.is_file() {
        format!("a file of {} bytes", meta.len())
    } else {
        crate::files::kind(kind).to_string()
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
        let start = Mark { end: 0, observations: 0, until: None };
        let mut w = Self {
            out: writer,
            pending: Vec::new(),
            pending_marks: Vec::new(),
            file_handle: None,
            file,
            header,
            offset: 0,
            accepted: 0,
            whole: start,
            observations: 0,
            keyframes: 0,
            clock,
            until: None,
            last_keyframe: None,
            failed: None,
        };
        w.put(&bytes);
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

    /// Hands the encoded frames to the OS (no fsync; see [`RecordWriter::sync`]).
    ///
    /// On an error the writer fails for good: the error names the byte where the whole
    /// frames end, and a file made by [`RecordWriter::create`] is cut back to it.
    pub fn flush(&mut self) -> Result<(), RecordError> {
        self.check_usable()?;
        let mut done = 0;
        let result = loop {
            if done == self.pending.len() {
                break self.out.flush();
            }
            match self.out.write(&self.pending[done..]) {
                Ok(0) => {
                    break Err(std::io::Error::new(ErrorKind::WriteZero, "the file accepted no more bytes"));
                }
                Ok(n) => {
                    done += n;
                    self.accepted += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        // Every frame that reached the sink whole is kept, whatever happened after it.
        let accepted = self.accepted;
        let whole = self.pending_marks.iter().take_while(|m| m.end <= accepted).count();
        if let Some(last) = self.pending_marks.drain(..whole).next_back() {
            self.whole = last;
        }
        self.pending.drain(..done);
        match result {
            Ok(()) => Ok(()),
            Err(source) => Err(self.fail(source)),
        }
    }

    /// Flushes and, for a file created by [`RecordWriter::create`], asks the OS to put the
    /// data on disk (fsync), so that even a power loss keeps what was written.
    pub fn sync(&mut self) -> Result<(), RecordError> {
        self.flush()?;
        if let Some(f) = &self.file_handle
            && let Err(source) = f.sync_data()
        {
            return Err(self.fail(source));
        }
        Ok(())
    }

    /// Flushes, syncs (files) and returns the sink.
    pub fn finish(mut self) -> Result<W, RecordError> {
        self.sync()?;
        Ok(self.out)
    }

    /// The header as written (with the format version this build writes).
    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// The file's name as errors give it.
    pub fn file(&self) -> &str {
        &self.file
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

    /// What the file holds whole: set once a write failed.
    pub fn failed(&self) -> Option<Kept> {
        self.failed
    }

    fn check_usable(&self) -> Result<(), RecordError> {
        match self.failed {
            Some(kept) => Err(RecordError::WriterFailed { file: self.file.clone(), kept }),
            None => Ok(()),
        }
    }

    /// Marks the writer failed: everything after the last whole frame is dropped (and cut
    /// from a file made by [`RecordWriter::create`], so it ends on a whole frame).
    fn fail(&mut self, source: std::io::Error) -> RecordError {
        let whole = self.whole;
        let cut = match &self.file_handle {
            Some(f) if self.accepted > whole.end => f.set_len(whole.end).is_ok(),
            _ => self.accepted == whole.end,
        };
        let kept =
            Kept { offset: whole.end, observations: whole.observations, until: whole.until, clean: cut };
        self.failed = Some(kept);
        self.pending.clear();
        self.pending_marks.clear();
        RecordError::Write { file: self.file.clone(), kept, source }
    }

    fn write_observations(&mut self, chunk: &[Observation]) -> Result<(), RecordError> {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
            return Ok(());
        };
        let json = serde_json::to_vec(chunk).map_err(|e| self.encode_error("observations", e))?;
        if json.len() > MAX_FRAME_JSON && chunk.len() > 1 {
            // Large observations: smaller frames keep every frame well within what readers
            // decode (`format::frame_decode_limit`).
            let (a, b) = chunk.split_at(chunk.len() / 2);
            self.write_observations(a)?;
            return self.write_observations(b);
        }
        let frame = encode_frame(
            KIND_OBSERVATIONS,
            first.at.as_millisecond(),
            last.at.as_millisecond(),
            chunk.len() as u64,
            &json,
        )
        .map_err(|e| self.encode_error("observations", e))?;
        self.observations += chunk.len() as u64;
        for obs in chunk {
            if obs.at > self.clock {
                self.clock = obs.at;
            }
            if self.until.is_none_or(|u| obs.at > u) {
                self.until = Some(obs.at);
            }
        }
        self.put(&frame);
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
        self.put(&frame);
        self.keyframes += 1;
        self.last_keyframe = Some((self.observations, self.clock));
        Ok(())
    }

    /// Queues one whole frame (or the header) for the next [`RecordWriter::flush`].
    fn put(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        self.offset += bytes.len() as u64;
        self.pending_marks.push(Mark {
            end: self.offset,
            observations: self.observations,
            until: self.until,
        });
    }

    fn encode_error(&self, what: &'static str, e: impl std::fmt::Display) -> RecordError {
        RecordError::Encode { file: self.file.clone(), what, reason: e.to_string() }
    }
}
