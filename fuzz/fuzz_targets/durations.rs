//! Points and lengths of time people type: `--at`/the `t` prompt (`12m`, `14:12`, RFC 3339)
//! against a recording's start, and `--window`/`--since` lengths (`24h`, `7d`) with the
//! window they make.
#![no_main]

use fleettop::analytics::window::{Window, parse_length};
use fleettop::record::when::resolve;
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = fleettop_fuzz::text(data);
    for start in [Timestamp::from_second(1_700_000_000).unwrap_or_default(), Timestamp::MIN, Timestamp::MAX] {
        let _ = resolve(&text, start);
        if let Ok(len) = parse_length(&text) {
            let w = Window::last(len, start);
            let _ = (w.start(), w.end());
            let _ = w.hours();
            let _ = start.checked_sub(len);
        }
    }
});
