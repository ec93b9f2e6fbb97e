//! `fleettop why workload/NAME`, `why pod/NAME` (a pending GPU pod) and `why --waiting`: why
//! it waits ([`crate::wait`]), as text (the GPU pane's detail view), JSON or Markdown. Exit
//! status 0 when something waits and is explained, 1 when nothing matched.

use std::io::Write;

use jiff::Timestamp;
use serde::Serialize;

use super::why::WhyArgs;
use crate::state::FleetState;
use crate::ui::panes::gpu_wait::{wait_detail, wait_markdown};
use crate::wait::{self, SubjectKind, Target, Verdict, Wait};

/// What a wait question asks, when `args` asks one: `--waiting`, `workload/NAME`, or
/// `pod/NAME` naming a pending GPU pod (another pod's question is about denials).
pub fn target(state: &FleetState, args: &WhyArgs) -> Option<Option<Target>> {
    if args.waiting {
        return Some(None);
    }
    let (kind, name) = args.target.as_deref()?.split_once('/')?;
    let kind = wait::subject_kind(kind)?;
    if kind == SubjectKind::Pod && !wait::has_pending_pod(state, name, args.namespace.as_deref()) {
        return None;
    }
    Some(Some(Target {
        kind,
        name: name.to_string(),
        namespace: args.namespace.clone(),
        clusters: args.clusters.clone(),
    }))
}

#[derive(Serialize)]
struct Listed<'a> {
    cluster: &'a str,
    kind: SubjectKind,
    namespace: &'a str,
    name: &'a str,
    gpus: u32,
    since: Timestamp,
    waited_s: i64,
    verdict: &'a Verdict,
}

#[derive(Serialize)]
struct ListOut<'a> {
    at: Timestamp,
    waiting: usize,
    waiters: Vec<Listed<'a>>,
}

#[derive(Serialize)]
struct WaitsOut<'a> {
    at: Timestamp,
    found: usize,
    waits: &'a [Wait],
}

/// Answers a wait question (see [`target`]); true when something waits and is explained.
pub fn write(
    state: &FleetState,
    args: &WhyArgs,
    target: Option<&Target>,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let now = state.now();
    let Some(target) = target else {
        let mut all = wait::waiters(state);
        if !args.clusters.is_empty() {
            all.retain(|w| args.clusters.iter().any(|p| crate::model::glob_matches(p, &w.cluster)));
        }
        if let Some(ns) = &args.namespace {
            all.retain(|w| &w.namespace == ns);
        }
        if args.json {
            let waiters = all
                .iter()
                .map(|w| Listed {
                    cluster: &w.cluster,
                    kind: w.kind,
                    namespace: &w.namespace,
                    name: &w.name,
                    gpus: w.gpus,
                    since: w.since,
                    waited_s: w.waited_s,
                    verdict: &w.verdict,
                })
                .collect();
            crate::sanitise::write_json_pretty(&mut *out, &ListOut { at: now, waiting: all.len(), waiters })?;
            writeln!(out)?;
            return Ok(!all.is_empty());
        }
        let mut text = String::new();
        if args.markdown {
            text.push_str(&format!("## {} waiting at {now}\n\n| waited | cluster | what | GPUs | verdict |\n|---|---|---|---|---|\n", all.len()));
            for w in &all {
                text.push_str(&format!(
                    "| {} | `{}` | {} `{}/{}` | {} | {} |\n",
                    crate::ui::widgets::format::age_precise(jiff::SignedDuration::from_secs(w.waited_s)),
                    w.cluster,
                    w.kind.label(),
                    w.namespace,
                    w.name,
                    w.gpus,
                    crate::ui::widgets::format::one_line(&w.verdict.words).replace('|', "/")
                ));
            }
        } else {
            text.push_str(&format!("{} waiting at {now}, longest first\n\n", all.len()));
            for w in &all {
                text.push_str(&format!(
                    "  {:>7} {:<16} {:<8} {:<56} {}\n",
                    crate::ui::widgets::format::age_precise(jiff::SignedDuration::from_secs(w.waited_s)),
                    w.cluster,
                    w.kind.label(),
                    format!("{}/{}", w.namespace, w.name),
                    w.verdict.words
                ));
            }
        }
        out.write_all(crate::sanitise::text(&text).as_bytes())?;
        return Ok(!all.is_empty());
    };
    let found = wait::find(state, target);
    let shown = &found[..found.len().min(if args.limit == 0 { usize::MAX } else { args.limit })];
    if args.json {
        crate::sanitise::write_json_pretty(
            &mut *out,
            &WaitsOut { at: now, found: found.len(), waits: shown },
        )?;
        writeln!(out)?;
        return Ok(!found.is_empty());
    }
    let mut text = String::new();
    if found.is_empty() {
        text.push_str(&format!(
            "no waiting {} {} (state at {now}: {} waiting in the fleet; fleettop why --waiting lists them)\n",
            target.kind.label(),
            target.name,
            wait::waiters(state).len()
        ));
    }
    for (i, w) in shown.iter().enumerate() {
        if i > 0 {
            text.push_str(&format!("\n{}\n", "─".repeat(72)));
        }
        if args.markdown {
            text.push_str(&wait_markdown(now, w));
        } else {
            text.push_str(&wait_detail(now, w).to_text());
        }
    }
    out.write_all(crate::sanitise::text(&text).as_bytes())?;
    Ok(!found.is_empty())
}
