//! The command line: argument parsing and the wiring of sources, state, recorder and UI for
//! each mode. The only place that turns errors into exit codes.

/// Writes one line to stderr the way every message of the binary is written: redacted
/// ([`crate::redact`]) and sanitised for the terminal ([`crate::sanitise`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::say_text(&format!($($arg)*))
    };
}

mod diff;
mod export;
mod gpu_probe;
mod logging;
pub mod manual;
mod redact;
mod report;
mod run;
mod snapshot;
mod why;
mod why_wait;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

/// fleettop: one screen for every cluster of the fleet during an incident.
#[derive(Debug, Parser)]
#[command(name = "fleettop", version, about, long_about = None)]
pub struct Cli {
    /// Replay the bundled, simulated incident (no cluster needed).
    #[arg(long, conflicts_with = "simulate")]
    pub demo: bool,
    /// Run the fleet simulator as if it were a live fleet (sources, channel, recorder).
    #[arg(long)]
    pub simulate: bool,
    /// Record every observation of the session to FILE (default: fleettop-TIME.fleetrec in
    /// the current folder, -2, -3, … added when taken). An existing FILE is never
    /// overwritten, unless --force.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub record: Option<Option<PathBuf>>,
    /// With --record FILE: replace FILE when it exists (a regular file, or a symbolic link
    /// itself, never what it points to).
    #[arg(long, requires = "record")]
    pub force: bool,
    /// Playback or simulation speed (0.5 to 1000; default 1, or 10 for --demo).
    #[arg(long, value_parser = speed)]
    pub speed: Option<f64>,
    /// Simulator seed for --simulate.
    #[arg(long, default_value_t = crate::sim::DEMO_SEED)]
    pub seed: u64,
    /// Start a replay at this point: an offset (`12m`, `1h5m`), a UTC time of day (`14:12`)
    /// or an RFC 3339 timestamp.
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
    #[command(flatten)]
    pub fleet: FleetArgs,
    #[command(flatten)]
    pub ui: UiArgs,
    /// What to do; without a command, watch the fleet.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Which clusters to watch.
#[derive(Debug, Args, Clone, Default)]
pub struct FleetArgs {
    /// Kubeconfig context to watch; repeatable; shell patterns like 'prod-*' (default: current).
    #[arg(long = "context", value_name = "NAME", global = true)]
    pub contexts: Vec<String>,
    /// Watch every context of the kubeconfig.
    #[arg(long, global = true)]
    pub all_contexts: bool,
    /// Fleet file listing contexts with labels (default: fleet.toml in the config folder).
    #[arg(long, value_name = "FILE", global = true)]
    pub fleet: Option<PathBuf>,
    /// Kubeconfig to read instead of $KUBECONFIG / ~/.kube/config.
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Do not sample this host's GPUs through NVML (by default the live view samples them
    /// every 2 s into the node of this host's name, `NODE_NAME` or the host name, in whichever
    /// cluster has it: per-GPU telemetry and the pods of processes).
    #[arg(long, global = true)]
    pub no_nvml: bool,
}

/// Look and feel.
#[derive(Debug, Args, Clone, Default)]
pub struct UiArgs {
    /// Theme: dark, light, high-contrast, mono (NO_COLOR selects mono).
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// Keymap: default, vim.
    #[arg(long, global = true)]
    pub keymap: Option<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a recording in the UI, with pause, speed, seek and a timeline.
    Replay {
        /// The .fleetrec file.
        file: PathBuf,
        /// Playback speed (0.5 to 1000).
        #[arg(long, value_parser = speed)]
        speed: Option<f64>,
        /// Start at this point (offset, time of day or timestamp).
        #[arg(long, value_name = "WHEN")]
        at: Option<String>,
        /// Start paused.
        #[arg(long)]
        paused: bool,
    },
    /// Print the state (every pane's records) for scripts and tickets.
    Snapshot {
        /// Print JSON (the only machine format; without it a short summary is printed).
        #[arg(long)]
        json: bool,
        /// Use the bundled demo recording.
        #[arg(long, conflicts_with = "replay")]
        demo: bool,
        /// Use this recording.
        #[arg(long, value_name = "FILE")]
        replay: Option<PathBuf>,
        /// The moment to print (offset, time of day or timestamp); default: the end.
        #[arg(long, value_name = "WHEN")]
        at: Option<String>,
        /// Live: how long to wait for every cluster's initial sync (1 to 86400 seconds).
        #[arg(long, default_value_t = 30, value_parser = timeout())]
        timeout: u64,
    },
    /// Cost and fairness: GPU-hours and cost per group, idle-but-allocated cost, share of
    /// usage vs entitlement, Jain's index, queue waits and preemptions.
    Report {
        /// Use the bundled demo recording.
        #[arg(long, conflicts_with = "replay")]
        demo: bool,
        /// Use this recording (without --demo or --replay: the live fleet, one snapshot).
        #[arg(long, value_name = "FILE")]
        replay: Option<PathBuf>,
        /// Measure the last DUR before the end (24h, 90m, 7d; at most 36500d); default: the
        /// whole recording (live: 24h).
        #[arg(long, value_name = "DUR", value_parser = length)]
        window: Option<jiff::SignedDuration>,
        /// Group usage by.
        #[arg(long, default_value = "team", value_parser = ["team", "namespace", "queue", "cluster", "product"])]
        by: String,
        /// Output format: aligned tables of every measure, the grouped usage as CSV, everything
        /// as JSON, or the grouped usage as Parquet (needs --out).
        #[arg(long, default_value = "table", value_parser = ["table", "csv", "json", "parquet"])]
        format: String,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Live: how long to wait for every cluster's initial sync (1 to 86400 seconds).
        #[arg(long, default_value_t = 30, value_parser = timeout())]
        timeout: u64,
    },
    /// Why was it denied: every matching denial joined to its policy, version, rule,
    /// exceptions and evidence; why does it wait (workload/NAME, pod/NAME of a pending GPU
    /// pod, --waiting): the chain from the request to its blocker. Exit status 0 when a
    /// denial (or a waiter) was found, 1 when none was, 2 on an error.
    Why {
        /// The object: KIND/NAME (deployment/payments, pod/web-0); a workload also matches
        /// the pods it creates.
        target: Option<String>,
        /// The object's namespace.
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// Denials by this policy (or webhook) name.
        #[arg(long, value_name = "NAME")]
        policy: Option<String>,
        /// Denials seen within this long before now (the end of a recording): 1h, 30m, 7d
        /// (at most 36500d).
        #[arg(long, value_name = "DUR", value_parser = length)]
        since: Option<jiff::SignedDuration>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Why GPU work waits: list every waiting workload and pending GPU pod, longest wait
        /// first, with its verdict (workload/NAME or pod/NAME of a pending pod explains one).
        #[arg(long, conflicts_with = "policy")]
        waiting: bool,
        /// Print a wait's chain (workload/NAME, pod/NAME, --waiting) as Markdown.
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        /// Explain at most N denials, the latest first (0: all).
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Use the bundled demo recording.
        #[arg(long, conflicts_with = "replay")]
        demo: bool,
        /// Use this recording (without --demo or --replay: the live fleet).
        #[arg(long, value_name = "FILE")]
        replay: Option<PathBuf>,
        /// The moment of the recording to ask at (offset, time of day or timestamp); default:
        /// the end.
        #[arg(long, value_name = "WHEN")]
        at: Option<String>,
        /// Live: how long to wait for every cluster's initial sync (1 to 86400 seconds).
        #[arg(long, default_value_t = 30, value_parser = timeout())]
        timeout: u64,
    },
    /// What changed between two moments of a recording, per pane: records that appeared,
    /// disappeared or changed (denials started and stopped, queues' usage and waiters,
    /// workloads admitted and preempted, pipeline verdicts, exceptions expired, clusters
    /// lost), each with its evidence. Exit status 0 (also when nothing changed).
    Diff {
        /// The recording (or --demo).
        #[arg(required_unless_present = "demo", conflicts_with = "demo")]
        file: Option<PathBuf>,
        /// Use the bundled demo recording.
        #[arg(long)]
        demo: bool,
        /// The first moment (offset, time of day or timestamp); default: the start.
        #[arg(long, value_name = "WHEN")]
        at: Option<String>,
        /// The second moment; default: the end.
        #[arg(long, value_name = "WHEN")]
        to: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A recording's evidence for people without fleettop: `--format markdown` writes an
    /// incident summary a ticket can hold (the clusters, the timeline of turns, what changed
    /// between two moments, and the largest denials explained), absolute UTC times only.
    Export {
        /// The recording (or --demo).
        #[arg(required_unless_present = "demo", conflicts_with = "demo")]
        file: Option<PathBuf>,
        /// Use the bundled demo recording.
        #[arg(long)]
        demo: bool,
        /// Output format.
        #[arg(long, default_value = "markdown", value_parser = ["markdown"])]
        format: String,
        /// The first moment (offset, time of day or timestamp); default: the start.
        #[arg(long, value_name = "WHEN")]
        at: Option<String>,
        /// The second moment; default: the end.
        #[arg(long, value_name = "WHEN")]
        to: Option<String>,
        /// Explain this many denial rows in full: of those that fired between the two moments,
        /// the largest counts first.
        #[arg(long, value_name = "N", default_value_t = 5)]
        explain: usize,
        /// Write to FILE (a new file) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// A copy of a recording that can leave the company: names (clusters, namespaces,
    /// objects, nodes, users, owners, teams, queues, UIDs) become keyed pseudonyms, the same
    /// everywhere in the copy, and messages, errors and excerpts are removed; policies, rules,
    /// webhooks, counts and times stay. The copy replays, diffs and explains like the original.
    Redact {
        /// The recording (or --demo).
        #[arg(required_unless_present = "demo", conflicts_with = "demo")]
        file: Option<PathBuf>,
        /// Use the bundled demo recording.
        #[arg(long)]
        demo: bool,
        /// The copy to write (a new file; an existing one is refused).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Keep messages, errors and excerpts (secrets still redacted).
        #[arg(long)]
        keep_messages: bool,
        /// Keep cluster names and their fleet-file labels.
        #[arg(long)]
        keep_clusters: bool,
        /// Key the pseudonyms with this file's contents (the same file gives the same
        /// pseudonyms in several recordings); default: a random key, forgotten at exit.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
    /// Print what NVML sees on this host: each GPU and the pods its processes belong to.
    GpuProbe {
        /// How many samples to take.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        samples: u32,
        /// Seconds between samples.
        #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = seconds)]
        interval: f64,
        /// Print one JSON object per sample.
        #[arg(long)]
        json: bool,
    },
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write every page (fleettop.1, fleettop-replay.1, …)
    /// into a folder.
    Man {
        /// Write every page into DIR instead.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write the simulated incident to a recording (regenerates snapshots/demo.fleetrec).
    #[command(hide = true)]
    Simulate {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Simulator seed.
        #[arg(long, default_value_t = crate::sim::DEMO_SEED)]
        seed: u64,
    },
}

/// A playback or simulation speed: 0.5 to 1000 (the player's range). Anything else would
/// have to be clamped or would overflow the pacing arithmetic (`1e-300`).
fn speed(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("not a number: {s:?}"))?;
    let (min, max) = (crate::record::player::MIN_SPEED, crate::record::player::MAX_SPEED);
    if (min..=max).contains(&v) { Ok(v) } else { Err(format!("must be {min} to {max}, not {s}")) }
}

/// A live timeout in whole seconds: 1 to a day (a larger one would overflow the deadline).
fn timeout() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=86_400)
}

/// A length of time (`--window`, `--since`): see [`crate::analytics::window::parse_length`].
fn length(s: &str) -> Result<jiff::SignedDuration, String> {
    crate::analytics::window::parse_length(s)
}

/// A number of seconds from 0 to a day (fractions allowed).
fn seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("not a number of seconds: {s:?}"))?;
    if (0.0..=86_400.0).contains(&v) { Ok(v) } else { Err(format!("must be 0 to 86400 seconds, not {s}")) }
}

/// Parses arguments, runs the chosen mode, and maps errors to a message and exit code.
pub fn main() -> ExitCode {
    let cli = parse_args();
    let _log = logging::init();
    crate::panics::install();
    // However the mode ends (an error, a panic unwinding through here), no credential plugin
    // outlives fleettop.
    let _plugins = KillPluginsOnExit;
    match run::dispatch(cli) {
        Ok(code) => code,
        // `fleettop why … | head`: the reader left; that is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            say_error(&e);
            ExitCode::from(1)
        }
    }
}

/// Parses the process's arguments; run as `kubectl-fleettop`, usage and errors say
/// `kubectl fleettop`.
fn parse_args() -> Cli {
    let mut cmd = Cli::command();
    if let Some(name) = manual::plugin_bin_name(std::env::args_os().next().as_deref()) {
        cmd = cmd.bin_name(name);
    }
    let matches = cmd.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Kills the credential plugins still running when dropped.
struct KillPluginsOnExit;

impl Drop for KillPluginsOnExit {
    fn drop(&mut self) {
        crate::sources::kubernetes::credentials::kill_running();
    }
}

/// Writes `text` and a line break to stderr, redacted and sanitised (see [`say!`]).
pub(crate) fn say_text(text: &str) {
    use std::io::Write;
    let safe = crate::sanitise::text(&crate::redact::text(text)).into_owned();
    let _ = writeln!(std::io::stderr().lock(), "{safe}");
}

/// Writes an error with its contexts and causes, each once (`fleettop: cannot create x:
/// Permission denied (os error 13)`).
pub(crate) fn say_error(e: &anyhow::Error) {
    say_text(&format!("fleettop: {}", crate::redact::anyhow(e)));
}

/// True when `e` comes from writing to a pipe whose reader has gone.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn record_takes_an_optional_file() {
        // Issue 13, item 6: `--record` alone was "a value is required" (an empty default path
        // that clap's path parser refuses).
        let cli = Cli::try_parse_from(["fleettop", "--simulate", "--record"]).unwrap();
        assert_eq!(cli.record, Some(None));
        let cli = Cli::try_parse_from(["fleettop", "--record", "--simulate"]).unwrap();
        assert_eq!(cli.record, Some(None));
        let cli =
            Cli::try_parse_from(["fleettop", "--simulate", "--record", "x.fleetrec", "--force"]).unwrap();
        assert_eq!((cli.record, cli.force), (Some(Some(PathBuf::from("x.fleetrec"))), true));
        let cli = Cli::try_parse_from(["fleettop", "--simulate"]).unwrap();
        assert_eq!(cli.record, None);
    }
}
