//! The test apiserver (`tests/support/apiserver.rs`) against the real kube-rs client and watcher.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, Config, Discovery, ResourceExt};
use serde_json::{Value, json};
use support::apiserver::TestApiServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

/// The bound on every wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

/// The bound on a whole test.
const TEST_LIMIT: Duration = Duration::from_secs(30);

/// Runs a test body, failing it instead of hanging past [`TEST_LIMIT`].
async fn bounded(body: impl Future<Output = ()>) {
    timeout(TEST_LIMIT, body).await.expect("test finished in time");
}

/// A kube client built the way fleettop builds one: from a kubeconfig.
async fn client_for(server: &TestApiServer) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig_yaml("test-ctx")).expect("kubeconfig parses");
    let options = KubeConfigOptions { context: Some("test-ctx".into()), ..KubeConfigOptions::default() };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("config from kubeconfig");
    Client::try_from(config).expect("client from config")
}

fn gpu_node(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}},
        "spec": {"providerID": format!("aws:///us-east-1a/{name}")},
        "status": {
            "capacity": {"cpu": "192", "memory": "2063731096Ki", "nvidia.com/gpu": "8", "pods": "110"},
            "allocatable": {"cpu": "191450m", "memory": "2052327832Ki", "nvidia.com/gpu": "8", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}],
        },
    })
}

fn pod(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"nodeName": "gpu-0", "containers": [{"name": "main", "image": "trainer:1"}]},
        "status": {"phase": "Running"},
    })
}

/// The next watcher item, or a test failure after [`WAIT`].
async fn next<S, T>(stream: &mut S) -> T
where
    S: Stream<Item = T> + Unpin,
{
    timeout(WAIT, stream.next()).await.expect("watcher item in time").expect("watcher stream continues")
}

/// A short description of a watcher item, for assertions on sequences.
fn describe(item: &Result<watcher::Event<Node>, watcher::Error>) -> String {
    match item {
        Ok(watcher::Event::Init) => "Init".into(),
        Ok(watcher::Event::InitApply(n)) => format!("InitApply {}", n.name_any()),
        Ok(watcher::Event::InitDone) => "InitDone".into(),
        Ok(watcher::Event::Apply(n)) => format!("Apply {}", n.name_any()),
        Ok(watcher::Event::Delete(n)) => format!("Delete {}", n.name_any()),
        Err(e) => format!("Err {e}"),
    }
}

/// Reads watcher items until `want` (an exact [`describe`] string), returning what came before.
async fn until<S>(stream: &mut S, want: &str) -> Vec<String>
where
    S: Stream<Item = Result<watcher::Event<Node>, watcher::Error>> + Unpin,
{
    let mut seen = Vec::new();
    loop {
        let item = describe(&next(stream).await);
        if item == want {
            return seen;
        }
        seen.push(item);
    }
}

/// The HTTP status code inside a watcher error, if the apiserver sent one.
fn status_code(error: &watcher::Error) -> Option<u16> {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        watcher::Error::WatchError(s) => Some(s.code),
        _ => None,
    }
}

/// Sends one raw HTTP/1.1 request and returns the status line and body.
async fn raw_request(server: &TestApiServer, request: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write request");
    let mut response = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut response)).await.expect("response in time").expect("read");
    let response = String::from_utf8(response).expect("utf-8 response");
    let status = response.lines().next().unwrap_or_default().to_string();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[tokio::test]
async fn version_and_discovery() {
    bounded(version_and_discovery_body()).await;
}

async fn version_and_discovery_body() {
    let server = TestApiServer::start().await;
    let client = client_for(&server).await;

    let version = timeout(WAIT, client.apiserver_version()).await.unwrap().expect("version");
    assert_eq!((version.major.as_str(), version.minor.as_str()), ("1", "31"));
    assert_eq!(version.git_version, "v1.31.4-test");

    for aggregated in [false, true] {
        let discovery = Discovery::new(client.clone());
        let discovery = if aggregated { discovery.run_aggregated().await } else { discovery.run().await };
        let discovery = discovery.expect("discovery runs");
        assert!(discovery.has_group("kueue.x-k8s.io"), "aggregated={aggregated}");
        let core = discovery.get("").expect("core group");
        let core: Vec<String> = core.recommended_resources().into_iter().map(|(ar, _)| ar.plural).collect();
        for plural in ["namespaces", "nodes", "pods", "events"] {
            assert!(core.contains(&plural.to_string()), "aggregated={aggregated}: {plural} in {core:?}");
        }
        let kueue = discovery.get("kueue.x-k8s.io").expect("kueue group");
        let (ar, caps) = kueue
            .recommended_resources()
            .into_iter()
            .find(|(ar, _)| ar.plural == "clusterqueues")
            .expect("clusterqueues discovered");
        assert_eq!((ar.kind.as_str(), ar.api_version.as_str()), ("ClusterQueue", "kueue.x-k8s.io/v1beta2"));
        assert_eq!(caps.scope, kube::discovery::Scope::Cluster);
        assert!(caps.supports_operation(kube::discovery::verbs::WATCH));
    }
}

#[tokio::test]
async fn list_get_and_paging() {
    bounded(list_get_and_paging_body()).await;
}

async fn list_get_and_paging_body() {
    let server = TestApiServer::start().await;
    let client = client_for(&server).await;
    server.add(gpu_node("gpu-0"));
    let cq = server.add(json!({
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ClusterQueue",
        "metadata": {"name": "team-a"},
        "spec": {"cohort": "research"},
    }));
    assert_eq!(cq["metadata"]["resourceVersion"], "2");

    let nodes = timeout(WAIT, Api::<Node>::all(client.clone()).list(&ListParams::default())).await.unwrap();
    let nodes = nodes.expect("list nodes");
    assert_eq!(nodes.items.len(), 1);
    let node = &nodes.items[0];
    assert_eq!(node.name_any(), "gpu-0");
    assert!(node.uid().is_some() && node.creation_timestamp().is_some());
    let capacity = node.status.as_ref().and_then(|s| s.capacity.as_ref()).expect("capacity");
    assert_eq!(capacity["nvidia.com/gpu"].0, "8");
    assert_eq!(nodes.metadata.resource_version.as_deref(), Some("2"));

    for i in 0..5 {
        server.add(pod("ml", &format!("trainer-{i}")));
    }
    server.add(pod("other", "elsewhere"));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "ml");
    let mut names = Vec::new();
    let mut params = ListParams::default().limit(2);
    let mut pages = 0;
    loop {
        let page = timeout(WAIT, pods.list(&params)).await.unwrap().expect("list page");
        pages += 1;
        assert_eq!(page.metadata.resource_version.as_deref(), Some("8"), "every page has the list's rv");
        names.extend(page.items.iter().map(ResourceExt::name_any));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, (0..5).map(|i| format!("trainer-{i}")).collect::<Vec<_>>());
    let all = Api::<Pod>::all(client.clone()).list(&ListParams::default()).await.expect("all pods");
    assert_eq!(all.items.len(), 6);

    let got = pods.get("trainer-3").await.expect("get pod");
    assert_eq!(got.name_any(), "trainer-3");
    match pods.get("missing").await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
            assert_eq!(status.message, "pods \"missing\" not found");
        }
        other => panic!("expected 404, got {other:?}"),
    }

    // Replacing keeps uid and creationTimestamp and bumps the rv.
    let before = got.uid();
    server.add(pod("ml", "trainer-3"));
    let after = pods.get("trainer-3").await.expect("get pod");
    assert_eq!(after.uid(), before);
    assert_eq!(after.resource_version().as_deref(), Some("9"));
}

#[tokio::test]
async fn watcher_sees_init_live_changes_and_relists_after_expiry() {
    bounded(watcher_sees_init_live_changes_and_relists_after_expiry_body()).await;
}

async fn watcher_sees_init_live_changes_and_relists_after_expiry_body() {
    let server = TestApiServer::start().await;
    let client = client_for(&server).await;
    server.add(gpu_node("gpu-0"));
    server.add(gpu_node("gpu-1"));
    let mut stream = watcher(Api::<Node>::all(client), watcher::Config::default()).boxed();

    assert_eq!(until(&mut stream, "InitDone").await, ["Init", "InitApply gpu-0", "InitApply gpu-1"]);

    server.add(gpu_node("gpu-2"));
    assert_eq!(describe(&next(&mut stream).await), "Apply gpu-2");
    let mut modified = gpu_node("gpu-0");
    modified["spec"]["unschedulable"] = json!(true);
    server.add(modified);
    match next(&mut stream).await {
        Ok(watcher::Event::Apply(node)) => {
            assert_eq!(node.name_any(), "gpu-0");
            assert_eq!(node.spec.and_then(|s| s.unschedulable), Some(true));
        }
        other => panic!("expected Apply gpu-0, got {}", describe(&other)),
    }
    assert!(server.delete("v1", "Node", None, "gpu-1"));
    assert_eq!(describe(&next(&mut stream).await), "Delete gpu-1");
    // Changes to other resources do not reach a node watch.
    server.add(pod("ml", "trainer-0"));

    // Compaction: the open watch ends, the re-watch gets 410 in-stream, the watcher relists.
    server.expire_watches();
    let item = next(&mut stream).await;
    match &item {
        Err(e) => assert_eq!(status_code(e), Some(410), "{e}"),
        other => panic!("expected the 410 watch error, got {}", describe(other)),
    }
    assert_eq!(until(&mut stream, "InitDone").await, ["Init", "InitApply gpu-0", "InitApply gpu-2"]);
    server.add(gpu_node("gpu-3"));
    assert_eq!(describe(&next(&mut stream).await), "Apply gpu-3");

    let requests = server.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "{requests:?}");
    assert!(requests.iter().any(|r| r.watch && r.query.contains("allowWatchBookmarks=true")));
    assert!(requests.iter().any(|r| !r.watch && r.query.contains("limit=500")));
}

#[tokio::test]
async fn streaming_list_watcher_works() {
    bounded(streaming_list_watcher_works_body()).await;
}

async fn streaming_list_watcher_works_body() {
    let server = TestApiServer::start().await;
    let client = client_for(&server).await;
    server.add(gpu_node("gpu-0"));
    let config = watcher::Config::default().streaming_lists();
    let mut stream = watcher(Api::<Node>::all(client), config).boxed();
    assert_eq!(until(&mut stream, "InitDone").await, ["Init", "InitApply gpu-0"]);
    server.add(gpu_node("gpu-1"));
    assert_eq!(describe(&next(&mut stream).await), "Apply gpu-1");
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.watch), "no list requests: {requests:?}");
    assert!(requests[0].query.contains("sendInitialEvents=true"), "{requests:?}");
}

#[tokio::test]
async fn watcher_survives_dropped_connections() {
    bounded(watcher_survives_dropped_connections_body()).await;
}

async fn watcher_survives_dropped_connections_body() {
    let server = TestApiServer::start().await;
    let client = client_for(&server).await;
    server.add(gpu_node("gpu-0"));
    let mut stream = watcher(Api::<Node>::all(client), watcher::Config::default()).boxed();
    until(&mut stream, "InitDone").await;

    let watches = || server.requests().iter().filter(|r| r.watch).count();
    let watches_before = watches();
    server.drop_connections();
    server.add(gpu_node("gpu-1"));
    // kube-client reads an abruptly closed watch body (UnexpectedEof) as the end of the stream,
    // so the watcher re-watches from its last resourceVersion; it may also report an error.
    let before = until(&mut stream, "Apply gpu-1").await;
    assert!(before.iter().all(|item| item.starts_with("Err")), "{before:?}");
    assert!(watches() > watches_before, "the watcher re-watched");
}

#[tokio::test]
async fn dropped_connections_end_without_the_last_chunk() {
    bounded(dropped_connections_end_without_the_last_chunk_body()).await;
}

async fn dropped_connections_end_without_the_last_chunk_body() {
    let server = TestApiServer::start().await;
    server.add(gpu_node("gpu-0"));
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.expect("connect");
    let request = "GET /api/v1/nodes?watch=true&resourceVersion=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut head = [0u8; 12];
    timeout(WAIT, stream.read_exact(&mut head)).await.expect("headers in time").expect("read");
    assert_eq!(&head, b"HTTP/1.1 200");
    server.add(gpu_node("gpu-1"));
    let mut rest = Vec::new();
    while !String::from_utf8_lossy(&rest).contains("gpu-1") {
        let mut buf = [0u8; 4096];
        let n = timeout(WAIT, stream.read(&mut buf)).await.expect("event in time").expect("read");
        assert!(n > 0, "stream ended early");
        rest.extend_from_slice(&buf[..n]);
    }
    server.drop_connections();
    // The connection closes (or resets) without the terminating zero-length chunk.
    let _ = timeout(WAIT, stream.read_to_end(&mut rest)).await.expect("connection closes");
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("transfer-encoding: chunked"), "{rest}");
    assert!(rest.contains("\"type\":\"ADDED\"") && rest.contains("gpu-1"), "{rest}");
    assert!(!rest.ends_with("0\r\n\r\n"), "{rest}");
}

#[tokio::test]
async fn forbidden_resources_get_403() {
    bounded(forbidden_resources_get_403_body()).await;
}

async fn forbidden_resources_get_403_body() {
    let server = TestApiServer::start().await;
    let client = client_for(&server).await;
    server.add(gpu_node("gpu-0"));
    let mut stream = watcher(Api::<Node>::all(client.clone()), watcher::Config::default()).boxed();
    until(&mut stream, "InitDone").await;

    server.forbid("nodes");
    // The open watch ends; re-watching is forbidden.
    match next(&mut stream).await {
        Err(e) => assert_eq!(status_code(&e), Some(403), "{e}"),
        other => panic!("expected a 403 error, got {}", describe(&other)),
    }
    match Api::<Node>::all(client.clone()).list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
            assert_eq!(
                status.message,
                "nodes is forbidden: User \"test\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
            );
        }
        other => panic!("expected 403, got {other:?}"),
    }
    // A fresh watcher fails on its initial list.
    let mut fresh = watcher(Api::<Node>::all(client.clone()), watcher::Config::default()).boxed();
    assert_eq!(describe(&next(&mut fresh).await), "Init");
    match next(&mut fresh).await {
        Err(e @ watcher::Error::InitialListFailed(_)) => assert_eq!(status_code(&e), Some(403)),
        other => panic!("expected InitialListFailed 403, got {}", describe(&other)),
    }
    // Other resources are unaffected, and allow() restores access.
    Api::<Pod>::all(client.clone()).list(&ListParams::default()).await.expect("pods still listable");
    server.allow("nodes");
    Api::<Node>::all(client).list(&ListParams::default()).await.expect("nodes listable again");
}

#[tokio::test]
async fn raw_watch_has_bookmarks_and_respects_timeout() {
    bounded(raw_watch_has_bookmarks_and_respects_timeout_body()).await;
}

async fn raw_watch_has_bookmarks_and_respects_timeout_body() {
    let server = TestApiServer::start().await;
    let client = client_for(&server).await;
    server.add(gpu_node("gpu-0"));
    let api = Api::<Node>::all(client);
    let params = WatchParams::default().timeout(2);
    let started = tokio::time::Instant::now();
    let events = api.watch(&params, "0").await.expect("watch starts");
    let events: Vec<_> = timeout(WAIT, events.collect::<Vec<_>>()).await.expect("watch ends by its timeout");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(5), "{elapsed:?}");
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Ok(WatchEvent::Added(_)) => "ADDED",
            Ok(WatchEvent::Bookmark(_)) => "BOOKMARK",
            _ => "OTHER",
        })
        .collect();
    assert_eq!(kinds.first(), Some(&"ADDED"), "rv 0 starts with the current objects: {kinds:?}");
    assert!(kinds.contains(&"BOOKMARK"), "{kinds:?}");
    assert!(!kinds.contains(&"OTHER"), "{kinds:?}");

    // A watch from an expired resourceVersion gets 410 inside a 200 stream.
    server.expire_watches();
    let events = api.watch(&WatchParams::default(), "1").await.expect("watch starts");
    let events: Vec<_> = timeout(WAIT, events.collect::<Vec<_>>()).await.expect("expired watch ends");
    match events.as_slice() {
        [Ok(WatchEvent::Error(status))] => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(status.message.starts_with("too old resource version: 1 ("), "{}", status.message);
        }
        other => panic!("expected one 410 ERROR event, got {} events", other.len()),
    }
}

#[tokio::test]
async fn latency_delays_responses() {
    bounded(latency_delays_responses_body()).await;
}

async fn latency_delays_responses_body() {
    let server = TestApiServer::start().await;
    let client = client_for(&server).await;
    client.apiserver_version().await.expect("warm connection");
    server.set_latency(Duration::from_millis(300));
    let started = tokio::time::Instant::now();
    Api::<Node>::all(client.clone()).list(&ListParams::default()).await.expect("list");
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    server.set_latency(Duration::ZERO);
    let started = tokio::time::Instant::now();
    Api::<Node>::all(client).list(&ListParams::default()).await.expect("list");
    assert!(started.elapsed() < Duration::from_millis(300), "{:?}", started.elapsed());
}

#[tokio::test]
async fn shutdown_gives_connection_errors() {
    bounded(shutdown_gives_connection_errors_body()).await;
}

async fn shutdown_gives_connection_errors_body() {
    let server = TestApiServer::start().await;
    let client = client_for(&server).await;
    server.add(gpu_node("gpu-0"));
    let mut stream = watcher(Api::<Node>::all(client.clone()), watcher::Config::default()).boxed();
    until(&mut stream, "InitDone").await;

    server.shutdown().await;
    match timeout(WAIT, client.apiserver_version()).await.expect("fails fast") {
        Err(kube::Error::Api(status)) => panic!("expected a connection error, got a Status {status:?}"),
        Err(_) => {}
        Ok(v) => panic!("expected a connection error, got {v:?}"),
    }
    // The watcher reports errors (and keeps retrying) rather than ending or hanging.
    match next(&mut stream).await {
        Err(e) => assert_eq!(status_code(&e), None, "{e}"),
        Ok(_) => panic!("expected a watcher error after shutdown"),
    }
}

#[tokio::test]
async fn malformed_and_unsupported_requests_get_status_objects() {
    bounded(malformed_and_unsupported_requests_get_status_objects_body()).await;
}

async fn malformed_and_unsupported_requests_get_status_objects_body() {
    let server = TestApiServer::start().await;
    let cases = [
        ("GET /api/v1/nodes?limit=%zz HTTP/1.1", "400", "BadRequest"),
        ("GET /api/v1/nodes?limit=%+1 HTTP/1.1", "400", "BadRequest"),
        ("GET /api/v1/nodes/%ff HTTP/1.1", "400", "BadRequest"),
        ("GET /api/v1/nodes?limit=lots HTTP/1.1", "400", "BadRequest"),
        ("GET /api/v1/nodes?watch=true&resourceVersion=abc HTTP/1.1", "400", "BadRequest"),
        ("GET /api/v1/nodes?continue=garbage HTTP/1.1", "400", "BadRequest"),
        ("GET /api/v1/widgets HTTP/1.1", "404", "NotFound"),
        ("GET /apis/apps/v1/deployments HTTP/1.1", "404", "NotFound"),
        ("GET /api/v1/namespaces/ml/nodes HTTP/1.1", "404", "NotFound"),
        ("DELETE /api/v1/nodes/gpu-0 HTTP/1.1", "405", "MethodNotAllowed"),
    ];
    for (line, code, reason) in cases {
        let (status, body) =
            raw_request(&server, &format!("{line}\r\nHost: localhost\r\nConnection: close\r\n\r\n")).await;
        assert!(status.starts_with(&format!("HTTP/1.1 {code}")), "{line}: {status}");
        let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{line}: {e}: {body}"));
        assert_eq!(
            (body["kind"].as_str(), body["reason"].as_str()),
            (Some("Status"), Some(reason)),
            "{line}"
        );
    }
    // The server still serves after all that.
    let (status, _) =
        raw_request(&server, "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(server.requests().len(), cases.len() + 1);
}

#[tokio::test]
async fn lists_honour_label_selectors() {
    bounded(lists_honour_label_selectors_body()).await;
}

async fn lists_honour_label_selectors_body() {
    let server = TestApiServer::start().await;
    let client = client_for(&server).await;
    for (name, labels) in [
        ("helm-0", json!({"app.kubernetes.io/name": "opentelemetry-collector"})),
        (
            "op-0",
            json!({"app.kubernetes.io/name": "gw-collector", "app.kubernetes.io/component": "opentelemetry-collector"}),
        ),
        ("web-0", json!({"app": "web"})),
        ("bare-0", Value::Null),
    ] {
        server.add(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "otel", "labels": labels}}));
    }
    let pods = Api::<Pod>::all(client);
    let names = |selector: &'static str| {
        let pods = pods.clone();
        async move {
            let list = pods.list(&ListParams::default().labels(selector)).await;
            let mut names: Vec<String> = list.expect(selector).items.iter().map(|p| p.name_any()).collect();
            names.sort();
            names
        }
    };
    assert_eq!(names("app.kubernetes.io/name in (opentelemetry-collector,otelcol)").await, ["helm-0"]);
    assert_eq!(names("app.kubernetes.io/component=opentelemetry-collector").await, ["op-0"]);
    assert_eq!(
        names("app.kubernetes.io/name,app.kubernetes.io/component!=opentelemetry-collector").await,
        ["helm-0"]
    );
    assert_eq!(names("!app.kubernetes.io/name,app notin (db)").await, ["bare-0", "web-0"]);
    assert_eq!(names("app==web").await, ["web-0"]);
    match pods.list(&ListParams::default().labels("app in web")).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 400, "{s:?}"),
        other => panic!("a malformed selector is a 400, got {other:?}"),
    }
}

#[tokio::test]
async fn the_pod_proxy_serves_metrics_bodies() {
    bounded(the_pod_proxy_serves_metrics_bodies_body()).await;
}

async fn the_pod_proxy_serves_metrics_bodies_body() {
    let server = TestApiServer::start().await;
    let client = client_for(&server).await;
    let get = |path: &str| http::Request::get(path).body(Vec::new()).unwrap();
    server.set_metrics("otel", "gw-0", "up 1\n");
    let body = client.request_text(get("/api/v1/namespaces/otel/pods/gw-0:8888/proxy/metrics")).await;
    assert_eq!(body.unwrap(), "up 1\n");
    match client.request_text(get("/api/v1/namespaces/otel/pods/other-0:8888/proxy/metrics")).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 404, "{s:?}"),
        other => panic!("a pod without a body is a 404, got {other:?}"),
    }
    server.forbid("pods/proxy");
    match client.request_text(get("/api/v1/namespaces/otel/pods/gw-0:8888/proxy/metrics")).await {
        Err(kube::Error::Api(s)) => assert_eq!(
            (s.code, s.message.as_str()),
            (
                403,
                "pods \"gw-0\" is forbidden: User \"test\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"otel\""
            )
        ),
        other => panic!("expected 403, got {other:?}"),
    }
    assert!(server.requests().iter().all(|r| r.method == "GET"));
}
