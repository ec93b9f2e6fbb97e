//! What a package installs beside the binary, generated from the clap definitions so it can
//! never drift from them: the man pages (`fleettop man`, with the keys of the shipped keymaps,
//! the files fleettop reads and writes, its environment and exit statuses) and the shell
//! completions (`fleettop completions SHELL`). Also the name fleettop answers to when run as the
//! kubectl plugin `kubectl-fleettop`.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

use super::Cli;
use crate::ui::keymap::Keymap;

/// The file name under which kubectl finds fleettop as a plugin (`kubectl fleettop`).
pub const KUBECTL_PLUGIN: &str = "kubectl-fleettop";

/// How the user invoked fleettop, for usage lines and help: `kubectl fleettop` when the
/// program's file name (argv\[0\]) is the plugin's, else `None` (clap takes argv\[0\] as is).
pub fn plugin_bin_name(argv0: Option<&OsStr>) -> Option<&'static str> {
    let file = Path::new(argv0?).file_name()?;
    (file == KUBECTL_PLUGIN).then_some("kubectl fleettop")
}

/// The clap command as the man pages and completions see it: named `fleettop`, without the
/// `help` subcommand clap adds (every command has `--help`).
pub fn command() -> clap::Command {
    Cli::command().bin_name("fleettop").disable_help_subcommand(true)
}

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut command(), "fleettop", out);
}

/// Every man page: `fleettop.1` first, then one per visible subcommand (`fleettop-replay.1`, …),
/// as (file name, roff text).
pub fn pages() -> anyhow::Result<Vec<(String, String)>> {
    let mut cmd = command();
    cmd.build();
    let mut pages = vec![("fleettop.1".to_owned(), main_page(&cmd)?)];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let man = Man::new(sub.clone()).source(source());
        let mut text = Vec::new();
        man.render(&mut text)?;
        pages.push((man.get_filename(), String::from_utf8(text)?));
    }
    Ok(pages)
}

/// Writes every page of [`pages`] into `dir` (made if missing); returns their paths.
pub fn write_pages(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, text) in pages()? {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// `fleettop man`: the main page on stdout, or with `--out DIR` every page into DIR (each
/// path written is printed).
pub fn print_or_write(dir: Option<&Path>) -> anyhow::Result<()> {
    match dir {
        Some(dir) => {
            for path in write_pages(dir)? {
                println!("{}", path.display());
            }
        }
        None => {
            let page = pages()?.into_iter().next().map(|(_, text)| text).unwrap_or_default();
            std::io::stdout().lock().write_all(page.as_bytes())?;
        }
    }
    Ok(())
}

fn source() -> String {
    format!("fleettop {}", env!("CARGO_PKG_VERSION"))
}

/// `fleettop.1`: clap's sections, then the keys, files, environment and exit statuses.
fn main_page(cmd: &clap::Command) -> anyhow::Result<String> {
    let man = Man::new(cmd.clone()).source(source());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    let mut roff = Roff::new();
    keys_section(&mut roff);
    files_section(&mut roff);
    environment_section(&mut roff);
    exit_status_section(&mut roff);
    see_also_section(&mut roff, cmd);
    roff.to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    Ok(String::from_utf8(out)?)
}

/// One `.TP` entry: a bold term and its text.
fn entry(roff: &mut Roff, term: &str, text: &str) {
    roff.control("TP", []);
    roff.text([bold(term)]);
    roff.text([roman(text)]);
}

/// Every binding of the default keymap, then what the vim keymap binds differently.
fn keys_section(roff: &mut Roff) {
    roff.control("SH", ["KEYS"]);
    roff.text([roman(
        "The default keymap (a user keymap.toml or the vim keymap, --keymap vim, changes them; \
         ? in fleettop lists the keys in force):",
    )]);
    let default = Keymap::builtin("default").unwrap_or_default();
    for b in default.bindings() {
        let keys: Vec<String> = b.keys.iter().map(ToString::to_string).collect();
        entry(roff, &keys.join(", "), &b.desc);
    }
    let Some(vim) = Keymap::builtin("vim") else { return };
    roff.control("SS", ["The vim keymap"]);
    roff.text([roman("Besides the keys above, --keymap vim (or keymap = \"vim\" in config.toml) binds:")]);
    for b in vim.bindings() {
        let extra: Vec<String> = b
            .keys
            .iter()
            .filter(|k| !default.bindings().iter().any(|d| d.action == b.action && d.keys.contains(k)))
            .map(ToString::to_string)
            .collect();
        if !extra.is_empty() {
            entry(roff, &extra.join(", "), &b.desc);
        }
    }
}

/// Where fleettop reads its configuration and writes its log (XDG folders on Linux).
const FILES: &[(&str, &str)] = &[
    (
        "~/.config/fleettop/config.toml",
        "Theme, keymap, prices per GPU-hour, [pipelines] scrape interval, targets and thresholds, \
         team_label and [exceptions] keys.",
    ),
    ("~/.config/fleettop/theme.toml", "Styles and palette entries laid over the chosen theme."),
    ("~/.config/fleettop/keymap.toml", "[[bindings]] entries; each replaces what its keys did."),
    (
        "~/.config/fleettop/fleet.toml",
        "The fleet file (or --fleet FILE): contexts with labels, audit_log files and \
         [[cluster.scrape]] Services and URLs.",
    ),
    ("~/.kube/config", "The kubeconfig read when neither --kubeconfig nor KUBECONFIG names one."),
    ("~/.local/state/fleettop/fleettop.log", "The log (level from FLEETTOP_LOG); never the terminal."),
    (
        "fleettop-TIME.fleetrec",
        "What --record writes without a file name, in the current folder (mode 0600).",
    ),
    (
        "/usr/share/fleettop/fleettop-reader.yaml",
        "In the Debian package: the read-only ClusterRole (GET, LIST, WATCH; no Secrets) and a \
         binding to edit.",
    ),
];

fn files_section(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    roff.text([roman("XDG_CONFIG_HOME and XDG_STATE_HOME move the first and the log's folders.")]);
    for (path, what) in FILES {
        entry(roff, path, what);
    }
}

fn environment_section(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, what) in [
        ("KUBECONFIG", "Kubeconfig files, merged as kubectl merges them."),
        ("FLEETTOP_LOG", "Log level or filter (info by default), as tracing's EnvFilter reads it."),
        ("NO_COLOR", "When set and not empty, the mono theme: meaning carried by glyphs, bold and reverse."),
        (
            "NODE_NAME",
            "The node this host is, for local NVML samples (else the host name); set it from the \
             downward API in a pod.",
        ),
    ] {
        entry(roff, name, what);
    }
}

fn exit_status_section(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    entry(roff, "0", "Success; for why, a denial was found.");
    entry(roff, "1", "An error (the message says which); for why, no denial was found.");
    entry(roff, "2", "For why: an error. For every command: bad arguments.");
}

fn see_also_section(roff: &mut Roff, cmd: &clap::Command) {
    roff.control("SH", ["SEE ALSO"]);
    let mut refs = vec![bold("kubectl"), roman("(1)")];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        refs.push(roman(", "));
        refs.push(bold(format!("fleettop-{}", sub.get_name())));
        refs.push(roman("(1)"));
    }
    roff.text(refs);
    roff.text([
        roman("As a kubectl plugin: "),
        italic("kubectl fleettop"),
        roman(" (the same program under the name kubectl-fleettop)."),
    ]);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Text as roff writes it (hyphens escaped).
    fn roff(text: &str) -> String {
        text.replace('-', "\\-")
    }

    #[test]
    fn the_plugin_name_is_recognised_from_any_path() {
        assert_eq!(plugin_bin_name(Some(OsStr::new("/usr/bin/kubectl-fleettop"))), Some("kubectl fleettop"));
        assert_eq!(plugin_bin_name(Some(OsStr::new("kubectl-fleettop"))), Some("kubectl fleettop"));
        assert_eq!(plugin_bin_name(Some(OsStr::new("/usr/bin/fleettop"))), None);
        assert_eq!(plugin_bin_name(Some(OsStr::new("kubectl-fleettopx"))), None);
        assert_eq!(plugin_bin_name(None), None);
    }

    #[test]
    fn there_is_a_page_for_every_visible_subcommand() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        let cmd = command();
        let subs: Vec<&str> =
            cmd.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name()).collect();
        assert!(subs.contains(&"report") && subs.contains(&"completions"), "{subs:?}");
        assert_eq!(names[0], "fleettop.1");
        for sub in &subs {
            assert!(names.contains(&format!("fleettop-{sub}.1").as_str()), "no page for {sub}: {names:?}");
            let listed = roff(&format!("fleettop-{sub}(1)"));
            assert!(pages[0].1.contains(&listed), "fleettop.1 does not list {sub}");
        }
        // The hidden demo generator stays out of the manual.
        assert!(!names.iter().any(|n| n.contains("simulate")), "{names:?}");
    }

    #[test]
    fn the_main_page_lists_every_key_and_file() {
        let page = &pages().unwrap()[0].1;
        for b in Keymap::builtin("default").unwrap().bindings() {
            assert!(page.contains(&roff(&b.desc)), "key {:?} ({}) is missing", b.keys, b.desc);
        }
        for (path, _) in FILES {
            assert!(page.contains(&roff(path)), "{path} is missing");
        }
        for section in ["KEYS", "FILES", "ENVIRONMENT", "EXIT STATUS", "The vim keymap"] {
            assert!(page.contains(section), "{section} is missing");
        }
    }

    #[test]
    fn completions_name_every_subcommand() {
        let mut out = Vec::new();
        completions(clap_complete::Shell::Bash, &mut out);
        let bash = String::from_utf8(out).unwrap();
        for sub in ["replay", "snapshot", "report", "why", "gpu-probe", "man", "completions"] {
            assert!(bash.contains(sub), "bash completions lack {sub}");
        }
    }
}
