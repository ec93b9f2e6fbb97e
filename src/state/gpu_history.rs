//! Recent utilisation of each GPU of each node: one sample per node update that carried a
//! reading, for the node detail's per-GPU sparklines. Derived by the reducer, never recorded
//! (a replay seek rebuilds the 15 minutes before the head; see `record::Player`).

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::RecordId;
use super::minutes::{bin, minute, push_recent};
use crate::model::GpuNode;

/// How far back samples are kept.
pub const HISTORY: SignedDuration = SignedDuration::from_mins(15);

/// A GPU of a node: its index and, for a MIG instance, the instance.
pub type DeviceKey = (u32, Option<String>);

/// Utilisation samples per node and device, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuHistory {
    series: BTreeMap<RecordId, BTreeMap<DeviceKey, Vec<(Timestamp, f32)>>>,
}

impl GpuHistory {
    /// A node record arrived at `at`: each device's utilisation, when it reports one.
    pub(super) fn on_upsert(&mut self, id: &RecordId, node: &GpuNode, at: Timestamp) {
        if node.devices.iter().all(|d| d.utilization_pct.is_none()) {
            return;
        }
        let devices = self.series.entry(id.clone()).or_default();
        for d in &node.devices {
            let Some(util) = d.utilization_pct else { continue };
            let series = devices.entry((d.index, d.mig.clone())).or_default();
            push_recent(series, (at, util), at, |(t, _)| *t, HISTORY);
        }
    }

    /// The node is gone.
    pub(super) fn on_remove(&mut self, id: &RecordId) {
        self.series.remove(id);
    }

    /// `bins` one-minute values up to `now`'s minute, oldest first: the mean utilisation (0 to
    /// 100) of the samples in each minute, `None` where there is none.
    pub fn per_minute(
        &self,
        id: &RecordId,
        device: &DeviceKey,
        now: Timestamp,
        bins: usize,
    ) -> Vec<Option<f32>> {
        let mut sums = vec![(0.0_f32, 0u32); bins];
        let samples = self.series.get(id).and_then(|d| d.get(device)).map_or(&[][..], Vec::as_slice);
        for (t, u) in samples {
            if let Some(i) = bin(minute(*t), now, bins) {
                sums[i].0 += u;
                sums[i].1 += 1;
            }
        }
        sums.into_iter().map(|(s, n)| (n > 0).then(|| s / n as f32)).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{ClusterId, GpuDevice};

    fn node(utils: &[Option<f32>]) -> GpuNode {
        GpuNode {
            name: "h100-1".into(),
            product: None,
            capacity: utils.len() as u32,
            allocatable: utils.len() as u32,
            allocated: 0,
            mig: None,
            sharing: None,
            schedulable: true,
            taints: Vec::new(),
            telemetry_error: None,
            devices: utils
                .iter()
                .enumerate()
                .map(|(i, u)| GpuDevice {
                    index: i as u32,
                    uuid: format!("GPU-{i}"),
                    product: None,
                    utilization_pct: *u,
                    memory_used_mib: None,
                    memory_total_mib: None,
                    temperature_c: None,
                    power_w: None,
                    pod: None,
                    processes: Vec::new(),
                    mig: None,
                    idle_since: None,
                })
                .collect(),
        }
    }

    #[test]
    fn each_gpu_keeps_a_mean_per_minute_for_fifteen_minutes() {
        let id = RecordId::new(ClusterId::new("a"), "h100-1");
        let at = |s: &str| -> Timestamp { s.parse().unwrap() };
        let mut h = GpuHistory::default();
        h.on_upsert(&id, &node(&[Some(10.0), None]), at("2026-11-27T14:00:10Z"));
        h.on_upsert(&id, &node(&[Some(30.0), None]), at("2026-11-27T14:00:40Z"));
        h.on_upsert(&id, &node(&[Some(90.0), Some(5.0)]), at("2026-11-27T14:02:00Z"));
        let now = at("2026-11-27T14:02:30Z");
        assert_eq!(h.per_minute(&id, &(0, None), now, 3), [Some(20.0), None, Some(90.0)]);
        assert_eq!(h.per_minute(&id, &(1, None), now, 3), [None, None, Some(5.0)]);
        h.on_upsert(&id, &node(&[Some(50.0), Some(5.0)]), at("2026-11-27T14:20:00Z"));
        let later = h.per_minute(&id, &(0, None), at("2026-11-27T14:20:00Z"), 30);
        assert_eq!(later.iter().flatten().count(), 1, "older than 15 minutes are dropped");
        h.on_remove(&id);
        assert!(h.per_minute(&id, &(0, None), now, 3).iter().all(Option::is_none));
    }
}
