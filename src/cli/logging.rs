//! Logs go to a file under the state directory, never to the terminal the UI owns.

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;

/// The log file's folder: `$XDG_STATE_HOME/fleettop` (or the platform's equivalent).
pub fn log_dir() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "fleettop")?;
    Some(dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir()).to_path_buf())
}

/// Starts logging to `fleettop.log` (level from `FLEETTOP_LOG`, default `info`). Returns the
/// guard that flushes on drop; `None` when no log folder could be made (logging is then off).
pub fn init() -> Option<WorkerGuard> {
    let dir = log_dir()?;
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::never(&dir, "fleettop.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLEETTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_env_filter(filter).try_init().ok()?;
    Some(guard)
}
