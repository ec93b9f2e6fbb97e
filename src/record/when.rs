//! Points in a recording as people write them (`--at WHEN`, the `t` prompt): an offset (`12m`, `1h5m30s`, `+90s`), a UTC time of day on
//! the recording's first day (`14:12`, `14:12:30`), or an RFC 3339 timestamp.

use jiff::{SignedDuration, Timestamp, civil};

/// Resolves `when` against a recording that starts at `start`.
pub fn resolve(when: &str, start: Timestamp) -> Result<Timestamp, String> {
    let w = when.trim();
    if let Ok(t) = w.parse::<Timestamp>() {
        return Ok(t);
    }
    if w.contains(':') {
        let time: civil::Time = w.parse().map_err(|e| format!("--at {w:?}: not a time of day: {e}"))?;
        let midnight = start.as_second().div_euclid(86_400) * 86_400;
        let secs = i64::from(time.hour()) * 3600 + i64::from(time.minute()) * 60 + i64::from(time.second());
        return Timestamp::from_second(midnight + secs).map_err(|e| format!("--at {w:?}: {e}"));
    }
    let d: SignedDuration = w.trim_start_matches('+').parse().map_err(|e| {
        format!("--at {w:?}: expected an offset like 12m or 1h5m, a time like 14:12, or a timestamp ({e})")
    })?;
    start.checked_add(d).map_err(|e| format!("--at {w:?}: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn start() -> Timestamp {
        "2026-11-27T14:00:00Z".parse().unwrap()
    }

    #[test]
    fn offsets_times_and_timestamps() {
        assert_eq!(resolve("12m", start()).unwrap().to_string(), "2026-11-27T14:12:00Z");
        assert_eq!(resolve("+1h5m30s", start()).unwrap().to_string(), "2026-11-27T15:05:30Z");
        assert_eq!(resolve("90s", start()).unwrap().to_string(), "2026-11-27T14:01:30Z");
        assert_eq!(resolve("14:12", start()).unwrap().to_string(), "2026-11-27T14:12:00Z");
        assert_eq!(resolve("14:12:30", start()).unwrap().to_string(), "2026-11-27T14:12:30Z");
        assert_eq!(resolve("2026-11-27T14:20:00Z", start()).unwrap().to_string(), "2026-11-27T14:20:00Z");
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let e = resolve("soon", start()).unwrap_err();
        assert!(e.contains("expected an offset"), "{e}");
        assert!(resolve("25:99", start()).unwrap_err().contains("time of day"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]
        /// No `--at` text panics, against any start a recording may have.
        #[test]
        fn arbitrary_points_never_panic(
            text in "[+-]?[0-9]{0,20}[hms]?|[0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3})?|.{0,32}",
            start in proptest::prelude::any::<i64>(),
        ) {
            let span = Timestamp::MAX.as_second() - Timestamp::MIN.as_second();
            let start = Timestamp::from_second(Timestamp::MIN.as_second() + start.rem_euclid(span)).unwrap();
            let _ = resolve(&text, start);
        }
    }
}
