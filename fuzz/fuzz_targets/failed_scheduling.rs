//! The scheduler's FailedScheduling Event messages (`0/40 nodes are available: …`).
#![no_main]

use fleettop::sources::parse::scheduling::{parse_failed_scheduling, reason_words, summary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = fleettop_fuzz::text(data);
    if let Some(f) = parse_failed_scheduling(&text) {
        let _ = summary(&f);
        for (reason, _) in &f.reasons {
            let _ = reason_words(reason);
        }
    }
});
