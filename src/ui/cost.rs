//! The Cost pane's data: the live session's ledger, the analytics worker, and the latest
//! report it computed.
//!
//! Reports are computed off the UI thread, only while the Cost pane is visible, and only when
//! the moment shown changed (observations followed or the clock): the app asks on each
//! prepared frame, the worker drops overtaken requests, and the loop is woken when a result
//! arrives. Until the first report arrives the pane says it is computing; afterwards it shows
//! the latest report, whose window tells which moment it is of.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Notify;

use crate::analytics::worker::{Request, Source, Stamp, Worker};
use crate::analytics::{CostReport, Ledger, Prices, Query, Window};
use crate::model::Observation;
use crate::ui::app::Feed;

/// What the Cost pane can show.
pub enum CostStatus<'a> {
    /// A report (possibly of a moment ago while the next one is computed).
    Ready(&'a CostReport),
    /// The first report is being computed.
    Computing,
    /// The engine or its thread failed.
    Failed(&'a str),
}

/// The ledger, the worker and the latest report.
pub struct CostFeed {
    /// Live sessions follow every observation into this ledger (replays rebuild theirs from
    /// the recording in the worker).
    ledger: Arc<Ledger>,
    session_start: Timestamp,
    prices: Prices,
    worker: Option<Worker>,
    wake: Arc<Notify>,
    asked: Option<Stamp>,
    report: Option<(Stamp, Arc<CostReport>)>,
    error: Option<String>,
}

impl CostFeed {
    /// A feed for a session that starts at `session_start`.
    pub fn new(session_start: Timestamp) -> Self {
        Self {
            ledger: Arc::new(Ledger::new()),
            session_start,
            prices: Prices::default(),
            worker: None,
            wake: Arc::new(Notify::new()),
            asked: None,
            report: None,
            error: None,
        }
    }

    /// Uses these prices from now on (reports already computed keep theirs).
    pub fn set_prices(&mut self, prices: Prices) {
        self.prices = prices;
        self.asked = None;
        self.report = None;
    }

    /// Notified when a report arrives: the app loop waits on it.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Follows live observations.
    pub fn ingest(&mut self, batch: &[Observation]) {
        let ledger = Arc::make_mut(&mut self.ledger);
        for obs in batch {
            ledger.observe(obs);
        }
    }

    /// What the pane shows now.
    pub fn status(&self) -> CostStatus<'_> {
        match (&self.report, &self.error) {
            (_, Some(e)) => CostStatus::Failed(e),
            (Some((_, r)), None) => CostStatus::Ready(r),
            (None, None) => CostStatus::Computing,
        }
    }

    /// Takes any result that arrived; true when the pane has something new to draw.
    pub fn poll(&mut self) -> bool {
        match self.worker.as_ref().and_then(Worker::latest) {
            Some(done) => {
                self.accept(done.stamp, done.result);
                true
            }
            None => false,
        }
    }

    /// Asks for the report of the moment `feed` shows, unless it is already there or asked.
    pub fn refresh(&mut self, feed: &Feed) {
        let (stamp, source, window) = match feed {
            Feed::Replay(p) => {
                let observed = p.observations_applied();
                let now = p.state().now();
                let source = Source::Recording { recording: p.recording().clone(), observed };
                ((observed as u64, now.as_millisecond()), source, Window::between(p.start(), now))
            }
            Feed::Live(s) => {
                let now = s.now();
                let window = Window::between(self.session_start.min(now), now);
                ((s.applied(), now.as_millisecond()), Source::Ledger(self.ledger.clone()), window)
            }
        };
        if self.asked == Some(stamp) || self.report.as_ref().is_some_and(|(s, _)| *s == stamp) {
            return;
        }
        if self.worker.is_none() {
            let wake = self.wake.clone();
            match Worker::start(move || wake.notify_one()) {
                Ok(w) => self.worker = Some(w),
                Err(e) => {
                    self.error = Some(format!("cannot start the analytics thread: {e}"));
                    return;
                }
            }
        }
        let request = Request { stamp, source, query: Query::all(window, self.prices.clone()) };
        if self.worker.as_ref().is_some_and(|w| w.request(request)) {
            self.asked = Some(stamp);
        } else {
            self.error = Some("the analytics thread stopped".into());
        }
    }

    /// Blocks until the report asked for last arrives, at most `timeout` (headless use and
    /// tests; the UI never waits). True when it arrived.
    pub fn wait(&mut self, timeout: Duration) -> bool {
        let Some(stamp) = self.asked else { return self.report.is_some() };
        match self.worker.as_ref().and_then(|w| w.wait_for(stamp, timeout)) {
            Some(done) => {
                self.accept(done.stamp, done.result);
                true
            }
            None => false,
        }
    }

    fn accept(&mut self, stamp: Stamp, result: Result<Arc<CostReport>, String>) {
        if self.asked == Some(stamp) {
            self.asked = None;
        }
        match result {
            Ok(r) => {
                self.report = Some((stamp, r));
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }
}
