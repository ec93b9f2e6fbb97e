//! The user's `config.toml` (theme and keymap names, `[prices]`, `[pipelines]`, `team_label`,
//! `[exceptions]`), loaded as at start-up from a config directory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = fleettop_fuzz::scratch_dir();
    if std::fs::write(dir.join("config.toml"), data).is_ok() {
        let (_settings, _config, warnings) = fleettop::ui::config::load_all(Some(dir), None, None, false);
        for w in &warnings {
            let _ = w.to_string();
        }
    }
});
