//! A recording file as bytes (`fleettop replay FILE`): preamble, header, frames, keyframes,
//! then the replay of whatever was read.
#![no_main]

use fleettop::record::Recording;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = Recording::from_bytes(data) {
        fleettop_fuzz::replay(&rec);
    }
});
