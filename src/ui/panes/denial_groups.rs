//! The Denials pane grouped by policy, namespace, cluster or engine (`]`/`[` cycle): one row
//! per group with its denials, clusters, the last one and a rate sparkline.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use ratatui::layout::Constraint;
use serde::{Deserialize, Serialize};

use crate::model::{ClusterId, Denial, Enforcement};
use crate::state::{FleetState, RecordId};
use crate::ui::widgets::format;
use crate::ui::widgets::table::{Cell, Detail, DetailLine, Filter, SortKey, TableView};

/// Minutes the rate sparkline covers, one character each.
pub const RATE_MINUTES: usize = 15;

/// How the Denials pane groups its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One row per denial (no grouping).
    #[default]
    None,
    /// By policy (or webhook) name, across clusters.
    Policy,
    /// By namespace, across clusters.
    Namespace,
    /// By cluster.
    Cluster,
    /// By admission engine.
    Engine,
}

impl GroupBy {
    /// In the order `]` cycles through them.
    pub const ALL: [GroupBy; 5] =
        [GroupBy::None, GroupBy::Policy, GroupBy::Namespace, GroupBy::Cluster, GroupBy::Engine];

    /// The word for the notice and the column title.
    pub fn label(self) -> &'static str {
        match self {
            GroupBy::None => "denial",
            GroupBy::Policy => "policy",
            GroupBy::Namespace => "namespace",
            GroupBy::Cluster => "cluster",
            GroupBy::Engine => "engine",
        }
    }

    /// The group a merged row belongs to.
    fn key(self, id: &RecordId, d: &Denial) -> String {
        match self {
            GroupBy::None => id.key.clone(),
            GroupBy::Policy => d.policy_name().to_string(),
            GroupBy::Namespace => d.object.namespace.clone().unwrap_or_else(|| "(cluster-scoped)".into()),
            GroupBy::Cluster => id.cluster.to_string(),
            GroupBy::Engine => d.engine.label().to_string(),
        }
    }
}

/// One group's totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// Merged denial rows in it.
    pub rows: Vec<RecordId>,
    /// Occurrences, all enforcement actions.
    pub count: u64,
    /// Occurrences that were denied (not warn, audit or dry-run).
    pub denied: u64,
    /// Clusters with a row in it.
    pub clusters: BTreeSet<ClusterId>,
    /// The latest occurrence.
    pub last_seen: Option<Timestamp>,
    /// Occurrences per minute over the last [`RATE_MINUTES`].
    pub rate: Vec<u64>,
}

/// Every group of the state's merged denials by `by`, with their totals.
pub fn groups(state: &FleetState, by: GroupBy) -> BTreeMap<String, Group> {
    let merged = state.merged_denials();
    let mut out: BTreeMap<String, Group> = BTreeMap::new();
    for (id, d) in state.denial_rows() {
        let g = out.entry(by.key(id, d)).or_default();
        g.rows.push(id.clone());
        g.count += d.count;
        if d.enforcement == Enforcement::Deny {
            g.denied += d.count;
        }
        g.clusters.insert(id.cluster.clone());
        g.last_seen = g.last_seen.max(Some(d.last_seen));
        let rate = merged.rate(id, state.denials(), state.now(), RATE_MINUTES);
        if g.rate.is_empty() {
            g.rate = rate;
        } else {
            g.rate.iter_mut().zip(rate).for_each(|(a, b)| *a += b);
        }
    }
    out
}

/// What the grouped rows were computed from: the state's data version and clock minute.
type CacheKey = (u64, i64);

/// The grouped table; group ids are `RecordId`s whose key is the group's name.
pub struct GroupedDenials {
    by: GroupBy,
    /// Groups as of a data version and clock minute (the sparkline's bins are minutes):
    /// the cells and details of every frame until either changes share one pass.
    cache: RefCell<Option<(CacheKey, BTreeMap<String, Group>)>>,
}

impl GroupedDenials {
    /// The table grouped by `by`.
    pub fn new(by: GroupBy) -> Self {
        Self { by, cache: RefCell::new(None) }
    }

    fn with_groups<R>(&self, state: &FleetState, f: impl FnOnce(&BTreeMap<String, Group>) -> R) -> R {
        let mut cache = self.cache.borrow_mut();
        let key = (state.data_version(), state.now().as_second().div_euclid(60));
        if cache.as_ref().is_none_or(|(k, _)| *k != key) {
            *cache = Some((key, groups(state, self.by)));
        }
        match cache.as_ref() {
            Some((_, g)) => f(g),
            None => f(&BTreeMap::new()),
        }
    }

    fn id(name: &str) -> RecordId {
        RecordId::new(ClusterId::new(""), name)
    }
}

/// Columns: (title, width, sort key).
const COLUMNS: [(&str, Constraint); 7] = [
    ("GROUP", Constraint::Fill(3)),
    ("ROWS", Constraint::Length(5)),
    ("COUNT", Constraint::Length(6)),
    ("DENIED", Constraint::Length(6)),
    ("CLUSTERS", Constraint::Length(8)),
    ("LAST", Constraint::Length(5)),
    ("RATE/15m", Constraint::Length(RATE_MINUTES as u16)),
];

fn sort_key(col: usize, name: &str, g: &Group) -> SortKey {
    match col {
        0 => SortKey::Text(name.to_string()),
        1 => SortKey::Num(g.rows.len() as f64),
        2 => SortKey::Num(g.count as f64),
        3 => SortKey::Num(g.denied as f64),
        4 => SortKey::Num(g.clusters.len() as f64),
        5 => SortKey::Num(g.last_seen.map_or(0.0, |t| t.as_millisecond() as f64)),
        _ => SortKey::Num(g.rate.iter().rev().take(5).sum::<u64>() as f64),
    }
}

impl TableView for GroupedDenials {
    fn columns(&self) -> Vec<(&'static str, Constraint)> {
        let mut cols = COLUMNS.to_vec();
        cols[0].0 = match self.by {
            GroupBy::Policy => "POLICY",
            GroupBy::Namespace => "NAMESPACE",
            GroupBy::Cluster => "CLUSTER",
            GroupBy::Engine => "ENGINE",
            GroupBy::None => "GROUP",
        };
        cols
    }

    fn default_sort(&self) -> (usize, bool) {
        (2, true)
    }

    fn build(&self, state: &FleetState, filter: &str, sort: (usize, bool)) -> Vec<RecordId> {
        let filter = Filter::new(filter);
        self.with_groups(state, |groups| {
            let mut rows: Vec<(SortKey, &String)> = groups
                .iter()
                .filter(|(name, _)| filter.matches(name))
                .map(|(name, g)| (sort_key(sort.0, name, g), name))
                .collect();
            rows.sort_by(|(a, na), (b, nb)| {
                let ord = match (a, b) {
                    (SortKey::Num(x), SortKey::Num(y)) => x.total_cmp(y),
                    (SortKey::Text(x), SortKey::Text(y)) => x.cmp(y),
                    (SortKey::Num(_), SortKey::Text(_)) => std::cmp::Ordering::Less,
                    (SortKey::Text(_), SortKey::Num(_)) => std::cmp::Ordering::Greater,
                };
                (if sort.1 { ord.reverse() } else { ord }).then_with(|| na.cmp(nb))
            });
            rows.into_iter().map(|(_, name)| Self::id(name)).collect()
        })
    }

    fn cells(&self, state: &FleetState, id: &RecordId) -> Option<Vec<Cell>> {
        let now = state.now();
        self.with_groups(state, |groups| {
            let g = groups.get(&id.key)?;
            Some(vec![
                Cell::text(id.key.clone()),
                Cell::text(g.rows.len().to_string()),
                Cell::styled(g.count.to_string(), "denials.count"),
                Cell::styled(g.denied.to_string(), "denials.enforcement.deny"),
                Cell::text(g.clusters.len().to_string()),
                Cell::text(g.last_seen.map(|t| format::since(now, t)).unwrap_or_default()),
                Cell::styled(format::spark(&g.rate), "denials.count"),
            ])
        })
    }

    fn detail(&self, state: &FleetState, id: &RecordId) -> Option<Detail> {
        let now = state.now();
        self.with_groups(state, |groups| {
            let g = groups.get(&id.key)?;
            let mut lines = vec![
                DetailLine::field("rows", g.rows.len().to_string()),
                DetailLine::field("occurrences", format!("{} ({} denied)", g.count, g.denied)),
                DetailLine::field(
                    "clusters",
                    g.clusters.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "),
                ),
                DetailLine::field(
                    "rate/min",
                    format!("{} (last {RATE_MINUTES} min)", format::spark(&g.rate)),
                ),
            ];
            if let Some(t) = g.last_seen {
                lines.push(DetailLine::field("last", format!("{t} ({} ago)", format::since(now, t))));
            }
            let mut top: Vec<(&RecordId, &Denial)> =
                g.rows.iter().filter_map(|r| state.denial_row(r).map(|d| (r, d))).collect();
            top.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
            const SHOWN: usize = 15;
            lines.push(DetailLine::Section(format!("top rows ({} of {})", top.len().min(SHOWN), top.len())));
            for (rid, d) in top.into_iter().take(SHOWN) {
                lines.push(DetailLine::field(
                    &format!("{} ×{}", rid.cluster, d.count),
                    format!(
                        "{} {} {} · {}",
                        d.enforcement.label(),
                        d.policy.as_ref().map(|p| p.display()).unwrap_or_else(|| d.policy_name().to_string()),
                        d.rule.as_deref().unwrap_or("—"),
                        crate::state::merged_object(&d.object).display()
                    ),
                ));
            }
            Some(Detail { title: format!("denials by {} · {}", self.by.label(), id.key), lines })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_the_demo_add_up_to_the_whole_table() {
        let sim = crate::sim::demo_incident(crate::sim::DEMO_SEED, crate::sim::demo_start());
        let state = sim.state_at(sim.end);
        let total: u64 = state.denial_rows().map(|(_, d)| d.count).sum();
        let rows = state.merged_denials();
        for by in [GroupBy::Policy, GroupBy::Namespace, GroupBy::Cluster, GroupBy::Engine] {
            let g = groups(&state, by);
            assert_eq!(g.values().map(|g| g.count).sum::<u64>(), total, "{by:?}");
            assert_eq!(g.values().map(|g| g.rows.len()).sum::<usize>(), rows.len(), "{by:?}");
        }
        let by_policy = groups(&state, GroupBy::Policy);
        let nonroot = &by_policy["require-run-as-nonroot"];
        assert_eq!(nonroot.clusters.len(), 3, "the rollout reached three clusters");
        assert!(nonroot.denied > 0 && nonroot.denied < nonroot.count, "deny and audit rows both");
        assert_eq!(nonroot.rate.len(), RATE_MINUTES);
        assert!(nonroot.rate.iter().sum::<u64>() > 0, "it was still denying at the end");
        let by_cluster = groups(&state, GroupBy::Cluster);
        assert!(by_cluster.values().all(|g| g.clusters.len() == 1));
    }

    #[test]
    fn the_table_sorts_groups_and_filters_them_by_name() {
        let sim = crate::sim::demo_incident(crate::sim::DEMO_SEED, crate::sim::demo_start());
        let state = sim.state_at(sim.end);
        let t = GroupedDenials::new(GroupBy::Engine);
        let ids = t.build(&state, "", t.default_sort());
        let counts: Vec<u64> = ids.iter().map(|id| groups(&state, GroupBy::Engine)[&id.key].count).collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "by count, largest first: {counts:?}");
        let only = t.build(&state, "kyverno", t.default_sort());
        assert!(!only.is_empty() && only.iter().all(|id| id.key.contains("kyverno")));
        let cells = t.cells(&state, &ids[0]).unwrap_or_default();
        assert_eq!(cells.len(), t.columns().len());
        assert!(t.detail(&state, &ids[0]).is_some_and(|d| d.lines.len() > 5));
    }
}
