//! Which optional APIs (CRDs, aggregated APIs) a cluster serves, found per group with the
//! classic discovery endpoints: `GET /apis`, then `GET /apis/<group>/<version>` for each
//! wanted group. A group that is not served is "not installed"; a group whose discovery
//! fails (a broken aggregated API answers 503) or is refused affects only its own sources.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroup, APIResource};
use kube::Client;
use kube::api::ApiResource;
use kube::core::Status;

use crate::model::{SourceKind, SourceState};

/// A discovery request that takes longer than this fails (and is retried later).
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What fleettop reads from a custom resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Kueue ClusterQueue → GPU queue.
    ClusterQueue,
    /// Kueue LocalQueue → which ClusterQueue a namespace's queue feeds.
    LocalQueue,
    /// Kueue Workload → GPU workload.
    Workload,
    /// Kueue ResourceFlavor → the GPU product of a quota's flavor.
    ResourceFlavor,
    /// Kueue WorkloadPriorityClass → a workload's priority when it carries only the class.
    PriorityClass,
    /// Kyverno PolicyException → exception.
    PolicyException,
    /// Kyverno ClusterCleanupPolicy / CleanupPolicy → when the exceptions it deletes expire.
    CleanupPolicy,
    /// PolicyReport / ClusterPolicyReport / Report / ClusterReport → denial findings.
    PolicyReport,
    /// A Gatekeeper constraint (any kind) → audit violations.
    Constraint,
    /// Gatekeeper Config → exempt namespaces.
    GatekeeperConfig,
    /// Kyverno ClusterPolicy / Policy → policy (version, rules, enforcement).
    KyvernoPolicy,
    /// ValidatingAdmissionPolicy / binding → policy.
    AdmissionPolicy,
}

/// An API group fleettop watches when the cluster serves it.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    /// API group.
    pub group: &'static str,
    /// Versions understood, most preferred first; empty = the group's preferred version.
    pub versions: &'static [&'static str],
    /// Plural resource names wanted; empty = every resource of the group.
    pub plurals: &'static [&'static str],
    /// What the resources are read as.
    pub role: Role,
    /// The source they report as.
    pub source: SourceKind,
}

/// Every optional group fleettop reads, in the order they are discovered.
pub const WANTED: &[Wanted] = &[
    Wanted {
        group: "kueue.x-k8s.io",
        versions: &["v1beta2", "v1beta1"],
        plurals: &["clusterqueues"],
        role: Role::ClusterQueue,
        source: SourceKind::Kueue,
    },
    Wanted {
        group: "kueue.x-k8s.io",
        versions: &["v1beta2", "v1beta1"],
        plurals: &["localqueues"],
        role: Role::LocalQueue,
        source: SourceKind::Kueue,
    },
    Wanted {
        group: "kueue.x-k8s.io",
        versions: &["v1beta2", "v1beta1"],
        plurals: &["workloads"],
        role: Role::Workload,
        source: SourceKind::Kueue,
    },
    Wanted {
        group: "kueue.x-k8s.io",
        versions: &["v1beta2", "v1beta1"],
        plurals: &["resourceflavors"],
        role: Role::ResourceFlavor,
        source: SourceKind::Kueue,
    },
    Wanted {
        group: "kueue.x-k8s.io",
        versions: &["v1beta2", "v1beta1"],
        plurals: &["workloadpriorityclasses"],
        role: Role::PriorityClass,
        source: SourceKind::Kueue,
    },
    Wanted {
        group: "kyverno.io",
        versions: &["v2", "v2beta1"],
        plurals: &["policyexceptions"],
        role: Role::PolicyException,
        source: SourceKind::Kyverno,
    },
    // Served at v2 (the storage version) in current Kyverno; v2beta1 and v2alpha1 in older ones.
    Wanted {
        group: "kyverno.io",
        versions: &["v2", "v2beta1", "v2alpha1"],
        plurals: &["clustercleanuppolicies", "cleanuppolicies"],
        role: Role::CleanupPolicy,
        source: SourceKind::Kyverno,
    },
    Wanted {
        group: "kyverno.io",
        versions: &["v1", "v2beta1"],
        plurals: &["clusterpolicies", "policies"],
        role: Role::KyvernoPolicy,
        source: SourceKind::Kyverno,
    },
    Wanted {
        group: "policies.kyverno.io",
        versions: &["v1", "v1beta1", "v1alpha1"],
        plurals: &["policyexceptions"],
        role: Role::PolicyException,
        source: SourceKind::Kyverno,
    },
    Wanted {
        group: "wgpolicyk8s.io",
        versions: &["v1alpha2"],
        plurals: &["policyreports", "clusterpolicyreports"],
        role: Role::PolicyReport,
        source: SourceKind::PolicyReports,
    },
    Wanted {
        group: "openreports.io",
        versions: &["v1alpha1"],
        plurals: &["reports", "clusterreports"],
        role: Role::PolicyReport,
        source: SourceKind::PolicyReports,
    },
    Wanted {
        group: "constraints.gatekeeper.sh",
        versions: &[],
        plurals: &[],
        role: Role::Constraint,
        source: SourceKind::Gatekeeper,
    },
    Wanted {
        group: "config.gatekeeper.sh",
        versions: &["v1alpha1"],
        plurals: &["configs"],
        role: Role::GatekeeperConfig,
        source: SourceKind::Gatekeeper,
    },
    // Served as v1 from Kubernetes 1.30, v1beta1 from 1.28; the group's v1 also holds the
    // webhook configurations, so the version is the first one that serves these resources.
    Wanted {
        group: "admissionregistration.k8s.io",
        versions: &["v1", "v1beta1", "v1alpha1"],
        plurals: &["validatingadmissionpolicies", "validatingadmissionpolicybindings"],
        role: Role::AdmissionPolicy,
        source: SourceKind::AdmissionPolicies,
    },
];

/// The sources fed by optional groups, each once.
pub fn optional_sources() -> Vec<SourceKind> {
    let mut out: Vec<SourceKind> = Vec::new();
    for w in WANTED {
        if !out.contains(&w.source) {
            out.push(w.source);
        }
    }
    out
}

/// A resource the cluster serves and fleettop will watch.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// What it is read as.
    pub role: Role,
    /// The source it reports as.
    pub source: SourceKind,
    /// Group, version, kind and plural, for a dynamic API.
    pub resource: ApiResource,
}

impl Found {
    /// `plural.group`, as in RBAC messages and the source's state.
    pub fn label(&self) -> String {
        format!("{}.{}", self.resource.plural, self.resource.group)
    }
}

/// The outcome of discovering one cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discovered {
    /// Resources to watch.
    pub found: Vec<Found>,
    /// Per wanted group: `(source, group, state)` when it is not served, refused or failing.
    pub problems: Vec<(SourceKind, String, SourceState)>,
}

/// Discovers every [`WANTED`] group of the cluster: one `GET /apis`, then the wanted group
/// versions concurrently (a slow cluster costs two round trips, not one per group). Fails
/// only when `GET /apis` itself does.
pub async fn discover(client: &Client) -> Result<Discovered, SourceState> {
    let groups = timed(client.list_api_groups()).await?;
    let mut out = Discovered::default();
    let mut chosen: Vec<(&Wanted, Vec<String>)> = Vec::new();
    for wanted in WANTED {
        let versions =
            served_group(&groups.groups, wanted).map(|g| candidate_versions(g, wanted)).unwrap_or_default();
        if versions.is_empty() {
            out.problems.push((wanted.source, wanted.group.to_string(), SourceState::NotInstalled));
        } else {
            chosen.push((wanted, versions));
        }
    }
    let mut group_versions: Vec<String> = Vec::new();
    for (w, versions) in &chosen {
        for v in versions {
            let gv = format!("{}/{v}", w.group);
            if !group_versions.contains(&gv) {
                group_versions.push(gv);
            }
        }
    }
    let lists = futures::future::join_all(
        group_versions.iter().map(|gv| async move { timed(client.list_api_group_resources(gv)).await }),
    )
    .await;
    let list_of = |gv: &str| group_versions.iter().position(|g| g == gv).and_then(|i| lists.get(i));
    for (wanted, versions) in chosen {
        let mut first_error: Option<(String, SourceState)> = None;
        let mut found = Vec::new();
        for version in &versions {
            let gv = format!("{}/{version}", wanted.group);
            match list_of(&gv) {
                Some(Ok(list)) => found = select(wanted, version, &list.resources),
                Some(Err(state)) => {
                    first_error.get_or_insert((gv, state.clone()));
                }
                None => {}
            }
            if !found.is_empty() {
                break;
            }
        }
        if found.is_empty() {
            let (gv, state) = first_error.unwrap_or_else(|| {
                (format!("{}/{}", wanted.group, versions.join(",")), SourceState::NotInstalled)
            });
            out.problems.push((wanted.source, gv, state));
        }
        out.found.extend(found);
    }
    Ok(out)
}

/// The wanted group among those the cluster serves.
fn served_group<'a>(groups: &'a [APIGroup], wanted: &Wanted) -> Option<&'a APIGroup> {
    groups.iter().find(|g| g.name == wanted.group)
}

/// The versions to try, most preferred first: those fleettop understands that the group
/// serves, or the group's preferred version when any will do.
pub fn candidate_versions(group: &APIGroup, wanted: &Wanted) -> Vec<String> {
    let served: Vec<&str> = group.versions.iter().map(|v| v.version.as_str()).collect();
    if wanted.versions.is_empty() {
        return group
            .preferred_version
            .as_ref()
            .map(|p| p.version.clone())
            .or_else(|| served.first().map(|v| v.to_string()))
            .into_iter()
            .collect();
    }
    wanted.versions.iter().filter(|v| served.contains(v)).map(|v| v.to_string()).collect()
}

/// The resources of one group version that fleettop wants and may list and watch.
pub fn select(wanted: &Wanted, version: &str, resources: &[APIResource]) -> Vec<Found> {
    resources
        .iter()
        .filter(|r| !r.name.contains('/'))
        .filter(|r| wanted.plurals.is_empty() || wanted.plurals.contains(&r.name.as_str()))
        .filter(|r| r.verbs.iter().any(|v| v == "list") && r.verbs.iter().any(|v| v == "watch"))
        .map(|r| Found {
            role: wanted.role,
            source: wanted.source,
            resource: ApiResource {
                group: wanted.group.to_string(),
                version: version.to_string(),
                api_version: format!("{}/{version}", wanted.group),
                kind: r.kind.clone(),
                plural: r.name.clone(),
            },
        })
        .collect()
}

/// Runs a discovery request with [`DISCOVERY_TIMEOUT`]; failures become source states.
async fn timed<T>(request: impl std::future::Future<Output = kube::Result<T>>) -> Result<T, SourceState> {
    match tokio::time::timeout(DISCOVERY_TIMEOUT, request).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(kube::Error::Api(s))) => Err(api_error_state(&s)),
        Ok(Err(e)) => Err(SourceState::Error { message: format!("discovery: {}", super::chain(&e)) }),
        Err(_) => Err(SourceState::Error {
            message: format!("discovery: no answer within {}s", DISCOVERY_TIMEOUT.as_secs()),
        }),
    }
}

/// 403 → forbidden, 404 → not installed, anything else (503 from a broken aggregated API) →
/// an error naming the code.
fn api_error_state(s: &Status) -> SourceState {
    match s.code {
        403 => SourceState::Forbidden { message: s.message.clone() },
        404 => SourceState::NotInstalled,
        code => SourceState::Error { message: format!("discovery failed ({code}): {}", s.message) },
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::GroupVersionForDiscovery;

    use super::*;

    fn group(name: &str, versions: &[&str], preferred: &str) -> APIGroup {
        let gv =
            |v: &str| GroupVersionForDiscovery { group_version: format!("{name}/{v}"), version: v.into() };
        APIGroup {
            name: name.into(),
            versions: versions.iter().map(|v| gv(v)).collect(),
            preferred_version: Some(gv(preferred)),
            server_address_by_client_cidrs: None,
        }
    }

    fn resource(name: &str, kind: &str, verbs: &[&str]) -> APIResource {
        APIResource {
            name: name.into(),
            kind: kind.into(),
            namespaced: true,
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            singular_name: String::new(),
            ..Default::default()
        }
    }

    #[test]
    fn kueue_prefers_v1beta2_and_falls_back_to_v1beta1() {
        let wanted = WANTED[0];
        let both = group("kueue.x-k8s.io", &["v1beta2", "v1beta1"], "v1beta1");
        assert_eq!(candidate_versions(&both, &wanted), ["v1beta2", "v1beta1"]);
        let old = group("kueue.x-k8s.io", &["v1beta1", "v1alpha1"], "v1beta1");
        assert_eq!(candidate_versions(&old, &wanted), ["v1beta1"]);
        let unknown = group("kueue.x-k8s.io", &["v1alpha1"], "v1alpha1");
        assert!(candidate_versions(&unknown, &wanted).is_empty());
    }

    #[test]
    fn gatekeeper_constraints_take_every_watchable_kind_of_the_preferred_version() {
        let wanted = *WANTED.iter().find(|w| w.role == Role::Constraint).expect("constraints are wanted");
        let g = group("constraints.gatekeeper.sh", &["v1", "v1beta1", "v1alpha1"], "v1beta1");
        assert_eq!(candidate_versions(&g, &wanted), ["v1beta1"]);
        let rw = ["get", "list", "watch"];
        let resources = [
            resource("k8srequiredlabels", "K8sRequiredLabels", &rw),
            resource("k8srequiredlabels/status", "K8sRequiredLabels", &rw),
            resource("k8sallowedrepos", "K8sAllowedRepos", &rw),
            resource("unwatchable", "Unwatchable", &["get"]),
        ];
        let found = select(&wanted, "v1beta1", &resources);
        let kinds: Vec<&str> = found.iter().map(|f| f.resource.kind.as_str()).collect();
        assert_eq!(kinds, ["K8sRequiredLabels", "K8sAllowedRepos"]);
        assert_eq!(found[0].resource.api_version, "constraints.gatekeeper.sh/v1beta1");
        assert_eq!(found[0].label(), "k8srequiredlabels.constraints.gatekeeper.sh");
    }

    #[test]
    fn only_the_wanted_plurals_of_a_group_are_selected() {
        let wanted = WANTED[2];
        let rw = ["list", "watch"];
        let resources =
            [resource("workloads", "Workload", &rw), resource("clusterqueues", "ClusterQueue", &rw)];
        let found = select(&wanted, "v1beta1", &resources);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].role, Role::Workload);
    }

    #[test]
    fn cleanup_policies_are_read_at_v2_or_the_older_versions_kyverno_served() {
        let wanted =
            *WANTED.iter().find(|w| w.role == Role::CleanupPolicy).expect("cleanup policies are wanted");
        assert_eq!((wanted.group, wanted.source), ("kyverno.io", SourceKind::Kyverno));
        let current = group("kyverno.io", &["v1", "v2", "v2beta1", "v2alpha1"], "v1");
        assert_eq!(candidate_versions(&current, &wanted), ["v2", "v2beta1", "v2alpha1"]);
        let kyverno_1_9 = group("kyverno.io", &["v1", "v2alpha1", "v1alpha2"], "v1");
        assert_eq!(candidate_versions(&kyverno_1_9, &wanted), ["v2alpha1"]);
        let rw = ["get", "list", "watch"];
        let resources = [
            resource("clustercleanuppolicies", "ClusterCleanupPolicy", &rw),
            resource("cleanuppolicies", "CleanupPolicy", &rw),
            resource("policyexceptions", "PolicyException", &rw),
        ];
        let found = select(&wanted, "v2", &resources);
        let labels: Vec<String> = found.iter().map(Found::label).collect();
        assert_eq!(labels, ["clustercleanuppolicies.kyverno.io", "cleanuppolicies.kyverno.io"]);
        assert!(
            found.iter().all(|f| f.role == Role::CleanupPolicy && f.resource.api_version == "kyverno.io/v2")
        );
    }

    #[test]
    fn every_optional_source_is_listed_once() {
        let sources = optional_sources();
        assert_eq!(
            sources,
            [
                SourceKind::Kueue,
                SourceKind::Kyverno,
                SourceKind::PolicyReports,
                SourceKind::Gatekeeper,
                SourceKind::AdmissionPolicies
            ]
        );
    }
}
