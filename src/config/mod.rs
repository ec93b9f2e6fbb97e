//! Configuration as one value: `config.toml` read once, at the top of `cli::dispatch`, into a
//! [`Settings`] whose parts are the consumers' own types (the price table, the live sources'
//! [`Options`], the [`Verdicts`]), with every problem a [`ConfigWarning`] naming file:line.
//!
//! Owns: the TOML helpers (`file`), `config.toml`'s keys (`[prices]`, `[pipelines]` in
//! `pipelines`, `team_label` and `[exceptions]` in `annotations`) and where the config
//! folder is. The names of the theme and keymap are read here too; choosing them (and
//! `theme.toml`/`keymap.toml`) is the UI's ([`crate::ui::config`]).
//! May not import: `crate::state`, `ui`, `cli`, `record`; ratatui (it is read before any of
//! them runs; `tests/boundaries.rs`).
//!
//! ```toml
//! theme = "light"            # or --theme; see ui::config
//! keymap = "vim"
//! team_label = "example.com/team"
//!
//! [prices]                   # US dollars per GPU-hour by product or flavor
//! h100 = 3.10
//! default = 1.5
//!
//! [pipelines]                # see pipelines.rs
//! [exceptions]               # see annotations.rs
//! ```

mod annotations;
mod file;
mod pipelines;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

#[cfg(test)]
pub(crate) use file::display_path;
pub use file::{ConfigWarning, default_config_dir, sort_warnings};
pub(crate) use file::{Source, join_key, number, quote_key, read_optional};
pub use pipelines::MIN_SCRAPE_EVERY;

use crate::analytics::Prices;
use crate::model::Verdicts;
use crate::sources::kubernetes::Options;

/// Everything `config.toml` says, each part in the type of the layer that uses it.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `theme = "…"`, for the UI to choose by (after `--theme`).
    pub theme: Option<Named>,
    /// `keymap = "…"`, for the UI to choose by (after `--keymap`).
    pub keymap: Option<Named>,
    /// GPU prices: the default table with the user's `[prices]` entries applied.
    pub prices: Prices,
    /// The live sources' options: `[pipelines]` (scrape interval, extra targets), `team_label`
    /// and `[exceptions]` keys (tried before the built-in ones).
    pub sources: Options,
    /// Where verdicts turn: `[pipelines.thresholds]`, `[exceptions] expiring_within`.
    pub verdicts: Verdicts,
}

/// A name read from `config.toml`, with where it was written (for a warning when no such
/// theme or keymap exists).
#[derive(Debug, Clone)]
pub struct Named {
    /// The name as written.
    pub name: String,
    file: PathBuf,
    line: usize,
    key: String,
    value: String,
}

impl Named {
    /// A warning about this name.
    pub fn warning(&self, message: String) -> ConfigWarning {
        ConfigWarning {
            file: self.file.clone(),
            line: Some(self.line),
            key: self.key.clone(),
            value: self.value.clone(),
            message,
        }
    }
}

/// Reads `config.toml` in `config_dir` (none, or a missing file: the defaults).
pub fn load(config_dir: Option<&Path>) -> (Settings, Vec<ConfigWarning>) {
    let mut warnings = Vec::new();
    let settings = match config_dir {
        Some(dir) => load_file(&dir.join("config.toml"), &mut warnings),
        None => Settings::default(),
    };
    (settings, warnings)
}

/// Reads one `config.toml`; a missing file gives the defaults.
fn load_file(path: &Path, warnings: &mut Vec<ConfigWarning>) -> Settings {
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

/// Reads the keys of a parsed `config.toml`.
fn settings_from(src: &Source<'_>, table: &DeTable<'_>, warnings: &mut Vec<ConfigWarning>) -> Settings {
    let mut settings = Settings::default();
    for (key, value) in table {
        let slot = match key.get_ref().as_ref() {
            "theme" => &mut settings.theme,
            "keymap" => &mut settings.keymap,
            "prices" => {
                for (product, usd) in prices_from(src, value, warnings) {
                    settings.prices.set(&product, usd);
                }
                continue;
            }
            "pipelines" => {
                pipelines::read(src, value, &mut settings.sources, &mut settings.verdicts, warnings);
                continue;
            }
            "team_label" => {
                if let Some(label) = annotations::team_label_from(src, value, warnings) {
                    Arc::make_mut(&mut settings.sources.projection).team_label = label;
                }
                continue;
            }
            "exceptions" => {
                let projection = Arc::make_mut(&mut settings.sources.projection);
                annotations::exceptions_from(src, value, projection, &mut settings.verdicts, warnings);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::fs;

    use super::*;

    fn dir_with(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("config.toml"), text).unwrap();
        dir
    }

    #[test]
    fn without_a_config_dir_or_file_the_defaults_apply() {
        for dir in [None, Some(Path::new("/nonexistent/fleettop"))] {
            let (settings, warnings) = load(dir);
            assert!(warnings.is_empty(), "{warnings:?}");
            assert!(settings.prices.is_default());
            assert_eq!(settings.verdicts, Verdicts::default());
            assert_eq!(*settings.sources.projection, Options::default().projection.as_ref().clone());
            assert!(settings.theme.is_none() && settings.keymap.is_none());
        }
    }

    #[test]
    fn a_prices_table_overrides_the_default_gpu_prices() {
        let dir = dir_with("theme = \"light\"\n[prices]\nh100 = 3.1\n\"a100-spot\" = 1\ndefault = 1_5\n");
        let (settings, warnings) = load(Some(dir.path()));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.prices.lookup("h100-80gb").usd_per_gpu_hour, 3.1);
        assert_eq!(settings.prices.lookup("a100-spot").usd_per_gpu_hour, 1.0);
        assert_eq!(settings.prices.lookup("a100-80gb").usd_per_gpu_hour, 3.0);
        assert_eq!(settings.prices.fallback(), 15.0);
        assert_eq!(settings.theme.map(|n| n.name).as_deref(), Some("light"));
    }

    #[test]
    fn every_part_lands_in_its_consumers_type() {
        let text = "team_label = \"example.com/squad\"\n\
                    [exceptions]\nexpiry_keys = [\"example.com/expires\"]\nexpiring_within = \"14d\"\n\
                    [pipelines]\nscrape_every = \"30s\"\n\
                    [[pipelines.targets]]\nkind = \"collector\"\nlabel = \"app\"\nvalues = [\"gw\"]\n\
                    [pipelines.thresholds]\ndropped_per_s = 5\n";
        let dir = dir_with(text);
        let (settings, warnings) = load(Some(dir.path()));
        assert!(warnings.is_empty(), "{warnings:?}");
        let projection = &settings.sources.projection;
        assert_eq!(projection.team_label, "example.com/squad");
        let builtin = Options::default().projection.expiry_keys.clone();
        assert_eq!(projection.expiry_keys[0], "example.com/expires", "the user's keys come first");
        assert_eq!(projection.expiry_keys[1..], builtin[..], "the built-in ones still apply");
        assert_eq!(settings.sources.scrape_every, std::time::Duration::from_secs(30));
        assert_eq!(settings.sources.extra_targets.len(), 1);
        assert_eq!(settings.sources.extra_targets[0].label_selector(), "app=gw");
        assert_eq!(settings.verdicts.pipelines.dropped_per_s, 5.0);
        assert_eq!(settings.verdicts.expiring_within, jiff::SignedDuration::from_hours(14 * 24));
    }

    #[test]
    fn default_config_dir_ends_in_fleettop() {
        if let Some(dir) = default_config_dir() {
            assert!(dir.ends_with("fleettop"), "{}", dir.display());
        }
    }
}
