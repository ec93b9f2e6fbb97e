//! Small string helpers shared by the denial parsers: quoted names, depth-aware splitting,
//! repair of terminal line wraps, and resource → kind names.

/// Splits `"name" rest` (or `'name' rest` with `quote = '\''`) into the quoted text and what
/// follows the closing quote. `None` when `s` does not start with `quote` or never closes it.
pub fn quoted(s: &str, quote: char) -> Option<(&str, &str)> {
    let body = s.strip_prefix(quote)?;
    let end = body.find(quote)?;
    Some((&body[..end], &body[end + quote.len_utf8()..]))
}

/// Splits `s` at every `sep` that sits outside parentheses, brackets, braces and double
/// quotes. Unbalanced closers never drive the depth below zero, so damaged text still splits.
pub fn split_top_level<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut depth: usize = 0;
    let mut in_quotes = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '(' | '[' | '{' if !in_quotes => depth += 1,
            ')' | ']' | '}' if !in_quotes => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && !in_quotes && i >= start && s[i..].starts_with(sep) {
            parts.push(&s[start..i]);
            start = i + sep.len();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Undoes line wraps a terminal put into pasted text: each line break (with the indentation
/// after it) becomes one space, and the result is trimmed. `Privilege\nescalation` →
/// `Privilege escalation`.
pub fn unwrap_lines(s: &str) -> String {
    s.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The object kind for an API resource name: `pods` → `Pod`, `deployments` → `Deployment`,
/// `networkpolicies` → `NetworkPolicy`, `Pod` → `Pod`. Unknown plurals are singularised by
/// rule and capitalised.
pub fn kind_for_resource(resource: &str) -> String {
    if resource.chars().next().is_some_and(char::is_uppercase) {
        return resource.to_string();
    }
    if let Some(kind) = known_kind(resource) {
        return kind.to_string();
    }
    capitalise(&singular(resource))
}

/// Kinds whose names are not the capitalised singular of their resource.
fn known_kind(resource: &str) -> Option<&'static str> {
    const KINDS: &[(&str, &str)] = &[
        ("replicasets", "ReplicaSet"),
        ("statefulsets", "StatefulSet"),
        ("daemonsets", "DaemonSet"),
        ("cronjobs", "CronJob"),
        ("configmaps", "ConfigMap"),
        ("serviceaccounts", "ServiceAccount"),
        ("persistentvolumeclaims", "PersistentVolumeClaim"),
        ("persistentvolumes", "PersistentVolume"),
        ("networkpolicies", "NetworkPolicy"),
        ("resourcequotas", "ResourceQuota"),
        ("limitranges", "LimitRange"),
        ("rolebindings", "RoleBinding"),
        ("clusterroles", "ClusterRole"),
        ("clusterrolebindings", "ClusterRoleBinding"),
        ("horizontalpodautoscalers", "HorizontalPodAutoscaler"),
        ("poddisruptionbudgets", "PodDisruptionBudget"),
        ("ingresses", "Ingress"),
        ("endpoints", "Endpoints"),
    ];
    KINDS.iter().find(|(r, _)| *r == resource).map(|(_, k)| *k)
}

/// English plural → singular for resource names (`policies` → `policy`, `pods` → `pod`).
fn singular(plural: &str) -> String {
    if let Some(stem) = plural.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for suffix in ["sses", "shes", "ches", "xes"] {
        if plural.ends_with(suffix) {
            return plural[..plural.len() - 2].to_string();
        }
    }
    plural.strip_suffix('s').unwrap_or(plural).to_string()
}

/// Upper-cases the first character.
fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Strips one pair of surrounding parentheses, if the text has them.
pub fn strip_parens(s: &str) -> &str {
    s.strip_prefix('(').and_then(|t| t.strip_suffix(')')).unwrap_or(s)
}
