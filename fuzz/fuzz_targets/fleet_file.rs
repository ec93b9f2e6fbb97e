//! A fleet file (`[[cluster]]` entries with labels, audit log, scrape targets) and the
//! selection of a kubeconfig's contexts through it.
#![no_main]

use std::path::Path;

use fleettop::sources::fleet::{parse_fleet_file, select};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = fleettop_fuzz::text(data);
    let Ok((file, _warnings)) = parse_fleet_file(Path::new("fleet.toml"), &text) else { return };
    let contexts: Vec<String> =
        ["prod-eu", "prod-us", "staging", "dev-[1]"].iter().map(|s| s.to_string()).collect();
    let _ = select(&contexts, Some("prod-eu"), &[], false, Some(&file));
});
