#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the project's real fixtures, shipped
config files and recordings (run from anywhere; writes fuzz/seeds/<target>/).

The committed corpora (fuzz/corpus/<target>/) are these seeds plus what fuzzing found,
minimised with `cargo fuzz cmin`. Needs PyYAML and the zstd command-line tool."""

import hashlib, json, os, re, shutil, struct, subprocess, sys
import yaml

FUZZ = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(FUZZ)
REAL = os.path.join(ROOT, "tests", "fixtures", "real")
OUT = os.path.join(FUZZ, "seeds")
SEP = b"\x1e"


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def real(sub):
    d = os.path.join(REAL, sub)
    return [os.path.join(d, n) for n in sorted(os.listdir(d)) if n != "SOURCES.md"]


def yaml_docs(path):
    try:
        return [d for d in yaml.safe_load_all(read(path)) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []


def walk_strings(v, key):
    """Every string value of `key` anywhere in a parsed document."""
    if isinstance(v, dict):
        for k, x in v.items():
            if k == key and isinstance(x, str):
                yield x
            else:
                yield from walk_strings(x, key)
    elif isinstance(v, list):
        for x in v:
            yield from walk_strings(x, key)


if os.path.isdir(OUT):
    shutil.rmtree(OUT)

# --- metrics: Prometheus text, collector / Fluent Bit / remote-write self-metrics, DCGM
scrapes = real("otel") + real("prometheus") + real("fluentbit")
dcgm = [p for p in real("gpu") if "dcgm-exporter" in p and p.endswith(".txt")]
for p in scrapes + dcgm:
    put("prometheus_text", read(p))
for p in scrapes:
    body = read(p)
    put("pipelines", b"\x0f" + body)
    put("pipelines", b"\x0f" + body + b"\x00" + body)
for p in dcgm:
    put("dcgm", read(p))

# --- denial messages: the real corpus, Kyverno / Gatekeeper event and condition messages
messages = []
for line in read(REAL, "denials", "denials.jsonl").decode().splitlines():
    if line.strip():
        messages.append(json.loads(line)["message"])
for sub in ("kyverno", "gatekeeper"):
    for p in real(sub):
        if p.endswith(".yaml"):
            for doc in yaml_docs(p):
                messages.extend(walk_strings(doc, "message"))
for m in messages:
    put("denial_message", m)

# --- audit log lines: complete ResponseComplete events built around the real messages and
# annotation shapes (no complete real audit line with a known licence exists; see
# tests/fixtures/real/audit/SOURCES.md), as the unit tests build them.
def audit(message, code=403, annotations=None, resource="pods", verb="create"):
    return json.dumps({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": "5e0a6a59-3c1f-4f6e-9d4a-0d3c1b0e7f21", "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/shop/" + resource, "verb": verb,
        "user": {"username": "alice@example.com"},
        "objectRef": {"resource": resource, "namespace": "shop", "name": "web-0", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": code, "message": message},
        "requestReceivedTimestamp": "2024-12-30T10:15:03.120315Z",
        "stageTimestamp": "2024-12-30T10:15:03.127871Z",
        "annotations": annotations or {},
    }, separators=(",", ":"))

vap = json.dumps([{"message": "failed expression: object.spec.replicas <= 5", "policy": "demo-policy.example.com",
                   "binding": "demo-binding-test.example.com", "expressionIndex": 0,
                   "validationActions": ["Audit"]}])
psa = 'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false'
lines = [audit(m) for m in messages[:6]]
lines.append(audit("", 201, {"validation.policy.admission.k8s.io/validation_failure": vap}))
lines.append(audit("", 201, {"pod-security.kubernetes.io/audit-violations": psa}))
put("audit_log", "\n".join(lines) + "\n")
for l in lines:
    put("audit_log", l + "\n")

# --- Kueue condition and event messages, scheduler FailedScheduling messages
kueue_msgs = []
for p in real("kueue"):
    if p.endswith(".yaml"):
        for doc in yaml_docs(p):
            kueue_msgs.extend(walk_strings(doc, "message"))
    elif p.endswith(".txt"):
        kueue_msgs.extend(l for l in read(p).decode().splitlines() if l and not l.startswith("#"))
kueue_msgs += [
    "couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor h100-80gb, 4 more needed",
    "couldn't assign flavors to pod set main: insufficient quota for cpu in flavor default, request > maximum capacity (24 > 16)",
    "couldn't assign flavors to pod set a: borrowing limit for memory in flavor spot exceeded; couldn't assign flavors to pod set b: flavor h100 doesn't match node affinity",
    "Preempted to accommodate a workload (UID: 0f1e2d3c, JobUID: 9a8b7c6d) due to prioritization in the ClusterQueue; preemptor path: /root/cq-a; preemptee path: /root/cq-b",
    "Previously: Preempted to accommodate a higher priority Workload",
    "LocalQueue user-queue doesn't exist",
]
for m in kueue_msgs:
    put("kueue_message", m)

sched = []
for name in ("events-failedscheduling-insufficient-gpu-excerpts.txt",):
    sched += [l for l in read(REAL, "gpu", name).decode().splitlines() if l and not l.startswith("#")]
sched.append("0/40 nodes are available: 8 node(s) had untolerated taint {nvidia.com/gpu: present}, "
              "32 Insufficient nvidia.com/gpu. preemption: 0/40 nodes are available: 8 Preemption is not "
              "helpful for scheduling, 32 No preemption victims found for incoming pod..")
for m in sched:
    put("failed_scheduling", m)

# --- cgroup files of GPU processes (the shapes of src/sources/parse/cgroup.rs's tests)
uid = "0125ec2f-b64a-4868-8f5b-94b56cbab864"
uid_ = uid.replace("-", "_")
cid = "ee4b20e90ac7f42a10bd004d05646b13d8ab5e2c5e7cbc01abf8006bac016459"
for c in [
    f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/cri-containerd-{cid}.scope\n",
    f"0::/kubepods.slice/kubepods-pod{uid_}.slice/crio-conmon-{cid}.scope\n",
    "".join(f"{i}:{c}:/kubepods/burstable/pod{uid}/{cid}\n" for i, c in [(11, "memory"), (10, "cpu,cpuacct"), (1, "name=systemd")]),
    f"0::/system.slice/docker-node.scope/kubepods/burstable/pod{uid}/{cid}\n",
    f"0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod{uid_}.slice/cri-containerd-{cid}.scope\n",
    f"11:perf_event:/kubepods-besteffort-pod{uid_}.slice:cri-containerd:{cid}\n",
    "0::/system.slice/containerd.service\n",
]:
    put("cgroup", c)

# --- configuration: the shipped themes and keymaps, the invalid-config tests, README examples
for n in sorted(os.listdir(os.path.join(ROOT, "themes"))):
    put("theme_toml", read(ROOT, "themes", n))
for n in sorted(os.listdir(os.path.join(ROOT, "keymaps"))):
    put("keymap_toml", read(ROOT, "keymaps", n))
invalid = os.path.join(ROOT, "tests", "invalid_configs")
for n in sorted(os.listdir(invalid)):
    if n.endswith(".toml"):
        put({"config": "config_toml", "theme": "theme_toml", "keymap": "keymap_toml"}[n.split("_")[0]], read(invalid, n))
readme = read(ROOT, "README.md").decode()
blocks = re.findall(r"```toml\n(.*?)```", readme, re.S)
for b in blocks:
    b = "\n".join(l[2:] if l.startswith("  ") else l for l in b.splitlines()) + "\n"
    if "[[cluster]]" in b:
        put("fleet_file", b)
    elif "[[bindings]]" in b:
        put("keymap_toml", b)
    elif "[styles]" in b or "[palette]" in b:
        put("theme_toml", b)
    else:
        put("config_toml", b)
put("config_toml", 'theme = "light"\nkeymap = "vim"\n[prices]\nh100 = 3.10\n"a100-spot" = 1.2\ndefault = 1.5\n')
put("fleet_file", '[[cluster]]\ncontext = "staging"\n[[cluster]]\ncontext = "prod-eu"\nlabels = { env = "prod", region = "eu" }\n')

# --- times and lengths people type
for s in ["12m", "+1h5m30s", "90s", "14:12", "14:12:30", "2026-11-27T14:20:00Z", "24h", "7d", "1h30m",
          "P1DT2H", "-5m", "0s", "soon", "9999999999999999d", "25:99"]:
    put("durations", s)

# --- Kubernetes objects (YAML fixtures as the JSON a watcher receives)
custom = []
for sub in ("kueue", "kyverno", "openreports", "gatekeeper"):
    for p in real(sub):
        if p.endswith(".yaml"):
            custom += yaml_docs(p)
        elif p.endswith(".json"):
            put("k8s_custom", read(p))
core = [d for d in custom if d.get("kind") == "Event"]
custom = [d for d in custom if d.get("kind") != "Event"]
for d in custom:
    put("k8s_custom", json.dumps(d, default=str))
put("k8s_custom", json.dumps(custom[:8], default=str))
for p in real("gpu"):
    if p.endswith(".yaml"):
        core += yaml_docs(p)
core.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "train-0", "namespace": "ml", "labels": {"team": "vision"}},
             "spec": {"containers": [{"name": "t", "resources": {"limits": {"nvidia.com/gpu": "4"}}}]},
             "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": sched[0]}]}})
core.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy", "labels": {
    "pod-security.kubernetes.io/enforce": "privileged", "team": "infra"}}})
for d in core:
    put("k8s_core", json.dumps(d, default=str))

# --- recordings: whole small files, and prefixes of the frozen demos cut at frame ends
def frames(data):
    (n,) = struct.unpack_from("<I", data, 12)
    header = data[16:16 + n]
    pos = 20 + n
    out = []
    while pos + 40 <= len(data):
        kind = data[pos]
        (ln,) = struct.unpack_from("<I", data, pos + 4)
        end = pos + 40 + ln
        if end > len(data):
            break
        out.append((kind, data[pos + 40:end], end))
        pos = end
    return header, out


def unzstd(b):
    return subprocess.run(["zstd", "-dc"], input=b, capture_output=True, check=True).stdout


recordings = [os.path.join(ROOT, "src", "record", "testdata", "v1.0.fleetrec")] + [
    os.path.join(ROOT, "tests", "fixtures", "recordings", f"demo-v1.{m}.fleetrec") for m in (0, 1, 2)]
for path in recordings:
    data = read(path)
    header, fs = frames(data)
    # Whole frames up to about 8 KB (at least the first one).
    cut = [e for (_, _, e) in fs if e <= 8192] or [fs[0][2]]
    put("record_bytes", data[:cut[-1]])
    parts = [header]
    size = 0
    for kind, payload, _ in fs:
        json_text = unzstd(payload)
        if size + len(json_text) > 16384 and len(parts) > 2:
            break
        size += len(json_text)
        parts.append(bytes([0 if kind == 1 else 1]) + json_text)
    put("record_frames", SEP.join(parts))
    put("record_frames", SEP.join(parts[:2]))

for t in sorted(os.listdir(OUT)):
    n = len(os.listdir(os.path.join(OUT, t)))
    size = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in os.listdir(os.path.join(OUT, t)))
    print(f"{t:20} {n:4} seeds {size:8} bytes")
