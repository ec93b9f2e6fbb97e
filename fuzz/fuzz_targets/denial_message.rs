//! An admission denial message (Event, status condition, audit annotation or pasted kubectl
//! error) → engine, policy, rule, object: the one entry point every engine's grammar is
//! reached through.
#![no_main]

use fleettop::sources::parse::denial::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = fleettop_fuzz::text(data);
    let parsed = parse(&text);
    let _ = parsed.policy_or_webhook();
});
