//! Reports computed off the UI thread.
//!
//! The UI sends a [`Request`] whenever the moment it shows changed; one worker thread takes
//! the latest request (requests overtaken while it was busy are dropped: that is the
//! debounce), computes its report, sends it back and calls the wake-up callback so that the
//! app loop draws it. Replays are followed incrementally: when the same recording moves
//! forward, only the new observations are added to the worker's ledger.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::engine::{Query, compute};
use super::ledger::Ledger;
use super::report::CostReport;
use crate::record::Recording;

/// Which moment a report is of: (observations followed, clock in milliseconds). The same
/// stamp always gives the same report.
pub type Stamp = (u64, i64);

/// Where the ledger comes from.
#[derive(Clone)]
pub enum Source {
    /// The first `observed` observations of a recording (a replay up to its play head).
    Recording {
        /// The recording.
        recording: Arc<Recording>,
        /// How many of its observations.
        observed: usize,
    },
    /// A ledger the caller keeps up to date (a live session).
    Ledger(Arc<Ledger>),
}

/// One report to compute.
#[derive(Clone)]
pub struct Request {
    /// The moment it is of.
    pub stamp: Stamp,
    /// The ledger's source.
    pub source: Source,
    /// Window, prices, groupings.
    pub query: Query,
}

/// A computed report (or why there is none).
#[derive(Debug)]
pub struct Done {
    /// The moment it is of.
    pub stamp: Stamp,
    /// The report, or the engine's error in words.
    pub result: Result<Arc<CostReport>, String>,
}

/// The worker thread and its two channels. Dropping it lets the thread finish its current
/// report and end; nobody waits for it.
pub struct Worker {
    requests: Sender<Request>,
    results: Receiver<Done>,
}

impl Worker {
    /// Starts the thread; `wake` is called after each result is sent.
    pub fn start(wake: impl Fn() + Send + 'static) -> std::io::Result<Worker> {
        let (requests, inbox) = mpsc::channel::<Request>();
        let (outbox, results) = mpsc::channel::<Done>();
        std::thread::Builder::new().name("fleettop-analytics".into()).spawn(move || {
            let mut replay = ReplayLedger::default();
            while let Ok(mut req) = inbox.recv() {
                while let Ok(newer) = inbox.try_recv() {
                    req = newer;
                }
                let result = match &req.source {
                    Source::Ledger(l) => compute(l, &req.query),
                    Source::Recording { recording, observed } => {
                        compute(replay.at(recording, *observed), &req.query)
                    }
                };
                let done = Done { stamp: req.stamp, result: result.map(Arc::new).map_err(|e| e.to_string()) };
                if outbox.send(done).is_err() {
                    break;
                }
                wake();
            }
        })?;
        Ok(Worker { requests, results })
    }

    /// Asks for a report; false when the thread is gone.
    pub fn request(&self, req: Request) -> bool {
        self.requests.send(req).is_ok()
    }

    /// The latest result that arrived, if any (older ones are skipped).
    pub fn latest(&self) -> Option<Done> {
        self.results.try_iter().last()
    }

    /// Blocks until the result for `stamp` arrives, at most `timeout`.
    pub fn wait_for(&self, stamp: Stamp, timeout: Duration) -> Option<Done> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.results.recv_timeout(left) {
                Ok(done) if done.stamp == stamp => return Some(done),
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

/// The worker's ledger of a recording, followed forward as the play head moves.
#[derive(Default)]
struct ReplayLedger {
    of: Option<Arc<Recording>>,
    observed: usize,
    ledger: Ledger,
}

impl ReplayLedger {
    fn at(&mut self, recording: &Arc<Recording>, observed: usize) -> &Ledger {
        let all = recording.observations();
        let observed = observed.min(all.len());
        let same = self.of.as_ref().is_some_and(|r| Arc::ptr_eq(r, recording));
        if !same || observed < self.observed {
            self.of = Some(recording.clone());
            self.observed = 0;
            self.ledger = Ledger::new();
        }
        for obs in all.get(self.observed..observed).unwrap_or_default() {
            self.ledger.observe(obs);
        }
        self.observed = observed;
        &self.ledger
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::analytics::{Prices, Window};

    fn request(rec: &Arc<Recording>, observed: usize) -> Request {
        let end = rec.observations()[observed - 1].at;
        Request {
            stamp: (observed as u64, end.as_millisecond()),
            source: Source::Recording { recording: rec.clone(), observed },
            query: Query::all(Window::between(rec.start(), end), Prices::default()),
        }
    }

    #[test]
    fn a_replay_report_is_the_report_of_its_observations_so_far() {
        let rec = Arc::new(crate::demo::recording().unwrap());
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        let worker = Worker::start(move || {
            w.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        let n = rec.observations().len();
        // Forward (followed incrementally), then back (rebuilt): each equals a fresh computation.
        for observed in [n / 2, n, n / 3] {
            let req = request(&rec, observed);
            assert!(worker.request(req.clone()));
            let done = worker.wait_for(req.stamp, Duration::from_secs(60)).unwrap();
            let fresh =
                compute(&Ledger::from_observations(&rec.observations()[..observed]), &req.query).unwrap();
            assert_eq!(*done.result.unwrap(), fresh, "at {observed} observations");
        }
        // The wake-up comes right after each result is sent.
        let deadline = Instant::now() + Duration::from_secs(10);
        while woken.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(woken.load(Ordering::SeqCst), 3);
        assert!(worker.latest().is_none(), "every result was taken");
    }
}
