//! A dcgm-exporter scrape → per-GPU and per-MIG-instance samples and devices.
#![no_main]

use fleettop::sources::parse::dcgm::{Exporter, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = fleettop_fuzz::text(data);
    let exporter = Exporter { node: Some("gpu-node-1"), pod: Some("dcgm-exporter-x7k2p") };
    for exporter in [exporter, Exporter::default()] {
        if let Ok(samples) = parse(&text, exporter) {
            for s in &samples {
                let _ = s.to_device();
            }
        }
    }
});
