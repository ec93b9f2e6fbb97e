//! The user's `keymap.toml` (`[[bindings]]` over the chosen keymap), loaded as at start-up.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = fleettop_fuzz::scratch_dir();
    if std::fs::write(dir.join("keymap.toml"), data).is_ok() {
        let (_settings, config, warnings) = fleettop::ui::config::load_all(Some(dir), None, None, false);
        for w in &warnings {
            let _ = w.to_string();
        }
        let _ = config.keymap.bindings().len();
    }
});
