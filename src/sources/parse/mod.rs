//! Pure parsers for what sources read: admission denial messages, API server audit log
//! lines, scheduler and Kueue messages, Prometheus text, collector metric names and
//! dcgm-exporter scrapes, cgroup paths. No I/O, no clocks; each is tested on the real strings
//! in `tests/fixtures/real/` and must never panic.

pub mod audit;
pub mod cgroup;
pub mod dcgm;
pub mod denial;
pub mod kueue_message;
pub mod otelcol;
pub mod prometheus;
pub mod rates;
pub mod scheduling;
