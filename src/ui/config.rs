//! Where the theme and keymap come from: the shipped presets, then the user's files in the
//! config directory (`~/.config/fleettop/` on Linux), then command-line overrides.
//!
//! A bad user file never crashes fleettop and never loses the defaults: every problem becomes a
//! [`ConfigWarning`] that names the file, line, key and value, the bad entry is skipped, and the
//! rest of the file still applies.
//!
//! Files read from the config directory:
//! - `config.toml`: `theme = "light"`, `keymap = "vim"`, and a `[prices]` table of US dollars
//!   per GPU-hour by product or flavor for the Cost pane and `fleettop report`
//!   (`h100 = 3.10`, `"a100-spot" = 1.2`, `default = 1.5`; see [`crate::analytics::prices`]);
//!   and a `[pipelines]` section for live mode (scrape interval, extra pods to scrape; see
//!   [`super::config_pipelines`]);
//! - `theme.toml`: a partial overlay of `[palette]` and `[styles]` on the chosen theme
//!   (`inherits = "light"` picks another base);
//! - `keymap.toml`: extra `[[bindings]]`; a user binding for a key replaces whatever that key
//!   did, and `run = "none"` unbinds it.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::keymap::Keymap;
use super::theme::Theme;

/// The theme used when neither the command line nor `config.toml` names one.
pub const DEFAULT_THEME: &str = "dark";
/// The keymap used when neither the command line nor `config.toml` names one.
pub const DEFAULT_KEYMAP: &str = "default";
/// The theme `NO_COLOR` selects.
pub const NO_COLOR_THEME: &str = "mono";

/// The longest value quoted in a warning before it is cut short.
const MAX_VALUE_CHARS: usize = 60;

/// The resolved look and feel of the interface.
#[derive(Debug, Clone, Default)]
pub struct UiConfig {
    /// Styles for every semantic scope.
    pub theme: Theme,
    /// Key bindings.
    pub keymap: Keymap,
    /// GPU prices: the default table with the user's `[prices]` entries applied.
    pub prices: crate::analytics::Prices,
    /// `[pipelines]`: the scrape interval and extra targets of live mode.
    pub pipelines: super::config_pipelines::PipelineSettings,
    /// `team_label` and `[exceptions]`: where live mode finds teams, expiries, owners and
    /// tickets on objects.
    pub keys: super::config_keys::KeySettings,
}

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
fn display_path(path: &Path) -> String {
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

/// Builds the theme and keymap from the presets, the user's files in `config_dir` and the
/// command-line overrides. Precedence: override > `config.toml` > default; `no_color` (set when
/// `NO_COLOR` is non-empty) forces the `mono` theme and skips `theme.toml`.
pub fn load(
    config_dir: Option<&Path>,
    theme_override: Option<&str>,
    keymap_override: Option<&str>,
    no_color: bool,
) -> (UiConfig, Vec<ConfigWarning>) {
    let mut warnings = Vec::new();
    let settings = match config_dir {
        Some(dir) => load_settings(&dir.join("config.toml"), &mut warnings),
        None => Settings::default(),
    };
    let theme = choose_theme(config_dir, theme_override, &settings, no_color, &mut warnings);
    let keymap = choose_keymap(config_dir, keymap_override, &settings, &mut warnings);
    sort_warnings(&mut warnings);
    let mut prices = crate::analytics::Prices::default();
    for (product, usd) in settings.prices {
        prices.set(&product, usd);
    }
    (UiConfig { theme, keymap, prices, pipelines: settings.pipelines, keys: settings.keys }, warnings)
}

/// Orders warnings by file (in the order files were first mentioned), then by line.
pub(crate) fn sort_warnings(warnings: &mut [ConfigWarning]) {
    let mut files: Vec<PathBuf> = Vec::new();
    for warning in warnings.iter() {
        if !files.contains(&warning.file) {
            files.push(warning.file.clone());
        }
    }
    warnings.sort_by_key(|w| (files.iter().position(|f| *f == w.file), w.line));
}

/// Picks the base theme by precedence, then applies the user's `theme.toml`.
fn choose_theme(
    config_dir: Option<&Path>,
    cli: Option<&str>,
    settings: &Settings,
    no_color: bool,
    warnings: &mut Vec<ConfigWarning>,
) -> Theme {
    if no_color {
        return Theme::mono();
    }
    let base =
        choose_builtin(cli, settings.theme.as_ref(), "theme", warnings, Theme::builtin).unwrap_or_default();
    let Some(dir) = config_dir else {
        return base;
    };
    let (theme, more) = load_theme_file(&dir.join("theme.toml"), base);
    warnings.extend(more);
    theme
}

/// Picks the base keymap by precedence, then applies the user's `keymap.toml`.
fn choose_keymap(
    config_dir: Option<&Path>,
    cli: Option<&str>,
    settings: &Settings,
    warnings: &mut Vec<ConfigWarning>,
) -> Keymap {
    let base = choose_builtin(cli, settings.keymap.as_ref(), "keymap", warnings, Keymap::builtin)
        .unwrap_or_default();
    let Some(dir) = config_dir else {
        return base;
    };
    let (keymap, more) = load_keymap_file(&dir.join("keymap.toml"), base);
    warnings.extend(more);
    keymap
}

/// Tries the command-line name, then the `config.toml` name; each unknown one is a warning.
fn choose_builtin<T>(
    cli: Option<&str>,
    file: Option<&Named>,
    what: &str,
    warnings: &mut Vec<ConfigWarning>,
    builtin: fn(&str) -> Option<T>,
) -> Option<T> {
    if let Some(name) = cli {
        match builtin(name) {
            Some(found) => return Some(found),
            None => warnings.push(ConfigWarning {
                file: PathBuf::from("command line"),
                line: None,
                key: format!("--{what}"),
                value: format!("{name:?}"),
                message: unknown_name_message(what),
            }),
        }
    }
    let named = file?;
    let found = builtin(&named.name);
    if found.is_none() {
        warnings.push(named.warning(unknown_name_message(what)));
    }
    found
}

/// "unknown theme (expected one of: dark, light, …)".
fn unknown_name_message(what: &str) -> String {
    let names = if what == "theme" { Theme::builtin_names() } else { Keymap::builtin_names() };
    format!("unknown {what} (expected one of: {})", names.join(", "))
}

/// Reads a user `theme.toml` and lays it over `base` (or over the builtin it `inherits`).
/// A missing file is not a problem; any other problem is a warning and `base` stays in force.
pub fn load_theme_file(path: &Path, base: Theme) -> (Theme, Vec<ConfigWarning>) {
    let text = match read_optional(path) {
        Ok(Some(text)) => text,
        Ok(None) => return (base, Vec::new()),
        Err(warning) => return (base, vec![warning]),
    };
    let src = Source::new(path, &text);
    match src.parse() {
        Ok(table) => base.with_overlay(&src, &table),
        Err(warning) => (base, vec![warning]),
    }
}

/// Reads a user `keymap.toml` and lays its bindings over `base`.
/// A missing file is not a problem; any other problem is a warning and `base` stays in force.
pub fn load_keymap_file(path: &Path, mut base: Keymap) -> (Keymap, Vec<ConfigWarning>) {
    let text = match read_optional(path) {
        Ok(Some(text)) => text,
        Ok(None) => return (base, Vec::new()),
        Err(warning) => return (base, vec![warning]),
    };
    let src = Source::new(path, &text);
    let warnings = match src.parse() {
        Ok(table) => base.overlay_user(&src, &table),
        Err(warning) => vec![warning],
    };
    (base, warnings)
}

/// A name read from `config.toml`, with where it was written.
#[derive(Debug, Clone)]
struct Named {
    name: String,
    file: PathBuf,
    line: usize,
    key: String,
    value: String,
}

impl Named {
    /// A warning about this name.
    fn warning(&self, message: String) -> ConfigWarning {
        ConfigWarning {
            file: self.file.clone(),
            line: Some(self.line),
            key: self.key.clone(),
            value: self.value.clone(),
            message,
        }
    }
}

/// What `config.toml` chooses.
#[derive(Debug, Clone, Default)]
struct Settings {
    theme: Option<Named>,
    keymap: Option<Named>,
    /// `[prices]` entries: product or flavor → US dollars per GPU-hour.
    prices: Vec<(String, f64)>,
    /// `[pipelines]`.
    pipelines: super::config_pipelines::PipelineSettings,
    /// `team_label` and `[exceptions]`.
    keys: super::config_keys::KeySettings,
}

/// Reads `config.toml`; a missing file gives the defaults.
fn load_settings(path: &Path, warnings: &mut Vec<ConfigWarning>) -> Settings {
    let text = match read_optional(path) {
        Ok(Some(text)) => text,
        Ok(None) => return Settings::default(),
        Err(warning) => {
            warnings.push(warning);
            return Settings::default();
        }
    };
    let src = Source::new(path, &text);
    match src.parse() {
        Ok(table) => settings_from(&src, &table, warnings),
        Err(warning) => {
            warnings.push(warning);
            Settings::default()
        }
    }
}

/// Picks `theme` and `keymap` out of a parsed `config.toml`.
fn settings_from(src: &Source<'_>, table: &DeTable<'_>, warnings: &mut Vec<ConfigWarning>) -> Settings {
    let mut settings = Settings::default();
    for (key, value) in table {
        let slot = match key.get_ref().as_ref() {
            "theme" => &mut settings.theme,
            "keymap" => &mut settings.keymap,
            "prices" => {
                settings.prices = prices_from(src, value, warnings);
                continue;
            }
            "pipelines" => {
                settings.pipelines = super::config_pipelines::pipelines_from(src, value, warnings);
                continue;
            }
            "team_label" => {
                settings.keys.team_label = super::config_keys::team_label_from(src, value, warnings);
                continue;
            }
            "exceptions" => {
                super::config_keys::exceptions_from(src, value, &mut settings.keys, warnings);
                continue;
            }
            _ => {
                let known = ["theme", "keymap", "prices", "pipelines", "team_label", "exceptions"];
                warnings.push(src.unknown_key(key, value, "", &known));
                continue;
            }
        };
        let path = quote_key(key.get_ref());
        match src.expect_str(&path, value) {
            Ok(name) => {
                *slot = Some(Named {
                    name: name.to_owned(),
                    file: src.path.to_path_buf(),
                    line: src.line(value.span().start),
                    key: path,
                    value: src.snippet(value.span()),
                });
            }
            Err(warning) => warnings.push(warning),
        }
    }
    settings
}

/// The `[prices]` table: each value a non-negative number of US dollars per GPU-hour; a bad
/// entry is skipped with a warning.
fn prices_from(
    src: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    warnings: &mut Vec<ConfigWarning>,
) -> Vec<(String, f64)> {
    let DeValue::Table(table) = value.get_ref() else {
        let found = value.get_ref().type_str();
        warnings.push(src.warn(value.span(), "prices", format!("expected a table of prices, found {found}")));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (product, price) in table {
        let path = join_key("prices", product.get_ref());
        match number(price) {
            Some(usd) if usd.is_finite() && usd >= 0.0 => out.push((product.get_ref().to_string(), usd)),
            _ => warnings.push(src.warn(
                price.span(),
                &path,
                "expected US dollars per GPU-hour (a number, 0 or more); entry skipped",
            )),
        }
    }
    out
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
fn read_optional(path: &Path) -> Result<Option<String>, ConfigWarning> {
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
    use std::fs;

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::style::Color;

    use super::*;
    use crate::ui::Action;

    /// A temporary config directory holding the given files.
    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    /// Warnings as text, with the temporary directory removed from file names.
    fn shown(dir: &Path, warnings: &[ConfigWarning]) -> Vec<String> {
        let prefix = format!("{}/", display_path(dir));
        warnings.iter().map(|w| w.to_string().replace(&prefix, "")).collect()
    }

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn without_a_config_dir_the_defaults_apply() {
        let (config, warnings) = load(None, None, None, false);
        assert!(warnings.is_empty());
        assert_eq!(config.theme.name(), DEFAULT_THEME);
        assert_eq!(config.keymap.name(), DEFAULT_KEYMAP);
        let (config, warnings) = load(Some(Path::new("/nonexistent/fleettop")), None, None, false);
        assert!(warnings.is_empty(), "missing files are not a problem: {warnings:?}");
        assert_eq!(config.theme.name(), DEFAULT_THEME);
    }

    #[test]
    fn precedence_is_cli_then_config_file_then_default_and_no_color_wins() {
        let dir = dir_with(&[("config.toml", "theme = \"light\"\nkeymap = \"vim\"\n")]);
        let (config, warnings) = load(Some(dir.path()), None, None, false);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!((config.theme.name(), config.keymap.name()), ("light", "vim"));
        let (config, _) = load(Some(dir.path()), Some("high-contrast"), Some("default"), false);
        assert_eq!((config.theme.name(), config.keymap.name()), ("high-contrast", "default"));
        let (config, _) = load(Some(dir.path()), Some("high-contrast"), None, true);
        assert_eq!(config.theme.name(), "mono");
        assert_eq!(config.keymap.name(), "vim");
    }

    #[test]
    fn a_prices_table_overrides_the_default_gpu_prices() {
        let text = "theme = \"light\"\n[prices]\nh100 = 3.1\n\"a100-spot\" = 1\ndefault = 1_5\n";
        let dir = dir_with(&[("config.toml", text)]);
        let (config, warnings) = load(Some(dir.path()), None, None, false);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.prices.lookup("h100-80gb").usd_per_gpu_hour, 3.1);
        assert_eq!(config.prices.lookup("a100-spot").usd_per_gpu_hour, 1.0);
        assert_eq!(config.prices.lookup("a100-80gb").usd_per_gpu_hour, 3.0);
        assert_eq!(config.prices.fallback(), 15.0);
        let (config, _) = load(None, None, None, false);
        assert!(config.prices.is_default());
    }

    #[test]
    fn an_unknown_cli_name_warns_and_falls_back_to_the_config_file() {
        let dir = dir_with(&[("config.toml", "theme = \"light\"\n")]);
        let (config, warnings) = load(Some(dir.path()), Some("purple"), Some("emacs"), false);
        assert_eq!(config.theme.name(), "light");
        assert_eq!(config.keymap.name(), "default");
        assert_eq!(
            shown(dir.path(), &warnings),
            [
                "command line: --theme = \"purple\": unknown theme (expected one of: dark, light, high-contrast, mono)",
                "command line: --keymap = \"emacs\": unknown keymap (expected one of: default, vim)",
            ]
        );
    }

    #[test]
    fn a_user_theme_changing_one_scope_keeps_the_others() {
        let dir = dir_with(&[("theme.toml", "[styles]\n\"health.live\" = { fg = \"#00ff00\" }\n")]);
        let (config, warnings) = load(Some(dir.path()), None, None, false);
        assert!(warnings.is_empty(), "{warnings:?}");
        let dark = Theme::builtin("dark").unwrap();
        assert_eq!(config.theme.style("health.live").fg, Some(Color::Rgb(0, 0xff, 0)));
        for scope in crate::ui::theme::SCOPES.iter().filter(|s| **s != "health.live") {
            assert_eq!(config.theme.style(scope), dark.style(scope), "{scope}");
        }
    }

    #[test]
    fn a_user_palette_recolours_the_base_theme_and_inherits_picks_the_base() {
        let dir = dir_with(&[("theme.toml", "inherits = \"light\"\n[palette]\naccent = \"lightcyan\"\n")]);
        let (config, warnings) = load(Some(dir.path()), Some("dark"), None, false);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.theme.name(), "light");
        assert_eq!(config.theme.style("ui.title").fg, Some(Color::LightCyan));
        let light = Theme::builtin("light").unwrap();
        assert_eq!(config.theme.style("health.live"), light.style("health.live"));
    }

    #[test]
    fn no_color_ignores_the_user_theme() {
        let dir = dir_with(&[("theme.toml", "[styles]\n\"health.live\" = { fg = \"red\" }\n")]);
        let (config, _) = load(Some(dir.path()), None, None, true);
        assert_eq!(config.theme.style("health.live").fg, None);
    }

    #[test]
    fn a_user_keymap_rebinds_a_key() {
        let text = "[[bindings]]\non = \"x\"\nrun = \"quit\"\ndesc = \"Exit\"\n\n\
                    [[bindings]]\non = [\"j\"]\nrun = \"page_down\"\n";
        let dir = dir_with(&[("keymap.toml", text)]);
        let (config, warnings) = load(Some(dir.path()), None, None, false);
        assert!(warnings.is_empty(), "{warnings:?}");
        let keymap = &config.keymap;
        assert_eq!(keymap.action_for(&key('x')), Some(Action::Quit));
        assert_eq!(keymap.action_for(&key('q')), Some(Action::Quit));
        assert_eq!(keymap.action_for(&key('j')), Some(Action::PageDown));
        assert_eq!(
            keymap.action_for(&KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::SelectNext)
        );
    }

    /// A keymap that takes every quit key away gets a warning on the line that did it, and the
    /// built-in ctrl-c still quits; one that takes every help key away gets a warning.
    #[test]
    fn a_keymap_without_quit_or_help_keys_warns_and_ctrl_c_still_quits() {
        let text = "[[bindings]]\non = \"q\"\nrun = \"select_next\"\n\n\
                    [[bindings]]\non = [\"ctrl-c\", \"?\"]\nrun = \"none\"\n";
        let dir = dir_with(&[("keymap.toml", text)]);
        let (config, warnings) = load(Some(dir.path()), None, None, false);
        assert_eq!(
            shown(dir.path(), &warnings),
            [
                "keymap.toml:6: bindings[1].on = \"ctrl-c\": this takes the last quit key away; \
                 ctrl-c quits again as built in, so fleettop can always be left",
                "keymap.toml:6: bindings[1].on = \"?\": this takes the last help key away: no key \
                 shows help (bind one with run = \"toggle_help\")",
            ]
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(config.keymap.action_for(&ctrl_c), Some(Action::Quit));
        assert_eq!(config.keymap.action_for(&key('q')), Some(Action::SelectNext));
        assert_eq!(config.keymap.keys_for(Action::Quit), ["ctrl-c"]);
        assert_eq!(config.keymap.desc_for(Action::Quit), Some("Quit"));
        // Moving quit to another key is not a problem.
        let text = "[[bindings]]\non = [\"q\", \"ctrl-c\"]\nrun = \"none\"\n\n\
                    [[bindings]]\non = \"x\"\nrun = \"quit\"\n";
        let dir = dir_with(&[("keymap.toml", text)]);
        let (config, warnings) = load(Some(dir.path()), None, None, false);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.keymap.keys_for(Action::Quit), ["x"]);
    }

    /// Each fixture's `# expect:` lines are exactly its warnings; the defaults stay in force.
    #[test]
    fn invalid_config_fixtures_warn_and_keep_the_defaults() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_configs");
        let mut count = 0;
        for entry in fs::read_dir(&fixtures).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some(target) = fixture_target(&name) else {
                continue;
            };
            let text = fs::read_to_string(&path).unwrap();
            let dir = dir_with(&[(target, &text)]);
            let (config, warnings) = load(Some(dir.path()), None, None, false);
            let expected: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# expect: ")).collect();
            assert!(!expected.is_empty(), "{name} has no # expect: lines");
            assert_eq!(shown(dir.path(), &warnings), expected, "{name}");
            for warning in &warnings {
                assert!(warning.line.is_some() && !warning.value.is_empty(), "{name}: {warning}");
            }
            assert_defaults_hold(&name, &config);
            count += 1;
        }
        assert!(count >= 8, "only {count} fixtures found in {}", fixtures.display());
    }

    /// `theme_x.toml` → `theme.toml`, and so on.
    fn fixture_target(name: &str) -> Option<&'static str> {
        ["theme", "keymap", "config"]
            .into_iter()
            .find(|kind| {
                let toml = Path::new(name).extension().is_some_and(|e| e == "toml");
                name.starts_with(&format!("{kind}_")) && toml
            })
            .map(|kind| match kind {
                "theme" => "theme.toml",
                "keymap" => "keymap.toml",
                _ => "config.toml",
            })
    }

    /// Whatever a bad entry touched still looks and works as shipped.
    fn assert_defaults_hold(name: &str, config: &UiConfig) {
        let dark = Theme::builtin("dark").unwrap();
        assert_eq!(config.theme.name(), "dark", "{name}");
        for scope in ["ui.text", "ui.key", "health.stale", "denials.enforcement.deny"] {
            assert_eq!(config.theme.style(scope), dark.style(scope), "{name}: {scope}");
        }
        assert_eq!(config.theme.style("health.live"), dark.style("health.live"), "{name}");
        assert_eq!(config.keymap.name(), "default", "{name}");
        assert_eq!(config.keymap.action_for(&key('q')), Some(Action::Quit), "{name}");
        let page = KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE);
        assert_eq!(config.keymap.action_for(&page), Some(Action::PageDown), "{name}");
        assert_eq!(config.keymap.bindings().len(), Keymap::default().bindings().len(), "{name}");
    }

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

    /// A FIFO or a device where a config file should be is refused with a warning naming what it
    /// is; the start never blocks waiting for a writer.
    #[test]
    fn fifos_and_devices_as_config_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["config.toml", "theme.toml", "keymap.toml"] {
            let status = std::process::Command::new("mkfifo").arg(dir.path().join(name)).status().unwrap();
            assert!(status.success());
        }
        let path = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(load(Some(&path), None, None, false));
        });
        let (config, warnings) =
            rx.recv_timeout(std::time::Duration::from_secs(10)).expect("loading a FIFO config blocked");
        let shown = shown(dir.path(), &warnings);
        assert_eq!(shown.len(), 3, "{shown:#?}");
        for (warning, name) in shown.iter().zip(["config.toml", "theme.toml", "keymap.toml"]) {
            assert!(
                warning.starts_with(name) && warning.contains("a FIFO (named pipe), not a regular file"),
                "{warning}"
            );
        }
        assert_defaults_hold("fifo", &config);
        // A device (never-ending) is refused the same way.
        let dev = dir.path().join("dev");
        std::fs::create_dir(&dev).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dev.join("theme.toml")).unwrap();
        let (_, warnings) = load(Some(&dev), None, None, false);
        assert!(warnings.iter().any(|w| w.to_string().contains("a character device")), "{warnings:?}");
    }

    #[test]
    fn default_config_dir_ends_in_fleettop() {
        if let Some(dir) = default_config_dir() {
            assert!(dir.ends_with("fleettop"), "{}", dir.display());
        }
    }
}
