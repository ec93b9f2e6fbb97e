//! Recordings are evidence: every recording fleettop ever shipped must keep replaying.
//! `tests/fixtures/recordings/*.fleetrec` are frozen copies, never regenerated; add one
//! whenever the format's minor version changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fleettop::record::Recording;

#[test]
fn the_bundled_demo_replays() {
    let rec = fleettop::demo::recording().expect("snapshots/demo.fleetrec decodes");
    assert!(rec.truncated().is_none());
    assert!(rec.observations().len() > 1000);
    let end = rec.state_at(rec.end());
    assert_eq!(end.clusters().len(), 5);
    assert!(!end.denials().is_empty() && !end.gpu_workloads().is_empty());
}

#[test]
fn every_frozen_recording_still_replays_to_the_same_facts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("the frozen recordings folder exists") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("fleetrec") {
            continue;
        }
        seen += 1;
        let rec = Recording::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(rec.truncated().is_none(), "{}", path.display());
        assert!(rec.skipped().is_empty(), "every kind of a released format is known: {}", path.display());
        // Seeking through keyframes must give what replaying every observation gives.
        let mut replayed = rec.initial_state();
        replayed.apply_all(rec.observations());
        let sought = rec.state_after(rec.observations().len());
        assert!(replayed.same_facts(&sought), "{}", path.display());
        // And the facts must be the ones recorded next to it, if a summary was frozen too.
        let summary = path.with_extension("summary.json");
        if summary.exists() {
            let want: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
            let got = serde_json::to_value(replayed.snapshot()).unwrap();
            for key in fleettop::state::SECTIONS {
                // A section added after the recording was frozen had no records then.
                let expected =
                    if want.get(key).is_some() { want[key].as_u64().map(|n| n as usize) } else { Some(0) };
                assert_eq!(got[key].as_array().map(|a| a.len()), expected, "{key} in {}", path.display());
            }
        }
    }
    assert!(seen > 0, "no frozen recordings in {}", dir.display());
}

#[test]
fn the_frozen_1_2_recording_holds_skip_results_naming_exceptions() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings/demo-v1.2.fleetrec");
    let rec = Recording::open(&path).unwrap();
    assert_eq!(rec.format_version(), fleettop::record::FormatVersion { major: 1, minor: 2 });
    let end = rec.state_at(rec.end());
    let eu = fleettop::model::ClusterId::new("prod-eu-west-1");
    let reach = end.reach(&eu, "otel-agent-hostnetwork");
    assert_eq!((reach.skipped_results, reach.skipped_objects), (4, 4));
    // The skip of the exception its TTL deleted at +11m07s went with it.
    assert_eq!(end.reach(&eu, "checkout-hostpath-debug").skipped_results, 0);
    let before = rec.state_at(rec.start() + jiff::SignedDuration::from_mins(5));
    assert_eq!(before.reach(&eu, "checkout-hostpath-debug").skipped_results, 1);
}
