//! Kueue Workload condition messages: quota shortfalls (`QuotaReserved=False`), preemptions
//! (`Evicted`/`Preempted`), and the resource quantities inside them.
#![no_main]

use fleettop::sources::parse::kueue_message::{
    parse_pending, parse_preemption, parse_quantity, preemption_summary, summary,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = fleettop_fuzz::text(data);
    let shortfalls = parse_pending(&text);
    for s in &shortfalls {
        let _ = s.words();
    }
    let _ = summary(&shortfalls);
    if let Some(p) = parse_preemption(&text) {
        let _ = p.cause.words();
        let _ = p.cause.condition_reason();
        let _ = preemption_summary(&p);
    }
    for word in text.split_whitespace() {
        let _ = parse_quantity(word);
    }
});
