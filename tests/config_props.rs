//! Property tests for the user's configuration files (`config.toml` with its `[prices]`,
//! `[pipelines]` and `[exceptions]`, `theme.toml`, `keymap.toml`): no input panics, every
//! warning names its file and line, the defaults survive whatever is bad, and the keymap can
//! always be left (issue 13, items 11 and 12).
//!
//! The inputs are TOML-like text built from the keys, headers and values these files use
//! (so most cases parse and reach the checks of every key), plus arbitrary noise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fleettop::ui::Action;
use fleettop::ui::config::load;
use proptest::prelude::*;

/// A value of any TOML type, well or badly chosen for the key it follows.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\"[a-z0-9 ?/:.*#-]{0,12}\"",
        Just("\"none\"".to_string()),
        Just("\"quit\"".to_string()),
        Just("\"toggle_help\"".to_string()),
        Just("\"ctrl-c\"".to_string()),
        Just("\"q\"".to_string()),
        Just("\"?\"".to_string()),
        Just("[\"q\", \"ctrl-c\", \"?\"]".to_string()),
        Just("\"light\"".to_string()),
        Just("\"#00ff00\"".to_string()),
        Just("{ fg = \"red\", add = [\"bold\"] }".to_string()),
        Just("{ fg = 5 }".to_string()),
        Just("\"7d\"".to_string()),
        Just("\"15s\"".to_string()),
        Just("[1, \"a\"]".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("nan".to_string()),
        Just("-inf".to_string()),
        Just("true".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
    ]
}

/// A key the three files read (or nearly).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("theme"),
        Just("keymap"),
        Just("team_label"),
        Just("h100"),
        Just("default"),
        Just("\"a100-spot\""),
        Just("scrape_every"),
        Just("queue_fill"),
        Just("silent_per_s"),
        Just("expiry_keys"),
        Just("expiring_within"),
        Just("kind"),
        Just("label"),
        Just("port"),
        Just("inherits"),
        Just("accent"),
        Just("\"health.live\""),
        Just("fg"),
        Just("on"),
        Just("run"),
        Just("desc"),
        Just("bindings"),
        Just("prices"),
        Just("colour"),
    ]
    .prop_map(String::from)
}

/// A header the three files use (or nearly).
fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[prices]"),
        Just("[pipelines]"),
        Just("[pipelines.thresholds]"),
        Just("[[pipelines.targets]]"),
        Just("[exceptions]"),
        Just("[palette]"),
        Just("[styles]"),
        Just("[[bindings]]"),
        Just("[bindings]"),
        Just("[x]"),
    ]
    .prop_map(String::from)
}

fn text() -> impl Strategy<Value = String> {
    let line = prop_oneof![header(), (key(), value()).prop_map(|(k, v)| format!("{k} = {v}")), ".{0,20}"];
    proptest::collection::vec(line, 0..24).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the three files hold: no panic; every warning names its file and line; the
    /// keymap keeps a quit key (`ctrl-c` comes back when a file takes the last one away);
    /// every price is a usable number.
    #[test]
    fn any_config_theme_and_keymap_load_with_located_warnings(
        config in text(), theme in text(), keymap in text()
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), &config).unwrap();
        std::fs::write(dir.path().join("theme.toml"), &theme).unwrap();
        std::fs::write(dir.path().join("keymap.toml"), &keymap).unwrap();
        let (ui, warnings) = load(Some(dir.path()), None, None, false);
        for w in &warnings {
            let name = w.file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            prop_assert!(
                ["config.toml", "theme.toml", "keymap.toml"].contains(&name),
                "a warning about another file: {w}"
            );
            prop_assert!(w.line.is_some(), "a warning without a line: {w}");
            let shown = w.to_string();
            prop_assert!(shown.contains(&format!("{name}:{}:", w.line.unwrap())), "{shown}");
        }
        prop_assert!(!ui.keymap.keys_for(Action::Quit).is_empty(), "no quit key left");
        for p in ui.prices.entries() {
            prop_assert!(p.usd_per_gpu_hour.is_finite() && p.usd_per_gpu_hour >= 0.0, "{p:?}");
        }
        prop_assert!(ui.prices.fallback().is_finite() && ui.prices.fallback() >= 0.0);
        // The keymap answers keys.
        let _ = ui.keymap.action_for(&KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE));
    }

    /// Arbitrary bytes as any of the files: no panic, the defaults stay usable.
    #[test]
    fn arbitrary_bytes_as_config_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let dir = tempfile::tempdir().unwrap();
        for name in ["config.toml", "theme.toml", "keymap.toml"] {
            std::fs::write(dir.path().join(name), &bytes).unwrap();
        }
        let (ui, warnings) = load(Some(dir.path()), None, None, false);
        for w in &warnings {
            // Unreadable text (not UTF-8) has no line to name; anything that parses does.
            prop_assert!(w.line.is_some() || w.message.contains("cannot read file"), "{w}");
        }
        prop_assert!(!ui.keymap.keys_for(Action::Quit).is_empty());
    }
}
