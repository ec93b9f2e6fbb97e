//! Logs go to a file under the state directory, never to the terminal the UI owns.
//!
//! The log holds server response text and error chains, so it is private and safe to read:
//! the file is created 0600 (an existing one with wider permissions is narrowed, and a
//! symlink in its place is refused), the folder 0700 when fleettop creates it, and every line
//! is redacted ([`crate::redact`]) and sanitised ([`crate::sanitise::line`]: one event is one
//! line, whatever its text holds) as it is written.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt::MakeWriter;

/// The log file's folder: `$XDG_STATE_HOME/fleettop` (or the platform's equivalent).
pub fn log_dir() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "fleettop")?;
    Some(dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir()).to_path_buf())
}

/// Starts logging to `fleettop.log` (level from `FLEETTOP_LOG`, default `info`). Returns the
/// guard that flushes on drop; `None` when no log folder or file could be made (logging is
/// then off).
pub fn init() -> Option<WorkerGuard> {
    let file = open_log(&log_dir()?).ok()?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLEETTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(SafeLines(writer))
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

/// Opens `dir/fleettop.log` for appending: the folder is created 0700 (with any missing
/// parents), the file 0600; an existing file is narrowed to 0600; a symlink is refused.
pub fn open_log(dir: &Path) -> io::Result<File> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join("fleettop.log"))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("fleettop.log is not a regular file"));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Wraps the log's writer so that each event passes the redaction layer and the sanitiser
/// before it is written.
pub struct SafeLines<W>(pub W);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for SafeLines<W> {
    type Writer = SafeLine<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        SafeLine { inner: self.0.make_writer(), buf: Vec::new() }
    }
}

/// One event: collected whole (the formatter writes an event, then drops its writer), then
/// written redacted and sanitised as one line.
pub struct SafeLine<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Write for SafeLine<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for SafeLine<W> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        let body = text.strip_suffix('\n').unwrap_or(&text);
        let mut line = crate::sanitise::line(&crate::redact::text(body)).into_owned();
        line.push('\n');
        let _ = self.inner.write_all(line.as_bytes());
        let _ = self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_log_and_its_folder_are_private() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("state/fleettop");
        drop(open_log(&dir).unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join("fleettop.log")), 0o600);
        assert_eq!(mode(&dir), 0o700);
        // A log an older fleettop left world-readable is narrowed.
        std::fs::set_permissions(dir.join("fleettop.log"), std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_log(&dir).unwrap());
        assert_eq!(mode(&dir.join("fleettop.log")), 0o600);
    }

    #[test]
    fn a_symlink_in_place_of_the_log_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let target = home.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        std::os::unix::fs::symlink(&target, home.path().join("fleettop.log")).unwrap();
        assert!(open_log(home.path()).is_err());
    }

    #[test]
    fn each_event_is_written_as_one_redacted_sanitised_line() {
        let mut out = Vec::new();
        {
            let mut line = SafeLine { inner: &mut out, buf: Vec::new() };
            line.write_all(b"WARN probe: https://admin:pw-Log-1@h/version\n\x1b]0;title\x07 forged line\n")
                .unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "WARN probe: https://<redacted>@h/version\\n\\x1b]0;title\\x07 forged line\n"
        );
    }
}
