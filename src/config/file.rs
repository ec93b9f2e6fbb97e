//! The TOML reading helpers every configuration file shares: a file's text with spans
//! ([`Source`]), typed getters, and [`ConfigWarning`]s that name the file, line, key and value.
//!
//! A bad entry never crashes fleettop and never loses the defaults: it becomes a warning, is
//! skipped, and the rest of the file still applies.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The longest value quoted in a warning before it is cut short.
const MAX_VALUE_CHARS: usize = 60;

/// One problem in a configuration file (or on the command line), with enough context to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file the problem is in (`command line` for a bad `--theme`/`--keymap`).
    pub file: PathBuf,
    /// 1-based line of the bad value, where known.
    pub line: Option<usize>,
    /// Dotted path of the bad key, e.g. `styles."health.live".fg`; empty for a syntax error.
    pub key: String,
    /// The bad value as written, e.g. `"purpel"`; for a syntax error, the offending line.
    pub value: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", display_path(&self.file))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        match (self.key.is_empty(), self.value.is_empty()) {
            (false, false) => write!(f, ": {} = {}: {}", self.key, self.value, self.message),
            (false, true) => write!(f, ": {}: {}", self.key, self.message),
            (true, false) => write!(f, ": {}: {}", self.message, self.value),
            (true, true) => write!(f, ": {}", self.message),
        }
    }
}

/// Shows a path under the home directory as `~/…`.
pub(crate) fn display_path(path: &Path) -> String {
    let home = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf());
    match home.as_deref().and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

/// The config directory fleettop reads user files from (`~/.config/fleettop` on Linux).
pub fn default_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "fleettop").map(|d| d.config_dir().to_path_buf())
}

/// Orders warnings by file (in the order files were first mentioned), then by line.
pub fn sort_warnings(warnings: &mut [ConfigWarning]) {
    let mut files: Vec<PathBuf> = Vec::new();
    for warning in warnings.iter() {
        if !files.contains(&warning.file) {
            files.push(warning.file.clone());
        }
    }
    warnings.sort_by_key(|w| (files.iter().position(|f| *f == w.file), w.line));
}

/// A TOML integer or float as a number; `None` for anything else.
pub(crate) fn number(value: &Spanned<DeValue<'_>>) -> Option<f64> {
    match value.get_ref() {
        DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
        DeValue::Integer(i) => {
            i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok().map(|v| v as f64)
        }
        _ => None,
    }
}

/// Reads a file that may not exist. Missing → `Ok(None)`; unreadable, or not a regular file
/// (a FIFO would block the start, a device never ends) → a warning.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, ConfigWarning> {
    match crate::files::read_regular_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(ConfigWarning {
            file: path.to_path_buf(),
            line: None,
            key: String::new(),
            value: String::new(),
            message: format!("cannot read file ({err}); using the defaults"),
        }),
    }
}

/// Quotes a TOML key segment when it is not a bare key: `health.live` → `"health.live"`.
pub(crate) fn quote_key(key: &str) -> String {
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { key.to_owned() } else { format!("{key:?}") }
}

/// The text of one configuration file, for turning spans into warnings.
#[derive(Debug, Clone)]
pub(crate) struct Source<'a> {
    /// Where the text came from (shown in warnings).
    pub(crate) path: &'a Path,
    /// The whole file.
    pub(crate) text: &'a str,
    /// Byte offset of each line's start, built on the first warning: each line number is then
    /// a binary search, so a file with a warning on every line stays linear to report.
    line_starts: std::cell::OnceCell<Vec<usize>>,
}

impl<'a> Source<'a> {
    /// Wraps a file's text.
    pub(crate) fn new(path: &'a Path, text: &'a str) -> Self {
        Source { path, text, line_starts: std::cell::OnceCell::new() }
    }

    /// Parses the file keeping spans; a syntax error becomes the file's one warning.
    pub(crate) fn parse(&self) -> Result<DeTable<'a>, ConfigWarning> {
        match DeTable::parse(self.text) {
            Ok(table) => Ok(table.into_inner()),
            Err(err) => Err(self.syntax_warning(&err)),
        }
    }

    /// "invalid TOML (…); file ignored", pointing at the offending line.
    fn syntax_warning(&self, err: &toml::de::Error) -> ConfigWarning {
        let start = err.span().map_or(0, |s| s.start);
        let line = self.line(start);
        let value = self.text.lines().nth(line - 1).unwrap_or("").trim();
        ConfigWarning {
            file: self.path.to_path_buf(),
            line: err.span().map(|_| line),
            key: String::new(),
            value: truncate(value),
            message: format!("invalid TOML ({}); file ignored", err.message().trim()),
        }
    }

    /// 1-based line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> usize {
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1))
                .collect()
        });
        // The number of line starts at or before `offset` is its 1-based line.
        starts.partition_point(|start| *start <= offset.min(self.text.len()))
    }

    /// The text of a span, on one line and cut short, as quoted in a warning.
    pub(crate) fn snippet(&self, span: Range<usize>) -> String {
        let raw = self.text.get(span).unwrap_or("");
        truncate(&raw.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// A warning about the value at `span`.
    pub(crate) fn warn(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ConfigWarning {
        ConfigWarning {
            file: self.path.to_path_buf(),
            line: Some(self.line(span.start)),
            key: key.to_owned(),
            value: self.snippet(span),
            message: message.into(),
        }
    }

    /// A warning about a required key that is missing from the table at `span`.
    pub(crate) fn missing(&self, span: Range<usize>, key: &str) -> ConfigWarning {
        ConfigWarning {
            file: self.path.to_path_buf(),
            line: Some(self.line(span.start)),
            key: key.to_owned(),
            value: String::new(),
            message: "missing; entry skipped".to_owned(),
        }
    }

    /// "unknown key (expected one of: …)" for `prefix.key`.
    pub(crate) fn unknown_key(
        &self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        value: &Spanned<DeValue<'_>>,
        prefix: &str,
        expected: &[&str],
    ) -> ConfigWarning {
        let path = join_key(prefix, key.get_ref());
        let message = format!("unknown key (expected one of: {})", expected.join(", "));
        let mut warning = self.warn(value.span(), &path, message);
        warning.line = Some(self.line(key.span().start));
        warning
    }

    /// The value as a string, or a "wrong type" warning.
    pub(crate) fn expect_str<'v>(
        &self,
        key: &str,
        value: &'v Spanned<DeValue<'_>>,
    ) -> Result<&'v str, ConfigWarning> {
        value.get_ref().as_str().ok_or_else(|| {
            let found = value.get_ref().type_str();
            self.warn(value.span(), key, format!("expected a string, found {found}"))
        })
    }

    /// The value as one string or an array of strings; bad elements become warnings.
    pub(crate) fn str_list<'v>(
        &self,
        key: &str,
        value: &'v Spanned<DeValue<'_>>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Vec<(&'v str, Range<usize>)> {
        match value.get_ref() {
            DeValue::String(s) => vec![(s.as_ref(), value.span())],
            DeValue::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match self.expect_str(&format!("{key}[{i}]"), item) {
                    Ok(s) => Some((s, item.span())),
                    Err(w) => {
                        warnings.push(w);
                        None
                    }
                })
                .collect(),
            other => {
                let msg = format!("expected a string or an array of strings, found {}", other.type_str());
                warnings.push(self.warn(value.span(), key, msg));
                Vec::new()
            }
        }
    }
}

/// `prefix.key`, quoting `key` where needed.
pub(crate) fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { quote_key(key) } else { format!("{prefix}.{}", quote_key(key)) }
}

/// Cuts a quoted value short so one warning stays on one line.
fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_VALUE_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX_VALUE_CHARS).collect();
    format!("{cut}…")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn warnings_show_home_as_tilde_and_omit_what_is_unknown() {
        let home = directories::BaseDirs::new().unwrap().home_dir().to_path_buf();
        let warning = ConfigWarning {
            file: home.join(".config/fleettop/theme.toml"),
            line: Some(12),
            key: "styles.\"health.live\".fg".to_owned(),
            value: "\"purpel\"".to_owned(),
            message: "unknown colour".to_owned(),
        };
        assert_eq!(
            warning.to_string(),
            "~/.config/fleettop/theme.toml:12: styles.\"health.live\".fg = \"purpel\": unknown colour"
        );
        let bare = ConfigWarning { line: None, key: String::new(), value: String::new(), ..warning };
        assert_eq!(bare.to_string(), "~/.config/fleettop/theme.toml: unknown colour");
    }
}
