//! Runs each mode: the interactive UI over a replay, the demo or the simulated live fleet;
//! the headless snapshot; the GPU probe; and the demo generator.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use jiff::Timestamp;
use ratatui::layout::Rect;

use super::{AtArgs, Cli, Command, InputArgs, UiArgs};
use crate::model::{Change, ClusterId, ClusterUpdate, Observation};
use crate::record::when as offset;
use crate::record::{Existing, RecordWriter, Recording, RecordingHeader};
use crate::sources::fleet::SelectedCluster;
use crate::sources::local_gpus::{LocalGpus, local_node_name};
use crate::state::FleetState;
use crate::ui::app::{App, Feed};
use crate::ui::run::{Outcome, Recorder, RecordingEnd};
use crate::{demo, sim, sources};

/// Runs the mode the arguments ask for. The configuration files are read once, here, for
/// the modes that use them.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Redact { ref file, demo, ref out, keep_messages, keep_clusters, ref key_file }) => {
            let (rec, name) = open_file_or_demo(file.as_deref(), demo, "redact")?;
            let args = super::redact::RedactArgs {
                out,
                rules: crate::evidence::anonymise::Rules { keep_messages, keep_clusters },
                key_file: key_file.as_deref(),
            };
            super::redact::run(&rec, &name, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::GpuProbe { samples, interval, json }) => {
            super::gpu_probe::run(samples, std::time::Duration::from_secs_f64(interval), json)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Completions { shell }) => {
            super::manual::completions(shell, &mut std::io::stdout().lock());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man { ref out }) => {
            super::manual::print_or_write(out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Simulate { ref out, seed }) => {
            let n = write_simulation(out, seed)?;
            say!("wrote {n} observations to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            let config = Config::load(&cli.ui);
            dispatch_with(&cli, config)
        }
    }
}

/// Everything the configuration files say, read once per run: the settings of every layer,
/// the chosen theme and keymap, and the warnings (logged once when read; the UI shows them,
/// headless modes print them).
struct Config {
    settings: crate::config::Settings,
    ui: crate::ui::config::UiConfig,
    warnings: Vec<String>,
}

impl Config {
    /// Reads `config.toml`, then chooses the theme and keymap (user overlays included).
    fn load(args: &UiArgs) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dir = crate::config::default_config_dir();
        let (settings, ui, warnings) = crate::ui::config::load_all(
            dir.as_deref(),
            args.theme.as_deref(),
            args.keymap.as_deref(),
            no_color,
        );
        for w in &warnings {
            tracing::warn!(%w, "config");
        }
        Config { settings, ui, warnings: warnings.iter().map(|w| w.to_string()).collect() }
    }

    /// Prints the warnings on stderr (headless modes).
    fn say_warnings(&self) {
        for w in &self.warnings {
            say!("fleettop: {w}");
        }
    }
}

/// [`dispatch`] for the modes that read the configuration.
fn dispatch_with(cli: &Cli, config: Config) -> anyhow::Result<ExitCode> {
    let verdicts = config.settings.verdicts;
    match cli.command {
        Some(Command::Replay { ref file, speed, ref at, paused }) => {
            refuse_record(cli, "a replay is already a recording")?;
            let rec = open_recording(file)?;
            replay_ui(rec, speed.unwrap_or(1.0), at.as_deref(), paused, config)
        }
        Some(Command::Export { ref file, demo, format: _, ref at, ref to, explain, ref out }) => {
            config.say_warnings();
            let (rec, name) = open_file_or_demo(file.as_deref(), demo, "export")?;
            let args = super::export::ExportArgs {
                at: at.as_deref(),
                to: to.as_deref(),
                explain,
                out: out.as_deref(),
                verdicts,
            };
            super::export::markdown(&rec, &name, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Diff { ref file, demo, ref at, ref to, json }) => {
            config.say_warnings();
            let (rec, name) = open_file_or_demo(file.as_deref(), demo, "diff")?;
            super::diff::print(&rec, &name, at.as_deref(), to.as_deref(), &verdicts, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Snapshot { json, ref input, ref at }) => {
            config.say_warnings();
            let mut state = match open_input(input)? {
                Some(rec) => state_at(&rec, at)?,
                None => live_input(cli, input, config.settings.sources)?,
            };
            state.set_verdicts(verdicts);
            super::snapshot::print_state(&state, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Report { ref input, ref window, ref by, ref format, ref out }) => {
            config.say_warnings();
            let args = super::report::ReportArgs {
                window: *window,
                by: crate::analytics::By::parse(by).with_context(|| format!("--by {by:?}"))?,
                format: crate::analytics::output::Format::parse(format)
                    .with_context(|| format!("--format {format:?}"))?,
                out: out.as_deref(),
                prices: config.settings.prices,
            };
            super::report::check_destination(args.format, args.out)?;
            match open_input(input)? {
                Some(rec) => super::report::from_recording(&rec, &args)?,
                None => super::report::from_state(&live_input(cli, input, config.settings.sources)?, &args)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Why {
            ref target,
            ref namespace,
            ref policy,
            ref since,
            json,
            waiting,
            markdown,
            limit,
            ref input,
            ref at,
        }) => {
            let args = super::why::WhyArgs {
                target: target.clone(),
                namespace: namespace.clone(),
                policy: policy.clone(),
                since: *since,
                clusters: cli.fleet.contexts.clone(),
                json,
                limit,
                waiting,
                markdown,
            };
            match why(cli, config.settings.sources, &args, input, at) {
                Ok(true) => Ok(ExitCode::SUCCESS),
                Ok(false) => Ok(ExitCode::from(1)),
                Err(e) if super::is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    super::say_error(&e);
                    Ok(ExitCode::from(2))
                }
            }
        }
        Some(
            Command::GpuProbe { .. }
            | Command::Completions { .. }
            | Command::Man { .. }
            | Command::Simulate { .. }
            | Command::Redact { .. },
        ) => anyhow::bail!("{:?} reads no configuration: dispatch runs it", cli.command),
        None if cli.demo => {
            refuse_record(cli, "the demo is already a recording (snapshots/demo.fleetrec)")?;
            replay_ui(demo::recording()?, cli.speed.unwrap_or(10.0), cli.at.as_deref(), false, config)
        }
        None if cli.simulate => simulated_live(cli, config),
        None => match select_fleet(&cli.fleet) {
            Ok(fleet) => live(cli, fleet, config),
            Err(e) => {
                say!(
                    "fleettop: {}\n\
                     Try the bundled incident:   fleettop --demo\n\
                     Replay a recording:         fleettop replay FILE.fleetrec\n\
                     Simulated live fleet:       fleettop --simulate [--record FILE]",
                    crate::redact::anyhow(&e)
                );
                Ok(ExitCode::from(1))
            }
        },
    }
}

/// Reads the kubeconfig (merging `KUBECONFIG` as kubectl does, or `--kubeconfig`) and the
/// fleet file, and chooses the clusters. Fleet file warnings are printed, not fatal.
fn select_fleet(args: &super::FleetArgs) -> anyhow::Result<Fleet> {
    use kube::config::Kubeconfig;
    let kubeconfig = match &args.kubeconfig {
        Some(path) => Kubeconfig::read_from(path)
            .with_context(|| format!("cannot read kubeconfig {}", path.display()))?,
        None => match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            Some(list) => read_kubeconfig_list(&list)?,
            None => Kubeconfig::read().context("cannot read the kubeconfig (~/.kube/config)")?,
        },
    };
    // Before anything can print, log or record a text that might carry one of them.
    crate::sources::kubernetes::credentials::register_kubeconfig(&kubeconfig);
    let available: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
    let fleet_path = args
        .fleet
        .clone()
        .or_else(|| crate::config::default_config_dir().map(|d| d.join("fleet.toml")).filter(|p| p.exists()));
    let mut warnings = Vec::new();
    let fleet = match &fleet_path {
        Some(path) => {
            let text = crate::files::read_regular_to_string(path)
                .with_context(|| format!("cannot read fleet file {}", path.display()))?;
            let (file, file_warnings) =
                crate::sources::fleet::parse_fleet_file(path, &text).map_err(anyhow::Error::msg)?;
            warnings.extend(file_warnings);
            Some(file)
        }
        None => None,
    };
    let selection = crate::sources::fleet::select(
        &available,
        kubeconfig.current_context.as_deref(),
        &args.contexts,
        args.all_contexts,
        fleet.as_ref(),
    )?;
    warnings.extend(selection.warnings);
    let selected = selection.clusters;
    warnings.extend(shared_audit_logs(&selected));
    for w in &warnings {
        say!("fleettop: warning: {w}");
    }
    Ok(Fleet { kubeconfig, selected, warnings })
}

/// The fleet to watch: the kubeconfig, the chosen clusters, and the fleet file's warnings
/// (printed as they are found; live mode shows them in the UI too, where they outlast the
/// alternate screen).
struct Fleet {
    kubeconfig: kube::config::Kubeconfig,
    selected: Vec<SelectedCluster>,
    warnings: Vec<String>,
}

/// One warning per audit log file given to several clusters (a fleet file entry with a
/// pattern and an `audit_log`): each of them would show the file's denials as its own.
fn shared_audit_logs(selected: &[SelectedCluster]) -> Vec<String> {
    let mut by_path: std::collections::BTreeMap<&Path, Vec<&str>> = std::collections::BTreeMap::new();
    for c in selected {
        if let Some(path) = &c.audit_log {
            by_path.entry(path.as_path()).or_default().push(&c.context);
        }
    }
    by_path
        .into_iter()
        .filter(|(_, contexts)| contexts.len() > 1)
        .map(|(path, contexts)| {
            format!(
                "audit_log {} is set for {} clusters ({}): each will show its denials as its own; \
                 give it on an entry for one context",
                path.display(),
                contexts.len(),
                contexts.join(", ")
            )
        })
        .collect()
}

/// Reads and merges the files of `$KUBECONFIG` in order, skipping files that do not exist,
/// as kubectl does (the first file to set a value wins).
fn read_kubeconfig_list(list: &std::ffi::OsStr) -> anyhow::Result<kube::config::Kubeconfig> {
    let mut merged: Option<kube::config::Kubeconfig> = None;
    for path in std::env::split_paths(list).filter(|p| p.exists()) {
        let next = kube::config::Kubeconfig::read_from(&path)
            .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
        merged = Some(match merged {
            Some(m) => {
                m.merge(next).with_context(|| format!("cannot merge kubeconfig {}", path.display()))?
            }
            None => next,
        });
    }
    merged.with_context(|| format!("KUBECONFIG={} names no existing file", list.to_string_lossy()))
}

fn refuse_record(cli: &Cli, why: &str) -> anyhow::Result<()> {
    if cli.record.is_some() || cli.force {
        anyhow::bail!("--record records live sessions (--simulate); {why}");
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn replay_ui(
    rec: Recording,
    speed: f64,
    at: Option<&str>,
    paused: bool,
    config: Config,
) -> anyhow::Result<ExitCode> {
    let mut warnings = config.warnings;
    warnings.extend(rec.warnings().into_iter().map(|w| format!("recording: {w}")));
    let mut player = crate::record::Player::new(Arc::new(rec));
    player.set_speed(speed);
    if let Some(at) = at {
        let t = offset::resolve(at, player.start()).map_err(anyhow::Error::msg)?;
        player.seek_to(t);
    }
    if paused {
        player.toggle_pause();
    }
    let mut app =
        App::new(Feed::Replay(Box::new(player)), config.ui.theme, config.ui.keymap, Rect::default());
    app.warnings = warnings;
    app.set_prices(config.settings.prices);
    app.set_verdicts(config.settings.verdicts);
    let outcome = runtime()?.block_on(crate::ui::run::run(app, None, None))?;
    Ok(report_outcome(outcome))
}

/// Says how the session ended (the recording written, or why not; a panic) on stderr, after
/// the terminal is restored, and gives the exit status: 0 only when all went well.
fn report_outcome(outcome: Outcome) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    match outcome.recording {
        Some(RecordingEnd::Written { path, observations, bytes }) => {
            say!("recording written to {} ({observations} observations, {bytes} bytes)", path.display());
        }
        Some(RecordingEnd::Failed { path, message }) => {
            say!("fleettop: {message}");
            say!("fleettop: the recording {} is incomplete", path.display());
            code = ExitCode::from(1);
        }
        None => {}
    }
    if let Some(what) = outcome.panic {
        say!(
            "fleettop: a background task panicked, so the session was ended: {what}\n\
             This is a bug in fleettop; the log file has the details."
        );
        code = ExitCode::from(crate::panics::EXIT_STATUS);
    }
    code
}

/// The file name `--record` uses without one: `fleettop-<UTC time>` in the current folder.
fn default_record_stem() -> String {
    format!("fleettop-{}", Timestamp::now().strftime("%Y%m%dT%H%M%SZ"))
}

/// Creates the recording `--record [FILE]` asks for: FILE (refused when it exists, unless
/// `--force`), or a new default name.
fn create_recording(cli: &Cli, header: RecordingHeader) -> anyhow::Result<Option<Recorder>> {
    let Some(target) = &cli.record else { return Ok(None) };
    let (writer, path) = match target {
        Some(path) => {
            let existing = if cli.force { Existing::Replace } else { Existing::Refuse };
            match RecordWriter::create(path, header, existing) {
                Ok(writer) => (writer, path.clone()),
                Err(e @ crate::record::RecordError::Exists { .. }) => {
                    anyhow::bail!("{e}: choose another name, or add --force to replace it")
                }
                Err(e) => return Err(e.into()),
            }
        }
        // In the current folder, named as given (`fleettop-….fleetrec`, not `./fleettop-…`).
        None => RecordWriter::create_numbered(Path::new(""), &default_record_stem(), header)?,
    };
    Ok(Some(Recorder::new(path, writer)))
}

fn simulated_live(cli: &Cli, config: Config) -> anyhow::Result<ExitCode> {
    let simulation = sim::demo_incident(cli.seed, Timestamp::now());
    let speed = cli.speed.unwrap_or(1.0);
    let observations = simulation.observations;
    live_session(
        cli,
        config,
        simulation.clusters,
        simulation.start,
        "simulated",
        Vec::new(),
        move |rt, tx| {
            rt.spawn(sources::simulated::run(observations, speed, tx));
            // Fault injection for the tests of how a session ends when a task panics
            // (tests/e2e_tmux.rs): no real source is made to panic on purpose.
            if let Some(ms) = std::env::var("FLEETTOP_TEST_PANIC_AFTER_MS").ok().and_then(|v| v.parse().ok())
            {
                rt.spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    panic!("injected by FLEETTOP_TEST_PANIC_AFTER_MS");
                });
            }
        },
    )
}

/// Watches the selected clusters of `kubeconfig`, one supervisor task per cluster.
fn live(cli: &Cli, fleet: Fleet, config: Config) -> anyhow::Result<ExitCode> {
    let Fleet { kubeconfig, selected, warnings } = fleet;
    let clusters: Vec<ClusterId> = selected.iter().map(|c| ClusterId::new(&c.context)).collect();
    // This host's GPUs join the node of its name in whichever cluster has one.
    let local = (!cli.fleet.no_nvml).then(|| {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
        LocalGpus::new(local_node_name(std::env::var("NODE_NAME").ok(), hostname))
    });
    let options =
        sources::kubernetes::Options { local_gpus: local.clone(), ..config.settings.sources.clone() };
    live_session(cli, config, clusters, Timestamp::now(), "live", warnings, move |rt, tx| {
        if let Some(local) = local {
            rt.spawn(sources::nvml::run(local, LOCAL_GPU_EVERY));
        }
        spawn_clusters(rt, &kubeconfig, selected, &tx, options);
    })
}

/// How often this host's GPUs are sampled through NVML.
const LOCAL_GPU_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// `fleettop why` over a recording or the live fleet; true when a denial matched.
fn why(
    cli: &Cli,
    options: sources::kubernetes::Options,
    args: &super::why::WhyArgs,
    input: &InputArgs,
    at: &AtArgs,
) -> anyhow::Result<bool> {
    let (state, args) = match open_input(input)? {
        Some(rec) => (state_at(&rec, at)?, args.clone()),
        // Live: --context already chose the clusters to connect to.
        None => {
            (live_input(cli, input, options)?, super::why::WhyArgs { clusters: Vec::new(), ..args.clone() })
        }
    };
    super::why::write(&state, &args, &mut std::io::stdout().lock())
}

/// Opens the recording FILE and says its warnings (a damaged stretch skipped, a truncated
/// end, observations of unknown kinds) on stderr, as every mode that reads one does.
fn open_recording(file: &Path) -> anyhow::Result<Recording> {
    let rec = Recording::open(file)?;
    say_recording_warnings(&rec, &file.display().to_string());
    Ok(rec)
}

/// Says the warnings of the recording called `name` on stderr.
fn say_recording_warnings(rec: &Recording, name: &str) {
    for w in rec.warnings() {
        say!("fleettop: {name}: {w}");
    }
}

/// The recording a headless command reads (`--replay FILE`, else `--demo`), opened, its
/// warnings said; `None`: the live fleet.
fn open_input(input: &InputArgs) -> anyhow::Result<Option<Recording>> {
    match (input.demo, &input.replay) {
        (_, Some(file)) => open_recording(file).map(Some),
        (true, None) => open_demo().map(Some),
        (false, None) => Ok(None),
    }
}

/// What messages call the bundled demo recording.
const DEMO_NAME: &str = "the bundled demo";

/// The recording a command names (FILE) or the bundled demo (`--demo`), opened with its
/// warnings said, and the name messages call it by.
fn open_file_or_demo(file: Option<&Path>, demo: bool, command: &str) -> anyhow::Result<(Recording, String)> {
    match file {
        Some(file) => Ok((open_recording(file)?, file.display().to_string())),
        None if demo => Ok((open_demo()?, DEMO_NAME.to_string())),
        None => anyhow::bail!("{command} needs a recording FILE or --demo"),
    }
}

/// Opens the bundled demo recording and says its warnings (none, unless it was damaged).
fn open_demo() -> anyhow::Result<Recording> {
    let rec = demo::recording()?;
    say_recording_warnings(&rec, DEMO_NAME);
    Ok(rec)
}

/// The state of `rec` at `--at` (default: its end).
fn state_at(rec: &Recording, at: &AtArgs) -> anyhow::Result<FleetState> {
    let t = match &at.at {
        Some(w) => offset::resolve(w, rec.start()).map_err(anyhow::Error::msg)?,
        None => rec.end(),
    };
    Ok(rec.state_at(t))
}

/// One live snapshot of the selected clusters for a headless command, waiting at most its
/// `--timeout` for their initial syncs.
fn live_input(
    cli: &Cli,
    input: &InputArgs,
    options: sources::kubernetes::Options,
) -> anyhow::Result<FleetState> {
    let Fleet { kubeconfig, selected, .. } = select_fleet(&cli.fleet)?;
    live_snapshot(kubeconfig, selected, options, std::time::Duration::from_secs(input.timeout))
}

/// Starts one supervisor per selected cluster; fleet file labels go first, as observations,
/// so that recordings carry them too. A cluster with an `audit_log` also gets its own tail
/// task, which runs whether or not the API server can be reached (the file is local).
fn spawn_clusters(
    rt: &tokio::runtime::Runtime,
    kubeconfig: &kube::config::Kubeconfig,
    selected: Vec<SelectedCluster>,
    tx: &sources::ObservationSender,
    options: sources::kubernetes::Options,
) {
    for c in selected {
        let mut options = options.clone();
        options.fixed_targets = std::sync::Arc::new(c.scrape.clone());
        let id = ClusterId::new(&c.context);
        if let Some(path) = c.audit_log.clone() {
            rt.spawn(sources::auditlog::run(path, id.clone(), tx.clone(), sources::auditlog::POLL_EVERY));
        }
        let tx = tx.clone();
        let kubeconfig = kubeconfig.clone();
        rt.spawn(async move {
            if !c.labels.is_empty() {
                let labels = ClusterUpdate { labels: Some(c.labels.clone()), ..Default::default() };
                let obs = Observation {
                    at: Timestamp::now(),
                    cluster: id.clone(),
                    change: Change::Cluster(labels),
                };
                tx.send(vec![obs]).await;
            }
            sources::kubernetes::run_cluster_with(kubeconfig, id, tx, options).await;
        });
    }
}

/// Connects to the selected clusters without a UI, waits until each has finished its initial
/// sync (or is unreachable or refused us) and its audit log, if it has one, its first read,
/// at most `timeout`, and returns the state. Clusters that did not finish are reported on
/// stderr.
fn live_snapshot(
    kubeconfig: kube::config::Kubeconfig,
    selected: Vec<SelectedCluster>,
    options: sources::kubernetes::Options,
    timeout: std::time::Duration,
) -> anyhow::Result<FleetState> {
    let clusters: Vec<ClusterId> = selected.iter().map(|c| ClusterId::new(&c.context)).collect();
    let audited: Vec<ClusterId> =
        selected.iter().filter(|c| c.audit_log.is_some()).map(|c| ClusterId::new(&c.context)).collect();
    let settled = |state: &FleetState, c: &ClusterId| {
        let status = state.clusters().get(c);
        sources::kubernetes::settled(status) && (!audited.contains(c) || sources::auditlog::settled(status))
    };
    let mut state = FleetState::with_clusters(Timestamp::now(), &clusters);
    let rt = runtime()?;
    let (tx, mut rx) = sources::channel(sources::CHANNEL_CAPACITY);
    spawn_clusters(&rt, &kubeconfig, selected, &tx, options);
    drop(tx);
    let deadline = tokio::time::Instant::now() + timeout;
    let panic = rt.block_on(async {
        while !clusters.iter().all(|c| settled(&state, c)) {
            tokio::select! {
                next = tokio::time::timeout_at(deadline, rx.recv()) => match next {
                    Ok(Some(batch)) => state.apply_all(&batch),
                    Ok(None) | Err(_) => break,
                },
                what = crate::panics::wait() => return Some(what),
            }
        }
        None
    });
    // What each cluster still waits for, before the runtime (and the plugins) are stopped.
    let plugins = sources::kubernetes::credentials::running();
    rt.shutdown_background();
    sources::kubernetes::credentials::kill_running();
    if let Some(what) = panic {
        anyhow::bail!("a source task panicked, so nothing is printed: {what} (a bug in fleettop)");
    }
    state.set_clock(Timestamp::now());
    for c in clusters.iter().filter(|c| !settled(&state, c)) {
        let waiting: Vec<&str> =
            plugins.iter().filter(|(ctx, _)| ctx == c.as_str()).map(|(_, what)| what.as_str()).collect();
        let why = if waiting.is_empty() { String::new() } else { format!(": {}", waiting.join("; ")) };
        say!("fleettop: {c} did not finish its initial sync within {}s{why}", timeout.as_secs());
    }
    Ok(state)
}

/// Runs the UI over a live feed: declares the clusters (they show as syncing before any
/// source answers), starts the sources, tees into a recording when asked.
fn live_session(
    cli: &Cli,
    config: Config,
    clusters: Vec<ClusterId>,
    start: Timestamp,
    source: &str,
    fleet_warnings: Vec<String>,
    spawn: impl FnOnce(&tokio::runtime::Runtime, sources::ObservationSender),
) -> anyhow::Result<ExitCode> {
    let mut warnings = config.warnings;
    warnings.extend(fleet_warnings);
    let mut state = FleetState::with_clusters(start, &clusters);
    state.set_verdicts(config.settings.verdicts);
    let recorder = create_recording(cli, RecordingHeader::new(start, clusters.clone(), source))?;
    let mut app = App::new(Feed::Live(Box::new(state)), config.ui.theme, config.ui.keymap, Rect::default());
    app.warnings = warnings;
    app.set_prices(config.settings.prices);
    let rt = runtime()?;
    let (tx, rx) = sources::channel(sources::CHANNEL_CAPACITY);
    spawn(&rt, tx);
    let outcome = rt.block_on(crate::ui::run::run(app, Some(rx), recorder))?;
    // Sources are still running: end them with the runtime, without waiting on the network.
    rt.shutdown_background();
    Ok(report_outcome(outcome))
}

/// Writes the simulated incident to `out` as a live session would (one batch per second of
/// simulated time, keyframes as configured). Returns the number of observations.
pub fn write_simulation(out: &Path, seed: u64) -> anyhow::Result<usize> {
    let simulation = sim::demo_incident(seed, sim::demo_start());
    let header = RecordingHeader::new(simulation.start, simulation.clusters.clone(), "demo");
    // A generator run by developers over `snapshots/demo.fleetrec`: replacing is what it is for.
    let mut writer = RecordWriter::create(out, header, Existing::Replace)?;
    let mut state = FleetState::with_clusters(simulation.start, &simulation.clusters);
    let obs = &simulation.observations;
    let mut i = 0;
    while i < obs.len() {
        let second = obs[i].at.as_second();
        let j = i + obs[i..].iter().take_while(|o| o.at.as_second() == second).count();
        state.apply_all(&obs[i..j]);
        writer.write_batch(&obs[i..j], &state)?;
        i = j;
    }
    writer.finish()?;
    Ok(obs.len())
}
