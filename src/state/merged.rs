//! Denials merged across sources: one row per cluster, engine, enforcement, policy, rule and
//! object, however many Events, policy reports, constraint statuses and audit-log lines
//! describe it. Derived from the denial table by the reducer, never recorded.
//!
//! Merging rules:
//! - Pods a controller creates are one object: `payments-7d9c-x2k4q` and `payments-7d9c-`
//!   (an older apiserver's generateName prefix) both become `payments-7d9c-*`.
//! - Reporters describe the same requests: a ReplicaSet's FailedCreate and Kyverno's
//!   PolicyViolation for one blocked pod are one denial, not two. The count is the largest
//!   any one reporter (a source kind and event reason) gives, never the sum across
//!   reporters; within one reporter, events for different objects add up.
//! - Everything else is the union: every piece of evidence (oldest first), the first known
//!   policy version, rule, user, operation, severity, category and owner, every exception
//!   named by a source.
//! - A per-minute history of occurrences feeds the pane's rate sparkline.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::minutes::{bin, first_bin, minute};
use super::{RecordId, Table};
use crate::model::{Denial, EvidenceSource, ObjectRef};

/// Minutes of occurrence history kept per source record.
pub const HISTORY_MINUTES: i64 = 60;

/// The merged denial rows and how they were built.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergedDenials {
    rows: Table<Denial>,
    members: BTreeMap<RecordId, BTreeSet<RecordId>>,
    of_raw: BTreeMap<RecordId, RecordId>,
    by_policy: BTreeMap<String, BTreeSet<RecordId>>,
    /// Source record → (minute since the epoch, occurrences) for the last hour, oldest first.
    history: BTreeMap<RecordId, Vec<(i64, u64)>>,
}

impl MergedDenials {
    /// One row: the merged copy when several records describe it, else the one record
    /// itself (no copy is kept for the many rows that have one record; such a row keeps its
    /// record's `id` and object name: see [`merged_object`] for display).
    pub fn get<'a>(&'a self, row: &RecordId, raw: &'a Table<Denial>) -> Option<&'a Denial> {
        self.row(row, self.members.get(row)?, raw)
    }

    /// Every row, in row id order (cluster, then merge key).
    pub fn iter<'a>(
        &'a self,
        raw: &'a Table<Denial>,
    ) -> impl Iterator<Item = (&'a RecordId, &'a Denial)> + 'a {
        self.members.iter().filter_map(move |(row, members)| Some((row, self.row(row, members, raw)?)))
    }

    /// The row `row` whose source records are `members`.
    fn row<'a>(
        &'a self,
        row: &RecordId,
        members: &BTreeSet<RecordId>,
        raw: &'a Table<Denial>,
    ) -> Option<&'a Denial> {
        match members.len() {
            1 => members.first().and_then(|only| raw.get(only)),
            _ => self.rows.get(row),
        }
    }

    /// The rows of one cluster.
    pub fn in_cluster<'a>(
        &'a self,
        cluster: &crate::model::ClusterId,
        raw: &'a Table<Denial>,
    ) -> impl Iterator<Item = (&'a RecordId, &'a Denial)> + 'a {
        let start = RecordId::new(cluster.clone(), String::new());
        let cluster = cluster.clone();
        self.members
            .range(start..)
            .take_while(move |(row, _)| row.cluster == cluster)
            .filter_map(move |(row, members)| Some((row, self.row(row, members, raw)?)))
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The source records merged into `row`.
    pub fn members(&self, row: &RecordId) -> impl Iterator<Item = &RecordId> {
        self.members.get(row).into_iter().flatten()
    }

    /// Policy (or webhook) name → the merged rows it produced.
    pub fn by_policy(&self) -> &BTreeMap<String, BTreeSet<RecordId>> {
        &self.by_policy
    }

    /// The merged row a source record belongs to.
    pub fn row_of(&self, raw: &RecordId) -> Option<&RecordId> {
        self.of_raw.get(raw)
    }

    /// Occurrences of `row` per minute, for the `bins` minutes up to and including `now`'s
    /// minute, oldest first. Counted like the row: the reporter that saw most.
    pub fn rate(&self, row: &RecordId, raw: &Table<Denial>, now: Timestamp, bins: usize) -> Vec<u64> {
        let start = first_bin(now, bins);
        // Drawn for every visible row of every frame: a small vector, no allocation per
        // member beyond the series themselves.
        let mut by_reporter: Vec<(Reporter<'_>, Vec<u64>)> = Vec::new();
        for id in self.members(row) {
            let (Some(d), Some(h)) = (raw.get(id), self.history.get(id)) else { continue };
            let who = reporter(d);
            let i = match by_reporter.iter().position(|(r, _)| *r == who) {
                Some(i) => i,
                None => {
                    by_reporter.push((who, vec![0; bins]));
                    by_reporter.len() - 1
                }
            };
            let series = &mut by_reporter[i].1;
            for (m, n) in h.iter().rev().take_while(|(m, _)| *m >= start) {
                if let Some(i) = bin(*m, now, bins) {
                    series[i] += n;
                }
            }
        }
        by_reporter
            .into_iter()
            .map(|(_, s)| s)
            .max_by_key(|s| s.iter().sum::<u64>())
            .unwrap_or_else(|| vec![0; bins])
    }

    /// Brings the rows up to date after the source record `id` changed in `raw` (inserted,
    /// replaced or removed); `old` is the record it replaced.
    pub(super) fn on_change(&mut self, raw: &Table<Denial>, id: &RecordId, old: Option<&Denial>) {
        let after = raw.get(id).map(|d| RecordId::new(id.cluster.clone(), merge_key(d)));
        // A repeat of the same denial (the usual change) stays in its row: no set churn.
        let mut left: Option<RecordId> = None;
        if self.of_raw.get(id) != after.as_ref() {
            if let Some(row) = self.of_raw.remove(id) {
                if let Some(set) = self.members.get_mut(&row) {
                    set.remove(id);
                }
                left = Some(row);
            }
            if let Some(row) = &after {
                self.of_raw.insert(id.clone(), row.clone());
                self.members.entry(row.clone()).or_default().insert(id.clone());
            }
        }
        match raw.get(id) {
            Some(d) => self.record_history(id, d, old),
            None => {
                self.history.remove(id);
            }
        }
        if let Some(row) = &after {
            self.refresh(raw, row);
        }
        if let Some(row) = left {
            self.refresh(raw, &row);
        }
    }

    fn refresh(&mut self, raw: &Table<Denial>, row: &RecordId) {
        let members: Vec<&Denial> = self.members(row).filter_map(|id| raw.get(id)).collect();
        let policy = policy_of_key(&row.key);
        if members.is_empty() {
            self.members.remove(row);
            self.rows.remove(row);
            if let Some(set) = self.by_policy.get_mut(policy) {
                set.remove(row);
                if set.is_empty() {
                    self.by_policy.remove(policy);
                }
            }
            return;
        }
        match self.by_policy.get_mut(policy) {
            Some(set) => {
                if !set.contains(row) {
                    set.insert(row.clone());
                }
            }
            None => {
                self.by_policy.insert(policy.to_string(), BTreeSet::from([row.clone()]));
            }
        }
        // One record: it is the row (see [`MergedDenials::get`]); only real merges are copies.
        if members.len() == 1 {
            self.rows.remove(row);
        } else {
            self.rows.insert(row.clone(), merge(&row.key, &members));
        }
    }

    /// Adds the occurrences `new` brings over `old` to the record's history: the increase at
    /// its last sighting, or for a record seen for the first time, its count spread over
    /// first..last seen.
    fn record_history(&mut self, id: &RecordId, new: &Denial, old: Option<&Denial>) {
        if !self.history.contains_key(id) {
            self.history.insert(id.clone(), Vec::new());
        }
        let Some(h) = self.history.get_mut(id) else { return };
        match old {
            Some(o) if new.count >= o.count => {
                if new.count > o.count {
                    add(h, minute(new.last_seen), new.count - o.count);
                }
            }
            _ => {
                h.clear();
                spread(h, new);
            }
        }
        let keep_from = minute(new.last_seen) - HISTORY_MINUTES;
        h.retain(|(m, _)| *m > keep_from);
    }
}

/// A source of denial reports: the evidence kind and, for events, the reason.
type Reporter<'a> = (EvidenceSource, &'a str);

/// Who reported `d`: its first piece of evidence's kind, with the event reason that
/// [`crate::sources::kubernetes::project::denial`] writes at the end of the reference.
fn reporter(d: &Denial) -> Reporter<'_> {
    match d.evidence.first() {
        Some(e) => {
            let reason = e
                .reference
                .rsplit_once(" (")
                .and_then(|(_, r)| r.strip_suffix(')'))
                .filter(|_| e.source == EvidenceSource::Event)
                .unwrap_or("");
            (e.source, reason)
        }
        None => (EvidenceSource::Object, ""),
    }
}

/// Adds `n` occurrences at minute `m` to a history kept sorted by minute; the usual case (the
/// latest minute, or a later one) is O(1).
fn add(h: &mut Vec<(i64, u64)>, m: i64, n: u64) {
    match h.last_mut() {
        Some((last, c)) if *last == m => *c += n,
        Some((last, _)) if *last > m => match h.binary_search_by_key(&m, |(x, _)| *x) {
            Ok(i) => h[i].1 += n,
            Err(i) => h.insert(i, (m, n)),
        },
        _ => h.push((m, n)),
    }
}

/// `count` occurrences over first..last seen: one at each end, the rest evenly between,
/// only the last [`HISTORY_MINUTES`] kept. Built in one ordered pass.
fn spread(h: &mut Vec<(i64, u64)>, d: &Denial) {
    let (first, last) = (minute(d.first_seen), minute(d.last_seen).max(minute(d.first_seen)));
    if d.count <= 1 || first == last {
        add(h, last, d.count.max(1));
        return;
    }
    let from = first.max(last - HISTORY_MINUTES);
    let span = (last - from) as usize;
    let mut bins = vec![0u64; span + 1];
    bins[span] += 1;
    if from == first {
        bins[0] += 1;
    }
    let rest = d.count - 2 + u64::from(from != first);
    let n = span as u64;
    for (i, bin) in bins.iter_mut().take(span).enumerate() {
        let i = i as u64;
        *bin += rest * (i + 1) / n - rest * i / n;
    }
    for (i, c) in bins.into_iter().enumerate() {
        if c > 0 {
            add(h, from + i as i64, c);
        }
    }
}

/// The name pods of one controller share: `payments-7d9c-*` for `payments-7d9c-x2k4q` (a
/// five-letter suffix from the apiserver's generateName alphabet) or `payments-7d9c-` (a
/// generateName prefix); `None` for other names.
pub fn generated_prefix(name: &str) -> Option<&str> {
    const ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";
    if name.ends_with('-') && name.len() > 1 {
        return Some(name);
    }
    let (prefix, suffix) = name.rsplit_once('-')?;
    (!prefix.is_empty() && suffix.len() == 5 && suffix.chars().all(|c| ALPHABET.contains(c)))
        .then(|| &name[..prefix.len() + 1])
}

/// The object a merged row is about: pods of one controller collapse into `prefix-*`.
pub fn merged_object(o: &ObjectRef) -> ObjectRef {
    match generated_prefix(&o.name).filter(|_| o.kind == "Pod") {
        Some(prefix) => {
            ObjectRef { kind: o.kind.clone(), namespace: o.namespace.clone(), name: format!("{prefix}*") }
        }
        None => o.clone(),
    }
}

/// The policy (or webhook) name a merge key holds, as [`Denial::policy_name`] gives it.
fn policy_of_key(key: &str) -> &str {
    match key.split('|').nth(2) {
        Some("") | None => "(unknown)",
        Some(p) => p,
    }
}

/// The key of the merged row `d` belongs to. Webhook failures, unattributed and RBAC refusals
/// never merge with policy denials (their class stands where the enforcement does).
pub fn merge_key(d: &Denial) -> String {
    let policy = d.policy.as_ref().map(|p| p.name.as_str()).or(d.webhook.as_deref()).unwrap_or("");
    let action = if d.class.is_admission() { d.enforcement.label() } else { d.class.label() };
    format!(
        "{}|{}|{}|{}|{}",
        d.engine.label(),
        action,
        policy,
        d.rule.as_deref().unwrap_or(""),
        merged_object(&d.object).display()
    )
}

/// One row from the records that describe the same denial (two or more: a row of one
/// record is that record, see [`MergedDenials::get`]).
fn merge(key: &str, members: &[&Denial]) -> Denial {
    // Sources with the most to say go first: the audit log knows the user, an event the
    // admission message, a report the policy's metadata.
    let rank = |d: &Denial| match d.evidence.first().map(|e| e.source) {
        Some(EvidenceSource::AuditLog) => 0,
        Some(EvidenceSource::Event) => 1,
        Some(EvidenceSource::PolicyReport) => 2,
        _ => 3,
    };
    let mut ordered: Vec<&Denial> = members.to_vec();
    ordered.sort_by_key(|d| (rank(d), std::cmp::Reverse(d.last_seen)));
    let primary = ordered[0];
    let mut out = primary.clone();
    out.id = key.to_string();
    out.object = merged_object(&primary.object);
    let first_some = |f: &dyn Fn(&Denial) -> Option<String>| ordered.iter().find_map(|d| f(d));
    out.policy = ordered
        .iter()
        .filter_map(|d| d.policy.clone())
        .max_by_key(|p| (p.generation.is_some(), p.resource_version.is_some(), p.namespace.is_some()));
    out.webhook = first_some(&|d| d.webhook.clone());
    out.binding = first_some(&|d| d.binding.clone());
    out.rule = first_some(&|d| d.rule.clone());
    out.operation = first_some(&|d| d.operation.clone());
    out.user = first_some(&|d| d.user.clone());
    out.category = first_some(&|d| d.category.clone());
    out.owner = first_some(&|d| d.owner.clone());
    out.severity = ordered.iter().find_map(|d| d.severity);
    out.first_seen = members.iter().map(|d| d.first_seen).min().unwrap_or(primary.first_seen);
    out.last_seen = members.iter().map(|d| d.last_seen).max().unwrap_or(primary.last_seen);
    out.count = count(members);
    let names: BTreeSet<&String> = members.iter().flat_map(|d| &d.exceptions).collect();
    out.exceptions = names.into_iter().cloned().collect();
    let mut evidence: Vec<_> = members.iter().flat_map(|d| d.evidence.iter().cloned()).collect();
    evidence.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.reference.cmp(&b.reference)));
    evidence.dedup_by(|a, b| a.source == b.source && a.reference == b.reference && a.excerpt == b.excerpt);
    out.evidence = evidence;
    out
}

/// The largest count any one reporter gives; within a reporter, the counts of different
/// objects add up (one object's records count once, by their largest count).
fn count(members: &[&Denial]) -> u64 {
    let mut per: BTreeMap<Reporter<'_>, BTreeMap<&ObjectRef, u64>> = BTreeMap::new();
    for d in members {
        let by_object = per.entry(reporter(d)).or_default();
        let n = by_object.entry(&d.object).or_default();
        *n = (*n).max(d.count);
    }
    per.values().map(|objects| objects.values().sum()).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{ClusterId, Enforcement, Engine, Evidence, PolicyRef};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn denial(id: &str, pod: &str, source: EvidenceSource, reference: &str, count: u64) -> Denial {
        Denial {
            class: Default::default(),
            id: id.into(),
            engine: Engine::Kyverno,
            enforcement: Enforcement::Deny,
            policy: Some(PolicyRef {
                kind: "ClusterPolicy".into(),
                name: "require-run-as-nonroot".into(),
                namespace: None,
                generation: None,
                resource_version: None,
            }),
            webhook: Some("validate.kyverno.svc-fail".into()),
            binding: None,
            rule: Some("run-as-non-root".into()),
            object: ObjectRef { kind: "Pod".into(), namespace: Some("shop".into()), name: pod.into() },
            operation: None,
            user: None,
            message: "validation error: Running as root is not allowed.".into(),
            count,
            first_seen: ts("2026-11-27T14:08:06Z"),
            last_seen: ts("2026-11-27T14:10:00Z"),
            severity: None,
            category: None,
            owner: None,
            exceptions: Vec::new(),
            evidence: vec![Evidence {
                source,
                reference: reference.into(),
                at: ts("2026-11-27T14:10:00Z"),
                excerpt: format!("{id} said so"),
            }],
        }
    }

    fn state(records: Vec<Denial>) -> (Table<Denial>, MergedDenials) {
        let mut raw = Table::new();
        let mut merged = MergedDenials::default();
        for d in records {
            let id = RecordId::new(ClusterId::new("prod-eu"), d.id.clone());
            let old = raw.insert(id.clone(), d);
            merged.on_change(&raw, &id, old.as_ref());
        }
        (raw, merged)
    }

    #[test]
    fn generated_pod_names_share_their_controller_prefix() {
        assert_eq!(generated_prefix("payments-7d9c5b8f4-x2k4q"), Some("payments-7d9c5b8f4-"));
        assert_eq!(generated_prefix("my-deployment-f9c7845d9-"), Some("my-deployment-f9c7845d9-"));
        assert_eq!(generated_prefix("web-0"), None, "StatefulSet ordinals are names");
        assert_eq!(generated_prefix("payments-admin"), None, "vowels are not in the alphabet");
        assert_eq!(generated_prefix("nginx"), None);
        assert_eq!(generated_prefix("-"), None);
        let deployment = ObjectRef { kind: "Deployment".into(), namespace: None, name: "api-x2k4q".into() };
        assert_eq!(merged_object(&deployment), deployment, "only pods are generated");
    }

    #[test]
    fn reporters_of_one_request_merge_and_count_once() {
        // The ReplicaSet's FailedCreate and Kyverno's policy-centric event for two blocked pods.
        let (raw, merged) = state(vec![
            denial(
                "event/shop/rs.1",
                "payments-7d9c-x2k4q",
                EvidenceSource::Event,
                "Event shop/rs.1 (FailedCreate)",
                3,
            ),
            denial(
                "event/shop/rs.2",
                "payments-7d9c-b5nfm",
                EvidenceSource::Event,
                "Event shop/rs.2 (FailedCreate)",
                2,
            ),
            denial(
                "event/default/pol.1",
                "payments-7d9c-x2k4q",
                EvidenceSource::Event,
                "Event default/pol.1 (PolicyViolation)",
                3,
            ),
        ]);
        assert_eq!(merged.len(), 1);
        let (row_id, row) = merged.iter(&raw).next().unwrap();
        assert_eq!(row.object.display(), "Pod/shop/payments-7d9c-*");
        assert_eq!(row.count, 5, "FailedCreate saw 3 + 2; Kyverno's events saw 3 of those");
        assert_eq!(row.evidence.len(), 3);
        assert_eq!(merged.members(row_id).count(), 3);
    }

    #[test]
    fn different_enforcement_or_rule_stays_apart_and_removal_unmerges() {
        let mut audit =
            denial("report|a", "payments-7d9c-x2k4q", EvidenceSource::PolicyReport, "PolicyReport shop/a", 1);
        audit.enforcement = Enforcement::Audit;
        let mut other_rule = denial(
            "event/shop/e",
            "payments-7d9c-x2k4q",
            EvidenceSource::Event,
            "Event shop/e (FailedCreate)",
            1,
        );
        other_rule.rule = Some("autogen-run-as-non-root".into());
        let deny = denial(
            "event/shop/d",
            "payments-7d9c-x2k4q",
            EvidenceSource::Event,
            "Event shop/d (FailedCreate)",
            4,
        );
        let (mut raw, mut merged) = state(vec![audit, other_rule, deny]);
        assert_eq!(merged.len(), 3);
        let id = RecordId::new(ClusterId::new("prod-eu"), "event/shop/d");
        let old = raw.remove(&id);
        merged.on_change(&raw, &id, old.as_ref());
        assert_eq!(merged.len(), 2);
        assert!(merged.row_of(&id).is_none());
        assert!(merged.iter(&raw).all(|(_, d)| d.count == 1));
    }

    #[test]
    fn a_row_of_one_record_is_that_record_and_becomes_a_copy_only_when_a_second_joins() {
        let first = denial(
            "event/shop/a",
            "payments-7d9c-x2k4q",
            EvidenceSource::Event,
            "Event shop/a (FailedCreate)",
            2,
        );
        let (mut raw, mut merged) = state(vec![first]);
        let (row, d) = merged.iter(&raw).next().unwrap();
        let row = row.clone();
        assert!(std::ptr::eq(d, raw.values().next().unwrap()), "no copy for one record");
        assert_eq!(d.object.name, "payments-7d9c-x2k4q", "it keeps its own name");
        let second = denial(
            "event/shop/b",
            "payments-7d9c-b5nfm",
            EvidenceSource::Event,
            "Event shop/b (FailedCreate)",
            3,
        );
        let id = RecordId::new(ClusterId::new("prod-eu"), "event/shop/b");
        raw.insert(id.clone(), second);
        merged.on_change(&raw, &id, None);
        let d = merged.get(&row, &raw).unwrap();
        assert_eq!((d.object.name.as_str(), d.count), ("payments-7d9c-*", 5), "merged: a copy");
        let old = raw.remove(&id);
        merged.on_change(&raw, &id, old.as_ref());
        assert!(
            std::ptr::eq(merged.get(&row, &raw).unwrap(), raw.values().next().unwrap()),
            "one record again"
        );
        assert_eq!(merged.by_policy()["require-run-as-nonroot"].len(), 1);
        let first_id = RecordId::new(ClusterId::new("prod-eu"), "event/shop/a");
        let old = raw.remove(&first_id);
        merged.on_change(&raw, &first_id, old.as_ref());
        assert!(merged.is_empty() && merged.by_policy().is_empty(), "nothing left behind");
    }

    #[test]
    fn the_merged_row_takes_what_each_source_knows() {
        let mut event = denial(
            "event/shop/e",
            "payments-7d9c-x2k4q",
            EvidenceSource::Event,
            "Event shop/e (FailedCreate)",
            2,
        );
        event.operation = Some("CREATE".into());
        let mut audit = denial("audit|1", "payments-7d9c-x2k4q", EvidenceSource::AuditLog, "audit 1", 2);
        audit.user = Some("system:serviceaccount:kube-system:replicaset-controller".into());
        audit.first_seen = ts("2026-11-27T14:08:00Z");
        audit.evidence[0].at = ts("2026-11-27T14:08:00Z");
        audit.exceptions = vec!["shop/payments-hotfix".into()];
        let (raw, merged) = state(vec![event, audit]);
        let row = merged.iter(&raw).next().unwrap().1;
        assert_eq!(row.user.as_deref(), Some("system:serviceaccount:kube-system:replicaset-controller"));
        assert_eq!(row.operation.as_deref(), Some("CREATE"));
        assert_eq!(row.first_seen, ts("2026-11-27T14:08:00Z"));
        assert_eq!(row.count, 2);
        assert_eq!(row.exceptions, vec!["shop/payments-hotfix".to_string()]);
        assert_eq!(row.evidence[0].source, EvidenceSource::AuditLog, "oldest first");
    }

    #[test]
    fn history_spreads_a_new_record_and_adds_increases_at_last_seen() {
        let mut d = denial(
            "event/shop/e",
            "payments-7d9c-x2k4q",
            EvidenceSource::Event,
            "Event shop/e (FailedCreate)",
            4,
        );
        d.first_seen = ts("2026-11-27T14:07:00Z");
        d.last_seen = ts("2026-11-27T14:10:30Z");
        let (mut raw, mut merged) = state(vec![d.clone()]);
        let row = merged.iter(&raw).next().unwrap().0.clone();
        let now = ts("2026-11-27T14:11:00Z");
        assert_eq!(merged.rate(&row, &raw, now, 5), vec![1, 1, 1, 1, 0], "14:07..14:11");
        let mut later = d;
        later.count = 7;
        later.last_seen = ts("2026-11-27T14:11:10Z");
        let id = RecordId::new(ClusterId::new("prod-eu"), "event/shop/e");
        let old = raw.insert(id.clone(), later);
        merged.on_change(&raw, &id, old.as_ref());
        assert_eq!(merged.rate(&row, &raw, now, 5), vec![1, 1, 1, 1, 3]);
        assert_eq!(merged.rate(&row, &raw, now, 5).iter().sum::<u64>(), 7, "every occurrence is binned once");
    }
}
