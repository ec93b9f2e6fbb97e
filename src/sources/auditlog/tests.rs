#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::OpenOptions;
use std::io::Write;

use serde_json::json;

use super::*;
use crate::model::{Enforcement, Engine};
use crate::state::FleetState;

fn write(path: &Path, text: &[u8]) {
    std::fs::write(path, text).unwrap();
}

fn append(path: &Path, text: &[u8]) {
    OpenOptions::new().append(true).open(path).unwrap().write_all(text).unwrap();
}

fn texts(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .map(|l| match &l.text {
            Ok(t) => String::from_utf8_lossy(t).into_owned(),
            Err(n) => format!("<too long: {n}>"),
        })
        .collect()
}

/// Polls until nothing more is waiting; the lines of every poll and the last poll's error.
fn poll_all(f: &mut Follower) -> (Vec<Line>, Option<String>) {
    let mut lines = Vec::new();
    for _ in 0..1000 {
        let poll = f.poll();
        lines.extend(poll.lines);
        if !poll.more {
            return (lines, poll.error);
        }
    }
    panic!("the follower always has more");
}

fn follow(path: &Path, backfill: u64) -> Follower {
    let mut f = Follower::new(path.to_path_buf());
    f.backfill = backfill;
    f
}

/// A Pod Security 403 for pod `pod` (REFERENCE.md §1a format) as one audit log line.
fn denial_line(audit_id: &str, pod: &str, at: &str) -> String {
    let message = format!(
        r#"pods "{pod}" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)"#
    );
    let line = json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": audit_id, "stage": "ResponseComplete", "verb": "create",
        "user": {"username": "alice"},
        "objectRef": {"resource": "pods", "namespace": "shop", "name": pod, "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "status": "Failure", "message": message, "reason": "Forbidden", "code": 403},
        "requestReceivedTimestamp": at, "stageTimestamp": at,
    });
    format!("{line}\n")
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

// ------------------------------------------------------------ the follower

#[test]
fn backfill_reads_the_end_of_the_file_from_a_line_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let body: String = (0..100).map(|i| format!("line-{i:03}\n")).collect(); // 9 bytes a line
    write(&path, body.as_bytes());
    let expected = ["line-096", "line-097", "line-098", "line-099"];
    // 40 bytes back lands inside line 95, 36 bytes back exactly at the start of line 96.
    for backfill in [40, 36] {
        let (lines, error) = poll_all(&mut follow(&path, backfill));
        assert_eq!((texts(&lines), error), (expected.map(String::from).to_vec(), None), "{backfill}");
        assert_eq!((lines[0].number, lines[0].offset), (1, 96 * 9));
    }
    let (lines, _) = poll_all(&mut follow(&path, 10_000));
    assert_eq!((lines.len(), lines[0].number, lines[0].offset), (100, 1, 0));
    assert_eq!(lines[99].offset, 99 * 9);
}

#[test]
fn partial_line_waits_for_its_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    write(&path, b"first\n{\"a");
    let mut f = follow(&path, BACKFILL_BYTES);
    assert_eq!(texts(&poll_all(&mut f).0), ["first"]);
    assert_eq!(texts(&poll_all(&mut f).0), Vec::<String>::new());
    append(&path, b"bc\"}");
    assert_eq!(texts(&poll_all(&mut f).0), Vec::<String>::new());
    append(&path, b"\nnext\n");
    let (lines, _) = poll_all(&mut f);
    assert_eq!(texts(&lines), [r#"{"abc"}"#, "next"]);
    assert_eq!((lines[0].number, lines[0].offset), (2, 6));
}

#[test]
fn blank_lines_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    write(&path, b"a\r\n\n  \nb\n");
    let (lines, _) = poll_all(&mut follow(&path, BACKFILL_BYTES));
    assert_eq!(texts(&lines), ["a", "b"]);
    assert_eq!((lines[1].number, lines[1].offset), (4, 7));
}

#[test]
fn truncation_reads_again_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    write(&path, b"one\ntwo\nthr");
    let mut f = follow(&path, BACKFILL_BYTES);
    assert_eq!(texts(&poll_all(&mut f).0), ["one", "two"]);
    // `copytruncate`: same inode, shorter content; the cut "thr" belonged to the old content.
    write(&path, b"new\n");
    let (lines, error) = poll_all(&mut f);
    assert_eq!((texts(&lines), error), (vec!["new".to_string()], None));
    assert_eq!((lines[0].number, lines[0].offset), (1, 0));
    append(&path, b"more\n");
    assert_eq!(texts(&poll_all(&mut f).0), ["more"]);
}

#[test]
fn rename_and_recreate_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let rotated = dir.path().join("audit-2024-12-30T10-15-03.120.log");
    write(&path, b"a\n");
    let mut f = follow(&path, BACKFILL_BYTES);
    assert_eq!(texts(&poll_all(&mut f).0), ["a"]);
    // Written before the rotation and not yet read; the writer finishes its line on the old
    // file, and the old file's last line has no newline.
    append(&path, b"b\nc");
    std::fs::rename(&path, &rotated).unwrap();
    append(&rotated, b"-end\ne");
    write(&path, b"f\n");
    let (lines, error) = poll_all(&mut f);
    assert_eq!((texts(&lines), error), (["b", "c-end", "e", "f"].map(String::from).to_vec(), None));
    append(&path, b"g\n");
    append(&rotated, b"\nnot read: the old file is finished\n");
    assert_eq!(texts(&poll_all(&mut f).0), ["g"]);
}

#[test]
fn a_second_file_is_read_from_its_start_even_when_large() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    write(&path, b"old\n");
    let mut f = follow(&path, 4);
    assert_eq!(texts(&poll_all(&mut f).0), ["old"]);
    std::fs::rename(&path, dir.path().join("audit.log.1")).unwrap();
    write(&path, b"first line of the new file, longer than the backfill\nsecond\n");
    assert_eq!(
        texts(&poll_all(&mut f).0),
        ["first line of the new file, longer than the backfill", "second"]
    );
}

#[test]
fn missing_file_is_an_error_until_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut f = follow(&path, BACKFILL_BYTES);
    let (lines, error) = poll_all(&mut f);
    assert!(lines.is_empty());
    let error = error.unwrap();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("No such file or directory"), "{error}");
    write(&path, b"x\n");
    let (lines, error) = poll_all(&mut f);
    assert_eq!((texts(&lines), error), (vec!["x".to_string()], None));
}

#[test]
fn deleted_file_is_finished_then_reported_then_reread_when_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    write(&path, b"a\n");
    let mut f = follow(&path, BACKFILL_BYTES);
    assert_eq!(texts(&poll_all(&mut f).0), ["a"]);
    append(&path, b"b\n");
    std::fs::remove_file(&path).unwrap();
    let (lines, error) = poll_all(&mut f);
    assert_eq!(texts(&lines), ["b"]);
    assert!(error.unwrap().contains("No such file or directory"));
    write(&path, b"c\n");
    assert_eq!(poll_all(&mut f).1, None);
    // The recreated file was read from its start ("c" came in the poll above).
    append(&path, b"d\n");
    assert_eq!(texts(&poll_all(&mut f).0), ["d"]);
}

#[test]
fn a_directory_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = follow(dir.path(), BACKFILL_BYTES);
    let (_, error) = poll_all(&mut f);
    let error = error.unwrap();
    assert!(error.contains(&dir.path().display().to_string()), "{error}");
    assert!(error.contains("it is a directory, not a regular file"), "{error}");
}

#[test]
fn a_fifo_is_refused_without_blocking_and_a_file_there_later_is_read() {
    // A FIFO as `audit_log` used to block the poll for good (opening it waits for a writer).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let status = std::process::Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(status.success());
    let mut f = follow(&path, BACKFILL_BYTES);
    let (lines, error) = poll_all(&mut f);
    assert!(lines.is_empty());
    let error = error.unwrap();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("it is a FIFO (named pipe), not a regular file"), "{error}");
    std::fs::remove_file(&path).unwrap();
    write(&path, b"x\n");
    let (lines, error) = poll_all(&mut f);
    assert_eq!((texts(&lines), error), (vec!["x".to_string()], None));
}

#[test]
fn overlong_line_is_reported_once_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    write(&path, format!("short\n{}", "x".repeat(15)).as_bytes());
    let mut f = follow(&path, BACKFILL_BYTES);
    f.max_line = 10;
    let (lines, _) = poll_all(&mut f);
    assert_eq!(texts(&lines), ["short", "<too long: 15>"]);
    append(&path, format!("{}\nafter\n", "x".repeat(10)).as_bytes());
    let (lines, _) = poll_all(&mut f);
    assert_eq!(texts(&lines), ["after"]);
    assert_eq!(lines[0].number, 3);
}

#[test]
fn a_backlog_is_read_over_several_polls_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let body: String = (0..30_000).map(|i| format!("{i:07}\n")).collect(); // 240 KB
    write(&path, body.as_bytes());
    let mut f = follow(&path, BACKFILL_BYTES);
    f.read_per_poll = 1;
    let first = f.poll();
    assert!(first.more, "one chunk per poll");
    let (rest, _) = poll_all(&mut f);
    let all: Vec<String> = texts(&first.lines).into_iter().chain(texts(&rest)).collect();
    assert_eq!(all, (0..30_000).map(|i| format!("{i:07}")).collect::<Vec<_>>());
}

// ------------------------------------------------------------ collapsing repeats

fn occurrence(at: &str, message: &str) -> Denial {
    let mut d = audit::parse_line(&denial_line(&format!("id-{at}"), "a", at)).unwrap().remove(0);
    d.message = message.to_string();
    d
}

#[test]
fn repeats_collapse_into_one_record() {
    let mut c = Collapse::new(10);
    let t1 = "2024-12-30T10:00:00Z";
    let t2 = "2024-12-30T10:05:00Z";
    let t3 = "2024-12-30T10:09:00Z";
    let id = c.add(occurrence(t2, "second"));
    assert_eq!(c.add(occurrence(t1, "first")), id, "lines may arrive out of order");
    c.add(occurrence(t3, "third"));
    let d = c.get(&id).unwrap();
    assert_eq!((d.count, d.first_seen, d.last_seen), (3, ts(t1), ts(t3)));
    assert_eq!(d.message, "third");
    let refs: Vec<_> = d.evidence.iter().map(|e| e.reference.as_str()).collect();
    assert_eq!(refs, [format!("audit id-{t1}"), format!("audit id-{t2}"), format!("audit id-{t3}")]);
    for minute in 10..20 {
        c.add(occurrence(&format!("2024-12-30T10:{minute}:00Z"), "later"));
    }
    let d = c.get(&id).unwrap();
    assert_eq!((d.count, d.evidence.len()), (13, MAX_EVIDENCE));
    assert_eq!(d.evidence.last().unwrap().at, ts("2024-12-30T10:19:00Z"));
    assert_eq!(c.len(), 1);
}

#[test]
fn a_full_map_forgets_the_denial_seen_longest_ago() {
    let pod = |name: &str, at: &str| {
        audit::parse_line(&denial_line(&format!("{name}-{at}"), name, at)).unwrap().remove(0)
    };
    let mut c = Collapse::new(2);
    let a = c.add(pod("a", "2024-12-30T10:00:00Z"));
    let b = c.add(pod("b", "2024-12-30T10:01:00Z"));
    c.add(pod("a", "2024-12-30T10:02:00Z"));
    let new = c.add(pod("c", "2024-12-30T10:03:00Z"));
    assert_eq!(c.len(), 2);
    assert!(c.get(&b).is_none(), "b was seen longest ago");
    assert_eq!(c.get(&a).unwrap().count, 2);
    assert!(c.get(&new).is_some());
    assert_eq!(c.add(pod("b", "2024-12-30T10:04:00Z")), b);
    assert_eq!(c.get(&b).unwrap().count, 1, "a forgotten denial counts again from 1");
    assert!(c.get(&a).is_none());
}

#[test]
fn ingest_counts_malformed_lines_and_sends_each_changed_record_once() {
    let line = |n: u64, text: Result<Vec<u8>, usize>| Line { number: n, offset: 0, text };
    let a1 = denial_line("1", "a", "2024-12-30T10:00:00Z");
    let a2 = denial_line("2", "a", "2024-12-30T10:01:00Z");
    let b = denial_line("3", "b", "2024-12-30T10:02:00Z");
    let mut ingest = Ingest::new(PathBuf::from("/var/log/audit.log"), MAX_TRACKED);
    let out = ingest.lines(vec![
        line(1, Ok(a1.trim_end().into())),
        line(2, Ok(b"{\"auditID\":\"cut".to_vec())),
        line(3, Ok(a2.trim_end().into())),
        line(4, Ok(vec![0xff, 0xfe])),
        line(5, Err(MAX_LINE_BYTES + 1)),
        line(6, Ok(b.trim_end().into())),
        line(7, Ok(br#"{"auditID":"x","stage":"RequestReceived"}"#.to_vec())),
    ]);
    let got: Vec<_> = out.iter().map(|d| (d.object.name.as_str(), d.count)).collect();
    assert_eq!(got, [("a", 2), ("b", 1)]);
    assert_eq!(ingest.malformed(), 3);
    assert!(out.iter().all(|d| (d.engine, d.enforcement) == (Engine::PodSecurity, Enforcement::Deny)));
}

// ------------------------------------------------------------ the task

const TICK: Duration = Duration::from_millis(10);

fn cluster() -> ClusterId {
    ClusterId::new("prod-eu")
}

/// Applies batches until `done` holds; fails after 10 s (no assertion depends on timing).
async fn until(
    state: &mut FleetState,
    rx: &mut crate::sources::ObservationReceiver,
    what: &str,
    done: impl Fn(&FleetState) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(state) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(batch)) => state.apply_all(&batch),
            Ok(None) => panic!("the tail stopped before: {what}"),
            Err(_) => panic!("timed out waiting for: {what}; {:#?}", state.clusters()),
        }
    }
}

fn audit_state(s: &FleetState) -> Option<SourceState> {
    s.clusters().get(&cluster()).and_then(|c| c.sources.get(&SourceKind::AuditLog)).cloned()
}

fn denial_of<'a>(s: &'a FleetState, pod: &str) -> Option<&'a Denial> {
    s.denials().values().find(|d| d.object.name == pod)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_backfills_then_follows_and_collapses_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    write(&path, denial_line("1", "a", "2024-12-30T10:00:00Z").as_bytes());
    let (tx, mut rx) = crate::sources::channel(16);
    let mut state = FleetState::with_clusters(Timestamp::now(), [&cluster()]);
    let task = tokio::spawn(run(path.clone(), cluster(), tx, TICK));
    until(&mut state, &mut rx, "live with the backfilled denial", |s| {
        audit_state(s) == Some(SourceState::Live) && denial_of(s, "a").is_some()
    })
    .await;
    assert!(settled(state.clusters().get(&cluster())));
    assert_eq!(state.denials().len(), 1);

    append(&path, denial_line("2", "a", "2024-12-30T10:07:00Z").as_bytes());
    until(&mut state, &mut rx, "the repeat", |s| denial_of(s, "a").is_some_and(|d| d.count == 2)).await;
    let a = denial_of(&state, "a").unwrap();
    assert_eq!((a.first_seen, a.last_seen), (ts("2024-12-30T10:00:00Z"), ts("2024-12-30T10:07:00Z")));
    assert_eq!(a.evidence.len(), 2);

    // A malformed line and a partial one, then the partial line completed.
    let b = denial_line("3", "b", "2024-12-30T10:08:00Z");
    let (head, rest) = b.split_at(40);
    append(&path, format!("not json\n{head}").as_bytes());
    append(&path, rest.as_bytes());
    until(&mut state, &mut rx, "b", |s| denial_of(s, "b").is_some()).await;
    assert_eq!(audit_state(&state), Some(SourceState::Live), "malformed lines do not fail the source");
    assert_eq!(state.denials().len(), 2);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_reports_a_missing_file_and_recovers_when_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (tx, mut rx) = crate::sources::channel(16);
    let mut state = FleetState::with_clusters(Timestamp::now(), [&cluster()]);
    let task = tokio::spawn(run(path.clone(), cluster(), tx, TICK));
    until(&mut state, &mut rx, "the error", |s| matches!(audit_state(s), Some(SourceState::Error { .. })))
        .await;
    let Some(SourceState::Error { message }) = audit_state(&state) else { unreachable!() };
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("No such file or directory (os error 2)"), "{message}");
    assert!(settled(state.clusters().get(&cluster())), "a failed first read still settles a snapshot");

    write(&path, denial_line("1", "a", "2024-12-30T10:00:00Z").as_bytes());
    until(&mut state, &mut rx, "recovery", |s| {
        audit_state(s) == Some(SourceState::Live) && denial_of(s, "a").is_some()
    })
    .await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follows_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    write(&path, denial_line("1", "a", "2024-12-30T10:00:00Z").as_bytes());
    let (tx, mut rx) = crate::sources::channel(16);
    let mut state = FleetState::with_clusters(Timestamp::now(), [&cluster()]);
    let task = tokio::spawn(run(path.clone(), cluster(), tx, TICK));
    until(&mut state, &mut rx, "a", |s| denial_of(s, "a").is_some()).await;
    append(&path, denial_line("2", "b", "2024-12-30T10:01:00Z").as_bytes());
    std::fs::rename(&path, dir.path().join("audit.log.1")).unwrap();
    write(&path, denial_line("3", "c", "2024-12-30T10:02:00Z").as_bytes());
    until(&mut state, &mut rx, "b and c", |s| denial_of(s, "b").is_some() && denial_of(s, "c").is_some())
        .await;
    let counts: Vec<u64> = state.denials().values().map(|d| d.count).collect();
    assert_eq!(counts, [1, 1, 1]);
    task.abort();
}

#[test]
fn settled_needs_a_reported_state_other_than_syncing() {
    let mut state = FleetState::with_clusters(Timestamp::now(), [&cluster()]);
    assert!(!settled(state.clusters().get(&cluster())));
    let syncing = observe(&cluster(), source_state(SourceState::Syncing));
    state.apply(&syncing);
    assert!(!settled(state.clusters().get(&cluster())));
    state.apply(&observe(&cluster(), source_state(SourceState::Live)));
    assert!(settled(state.clusters().get(&cluster())));
    assert!(!settled(state.clusters().get(&ClusterId::new("other"))));
}
