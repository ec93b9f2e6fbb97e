//! `fleettop why`: the explanation of every denial that matches an object, a policy or a
//! time window, as text (the Denials detail view) or JSON. Exit status 0 when a denial was
//! found, 1 when none was, 2 on an error.

use std::io::Write;

use anyhow::Context;
use jiff::Timestamp;
use serde::Serialize;

use crate::explain::{self, Explanation, Query};
use crate::state::FleetState;
use crate::ui::panes::denials::explanation_detail;

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct WhyArgs {
    /// `kind/name` (`deployment/payments`, `pod/x`).
    pub target: Option<String>,
    /// Namespace of the object.
    pub namespace: Option<String>,
    /// Policy name.
    pub policy: Option<String>,
    /// Only denials seen within this long before the state's clock (`1h`).
    pub since: Option<jiff::SignedDuration>,
    /// Cluster names or patterns (`--context`).
    pub clusters: Vec<String>,
    /// Print JSON.
    pub json: bool,
    /// At most this many explanations (0: all).
    pub limit: usize,
    /// List every waiter of the fleet (`--waiting`, see [`super::why_wait`]).
    pub waiting: bool,
    /// Print a wait's chain as Markdown.
    pub markdown: bool,
}

/// Builds the query; the clock is the state's (the end of a recording, now when live).
pub fn query(args: &WhyArgs, now: Timestamp) -> anyhow::Result<Query> {
    let object = match &args.target {
        None => None,
        Some(t) => {
            let (kind, name) = t
                .split_once('/')
                .filter(|(k, n)| !k.is_empty() && !n.is_empty() && !n.contains('/'))
                .with_context(|| {
                    format!("{t:?}: expected KIND/NAME, like deployment/payments or pod/web-0")
                })?;
            Some((kind.to_string(), name.to_string()))
        }
    };
    let since = args.since.map(|d| now.checked_sub(d).unwrap_or(Timestamp::MIN));
    if object.is_none() && args.policy.is_none() && since.is_none() {
        anyhow::bail!("say what to explain: KIND/NAME, --policy NAME or --since DURATION (or several)");
    }
    Ok(Query {
        object,
        namespace: args.namespace.clone(),
        policy: args.policy.clone(),
        clusters: args.clusters.clone(),
        since,
    })
}

#[derive(Serialize)]
struct JsonOut<'a> {
    at: Timestamp,
    found: usize,
    shown: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rollouts: Vec<String>,
    denials: Vec<Explanation<'a>>,
}

/// Writes the explanations that answer `args` in `state` to `out`; true when any denial
/// matched.
pub fn write(state: &FleetState, args: &WhyArgs, out: &mut dyn Write) -> anyhow::Result<bool> {
    // `workload/NAME`, `pod/NAME` of a pending GPU pod and `--waiting` ask why it waits.
    if let Some(target) = super::why_wait::target(state, args) {
        return super::why_wait::write(state, args, target.as_ref(), out);
    }
    if args.markdown {
        anyhow::bail!(
            "--markdown explains waits: workload/NAME, pod/NAME of a pending GPU pod, or --waiting"
        );
    }
    let q = query(args, state.now())?;
    let found = explain::find(state, &q);
    let shown: Vec<Explanation> = found
        .iter()
        .take(if args.limit == 0 { usize::MAX } else { args.limit })
        .filter_map(|id| explain::explain(state, id))
        .collect();
    // A rollout of the policy asked about (or of the policies found) explains the wave.
    let policies: std::collections::BTreeSet<&str> = shown.iter().map(|e| e.denial.policy_name()).collect();
    let rollouts: Vec<String> = crate::rollouts::rollouts(state)
        .into_iter()
        .filter(|r| policies.contains(r.policy.as_str()) || q.policy.as_deref() == Some(r.policy.as_str()))
        .map(|r| r.words())
        .collect();
    if args.json {
        // JSON stays exact: controls are written as JSON escapes (`crate::sanitise::JsonFormatter`).
        let doc =
            JsonOut { at: state.now(), found: found.len(), shown: shown.len(), rollouts, denials: shown };
        crate::sanitise::write_json_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(!found.is_empty());
    }
    // Cluster names, objects and messages are outside text: the whole output passes the
    // terminal sanitiser.
    let mut text = Vec::new();
    write_text(state, &found, &shown, &rollouts, &mut text)?;
    out.write_all(crate::sanitise::text(&String::from_utf8_lossy(&text)).as_bytes())?;
    Ok(!found.is_empty())
}

/// What among the matching rows is counted apart from policy denials (webhook failures,
/// unattributed refusals per cluster, RBAC refusals).
fn apart(state: &FleetState, found: &[&crate::state::RecordId]) -> crate::ui::summaries::Apart {
    crate::ui::summaries::Apart::of_rows(found.iter().filter_map(|id| state.denial_row(id).map(|d| (*id, d))))
}

/// The text form of `why`, before it is sanitised.
fn write_text(
    state: &FleetState,
    found: &[&crate::state::RecordId],
    shown: &[Explanation],
    rollouts: &[String],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if found.is_empty() {
        writeln!(
            out,
            "no denial matches (state at {}, {} denial rows)",
            state.now(),
            state.merged_denials().len()
        )?;
        return Ok(());
    }
    let more = found.len() - shown.len();
    writeln!(
        out,
        "{} matching denial{} at {}{}",
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        state.now(),
        if more > 0 {
            format!(" (the latest {} shown; --limit 0 for all)", shown.len())
        } else {
            String::new()
        }
    )?;
    for r in rollouts {
        writeln!(out, "{r}")?;
    }
    let apart = apart(state, found);
    if !apart.is_empty() {
        let words: Vec<String> = apart
            .segments()
            .into_iter()
            .map(|(t, _)| t.trim().trim_start_matches("· ").to_string())
            .collect();
        writeln!(out, "counted apart from policy denials: {}", words.join(", "))?;
    }
    writeln!(out)?;
    const LISTED: usize = 50;
    for id in found.iter().take(LISTED) {
        let Some(d) = state.denial_row(id) else { continue };
        let action = match &d.class {
            crate::model::DenialClass::Admission => d.enforcement.label(),
            crate::model::DenialClass::WebhookUnavailable { .. } => "down",
            crate::model::DenialClass::Unattributed => "unattr",
            crate::model::DenialClass::Authorization => "rbac",
        };
        writeln!(
            out,
            "  {:<16} {:<6} ×{:<5} {:<40} {} (last {})",
            id.cluster.as_str(),
            action,
            d.count,
            format!("{}/{}", d.policy_name(), d.rule.as_deref().unwrap_or("-")),
            crate::state::merged_object(&d.object).display(),
            crate::ui::widgets::format::clock(d.last_seen)
        )?;
    }
    if found.len() > LISTED {
        writeln!(out, "  … and {} more", found.len() - LISTED)?;
    }
    for e in shown {
        writeln!(out, "\n{}", "─".repeat(72))?;
        write!(out, "{}", explanation_detail(state.now(), e).to_text())?;
    }
    Ok(())
}
