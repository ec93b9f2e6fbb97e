//! The binary's headless commands and its errors, run as a user would run them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn fleettop(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleettop"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .output()
        .expect("fleettop runs")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn snapshot_json_of_the_demo_has_every_pane() {
    let home = tempfile::tempdir().unwrap();
    let v = json(&fleettop(&["snapshot", "--json", "--demo"], home.path()));
    for key in fleettop::state::SECTIONS {
        let n = v[key].as_array().map(|a| a.len()).unwrap_or(0);
        assert!(n > 0, "{key} is empty in the demo snapshot");
    }
    assert_eq!(v["clusters"].as_array().unwrap().len(), 5);
    assert!(v["clusters"].as_array().unwrap().iter().any(|c| c["health"] == "unreachable"));
    assert!(v["exceptions"].as_array().unwrap().iter().any(|e| e["status"] == "expired"));
}

#[test]
fn snapshot_at_an_earlier_moment_sees_less() {
    let home = tempfile::tempdir().unwrap();
    let early = json(&fleettop(&["snapshot", "--json", "--demo", "--at", "2m"], home.path()));
    let late = json(&fleettop(&["snapshot", "--json", "--demo", "--at", "14:25"], home.path()));
    assert!(early["observations"].as_u64().unwrap() < late["observations"].as_u64().unwrap());
    assert_eq!(early["at"], "2026-11-27T14:02:00Z");
    assert!(early["clusters"].as_array().unwrap().iter().all(|c| c["health"] != "unreachable"));
}

#[test]
fn a_file_that_is_not_a_recording_gets_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let bogus = home.path().join("notes.txt");
    std::fs::write(&bogus, "this is not a recording\n").unwrap();
    let out = fleettop(&["snapshot", "--json", "--replay", bogus.to_str().unwrap()], home.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notes.txt") && err.contains("not a fleettop recording"), "{err}");
    let out = fleettop(&["replay", home.path().join("missing.fleetrec").to_str().unwrap()], home.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.fleetrec"));
}

#[test]
fn a_truncated_recording_replays_up_to_its_last_complete_frame() {
    let home = tempfile::tempdir().unwrap();
    let cut = home.path().join("cut.fleetrec");
    let bytes = fleettop::demo::DEMO_BYTES;
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = fleettop(&["snapshot", "--json", "--replay", cut.to_str().unwrap()], home.path());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let v = json(&out);
    assert!(err.contains("cut.fleetrec"), "the cut is reported: {err}");
    let full = json(&fleettop(&["snapshot", "--json", "--demo"], home.path()));
    let (a, b) = (v["observations"].as_u64().unwrap(), full["observations"].as_u64().unwrap());
    assert!(a > 0 && a < b, "{a} of {b} observations survive the cut");
}

#[test]
fn the_committed_demo_is_what_the_simulator_produces() {
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("demo.fleetrec");
    let run = fleettop(&["simulate", "--out", out.to_str().unwrap()], home.path());
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let fresh = fleettop::record::Recording::open(&out).unwrap();
    let committed = fleettop::demo::recording().unwrap();
    assert!(
        fresh.observations() == committed.observations(),
        "snapshots/demo.fleetrec is stale: regenerate it with `cargo run -- simulate --out snapshots/demo.fleetrec`"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

const KUBECONFIG: &str = "apiVersion: v1
kind: Config
current-context: staging-eu
clusters:
- name: c
  cluster: {server: 'https://127.0.0.1:1'}
users:
- name: u
  user: {token: not-a-secret}
contexts:
- {name: prod-eu-1, context: {cluster: c, user: u}}
- {name: prod-us-1, context: {cluster: c, user: u}}
- {name: staging-eu, context: {cluster: c, user: u}}
";

/// Cluster names of a live `snapshot --json` (the test kubeconfig points at a closed port,
/// so every cluster is unreachable at once and the snapshot returns quickly).
fn live_clusters(out: &Output) -> Vec<String> {
    let v = json(out);
    v["clusters"].as_array().unwrap().iter().map(|c| c["cluster"].as_str().unwrap().to_string()).collect()
}

#[test]
fn the_fleet_is_chosen_from_the_kubeconfig_and_the_fleet_file() {
    let home = tempfile::tempdir().unwrap();
    let kc = home.path().join("kubeconfig");
    std::fs::write(&kc, KUBECONFIG).unwrap();
    let kc = kc.to_str().unwrap();
    let snap = |extra: &[&str]| {
        let mut args = vec!["snapshot", "--json", "--timeout", "20", "--kubeconfig", kc];
        args.extend_from_slice(extra);
        fleettop(&args, home.path())
    };
    assert_eq!(live_clusters(&snap(&["--context", "prod-*"])), ["prod-eu-1", "prod-us-1"]);
    assert_eq!(live_clusters(&snap(&[])), ["staging-eu"], "the current context by default");
    let v = json(&snap(&["--context", "staging-eu"]));
    assert_eq!(v["clusters"][0]["health"], "unreachable", "{v}");
    assert!(v["clusters"][0]["connection"]["error"].as_str().unwrap().contains("127.0.0.1:1"), "{v}");

    let fleet = home.path().join("fleet.toml");
    std::fs::write(&fleet, "[[cluster]]\ncontext = \"prod-eu-*\"\nlabels = { env = \"prod\" }\n").unwrap();
    let v = json(&snap(&["--fleet", fleet.to_str().unwrap()]));
    assert_eq!(v["clusters"].as_array().unwrap().len(), 1);
    assert_eq!(v["clusters"][0]["labels"]["env"], "prod", "{v}");
    // An entry that matches nothing is skipped with a warning naming its line, not fatal
    // (issue 13, item 11: it used to abort the whole run).
    std::fs::write(&fleet, "[[cluster]]\ncontext = \"prod-eu-*\"\n\n[[cluster]]\ncontext = \"prdo-us-*\"\n")
        .unwrap();
    let out = snap(&["--fleet", fleet.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(live_clusters(&out), ["prod-eu-1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fleet.toml:4: cluster[1] skipped: no context matches \"prdo-us-*\""), "{err}");

    // KUBECONFIG lists are merged and missing files skipped, as kubectl does.
    let listed = Command::new(env!("CARGO_BIN_EXE_fleettop"))
        .args(["snapshot", "--json", "--timeout", "20", "--all-contexts"])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("KUBECONFIG", format!("{}:{}", home.path().join("missing").display(), kc))
        .output()
        .unwrap();
    assert_eq!(live_clusters(&listed).len(), 3);

    let out = fleettop(&["--kubeconfig", kc, "--context", "prdo-*"], home.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no context matches \"prdo-*\"") && err.contains("prod-eu-1, prod-us-1, staging-eu"),
        "{err}"
    );

    std::fs::write(home.path().join("bad"), "{{{ not yaml").unwrap();
    let out = fleettop(&["--kubeconfig", home.path().join("bad").to_str().unwrap()], home.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read kubeconfig") && err.contains("fleettop --demo"), "{err}");
}

/// One audit log line: a Pod Security 403 for `pod` (REFERENCE.md §1a format).
fn audit_line(audit_id: &str, pod: &str, at: &str) -> String {
    let message = format!(
        r#"pods "{pod}" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)"#
    );
    let v = serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": audit_id,
        "stage": "ResponseComplete", "verb": "create", "user": {"username": "alice"},
        "objectRef": {"resource": "pods", "namespace": "shop", "name": pod},
        "responseStatus": {"metadata": {}, "code": 403, "message": message},
        "requestReceivedTimestamp": at,
    });
    format!("{v}\n")
}

#[test]
fn snapshot_reads_the_audit_log_even_when_the_cluster_is_unreachable() {
    let home = tempfile::tempdir().unwrap();
    let kc = home.path().join("kubeconfig");
    std::fs::write(&kc, KUBECONFIG).unwrap();
    let log = home.path().join("audit.log");
    let fleet = home.path().join("fleet.toml");
    std::fs::write(
        &fleet,
        format!("[[cluster]]\ncontext = \"staging-eu\"\naudit_log = {:?}\n", log.display().to_string()),
    )
    .unwrap();
    let snap = || {
        let args =
            ["snapshot", "--json", "--timeout", "20", "--no-nvml", "--kubeconfig", kc.to_str().unwrap()];
        fleettop(&[&args[..], &["--fleet", fleet.to_str().unwrap()]].concat(), home.path())
    };

    // A missing file is the source's error; the snapshot still finishes.
    let v = json(&snap());
    let source = &v["clusters"][0]["sources"]["audit_log"];
    assert_eq!(source["state"], "error", "{v}");
    assert!(source["message"].as_str().unwrap().contains("No such file or directory"), "{v}");

    let lines = [
        audit_line("1", "a", "2024-12-30T10:00:00Z"),
        audit_line("2", "a", "2024-12-30T10:05:00Z"),
        "not an audit event\n".to_string(),
        audit_line("3", "b", "2024-12-30T10:06:00Z"),
    ];
    std::fs::write(&log, lines.concat()).unwrap();
    let v = json(&snap());
    assert_eq!(v["clusters"][0]["health"], "unreachable", "{v}");
    assert_eq!(v["clusters"][0]["sources"]["audit_log"]["state"], "live", "{v}");
    let denials: Vec<_> = v["denials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["object"]["name"].as_str().unwrap(), d["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(denials, [("a", 2), ("b", 1)], "{v}");

    // A pattern would give one cluster's file to several: said, not silently doubled.
    let shared = format!("[[cluster]]\ncontext = \"prod-*\"\naudit_log = {:?}\n", log.display().to_string());
    std::fs::write(&fleet, shared).unwrap();
    let out = snap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is set for 2 clusters (prod-eu-1, prod-us-1)"), "{err}");
    assert_eq!(json(&out)["denials"].as_array().unwrap().len(), 4);
}

#[test]
fn without_a_kubeconfig_it_says_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fleettop"))
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read the kubeconfig") && err.contains("fleettop --demo"), "{err}");
    let out = fleettop(&["--demo", "--record", "x.fleetrec"], home.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--record records live sessions"));
    let out = fleettop(&["snapshot", "--json", "--demo", "--at", "soon"], home.path());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected an offset"));
}

/// A diagnostic: without NVML (this project's machines) it says why and succeeds; on a GPU host
/// it lists the GPUs instead.
#[test]
fn gpu_probe_says_what_nvml_sees_or_why_it_cannot() {
    let home = tempfile::tempdir().unwrap();
    let out = fleettop(&["gpu-probe"], home.path());
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    if text.starts_with("NVML not available: ") {
        assert!(text.contains("libnvidia-ml.so.1") || text.contains("driver"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    } else {
        assert!(text.lines().any(|l| l.starts_with("gpu 0  ")), "a GPU host lists its GPUs: {text}");
    }

    let out = fleettop(&["gpu-probe", "--json", "--samples", "2", "--interval", "0"], home.path());
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let objects: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect();
    if objects.first().is_some_and(|o| o["available"] == false) {
        assert_eq!(objects.len(), 1);
        assert!(objects[0]["reason"].as_str().is_some_and(|r| !r.is_empty()), "{objects:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("NVML not available"));
    } else {
        assert_eq!(objects.len(), 2, "one object per sample");
        assert!(
            objects.iter().all(|o| o["devices"].as_array().is_some_and(|d| !d.is_empty())),
            "{objects:?}"
        );
    }

    for bad in [["--samples", "0"], ["--interval", "nan"], ["--interval", "90000"]] {
        let out = fleettop(&["gpu-probe", bad[0], bad[1]], home.path());
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

/// Compares `actual` with `tests/fixtures/reports/<name>`; `FLEETTOP_UPDATE_GOLDENS=1` rewrites
/// the file instead (then read the diff before committing it).
fn golden(name: &str, actual: &str) {
    golden_in("reports", name, actual)
}

/// [`golden`] for files under `tests/fixtures/<dir>`.
fn golden_in(dir: &str, name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir).join(name);
    if std::env::var_os("FLEETTOP_UPDATE_GOLDENS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (FLEETTOP_UPDATE_GOLDENS=1 writes it)", path.display()));
    assert!(actual == expected, "{name} differs from its golden file:\n{actual}");
}

fn stdout_of(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

#[test]
fn report_of_the_demo_in_every_format_matches_its_golden_file() {
    let home = tempfile::tempdir().unwrap();
    for (format, by, file) in [
        ("table", "team", "demo-by-team.txt"),
        ("csv", "team", "demo-by-team.csv"),
        ("csv", "product", "demo-by-product.csv"),
        ("json", "queue", "demo-by-queue.json"),
    ] {
        let out = fleettop(&["report", "--demo", "--by", by, "--format", format], home.path());
        golden(file, &stdout_of(&out));
    }
}

#[test]
fn report_numbers_add_up_and_the_window_counts_back_from_the_end() {
    let home = tempfile::tempdir().unwrap();
    let whole = json(&fleettop(&["report", "--demo", "--format", "json"], home.path()));
    let rows = whole["groups"][0]["rows"].as_array().unwrap();
    let sum: f64 = rows.iter().map(|r| r["gpu_hours"].as_f64().unwrap()).sum();
    let total = whole["total"]["gpu_hours"].as_f64().unwrap();
    assert!((sum - total).abs() < 0.001, "teams add up to the total: {sum} vs {total}");
    assert_eq!(whole["window"]["start"], "2026-11-27T14:00:00Z");
    // The last 10 minutes of the same recording hold less.
    let last = json(&fleettop(&["report", "--demo", "--format", "json", "--window", "10m"], home.path()));
    assert_eq!(last["window"]["hours"].as_f64(), Some(0.1667));
    assert_eq!(last["window"]["end"], whole["window"]["end"]);
    assert!(last["total"]["gpu_hours"].as_f64().unwrap() < total / 2.0);

    // --out writes the same bytes a file; a recording works like the demo.
    let file = home.path().join("demo.fleetrec");
    std::fs::write(&file, fleettop::demo::DEMO_BYTES).unwrap();
    let csv = home.path().join("cost.csv");
    let out = fleettop(
        &["report", "--replay", file.to_str().unwrap(), "--format", "csv", "--out", csv.to_str().unwrap()],
        home.path(),
    );
    assert!(stdout_of(&out).is_empty());
    let via_demo = stdout_of(&fleettop(&["report", "--demo", "--format", "csv"], home.path()));
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), via_demo);
}

/// One column read back from Parquet: its name, type and values.
type Column = (String, polars_arrow::datatypes::ArrowDataType, Box<dyn polars_arrow::array::Array>);

/// A Parquet file read back with polars' Parquet reader (the deserialiser under polars'
/// `read_parquet`): its row count and each column, from the file's own Parquet schema.
fn read_parquet(path: &Path) -> (usize, Vec<Column>) {
    use polars_parquet::read::{
        BasicDecompressor, PageReader, column_iter_to_arrays, infer_schema, read_metadata,
    };
    use std::io::Cursor;
    let bytes = std::fs::read(path).unwrap();
    let meta = read_metadata(&mut Cursor::new(&bytes)).unwrap();
    let schema = infer_schema(&meta).unwrap();
    assert_eq!(meta.row_groups.len(), 1, "one row group");
    let group = &meta.row_groups[0];
    let columns = schema
        .iter_values()
        .map(|field| {
            let (pages, types): (Vec<_>, Vec<_>) = group
                .columns_under_root_iter(&field.name)
                .unwrap()
                .map(|c| {
                    let range = c.byte_range();
                    let chunk = bytes[range.start as usize..range.end as usize].to_vec();
                    let pages = PageReader::new(Cursor::new(chunk.into()), c, vec![], usize::MAX);
                    (BasicDecompressor::new(pages, vec![]), &c.descriptor().descriptor.primitive_type)
                })
                .unzip();
            let (mut arrays, _) = column_iter_to_arrays(pages, types, field.clone(), None).unwrap();
            assert_eq!(arrays.len(), 1, "{}: one array", field.name);
            (field.name.to_string(), field.dtype.clone(), arrays.remove(0))
        })
        .collect();
    (meta.num_rows, columns)
}

#[test]
fn report_as_parquet_reads_back_as_the_csv_with_types_and_the_window() {
    use polars_arrow::array::{PrimitiveArray, StaticArray, Utf8ViewArray};
    use polars_arrow::datatypes::{ArrowDataType, TimeUnit};
    let home = tempfile::tempdir().unwrap();
    for (by, golden_csv) in [("team", "demo-by-team.csv"), ("product", "demo-by-product.csv")] {
        let file = home.path().join(format!("by-{by}.parquet"));
        let out = fleettop(
            &["report", "--demo", "--by", by, "--format", "parquet", "--out", file.to_str().unwrap()],
            home.path(),
        );
        assert!(stdout_of(&out).is_empty(), "nothing on stdout");
        let (rows, columns) = read_parquet(&file);
        let names: Vec<&str> = columns.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                by,
                "gpu_hours",
                "cost_usd",
                "share",
                "idle_gpu_hours",
                "idle_cost_usd",
                "allocations",
                "window_start",
                "window_end"
            ]
        );

        // Typed columns: a string key, doubles, a 64-bit count, UTC millisecond timestamps.
        let types: Vec<&ArrowDataType> = columns.iter().map(|(_, t, _)| t).collect();
        assert!(
            matches!(types[0], ArrowDataType::Utf8View | ArrowDataType::LargeUtf8 | ArrowDataType::Utf8),
            "{types:?}"
        );
        assert!(types[1..6].iter().all(|t| **t == ArrowDataType::Float64), "{types:?}");
        assert_eq!(*types[6], ArrowDataType::Int64);
        for t in &types[7..] {
            assert!(matches!(t, ArrowDataType::Timestamp(TimeUnit::Millisecond, Some(_))), "UTC ms: {t:?}");
        }

        // Its first seven columns are the CSV, value for value (CSV writes f64 shortest
        // round-trip, an empty field for no value).
        let text = |i: usize, row: usize| -> String {
            let a = columns[i].2.as_any();
            if let Some(s) = a.downcast_ref::<Utf8ViewArray>() {
                return s.value(row).to_string();
            }
            if let Some(f) = a.downcast_ref::<PrimitiveArray<f64>>() {
                return f.get(row).map(|v| v.to_string()).unwrap_or_default();
            }
            let n = a.downcast_ref::<PrimitiveArray<i64>>().expect("a string, f64 or i64 column");
            n.get(row).map(|v| v.to_string()).unwrap_or_default()
        };
        let mut csv = names[..7].join(",") + "\n";
        for row in 0..rows {
            csv += &((0..7).map(|i| text(i, row)).collect::<Vec<_>>().join(",") + "\n");
        }
        assert!(rows > 1, "the demo has several {by} rows");
        assert_eq!(
            csv,
            stdout_of(&fleettop(&["report", "--demo", "--by", by, "--format", "csv"], home.path()))
        );
        golden(golden_csv, &csv);

        // The window on every row is the JSON report's window.
        let v = json(&fleettop(&["report", "--demo", "--by", by, "--format", "json"], home.path()));
        for (i, key) in [(7, "start"), (8, "end")] {
            let ms = columns[i].2.as_any().downcast_ref::<PrimitiveArray<i64>>().expect("i64 timestamps");
            let want: jiff::Timestamp = v["window"][key].as_str().unwrap().parse().unwrap();
            assert!((0..rows).all(|r| ms.get(r) == Some(want.as_millisecond())), "window {key}");
        }
    }
}

#[test]
fn report_as_parquet_needs_a_file() {
    let home = tempfile::tempdir().unwrap();
    let out = fleettop(&["report", "--demo", "--format", "parquet"], home.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no binary on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--out FILE"), "{err}");
}

#[test]
fn report_arguments_are_checked() {
    let home = tempfile::tempdir().unwrap();
    let out = fleettop(&["report", "--demo", "--window", "soon"], home.path());
    assert_eq!(out.status.code(), Some(2), "a usage error, found by the argument parser");
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a length like 24h"));
    let out = fleettop(&["report", "--demo", "--by", "flavour"], home.path());
    assert_eq!(out.status.code(), Some(2), "clap rejects an unknown grouping");
    let out = fleettop(&["report", "--demo", "--format", "xml"], home.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn report_prices_come_from_the_config_file() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/fleettop");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "[prices]\nh100 = 1.0\na100 = 1.0\n").unwrap();
    let v = json(&fleettop(&["report", "--demo", "--format", "json"], home.path()));
    // At $1 per GPU-hour for every product the cost is the GPU-hours.
    let (cost, hours) = (v["total"]["cost_usd"].as_f64().unwrap(), v["total"]["gpu_hours"].as_f64().unwrap());
    assert!((cost - hours).abs() < 0.01, "{cost} vs {hours}");
}

/// `config.toml`'s verdict settings reach the binary's verdicts (what they change on screen
/// is the in-process insta test `raised_verdict_thresholds_change_the_panes` in screens.rs).
#[test]
fn verdict_settings_from_the_config_file_reach_snapshot() {
    fn losing(v: &serde_json::Value) -> Vec<String> {
        v["pipelines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["health"] == "losing")
            .map(|p| format!("{} {}", p["cluster"], p["name"]))
            .collect()
    }
    fn count(v: &serde_json::Value, status: &str) -> usize {
        v["exceptions"].as_array().unwrap().iter().filter(|e| e["status"] == status).count()
    }
    let home = tempfile::tempdir().unwrap();
    let strict = json(&fleettop(&["snapshot", "--json", "--demo", "--at", "20m"], home.path()));
    assert!(!losing(&strict).is_empty(), "the demo loses data at 20 minutes");
    assert!(count(&strict, "active") > 0, "the demo has exceptions expiring in more than a week");
    let dir = home.path().join("config/fleettop");
    std::fs::create_dir_all(&dir).unwrap();
    // Tolerate a billion lost items a second: nothing is losing any more; and a year ahead is
    // "expiring soon": none of the dated exceptions is a year away.
    let text = "[pipelines.thresholds]\ndropped_per_s = 1e9\n[exceptions]\nexpiring_within = \"365d\"\n";
    std::fs::write(dir.join("config.toml"), text).unwrap();
    let lenient = json(&fleettop(&["snapshot", "--json", "--demo", "--at", "20m"], home.path()));
    assert_eq!(losing(&lenient), Vec::<String>::new());
    assert_eq!(strict["pipelines"].as_array().unwrap().len(), lenient["pipelines"].as_array().unwrap().len());
    assert_eq!(count(&lenient, "active"), 0);
    assert_eq!(count(&lenient, "expiring"), count(&strict, "expiring") + count(&strict, "active"));
    assert_eq!(count(&lenient, "expired"), count(&strict, "expired"));
}

#[test]
fn why_explains_a_policy_and_an_object_of_the_demo_like_its_golden_files() {
    let home = tempfile::tempdir().unwrap();
    let policy =
        fleettop(&["why", "--demo", "--policy", "require-run-as-nonroot", "--limit", "2"], home.path());
    golden_in("why", "demo-policy.txt", &stdout_of(&policy));
    let object = fleettop(
        &["why", "--demo", "deployment/payments", "-n", "shop", "--context", "prod-eu-*", "--json"],
        home.path(),
    );
    let text = stdout_of(&object);
    golden_in("why", "demo-payments.json", &text);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let denials = v["denials"].as_array().unwrap();
    assert!(!denials.is_empty() && v["found"].as_u64() == Some(denials.len() as u64));
    for d in denials {
        assert_eq!(d["cluster"], "prod-eu-west-1", "--context narrows the clusters");
        assert_eq!(d["denial"]["object"]["namespace"], "shop");
        let name = d["denial"]["object"]["name"].as_str().unwrap();
        assert!(name == "payments" || name.starts_with("payments-"), "{name}: the deployment or its pods");
    }
    // The pods the payments ReplicaSet could not create name the on-call exception.
    assert!(denials.iter().any(|d| d["exceptions"].as_array().is_some_and(|e| !e.is_empty())));
}

#[test]
fn why_exit_status_says_whether_a_denial_was_found() {
    let home = tempfile::tempdir().unwrap();
    let none = fleettop(&["why", "--demo", "pod/not-there"], home.path());
    assert_eq!(none.status.code(), Some(1), "nothing found");
    assert!(String::from_utf8_lossy(&none.stdout).starts_with("no denial matches"));
    let since = fleettop(&["why", "--demo", "--since", "1m", "--json"], home.path());
    assert_eq!(since.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&since.stdout).unwrap();
    let at: jiff::Timestamp = v["at"].as_str().unwrap().parse().unwrap();
    for d in v["denials"].as_array().unwrap() {
        let last: jiff::Timestamp = d["denial"]["last_seen"].as_str().unwrap().parse().unwrap();
        assert!(
            at.duration_since(last) <= jiff::SignedDuration::from_mins(1),
            "{last} is older than --since"
        );
    }
    for bad in
        [vec!["why", "--demo"], vec!["why", "--demo", "payments"], vec!["why", "--demo", "--since", "soon"]]
    {
        let out = fleettop(&bad, home.path());
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!out.stderr.is_empty(), "{bad:?} says what is wrong");
    }
    let missing = fleettop(&["why", "--replay", "/nonexistent.fleetrec", "--policy", "x"], home.path());
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn why_explains_the_demo_waiters_like_its_golden_files() {
    let home = tempfile::tempdir().unwrap();
    let list = fleettop(&["why", "--demo", "--waiting"], home.path());
    golden_in("why", "demo-waiting.txt", &stdout_of(&list));
    let sweep = fleettop(&["why", "--demo", "workload/llm-pretrain-ablation-b"], home.path());
    golden_in("why", "demo-wait-sweep.txt", &stdout_of(&sweep));
    let asr = fleettop(&["why", "--demo", "wl/multilingual-asr", "-n", "team-b", "--json"], home.path());
    let text = stdout_of(&asr);
    golden_in("why", "demo-wait-asr.json", &text);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["found"], 1);
    assert_eq!(v["waits"][0]["verdict"]["class"], "nodes_cordoned");
    let pod = fleettop(&["why", "--demo", "pod/jupyter-ana-0", "--markdown"], home.path());
    golden_in("why", "demo-wait-pod.md", &stdout_of(&pod));
    let listed = fleettop(&["why", "--demo", "--waiting", "--json", "--context", "prod-*"], home.path());
    let v: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let waiters = v["waiters"].as_array().unwrap();
    assert!(!waiters.is_empty() && waiters.iter().all(|w| w["cluster"] == "prod-us-east-1"), "{v}");
}

#[test]
fn why_exit_status_says_whether_it_waits() {
    let home = tempfile::tempdir().unwrap();
    let none = fleettop(&["why", "--demo", "workload/not-there"], home.path());
    assert_eq!(none.status.code(), Some(1), "nothing waits under that name");
    assert!(String::from_utf8_lossy(&none.stdout).starts_with("no waiting workload not-there"));
    // A replay at a moment: before the preemption wave (+15m) the sweep runs, after it waits.
    let before = fleettop(&["why", "--demo", "--at", "+14m", "workload/rlhf-sweep-17"], home.path());
    assert_eq!(before.status.code(), Some(1));
    let after = fleettop(&["why", "--demo", "--at", "+16m", "workload/rlhf-sweep-17"], home.path());
    assert_eq!(after.status.code(), Some(0), "{}", String::from_utf8_lossy(&after.stderr));
    // Markdown is for waits.
    let md = fleettop(&["why", "--demo", "--policy", "require-run-as-nonroot", "--markdown"], home.path());
    assert_eq!(md.status.code(), Some(2));
}

/// A recording as a newer fleettop (format 1.9) writes it: three observations in one frame,
/// the middle one of a record type this build does not know.
fn recording_from_a_newer_fleettop() -> Vec<u8> {
    let at = "2026-11-27T14:00:01Z";
    let header = serde_json::json!({"format_version": {"major": 1, "minor": 9}, "fleettop_version": "9.9.9",
        "created_at": "2026-11-27T14:00:00Z", "started_at": "2026-11-27T14:00:00Z", "clusters": ["c"],
        "source": "test", "keyframe_interval": {"observations": 0, "seconds": 0}});
    let observations = serde_json::json!([
        {"at": at, "cluster": "c", "change": {"op": "sync_start", "kind": "denial"}},
        {"at": at, "cluster": "c", "change": {"op": "upsert", "record": {"record": "hologram", "id": "h"}}},
        {"at": at, "cluster": "c", "change": {"op": "sync_end", "kind": "denial"}},
    ]);
    let json = serde_json::to_vec(&header).unwrap();
    let mut out = b"FLEETREC".to_vec();
    out.extend(1u16.to_le_bytes());
    out.extend(9u16.to_le_bytes());
    out.extend((json.len() as u32).to_le_bytes());
    out.extend(&json);
    out.extend(crc32fast::hash(&json).to_le_bytes());
    let payload = zstd::bulk::compress(&serde_json::to_vec(&observations).unwrap(), 3).unwrap();
    let ms: i64 = 1_795_788_001_000;
    let mut frame = vec![1u8, 0, 0, 0];
    frame.extend((payload.len() as u32).to_le_bytes());
    frame.extend(crc32fast::hash(&payload).to_le_bytes());
    frame.extend(ms.to_le_bytes());
    frame.extend(ms.to_le_bytes());
    frame.extend(3u64.to_le_bytes());
    let crc = crc32fast::hash(&frame);
    frame.extend(crc.to_le_bytes());
    out.extend(frame);
    out.extend(payload);
    out
}

#[test]
fn a_recording_from_a_newer_fleettop_replays_without_what_this_one_does_not_know_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("newer.fleetrec");
    std::fs::write(&file, recording_from_a_newer_fleettop()).unwrap();
    let out = fleettop(&["snapshot", "--json", "--replay", file.to_str().unwrap()], home.path());
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let v = json(&out);
    assert_eq!(v["observations"], 2, "the two known observations replay");
    assert!(
        stderr.contains("1 observation of kinds this fleettop does not know was skipped")
            && stderr.contains("written by fleettop 9.9.9, format 1.9")
            && stderr.contains("upgrade fleettop"),
        "{stderr}"
    );
    assert!(!stderr.contains("damaged"), "nothing is reported as damaged: {stderr}");
}

/// Issue 13, item 10: these made a task panic (an overflow) after the UI had started; they are
/// usage errors now, with the range in the message.
#[test]
fn out_of_range_speeds_timeouts_and_lengths_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["--simulate", "--speed", "1e-300"], "must be 0.5 to 1000"),
        (&["--demo", "--speed", "NaN"], "must be 0.5 to 1000"),
        (&["replay", "x.fleetrec", "--speed", "5000"], "must be 0.5 to 1000"),
        (&["why", "--demo", "--since", "9999999999999999d"], "at most 36500d"),
        (&["report", "--demo", "--window", "9999999999999999d"], "at most 36500d"),
        (&["snapshot", "--json", "--timeout", "18446744073709551615"], "1..=86400"),
        (&["why", "--policy", "p", "--timeout", "0"], "1..=86400"),
    ];
    for (args, expected) in cases {
        let out = fleettop(args, home.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let ok = fleettop(&["report", "--demo", "--window", "36500d", "--format", "json"], home.path());
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

/// Issue 13, item 5: `--record FILE` overwrote files, followed symbolic links and `chmod`ed
/// whatever it opened (`/dev/null` as root).
#[test]
fn record_never_overwrites_follows_links_or_chmods() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let evidence = home.path().join("evidence.fleetrec");
    std::fs::write(&evidence, b"yesterday's incident").unwrap();
    std::fs::set_permissions(&evidence, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = home.path().join("link.fleetrec");
    std::os::unix::fs::symlink(&evidence, &link).unwrap();
    for path in [&evidence, &link] {
        let out = fleettop(&["--simulate", "--record", path.to_str().unwrap()], home.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("already exists") && err.contains("--force"), "{err}");
    }
    assert_eq!(std::fs::read(&evidence).unwrap(), b"yesterday's incident");
    assert_eq!(std::fs::metadata(&evidence).unwrap().permissions().mode() & 0o777, 0o640);
    let null_mode = std::fs::metadata("/dev/null").unwrap().permissions().mode();
    for args in
        [vec!["--simulate", "--record", "/dev/null"], vec!["--simulate", "--record", "/dev/null", "--force"]]
    {
        let out = fleettop(&args, home.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("/dev/null"), "{err}");
    }
    assert_eq!(
        std::fs::metadata("/dev/null").unwrap().permissions().mode(),
        null_mode,
        "/dev/null untouched"
    );
    let out = fleettop(&["--simulate", "--force"], home.path());
    assert_eq!(out.status.code(), Some(2), "--force needs --record");
}

/// Issue 13, item 9: `/dev/zero` as a recording was read until memory ran out; a FIFO blocked.
#[test]
fn replaying_what_is_not_a_regular_file_is_refused_at_once() {
    let home = tempfile::tempdir().unwrap();
    let fifo = home.path().join("pipe.fleetrec");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for path in ["/dev/zero", fifo.to_str().unwrap()] {
        let out = fleettop(&["snapshot", "--json", "--replay", path], home.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{path}: {err}");
        assert!(err.contains("not a regular file"), "{path}: {err}");
    }
}

/// Issue 13, item 8: one flipped byte lost everything after it.
#[test]
fn a_damaged_recording_replays_around_the_damage_and_says_what_was_lost() {
    let home = tempfile::tempdir().unwrap();
    let mut bytes = fleettop::demo::DEMO_BYTES.to_vec();
    // Walk the frames (docs/recording-format.md) to the first observations frame past a tenth
    // of the file, and flip a byte in the middle of its payload.
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let mut pos = 16 + u32_at(&bytes, 12) + 4;
    while bytes[pos] != 1 || pos < bytes.len() / 10 {
        pos += 40 + u32_at(&bytes, pos + 4);
    }
    let middle = pos + 40 + u32_at(&bytes, pos + 4) / 2;
    bytes[middle] ^= 0x20;
    let damaged = home.path().join("damaged.fleetrec");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = fleettop(&["snapshot", "--json", "--replay", damaged.to_str().unwrap()], home.path());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let v = json(&out);
    assert!(err.contains("are damaged"), "{err}");
    assert!(err.contains("lost") && err.contains("between"), "{err}");
    let clean = json(&fleettop(&["snapshot", "--json", "--demo"], home.path()));
    let n = |v: &serde_json::Value| v["observations"].as_u64().unwrap();
    assert!(n(&v) * 100 >= n(&clean) * 95, "{} of {} observations", n(&v), n(&clean));
    assert_eq!(v["denials"], clean["denials"], "the end state is exact again after a keyframe");
}

/// An OS error is said once: the error types that print their cause in their own message
/// also return it as their source, and the chain printed both.
#[test]
fn an_os_error_is_said_once() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("no/such/incident.fleetrec");
    let out = fleettop(&["replay", missing.to_str().unwrap()], home.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("No such file or directory (os error 2)").count(), 1, "{err}");
    assert!(err.starts_with(&format!("fleettop: {}: cannot ", missing.display())), "{err}");
}

/// A log file is created 0600 in a folder created 0700.
#[test]
fn the_log_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let out = fleettop(&["snapshot", "--demo"], home.path());
    assert!(out.status.success());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = home.path().join("state/fleettop");
    assert_eq!(mode(&dir.join("fleettop.log")), 0o600);
    assert_eq!(mode(&dir), 0o700);
}

#[test]
fn diff_of_two_moments_of_the_demo_matches_its_golden_files_and_names_the_incident() {
    let home = tempfile::tempdir().unwrap();
    let text = stdout_of(&fleettop(&["diff", "--demo", "--at", "5m", "--to", "20m"], home.path()));
    golden_in("evidence", "demo-diff-5m-20m.txt", &text);
    let json = stdout_of(&fleettop(&["diff", "--demo", "--at", "5m", "--to", "20m", "--json"], home.path()));
    golden_in("evidence", "demo-diff-5m-20m.json", &json);

    // The incident's turns, in the JSON: the cluster lost, the policy rollout, the exporter
    // that started losing data, the exception that expired.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let changes = v["changes"].as_array().unwrap();
    let find = |what: &str, cluster: &str, fact: &str| {
        changes
            .iter()
            .filter(|c| c["what"] == what && c["cluster"] == cluster)
            .flat_map(|c| c["facts"].as_array().unwrap())
            .find(|f| f["fact"] == fact)
            .map(|f| (f["from"].clone(), f["to"].clone()))
            .unwrap_or_else(|| panic!("no {what} {fact} change in {cluster}"))
    };
    assert_eq!(find("cluster", "prod-ap-south-1", "health"), ("live".into(), "unreachable".into()));
    assert_eq!(find("policy", "prod-eu-west-1", "enforcement"), ("audit".into(), "deny".into()));
    assert_eq!(find("pipeline", "prod-eu-west-1", "verdict"), ("ok".into(), "LOSING DATA".into()));
    assert_eq!(find("exception", "prod-us-east-1", "status"), ("expiring".into(), "EXPIRED".into()));

    // Swapping the moments swaps every appeared and disappeared record.
    let back = stdout_of(&fleettop(&["diff", "--demo", "--at", "20m", "--to", "5m", "--json"], home.path()));
    let w: serde_json::Value = serde_json::from_str(&back).unwrap();
    let count = |v: &serde_json::Value, kind: &str| {
        v["changes"].as_array().unwrap().iter().filter(|c| c["kind"] == kind).count()
    };
    assert_eq!(count(&v, "appeared"), count(&w, "disappeared"));
    assert_eq!(count(&v, "disappeared"), count(&w, "appeared"));
    assert_eq!(count(&v, "changed"), count(&w, "changed"));
}

#[test]
fn diff_refuses_a_moment_outside_the_recording_instead_of_clamping() {
    let home = tempfile::tempdir().unwrap();
    let out = fleettop(&["diff", "--demo", "--at", "5m", "--to", "5h"], home.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--to 5h") && err.contains("outside the recording"), "{err}");
    let out = fleettop(&["diff"], home.path());
    assert_eq!(out.status.code(), Some(2), "no recording and no --demo is a usage error");
}

#[test]
fn export_markdown_of_the_demo_matches_its_golden_file_with_absolute_times_only() {
    let home = tempfile::tempdir().unwrap();
    let args = ["export", "--demo", "--format", "markdown", "--at", "5m", "--to", "25m", "--explain", "2"];
    let md = stdout_of(&fleettop(&args, home.path()));
    golden_in("evidence", "demo-export-5m-25m.md", &md);
    for section in ["## Clusters at", "## Timeline", "## What changed", "## Denials explained"] {
        assert!(md.contains(section), "{section} missing");
    }
    // The turns of the incident are in the timeline, in time order, with their times.
    let turn = |needle: &str| {
        md.lines()
            .filter(|l| l.starts_with("| 14:"))
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no turn {needle}"))
    };
    assert!(turn("generation 3 → 4") < turn("verdict degraded → LOSING DATA"));
    assert!(turn("verdict degraded → LOSING DATA") < turn("health live → unreachable"));
    assert!(!md.contains(" ago") && !md.contains("in 2h"), "absolute times only");

    // --out writes a new file and never replaces one.
    let out = home.path().join("incident.md");
    let mut with_out: Vec<&str> = args.to_vec();
    with_out.extend(["--out", out.to_str().unwrap()]);
    assert!(fleettop(&with_out, home.path()).status.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), md);
    let again = fleettop(&with_out, home.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("cannot create"));
}

/// The names of things in a snapshot's JSON (what `redact` must hide): clusters, namespaces,
/// objects, users, owners, teams, queues, nodes, GPU UUIDs, pipeline workloads.
fn names_in_snapshot(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut add = |s: Option<&str>| {
        if let Some(s) = s.filter(|s| s.len() >= 4) {
            for part in s.split('/').filter(|p| p.len() >= 4) {
                names.insert(part.to_string());
            }
        }
    };
    let rows = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    for c in rows("clusters") {
        add(c["id"].as_str());
    }
    for d in rows("denials") {
        add(d["object"]["namespace"].as_str());
        add(d["object"]["name"].as_str());
        add(d["user"].as_str());
    }
    for w in rows("gpu_workloads") {
        for k in ["namespace", "name", "uid", "cluster_queue", "team"] {
            add(w[k].as_str());
        }
    }
    for q in rows("gpu_queues") {
        add(q["name"].as_str());
        add(q["cohort"].as_str());
    }
    for p in rows("pending_gpu_pods") {
        add(p["namespace"].as_str());
        add(p["name"].as_str());
    }
    for n in rows("gpu_nodes") {
        add(n["name"].as_str());
        for d in n["devices"].as_array().cloned().unwrap_or_default() {
            add(d["uuid"].as_str());
        }
    }
    for e in rows("exceptions") {
        add(e["namespace"].as_str());
        add(e["name"].as_str());
    }
    for p in rows("pipelines") {
        add(p["workload"].as_str());
    }
    names
}

#[test]
fn redact_hides_every_name_and_message_of_the_demo_and_the_copy_still_answers_the_same_questions() {
    let home = tempfile::tempdir().unwrap();
    let copy = home.path().join("shared.fleetrec");
    let out = fleettop(&["redact", "--demo", "--out", copy.to_str().unwrap()], home.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let copy = copy.to_str().unwrap();

    let original: serde_json::Value =
        serde_json::from_str(&stdout_of(&fleettop(&["snapshot", "--demo", "--json"], home.path()))).unwrap();
    let names = names_in_snapshot(&original);
    assert!(names.len() > 60, "the demo has many names: {}", names.len());
    assert!(names.contains("payments") && names.contains("prod-eu-west-1") && names.contains("research"));

    // Everything the copy can say: its records at several moments, a diff, an explanation.
    let mut said = String::new();
    for at in ["1m", "15m", "25m"] {
        said += &stdout_of(&fleettop(&["snapshot", "--replay", copy, "--at", at, "--json"], home.path()));
    }
    let said_end = stdout_of(&fleettop(&["snapshot", "--replay", copy, "--json"], home.path()));
    said += &said_end;
    said += &stdout_of(&fleettop(&["diff", copy], home.path()));
    said +=
        &stdout_of(&fleettop(&["why", "--replay", copy, "--policy", "require-run-as-nonroot"], home.path()));
    for name in &names {
        assert!(!said.contains(name.as_str()), "{name:?} is in the redacted copy");
    }
    for message in ["Running as root", "i/o timeout", "exceeded quota", "excludedNamespaces"] {
        assert!(original.to_string().contains(message), "{message:?} is not in the demo");
        assert!(!said.contains(message), "message text {message:?} is in the redacted copy");
    }

    // The same questions have the same shape of answer: every table keeps its size, the
    // denials keep their policies and counts.
    let copied: serde_json::Value = serde_json::from_str(&said_end).unwrap();
    for table in [
        "clusters",
        "denials",
        "gpu_queues",
        "gpu_workloads",
        "pending_gpu_pods",
        "gpu_nodes",
        "pipelines",
        "exceptions",
        "policies",
        "skips",
    ] {
        let n = |v: &serde_json::Value| v[table].as_array().map(Vec::len);
        assert_eq!(n(&copied), n(&original), "{table}");
    }
    let counts = |v: &serde_json::Value| {
        let mut c: Vec<u64> =
            v["denials"].as_array().unwrap().iter().map(|d| d["count"].as_u64().unwrap()).collect();
        c.sort();
        c
    };
    assert_eq!(counts(&copied), counts(&original));
    // Cluster-wide policies and Pod Security levels keep their names (public vocabulary); a
    // namespaced one (a team's ResourceQuota) gets a pseudonym.
    let policies = |v: &serde_json::Value| -> std::collections::BTreeSet<String> {
        v["denials"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["policy"]["name"].as_str().map(String::from))
            .collect()
    };
    let (kept, before) = (policies(&copied), policies(&original));
    for p in ["require-run-as-nonroot", "restricted:latest", "k8srequiredlabels-owner"] {
        assert!(kept.contains(p), "{p} kept");
    }
    assert!(!kept.contains("search-quota"));
    assert!(kept.iter().all(|p| before.contains(p) || p.starts_with("n-")), "{kept:?}");

    // The copy is a new file; an existing one is refused.
    let again = fleettop(&["redact", "--demo", "--out", copy], home.path());
    assert_eq!(again.status.code(), Some(1));
}

#[test]
fn snapshot_json_never_calls_a_pipeline_of_an_unreachable_cluster_healthy() {
    // Issue 15: at 25m prod-ap-south-1 is unreachable; the panes say "unknown since 14:20", the
    // JSON said "health": "healthy" from the last rates.
    let home = tempfile::tempdir().unwrap();
    let out = stdout_of(&fleettop(&["snapshot", "--demo", "--at", "25m", "--json"], home.path()));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pipelines = v["pipelines"].as_array().unwrap();
    let (lost, seen): (Vec<_>, Vec<_>) = pipelines.iter().partition(|p| p["cluster"] == "prod-ap-south-1");
    assert!(!lost.is_empty() && !seen.is_empty());
    for p in &lost {
        assert!(p.get("health").is_none(), "{p}");
        assert_eq!(p["unknown_since"], "2026-11-27T14:20:00Z", "{p}");
        assert_eq!(p["last_known"], "healthy", "{p}");
    }
    for p in &seen {
        assert!(p["health"].is_string() && p.get("unknown_since").is_none(), "{p}");
    }
}
