//! The byte layout of a `.fleetrec` file: constants, the header and the frame header.
//!
//! Everything multi-byte is little-endian. See `docs/recording-format.md` for the
//! description this code implements; the two must change together.

use std::fmt;
use std::io::Read;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::ClusterId;

/// The 8 bytes every recording starts with.
pub const MAGIC: [u8; 8] = *b"FLEETREC";

/// Bytes before the header JSON: magic (8), major (2), minor (2), JSON length (4).
pub const PREAMBLE_LEN: usize = 16;

/// Bytes of the fixed header in front of every frame's payload.
pub const FRAME_HEADER_LEN: usize = 40;

/// A header JSON longer than this is treated as corrupt (16 MiB).
pub const MAX_HEADER_LEN: u32 = 16 << 20;

/// A frame payload (compressed) longer than this is treated as corrupt (256 MiB).
pub const MAX_PAYLOAD_LEN: u32 = 256 << 20;

/// A frame payload that decompresses to more than this is treated as corrupt (1 GiB).
pub const MAX_DECODED_LEN: u64 = 1 << 30;

/// A frame payload may decompress to at most this many times its compressed size (above
/// [`MIN_DECODE_ALLOWANCE`]): watch JSON compresses ~10×, a zstd bomb thousands of times.
pub const MAX_DECODE_RATIO: u64 = 1024;

/// Every frame payload may decompress to this much, whatever its compressed size (16 MiB).
pub const MIN_DECODE_ALLOWANCE: u64 = 16 << 20;

/// The writer starts a new observations frame before its JSON passes this size (8 MiB), so
/// frames of large observations stay far below the decoding limits.
pub const MAX_FRAME_JSON: usize = 8 << 20;

/// The writer splits a batch into observations frames of at most this many observations.
pub const MAX_OBSERVATIONS_PER_FRAME: usize = 4096;

/// zstd level used for payloads (fast, ~10x on watch JSON).
pub const ZSTD_LEVEL: i32 = 3;

/// The version of the recording format: `major` changes are incompatible, `minor`
/// changes only add things older readers can ignore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FormatVersion {
    /// Incompatible layout or meaning changes.
    pub major: u16,
    /// Backwards-compatible additions (new header fields, new frame types to skip).
    pub minor: u16,
}

impl FormatVersion {
    /// The version this build writes, and the major version it reads.
    pub const CURRENT: FormatVersion = FormatVersion { major: 1, minor: 4 };

    /// True when this build can read a file of version `self` (same major, any minor).
    pub fn is_readable(self) -> bool {
        self.major == Self::CURRENT.major
    }
}

impl fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// When the writer emits keyframes; whichever rule fires first wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyframeInterval {
    /// A keyframe after at least this many observations since the last one (0: rule off).
    pub observations: u64,
    /// A keyframe after at least this many seconds of observation time since the last one
    /// (0: rule off).
    pub seconds: u64,
}

impl Default for KeyframeInterval {
    /// Every 2 000 observations or 60 s of observation time.
    fn default() -> Self {
        Self { observations: 2_000, seconds: 60 }
    }
}

/// The recording's header: what it is, who wrote it, when, and about which clusters.
///
/// Stored as length-prefixed JSON after the magic bytes. It never holds credentials,
/// kubeconfig contents or tokens: only the names below.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingHeader {
    /// The format version of the file. The writer always writes
    /// [`FormatVersion::CURRENT`], whatever the value given to it.
    pub format_version: FormatVersion,
    /// The fleettop release that wrote the file (`CARGO_PKG_VERSION`).
    pub fleettop_version: String,
    /// When the file was created (wall clock of the recording machine).
    pub created_at: Timestamp,
    /// The recorded session's start: the clock of the state before any observation.
    pub started_at: Timestamp,
    /// Clusters of the session, declared (shown as syncing) before any observation.
    pub clusters: Vec<ClusterId>,
    /// Where the observations came from: `live`, `simulated`, `demo` (free text).
    pub source: String,
    /// How often the writer emitted keyframes.
    pub keyframe_interval: KeyframeInterval,
}

impl RecordingHeader {
    /// A header for a session that starts at `started_at`, created now, with the default
    /// keyframe interval.
    pub fn new(started_at: Timestamp, clusters: Vec<ClusterId>, source: impl Into<String>) -> Self {
        Self {
            format_version: FormatVersion::CURRENT,
            fleettop_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: Timestamp::now(),
            started_at,
            clusters,
            source: source.into(),
            keyframe_interval: KeyframeInterval::default(),
        }
    }

    /// The same header with another keyframe interval.
    pub fn with_keyframe_interval(mut self, interval: KeyframeInterval) -> Self {
        self.keyframe_interval = interval;
        self
    }
}

/// Frame type byte: a JSON array of observations.
pub(crate) const KIND_OBSERVATIONS: u8 = 1;
/// Frame type byte: a `state::Keyframe`.
pub(crate) const KIND_KEYFRAME: u8 = 2;

/// The fixed header in front of every frame payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// [`KIND_OBSERVATIONS`], [`KIND_KEYFRAME`], or a type from a newer minor version.
    pub kind: u8,
    /// Reserved, written as 0, ignored on read.
    pub flags: u8,
    /// Compressed payload length in bytes.
    pub payload_len: u32,
    /// CRC-32 (IEEE) of the compressed payload.
    pub payload_crc: u32,
    /// First observation's time, or the keyframe's time (unix ms).
    pub t_first: i64,
    /// Last observation's time, or the keyframe's time (unix ms).
    pub t_last: i64,
    /// Observations in the frame, or observations before the keyframe.
    pub count: u64,
}

impl FrameHeader {
    /// The 40 bytes: kind, flags, reserved u16, len u32, crc u32, t_first i64, t_last i64,
    /// count u64, then the CRC-32 of the 36 bytes before it.
    pub fn encode(&self) -> [u8; FRAME_HEADER_LEN] {
        let mut b = [0u8; FRAME_HEADER_LEN];
        b[0] = self.kind;
        b[1] = self.flags;
        // b[2..4] reserved, zero.
        b[4..8].copy_from_slice(&self.payload_len.to_le_bytes());
        b[8..12].copy_from_slice(&self.payload_crc.to_le_bytes());
        b[12..20].copy_from_slice(&self.t_first.to_le_bytes());
        b[20..28].copy_from_slice(&self.t_last.to_le_bytes());
        b[28..36].copy_from_slice(&self.count.to_le_bytes());
        let crc = crc32fast::hash(&b[..36]);
        b[36..40].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and checks the 40 header bytes; the error says what is wrong.
    pub fn decode(b: &[u8; FRAME_HEADER_LEN]) -> Result<FrameHeader, String> {
        let stored = u32_at(b, 36);
        let actual = crc32fast::hash(&b[..36]);
        if stored != actual {
            return Err(format!(
                "frame header checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
            ));
        }
        Ok(FrameHeader {
            kind: b[0],
            flags: b[1],
            payload_len: u32_at(b, 4),
            payload_crc: u32_at(b, 8),
            t_first: i64_at(b, 12),
            t_last: i64_at(b, 20),
            count: u64_at(b, 28),
        })
    }
}

/// Encodes the preamble, the header JSON and its CRC for an arbitrary version and JSON
/// text (the writer uses [`FormatVersion::CURRENT`]; tests craft other versions).
pub(crate) fn encode_file_header(version: FormatVersion, json: &[u8]) -> Result<Vec<u8>, String> {
    let len = u32::try_from(json.len())
        .ok()
        .filter(|l| *l <= MAX_HEADER_LEN)
        .ok_or_else(|| format!("the header is {} bytes, over the {MAX_HEADER_LEN}-byte limit", json.len()))?;
    let mut out = Vec::with_capacity(PREAMBLE_LEN + json.len() + 4);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.major.to_le_bytes());
    out.extend_from_slice(&version.minor.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(json);
    out.extend_from_slice(&crc32fast::hash(json).to_le_bytes());
    Ok(out)
}

/// Compresses `json` and puts a frame header in front of it.
pub(crate) fn encode_frame(
    kind: u8,
    t_first: i64,
    t_last: i64,
    count: u64,
    json: &[u8],
) -> std::io::Result<Vec<u8>> {
    let payload = zstd::bulk::compress(json, ZSTD_LEVEL)?;
    let payload_len =
        u32::try_from(payload.len()).ok().filter(|l| *l <= MAX_PAYLOAD_LEN).ok_or_else(|| {
            std::io::Error::other(format!(
                "a frame payload of {} bytes exceeds the {MAX_PAYLOAD_LEN}-byte limit",
                payload.len()
            ))
        })?;
    let header = FrameHeader {
        kind,
        flags: 0,
        payload_len,
        payload_crc: crc32fast::hash(&payload),
        t_first,
        t_last,
        count,
    };
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// The most bytes a frame payload of `payload_len` compressed bytes may decompress to:
/// [`MAX_DECODE_RATIO`] times its size, at least [`MIN_DECODE_ALLOWANCE`], at most
/// [`MAX_DECODED_LEN`]. More is a decompression bomb, treated as a damaged frame.
pub fn frame_decode_limit(payload_len: u32) -> u64 {
    (u64::from(payload_len) * MAX_DECODE_RATIO).clamp(MIN_DECODE_ALLOWANCE, MAX_DECODED_LEN)
}

/// Decompresses a payload, refusing to produce more than `limit` bytes (see
/// [`frame_decode_limit`]); memory grows with what is decoded, never with what a header
/// claims.
pub(crate) fn decompress(payload: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let decoder =
        zstd::stream::read::Decoder::new(payload).map_err(|e| format!("cannot start zstd decoding: {e}"))?;
    let mut out = Vec::new();
    decoder.take(limit + 1).read_to_end(&mut out).map_err(|e| format!("zstd decoding failed: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!(
            "the payload of {} bytes decompresses to more than {limit} bytes (a decompression bomb?)",
            payload.len()
        ));
    }
    Ok(out)
}

/// Little-endian u16 at `at` (callers check the length).
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(a)
}

/// Little-endian u32 at `at` (callers check the length).
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_le_bytes(a)
}
