//! Panics off the thread that owns the terminal (a source task, the analytics worker, the
//! blocking pool) end the session cleanly instead of leaving it half alive.
//!
//! A panic in a tokio task only ends that task; before this module, the terminal's panic hook
//! restored the terminal anyway, so the UI kept running in line mode outside the alternate
//! screen and the process later exited 0. Now [`install`] (once, at start) sets the one hook
//! of the process: it remembers the first panic (message, place, thread), logs it, and wakes
//! [`wait`]: the app loop ends on it, restores the terminal once, and the command exits with
//! [`EXIT_STATUS`] and the message. While the UI owns the terminal ([`set_ui_thread`]), a
//! panic on another thread prints nothing (it would land in the middle of the screen); a
//! panic on the UI thread itself restores the terminal first, then prints as Rust does.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::ThreadId;

use tokio::sync::Notify;

/// Exit status of a session ended by a panic (Rust's own status for a panicking process).
pub const EXIT_STATUS: u8 = 101;

/// The thread that owns the terminal, and how to give the terminal back.
type Owner = (ThreadId, fn());

#[derive(Default)]
struct Watch {
    first: Mutex<Option<String>>,
    ui_thread: Mutex<Option<Owner>>,
    wake: Notify,
}

fn watch() -> &'static Watch {
    static WATCH: OnceLock<Watch> = OnceLock::new();
    WATCH.get_or_init(Watch::default)
}

/// Installs the hook (once per process; later calls do nothing), in front of Rust's default
/// one, which still prints the message when no UI owns the terminal.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let what = describe(info);
            tracing::error!(panic = %what, "a task panicked; the session ends");
            let w = watch();
            let mut first = w.first.lock().unwrap_or_else(PoisonError::into_inner);
            if first.is_none() {
                *first = Some(what);
            }
            drop(first);
            w.wake.notify_one();
            let ui = *w.ui_thread.lock().unwrap_or_else(PoisonError::into_inner);
            match ui {
                // The UI owns the terminal and goes on until it sees `wait` end: printing
                // now would write into the screen, restoring would pull it from under the UI.
                Some((id, _)) if id != std::thread::current().id() => {}
                // The UI thread itself: give the terminal back before the message.
                Some((_, restore)) => {
                    restore();
                    previous(info);
                }
                None => previous(info),
            }
        }));
    });
}

/// Marks a thread as the one that owns the terminal, with the function that restores it
/// (`Some`), or nobody (`None`).
pub fn set_ui_thread(owner: Option<(ThreadId, fn())>) {
    *watch().ui_thread.lock().unwrap_or_else(PoisonError::into_inner) = owner;
}

/// The first panic of the process, if any: its message, where, and on which thread.
pub fn first() -> Option<String> {
    watch().first.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Resolves with [`first`] once a panic has happened (at once if one already has).
pub async fn wait() -> String {
    loop {
        if let Some(what) = first() {
            return what;
        }
        // A panic between the check and here leaves a permit: this returns at once.
        watch().wake.notified().await;
    }
}

/// The words for a panic: its message, the source location and the thread.
fn describe(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
    let thread = std::thread::current();
    format!("{message}{place} (thread {})", thread.name().unwrap_or("unnamed"))
}
