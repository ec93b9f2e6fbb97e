//! The policy objects behind the demo's denials: Kyverno `require-run-as-nonroot` at
//! generation 3 (Audit) in the Kyverno clusters, rolled out as generation 4 (Enforce) to
//! prod-eu, staging and prod-us just before their first denials; the `replica-limit` VAP and
//! its binding; and the Gatekeeper constraint on the GPU cluster.

use super::clusters::{self, GPU_TRAIN, PROD_AP, PROD_EU, PROD_US, STAGING_EU};
use super::denials::{ROLLOUT_AT, ROLLOUT_POLICY};
use super::timeline::{Ms, Timeline, secs};
use crate::model::{ClusterId, Enforcement, Engine, Policy, Record, RecordKind, Severity};

/// When generation 4 reaches each cluster (its first denial follows within seconds).
const ROLLOUT: [(&str, Ms); 3] =
    [(PROD_EU, ROLLOUT_AT), (STAGING_EU, ROLLOUT_AT + secs(18)), (PROD_US, ROLLOUT_AT + secs(45))];

fn rollout_policy(generation: i64, enforcement: Enforcement, resource_version: u64) -> Policy {
    Policy {
        engine: Engine::Kyverno,
        kind: "ClusterPolicy".into(),
        namespace: None,
        name: ROLLOUT_POLICY.into(),
        generation: Some(generation),
        resource_version: Some(resource_version.to_string()),
        rules: vec!["run-as-non-root".into(), "autogen-run-as-non-root".into()],
        enforcement: Some(enforcement),
        binds: None,
        severity: Some(Severity::Medium),
        category: Some("Pod Security Standards (Restricted)".into()),
        owner: Some("platform-security".into()),
        ready: Some(true),
        created_at: None,
        rollout: None,
    }
}

fn plain(
    engine: Engine,
    kind: &str,
    name: &str,
    generation: i64,
    enforcement: Option<Enforcement>,
) -> Policy {
    Policy {
        engine,
        kind: kind.into(),
        namespace: None,
        name: name.into(),
        generation: Some(generation),
        resource_version: None,
        rules: Vec::new(),
        enforcement,
        binds: None,
        severity: None,
        category: None,
        owner: None,
        ready: None,
        created_at: None,
        rollout: None,
    }
}

/// Every policy object of the demo.
pub(crate) fn generate(tl: &mut Timeline) {
    for cluster in [PROD_EU, PROD_US, PROD_AP, STAGING_EU] {
        let id = ClusterId::new(cluster);
        let at = clusters::list_at(cluster, RecordKind::Policy);
        tl.upsert(at, &id, Record::Policy(rollout_policy(3, Enforcement::Audit, 48_113_020)));
        let mut vap = plain(
            Engine::ValidatingAdmissionPolicy,
            "ValidatingAdmissionPolicy",
            "replica-limit.example.com",
            1,
            None,
        );
        vap.rules = vec!["#0 object.spec.replicas <= 5".into()];
        tl.upsert(at, &id, Record::Policy(vap));
        let mut binding = plain(
            Engine::ValidatingAdmissionPolicy,
            "ValidatingAdmissionPolicyBinding",
            "replica-limit-binding",
            1,
            Some(Enforcement::Deny),
        );
        binding.binds = Some("replica-limit.example.com".into());
        tl.upsert(at, &id, Record::Policy(binding));
    }
    for (i, (cluster, at)) in ROLLOUT.into_iter().enumerate() {
        let rv = 61_530_400 + i as u64 * 17;
        tl.upsert(at, &ClusterId::new(cluster), Record::Policy(rollout_policy(4, Enforcement::Deny, rv)));
    }
    let gpu = ClusterId::new(GPU_TRAIN);
    let mut constraint =
        plain(Engine::Gatekeeper, "K8sRequiredLabels", "k8srequiredlabels-owner", 2, Some(Enforcement::Deny));
    constraint.owner = Some("team-platform".into());
    tl.upsert(clusters::list_at(GPU_TRAIN, RecordKind::Policy), &gpu, Record::Policy(constraint));
}
