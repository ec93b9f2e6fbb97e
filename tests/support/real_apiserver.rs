//! A real kube-apiserver (with etcd) on loopback for one test or benchmark, started by the
//! script that `FLEETTOP_REAL_APISERVER` names (`../shared/tools/real-apiserver.sh`) on the
//! caller's own ports and in its own run folder, so that several tiers can run at once.
//! It can be stopped and started again with its etcd data, PKI and tokens kept (the same
//! kubeconfig keeps working), and it is stopped when dropped.
//!
//! Included with `#[path]` by `tests/live_real_faults.rs` and `benches/real_apiserver.rs`
//! (not through `support/mod.rs`, so tier 1 does not compile it).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The start script named by `FLEETTOP_REAL_APISERVER`, or `None` after printing why the
/// caller is skipped (`what` names it in the message).
pub fn script_from_env(what: &str) -> Option<PathBuf> {
    let Some(target) =
        std::env::var_os("FLEETTOP_REAL_APISERVER").filter(|v| !v.is_empty()).map(PathBuf::from)
    else {
        eprintln!("SKIPPED: {what} is off; set FLEETTOP_REAL_APISERVER to ../shared/tools/real-apiserver.sh");
        return None;
    };
    if target.extension().is_none_or(|e| e != "sh") {
        eprintln!(
            "SKIPPED: {what} starts, stops and fills its own apiserver, so it needs the start script \
             (real-apiserver.sh), not a kubeconfig ({})",
            target.display()
        );
        return None;
    }
    Some(target)
}

/// One apiserver + etcd started by the script.
pub struct RealApiserver {
    script: PathBuf,
    api_port: u16,
    etcd_port: u16,
    running: bool,
    /// Extra kube-apiserver flags (`KR_APISERVER_ARGS`).
    apiserver_args: String,
    /// The kubeconfig the script wrote: context `real` (admin token), `real-noaccess`.
    pub kubeconfig: PathBuf,
    /// `$KR_RUN`: PKI, etcd data, logs, pid files.
    pub run: PathBuf,
    dir: tempfile::TempDir,
}

impl RealApiserver {
    /// Starts a fresh one (etcd data wiped) on `api_port`; etcd listens on `etcd_port` and
    /// `etcd_port + 1`. Panics with the script's output when it does not come up.
    pub fn start(script: &Path, api_port: u16, etcd_port: u16) -> Self {
        Self::start_with_args(script, api_port, etcd_port, "")
    }

    /// [`RealApiserver::start`] with extra kube-apiserver flags, e.g.
    /// `--etcd-compaction-interval=5s` (old resourceVersions expire: watches get 410 Gone).
    pub fn start_with_args(script: &Path, api_port: u16, etcd_port: u16, apiserver_args: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut s = Self {
            script: script.to_path_buf(),
            api_port,
            etcd_port,
            running: false,
            apiserver_args: apiserver_args.to_string(),
            kubeconfig: dir.path().join("kubeconfig"),
            run: dir.path().join("run"),
            dir,
        };
        s.launch(false);
        s
    }

    fn launch(&mut self, keep_data: bool) {
        let out = Command::new("bash")
            .arg(&self.script)
            .arg(&self.kubeconfig)
            .env("KR_RUN", &self.run)
            .env("KR_API_PORT", self.api_port.to_string())
            .env("KR_ETCD_PORT", self.etcd_port.to_string())
            .env("KR_KEEP_DATA", if keep_data { "1" } else { "0" })
            .env("KR_APISERVER_ARGS", &self.apiserver_args)
            // No controllers: nothing but the caller writes, so what is watched is what it made.
            .env("KR_CONTROLLER_MANAGER", "0")
            .output()
            .expect("the start script runs");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("READY"),
            "the real apiserver did not start on port {}: {}",
            self.api_port,
            String::from_utf8_lossy(&out.stderr)
        );
        self.running = true;
    }

    /// Stops kube-apiserver and etcd (SIGTERM, then SIGKILL after 5 s) with the stop script;
    /// etcd data, PKI and tokens stay in the run folder.
    pub fn stop(&mut self) {
        let stop = self.script.with_file_name("real-apiserver-stop.sh");
        let out =
            Command::new("bash").arg(&stop).env("KR_RUN", &self.run).output().expect("the stop script runs");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("STOPPED"),
            "the stop script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.running = false;
    }

    /// Starts it again on the same ports with the etcd data of the last run
    /// (`KR_KEEP_DATA=1`). The script reuses the PKI and tokens in the run folder, so the
    /// kubeconfig it rewrites is the same as before.
    pub fn restart_keeping_data(&mut self) {
        self.launch(true);
    }

    /// The API server's port.
    pub fn api_port(&self) -> u16 {
        self.api_port
    }

    /// The kubeconfig as text.
    pub fn kubeconfig_yaml(&self) -> String {
        std::fs::read_to_string(&self.kubeconfig).expect("the script wrote a kubeconfig")
    }

    /// The parsed kubeconfig.
    pub fn kubeconfig(&self) -> kube::config::Kubeconfig {
        kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("a valid kubeconfig")
    }

    /// A cluster-admin client (context `real`), for setup: fleettop itself never writes.
    pub async fn admin_client(&self) -> kube::Client {
        let config = kube::Config::from_custom_kubeconfig(self.kubeconfig(), &Default::default())
            .await
            .expect("the kubeconfig loads");
        kube::Client::try_from(config).expect("a client")
    }

    /// A file in the run folder's logs (`kube-apiserver.log`, `etcd.log`), for failure messages.
    pub fn log_tail(&self, name: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(self.run.join("logs").join(name)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The temporary folder that holds the kubeconfig and the run folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for RealApiserver {
    fn drop(&mut self) {
        if self.running {
            let stop = self.script.with_file_name("real-apiserver-stop.sh");
            let _ = Command::new("bash").arg(&stop).env("KR_RUN", &self.run).output();
        }
    }
}
