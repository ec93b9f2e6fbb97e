//! A small in-process Kubernetes API server for integration tests ("tier 1" of the live tests).
//!
//! [`TestApiServer`] listens on `127.0.0.1` over plain HTTP/1.1 and speaks enough of the real
//! protocol for `kube::Client`, `kube::Discovery` and `kube::runtime::watcher` to work against it
//! unchanged:
//!
//! * `GET /version`;
//! * discovery: `/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`, in the
//!   classic shapes, and the aggregated `apidiscovery.k8s.io/v2` shape for `/api` and `/apis` when
//!   the `Accept` header asks for it (as `Discovery::run_aggregated` does);
//! * list (with `limit`/`continue` paging), get, and watch (chunked newline-separated JSON events,
//!   bookmarks every second, `timeoutSeconds`, `sendInitialEvents`) for core/v1 `namespaces`,
//!   `nodes`, `pods`, `events` and `kueue.x-k8s.io/v1beta1` `clusterqueues` and `localqueues`;
//! * the pod proxy `GET /api/v1/namespaces/<ns>/pods/<name>:<port>/proxy/<path>`, answering the
//!   body set with [`TestApiServer::set_metrics`] for that pod (any port and path), `404` for a pod
//!   without one, and `403` after [`TestApiServer::forbid`]`("pods/proxy")`; a pod given to
//!   [`TestApiServer::stall_pod`] answers only after a minute (a hung exporter);
//! * errors as `Status` objects with the real HTTP codes and message shapes.
//!
//! It is read-only: every method other than `GET` gets `405 MethodNotAllowed`. Tests change the
//! cluster through [`TestApiServer::add`] and [`TestApiServer::delete`], and inject faults with
//! [`TestApiServer::forbid`], [`TestApiServer::set_latency`], [`TestApiServer::expire_watches`],
//! [`TestApiServer::drop_connections`] and [`TestApiServer::shutdown`].
//!
//! Lists honour `labelSelector` (equality- and set-based requirements: `k=v`, `k==v`, `k!=v`,
//! `k in (a,b)`, `k notin (a,b)`, `k`, `!k`; a malformed one is a `400`), as a real apiserver
//! does; watches ignore it. `fieldSelector` is accepted and ignored.
//!
//! What kube-rs 5 depends on, found by reading its code:
//! * `Discovery::run` uses the classic endpoints; `Discovery::run_aggregated` sends
//!   `Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,…,application/json`
//!   and has no fallback: a classic body would parse as an empty list and discover nothing, so the
//!   aggregated shape is served when asked for.
//! * An expired resourceVersion must be reported as an `ERROR` event inside a `200` watch stream:
//!   on an HTTP `410` to the watch request itself, kube-runtime's watcher retries the watch from the
//!   same resourceVersion forever instead of relisting.
//! * kube-client reads a watch body that ends abruptly (`UnexpectedEof`) as a clean end, so
//!   [`TestApiServer::drop_connections`] shows up as a silent re-watch, not as a watcher error.
//! * kube-runtime's watcher lists with `&limit=500` and watches with
//!   `&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion=N` (query strings
//!   start with `&`); with `streaming_lists()` it sends `sendInitialEvents=true`,
//!   `resourceVersionMatch=NotOlderThan` and `resourceVersion=0`, and waits for the bookmark
//!   annotated `k8s.io/initial-events-end`.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// The user named in `403 Forbidden` messages; also the user of [`TestApiServer::kubeconfig_yaml`].
pub const TEST_USER: &str = "test";

/// How often an open watch that asked for bookmarks gets a `BOOKMARK` event.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(1);

/// The content type of an aggregated discovery (`apidiscovery.k8s.io/v2`) response.
const AGGREGATED_CONTENT_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The verbs a real apiserver advertises for an ordinary resource. This server only implements the
/// read verbs, but clients decide what to call from discovery, so it advertises the usual set.
const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// One resource type served by the test server.
#[derive(Debug, Clone, Copy)]
struct ResourceType {
    /// API group; `""` for core.
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
}

impl ResourceType {
    /// `v1` for core, `<group>/<version>` otherwise.
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The classic discovery `APIResource` entry.
    fn api_resource(&self) -> Value {
        json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": VERBS,
            "shortNames": self.short_names,
        })
    }

    /// The aggregated discovery `APIResourceDiscovery` entry.
    fn aggregated_resource(&self) -> Value {
        json!({
            "resource": self.plural,
            "responseKind": {"group": self.group, "version": self.version, "kind": self.kind},
            "scope": if self.namespaced { "Namespaced" } else { "Cluster" },
            "singularResource": self.singular,
            "verbs": VERBS,
            "shortNames": self.short_names,
        })
    }
}

/// Every resource type the server knows. Objects of other kinds cannot be added.
const RESOURCES: &[ResourceType] = &[
    ResourceType {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "nodes",
        singular: "node",
        kind: "Node",
        namespaced: false,
        short_names: &["no"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        short_names: &["po"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
    },
    ResourceType {
        group: "kueue.x-k8s.io",
        version: "v1beta2",
        plural: "clusterqueues",
        singular: "clusterqueue",
        kind: "ClusterQueue",
        namespaced: false,
        short_names: &["cq"],
    },
    ResourceType {
        group: "kueue.x-k8s.io",
        version: "v1beta2",
        plural: "localqueues",
        singular: "localqueue",
        kind: "LocalQueue",
        namespaced: true,
        short_names: &["lq"],
    },
    ResourceType {
        group: "kueue.x-k8s.io",
        version: "v1beta2",
        plural: "workloads",
        singular: "workload",
        kind: "Workload",
        namespaced: true,
        short_names: &["wl"],
    },
    ResourceType {
        group: "kueue.x-k8s.io",
        version: "v1beta2",
        plural: "resourceflavors",
        singular: "resourceflavor",
        kind: "ResourceFlavor",
        namespaced: false,
        short_names: &["rf"],
    },
    ResourceType {
        group: "kueue.x-k8s.io",
        version: "v1beta2",
        plural: "workloadpriorityclasses",
        singular: "workloadpriorityclass",
        kind: "WorkloadPriorityClass",
        namespaced: false,
        short_names: &[],
    },
    ResourceType {
        group: "kyverno.io",
        version: "v2",
        plural: "policyexceptions",
        singular: "policyexception",
        kind: "PolicyException",
        namespaced: true,
        short_names: &["polex"],
    },
    // What deletes exceptions (their expiry): Kyverno serves cleanup policies at v2 too.
    ResourceType {
        group: "kyverno.io",
        version: "v2",
        plural: "clustercleanuppolicies",
        singular: "clustercleanuppolicy",
        kind: "ClusterCleanupPolicy",
        namespaced: false,
        short_names: &["ccleanpol"],
    },
    ResourceType {
        group: "kyverno.io",
        version: "v2",
        plural: "cleanuppolicies",
        singular: "cleanuppolicy",
        kind: "CleanupPolicy",
        namespaced: true,
        short_names: &["cleanpol"],
    },
    // A second version of the same group, as Kyverno serves it (policies at v1, exceptions
    // at v2).
    ResourceType {
        group: "kyverno.io",
        version: "v1",
        plural: "clusterpolicies",
        singular: "clusterpolicy",
        kind: "ClusterPolicy",
        namespaced: false,
        short_names: &["cpol"],
    },
    ResourceType {
        group: "wgpolicyk8s.io",
        version: "v1alpha2",
        plural: "policyreports",
        singular: "policyreport",
        kind: "PolicyReport",
        namespaced: true,
        short_names: &["polr"],
    },
    ResourceType {
        group: "wgpolicyk8s.io",
        version: "v1alpha2",
        plural: "clusterpolicyreports",
        singular: "clusterpolicyreport",
        kind: "ClusterPolicyReport",
        namespaced: false,
        short_names: &["cpolr"],
    },
    ResourceType {
        group: "constraints.gatekeeper.sh",
        version: "v1beta1",
        plural: "k8srequiredlabels",
        singular: "k8srequiredlabels",
        kind: "K8sRequiredLabels",
        namespaced: false,
        short_names: &[],
    },
    ResourceType {
        group: "config.gatekeeper.sh",
        version: "v1alpha1",
        plural: "configs",
        singular: "config",
        kind: "Config",
        namespaced: true,
        short_names: &[],
    },
    ResourceType {
        group: "admissionregistration.k8s.io",
        version: "v1",
        plural: "validatingadmissionpolicies",
        singular: "validatingadmissionpolicy",
        kind: "ValidatingAdmissionPolicy",
        namespaced: false,
        short_names: &[],
    },
    ResourceType {
        group: "admissionregistration.k8s.io",
        version: "v1",
        plural: "validatingadmissionpolicybindings",
        singular: "validatingadmissionpolicybinding",
        kind: "ValidatingAdmissionPolicyBinding",
        namespaced: false,
        short_names: &[],
    },
    // An aggregated API; fleettop does not read it, but its discovery can be broken
    // ([`TestApiServer::break_group`]) to show that one failing group breaks nothing else.
    ResourceType {
        group: "metrics.k8s.io",
        version: "v1beta1",
        plural: "pods",
        singular: "",
        kind: "PodMetrics",
        namespaced: true,
        short_names: &[],
    },
];

/// The non-core groups, in discovery order, each with its versions (the first preferred).
fn api_groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut groups: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => groups.push((r.group, vec![r.version])),
        }
    }
    groups
}

/// The groups discovery lists now: every group not hidden by [`TestApiServer::hide_group`].
fn served_groups(shared: &Shared) -> Vec<(&'static str, Vec<&'static str>)> {
    let st = shared.lock();
    api_groups().into_iter().filter(|(g, _)| !st.hidden_groups.contains(*g)).collect()
}

/// True when `group/version` is served now.
fn serves(shared: &Shared, group: &str, version: &str) -> bool {
    served_groups(shared).iter().any(|(g, vs)| *g == group && vs.contains(&version))
}

/// Index into [`RESOURCES`] of the type with this group, version and plural.
fn find_by_plural(group: &str, version: &str, plural: &str) -> Option<usize> {
    RESOURCES.iter().position(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Index into [`RESOURCES`] of the type with this apiVersion and kind.
fn find_by_kind(api_version: &str, kind: &str) -> Option<usize> {
    RESOURCES.iter().position(|r| r.api_version() == api_version && r.kind == kind)
}

/// One request as the server received it, for assertions such as "fleettop only reads".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// The URL path, still percent-encoded, e.g. `/api/v1/nodes`.
    pub path: String,
    /// The raw query string without `?`; empty when there was none.
    pub query: String,
    /// Whether the query asked for a watch (`watch=true` or `watch=1`).
    pub watch: bool,
    /// Whether the request carried an `Authorization` header (credentials).
    pub authorized: bool,
}

/// The kind of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One change to the stored objects, as kept in the history and sent to open watches.
#[derive(Debug)]
struct Change {
    rv: u64,
    change: ChangeType,
    resource: usize,
    namespace: String,
    /// The object after the change (for `DELETED`, the last state with the deletion's resourceVersion).
    object: Value,
}

/// A message to the open watch streams.
#[derive(Debug, Clone)]
enum WatchMsg {
    /// An object changed.
    Change(Arc<Change>),
    /// [`TestApiServer::expire_watches`]: end cleanly.
    Expire,
    /// [`TestApiServer::forbid`] for this resource index: end cleanly.
    EndResource(usize),
    /// [`TestApiServer::drop_connections`] or shutdown: abort the connection.
    Abort,
}

/// Key of a stored object: resource index, namespace (`""` for cluster-scoped) and name.
type ObjKey = (usize, String, String);

/// Everything behind the server's lock.
#[derive(Debug, Default)]
struct State {
    /// The global resourceVersion counter (etcd's revision): the rv of the last change.
    rv: u64,
    objects: BTreeMap<ObjKey, Value>,
    /// Every change since the last expiry, oldest first.
    history: Vec<Arc<Change>>,
    /// Watches from a resourceVersion below this one get `410 Gone`.
    floor: u64,
    /// Plurals whose list/watch/get get `403 Forbidden`.
    forbidden: BTreeSet<String>,
    /// API groups that are not served at all (as if their CRDs were not installed).
    hidden_groups: BTreeSet<String>,
    /// API groups whose discovery answers `503` (a broken aggregated API).
    broken_groups: BTreeSet<String>,
    /// Kueue's visibility API: ClusterQueue → its `PendingWorkloadsSummary` (v1beta2).
    pending_workloads: BTreeMap<String, Value>,
    latency: Duration,
    /// Extra delay of lists with a label selector (not watches): the API server reading every
    /// pod to answer one, on a big and busy cluster.
    selected_list_latency: Duration,
    requests: Vec<RecordedRequest>,
    /// Bodies the pod proxy serves, by (namespace, pod name).
    proxied: BTreeMap<(String, String), String>,
    /// Pods whose proxy requests hang, by (namespace, pod name).
    stalled: BTreeSet<(String, String)>,
    /// Every request answers `401 Unauthorized` (the token expired or was revoked).
    unauthorized: bool,
}

/// State shared between the handle and the connection tasks.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Live changes and control messages for the open watches. Sent with the state lock held, so
    /// the order on the channel is the resourceVersion order.
    events: broadcast::Sender<WatchMsg>,
}

impl Shared {
    /// Locks the state; a panic in another holder does not make the state unusable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends to the open watches; having none is not an error.
    fn broadcast(&self, msg: WatchMsg) {
        let _ = self.events.send(msg);
    }
}

/// A Kubernetes API server on `127.0.0.1:<random port>`, serving until dropped or shut down.
#[derive(Debug)]
pub struct TestApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: Option<JoinHandle<()>>,
}

impl TestApiServer {
    /// Binds `127.0.0.1:0` and starts serving on the current tokio runtime.
    pub async fn start() -> TestApiServer {
        let listener =
            TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0 for the test apiserver");
        let addr = listener.local_addr().expect("local address of the test apiserver");
        let (events, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), events });
        let accept_task = Some(tokio::spawn(accept_loop(listener, Arc::clone(&shared))));
        TestApiServer { addr, shared, accept_task }
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig with one context named `context` (also the cluster and user names, so several
    /// servers' kubeconfigs can be merged), pointing at this server with a bearer token user.
    pub fn kubeconfig_yaml(&self, context: &str) -> String {
        // JSON strings are valid YAML double-quoted scalars, so any context name is safe.
        let name = Value::String(context.to_string()).to_string();
        let url = Value::String(self.url()).to_string();
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: {url}
contexts:
- name: {name}
  context:
    cluster: {name}
    user: {name}
current-context: {name}
users:
- name: {name}
  user:
    token: {TEST_USER}-token
"
        )
    }

    /// Creates or replaces an object (keyed by apiVersion, kind, namespace and name) and sends
    /// `ADDED` or `MODIFIED` to the open watches. Returns the stored object.
    ///
    /// The server sets `metadata.resourceVersion` to the next global revision, and fills
    /// `metadata.uid` (derived from the key, so stable across replaces and runs) and
    /// `metadata.creationTimestamp` (now, or the replaced object's) when missing.
    ///
    /// # Panics
    /// When the object lacks `apiVersion`, `kind` or `metadata.name`, when its kind is not served,
    /// or when a namespaced object lacks `metadata.namespace`: all test-setup mistakes.
    pub fn add(&self, mut object: Value) -> Value {
        let api_version = object["apiVersion"].as_str().expect("object needs apiVersion").to_string();
        let kind = object["kind"].as_str().expect("object needs kind").to_string();
        let resource = find_by_kind(&api_version, &kind)
            .unwrap_or_else(|| panic!("the test apiserver does not serve {api_version} {kind}"));
        let name = object["metadata"]["name"].as_str().expect("object needs metadata.name").to_string();
        let namespace = if RESOURCES[resource].namespaced {
            object["metadata"]["namespace"]
                .as_str()
                .expect("namespaced object needs metadata.namespace")
                .to_string()
        } else {
            String::new()
        };
        let key: ObjKey = (resource, namespace.clone(), name);
        assert!(object["metadata"].is_object(), "metadata is a JSON object");

        let mut st = self.shared.lock();
        st.rv += 1;
        let rv = st.rv;
        let previous = st.objects.get(&key);
        let change = if previous.is_some() { ChangeType::Modified } else { ChangeType::Added };
        let old_uid = previous.and_then(|p| p["metadata"]["uid"].as_str()).map(str::to_string);
        let old_created =
            previous.and_then(|p| p["metadata"]["creationTimestamp"].as_str()).map(str::to_string);

        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
            if !meta.contains_key("uid") {
                let uid =
                    old_uid.unwrap_or_else(|| deterministic_uid(&format!("{api_version}/{kind}/{key:?}")));
                meta.insert("uid".into(), Value::String(uid));
            }
            if !meta.contains_key("creationTimestamp") {
                let created = old_created.unwrap_or_else(now_rfc3339);
                meta.insert("creationTimestamp".into(), Value::String(created));
            }
        }
        st.objects.insert(key, object.clone());
        let change = Arc::new(Change { rv, change, resource, namespace, object: object.clone() });
        st.history.push(Arc::clone(&change));
        self.shared.broadcast(WatchMsg::Change(change));
        object
    }

    /// Deletes an object and sends `DELETED` (with a new resourceVersion) to the open watches.
    /// Returns whether the object existed.
    ///
    /// # Panics
    /// When the kind is not served (a test-setup mistake).
    pub fn delete(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> bool {
        let resource = find_by_kind(api_version, kind)
            .unwrap_or_else(|| panic!("the test apiserver does not serve {api_version} {kind}"));
        let namespace = if RESOURCES[resource].namespaced { namespace.unwrap_or_default() } else { "" };
        let key: ObjKey = (resource, namespace.to_string(), name.to_string());
        let mut st = self.shared.lock();
        let Some(mut object) = st.objects.remove(&key) else {
            return false;
        };
        st.rv += 1;
        let rv = st.rv;
        object["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let change = Arc::new(Change {
            rv,
            change: ChangeType::Deleted,
            resource,
            namespace: namespace.to_string(),
            object,
        });
        st.history.push(Arc::clone(&change));
        self.shared.broadcast(WatchMsg::Change(change));
        true
    }

    /// The current global resourceVersion (the revision of the last change).
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().rv
    }

    /// Makes list, get and watch of `plural` (e.g. `"nodes"`, in any group) answer `403 Forbidden`
    /// with the real message shape, and ends open watches of it so their clients reconnect into
    /// the 403. (A real apiserver leaves open watches running after an RBAC change; ending them
    /// makes "permission revoked mid-session" testable without waiting for a watch timeout.)
    pub fn forbid(&self, plural: &str) {
        let mut st = self.shared.lock();
        st.forbidden.insert(plural.to_string());
        for (index, _) in RESOURCES.iter().enumerate().filter(|(_, r)| r.plural == plural) {
            self.shared.broadcast(WatchMsg::EndResource(index));
        }
    }

    /// Stops serving every resource of `group`, as if its CRDs were not installed: discovery
    /// omits it and its paths answer `404`.
    pub fn hide_group(&self, group: &str) {
        self.shared.lock().hidden_groups.insert(group.to_string());
    }

    /// Serves `group` again after [`TestApiServer::hide_group`] (the CRDs were installed).
    pub fn show_group(&self, group: &str) {
        self.shared.lock().hidden_groups.remove(group);
    }

    /// Makes the discovery of `group`'s versions answer `503 Service Unavailable`, as a real
    /// apiserver does when an aggregated API's backend is down.
    pub fn break_group(&self, group: &str) {
        self.shared.lock().broken_groups.insert(group.to_string());
    }

    /// Serves `body` (as `text/plain`) for every proxy request to pod `namespace/name`, as a
    /// metrics endpoint behind `pods/proxy` would; replaces an earlier body.
    pub fn set_metrics(&self, namespace: &str, name: &str, body: &str) {
        self.shared.lock().proxied.insert((namespace.to_string(), name.to_string()), body.to_string());
    }

    /// Serves `body` for every request through the service proxy to Service `namespace/name`
    /// (`GET /api/v1/namespaces/<ns>/services/<name>[:<port>]/proxy/…`); `403` after
    /// [`TestApiServer::forbid`]`("services/proxy")`.
    pub fn set_service_metrics(&self, namespace: &str, name: &str, body: &str) {
        self.shared
            .lock()
            .proxied
            .insert((namespace.to_string(), format!("services/{name}")), body.to_string());
    }

    /// Serves `body` at `path` of this server to anyone, without credentials, as a
    /// collector's own published metrics endpoint would (a URL target of a fleet file).
    pub fn set_direct_metrics(&self, path: &str, body: &str) {
        self.shared.lock().proxied.insert((String::new(), path.to_string()), body.to_string());
    }

    /// Makes proxy requests to pod `namespace/name` hang for a minute before answering, as a
    /// hung exporter behind `pods/proxy` does.
    pub fn stall_pod(&self, namespace: &str, name: &str) {
        self.shared.lock().stalled.insert((namespace.to_string(), name.to_string()));
    }

    /// Serves `summary` (a `PendingWorkloadsSummary`) at Kueue's visibility API for the
    /// ClusterQueue `cluster_queue` (`/apis/visibility.kueue.x-k8s.io/v1beta2/…`); other
    /// ClusterQueues and v1beta1 answer 404.
    pub fn set_pending_workloads(&self, cluster_queue: &str, summary: Value) {
        self.shared.lock().pending_workloads.insert(cluster_queue.to_string(), summary);
    }

    /// Makes every request answer `401 Unauthorized`, as a real apiserver does once a token has
    /// expired or been revoked, and ends open watches so their clients reconnect into it;
    /// `false` accepts the credentials again (a refreshed token).
    pub fn set_unauthorized(&self, unauthorized: bool) {
        self.shared.lock().unauthorized = unauthorized;
        if unauthorized {
            self.shared.broadcast(WatchMsg::Abort);
        }
    }

    /// Undoes [`TestApiServer::forbid`].
    pub fn allow(&self, plural: &str) {
        self.shared.lock().forbidden.remove(plural);
    }

    /// Delays every response (watch streams included) by `latency` before its headers are sent.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// Delays every list with a `labelSelector` (not watches, not other requests) by
    /// `latency`: what label-selected pod lists cost on a 10,000-pod cluster with a busy API
    /// server, while its watches stay live.
    pub fn set_selected_list_latency(&self, latency: Duration) {
        self.shared.lock().selected_list_latency = latency;
    }

    /// Simulates etcd compaction: open watches end cleanly, the history is dropped, and the next
    /// watch from a resourceVersion older than now gets an `ERROR` event with a `410 Expired`
    /// Status inside a `200` stream (as the real server sends it), so the client relists.
    /// The revision is bumped, so a relist gets a resourceVersion that is not expired.
    pub fn expire_watches(&self) {
        let mut st = self.shared.lock();
        st.rv += 1;
        st.floor = st.rv;
        st.history.clear();
        self.shared.broadcast(WatchMsg::Expire);
    }

    /// Aborts every open watch connection mid-stream (no terminating chunk), as a network failure
    /// or an apiserver restart would.
    pub fn drop_connections(&self) {
        let _st = self.shared.lock();
        self.shared.broadcast(WatchMsg::Abort);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Stops serving: the listener closes (new connections are refused) and open connections are
    /// aborted, as when a cluster dies. Waits until the listener is closed.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(task) = self.accept_task.take() {
            let _ = task.await;
        }
    }

    fn stop(&mut self) {
        self.shared.broadcast(WatchMsg::Abort);
        if let Some(task) = &self.accept_task {
            task.abort();
        }
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Accepts connections until aborted. Connection tasks live in a `JoinSet` owned by this future,
/// so aborting it aborts (and closes) every connection too.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |request| handle(Arc::clone(&shared), request));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The response body: a whole JSON document, or a watch stream.
type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// One frame of a watch stream; an `Err` aborts the connection.
type WatchFrame = Result<Frame<Bytes>, std::io::Error>;

/// Records, delays and answers one request. Never fails: every problem becomes a `Status`.
async fn handle(
    shared: Arc<Shared>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Body>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let params = parse_query(&query);
    let watch = params.as_ref().map(|p| is_true(p.get("watch"))).unwrap_or(false);
    let authorized = request.headers().contains_key(hyper::header::AUTHORIZATION);
    let aggregated = request
        .headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=APIGroupDiscoveryList"));

    let (latency, stalled, unauthorized) = {
        let mut st = shared.lock();
        st.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            query,
            watch,
            authorized,
        });
        let stalled = st
            .stalled
            .iter()
            .any(|(ns, name)| path.starts_with(&format!("/api/v1/namespaces/{ns}/pods/{name}:")));
        let selected =
            !watch && params.as_ref().is_ok_and(|p| p.get("labelSelector").is_some_and(|v| !v.is_empty()));
        let latency = if selected { st.latency + st.selected_list_latency } else { st.latency };
        (latency, stalled, st.unauthorized)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if stalled {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }

    let response = match params {
        _ if unauthorized => status_response(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized", None),
        Err(message) => status_response(StatusCode::BAD_REQUEST, "BadRequest", &message, None),
        Ok(_) if method != Method::GET => status_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!("the server does not allow this method on the requested resource: {method}"),
            None,
        ),
        Ok(params) => match decode_path(&path) {
            Err(message) => status_response(StatusCode::BAD_REQUEST, "BadRequest", &message, None),
            Ok(segments) => route(&shared, &segments, &params, aggregated),
        },
    };
    Ok(response)
}

/// Dispatches a `GET` by path.
fn route(
    shared: &Arc<Shared>,
    segments: &[String],
    params: &Params,
    aggregated: bool,
) -> hyper::Response<Body> {
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["version"] => json_response(
            StatusCode::OK,
            &json!({
                "major": "1",
                "minor": "31",
                "gitVersion": "v1.31.4-test",
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.22.10",
                "compiler": "gc",
                "platform": "linux/amd64",
            }),
        ),
        ["api"] if aggregated => aggregated_response(&[("", vec!["v1"])]),
        ["api"] => json_response(
            StatusCode::OK,
            &json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
            }),
        ),
        ["api", "v1"] => resource_list("", "v1"),
        ["apis"] if aggregated => aggregated_response(&served_groups(shared)),
        ["apis"] => {
            let groups: Vec<Value> = served_groups(shared).iter().map(|(g, v)| api_group(g, v)).collect();
            json_response(
                StatusCode::OK,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            )
        }
        ["apis", group] => match served_groups(shared).into_iter().find(|(g, _)| g == group) {
            Some((g, v)) => json_response(StatusCode::OK, &api_group(g, &v)),
            None => not_found(),
        },
        ["apis", group, version] if shared.lock().broken_groups.contains(*group) => status_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            &format!("the server is currently unable to handle the request ({group}/{version})"),
            None,
        ),
        ["apis", group, version] if serves(shared, group, version) => resource_list(group, version),
        ["api", "v1", "namespaces", ns, "pods", target, "proxy", ..] => pod_proxy(shared, ns, target),
        ["api", "v1", "namespaces", ns, "services", target, "proxy", ..] => {
            let name = target.rsplit_once(':').map_or(*target, |(n, _)| n);
            if shared.lock().forbidden.contains("services/proxy") {
                let message = format!(
                    "services \"{name}\" is forbidden: User \"{TEST_USER}\" cannot get resource \"services/proxy\" in API group \"\" in the namespace \"{ns}\""
                );
                status_response(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    &message,
                    Some(json!({"name": name, "kind": "services"})),
                )
            } else {
                proxied_body(shared, ns, &format!("services/{name}"), "services")
            }
        }
        ["apis", "visibility.kueue.x-k8s.io", "v1beta2", "clusterqueues", cq, "pendingworkloads"] => {
            let summary = shared.lock().pending_workloads.get(*cq).cloned();
            match summary {
                Some(body) => json_response(StatusCode::OK, &body),
                None => not_found(),
            }
        }
        ["api", "v1", rest @ ..] => resource_request(shared, "", "v1", rest, params),
        ["apis", group, ..] if shared.lock().hidden_groups.contains(*group) => not_found(),
        ["apis", group, version, rest @ ..] => resource_request(shared, group, version, rest, params),
        _ => {
            let path = format!("/{}", segs.join("/"));
            if shared.lock().proxied.contains_key(&(String::new(), path.clone())) {
                proxied_body(shared, "", &path, "metrics")
            } else {
                not_found()
            }
        }
    }
}

/// A classic `APIGroup` with one version.
fn api_group(group: &str, versions: &[&str]) -> Value {
    let gv = |v: &str| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions.iter().map(|v| gv(v)).collect::<Vec<_>>(),
        "preferredVersion": gv(versions.first().copied().unwrap_or("v1")),
    })
}

/// The classic `APIResourceList` of one group version.
fn resource_list(group: &str, version: &str) -> hyper::Response<Body> {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .map(ResourceType::api_resource)
        .collect();
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

/// An aggregated `APIGroupDiscoveryList` of the given group versions (`""` is core).
fn aggregated_response(groups: &[(&str, Vec<&str>)]) -> hyper::Response<Body> {
    let items: Vec<Value> = groups
        .iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|version| {
                    let resources: Vec<Value> = RESOURCES
                        .iter()
                        .filter(|r| r.group == *group && r.version == *version)
                        .map(ResourceType::aggregated_resource)
                        .collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": group}, "versions": versions})
        })
        .collect();
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    });
    let mut response = json_response(StatusCode::OK, &body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(AGGREGATED_CONTENT_TYPE));
    response
}

/// Handles `/<plural>[/<name>]` and `/namespaces/<ns>/<plural>[/<name>]` under a group version.
fn resource_request(
    shared: &Arc<Shared>,
    group: &str,
    version: &str,
    rest: &[&str],
    params: &Params,
) -> hyper::Response<Body> {
    let (namespace, plural, name) = match rest {
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        _ => return not_found(),
    };
    let Some(resource) = find_by_plural(group, version, plural) else {
        return not_found();
    };
    let rt = RESOURCES[resource];
    // Namespaced paths for cluster-scoped types, and cluster paths to one namespaced object, are
    // not routes on a real server either.
    if (namespace.is_some() && !rt.namespaced) || (name.is_some() && namespace.is_none() && rt.namespaced) {
        return not_found();
    }
    let watch = is_true(params.get("watch"));
    let verb = if watch {
        "watch"
    } else if name.is_some() {
        "get"
    } else {
        "list"
    };
    if shared.lock().forbidden.contains(plural) {
        return forbidden(rt, verb, namespace, name);
    }
    if watch {
        return start_watch(shared, resource, namespace, params);
    }
    match name {
        Some(name) => get_object(shared, resource, namespace, name),
        None => list_objects(shared, resource, namespace, params),
    }
}

/// `GET` through the pod proxy to `<name>[:<port>]` in `namespace`: the body set with
/// [`TestApiServer::set_metrics`], `403` when `pods/proxy` is forbidden (checked first, as RBAC
/// is), `404` when the pod has no body.
fn pod_proxy(shared: &Arc<Shared>, namespace: &str, target: &str) -> hyper::Response<Body> {
    let name = target.rsplit_once(':').map_or(target, |(n, _)| n);
    let st = shared.lock();
    if st.forbidden.contains("pods/proxy") {
        let message = format!(
            "pods \"{name}\" is forbidden: User \"{TEST_USER}\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"{namespace}\""
        );
        let details = json!({"name": name, "kind": "pods"});
        return status_response(StatusCode::FORBIDDEN, "Forbidden", &message, Some(details));
    }
    drop(st);
    proxied_body(shared, namespace, name, "pods")
}

/// The body set for (`namespace`, `key`) as `text/plain` metrics, or a `404` naming the
/// `kind` of object.
fn proxied_body(shared: &Arc<Shared>, namespace: &str, key: &str, kind: &str) -> hyper::Response<Body> {
    let st = shared.lock();
    let name = key.rsplit('/').next().unwrap_or(key);
    match st.proxied.get(&(namespace.to_string(), key.to_string())) {
        Some(body) => {
            let full = Full::new(Bytes::from(body.clone())).map_err(|never: Infallible| match never {});
            let mut response = hyper::Response::new(UnsyncBoxBody::new(full));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
            response
        }
        None => status_response(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("{kind} \"{name}\" not found"),
            Some(json!({"name": name, "kind": kind})),
        ),
    }
}

/// `403 Forbidden` in the real apiserver's words.
fn forbidden(
    rt: ResourceType,
    verb: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> hyper::Response<Body> {
    let subject = match name {
        Some(name) => format!("{} \"{name}\"", rt.plural),
        None => rt.plural.to_string(),
    };
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let message = format!(
        "{subject} is forbidden: User \"{TEST_USER}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
        rt.plural, rt.group
    );
    let mut details = json!({"group": rt.group, "kind": rt.plural});
    if let Some(name) = name {
        details["name"] = Value::String(name.to_string());
    }
    status_response(StatusCode::FORBIDDEN, "Forbidden", &message, Some(details))
}

/// `GET` of one object.
fn get_object(
    shared: &Arc<Shared>,
    resource: usize,
    namespace: Option<&str>,
    name: &str,
) -> hyper::Response<Body> {
    let key: ObjKey = (resource, namespace.unwrap_or_default().to_string(), name.to_string());
    match shared.lock().objects.get(&key) {
        Some(object) => json_response(StatusCode::OK, object),
        None => {
            let rt = RESOURCES[resource];
            let details = json!({"name": name, "group": rt.group, "kind": rt.plural});
            status_response(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("{} \"{name}\" not found", rt.plural),
                Some(details),
            )
        }
    }
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    /// `key in (values)` (`key=value` and `key==value` are the one-value case).
    In(String, Vec<String>),
    /// `key notin (values)` (`key!=value`): also true when the label is absent.
    NotIn(String, Vec<String>),
    /// `key`: the label exists.
    Exists(String),
    /// `!key`: the label does not exist.
    DoesNotExist(String),
}

impl Requirement {
    /// True when `labels` (an object's `metadata.labels`, possibly null) satisfy it.
    fn matches(&self, labels: &Value) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        match self {
            Requirement::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|w| w == v)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|v| vs.iter().all(|w| w != v)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        }
    }
}

/// Parses a label selector into its requirements (all must hold).
fn parse_label_selector(selector: &str) -> Result<Vec<Requirement>, String> {
    let bad = || format!("unable to parse requirement: invalid label selector {selector:?}");
    // Split on commas outside parentheses.
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&selector[start..]);
    let values = |list: &str| -> Result<Vec<String>, String> {
        let inner = list.trim().strip_prefix('(').and_then(|l| l.strip_suffix(')')).ok_or_else(bad)?;
        Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
    };
    let mut requirements = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let requirement = if let Some((k, v)) = part.split_once("!=") {
            Requirement::NotIn(k.trim().to_string(), vec![v.trim().to_string()])
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            Requirement::In(k.trim().to_string(), vec![v.trim().to_string()])
        } else if let Some((k, list)) = part.split_once(" notin ") {
            Requirement::NotIn(k.trim().to_string(), values(list)?)
        } else if let Some((k, list)) = part.split_once(" in ") {
            Requirement::In(k.trim().to_string(), values(list)?)
        } else if let Some(k) = part.strip_prefix('!') {
            Requirement::DoesNotExist(k.trim().to_string())
        } else if part.contains(|c: char| c.is_whitespace() || "()".contains(c)) {
            return Err(bad());
        } else {
            Requirement::Exists(part.to_string())
        };
        requirements.push(requirement);
    }
    Ok(requirements)
}

/// A list, paged by `limit` and `continue`. Every page carries the resourceVersion of the first
/// page (a continue token holds it), so a client that watches from the last page's
/// resourceVersion sees every change made while it paged.
fn list_objects(
    shared: &Arc<Shared>,
    resource: usize,
    namespace: Option<&str>,
    params: &Params,
) -> hyper::Response<Body> {
    let limit = match params.get("limit").filter(|s| !s.is_empty()).map(|s| s.parse::<usize>()) {
        None => None,
        Some(Ok(0)) => None,
        Some(Ok(limit)) => Some(limit),
        Some(Err(_)) => return bad_request("limit must be a non-negative integer"),
    };
    let selector = match params.get("labelSelector").map(|s| parse_label_selector(s)) {
        None => Vec::new(),
        Some(Ok(requirements)) => requirements,
        Some(Err(message)) => return bad_request(&message),
    };
    let st = shared.lock();
    let (list_rv, after) = match params.get("continue").filter(|s| !s.is_empty()) {
        None => (st.rv, None),
        Some(token) => match parse_continue(token) {
            Some((rv, _)) if rv < st.floor => {
                return status_response(
                    StatusCode::GONE,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. \
                     You can start a new list without the continue parameter.",
                    None,
                );
            }
            Some((rv, key)) => (rv, Some(key)),
            None => return bad_request("continue key is not valid"),
        },
    };
    let mut items = Vec::new();
    let mut next = None;
    for ((res, ns, name), object) in &st.objects {
        if *res != resource || namespace.is_some_and(|want| want != ns) {
            continue;
        }
        if after.as_ref().is_some_and(|(ans, aname)| (ns, name) <= (ans, aname)) {
            continue;
        }
        if !selector.iter().all(|r| r.matches(&object["metadata"]["labels"])) {
            continue;
        }
        if limit.is_some_and(|limit| items.len() >= limit) {
            // There is at least one more item: hand out a token for the page after the last one.
            if let Some(Value::Object(last)) = items.last() {
                let lns = last.get("metadata").and_then(|m| m.get("namespace")).and_then(Value::as_str);
                let lname = last.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str);
                next = Some(format!("{list_rv}:{}:{}", lns.unwrap_or_default(), lname.unwrap_or_default()));
            }
            break;
        }
        items.push(object.clone());
    }
    drop(st);
    let rt = RESOURCES[resource];
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if let Some(next) = next {
        metadata["continue"] = Value::String(next);
    }
    json_response(
        StatusCode::OK,
        &json!({
            "apiVersion": rt.api_version(),
            "kind": format!("{}List", rt.kind),
            "metadata": metadata,
            "items": items,
        }),
    )
}

/// Parses `<rv>:<namespace>:<name>`.
fn parse_continue(token: &str) -> Option<(u64, (String, String))> {
    let mut parts = token.splitn(3, ':');
    let rv = parts.next()?.parse().ok()?;
    let ns = parts.next()?.to_string();
    let name = parts.next()?.to_string();
    Some((rv, (ns, name)))
}

/// Which changes a watch stream forwards.
#[derive(Debug, Clone)]
struct WatchFilter {
    resource: usize,
    namespace: Option<String>,
}

impl WatchFilter {
    fn matches(&self, change: &Change) -> bool {
        change.resource == self.resource && self.namespace.as_ref().is_none_or(|ns| *ns == change.namespace)
    }
}

/// Starts a watch stream: a `200` whose chunked body is newline-separated JSON events.
///
/// From resourceVersion `N`: every change after `N`, then live changes. Without a
/// resourceVersion (or `0`), or with `sendInitialEvents=true`: an `ADDED` for every current
/// object first (and with `sendInitialEvents`, a bookmark annotated `k8s.io/initial-events-end`).
/// From below the expiry floor: one `ERROR` event with a `410 Expired` Status, then the end.
fn start_watch(
    shared: &Arc<Shared>,
    resource: usize,
    namespace: Option<&str>,
    params: &Params,
) -> hyper::Response<Body> {
    let start = match params.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(rv) => match rv.parse::<u64>() {
            Ok(rv) => Some(rv),
            Err(_) => return bad_request(&format!("invalid resourceVersion: {rv}")),
        },
    };
    let timeout = match params.get("timeoutSeconds").filter(|s| !s.is_empty()).map(|s| s.parse::<u64>()) {
        None => None,
        Some(Ok(secs)) => Some(Duration::from_secs(secs)),
        Some(Err(_)) => return bad_request("timeoutSeconds must be a non-negative integer"),
    };
    let bookmarks = is_true(params.get("allowWatchBookmarks"));
    let send_initial = is_true(params.get("sendInitialEvents"));
    let filter = WatchFilter { resource, namespace: namespace.map(str::to_string) };
    let rt = RESOURCES[resource];

    let st = shared.lock();
    // Subscribing and snapshotting under the same lock: no change is missed or sent twice.
    let receiver = shared.events.subscribe();
    let mut initial: Vec<Bytes> = Vec::new();
    let mut end_after_initial = false;
    match start {
        Some(rv) if rv < st.floor => {
            initial.push(expired_event(rv, st.rv));
            end_after_initial = true;
        }
        Some(rv) if !send_initial => {
            for change in st.history.iter().filter(|c| c.rv > rv && filter.matches(c)) {
                initial.push(event_line(change.change.as_str(), &change.object));
            }
        }
        _ => {
            for ((res, ns, _), object) in &st.objects {
                if *res == resource && filter.namespace.as_ref().is_none_or(|want| want == ns) {
                    initial.push(event_line("ADDED", object));
                }
            }
            if send_initial && bookmarks {
                let mut bookmark = bookmark_object(rt, st.rv);
                bookmark["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
                initial.push(event_line("BOOKMARK", &bookmark));
            }
        }
    }
    // Everything up to the current revision has been sent (or was not of interest).
    let last_rv = start.unwrap_or(0).max(st.rv);
    drop(st);

    let (tx, rx) = mpsc::channel::<WatchFrame>(64);
    let stream = WatchStream {
        shared: Arc::clone(shared),
        tx,
        receiver,
        filter,
        rt,
        last_rv,
        bookmarks,
        deadline: timeout.map(|t| Instant::now() + t),
    };
    tokio::spawn(stream.run(initial, end_after_initial));

    let frames =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|frame| (frame, rx)) });
    let mut response = hyper::Response::new(UnsyncBoxBody::new(StreamBody::new(frames.boxed())));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// What a watch stream does after handling a message.
enum Flow {
    Continue,
    /// End cleanly (terminating chunk).
    End,
    /// Abort the connection.
    Abort,
}

/// The task that feeds one watch response body.
struct WatchStream {
    shared: Arc<Shared>,
    tx: mpsc::Sender<WatchFrame>,
    receiver: broadcast::Receiver<WatchMsg>,
    filter: WatchFilter,
    rt: ResourceType,
    /// The resourceVersion the client has seen up to: bookmarks never go below it.
    last_rv: u64,
    bookmarks: bool,
    deadline: Option<Instant>,
}

impl WatchStream {
    async fn run(mut self, initial: Vec<Bytes>, end_after_initial: bool) {
        for line in initial {
            if !self.send(line).await {
                return;
            }
        }
        if end_after_initial {
            return;
        }
        let deadline = self.deadline;
        let timeout = async move {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timeout);
        let mut ticker = tokio::time::interval_at(Instant::now() + BOOKMARK_INTERVAL, BOOKMARK_INTERVAL);
        loop {
            let flow = tokio::select! {
                () = &mut timeout => Flow::End,
                () = self.tx.closed() => Flow::End,
                _ = ticker.tick() => self.bookmark().await,
                msg = self.receiver.recv() => self.on_message(msg).await,
            };
            match flow {
                Flow::Continue => {}
                Flow::End => return,
                Flow::Abort => {
                    let _ = self
                        .tx
                        .send(Err(std::io::Error::other("connection dropped by the test apiserver")))
                        .await;
                    return;
                }
            }
        }
    }

    /// Sends a bookmark at the current revision, after forwarding every change up to it.
    async fn bookmark(&mut self) -> Flow {
        if !self.bookmarks {
            return Flow::Continue;
        }
        // Changes are broadcast under the lock, so every change up to `now` is already queued.
        let now = self.shared.lock().rv;
        loop {
            match self.receiver.try_recv() {
                Ok(msg) => match self.on_message(Ok(msg)).await {
                    Flow::Continue => {}
                    other => return other,
                },
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(broadcast::error::TryRecvError::Closed) => return Flow::End,
                Err(broadcast::error::TryRecvError::Lagged(_)) => return self.lagged().await,
            }
        }
        self.last_rv = self.last_rv.max(now);
        let line = event_line("BOOKMARK", &bookmark_object(self.rt, self.last_rv));
        if self.send(line).await { Flow::Continue } else { Flow::End }
    }

    async fn on_message(&mut self, msg: Result<WatchMsg, broadcast::error::RecvError>) -> Flow {
        match msg {
            Ok(WatchMsg::Change(change)) => {
                if !self.filter.matches(&change) {
                    return Flow::Continue;
                }
                self.last_rv = self.last_rv.max(change.rv);
                let line = event_line(change.change.as_str(), &change.object);
                if self.send(line).await { Flow::Continue } else { Flow::End }
            }
            Ok(WatchMsg::Expire) => Flow::End,
            Ok(WatchMsg::EndResource(resource)) if resource == self.filter.resource => Flow::End,
            Ok(WatchMsg::EndResource(_)) => Flow::Continue,
            Ok(WatchMsg::Abort) => Flow::Abort,
            Err(broadcast::error::RecvError::Closed) => Flow::End,
            Err(broadcast::error::RecvError::Lagged(_)) => self.lagged().await,
        }
    }

    /// A watcher too slow for the broadcast buffer lost events: tell it to relist.
    async fn lagged(&mut self) -> Flow {
        let now = self.shared.lock().rv;
        let _ = self.send(expired_event(self.last_rv, now)).await;
        Flow::End
    }

    /// Sends one line; false when the client has gone.
    async fn send(&self, line: Bytes) -> bool {
        self.tx.send(Ok(Frame::data(line))).await.is_ok()
    }
}

/// `{"type":..., "object":...}` plus the newline.
fn event_line(event_type: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": event_type, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// The object of a `BOOKMARK` event.
fn bookmark_object(rt: ResourceType, rv: u64) -> Value {
    json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {"resourceVersion": rv.to_string()}})
}

/// The `ERROR` event a real apiserver sends for a watch from a compacted resourceVersion.
fn expired_event(requested: u64, current: u64) -> Bytes {
    event_line(
        "ERROR",
        &status_json(410, "Expired", &format!("too old resource version: {requested} ({current})"), None),
    )
}

/// A `Status` object.
fn status_json(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(details) = details {
        status["details"] = details;
    }
    status
}

/// A `Status` response with the matching HTTP code.
fn status_response(
    code: StatusCode,
    reason: &str,
    message: &str,
    details: Option<Value>,
) -> hyper::Response<Body> {
    json_response(code, &status_json(code.as_u16(), reason, message, details))
}

fn bad_request(message: &str) -> hyper::Response<Body> {
    status_response(StatusCode::BAD_REQUEST, "BadRequest", message, None)
}

fn not_found() -> hyper::Response<Body> {
    status_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        "the server could not find the requested resource",
        None,
    )
}

/// A whole JSON document.
fn json_response(code: StatusCode, body: &Value) -> hyper::Response<Body> {
    let full = Full::new(Bytes::from(body.to_string())).map_err(|never: Infallible| match never {});
    let mut response = hyper::Response::new(UnsyncBoxBody::new(full));
    *response.status_mut() = code;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Decoded query parameters; for a repeated name, the last value wins.
type Params = BTreeMap<String, String>;

/// Parses `a=b&c=d`, percent-decoding names and values.
fn parse_query(query: &str) -> Result<Params, String> {
    let mut params = Params::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(percent_decode(name, true)?, percent_decode(value, true)?);
    }
    Ok(params)
}

/// Splits a path into percent-decoded segments, dropping empty ones.
fn decode_path(path: &str) -> Result<Vec<String>, String> {
    path.split('/').filter(|s| !s.is_empty()).map(|s| percent_decode(s, false)).collect()
}

/// Percent-decodes one component (`+` is a space in queries); malformed input is an error.
fn percent_decode(input: &str, plus_is_space: bool) -> Result<String, String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("malformed percent-encoding in {input:?}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("invalid UTF-8 in {input:?}"))
}

/// `true`/`1` (any case) as the apiserver accepts for boolean parameters.
fn is_true(value: Option<&String>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// A UUID-shaped id derived from `seed` (FNV-1a), stable across runs.
fn deterministic_uid(seed: &str) -> String {
    let fnv = |basis: u64| {
        seed.bytes().fold(basis, |hash, b| (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
    };
    let hi = fnv(0xcbf2_9ce4_8422_2325);
    let lo = fnv(0x8422_2325_cbf2_9ce4);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// Now, to the second, in the apiserver's RFC 3339 form.
fn now_rfc3339() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
