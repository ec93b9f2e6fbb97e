//! API server audit log lines (JSON lines) as the audit log source ingests them: each line
//! parsed into denials and findings, repeats collapsed under a small bound so eviction runs.
#![no_main]

use fleettop::sources::auditlog::{Ingest, Line};
use fleettop::sources::parse::audit::{denial_id, parse_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut offset = 0u64;
    let mut lines = Vec::new();
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        if let Ok(Ok(denials)) = std::str::from_utf8(line).map(parse_line) {
            for d in &denials {
                let _ = denial_id(d);
            }
        }
        lines.push(Line { number: i as u64 + 1, offset, text: Ok(line.to_vec()) });
        offset += line.len() as u64 + 1;
    }
    let mut ingest = Ingest::new("/var/log/kube-apiserver/audit.log".into(), 4);
    let _ = ingest.lines(lines);
    ingest.summarise();
});
