//! The app loop: one `select!` over keys, observations, playback ticks and the live clock.
//! Draws only when something changed, at most ~30 times a second; when nothing changes,
//! nothing is drawn.

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::time::Instant;

use crate::record::{RecordError, RecordWriter};
use crate::sources::ObservationReceiver;
use crate::ui::app::{App, Effect};
use crate::ui::event::Event;
use crate::ui::{render, terminal};

/// Shortest time between two frames (~30 fps).
pub const FRAME: Duration = Duration::from_millis(33);
/// How often the live clock ticks (ages and countdowns are shown in seconds).
pub const CLOCK: Duration = Duration::from_secs(1);

/// Where the session's observations are being recorded.
pub struct Recorder {
    path: PathBuf,
    writer: RecordWriter,
    /// Set when a write failed: what went wrong and what the file keeps.
    failed: Option<String>,
}

impl Recorder {
    /// Records into `writer`, which writes the file at `path`.
    pub fn new(path: PathBuf, writer: RecordWriter) -> Self {
        Self { path, writer, failed: None }
    }
}

/// How a session ended: what the command says on the way out, and its exit status.
#[derive(Debug, Default)]
pub struct Outcome {
    /// How the recording ended, when the session recorded.
    pub recording: Option<RecordingEnd>,
    /// The first panic of a background task, when one ended the session.
    pub panic: Option<String>,
}

/// How a recording ended.
#[derive(Debug)]
pub enum RecordingEnd {
    /// Every observation reached the file, which was synced.
    Written {
        /// The file.
        path: PathBuf,
        /// Observations in it.
        observations: u64,
        /// Its size.
        bytes: u64,
    },
    /// Writing failed; the message names the file, the error and what the file keeps.
    Failed {
        /// The file.
        path: PathBuf,
        /// What happened, in words.
        message: String,
    },
}

/// Runs the UI until the user quits, a terminating signal arrives (SIGTERM, SIGHUP, SIGINT,
/// SIGQUIT) or a background task panics ([`crate::panics`]). The terminal is restored on
/// every exit path; the recording, if any, is finished (flushed and synced) first.
pub async fn run(
    app: App,
    observations: Option<ObservationReceiver>,
    recorder: Option<Recorder>,
) -> anyhow::Result<Outcome> {
    let mut terminal = terminal::init()?;
    let result = event_loop(&mut terminal, app, observations, recorder).await;
    terminal::restore();
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    mut app: App,
    mut observations: Option<ObservationReceiver>,
    mut recorder: Option<Recorder>,
) -> anyhow::Result<Outcome> {
    let size = terminal.size()?;
    app.handle(Event::Resize(size.width, size.height));
    let mut keys = EventStream::new();
    let mut signals = Signals::new()?;
    let live = app.live_state().is_some();
    let mut last_draw = Instant::now() - FRAME;
    let mut last_tick = Instant::now();
    let far = Duration::from_secs(3600);
    let mut frames: u64 = 0;
    let analytics = app.analytics_wake();
    let mut outcome = Outcome::default();
    loop {
        if app.is_dirty() && last_draw.elapsed() >= FRAME {
            app.prepare();
            terminal.draw(|f| render::render(f, &app))?;
            frames += 1;
            app.mark_drawn();
            last_draw = Instant::now();
        }
        if app.should_quit() {
            break;
        }
        let redraw_in = if app.is_dirty() { FRAME.saturating_sub(last_draw.elapsed()) } else { far };
        let tick_every = if app.is_playing() {
            FRAME
        } else if live {
            CLOCK
        } else {
            far
        };
        let tick_in = tick_every.saturating_sub(last_tick.elapsed());
        let effects = tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => app.handle(Event::Key(k)),
                Some(Ok(TermEvent::Resize(w, h))) => app.handle(Event::Resize(w, h)),
                Some(Ok(_)) => Vec::new(),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            batch = recv(&mut observations) => {
                match batch {
                    Some(batch) => {
                        app.backpressure = observations.as_ref().map(|rx| rx.times_full()).unwrap_or(0);
                        app.ingest(&batch);
                        record(&mut recorder, &batch, &mut app);
                    }
                    None => observations = None,
                }
                Vec::new()
            },
            _ = tokio::time::sleep(tick_in) => {
                let elapsed = last_tick.elapsed();
                last_tick = Instant::now();
                app.handle(Event::Tick(elapsed))
            },
            _ = tokio::time::sleep(redraw_in) => Vec::new(),
            _ = analytics.notified() => app.handle(Event::Analytics),
            _ = signals.recv() => break,
            what = crate::panics::wait() => {
                outcome.panic = Some(what);
                break;
            }
        };
        if app.is_playing() && tick_every == far {
            last_tick = Instant::now();
        }
        for effect in effects {
            match effect {
                Effect::Copy(text) => {
                    if let Err(e) = terminal::copy_to_clipboard(&text) {
                        app.notice = Some(format!("copy failed: {e}"));
                    }
                }
            }
        }
    }
    tracing::info!(frames, observations = app.state().applied(), "session ended");
    outcome.recording = recorder.map(finish_recording);
    Ok(outcome)
}

async fn recv(rx: &mut Option<ObservationReceiver>) -> Option<Vec<crate::model::Observation>> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Tees a batch into the recording. A write error (disk full, …) stops recording loudly: the
/// footer and the Fleet pane say so until the session ends, the exit message repeats it and
/// the exit status is not 0; the session itself goes on.
fn record(recorder: &mut Option<Recorder>, batch: &[crate::model::Observation], app: &mut App) {
    let Some(r) = recorder.as_mut().filter(|r| r.failed.is_none()) else { return };
    let Some(state) = app.live_state() else {
        return;
    };
    if let Err(e) = r.writer.write_batch(batch, state) {
        tracing::error!(path = %r.path.display(), error = %e, "recording stopped");
        app.alert(alert_text(&e, &r.path));
        r.failed = Some(format!("RECORDING STOPPED: {e}"));
    }
}

/// The alert for a failed recording, short enough for one line of the screen: why, and what
/// the file keeps (the exit message gives the byte offset too).
fn alert_text(e: &RecordError, path: &std::path::Path) -> String {
    match e {
        RecordError::Write { kept, source, .. } => {
            let until =
                kept.until.map(|t| format!(", up to {}", t.strftime("%H:%M:%S UTC"))).unwrap_or_default();
            format!(
                "RECORDING STOPPED ({source}): {} keeps its first {} observations{until}",
                path.display(),
                kept.observations
            )
        }
        e => format!("RECORDING STOPPED: {e}"),
    }
}

fn finish_recording(r: Recorder) -> RecordingEnd {
    let Recorder { path, writer, failed } = r;
    if let Some(message) = failed {
        return RecordingEnd::Failed { path, message };
    }
    let (observations, bytes) = (writer.observations_written(), writer.bytes_written());
    match writer.finish() {
        Ok(_) => {
            tracing::info!(path = %path.display(), observations, bytes, "recording finished");
            RecordingEnd::Written { path, observations, bytes }
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "recording could not be finished");
            RecordingEnd::Failed { path, message: format!("RECORDING STOPPED: {e}") }
        }
    }
}

/// SIGTERM, SIGHUP, SIGINT and SIGQUIT end the session cleanly (recording flushed, terminal
/// restored). SIGQUIT's default action (a core dump) would leave the terminal raw in the
/// alternate screen.
struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.hup.recv() => {},
            _ = self.int.recv() => {},
            _ = self.quit.recv() => {},
        }
    }
}
