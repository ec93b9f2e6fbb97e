//! Where the theme and keymap come from: the shipped presets, then the names `config.toml`
//! gives ([`crate::config::Settings`]) and the user's files in the config directory
//! (`~/.config/fleettop/` on Linux), then command-line overrides.
//!
//! A bad user file never crashes fleettop and never loses the defaults: every problem becomes a
//! [`ConfigWarning`] that names the file, line, key and value, the bad entry is skipped, and the
//! rest of the file still applies.
//!
//! Files read from the config directory:
//! - `theme.toml`: a partial overlay of `[palette]` and `[styles]` on the chosen theme
//!   (`inherits = "light"` picks another base);
//! - `keymap.toml`: extra `[[bindings]]`; a user binding for a key replaces whatever that key
//!   did, and `run = "none"` unbinds it.

use std::path::{Path, PathBuf};

use super::keymap::Keymap;
use super::theme::Theme;
use crate::config::{ConfigWarning, Named, Settings, Source, read_optional};

/// The theme used when neither the command line nor `config.toml` names one.
pub const DEFAULT_THEME: &str = "dark";
/// The keymap used when neither the command line nor `config.toml` names one.
pub const DEFAULT_KEYMAP: &str = "default";
/// The theme `NO_COLOR` selects.
pub const NO_COLOR_THEME: &str = "mono";

/// The resolved look and feel of the interface.
#[derive(Debug, Clone, Default)]
pub struct UiConfig {
    /// Styles for every semantic scope.
    pub theme: Theme,
    /// Key bindings.
    pub keymap: Keymap,
}

/// Chooses the theme and keymap: the presets, the names in `settings` (from `config.toml`),
/// the user's `theme.toml`/`keymap.toml` in `config_dir` and the command-line overrides.
/// Precedence: override > `config.toml` > default; `no_color` (set when `NO_COLOR` is
/// non-empty) forces the `mono` theme and skips `theme.toml`.
pub fn load(
    config_dir: Option<&Path>,
    settings: &Settings,
    theme_override: Option<&str>,
    keymap_override: Option<&str>,
    no_color: bool,
) -> (UiConfig, Vec<ConfigWarning>) {
    let mut warnings = Vec::new();
    let theme = choose_theme(config_dir, theme_override, settings, no_color, &mut warnings);
    let keymap = choose_keymap(config_dir, keymap_override, settings, &mut warnings);
    (UiConfig { theme, keymap }, warnings)
}

/// Reads `config.toml` ([`crate::config::load`]), then chooses the theme and keymap as
/// [`load`] does; the warnings of all files in order (by file, then line).
pub fn load_all(
    config_dir: Option<&Path>,
    theme_override: Option<&str>,
    keymap_override: Option<&str>,
    no_color: bool,
) -> (Settings, UiConfig, Vec<ConfigWarning>) {
    let (settings, mut warnings) = crate::config::load(config_dir);
    let (ui, more) = load(config_dir, &settings, theme_override, keymap_override, no_color);
    warnings.extend(more);
    crate::config::sort_warnings(&mut warnings);
    (settings, ui, warnings)
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
        let prefix = format!("{}/", crate::config::display_path(dir));
        warnings.iter().map(|w| w.to_string().replace(&prefix, "")).collect()
    }

    /// The theme and keymap as `cli` loads them, with every warning.
    fn load_ui(
        dir: Option<&Path>,
        theme: Option<&str>,
        keymap: Option<&str>,
        no_color: bool,
    ) -> (UiConfig, Vec<ConfigWarning>) {
        let (_, config, warnings) = load_all(dir, theme, keymap, no_color);
        (config, warnings)
    }

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn without_a_config_dir_the_defaults_apply() {
        let (config, warnings) = load_ui(None, None, None, false);
        assert!(warnings.is_empty());
        assert_eq!(config.theme.name(), DEFAULT_THEME);
        assert_eq!(config.keymap.name(), DEFAULT_KEYMAP);
        let (config, warnings) = load_ui(Some(Path::new("/nonexistent/fleettop")), None, None, false);
        assert!(warnings.is_empty(), "missing files are not a problem: {warnings:?}");
        assert_eq!(config.theme.name(), DEFAULT_THEME);
    }

    #[test]
    fn precedence_is_cli_then_config_file_then_default_and_no_color_wins() {
        let dir = dir_with(&[("config.toml", "theme = \"light\"\nkeymap = \"vim\"\n")]);
        let (config, warnings) = load_ui(Some(dir.path()), None, None, false);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!((config.theme.name(), config.keymap.name()), ("light", "vim"));
        let (config, _) = load_ui(Some(dir.path()), Some("high-contrast"), Some("default"), false);
        assert_eq!((config.theme.name(), config.keymap.name()), ("high-contrast", "default"));
        let (config, _) = load_ui(Some(dir.path()), Some("high-contrast"), None, true);
        assert_eq!(config.theme.name(), "mono");
        assert_eq!(config.keymap.name(), "vim");
    }

    #[test]
    fn an_unknown_cli_name_warns_and_falls_back_to_the_config_file() {
        let dir = dir_with(&[("config.toml", "theme = \"light\"\n")]);
        let (config, warnings) = load_ui(Some(dir.path()), Some("purple"), Some("emacs"), false);
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
        let (config, warnings) = load_ui(Some(dir.path()), None, None, false);
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
        let (config, warnings) = load_ui(Some(dir.path()), Some("dark"), None, false);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.theme.name(), "light");
        assert_eq!(config.theme.style("ui.title").fg, Some(Color::LightCyan));
        let light = Theme::builtin("light").unwrap();
        assert_eq!(config.theme.style("health.live"), light.style("health.live"));
    }

    #[test]
    fn no_color_ignores_the_user_theme() {
        let dir = dir_with(&[("theme.toml", "[styles]\n\"health.live\" = { fg = \"red\" }\n")]);
        let (config, _) = load_ui(Some(dir.path()), None, None, true);
        assert_eq!(config.theme.style("health.live").fg, None);
    }

    #[test]
    fn a_user_keymap_rebinds_a_key() {
        let text = "[[bindings]]\non = \"x\"\nrun = \"quit\"\ndesc = \"Exit\"\n\n\
                    [[bindings]]\non = [\"j\"]\nrun = \"page_down\"\n";
        let dir = dir_with(&[("keymap.toml", text)]);
        let (config, warnings) = load_ui(Some(dir.path()), None, None, false);
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
        let (config, warnings) = load_ui(Some(dir.path()), None, None, false);
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
        let (config, warnings) = load_ui(Some(dir.path()), None, None, false);
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
            let (config, warnings) = load_ui(Some(dir.path()), None, None, false);
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
            let _ = tx.send(load_ui(Some(&path), None, None, false));
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
        let (_, warnings) = load_ui(Some(&dev), None, None, false);
        assert!(warnings.iter().any(|w| w.to_string().contains("a character device")), "{warnings:?}");
    }
}
