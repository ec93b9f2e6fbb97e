//! Policy report `skip` results that name the exceptions behind them: what an exception
//! actually bypassed (its reach), as the engine reported it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ObjectRef;

/// One `skip` result of a policy report (wgpolicyk8s.io or openreports.io) for one object: a
/// policy (rule) did not apply to it because of the PolicyExceptions it names. Skips that
/// name no exception (a precondition did not hold) are not kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSkip {
    /// `skip|<Kind/ns/report>|<policy>|<rule>|<object>`: unique per report, policy, rule and
    /// object, stable across relists.
    pub id: String,
    /// The report it came from (`PolicyReport/ns/name`).
    pub report: String,
    /// Policy name as reported (`ns/name` for namespaced policies).
    pub policy: String,
    /// Rule, when the result names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The exceptions that made the policy skip the object (`properties.exceptions`), as
    /// named there: bare names (Kyverno), so one name may match an exception in any
    /// namespace of the cluster.
    pub exceptions: Vec<String>,
    /// The object the policy skipped.
    pub object: ObjectRef,
    /// Results folded into this one (a report repeating the same result).
    pub count: u64,
    /// The result's timestamp (when the engine evaluated), else when it was observed.
    pub at: Timestamp,
}

impl ReportSkip {
    /// The record's key within its cluster: the id.
    pub fn key(&self) -> String {
        self.id.clone()
    }

    /// The exception names, without any `namespace/` prefix: the key of the state's index by
    /// exception.
    pub fn exception_names(&self) -> impl Iterator<Item = &str> {
        self.exceptions.iter().map(|n| n.rsplit('/').next().unwrap_or(n))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn serialises_with_its_tag_and_bare_names() {
        let s = ReportSkip {
            id: "skip|PolicyReport/default/r|p|r1|Pod/default/x".into(),
            report: "PolicyReport/default/r".into(),
            policy: "p".into(),
            rule: None,
            exceptions: vec!["team-a/allow-x".into(), "allow-y".into()],
            object: ObjectRef { kind: "Pod".into(), namespace: Some("default".into()), name: "x".into() },
            count: 1,
            at: Timestamp::UNIX_EPOCH,
        };
        assert_eq!(s.exception_names().collect::<Vec<_>>(), ["allow-x", "allow-y"]);
        let v = serde_json::to_value(crate::model::Record::Skip(s.clone())).unwrap();
        assert_eq!(v["record"], "skip");
        assert!(v.get("rule").is_none(), "absent rules are not written");
        assert_eq!(serde_json::from_value::<crate::model::Record>(v).unwrap(), crate::model::Record::Skip(s));
    }
}
