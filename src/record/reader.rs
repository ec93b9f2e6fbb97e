//! Reading recordings: the header, every observation, keyframes, and seeking.
//!
//! Reading streams the file frame by frame (it is never read whole first), refuses what is
//! not a regular file (a FIFO, `/dev/zero`), and bounds memory: a frame's payload may not
//! decompress to more than [`frame_decode_limit`] (zstd bombs), and the observations of the
//! whole recording to more than [`ReadLimits::total_decoded`]. A damaged frame whose header
//! checksum holds is skipped by its length; after a damaged frame header the reader searches
//! for the next intact frame. What was lost is reported as a [`Gap`] (bytes, observations,
//! time range), and the first keyframe after it makes replay exact again.

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use jiff::Timestamp;

use super::error::RecordError;
use super::format::{
    FRAME_HEADER_LEN, FormatVersion, FrameHeader, KIND_KEYFRAME, KIND_OBSERVATIONS, MAGIC, MAX_HEADER_LEN,
    MAX_PAYLOAD_LEN, PREAMBLE_LEN, RecordingHeader, decompress, frame_decode_limit, u16_at, u32_at,
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
    /// A frame is damaged (a checksum does not match or the payload does not decode) and no
    /// intact frame follows it.
    Corrupt,
    /// The observations read so far reached [`ReadLimits::total_decoded`]; the rest was not
    /// read.
    Limit,
}

/// Where and why reading stopped early; everything before `offset` was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// Byte offset of the first frame that could not be read.
    pub offset: u64,
    /// Incomplete (torn write), corrupt, or over the memory limit.
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
            TruncationKind::Limit => "is too large to read whole",
        };
        write!(
            f,
            "the recording {what} at byte {}: {}; the last {} bytes were not replayed",
            self.offset, self.reason, self.dropped_bytes
        )
    }
}

/// Damaged frames the reader skipped, followed by intact ones: what was lost and where replay
/// is exact again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// Byte offset of the first damaged frame.
    pub offset: u64,
    /// Bytes skipped (damaged frames, and what lay between them and the next intact frame).
    pub bytes: u64,
    /// Where the gap is among [`Recording::observations`]: the observations before it.
    pub index: usize,
    /// Observations lost, when every damaged frame's header held (its count); `None` when a
    /// damaged header hid how many.
    pub lost: Option<u64>,
    /// The start of the time range lost: the first lost observation's time when a damaged
    /// header gave it, else the last observation before the gap.
    pub from: Timestamp,
    /// The end of the time range lost: the last lost observation's time when a header gave
    /// it, else the first observation after the gap.
    pub to: Timestamp,
    /// What was wrong with the first damaged frame.
    pub reason: String,
    /// The time from which replay is exact again: the first keyframe after the gap (the
    /// state is reset to it). `None` when none follows (what was lost stays missing) or
    /// nothing was lost.
    pub exact_from: Option<Timestamp>,
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = |t: Timestamp| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string();
        write!(f, "bytes {}..{} are damaged ({})", self.offset, self.offset + self.bytes, self.reason)?;
        if self.lost == Some(0) {
            return write!(f, "; only a keyframe was lost, no observation");
        }
        match self.lost {
            Some(n) => write!(f, "; {n} observation{} lost", if n == 1 { " was" } else { "s were" })?,
            None => write!(f, "; observations were lost")?,
        }
        write!(f, " between {} and {}", time(self.from), time(self.to))?;
        match self.exact_from {
            Some(t) => write!(f, "; replay is exact again from {} (a keyframe)", time(t)),
            None => write!(f, "; no keyframe follows, so the state after it lacks what was lost"),
        }
    }
}

/// Bounds on what reading one recording may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// The most bytes the observations of the whole recording may decode to (their JSON,
    /// which they resemble in memory). Reading stops there, keeping what came before
    /// ([`TruncationKind::Limit`]).
    pub total_decoded: u64,
}

impl Default for ReadLimits {
    /// 2 GiB of observations JSON (a busy hour of a large fleet is ~100 MiB).
    fn default() -> Self {
        Self { total_decoded: 2 << 30 }
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
    /// The first keyframe after a [`Gap`] that lost observations: replay resets the state to
    /// it, since the observations before it no longer add up to it.
    resync: bool,
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

    /// True when replay resets the state to this keyframe (the first after a [`Gap`] that
    /// lost observations).
    pub fn resync(&self) -> bool {
        self.resync
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
        let len = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        unknown::keyframe(&decompress(&self.payload, frame_decode_limit(len))?)
    }
}

/// A recording, read into memory: the header, every observation in order, and the
/// keyframes that make seeking fast.
///
/// The state of a recording at any point is defined by replay: start from
/// [`Recording::initial_state`] and apply the observations in file order
/// ([`Recording::replay`]), resetting the state at each keyframe that follows a [`Gap`].
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
    gaps: Vec<Gap>,
    /// Observations in the file's frames, those of unknown kinds included.
    in_file: u64,
    skipped: Skipped,
    byte_len: u64,
}

impl Recording {
    /// Reads the recording at `path` (a regular file) with the default [`ReadLimits`].
    pub fn open(path: impl AsRef<Path>) -> Result<Recording, RecordError> {
        Self::open_with(path, ReadLimits::default())
    }

    /// Reads the recording at `path` frame by frame within `limits`. Anything but a regular
    /// file (a directory, a FIFO, a device such as `/dev/zero`) is refused before it is read.
    pub fn open_with(path: impl AsRef<Path>, limits: ReadLimits) -> Result<Recording, RecordError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let (handle, meta) = match crate::files::open_regular(path) {
            Ok(opened) => opened,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                return Err(RecordError::NotARecording { file, reason: e.to_string() });
            }
            Err(source) => return Err(RecordError::Io { file, action: "open the recording", source }),
        };
        let source = Source::File { file: handle, len: meta.len() };
        parse(&source, file, limits)
    }

    /// Reads a recording from memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Recording, RecordError> {
        parse(&Source::Memory(bytes), "(in-memory recording)".to_string(), ReadLimits::default())
    }

    /// Reads a recording from memory, naming it `name` in errors (e.g. `bundled demo`).
    pub fn from_bytes_named(bytes: &[u8], name: &str) -> Result<Recording, RecordError> {
        parse(&Source::Memory(bytes), name.to_string(), ReadLimits::default())
    }

    /// Reads a recording from memory within `limits`.
    pub fn from_bytes_with(bytes: &[u8], limits: ReadLimits) -> Result<Recording, RecordError> {
        parse(&Source::Memory(bytes), "(in-memory recording)".to_string(), limits)
    }

    /// The header.
    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// The format version of the file (may be a newer minor than this build writes).
    pub fn format_version(&self) -> FormatVersion {
        self.version
    }

    /// Every observation read, in the order it was recorded.
    pub fn observations(&self) -> &[Observation] {
        &self.observations
    }

    /// The keyframes, in order.
    pub fn keyframes(&self) -> &[KeyframeEntry] {
        &self.keyframes
    }

    /// Set when reading stopped before the end of the file: a torn or damaged last frame,
    /// or the memory limit.
    pub fn truncated(&self) -> Option<&Truncation> {
        self.truncated.as_ref()
    }

    /// Damaged stretches skipped in the middle of the file, in order.
    pub fn gaps(&self) -> &[Gap] {
        &self.gaps
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

    /// Everything a user should be told before the recording is shown: damaged stretches,
    /// where reading stopped, and skipped kinds; one line each.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self.gaps.iter().map(|g| g.to_string()).collect();
        if let Some(t) = &self.truncated {
            out.push(format!("{t}; what came before it is shown"));
        }
        out.extend(self.skipped_warning());
        out
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
        self.replay(&mut state, from, n);
        state
    }

    /// The state at time `t`: every observation of [`Recording::position`]`(t)` applied
    /// and the clock moved to `t` (it never goes back before `started_at`).
    pub fn state_at(&self, t: Timestamp) -> FleetState {
        let mut state = self.state_after(self.position(t));
        state.set_clock(t);
        state
    }

    /// Moves `state`, the state after the first `from` observations, to the state after the
    /// first `to`: applies the observations in between, and where a keyframe after a [`Gap`]
    /// lies in `from + 1..=to`, resets the state to it (what replay means past a gap).
    pub fn replay(&self, state: &mut FleetState, from: usize, to: usize) {
        let to = to.min(self.observations.len());
        let start = from.min(to);
        let mut at = start;
        // The state after 0 observations already includes a reset at 0 (a gap before the first
        // intact frame): `base_for(0)` gives that keyframe. Resetting to it again changes nothing.
        let after_start = |k: &&KeyframeEntry| k.index > start || (start == 0 && k.index == 0);
        for k in self.keyframes.iter().filter(|k| k.resync && k.index <= to).filter(after_start) {
            state.apply_all(&self.observations[at..k.index]);
            if let Some(mut reset) = self.load(k) {
                // Settings are not facts: the reset keeps the verdicts the state was given.
                reset.set_verdicts(*state.verdicts());
                *state = reset;
            }
            at = k.index;
        }
        state.apply_all(&self.observations[at..to]);
    }

    /// The state of the last keyframe at or before `n` observations and its index, or the
    /// initial state and 0 when there is none.
    pub(crate) fn base_for(&self, n: usize) -> (FleetState, usize) {
        let upto = self.keyframes.partition_point(|k| k.index <= n);
        for entry in self.keyframes[..upto].iter().rev() {
            // Checked when the file was read; a failure here falls back to an earlier one.
            if let Some(state) = self.load(entry) {
                return (state, entry.index);
            }
        }
        (self.initial_state(), 0)
    }

    /// The state a keyframe holds, with the header's clusters declared.
    fn load(&self, entry: &KeyframeEntry) -> Option<FleetState> {
        let frame = entry.decode().ok()?;
        let mut state = FleetState::from_keyframe(&frame);
        // Keyframes of a live session may lack a declared cluster that never sent anything;
        // the initial state has it, so add it here too.
        for id in &self.header.clusters {
            state.add_cluster(id.clone());
        }
        Some(state)
    }

    /// The last keyframe index at or before `n` (0 when none).
    pub(crate) fn keyframe_index_before(&self, n: usize) -> usize {
        let upto = self.keyframes.partition_point(|k| k.index <= n);
        upto.checked_sub(1).and_then(|i| self.keyframes.get(i)).map_or(0, |k| k.index)
    }
}

/// The bytes of a recording, read by position: a regular file (never read whole) or memory.
enum Source<'a> {
    File { file: File, len: u64 },
    Memory(&'a [u8]),
}

impl Source<'_> {
    fn len(&self) -> u64 {
        match self {
            Source::File { len, .. } => *len,
            Source::Memory(b) => b.len() as u64,
        }
    }

    /// Up to `n` bytes from `offset` (fewer at the end of the file); `n` is never more than
    /// what the file holds there, so no claimed length can make this allocate more.
    fn read(&self, offset: u64, n: u64) -> std::io::Result<Vec<u8>> {
        let n = n.min(self.len().saturating_sub(offset));
        match self {
            Source::Memory(b) => {
                let (start, end) = (offset as usize, (offset + n) as usize);
                Ok(b.get(start..end).map(<[u8]>::to_vec).unwrap_or_default())
            }
            Source::File { file, .. } => {
                let mut buf = vec![0u8; n as usize];
                let mut done = 0;
                while done < buf.len() {
                    match file.read_at(&mut buf[done..], offset + done as u64) {
                        Ok(0) => break,
                        Ok(k) => done += k,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                buf.truncate(done);
                Ok(buf)
            }
        }
    }
}

/// How much of the file is read at once while searching for the next intact frame.
const SCAN_CHUNK: u64 = 1 << 20;

/// A damaged stretch being skipped, until an intact frame closes it.
#[derive(Debug)]
struct OpenGap {
    offset: u64,
    reason: String,
    /// Observations lost, while every damaged header held.
    lost: Option<u64>,
    /// Times of the lost observations, from intact headers.
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    /// Only keyframes were lost.
    keyframes_only: bool,
}

/// A frame that could not be used: `Incomplete` ends the file; `Damaged` is skipped (its
/// header held: the next frame starts at `next`); `BadHeader` needs a search; `Limit` ends
/// reading.
enum FrameError {
    Incomplete(String),
    Damaged { reason: String, header: FrameHeader, next: u64 },
    BadHeader(String),
    Limit(String),
}

/// An intact frame's content.
enum Decoded {
    Observations {
        batch: unknown::Batch,
        decoded: u64,
        count: u64,
    },
    Keyframe {
        entry: KeyframeEntry,
        count: u64,
        left_out: u64,
    },
    /// A frame type from a newer minor version: intact (checksums match), skipped.
    Other,
}

/// The reader's progress through the frames.
struct Reader<'a> {
    source: &'a Source<'a>,
    rec: Recording,
    limits: ReadLimits,
    /// Decoded bytes of observations so far.
    decoded: u64,
    gap: Option<OpenGap>,
    /// False after a damaged frame header hid how many observations were lost: the next
    /// keyframe's count is taken as it is.
    count_known: bool,
    /// The gap (its index in `rec.gaps`) that lost observations and waits for a keyframe.
    awaiting_resync: Option<usize>,
}

fn parse(source: &Source<'_>, file: String, limits: ReadLimits) -> Result<Recording, RecordError> {
    let (header, version, start) = parse_header(source, &file)?;
    let rec = Recording {
        header,
        version,
        observations: Vec::new(),
        frontier: Vec::new(),
        keyframes: Vec::new(),
        truncated: None,
        gaps: Vec::new(),
        in_file: 0,
        skipped: Skipped::default(),
        byte_len: source.len(),
    };
    let mut r =
        Reader { source, rec, limits, decoded: 0, gap: None, count_known: true, awaiting_resync: None };
    let io = |source| RecordError::Io { file: file.clone(), action: "read the recording", source };
    let len = source.len();
    let mut pos = start;
    while pos < len {
        match r.frame(pos).map_err(io)? {
            Ok((decoded, next)) => {
                r.close_gap(pos, &decoded);
                r.apply(decoded);
                pos = next;
            }
            Err(FrameError::Incomplete(reason)) => {
                r.stop(pos, TruncationKind::Incomplete, reason);
                break;
            }
            Err(FrameError::Limit(reason)) => {
                r.stop(pos, TruncationKind::Limit, reason);
                break;
            }
            Err(FrameError::Damaged { reason, header, next }) => {
                r.open_gap(pos, reason, Some(&header));
                pos = next;
            }
            Err(FrameError::BadHeader(reason)) => {
                r.open_gap(pos, reason, None);
                match r.search(pos + 1).map_err(io)? {
                    Some(found) => pos = found,
                    None => break,
                }
            }
        }
    }
    if r.gap.is_some() {
        // Nothing intact after the damage: the recording ends there.
        r.stop(len, TruncationKind::Corrupt, String::new());
    }
    Ok(r.rec)
}

impl Reader<'_> {
    /// Ends reading at `pos`: an open gap becomes the truncation (from its start).
    fn stop(&mut self, pos: u64, kind: TruncationKind, reason: String) {
        let (offset, kind, reason) = match self.gap.take() {
            Some(gap) => (gap.offset, TruncationKind::Corrupt, gap.reason),
            None => (pos, kind, reason),
        };
        self.rec.truncated = Some(Truncation {
            offset,
            kind,
            reason,
            dropped_bytes: self.source.len().saturating_sub(offset),
        });
    }

    /// Notes a damaged frame at `pos` (its header, when that held).
    fn open_gap(&mut self, pos: u64, reason: String, header: Option<&FrameHeader>) {
        let gap = self.gap.get_or_insert(OpenGap {
            offset: pos,
            reason,
            lost: Some(0),
            from: None,
            to: None,
            keyframes_only: true,
        });
        match header {
            Some(h) if h.kind == KIND_OBSERVATIONS => {
                gap.lost = gap.lost.map(|n| n.saturating_add(h.count));
                gap.keyframes_only = false;
                // An intact header gives the lost observations' times.
                let first = Timestamp::from_millisecond(h.t_first).ok();
                let last = Timestamp::from_millisecond(h.t_last).ok();
                gap.from = gap.from.or(first);
                gap.to = last.or(gap.to);
                self.rec.in_file = self.rec.in_file.saturating_add(h.count);
            }
            Some(_) => {}
            None => {
                gap.lost = None;
                gap.keyframes_only = false;
                self.count_known = false;
            }
        }
    }

    /// The intact frame at `pos` (about to be applied) ends the open gap, if any.
    fn close_gap(&mut self, pos: u64, next: &Decoded) {
        let Some(gap) = self.gap.take() else { return };
        let index = self.rec.observations.len();
        let before = self.rec.frontier.last().copied();
        let after = match next {
            Decoded::Observations { batch, .. } => batch.times.map(|(first, _)| first),
            Decoded::Keyframe { entry, .. } => Some(entry.at),
            Decoded::Other => None,
        };
        let from = gap.from.or(before).unwrap_or(self.rec.header.started_at);
        let to = gap.to.or(after).unwrap_or(from).max(from);
        if !gap.keyframes_only {
            self.awaiting_resync = Some(self.rec.gaps.len());
        }
        self.rec.gaps.push(Gap {
            offset: gap.offset,
            bytes: pos - gap.offset,
            index,
            lost: gap.lost,
            from,
            to,
            reason: gap.reason,
            exact_from: None,
        });
    }

    /// Adds an intact frame's content to the recording.
    fn apply(&mut self, decoded: Decoded) {
        match decoded {
            Decoded::Observations { batch, decoded, count } => {
                self.decoded += decoded;
                self.rec.in_file = self.rec.in_file.saturating_add(count);
                self.rec.skipped.observations += (batch.total - batch.kept.len()) as u64;
                let mut frontier = self.rec.frontier.last().copied();
                for obs in &batch.kept {
                    let max = frontier.map_or(obs.at, |f| f.max(obs.at));
                    self.rec.frontier.push(max);
                    frontier = Some(max);
                }
                self.rec.observations.extend(batch.kept);
            }
            Decoded::Keyframe { mut entry, count, left_out } => {
                self.rec.in_file = count;
                self.count_known = true;
                if let Some(i) = self.awaiting_resync.take() {
                    entry.resync = true;
                    if let Some(gap) = self.rec.gaps.get_mut(i) {
                        gap.exact_from = Some(entry.at);
                    }
                }
                self.rec.skipped.keyframe_records = self.rec.skipped.keyframe_records.max(left_out);
                self.rec.keyframes.push(entry);
            }
            Decoded::Other => {}
        }
    }

    /// Reads and checks the frame at `pos`; returns its content and the next frame's offset.
    fn frame(&self, pos: u64) -> std::io::Result<Result<(Decoded, u64), FrameError>> {
        use FrameError::{BadHeader, Damaged, Incomplete, Limit};
        let head = self.source.read(pos, FRAME_HEADER_LEN as u64)?;
        let Some(head) = head.first_chunk::<FRAME_HEADER_LEN>() else {
            return Ok(Err(Incomplete(format!(
                "only {} of the {FRAME_HEADER_LEN} frame header bytes are present",
                head.len()
            ))));
        };
        let fh = match FrameHeader::decode(head) {
            Ok(fh) => fh,
            Err(e) => return Ok(Err(BadHeader(e))),
        };
        if fh.payload_len > MAX_PAYLOAD_LEN {
            return Ok(Err(BadHeader(format!(
                "the frame claims a {}-byte payload, over the {MAX_PAYLOAD_LEN}-byte limit",
                fh.payload_len
            ))));
        }
        let len = u64::from(fh.payload_len);
        let body = pos + FRAME_HEADER_LEN as u64;
        let present = self.source.len().saturating_sub(body);
        if present < len {
            return Ok(Err(Incomplete(format!(
                "the frame's payload is {len} bytes but only {present} are present"
            ))));
        }
        let next = body + len;
        let damaged = |reason: String| Ok(Err(Damaged { reason, header: fh, next }));
        let payload = self.source.read(body, len)?;
        let crc = crc32fast::hash(&payload);
        if crc != fh.payload_crc {
            return damaged(format!(
                "payload checksum mismatch (stored {:#010x}, computed {crc:#010x})",
                fh.payload_crc
            ));
        }
        match fh.kind {
            KIND_OBSERVATIONS => {
                let json = match decompress(&payload, frame_decode_limit(fh.payload_len)) {
                    Ok(json) => json,
                    Err(e) => return damaged(e),
                };
                let decoded = json.len() as u64;
                if self.decoded.saturating_add(decoded) > self.limits.total_decoded {
                    return Ok(Err(Limit(format!(
                        "its observations decode to more than the {}-byte limit of one recording",
                        self.limits.total_decoded
                    ))));
                }
                let batch = match unknown::observations(&json) {
                    Ok(batch) => batch,
                    Err(e) => return damaged(e),
                };
                if batch.total as u64 != fh.count {
                    return damaged(format!(
                        "the frame header announces {} observations, the payload holds {}",
                        fh.count, batch.total
                    ));
                }
                let Some((first, last)) = batch.times else {
                    return damaged("an observations frame holds no observation".to_string());
                };
                if first.as_millisecond() != fh.t_first || last.as_millisecond() != fh.t_last {
                    return damaged("the frame header's times do not match its observations".to_string());
                }
                Ok(Ok((Decoded::Observations { batch, decoded, count: fh.count }, next)))
            }
            KIND_KEYFRAME => {
                if self.count_known && fh.count != self.rec.in_file {
                    return damaged(format!(
                        "the keyframe follows {} observations but {} precede it",
                        fh.count, self.rec.in_file
                    ));
                }
                let index = self.rec.observations.len();
                let entry = KeyframeEntry { index, at: Timestamp::UNIX_EPOCH, payload, resync: false };
                let (frame, left_out) = match entry.decode_as_written() {
                    Ok(decoded) => decoded,
                    Err(e) => return damaged(e),
                };
                if frame.applied != fh.count || frame.now.as_millisecond() != fh.t_first {
                    return damaged("the keyframe's header does not match its content".to_string());
                }
                let entry = KeyframeEntry { at: frame.now, ..entry };
                Ok(Ok((Decoded::Keyframe { entry, count: fh.count, left_out }, next)))
            }
            _ => Ok(Ok((Decoded::Other, next))),
        }
    }

    /// The offset of the first intact frame at or after `from`: a frame header whose checksum
    /// holds, of a known type, whose whole payload is present with a matching checksum.
    fn search(&self, from: u64) -> std::io::Result<Option<u64>> {
        let len = self.source.len();
        let mut at = from;
        while at + FRAME_HEADER_LEN as u64 <= len {
            // Overlap by a header's length so that no candidate falls between two chunks.
            let chunk = self.source.read(at, SCAN_CHUNK + FRAME_HEADER_LEN as u64)?;
            let candidates = chunk.len().saturating_sub(FRAME_HEADER_LEN - 1);
            for i in 0..candidates.min(SCAN_CHUNK as usize) {
                if !matches!(chunk[i], KIND_OBSERVATIONS | KIND_KEYFRAME) {
                    continue;
                }
                let Some(head) = chunk[i..].first_chunk::<FRAME_HEADER_LEN>() else { break };
                let Ok(fh) = FrameHeader::decode(head) else { continue };
                let body = at + i as u64 + FRAME_HEADER_LEN as u64;
                let plen = u64::from(fh.payload_len);
                if fh.payload_len > MAX_PAYLOAD_LEN || body + plen > len {
                    continue;
                }
                if crc32fast::hash(&self.source.read(body, plen)?) == fh.payload_crc {
                    return Ok(Some(at + i as u64));
                }
            }
            at += SCAN_CHUNK;
        }
        Ok(None)
    }
}

fn parse_header(
    source: &Source<'_>,
    file: &str,
) -> Result<(RecordingHeader, FormatVersion, u64), RecordError> {
    let bad = |offset: u64, reason: String| RecordError::BadHeader { file: file.to_string(), offset, reason };
    let io = |source| RecordError::Io { file: file.to_string(), action: "read the recording", source };
    let total = source.len();
    if total == 0 {
        return Err(RecordError::NotARecording {
            file: file.to_string(),
            reason: "the file is empty".to_string(),
        });
    }
    let pre = source.read(0, PREAMBLE_LEN as u64).map_err(io)?;
    let n = pre.len().min(MAGIC.len());
    if pre[..n] != MAGIC[..n] {
        return Err(RecordError::NotARecording {
            file: file.to_string(),
            reason: format!("it starts with {} instead of the magic bytes \"FLEETREC\"", describe(&pre[..n])),
        });
    }
    if pre.len() < PREAMBLE_LEN {
        return Err(bad(
            total,
            format!(
                "the file ends after {total} bytes, inside the {PREAMBLE_LEN}-byte preamble \
                 (magic, version, header length)"
            ),
        ));
    }
    let found = FormatVersion { major: u16_at(&pre, 8), minor: u16_at(&pre, 10) };
    if !found.is_readable() {
        return Err(RecordError::UnsupportedVersion {
            file: file.to_string(),
            found,
            supported: FormatVersion::CURRENT,
        });
    }
    let len = u32_at(&pre, 12);
    if len > MAX_HEADER_LEN {
        return Err(bad(12, format!("the header length {len} exceeds the {MAX_HEADER_LEN}-byte limit")));
    }
    let json_end = PREAMBLE_LEN as u64 + u64::from(len);
    let end = json_end + 4;
    if total < end {
        return Err(bad(total, format!("the file ends after {total} bytes, inside the {end}-byte header")));
    }
    let rest = source.read(PREAMBLE_LEN as u64, u64::from(len) + 4).map_err(io)?;
    let (json, crc) = rest.split_at(len as usize);
    let stored = u32_at(crc, 0);
    let actual = crc32fast::hash(json);
    if stored != actual {
        return Err(bad(
            json_end,
            format!("header checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"),
        ));
    }
    let header: RecordingHeader = serde_json::from_slice(json)
        .map_err(|e| bad(PREAMBLE_LEN as u64, format!("the header JSON is invalid: {e}")))?;
    if header.format_version != found {
        return Err(bad(
            PREAMBLE_LEN as u64,
            format!("the header JSON says format {} but the preamble says {found}", header.format_version),
        ));
    }
    Ok((header, found, end))
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
