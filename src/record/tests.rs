#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::format::{FRAME_HEADER_LEN, FrameHeader, PREAMBLE_LEN, encode_file_header, encode_frame};
use super::*;
use crate::model::{
    Change, ClusterId, ClusterUpdate, ConnectionState, Denial, Enforcement, Engine, GpuNode, ObjectRef,
    Observation, PolicyRef, Record, RecordKind, SourceKind, SourceState,
};
use crate::state::FleetState;

// ---------------------------------------------------------------- helpers

const BASE: i64 = 1_700_000_000;

fn ts_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(BASE * 1000 + ms).expect("valid time")
}

fn clusters() -> Vec<ClusterId> {
    ["prod-eu", "prod-us", "staging"].into_iter().map(ClusterId::new).collect()
}

fn denial(id: &str, policy: &str, at: Timestamp, count: u64) -> Denial {
    Denial {
        class: Default::default(),
        id: id.to_string(),
        engine: Engine::Kyverno,
        enforcement: Enforcement::Deny,
        policy: Some(PolicyRef {
            kind: "ClusterPolicy".to_string(),
            name: policy.to_string(),
            namespace: None,
            generation: Some(3),
            resource_version: None,
        }),
        webhook: None,
        binding: None,
        rule: Some("check-labels".to_string()),
        object: ObjectRef {
            kind: "Deployment".to_string(),
            namespace: Some("shop".to_string()),
            name: format!("app-{id}"),
        },
        operation: Some("CREATE".to_string()),
        user: None,
        message: format!("validation error: label `team` is required ({id})"),
        count,
        first_seen: at,
        last_seen: at,
        severity: None,
        category: None,
        owner: None,
        exceptions: Vec::new(),
        evidence: Vec::new(),
    }
}

fn gpu_node(name: &str, allocated: u32) -> GpuNode {
    GpuNode {
        name: name.to_string(),
        product: Some("NVIDIA-H100-80GB-HBM3".to_string()),
        capacity: 8,
        allocatable: 8,
        allocated,
        mig: None,
        sharing: None,
        schedulable: true,
        taints: Vec::new(),
        devices: Vec::new(),
        telemetry_error: None,
    }
}

/// A deterministic script of `n` observations, 500 ms apart, over three clusters; the
/// `staging` cluster's clock lags 2 s, so times are not monotonic in file order.
fn sample(n: usize) -> Vec<Observation> {
    let mut seed: u64 = 0x5eed_f1ee_7000_0001;
    let cs = clusters();
    (0..n)
        .map(|i| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let r = (seed >> 33) as usize;
            let cluster = cs[i % cs.len()].clone();
            let lag = if cluster.as_str() == "staging" { 2_000 } else { 0 };
            let at = ts_ms(i as i64 * 500 - lag);
            let id = format!("d{}", r % 17);
            let change = match r % 12 {
                0 => Change::Cluster(ClusterUpdate {
                    connection: Some(ConnectionState::Connected),
                    latency_ms: Some((r % 300) as u32),
                    ..ClusterUpdate::default()
                }),
                1 => Change::Source {
                    source: SourceKind::Kyverno,
                    state: if r.is_multiple_of(2) { SourceState::Live } else { SourceState::Syncing },
                },
                2..=5 => Change::Upsert {
                    record: Record::Denial(denial(&id, &format!("p{}", r % 4), at, r as u64 % 9)),
                },
                6 => Change::Upsert {
                    record: Record::GpuNode(gpu_node(&format!("n{}", r % 3), (r % 9) as u32)),
                },
                7 | 8 => Change::Delete { kind: RecordKind::Denial, key: id },
                9 => Change::SyncStart { kind: RecordKind::Denial },
                10 => Change::SyncEnd { kind: RecordKind::Denial },
                _ => Change::Cluster(ClusterUpdate {
                    labels: Some(BTreeMap::from([("env".to_string(), format!("e{}", r % 3))])),
                    ..ClusterUpdate::default()
                }),
            };
            Observation { at, cluster, change }
        })
        .collect()
}

fn header(interval: KeyframeInterval) -> RecordingHeader {
    let mut h =
        RecordingHeader::new(ts_ms(-10_000), clusters(), "simulated").with_keyframe_interval(interval);
    h.created_at = ts_ms(-5_000);
    h
}

/// The live side: a reducer fed the same batches, with its clock ticking ahead.
fn live_state(h: &RecordingHeader) -> FleetState {
    let mut live = FleetState::new(h.started_at);
    for c in &h.clusters {
        live.add_cluster(c.clone());
    }
    live
}

fn write_to<W: Write>(w: &mut RecordWriter<W>, obs: &[Observation], batch: usize, live: &mut FleetState) {
    for chunk in obs.chunks(batch) {
        live.apply_all(chunk);
        // Clock ticks run ahead of the observations, as in the live app.
        live.set_clock(chunk[chunk.len() - 1].at + SignedDuration::from_secs(7));
        w.write_batch(chunk, live).expect("write batch");
    }
}

fn record(obs: &[Observation], batch: usize, interval: KeyframeInterval) -> Vec<u8> {
    let h = header(interval);
    let mut live = live_state(&h);
    let mut w = RecordWriter::new(Vec::new(), h).expect("writer");
    write_to(&mut w, obs, batch, &mut live);
    w.finish().expect("finish")
}

/// Replay from the start, independently of keyframes and `position`.
fn replay(rec: &Recording, t: Timestamp) -> FleetState {
    let mut s = FleetState::new(rec.header().started_at);
    for c in &rec.header().clusters {
        s.add_cluster(c.clone());
    }
    for o in rec.observations() {
        if o.at > t {
            break;
        }
        s.apply(o);
    }
    s.set_clock(t);
    s
}

fn replay_n(rec: &Recording, n: usize) -> FleetState {
    let mut s = FleetState::new(rec.header().started_at);
    for c in &rec.header().clusters {
        s.add_cluster(c.clone());
    }
    s.apply_all(&rec.observations()[..n]);
    s
}

/// Offsets where frames start, and the end of the file, by walking frame headers.
fn frame_boundaries(bytes: &[u8]) -> (usize, Vec<usize>) {
    let json_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let header_end = PREAMBLE_LEN + json_len + 4;
    let mut pos = header_end;
    let mut out = vec![pos];
    while pos < bytes.len() {
        let fh = FrameHeader::decode(bytes[pos..pos + FRAME_HEADER_LEN].try_into().unwrap())
            .expect("valid frame header");
        pos += FRAME_HEADER_LEN + fh.payload_len as usize;
        out.push(pos);
    }
    (header_end, out)
}

fn frame_kinds(bytes: &[u8]) -> Vec<(u8, u64)> {
    let (_, b) = frame_boundaries(bytes);
    b[..b.len() - 1]
        .iter()
        .map(|&p| {
            let fh = FrameHeader::decode(bytes[p..p + FRAME_HEADER_LEN].try_into().unwrap()).unwrap();
            (fh.kind, fh.count)
        })
        .collect()
}

/// Observations held by complete frames that end at or before `cut`.
fn observations_before(bytes: &[u8], cut: usize) -> usize {
    let (_, b) = frame_boundaries(bytes);
    let kinds = frame_kinds(bytes);
    b.windows(2)
        .zip(kinds)
        .filter(|(w, _)| w[1] <= cut)
        .filter(|(_, (k, _))| *k == 1)
        .map(|(_, (_, c))| c as usize)
        .sum()
}

const EVERY: KeyframeInterval = KeyframeInterval { observations: 1, seconds: 0 };

// ---------------------------------------------------------------- round trip

#[test]
fn round_trip_keeps_header_and_observations() {
    let obs = sample(300);
    let bytes = record(&obs, 16, KeyframeInterval::default());
    assert_eq!(&bytes[..8], b"FLEETREC");
    let rec = Recording::from_bytes(&bytes).expect("read");
    assert_eq!(rec.observations(), &obs[..]);
    assert!(rec.truncated().is_none());
    assert_eq!(rec.format_version(), FormatVersion::CURRENT);
    let h = rec.header();
    assert_eq!(h.format_version, FormatVersion::CURRENT);
    assert_eq!(h.fleettop_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(h.started_at, ts_ms(-10_000));
    assert_eq!(h.created_at, ts_ms(-5_000));
    assert_eq!(h.clusters, clusters());
    assert_eq!(h.source, "simulated");
    assert_eq!(h.keyframe_interval, KeyframeInterval::default());
    assert_eq!(rec.byte_len(), bytes.len() as u64);
    // 300 observations over 150 s: the first keyframe after the first batch, then by time.
    assert_eq!(rec.keyframes()[0].index(), 16);
    assert!(rec.keyframes().len() >= 3, "{} keyframes", rec.keyframes().len());
    assert_eq!(rec.start(), obs[0].at);
    assert_eq!(rec.end(), obs.iter().map(|o| o.at).max().unwrap());
}

#[test]
fn types_can_cross_threads() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<RecordWriter>();
    send::<RecordWriter<Vec<u8>>>();
    send::<Player>();
    send_sync::<Recording>();
    send_sync::<RecordError>();
}

#[test]
fn writer_overrides_format_version_in_header() {
    let mut h = header(KeyframeInterval::default());
    h.format_version = FormatVersion { major: 7, minor: 3 };
    let w = RecordWriter::new(Vec::new(), h).unwrap();
    assert_eq!(w.header().format_version, FormatVersion::CURRENT);
    let rec = Recording::from_bytes(&w.finish().unwrap()).unwrap();
    assert_eq!(rec.format_version(), FormatVersion::CURRENT);
}

#[test]
fn empty_batch_writes_nothing() {
    let h = header(KeyframeInterval::default());
    let live = live_state(&h);
    let mut w = RecordWriter::new(Vec::new(), h).unwrap();
    let before = w.bytes_written();
    w.write_batch(&[], &live).unwrap();
    assert_eq!(w.bytes_written(), before);
    assert_eq!(w.keyframes_written(), 0);
    let bytes = w.finish().unwrap();
    assert_eq!(bytes.len() as u64, before);
}

#[test]
fn large_batches_are_split_into_frames() {
    let obs = sample(super::format::MAX_OBSERVATIONS_PER_FRAME + 10);
    let bytes = record(&obs, obs.len(), KeyframeInterval::default());
    let kinds = frame_kinds(&bytes);
    assert_eq!(kinds, vec![(1, 4096), (1, 10), (2, obs.len() as u64)]);
    let rec = Recording::from_bytes(&bytes).unwrap();
    assert_eq!(rec.observations(), &obs[..]);
}

#[test]
fn empty_recording_replays_as_initial_state() {
    let h = header(KeyframeInterval::default());
    let bytes = RecordWriter::new(Vec::new(), h.clone()).unwrap().finish().unwrap();
    let rec = Recording::from_bytes(&bytes).unwrap();
    assert!(rec.observations().is_empty() && rec.keyframes().is_empty());
    assert!(rec.truncated().is_none());
    assert_eq!(rec.start(), h.started_at);
    assert_eq!(rec.end(), h.started_at);
    let s = rec.state_at(h.started_at);
    assert_eq!(s.clusters().len(), 3);
    assert!(s.same_facts(&replay(&rec, h.started_at)));
    let mut p = Player::new(Arc::new(rec));
    assert!(p.at_end());
    assert_eq!(p.progress(), 1.0);
    p.advance(Duration::from_secs(1));
    assert!(p.paused());
}

// ---------------------------------------------------------------- keyframes & seeking

#[test]
fn keyframes_follow_count_rule() {
    let obs = sample(100);
    let interval = KeyframeInterval { observations: 10, seconds: 0 };
    let rec = Recording::from_bytes(&record(&obs, 3, interval)).unwrap();
    let idx: Vec<usize> = rec.keyframes().iter().map(|k| k.index()).collect();
    // After the first batch (3), then at the first batch end >= 10 later: 3, 15, 27, …
    assert_eq!(idx, vec![3, 15, 27, 39, 51, 63, 75, 87, 99]);
}

#[test]
fn keyframes_follow_time_rule() {
    let obs = sample(100); // 500 ms apart, 50 s in all
    let interval = KeyframeInterval { observations: 0, seconds: 5 };
    let rec = Recording::from_bytes(&record(&obs, 1, interval)).unwrap();
    let ks = rec.keyframes();
    assert_eq!(ks[0].index(), 1);
    assert!(ks.len() >= 8, "{} keyframes", ks.len());
    for pair in ks.windows(2) {
        let gap = pair[1].at().duration_since(pair[0].at());
        assert!(gap >= SignedDuration::from_secs(5), "gap {gap:?}");
        assert!(gap <= SignedDuration::from_millis(5_500), "gap {gap:?}");
    }
}

#[test]
fn default_interval_writes_one_keyframe_for_a_short_session() {
    let obs = sample(50); // 25 s, < 2000 observations
    let rec = Recording::from_bytes(&record(&obs, 5, KeyframeInterval::default())).unwrap();
    let idx: Vec<usize> = rec.keyframes().iter().map(|k| k.index()).collect();
    assert_eq!(idx, vec![5]);
}

#[test]
fn keyframes_hold_what_a_replay_has() {
    let obs = sample(120);
    let rec = Recording::from_bytes(&record(&obs, 4, EVERY)).unwrap();
    assert_eq!(rec.keyframes().len(), 30);
    for k in rec.keyframes() {
        let frame = k.decode().unwrap();
        // The live clock ran 7 s ahead; the keyframe must carry the replay clock.
        let expected = replay_n(&rec, k.index());
        assert_eq!(frame.applied as usize, k.index());
        assert_eq!(frame.now, expected.now());
        assert_eq!(k.at(), expected.now());
        assert!(FleetState::from_keyframe(&frame).same_facts(&expected), "keyframe {}", k.index());
    }
}

fn check_seeking(rec: &Recording) {
    let obs = rec.observations();
    let mut times: Vec<Timestamp> = obs.iter().map(|o| o.at).collect();
    times.extend(obs.iter().map(|o| o.at + SignedDuration::from_millis(250)));
    times.extend([rec.start() - SignedDuration::from_secs(60), rec.end() + SignedDuration::from_secs(60)]);
    for t in times {
        let fast = rec.state_at(t);
        let slow = replay(rec, t);
        assert!(fast.same_facts(&slow), "state_at({t}) differs from replay");
        assert_eq!(fast.now(), slow.now());
    }
    for n in 0..=obs.len() {
        assert!(rec.state_after(n).same_facts(&replay_n(rec, n)), "state_after({n})");
    }
    assert!(rec.state_after(obs.len() + 5).same_facts(&replay_n(rec, obs.len())));
}

#[test]
fn state_at_equals_full_replay() {
    let obs = sample(240);
    for (interval, batch) in [
        (KeyframeInterval::default(), 16),
        (EVERY, 1),
        (EVERY, 7),
        (KeyframeInterval { observations: 13, seconds: 0 }, 5),
        (KeyframeInterval { observations: 0, seconds: 3 }, 2),
        (KeyframeInterval { observations: 0, seconds: 0 }, 9),
    ] {
        let rec = Recording::from_bytes(&record(&obs, batch, interval)).unwrap();
        check_seeking(&rec);
    }
}

#[test]
fn seeking_uses_keyframes() {
    // A keyframe that disagrees with the observations shows whether seeking used it:
    // drop the observations frames' content but keep keyframes by building the file by hand.
    let obs = sample(40);
    let h = header(EVERY);
    let mut bytes = encode_file_header(FormatVersion::CURRENT, &serde_json::to_vec(&h).unwrap()).unwrap();
    let mut fake = live_state(&h);
    fake.apply_all(&obs[..20]);
    let mut kf = fake.keyframe();
    kf.applied = 1;
    kf.now = obs[0].at;
    let json = serde_json::to_vec(&obs[..1]).unwrap();
    let ms = obs[0].at.as_millisecond();
    bytes.extend(encode_frame(1, ms, ms, 1, &json).unwrap());
    bytes.extend(encode_frame(2, ms, ms, 1, &serde_json::to_vec(&kf).unwrap()).unwrap());
    let rec = Recording::from_bytes(&bytes).unwrap();
    assert_eq!(rec.keyframes().len(), 1);
    // The state after 1 observation comes from the (deliberately wrong) keyframe.
    assert!(rec.state_after(1).same_facts(&FleetState::from_keyframe(&kf)));
    assert!(!rec.state_after(1).same_facts(&replay_n(&rec, 1)));
    assert!(rec.state_after(0).same_facts(&replay_n(&rec, 0)));
}

#[test]
fn undeclared_quiet_cluster_is_consistent_through_keyframes() {
    // The header declares a cluster the live state never heard of (it never sent data).
    let obs = sample(60);
    let mut h = header(EVERY);
    h.clusters.push(ClusterId::new("quiet"));
    let mut live = FleetState::new(h.started_at);
    let mut w = RecordWriter::new(Vec::new(), h).unwrap();
    write_to(&mut w, &obs, 6, &mut live);
    let rec = Recording::from_bytes(&w.finish().unwrap()).unwrap();
    check_seeking(&rec);
    assert!(rec.state_at(rec.end()).clusters().contains_key(&ClusterId::new("quiet")));
}

// ---------------------------------------------------------------- crashes and damage

#[test]
fn every_truncation_is_an_error_or_a_prefix() {
    let obs = sample(60);
    let bytes = record(&obs, 4, KeyframeInterval { observations: 12, seconds: 0 });
    let (header_end, bounds) = frame_boundaries(&bytes);
    assert!(bounds.len() > 10);
    let last_frames_start = bounds[bounds.len() - 4];
    for cut in 0..bytes.len() {
        // Every offset in the header and the last three frames, every 11th elsewhere.
        if cut > header_end && cut < last_frames_start && cut % 11 != 0 {
            continue;
        }
        let result = Recording::from_bytes(&bytes[..cut]);
        if cut == 0 {
            assert!(matches!(result, Err(RecordError::NotARecording { .. })), "cut 0");
            continue;
        }
        if cut < header_end {
            match result {
                Err(RecordError::BadHeader { reason, .. }) => {
                    assert!(reason.contains("ends after"), "cut {cut}: {reason}");
                }
                other => panic!("cut {cut}: expected BadHeader, got {other:?}"),
            }
            continue;
        }
        let rec = result.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let n = observations_before(&bytes, cut);
        assert_eq!(rec.observations(), &obs[..n], "cut {cut}");
        let frame_start = *bounds.iter().rev().find(|b| **b <= cut).unwrap();
        if frame_start == cut {
            assert!(rec.truncated().is_none(), "cut {cut} at a frame boundary");
        } else {
            let t = rec.truncated().unwrap_or_else(|| panic!("cut {cut}: no truncation"));
            assert_eq!(t.offset, frame_start as u64, "cut {cut}");
            assert_eq!(t.kind, TruncationKind::Incomplete, "cut {cut}");
            assert_eq!(t.dropped_bytes, (cut - frame_start) as u64);
        }
        // What survived still seeks consistently (sampled: replay is the slow part).
        if cut % 29 == 0 {
            let end = rec.end();
            assert!(rec.state_at(end).same_facts(&replay(&rec, end)), "cut {cut}");
        }
    }
}

/// The observations of frame `k` (an observations frame of `bytes`): where they start among
/// all observations, and how many.
fn frame_observations(bytes: &[u8], k: usize) -> (usize, usize) {
    let (_, bounds) = frame_boundaries(bytes);
    let kinds = frame_kinds(bytes);
    assert_eq!(kinds[k].0, 1, "frame {k} holds observations");
    (observations_before(bytes, bounds[k]), kinds[k].1 as usize)
}

/// The same records, clusters and clock (the observation counts differ when some were lost).
fn same_records(a: &FleetState, b: &FleetState) -> bool {
    let (mut ka, mut kb) = (a.keyframe(), b.keyframe());
    (ka.applied, kb.applied) = (0, 0);
    ka == kb
}

/// Seeking (keyframes) agrees with continuous replay (resetting at a keyframe after a gap) at
/// every observation, and the player agrees with both.
fn check_replay_with_gaps(rec: &Recording) {
    let mut continuous = rec.initial_state();
    rec.replay(&mut continuous, 0, 0);
    for n in 0..=rec.observations().len() {
        if n > 0 {
            rec.replay(&mut continuous, n - 1, n);
        }
        assert!(rec.state_after(n).same_facts(&continuous), "state after {n} observations");
    }
}

#[test]
fn a_flipped_payload_byte_loses_only_that_frame() {
    let obs = sample(60);
    let bytes = record(&obs, 6, KeyframeInterval { observations: 12, seconds: 0 });
    let (_, bounds) = frame_boundaries(&bytes);
    let kinds = frame_kinds(&bytes);
    let clean = Recording::from_bytes(&bytes).unwrap();
    let observation_frames: Vec<usize> = (0..kinds.len() - 1).filter(|k| kinds[*k].0 == 1).collect();
    for &k in &observation_frames[..observation_frames.len() - 1] {
        let mut damaged = bytes.clone();
        damaged[bounds[k] + FRAME_HEADER_LEN + 3] ^= 0x40;
        let rec = Recording::from_bytes(&damaged).unwrap();
        assert!(rec.truncated().is_none(), "frame {k}: {:?}", rec.truncated());
        let (first, n) = frame_observations(&bytes, k);
        let kept: Vec<Observation> = obs[..first].iter().chain(&obs[first + n..]).cloned().collect();
        assert_eq!(rec.observations(), &kept[..], "frame {k}: only its observations are lost");
        let [gap] = rec.gaps() else { panic!("frame {k}: one gap, not {:?}", rec.gaps()) };
        assert_eq!(gap.offset, bounds[k] as u64);
        assert_eq!(gap.bytes, (bounds[k + 1] - bounds[k]) as u64);
        assert_eq!(gap.index, first);
        assert_eq!(gap.lost, Some(n as u64));
        assert!(gap.reason.contains("payload checksum mismatch"), "{}", gap.reason);
        // The time range lost is the frame's, from its intact header.
        assert_eq!((gap.from, gap.to), (obs[first].at, obs[first + n - 1].at));
        let text = gap.to_string();
        assert!(text.contains(&format!("{n} observations were lost")), "{text}");
        // A keyframe follows in this recording: from there the state is exact again.
        let keyframe = rec.keyframes().iter().find(|kf| kf.resync()).expect("a keyframe follows");
        assert!(keyframe.index() >= first);
        assert_eq!(rec.keyframes().iter().filter(|kf| kf.resync()).count(), 1);
        assert_eq!(gap.exact_from, Some(keyframe.at()));
        assert!(text.contains("replay is exact again from"), "{text}");
        let all = rec.observations().len();
        assert!(
            same_records(&rec.state_after(all), &clean.state_after(obs.len())),
            "frame {k}: exact at the end"
        );
        check_replay_with_gaps(&rec);
        assert_eq!(rec.warnings().len(), 1, "{:?}", rec.warnings());
    }
}

#[test]
fn one_flipped_byte_early_in_the_demo_loses_one_frame_not_the_rest() {
    // Issue 13, item 8: one flipped byte at 3 % of a recording lost 97 % of it.
    let bytes = crate::demo::DEMO_BYTES;
    let clean = Recording::from_bytes(bytes).unwrap();
    let (_, bounds) = frame_boundaries(bytes);
    let k = bounds.iter().position(|b| *b > bytes.len() * 3 / 100).unwrap();
    let mut damaged = bytes.to_vec();
    damaged[bounds[k] + FRAME_HEADER_LEN + 100] ^= 0x01;
    let rec = Recording::from_bytes(&damaged).unwrap();
    assert!(rec.truncated().is_none());
    let [gap] = rec.gaps() else { panic!("{:?}", rec.gaps()) };
    let lost = gap.lost.unwrap_or(0) as usize;
    assert_eq!(rec.observations().len() + lost, clean.observations().len());
    assert!(rec.observations().len() * 100 >= clean.observations().len() * 97, "lost {lost}");
    let end = rec.observations().len();
    assert!(same_records(&rec.state_after(end), &clean.state_after(clean.observations().len())));
}

#[test]
fn a_damaged_keyframe_loses_no_observation() {
    let obs = sample(60);
    let bytes = record(&obs, 6, KeyframeInterval { observations: 12, seconds: 0 });
    let (_, bounds) = frame_boundaries(&bytes);
    let kinds = frame_kinds(&bytes);
    let k = (1..kinds.len() - 1).find(|k| kinds[*k].0 == 2).unwrap();
    let mut damaged = bytes.clone();
    damaged[bounds[k] + FRAME_HEADER_LEN + 7] ^= 0x10;
    let rec = Recording::from_bytes(&damaged).unwrap();
    assert_eq!(rec.observations(), &obs[..]);
    let [gap] = rec.gaps() else { panic!("{:?}", rec.gaps()) };
    assert_eq!(gap.lost, Some(0));
    assert!(gap.to_string().contains("only a keyframe was lost"), "{gap}");
    assert!(rec.keyframes().iter().all(|k| !k.resync()), "nothing to reset");
    check_seeking(&rec);
}

#[test]
fn a_flipped_frame_header_byte_resynchronises_on_the_next_intact_frame() {
    let obs = sample(30);
    let bytes = record(&obs, 6, KeyframeInterval::default());
    let (_, bounds) = frame_boundaries(&bytes);
    let (first, n) = frame_observations(&bytes, 2);
    for field in [0, 5, 13, 30] {
        let mut damaged = bytes.clone();
        damaged[bounds[2] + field] ^= 0x01;
        let rec = Recording::from_bytes(&damaged).unwrap();
        assert!(rec.truncated().is_none(), "field {field}: {:?}", rec.truncated());
        let [gap] = rec.gaps() else { panic!("field {field}: {:?}", rec.gaps()) };
        assert_eq!(gap.offset, bounds[2] as u64);
        assert_eq!(gap.bytes, (bounds[3] - bounds[2]) as u64, "the search found the next frame");
        assert!(gap.reason.contains("frame header checksum"), "{}", gap.reason);
        assert_eq!(gap.lost, None, "a damaged header hides how many were lost");
        // The time range comes from the observations around the gap.
        assert_eq!(gap.to, obs[first + n].at);
        let kept: Vec<Observation> = obs[..first].iter().chain(&obs[first + n..]).cloned().collect();
        assert_eq!(rec.observations(), &kept[..]);
        check_replay_with_gaps(&rec);
    }
}

#[test]
fn garbage_between_frames_is_skipped() {
    let obs = sample(30);
    let bytes = record(&obs, 6, KeyframeInterval::default());
    let (_, bounds) = frame_boundaries(&bytes);
    let mut damaged = bytes[..bounds[3]].to_vec();
    // Bytes that look like frame starts (kind 1 and 2) but whose checksums do not hold.
    damaged.extend(std::iter::repeat_n([1u8, 2, 0, 0, 9], 500).flatten());
    damaged.extend(&bytes[bounds[3]..]);
    let rec = Recording::from_bytes(&damaged).unwrap();
    assert_eq!(rec.observations(), &obs[..]);
    let [gap] = rec.gaps() else { panic!("{:?}", rec.gaps()) };
    assert_eq!(gap.bytes, 2500);
}

#[test]
fn damage_with_nothing_intact_after_it_ends_the_recording() {
    let obs = sample(30);
    let bytes = record(&obs, 6, KeyframeInterval::default());
    let (_, bounds) = frame_boundaries(&bytes);
    let last = bounds[bounds.len() - 2];
    let mut damaged = bytes.clone();
    damaged[last + FRAME_HEADER_LEN + 2] ^= 0x01;
    let rec = Recording::from_bytes(&damaged).unwrap();
    assert!(rec.gaps().is_empty());
    let t = rec.truncated().expect("damage reported");
    assert_eq!((t.offset, t.kind), (last as u64, TruncationKind::Corrupt));
    assert!(t.reason.contains("payload checksum mismatch"), "{}", t.reason);
    assert_eq!(rec.observations(), &obs[..observations_before(&bytes, last)]);
}

// ---------------------------------------------------------------- memory bounds

/// A frame of `kind` whose payload is `decoded` zero bytes, zstd-compressed (a few KB).
fn bomb(kind: u8, decoded: usize, count: u64) -> Vec<u8> {
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..decoded / zeros.len() {
        enc.write_all(&zeros).unwrap();
    }
    let payload = enc.finish().unwrap();
    let fh = FrameHeader {
        kind,
        flags: 0,
        payload_len: payload.len() as u32,
        payload_crc: crc32fast::hash(&payload),
        t_first: ts_ms(0).as_millisecond(),
        t_last: ts_ms(0).as_millisecond(),
        count,
    };
    let mut out = fh.encode().to_vec();
    out.extend(payload);
    out
}

#[test]
fn decompression_bombs_are_damaged_frames_not_allocations() {
    // Issue 13, item 9: four valid frames of 86 KB took 5.9 GB of memory. Each bomb here
    // decodes to 256 MiB; the reader stops each after its limit (16 MiB for payloads this small).
    let h = header(KeyframeInterval::default());
    let mut bytes = encode_file_header(FormatVersion::CURRENT, &serde_json::to_vec(&h).unwrap()).unwrap();
    let obs = sample(3);
    for kind in [1, 2, 1, 2] {
        bytes.extend(bomb(kind, 256 << 20, 1));
    }
    let good = record(&obs, 3, KeyframeInterval::default());
    let (header_end, _) = frame_boundaries(&good);
    bytes.extend(&good[header_end..]);
    assert!(bytes.len() < 200_000, "{} bytes", bytes.len());
    let rec = Recording::from_bytes(&bytes).unwrap();
    assert_eq!(rec.observations(), &obs[..], "the intact frames after the bombs are read");
    let [gap] = rec.gaps() else { panic!("{:?}", rec.gaps()) };
    assert!(gap.reason.contains("decompresses to more than 16777216 bytes"), "{}", gap.reason);
    assert_eq!(frame_decode_limit(1000), MIN_DECODE_ALLOWANCE);
    assert_eq!(frame_decode_limit(100_000), 100_000 * MAX_DECODE_RATIO);
    assert_eq!(frame_decode_limit(u32::MAX), MAX_DECODED_LEN);
}

#[test]
fn the_decoded_total_is_bounded() {
    let obs = sample(60);
    let bytes = record(&obs, 6, KeyframeInterval::default());
    let all = Recording::from_bytes(&bytes).unwrap();
    assert!(all.truncated().is_none());
    let limits = ReadLimits { total_decoded: 4_000 };
    let rec = Recording::from_bytes_with(&bytes, limits).unwrap();
    let t = rec.truncated().expect("reading stops at the limit");
    assert_eq!(t.kind, TruncationKind::Limit);
    assert!(t.reason.contains("4000-byte limit"), "{}", t.reason);
    assert!(!rec.observations().is_empty() && rec.observations().len() < obs.len());
    assert_eq!(rec.observations(), &obs[..rec.observations().len()]);
    assert!(t.to_string().contains("too large to read whole"), "{t}");
}

#[test]
fn what_is_not_a_regular_file_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.fleetrec");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for (path, what) in [
        (std::path::Path::new("/dev/zero"), "a character device"),
        (fifo.as_path(), "a FIFO (named pipe)"),
        (dir.path(), "a directory"),
    ] {
        // `/dev/zero` was read until memory ran out; a FIFO blocked.
        let e = Recording::open(path).unwrap_err();
        assert!(matches!(e, RecordError::NotARecording { .. }), "{e:?}");
        assert!(e.to_string().contains(&format!("it is {what}, not a regular file")), "{e}");
    }
}

#[test]
fn a_file_is_read_as_it_is_streamed_not_whole() {
    // The file's claimed lengths never size an allocation: a header claiming a 16 MiB JSON in a
    // 40-byte file, and a frame claiming 256 MiB at the end, are errors, read from the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.fleetrec");
    let mut bytes = MAGIC.to_vec();
    bytes.extend(1u16.to_le_bytes());
    bytes.extend(3u16.to_le_bytes());
    bytes.extend(MAX_HEADER_LEN.to_le_bytes());
    bytes.extend([b'{'; 24]);
    std::fs::write(&path, &bytes).unwrap();
    let e = Recording::open(&path).unwrap_err();
    assert!(e.to_string().contains("inside the"), "{e}");
    let obs = sample(12);
    let mut good = record(&obs, 6, KeyframeInterval::default());
    let fh = FrameHeader {
        kind: 1,
        flags: 0,
        payload_len: MAX_PAYLOAD_LEN,
        payload_crc: 0,
        t_first: 0,
        t_last: 0,
        count: 1,
    };
    good.extend(fh.encode());
    std::fs::write(&path, &good).unwrap();
    let rec = Recording::open(&path).unwrap();
    assert_eq!(rec.observations(), &obs[..]);
    assert_eq!(rec.truncated().map(|t| t.kind), Some(TruncationKind::Incomplete));
}

#[test]
fn consistent_but_wrong_frame_fields_are_corrupt() {
    let obs = sample(4);
    let h = header(KeyframeInterval::default());
    let head = encode_file_header(FormatVersion::CURRENT, &serde_json::to_vec(&h).unwrap()).unwrap();
    let json = serde_json::to_vec(&obs).unwrap();
    let (a, b) = (obs[0].at.as_millisecond(), obs[3].at.as_millisecond());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (encode_frame(1, a, b, 5, &json).unwrap(), "announces 5"),
        (encode_frame(1, a + 1, b, 4, &json).unwrap(), "times do not match"),
        (encode_frame(1, a, b, 0, b"[]").unwrap(), "no observation"),
        (encode_frame(1, a, b, 4, b"{not json").unwrap(), "JSON is invalid"),
        (encode_frame(2, a, a, 3, &json).unwrap(), "keyframe follows 3"),
    ];
    for (frame, expected) in cases {
        let mut bytes = head.clone();
        bytes.extend(&frame);
        let rec = Recording::from_bytes(&bytes).unwrap();
        let t = rec.truncated().expect("corrupt frame reported");
        assert_eq!(t.kind, TruncationKind::Corrupt);
        assert!(t.reason.contains(expected), "{} (wanted {expected})", t.reason);
        assert!(rec.observations().is_empty());
    }
    // A payload that is not zstd at all, with a valid checksum.
    let mut bytes = head.clone();
    let mut fh = FrameHeader {
        kind: 1,
        flags: 0,
        payload_len: 5,
        payload_crc: crc32fast::hash(b"hello"),
        t_first: a,
        t_last: b,
        count: 4,
    };
    bytes.extend(fh.encode());
    bytes.extend(b"hello");
    let t = Recording::from_bytes(&bytes).unwrap().truncated().cloned().unwrap();
    assert!(t.reason.contains("zstd"), "{}", t.reason);
    // An absurd payload length is corrupt, not an allocation.
    let mut bytes = head;
    fh.payload_len = MAX_PAYLOAD_LEN + 1;
    bytes.extend(fh.encode());
    let t = Recording::from_bytes(&bytes).unwrap().truncated().cloned().unwrap();
    assert_eq!(t.kind, TruncationKind::Corrupt);
    assert!(t.reason.contains("over the"), "{}", t.reason);
}

#[test]
fn damaged_header_is_a_clear_error() {
    let bytes = record(&sample(5), 5, KeyframeInterval::default());
    let (header_end, _) = frame_boundaries(&bytes);
    // A flipped byte inside the JSON: checksum mismatch.
    let mut d = bytes.clone();
    d[PREAMBLE_LEN + 3] ^= 0x20;
    let e = Recording::from_bytes(&d).unwrap_err();
    assert!(matches!(e, RecordError::BadHeader { .. }), "{e:?}");
    assert!(e.to_string().contains("header checksum mismatch"), "{e}");
    assert!(e.to_string().contains(&format!("byte {}", header_end - 4)), "{e}");
    // An absurd header length.
    let mut d = bytes.clone();
    d[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = Recording::from_bytes(&d).unwrap_err();
    assert!(e.to_string().contains("exceeds"), "{e}");
    // Valid checksum, JSON that is not a header.
    let d = encode_file_header(FormatVersion::CURRENT, b"{\"hello\":1}").unwrap();
    let e = Recording::from_bytes(&d).unwrap_err();
    assert!(e.to_string().contains("header JSON is invalid"), "{e}");
}

#[test]
fn not_a_recording() {
    let mut random = vec![0u8; 4096];
    let mut seed = 7u64;
    for b in random.iter_mut() {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        *b = (seed >> 56) as u8;
    }
    random[0] = 0x9c;
    let cases: Vec<(&[u8], &str)> = vec![
        (b"", "the file is empty"),
        (b"hello world\nthis is text\n", "\"hello wo\""),
        (b"{\"kind\": \"json\"}", "instead of the magic bytes"),
        (&random, "bytes 9c"),
        (b"FLEETRE\x00", "instead of the magic"),
    ];
    for (bytes, expected) in cases {
        match Recording::from_bytes(bytes) {
            Err(e @ RecordError::NotARecording { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("is not a fleettop recording"), "{msg}");
                assert!(msg.contains(expected), "{msg} (wanted {expected})");
            }
            other => panic!("{bytes:?}: expected NotARecording, got {other:?}"),
        }
    }
}

#[test]
fn open_names_the_file_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "incident notes\n").unwrap();
    let e = Recording::open(&path).unwrap_err();
    assert!(matches!(e, RecordError::NotARecording { .. }));
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    let missing = dir.path().join("missing.fleetrec");
    let e = Recording::open(&missing).unwrap_err();
    assert!(matches!(e, RecordError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("missing.fleetrec"), "{e}");
    let named = Recording::from_bytes_named(b"", "bundled demo").unwrap_err();
    assert!(named.to_string().starts_with("bundled demo is not"), "{named}");
}

// ---------------------------------------------------------------- versions

fn with_version(version: FormatVersion, extra_field: bool) -> Vec<u8> {
    let obs = sample(20);
    let mut h = header(KeyframeInterval::default());
    h.format_version = version;
    let mut json = serde_json::to_value(&h).unwrap();
    if extra_field {
        json["added_in_a_later_minor"] = serde_json::json!({"anything": [1, 2, 3]});
    }
    let mut bytes = encode_file_header(version, &serde_json::to_vec(&json).unwrap()).unwrap();
    let body = record(&obs, 5, KeyframeInterval::default());
    let (header_end, bounds) = frame_boundaries(&body);
    bytes.extend(&body[header_end..bounds[1]]);
    // A frame type a later minor version added: readers skip it.
    bytes.extend(encode_frame(9, 0, 0, 0, b"{\"future\": true}").unwrap());
    bytes.extend(&body[bounds[1]..]);
    bytes
}

#[test]
fn newer_major_version_is_refused() {
    let bytes = with_version(FormatVersion { major: 2, minor: 0 }, true);
    match Recording::from_bytes(&bytes) {
        Err(e @ RecordError::UnsupportedVersion { found, supported, .. }) => {
            assert_eq!(found, FormatVersion { major: 2, minor: 0 });
            assert_eq!(supported, FormatVersion::CURRENT);
            let msg = e.to_string();
            assert!(msg.contains("format 2.0") && msg.contains("upgrade fleettop"), "{msg}");
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    // Only the preamble's major matters: a major-2 file may change everything after it.
    let mut bytes = with_version(FormatVersion::CURRENT, false);
    bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
    bytes.truncate(PREAMBLE_LEN);
    assert!(matches!(Recording::from_bytes(&bytes), Err(RecordError::UnsupportedVersion { .. })));
    // Major 0 never existed.
    let bytes = with_version(FormatVersion { major: 0, minor: 9 }, false);
    let e = Recording::from_bytes(&bytes).unwrap_err();
    assert!(e.to_string().contains("no fleettop release writes format 0.x"), "{e}");
}

#[test]
fn newer_minor_version_is_read() {
    let bytes = with_version(FormatVersion { major: 1, minor: 1 }, true);
    let rec = Recording::from_bytes(&bytes).expect("newer minor accepted");
    assert_eq!(rec.format_version(), FormatVersion { major: 1, minor: 1 });
    assert_eq!(rec.observations(), &sample(20)[..]);
    assert!(rec.truncated().is_none());
    assert_eq!(rec.keyframes().len(), 1);
}

/// A file as a newer fleettop (format 1.9) writes it: a record type and a change this build
/// does not know among the known observations, and a keyframe holding the unknown record.
fn with_unknown_kinds(obs: &[Observation]) -> Vec<u8> {
    let version = FormatVersion { major: 1, minor: 9 };
    let mut h = header(EVERY);
    h.format_version = version;
    let mut bytes = encode_file_header(version, &serde_json::to_vec(&h).unwrap()).unwrap();
    let mut state = live_state(&h);
    let mut in_file = 0u64;
    for (i, chunk) in obs.chunks(10).enumerate() {
        let mut frame: Vec<serde_json::Value> = Vec::new();
        for (j, o) in chunk.iter().enumerate() {
            frame.push(serde_json::to_value(o).unwrap());
            if (i + j) % 4 == 1 {
                // Same time as its neighbour, so the clocks agree with a replay that skips it.
                let at = serde_json::to_value(o.at).unwrap();
                let change = if j % 2 == 0 {
                    serde_json::json!({"op": "upsert", "record": {"record": "hologram", "id": j}})
                } else {
                    serde_json::json!({"op": "teleport", "to": "mars"})
                };
                frame.push(serde_json::json!({"at": at, "cluster": o.cluster, "change": change}));
            }
        }
        let (first, last) = (chunk[0].at.as_millisecond(), chunk[chunk.len() - 1].at.as_millisecond());
        let json = serde_json::to_vec(&frame).unwrap();
        bytes.extend(encode_frame(1, first, last, frame.len() as u64, &json).unwrap());
        in_file += frame.len() as u64;
        state.apply_all(chunk);
        let mut kf = serde_json::to_value(state.keyframe()).unwrap();
        kf["applied"] = in_file.into();
        kf["records"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!(["prod-eu", {"record": "hologram", "id": i}]));
        let now = state.now().as_millisecond();
        bytes.extend(encode_frame(2, now, now, in_file, &serde_json::to_vec(&kf).unwrap()).unwrap());
    }
    bytes
}

#[test]
fn observations_and_records_of_unknown_kinds_are_skipped_with_a_warning() {
    let obs = sample(40);
    let rec = Recording::from_bytes(&with_unknown_kinds(&obs)).expect("a newer minor is read");
    assert!(rec.truncated().is_none(), "{:?}", rec.truncated());
    assert_eq!(rec.observations(), &obs[..], "every known observation, in order");
    assert_eq!(rec.skipped(), Skipped { observations: 10, keyframe_records: 1 });
    let w = rec.skipped_warning().unwrap();
    assert!(
        w.starts_with("10 observations of kinds this fleettop does not know were skipped")
            && w.contains("format 1.9")
            && w.ends_with("upgrade fleettop to see them"),
        "{w}"
    );
    assert_eq!(rec.keyframes().len(), 4);
    assert_eq!(rec.keyframes()[1].index(), 20, "keyframes count the observations this build read");
    check_seeking(&rec);
    let plain = Recording::from_bytes(&record(&obs, 10, EVERY)).unwrap();
    assert_eq!((plain.skipped(), plain.skipped_warning()), (Skipped::default(), None));
}

#[test]
fn a_damaged_known_observation_still_stops_reading() {
    let obs = sample(20);
    let h = header(EVERY);
    let mut bytes = encode_file_header(FormatVersion::CURRENT, &serde_json::to_vec(&h).unwrap()).unwrap();
    let ms = obs[0].at.as_millisecond();
    bytes.extend(encode_frame(1, ms, ms, 1, &serde_json::to_vec(&obs[..1]).unwrap()).unwrap());
    let mut bad = serde_json::to_value(&obs[1]).unwrap();
    bad["change"] = serde_json::json!({"op": "upsert", "record": {"record": "denial", "id": 7}});
    let frame = serde_json::to_vec(&serde_json::json!([bad])).unwrap();
    let ms = obs[1].at.as_millisecond();
    bytes.extend(encode_frame(1, ms, ms, 1, &frame).unwrap());
    let rec = Recording::from_bytes(&bytes).unwrap();
    assert_eq!(rec.observations().len(), 1);
    let t = rec.truncated().expect("the damaged frame ends the recording");
    assert!(t.reason.contains("observations JSON is invalid"), "{}", t.reason);
    assert!(rec.skipped().is_empty());
}

#[test]
fn header_json_must_agree_with_preamble() {
    let mut h = header(KeyframeInterval::default());
    h.format_version = FormatVersion { major: 1, minor: 9 };
    let bytes = encode_file_header(FormatVersion::CURRENT, &serde_json::to_vec(&h).unwrap()).unwrap();
    let e = Recording::from_bytes(&bytes).unwrap_err();
    assert!(matches!(e, RecordError::BadHeader { .. }));
    assert!(e.to_string().contains("says format 1.9"), "{e}");
}

// ---------------------------------------------------------------- files

#[test]
fn a_new_file_is_private_and_readable_after_each_batch() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("incident.fleetrec");
    let obs = sample(50);
    let h = header(KeyframeInterval::default());
    let mut live = live_state(&h);
    let mut w = RecordWriter::create(&path, h, Existing::Refuse).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    write_to(&mut w, &obs, 10, &mut live);
    // Each batch reaches the OS: readable before finish().
    let mid = Recording::open(&path).unwrap();
    assert_eq!(mid.observations(), &obs[..]);
    assert!(mid.truncated().is_none());
    w.finish().unwrap();
    let rec = Recording::open(&path).unwrap();
    assert_eq!(rec.observations(), &obs[..]);
}

#[test]
fn an_existing_path_is_refused_and_left_as_it_was() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evidence.fleetrec");
    std::fs::write(&file, b"someone's evidence").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.path().join("link.fleetrec");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let dangling = dir.path().join("dangling.fleetrec");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    for (path, what) in
        [(&file, "a file of 18 bytes"), (&link, "a symbolic link to"), (&dangling, "a symbolic link")]
    {
        let e =
            RecordWriter::create(path, header(KeyframeInterval::default()), Existing::Refuse).unwrap_err();
        assert!(matches!(e, RecordError::Exists { .. }), "{e:?}");
        assert!(e.to_string().contains(what), "{e}");
    }
    // Before: truncated, written through the link and chmod-ed to 0600.
    assert_eq!(std::fs::read(&file).unwrap(), b"someone's evidence");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o644);
    assert!(!dir.path().join("nowhere").exists(), "a dangling link is not followed to create its target");
}

#[test]
fn replace_takes_a_file_or_the_link_itself_never_its_target() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.txt");
    std::fs::write(&target, b"not a recording").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.path().join("link.fleetrec");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let obs = sample(5);
    for path in [&link, &target] {
        let h = header(KeyframeInterval::default());
        let mut live = live_state(&h);
        let mut w = RecordWriter::create(path, h, Existing::Replace).unwrap();
        write_to(&mut w, &obs, 5, &mut live);
        w.finish().unwrap();
        let meta = std::fs::symlink_metadata(path).unwrap();
        assert!(meta.file_type().is_file(), "{} is a new regular file", path.display());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(Recording::open(path).unwrap().observations(), &obs[..]);
        if path == &link {
            assert_eq!(std::fs::read(&target).unwrap(), b"not a recording", "the link's target is untouched");
            assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o644);
        }
    }
}

#[test]
fn devices_and_directories_are_never_replaced_or_chmod_ed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let before = std::fs::metadata("/dev/null").unwrap().permissions().mode();
    for existing in [Existing::Refuse, Existing::Replace] {
        // `--record /dev/null` as root made /dev/null 0600 for everyone.
        let e = RecordWriter::create("/dev/null", header(KeyframeInterval::default()), existing).unwrap_err();
        assert!(e.to_string().contains("a character device"), "{e}");
        let e = RecordWriter::create(dir.path(), header(KeyframeInterval::default()), existing).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
    }
    assert_eq!(std::fs::metadata("/dev/null").unwrap().permissions().mode(), before);
    assert!(dir.path().is_dir());
}

#[test]
fn numbered_names_never_collide() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleettop-x.fleetrec"), b"earlier").unwrap();
    std::fs::write(dir.path().join("fleettop-x-2.fleetrec"), b"earlier").unwrap();
    let (w, path) = RecordWriter::create_numbered(dir.path(), "fleettop-x", header(EVERY)).unwrap();
    w.finish().unwrap();
    assert_eq!(path, dir.path().join("fleettop-x-3.fleetrec"));
    assert_eq!(std::fs::read(dir.path().join("fleettop-x.fleetrec")).unwrap(), b"earlier");
    assert!(Recording::open(&path).unwrap().observations().is_empty());
}

#[test]
fn create_reports_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/x.fleetrec");
    let Err(e) = RecordWriter::create(&path, header(KeyframeInterval::default()), Existing::Refuse) else {
        panic!("created a file in a missing directory");
    };
    assert!(matches!(e, RecordError::Io { .. }));
    assert!(e.to_string().contains("no/such/dir/x.fleetrec"), "{e}");
}

/// A sink that accepts `room` bytes, then fails like a full disk.
#[derive(Clone)]
struct FullDisk {
    data: Arc<Mutex<Vec<u8>>>,
    room: usize,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut data = self.data.lock().unwrap();
        let left = self.room.saturating_sub(data.len());
        if left == 0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "No space left on device"));
        }
        let n = left.min(buf.len());
        data.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn disk_full_is_an_error_and_leaves_a_readable_prefix() {
    let obs = sample(80);
    let full = record(&obs, 8, KeyframeInterval::default());
    let (_, bounds) = frame_boundaries(&full);
    let room = (bounds[3] + bounds[4]) / 2; // in the middle of the 4th frame
    let sink = FullDisk { data: Arc::default(), room };
    let h = header(KeyframeInterval::default());
    let mut live = live_state(&h);
    let mut w = RecordWriter::new(sink.clone(), h).unwrap();
    let mut first_error = None;
    for chunk in obs.chunks(8) {
        live.apply_all(chunk);
        if let Err(e) = w.write_batch(chunk, &live) {
            first_error = Some(e);
            break;
        }
    }
    let e = first_error.expect("the full disk is reported");
    let RecordError::Write { kept, .. } = &e else { panic!("{e:?}") };
    // Exact: where the last whole frame ends (it said the bytes handed over before).
    assert_eq!(kept.offset, bounds[3] as u64);
    assert_eq!(kept.observations, observations_before(&full, bounds[3]) as u64);
    assert!(!kept.clean, "a sink that is not a file cannot be cut back");
    assert!(e.to_string().contains("No space left"), "{e}");
    assert!(e.to_string().contains(&format!("in its first {} bytes", bounds[3])), "{e}");
    assert_eq!(w.failed(), Some(*kept));
    let again = w.write_batch(&obs[..1], &live).unwrap_err();
    assert!(matches!(again, RecordError::WriterFailed { .. }), "{again:?}");
    assert!(matches!(w.flush(), Err(RecordError::WriterFailed { .. })));
    let written = sink.data.lock().unwrap().clone();
    assert_eq!(written.len(), room);
    let rec = Recording::from_bytes(&written).unwrap();
    assert_eq!(rec.truncated().map(|t| t.offset), Some(bounds[3] as u64));
    assert_eq!(rec.observations(), &obs[..observations_before(&full, bounds[3])]);
}

// ---------------------------------------------------------------- player

fn player_recording(n: usize, interval: KeyframeInterval) -> Arc<Recording> {
    Arc::new(Recording::from_bytes(&record(&sample(n), 4, interval)).unwrap())
}

fn assert_player_matches(p: &Player) {
    let expected = p.recording().state_at(p.position());
    assert!(p.state().same_facts(&expected), "player differs from state_at({})", p.position());
    assert_eq!(p.state().now(), p.position().max(p.recording().header().started_at));
    assert_eq!(p.observations_applied(), p.recording().position(p.position()));
}

#[test]
fn player_starts_at_the_start() {
    let rec = player_recording(100, EVERY);
    let p = Player::new(rec.clone());
    assert_eq!(p.position(), rec.start());
    assert_eq!(p.speed(), 1.0);
    assert!(!p.paused());
    assert!(!p.at_end());
    assert_eq!(p.progress(), 0.0);
    assert!(p.observations_applied() >= 1);
    assert_player_matches(&p);
}

#[test]
fn player_advances_with_speed() {
    let rec = player_recording(100, EVERY);
    let start = rec.start();
    let mut p = Player::new(rec.clone());
    assert!(p.advance(Duration::from_secs(3)));
    assert_eq!(p.position(), start + SignedDuration::from_secs(3));
    assert_player_matches(&p);
    p.set_speed(10.0);
    p.advance(Duration::from_millis(500));
    assert_eq!(p.position(), start + SignedDuration::from_secs(8));
    assert_player_matches(&p);
    p.set_speed(0.5);
    p.advance(Duration::from_secs(2));
    assert_eq!(p.position(), start + SignedDuration::from_secs(9));
    assert_player_matches(&p);
    // Many small steps land where one big one does.
    let mut q = Player::new(rec.clone());
    q.set_speed(2.0);
    for _ in 0..40 {
        q.advance(Duration::from_millis(100));
    }
    assert_eq!(q.position(), start + SignedDuration::from_secs(8));
    assert_player_matches(&q);
}

#[test]
fn player_pause_stops_the_head() {
    let rec = player_recording(60, EVERY);
    let mut p = Player::new(rec);
    p.advance(Duration::from_secs(1));
    p.toggle_pause();
    assert!(p.paused());
    let (pos, version) = (p.position(), p.state().version());
    assert!(!p.advance(Duration::from_secs(10)));
    assert_eq!(p.position(), pos);
    assert_eq!(p.state().version(), version);
    p.toggle_pause();
    assert!(!p.paused());
    assert!(p.advance(Duration::from_secs(1)));
    assert_eq!(p.position(), pos + SignedDuration::from_secs(1));
}

#[test]
fn player_stops_and_pauses_at_the_end() {
    let rec = player_recording(60, EVERY);
    let mut p = Player::new(rec.clone());
    p.set_speed(1000.0);
    assert!(p.advance(Duration::from_secs(3600)));
    assert_eq!(p.position(), rec.end());
    assert!(p.paused());
    assert!(p.at_end());
    assert_eq!(p.progress(), 1.0);
    assert_eq!(p.observations_applied(), 60);
    assert_player_matches(&p);
    assert!(!p.advance(Duration::from_secs(1)));
    // Play at the end starts over.
    p.toggle_pause();
    assert!(!p.paused());
    assert_eq!(p.position(), rec.start());
    assert_player_matches(&p);
}

#[test]
fn player_seeks_back_and_forward() {
    for interval in [EVERY, KeyframeInterval { observations: 9, seconds: 0 }, KeyframeInterval::default()] {
        let rec = player_recording(200, interval);
        let (start, end) = (rec.start(), rec.end());
        let mut p = Player::new(rec.clone());
        let span = end.duration_since(start).as_millis() as i64;
        for frac in [50, 10, 90, 90, 33, 0, 100, 71, 70, 5] {
            let t = start + SignedDuration::from_millis(span * frac / 100 + 123);
            p.seek_to(t);
            assert_eq!(p.position(), t.min(end));
            assert_player_matches(&p);
        }
        p.seek_by(SignedDuration::from_secs(-10));
        assert_player_matches(&p);
        p.seek_by(SignedDuration::from_secs(25));
        assert_player_matches(&p);
        // Clamped at both ends.
        p.seek_to(start - SignedDuration::from_secs(3600));
        assert_eq!(p.position(), start);
        assert_player_matches(&p);
        p.seek_by(SignedDuration::from_secs(-5));
        assert_eq!(p.position(), start);
        p.seek_to(end + SignedDuration::from_secs(3600));
        assert_eq!(p.position(), end);
        assert!(p.at_end());
        assert_player_matches(&p);
        p.seek_by(SignedDuration::MAX);
        assert_eq!(p.position(), end);
        p.seek_by(SignedDuration::MIN);
        assert_eq!(p.position(), start);
        assert_player_matches(&p);
    }
}

#[test]
fn player_forward_seek_through_keyframes_matches_replay() {
    // Enough observations that a forward seek jumps to a keyframe.
    let obs = sample(3000);
    let rec = Arc::new(
        Recording::from_bytes(&record(&obs, 50, KeyframeInterval { observations: 600, seconds: 0 })).unwrap(),
    );
    let mut p = Player::new(rec.clone());
    for frac in [40, 41, 95, 20, 100] {
        let span = rec.end().duration_since(rec.start()).as_millis() as i64;
        p.seek_to(rec.start() + SignedDuration::from_millis(span * frac / 100));
        let reference = replay(&rec, p.position());
        assert!(p.state().same_facts(&reference), "seek to {frac}%");
    }
}

/// The verdicts are a setting, not a fact: every state a seek rebuilds (from a keyframe,
/// backwards or by a forward jump) keeps the ones the player was given.
#[test]
fn player_seeks_keep_the_verdicts() {
    let obs = sample(3000);
    let rec = Arc::new(
        Recording::from_bytes(&record(&obs, 50, KeyframeInterval { observations: 600, seconds: 0 })).unwrap(),
    );
    let verdicts =
        crate::model::Verdicts { expiring_within: SignedDuration::from_hours(24 * 30), ..Default::default() };
    let mut p = Player::new(rec.clone());
    p.set_verdicts(verdicts);
    let span = rec.end().duration_since(rec.start()).as_millis() as i64;
    for frac in [40, 95, 20, 100, 0] {
        p.seek_to(rec.start() + SignedDuration::from_millis(span * frac / 100));
        assert_eq!(*p.state().verdicts(), verdicts, "seek to {frac}%");
    }
}

#[test]
fn player_seek_keeps_pause() {
    let rec = player_recording(60, EVERY);
    let mut p = Player::new(rec.clone());
    p.toggle_pause();
    p.seek_by(SignedDuration::from_secs(10));
    assert!(p.paused());
    assert_eq!(p.position(), rec.start() + SignedDuration::from_secs(10));
    assert_player_matches(&p);
}

#[test]
fn player_speed_steps() {
    let rec = player_recording(10, EVERY);
    let mut p = Player::new(rec);
    let mut up = vec![p.speed()];
    for _ in 0..12 {
        p.faster();
        up.push(p.speed());
    }
    assert_eq!(
        up,
        vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 1000.0, 1000.0, 1000.0]
    );
    let mut down = Vec::new();
    for _ in 0..12 {
        p.slower();
        down.push(p.speed());
    }
    assert_eq!(down, vec![500.0, 200.0, 100.0, 50.0, 20.0, 10.0, 5.0, 2.0, 1.0, 0.5, 0.5, 0.5]);
    p.set_speed(3.0);
    p.faster();
    assert_eq!(p.speed(), 5.0);
    p.set_speed(3.0);
    p.slower();
    assert_eq!(p.speed(), 2.0);
    p.set_speed(0.01);
    assert_eq!(p.speed(), 0.5);
    p.set_speed(1e9);
    assert_eq!(p.speed(), 1000.0);
    p.set_speed(f64::INFINITY);
    assert_eq!(p.speed(), 1000.0);
    p.set_speed(f64::NAN);
    assert_eq!(p.speed(), 1000.0);
}

#[test]
fn player_is_deterministic() {
    let rec = player_recording(150, KeyframeInterval { observations: 11, seconds: 0 });
    let run = || {
        let mut p = Player::new(rec.clone());
        p.faster();
        p.advance(Duration::from_millis(1700));
        p.seek_by(SignedDuration::from_secs(30));
        p.advance(Duration::from_millis(333));
        p.seek_by(SignedDuration::from_secs(-12));
        p.faster();
        p.advance(Duration::from_secs(2));
        p
    };
    let (a, b) = (run(), run());
    assert_eq!(a.position(), b.position());
    assert_eq!(a.state(), b.state());
    assert_player_matches(&a);
}

#[test]
fn player_progress_is_linear() {
    let rec = player_recording(101, EVERY); // 50 s
    let mut p = Player::new(rec.clone());
    let span = rec.end().duration_since(rec.start());
    p.seek_to(rec.start() + span / 4);
    assert!((p.progress() - 0.25).abs() < 1e-9, "{}", p.progress());
}

// ---------------------------------------------------------------- compatibility

fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/record/testdata")
}

const GOLDEN_INTERVAL: KeyframeInterval = KeyframeInterval { observations: 20, seconds: 0 };

/// Regenerates the v1.0 golden file. Only for a new format version: the committed file
/// must keep decoding as it is. `cargo test --lib record::tests::write_golden -- --ignored`
#[test]
#[ignore]
fn write_golden() {
    let obs = sample(60);
    let mut h = header(GOLDEN_INTERVAL);
    h.source = "golden".to_string();
    let mut live = live_state(&h);
    let mut w = RecordWriter::new(Vec::new(), h).unwrap();
    write_to(&mut w, &obs, 7, &mut live);
    let bytes = w.finish().unwrap();
    std::fs::create_dir_all(golden_dir()).unwrap();
    std::fs::write(golden_dir().join("v1.0.fleetrec"), bytes).unwrap();
    std::fs::write(golden_dir().join("v1.0.observations.json"), serde_json::to_string_pretty(&obs).unwrap())
        .unwrap();
}

/// A file written by format 1.0 must read the same in every later version.
#[test]
fn golden_v1_0_still_replays() {
    let bytes = std::fs::read(golden_dir().join("v1.0.fleetrec")).expect("golden file");
    let expected: Vec<Observation> = serde_json::from_str(
        &std::fs::read_to_string(golden_dir().join("v1.0.observations.json")).expect("golden json"),
    )
    .expect("golden observations parse");
    let rec = Recording::from_bytes(&bytes).expect("golden recording reads");
    assert!(rec.truncated().is_none());
    assert_eq!(rec.format_version(), FormatVersion { major: 1, minor: 0 });
    assert_eq!(rec.header().source, "golden");
    assert_eq!(rec.header().fleettop_version, "0.1.0");
    assert_eq!(rec.header().clusters, clusters());
    assert_eq!(rec.header().keyframe_interval, GOLDEN_INTERVAL);
    assert_eq!(rec.observations().len(), 60);
    assert_eq!(rec.observations(), &expected[..]);
    let idx: Vec<usize> = rec.keyframes().iter().map(|k| k.index()).collect();
    assert_eq!(idx, vec![7, 28, 49]);
    check_seeking(&rec);
}

/// Every recording shipped in `snapshots/` (the `--demo` data) must keep replaying.
#[test]
fn snapshots_keep_replaying() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != EXTENSION) {
            continue;
        }
        let rec = Recording::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(rec.truncated().is_none(), "{}: {:?}", path.display(), rec.truncated());
        assert!(!rec.observations().is_empty(), "{} is empty", path.display());
        let end = rec.end();
        assert!(rec.state_at(end).same_facts(&replay(&rec, end)), "{}", path.display());
        let mut p = Player::new(Arc::new(rec));
        p.set_speed(1000.0);
        while !p.at_end() {
            p.advance(Duration::from_secs(60));
        }
    }
}

// ---------------------------------------------------------------- fuzzing

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Recording::from_bytes(&bytes);
    }

    #[test]
    fn arbitrary_frames_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let h = header(KeyframeInterval::default());
        let mut bytes = encode_file_header(FormatVersion::CURRENT, &serde_json::to_vec(&h).unwrap()).unwrap();
        bytes.extend(&tail);
        let rec = Recording::from_bytes(&bytes).unwrap();
        // Random bytes are never a valid frame (the frame header has a checksum).
        prop_assert_eq!(rec.truncated().is_some(), !tail.is_empty());
        prop_assert!(rec.observations().is_empty());
    }

    #[test]
    fn mutated_recordings_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = golden_bytes();
        let mut d = bytes.to_vec();
        for (i, v) in edits {
            let at = i.index(d.len());
            d[at] = v;
        }
        let d = &d[..cut.index(d.len() + 1)];
        if let Ok(rec) = Recording::from_bytes(d) {
            // Whatever was kept is the real observations less the damaged frames' (a prefix
            // when nothing was skipped), and seeks consistently.
            let full = Recording::from_bytes(bytes).unwrap();
            let n = rec.observations().len();
            prop_assert!(n <= full.observations().len());
            if rec.gaps().is_empty() {
                prop_assert_eq!(rec.observations(), &full.observations()[..n]);
            } else {
                let mut rest = full.observations().iter();
                prop_assert!(rec.observations().iter().all(|o| rest.any(|f| f == o)), "in order, from the file");
            }
            let mut continuous = rec.initial_state();
            rec.replay(&mut continuous, 0, n);
            prop_assert!(rec.state_after(n).same_facts(&continuous));
            let end = rec.end();
            let _ = rec.state_at(end);
            let mut p = Player::new(Arc::new(rec));
            p.seek_to(end);
            p.seek_by(SignedDuration::from_secs(-30));
        }
    }
}

fn golden_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| record(&sample(40), 5, KeyframeInterval { observations: 10, seconds: 0 }))
}

#[test]
fn a_seek_rebuilds_the_sparkline_histories_a_continuous_replay_draws() {
    let rec = Arc::new(crate::demo::recording().unwrap());
    let at = |mins: i64| rec.start() + SignedDuration::from_mins(mins);
    let mut p = Player::new(rec.clone());
    // Back from the end and forward past keyframes: both rebuild from keyframes.
    for mins in [29, 18, 27] {
        p.seek_to(rec.end());
        p.seek_to(at(mins));
        let mut continuous = replay(&rec, at(mins));
        continuous.set_clock(at(mins));
        assert!(p.state().same_facts(&continuous), "{mins}m");
        let s = p.state();
        assert!(s.pipelines().len() > 10);
        // What is drawn: the last 15 minutes, per minute.
        let now = s.now();
        for id in s.pipelines().keys() {
            let flow = |st: &FleetState| st.pipeline_history().per_minute(id, now, 15, |r| r.flow);
            assert_eq!(flow(s), flow(&continuous), "flow of {id:?} at {mins}m");
        }
        let mut gpus = 0;
        for (id, node) in s.gpu_nodes() {
            for d in &node.devices {
                let key = (d.index, d.mig.clone());
                let util = |st: &FleetState| st.gpu_history().per_minute(id, &key, now, 15);
                assert_eq!(util(s), util(&continuous), "GPU {key:?} of {id:?} at {mins}m");
                gpus += usize::from(util(s).iter().flatten().count() > 1);
            }
        }
        assert!(gpus > 0, "some GPU has more than a minute of history at {mins}m");
        for (id, _) in s.denial_rows() {
            let rate = |st: &FleetState| st.merged_denials().rate(id, st.denials(), st.now(), 15);
            assert_eq!(rate(s), rate(&continuous), "denial rate of {id:?} at {mins}m");
        }
    }
}

/// Writes `tests/fixtures/recordings/demo-v1.2.fleetrec` (and its summary) once, when format
/// 1.2 was frozen: the demo's first 12 minutes of `prod-eu-west-1` and `staging-eu`, which
/// hold skip records (listed, rescanned, deleted with their exception). Never rerun it to make
/// a test pass. `cargo test --lib record::tests::freeze_v1_2 -- --ignored`
#[test]
#[ignore = "writes a frozen compat recording"]
fn freeze_v1_2() {
    let sim = crate::sim::demo_incident(crate::sim::DEMO_SEED, crate::sim::demo_start());
    let keep = [ClusterId::new("prod-eu-west-1"), ClusterId::new("staging-eu")];
    let until = sim.start + SignedDuration::from_mins(12);
    let obs: Vec<Observation> =
        sim.observations.into_iter().filter(|o| keep.contains(&o.cluster) && o.at <= until).collect();
    assert!(obs.iter().any(|o| matches!(o.change, Change::Delete { kind: RecordKind::Skip, .. })));
    let h = RecordingHeader::new(sim.start, keep.to_vec(), "demo (frozen 1.2)");
    let mut live = live_state(&h);
    let mut w = RecordWriter::new(Vec::new(), h).unwrap();
    for chunk in obs.chunks(64) {
        live.apply_all(chunk);
        w.write_batch(chunk, &live).unwrap();
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings");
    std::fs::write(dir.join("demo-v1.2.fleetrec"), w.finish().unwrap()).unwrap();
    let snap = serde_json::to_value(live.snapshot()).unwrap();
    let mut summary = serde_json::Map::new();
    for key in crate::state::SECTIONS {
        summary.insert(key.to_string(), snap[key].as_array().map_or(0, Vec::len).into());
    }
    summary.insert("observations".into(), obs.len().into());
    std::fs::write(
        dir.join("demo-v1.2.summary.json"),
        serde_json::to_string_pretty(&serde_json::Value::Object(summary)).unwrap() + "\n",
    )
    .unwrap();
}
