//! Credential plugins (`users[].user.exec` in a kubeconfig), run by fleettop itself.
//!
//! kube-rs runs a plugin synchronously wherever it builds a client (several times per client)
//! and again when a token expires, with the terminal's stdin and stderr, no deadline and no
//! way to stop it. In fleettop that froze the async runtime (two hanging plugins blocked both
//! worker threads: no cluster synced, the clock stopped, `snapshot --timeout` never fired),
//! garbled the screen and left plugins running after exit. So fleettop runs each plugin here:
//!
//! - on a thread of its own (never on the async runtime), with a deadline
//!   ([`PLUGIN_TIMEOUT`]); a plugin that does not answer is killed with its process group
//!   and the cluster says "credential plugin X did not answer within N s";
//! - without a terminal: stdin is closed and the plugin gets a session of its own (no
//!   controlling terminal), so a prompt fails instead of hanging; `interactiveMode: Always`
//!   cannot work that way and is refused with a reason; stderr is captured and, redacted,
//!   becomes the cluster's reason when the plugin fails;
//! - with the environment kubectl gives it: the configured `env`, minus `dropEnv`, and
//!   `KUBERNETES_EXEC_INFO` (`apiVersion`, `kind: ExecCredential`, `spec.interactive: false`,
//!   `spec.cluster` when `provideClusterInfo` is set), as kube-rs and client-go do;
//! - plugins still running when fleettop exits are killed ([`kill_running`]).
//!
//! The `ExecCredential` it prints (JSON, or YAML as client-go tolerates) is checked like
//! kube-rs does (a status, the configured apiVersion, a token or a client certificate and
//! key) and handed to kube as static credentials: a token through [`Credential::layer`]
//! (refreshed before its `expirationTimestamp` by [`Credential::refresh`]), a certificate as
//! client certificate data. Every value it returns is registered with
//! [`crate::redact::register`].

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use kube::config::{ExecConfig, ExecInteractiveMode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::redact;

/// How long a credential plugin may take before it is killed.
pub const PLUGIN_TIMEOUT: Duration = Duration::from_secs(20);

/// A token is refreshed this long before it expires (kube-rs and client-go use a minute).
pub const REFRESH_BEFORE: Duration = Duration::from_secs(60);

/// After a failed refresh, the next try comes this much later.
const RETRY_REFRESH: Duration = Duration::from_secs(15);

/// Plugin output beyond this is not read (an ExecCredential is a few KiB).
const MAX_STDOUT: u64 = 1 << 20;
/// Plugin stderr beyond this is not kept.
const MAX_STDERR: u64 = 64 << 10;
/// How much of a failed plugin's stderr becomes the reason.
const REASON_STDERR: usize = 2000;

/// A credential plugin as the kubeconfig describes it, and the context it serves.
#[derive(Clone)]
pub struct Plugin {
    exec: ExecConfig,
    context: String,
}

/// What a plugin returned.
#[derive(Clone)]
pub enum Secret {
    /// A bearer token.
    Token(SecretString),
    /// A client certificate and its key, in PEM.
    Certificate {
        /// The certificate chain.
        cert: String,
        /// The private key.
        key: SecretString,
    },
}

/// The `status` of an `ExecCredential` (`client.authentication.k8s.io`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    client_certificate_data: Option<String>,
    #[serde(default)]
    client_key_data: Option<String>,
    #[serde(default)]
    expiration_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredential {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    status: Option<Status>,
}

/// One plugin process now running: its process group, context and command.
struct RunningPlugin {
    context: String,
    command: String,
    started: Instant,
}

/// Plugins now running, by process group id, so that they can be named and killed.
static RUNNING: LazyLock<Mutex<BTreeMap<i32, RunningPlugin>>> = LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// Removes a plugin from [`RUNNING`] when its run ends, however it ends.
struct Registered(i32);

impl Drop for Registered {
    fn drop(&mut self) {
        RUNNING.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.0);
    }
}

fn kill_group(pgid: i32) {
    // SAFETY: kill(2) takes plain integers; a negative pid names the process group the plugin
    // leads (it was started in a session of its own), so only the plugin and its children are
    // signalled.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Kills every credential plugin still running (with its process group). Called when
/// fleettop exits, so that no plugin outlives it.
pub fn kill_running() {
    let running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    for pgid in running.keys() {
        kill_group(*pgid);
    }
}

/// The plugins running now, by context: `credential plugin aws has not answered for 5 s`.
pub fn running() -> Vec<(String, String)> {
    let running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    running
        .values()
        .map(|r| {
            let what = format!(
                "credential plugin {} has not answered for {} s",
                r.command,
                r.started.elapsed().as_secs()
            );
            (r.context.clone(), what)
        })
        .collect()
}

impl Plugin {
    /// The plugin of `context`, with every secret-looking value of its configuration
    /// registered for redaction.
    pub fn new(exec: ExecConfig, context: &str) -> Self {
        Self { exec, context: context.to_string() }
    }

    /// The command, as the cluster's reason names it.
    pub fn name(&self) -> String {
        self.exec.command.clone().unwrap_or_else(|| "(no command)".into())
    }

    /// Runs the plugin on a blocking thread within [`PLUGIN_TIMEOUT`] (the runtime keeps
    /// running meanwhile) and returns its credential and expiry.
    pub async fn run(&self) -> Result<(Secret, Option<Timestamp>), String> {
        let plugin = self.clone();
        match tokio::task::spawn_blocking(move || plugin.run_blocking(PLUGIN_TIMEOUT)).await {
            Ok(result) => result,
            Err(e) => Err(format!("credential plugin {}: {e}", self.name())),
        }
    }

    /// The `KUBERNETES_EXEC_INFO` kubectl gives a plugin.
    fn exec_info(&self) -> Result<String, String> {
        let mut spec = serde_json::json!({ "interactive": false });
        if self.exec.provide_cluster_info {
            let cluster = self.exec.cluster.as_ref().ok_or_else(|| {
                format!(
                    "credential plugin {}: provideClusterInfo is set but the context has no cluster",
                    self.name()
                )
            })?;
            spec["cluster"] = serde_json::to_value(cluster).map_err(|e| e.to_string())?;
        }
        let info = serde_json::json!({
            "apiVersion": self.exec.api_version,
            "kind": "ExecCredential",
            "spec": spec,
        });
        Ok(info.to_string())
    }

    /// Runs the plugin to its end or `timeout`, on the calling thread.
    pub fn run_blocking(&self, timeout: Duration) -> Result<(Secret, Option<Timestamp>), String> {
        let name = self.name();
        let Some(command) = &self.exec.command else {
            return Err("the kubeconfig's exec section names no command".into());
        };
        if self.exec.interactive_mode == Some(ExecInteractiveMode::Always) {
            return Err(format!(
                "credential plugin {name} needs a terminal (interactiveMode: Always), and fleettop runs \
                 plugins without one: log in from a shell first, or set interactiveMode: IfAvailable"
            ));
        }
        let mut cmd = Command::new(command);
        cmd.args(self.exec.args.iter().flatten());
        for env in self.exec.env.iter().flatten() {
            if let (Some(k), Some(v)) = (env.get("name"), env.get("value")) {
                cmd.env(k, v);
            }
        }
        cmd.env("KUBERNETES_EXEC_INFO", self.exec_info()?);
        for k in self.exec.drop_env.iter().flatten() {
            cmd.env_remove(k);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: runs in the child between fork and exec, where only async-signal-safe
            // calls are allowed; setsid(2) is one. It gives the plugin a session and process
            // group of its own, without a controlling terminal.
            unsafe {
                cmd.pre_exec(|| {
                    libc::setsid();
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().map_err(|e| {
            let hint =
                self.exec.install_hint.as_deref().map(|h| format!(" ({})", h.trim())).unwrap_or_default();
            format!("cannot start credential plugin {name}: {e}{hint}")
        })?;
        let pgid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        RUNNING.lock().unwrap_or_else(|p| p.into_inner()).insert(
            pgid,
            RunningPlugin { context: self.context.clone(), command: name.clone(), started: Instant::now() },
        );
        let _registered = Registered(pgid);
        let (tx, rx) = std::sync::mpsc::channel();
        for (which, pipe, max) in [
            (0, child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>), MAX_STDOUT),
            (1, child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>), MAX_STDERR),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(p) = pipe {
                    let _ = p.take(max).read_to_end(&mut buf);
                }
                let _ = tx.send((which, buf));
            });
        }
        drop(tx);
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    kill_group(pgid);
                    let _ = child.wait();
                    return Err(format!(
                        "credential plugin {name} did not answer within {} s (stopped)",
                        timeout.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => {
                    kill_group(pgid);
                    return Err(format!("credential plugin {name}: {e}"));
                }
            }
        };
        // The pipes close when the plugin and its children are gone; a child that keeps them
        // open does not hold us past the deadline.
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(200));
            match rx.recv_timeout(left) {
                Ok((0, b)) => stdout = b,
                Ok((_, b)) => stderr = b,
                Err(_) => break,
            }
        }
        let said = stderr_reason(&stderr);
        if !status.success() {
            return Err(format!("credential plugin {name} failed ({status}){said}"));
        }
        self.parse(&stdout).map_err(|e| format!("credential plugin {name}: {e}{said}"))
    }

    /// Checks and reads the `ExecCredential` a plugin printed, registering its secrets.
    fn parse(&self, stdout: &[u8]) -> Result<(Secret, Option<Timestamp>), String> {
        let cred: ExecCredential = match serde_json::from_slice(stdout) {
            Ok(c) => c,
            Err(_) => serde_saphyr::from_slice(stdout)
                .map_err(|_| "its output is not an ExecCredential (JSON or YAML)".to_string())?,
        };
        let Some(status) = cred.status else { return Err("its ExecCredential has no status".into()) };
        // Register first: nothing it returned may show up anywhere, even in an error below.
        for v in
            [&status.token, &status.client_key_data, &status.client_certificate_data].into_iter().flatten()
        {
            redact::register(v);
            v.lines().filter(|l| !l.starts_with("-----")).for_each(redact::register);
        }
        if cred.kind.as_deref().is_some_and(|k| k != "ExecCredential") {
            return Err(format!("it printed a {:?}, not an ExecCredential", cred.kind.unwrap_or_default()));
        }
        if let (Some(want), Some(got)) = (&self.exec.api_version, &cred.api_version)
            && want != got
        {
            return Err(format!("it answered in {got}, and the kubeconfig asks for {want}"));
        }
        let expires = match &status.expiration_timestamp {
            Some(t) => Some(
                t.parse::<Timestamp>()
                    .map_err(|e| format!("expirationTimestamp {t:?} is not a time: {e}"))?,
            ),
            None => None,
        };
        let secret = match (status.token, status.client_certificate_data, status.client_key_data) {
            (_, Some(cert), Some(key)) => Secret::Certificate { cert, key: SecretString::from(key) },
            (Some(token), _, _) if !token.is_empty() => Secret::Token(SecretString::from(token)),
            _ => return Err("its ExecCredential has neither a token nor a client certificate and key".into()),
        };
        Ok((secret, expires))
    }
}

/// Registers for redaction every credential `kubeconfig` holds, for every context: tokens,
/// passwords, client keys and certificates (as written and decoded), auth-provider secrets,
/// userinfo of server and proxy URLs, and the exec plugins' secret-looking environment values
/// and arguments (see [`secret_looking`]: the value of a `token`/`password`/`secret`/`key`
/// setting or flag, or an opaque string; `eks get-token --region eu-west-1` stays readable).
pub fn register_kubeconfig(kubeconfig: &kube::config::Kubeconfig) {
    use base64::Engine;
    let decoded = |data: &str| -> Vec<String> {
        base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(|pem| pem.lines().filter(|l| !l.starts_with("-----")).map(str::to_string).collect())
            .unwrap_or_default()
    };
    for user in kubeconfig.auth_infos.iter().filter_map(|a| a.auth_info.as_ref()) {
        for s in [&user.token, &user.password, &user.client_key_data].into_iter().flatten() {
            redact::register(s.expose_secret());
            decoded(s.expose_secret()).iter().for_each(|l| redact::register(l));
        }
        if let Some(cert) = &user.client_certificate_data {
            redact::register(cert);
            decoded(cert).iter().for_each(|l| redact::register(l));
        }
        if let Some(provider) = &user.auth_provider {
            for (k, v) in &provider.config {
                if k == "cmd-args" {
                    register_args(&v.split_whitespace().map(str::to_string).collect::<Vec<_>>());
                } else if redact::is_secret_name(k) || secret_looking(v) {
                    redact::register(v);
                }
            }
        }
        if let Some(exec) = &user.exec {
            register_args(exec.args.as_deref().unwrap_or_default());
            for env in exec.env.iter().flatten() {
                if let (Some(k), Some(v)) = (env.get("name"), env.get("value"))
                    && (redact::is_secret_name(k) || secret_looking(v))
                {
                    redact::register(v);
                }
            }
        }
    }
    for cluster in kubeconfig.clusters.iter().filter_map(|c| c.cluster.as_ref()) {
        for url in [&cluster.server, &cluster.proxy_url].into_iter().flatten() {
            register_userinfo(url);
        }
    }
}

/// Registers the userinfo of a URL (`user:password` and the password alone).
pub fn register_userinfo(url: &str) {
    let Some((_, rest)) = url.split_once("://") else { return };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        redact::register(userinfo);
        if let Some((_, password)) = userinfo.split_once(':') {
            redact::register(password);
        }
    }
}

/// Registers the secret-looking arguments of a plugin: the value after a secret flag
/// (`--password X`), of `--secret-flag=X`, and any opaque argument.
fn register_args(args: &[String]) {
    let mut after_secret_flag = false;
    for a in args {
        if after_secret_flag && !a.starts_with('-') {
            redact::register(a);
        }
        after_secret_flag = a.starts_with('-') && !a.contains('=') && redact::is_secret_name(a);
        match a.split_once('=') {
            Some((k, v)) if k.starts_with('-') && redact::is_secret_name(k) => redact::register(v),
            _ if secret_looking(a) => redact::register(a),
            _ => {}
        }
    }
}

/// An opaque string: 16 characters or more, no spaces, letters and digits mixed, and no
/// path, URL or ARN separators (`/`, `:`), so names and paths stay readable.
pub fn secret_looking(v: &str) -> bool {
    v.len() >= 16
        && !v.contains(['/', ':', ' '])
        && v.bytes().any(|c| c.is_ascii_digit())
        && v.bytes().any(|c| c.is_ascii_alphabetic())
}

/// `: <the end of stderr>` (redacted, one line per line), or nothing when it said nothing.
fn stderr_reason(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let cut = text.char_indices().rev().nth(REASON_STDERR).map_or(0, |(i, _)| i);
    let tail = if cut > 0 { format!("…{}", &text[cut..]) } else { text.to_string() };
    format!(": {}", redact::text(&tail.split_whitespace().collect::<Vec<_>>().join(" ")))
}

/// A token from a plugin, shared with the clients that send it, and refreshed before it
/// expires.
#[derive(Clone)]
pub struct Credential {
    plugin: Plugin,
    token: Arc<RwLock<SecretString>>,
    expires: Arc<Mutex<Option<Timestamp>>>,
    last_error: Arc<Mutex<Option<String>>>,
}

impl Credential {
    /// Wraps a token the plugin returned.
    pub fn new(plugin: Plugin, token: SecretString, expires: Option<Timestamp>) -> Self {
        Self {
            plugin,
            token: Arc::new(RwLock::new(token)),
            expires: Arc::new(Mutex::new(expires)),
            last_error: Arc::new(Mutex::new(None)),
        }
    }

    /// A layer that puts the current token in each request's `Authorization` header (marked
    /// sensitive, so that it is never logged).
    pub fn layer(
        &self,
    ) -> tower::util::MapRequestLayer<
        impl Fn(http::Request<kube::client::Body>) -> http::Request<kube::client::Body> + Clone + use<>,
    > {
        let token = self.token.clone();
        tower::util::MapRequestLayer::new(move |mut req: http::Request<kube::client::Body>| {
            let value = format!("Bearer {}", token.read().unwrap_or_else(|p| p.into_inner()).expose_secret());
            if let Ok(mut v) = http::HeaderValue::try_from(value) {
                v.set_sensitive(true);
                req.headers_mut().insert(http::header::AUTHORIZATION, v);
            }
            req
        })
    }

    /// Why the last refresh failed, while the token it should have replaced is in use.
    pub fn refresh_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Runs the plugin again [`REFRESH_BEFORE`] the token expires, for as long as the cluster
    /// is watched (a token without an expiry is never refreshed, as in kube-rs).
    pub async fn refresh(&self) {
        loop {
            let Some(expires) = *self.expires.lock().unwrap_or_else(|p| p.into_inner()) else { return };
            let wait = expires.duration_since(Timestamp::now()).unsigned_abs().saturating_sub(REFRESH_BEFORE);
            let wait = if expires > Timestamp::now() { wait } else { Duration::ZERO };
            tokio::time::sleep(wait).await;
            match self.plugin.run().await {
                Ok((Secret::Token(token), next)) => {
                    *self.token.write().unwrap_or_else(|p| p.into_inner()) = token;
                    *self.expires.lock().unwrap_or_else(|p| p.into_inner()) = next;
                    *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
                Ok((Secret::Certificate { .. }, _)) => {
                    let e = "the plugin now returns a client certificate instead of a token".to_string();
                    tracing::warn!(context = %self.plugin.context, "{e}");
                    *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    tokio::time::sleep(RETRY_REFRESH).await;
                }
                Err(e) => {
                    tracing::warn!(context = %self.plugin.context, "refreshing the token failed: {e}");
                    *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    tokio::time::sleep(RETRY_REFRESH).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn plugin(script: &str, extra: &str) -> (tempfile::TempDir, Plugin) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugin.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        let yaml = format!(
            "apiVersion: client.authentication.k8s.io/v1\ncommand: /bin/sh\nargs: [{:?}]\ninteractiveMode: Never\n{extra}",
            path.display().to_string()
        );
        let exec: ExecConfig = serde_saphyr::from_str(&yaml).unwrap();
        (dir, Plugin::new(exec, "ctx"))
    }

    #[test]
    fn a_token_and_its_expiry_are_read_and_registered() {
        let (_d, p) = plugin(
            r#"echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"tok-Registered-9","expirationTimestamp":"2030-01-01T00:00:00Z"}}'"#,
            "",
        );
        let (secret, expires) = p.run_blocking(Duration::from_secs(10)).unwrap();
        assert!(matches!(secret, Secret::Token(t) if t.expose_secret() == "tok-Registered-9"));
        assert_eq!(expires, Some("2030-01-01T00:00:00Z".parse().unwrap()));
        assert_eq!(redact::text("x tok-Registered-9 y"), "x <redacted> y");
    }

    #[test]
    fn the_plugin_gets_kubectl_s_environment_and_no_stdin() {
        let (_d, mut p) = plugin(
            r#"read line && echo "stdin was open" >&2 && exit 3
printf '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"%s"}}' "$(printf %s "$KUBERNETES_EXEC_INFO" | tr -d '"{}:,' | tr ' ' _)-$GIVEN-${DROPPED:-gone}""#,
            "env:\n- name: GIVEN\n  value: given\n- name: DROPPED\n  value: kept\n",
        );
        // kube-rs's own setting (not read from kubeconfig files), honoured as kube-rs does.
        p.exec.drop_env = Some(vec!["DROPPED".into()]);
        let (secret, _) = p.run_blocking(Duration::from_secs(10)).unwrap();
        let Secret::Token(t) = secret else { panic!("a token") };
        assert_eq!(
            t.expose_secret(),
            "apiVersionclient.authentication.k8s.io/v1kindExecCredentialspecinteractivefalse-given-gone"
        );
    }

    #[test]
    fn a_hanging_plugin_is_killed_at_its_deadline_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("child.pid");
        let (_d, p) = plugin(&format!("sleep 300 & echo $! > {}; wait", marker.display()), "");
        let started = Instant::now();
        let e = p.run_blocking(Duration::from_secs(1)).err().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert!(e.contains("did not answer within 1 s"), "{e}");
        let child = std::fs::read_to_string(&marker).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !std::path::Path::new(&format!("/proc/{}", child.trim())).exists()
                || std::fs::read_to_string(format!("/proc/{}/stat", child.trim()))
                    .unwrap_or_default()
                    .contains(") Z"),
            "the plugin's child was killed too"
        );
    }

    #[test]
    fn a_failing_plugin_says_why_in_its_stderr_redacted() {
        let (_d, p) = plugin(
            "echo 'token expired; AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI-K7MDENG leaked' >&2; echo tok-on-stdout; exit 1",
            "",
        );
        let e = p.run_blocking(Duration::from_secs(10)).err().unwrap();
        assert!(e.starts_with("credential plugin /bin/sh failed (exit status: 1): token expired;"), "{e}");
        assert!(!e.contains("wJalrXUtnFEMI") && !e.contains("tok-on-stdout"), "{e}");
    }

    #[test]
    fn what_a_kubeconfig_holds_is_registered_and_names_stay_readable() {
        let yaml = r#"
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://kc-user:kc-Server-Pass-1@10.1.2.3:6443", proxy-url: "http://px:kc-Proxy-Pass-2@proxy:3128"}
contexts:
- name: c
  context: {cluster: c, user: u}
users:
- name: u
  user:
    token: kc-Token-Value-3
    password: kc-Password-4
    auth-provider: {name: oidc, config: {client-id: fleet, client-secret: kc-Client-Secret-5, id-token: kc-Id-Token-6}}
    exec:
      command: aws
      args: [eks, get-token, --cluster-name, prod, --password, kc-Arg-Pass-7, --token=kc-Arg-Token-8, Zk2kc9ArgOpaque000]
      env: [{name: AWS_SECRET_ACCESS_KEY, value: kc-Env-Secret-9}, {name: AWS_PROFILE, value: prod-admins}]
"#;
        let kubeconfig = kube::config::Kubeconfig::from_yaml(yaml).unwrap();
        register_kubeconfig(&kubeconfig);
        for secret in [
            "kc-Server-Pass-1",
            "kc-Proxy-Pass-2",
            "kc-Token-Value-3",
            "kc-Password-4",
            "kc-Client-Secret-5",
            "kc-Id-Token-6",
            "kc-Arg-Pass-7",
            "kc-Arg-Token-8",
            "Zk2kc9ArgOpaque000",
            "kc-Env-Secret-9",
        ] {
            assert_eq!(redact::text(&format!("[{secret}]")), "[<redacted>]", "{secret}");
        }
        let names = "aws eks get-token --cluster-name prod, profile prod-admins, client fleet";
        assert_eq!(redact::text(names), names);
    }

    #[tokio::test]
    async fn a_token_is_refreshed_before_it_expires_and_sent_by_the_layer() {
        use tower::{Layer, Service, ServiceExt};
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        // Each run answers the next token, valid for 61 s: refreshed a second later.
        let (_d, p) = plugin(
            &format!(
                r#"n=$(( $(cat {c} 2>/dev/null || echo 0) + 1 )); echo $n > {c}
printf '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"tok-Refresh-%s","expirationTimestamp":"%s"}}}}' $n "$(date -u -d '+61 seconds' +%Y-%m-%dT%H:%M:%SZ)""#,
                c = count.display()
            ),
            "",
        );
        let (Secret::Token(token), expires) = p.run().await.unwrap() else { panic!("a token") };
        assert!(expires.is_some());
        let credential = Credential::new(p, token, expires);
        let refresher = credential.clone();
        let task = tokio::spawn(async move { refresher.refresh().await });
        let mut svc = credential.layer().layer(tower::service_fn(
            |req: http::Request<kube::client::Body>| async move {
                Ok::<_, std::convert::Infallible>(req.headers().get(http::header::AUTHORIZATION).cloned())
            },
        ));
        let header = || http::Request::new(kube::client::Body::empty());
        let first = svc.ready().await.unwrap().call(header()).await.unwrap().unwrap();
        assert_eq!(first.to_str().unwrap(), "Bearer tok-Refresh-1");
        assert!(first.is_sensitive(), "never logged");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let now = svc.ready().await.unwrap().call(header()).await.unwrap().unwrap();
            if now.to_str().unwrap() != "Bearer tok-Refresh-1" {
                assert!(now.to_str().unwrap().starts_with("Bearer tok-Refresh-"), "{now:?}");
                break;
            }
            assert!(Instant::now() < deadline, "the token was not refreshed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(credential.refresh_error(), None);
        task.abort();
    }

    #[test]
    fn interactive_always_and_wrong_answers_are_refused_with_a_reason() {
        let (_d, p) = plugin("exit 0", "");
        let mut always = p.clone();
        always.exec.interactive_mode = Some(ExecInteractiveMode::Always);
        assert!(always.run_blocking(Duration::from_secs(5)).err().unwrap().contains("needs a terminal"));
        let (_d, p) = plugin(
            r#"echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"t"}}'"#,
            "",
        );
        assert!(p.run_blocking(Duration::from_secs(5)).err().unwrap().contains("kubeconfig asks for"));
        let (_d, p) = plugin("echo not a credential", "");
        assert!(p.run_blocking(Duration::from_secs(5)).err().unwrap().contains("not an ExecCredential"));
    }
}
