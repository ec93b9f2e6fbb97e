//! Runs each mode: the interactive UI over a replay, the demo or the simulated live fleet;
//! the headless snapshot; and the demo generator.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use jiff::Timestamp;
use ratatui::layout::Rect;

use super::{Cli, Command, UiArgs};
use crate::record::when as offset;
use crate::record::{RecordWriter, Recording, RecordingHeader};
use crate::state::FleetState;
use crate::ui::app::{App, Feed};
use crate::ui::run::Recorder;
use crate::{demo, sim, sources};

/// Runs the mode the arguments ask for.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Replay { ref file, speed, ref at, paused }) => {
            refuse_record(&cli, "a replay is already a recording")?;
            let rec = Recording::open(file)?;
            if let Some(t) = rec.truncated() {
                eprintln!("fleettop: {}: {t}; replaying what came before it", file.display());
            }
            replay_ui(rec, speed.unwrap_or(1.0), at.as_deref(), paused, &cli.ui)
        }
        Some(Command::Snapshot { json, demo, ref replay, ref at }) => {
            let (rec, name) = match (demo, replay) {
                (_, Some(file)) => (Recording::open(file)?, file.display().to_string()),
                (true, None) => (demo::recording()?, "the bundled demo".to_string()),
                (false, None) => anyhow::bail!(
                    "live snapshots need the live sources, which this version does not have yet; use --demo or --replay FILE"
                ),
            };
            super::snapshot::print(&rec, &name, at.as_deref(), json)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Simulate { ref out, seed }) => {
            let n = write_simulation(out, seed)?;
            eprintln!("wrote {n} observations to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        None if cli.demo => {
            refuse_record(&cli, "the demo is already a recording (snapshots/demo.fleetrec)")?;
            replay_ui(demo::recording()?, cli.speed.unwrap_or(10.0), cli.at.as_deref(), false, &cli.ui)
        }
        None if cli.simulate => simulated_live(&cli),
        None => {
            let code = match select_fleet(&cli.fleet) {
                Ok(selected) => {
                    eprintln!("fleettop would watch {} cluster(s):", selected.len());
                    for c in &selected {
                        let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        eprintln!("  {}", [c.context.clone(), labels.join(" ")].join(" ").trim_end());
                    }
                    eprintln!("but watching live clusters is not available in this version yet.");
                    ExitCode::from(2)
                }
                Err(e) => {
                    eprintln!("fleettop: {e:#}");
                    ExitCode::from(1)
                }
            };
            eprintln!(
                "Try the bundled incident:   fleettop --demo\n\
                 Replay a recording:         fleettop replay FILE.fleetrec\n\
                 Simulated live fleet:       fleettop --simulate [--record FILE]"
            );
            Ok(code)
        }
    }
}

/// Reads the kubeconfig (merging `KUBECONFIG` as kubectl does, or `--kubeconfig`) and the
/// fleet file, and chooses the clusters. Fleet file warnings are printed, not fatal.
fn select_fleet(args: &super::FleetArgs) -> anyhow::Result<Vec<crate::sources::fleet::SelectedCluster>> {
    use kube::config::Kubeconfig;
    let kubeconfig = match &args.kubeconfig {
        Some(path) => Kubeconfig::read_from(path)
            .with_context(|| format!("cannot read kubeconfig {}", path.display()))?,
        None => match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            Some(list) => read_kubeconfig_list(&list)?,
            None => Kubeconfig::read().context("cannot read the kubeconfig (~/.kube/config)")?,
        },
    };
    let available: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
    let fleet_path = args.fleet.clone().or_else(|| {
        crate::ui::config::default_config_dir().map(|d| d.join("fleet.toml")).filter(|p| p.exists())
    });
    let fleet = match &fleet_path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read fleet file {}", path.display()))?;
            let (file, warnings) =
                crate::sources::fleet::parse_fleet_file(path, &text).map_err(anyhow::Error::msg)?;
            for w in warnings {
                eprintln!("fleettop: warning: {w}");
            }
            Some(file)
        }
        None => None,
    };
    Ok(crate::sources::fleet::select(
        &available,
        kubeconfig.current_context.as_deref(),
        &args.contexts,
        args.all_contexts,
        fleet.as_ref(),
    )?)
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
    if cli.record.is_some() {
        anyhow::bail!("--record records live sessions (--simulate); {why}");
    }
    Ok(())
}

/// Loads theme and keymap (user overlays included) and turns warnings into strings.
fn ui_config(args: &UiArgs) -> (crate::ui::config::UiConfig, Vec<String>) {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dir = crate::ui::config::default_config_dir();
    let (config, warnings) =
        crate::ui::config::load(dir.as_deref(), args.theme.as_deref(), args.keymap.as_deref(), no_color);
    for w in &warnings {
        tracing::warn!(%w, "config");
    }
    (config, warnings.iter().map(|w| w.to_string()).collect())
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
    args: &UiArgs,
) -> anyhow::Result<ExitCode> {
    let (config, mut warnings) = ui_config(args);
    if let Some(t) = rec.truncated() {
        warnings.push(format!("recording: {t}; showing what came before it"));
    }
    let mut player = crate::record::Player::new(Arc::new(rec));
    player.set_speed(speed);
    if let Some(at) = at {
        let t = offset::resolve(at, player.start()).map_err(anyhow::Error::msg)?;
        player.seek_to(t);
    }
    if paused {
        player.toggle_pause();
    }
    let mut app = App::new(Feed::Replay(Box::new(player)), config.theme, config.keymap, Rect::default());
    app.warnings = warnings;
    runtime()?.block_on(crate::ui::run::run(app, None, None))?;
    Ok(ExitCode::SUCCESS)
}

fn default_record_path() -> PathBuf {
    PathBuf::from(format!("fleettop-{}.fleetrec", Timestamp::now().strftime("%Y%m%dT%H%M%SZ")))
}

fn simulated_live(cli: &Cli) -> anyhow::Result<ExitCode> {
    let (config, warnings) = ui_config(&cli.ui);
    let simulation = sim::demo_incident(cli.seed, Timestamp::now());
    let mut state = FleetState::new(simulation.start);
    for c in &simulation.clusters {
        state.add_cluster(c.clone());
    }
    let recorder = match &cli.record {
        Some(p) => {
            let path = if p.as_os_str().is_empty() { default_record_path() } else { p.clone() };
            let header = RecordingHeader::new(simulation.start, simulation.clusters.clone(), "simulated");
            let writer = RecordWriter::create(&path, header)?;
            Some(Recorder { path, writer })
        }
        None => None,
    };
    let record_path = recorder.as_ref().map(|r| r.path.clone());
    let mut app = App::new(Feed::Live(Box::new(state)), config.theme, config.keymap, Rect::default());
    app.warnings = warnings;
    let rt = runtime()?;
    let (tx, rx) = sources::channel(sources::CHANNEL_CAPACITY);
    rt.spawn(sources::simulated::run(simulation.observations, cli.speed.unwrap_or(1.0), tx));
    rt.block_on(crate::ui::run::run(app, Some(rx), recorder))?;
    if let Some(p) = record_path {
        eprintln!("recording written to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the simulated incident to `out` as a live session would (one batch per second of
/// simulated time, keyframes as configured). Returns the number of observations.
pub fn write_simulation(out: &Path, seed: u64) -> anyhow::Result<usize> {
    let simulation = sim::demo_incident(seed, sim::demo_start());
    let header = RecordingHeader::new(simulation.start, simulation.clusters.clone(), "demo");
    let mut writer = RecordWriter::create(out, header)?;
    let mut state = FleetState::new(simulation.start);
    for c in &simulation.clusters {
        state.add_cluster(c.clone());
    }
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
