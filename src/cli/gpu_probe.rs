//! `fleettop gpu-probe`: what NVML sees on this host, every GPU and the pods of its processes.
//! A diagnostic: a host without NVML is an answer ("NVML not available: …"), not a failure.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use crate::sources::nvml::{
    DeviceSample, NvmlSample, NvmlSampler, NvmlUnavailable, ProcessOwner, ProcessSample,
};

/// Takes `samples` samples `interval` apart and prints each, as text or one JSON object per line.
pub fn run(samples: u32, interval: Duration, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let sampler = match NvmlSampler::open() {
        Ok(s) => s,
        Err(e) => return print_unavailable(&mut out, &e, json),
    };
    for n in 1..=samples {
        if n > 1 {
            std::thread::sleep(interval);
        }
        match sampler.sample() {
            Ok(sample) if json => writeln!(out, "{}", crate::sanitise::json_line(&sample)?)?,
            // cgroup paths are outside text: the sample passes the terminal sanitiser.
            Ok(sample) => write!(out, "{}", crate::sanitise::text(&format_sample(&sample, n, samples)))?,
            Err(e) => print_unavailable(&mut out, &e, json)?,
        }
        out.flush()?;
    }
    Ok(())
}

/// `NVML not available: …` as text, or as `{"available":false,"reason":…}` (the text then goes
/// to stderr, for the person running it).
fn print_unavailable(out: &mut impl Write, e: &NvmlUnavailable, json: bool) -> anyhow::Result<()> {
    if json {
        say!("{e}");
        let line = serde_json::json!({ "available": false, "reason": e.reason });
        writeln!(out, "{line}")?;
    } else {
        writeln!(out, "{e}")?;
    }
    Ok(())
}

/// One sample as text: a header, one line per GPU, one indented line per process.
pub fn format_sample(sample: &NvmlSample, n: u32, of: u32) -> String {
    let mut s = format!(
        "sample {n}/{of} at {} · driver {} · {} GPU{}\n",
        sample.at,
        sample.driver_version.as_deref().unwrap_or("?"),
        sample.devices.len(),
        if sample.devices.len() == 1 { "" } else { "s" }
    );
    for d in &sample.devices {
        s.push_str(&format_device(d));
    }
    s
}

/// `gpu 0  NVIDIA H200  util 87% (memory 45%)  mem 40960/143771 MiB  62°C  512/700 W  GPU-…`,
/// then its processes.
fn format_device(d: &DeviceSample) -> String {
    if let Some(error) = &d.error {
        return format!("gpu {}  {error}\n", d.index);
    }
    let mut s = format!(
        "gpu {}  {}  util {}{}  mem {}/{} MiB  {}°C  {}  {}\n",
        d.index,
        d.name.as_deref().unwrap_or("?"),
        pct(d.utilization_gpu_pct),
        d.utilization_memory_pct.map(|m| format!(" (memory {m}%)")).unwrap_or_default(),
        num(d.memory_used_mib),
        num(d.memory_total_mib),
        num(d.temperature_c),
        power(d.power_w, d.power_limit_w),
        d.uuid.as_deref().unwrap_or("uuid ?"),
    );
    match &d.processes {
        None => s.push_str("    processes: not reported by the driver\n"),
        Some(ps) if ps.is_empty() => s.push_str("    no processes\n"),
        Some(ps) => ps.iter().for_each(|p| {
            let _ = writeln!(s, "    {}", format_process(p));
        }),
    }
    s
}

/// `pid 4242  40950 MiB  pod <uid> container <12 hex>`, `… host process (cgroup …)` or `… owner unknown: …`.
fn format_process(p: &ProcessSample) -> String {
    let owner = match &p.owner {
        ProcessOwner::Pod { pod_uid, container_id: Some(c) } => {
            format!("pod {pod_uid} container {}", c.get(..12).unwrap_or(c))
        }
        ProcessOwner::Pod { pod_uid, container_id: None } => {
            format!("pod {pod_uid} (pod cgroup, no container)")
        }
        ProcessOwner::Host { cgroup } if cgroup.is_empty() => "host process".to_string(),
        ProcessOwner::Host { cgroup } => format!("host process (cgroup {cgroup})"),
        ProcessOwner::Unknown { reason } => format!("owner unknown: {reason}"),
    };
    format!("pid {}  {} MiB  {owner}", p.pid, num(p.used_memory_mib))
}

fn num(v: Option<u32>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
}

fn pct(v: Option<u32>) -> String {
    v.map(|v| format!("{v}%")).unwrap_or_else(|| "?".into())
}

/// `512/700 W`, `512 W` without a limit, `? W` without a reading.
fn power(w: Option<f32>, limit: Option<f32>) -> String {
    match (w, limit) {
        (Some(w), Some(l)) => format!("{w:.0}/{l:.0} W"),
        (Some(w), None) => format!("{w:.0} W"),
        (None, _) => "? W".to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn sample() -> NvmlSample {
        let uid = "8d1a7e2c-3b4f-4c6d-9e8f-0a1b2c3d4e5f".to_string();
        let cid = "3f5d9c2b7a1e4f60b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5".to_string();
        NvmlSample {
            at: "2026-07-01T10:00:00Z".parse().unwrap(),
            driver_version: Some("570.124.06".into()),
            devices: vec![
                DeviceSample {
                    index: 0,
                    uuid: Some("GPU-5f0a6c3e-1d2b-4c8f-9a7e-0b1c2d3e4f50".into()),
                    name: Some("NVIDIA H200".into()),
                    utilization_gpu_pct: Some(87),
                    utilization_memory_pct: Some(45),
                    memory_used_mib: Some(40960),
                    memory_total_mib: Some(143771),
                    temperature_c: Some(62),
                    power_w: Some(512.4),
                    power_limit_w: Some(700.0),
                    processes: Some(vec![
                        ProcessSample {
                            pid: 4242,
                            used_memory_mib: Some(40950),
                            owner: ProcessOwner::Pod { pod_uid: uid.clone(), container_id: Some(cid) },
                        },
                        ProcessSample {
                            pid: 77,
                            used_memory_mib: None,
                            owner: ProcessOwner::Pod { pod_uid: uid, container_id: None },
                        },
                        ProcessSample {
                            pid: 901,
                            used_memory_mib: Some(120),
                            owner: ProcessOwner::Host { cgroup: "/system.slice/ollama.service".into() },
                        },
                        ProcessSample {
                            pid: 5,
                            used_memory_mib: Some(1),
                            owner: ProcessOwner::Unknown {
                                reason: "cannot read /proc/5/cgroup: No such file or directory (os error 2)"
                                    .into(),
                            },
                        },
                    ]),
                    error: None,
                },
                DeviceSample {
                    index: 1,
                    name: Some("NVIDIA H200".into()),
                    memory_total_mib: Some(143771),
                    power_w: Some(71.0),
                    processes: Some(vec![]),
                    ..Default::default()
                },
                DeviceSample { index: 2, processes: None, ..Default::default() },
                DeviceSample {
                    index: 3,
                    error: Some("cannot open GPU 3: GPU is lost".into()),
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn a_sample_prints_one_line_per_gpu_and_per_process() {
        let want = "\
sample 2/3 at 2026-07-01T10:00:00Z · driver 570.124.06 · 4 GPUs
gpu 0  NVIDIA H200  util 87% (memory 45%)  mem 40960/143771 MiB  62°C  512/700 W  GPU-5f0a6c3e-1d2b-4c8f-9a7e-0b1c2d3e4f50
    pid 4242  40950 MiB  pod 8d1a7e2c-3b4f-4c6d-9e8f-0a1b2c3d4e5f container 3f5d9c2b7a1e
    pid 77  ? MiB  pod 8d1a7e2c-3b4f-4c6d-9e8f-0a1b2c3d4e5f (pod cgroup, no container)
    pid 901  120 MiB  host process (cgroup /system.slice/ollama.service)
    pid 5  1 MiB  owner unknown: cannot read /proc/5/cgroup: No such file or directory (os error 2)
gpu 1  NVIDIA H200  util ?  mem ?/143771 MiB  ?°C  71 W  uuid ?
    no processes
gpu 2  ?  util ?  mem ?/? MiB  ?°C  ? W  uuid ?
    processes: not reported by the driver
gpu 3  cannot open GPU 3: GPU is lost
";
        assert_eq!(format_sample(&sample(), 2, 3), want);
    }

    #[test]
    fn json_is_one_object_per_sample_with_every_field() {
        let line = serde_json::to_string(&sample()).unwrap();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["driver_version"], "570.124.06");
        let gpu0 = &v["devices"][0];
        assert_eq!(
            (gpu0["utilization_gpu_pct"].as_u64(), gpu0["power_limit_w"].as_f64()),
            (Some(87), Some(700.0))
        );
        assert_eq!(gpu0["processes"][0]["owner"]["kind"], "pod");
        assert_eq!(gpu0["processes"][0]["owner"]["container_id"].as_str().map(str::len), Some(64));
        assert_eq!(gpu0["processes"][2]["owner"]["kind"], "host");
        assert!(v["devices"][2]["processes"].is_null(), "unknown is null, not an empty list");
        assert_eq!(v["devices"][1]["processes"], serde_json::json!([]));
    }

    #[test]
    fn unavailable_nvml_prints_its_reason() {
        let e = NvmlUnavailable { reason: "libnvidia-ml.so.1 not found or not loadable: x".into() };
        let mut text = Vec::new();
        print_unavailable(&mut text, &e, false).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "NVML not available: libnvidia-ml.so.1 not found or not loadable: x\n"
        );
        let mut json = Vec::new();
        print_unavailable(&mut json, &e, true).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v, serde_json::json!({"available": false, "reason": e.reason}));
    }
}
