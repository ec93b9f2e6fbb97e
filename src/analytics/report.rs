//! What the engine publishes: plain summary structs (no DataFrame leaves the module), for the
//! Cost pane and `fleettop report`.

use serde::Serialize;

use super::prices::Price;
use super::window::Window;

/// What usage is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// Team (the workload's label, else its ClusterQueue's team).
    #[default]
    Team,
    /// Namespace (by name, across clusters).
    Namespace,
    /// ClusterQueue, as `cluster/queue`.
    Queue,
    /// Cluster.
    Cluster,
    /// GPU product, from the flavor through the price table.
    Product,
}

impl By {
    /// Every grouping, in the order the Cost pane cycles through them.
    pub const ALL: [By; 5] = [By::Team, By::Namespace, By::Queue, By::Cluster, By::Product];

    /// The word used on the command line and in headings.
    pub fn label(self) -> &'static str {
        match self {
            By::Team => "team",
            By::Namespace => "namespace",
            By::Queue => "queue",
            By::Cluster => "cluster",
            By::Product => "product",
        }
    }

    /// Parses a command-line word.
    pub fn parse(word: &str) -> Option<By> {
        By::ALL.into_iter().find(|b| b.label() == word)
    }
}

/// GPU-hours and cost of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageRow {
    /// The group (`research`, `gpu-train-us/team-a`, `H100`).
    pub key: String,
    /// GPUs × hours held within the window.
    pub gpu_hours: f64,
    /// GPU-hours × the price of their product, US dollars.
    pub cost_usd: f64,
    /// This group's part of all GPU-hours (0–1).
    pub share: f64,
    /// GPU-hours of allocated GPUs under the idle line; `None` = no utilisation data for it.
    pub idle_gpu_hours: Option<f64>,
    /// Their cost, US dollars.
    pub idle_cost_usd: Option<f64>,
    /// Allocations (admission periods) that overlap the window.
    pub allocations: u32,
}

/// Usage grouped one way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grouping {
    /// How.
    pub by: By,
    /// Rows, most GPU-hours first.
    pub rows: Vec<UsageRow>,
}

/// One team's share of usage against its share of entitlement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareRow {
    /// Team.
    pub team: String,
    /// Cohorts its ClusterQueues belong to.
    pub cohorts: Vec<String>,
    /// GPU-hours used.
    pub gpu_hours: f64,
    /// Its part of all GPU-hours (0–1).
    pub usage_share: f64,
    /// Nominal GPU quota of its ClusterQueues.
    pub nominal_gpus: f64,
    /// Its part of all nominal GPU quota (0–1).
    pub entitlement_share: f64,
    /// usage share ÷ entitlement share; `None` without entitlement.
    pub ratio: Option<f64>,
    /// GPU-hours its queues used above their nominal quota (borrowed from the cohort).
    pub borrowed_gpu_hours: f64,
    /// Dominant-resource share (DRF), time-weighted over the window: the mean over the window
    /// of max over GPU, CPU and memory of (what the team holds ÷ all nominal quota of that
    /// resource); `None` when no resource has quota or the window is empty.
    pub dominant_share: Option<f64>,
    /// The resource (`gpu`, `cpu`, `memory`) with the largest time-weighted share; `None`
    /// when the team held nothing with quota.
    pub dominant_resource: Option<String>,
}

/// Share of usage against share of entitlement, and how fair that is.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Fairness {
    /// One row per team, most over its share first.
    pub teams: Vec<ShareRow>,
    /// Jain's index over the teams' usage/entitlement ratios; `None` with no entitled team.
    pub jain_index: Option<f64>,
    /// How many teams the index is over (those with entitlement).
    pub teams_in_index: u32,
}

/// Waits for quota in one ClusterQueue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitRow {
    /// Cluster.
    pub cluster: String,
    /// ClusterQueue.
    pub cluster_queue: String,
    /// Waits that ended in the window or were still going at its end.
    pub waits: u32,
    /// Of those, still waiting at the window's end (their length so far is counted).
    pub still_waiting: u32,
    /// Median wait, seconds.
    pub p50_s: f64,
    /// 95th percentile wait, seconds (linear interpolation between ranks).
    pub p95_s: f64,
    /// Longest wait, seconds.
    pub max_s: f64,
}

/// Preemptions one team suffered and caused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreemptionRow {
    /// Team.
    pub team: String,
    /// Its workloads preempted.
    pub suffered: u32,
    /// GPUs those workloads lost.
    pub suffered_gpus: u32,
    /// Preemptions whose preemptor is known to be its.
    pub caused: u32,
}

/// Preemptions per team.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Preemptions {
    /// One row per team that suffered or caused one.
    pub teams: Vec<PreemptionRow>,
    /// Preemptions whose preemptor the message does not tell (Kueue names it by UID only).
    pub unattributed: u32,
}

/// Every measure over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    /// The window.
    pub window: Window,
    /// Prices used, per product that appears in the window.
    pub prices: Vec<Price>,
    /// False when no GPU in the window reported its utilisation ("no utilisation data").
    pub utilisation_data: bool,
    /// Usage per grouping asked for.
    pub groups: Vec<Grouping>,
    /// GPU-hours, cost and idle over everything.
    pub total: UsageRow,
    /// Share of usage vs share of entitlement, Jain's index.
    pub fairness: Fairness,
    /// Queue waits per ClusterQueue.
    pub waits: Vec<WaitRow>,
    /// Preemptions per team.
    pub preemptions: Preemptions,
}

impl CostReport {
    /// The rows of one grouping, if it was computed.
    pub fn rows(&self, by: By) -> Option<&[UsageRow]> {
        self.groups.iter().find(|g| g.by == by).map(|g| g.rows.as_slice())
    }
}

/// A team whose usage share is more than 10 % above its entitlement share is over its share.
pub const OVER: f64 = 1.1;
/// … and more than 10 % below it, under.
pub const UNDER: f64 = 0.9;

/// Who is over and under their share, in plain words:
/// `team research uses 46 % of GPU-hours on a 25 % entitlement (borrowing from cohort ai);
/// team search is under its share`.
pub fn verdict(f: &Fairness) -> String {
    verdict_parts(f).join("; ")
}

/// The verdict's clauses: one per team over its share, then one for the teams under it (or
/// one sentence saying everyone is at their share, or that shares cannot be compared).
pub fn verdict_parts(f: &Fairness) -> Vec<String> {
    let pct = |x: f64| format!("{:.0} %", x * 100.0);
    let mut over = Vec::new();
    let mut under = Vec::new();
    for t in &f.teams {
        match t.ratio {
            Some(r) if r > OVER => {
                let mut s = format!(
                    "{} uses {} of GPU-hours on a {} entitlement",
                    team_words(&t.team),
                    pct(t.usage_share),
                    pct(t.entitlement_share)
                );
                if t.borrowed_gpu_hours > 0.0 {
                    match t.cohorts.as_slice() {
                        [] => {}
                        [one] => s.push_str(&format!(" (borrowing from cohort {one})")),
                        many => s.push_str(&format!(" (borrowing from cohorts {})", many.join(", "))),
                    }
                }
                over.push(s);
            }
            Some(r) if r < UNDER => under.push(t.team.clone()),
            _ => {}
        }
    }
    let mut parts = over;
    match under.as_slice() {
        [] => {}
        [one] => parts.push(format!("{} is under its share", team_words(one))),
        many => parts.push(format!("teams {} are under their share", many.join(", "))),
    }
    if parts.is_empty() {
        parts.push(if f.teams_in_index == 0 {
            "no team has a GPU quota in the window: shares cannot be compared".into()
        } else {
            "every team uses about its share of GPU-hours".into()
        });
    }
    parts
}

/// `team research`, but `team-a` alone: its name already says it.
fn team_words(name: &str) -> String {
    if name.starts_with("team") { name.to_string() } else { format!("team {name}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(team: &str, usage: f64, entitled: f64, borrowed: f64, cohorts: &[&str]) -> ShareRow {
        ShareRow {
            team: team.into(),
            cohorts: cohorts.iter().map(|c| c.to_string()).collect(),
            gpu_hours: usage * 100.0,
            usage_share: usage,
            nominal_gpus: entitled * 100.0,
            entitlement_share: entitled,
            ratio: (entitled > 0.0).then(|| usage / entitled),
            borrowed_gpu_hours: borrowed,
            dominant_share: None,
            dominant_resource: None,
        }
    }

    #[test]
    fn the_verdict_names_who_is_over_and_under() {
        let f = Fairness {
            teams: vec![
                row("research", 0.46, 0.25, 3.0, &["ai"]),
                row("vision", 0.30, 0.30, 0.0, &["ai"]),
                row("search", 0.24, 0.45, 0.0, &["ai"]),
            ],
            jain_index: Some(0.8),
            teams_in_index: 3,
        };
        assert_eq!(
            verdict(&f),
            "team research uses 46 % of GPU-hours on a 25 % entitlement (borrowing from cohort ai); \
             team search is under its share"
        );
    }

    #[test]
    fn teams_named_team_are_not_called_team_twice() {
        let f = Fairness {
            teams: vec![row("team-a", 0.4, 0.5, 0.0, &[]), row("research", 0.6, 0.56, 0.0, &[])],
            jain_index: Some(0.9),
            teams_in_index: 2,
        };
        assert_eq!(verdict(&f), "team-a is under its share");
    }

    #[test]
    fn a_fair_or_empty_fleet_says_so() {
        let fair =
            Fairness { teams: vec![row("a", 0.5, 0.5, 0.0, &[])], jain_index: Some(1.0), teams_in_index: 1 };
        assert_eq!(verdict(&fair), "every team uses about its share of GPU-hours");
        assert!(verdict(&Fairness::default()).contains("no team has a GPU quota"));
    }

    #[test]
    fn groupings_parse_from_their_words() {
        for by in By::ALL {
            assert_eq!(By::parse(by.label()), Some(by));
        }
        assert_eq!(By::parse("flavor"), None);
    }
}
