//! The user's `config.toml` (theme and keymap names, `[prices]`, `[pipelines]`, `team_label`,
//! `[exceptions]`), loaded as at start-up from a config directory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = fleettop_fuzz::scratch_dir();
    if std::fs::write(dir.join("config.toml"), data).is_ok() {
        let (settings, mut warnings) = fleettop::config::load(Some(dir));
        let (_config, more) = fleettop::ui::config::load(Some(dir), &settings, None, None, false);
        warnings.extend(more);
        for w in &warnings {
            let _ = w.to_string();
        }
    }
});
