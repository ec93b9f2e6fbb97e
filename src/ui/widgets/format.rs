//! Text formatting shared by panes: ages, countdowns, rates, bars.

use jiff::{SignedDuration, Timestamp};

/// A compact age: `5s`, `3m`, `2h`, `4d`. Negative durations read as `0s`.
pub fn age(d: SignedDuration) -> String {
    let s = d.as_secs().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// A compact age with two units for short spans: `45s`, `3m12s`, `2h05m`, `4d03h`.
pub fn age_precise(d: SignedDuration) -> String {
    let s = d.as_secs().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Age of `t` at `now`.
pub fn since(now: Timestamp, t: Timestamp) -> String {
    age(now.duration_since(t))
}

/// `in 3h` / `12m ago` for a deadline.
pub fn countdown(now: Timestamp, deadline: Timestamp) -> String {
    let d = deadline.duration_since(now);
    if !d.is_positive() { format!("{} ago", age_precise(-d)) } else { format!("in {}", age_precise(d)) }
}

/// A per-second rate: `0`, `12/s`, `1.2k/s`, `3.4M/s`.
pub fn rate(v: f64) -> String {
    if !v.is_finite() || v <= 0.0 {
        "0".into()
    } else if v < 10.0 {
        format!("{v:.1}/s")
    } else if v < 1000.0 {
        format!("{v:.0}/s")
    } else if v < 1_000_000.0 {
        format!("{:.1}k/s", v / 1000.0)
    } else {
        format!("{:.1}M/s", v / 1_000_000.0)
    }
}

/// A number without a trailing `.0`: `4`, `2.5`.
pub fn qty(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{}", v.round() as i64) } else { format!("{v:.1}") }
}

/// A horizontal bar of `width` cells filled to `fill` (0..=1), in block characters.
pub fn bar(fill: f64, width: usize) -> String {
    let fill = if fill.is_finite() { fill.clamp(0.0, 1.0) } else { 0.0 };
    let eighths = (fill * width as f64 * 8.0).round() as usize;
    let full = eighths / 8;
    let rem = eighths % 8;
    let mut s = "█".repeat(full);
    if full < width {
        const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
        s.push_str(if rem > 0 { PARTS[rem] } else { "·" });
        s.push_str(&"·".repeat(width - full - 1));
    }
    s
}

/// A sparkline of counts in block characters, one per value, scaled to the largest; zero is
/// a space, and any non-zero value at least `▁`.
pub fn spark(values: &[u64]) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| match v {
            0 => ' ',
            v => LEVELS[((v as u128 * 8).div_ceil(max.max(1) as u128) as usize).saturating_sub(1).min(7)],
        })
        .collect()
}

/// Truncates `s` to `max` characters, ending with `…` when cut.
pub fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else if max == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// The first line of a message, with runs of whitespace collapsed (for table cells).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `hh:mm:ss` of a timestamp in UTC.
pub fn clock(t: Timestamp) -> String {
    t.strftime("%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_pick_one_unit() {
        assert_eq!(age(SignedDuration::from_secs(59)), "59s");
        assert_eq!(age(SignedDuration::from_secs(61)), "1m");
        assert_eq!(age(SignedDuration::from_secs(7200)), "2h");
        assert_eq!(age(SignedDuration::from_secs(-5)), "0s");
        assert_eq!(age_precise(SignedDuration::from_secs(192)), "3m12s");
    }

    #[test]
    fn rates_are_compact() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(f64::NAN), "0");
        assert_eq!(rate(2.345), "2.3/s");
        assert_eq!(rate(1234.0), "1.2k/s");
    }

    #[test]
    fn bars_have_fixed_width() {
        for f in [0.0, 0.33, 0.5, 0.99, 1.0, 7.0, f64::NAN] {
            assert_eq!(bar(f, 10).chars().count(), 10, "fill {f}");
        }
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.0, 4), "····");
    }

    #[test]
    fn sparks_scale_to_the_largest_and_keep_zero_blank() {
        assert_eq!(spark(&[0, 1, 4, 8]), " ▁▄█");
        assert_eq!(spark(&[0, 0]), "  ");
        assert_eq!(spark(&[1000, 1]), "█▁", "a small non-zero value stays visible");
        assert_eq!(spark(&[]), "");
        assert_eq!(spark(&[u64::MAX, 1]).chars().count(), 2);
    }

    #[test]
    fn ellipsize_counts_chars() {
        assert_eq!(ellipsize("héllo", 5), "héllo");
        assert_eq!(ellipsize("héllo world", 5), "héll…");
    }
}
