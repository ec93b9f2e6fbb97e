//! End to end: the real binary in a real terminal (tmux), driven by keys as a person would,
//! with the screen captured and asserted. Needs `tmux` (`.ci/run` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn start(name: &str, home: &Path, args: &str) -> Tmux {
        Self::start_with(name, home, "", args)
    }

    /// `start` with extra `VAR=value` settings in the environment.
    fn start_with(name: &str, home: &Path, env: &str, args: &str) -> Tmux {
        let socket = format!("fleettop-test-{}-{name}", std::process::id());
        let bin = env!("CARGO_BIN_EXE_fleettop");
        let cmd = format!(
            "env HOME={h} XDG_CONFIG_HOME={h}/config XDG_STATE_HOME={h}/state TERM=xterm-256color {env} {bin} {args}",
            h = home.display()
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-c",
                &home.display().to_string(),
                "-s",
                name,
                "-x",
                "120",
                "-y",
                "40",
                &cmd,
            ])
            .status()
            .expect("tmux is installed (apt-get install tmux)");
        assert!(status.success());
        Tmux { socket, session: name.to_string() }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let st = Command::new("tmux")
                .args(["-L", &self.socket, "send-keys", "-t", &self.session, k])
                .status()
                .unwrap();
            assert!(st.success());
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Waits until the screen contains `needle` (the UI redraws asynchronously).
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {needle:?}; screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A tmux format variable of the pane (`alternate_on`, `cursor_flag`, `pane_dead`, …).
    fn pane_var(&self, var: &str) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "display-message", "-p", "-t", &self.session, &format!("#{{{var}}}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["-L", &self.socket, "has-session", "-t", &self.session])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    fn wait_exit(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.alive() {
            assert!(Instant::now() < deadline, "fleettop did not exit; screen:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}

#[test]
fn demo_in_a_terminal_responds_to_keys() {
    let home = tempfile::tempdir().unwrap();
    // A bad user theme: the app must say so and keep the defaults.
    std::fs::create_dir_all(home.path().join("config/fleettop")).unwrap();
    std::fs::write(
        home.path().join("config/fleettop/theme.toml"),
        "[styles]\n\"health.live\" = { fg = \"purpel\" }\n",
    )
    .unwrap();
    let t = Tmux::start("demo", home.path(), "--demo --at 18m");
    let s = t.wait_for("REPLAY");
    assert!(s.contains("prod-eu-west-1"), "{s}");
    assert!(s.contains("warning"), "the bad theme file is reported: {s}");

    t.keys(&["Space"]); // pause
    t.wait_for("paused");
    t.keys(&["2"]);
    let s = t.wait_for("ENGINE");
    assert!(s.contains("require-run-as-nonroot"), "{s}");

    t.keys(&["/", "p", "o", "d", "s", "e", "c", "Enter"]);
    let s = t.wait_for("/podsec");
    assert!(s.contains("pod-security"), "{s}");
    t.keys(&["Escape"]);

    t.keys(&["Enter"]);
    t.wait_for("what was denied");
    t.keys(&["Escape", "?"]);
    let s = t.wait_for("help");
    assert!(s.contains("purpel"), "the warning names the bad value: {s}");
    t.keys(&["Escape", "3", "]"]);
    t.wait_for("[workloads]");
    t.keys(&["4"]);
    t.wait_for("COMPONENT");
    t.keys(&["5"]);
    t.wait_for("EXPIRES");
    t.keys(&["q"]);
    t.wait_exit();
}

#[test]
fn a_simulated_live_session_records_and_replays() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("session.fleetrec");
    let t = Tmux::start("sim", home.path(), &format!("--simulate --speed 300 --record {}", file.display()));
    t.wait_for("LIVE");
    t.wait_for("gpu-train-us");
    std::thread::sleep(Duration::from_secs(3));
    t.keys(&["q"]);
    t.wait_exit();
    let rec = fleettop::record::Recording::open(&file).expect("the recording opens");
    assert!(rec.truncated().is_none(), "a clean exit leaves a whole file");
    assert!(rec.observations().len() > 100, "{} observations", rec.observations().len());
    // Replaying the recording shows the same records the live session had at its end.
    let t =
        Tmux::start("replay", home.path(), &format!("replay --paused --at {} {}", rec.end(), file.display()));
    let s = t.wait_for("REPLAY");
    assert!(s.contains("gpu-train-us"), "{s}");
    t.keys(&["q"]);
    t.wait_exit();
}

#[test]
fn record_without_a_file_name_writes_a_new_default_file() {
    // Issue 13, item 6: `--record` alone failed with "a value is required".
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("unrelated.txt"), b"x").unwrap();
    for round in 1..=2 {
        let t = Tmux::start(
            &format!("default{round}"),
            home.path(),
            "--simulate --speed 300 --record; echo exit=$?; sleep 60",
        );
        t.wait_for("LIVE");
        t.keys(&["q"]);
        let s = t.wait_for("exit=");
        assert!(s.contains("exit=0"), "{s}");
        assert!(s.contains("recording written to fleettop-"), "{s}");
    }
    let mut names: Vec<String> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("fleettop-"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "two sessions, two files: {names:?}");
    for n in &names {
        // fleettop-20261127T141811Z.fleetrec (or …-2.fleetrec within the same second)
        assert!(n.ends_with(".fleetrec") && n.len() >= "fleettop-20261127T141811Z.fleetrec".len(), "{n}");
        let rec = fleettop::record::Recording::open(home.path().join(n)).unwrap();
        assert!(rec.truncated().is_none());
    }
}

/// Sends `signal` to the one fleettop process whose command line names `needle`.
fn signal_fleettop(signal: &str, needle: &str) {
    let pids = Command::new("pgrep").args(["-f", needle]).output().unwrap();
    let pids = String::from_utf8_lossy(&pids.stdout).to_string();
    let mut signalled = 0;
    for pid in pids.split_whitespace() {
        // pgrep also finds tmux and the shell running the command line; skip them.
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.starts_with(env!("CARGO_BIN_EXE_fleettop")) {
            assert!(Command::new("kill").args([&format!("-{signal}"), pid]).status().unwrap().success());
            signalled += 1;
        }
    }
    assert_eq!(signalled, 1, "exactly one fleettop process to signal among {pids:?}");
}

/// Waits until the pane has left the alternate screen, with the cursor visible again.
fn wait_restored(t: &Tmux) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.pane_var("alternate_on") != "0" {
        assert!(Instant::now() < deadline, "the terminal was not restored; screen:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(t.pane_var("cursor_flag"), "1", "the cursor is visible again");
}

#[test]
fn sigterm_sigint_sighup_and_sigquit_finish_the_recording_and_restore_the_terminal() {
    // SIGQUIT used to leave the terminal raw in the alternate screen (issue 13, item 12).
    for signal in ["TERM", "INT", "HUP", "QUIT"] {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join(format!("{signal}.fleetrec"));
        // `; echo`/`sleep` keep the pane open after fleettop exits, to look at what it left.
        let t = Tmux::start(
            &signal.to_lowercase(),
            home.path(),
            &format!("--simulate --speed 120 --record {}; echo exit=$?; sleep 60", file.display()),
        );
        t.wait_for("LIVE");
        assert_eq!(t.pane_var("alternate_on"), "1", "the UI runs on the alternate screen");
        std::thread::sleep(Duration::from_secs(2));
        signal_fleettop(signal, &file.display().to_string());
        wait_restored(&t);
        let s = t.wait_for("exit=0");
        assert!(s.contains("recording written to"), "{s}");
        let rec = fleettop::record::Recording::open(&file).expect("the recording opens");
        assert!(rec.truncated().is_none(), "SIG{signal} finishes the last frame: {:?}", rec.truncated());
        assert!(!rec.observations().is_empty());
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600, "SIG{signal}: the recording stays private");
    }
}

#[test]
fn a_task_panic_ends_the_session_with_the_terminal_restored_and_a_failing_status() {
    // Before: the panic hook restored the terminal, the UI went on drawing in line mode, and
    // the process exited 0.
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("panic.fleetrec");
    let t = Tmux::start_with(
        "panic",
        home.path(),
        "FLEETTOP_TEST_PANIC_AFTER_MS=2500",
        &format!("--simulate --speed 60 --record {}; echo exit=$?; sleep 60", file.display()),
    );
    t.wait_for("LIVE");
    let s = t.wait_for("exit=101");
    wait_restored(&t);
    assert!(s.contains("a background task panicked"), "{s}");
    assert!(s.contains("injected by FLEETTOP_TEST_PANIC_AFTER_MS"), "the message names the panic: {s}");
    assert!(s.contains("recording written to"), "the recording was finished: {s}");
    assert!(!s.contains("thread 'tokio-runtime-worker' panicked"), "nothing was printed into the UI: {s}");
    let rec = fleettop::record::Recording::open(&file).expect("the recording opens");
    assert!(rec.truncated().is_none());
    let log = std::fs::read_to_string(home.path().join("state/fleettop/fleettop.log")).unwrap_or_default();
    assert!(log.contains("injected by FLEETTOP_TEST_PANIC_AFTER_MS"), "logged: {log}");
}

/// A small tmpfs mounted for one test, unmounted when dropped; `None` where this process may
/// not mount (not root, no mount namespace): the test then says so and passes.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_stops_the_recording_loudly_and_exactly() {
    // Issue 13, item 7: the failure showed only in the help overlay, the exit said
    // "recording written to …" with status 0, and the byte offset was wrong.
    let Some(disk) = SmallDisk::mount("96k") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let file = disk.0.path().join("full.fleetrec");
    let t = Tmux::start(
        "full",
        home.path(),
        &format!("--simulate --speed 200 --record {}; echo exit=$?; sleep 60", file.display()),
    );
    let s = t.wait_for("RECORDING STOPPED");
    assert!(s.contains("RECORDING STOPPED (No space left on device"), "{s}");
    assert!(s.contains("full.fleetrec keeps its first "), "what the file keeps, on screen: {s}");
    // In the footer (the last line) and first among the Fleet findings.
    let footer = s.lines().rfind(|l| !l.trim().is_empty()).unwrap();
    assert!(footer.contains("✖ RECORDING STOPPED"), "footer: {footer}");
    assert!(s.contains("needs attention"), "{s}");
    let first_finding = s.lines().skip_while(|l| !l.contains("needs attention")).nth(1).unwrap();
    assert!(first_finding.contains("✖ RECORDING STOPPED"), "{first_finding}");
    t.keys(&["q"]);
    let s = t.wait_for("exit=");
    assert!(s.contains("exit=1"), "a failed recording is a failing exit status: {s}");
    assert!(!s.contains("recording written to"), "{s}");
    assert!(s.contains("is incomplete"), "{s}");
    // The message is exact: the file keeps its first B bytes, N observations, and ends there.
    let bytes: u64 = between(&s, "in its first ", " bytes").parse().unwrap();
    let observations: usize = between(&s, "the file keeps ", " observation").parse().unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().len(), bytes, "cut back to the last whole frame");
    let rec = fleettop::record::Recording::open(&file).expect("what was written opens");
    assert!(rec.truncated().is_none(), "{:?}", rec.truncated());
    assert_eq!(rec.observations().len(), observations);
    assert!(observations > 0);
    drop(t);
}

/// The text between the first `start` and the next `end`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("{start:?} in {text}")) + start.len();
    let to = text[from..].find(end).unwrap_or_else(|| panic!("{end:?} after {start:?} in {text}"));
    &text[from..from + to]
}

#[test]
fn a_live_session_records_what_a_replay_and_a_headless_snapshot_show() {
    use serde_json::json;
    use support::apiserver::TestApiServer;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(TestApiServer::start());
    server.add(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "h100-1", "labels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}},
        "status": {"capacity": {"nvidia.com/gpu": "8"}, "allocatable": {"nvidia.com/gpu": "8"}}}));
    server.add(json!({"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "FailedCreate", "count": 2,
        "metadata": {"name": "web.1", "namespace": "shop"},
        "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": "web-7d9c"},
        "message": "Error creating: pods \"web-7d9c-x2\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=10, limited: pods=10"}));
    server.add(json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "replica-limit.example.com", "generation": 2}, "spec": {"validations": []}}));
    // A team's training job, admitted by Kueue an hour ago with 4 H100s: what the cost
    // report of the recording must account for. The team is in a label of the user's choice
    // (`team_label` in config.toml), so the report also proves the config reaches live mode.
    let admitted = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)).to_string();
    server.add(json!({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ClusterQueue",
        "metadata": {"name": "research-cq", "labels": {"example.com/squad": "research"}},
        "spec": {"resourceGroups": [{"coveredResources": ["nvidia.com/gpu"],
            "flavors": [{"name": "h100", "resources": [{"name": "nvidia.com/gpu", "nominalQuota": "8"}]}]}]}}));
    server.add(json!({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "Workload",
        "metadata": {"name": "train-llm", "namespace": "ml", "labels": {"example.com/squad": "research"},
            "creationTimestamp": admitted},
        "spec": {"queueName": "research", "podSets": [{"name": "main", "count": 1, "template": {"spec": {"containers": [
            {"name": "t", "image": "trainer", "resources": {"requests": {"nvidia.com/gpu": "4"}}}]}}}]},
        "status": {"admission": {"clusterQueue": "research-cq", "podSetAssignments": [{"name": "main",
                "flavors": {"nvidia.com/gpu": "h100"}, "resourceUsage": {"nvidia.com/gpu": "4"}, "count": 1}]},
            "conditions": [
                {"type": "QuotaReserved", "status": "True", "reason": "QuotaReserved", "lastTransitionTime": admitted},
                {"type": "Admitted", "status": "True", "reason": "Admitted", "lastTransitionTime": admitted}]}}));
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig_yaml("lab")).unwrap();
    let file = home.path().join("live.fleetrec");
    let config = home.path().join("config/fleettop");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.toml"), "team_label = \"example.com/squad\"\n").unwrap();
    // A fleet file with one bad entry: its warning outlasts the alternate screen.
    std::fs::write(
        config.join("fleet.toml"),
        "[[cluster]]\ncontext = \"lab\"\n[[cluster.scrape]]\nkind = \"collector\"\nurl = \"ftp://nope\"\n",
    )
    .unwrap();

    let t = Tmux::start(
        "live",
        home.path(),
        &format!("--kubeconfig {} --no-nvml --record {}", kubeconfig.display(), file.display()),
    );
    t.wait_for("1 live");
    let s = t.wait_for("Denials 1");
    assert!(s.contains("lab"), "{s}");
    assert!(s.contains("1 warning"), "the fleet file's bad entry is shown: {s}");
    t.keys(&["q"]);
    t.wait_exit();

    // What the session saw is what its recording replays to…
    let rec = fleettop::record::Recording::open(&file).expect("the recording opens");
    assert!(rec.truncated().is_none());
    let replayed = rec.state_at(rec.end());
    let keys = |state: &fleettop::state::FleetState| {
        let mut k: Vec<String> = state.denials().keys().map(|id| format!("denial {}", id.key)).collect();
        k.extend(state.gpu_nodes().keys().map(|id| format!("node {}", id.key)));
        k.extend(state.policies().keys().map(|id| format!("policy {}", id.key)));
        k
    };
    assert_eq!(
        keys(&replayed),
        [
            "denial event/shop/web.1",
            "node h100-1",
            "policy ValidatingAdmissionPolicy/replica-limit.example.com"
        ]
    );
    // …and what a headless live snapshot of the same cluster prints.
    let out = Command::new(env!("CARGO_BIN_EXE_fleettop"))
        .args(["snapshot", "--json", "--kubeconfig", kubeconfig.to_str().unwrap()])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let live: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let recorded = serde_json::to_value(replayed.snapshot()).unwrap();
    for section in ["denials", "gpu_nodes", "policies"] {
        let strip = |v: &serde_json::Value| {
            let mut v = v[section].clone();
            for r in v.as_array_mut().unwrap() {
                // Evidence and first/last seen carry the observation clock; the facts must match.
                r.as_object_mut().unwrap().retain(|k, _| !["evidence", "at"].contains(&k.as_str()));
            }
            v
        };
        assert_eq!(strip(&recorded), strip(&live), "{section}");
    }
    // The cost report of the live recording: the job's GPU-hours over the last two hours.
    let out = Command::new(env!("CARGO_BIN_EXE_fleettop"))
        .args([
            "report",
            "--replay",
            file.to_str().unwrap(),
            "--window",
            "2h",
            "--by",
            "team",
            "--format",
            "json",
        ])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = report["groups"][0]["rows"].as_array().unwrap();
    let research = rows.iter().find(|r| r["key"] == "research").unwrap_or_else(|| panic!("{report:#}"));
    let hours = research["gpu_hours"].as_f64().unwrap();
    assert!((3.9..4.2).contains(&hours), "4 GPUs for about an hour: {hours} ({report:#})");
    let cost = research["cost_usd"].as_f64().unwrap();
    assert!((cost - hours * 4.0).abs() < 0.02, "priced as an H100 at $4 per GPU-hour: {research}");
    assert!(server.requests().iter().all(|r| r.method == "GET"), "fleettop only reads");
}

/// A shell script at `dir/name`, made executable.
fn script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The clock in the title bar (`2026-11-27 14:12:05 UTC`).
fn clock_of(screen: &str) -> Option<String> {
    let line = screen.lines().find(|l| l.contains(" UTC "))?;
    let at = line.find(" UTC ")?;
    line.get(at.saturating_sub(8)..at).map(str::to_string)
}

/// Every secret a kubeconfig and a fleet file can hold, planted in every field, with clusters
/// that fail in the ways that carry credentials into error texts (a failing exec plugin that
/// prints its environment, arguments and token; server and proxy URLs with userinfo; URL
/// scrape targets with userinfo): none of them reaches the recording, the headless snapshot,
/// the log file or the screen.
#[test]
fn planted_credentials_reach_no_recording_snapshot_log_or_screen() {
    use serde_json::json;
    use support::apiserver::TestApiServer;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(TestApiServer::start());
    server.add(json!({"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "FailedCreate", "count": 1,
        "metadata": {"name": "web.1", "namespace": "shop"},
        "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": "web-7d9c"},
        "message": "Error creating: pods \"web-7d9c-x2\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=10, limited: pods=10"}));
    server.set_direct_metrics("/edge/metrics", "# no samples\n");
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let secrets = [
        "PLANTED-ok-token-01",
        "PLANTED-ok-arg-pass-02",
        "PLANTED-ok-env-secret-03",
        "PLANTED-scrape-pass-04",
        "PLANTED-dead-pass-05",
        "PLANTED-fail-env-06",
        "PLANTED-fail-arg-07",
        "PLANTED-fail-arg-08",
        "PLANTED-fail-stdout-09",
        "PLANTED-url-pass-10",
        "PLANTED-kc-token-11",
        "PLANTED-kc-key-12",
        "PLANTED-kc-cert-13",
        "PLANTED-kc-password-14",
        "PLANTED-proxy-pass-15",
        "PLANTED-id-token-16",
        "PLANTED-client-secret-17",
        "PLANTED-refresh-18",
    ];
    let expires = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    let ok_plugin = script(
        h,
        "ok-plugin",
        &format!(
            r#"echo "plugin args: $* env: $API_SECRET" >&2
printf '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"PLANTED-ok-token-01","expirationTimestamp":"{expires}"}}}}'"#
        ),
    );
    let failing_plugin = script(
        h,
        "failing-plugin",
        r#"echo "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY args: $*" >&2
echo "token: PLANTED-fail-stdout-09" >&2
echo '{"status":{"token":"PLANTED-fail-stdout-09"}}'
exit 1"#,
    );
    let key_pem = b64("-----BEGIN PRIVATE KEY-----\nPLANTED-kc-key-12\n-----END PRIVATE KEY-----\n");
    let cert_pem = b64("-----BEGIN CERTIFICATE-----\nPLANTED-kc-cert-13\n-----END CERTIFICATE-----\n");
    let url = server.url();
    let kubeconfig_yaml = format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: healthy
  cluster: {{server: "{url}"}}
- name: exec-fails
  cluster: {{server: "{url}"}}
- name: userinfo
  cluster: {{server: "http://admin:PLANTED-url-pass-10@127.0.0.1:1"}}
- name: certs
  cluster: {{server: "{url}", proxy-url: "http://px:PLANTED-proxy-pass-15@127.0.0.1:1"}}
- name: provider
  cluster: {{server: "http://127.0.0.1:1"}}
contexts:
- {{name: healthy, context: {{cluster: healthy, user: healthy}}}}
- {{name: exec-fails, context: {{cluster: exec-fails, user: exec-fails}}}}
- {{name: userinfo, context: {{cluster: userinfo, user: userinfo}}}}
- {{name: certs, context: {{cluster: certs, user: certs}}}}
- {{name: provider, context: {{cluster: provider, user: provider}}}}
current-context: healthy
users:
- name: healthy
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: {ok}
      args: [--password, PLANTED-ok-arg-pass-02]
      env: [{{name: API_SECRET, value: PLANTED-ok-env-secret-03}}]
      interactiveMode: Never
- name: exec-fails
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: {failing}
      args: [--password, PLANTED-fail-arg-07, --token=PLANTED-fail-arg-08]
      env: [{{name: AWS_SECRET_ACCESS_KEY, value: PLANTED-fail-env-06}}]
      interactiveMode: Never
- name: userinfo
  user: {{token: PLANTED-kc-token-11, username: admin, password: PLANTED-kc-password-14}}
- name: certs
  user: {{client-certificate-data: {cert_pem}, client-key-data: {key_pem}}}
- name: provider
  user:
    auth-provider:
      name: oidc
      config: {{id-token: PLANTED-id-token-16, client-secret: PLANTED-client-secret-17, refresh-token: PLANTED-refresh-18, client-id: fleettop}}
"#,
        ok = ok_plugin.display(),
        failing = failing_plugin.display(),
    );
    let kubeconfig = h.join("kubeconfig");
    std::fs::write(&kubeconfig, &kubeconfig_yaml).unwrap();
    let port = server.addr().port();
    let fleet = h.join("fleet.toml");
    std::fs::write(
        &fleet,
        format!(
            r#"[[cluster]]
context = "*"
[[cluster.scrape]]
kind = "collector"
url = "http://scrape:PLANTED-scrape-pass-04@127.0.0.1:{port}/edge/metrics"
[[cluster.scrape]]
kind = "collector"
url = "http://dead:PLANTED-dead-pass-05@127.0.0.1:1/metrics"
"#
        ),
    )
    .unwrap();
    let file = h.join("secrets.fleetrec");
    let args = format!(
        "--kubeconfig {} --fleet {} --all-contexts --no-nvml --record {}",
        kubeconfig.display(),
        fleet.display(),
        file.display()
    );
    let t = Tmux::start_with("secrets", h, "FLEETTOP_LOG=debug", &args);
    t.wait_for("healthy");
    // Every cluster has said what it is (live or why not) before the screens are read.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !t.screen().contains("4 unreachable") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut screens = vec![t.screen()];
    // The Fleet pane's detail view of each cluster shows its whole error.
    for _ in 0..5 {
        t.keys(&["Enter"]);
        screens.push(t.screen());
        t.keys(&["Escape", "Down"]);
    }
    t.keys(&["q"]);
    t.wait_exit();
    assert!(screens[0].contains("4 unreachable") || screens[0].contains("unreachable"), "{}", screens[0]);

    let rec = fleettop::record::Recording::open(&file).expect("the recording opens");
    let recorded = serde_json::to_string(rec.observations()).unwrap();
    assert!(recorded.contains("credential plugin"), "the failing plugin's reason is recorded: {recorded}");
    assert!(recorded.contains("127.0.0.1:1"), "scrape targets are named by host: {recorded}");
    let raw = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).to_string();

    let out = Command::new(env!("CARGO_BIN_EXE_fleettop"))
        .args(["snapshot", "--json", "--timeout", "10", "--all-contexts", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--fleet")
        .arg(&fleet)
        .env("HOME", h)
        .env("XDG_STATE_HOME", h.join("state"))
        .env("FLEETTOP_LOG", "debug")
        .output()
        .unwrap();
    let snapshot = String::from_utf8_lossy(&out.stdout).to_string();
    let snapshot_err = String::from_utf8_lossy(&out.stderr).to_string();
    let v: serde_json::Value =
        serde_json::from_str(&snapshot).unwrap_or_else(|e| panic!("{e}: {snapshot_err}"));
    assert_eq!(v["clusters"].as_array().map(Vec::len), Some(5), "{v:#}");

    let log_path = h.join("state/fleettop/fleettop.log");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().count() > 10, "debug logging wrote something: {log}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&log_path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(h.join("state/fleettop")).unwrap().permissions().mode() & 0o777, 0o700);

    let mut leaks = Vec::new();
    for (what, text) in [
        ("recording", &recorded),
        ("recording file", &raw),
        ("snapshot --json", &snapshot),
        ("snapshot stderr", &snapshot_err),
        ("log file", &log),
    ]
    .into_iter()
    .chain(screens.iter().map(|s| ("screen", s)))
    {
        for secret in secrets {
            if text.contains(secret) {
                leaks.push(format!("{secret} in the {what}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}\nrecorded: {recorded}\nlog: {log}");
    assert!(
        server.requests().iter().any(|r| r.authorized),
        "the healthy context's plugin token reached the server"
    );
}

/// Two contexts whose credential plugins hang (and write to stderr) beside a healthy one: the
/// healthy cluster syncs, the clock runs, nothing the plugins say reaches the terminal, a
/// headless snapshot returns on time naming what each cluster waits for, and no plugin
/// process outlives fleettop.
#[test]
fn hung_credential_plugins_freeze_nothing_and_do_not_outlive_fleettop() {
    use support::apiserver::TestApiServer;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(TestApiServer::start());
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let pids = h.join("pids");
    let hang = script(
        h,
        "hang-plugin",
        &format!(
            "echo $$ >> {p}; echo NOISY-PLUGIN-STDERR >&2; sleep 1000 & echo $! >> {p}; wait",
            p = pids.display()
        ),
    );
    let url = server.url();
    let user = |name: &str| {
        format!(
            "- name: {name}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: IfAvailable\n",
            hang.display()
        )
    };
    let kubeconfig = h.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"{url}\"}}\ncontexts:\n\
             - {{name: hang-1, context: {{cluster: c, user: hang-1}}}}\n- {{name: hang-2, context: {{cluster: c, user: hang-2}}}}\n\
             - {{name: healthy, context: {{cluster: c, user: healthy}}}}\ncurrent-context: healthy\nusers:\n{}{}\
             - name: healthy\n  user: {{token: t}}\n",
            user("hang-1"),
            user("hang-2")
        ),
    )
    .unwrap();
    let alive = || -> Vec<String> {
        std::fs::read_to_string(&pids)
            .unwrap_or_default()
            .lines()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
            })
            .map(str::to_string)
            .collect()
    };

    let t =
        Tmux::start("hung", h, &format!("--kubeconfig {} --all-contexts --no-nvml", kubeconfig.display()));
    let s = t.wait_for("1 live");
    let before = clock_of(&s).expect("a clock in the title bar");
    std::thread::sleep(Duration::from_millis(2500));
    let s = t.screen();
    assert_ne!(clock_of(&s), Some(before), "the clock runs while two plugins hang: {s}");
    assert!(!s.contains("NOISY"), "a plugin's stderr never reaches the screen: {s}");
    assert_eq!(std::fs::read_to_string(&pids).unwrap_or_default().lines().count(), 4, "both plugins ran");
    t.keys(&["q"]);
    t.wait_exit();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(alive(), Vec::<String>::new(), "no plugin (or its child) outlives the UI");
    std::fs::remove_file(&pids).unwrap();

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleettop"))
        .args(["snapshot", "--json", "--timeout", "5", "--all-contexts", "--kubeconfig"])
        .arg(&kubeconfig)
        .env("HOME", h)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(took < Duration::from_secs(12), "snapshot --timeout 5 took {took:?}; stderr: {stderr}");
    assert!(out.status.success(), "{stderr}");
    for c in ["hang-1", "hang-2"] {
        assert!(
            stderr.contains(&format!(
                "{c} did not finish its initial sync within 5s: credential plugin {}",
                hang.display()
            )),
            "{c} says what it waits for: {stderr}"
        );
    }
    assert!(!stderr.contains("NOISY"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let healthy = v["clusters"].as_array().unwrap().iter().find(|c| c["id"] == "healthy").cloned();
    assert_eq!(healthy.map(|c| c["health"].clone()), Some(serde_json::json!("live")), "{v:#}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(alive(), Vec::<String>::new(), "no plugin outlives a snapshot");
}
