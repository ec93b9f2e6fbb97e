//! `config.toml` keys that say where live mode finds ownership on objects: `team_label` (the
//! label naming a workload's, queue's or namespace's team) and `[exceptions]` (annotations or
//! labels holding an exception's expiry, owner and ticket, tried before the built-in ones).
//!
//! ```toml
//! team_label = "example.com/team"
//!
//! [exceptions]
//! expiry_keys = ["example.com/expires"]
//! owner_keys = ["example.com/approver"]
//! ticket_keys = ["example.com/jira"]
//! expiring_within = "14d"   # "expiring soon" horizon (default 7d)
//! ```
//!
//! The keys are written straight into the projections' [`ProjectionConfig`] (the user's first,
//! the built-in ones after them), the horizon into the [`Verdicts`].

use toml::Spanned;
use toml::de::DeValue;

use super::{ConfigWarning, Source, join_key};
use crate::model::Verdicts;
use crate::sources::kubernetes::objects::ProjectionConfig;

/// Reads `team_label`.
pub(super) fn team_label_from(
    src: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    warnings: &mut Vec<ConfigWarning>,
) -> Option<String> {
    match src.expect_str("team_label", value) {
        Ok(l) if valid_key(l) => Some(l.to_string()),
        Ok(_) => {
            warnings.push(src.warn(
                value.span(),
                "team_label",
                "expected a label key like \"team\" or \"example.com/team\"; the default (team) applies",
            ));
            None
        }
        Err(w) => {
            warnings.push(w);
            None
        }
    }
}

/// Reads the `[exceptions]` table: its keys go before the built-in ones of `projection`.
pub(super) fn exceptions_from(
    src: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    projection: &mut ProjectionConfig,
    verdicts: &mut Verdicts,
    warnings: &mut Vec<ConfigWarning>,
) {
    let DeValue::Table(table) = value.get_ref() else {
        let found = value.get_ref().type_str();
        warnings.push(src.warn(value.span(), "exceptions", format!("expected a table, found {found}")));
        return;
    };
    for (key, value) in table {
        let path = join_key("exceptions", key.get_ref());
        if key.get_ref() == "expiring_within" {
            if let Some(window) = horizon(src, &path, value, warnings) {
                verdicts.expiring_within = window;
            }
            continue;
        }
        let slot = match key.get_ref().as_ref() {
            "expiry_keys" => &mut projection.expiry_keys,
            "owner_keys" => &mut projection.owner_keys,
            "ticket_keys" => &mut projection.ticket_keys,
            _ => {
                warnings.push(src.unknown_key(
                    key,
                    value,
                    "exceptions",
                    &["expiry_keys", "owner_keys", "ticket_keys", "expiring_within"],
                ));
                continue;
            }
        };
        let mut mine = Vec::new();
        for (k, span) in src.str_list(&path, value, warnings) {
            if valid_key(k) {
                mine.push(k.to_string());
            } else {
                warnings.push(src.warn(span, &path, "expected an annotation or label key; skipped"));
            }
        }
        slot.splice(0..0, mine);
    }
}

/// `"7d"`, `"36h"`, `"2w"`: a positive span of at most a year (days are 24 hours).
fn horizon(
    src: &Source<'_>,
    path: &str,
    value: &Spanned<DeValue<'_>>,
    warnings: &mut Vec<ConfigWarning>,
) -> Option<jiff::SignedDuration> {
    let text = match src.expect_str(path, value) {
        Ok(t) => t,
        Err(w) => {
            warnings.push(w);
            return None;
        }
    };
    let parsed = text
        .trim()
        .parse::<jiff::Span>()
        .ok()
        .and_then(|span| span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).ok())
        .filter(|d| d.is_positive() && *d <= jiff::SignedDuration::from_hours(24 * 366));
    if parsed.is_none() {
        warnings.push(src.warn(
            value.span(),
            path,
            "expected a duration like \"7d\" or \"36h\" (up to a year); the default (7d) applies",
        ));
    }
    parsed
}

/// A plausible Kubernetes annotation or label key: `[prefix/]name`, no spaces.
fn valid_key(k: &str) -> bool {
    let name = k.rsplit('/').next().unwrap_or("");
    !name.is_empty() && k.len() <= 316 && !k.chars().any(char::is_whitespace) && k.matches('/').count() <= 1
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use super::*;

    #[test]
    fn the_expiring_soon_horizon_reads_days_weeks_and_hours_and_rejects_the_rest() {
        let read = |v: &str| {
            let text = format!("[exceptions]\nexpiring_within = {v}\n");
            let src = Source::new(std::path::Path::new("config.toml"), &text);
            let table = src.parse().unwrap();
            let (mut projection, mut verdicts) = (ProjectionConfig::default(), Verdicts::default());
            let mut warnings = Vec::new();
            let (_, value) = table.iter().find(|(k, _)| k.get_ref() == "exceptions").unwrap();
            exceptions_from(&src, value, &mut projection, &mut verdicts, &mut warnings);
            let set = verdicts.expiring_within != Verdicts::default().expiring_within;
            (set.then_some(verdicts.expiring_within), warnings.len())
        };
        let h = jiff::SignedDuration::from_hours;
        assert_eq!(read("\"14d\""), (Some(h(14 * 24)), 0));
        assert_eq!(read("\"2w\""), (Some(h(14 * 24)), 0));
        assert_eq!(read("\"36h\""), (Some(h(36)), 0));
        for bad in ["\"0d\"", "\"-3d\"", "\"2y\"", "\"soon\"", "7"] {
            assert_eq!(read(bad), (None, 1), "{bad}");
        }
    }

    #[test]
    fn keys_are_read_and_bad_ones_skipped_with_warnings() {
        let text = "team_label = \"example.com/team\"\n[exceptions]\nexpiry_keys = [\"example.com/expires\", \"has space\"]\nowner_keys = \"example.com/approver\"\ncolour = 1\n";
        let src = Source::new(Path::new("config.toml"), text);
        let table = src.parse().unwrap();
        let mut warnings = Vec::new();
        let (mut projection, mut verdicts) = (ProjectionConfig::default(), Verdicts::default());
        let mut team_label = None;
        for (k, v) in &table {
            match k.get_ref().as_ref() {
                "team_label" => team_label = team_label_from(&src, v, &mut warnings),
                "exceptions" => exceptions_from(&src, v, &mut projection, &mut verdicts, &mut warnings),
                _ => {}
            }
        }
        let builtin = ProjectionConfig::default();
        assert_eq!(team_label.as_deref(), Some("example.com/team"));
        assert_eq!(projection.expiry_keys[0], "example.com/expires");
        assert_eq!(projection.expiry_keys[1..], builtin.expiry_keys[..]);
        assert_eq!(projection.owner_keys[0], "example.com/approver");
        assert_eq!(projection.owner_keys[1..], builtin.owner_keys[..]);
        assert_eq!(projection.ticket_keys, builtin.ticket_keys);
        let mut keys: Vec<(Option<usize>, &str)> =
            warnings.iter().map(|w| (w.line, w.key.as_str())).collect();
        keys.sort();
        assert_eq!(keys, [(Some(3), "exceptions.expiry_keys"), (Some(5), "exceptions.colour")]);
    }
}
