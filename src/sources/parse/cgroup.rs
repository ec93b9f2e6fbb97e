//! Map a process to its pod from the content of `/proc/<pid>/cgroup`.
//!
//! Line format (`man 7 cgroups`): `hierarchy-ID:controller-list:cgroup-path`; cgroup v1 has one line per
//! hierarchy, v2 a single `0::/path`, hybrid hosts both. The kubelet names pod cgroups (see
//! `pkg/kubelet/cm/pod_container_manager_linux.go` `GetPodContainerName`, `qos_container_manager_linux.go`,
//! and `cgroup_manager_linux.go` `ConvertCgroupNameToSystemd` / `escapeSystemdCgroupName`):
//!
//! - cgroupfs driver: `/kubepods/pod<uid>` (Guaranteed), `/kubepods/burstable/pod<uid>`,
//!   `/kubepods/besteffort/pod<uid>`; the runtime adds the container below: a bare 64-hex id
//!   (containerd, dockershim/cri-dockerd) or `crio-<id>` (CRI-O).
//! - systemd driver: each path component becomes a slice named after all its ancestors joined by `-`,
//!   with `-` inside a name escaped to `_`: `/kubepods.slice/kubepods-burstable.slice/
//!   kubepods-burstable-pod<uid with _>.slice`, Guaranteed `kubepods-pod<uid>.slice`; the container is a
//!   transient scope: `cri-containerd-<id>.scope`, `crio-<id>.scope` (and `crio-conmon-<id>.scope` for its
//!   monitor), `docker-<id>.scope`.
//! - `--cgroup-root` / nesting: kind nodes run kubelet with `--cgroup-root=/kubelet`, giving
//!   `/kubelet.slice/kubelet-kubepods.slice/…` (systemd) or `/kubelet/kubepods/…`; seen from the host,
//!   a containerised node adds its own prefix (`/docker/<id>/kubepods/…`, `/system.slice/docker-<id>.scope/…`).
//!
//! - cgroup namespaces: a reader in its own cgroup namespace (the default for containers on cgroup v2,
//!   e.g. a node agent pod) sees other processes' paths relative to its own root, with `..` for each
//!   level above it (`man 7 cgroup_namespaces`): `0::/../../../kubepods-burstable.slice/
//!   kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope`; the `kubepods.slice` component is gone.
//! - the systemd form of a cgroupsPath (`<slice>:<prefix>:<name>`) written literally as one component, as
//!   containerd does when its systemd cgroup setting and the host disagree:
//!   `/kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>`, under `/system.slice/containerd.service/`
//!   for some v1 controllers.
//!
//! So the parser looks for a pod component below a component naming `kubepods`, or a systemd pod slice
//! whose own name says `kubepods` (the slice name carries its ancestors), takes the UID from it, and the
//! container from the component right after it (or from the same component in the `slice:prefix:id`
//! form). Static pods have a 32-hex (hash) UID, not a UUID. A cgroupfs `pod<uid>` component is only taken
//! below `kubepods`, so the cgroupfs driver seen through a cgroup namespace is not recognised.

/// The container runtime, as told by the container's cgroup name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// containerd (`cri-containerd-<id>.scope`).
    Containerd,
    /// CRI-O (`crio-<id>`, `crio-<id>.scope`, `crio-conmon-<id>.scope`).
    CriO,
    /// Docker via dockershim or cri-dockerd (`docker-<id>.scope`).
    Docker,
}

/// The pod (and container) a process belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodCgroup {
    /// Pod UID with dashes (`6f1c3e0a-…`), or the 32-hex hash UID of a static pod.
    pub pod_uid: String,
    /// Container id (hex) when the process is in a container's cgroup, not the pod's.
    pub container_id: Option<String>,
    /// Runtime, when the container's cgroup name tells it.
    pub runtime: Option<Runtime>,
}

/// Finds the pod of a process from its `/proc/<pid>/cgroup` content; `None` for non-pod processes.
///
/// Among several lines (cgroup v1) the first that names a container wins, else the first that names a pod.
pub fn pod_of_cgroup(content: &str) -> Option<PodCgroup> {
    let mut pod_only = None;
    for line in content.lines() {
        let mut fields = line.trim_end_matches('\r').splitn(3, ':');
        let (Some(_id), Some(_controllers), Some(path)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if let Some(found) = pod_of_path(path) {
            if found.container_id.is_some() {
                return Some(found);
            }
            pod_only.get_or_insert(found);
        }
    }
    pod_only
}

/// Finds the pod in one cgroup path.
pub fn pod_of_path(path: &str) -> Option<PodCgroup> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut seen_kubepods = false;
    for (i, part) in parts.iter().enumerate() {
        let (pod_part, inline_container) = split_systemd_form(part);
        if (seen_kubepods || is_kubepods_pod_slice(pod_part))
            && let Some(uid) = pod_uid(pod_part)
        {
            let next = inline_container.or_else(|| parts.get(i + 1).and_then(|c| container(c)));
            let (container_id, runtime) = next.unzip();
            return Some(PodCgroup { pod_uid: uid, container_id, runtime: runtime.flatten() });
        }
        seen_kubepods = seen_kubepods || is_kubepods(part);
    }
    None
}

/// `<slice>:<prefix>:<id>` (the systemd cgroupsPath form, seen literally) → the slice and the
/// container it names; any other component is returned as it is, with no container.
fn split_systemd_form(part: &str) -> (&str, Option<(String, Option<Runtime>)>) {
    let mut fields = part.splitn(3, ':');
    match (fields.next(), fields.next(), fields.next()) {
        (Some(slice), Some(prefix), Some(id)) if slice.ends_with(".slice") => {
            (slice, container(&format!("{prefix}-{id}")))
        }
        _ => (part, None),
    }
}

/// A systemd pod slice whose name says it is under kubepods (`kubepods-burstable-pod<uid>.slice`,
/// `kubelet-kubepods-pod<uid>.slice`): the slice name lists all its ancestors.
fn is_kubepods_pod_slice(part: &str) -> bool {
    part.strip_suffix(".slice").is_some_and(|name| {
        let mut segments = name.split('-');
        segments.any(|s| s == "kubepods")
            && name.rsplit('-').next().is_some_and(|last| last.starts_with("pod"))
    })
}

/// `kubepods`, `kubepods.slice`, `kubelet-kubepods.slice`.
fn is_kubepods(part: &str) -> bool {
    let name = part.strip_suffix(".slice").unwrap_or(part);
    name == "kubepods" || name.ends_with("-kubepods")
}

/// `pod<uid>` (cgroupfs) or `…-pod<uid_with_underscores>.slice` (systemd) → UID with dashes.
fn pod_uid(part: &str) -> Option<String> {
    let raw = match part.strip_suffix(".slice") {
        Some(slice) => {
            let last = slice.rsplit('-').next()?;
            last.strip_prefix("pod")?.replace('_', "-")
        }
        None => part.strip_prefix("pod")?.to_string(),
    };
    is_uid(&raw).then_some(raw)
}

/// A UUID (8-4-4-4-12 hex) or a static pod's 32-hex hash.
fn is_uid(s: &str) -> bool {
    let hex = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_hexdigit());
    if s.len() == 32 {
        return hex(s);
    }
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5 && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && hex(g))
}

/// The container component after the pod: `(id, runtime)`.
fn container(part: &str) -> Option<(String, Option<Runtime>)> {
    let name = part.strip_suffix(".scope").unwrap_or(part);
    let (id, runtime) = if let Some(id) = name.strip_prefix("cri-containerd-") {
        (id, Some(Runtime::Containerd))
    } else if let Some(id) = name.strip_prefix("crio-conmon-") {
        (id, Some(Runtime::CriO))
    } else if let Some(id) = name.strip_prefix("crio-") {
        (id, Some(Runtime::CriO))
    } else if let Some(id) = name.strip_prefix("docker-") {
        (id, Some(Runtime::Docker))
    } else {
        (name, None)
    };
    let ok = id.len() >= 12 && id.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| (id.to_ascii_lowercase(), runtime))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    const UID: &str = "8d1a7e2c-3b4f-4c6d-9e8f-0a1b2c3d4e5f";
    const UID_: &str = "8d1a7e2c_3b4f_4c6d_9e8f_0a1b2c3d4e5f";
    const CID: &str = "3f5d9c2b7a1e4f60b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5";

    fn expect(content: &str, runtime: Option<Runtime>) {
        assert_eq!(
            pod_of_cgroup(content),
            Some(PodCgroup { pod_uid: UID.into(), container_id: Some(CID.into()), runtime }),
            "{content}"
        );
    }

    /// cgroup v2, systemd driver, containerd (default on current distros / kubeadm ≥ 1.22).
    #[test]
    fn v2_systemd_containerd_burstable() {
        let c = format!(
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{CID}.scope\n"
        );
        expect(&c, Some(Runtime::Containerd));
    }

    /// cgroup v2, systemd driver, CRI-O (OpenShift), Guaranteed pod: no QoS slice.
    #[test]
    fn v2_systemd_crio_guaranteed() {
        let c = format!("0::/kubepods.slice/kubepods-pod{UID_}.slice/crio-{CID}.scope\n");
        expect(&c, Some(Runtime::CriO));
        // CRI-O's conmon monitor sits in its own scope next to the container.
        let c = format!("0::/kubepods.slice/kubepods-pod{UID_}.slice/crio-conmon-{CID}.scope\n");
        expect(&c, Some(Runtime::CriO));
    }

    /// cgroup v1, systemd driver, Docker (dockershim era / cri-dockerd): one line per hierarchy,
    /// the named `name=systemd` hierarchy line included.
    #[test]
    fn v1_systemd_docker_besteffort() {
        let p = format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/docker-{CID}.scope"
        );
        let c = format!(
            "12:hugetlb:{p}\n11:pids:{p}\n10:memory:{p}\n9:devices:{p}\n8:cpu,cpuacct:{p}\n7:freezer:{p}\n\
6:perf_event:{p}\n5:net_cls,net_prio:{p}\n4:blkio:{p}\n3:cpuset:{p}\n2:rdma:/\n1:name=systemd:{p}\n0::/\n"
        );
        expect(&c, Some(Runtime::Docker));
    }

    /// cgroup v1, cgroupfs driver (kubelet `--cgroup-driver=cgroupfs`), containerd or dockershim:
    /// the container cgroup is the bare id, the runtime is not named.
    #[test]
    fn v1_cgroupfs_burstable_and_guaranteed() {
        let p = format!("/kubepods/burstable/pod{UID}/{CID}");
        let c = format!(
            "11:memory:{p}\n10:cpu,cpuacct:{p}\n9:devices:{p}\n8:pids:{p}\n7:blkio:{p}\n6:freezer:{p}\n\
5:net_cls,net_prio:{p}\n4:perf_event:{p}\n3:hugetlb:{p}\n2:cpuset:{p}\n1:name=systemd:{p}\n"
        );
        expect(&c, None);
        let c = format!("0::/kubepods/pod{UID}/{CID}\n");
        expect(&c, None);
        let c = format!("0::/kubepods/besteffort/pod{UID}/crio-{CID}\n");
        expect(&c, Some(Runtime::CriO));
    }

    /// kind node (kubelet `--cgroup-root=/kubelet`, systemd driver) as seen inside the node container.
    #[test]
    fn kind_node_systemd() {
        let c = format!(
            "0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod{UID_}.slice/cri-containerd-{CID}.scope\n"
        );
        expect(&c, Some(Runtime::Containerd));
    }

    /// A real path with its real pod UID and container id: kubelet log line on a kind node
    /// (k8s 1.28.9, hybrid cgroup v1 + unified) quoted in the blog post "Kubewekend Session 5: Build HA
    /// Cluster": `open /sys/fs/cgroup/unified/kubelet.slice/…/cgroup.procs … podUID="a45947e4-…"
    /// containerID="containerd://abb37780…"`. The process file shows the unified part as the `0::` line.
    #[test]
    fn real_kind_node_path_from_a_kubelet_log() {
        let p = "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-poda45947e4_314c_4694_8f05_5e1425a02de4.slice/cri-containerd-abb37780fc913b3720641a4039186adb06f5d1de0229de0e8707f12e2fde5a21.scope";
        let c = format!("5:memory:{p}\n4:cpu,cpuacct:{p}\n1:name=systemd:{p}\n0::{p}\n");
        assert_eq!(
            pod_of_cgroup(&c),
            Some(PodCgroup {
                pod_uid: "a45947e4-314c-4694-8f05-5e1425a02de4".into(),
                container_id: Some("abb37780fc913b3720641a4039186adb06f5d1de0229de0e8707f12e2fde5a21".into()),
                runtime: Some(Runtime::Containerd),
            })
        );
    }

    /// Seen from the host of a containerised node: the node container's cgroup comes first
    /// (`docker-<node id>.scope` must not be taken for the pod's container).
    #[test]
    fn nested_under_node_container() {
        let node = "a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8";
        let c = format!("0::/system.slice/docker-{node}.scope/kubepods/burstable/pod{UID}/{CID}\n");
        expect(&c, None);
        let p = format!("/docker/{node}/kubepods/besteffort/pod{UID}/{CID}");
        let c = format!("4:memory:{p}\n3:cpu,cpuacct:{p}\n1:name=systemd:{p}\n");
        expect(&c, None);
        let c = format!(
            "0::/system.slice/docker-{node}.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod{UID_}.slice/cri-containerd-{CID}.scope\n"
        );
        expect(&c, Some(Runtime::Containerd));
    }

    /// Read from inside a container with its own cgroup namespace (cgroup v2's default), a sibling
    /// pod's path starts with `..` and lacks `kubepods.slice`. The shape is the one Inspektor Gadget
    /// quotes for `/host/proc/PID/cgroup` of sibling containers in its PR #3085 ("GetCgroupID: read
    /// cgroup paths under host cgroup namespace"): `0::/../../../kubepods-burstable.slice/
    /// kubepods-burstable-pod…`; the ids here are this file's.
    #[test]
    fn relative_to_the_readers_cgroup_namespace() {
        let c = format!(
            "0::/../../../kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{CID}.scope\n"
        );
        expect(&c, Some(Runtime::Containerd));
        // A Guaranteed pod has no QoS slice: only `..` comes before its own slice.
        let c = format!("0::/../../kubepods-pod{UID_}.slice/crio-{CID}.scope\n");
        expect(&c, Some(Runtime::CriO));
        // The cgroupfs driver is not recognised there: `pod<uid>` alone does not say kubepods.
        assert_eq!(pod_of_cgroup(&format!("0::/../../burstable/pod{UID}/{CID}\n")), None);
    }

    /// Real lines, verbatim: `/proc/self/cgroup` of a containerd pod on cgroup v1 whose paths are the
    /// systemd `slice:prefix:id` form written literally, some under `containerd.service`
    /// (open-telemetry/opentelemetry-java issue #4507, "Bug in the ContainerResource implementation on
    /// the Containerd runtime").
    #[test]
    fn real_systemd_form_written_literally_by_containerd() {
        let c = "11:perf_event:/kubepods-besteffort-pod0125ec2f_b64a_4868_8f5b_94b56cbab864.slice:cri-containerd:ee4b20e90ac7f42a10bd004d05646b13d8ab5e2c5e7cbc01abf8006bac016459
10:blkio:/system.slice/containerd.service/kubepods-besteffort-pod0125ec2f_b64a_4868_8f5b_94b56cbab864.slice:cri-containerd:ee4b20e90ac7f42a10bd004d05646b13d8ab5e2c5e7cbc01abf8006bac016459
9:cpuacct,cpu:/system.slice/containerd.service/kubepods-besteffort-pod0125ec2f_b64a_4868_8f5b_94b56cbab864.slice:cri-containerd:ee4b20e90ac7f42a10bd004d05646b13d8ab5e2c5e7cbc01abf8006bac016459
8:cpuset:/kubepods-besteffort-pod0125ec2f_b64a_4868_8f5b_94b56cbab864.slice:cri-containerd:ee4b20e90ac7f42a10bd004d05646b13d8ab5e2c5e7cbc01abf8006bac016459
";
        let want = Some(PodCgroup {
            pod_uid: "0125ec2f-b64a-4868-8f5b-94b56cbab864".into(),
            container_id: Some("ee4b20e90ac7f42a10bd004d05646b13d8ab5e2c5e7cbc01abf8006bac016459".into()),
            runtime: Some(Runtime::Containerd),
        });
        assert_eq!(pod_of_cgroup(c), want);
        for line in c.lines() {
            assert_eq!(pod_of_cgroup(line), want, "{line}");
        }
    }

    /// Process in the pod cgroup itself (no container component), and a static pod's hash UID.
    #[test]
    fn pod_level_and_static_pod() {
        let c = format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice\n");
        assert_eq!(
            pod_of_cgroup(&c),
            Some(PodCgroup { pod_uid: UID.into(), container_id: None, runtime: None })
        );
        // Static pods have their config hash as UID (32 hex); this slice name, from a kind node,
        // is quoted in a public test of a container-inventory tool.
        let hash = "99dcb84d2a34f7e338778606703258c4";
        let c = format!(
            "0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod{hash}.slice/cri-containerd-{CID}.scope\n"
        );
        assert_eq!(pod_of_cgroup(&c).unwrap().pod_uid, hash);
    }

    /// Hybrid v1: a line without the pod (`rdma:/`) before one with it.
    #[test]
    fn first_line_with_a_container_wins() {
        let c = format!(
            "2:rdma:/\n1:name=systemd:/kubepods/burstable/pod{UID}\n0::/kubepods/burstable/pod{UID}/{CID}\n"
        );
        expect(&c, None);
    }

    #[test]
    fn non_pod_processes() {
        for c in [
            "0::/init.scope\n",
            "0::/system.slice/containerd.service\n",
            "0::/system.slice/nvidia-persistenced.service\n",
            "0::/user.slice/user-1000.slice/session-3.scope\n",
            "0::/kubepods.slice\n",
            "0::/kubepods.slice/kubepods-burstable.slice\n",
            "0::/kubepods/burstable\n",
            "0::/\n",
            "12:memory:/user.slice\n1:name=systemd:/user.slice/user-0.slice/session-1.scope\n",
            // A pod-looking name outside kubepods.
            "0::/user.slice/pod8d1a7e2c-3b4f-4c6d-9e8f-0a1b2c3d4e5f/x\n",
            "0::/user.slice/user-pod8d1a7e2c_3b4f_4c6d_9e8f_0a1b2c3d4e5f.slice\n",
            "0::/system.slice/containerd.service\n",
            // Not a UID.
            "0::/kubepods/burstable/podnotauid/abc\n",
            "",
            "garbage",
        ] {
            assert_eq!(pod_of_cgroup(c), None, "{c}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = pod_of_cgroup(&s);
        }

        #[test]
        fn never_panics_near_the_format(s in "([0-9]{1,2}:[a-z,=]{0,8}:(/(kubepods|kubelet|[a-z-]{0,8}|pod[0-9a-f_-]{0,36})(\\.slice|\\.scope)?){0,5}\n){0,3}") {
            let _ = pod_of_cgroup(&s);
        }
    }
}
