//! NVIDIA dcgm-exporter scrapes → one sample per GPU (or MIG instance).
//!
//! The exporter (`:9400/metrics`) writes one series per metric and GPU, labelled `gpu` (the
//! index), `UUID`, `pci_bus_id`, `device` (`nvidia0`), `modelName`, `Hostname` (spelled
//! `hostname` on dcgm-exporter main since 2026; both are read), `GPU_I_PROFILE`/`GPU_I_ID` for a
//! MIG instance, and `pod`, `namespace`, `container` when the kubelet pod-resources mapping is on
//! (empty strings when it is off; the 1.x names `pod_name`, `pod_namespace` are read too).
//!
//! Read here: utilisation (`DCGM_FI_DEV_GPU_UTIL` %, else `DCGM_FI_PROF_GR_ENGINE_ACTIVE` × 100:
//! MIG instances and profiling-only setups have only the latter), framebuffer used and total in
//! MiB (`DCGM_FI_DEV_FB_TOTAL` when served, else `FREE + USED + RESERVED`, as the default set has
//! no total), `DCGM_FI_DEV_GPU_TEMP` (°C) and `DCGM_FI_DEV_POWER_USAGE` (W).
//!
//! DCGM writes "no value" as blank sentinels: `0x7ffffffffffffff0` (2^63 − 16) and up for
//! integer fields (`9223372036854775794` in the exporter's README), 2^47 and up for floating-point
//! ones. Any value at or above 2^47, negative, or not finite is read as no value; a utilisation
//! above 100 % (a ratio above 1) as well. Lines without a `gpu` label (the exporter's own
//! metrics, the fixture's label-less dummies) are skipped, and so is a sample whose node cannot
//! be told. Pure: no I/O, no clock; never panics.

use std::collections::{BTreeMap, BTreeSet};

use super::prometheus::{self, Sample, Scrape};
use crate::model::GpuDevice;

/// GPU utilisation, percent.
pub const GPU_UTIL: &str = "DCGM_FI_DEV_GPU_UTIL";
/// Ratio (0–1) of time the graphics engine is active (profiling metrics, per MIG instance too).
pub const GR_ENGINE_ACTIVE: &str = "DCGM_FI_PROF_GR_ENGINE_ACTIVE";
/// Framebuffer used, MiB.
pub const FB_USED: &str = "DCGM_FI_DEV_FB_USED";
/// Framebuffer free, MiB.
pub const FB_FREE: &str = "DCGM_FI_DEV_FB_FREE";
/// Framebuffer reserved by the driver, MiB.
pub const FB_RESERVED: &str = "DCGM_FI_DEV_FB_RESERVED";
/// Framebuffer total, MiB (not in the default counter set).
pub const FB_TOTAL: &str = "DCGM_FI_DEV_FB_TOTAL";
/// GPU temperature, °C.
pub const GPU_TEMP: &str = "DCGM_FI_DEV_GPU_TEMP";
/// Power draw, W.
pub const POWER_USAGE: &str = "DCGM_FI_DEV_POWER_USAGE";

/// DCGM's floating-point blank (`DCGM_FP64_BLANK`, 2^47); its integer blank
/// (`DCGM_INT64_BLANK`, 2^63 − 16) is larger. Values from here up mean "no value".
pub const BLANK_FROM: f64 = 140_737_488_355_328.0;

/// The exporter pod a scrape came from, for samples that do not name their node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exporter<'a> {
    /// The node it runs on (`spec.nodeName`).
    pub node: Option<&'a str>,
    /// Its pod name: an exporter without `NODE_NAME` in its environment labels samples with
    /// its own host name, which is the pod name unless it runs on the host network.
    pub pod: Option<&'a str>,
}

/// A MIG GPU instance (ordered by id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MigInstance {
    /// Its GPU instance id (`GPU_I_ID`).
    pub id: u32,
    /// Its profile (`GPU_I_PROFILE`, `1g.10gb`).
    pub profile: String,
}

/// What one scrape says about one GPU or MIG instance.
#[derive(Debug, Clone, PartialEq)]
pub struct DcgmSample {
    /// The node (`Hostname`/`hostname`, else the exporter's node).
    pub node: String,
    /// GPU index on the node (`gpu`).
    pub gpu: u32,
    /// GPU UUID (`UUID`); empty when the exporter did not say.
    pub uuid: String,
    /// Product name (`modelName`, `NVIDIA A10G`).
    pub model: Option<String>,
    /// The MIG instance, when the series are per instance.
    pub mig: Option<MigInstance>,
    /// Utilisation, percent.
    pub utilization_pct: Option<f32>,
    /// Framebuffer used, MiB.
    pub memory_used_mib: Option<u32>,
    /// Framebuffer total, MiB.
    pub memory_total_mib: Option<u32>,
    /// Temperature, °C.
    pub temperature_c: Option<f32>,
    /// Power draw, W.
    pub power_w: Option<f32>,
    /// The pod it is assigned to (`namespace/pod`); with time-slicing, the first in name order.
    pub pod: Option<String>,
}

impl DcgmSample {
    /// The model's record of this GPU (no processes: DCGM does not list them; `idle_since` is
    /// the source's to fill in, from its history).
    pub fn to_device(&self) -> GpuDevice {
        GpuDevice {
            index: self.gpu,
            uuid: self.uuid.clone(),
            product: self.model.clone(),
            utilization_pct: self.utilization_pct,
            memory_used_mib: self.memory_used_mib,
            memory_total_mib: self.memory_total_mib,
            temperature_c: self.temperature_c,
            power_w: self.power_w,
            pod: self.pod.clone(),
            processes: Vec::new(),
            mig: self.mig.as_ref().map(|m| format!("{}/{}", m.profile, m.id)),
            idle_since: None,
        }
    }
}

/// Parses a dcgm-exporter scrape into samples, in (node, gpu, MIG instance) order.
pub fn parse(text: &str, exporter: Exporter<'_>) -> Result<Vec<DcgmSample>, prometheus::ParseError> {
    Ok(samples(&prometheus::parse_text(text)?, exporter))
}

/// The samples of an already parsed scrape, in (node, gpu, MIG instance) order.
pub fn samples(scrape: &Scrape, exporter: Exporter<'_>) -> Vec<DcgmSample> {
    let mut by_device: BTreeMap<Key, Fields> = BTreeMap::new();
    for s in scrape.samples.iter().filter(|s| s.name.starts_with("DCGM_FI_")) {
        let Some(gpu) = s.labels.get("gpu").and_then(|g| g.trim().parse::<u32>().ok()) else { continue };
        let Some(node) = node_of(s, exporter) else { continue };
        let uuid = label(s, &["UUID"]).unwrap_or_default();
        let mig = mig_of(s);
        let f = by_device.entry(Key { node, gpu, mig, uuid }).or_default();
        if f.model.is_none() {
            f.model = label(s, &["modelName"]);
        }
        if let (Some(ns), Some(pod)) =
            (label(s, &["namespace", "pod_namespace"]), label(s, &["pod", "pod_name"]))
        {
            f.pods.insert(format!("{ns}/{pod}"));
        }
        if let Some(v) = reading(s.value) {
            // A series repeated for another pod (time-slicing) carries the same reading.
            f.values.entry(s.name.clone()).or_insert(v);
        }
    }
    by_device.into_iter().map(|(k, f)| f.sample(k)).collect()
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    node: String,
    gpu: u32,
    mig: Option<MigInstance>,
    uuid: String,
}

#[derive(Debug, Default)]
struct Fields {
    model: Option<String>,
    pods: BTreeSet<String>,
    values: BTreeMap<String, f64>,
}

impl Fields {
    fn sample(self, k: Key) -> DcgmSample {
        let get = |name: &str| self.values.get(name).copied();
        let utilization = get(GPU_UTIL)
            .filter(|u| *u <= 100.0)
            .or_else(|| get(GR_ENGINE_ACTIVE).filter(|r| *r <= 1.0).map(|r| r * 100.0));
        let total =
            get(FB_TOTAL).or_else(|| Some(get(FB_FREE)? + get(FB_USED)? + get(FB_RESERVED).unwrap_or(0.0)));
        DcgmSample {
            node: k.node,
            gpu: k.gpu,
            uuid: k.uuid,
            model: self.model,
            mig: k.mig,
            utilization_pct: utilization.map(|u| u as f32),
            memory_used_mib: get(FB_USED).and_then(mib),
            memory_total_mib: total.and_then(mib),
            temperature_c: get(GPU_TEMP).map(|t| t as f32),
            power_w: get(POWER_USAGE).map(|p| p as f32),
            pod: self.pods.into_iter().next(),
        }
    }
}

/// The first non-empty label of `names`.
fn label(s: &Sample, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| s.labels.get(*n).map(|v| v.trim()).filter(|v| !v.is_empty()))
        .map(str::to_string)
}

fn node_of(s: &Sample, exporter: Exporter<'_>) -> Option<String> {
    match label(s, &["Hostname", "hostname"]) {
        Some(host) if exporter.pod != Some(host.as_str()) => Some(host),
        _ => exporter.node.map(str::trim).filter(|n| !n.is_empty()).map(str::to_string),
    }
}

fn mig_of(s: &Sample) -> Option<MigInstance> {
    let id = label(s, &["GPU_I_ID"])?.parse::<u32>().ok()?;
    Some(MigInstance { profile: label(s, &["GPU_I_PROFILE"]).unwrap_or_default(), id })
}

/// A value, unless it is one of DCGM's blanks, negative or not a number (NaN is in no range).
fn reading(v: f64) -> Option<f64> {
    (0.0..BLANK_FROM).contains(&v).then_some(v)
}

fn mib(v: f64) -> Option<u32> {
    (v < f64::from(u32::MAX)).then(|| v.round() as u32)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    const DATADOG: &str =
        include_str!("../../../tests/fixtures/real/gpu/dcgm-exporter-scrape-datadog-fixture.txt");
    const README_K8S: &str =
        include_str!("../../../tests/fixtures/real/gpu/dcgm-exporter-readme-k8s-scrape-excerpt.txt");
    const DEFAULT_COUNTERS: &str =
        include_str!("../../../tests/fixtures/real/gpu/dcgm-exporter-default-counters.csv");

    const NOWHERE: Exporter<'static> = Exporter { node: None, pod: None };

    #[test]
    fn the_datadog_scrape_gives_the_two_t4_hosts_and_the_a10g_with_its_pod() {
        let got = parse(DATADOG, NOWHERE).unwrap();
        let ids: Vec<(&str, u32, &str)> =
            got.iter().map(|s| (s.node.as_str(), s.gpu, s.uuid.as_str())).collect();
        assert_eq!(
            ids,
            vec![
                ("424773df46e0", 0, "GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e"),
                ("551bdf382151", 0, "GPU-9ef1b6d0-3643-5dd7-b823-c0ec20dcf2d5"),
                ("ip-11111", 0, "GPU-abc"),
            ],
            "the label-less dummy lines at the end belong to no GPU"
        );
        let t4 = &got[0];
        assert_eq!(t4.model.as_deref(), Some("Tesla T4"));
        assert_eq!(t4.utilization_pct, Some(0.0));
        assert_eq!(
            (t4.memory_used_mib, t4.memory_total_mib),
            (Some(0), Some(15109)),
            "FREE + USED, no RESERVED"
        );
        assert_eq!(t4.temperature_c, Some(25.0));
        assert!((t4.power_w.unwrap() - 8.969).abs() < 1e-6);
        assert_eq!((t4.pod.as_deref(), t4.mig.as_ref()), (None, None));
        // The second host serves FB_TOTAL (and a dummy FB_RESERVED) but no FREE/USED or UTIL.
        let other = &got[1];
        assert_eq!((other.memory_used_mib, other.memory_total_mib), (None, Some(15109)));
        assert_eq!((other.utilization_pct, other.temperature_c), (None, None));
        // The A10G line is DRAM_ACTIVE only: no reading we use, but its pod is known.
        let a10g = &got[2];
        assert_eq!(a10g.model.as_deref(), Some("NVIDIA A10G"));
        assert_eq!(a10g.pod.as_deref(), Some("ray-llm/ray-1111111"));
        assert_eq!(a10g.utilization_pct, None);
        let device = a10g.to_device();
        assert_eq!(
            (device.index, device.uuid.as_str(), device.pod.as_deref()),
            (0, "GPU-abc", Some("ray-llm/ray-1111111"))
        );
        assert_eq!(device.product.as_deref(), Some("NVIDIA A10G"));
    }

    /// The README's transcript with its shell lines and `...` elisions dropped (its SOURCES line
    /// says it holds both): what `curl` printed.
    fn readme_scrape() -> String {
        README_K8S
            .lines()
            .skip_while(|l| !l.starts_with("curl "))
            .skip(1)
            .filter(|l| l.trim() != "...")
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn the_readme_scrape_falls_back_to_the_exporters_node_and_reads_the_blank_as_no_value() {
        let body = readme_scrape();
        assert!(body.contains("9223372036854775794"), "the fixture changed: {body}");
        assert_eq!(
            parse(&body, NOWHERE).unwrap(),
            vec![],
            "no Hostname label and no exporter node: unplaceable"
        );
        let got = parse(&body, Exporter { node: Some("gpu-node-1"), pod: Some("dcgm-exporter-x2") }).unwrap();
        assert_eq!(got.len(), 1);
        let s = &got[0];
        assert_eq!(
            (s.node.as_str(), s.gpu, s.uuid.as_str()),
            ("gpu-node-1", 0, "GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52")
        );
        assert_eq!(s.pod, None, "empty pod/namespace labels: the mapping is off");
        assert_eq!((s.utilization_pct, s.temperature_c, s.memory_used_mib), (None, None, None));
    }

    #[test]
    fn the_metrics_read_are_in_the_exporters_default_set_except_fb_total() {
        let default: Vec<&str> = DEFAULT_COUNTERS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split(',').next())
            .map(str::trim)
            .collect();
        for name in [GPU_UTIL, GR_ENGINE_ACTIVE, FB_USED, FB_FREE, FB_RESERVED, GPU_TEMP, POWER_USAGE] {
            assert!(default.contains(&name), "{name} is not a default counter");
        }
        assert!(!default.contains(&FB_TOTAL), "FB_TOTAL is not served by default: the total is computed");
    }

    fn line(name: &str, labels: &str, value: &str) -> String {
        format!("{name}{{{labels}}} {value}\n")
    }

    const H100: &str = r#"gpu="1",UUID="GPU-1",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",pci_bus_id="00000000:19:00.0""#;

    #[test]
    fn both_spellings_of_the_host_label_name_the_node() {
        for host in ["Hostname", "hostname"] {
            let labels = format!(r#"{H100},{host}="gpu-a",container="main",namespace="ml",pod="train-0""#);
            let body = line(GPU_UTIL, &labels, "87")
                + &line(FB_USED, &labels, "40000")
                + &line(FB_FREE, &labels, "40500")
                + &line(FB_RESERVED, &labels, "500");
            let got = parse(&body, Exporter { node: Some("elsewhere"), pod: Some("dcgm-x") }).unwrap();
            assert_eq!(got.len(), 1, "{host}");
            let s = &got[0];
            assert_eq!(
                (s.node.as_str(), s.gpu, s.pod.as_deref()),
                ("gpu-a", 1, Some("ml/train-0")),
                "{host}"
            );
            assert_eq!(
                (s.utilization_pct, s.memory_used_mib, s.memory_total_mib),
                (Some(87.0), Some(40000), Some(81000))
            );
        }
    }

    #[test]
    fn an_exporter_labelling_with_its_own_pod_name_is_placed_on_its_node() {
        let labels = format!(r#"{H100},Hostname="nvidia-dcgm-exporter-7x2kq""#);
        let body = line(GPU_UTIL, &labels, "3");
        let exporter = Exporter { node: Some("gpu-b"), pod: Some("nvidia-dcgm-exporter-7x2kq") };
        assert_eq!(parse(&body, exporter).unwrap()[0].node, "gpu-b");
    }

    #[test]
    fn sentinels_and_impossible_values_are_no_value() {
        let labels = format!(r#"{H100},Hostname="gpu-a""#);
        for v in [
            "9223372036854775792",
            "9223372036854775794",
            "140737488355328",
            "140737488355330",
            "-1",
            "NaN",
            "+Inf",
        ] {
            let body = line(GPU_UTIL, &labels, v)
                + &line(GPU_TEMP, &labels, v)
                + &line(POWER_USAGE, &labels, v)
                + &line(FB_USED, &labels, v);
            let s = &parse(&body, NOWHERE).unwrap()[0];
            assert_eq!(
                (s.utilization_pct, s.temperature_c, s.power_w, s.memory_used_mib),
                (None, None, None, None),
                "{v}"
            );
        }
        let just_under = line(POWER_USAGE, &labels, "140737488355327");
        assert!(parse(&just_under, NOWHERE).unwrap()[0].power_w.is_some(), "the blank is where blanks start");
        assert_eq!(parse(&line(GPU_UTIL, &labels, "101"), NOWHERE).unwrap()[0].utilization_pct, None);
    }

    #[test]
    fn without_gpu_util_the_graphics_engine_ratio_is_the_utilisation() {
        let labels = format!(r#"{H100},Hostname="gpu-a""#);
        let s = &parse(&line(GR_ENGINE_ACTIVE, &labels, "0.42"), NOWHERE).unwrap()[0];
        assert!((s.utilization_pct.unwrap() - 42.0).abs() < 1e-4);
        // A blank GPU_UTIL (unsupported, as on MIG instances) falls back too; a real one wins.
        let blank = line(GPU_UTIL, &labels, "9223372036854775794") + &line(GR_ENGINE_ACTIVE, &labels, "0.5");
        assert_eq!(parse(&blank, NOWHERE).unwrap()[0].utilization_pct, Some(50.0));
        let both = line(GPU_UTIL, &labels, "7") + &line(GR_ENGINE_ACTIVE, &labels, "0.5");
        assert_eq!(parse(&both, NOWHERE).unwrap()[0].utilization_pct, Some(7.0));
    }

    #[test]
    fn mig_instances_are_samples_of_their_own_with_their_pods() {
        let mig = |id: u32, profile: &str, pod: &str| {
            format!(
                r#"{H100},Hostname="gpu-a",GPU_I_PROFILE="{profile}",GPU_I_ID="{id}",namespace="ml",pod="{pod}""#
            )
        };
        let body = line(GR_ENGINE_ACTIVE, &mig(9, "1g.10gb", "b"), "0.9")
            + &line(GR_ENGINE_ACTIVE, &mig(2, "3g.40gb", "a"), "0.01")
            + &line(FB_USED, &mig(2, "3g.40gb", "a"), "1200");
        let got = parse(&body, NOWHERE).unwrap();
        let view: Vec<_> = got.iter().map(|s| (s.gpu, s.to_device().mig, s.pod.clone())).collect();
        assert_eq!(
            view,
            vec![
                (1, Some("3g.40gb/2".to_string()), Some("ml/a".to_string())),
                (1, Some("1g.10gb/9".to_string()), Some("ml/b".to_string())),
            ],
            "ordered by instance id as a number"
        );
        assert_eq!(got[0].memory_used_mib, Some(1200));
    }

    #[test]
    fn a_time_sliced_gpu_is_one_sample_named_after_its_first_pod() {
        let labels = |pod: &str| format!(r#"{H100},Hostname="gpu-a",namespace="ml",pod="{pod}""#);
        let body = line(GPU_UTIL, &labels("zeta"), "60") + &line(GPU_UTIL, &labels("alpha"), "60");
        let got = parse(&body, NOWHERE).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].pod.as_deref(), got[0].utilization_pct), (Some("ml/alpha"), Some(60.0)));
    }

    #[test]
    fn the_old_pod_label_names_are_read() {
        let labels =
            format!(r#"{H100},Hostname="gpu-a",pod_namespace="ml",pod_name="old-0",container_name="c""#);
        assert_eq!(
            parse(&line(GPU_UTIL, &labels, "1"), NOWHERE).unwrap()[0].pod.as_deref(),
            Some("ml/old-0")
        );
    }

    #[test]
    fn garbage_is_an_error_or_no_samples() {
        assert!(parse("<html>502 Bad Gateway</html>\n", NOWHERE).is_err());
        assert_eq!(parse("", NOWHERE).unwrap(), vec![]);
        assert_eq!(parse("up 1\nDCGM_FI_DEV_GPU_UTIL 5\n", NOWHERE).unwrap(), vec![], "no gpu label");
        let bad_index =
            line(GPU_UTIL, r#"gpu="x",Hostname="a""#, "5") + &line(GPU_UTIL, r#"gpu="-1",Hostname="a""#, "5");
        assert_eq!(parse(&bad_index, NOWHERE).unwrap(), vec![]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}") {
            let _ = parse(&text, Exporter { node: Some("n"), pod: Some("p") });
        }

        #[test]
        fn dcgm_like_lines_never_panic(
            gpu in "[0-9x-]{0,12}",
            host in "[a-z\\- ]{0,6}",
            mig in "[0-9a-z]{0,3}",
            value in "[0-9.eE+-]{1,24}|NaN|[+-]Inf",
            name in "DCGM_FI_(DEV_GPU_UTIL|DEV_FB_USED|DEV_FB_FREE|DEV_FB_TOTAL|PROF_GR_ENGINE_ACTIVE|DEV_POWER_USAGE)",
        ) {
            let body = format!("{name}{{gpu=\"{gpu}\",Hostname=\"{host}\",GPU_I_ID=\"{mig}\"}} {value}\n");
            if let Ok(samples) = parse(&body, Exporter { node: Some("n"), pod: None }) {
                for s in samples {
                    prop_assert!(s.utilization_pct.is_none_or(|u| (0.0..=100.0).contains(&u)));
                    prop_assert!(!s.node.is_empty());
                }
            }
        }
    }
}
