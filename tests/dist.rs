//! What the packages ship, checked against the binary and against each other: the kubectl
//! plugin name, the man pages and completions the binary generates, the in-cluster example,
//! the container definition and the krew manifest. (The portable build itself, its GLIBC
//! versions, the old-root runs and the .deb are `dist/check.sh`, run by `.ci/run`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn run(exe: &Path, args: &[&str], home: &Path) -> Output {
    Command::new(exe)
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .output()
        .expect("fleettop runs")
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn yaml_docs(path: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(&repo_file(path)).unwrap()
}

/// A link named `kubectl-fleettop` to the binary, as the package and krew install it.
fn plugin_link(dir: &Path) -> std::path::PathBuf {
    let link = dir.join("kubectl-fleettop");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_fleettop"), &link).unwrap();
    link
}

#[test]
fn as_kubectl_fleettop_it_calls_itself_kubectl_fleettop_and_works() {
    let home = tempfile::tempdir().unwrap();
    let link = plugin_link(home.path());
    let help = stdout(&run(&link, &["--help"], home.path()));
    assert!(help.contains("Usage: kubectl fleettop [OPTIONS] [COMMAND]"), "{help}");
    let err = run(&link, &["--no-such-flag"], home.path());
    assert_eq!(err.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&err.stderr);
    assert!(msg.contains("Usage: kubectl fleettop"), "{msg}");
    // And it is the whole program, not a help-only stub.
    let snap: Value =
        serde_json::from_str(&stdout(&run(&link, &["snapshot", "--json", "--demo"], home.path()))).unwrap();
    assert!(snap["denials"].as_array().is_some_and(|d| !d.is_empty()));
    // Under its own name nothing changes.
    let own = stdout(&run(Path::new(env!("CARGO_BIN_EXE_fleettop")), &["--help"], home.path()));
    assert!(own.contains("Usage: fleettop [OPTIONS] [COMMAND]"), "{own}");
}

#[test]
fn completions_come_for_bash_zsh_and_fish() {
    let home = tempfile::tempdir().unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_fleettop"));
    let bash = stdout(&run(exe, &["completions", "bash"], home.path()));
    assert!(bash.contains("complete -F _fleettop") && bash.contains("gpu-probe"), "{bash}");
    let zsh = stdout(&run(exe, &["completions", "zsh"], home.path()));
    assert!(zsh.starts_with("#compdef fleettop"), "{zsh}");
    let fish = stdout(&run(exe, &["completions", "fish"], home.path()));
    assert!(fish.contains("complete -c fleettop") && fish.contains("--demo"), "{fish}");
    let bad = run(exe, &["completions", "tcsh"], home.path());
    assert_eq!(bad.status.code(), Some(2), "an unknown shell is a usage error");
}

#[test]
fn man_prints_the_main_page_and_writes_every_page() {
    let home = tempfile::tempdir().unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_fleettop"));
    let page = stdout(&run(exe, &["man"], home.path()));
    assert!(page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH fleettop 1"), "{page}");
    for section in [".SH KEYS", ".SH FILES", ".SH ENVIRONMENT", ".SH \"EXIT STATUS\""] {
        assert!(page.contains(section), "{section} missing");
    }
    let dir = home.path().join("man");
    let listed = stdout(&run(exe, &["man", "--out", dir.to_str().unwrap()], home.path()));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "fleettop-completions.1",
            "fleettop-diff.1",
            "fleettop-export.1",
            "fleettop-gpu-probe.1",
            "fleettop-man.1",
            "fleettop-redact.1",
            "fleettop-replay.1",
            "fleettop-report.1",
            "fleettop-snapshot.1",
            "fleettop-why.1",
            "fleettop.1"
        ]
    );
    assert_eq!(listed.lines().count(), files.len(), "each written page is printed: {listed}");
    let report = std::fs::read_to_string(dir.join("fleettop-report.1")).unwrap();
    assert!(report.contains("fleettop report") && report.contains("\\-\\-window"), "{report}");
}

#[test]
fn the_gpu_node_example_runs_with_host_pids_its_node_name_and_the_reader_role() {
    let docs = yaml_docs("dist/kubernetes/fleettop-gpu-nodes.yaml");
    let kind = |k: &str| docs.iter().find(|d| d["kind"] == k).unwrap_or_else(|| panic!("no {k}"));
    let ds = kind("DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostPID"], true);
    let container = &pod["containers"][0];
    let env = container["env"].as_array().unwrap();
    let node = env.iter().find(|e| e["name"] == "NODE_NAME").unwrap();
    assert_eq!(node["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName");
    // The service account is bound to the shipped reader role, by its name.
    let sa = kind("ServiceAccount");
    assert_eq!(pod["serviceAccountName"], sa["metadata"]["name"]);
    let binding = kind("ClusterRoleBinding");
    let role = yaml_docs("dist/rbac/fleettop-reader.yaml");
    let role = role.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"], sa["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["namespace"], sa["metadata"]["namespace"]);
    // The kubeconfig the container reads is the ConfigMap's, and it authenticates with the
    // pod's own service account token file.
    let kubeconfig_env = env.iter().find(|e| e["name"] == "KUBECONFIG").unwrap()["value"].as_str().unwrap();
    let mount =
        container["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "kubeconfig").unwrap();
    let key = kubeconfig_env.strip_prefix(&format!("{}/", mount["mountPath"].as_str().unwrap())).unwrap();
    let cm = kind("ConfigMap");
    let kubeconfig: Value = serde_saphyr::from_str(cm["data"][key].as_str().unwrap()).unwrap();
    assert_eq!(
        kubeconfig["users"][0]["user"]["tokenFile"],
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    );
}

#[test]
fn the_container_copies_the_portable_binary_that_build_sh_makes() {
    let containerfile = repo_file("dist/container/Containerfile");
    let build = repo_file("dist/build.sh");
    let copy = containerfile.lines().find(|l| l.starts_with("COPY ")).unwrap();
    let src = copy.split_whitespace().nth(1).unwrap();
    assert_eq!(src, "target/dist-files/fleettop");
    assert!(build.contains("out=target/dist-files") && build.contains("cp \"$bin\" \"$out/fleettop\""));
}

#[test]
fn the_krew_manifest_names_the_binary_the_archive_holds() {
    let text = repo_file("dist/krew/fleettop.yaml")
        .replace("{{VERSION}}", "0.1.0")
        .replace("{{SHA256}}", "0")
        .replace("{{ARCHIVE}}", "a.tar.gz")
        .replace("{{URL}}", "https://example.invalid");
    let m: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(m["kind"], "Plugin");
    assert_eq!(m["metadata"]["name"], "fleettop");
    let platform = &m["spec"]["platforms"][0];
    assert_eq!(platform["selector"]["matchLabels"]["os"], "linux");
    let bin = platform["bin"].as_str().unwrap();
    let files = platform["files"].as_array().unwrap();
    assert!(files.iter().any(|f| f["from"].as_str().unwrap().ends_with(&format!("/{bin}"))), "{files:?}");
}
