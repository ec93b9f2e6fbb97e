//! The observation buffer every generator writes into, and the time arithmetic it uses.
//!
//! Times are offsets in milliseconds from the simulation's start, so that every timestamp is
//! derived from `start` and never from the wall clock.

use jiff::{SignedDuration, Timestamp};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::model::{Change, ClusterId, Observation, Record, RecordKind};

/// Milliseconds relative to the simulation start.
pub(crate) type Ms = i64;

/// `n` seconds, in [`Ms`].
pub(crate) const fn secs(n: i64) -> Ms {
    n * 1_000
}

/// `n` minutes, in [`Ms`].
pub(crate) const fn mins(n: i64) -> Ms {
    n * 60_000
}

/// One independent random stream per generator, so that one generator's draws never shift
/// another's (adding a module does not change the rest of the demo).
pub(crate) fn stream(seed: u64, name: &str) -> ChaCha8Rng {
    // FNV-1a over the stream name: fixed, portable, no std hasher involved.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(seed ^ h)
}

/// Collects observations; [`Timeline::finish`] sorts them (stably) by time.
#[derive(Debug)]
pub(crate) struct Timeline {
    start: Timestamp,
    obs: Vec<Observation>,
}

impl Timeline {
    /// An empty timeline starting at `start`.
    pub(crate) fn new(start: Timestamp) -> Self {
        Self { start, obs: Vec::new() }
    }

    /// The absolute time of an offset.
    pub(crate) fn at(&self, offset: Ms) -> Timestamp {
        abs(self.start, offset)
    }

    /// Appends a change.
    pub(crate) fn push(&mut self, offset: Ms, cluster: &ClusterId, change: Change) {
        let at = self.at(offset);
        self.obs.push(Observation { at, cluster: cluster.clone(), change });
    }

    /// Appends an upsert.
    pub(crate) fn upsert(&mut self, offset: Ms, cluster: &ClusterId, record: Record) {
        self.push(offset, cluster, Change::Upsert { record });
    }

    /// Appends a delete.
    pub(crate) fn delete(&mut self, offset: Ms, cluster: &ClusterId, kind: RecordKind, key: String) {
        self.push(offset, cluster, Change::Delete { kind, key });
    }

    /// Number of observations so far.
    pub(crate) fn len(&self) -> usize {
        self.obs.len()
    }

    /// The observations, sorted by time (stable: equal times keep their push order).
    pub(crate) fn finish(mut self) -> Vec<Observation> {
        self.obs.sort_by_key(|o| o.at);
        self.obs
    }
}

/// `start + offset` milliseconds (saturating at the ends of jiff's range).
pub(crate) fn abs(start: Timestamp, offset: Ms) -> Timestamp {
    start.saturating_add(SignedDuration::from_millis(offset)).unwrap_or(start)
}
