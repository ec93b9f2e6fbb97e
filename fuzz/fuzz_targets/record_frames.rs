//! Recording frames with valid checksums around fuzzed header and payload JSON (see
//! `fleettop_fuzz::recording_from_parts`): the observation and keyframe decoders, the
//! unknown-kind fallback, zstd on raw payloads, and the reducer replaying what was read.
#![no_main]

use fleettop::record::Recording;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = fleettop_fuzz::recording_from_parts(data);
    if let Ok(rec) = Recording::from_bytes(&file) {
        fleettop_fuzz::replay(&rec);
    }
});
