//! The scheduler's FailedScheduling message (kube-scheduler `FitError.Error()`, REFERENCE.md §4):
//!
//! ```text
//! 0/<N> nodes are available: <count> <reason>, <count> <reason>. preemption: 0/<N> nodes are available: <count> <reason>.
//! ```
//!
//! Reasons are sorted as strings by the scheduler; the ` preemption: …` part exists from k8s 1.24 on.
//! Tolerated: a `kubectl describe` / `kubectl get events` column prefix (`Warning FailedScheduling 40s
//! (x2 over 40s) default-scheduler 0/2 nodes …`), the event recorder's `(combined from similar events): `,
//! a trailing `..`, and commas inside a reason (`{key: a, b}` taints, the old `node(s) had taint {…}, that
//! the pod didn't tolerate`). A new reason starts only where `, ` is followed by `<digits> `.

/// The parsed FailedScheduling message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitFailure {
    /// Total nodes the scheduler considered (`0/40 nodes` → 40).
    pub nodes_total: u32,
    /// `(reason, node count)` in message order (`Insufficient nvidia.com/gpu` → 32).
    pub reasons: Vec<(String, u32)>,
    /// The preemption post-filter's summary, when the message has one.
    pub preemption: Option<PreemptionAttempt>,
}

/// The ` preemption: 0/<N> nodes are available: …` part of a FailedScheduling message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreemptionAttempt {
    /// Total nodes considered for preemption.
    pub nodes_total: u32,
    /// `(reason, node count)` in message order (`No preemption victims found for incoming pod` → 32).
    pub reasons: Vec<(String, u32)>,
}

const AVAILABLE: &str = " nodes are available: ";
const PREEMPTION: &str = " preemption: ";

/// Parses a FailedScheduling message, with or without a leading event-column prefix.
///
/// Returns `None` when the text has no `0/<N> nodes are available: ` part.
pub fn parse_failed_scheduling(msg: &str) -> Option<FitFailure> {
    let (nodes_total, rest) = split_total(msg)?;
    let (head, tail) = match rest.find(PREEMPTION) {
        Some(i) => (&rest[..i], Some(&rest[i + PREEMPTION.len()..])),
        None => (rest, None),
    };
    let reasons = parse_reasons(head);
    let preemption = tail.and_then(|t| {
        let (total, list) = split_total(t)?;
        Some(PreemptionAttempt { nodes_total: total, reasons: parse_reasons(list) })
    });
    Some(FitFailure { nodes_total, reasons, preemption })
}

/// Finds `<k>/<N> nodes are available: ` and returns `N` and what follows it.
fn split_total(s: &str) -> Option<(u32, &str)> {
    let at = s.find(AVAILABLE)?;
    let before = &s[..at];
    let head = before.trim_end_matches(|c: char| c.is_ascii_digit());
    let total: u32 = before[head.len()..].parse().ok()?;
    let fit = head.strip_suffix('/')?;
    if fit.trim_end_matches(|c: char| c.is_ascii_digit()).len() == fit.len() {
        return None;
    }
    Some((total, &s[at + AVAILABLE.len()..]))
}

/// `32 Insufficient nvidia.com/gpu, 8 node(s) had untolerated taint {a: b}.` → pairs.
fn parse_reasons(list: &str) -> Vec<(String, u32)> {
    let list = list.trim_end().trim_end_matches('.');
    let mut out: Vec<(String, u32)> = Vec::new();
    for part in split_items(list) {
        match leading_count(part) {
            Some((n, reason)) if !reason.is_empty() => out.push((reason.to_string(), n)),
            _ => {
                // Not `<count> <reason>`: keep it with the previous reason rather than lose it.
                if let Some(last) = out.last_mut() {
                    last.0.push_str(", ");
                    last.0.push_str(part);
                }
            }
        }
    }
    out
}

/// Splits at `, ` outside braces and only where the next item starts with `<digits> `.
fn split_items(list: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth: i32 = 0;
    let mut start = 0;
    let bytes = list.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => depth = (depth - 1).max(0),
            b',' if depth == 0
                && bytes.get(i + 1) == Some(&b' ')
                && leading_count(&list[i + 2..]).is_some() =>
            {
                items.push(&list[start..i]);
                start = i + 2;
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    items.push(&list[start..]);
    items
}

/// `32 Insufficient cpu` → `(32, "Insufficient cpu")`.
fn leading_count(s: &str) -> Option<(u32, &str)> {
    let (n, rest) = s.split_once(' ')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((n.parse().ok()?, rest))
}

/// The short words for one scheduler reason (`node(s) had untolerated taint {…}` → `untolerated taint`).
pub fn reason_words(reason: &str) -> String {
    let r = reason.trim();
    if let Some(res) = r.strip_prefix("Insufficient ") {
        return format!("insufficient {res}");
    }
    if r.contains("untolerated taint") || r.contains("that the pod didn't tolerate") {
        return "untolerated taint".into();
    }
    let known: &[(&str, &str)] = &[
        ("node(s) didn't match Pod's node affinity/selector", "node affinity/selector mismatch"),
        ("node(s) didn't match node selector", "node affinity/selector mismatch"),
        ("node(s) were unschedulable", "unschedulable"),
        ("No preemption victims found for incoming pod", "no preemption victims"),
        ("Preemption is not helpful for scheduling", "preemption not helpful"),
    ];
    if let Some((_, words)) = known.iter().find(|(k, _)| *k == r) {
        return (*words).to_string();
    }
    let r = r.strip_prefix("node(s) ").unwrap_or(r);
    let mut chars = r.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn words_list(reasons: &[(String, u32)]) -> String {
    let mut sorted: Vec<&(String, u32)> = reasons.iter().collect();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.1));
    sorted.iter().map(|(r, n)| format!("{n} {}", reason_words(r))).collect::<Vec<_>>().join(", ")
}

/// The failure in words, most common reason first:
/// `0/40 nodes: 32 insufficient nvidia.com/gpu, 8 untolerated taint`, then
/// `; preemption: 32 no preemption victims, 8 preemption not helpful` when present.
pub fn summary(f: &FitFailure) -> String {
    let mut s = format!("0/{} nodes: {}", f.nodes_total, words_list(&f.reasons));
    if let Some(p) = &f.preemption {
        s.push_str(&format!("; preemption: {}", words_list(&p.reasons)));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    const FIXTURE: &str = include_str!(
        "../../../tests/fixtures/real/gpu/events-failedscheduling-insufficient-gpu-excerpts.txt"
    );

    fn pairs(v: &[(&str, u32)]) -> Vec<(String, u32)> {
        v.iter().map(|(r, n)| ((*r).to_string(), *n)).collect()
    }

    #[test]
    fn every_fixture_line_parses_and_counts_fit_the_total() {
        let lines: Vec<&str> =
            FIXTURE.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).collect();
        assert_eq!(lines.len(), 3);
        for line in lines {
            let f = parse_failed_scheduling(line).unwrap_or_else(|| panic!("no parse: {line}"));
            assert!(!f.reasons.is_empty(), "{line}");
            for (r, n) in &f.reasons {
                assert!(*n <= f.nodes_total, "{r}: {n} > {} in {line}", f.nodes_total);
                assert!(!r.ends_with('.'), "{r}");
            }
            if let Some(p) = &f.preemption {
                assert_eq!(p.nodes_total, f.nodes_total);
                for (r, n) in &p.reasons {
                    assert!(*n <= p.nodes_total, "{r}");
                    assert!(!r.ends_with('.'), "{r}");
                }
            }
        }
    }

    #[test]
    fn issue430_title_with_double_dot() {
        let line = FIXTURE.lines().nth(1).unwrap();
        let f = parse_failed_scheduling(line).unwrap();
        assert_eq!(
            f,
            FitFailure {
                nodes_total: 1,
                reasons: pairs(&[("Insufficient nvidia.com/gpu", 1)]),
                preemption: Some(PreemptionAttempt {
                    nodes_total: 1,
                    reasons: pairs(&[("No preemption victims found for incoming pod", 1)]),
                }),
            }
        );
        assert_eq!(
            summary(&f),
            "0/1 nodes: 1 insufficient nvidia.com/gpu; preemption: 1 no preemption victims"
        );
    }

    #[test]
    fn describe_prefix_and_no_preemption_part() {
        let line = FIXTURE.lines().nth(3).unwrap();
        let f = parse_failed_scheduling(line).unwrap();
        assert_eq!(f.nodes_total, 2);
        assert_eq!(
            f.reasons,
            pairs(&[("Insufficient nvidia.com/gpu", 1), ("node(s) were unschedulable", 1)])
        );
        assert_eq!(f.preemption, None);
        let line = FIXTURE.lines().nth(5).unwrap();
        let f = parse_failed_scheduling(line).unwrap();
        assert_eq!(f.nodes_total, 1);
        assert_eq!(f.preemption.unwrap().reasons[0].0, "No preemption victims found for incoming pod");
    }

    #[test]
    fn reference_example_and_summary() {
        let m = "0/40 nodes are available: 32 Insufficient nvidia.com/gpu, 8 node(s) had untolerated taint {nvidia.com/gpu: present}. preemption: 0/40 nodes are available: 32 No preemption victims found for incoming pod, 8 Preemption is not helpful for scheduling.";
        let f = parse_failed_scheduling(m).unwrap();
        assert_eq!(
            f.reasons,
            pairs(&[
                ("Insufficient nvidia.com/gpu", 32),
                ("node(s) had untolerated taint {nvidia.com/gpu: present}", 8)
            ])
        );
        assert_eq!(
            summary(&f),
            "0/40 nodes: 32 insufficient nvidia.com/gpu, 8 untolerated taint; preemption: 32 no preemption victims, 8 preemption not helpful"
        );
    }

    #[test]
    fn reference_eight_node_example() {
        let m = "0/8 nodes are available: 1 Insufficient cpu, 3 Insufficient memory, 8 Insufficient nvidia.com/gpu. preemption: 0/8 nodes are available: 8 No preemption victims found for incoming pod.";
        let f = parse_failed_scheduling(m).unwrap();
        assert_eq!(f.nodes_total, 8);
        assert_eq!(
            f.reasons,
            pairs(&[("Insufficient cpu", 1), ("Insufficient memory", 3), ("Insufficient nvidia.com/gpu", 8)])
        );
        assert_eq!(
            summary(&f),
            "0/8 nodes: 8 insufficient nvidia.com/gpu, 3 insufficient memory, 1 insufficient cpu; preemption: 8 no preemption victims"
        );
    }

    #[test]
    fn commas_inside_braces_and_old_taint_wording() {
        let m = "0/5 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu, a100}, 3 node(s) didn't match Pod's node affinity/selector.";
        let f = parse_failed_scheduling(m).unwrap();
        assert_eq!(
            f.reasons,
            pairs(&[
                ("node(s) had untolerated taint {dedicated: gpu, a100}", 2),
                ("node(s) didn't match Pod's node affinity/selector", 3)
            ])
        );
        assert_eq!(summary(&f), "0/5 nodes: 3 node affinity/selector mismatch, 2 untolerated taint");
        // k8s < 1.24 wording: a comma outside the braces, followed by words.
        let old = "0/3 nodes are available: 1 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate, 2 Insufficient nvidia.com/gpu.";
        let f = parse_failed_scheduling(old).unwrap();
        assert_eq!(
            f.reasons,
            pairs(&[
                ("node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate", 1),
                ("Insufficient nvidia.com/gpu", 2)
            ])
        );
        assert_eq!(reason_words(&f.reasons[0].0), "untolerated taint");
    }

    #[test]
    fn older_form_and_combined_prefix() {
        let f = parse_failed_scheduling("0/3 nodes are available: 3 Insufficient nvidia.com/gpu.").unwrap();
        assert_eq!(f.reasons, pairs(&[("Insufficient nvidia.com/gpu", 3)]));
        let f = parse_failed_scheduling(
            "(combined from similar events): 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
        )
        .unwrap();
        assert_eq!(f.nodes_total, 3);
    }

    #[test]
    fn not_a_fit_error() {
        assert_eq!(parse_failed_scheduling(""), None);
        assert_eq!(parse_failed_scheduling("no nodes available to schedule pods"), None);
        assert_eq!(parse_failed_scheduling("nodes are available: 3 x"), None);
        assert_eq!(parse_failed_scheduling("/3 nodes are available: 3 x"), None);
        assert_eq!(parse_failed_scheduling("0/99999999999 nodes are available: 3 x"), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = parse_failed_scheduling(&s).map(|f| summary(&f));
        }

        #[test]
        fn never_panics_near_the_format(s in "[0-9]{0,3}/[0-9]{0,3} nodes are available: [0-9 a-z{},.:/()-]{0,60}( preemption: [0-9]/[0-9] nodes are available: [0-9 a-z{},.]{0,30})?") {
            let _ = parse_failed_scheduling(&s).map(|f| summary(&f));
        }
    }
}
