//! Where observations come from. Every source runs as its own task and sends owned
//! [`Observation`] batches over one bounded channel; it never touches the UI or its state.
//!
//! [`kubernetes`] watches and scrapes each cluster through its API server, [`auditlog`]
//! tails a cluster's API server audit log file named in the fleet file, [`nvml`] samples
//! this host's GPUs into [`local_gpus`] (which the cluster that has this host's node merges
//! into it), and [`simulated`] runs the simulator in (scaled) real time.
//!
//! Owns: every task that talks to the outside (API servers, scrapes, audit logs, NVML), the
//! pure parsers and projections of what they read, and the channel.
//! May not import: `crate::state` (a caller passes what a source needs as values), `ui`,
//! `analytics`, `record`, `cli`; ratatui, polars (`tests/boundaries.rs`). Settings arrive in
//! the sources' own types ([`kubernetes::Options`]); only `fleet.rs` uses `crate::config`'s
//! TOML helpers, for the fleet file.

pub mod auditlog;
pub mod fleet;
pub mod kubernetes;
pub mod local_gpus;
pub mod memory;
pub mod nvml;
pub mod parse;
pub mod simulated;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::model::Observation;

/// Batches in flight between the sources and the app before sources wait.
pub const CHANNEL_CAPACITY: usize = 256;

/// The sending side handed to each source.
#[derive(Clone)]
pub struct ObservationSender {
    tx: mpsc::Sender<Vec<Observation>>,
    full: Arc<AtomicU64>,
}

/// The receiving side, owned by the app loop.
pub struct ObservationReceiver {
    rx: mpsc::Receiver<Vec<Observation>>,
    full: Arc<AtomicU64>,
}

/// A bounded channel from sources to the app.
pub fn channel(capacity: usize) -> (ObservationSender, ObservationReceiver) {
    let (tx, rx) = mpsc::channel(capacity);
    let full = Arc::new(AtomicU64::new(0));
    (ObservationSender { tx, full: full.clone() }, ObservationReceiver { rx, full })
}

impl ObservationSender {
    /// Sends a batch; when the channel is full the source waits (back-pressure) and the
    /// wait is counted, so the UI can say that it is falling behind. `false` = app gone.
    ///
    /// Every observation is redacted here ([`crate::redact::batch`]) before anything can
    /// record, print or draw it: no source can send an error text or URL that skipped it.
    pub async fn send(&self, mut batch: Vec<Observation>) -> bool {
        crate::redact::batch(&mut batch);
        match self.tx.try_send(batch) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(batch)) => {
                self.full.fetch_add(1, Ordering::Relaxed);
                self.tx.send(batch).await.is_ok()
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// True once the app has gone away, for sources that do not send on every tick.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl ObservationReceiver {
    /// The next batch; `None` once every source has stopped.
    pub async fn recv(&mut self) -> Option<Vec<Observation>> {
        self.rx.recv().await
    }

    /// How many times a source found the channel full.
    pub fn times_full(&self) -> u64 {
        self.full.load(Ordering::Relaxed)
    }
}
