//! cgroup files and paths of a process (`/proc/<pid>/cgroup`) → the pod it belongs to.
#![no_main]

use fleettop::sources::parse::cgroup::{pod_of_cgroup, pod_of_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = pod_of_cgroup(text);
    for line in text.lines() {
        let _ = pod_of_path(line);
    }
});
