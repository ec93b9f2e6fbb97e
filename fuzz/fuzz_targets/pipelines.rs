//! OpenTelemetry Collector, Prometheus remote-write and Fluent Bit self-metrics: two scrapes of
//! one target (split at the first NUL byte; the first byte sets the seconds between them)
//! turned into pipeline components and remote-write lag, as the pipelines source does.
#![no_main]

use fleettop::sources::parse::otelcol::normalise;
use fleettop::sources::parse::prometheus::parse_text;
use fleettop::sources::parse::rates::{components, remote_write_lag_s};
use jiff::{SignedDuration, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&gap, rest)) = data.split_first() else { return };
    let (prev, cur) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let Ok(cur) = parse_text(&fleettop_fuzz::text(cur)) else { return };
    let prev = prev.and_then(|p| parse_text(&fleettop_fuzz::text(p)).ok());
    let cur_at = Timestamp::from_second(1_700_000_000).unwrap_or_default();
    let prev_at = cur_at - SignedDuration::from_secs(i64::from(gap));
    let _ = normalise(&cur);
    let _ = remote_write_lag_s(&cur);
    let _ = components(prev.as_ref().map(|p| (p, prev_at)), &cur, cur_at, "ns/collector");
});
