//! Kueue Workload condition messages (REFERENCE.md §3).
//!
//! `QuotaReserved=False` messages come from the flavor assigner (`pkg/scheduler/flavorassigner`): per pod
//! set `couldn't assign flavors to pod set <ps>: <reasons>`, pod sets joined by `; `, the reasons of one
//! pod set sorted and joined by `, ` — and a reason itself may contain `, ` (`…, 4 more needed`). Reason
//! shapes, newest first, all kept because clusters run old Kueue releases:
//!
//! - `insufficient unused quota for <res> in flavor <f>, <qty> more needed`
//! - `insufficient quota for <res> in flavor <f>, previously considered podsets requests (<a>) + current podset request (<b>) > maximum capacity (<c>)`
//! - `insufficient quota for <res> in flavor <f>, request > maximum capacity (<a> > <b>)`
//! - `insufficient unused quota in cohort for <res> in flavor <f>, <qty> more needed` (older)
//! - `insufficient quota for <res> in flavor <f> in ClusterQueue` (older; in the troubleshooting docs)
//! - `borrowing limit for <res> in flavor <f> exceeded`, `flavor <f> doesn't match node affinity`,
//!   `untolerated taint <key=value:Effect> in flavor <f>`, `flavor <f> not found`
//!
//! plus queue problems (`LocalQueue user-queue doesn't exist`). Preemption (`Evicted`/`Preempted`
//! conditions, `pkg/scheduler/preemption`): `Preempted to accommodate a workload (UID: <u>, JobUID: <j>)
//! due to <cause>[; preemptor path: <p>; preemptee path: <q>]`, older `(UID: <u>)` only, older still
//! `Preempted to accommodate a higher priority Workload`; `Previously: ` is prefixed once it is over.

/// Why one pod set could not get one flavor of one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum ShortfallKind {
    /// `insufficient unused quota …, N more needed`: quota exists but is in use (wait, or preempt).
    UnusedQuota,
    /// Older `insufficient unused quota in cohort …, N more needed`.
    UnusedCohortQuota,
    /// The request exceeds what the queue could ever have (nominal + borrowable); never admitted as is.
    ExceedsMaximumCapacity {
        /// Requested (including earlier pod sets), in the resource's base unit.
        requested: Option<f64>,
        /// Maximum capacity, in the resource's base unit.
        maximum: Option<f64>,
    },
    /// Older `insufficient quota for <res> in flavor <f> in ClusterQueue`.
    Quota,
    /// `borrowing limit for <res> in flavor <f> exceeded`.
    BorrowingLimitExceeded,
    /// `flavor <f> doesn't match node affinity`.
    NodeAffinityMismatch,
    /// `untolerated taint <taint> in flavor <f>`.
    UntoleratedTaint {
        /// The taint as Kueue prints it (`key=value:Effect`).
        taint: String,
    },
    /// `flavor <f> not found`.
    FlavorNotFound,
    /// `LocalQueue <name> doesn't exist`.
    LocalQueueMissing {
        /// LocalQueue name.
        name: String,
    },
    /// `ClusterQueue <name> doesn't exist`.
    ClusterQueueMissing {
        /// ClusterQueue name.
        name: String,
    },
    /// `ClusterQueue <name> is inactive`.
    ClusterQueueInactive {
        /// ClusterQueue name.
        name: String,
    },
    /// A reason of a pod set this parser does not know, verbatim.
    Other(String),
}

/// One thing that keeps a workload from getting quota.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaShortfall {
    /// Pod set name (`main`), when the message names one.
    pub pod_set: Option<String>,
    /// Resource (`nvidia.com/gpu`), when the reason names one.
    pub resource: Option<String>,
    /// ResourceFlavor (`h100-80gb`), when the reason names one.
    pub flavor: Option<String>,
    /// How much more is needed, in the resource's base unit (GPUs, cores, bytes); for
    /// [`ShortfallKind::ExceedsMaximumCapacity`] the request minus the maximum.
    pub more_needed: Option<f64>,
    /// The quantity as printed (`4`, `600Mi`), for display.
    pub more_needed_text: Option<String>,
    /// What kind of shortfall.
    pub reason: ShortfallKind,
}

const POD_SET_PREFIXES: [&str; 2] =
    ["couldn't assign flavors to pod set ", "failed to assign flavors to pod set "];

/// Parses a `QuotaReserved=False` (or `Pending` event) message into shortfalls, in message order.
///
/// Messages that are not about quota or queues (`Quota reserved in ClusterQueue x`) give an empty list.
pub fn parse_pending(msg: &str) -> Vec<QuotaShortfall> {
    let mut out = Vec::new();
    let mut pod_set: Option<String> = None;
    for chunk in msg.trim().split("; ") {
        let mut body = chunk;
        let mut in_pod_set = pod_set.is_some();
        for p in POD_SET_PREFIXES {
            if let Some(i) = chunk.find(p) {
                let rest = &chunk[i + p.len()..];
                let Some((name, reasons)) = rest.split_once(": ") else { continue };
                pod_set = Some(name.to_string());
                body = reasons;
                in_pod_set = true;
                break;
            }
        }
        for reason in split_reasons(body) {
            let s = parse_reason(reason, pod_set.clone());
            if in_pod_set || !matches!(s.reason, ShortfallKind::Other(_)) {
                out.push(s);
            }
        }
    }
    out
}

/// Splits one pod set's reasons at `, ` except where the next piece continues the reason before
/// (`4 more needed`, `request > maximum capacity (…)`, `previously considered …`).
fn split_reasons(body: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut search = 0;
    while let Some(rel) = body[search..].find(", ") {
        let at = search + rel;
        let next = &body[at + 2..];
        let continues = next.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-')
            || next.starts_with("request > ")
            || next.starts_with("previously considered ");
        if !continues {
            out.push(&body[start..at]);
            start = at + 2;
        }
        search = at + 2;
    }
    out.push(&body[start..]);
    out.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect()
}

fn shortfall(pod_set: Option<String>, reason: ShortfallKind) -> QuotaShortfall {
    QuotaShortfall {
        pod_set,
        resource: None,
        flavor: None,
        more_needed: None,
        more_needed_text: None,
        reason,
    }
}

/// `<res> in flavor <f><tail>` → (res, f, tail); the flavor ends at `, ` or ` in ClusterQueue` or the end.
fn resource_and_flavor(s: &str) -> Option<(&str, &str, &str)> {
    let (res, rest) = s.split_once(" in flavor ")?;
    let end = [rest.find(", "), rest.find(" in ClusterQueue"), rest.find(" exceeded")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    Some((res, &rest[..end], &rest[end..]))
}

fn parse_reason(r: &str, pod_set: Option<String>) -> QuotaShortfall {
    let r = r.trim().trim_end_matches('.');
    let mut s = shortfall(pod_set, ShortfallKind::Other(r.to_string()));
    let with_rf = |s: &mut QuotaShortfall, res: &str, flavor: &str, kind: ShortfallKind| {
        s.resource = Some(res.to_string());
        s.flavor = Some(flavor.to_string());
        s.reason = kind;
    };
    for (prefix, kind) in [
        ("insufficient unused quota in cohort for ", ShortfallKind::UnusedCohortQuota),
        ("insufficient unused quota for ", ShortfallKind::UnusedQuota),
    ] {
        if let Some(rest) = r.strip_prefix(prefix) {
            if let Some((res, flavor, tail)) = resource_and_flavor(rest) {
                with_rf(&mut s, res, flavor, kind);
                let qty = tail.trim_start_matches(", ");
                if let Some(q) = qty.split(" more needed").next().filter(|_| qty.contains(" more needed")) {
                    s.more_needed = parse_quantity(q);
                    s.more_needed_text = Some(q.to_string());
                }
            }
            return s;
        }
    }
    if let Some(rest) = r.strip_prefix("insufficient quota for ") {
        if let Some((res, flavor, tail)) = resource_and_flavor(rest) {
            if tail.starts_with(" in ClusterQueue") {
                with_rf(&mut s, res, flavor, ShortfallKind::Quota);
            } else {
                let (requested, maximum) = capacity_numbers(tail);
                with_rf(&mut s, res, flavor, ShortfallKind::ExceedsMaximumCapacity { requested, maximum });
                if let (Some(a), Some(b)) = (requested, maximum) {
                    s.more_needed = Some(a - b);
                }
            }
        }
        return s;
    }
    if let Some(rest) = r.strip_prefix("borrowing limit for ") {
        if let Some((res, flavor, _)) = resource_and_flavor(rest) {
            with_rf(&mut s, res, flavor, ShortfallKind::BorrowingLimitExceeded);
        }
        return s;
    }
    if let Some(rest) = r.strip_prefix("untolerated taint ") {
        if let Some((taint, flavor)) = rest.rsplit_once(" in flavor ") {
            s.flavor = Some(flavor.to_string());
            s.reason = ShortfallKind::UntoleratedTaint { taint: taint.to_string() };
        }
        return s;
    }
    if let Some(rest) = r.strip_prefix("flavor ") {
        if let Some(f) = rest.strip_suffix(" doesn't match node affinity") {
            s.flavor = Some(f.to_string());
            s.reason = ShortfallKind::NodeAffinityMismatch;
        } else if let Some(f) = rest.strip_suffix(" not found") {
            s.flavor = Some(f.to_string());
            s.reason = ShortfallKind::FlavorNotFound;
        }
        return s;
    }
    let named = |prefix: &str, suffix: &str| {
        r.strip_prefix(prefix).and_then(|x| x.strip_suffix(suffix)).map(str::to_string)
    };
    if let Some(name) = named("LocalQueue ", " doesn't exist") {
        s.reason = ShortfallKind::LocalQueueMissing { name };
    } else if let Some(name) = named("ClusterQueue ", " doesn't exist") {
        s.reason = ShortfallKind::ClusterQueueMissing { name };
    } else if let Some(name) = named("ClusterQueue ", " is inactive") {
        s.reason = ShortfallKind::ClusterQueueInactive { name };
    }
    s
}

/// `, request > maximum capacity (24 > 16)` → (24, 16);
/// `, previously considered podsets requests (8) + current podset request (16) > maximum capacity (16)` → (24, 16).
fn capacity_numbers(tail: &str) -> (Option<f64>, Option<f64>) {
    let parens: Vec<&str> =
        tail.split('(').skip(1).filter_map(|p| p.split_once(')').map(|(inner, _)| inner.trim())).collect();
    match parens.as_slice() {
        [one] => match one.split_once(" > ") {
            Some((a, b)) => (parse_quantity(a), parse_quantity(b)),
            None => (None, None),
        },
        [prev, cur, max] => {
            let requested = parse_quantity(prev).zip(parse_quantity(cur)).map(|(a, b)| a + b);
            (requested, parse_quantity(max))
        }
        _ => (None, None),
    }
}

/// A Kubernetes quantity (`4`, `1500m`, `600Mi`, `2G`, `1e3`) in base units; `None` when malformed.
pub fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split =
        q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s => {
            let e = s.strip_prefix(['e', 'E'])?;
            10f64.powi(e.parse::<i32>().ok()?.clamp(-300, 300))
        }
    };
    let v = n * mult;
    v.is_finite().then_some(v)
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 { format!("{}", x as i64) } else { format!("{x}") }
}

impl QuotaShortfall {
    /// In words: `insufficient quota for nvidia.com/gpu in flavor h100-80gb: 4 more needed`.
    pub fn words(&self) -> String {
        let rf = || {
            format!(
                "{} in flavor {}",
                self.resource.as_deref().unwrap_or("?"),
                self.flavor.as_deref().unwrap_or("?")
            )
        };
        let needed = self
            .more_needed_text
            .clone()
            .or_else(|| self.more_needed.map(number))
            .map(|n| format!(": {n} more needed"))
            .unwrap_or_default();
        match &self.reason {
            ShortfallKind::UnusedQuota | ShortfallKind::UnusedCohortQuota => {
                format!("insufficient quota for {}{needed}", rf())
            }
            ShortfallKind::Quota => format!("insufficient quota for {}", rf()),
            ShortfallKind::ExceedsMaximumCapacity { requested, maximum } => match (requested, maximum) {
                (Some(a), Some(b)) => {
                    format!("request exceeds maximum capacity for {} ({} > {})", rf(), number(*a), number(*b))
                }
                _ => format!("request exceeds maximum capacity for {}", rf()),
            },
            ShortfallKind::BorrowingLimitExceeded => format!("borrowing limit exceeded for {}", rf()),
            ShortfallKind::NodeAffinityMismatch => {
                format!("flavor {} doesn't match node affinity", self.flavor.as_deref().unwrap_or("?"))
            }
            ShortfallKind::UntoleratedTaint { taint } => {
                format!("untolerated taint {taint} in flavor {}", self.flavor.as_deref().unwrap_or("?"))
            }
            ShortfallKind::FlavorNotFound => {
                format!("flavor {} not found", self.flavor.as_deref().unwrap_or("?"))
            }
            ShortfallKind::LocalQueueMissing { name } => format!("LocalQueue {name} doesn't exist"),
            ShortfallKind::ClusterQueueMissing { name } => format!("ClusterQueue {name} doesn't exist"),
            ShortfallKind::ClusterQueueInactive { name } => format!("ClusterQueue {name} is inactive"),
            ShortfallKind::Other(text) => text.clone(),
        }
    }
}

/// All shortfalls in words, joined by `; `; pod sets are named only when there are several.
pub fn summary(shortfalls: &[QuotaShortfall]) -> String {
    let mut sets: Vec<&str> = shortfalls.iter().filter_map(|s| s.pod_set.as_deref()).collect();
    sets.dedup();
    let name_sets = sets.len() > 1;
    shortfalls
        .iter()
        .map(|s| match (&s.pod_set, name_sets) {
            (Some(ps), true) => format!("pod set {ps}: {}", s.words()),
            _ => s.words(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why Kueue preempted a workload (the `Preempted` condition's reason, from its words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreemptionCause {
    /// `prioritization in the ClusterQueue` (`InClusterQueue`).
    InClusterQueue,
    /// `reclamation within the cohort` (`InCohortReclamation`).
    InCohortReclamation,
    /// `fair sharing within the cohort` (`InCohortFairSharing`).
    InCohortFairSharing,
    /// `reclamation within the cohort while borrowing` (`InCohortReclaimWhileBorrowing`).
    InCohortReclaimWhileBorrowing,
    /// Old Kueue: `Preempted to accommodate a higher priority Workload` (no cause given).
    HigherPriority,
    /// Kueue printed `UNKNOWN`.
    Unknown,
    /// Words this parser does not know, verbatim.
    Other(String),
}

impl PreemptionCause {
    /// The cause as Kueue words it (`reclamation within the cohort`).
    pub fn words(&self) -> &str {
        match self {
            PreemptionCause::InClusterQueue => "prioritization in the ClusterQueue",
            PreemptionCause::InCohortReclamation => "reclamation within the cohort",
            PreemptionCause::InCohortFairSharing => "fair sharing within the cohort",
            PreemptionCause::InCohortReclaimWhileBorrowing => "reclamation within the cohort while borrowing",
            PreemptionCause::HigherPriority => "higher priority",
            PreemptionCause::Unknown => "unknown cause",
            PreemptionCause::Other(s) => s.as_str(),
        }
    }

    /// The condition reason it corresponds to (`InClusterQueue`), when there is one.
    pub fn condition_reason(&self) -> Option<&'static str> {
        match self {
            PreemptionCause::InClusterQueue => Some("InClusterQueue"),
            PreemptionCause::InCohortReclamation => Some("InCohortReclamation"),
            PreemptionCause::InCohortFairSharing => Some("InCohortFairSharing"),
            PreemptionCause::InCohortReclaimWhileBorrowing => Some("InCohortReclaimWhileBorrowing"),
            _ => None,
        }
    }
}

/// A parsed Kueue preemption message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreemptionMessage {
    /// UID of the Workload that preempted this one; `None` when absent or `UNKNOWN`.
    pub by_workload_uid: Option<String>,
    /// UID of that workload's job (`JobUID`); `None` when absent or `UNKNOWN`.
    pub by_job_uid: Option<String>,
    /// Why.
    pub cause: PreemptionCause,
    /// Cohort path of the preemptor (`/root/cq-a`), newer Kueue only.
    pub preemptor_path: Option<String>,
    /// Cohort path of the preempted workload's queue, newer Kueue only.
    pub preemptee_path: Option<String>,
    /// The message said `Previously: …` (the workload has since been readmitted).
    pub previously: bool,
}

fn known(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && v != "UNKNOWN").then(|| v.to_string())
}

/// Parses a Kueue preemption message (`Evicted`/`Preempted` condition or `Preempted` event).
pub fn parse_preemption(msg: &str) -> Option<PreemptionMessage> {
    const HEAD: &str = "Preempted to accommodate a ";
    let at = msg.find(HEAD)?;
    let previously = msg[..at].trim_end().ends_with("Previously:");
    let rest = &msg[at + HEAD.len()..];
    let mut p = PreemptionMessage {
        by_workload_uid: None,
        by_job_uid: None,
        cause: PreemptionCause::HigherPriority,
        preemptor_path: None,
        preemptee_path: None,
        previously,
    };
    if rest.starts_with("higher priority Workload") {
        return Some(p);
    }
    let rest = rest.strip_prefix("workload")?.trim_start();
    let (ids, after) = match rest.strip_prefix('(') {
        Some(r) => r.split_once(')')?,
        None => ("", rest),
    };
    for part in ids.split(", ") {
        if let Some(v) = part.strip_prefix("UID: ") {
            p.by_workload_uid = known(v);
        } else if let Some(v) = part.strip_prefix("JobUID: ") {
            p.by_job_uid = known(v);
        }
    }
    let mut parts = after.trim_start().split("; ");
    let cause = parts.next().unwrap_or("").trim();
    let words = cause.strip_prefix("due to ").unwrap_or(cause).trim();
    let lower = words.to_ascii_lowercase();
    p.cause = match lower.as_str() {
        "prioritization in the clusterqueue" => PreemptionCause::InClusterQueue,
        "reclamation within the cohort while borrowing" => PreemptionCause::InCohortReclaimWhileBorrowing,
        "reclamation within the cohort" => PreemptionCause::InCohortReclamation,
        "fair sharing within the cohort" => PreemptionCause::InCohortFairSharing,
        "unknown" | "" => PreemptionCause::Unknown,
        _ => PreemptionCause::Other(words.to_string()),
    };
    for part in parts {
        if let Some(v) = part.strip_prefix("preemptor path: ") {
            p.preemptor_path = known(v);
        } else if let Some(v) = part.strip_prefix("preemptee path: ") {
            p.preemptee_path = known(v);
        }
    }
    Some(p)
}

/// A preemption in words: `preempted by workload <uid> (reclamation within the cohort)`.
pub fn preemption_summary(p: &PreemptionMessage) -> String {
    let cause = p.cause.words();
    let by = p.by_workload_uid.as_deref().map(|u| format!(" by workload {u}")).unwrap_or_default();
    format!("{}preempted{by} ({cause})", if p.previously { "previously " } else { "" })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    const PENDING: &str = include_str!(
        "../../../tests/fixtures/real/kueue/workload-status-pending-insufficient-quota-excerpt.yaml"
    );
    const PREEMPTED: &str =
        include_str!("../../../tests/fixtures/real/kueue/workload-status-preempted-evicted-excerpt.yaml");
    const INADMISSIBLE: &str =
        include_str!("../../../tests/fixtures/real/kueue/workload-status-inadmissible-excerpt.yaml");
    const ADMITTED: &str =
        include_str!("../../../tests/fixtures/real/kueue/workload-status-admitted-excerpt.yaml");
    const CHECK_PENDING: &str = include_str!(
        "../../../tests/fixtures/real/kueue/workload-status-admissioncheck-pending-excerpt.yaml"
    );

    /// `(type, reason, message)` of each condition in a status excerpt. Handles the plain and the
    /// single-quoted (folded over lines, `''` for `'`) scalars these excerpts use; no YAML crate here.
    fn conditions(yaml: &str) -> Vec<(String, String, String)> {
        let lines: Vec<&str> = yaml.lines().collect();
        let mut out = Vec::new();
        let mut i = 0;
        let mut cur: (String, String, String) = Default::default();
        while i < lines.len() {
            let t = lines[i].trim_start().trim_start_matches("- ");
            if let Some(v) = t.strip_prefix("message: ") {
                let mut v = v.to_string();
                if v.starts_with('\'') {
                    while !(v.len() > 1 && v.ends_with('\'') && !v.ends_with("''")) {
                        i += 1;
                        v.push(' ');
                        v.push_str(lines[i].trim());
                    }
                    v = v[1..v.len() - 1].replace("''", "'");
                }
                cur.2 = v;
            } else if let Some(v) = t.strip_prefix("reason: ") {
                cur.1 = v.to_string();
            } else if let Some(v) = t.strip_prefix("type: ") {
                out.push((v.to_string(), cur.1.clone(), cur.2.clone()));
                cur = Default::default();
            }
            i += 1;
        }
        out
    }

    fn message(yaml: &str, ty: &str, reason: &str) -> String {
        conditions(yaml)
            .into_iter()
            .find(|(t, r, _)| t == ty && r == reason)
            .map(|(_, _, m)| m)
            .unwrap_or_else(|| panic!("no {ty}/{reason}"))
    }

    #[test]
    fn fixture_pending_in_cluster_queue_old_form() {
        let m = message(PENDING, "QuotaReserved", "Pending");
        assert_eq!(
            m,
            "couldn't assign flavors to pod set main: insufficient quota for cpu in flavor default-flavor in ClusterQueue"
        );
        let s = parse_pending(&m);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].pod_set.as_deref(), Some("main"));
        assert_eq!(s[0].resource.as_deref(), Some("cpu"));
        assert_eq!(s[0].flavor.as_deref(), Some("default-flavor"));
        assert_eq!(s[0].reason, ShortfallKind::Quota);
        assert_eq!(summary(&s), "insufficient quota for cpu in flavor default-flavor");
    }

    #[test]
    fn fixture_preempted_then_pending_unused_quota() {
        let m = message(PREEMPTED, "QuotaReserved", "Pending");
        let s = parse_pending(&m);
        assert_eq!(
            s,
            vec![QuotaShortfall {
                pod_set: Some("main".into()),
                resource: Some("cpu".into()),
                flavor: Some("default-flavor".into()),
                more_needed: Some(9.0),
                more_needed_text: Some("9".into()),
                reason: ShortfallKind::UnusedQuota,
            }]
        );
        assert_eq!(summary(&s), "insufficient quota for cpu in flavor default-flavor: 9 more needed");
        let e = message(PREEMPTED, "Evicted", "Preempted");
        let p = parse_preemption(&e).unwrap();
        assert_eq!(p.cause, PreemptionCause::HigherPriority);
        assert_eq!(p.by_workload_uid, None);
        assert_eq!(preemption_summary(&p), "preempted (higher priority)");
        // Neither of the other two conditions is about quota or preemption.
        assert!(parse_pending(&message(PREEMPTED, "Admitted", "NoReservation")).is_empty());
        assert_eq!(parse_preemption(&m), None);
    }

    #[test]
    fn fixture_inadmissible_local_queue() {
        let m = message(INADMISSIBLE, "QuotaReserved", "Inadmissible");
        let s = parse_pending(&m);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].reason, ShortfallKind::LocalQueueMissing { name: "user-queue".into() });
        assert_eq!(s[0].pod_set, None);
        assert_eq!(summary(&s), "LocalQueue user-queue doesn't exist");
    }

    #[test]
    fn fixture_admitted_messages_are_not_shortfalls() {
        for yaml in [ADMITTED, CHECK_PENDING] {
            let conds = conditions(yaml);
            assert!(!conds.is_empty());
            for (_, _, m) in conds {
                assert!(parse_pending(&m).is_empty(), "{m}");
                assert_eq!(parse_preemption(&m), None);
            }
        }
    }

    #[test]
    fn gpu_unused_quota_brief_example() {
        let m = "couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor h100-80gb, 4 more needed";
        let s = parse_pending(m);
        assert_eq!(s[0].more_needed, Some(4.0));
        assert_eq!(summary(&s), "insufficient quota for nvidia.com/gpu in flavor h100-80gb: 4 more needed");
    }

    #[test]
    fn several_flavors_in_one_pod_set_and_several_pod_sets() {
        // Reasons of one pod set: sorted and joined by ", " (flavorassigner Status.Message).
        let m = "couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor a100, 2 more needed, insufficient unused quota for nvidia.com/gpu in flavor h100-80gb, 4 more needed; couldn't assign flavors to pod set workers: flavor h100-80gb doesn't match node affinity, insufficient quota for memory in flavor a100, request > maximum capacity (64Gi > 32Gi)";
        let s = parse_pending(m);
        assert_eq!(s.len(), 4);
        assert_eq!((s[0].flavor.as_deref(), s[0].more_needed), (Some("a100"), Some(2.0)));
        assert_eq!((s[1].flavor.as_deref(), s[1].more_needed), (Some("h100-80gb"), Some(4.0)));
        assert_eq!(s[2].pod_set.as_deref(), Some("workers"));
        assert_eq!(s[2].reason, ShortfallKind::NodeAffinityMismatch);
        assert_eq!(s[2].flavor.as_deref(), Some("h100-80gb"));
        let gi = 1024f64.powi(3);
        assert_eq!(
            s[3].reason,
            ShortfallKind::ExceedsMaximumCapacity { requested: Some(64.0 * gi), maximum: Some(32.0 * gi) }
        );
        assert_eq!(s[3].more_needed, Some(32.0 * gi));
        assert_eq!(
            summary(&s),
            "pod set main: insufficient quota for nvidia.com/gpu in flavor a100: 2 more needed; \
pod set main: insufficient quota for nvidia.com/gpu in flavor h100-80gb: 4 more needed; \
pod set workers: flavor h100-80gb doesn't match node affinity; \
pod set workers: request exceeds maximum capacity for memory in flavor a100 (68719476736 > 34359738368)"
        );
    }

    #[test]
    fn maximum_capacity_forms() {
        let s = parse_pending(
            "couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu in flavor h100-80gb, request > maximum capacity (24 > 16)",
        );
        assert_eq!(
            s[0].reason,
            ShortfallKind::ExceedsMaximumCapacity { requested: Some(24.0), maximum: Some(16.0) }
        );
        assert_eq!(s[0].more_needed, Some(8.0));
        assert_eq!(
            s[0].words(),
            "request exceeds maximum capacity for nvidia.com/gpu in flavor h100-80gb (24 > 16)"
        );
        let s = parse_pending(
            "couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu in flavor h100-80gb, previously considered podsets requests (8) + current podset request (16) > maximum capacity (16)",
        );
        assert_eq!(
            s[0].reason,
            ShortfallKind::ExceedsMaximumCapacity { requested: Some(24.0), maximum: Some(16.0) }
        );
    }

    #[test]
    fn other_reason_shapes() {
        let m = "couldn't assign flavors to pod set main: borrowing limit for nvidia.com/gpu in flavor a100 exceeded, flavor spot not found, insufficient unused quota in cohort for cpu in flavor default, 1500m more needed, untolerated taint nvidia.com/gpu=present:NoSchedule in flavor h100-80gb, something new";
        let s = parse_pending(m);
        assert_eq!(s.len(), 5);
        assert_eq!(s[0].reason, ShortfallKind::BorrowingLimitExceeded);
        assert_eq!(s[0].flavor.as_deref(), Some("a100"));
        assert_eq!(s[1].reason, ShortfallKind::FlavorNotFound);
        assert_eq!(s[2].reason, ShortfallKind::UnusedCohortQuota);
        assert_eq!(s[2].more_needed, Some(1.5));
        assert_eq!(s[2].words(), "insufficient quota for cpu in flavor default: 1500m more needed");
        assert_eq!(
            s[3].reason,
            ShortfallKind::UntoleratedTaint { taint: "nvidia.com/gpu=present:NoSchedule".into() }
        );
        assert_eq!(s[3].flavor.as_deref(), Some("h100-80gb"));
        assert_eq!(s[4].reason, ShortfallKind::Other("something new".into()));
        assert_eq!(
            parse_pending("ClusterQueue cq-gpu is inactive")[0].reason,
            ShortfallKind::ClusterQueueInactive { name: "cq-gpu".into() }
        );
        assert_eq!(
            parse_pending("ClusterQueue cq-gpu doesn't exist")[0].reason,
            ShortfallKind::ClusterQueueMissing { name: "cq-gpu".into() }
        );
        assert!(parse_pending("Quota reserved in ClusterQueue cluster-queue").is_empty());
        assert!(parse_pending("").is_empty());
    }

    #[test]
    fn preemption_messages_all_versions() {
        let uid = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
        let job = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
        let cases = [
            ("prioritization in the ClusterQueue", PreemptionCause::InClusterQueue),
            ("reclamation within the cohort", PreemptionCause::InCohortReclamation),
            ("fair sharing within the cohort", PreemptionCause::InCohortFairSharing),
            ("Fair Sharing within the cohort", PreemptionCause::InCohortFairSharing),
            ("reclamation within the cohort while borrowing", PreemptionCause::InCohortReclaimWhileBorrowing),
            ("UNKNOWN", PreemptionCause::Unknown),
        ];
        for (words, cause) in cases {
            let m = format!("Preempted to accommodate a workload (UID: {uid}, JobUID: {job}) due to {words}");
            let p = parse_preemption(&m).unwrap();
            assert_eq!(p.cause, cause, "{m}");
            assert_eq!(p.by_workload_uid.as_deref(), Some(uid));
            assert_eq!(p.by_job_uid.as_deref(), Some(job));
            assert!(!p.previously);
        }
        // Newest form, with cohort paths.
        let m = format!(
            "Preempted to accommodate a workload (UID: {uid}, JobUID: UNKNOWN) due to reclamation within the cohort; preemptor path: /root/team-a; preemptee path: /root/team-b"
        );
        let p = parse_preemption(&m).unwrap();
        assert_eq!(p.cause, PreemptionCause::InCohortReclamation);
        assert_eq!(p.by_job_uid, None);
        assert_eq!(p.preemptor_path.as_deref(), Some("/root/team-a"));
        assert_eq!(p.preemptee_path.as_deref(), Some("/root/team-b"));
        assert_eq!(p.cause.condition_reason(), Some("InCohortReclamation"));
        assert_eq!(
            preemption_summary(&p),
            format!("preempted by workload {uid} (reclamation within the cohort)")
        );
        // Older, UID only; and the Preempted=False "Previously:" form.
        let p = parse_preemption(&format!("Previously: Preempted to accommodate a workload (UID: {uid}) due to prioritization in the ClusterQueue")).unwrap();
        assert!(p.previously);
        assert_eq!(p.by_workload_uid.as_deref(), Some(uid));
        assert_eq!(p.by_job_uid, None);
        assert_eq!(p.cause, PreemptionCause::InClusterQueue);
        assert_eq!(parse_preemption("Preempted to accommodate a"), None);
        assert_eq!(parse_preemption("The workload is admitted"), None);
    }

    #[test]
    fn simulator_messages_parse() {
        // Shapes of src/sim/messages.rs kueue_pending / kueue_preempted.
        let s = parse_pending(
            "couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor a100, 2 more needed, insufficient unused quota for nvidia.com/gpu in flavor h100-80gb, 6 more needed",
        );
        assert_eq!(s.iter().map(|x| x.more_needed).collect::<Vec<_>>(), vec![Some(2.0), Some(6.0)]);
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("4"), Some(4.0));
        assert_eq!(parse_quantity("600Mi"), Some(600.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("250m"), Some(0.25));
        assert_eq!(parse_quantity("2G"), Some(2e9));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("x"), None);
        assert_eq!(parse_quantity("1e999999999999"), None);
        assert_eq!(parse_quantity(""), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = summary(&parse_pending(&s));
            let _ = parse_preemption(&s).map(|p| preemption_summary(&p));
            let _ = parse_quantity(&s);
        }

        #[test]
        fn never_panics_near_the_format(s in "(couldn't assign flavors to pod set [a-z]{0,4}: )?(insufficient (unused )?quota for [a-z/.]{0,6} in flavor [a-z0-9-]{0,6}(, [0-9a-zA-Z.()> +]{0,20})?(; |, )?){0,3}") {
            let _ = summary(&parse_pending(&s));
        }

        #[test]
        fn preemption_never_panics_near_the_format(s in "(Previously: )?Preempted to accommodate a workload( \\((UID: [a-z0-9-]{0,5})?(, JobUID: [A-Z0-9]{0,4})?\\)?)?( due to [a-z ]{0,12})?(; preemptor path: [/a-z]{0,5})?") {
            let _ = parse_preemption(&s).map(|p| preemption_summary(&p));
        }
    }
}
