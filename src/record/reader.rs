//! Reading recordings: the header, every observation, keyframes, and seeking.

use std::fmt;
use std::path::Path;

use jiff::Timestamp;

use super::error::RecordError;
use super::format::{
    FRAME_HEADER_LEN, FormatVersion, FrameHeader, KIND_KEYFRAME, KIND_OBSERVATIONS, MAGIC, MAX_HEADER_LEN,
    MAX_PAYLOAD_LEN, PREAMBLE_LEN, RecordingHeader, decompress, u16_at, u32_at,
};
use super::unknown::{self, Skipped};
use crate::model::Observation;
use crate::state::{FleetState, Keyframe};

/// Why the frames of a recording end before the end of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TruncationKind {
    /// The last frame is incomplete: fleettop stopped (crash, kill, full disk) while
    /// writing it.
    Incomplete,
    /// A frame is damaged: a checksum does not match or the payload does not decode.
    Corrupt,
}

/// Where and why reading stopped early; everything before `offset` was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// Byte offset of the first frame that could not be read.
    pub offset: u64,
    /// Incomplete (torn write) or corrupt.
    pub kind: TruncationKind,
    /// What is wrong, in words.
    pub reason: String,
    /// Bytes from `offset` to the end of the file, which were not read.
    pub dropped_bytes: u64,
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TruncationKind::Incomplete => "ends with an incomplete frame",
            TruncationKind::Corrupt => "is damaged",
        };
        write!(
            f,
            "the recording {what} at byte {}: {}; the last {} bytes were not replayed",
            self.offset, self.reason, self.dropped_bytes
        )
    }
}

/// A keyframe of a recording: the whole state after the first [`KeyframeEntry::index`]
/// observations this build read (observations of unknown kinds are not counted). Kept
/// compressed in memory and decoded on seek.
#[derive(Debug, Clone)]
pub struct KeyframeEntry {
    index: usize,
    at: Timestamp,
    payload: Vec<u8>,
}

impl KeyframeEntry {
    /// The number of observations before the keyframe (it follows observation `index - 1`).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The keyframe's state clock.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// Decodes the keyframe (checked once when the recording was read), without the records
    /// of tables this build does not know; its `applied` is [`KeyframeEntry::index`], what a
    /// replay of this recording's observations has applied at that point.
    pub fn decode(&self) -> Result<Keyframe, String> {
        let (mut frame, _) = self.decode_as_written()?;
        frame.applied = self.index as u64;
        Ok(frame)
    }

    /// The keyframe as the file holds it (`applied` counts every observation before it) and
    /// how many records of unknown tables were left out.
    fn decode_as_written(&self) -> Result<(Keyframe, u64), String> {
        unknown::keyframe(&decompress(&self.payload)?)
    }
}

/// A recording, read whole into memory: the header, every observation in order, and the
/// keyframes that make seeking fast.
///
/// The state of a recording at any point is defined by replay: start from
/// [`Recording::initial_state`] and apply the observations in file order.
#[derive(Debug, Clone)]
pub struct Recording {
    header: RecordingHeader,
    version: FormatVersion,
    observations: Vec<Observation>,
    /// `frontier[i]`: the latest `at` among observations `0..=i` (times may go backwards
    /// between clusters; positions in time use this running maximum).
    frontier: Vec<Timestamp>,
    keyframes: Vec<KeyframeEntry>,
    truncated: Option<Truncation>,
    /// Observations in the file's frames, those of unknown kinds included.
    in_file: u64,
    skipped: Skipped,
    byte_len: u64,
}

impl Recording {
    /// Reads the recording at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Recording, RecordError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| RecordError::Io {
            file: file.clone(),
            action: "read the recording",
            source,
        })?;
        parse(&bytes, file)
    }

    /// Reads a recording from memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Recording, RecordError> {
        parse(bytes, "(in-memory recording)".to_string())
    }

    /// Reads a recording from memory, naming it `name` in errors (e.g. `bundled demo`).
    pub fn from_bytes_named(bytes: &[u8], name: &str) -> Result<Recording, RecordError> {
        parse(bytes, name.to_string())
    }

    /// The header.
    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// The format version of the file (may be a newer minor than this build writes).
    pub fn format_version(&self) -> FormatVersion {
        self.version
    }

    /// Every observation, in the order it was recorded.
    pub fn observations(&self) -> &[Observation] {
        &self.observations
    }

    /// The keyframes, in order.
    pub fn keyframes(&self) -> &[KeyframeEntry] {
        &self.keyframes
    }

    /// Set when the file ends with a torn or damaged frame; reading stopped there.
    pub fn truncated(&self) -> Option<&Truncation> {
        self.truncated.as_ref()
    }

    /// What was skipped because this build does not know its kind (a newer fleettop wrote
    /// the file): nothing in a file this build could have written.
    pub fn skipped(&self) -> Skipped {
        self.skipped
    }

    /// The warning to show when observations were skipped (see [`Recording::skipped`]).
    pub fn skipped_warning(&self) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let what = match self.skipped.observations {
            0 => "records of kinds this fleettop does not know were left out of its keyframes".to_string(),
            n => format!(
                "{n} observation{} of kinds this fleettop does not know {} skipped",
                if n == 1 { "" } else { "s" },
                if n == 1 { "was" } else { "were" }
            ),
        };
        Some(format!(
            "{what} (written by fleettop {}, format {}; this is fleettop {}): upgrade fleettop to see them",
            self.header.fleettop_version,
            self.version,
            env!("CARGO_PKG_VERSION")
        ))
    }

    /// Size of the file in bytes.
    pub fn byte_len(&self) -> u64 {
        self.byte_len
    }

    /// The first observation's time, or the header's `started_at` when there is none.
    pub fn start(&self) -> Timestamp {
        self.observations.first().map_or(self.header.started_at, |o| o.at)
    }

    /// The latest observation time, or the header's `started_at` when there is none.
    pub fn end(&self) -> Timestamp {
        self.frontier.last().copied().unwrap_or(self.header.started_at)
    }

    /// How many observations a replay up to time `t` applies: the longest prefix whose
    /// observations all have `at <= t` (observations are applied in file order).
    pub fn position(&self, t: Timestamp) -> usize {
        self.frontier.partition_point(|at| *at <= t)
    }

    /// The state before any observation: clock at `started_at`, header clusters declared.
    pub fn initial_state(&self) -> FleetState {
        FleetState::with_clusters(self.header.started_at, &self.header.clusters)
    }

    /// The state after the first `n` observations (clamped to the recording), starting
    /// from the last keyframe at or before `n`. Its clock is the latest observation time
    /// (or `started_at`).
    pub fn state_after(&self, n: usize) -> FleetState {
        let n = n.min(self.observations.len());
        let (mut state, from) = self.base_for(n);
        state.apply_all(&self.observations[from..n]);
        state
    }

    /// The state at time `t`: every observation of [`Recording::position`]`(t)` applied
    /// and the clock moved to `t` (it never goes back before `started_at`).
    pub fn state_at(&self, t: Timestamp) -> FleetState {
        let mut state = self.state_after(self.position(t));
        state.set_clock(t);
        state
    }

    /// The state of the last keyframe at or before `n` observations and its index, or the
    /// initial state and 0 when there is none.
    pub(crate) fn base_for(&self, n: usize) -> (FleetState, usize) {
        let upto = self.keyframes.partition_point(|k| k.index <= n);
        for entry in self.keyframes[..upto].iter().rev() {
            // Checked when the file was read; a failure here falls back to an earlier one.
            if let Ok(frame) = entry.decode() {
                let mut state = FleetState::from_keyframe(&frame);
                // Keyframes of a live session may lack a declared cluster that never sent
                // anything; the initial state has it, so add it here too.
                for id in &self.header.clusters {
                    state.add_cluster(id.clone());
                }
                return (state, entry.index);
            }
        }
        (self.initial_state(), 0)
    }

    /// The last keyframe index at or before `n` (0 when none).
    pub(crate) fn keyframe_index_before(&self, n: usize) -> usize {
        let upto = self.keyframes.partition_point(|k| k.index <= n);
        upto.checked_sub(1).and_then(|i| self.keyframes.get(i)).map_or(0, |k| k.index)
    }
}

fn parse(bytes: &[u8], file: String) -> Result<Recording, RecordError> {
    let (header, version, mut pos) = parse_header(bytes, &file)?;
    let mut rec = Recording {
        header,
        version,
        observations: Vec::new(),
        frontier: Vec::new(),
        keyframes: Vec::new(),
        truncated: None,
        in_file: 0,
        skipped: Skipped::default(),
        byte_len: bytes.len() as u64,
    };
    while pos < bytes.len() {
        match read_frame(bytes, pos, &mut rec) {
            Ok(next) => pos = next,
            Err((kind, reason)) => {
                rec.truncated = Some(Truncation {
                    offset: pos as u64,
                    kind,
                    reason,
                    dropped_bytes: (bytes.len() - pos) as u64,
                });
                break;
            }
        }
    }
    Ok(rec)
}

fn parse_header(bytes: &[u8], file: &str) -> Result<(RecordingHeader, FormatVersion, usize), RecordError> {
    let bad = |offset: usize, reason: String| RecordError::BadHeader {
        file: file.to_string(),
        offset: offset as u64,
        reason,
    };
    if bytes.is_empty() {
        return Err(RecordError::NotARecording {
            file: file.to_string(),
            reason: "the file is empty".to_string(),
        });
    }
    let n = bytes.len().min(MAGIC.len());
    if bytes[..n] != MAGIC[..n] {
        return Err(RecordError::NotARecording {
            file: file.to_string(),
            reason: format!(
                "it starts with {} instead of the magic bytes \"FLEETREC\"",
                describe(&bytes[..n])
            ),
        });
    }
    if bytes.len() < PREAMBLE_LEN {
        return Err(bad(
            bytes.len(),
            format!(
                "the file ends after {} bytes, inside the {PREAMBLE_LEN}-byte preamble \
                 (magic, version, header length)",
                bytes.len()
            ),
        ));
    }
    let found = FormatVersion { major: u16_at(bytes, 8), minor: u16_at(bytes, 10) };
    if !found.is_readable() {
        return Err(RecordError::UnsupportedVersion {
            file: file.to_string(),
            found,
            supported: FormatVersion::CURRENT,
        });
    }
    let len = u32_at(bytes, 12);
    if len > MAX_HEADER_LEN {
        return Err(bad(12, format!("the header length {len} exceeds the {MAX_HEADER_LEN}-byte limit")));
    }
    let json_end = PREAMBLE_LEN + len as usize;
    let end = json_end + 4;
    if bytes.len() < end {
        return Err(bad(
            bytes.len(),
            format!("the file ends after {} bytes, inside the {end}-byte header", bytes.len()),
        ));
    }
    let json = &bytes[PREAMBLE_LEN..json_end];
    let stored = u32_at(bytes, json_end);
    let actual = crc32fast::hash(json);
    if stored != actual {
        return Err(bad(
            json_end,
            format!("header checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"),
        ));
    }
    let header: RecordingHeader = serde_json::from_slice(json)
        .map_err(|e| bad(PREAMBLE_LEN, format!("the header JSON is invalid: {e}")))?;
    if header.format_version != found {
        return Err(bad(
            PREAMBLE_LEN,
            format!("the header JSON says format {} but the preamble says {found}", header.format_version),
        ));
    }
    Ok((header, found, end))
}

/// Reads the frame at `pos` into `rec`; returns the next frame's offset.
fn read_frame(bytes: &[u8], pos: usize, rec: &mut Recording) -> Result<usize, (TruncationKind, String)> {
    use TruncationKind::{Corrupt, Incomplete};
    let rest = &bytes[pos..];
    let Some(head) = rest.first_chunk::<FRAME_HEADER_LEN>() else {
        return Err((
            Incomplete,
            format!("only {} of the {FRAME_HEADER_LEN} frame header bytes are present", rest.len()),
        ));
    };
    let fh = FrameHeader::decode(head).map_err(|e| (Corrupt, e))?;
    if fh.payload_len > MAX_PAYLOAD_LEN {
        return Err((
            Corrupt,
            format!(
                "the frame claims a {}-byte payload, over the {MAX_PAYLOAD_LEN}-byte limit",
                fh.payload_len
            ),
        ));
    }
    let len = fh.payload_len as usize;
    let Some(payload) = rest.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len) else {
        return Err((
            Incomplete,
            format!(
                "the frame's payload is {len} bytes but only {} are present",
                rest.len() - FRAME_HEADER_LEN
            ),
        ));
    };
    let crc = crc32fast::hash(payload);
    if crc != fh.payload_crc {
        return Err((
            Corrupt,
            format!("payload checksum mismatch (stored {:#010x}, computed {crc:#010x})", fh.payload_crc),
        ));
    }
    let next = pos + FRAME_HEADER_LEN + len;
    match fh.kind {
        KIND_OBSERVATIONS => {
            let json = decompress(payload).map_err(|e| (Corrupt, e))?;
            let batch = unknown::observations(&json).map_err(|e| (Corrupt, e))?;
            if batch.total as u64 != fh.count {
                return Err((
                    Corrupt,
                    format!(
                        "the frame header announces {} observations, the payload holds {}",
                        fh.count, batch.total
                    ),
                ));
            }
            let Some((first, last)) = batch.times else {
                return Err((Corrupt, "an observations frame holds no observation".to_string()));
            };
            if first.as_millisecond() != fh.t_first || last.as_millisecond() != fh.t_last {
                return Err((Corrupt, "the frame header's times do not match its observations".to_string()));
            }
            rec.in_file += fh.count;
            rec.skipped.observations += (batch.total - batch.kept.len()) as u64;
            let batch = batch.kept;
            let mut frontier = rec.frontier.last().copied();
            for obs in &batch {
                let max = frontier.map_or(obs.at, |f| f.max(obs.at));
                rec.frontier.push(max);
                frontier = Some(max);
            }
            rec.observations.extend(batch);
        }
        KIND_KEYFRAME => {
            if fh.count != rec.in_file {
                return Err((
                    Corrupt,
                    format!("the keyframe follows {} observations but {} precede it", fh.count, rec.in_file),
                ));
            }
            let index = rec.observations.len();
            let entry = KeyframeEntry { index, at: Timestamp::UNIX_EPOCH, payload: payload.to_vec() };
            let (frame, left_out) = entry.decode_as_written().map_err(|e| (Corrupt, e))?;
            if frame.applied != fh.count || frame.now.as_millisecond() != fh.t_first {
                return Err((Corrupt, "the keyframe's header does not match its content".to_string()));
            }
            rec.skipped.keyframe_records = rec.skipped.keyframe_records.max(left_out);
            rec.keyframes.push(KeyframeEntry { at: frame.now, ..entry });
        }
        // A frame type from a newer minor version: intact (checksums match), skipped.
        _ => {}
    }
    Ok(next)
}

/// The first bytes of a file, shown as text when they are printable.
fn describe(bytes: &[u8]) -> String {
    if bytes.is_ascii() {
        format!("\"{}\"", bytes.escape_ascii())
    } else {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    }
}
