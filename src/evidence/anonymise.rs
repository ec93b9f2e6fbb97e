//! Rewrites observations for sharing outside the company: the names of things (clusters,
//! namespaces, objects, nodes, users, owners, teams, queues, GPU and pod UIDs) become
//! pseudonyms, and free text (messages, errors, excerpts, tickets) is removed, while
//! policies, rules, webhooks, engines, kinds, counts and times stay as they were, so the
//! recording still answers the same questions.
//!
//! A pseudonym is a keyed BLAKE3 hash of the name (`n-1f3a9c0e`): the same name gives the
//! same pseudonym everywhere in one run (joins between records keep working), and without the
//! key nobody can test guesses against it. The random tail Kubernetes gives pod names
//! (`payments-7d9f8-x7rvv`: see [`crate::state::generated_prefix`]) is kept after the
//! pseudonym of its prefix, so pods of one controller still merge into one row. A name
//! holding `/` (`namespace/name`) is rewritten part by part.
//!
//! Every field of every record is named below by destructuring (no `..`): a field added to
//! the model later does not compile here until someone decides what sharing it means.

use std::collections::BTreeMap;

use crate::model::*;

/// What is removed, and what stays, as chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Keep messages, errors and excerpts (still passed through the secret redaction).
    pub keep_messages: bool,
    /// Keep cluster names (kubeconfig contexts).
    pub keep_clusters: bool,
}

/// What a removed text is replaced by.
pub const REMOVED: &str = "<removed>";

/// The pseudonymiser of one run: the key, the rules, and each record's key before and after
/// (so a later delete of the record names its new key).
pub struct Anonymiser {
    key: [u8; 32],
    rules: Rules,
    keys: BTreeMap<(ClusterId, RecordKind, String), String>,
}

impl Anonymiser {
    /// An anonymiser with the given hash key and rules.
    pub fn new(key: [u8; 32], rules: Rules) -> Self {
        Self { key, rules, keys: BTreeMap::new() }
    }

    /// The pseudonym of one name (`n-` and 8 hex digits), keeping a generated pod suffix.
    pub fn name(&self, s: &str) -> String {
        if s.is_empty() || s == "*" {
            return s.to_string();
        }
        if s.contains('/') {
            return s.split('/').map(|part| self.name(part)).collect::<Vec<_>>().join("/");
        }
        match crate::state::generated_prefix(s) {
            Some(prefix) if prefix.len() < s.len() => format!("{}-{}", self.hash(prefix), &s[prefix.len()..]),
            Some(prefix) => format!("{}-", self.hash(prefix)),
            None => self.hash(s),
        }
    }

    fn hash(&self, s: &str) -> String {
        let h = blake3::keyed_hash(&self.key, s.as_bytes());
        let hex: String = h.as_bytes()[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("n-{hex}")
    }

    fn cluster(&self, c: &ClusterId) -> ClusterId {
        if self.rules.keep_clusters { c.clone() } else { ClusterId::new(self.name(c.as_str())) }
    }

    fn text(&self, s: &str) -> String {
        if self.rules.keep_messages { crate::redact::text(s).into_owned() } else { REMOVED.to_string() }
    }

    /// A policy's name: kept when the policy is cluster-wide (names from public policy
    /// libraries: `require-run-as-nonroot`), a pseudonym when it lives in a namespace (a
    /// ResourceQuota, LimitRange or namespaced policy is named by its team: `search-quota`).
    /// Pod Security's levels (`restricted:latest`) are vocabulary, whatever namespace they
    /// apply in.
    fn policy_name(&self, engine: Engine, namespace: &Option<String>, name: &str) -> String {
        if namespace.is_some() && engine != Engine::PodSecurity { self.name(name) } else { name.to_string() }
    }

    fn opt_name(&self, s: &Option<String>) -> Option<String> {
        s.as_deref().map(|s| self.name(s))
    }

    fn opt_text(&self, s: &Option<String>) -> Option<String> {
        s.as_deref().map(|s| self.text(s))
    }

    fn names(&self, v: &[String]) -> Vec<String> {
        v.iter().map(|s| self.name(s)).collect()
    }

    /// The cluster list of a recording's header.
    pub fn clusters(&self, clusters: &[ClusterId]) -> Vec<ClusterId> {
        clusters.iter().map(|c| self.cluster(c)).collect()
    }

    /// One observation, rewritten.
    pub fn observation(&mut self, o: &Observation) -> Observation {
        let cluster = self.cluster(&o.cluster);
        let change = match &o.change {
            Change::Cluster(u) => Change::Cluster(self.cluster_update(u)),
            Change::Source { source, state } => {
                Change::Source { source: *source, state: self.source_state(state) }
            }
            Change::Upsert { record } => {
                let new = self.record(record);
                self.keys.insert((o.cluster.clone(), record.kind(), record.key()), new.key());
                Change::Upsert { record: new }
            }
            Change::Delete { kind, key } => {
                let new = match self.keys.get(&(o.cluster.clone(), *kind, key.clone())) {
                    Some(k) => k.clone(),
                    // A record this run never saw (deleted before the recording's first
                    // upsert of it): the part-by-part pseudonym deletes nothing either way.
                    None => self.name(key),
                };
                Change::Delete { kind: *kind, key: new }
            }
            Change::SyncStart { kind } => Change::SyncStart { kind: *kind },
            Change::SyncEnd { kind } => Change::SyncEnd { kind: *kind },
        };
        Observation { at: o.at, cluster, change }
    }

    fn cluster_update(&self, u: &ClusterUpdate) -> ClusterUpdate {
        let ClusterUpdate { connection, server_version, latency_ms, labels } = u;
        let connection = connection.as_ref().map(|c| match c {
            ConnectionState::Connecting => ConnectionState::Connecting,
            ConnectionState::Connected => ConnectionState::Connected,
            ConnectionState::Unreachable { since, error } => {
                ConnectionState::Unreachable { since: *since, error: self.text(error) }
            }
            ConnectionState::Forbidden { error } => ConnectionState::Forbidden { error: self.text(error) },
        });
        // Fleet-file labels (env, region) are how the fleet is grouped; their values may name
        // the company's places, so they are pseudonymised with the clusters.
        let labels = labels.as_ref().map(|l| {
            l.iter()
                .map(|(k, v)| (k.clone(), if self.rules.keep_clusters { v.clone() } else { self.name(v) }))
                .collect()
        });
        ClusterUpdate { connection, server_version: server_version.clone(), latency_ms: *latency_ms, labels }
    }

    fn source_state(&self, s: &SourceState) -> SourceState {
        match s {
            SourceState::Syncing => SourceState::Syncing,
            SourceState::Live => SourceState::Live,
            SourceState::NotInstalled => SourceState::NotInstalled,
            SourceState::Stale { since } => SourceState::Stale { since: *since },
            SourceState::Forbidden { message } => SourceState::Forbidden { message: self.text(message) },
            SourceState::Error { message } => SourceState::Error { message: self.text(message) },
            SourceState::Unavailable { message } => SourceState::Unavailable { message: self.text(message) },
            SourceState::Degraded { message } => SourceState::Degraded { message: self.text(message) },
            SourceState::Slow { message } => SourceState::Slow { message: self.text(message) },
        }
    }

    /// One record, rewritten.
    pub fn record(&self, r: &Record) -> Record {
        match r {
            Record::Denial(d) => Record::Denial(self.denial(d)),
            Record::Exception(e) => Record::Exception(self.exception(e)),
            Record::GpuQueue(q) => Record::GpuQueue(self.queue(q)),
            Record::GpuWorkload(w) => Record::GpuWorkload(self.workload(w)),
            Record::PendingGpuPod(p) => Record::PendingGpuPod(self.pending(p)),
            Record::GpuNode(n) => Record::GpuNode(self.node(n)),
            Record::Pipeline(p) => Record::Pipeline(self.pipeline(p)),
            Record::Policy(p) => Record::Policy(self.policy(p)),
            Record::Skip(s) => Record::Skip(self.skip(s)),
        }
    }

    fn object(&self, o: &ObjectRef) -> ObjectRef {
        let ObjectRef { kind, namespace, name } = o;
        ObjectRef { kind: kind.clone(), namespace: self.opt_name(namespace), name: self.name(name) }
    }

    fn evidence(&self, v: &[Evidence]) -> Vec<Evidence> {
        v.iter()
            .map(|e| {
                let Evidence { source, reference, at, excerpt } = e;
                // `Event shop/payments.17f…`: the kind word stays, the rest is a name.
                let reference = match reference.split_once(' ') {
                    Some((kind, rest)) => format!("{kind} {}", self.name(rest)),
                    None => self.name(reference),
                };
                Evidence { source: *source, reference, at: *at, excerpt: self.text(excerpt) }
            })
            .collect()
    }

    fn denial(&self, d: &Denial) -> Denial {
        let Denial {
            id,
            engine,
            enforcement,
            policy,
            webhook,
            binding,
            rule,
            object,
            operation,
            user,
            message,
            count,
            first_seen,
            last_seen,
            severity,
            category,
            owner,
            exceptions,
            evidence,
            class,
        } = d;
        let policy = policy.as_ref().map(|p| {
            let PolicyRef { kind, name, namespace, generation, resource_version } = p;
            PolicyRef {
                kind: kind.clone(),
                name: self.policy_name(*engine, namespace, name),
                namespace: self.opt_name(namespace),
                generation: *generation,
                resource_version: resource_version.clone(),
            }
        });
        Denial {
            id: self.name(id),
            engine: *engine,
            enforcement: *enforcement,
            policy,
            webhook: webhook.clone(),
            binding: binding.clone(),
            rule: rule.clone(),
            object: self.object(object),
            operation: operation.clone(),
            user: self.opt_name(user),
            message: self.text(message),
            count: *count,
            first_seen: *first_seen,
            last_seen: *last_seen,
            severity: *severity,
            category: category.clone(),
            owner: self.opt_name(owner),
            exceptions: self.names(exceptions),
            evidence: self.evidence(evidence),
            class: class.clone(),
        }
    }

    fn exception(&self, e: &PolicyException) -> PolicyException {
        let PolicyException {
            engine,
            kind,
            namespace,
            name,
            policies,
            matches,
            scope,
            created_at,
            expires_at,
            expiry_source,
            owner,
            ticket,
            evidence,
        } = e;
        let scope = scope
            .iter()
            .map(|f| {
                let ScopeFilter { kinds, namespaces, names, partial } = f;
                ScopeFilter {
                    kinds: kinds.clone(),
                    namespaces: self.names(namespaces),
                    names: self.names(names),
                    partial: *partial,
                }
            })
            .collect();
        let expiry_source = match expiry_source {
            ExpirySource::Annotation { key } => ExpirySource::Annotation { key: key.clone() },
            other => other.clone(),
        };
        PolicyException {
            engine: *engine,
            kind: kind.clone(),
            namespace: self.opt_name(namespace),
            name: self.name(name),
            policies: policies.clone(),
            matches: self.text(matches),
            scope,
            created_at: *created_at,
            expires_at: *expires_at,
            expiry_source,
            owner: self.opt_name(owner),
            ticket: self.opt_text(ticket),
            evidence: self.evidence(evidence),
        }
    }

    fn queue(&self, q: &GpuQueue) -> GpuQueue {
        let GpuQueue {
            name,
            cohort,
            team,
            quotas,
            pending_workloads,
            admitted_workloads,
            local_queues,
            api_version,
        } = q;
        GpuQueue {
            name: self.name(name),
            cohort: self.opt_name(cohort),
            team: self.opt_name(team),
            quotas: quotas.clone(),
            pending_workloads: *pending_workloads,
            admitted_workloads: *admitted_workloads,
            local_queues: self.names(local_queues),
            api_version: api_version.clone(),
        }
    }

    fn workload(&self, w: &GpuWorkload) -> GpuWorkload {
        let GpuWorkload {
            namespace,
            name,
            uid,
            owner,
            local_queue,
            cluster_queue,
            team,
            priority_class,
            priority,
            gpus,
            cpu,
            memory,
            flavor,
            state,
            created_at,
            admitted_at,
            position,
            history,
        } = w;
        let state = match state {
            WorkloadState::Pending { reason, message } => {
                WorkloadState::Pending { reason: reason.clone(), message: self.text(message) }
            }
            WorkloadState::Evicted { reason, message } => {
                WorkloadState::Evicted { reason: reason.clone(), message: self.text(message) }
            }
            other => other.clone(),
        };
        GpuWorkload {
            namespace: self.name(namespace),
            name: self.name(name),
            uid: self.opt_name(uid),
            owner: self.opt_name(owner),
            local_queue: self.name(local_queue),
            cluster_queue: self.opt_name(cluster_queue),
            team: self.opt_name(team),
            priority_class: self.opt_name(priority_class),
            priority: *priority,
            gpus: *gpus,
            cpu: *cpu,
            memory: *memory,
            flavor: flavor.clone(),
            state,
            created_at: *created_at,
            admitted_at: *admitted_at,
            position: *position,
            history: history.iter().map(|e| WorkloadEvent { at: e.at, what: self.text(&e.what) }).collect(),
        }
    }

    fn pending(&self, p: &PendingGpuPod) -> PendingGpuPod {
        let PendingGpuPod { namespace, name, team, resource, gpus, since, message, reasons, nodes_total } = p;
        PendingGpuPod {
            namespace: self.name(namespace),
            name: self.name(name),
            team: self.opt_name(team),
            resource: resource.clone(),
            gpus: *gpus,
            since: *since,
            message: self.opt_text(message),
            // The scheduler's reasons (`Insufficient nvidia.com/gpu`) name resources and
            // taints, not things of the company.
            reasons: reasons.clone(),
            nodes_total: *nodes_total,
        }
    }

    fn node(&self, n: &GpuNode) -> GpuNode {
        let GpuNode {
            name,
            product,
            capacity,
            allocatable,
            allocated,
            mig,
            sharing,
            schedulable,
            taints,
            devices,
            telemetry_error,
        } = n;
        let devices = devices
            .iter()
            .map(|d| {
                let GpuDevice {
                    index,
                    uuid,
                    product,
                    utilization_pct,
                    memory_used_mib,
                    memory_total_mib,
                    temperature_c,
                    power_w,
                    pod,
                    processes,
                    mig,
                    idle_since,
                } = d;
                let processes = processes
                    .iter()
                    .map(|p| {
                        let GpuProcess { pid, used_memory_mib, pod_uid, container_id, pod } = p;
                        GpuProcess {
                            pid: *pid,
                            used_memory_mib: *used_memory_mib,
                            pod_uid: self.opt_name(pod_uid),
                            container_id: self.opt_name(container_id),
                            pod: self.opt_name(pod),
                        }
                    })
                    .collect();
                GpuDevice {
                    index: *index,
                    uuid: self.name(uuid),
                    product: product.clone(),
                    utilization_pct: *utilization_pct,
                    memory_used_mib: *memory_used_mib,
                    memory_total_mib: *memory_total_mib,
                    temperature_c: *temperature_c,
                    power_w: *power_w,
                    pod: self.opt_name(pod),
                    processes,
                    mig: mig.clone(),
                    idle_since: *idle_since,
                }
            })
            .collect();
        GpuNode {
            name: self.name(name),
            product: product.clone(),
            capacity: *capacity,
            allocatable: *allocatable,
            allocated: *allocated,
            mig: mig.clone(),
            sharing: sharing.clone(),
            schedulable: *schedulable,
            taints: taints.clone(),
            devices,
            telemetry_error: self.opt_text(telemetry_error),
        }
    }

    fn pipeline(&self, p: &PipelineComponent) -> PipelineComponent {
        let PipelineComponent {
            workload,
            kind,
            name,
            signal,
            accepted_per_s,
            refused_per_s,
            sent_per_s,
            send_failed_per_s,
            enqueue_failed_per_s,
            queue_size,
            queue_capacity,
            scraped_at,
            scrape_error,
        } = p;
        PipelineComponent {
            workload: self.name(workload),
            kind: *kind,
            // The component id (`otlphttp/backend`) is configuration vocabulary, kept.
            name: name.clone(),
            signal: *signal,
            accepted_per_s: *accepted_per_s,
            refused_per_s: *refused_per_s,
            sent_per_s: *sent_per_s,
            send_failed_per_s: *send_failed_per_s,
            enqueue_failed_per_s: *enqueue_failed_per_s,
            queue_size: *queue_size,
            queue_capacity: *queue_capacity,
            scraped_at: *scraped_at,
            scrape_error: self.opt_text(scrape_error),
        }
    }

    fn policy(&self, p: &Policy) -> Policy {
        let Policy {
            engine,
            kind,
            namespace,
            name,
            generation,
            resource_version,
            rules,
            enforcement,
            binds,
            severity,
            category,
            owner,
            ready,
            created_at,
            rollout,
        } = p;
        Policy {
            engine: *engine,
            kind: kind.clone(),
            namespace: self.opt_name(namespace),
            name: self.policy_name(*engine, namespace, name),
            generation: *generation,
            resource_version: resource_version.clone(),
            rules: rules.clone(),
            enforcement: *enforcement,
            binds: binds.clone(),
            severity: *severity,
            category: category.clone(),
            owner: self.opt_name(owner),
            ready: *ready,
            created_at: *created_at,
            rollout: rollout.clone(),
        }
    }

    fn skip(&self, s: &ReportSkip) -> ReportSkip {
        let ReportSkip { id, report, policy, rule, exceptions, object, count, at } = s;
        ReportSkip {
            id: self.name(id),
            report: self.name(report),
            policy: policy.clone(),
            rule: rule.clone(),
            exceptions: self.names(exceptions),
            object: self.object(object),
            count: *count,
            at: *at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_has_one_pseudonym_per_key_and_keeps_its_generated_pod_suffix() {
        let rules = Rules { keep_messages: false, keep_clusters: false };
        let a = Anonymiser::new([1; 32], rules);
        let b = Anonymiser::new([2; 32], rules);
        assert_eq!(a.name("payments"), a.name("payments"));
        assert_ne!(a.name("payments"), b.name("payments"), "another key, another pseudonym");
        assert!(a.name("payments").starts_with("n-") && a.name("payments").len() == 10);
        assert_eq!(a.name("shop/payments"), format!("{}/{}", a.name("shop"), a.name("payments")));
        let pod = a.name("payments-4rxgtw9nj8-x7rvv");
        assert!(pod.ends_with("-x7rvv") && !pod.contains("payments"), "{pod}");
        assert_eq!(crate::state::generated_prefix(&pod).map(str::len), Some(pod.len() - 5));
        assert_eq!(a.name(""), "");
    }
}
