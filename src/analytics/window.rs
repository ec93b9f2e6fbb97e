//! The window measures are taken over: the whole recording or session by default, or the
//! last `--window 24h` before its end.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

/// A half-open stretch of time `[start, end)`, in milliseconds since the Unix epoch.
/// Serialised as `{"start": RFC 3339, "end": RFC 3339, "hours": f64}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start (inclusive).
    pub start_ms: i64,
    /// End (exclusive); still-running allocations end here.
    pub end_ms: i64,
}

impl Window {
    /// From `start` to `end` (an end before the start gives an empty window at `start`).
    pub fn new(start_ms: i64, end_ms: i64) -> Self {
        Self { start_ms, end_ms: end_ms.max(start_ms) }
    }

    /// Between two timestamps.
    pub fn between(start: Timestamp, end: Timestamp) -> Self {
        Self::new(start.as_millisecond(), end.as_millisecond())
    }

    /// The last `length` before `end`.
    pub fn last(length: SignedDuration, end: Timestamp) -> Self {
        let end_ms = end.as_millisecond();
        let len = i64::try_from(length.as_millis()).unwrap_or(i64::MAX).max(0);
        Self::new(end_ms.saturating_sub(len), end_ms)
    }

    /// Its length in hours.
    pub fn hours(&self) -> f64 {
        (self.end_ms - self.start_ms) as f64 / 3_600_000.0
    }

    /// Start as a timestamp.
    pub fn start(&self) -> Timestamp {
        Timestamp::from_millisecond(self.start_ms).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// End as a timestamp.
    pub fn end(&self) -> Timestamp {
        Timestamp::from_millisecond(self.end_ms).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

impl Serialize for Window {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Window", 3)?;
        st.serialize_field("start", &self.start().to_string())?;
        st.serialize_field("end", &self.end().to_string())?;
        st.serialize_field("hours", &((self.hours() * 10_000.0).round() / 10_000.0))?;
        st.end()
    }
}

/// The longest length [`parse_length`] accepts: 100 years (36,500 days). Longer ones are
/// refused rather than overflow the time arithmetic they feed.
pub const MAX_LENGTH_DAYS: i64 = 36_500;

/// Parses a window length: `24h`, `90m`, `1h30m`, `7d`; longer than zero and at most
/// [`MAX_LENGTH_DAYS`] days.
pub fn parse_length(text: &str) -> Result<SignedDuration, String> {
    let t = text.trim();
    let err = || format!("{t:?}: expected a length like 24h, 90m, 1h30m or 7d");
    let d = match t.strip_suffix('d') {
        Some(days) => {
            let n: i64 = days.trim().parse().map_err(|_| err())?;
            if n > MAX_LENGTH_DAYS {
                return Err(too_long(t));
            }
            SignedDuration::from_hours(n.saturating_mul(24).max(0))
        }
        None => t.parse().map_err(|_| err())?,
    };
    if !d.is_positive() {
        return Err(format!("{t:?}: must be longer than zero"));
    }
    if d > SignedDuration::from_hours(MAX_LENGTH_DAYS * 24) {
        return Err(too_long(t));
    }
    Ok(d)
}

fn too_long(t: &str) -> String {
    format!("{t:?}: at most {MAX_LENGTH_DAYS}d (100 years)")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lengths_people_write() {
        assert_eq!(parse_length("24h").unwrap(), SignedDuration::from_hours(24));
        assert_eq!(parse_length("90m").unwrap(), SignedDuration::from_mins(90));
        assert_eq!(parse_length("1h30m").unwrap(), SignedDuration::from_mins(90));
        assert_eq!(parse_length("7d").unwrap(), SignedDuration::from_hours(168));
        assert!(parse_length("soon").unwrap_err().contains("expected a length"));
        assert!(parse_length("0s").unwrap_err().contains("longer than zero"));
        assert!(parse_length("-3d").unwrap_err().contains("longer than zero"));
    }

    #[test]
    fn absurd_lengths_are_refused_not_overflowed() {
        // `9999999999999999d` made `SignedDuration::from_hours` panic (issue 13, item 10).
        for absurd in ["9999999999999999d", "36501d", "99999999999999h", "876001h"] {
            let e = parse_length(absurd).unwrap_err();
            assert!(e.contains("at most 36500d") || e.contains("expected a length"), "{absurd}: {e}");
        }
        assert_eq!(parse_length("36500d").unwrap(), SignedDuration::from_hours(36_500 * 24));
        let w = Window::last(parse_length("36500d").unwrap(), "2026-11-27T14:30:00Z".parse().unwrap());
        assert!(w.hours() > 0.0);
    }

    #[test]
    fn the_last_stretch_counts_back_from_the_end() {
        let end: Timestamp = "2026-11-27T14:30:00Z".parse().unwrap();
        let w = Window::last(SignedDuration::from_mins(30), end);
        assert_eq!(w.start().to_string(), "2026-11-27T14:00:00Z");
        assert_eq!(w.hours(), 0.5);
        assert_eq!(Window::new(10, 5), Window::new(10, 10));
    }

    /// Issue 13 item 10 (the `durations` fuzz target reaches it): a day count whose hours fit
    /// an i64 but whose seconds do not (`9999999999999999d`) panicked in
    /// `SignedDuration::from_hours`.
    #[test]
    fn day_counts_past_the_longest_duration_are_errors() {
        assert!(parse_length("9999999999999999d").is_err());
        assert!(parse_length("-9999999999999999d").is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]
        /// No window length panics the parser or the window it makes, whatever the end.
        #[test]
        fn arbitrary_lengths_never_panic(text in "[-+ ]?[0-9]{0,20}[dhms]?|.{0,24}", end in proptest::prelude::any::<i64>()) {
            let end = Timestamp::from_second(end.rem_euclid(Timestamp::MAX.as_second())).unwrap();
            if let Ok(len) = parse_length(&text) {
                let w = Window::last(len, end);
                let _ = (w.start(), w.end(), w.hours());
            }
        }
    }
}
