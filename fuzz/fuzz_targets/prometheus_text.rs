//! The Prometheus text exposition format, as every scraped body is read.
#![no_main]

use fleettop::sources::parse::prometheus::parse_text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = fleettop_fuzz::text(data);
    if let Ok(scrape) = parse_text(&text) {
        for s in &scrape.samples {
            let _ = scrape.type_of(&s.name);
        }
    } else if let Err(e) = parse_text(&text) {
        let _ = e.to_string();
    }
});
