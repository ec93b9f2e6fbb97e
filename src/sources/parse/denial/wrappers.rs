//! The prefixes controllers, the event recorder, the apiserver and clients put around an
//! admission message, peeled off one at a time.

use super::text::{kind_for_resource, quoted};
use crate::model::ObjectRef;

/// One prefix peeled off a denial message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrapper {
    /// `(combined from similar events): ` — the event recorder merged similar events.
    Combined,
    /// `Error creating: ` — a controller's FailedCreate (ReplicaSet, Job, DaemonSet).
    ControllerCreate,
    /// `Error from server (<reason>): ` — kubectl; `reason` is the status reason (`Forbidden`)
    /// or, for unknown reasons, the message itself. `None` for `Error from server: `.
    ClientError {
        /// The parenthesised reason.
        reason: Option<String>,
    },
    /// `error when <verb> "<file>": ` — kubectl apply/create of a file.
    ClientFile {
        /// `creating`, `replacing`, …
        verb: String,
        /// The manifest path, URL or `STDIN`.
        file: String,
    },
    /// `error: failed to create <what>: ` — `kubectl create <what>`.
    ClientCreate {
        /// What kubectl tried to create (`deployment`).
        what: String,
    },
    /// `create Pod <pod> in StatefulSet <set> failed error: ` — the StatefulSet controller.
    StatefulSetCreate {
        /// The pod's name.
        pod: String,
        /// The StatefulSet's name.
        statefulset: String,
    },
    /// `<resource>[.<group>] "<name>" is forbidden: ` — the apiserver's 403 wrapper.
    Forbidden(ResourceName),
    /// `[The ]<resource>[.<group>] "<name>" is invalid: ` — the apiserver's 422 wrapper.
    Invalid(ResourceName),
    /// `Internal error occurred: ` — a webhook call failed (HTTP 500).
    InternalError,
    /// `Warning: ` — kubectl printing an admission warning; the request went through.
    Warning,
    /// A log line's header: klog (`W1019 21:46:08.520994   43545 warnings.go:70] `), logrus
    /// (`ERRO[0140] `) or a controller-runtime logger (`… KubeAPIWarningLogger … `).
    Log,
    /// The apiserver's own log of a webhook call that failed
    /// (`Failed calling webhook, failing open|closed <name>: `,
    /// `staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook/validating/dispatcher.go`):
    /// `failing_open` means the webhook's failurePolicy is `Ignore`.
    Dispatcher {
        /// True for `failing open` (failurePolicy `Ignore`), false for `failing closed`.
        failing_open: bool,
    },
    /// A deployment tool's prefix, kept verbatim: Helm (`Error: `, `Error: UPGRADE FAILED: `,
    /// `Error: INSTALLATION FAILED: `, Flux's `Helm install failed for release … with chart …: `,
    /// the `N error(s) occurred:` list and its `* ` items), Argo CD (`one or more objects
    /// failed to apply, reason: `, `Failed sync attempt to <rev>: `), a bullet (`* `).
    Tool(String),
    /// Text before a recognised engine message that matched no known wrapper, trimmed.
    Unrecognised(String),
}

/// The resource and name an apiserver wrapper names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceName {
    /// Resource as written (`pods`, `deployments`, `Pod`).
    pub resource: String,
    /// API group after the first `.` (`apps`), when written.
    pub group: Option<String>,
    /// Object name, or a generateName prefix.
    pub name: String,
    /// True when `name` ends in `-`: an older apiserver reported the generateName prefix.
    pub generate_name: bool,
}

/// A message with its wrappers peeled off.
pub struct Peeled<'a> {
    /// Wrappers, outermost first.
    pub wrappers: Vec<Wrapper>,
    /// What is left, with leading whitespace removed.
    pub rest: &'a str,
}

/// Peels every known wrapper off the front of `message`.
pub fn peel(message: &str) -> Peeled<'_> {
    let mut wrappers = Vec::new();
    let mut rest = message.trim_start();
    while let Some((wrapper, next)) = peel_one(rest) {
        if next.len() >= rest.len() {
            break;
        }
        wrappers.push(wrapper);
        rest = next.trim_start();
    }
    Peeled { wrappers, rest }
}

/// Engine messages that may follow text no wrapper rule knows (`Kubeclient::HttpError: …`).
const MARKERS: &[&str] = &[
    "failed calling webhook \"",
    "failed calling admission webhook \"",
    "Validation failed for ValidatingAdmissionPolicy '",
    "ValidatingAdmissionPolicy '",
    "admission webhook \"",
    "would violate PodSecurity \"",
    "violates PodSecurity \"",
    "would violate \"",
    "exceeded quota: ",
    "failed quota: ",
    "Failed quota: ",
];

/// Splits `rest` at the earliest engine marker that is not at its start: the text before it
/// becomes [`Wrapper::Unrecognised`]. `None` when no marker follows other text.
pub fn split_unrecognised(rest: &str) -> Option<(Wrapper, &str)> {
    let at = MARKERS.iter().filter_map(|m| rest.find(m)).min()?;
    let prefix = rest[..at].trim();
    if prefix.is_empty() {
        return None;
    }
    Some((Wrapper::Unrecognised(prefix.to_string()), &rest[at..]))
}

/// The object named by the innermost wrapper that names one.
pub fn object_of(wrappers: &[Wrapper]) -> Option<ObjectRef> {
    wrappers.iter().rev().find_map(|w| match w {
        Wrapper::Forbidden(r) | Wrapper::Invalid(r) => {
            Some(ObjectRef { kind: kind_for_resource(&r.resource), namespace: None, name: r.name.clone() })
        }
        Wrapper::StatefulSetCreate { pod, .. } => {
            Some(ObjectRef { kind: "Pod".to_string(), namespace: None, name: pod.clone() })
        }
        _ => None,
    })
}

/// Peels one wrapper off the front of `s`.
fn peel_one(s: &str) -> Option<(Wrapper, &str)> {
    const FIXED: &[(&str, Wrapper)] = &[
        ("(combined from similar events): ", Wrapper::Combined),
        ("Error creating: ", Wrapper::ControllerCreate),
        ("Internal error occurred: ", Wrapper::InternalError),
        ("Error from server: ", Wrapper::ClientError { reason: None }),
        ("Warning: ", Wrapper::Warning),
    ];
    for (prefix, wrapper) in FIXED {
        if let Some(rest) = s.strip_prefix(prefix) {
            return Some((wrapper.clone(), rest));
        }
    }
    client_error(s)
        .or_else(|| client_file(s))
        .or_else(|| client_create(s))
        .or_else(|| statefulset_create(s))
        .or_else(|| apiserver_wrapper(s))
        .or_else(|| log_header(s))
        .or_else(|| dispatcher(s))
        .or_else(|| tool(s))
}

/// `Error from server (<reason>): `. kubectl puts the status reason (`Forbidden`) in the
/// parentheses, or the whole message when the reason is unknown to it
/// (`Error from server ([ns-must-have-gk] you must provide labels: {"gatekeeper"}): …`,
/// `k8s.io/kubectl/pkg/cmd/util/helpers.go` `StandardErrorMessage`): the split is the `): `
/// after which the message is repeated, else the first one.
fn client_error(s: &str) -> Option<(Wrapper, &str)> {
    let body = s.strip_prefix("Error from server (")?;
    let ends: Vec<usize> = body.match_indices("): ").map(|(i, _)| i).collect();
    let end = ends
        .iter()
        .copied()
        .find(|&e| {
            let reason = body[..e].trim();
            reason.contains(' ') && body[e + 3..].trim_end().ends_with(reason)
        })
        .or_else(|| ends.first().copied())?;
    let reason = Some(body[..end].to_string());
    Some((Wrapper::ClientError { reason }, &body[end + 3..]))
}

/// A log header before the message: klog `Lmmdd hh:mm:ss.uuuuuu threadid file:line] `,
/// logrus `ERRO[0140] ` (with the words after it up to ` : ` or `: `), and a zap/logr
/// console line `<RFC 3339 time> <LEVEL> <logger> <file:line> ` (the controller-runtime
/// `KubeAPIWarningLogger` prints admission warnings this way).
fn log_header(s: &str) -> Option<(Wrapper, &str)> {
    let first = s.chars().next()?;
    if "IWEF".contains(first) && s.as_bytes().get(1..5).is_some_and(|d| d.iter().all(u8::is_ascii_digit)) {
        let end = s.find("] ")?;
        let header = &s[..end];
        if header.contains(':') && !header.contains('\n') {
            return Some((Wrapper::Log, &s[end + 2..]));
        }
    }
    for level in ["ERRO[", "WARN[", "INFO["] {
        if let Some(rest) = s.strip_prefix(level) {
            let end = rest.find("] ")?;
            return Some((Wrapper::Log, &rest[end + 2..]));
        }
    }
    if s.len() > 20 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T' {
        let fields: Vec<&str> = s.splitn(5, char::is_whitespace).filter(|f| !f.is_empty()).collect();
        let mut rest = s;
        for _ in 0..4 {
            rest = rest.trim_start().split_once(char::is_whitespace)?.1;
        }
        if fields.len() >= 4 && fields.get(1).is_some_and(|l| l.chars().all(|c| c.is_ascii_uppercase())) {
            return Some((Wrapper::Log, rest.trim_start()));
        }
    }
    None
}

/// `Failed calling webhook, failing open|closed <name>: ` — the apiserver's log line.
fn dispatcher(s: &str) -> Option<(Wrapper, &str)> {
    let body = s.strip_prefix("Failed calling webhook, failing ")?;
    let (failing_open, body) = match body.strip_prefix("open ") {
        Some(b) => (true, b),
        None => (false, body.strip_prefix("closed ")?),
    };
    let (_, rest) = body.split_once(": ")?;
    Some((Wrapper::Dispatcher { failing_open }, rest))
}

/// Helm, Flux, Argo CD and list-bullet prefixes (see [`Wrapper::Tool`]).
fn tool(s: &str) -> Option<(Wrapper, &str)> {
    const FIXED: &[&str] = &[
        "Error: UPGRADE FAILED: ",
        "Error: INSTALLATION FAILED: ",
        "one or more objects failed to apply, reason: ",
        "* ",
        "Error: ",
    ];
    for prefix in FIXED {
        if let Some(rest) = s.strip_prefix(prefix) {
            return Some((Wrapper::Tool(prefix.trim_end().to_string()), rest));
        }
    }
    let list = s.split_once(" occurred:").filter(|(n, _)| {
        n.strip_suffix(" errors")
            .or_else(|| n.strip_suffix(" error"))
            .is_some_and(|d| d.parse::<u32>().is_ok())
    });
    if let Some((n, rest)) = list {
        return Some((Wrapper::Tool(format!("{n} occurred:")), rest));
    }
    for (start, end) in [
        ("Helm install failed for release ", " with chart "),
        ("Helm upgrade failed for release ", " with chart "),
        ("Failed sync attempt to ", ""),
    ] {
        if let Some(body) = s.strip_prefix(start) {
            let after = if end.is_empty() { body } else { &body[body.find(end)? + end.len()..] };
            let (_, rest) = after.split_once(": ")?;
            let taken = s.len() - rest.len();
            return Some((Wrapper::Tool(s[..taken - 2].to_string()), rest));
        }
    }
    None
}

/// `error when <verb> "<file>": `.
fn client_file(s: &str) -> Option<(Wrapper, &str)> {
    let body = s.strip_prefix("error when ")?;
    let (verb, after) = body.split_once(' ')?;
    let (file, after) = quoted(after, '"')?;
    let rest = after.strip_prefix(": ")?;
    Some((Wrapper::ClientFile { verb: verb.to_string(), file: file.to_string() }, rest))
}

/// `error: failed to create <what>: ` (kubectl) and `Error: failed to create <what>: ` (cobra
/// CLIs such as kubectl plugins).
fn client_create(s: &str) -> Option<(Wrapper, &str)> {
    let body =
        s.strip_prefix("error: failed to create ").or_else(|| s.strip_prefix("Error: failed to create "))?;
    let (what, rest) = body.split_once(": ")?;
    if what.contains(char::is_whitespace) {
        return None;
    }
    Some((Wrapper::ClientCreate { what: what.to_string() }, rest))
}

/// `create Pod <pod> in StatefulSet <set> failed error: `.
fn statefulset_create(s: &str) -> Option<(Wrapper, &str)> {
    let body = s.strip_prefix("create Pod ")?;
    let (pod, after) = body.split_once(" in StatefulSet ")?;
    let (set, rest) = after.split_once(" failed error: ")?;
    if pod.contains(' ') || set.contains(' ') {
        return None;
    }
    Some((Wrapper::StatefulSetCreate { pod: pod.to_string(), statefulset: set.to_string() }, rest))
}

/// `<resource> "<name>" is forbidden: ` and `[The ]<resource> "<name>" is invalid: ` (with the
/// empty field path of `is invalid: : ` dropped too).
fn apiserver_wrapper(s: &str) -> Option<(Wrapper, &str)> {
    let s2 = s.strip_prefix("The ").unwrap_or(s);
    let (resource, after) = s2.split_once(' ')?;
    if resource.is_empty() || !resource.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
        return None;
    }
    let (name, after) = quoted(after, '"')?;
    let target = resource_name(resource, name);
    if let Some(rest) = after.strip_prefix(" is forbidden: ") {
        return Some((Wrapper::Forbidden(target), rest));
    }
    let rest = after.strip_prefix(" is invalid: ")?;
    let rest = rest.strip_prefix(": ").unwrap_or(rest);
    Some((Wrapper::Invalid(target), rest))
}

/// Splits `deployments.apps` into resource and group and notes a generateName prefix.
fn resource_name(resource: &str, name: &str) -> ResourceName {
    let (res, group) = match resource.split_once('.') {
        Some((r, g)) => (r, Some(g.to_string())),
        None => (resource, None),
    };
    ResourceName {
        resource: res.to_string(),
        group,
        name: name.to_string(),
        generate_name: name.ends_with('-'),
    }
}
