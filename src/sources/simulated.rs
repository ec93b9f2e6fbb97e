//! The simulated fleet as a live source: the simulator's observations are sent when their
//! time comes, scaled by a speed factor, exactly as watchers would send them.

use std::time::Duration;

use crate::model::Observation;
use crate::sources::ObservationSender;

/// Sends `observations` (sorted by time) paced so that `speed` seconds of simulated time pass
/// per real second. Observations due at the same moment go out as one batch.
pub async fn run(observations: Vec<Observation>, speed: f64, tx: ObservationSender) {
    let Some(first) = observations.first().map(|o| o.at) else {
        return;
    };
    let speed = if speed.is_finite() && speed > 0.0 { speed } else { 1.0 };
    let started = tokio::time::Instant::now();
    let mut batch: Vec<Observation> = Vec::new();
    for obs in observations {
        let offset = obs.at.duration_since(first).as_secs_f64().max(0.0) / speed;
        // A speed so small that the time overflows means "never" (`--speed` is checked at
        // parse time; this keeps the task itself from panicking on any speed).
        let Some(due) = Duration::try_from_secs_f64(offset).ok().and_then(|d| started.checked_add(d)) else {
            break;
        };
        if tokio::time::Instant::now() < due {
            if !batch.is_empty() && !tx.send(std::mem::take(&mut batch)).await {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
        batch.push(obs);
    }
    if !batch.is_empty() {
        tx.send(batch).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{Change, ClusterId, ClusterUpdate};

    fn obs(secs: i64) -> Observation {
        Observation {
            at: jiff::Timestamp::from_second(1_800_000_000 + secs).unwrap(),
            cluster: ClusterId::new("a"),
            change: Change::Cluster(ClusterUpdate::default()),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn paces_by_simulated_time_and_speed() {
        let (tx, mut rx) = crate::sources::channel(4);
        let handle = tokio::spawn(run(vec![obs(0), obs(0), obs(10), obs(20)], 10.0, tx));
        let started = tokio::time::Instant::now();
        let first = rx.recv().await.unwrap();
        assert_eq!(first.len(), 2, "simultaneous observations form one batch");
        let second = rx.recv().await.unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(started.elapsed().as_secs(), 1, "10 s of simulated time at 10x = 1 s");
        let third = rx.recv().await.unwrap();
        assert_eq!(third[0].at, obs(20).at);
        assert_eq!(started.elapsed().as_secs(), 2);
        handle.await.unwrap();
        assert!(rx.recv().await.is_none(), "the channel closes when the source ends");
    }

    #[tokio::test(start_paused = true)]
    async fn a_vanishing_speed_ends_the_source_instead_of_panicking() {
        // `--simulate --speed 1e-300` used to panic here (Duration::from_secs_f64 overflow).
        let (tx, mut rx) = crate::sources::channel(4);
        let handle = tokio::spawn(run(vec![obs(0), obs(10), obs(20)], 1e-300, tx));
        assert_eq!(rx.recv().await.unwrap().len(), 1, "what is due at once is sent");
        handle.await.expect("the task ends without a panic");
        assert!(rx.recv().await.is_none());
    }
}
