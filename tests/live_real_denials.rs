//! Denials, tier 2 (issue 16): a real kube-apiserver (v1.20) holding Warning events that
//! carry real denial strings from the public corpus (`tests/fixtures/real/denials/corpus.jsonl`)
//! as the ReplicaSet and Job controllers write them (`Error creating: …`, reason
//! `FailedCreate`), read back through fleettop's own watch and `fleettop why --json`: each
//! event's row has the engine and class the corpus label gives, webhook failures and
//! unattributed refusals are rows of their own class, and `why` counts them apart. Switched on
//! by `FLEETTOP_REAL_APISERVER` (the start script), like `live_real.rs`; skipped loudly without.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A real apiserver started by the tier-2 script on ports of its own, stopped on drop.
struct Real {
    kubeconfig: PathBuf,
    kubectl: String,
    stop: (PathBuf, PathBuf),
    dir: tempfile::TempDir,
}

impl Drop for Real {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(&self.stop.0).env("KR_RUN", &self.stop.1).status();
    }
}

fn port(base: u16) -> u16 {
    base + std::env::var("FLEETTOP_PORT_OFFSET").ok().and_then(|o| o.parse::<u16>().ok()).unwrap_or(0)
}

fn start() -> Option<Real> {
    let Some(script) = std::env::var_os("FLEETTOP_REAL_APISERVER").map(PathBuf::from) else {
        eprintln!(
            "SKIPPED: tier 2 (real apiserver) is off; set FLEETTOP_REAL_APISERVER to real-apiserver.sh"
        );
        return None;
    };
    if script.extension().is_none_or(|e| e != "sh") {
        eprintln!(
            "SKIPPED: this tier-2 test starts its own apiserver; FLEETTOP_REAL_APISERVER is not a script"
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let kr_home = std::env::var("KR_HOME").unwrap_or_else(|_| "/tmp/kube-real".into());
    let kubectl = format!("{kr_home}/bin/kubectl");
    let kubectl = if Path::new(&kubectl).exists() { kubectl } else { "kubectl".into() };
    let kubeconfig = dir.path().join("kubeconfig");
    let run = dir.path().join("run");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&kubeconfig)
        .env("KR_RUN", &run)
        .env("KR_API_PORT", port(16843).to_string())
        .env("KR_ETCD_PORT", port(12879).to_string())
        .output()
        .expect("the start script runs");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("READY"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stop = script.with_file_name("real-apiserver-stop.sh");
    Some(Real { kubeconfig, kubectl, stop: (stop, run), dir })
}

/// Corpus lines (text, engine, class), one per engine and class, read from the corpus.
fn picks() -> Vec<(String, String, String)> {
    let path = format!("{}/tests/fixtures/real/denials/corpus.jsonl", env!("CARGO_MANIFEST_DIR"));
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (text, engine, class) =
            (v["text"].as_str().unwrap(), v["engine"].as_str().unwrap(), v["class"].as_str().unwrap());
        // As a controller writes it: one `Error creating: ` before the apiserver's message.
        let is_apiserver = text.starts_with("admission webhook")
            || text.starts_with("Internal error occurred")
            || text.contains(" is forbidden: ");
        if !is_apiserver || !seen.insert((engine.to_string(), class.to_string())) {
            continue;
        }
        let message = match text.strip_prefix("Error creating: ") {
            Some(_) => text.to_string(),
            None => format!("Error creating: {text}"),
        };
        out.push((message, engine.to_string(), class.to_string()));
    }
    out
}

#[test]
fn real_apiserver_events_with_corpus_strings_keep_engine_and_class() {
    let Some(real) = start() else { return };
    let picks = picks();
    assert!(picks.len() >= 6, "{picks:?}");
    let now = jiff::Timestamp::now().to_string();
    let items: Vec<serde_json::Value> = picks
        .iter()
        .enumerate()
        .map(|(i, (message, _, _))| {
            let (kind, owner, component) =
                if i % 2 == 0 { ("ReplicaSet", "apps/v1", "replicaset-controller") } else { ("Job", "batch/v1", "job-controller") };
            serde_json::json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("w{i}.corpus"), "namespace": "corpus"},
                "involvedObject": {"kind": kind, "apiVersion": owner, "namespace": "corpus", "name": format!("w{i}")},
                "reason": "FailedCreate", "type": "Warning", "message": message, "count": 2,
                "source": {"component": component},
                "firstTimestamp": now, "lastTimestamp": now
            })
        })
        .collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
    let kubectl = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut child = Command::new(&real.kubectl)
            .args(args)
            .env("KUBECONFIG", &real.kubeconfig)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    kubectl(&["create", "namespace", "corpus"], None);
    kubectl(&["create", "-f", "-"], Some(&list));
    let out = Command::new(env!("CARGO_BIN_EXE_fleettop"))
        .args(["why", "--json", "--timeout", "60", "--kubeconfig", real.kubeconfig.to_str().unwrap()])
        .args(["--context", "real", "-n", "corpus", "--since", "1h", "--limit", "0"])
        .env("HOME", real.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["denials"].as_array().unwrap();
    for (message, engine, class) in &picks {
        let row = rows
            .iter()
            .find(|e| {
                e["denial"]["evidence"].as_array().unwrap().iter().any(|ev| ev["excerpt"] == message.as_str())
            })
            .unwrap_or_else(|| panic!("no row for {message}\n{v:#}"));
        let d = &row["denial"];
        let got_class = match d["class"]["class"].as_str() {
            None => "denial",
            Some("webhook_unavailable") => "unavailable",
            Some(other) => other,
        };
        let got_engine = match d["engine"].as_str().unwrap() {
            "validating_admission_policy" => "vap",
            "pod_security" => "pod-security",
            "resource_quota" => "quota",
            "limit_range" => "limitrange",
            "kyverno_cel" => "kyverno-cel",
            e => e,
        };
        assert_eq!((got_engine, got_class), (engine.as_str(), class.as_str()), "{message}\n{d:#}");
    }
}
