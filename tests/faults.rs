//! The fault matrix, tier 1: fleettop's per-cluster supervisor (`run_cluster_with`, the task
//! the app runs per cluster) against the in-process test API server, directly or through a
//! TCP proxy that adds round-trip time or stalls (`support::tarpit`), with one fault at a
//! time and a healthy cluster beside it. Every test asserts the same three things:
//!
//! - **the fleet is alive**: while the fault lasts, a denial created on the healthy cluster
//!   arrives (the runtime, the channel and the state keep moving), and the UI (an `App` fed
//!   the same observations, drawn on a test backend) says what is wrong;
//! - **nothing recorded is lost**: every observation is teed into a real recording
//!   (`RecordWriter`), which reads back whole with exactly as many observations, and the
//!   records seen before the fault are kept (stale, not dropped, not doubled);
//! - **no secret is written**: the kubeconfig's token (planted, registered for redaction as
//!   the app does) is in no observation and nowhere in the recording's bytes.
//!
//! The figures (time to settle, to "unreachable", to recovery) are printed with
//! `--nocapture` and quoted in the README's fault matrix; nothing asserts a duration beyond
//! generous bounds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fleettop::model::{ClusterHealth, ClusterId, ConnectionState, Observation, SourceKind, SourceState};
use fleettop::record::{Existing, RecordWriter, Recording, RecordingHeader};
use fleettop::sources::kubernetes::{Options, run_cluster_with, settled};
use fleettop::sources::{ObservationReceiver, channel};
use fleettop::state::FleetState;
use fleettop::ui::app::{App, Feed};
use fleettop::ui::keymap::Keymap;
use fleettop::ui::render::render;
use fleettop::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use serde_json::json;
use support::apiserver::TestApiServer;
use support::tarpit::Tarpit;

/// The token every kubeconfig here carries: it must never be written anywhere.
const SECRET: &str = "PLANTED-fault-matrix-token-7c1e93";

/// A kubeconfig for `server`'s context `name`, reaching it at `url` (a tarpit's, or another
/// scheme), with the planted token.
fn kubeconfig(
    server: &TestApiServer,
    name: &str,
    url: &str,
    extra_cluster: &str,
) -> kube::config::Kubeconfig {
    let yaml = server
        .kubeconfig_yaml(name)
        .replace(&format!("\"{}\"", server.url()), &format!("\"{url}\"{extra_cluster}"))
        .replace("test-token", SECRET);
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
    assert!(yaml.contains(SECRET));
    kubeconfig
}

fn denial_event(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "FailedCreate", "count": 2,
        "metadata": {"name": name, "namespace": "shop"},
        "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": "web-7d9c"},
        "message": "Error creating: pods \"web-7d9c-x2\" is forbidden: ValidatingAdmissionPolicy 'replica-limit.example.com' with binding 'replica-limit-binding' denied request: failed expression: object.spec.replicas <= 5"})
}

fn seed(server: &TestApiServer) {
    server.add(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "h100-1", "labels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}},
        "status": {"capacity": {"cpu": "96", "nvidia.com/gpu": "8"}, "allocatable": {"nvidia.com/gpu": "8"}}}));
    server.add(denial_event("web-7d9c.1"));
}

fn id(name: &str) -> ClusterId {
    ClusterId::new(name)
}

/// The healthy cluster beside every fault.
const HEALTHY: &str = "healthy";

/// A fleet being watched as the app watches it, with every observation recorded.
struct Fleet {
    state: FleetState,
    /// The UI, fed the same observations as the live loop feeds it.
    app: App,
    rx: ObservationReceiver,
    recorder: Option<RecordWriter>,
    path: PathBuf,
    received: usize,
    _dir: tempfile::TempDir,
    /// A counter for the denials the liveness check creates.
    probes: usize,
}

impl Fleet {
    /// Watches each `(name, kubeconfig)` with fast probes, recording into a temporary file.
    fn start(clusters: Vec<(&str, kube::config::Kubeconfig)>) -> Fleet {
        let (tx, rx) = channel(64);
        let ids: Vec<ClusterId> = clusters.iter().map(|(n, _)| id(n)).collect();
        let mut state = FleetState::default();
        for (name, kubeconfig) in clusters {
            // As `cli::run` does before anything can print, log or record.
            fleettop::sources::kubernetes::credentials::register_kubeconfig(&kubeconfig);
            state.add_cluster(id(name));
            let options = Options {
                probe_every: Duration::from_millis(200),
                rediscover_every: Duration::from_millis(500),
                scrape_every: Duration::from_millis(500),
                ..Options::default()
            };
            tokio::spawn(run_cluster_with(kubeconfig, id(name), tx.clone(), options));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fault.fleetrec");
        let header = RecordingHeader::new(jiff::Timestamp::now(), ids, "fault matrix");
        let recorder = RecordWriter::create(&path, header, Existing::Refuse).unwrap();
        let app = App::new(
            Feed::Live(Box::new(state.clone())),
            Theme::builtin("mono").unwrap(),
            Keymap::default(),
            Rect::new(0, 0, 160, 40),
        );
        Fleet { state, app, rx, recorder: Some(recorder), path, received: 0, _dir: dir, probes: 0 }
    }

    fn apply(&mut self, batch: &[Observation]) {
        let text = serde_json::to_string(batch).unwrap();
        assert!(!text.contains(SECRET), "the planted token reached an observation: {text:.400}");
        self.state.apply_all(batch);
        self.app.ingest(batch);
        if let Some(r) = self.recorder.as_mut() {
            r.write_batch(batch, &self.state).unwrap();
        }
        self.received += batch.len();
    }

    /// Applies observations until `done` holds; fails after `limit`. Returns the time taken.
    async fn until(&mut self, limit: Duration, what: &str, done: impl Fn(&FleetState) -> bool) -> Duration {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + limit;
        while !done(&self.state) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(batch)) => self.apply(&batch),
                Ok(None) => panic!("the sources stopped before: {what}"),
                Err(_) => panic!(
                    "timed out after {limit:?} waiting for: {what}; clusters: {:#?}",
                    self.state.clusters()
                ),
            }
        }
        started.elapsed()
    }

    /// The fleet is alive: a denial created now on the healthy cluster arrives.
    async fn assert_alive(&mut self, healthy: &TestApiServer) {
        self.probes += 1;
        let name = format!("alive.{}", self.probes);
        healthy.add(denial_event(&name));
        let took = self
            .until(Duration::from_secs(15), "a new denial on the healthy cluster", |s| {
                FleetState::in_cluster(s.denials(), &id(HEALTHY)).any(|(rid, _)| rid.key.ends_with(&name))
            })
            .await;
        eprintln!("  alive: the healthy cluster's new denial arrived after {took:?}");
    }

    /// The UI's screen now, as text: it still draws, and says what the fault is.
    fn screen(&mut self) -> String {
        self.app.prepare();
        let size = self.app.size();
        let mut term = Terminal::new(TestBackend::new(size.width, size.height)).unwrap();
        term.draw(|f| render(f, &self.app)).unwrap();
        let buf = term.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    fn denials(&self, cluster: &str) -> usize {
        FleetState::in_cluster(self.state.denials(), &id(cluster)).count()
    }

    fn gpu_nodes(&self, cluster: &str) -> usize {
        FleetState::in_cluster(self.state.gpu_nodes(), &id(cluster)).count()
    }

    /// Ends the recording and reads it back: whole, every observation, no secret.
    fn finish(mut self) {
        let recorder = self.recorder.take().unwrap();
        assert_eq!(recorder.observations_written(), self.received as u64);
        recorder.finish().unwrap();
        let rec = Recording::open(&self.path).unwrap();
        assert!(rec.truncated().is_none(), "{:?}", rec.truncated());
        assert_eq!(rec.observations().len(), self.received, "every observation recorded");
        let bytes = std::fs::read(&self.path).unwrap();
        assert!(!contains(&bytes, SECRET.as_bytes()), "the planted token is in the recording");
        eprintln!("  recorded: {} observations, {} bytes, no secret", self.received, bytes.len());
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn connection(s: &FleetState, cluster: &str) -> ConnectionState {
    s.clusters()[&id(cluster)].connection.clone()
}

fn unreachable(s: &FleetState, cluster: &str) -> bool {
    matches!(connection(s, cluster), ConnectionState::Unreachable { .. })
}

/// Two servers (the faulty one seeded, the healthy one seeded), the faulty one reached at
/// `url(faulty)`, both synced.
async fn synced(
    faulty: &TestApiServer,
    healthy: &TestApiServer,
    name: &str,
    url: String,
    extra: &str,
) -> (Fleet, Duration) {
    seed(faulty);
    seed(healthy);
    let mut fleet = Fleet::start(vec![
        (HEALTHY, kubeconfig(healthy, HEALTHY, &healthy.url(), "")),
        (name, kubeconfig(faulty, name, &url, extra)),
    ]);
    let took = fleet
        .until(Duration::from_secs(30), "both clusters synced", |s| {
            settled(s, &id(HEALTHY)) && settled(s, &id(name))
        })
        .await;
    (fleet, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2s_round_trip_is_shown_as_latency_and_holds_nothing_up() {
    let (faulty, healthy) = (TestApiServer::start().await, TestApiServer::start().await);
    let pit = Tarpit::start(faulty.addr()).await;
    pit.set_rtt(Duration::from_secs(2));
    let (mut fleet, took) = synced(&faulty, &healthy, "far", pit.url(), "").await;
    eprintln!("2 s RTT: synced after {took:?}");
    fleet
        .until(Duration::from_secs(30), "the far cluster connected with a latency", |s| {
            s.clusters()[&id("far")].latency_ms.is_some()
        })
        .await;
    let c = &fleet.state.clusters()[&id("far")];
    assert_eq!(c.health(), ClusterHealth::Live, "{c:#?}");
    assert!(c.latency_ms.unwrap() >= 2000, "{:?}", c.latency_ms);
    eprintln!("  latency shown: {} ms", c.latency_ms.unwrap());
    assert_eq!((fleet.denials("far"), fleet.gpu_nodes("far")), (1, 1));
    fleet.assert_alive(&healthy).await;
    // A change on the far cluster arrives about one trip later.
    faulty.add(denial_event("web-7d9c.late"));
    let took = fleet
        .until(Duration::from_secs(30), "the far cluster's new denial", |s| {
            FleetState::in_cluster(s.denials(), &id("far")).count() == 2
        })
        .await;
    eprintln!("  a change on the far cluster arrived after {took:?}");
    fleet.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tarpit_turns_the_cluster_unreachable_keeps_its_records_and_recovers() {
    let (faulty, healthy) = (TestApiServer::start().await, TestApiServer::start().await);
    let pit = Tarpit::start(faulty.addr()).await;
    let (mut fleet, _) = synced(&faulty, &healthy, "pit", pit.url(), "").await;
    let records = fleet.state.record_count();
    pit.stall();
    let took = fleet
        .until(Duration::from_secs(40), "the tarpitted cluster unreachable", |s| unreachable(s, "pit"))
        .await;
    eprintln!("tarpit: unreachable after {took:?}");
    match connection(&fleet.state, "pit") {
        ConnectionState::Unreachable { error, .. } => {
            assert!(error.contains("no answer within"), "{error}");
            assert!(error.contains(&pit.url()) || error.contains("127.0.0.1"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fleet.state.clusters()[&id("pit")].health(), ClusterHealth::Unreachable);
    let screen = fleet.screen();
    assert!(screen.contains("✕ pit unreachable for") && screen.contains("no answer within 10s"), "{screen}");
    assert_eq!((fleet.denials("pit"), fleet.gpu_nodes("pit")), (1, 1), "records from before are kept");
    fleet.assert_alive(&healthy).await;
    pit.pass();
    faulty.add(denial_event("web-7d9c.after"));
    let took = fleet
        .until(Duration::from_secs(60), "recovery with the denial made during the stall", |s| {
            connection(s, "pit") == ConnectionState::Connected
                && FleetState::in_cluster(s.denials(), &id("pit")).count() == 2
        })
        .await;
    eprintln!("  recovered {took:?} after the tarpit let go");
    assert_eq!(fleet.gpu_nodes("pit"), 1, "nothing doubled");
    assert_eq!(fleet.state.record_count(), records + 2, "the new denials (pit's and the liveness one)");
    fleet.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_plain_http_port_is_unreachable_with_the_reason_at_once() {
    let (faulty, healthy) = (TestApiServer::start().await, TestApiServer::start().await);
    let url = format!("https://{}", faulty.addr());
    seed(&faulty);
    seed(&healthy);
    let mut fleet = Fleet::start(vec![
        (HEALTHY, kubeconfig(&healthy, HEALTHY, &healthy.url(), "")),
        ("tls", kubeconfig(&faulty, "tls", &url, "\n    insecure-skip-tls-verify: true")),
    ]);
    let took =
        fleet.until(Duration::from_secs(30), "the TLS cluster unreachable", |s| unreachable(s, "tls")).await;
    eprintln!("TLS to plain HTTP: unreachable after {took:?}");
    match connection(&fleet.state, "tls") {
        ConnectionState::Unreachable { error, .. } => {
            eprintln!("  error: {error}");
            assert!(error.contains(&url), "{error}");
            assert!(!error.contains("no answer within"), "a protocol error, not a timeout: {error}");
        }
        other => panic!("{other:?}"),
    }
    let screen = fleet.screen();
    assert!(screen.contains("✕ tls unreachable for") && screen.contains("InvalidContentType"), "{screen}");
    fleet.until(Duration::from_secs(30), "the healthy cluster synced", |s| settled(s, &id(HEALTHY))).await;
    fleet.assert_alive(&healthy).await;
    fleet.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_says_unauthorized_keeps_records_and_recovers_when_accepted() {
    let (faulty, healthy) = (TestApiServer::start().await, TestApiServer::start().await);
    let url = faulty.url();
    let (mut fleet, _) = synced(&faulty, &healthy, "expired", url, "").await;
    faulty.set_unauthorized(true);
    let took = fleet
        .until(Duration::from_secs(30), "the cluster refused", |s| {
            matches!(connection(s, "expired"), ConnectionState::Forbidden { .. })
        })
        .await;
    eprintln!("expired token: refused after {took:?}");
    match connection(&fleet.state, "expired") {
        ConnectionState::Forbidden { error } => assert!(error.contains("Unauthorized"), "{error}"),
        other => panic!("{other:?}"),
    }
    // One finding says why; the sources it fails are not listed again one by one.
    let screen = fleet.screen();
    assert!(screen.contains("⊘ expired refused our credentials: Unauthorized"), "{screen}");
    assert!(!screen.contains("source failing"), "{screen}");
    assert_eq!(
        (fleet.denials("expired"), fleet.gpu_nodes("expired")),
        (1, 1),
        "records from before are kept"
    );
    fleet.assert_alive(&healthy).await;
    faulty.set_unauthorized(false);
    faulty.add(denial_event("web-7d9c.after"));
    let took = fleet
        .until(Duration::from_secs(60), "recovery once the token is accepted", |s| {
            connection(s, "expired") == ConnectionState::Connected
                && FleetState::in_cluster(s.denials(), &id("expired")).count() == 2
        })
        .await;
    eprintln!("  recovered {took:?} after the token was accepted again");
    assert_eq!(fleet.gpu_nodes("expired"), 1, "nothing doubled");
    fleet.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_mid_session_marks_the_source_forbidden_and_keeps_its_records() {
    let (faulty, healthy) = (TestApiServer::start().await, TestApiServer::start().await);
    let url = faulty.url();
    let (mut fleet, _) = synced(&faulty, &healthy, "rbac", url, "").await;
    faulty.forbid("events");
    let took = fleet
        .until(Duration::from_secs(30), "the Events source forbidden", |s| {
            matches!(
                s.clusters()[&id("rbac")].sources.get(&SourceKind::Events),
                Some(SourceState::Forbidden { .. })
            )
        })
        .await;
    eprintln!("403 on events mid-session: shown after {took:?}");
    let c = &fleet.state.clusters()[&id("rbac")];
    assert_eq!(c.connection, ConnectionState::Connected);
    assert_eq!(c.sources[&SourceKind::Nodes], SourceState::Live, "the other sources go on");
    assert_eq!(fleet.denials("rbac"), 1, "the denials seen before are kept");
    fleet.assert_alive(&healthy).await;
    fleet.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_gone_relists_without_losing_or_doubling_records() {
    let (faulty, healthy) = (TestApiServer::start().await, TestApiServer::start().await);
    let url = faulty.url();
    let (mut fleet, _) = synced(&faulty, &healthy, "gone", url, "").await;
    // Changes while the history is compacted away: a watch resuming from before gets 410.
    faulty.expire_watches();
    faulty.add(denial_event("web-7d9c.after"));
    faulty.delete("v1", "Event", Some("shop"), "web-7d9c.1");
    // Compaction is routine: the relist shows as syncing, never as an error or a stale cluster.
    let errors = std::cell::RefCell::new(Vec::new());
    let took = fleet
        .until(Duration::from_secs(30), "the relist done: the new denial in, the deleted one out", |s| {
            let c = &s.clusters()[&id("gone")];
            errors.borrow_mut().extend(
                c.sources
                    .iter()
                    .filter(|(_, st)| matches!(st, SourceState::Error { .. }))
                    .map(|(k, st)| format!("{k:?}: {st:?}")),
            );
            let keys: Vec<String> =
                FleetState::in_cluster(s.denials(), &id("gone")).map(|(rid, _)| rid.key.clone()).collect();
            keys.len() == 1 && keys[0].ends_with("web-7d9c.after") && c.health() == ClusterHealth::Live
        })
        .await;
    eprintln!("410 Gone: relisted and live after {took:?}");
    assert_eq!(errors.into_inner(), Vec::<String>::new(), "a 410 is a relist, not an error");
    assert_eq!(fleet.gpu_nodes("gone"), 1, "nothing doubled");
    fleet.assert_alive(&healthy).await;
    fleet.finish();
}
