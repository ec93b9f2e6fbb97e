//! Helpers shared by the fuzz targets in `fuzz_targets/`: turning libFuzzer's bytes into the
//! values fleettop's public entry points take. Each target stays thin (one call into the
//! project per input shape) so that it survives refactors behind those entry points.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fleettop::record::Recording;

/// The input as text, as a source that decodes outside bytes leniently would see it.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// A private temporary directory for this fuzzing process (config files are read from disk).
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fleettop-fuzz-{}", std::process::id()));
        // A failure here is the harness's, not the project's: say so loudly.
        std::fs::create_dir_all(&dir).expect("fuzz harness: cannot create its scratch directory");
        dir
    })
}

/// Replays a recording the way `replay`, `snapshot --at` and a seek would: every keyframe
/// decoded, the state at the end rebuilt from the last keyframe, and the state at the
/// recording's start and middle.
pub fn replay(rec: &Recording) {
    let _ = rec.skipped_warning();
    let _ = rec.truncated().map(|t| t.to_string());
    for k in rec.keyframes() {
        let _ = k.decode();
    }
    let n = rec.observations().len();
    let _ = rec.state_after(n);
    let _ = rec.state_after(n / 2);
    let _ = rec.state_at(rec.start());
    let _ = rec.state_at(rec.end());
}

/// The separator between the parts of a `record_frames` input (ASCII "record separator"; it
/// cannot occur unescaped in JSON).
pub const PART_SEPARATOR: u8 = 0x1e;

/// Frame types of recording format 1.x (docs/recording-format.md).
const OBSERVATIONS: u8 = 1;
const KEYFRAME: u8 = 2;
/// A part whose control byte has this bit set goes into the frame as it is, not compressed.
const RAW: u8 = 0x80;

/// Builds a well-formed `.fleetrec` file around fuzzed content, so that the fuzzer spends its
/// time in the payload decoders and the replay, not on checksums it cannot guess.
///
/// The input is parts separated by [`PART_SEPARATOR`]: the header JSON, then one part per
/// frame: a control byte (low 2 bits: 0 observations, 1 keyframe, 2 or 3 a frame type
/// from a future minor version; bit 7: payload used raw instead of zstd-compressed) and the
/// payload JSON. The frame header's count and times are taken from the JSON as the writer
/// would set them (observations: the array's length, its first and last `at`; keyframe:
/// `applied` set to the observations before it and `now`), and every checksum is computed.
pub fn recording_from_parts(data: &[u8]) -> Vec<u8> {
    let mut parts = data.split(|b| *b == PART_SEPARATOR);
    let header = parts.next().unwrap_or_default();
    let (major, minor) = header_version(header);
    let mut out = Vec::with_capacity(data.len() + 64);
    out.extend_from_slice(b"FLEETREC");
    out.extend_from_slice(&major.to_le_bytes());
    out.extend_from_slice(&minor.to_le_bytes());
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(&crc32fast::hash(header).to_le_bytes());
    let mut observations_before = 0u64;
    for part in parts {
        let Some((&control, json)) = part.split_first() else { continue };
        let kind = match control & 3 {
            0 => OBSERVATIONS,
            1 => KEYFRAME,
            other => 100 + other,
        };
        let (t_first, t_last, count, json) = match kind {
            OBSERVATIONS => {
                let (first, last, count) = observation_times(json);
                observations_before += count;
                (first, last, count, json.to_vec())
            }
            KEYFRAME => {
                let (now, json) = keyframe_with_count(json, observations_before);
                (now, now, observations_before, json)
            }
            _ => (0, 0, 0, json.to_vec()),
        };
        let payload = if control & RAW != 0 {
            json
        } else {
            match zstd::bulk::compress(&json, 1) {
                Ok(p) => p,
                Err(_) => continue,
            }
        };
        let mut head = [0u8; 40];
        head[0] = kind;
        head[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        head[8..12].copy_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        head[12..20].copy_from_slice(&t_first.to_le_bytes());
        head[20..28].copy_from_slice(&t_last.to_le_bytes());
        head[28..36].copy_from_slice(&count.to_le_bytes());
        let crc = crc32fast::hash(&head[..36]);
        head[36..40].copy_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&head);
        out.extend_from_slice(&payload);
    }
    out
}

/// The format version the header JSON claims (so the preamble agrees), else 1.2.
fn header_version(json: &[u8]) -> (u16, u16) {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
    let field = |name: &str| v["format_version"][name].as_u64().and_then(|n| u16::try_from(n).ok());
    (field("major").unwrap_or(1), field("minor").unwrap_or(2))
}

/// Milliseconds of an RFC 3339 `at`/`now` value, truncated as the writer does.
fn millis(v: &serde_json::Value) -> i64 {
    v.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()).map_or(0, |t| t.as_millisecond())
}

/// First and last `at` and the length of an observations array.
fn observation_times(json: &[u8]) -> (i64, i64, u64) {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
    match v.as_array() {
        Some(a) => (
            a.first().map_or(0, |o| millis(&o["at"])),
            a.last().map_or(0, |o| millis(&o["at"])),
            a.len() as u64,
        ),
        None => (0, 0, 0),
    }
}

/// A keyframe's `now` and its JSON with `applied` set to the observations before it.
fn keyframe_with_count(json: &[u8], applied: u64) -> (i64, Vec<u8>) {
    match serde_json::from_slice::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(mut o)) => {
            let now = millis(o.get("now").unwrap_or(&serde_json::Value::Null));
            o.insert("applied".into(), applied.into());
            (now, serde_json::to_vec(&o).unwrap_or_default())
        }
        _ => (0, json.to_vec()),
    }
}
