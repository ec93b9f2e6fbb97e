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

use toml::Spanned;
use toml::de::DeValue;

use super::config::{ConfigWarning, Source, join_key};

/// What these keys say; empty means "the built-in defaults".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySettings {
    /// The team label, when set.
    pub team_label: Option<String>,
    /// Extra expiry keys, tried first.
    pub expiry_keys: Vec<String>,
    /// Extra owner/approver keys, tried first.
    pub owner_keys: Vec<String>,
    /// Extra ticket keys, tried first.
    pub ticket_keys: Vec<String>,
    /// How far ahead an exception counts as "expiring soon", when set.
    pub expiring_within: Option<jiff::SignedDuration>,
}

/// Reads `team_label`.
pub(crate) fn team_label_from(
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

/// Reads the `[exceptions]` table into `settings`.
pub(crate) fn exceptions_from(
    src: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    settings: &mut KeySettings,
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
            settings.expiring_within = horizon(src, &path, value, warnings);
            continue;
        }
        let slot = match key.get_ref().as_ref() {
            "expiry_keys" => &mut settings.expiry_keys,
            "owner_keys" => &mut settings.owner_keys,
            "ticket_keys" => &mut settings.ticket_keys,
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
        for (k, span) in src.str_list(&path, value, warnings) {
            if valid_key(k) {
                slot.push(k.to_string());
            } else {
                warnings.push(src.warn(span, &path, "expected an annotation or label key; skipped"));
            }
        }
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
            let mut settings = KeySettings::default();
            let mut warnings = Vec::new();
            let (_, value) = table.iter().find(|(k, _)| k.get_ref() == "exceptions").unwrap();
            exceptions_from(&src, value, &mut settings, &mut warnings);
            (settings.expiring_within, warnings.len())
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
        let mut settings = KeySettings::default();
        for (k, v) in &table {
            match k.get_ref().as_ref() {
                "team_label" => settings.team_label = team_label_from(&src, v, &mut warnings),
                "exceptions" => exceptions_from(&src, v, &mut settings, &mut warnings),
                _ => {}
            }
        }
        assert_eq!(settings.team_label.as_deref(), Some("example.com/team"));
        assert_eq!(settings.expiry_keys, ["example.com/expires"]);
        assert_eq!(settings.owner_keys, ["example.com/approver"]);
        assert!(settings.ticket_keys.is_empty());
        let mut keys: Vec<(Option<usize>, &str)> =
            warnings.iter().map(|w| (w.line, w.key.as_str())).collect();
        keys.sort();
        assert_eq!(keys, [(Some(3), "exceptions.expiry_keys"), (Some(5), "exceptions.colour")]);
    }
}
