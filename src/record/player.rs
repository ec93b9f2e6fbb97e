//! Replay of a recording: a play head that moves with real time × speed, pause and seek.
//!
//! The player is deterministic: the same calls on the same recording give the same
//! state. It reads no clock; the caller passes the real time elapsed to
//! [`Player::advance`].

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::reader::Recording;
use crate::state::FleetState;

/// The speeds [`Player::faster`] and [`Player::slower`] step through.
pub const SPEED_STEPS: [f64; 11] = [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// Slowest speed.
pub const MIN_SPEED: f64 = 0.5;

/// Fastest speed.
pub const MAX_SPEED: f64 = 1000.0;

/// A forward seek restarts from a keyframe instead of applying observations one by one
/// when the keyframe skips at least this many of them.
const KEYFRAME_JUMP_MIN: usize = 512;

/// A state rebuilt for a seek replays this much recording time before the head (from the
/// keyframe before it), so the derived per-minute histories behind the sparklines (denial
/// rates, pipeline flow, GPU utilisation: 15 minutes each) are the ones a continuous replay
/// draws, not ones that start at the nearest keyframe.
const HISTORY_WARMUP: SignedDuration = SignedDuration::from_mins(15);

/// At most this many observations are replayed for [`HISTORY_WARMUP`], so a seek stays within
/// its 200 ms budget (DESIGN.md §8; ingest runs at ~150k observations/s): in a recording busier
/// than ~1,300 observations a minute the sparklines start later after a seek; the records and
/// counts are exact either way.
const HISTORY_WARMUP_MAX: usize = 20_000;

/// Plays a [`Recording`] into a [`FleetState`].
#[derive(Debug, Clone)]
pub struct Player {
    recording: Arc<Recording>,
    state: FleetState,
    head: Timestamp,
    /// Observations applied to `state` (always `recording.position(head)`).
    cursor: usize,
    speed: f64,
    paused: bool,
}

impl Player {
    /// A player at the start of the recording (observations at the start time applied),
    /// playing at 1×.
    pub fn new(recording: Arc<Recording>) -> Self {
        let head = recording.start();
        let cursor = recording.position(head);
        let mut state = recording.state_after(cursor);
        state.set_clock(head);
        Self { recording, state, head, cursor, speed: 1.0, paused: false }
    }

    /// The recording being played.
    pub fn recording(&self) -> &Arc<Recording> {
        &self.recording
    }

    /// Sets where the state's verdicts turn; states rebuilt by later seeks keep them.
    pub fn set_verdicts(&mut self, verdicts: crate::model::Verdicts) {
        self.state.set_verdicts(verdicts);
    }

    /// The fleet state at the play head.
    pub fn state(&self) -> &FleetState {
        &self.state
    }

    /// Moves the head by `real_elapsed` × speed (unless paused), applies the observations
    /// it passed and sets the state clock to it. At the end of the recording the head
    /// stops and the player pauses. Returns whether anything changed.
    pub fn advance(&mut self, real_elapsed: Duration) -> bool {
        if self.paused {
            return false;
        }
        let before = (self.head, self.cursor);
        let nanos = (real_elapsed.as_secs_f64() * self.speed * 1e9).round();
        // Float to int casts saturate; `offset` clamps to the recording anyway.
        let target = self.offset(nanos as i128);
        self.move_forward(target);
        if self.head >= self.end() {
            self.paused = true;
            return true;
        }
        (self.head, self.cursor) != before
    }

    /// Moves the head to `t`, clamped to [`Player::start`]..=[`Player::end`]. Backwards
    /// rebuilds the state from the nearest keyframe; forwards applies the observations in
    /// between (or jumps to a keyframe when that skips many). Keeps the paused flag.
    pub fn seek_to(&mut self, t: Timestamp) {
        let t = t.clamp(self.start(), self.end());
        if t < self.head {
            let n = self.recording.position(t);
            let (mut state, from) = self.warm_base(n, t);
            self.recording.replay(&mut state, from, n);
            state.set_clock(t);
            self.state = state;
            self.cursor = n;
            self.head = t;
        } else {
            self.move_forward(t);
        }
    }

    /// Moves the head by `delta` of recording time (negative: back), clamped.
    pub fn seek_by(&mut self, delta: SignedDuration) {
        let target = self.offset(delta.as_nanos());
        self.seek_to(target);
    }

    /// Pauses, or resumes; resuming at the end starts again from the start.
    pub fn toggle_pause(&mut self) {
        if self.paused && self.at_end() {
            self.seek_to(self.start());
            self.paused = false;
        } else {
            self.paused = !self.paused;
        }
    }

    /// True when paused (also after reaching the end).
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Recording seconds per real second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The next speed up in [`SPEED_STEPS`] (stays at the fastest).
    pub fn faster(&mut self) {
        let next = SPEED_STEPS.iter().copied().find(|s| *s > self.speed);
        self.speed = next.unwrap_or(MAX_SPEED);
    }

    /// The next speed down in [`SPEED_STEPS`] (stays at the slowest).
    pub fn slower(&mut self) {
        let next = SPEED_STEPS.iter().rev().copied().find(|s| *s < self.speed);
        self.speed = next.unwrap_or(MIN_SPEED);
    }

    /// Sets the speed, clamped to [`MIN_SPEED`]..=[`MAX_SPEED`]; NaN is ignored.
    pub fn set_speed(&mut self, speed: f64) {
        if !speed.is_nan() {
            self.speed = speed.clamp(MIN_SPEED, MAX_SPEED);
        }
    }

    /// The play head.
    pub fn position(&self) -> Timestamp {
        self.head
    }

    /// Observations applied so far.
    pub fn observations_applied(&self) -> usize {
        self.cursor
    }

    /// The recording's start (first observation).
    pub fn start(&self) -> Timestamp {
        self.recording.start()
    }

    /// The recording's end (latest observation).
    pub fn end(&self) -> Timestamp {
        self.recording.end()
    }

    /// How far the head is, from 0 (start) to 1 (end); 1 for a recording with no duration.
    pub fn progress(&self) -> f64 {
        let total = self.end().duration_since(self.start()).as_secs_f64();
        if total <= 0.0 {
            return 1.0;
        }
        let done = self.head.duration_since(self.start()).as_secs_f64();
        (done / total).clamp(0.0, 1.0)
    }

    /// True when the head is at the end and every observation is applied.
    pub fn at_end(&self) -> bool {
        self.head >= self.end() && self.cursor >= self.recording.observations().len()
    }

    /// The head moved by `nanos`, clamped to the recording.
    fn offset(&self, nanos: i128) -> Timestamp {
        let (start, end) = (self.start(), self.end());
        let target = self.head.as_nanosecond().saturating_add(nanos);
        if target >= end.as_nanosecond() {
            end
        } else if target <= start.as_nanosecond() {
            start
        } else {
            Timestamp::from_nanosecond(target).unwrap_or(end)
        }
    }

    /// The state to rebuild the first `n` observations (the head at `t`) from and its index:
    /// the keyframe before `t` − [`HISTORY_WARMUP`], or the one that leaves at most
    /// [`HISTORY_WARMUP_MAX`] observations to replay when that is later.
    fn warm_base(&self, n: usize, t: Timestamp) -> (FleetState, usize) {
        let warm_from = self
            .recording
            .position(t.saturating_sub(HISTORY_WARMUP).unwrap_or(t))
            .max(n.saturating_sub(HISTORY_WARMUP_MAX))
            .min(n);
        let (mut state, from) = self.recording.base_for(warm_from);
        state.set_verdicts(*self.state.verdicts());
        (state, from)
    }

    /// Moves the head forward to `t` (`t >= head`).
    fn move_forward(&mut self, t: Timestamp) {
        let n = self.recording.position(t);
        if n > self.cursor {
            let keyframe = self.recording.keyframe_index_before(n);
            if keyframe >= self.cursor + KEYFRAME_JUMP_MIN {
                let (state, from) = self.warm_base(n, t);
                // Jump only when the warm base is ahead of what is already applied.
                if from > self.cursor {
                    self.state = state;
                    self.cursor = from;
                }
            }
            self.recording.replay(&mut self.state, self.cursor, n);
            self.cursor = n;
        }
        self.state.set_clock(t);
        self.head = t;
    }
}
