//! The per-minute bookkeeping the derived histories share (denial rates, pipeline rates, GPU
//! utilisation): which one-minute bin of a sparkline a moment falls in, and a time series
//! kept for a window.

use jiff::{SignedDuration, Timestamp};

/// Minutes since the Unix epoch.
pub(super) fn minute(t: Timestamp) -> i64 {
    t.as_second().div_euclid(60)
}

/// The first minute of the `bins` one-minute bins that end with `now`'s minute.
pub(super) fn first_bin(now: Timestamp, bins: usize) -> i64 {
    minute(now) - bins as i64 + 1
}

/// Which of the `bins` one-minute bins ending with `now`'s minute holds minute `m`, oldest
/// first; `None` outside them.
pub(super) fn bin(m: i64, now: Timestamp, bins: usize) -> Option<usize> {
    let start = first_bin(now, bins);
    (start..=minute(now)).contains(&m).then(|| (m - start) as usize)
}

/// Appends `sample` taken at `at` to a series kept oldest first, unless the series already
/// has a sample at or after `at` (a re-sent record adds nothing), then drops what is older
/// than `window` before `at`.
pub(super) fn push_recent<T>(
    series: &mut Vec<T>,
    sample: T,
    at: Timestamp,
    time: impl Fn(&T) -> Timestamp,
    window: SignedDuration,
) {
    if series.last().is_some_and(|s| time(s) >= at) {
        return;
    }
    series.push(sample);
    let stale = series.iter().take_while(|s| time(s) < at - window).count();
    series.drain(..stale);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn bins_end_with_the_current_minute_and_series_keep_their_window() {
        let now: Timestamp = "2026-11-27T14:02:30Z".parse().unwrap();
        let at = |s: &str| minute(s.parse().unwrap());
        assert_eq!(bin(at("2026-11-27T14:00:00Z"), now, 3), Some(0));
        assert_eq!(bin(at("2026-11-27T14:02:59Z"), now, 3), Some(2));
        assert_eq!(bin(at("2026-11-27T13:59:59Z"), now, 3), None);
        assert_eq!(bin(at("2026-11-27T14:03:00Z"), now, 3), None);
        let t = |s: &str| -> Timestamp { s.parse().unwrap() };
        let mut series: Vec<Timestamp> = Vec::new();
        let window = SignedDuration::from_mins(15);
        for s in
            ["2026-11-27T14:00:00Z", "2026-11-27T14:00:00Z", "2026-11-27T14:10:00Z", "2026-11-27T14:16:00Z"]
        {
            push_recent(&mut series, t(s), t(s), |x| *x, window);
        }
        assert_eq!(series, [t("2026-11-27T14:10:00Z"), t("2026-11-27T14:16:00Z")]);
    }
}
