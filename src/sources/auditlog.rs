//! Follows a cluster's API server audit log file (`audit_log` in the fleet file) like
//! `tail -F` and turns its lines into denials and audit findings ([`parse::audit`]).
//!
//! - **Backfill**: the first time the file is opened, reading starts [`BACKFILL_BYTES`]
//!   (4 MiB) before its end, at the next line start, so recent denials show at once; the
//!   source is `Syncing` until that first read is done, then `Live`.
//! - **Follow**: the path is polled every `poll_every` ([`POLL_EVERY`], 1 s; no inotify). A
//!   last line without its newline waits in a buffer until the newline arrives.
//! - **Rotation**: when the path names another file (device or inode changed: renamed and
//!   recreated, as the API server's own `--audit-log-maxsize` rotation does), the old file is
//!   read to its end first (its last line counts even without a newline), then the new one
//!   from its start: nothing is lost or read twice. When the file is shorter than what was
//!   read (truncated, `copytruncate`) it is read again from its start; lines written between
//!   the copy and the truncation are lost, and a truncation is missed when the file has grown
//!   past the old size again by the next poll, as with `tail -F`.
//! - **Missing or unreadable file**: the source shows `Error` with the path and the OS error
//!   (`No such file or directory`, `Permission denied`) and the next poll tries again. So does
//!   a path that is not a regular file ("it is a FIFO (named pipe), not a regular file"): it
//!   is refused without being read (opening a FIFO would block, a device never ends).
//! - **Malformed lines** (not an audit event, not UTF-8, longer than [`MAX_LINE_BYTES`]) are
//!   skipped and counted. [`SourceState::Live`] has no room for a note, so the source stays
//!   live and each is logged with `tracing::warn!` naming the path, the line number (counted
//!   from where reading began: the file's start, or the backfill point) and the byte offset:
//!   the first [`LOGGED_MALFORMED`] one by one, later ones as one count per poll.
//! - **Repeats** of one denial (same [`audit::denial_id`]) collapse into one record
//!   ([`Collapse`]): `count` grows, `first_seen` stays, `last_seen` advances, and the updated
//!   record is sent again. At most [`MAX_TRACKED`] ids are remembered; see [`Collapse`].
//!
//! Observations go out as one batch per poll (split at [`BATCH`] records). Records are never
//! deleted and no relist is sent: other sources feed the same denials table.
//!
//! Read-only: the file is only ever opened for reading.
//!
//! [`parse::audit`]: crate::sources::parse::audit

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use tokio::time::MissedTickBehavior;

use crate::model::{Change, ClusterId, Denial, Observation, Record, SourceKind, SourceState};
use crate::sources::ObservationSender;
use crate::sources::parse::audit;

/// Default interval between polls of the file.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// How much of the end of the file is read when it is first opened.
pub const BACKFILL_BYTES: u64 = 4 * 1024 * 1024;
/// Longest line read; a longer one is skipped as malformed (a `RequestResponse` event with
/// a large object can run to several hundred KiB).
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// Most bytes read in one poll; when more is waiting the next poll follows at once.
pub const READ_PER_POLL: u64 = 16 * 1024 * 1024;
/// Most denial ids remembered for collapsing repeats.
pub const MAX_TRACKED: usize = 10_000;
/// Evidence entries kept per record (the newest).
pub const MAX_EVIDENCE: usize = 5;
/// Malformed lines logged one by one before they are only counted.
pub const LOGGED_MALFORMED: u64 = 20;
/// Most observations sent in one batch.
pub const BATCH: usize = 512;

/// Size of one read from the file.
const CHUNK: usize = 64 * 1024;

/// Tails `path` for `cluster` until the app goes away. Never returns early on errors: they
/// become the source's visible state and the next poll tries again.
pub async fn run(path: PathBuf, cluster: ClusterId, tx: ObservationSender, poll_every: Duration) {
    let mut shown = SourceState::Syncing;
    if !tx.send(vec![observe(&cluster, source_state(shown.clone()))]).await {
        return;
    }
    let mut tail = Tail::new(path.clone());
    let mut ticks = tokio::time::interval(poll_every.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if tx.is_closed() {
            return;
        }
        loop {
            let (next, step) = step_off_thread(tail, &path).await;
            tail = next;
            let mut batch: Vec<Observation> = step
                .records
                .into_iter()
                .map(|d| observe(&cluster, Change::Upsert { record: Record::Denial(d) }))
                .collect();
            // The first read is done once nothing more is waiting (or it failed).
            let state = match step.error {
                Some(message) => Some(SourceState::Error { message }),
                None if !step.more => Some(SourceState::Live),
                None => None,
            };
            if let Some(state) = state.filter(|s| *s != shown) {
                shown = state.clone();
                batch.push(observe(&cluster, source_state(state)));
            }
            for chunk in batch.chunks(BATCH) {
                if !tx.send(chunk.to_vec()).await {
                    return;
                }
            }
            if !step.more {
                break;
            }
        }
    }
}

/// True once the audit log source of a cluster (its status, as the state shows it) has
/// finished its first read (or failed it): what a headless snapshot waits for, besides
/// [`crate::sources::kubernetes::settled`].
pub fn settled(status: Option<&crate::model::ClusterStatus>) -> bool {
    status.and_then(|c| c.sources.get(&SourceKind::AuditLog)).is_some_and(|s| *s != SourceState::Syncing)
}

/// The file and what was read from it: a [`Follower`] feeding an [`Ingest`].
struct Tail {
    follower: Follower,
    ingest: Ingest,
}

/// What one [`Tail::step`] produced.
#[derive(Default)]
struct Step {
    records: Vec<Denial>,
    error: Option<String>,
    more: bool,
}

impl Tail {
    fn new(path: PathBuf) -> Self {
        Self { follower: Follower::new(path.clone()), ingest: Ingest::new(path, MAX_TRACKED) }
    }

    /// One poll of the file, its lines parsed and collapsed.
    fn step(&mut self) -> Step {
        let poll = self.follower.poll();
        let records = self.ingest.lines(poll.lines);
        self.ingest.summarise();
        Step { records, error: poll.error, more: poll.more }
    }
}

/// Runs one step on the blocking pool: file reads (and parsing a 4 MiB backfill) must not
/// stall the async threads.
async fn step_off_thread(mut tail: Tail, path: &Path) -> (Tail, Step) {
    match tokio::task::spawn_blocking(move || {
        let step = tail.step();
        (tail, step)
    })
    .await
    {
        Ok(done) => done,
        Err(e) => {
            // Only a bug can get here (the step panicked or the runtime is going away): start
            // over with a fresh tail rather than stop the source.
            tracing::error!(path = %path.display(), "audit log poll failed: {e}");
            let error = Some(format!("{}: internal error while reading: {e}", path.display()));
            (Tail::new(path.to_path_buf()), Step { error, ..Step::default() })
        }
    }
}

fn observe(cluster: &ClusterId, change: Change) -> Observation {
    Observation { at: Timestamp::now(), cluster: cluster.clone(), change }
}

fn source_state(state: SourceState) -> Change {
    Change::Source { source: SourceKind::AuditLog, state }
}

// ------------------------------------------------------------ lines → records

/// Turns lines into records: parses them, collapses repeats, counts malformed lines.
pub struct Ingest {
    path: PathBuf,
    collapse: Collapse,
    malformed: u64,
    unlogged: u64,
}

impl Ingest {
    /// For the file at `path` (named in log messages), remembering at most `tracked` ids.
    pub fn new(path: PathBuf, tracked: usize) -> Self {
        Self { path, collapse: Collapse::new(tracked), malformed: 0, unlogged: 0 }
    }

    /// The records `lines` created or changed, each once, in the order first touched.
    pub fn lines(&mut self, lines: Vec<Line>) -> Vec<Denial> {
        let mut changed: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for line in lines {
            let parsed = match &line.text {
                Ok(bytes) => match std::str::from_utf8(bytes) {
                    Ok(text) => audit::parse_line(text).map_err(|e| e.to_string()),
                    Err(e) => Err(format!("not UTF-8: {e}")),
                },
                Err(len) => Err(format!("longer than {MAX_LINE_BYTES} bytes ({len} read before giving up)")),
            };
            match parsed {
                Ok(denials) => {
                    for d in denials {
                        let id = self.collapse.add(d);
                        if seen.insert(id.clone()) {
                            changed.push(id);
                        }
                    }
                }
                Err(error) => self.note_malformed(&line, &error),
            }
        }
        // An id evicted later in the same batch has nothing left to send.
        changed.iter().filter_map(|id| self.collapse.get(id).cloned()).collect()
    }

    /// Malformed lines skipped so far.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Logs how many malformed lines went unlogged since the last call.
    pub fn summarise(&mut self) {
        if self.unlogged > 0 {
            tracing::warn!(
                path = %self.path.display(),
                skipped = self.unlogged,
                total = self.malformed,
                "skipped more malformed audit log lines"
            );
            self.unlogged = 0;
        }
    }

    fn note_malformed(&mut self, line: &Line, error: &str) {
        self.malformed += 1;
        if self.malformed <= LOGGED_MALFORMED {
            tracing::warn!(
                path = %self.path.display(),
                line = line.number,
                byte = line.offset,
                "skipped a malformed audit log line: {error}"
            );
        } else {
            self.unlogged += 1;
        }
    }
}

/// Repeats of one denial collapse into one record: `count` adds up, `first_seen` is the
/// earliest, `last_seen` the latest, and message, user and operation are the latest
/// occurrence's; the newest [`MAX_EVIDENCE`] evidence entries are kept.
///
/// Bounded: at most `cap` ids (the tail uses [`MAX_TRACKED`], 10 000) are remembered. When a
/// new id arrives and the map is full, the id whose `last_seen` is oldest is forgotten. Its
/// record stays in the fleet state; if it is seen again its count starts over at 1 and that
/// record replaces the old one.
pub struct Collapse {
    cap: usize,
    records: HashMap<String, Denial>,
    by_last_seen: BTreeSet<(Timestamp, String)>,
}

impl Collapse {
    /// An empty map that remembers at most `cap` ids (at least one).
    pub fn new(cap: usize) -> Self {
        Self { cap: cap.max(1), records: HashMap::new(), by_last_seen: BTreeSet::new() }
    }

    /// Adds one occurrence; returns its id.
    pub fn add(&mut self, d: Denial) -> String {
        let id = d.id.clone();
        if let Some(existing) = self.records.get_mut(&id) {
            self.by_last_seen.remove(&(existing.last_seen, id.clone()));
            merge(existing, d);
            self.by_last_seen.insert((existing.last_seen, id.clone()));
            return id;
        }
        while self.records.len() >= self.cap {
            let Some((_, oldest)) = self.by_last_seen.pop_first() else { break };
            self.records.remove(&oldest);
        }
        self.by_last_seen.insert((d.last_seen, id.clone()));
        self.records.insert(id.clone(), d);
        id
    }

    /// The record for `id`, if remembered.
    pub fn get(&self, id: &str) -> Option<&Denial> {
        self.records.get(id)
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Folds occurrence `new` into `into`.
fn merge(into: &mut Denial, new: Denial) {
    into.count = into.count.saturating_add(new.count);
    into.first_seen = into.first_seen.min(new.first_seen);
    if new.last_seen >= into.last_seen {
        into.last_seen = new.last_seen;
        into.message = new.message;
        into.user = new.user;
        into.operation = new.operation;
    }
    into.evidence.extend(new.evidence);
    into.evidence.sort_by_key(|e| e.at);
    let excess = into.evidence.len().saturating_sub(MAX_EVIDENCE);
    into.evidence.drain(..excess);
}

// ------------------------------------------------------------ following the file

/// One complete line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based, counted from where reading of this file began (its start, or the backfill
    /// point).
    pub number: u64,
    /// Byte offset of the line's start in its file.
    pub offset: u64,
    /// The line without its line ending, or, for a line longer than [`MAX_LINE_BYTES`], the
    /// number of bytes read before it was given up.
    pub text: Result<Vec<u8>, usize>,
}

/// What one [`Follower::poll`] found.
#[derive(Debug, Default)]
pub struct Poll {
    /// Complete lines, in file order (a replaced file's last lines first).
    pub lines: Vec<Line>,
    /// Why the file could not be opened or read (names the path and the OS error).
    pub error: Option<String>,
    /// More is waiting (a read limit was hit, or a replaced file is still to be finished):
    /// poll again now.
    pub more: bool,
}

/// A file followed by its path, like `tail -F`. Synchronous; [`run`] polls it on the
/// blocking pool.
pub struct Follower {
    path: PathBuf,
    backfill: u64,
    max_line: usize,
    read_per_poll: u64,
    /// True once a file was opened: only the first one is backfilled, later ones (rotated
    /// in, or reappearing) are new and read from their start.
    opened_before: bool,
    current: Option<Open>,
    /// A file the path no longer names, read to its end before the new one.
    replaced: Option<Open>,
}

/// An open file and where reading stands in it.
struct Open {
    file: File,
    /// `(device, inode)`.
    identity: (u64, u64),
    /// Bytes of the file consumed so far (the partial line included).
    offset: u64,
    /// The last line so far, without its newline yet.
    partial: Vec<u8>,
    /// Offset of the start of `partial`.
    line_start: u64,
    /// Number the next line gets.
    next_line: u64,
    /// Dropping bytes up to the next newline (after an over-long line, or at the backfill point).
    skipping: bool,
}

impl Follower {
    /// Follows `path` with the default limits ([`BACKFILL_BYTES`], [`MAX_LINE_BYTES`],
    /// [`READ_PER_POLL`]).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            backfill: BACKFILL_BYTES,
            max_line: MAX_LINE_BYTES,
            read_per_poll: READ_PER_POLL,
            opened_before: false,
            current: None,
            replaced: None,
        }
    }

    /// Reads what is new. Never fails: errors are in [`Poll::error`].
    pub fn poll(&mut self) -> Poll {
        let mut out = Poll::default();
        if let Some(old) = self.replaced.as_mut() {
            match read(old, self.read_per_poll, self.max_line, &mut out.lines) {
                Ok(true) => {
                    out.more = true;
                    return out;
                }
                Ok(false) => old.flush(&mut out.lines),
                Err(e) => tracing::warn!(
                    path = %self.path.display(),
                    "the replaced audit log could not be read to its end: {e}"
                ),
            }
            self.replaced = None;
        }
        match std::fs::metadata(&self.path) {
            Err(e) => {
                if let Some(cur) = self.current.take() {
                    // Gone (deleted or renamed away): finish it, then report.
                    self.replaced = Some(cur);
                    out.more = true;
                } else {
                    out.error = Some(format!("cannot read {}: {e}", self.path.display()));
                }
                return out;
            }
            Ok(meta) => {
                if let Some(cur) = self.current.as_mut() {
                    if (meta.dev(), meta.ino()) != cur.identity {
                        tracing::info!(path = %self.path.display(), "audit log rotated");
                        self.replaced = self.current.take();
                        out.more = true;
                        return out;
                    }
                    if meta.len() < cur.offset {
                        tracing::info!(path = %self.path.display(), "audit log truncated; reading it from its start");
                        if let Err(e) = cur.restart() {
                            out.error = Some(format!("cannot read {}: {e}", self.path.display()));
                            self.current = None;
                            return out;
                        }
                    }
                }
            }
        }
        if self.current.is_none() {
            match self.open() {
                Ok(open) => self.current = Some(open),
                Err(e) => {
                    out.error = Some(format!("cannot open {}: {e}", self.path.display()));
                    return out;
                }
            }
        }
        if let Some(cur) = self.current.as_mut() {
            match read(cur, self.read_per_poll, self.max_line, &mut out.lines) {
                Ok(more) => out.more = more,
                Err(e) => out.error = Some(format!("cannot read {}: {e}", self.path.display())),
            }
        }
        out
    }

    /// Opens the file: the first one at the backfill point, later ones at their start. Only
    /// a regular file is followed: a FIFO would block the poll and a device never end.
    fn open(&mut self) -> io::Result<Open> {
        let (mut file, meta) = crate::files::open_regular(&self.path)?;
        let start = if self.opened_before { 0 } else { meta.len().saturating_sub(self.backfill) };
        // From the byte before `start`, drop everything up to the first newline: reading
        // begins at a line start (at `start` itself when the byte before it is a newline).
        let at = start.saturating_sub(1);
        file.seek(SeekFrom::Start(at))?;
        self.opened_before = true;
        Ok(Open {
            file,
            identity: (meta.dev(), meta.ino()),
            offset: at,
            partial: Vec::new(),
            line_start: at,
            next_line: 1,
            skipping: start > 0,
        })
    }
}

impl Open {
    /// Reading again from the start (the file was truncated).
    fn restart(&mut self) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        self.offset = 0;
        self.partial.clear();
        self.line_start = 0;
        self.next_line = 1;
        self.skipping = false;
        Ok(())
    }

    /// Splits `bytes` (what follows `offset`) into lines.
    fn consume(&mut self, mut bytes: &[u8], max_line: usize, lines: &mut Vec<Line>) {
        while !bytes.is_empty() {
            let (head, newline) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..i], true),
                None => (bytes, false),
            };
            if !self.skipping {
                self.partial.extend_from_slice(head);
                if self.partial.len() > max_line {
                    lines.push(Line {
                        number: self.next_line,
                        offset: self.line_start,
                        text: Err(self.partial.len()),
                    });
                    self.next_line += 1;
                    self.partial = Vec::new();
                    self.skipping = true;
                }
            }
            let used = head.len() + usize::from(newline);
            self.offset += used as u64;
            bytes = &bytes[used..];
            if newline {
                if self.skipping {
                    self.skipping = false;
                } else {
                    self.emit(lines);
                }
                self.line_start = self.offset;
            }
        }
    }

    /// The partial line as a complete one (its file ended without a newline).
    fn flush(&mut self, lines: &mut Vec<Line>) {
        if !self.skipping {
            self.emit(lines);
        }
    }

    /// Sends `partial` as line `next_line` (empty lines are numbered but not sent).
    fn emit(&mut self, lines: &mut Vec<Line>) {
        let mut text = std::mem::take(&mut self.partial);
        if text.last() == Some(&b'\r') {
            text.pop();
        }
        if !text.iter().all(u8::is_ascii_whitespace) {
            lines.push(Line { number: self.next_line, offset: self.line_start, text: Ok(text) });
        }
        self.next_line += 1;
    }
}

/// Reads from `open` up to about `limit` bytes; true when the limit stopped it before the end.
fn read(open: &mut Open, limit: u64, max_line: usize, lines: &mut Vec<Line>) -> io::Result<bool> {
    let mut buf = vec![0u8; CHUNK];
    let mut total: u64 = 0;
    loop {
        if total >= limit {
            return Ok(true);
        }
        let n = match open.file.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        open.consume(&buf[..n], max_line, lines);
    }
}
