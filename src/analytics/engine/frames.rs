//! Ledger rows → DataFrames. Names stay integer ids; a missing name is [`NONE`]. Lookups
//! that only need the small tables (a flavor's product and price, a queue's team) are done
//! here, once per row; everything that needs time and windows is done by the queries.

use std::collections::HashMap;

use polars::prelude::*;

use crate::analytics::ledger::{Ledger, NameId, WaitEnd};
use crate::analytics::prices::{Price, Prices};
use crate::analytics::report::By;
use crate::analytics::window::Window;

/// The id of a missing name (no team, no queue, no flavor, no namespace).
pub(crate) const NONE: u32 = u32::MAX;

/// Products the frames refer to by index, with their prices; each flavor or product label
/// is looked up in the price table once.
#[derive(Debug)]
pub(crate) struct Products<'a> {
    ledger: &'a Ledger,
    prices: &'a Prices,
    list: Vec<Price>,
    /// By name id (the last slot for "no name"): (product index, price), once looked up.
    by_name: Vec<Option<(u32, f64)>>,
}

impl<'a> Products<'a> {
    /// An empty product list for the names of `ledger`.
    pub(crate) fn new(ledger: &'a Ledger, prices: &'a Prices) -> Self {
        Self { ledger, prices, list: Vec::new(), by_name: vec![None; ledger.names().len() + 1] }
    }

    /// The product index and price of a flavor or product label.
    fn of(&mut self, name: Option<NameId>) -> (u32, f64) {
        let slot = name.map_or(self.by_name.len() - 1, |n| n as usize);
        if let Some(Some(known)) = self.by_name.get(slot) {
            return *known;
        }
        let price = match name {
            Some(n) => self.prices.lookup(self.ledger.name(n)),
            None => Price { product: "(unknown)".into(), usd_per_gpu_hour: self.prices.fallback() },
        };
        let i = match self.list.iter().position(|p| p.product == price.product) {
            Some(i) => i as u32,
            None => {
                self.list.push(price.clone());
                (self.list.len() - 1) as u32
            }
        };
        if let Some(s) = self.by_name.get_mut(slot) {
            *s = Some((i, price.usd_per_gpu_hour));
        }
        (i, price.usd_per_gpu_hour)
    }

    /// A product by index.
    pub(crate) fn get(&self, i: u32) -> Option<&Price> {
        self.list.get(i as usize)
    }
}

fn id(x: Option<NameId>) -> u32 {
    x.unwrap_or(NONE)
}

/// Where a row lies in the window: start `s` and end `e` clipped to it, and `hours` = e − s
/// (0 when the row lies outside). An allocation that started before the window counts from
/// its start; one still running (`end` = `None`) or ending after it counts up to its end.
/// Done here, in the one pass that builds the columns, rather than as polars expressions:
/// each of those would allocate and fill another 10M-row array (DESIGN.md §8 budget).
fn clip(w: Window, start: i64, end: Option<i64>) -> (i64, i64, f64) {
    let s = start.max(w.start_ms);
    let e = end.unwrap_or(w.end_ms).min(w.end_ms);
    let hours = if e > s { (e - s) as f64 * super::HOURS_PER_MS } else { 0.0 };
    (s, e.max(s), hours)
}

fn frame(columns: Vec<Column>) -> PolarsResult<DataFrame> {
    DataFrame::new(columns.first().map_or(0, Column::len), columns)
}

/// Which allocation columns a query reads. On a big ledger each column is an array as long
/// as the ledger, filled in the one pass over the rows: only the ones read are built (the
/// projection a query would push down to a file scan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Needs {
    /// `team`.
    pub(crate) team: bool,
    /// `namespace`.
    pub(crate) namespace: bool,
    /// `cluster`.
    pub(crate) cluster: bool,
    /// `queue_key`.
    pub(crate) queue_key: bool,
    /// `product`.
    pub(crate) product: bool,
    /// What shares, borrowing and dominant-resource share read: `team cluster queue flavor
    /// gpus cpu memory s e`.
    pub(crate) fairness: bool,
}

impl Needs {
    /// Every column (the whole report).
    pub(crate) const ALL: Needs =
        Needs { team: true, namespace: true, cluster: true, queue_key: true, product: true, fairness: true };

    /// The key columns of these groupings.
    pub(crate) fn keys(groupings: &[By]) -> Needs {
        let has = |b: By| groupings.contains(&b);
        Needs {
            team: has(By::Team),
            namespace: has(By::Namespace),
            cluster: has(By::Cluster),
            queue_key: has(By::Queue),
            product: has(By::Product),
            fairness: false,
        }
    }
}

/// A column that is built only when `on`.
struct Maybe<T>(Option<Vec<T>>);

impl<T> Maybe<T> {
    fn new(on: bool, n: usize) -> Self {
        Maybe(on.then(|| Vec::with_capacity(n)))
    }

    fn push(&mut self, f: impl FnOnce() -> T) {
        if let Some(v) = &mut self.0 {
            v.push(f());
        }
    }
}

impl<T> Maybe<T>
where
    Series: NamedFrom<Vec<T>, [T]>,
{
    fn add(self, name: &str, columns: &mut Vec<Column>) {
        if let Some(v) = self.0 {
            columns.push(Series::new(name.into(), v).into_column());
        }
    }
}

/// Allocations in the window with their usage: `hours gpu_hours cost` always, and of `cluster
/// namespace team queue queue_key flavor product gpus cpu memory s e` those `needs` asks for. Rows are
/// clipped to the window (see [`clip`]; outside it `hours` is 0); `team` already falls back to
/// the queue's team; `gpu_hours` = hours × GPUs, `cost` = GPU-hours × the product's price;
/// `queue_key` = cluster << 32 | queue, one integer to group ClusterQueues by. All of it is
/// computed in the pass that builds the columns: as polars expressions each would allocate
/// and fill another array as long as the ledger (DESIGN.md §8 budget).
pub(crate) fn allocations(
    ledger: &Ledger,
    products: &mut Products,
    w: Window,
    needs: Needs,
) -> PolarsResult<DataFrame> {
    let rows = ledger.allocations();
    let n = rows.len();
    let fair = needs.fairness;
    let mut cluster = Maybe::new(needs.cluster || fair, n);
    let mut namespace = Maybe::new(needs.namespace, n);
    let mut team = Maybe::new(needs.team || fair, n);
    let mut queue = Maybe::new(fair, n);
    let mut queue_key = Maybe::new(needs.queue_key, n);
    let mut flavor = Maybe::new(fair, n);
    let mut product = Maybe::new(needs.product, n);
    let mut gpus = Maybe::new(fair, n);
    let (mut cpu, mut memory) = (Maybe::new(fair, n), Maybe::new(fair, n));
    let (mut start, mut end) = (Maybe::new(fair, n), Maybe::new(fair, n));
    let (mut hours, mut gpu_hours, mut cost) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for a in rows {
        let (p, usd) = products.of(a.flavor);
        let (s, e, h) = clip(w, a.start_ms, a.end_ms);
        let gh = h * f64::from(a.gpus);
        hours.push(h);
        gpu_hours.push(gh);
        cost.push(gh * usd);
        cluster.push(|| a.cluster);
        namespace.push(|| a.namespace);
        team.push(|| id(ledger.team_of(a.cluster, a.team, a.cluster_queue)));
        queue.push(|| id(a.cluster_queue));
        queue_key.push(|| u64::from(a.cluster) << 32 | u64::from(id(a.cluster_queue)));
        flavor.push(|| id(a.flavor));
        product.push(|| p);
        gpus.push(|| a.gpus);
        cpu.push(|| f64::from(a.cpu));
        memory.push(|| f64::from(a.memory));
        start.push(|| s);
        end.push(|| e);
    }
    let mut columns = vec![
        Column::new("hours".into(), hours),
        Column::new("gpu_hours".into(), gpu_hours),
        Column::new("cost".into(), cost),
    ];
    cluster.add("cluster", &mut columns);
    namespace.add("namespace", &mut columns);
    team.add("team", &mut columns);
    queue.add("queue", &mut columns);
    queue_key.add("queue_key", &mut columns);
    flavor.add("flavor", &mut columns);
    product.add("product", &mut columns);
    gpus.add("gpus", &mut columns);
    cpu.add("cpu", &mut columns);
    memory.add("memory", &mut columns);
    start.add("s", &mut columns);
    end.add("e", &mut columns);
    frame(columns)
}

/// Waits that count in the window: `queue_key still secs` (`queue_key` = cluster << 32 |
/// queue). A wait counts when it ended (was admitted) inside the window or was still going at
/// its end (`still`: then it counts up to the end); `secs` is its length from its own start.
/// Abandoned waits are not queue waits and are left out. Filtered and measured here, in the
/// pass that builds the columns (see [`allocations`]).
pub(crate) fn waits(ledger: &Ledger, w: Window) -> PolarsResult<DataFrame> {
    let (mut key, mut still, mut secs) = (Vec::new(), Vec::new(), Vec::new());
    for wait in ledger.waits() {
        let (end, going) = match wait.end {
            WaitEnd::Abandoned => continue,
            WaitEnd::Admitted(t) if t <= w.end_ms => (t, false),
            WaitEnd::Admitted(_) | WaitEnd::Waiting => (w.end_ms, true),
        };
        if end < w.start_ms || wait.start_ms >= w.end_ms || end < wait.start_ms {
            continue;
        }
        key.push(u64::from(wait.cluster) << 32 | u64::from(id(wait.cluster_queue)));
        still.push(u32::from(going));
        secs.push((end - wait.start_ms) as f64 / 1000.0);
    }
    frame(vec![
        Column::new("queue_key".into(), key),
        Column::new("still".into(), still),
        Column::new("secs".into(), secs),
    ])
}

/// Preemptions: `team preemptor_team gpus at` (`preemptor_team` is [`NONE`] when the message
/// does not tell; a known preemptor queue without a team is `no team`, not unknown).
pub(crate) fn preemptions(ledger: &Ledger) -> PolarsResult<DataFrame> {
    let rows = ledger.preemptions();
    let (mut team, mut by, mut attributed, mut gpus, mut at) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in rows {
        team.push(id(ledger.team_of(p.cluster, p.team, p.cluster_queue)));
        by.push(id(p.preemptor_queue.and_then(|q| ledger.team_of(p.cluster, None, Some(q)))));
        attributed.push(p.preemptor_queue.is_some());
        gpus.push(p.gpus);
        at.push(p.at_ms);
    }
    frame(vec![
        Column::new("team".into(), team),
        Column::new("preemptor_team".into(), by),
        Column::new("attributed".into(), attributed),
        Column::new("gpus".into(), gpus),
        Column::new("at".into(), at),
    ])
}

/// Utilisation stretches of allocated GPUs: `cluster namespace team queue product price idle
/// hours` (clipped to the window like allocations, an open stretch ending at most
/// [`crate::analytics::ledger::MAX_SAMPLE_HOLD_MS`] after its last sample). The team and
/// queue of a GPU are those of the latest allocation in its pod's namespace.
pub(crate) fn utilisation(ledger: &Ledger, products: &mut Products, w: Window) -> PolarsResult<DataFrame> {
    let mut owner: HashMap<(NameId, NameId), (u32, u32)> = HashMap::new();
    for a in ledger.allocations() {
        let team = id(ledger.team_of(a.cluster, a.team, a.cluster_queue));
        owner.insert((a.cluster, a.namespace), (team, id(a.cluster_queue)));
    }
    let rows = ledger.utilisation().iter().filter(|u| u.allocated);
    let (mut cluster, mut namespace, mut team, mut queue) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut product, mut price, mut idle, mut hours) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for u in rows {
        let (t, q) = u.namespace.and_then(|ns| owner.get(&(u.cluster, ns)).copied()).unwrap_or((NONE, NONE));
        cluster.push(u.cluster);
        namespace.push(id(u.namespace));
        team.push(t);
        queue.push(q);
        let (p, usd) = products.of(u.product);
        product.push(p);
        price.push(usd);
        idle.push(u.idle);
        hours.push(clip(w, u.start_ms, Some(u.effective_end(i64::MAX))).2);
    }
    frame(vec![
        Column::new("cluster".into(), cluster),
        Column::new("namespace".into(), namespace),
        Column::new("team".into(), team),
        Column::new("queue".into(), queue),
        Column::new("product".into(), product),
        Column::new("price".into(), price),
        Column::new("idle".into(), idle),
        Column::new("hours".into(), hours),
    ])
}

/// Nominal GPU quota: `cluster queue flavor team nominal`, one row per queue and flavor.
pub(crate) fn quotas(ledger: &Ledger) -> PolarsResult<DataFrame> {
    let (mut cluster, mut queue, mut flavor, mut team, mut nominal) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((c, q), info) in ledger.queues() {
        for (f, n) in &info.nominal_gpus {
            cluster.push(*c);
            queue.push(*q);
            flavor.push(*f);
            team.push(id(info.team));
            nominal.push(*n);
        }
    }
    frame(vec![
        Column::new("cluster".into(), cluster),
        Column::new("queue".into(), queue),
        Column::new("flavor".into(), flavor),
        Column::new("team".into(), team),
        Column::new("nominal".into(), nominal),
    ])
}
