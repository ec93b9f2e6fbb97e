//! Which clusters to watch: kubeconfig contexts chosen by `--context` patterns
//! (`prod-*`, repeatable), `--all-contexts`, or a fleet file (`fleet.toml`) that lists
//! contexts with labels (env, region) and per-cluster options. Pure: the caller reads the
//! kubeconfig (kube-rs merges `KUBECONFIG` as kubectl does) and the file.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use glob::Pattern;
use toml::Spanned;
use toml::de::DeValue;

use crate::ui::config::{ConfigWarning, Source};

use super::kubernetes::scrape::{Target, TargetKind, Via};

/// One cluster of the fleet, as selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedCluster {
    /// The kubeconfig context (also the cluster's name in fleettop).
    pub context: String,
    /// Labels from the fleet file (`env = "prod"`).
    pub labels: BTreeMap<String, String>,
    /// API server audit log to tail for this cluster, from the fleet file.
    pub audit_log: Option<PathBuf>,
    /// Services and URLs to scrape in this cluster (`[[cluster.scrape]]`).
    pub scrape: Vec<Target>,
}

/// One `[[cluster]]` entry of a fleet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetEntry {
    /// A context name or a pattern (`prod-*`).
    pub context: String,
    /// Labels for every matching context.
    pub labels: BTreeMap<String, String>,
    /// Audit log file for the matching context.
    pub audit_log: Option<PathBuf>,
    /// Services and URLs to scrape in the matching contexts.
    pub scrape: Vec<Target>,
    /// 1-based line of the entry in its file (for warnings).
    pub line: usize,
}

/// A parsed fleet file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetFile {
    /// Where it was read from (for warnings).
    pub path: PathBuf,
    /// Entries in file order.
    pub clusters: Vec<FleetEntry>,
}

/// Why no cluster could be selected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// The kubeconfig has no contexts at all.
    #[error("the kubeconfig has no contexts")]
    NoContexts,
    /// Nothing asked for a context and the kubeconfig has no current context.
    #[error("the kubeconfig has no current context: use --context NAME, --all-contexts or a fleet file")]
    NoCurrentContext,
    /// The current context names a context that does not exist.
    #[error("the current context {0:?} is not among the kubeconfig's contexts")]
    CurrentContextMissing(String),
    /// A pattern is not a valid glob.
    #[error("--context {pattern:?} is not a valid pattern: {reason}")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A pattern matched no context.
    #[error("no context matches {pattern:?}; the kubeconfig has: {available}")]
    NoMatch {
        /// The pattern.
        pattern: String,
        /// The available contexts, comma separated.
        available: String,
    },
    /// No entry of a fleet file matched a context (each one is also a warning).
    #[error("no entry of the fleet file {file} matches a context; the kubeconfig has: {available}")]
    FleetMatchesNothing {
        /// The fleet file.
        file: String,
        /// The available contexts, comma separated.
        available: String,
    },
}

/// The clusters chosen, and warnings about fleet file entries that chose none
/// (`fleet.toml:7: cluster[1] "prdo-*" matches no context; skipped`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The clusters, in kubeconfig order, each once.
    pub clusters: Vec<SelectedCluster>,
    /// One per fleet file entry that matched nothing.
    pub warnings: Vec<String>,
}

fn pattern(p: &str) -> Result<Pattern, SelectError> {
    Pattern::new(p).map_err(|e| SelectError::BadPattern { pattern: p.to_string(), reason: e.msg.to_string() })
}

/// Contexts of `available` (kubeconfig order) matching `p`; an error when none does.
fn matching<'a>(available: &'a [String], p: &str) -> Result<Vec<&'a String>, SelectError> {
    let pat = pattern(p)?;
    let found: Vec<&String> = available.iter().filter(|c| pat.matches(c)).collect();
    if found.is_empty() {
        return Err(SelectError::NoMatch { pattern: p.to_string(), available: available.join(", ") });
    }
    Ok(found)
}

/// Chooses the clusters to watch, in kubeconfig order, each once.
///
/// - `all`: every context;
/// - else `patterns` (from `--context`): every context matching any of them (each pattern must
///   match something, so a typo is an error rather than a silently smaller fleet);
/// - else the fleet file's entries: an entry that matches no context is skipped with a warning
///   naming its file and line (the README's promise for bad entries); only a file none of whose
///   entries matches is an error;
/// - else the current context.
///
/// Fleet file entries add labels and options to whichever contexts they match (first match wins).
pub fn select(
    available: &[String],
    current: Option<&str>,
    patterns: &[String],
    all: bool,
    fleet: Option<&FleetFile>,
) -> Result<Selection, SelectError> {
    if available.is_empty() {
        return Err(SelectError::NoContexts);
    }
    let mut warnings = Vec::new();
    let mut chosen: Vec<&String> = if all {
        available.iter().collect()
    } else if !patterns.is_empty() {
        let mut v = Vec::new();
        for p in patterns {
            v.extend(matching(available, p)?);
        }
        v
    } else if let Some(f) = fleet.filter(|f| !f.clusters.is_empty()) {
        let mut v = Vec::new();
        for (i, e) in f.clusters.iter().enumerate() {
            match matching(available, &e.context) {
                Ok(found) => v.extend(found),
                Err(err) => warnings.push(
                    ConfigWarning {
                        file: f.path.clone(),
                        line: Some(e.line),
                        key: String::new(),
                        value: String::new(),
                        message: format!("cluster[{i}] skipped: {err}"),
                    }
                    .to_string(),
                ),
            }
        }
        if v.is_empty() {
            return Err(SelectError::FleetMatchesNothing {
                file: f.path.display().to_string(),
                available: available.join(", "),
            });
        }
        v
    } else {
        let cur = current.ok_or(SelectError::NoCurrentContext)?;
        let c = available.iter().find(|c| c.as_str() == cur);
        vec![c.ok_or_else(|| SelectError::CurrentContextMissing(cur.to_string()))?]
    };
    // Kubeconfig order, each context once: positions are looked up once (a fleet of
    // thousands of contexts stays linear).
    let position: std::collections::HashMap<&str, usize> =
        available.iter().enumerate().rev().map(|(i, c)| (c.as_str(), i)).collect();
    chosen.sort_by_key(|c| position.get(c.as_str()).copied());
    chosen.dedup();
    let clusters = chosen.into_iter().map(|c| decorate(c, fleet)).collect();
    Ok(Selection { clusters, warnings })
}

fn decorate(context: &str, fleet: Option<&FleetFile>) -> SelectedCluster {
    let entry = fleet.and_then(|f| {
        f.clusters.iter().find(|e| Pattern::new(&e.context).map(|p| p.matches(context)).unwrap_or(false))
    });
    SelectedCluster {
        context: context.to_string(),
        labels: entry.map(|e| e.labels.clone()).unwrap_or_default(),
        audit_log: entry.and_then(|e| e.audit_log.clone()),
        scrape: entry.map(|e| e.scrape.clone()).unwrap_or_default(),
    }
}

/// Parses a fleet file. A bad entry is skipped with a warning that names the file and line,
/// the entry and the key (`fleet.toml:12: cluster[2] skipped: no context`); the other entries
/// are kept. A file that is not TOML is an error.
pub fn parse_fleet_file(path: &Path, text: &str) -> Result<(FleetFile, Vec<String>), String> {
    let src = Source::new(path, text);
    let table = src.parse().map_err(|mut w| {
        w.message = format!("not a fleet file: {}", w.message.trim_end_matches("; file ignored"));
        w.to_string()
    })?;
    let mut warnings = Vec::new();
    let mut file = FleetFile { path: path.to_path_buf(), clusters: Vec::new() };
    for (key, value) in &table {
        if key.get_ref() != "cluster" {
            let msg = format!("unknown key {:?} (expected [[cluster]] entries)", key.get_ref());
            warnings.push(at(&src, key.span(), msg));
            continue;
        }
        let DeValue::Array(entries) = value.get_ref() else {
            warnings.push(at(&src, key.span(), "cluster must be an array of tables ([[cluster]])"));
            continue;
        };
        for (i, entry) in entries.iter().enumerate() {
            match parse_entry(&src, entry) {
                Ok((e, mut w)) => {
                    w.sort_by_key(|(span, _)| span.start);
                    warnings
                        .extend(w.into_iter().map(|(span, m)| at(&src, span, format!("cluster[{i}]: {m}"))));
                    file.clusters.push(e);
                }
                Err((span, m)) => warnings.push(at(&src, span, format!("cluster[{i}] skipped: {m}"))),
            }
        }
    }
    Ok((file, warnings))
}

/// A warning about the text at `span`, as `file:line: message`.
fn at(src: &Source<'_>, span: Range<usize>, message: impl Into<String>) -> String {
    ConfigWarning {
        file: src.path.to_path_buf(),
        line: Some(src.line(span.start)),
        key: String::new(),
        value: String::new(),
        message: message.into(),
    }
    .to_string()
}

/// A problem in an entry: where, and what.
type Problem = (Range<usize>, String);

/// `key = value` as written, for a warning.
fn written(src: &Source<'_>, key: &str, value: &Spanned<DeValue<'_>>) -> String {
    format!("{key} = {}", src.snippet(value.span()))
}

fn parse_entry(src: &Source<'_>, v: &Spanned<DeValue<'_>>) -> Result<(FleetEntry, Vec<Problem>), Problem> {
    let DeValue::Table(t) = v.get_ref() else {
        return Err((v.span(), "expected a table".into()));
    };
    let line = src.line(v.span().start);
    let context = match t.get("context") {
        Some(c) => match c.get_ref().as_str() {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => {
                let msg = format!("{}: expected a context name or pattern", written(src, "context", c));
                return Err((c.span(), msg));
            }
        },
        None => return Err((v.span(), "no context".into())),
    };
    if let Err(e) = pattern(&context) {
        return Err((t.get("context").map_or(v.span(), Spanned::span), e.to_string()));
    }
    let mut warnings = Vec::new();
    let mut labels = BTreeMap::new();
    if let Some(l) = t.get("labels") {
        match l.get_ref() {
            DeValue::Table(lt) => {
                for (k, v) in lt {
                    match v.get_ref().as_str() {
                        Some(s) => {
                            labels.insert(k.get_ref().to_string(), s.to_string());
                        }
                        None => {
                            let key = format!("labels.{}", k.get_ref());
                            warnings.push((
                                v.span(),
                                format!("{}: expected a string; ignored", written(src, &key, v)),
                            ))
                        }
                    }
                }
            }
            _ => {
                warnings.push((l.span(), format!("{}: expected a table; ignored", written(src, "labels", l))))
            }
        }
    }
    let audit_log = match t.get("audit_log") {
        Some(a) => match a.get_ref().as_str() {
            Some(s) => Some(PathBuf::from(s)),
            None => {
                warnings.push((
                    a.span(),
                    format!("{}: expected a file path; ignored", written(src, "audit_log", a)),
                ));
                None
            }
        },
        None => None,
    };
    let mut scrape = Vec::new();
    if let Some(s) = t.get("scrape") {
        match s.get_ref() {
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    match scrape_target(src, item) {
                        Ok(target) => scrape.push(target),
                        Err((span, m)) => warnings.push((span, format!("scrape[{i}] skipped: {m}"))),
                    }
                }
            }
            _ => warnings.push((
                s.span(),
                format!("{}: expected [[cluster.scrape]] tables; ignored", written(src, "scrape", s)),
            )),
        }
    }
    for (k, _) in t
        .iter()
        .filter(|(k, _)| !matches!(k.get_ref().as_ref(), "context" | "labels" | "audit_log" | "scrape"))
    {
        warnings.push((k.span(), format!("unknown key {:?}; ignored", k.get_ref())));
    }
    Ok((FleetEntry { context, labels, audit_log, scrape, line }, warnings))
}

/// One `[[cluster.scrape]]` table: a `kind` and either `service = "namespace/name[:port]"`
/// (through the API server's service proxy) or `url = "http://…"` (read from this machine),
/// with an optional `path` (a Service's; the kind's usual one by default) and `name` (a
/// URL's, shown as its workload; its host and port by default).
fn scrape_target(src: &Source<'_>, v: &Spanned<DeValue<'_>>) -> Result<Target, Problem> {
    let DeValue::Table(t) = v.get_ref() else {
        return Err((v.span(), "expected a table".into()));
    };
    // Where a key is written (the table's header when it is not).
    let at = |key: &str| t.get(key).map_or(v.span(), Spanned::span);
    let text = |key: &str| -> Result<Option<&str>, Problem> {
        match t.get(key) {
            None => Ok(None),
            Some(s) => match s.get_ref().as_str() {
                Some(s) if !s.trim().is_empty() => Ok(Some(s.trim())),
                _ => Err((s.span(), format!("{}: expected a non-empty string", written(src, key, s)))),
            },
        }
    };
    if let Some((k, _)) =
        t.iter().find(|(k, _)| !matches!(k.get_ref().as_ref(), "kind" | "service" | "url" | "path" | "name"))
    {
        return Err((k.span(), format!("unknown key {:?}", k.get_ref())));
    }
    let kind_name =
        text("kind")?.ok_or_else(|| (v.span(), format!("no kind (one of: {})", TargetKind::names())))?;
    let kind = TargetKind::from_name(kind_name).ok_or_else(|| {
        (at("kind"), format!("kind = {kind_name:?}: expected one of: {}", TargetKind::names()))
    })?;
    let (default_port, default_path) = kind.defaults();
    let path: &'static str = match text("path")? {
        Some(p) if p.starts_with('/') && !p.contains("..") => Box::leak(p.to_string().into_boxed_str()),
        Some(p) => {
            return Err((at("path"), format!("path = {p:?}: expected an absolute path like \"/metrics\"")));
        }
        None => default_path,
    };
    match (text("service")?, text("url")?) {
        (Some(service), None) => {
            let bad = || (at("service"), format!("service = {service:?}: expected namespace/name[:port]"));
            let (namespace, rest) = service.split_once('/').ok_or_else(bad)?;
            let (name, port) = match rest.split_once(':') {
                Some((name, port)) => (
                    name,
                    port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                        (at("service"), format!("service = {service:?}: {port:?} is not a port number"))
                    })?,
                ),
                None => (rest, default_port),
            };
            if namespace.is_empty() || name.is_empty() || name.contains('/') {
                return Err(bad());
            }
            Ok(Target {
                namespace: namespace.to_string(),
                name: name.to_string(),
                port,
                kind,
                node: None,
                path,
                via: Via::Service,
            })
        }
        (None, Some(_)) if t.contains_key("path") => {
            Err((at("path"), "path is for a service; a URL carries its own path".into()))
        }
        (None, Some(url)) => {
            let bad = || (at("url"), format!("url = {url:?}: expected an http:// or https:// URL"));
            let uri: http::Uri = url.parse().map_err(|_| bad())?;
            // Named by host and port: userinfo (`user:password@`) is a credential, used for
            // the scrape and registered for redaction, never part of a name.
            let authority = match (uri.scheme_str(), uri.authority()) {
                (Some("http" | "https"), Some(a)) => match a.port() {
                    Some(port) => format!("{}:{port}", a.host()),
                    None => a.host().to_string(),
                },
                _ => return Err(bad()),
            };
            crate::sources::kubernetes::credentials::register_userinfo(url);
            let name = text("name")?.map_or(authority, str::to_string);
            Ok(Target {
                namespace: String::new(),
                name,
                port: uri.port_u16().unwrap_or(0),
                kind,
                node: None,
                path,
                via: Via::Url(url.to_string()),
            })
        }
        (Some(_), Some(_)) => Err((at("url"), "both service and url: a target is one or the other".into())),
        (None, None) => Err((v.span(), "neither service nor url".into())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn ctx() -> Vec<String> {
        ["prod-eu-1", "prod-us-1", "staging-eu", "kind-dev"].iter().map(|s| s.to_string()).collect()
    }

    fn names(v: &[SelectedCluster]) -> Vec<&str> {
        v.iter().map(|c| c.context.as_str()).collect()
    }

    #[test]
    fn the_current_context_by_default() {
        let s = select(&ctx(), Some("staging-eu"), &[], false, None).unwrap().clusters;
        assert_eq!(names(&s), ["staging-eu"]);
        assert_eq!(select(&ctx(), None, &[], false, None), Err(SelectError::NoCurrentContext));
        assert!(matches!(
            select(&ctx(), Some("gone"), &[], false, None),
            Err(SelectError::CurrentContextMissing(_))
        ));
        assert_eq!(select(&[], Some("x"), &[], true, None), Err(SelectError::NoContexts));
    }

    #[test]
    fn patterns_select_in_kubeconfig_order_without_duplicates() {
        let pats = vec!["*-eu*".to_string(), "prod-*".to_string()];
        let s = select(&ctx(), Some("kind-dev"), &pats, false, None).unwrap().clusters;
        assert_eq!(names(&s), ["prod-eu-1", "prod-us-1", "staging-eu"]);
        let s = select(&ctx(), None, &[], true, None).unwrap().clusters;
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn a_pattern_that_matches_nothing_is_an_error_naming_the_choices() {
        let e = select(&ctx(), None, &["prdo-*".to_string()], false, None).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("prdo-*") && msg.contains("prod-eu-1, prod-us-1"), "{msg}");
        let e = select(&ctx(), None, &["prod-[".to_string()], false, None).unwrap_err();
        assert!(matches!(e, SelectError::BadPattern { .. }), "{e}");
    }

    #[test]
    fn fleet_file_selects_and_labels() {
        let text = r#"
            [[cluster]]
            context = "prod-*"
            labels = { env = "prod", tier = 1 }
            audit_log = "/var/log/audit.log"

            [[cluster]]
            context = "staging-eu"
            labels = { env = "staging" }
            colour = "blue"

            [[cluster]]
            labels = { env = "lost" }
        "#;
        let (f, warnings) = parse_fleet_file(Path::new("fleet.toml"), text).unwrap();
        assert_eq!(f.clusters.len(), 2, "the entry without a context is skipped");
        assert!(
            warnings.iter().any(|w| w.contains("cluster[0]") && w.contains("labels.tier = 1")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.contains("cluster[1]") && w.contains("\"colour\"")),
            "{warnings:?}"
        );
        assert!(warnings.iter().any(|w| w.contains("cluster[2] skipped: no context")), "{warnings:?}");
        let s = select(&ctx(), Some("kind-dev"), &[], false, Some(&f)).unwrap().clusters;
        assert_eq!(names(&s), ["prod-eu-1", "prod-us-1", "staging-eu"]);
        assert_eq!(s[0].labels["env"], "prod");
        assert_eq!(s[0].audit_log.as_deref(), Some(Path::new("/var/log/audit.log")));
        assert_eq!(s[2].labels["env"], "staging");
        // --context narrows the fleet; the file still labels what it matches.
        let s = select(&ctx(), None, &["prod-us-1".to_string()], false, Some(&f)).unwrap().clusters;
        assert_eq!(names(&s), ["prod-us-1"]);
        assert_eq!(s[0].labels["env"], "prod");
    }

    /// An entry that matches no context is skipped with a warning naming its line, as the README
    /// promises for bad entries, and the rest of the fleet is watched; every fleet file warning
    /// says `file:line`. Only a file whose entries all match nothing is an error.
    #[test]
    fn an_unmatched_entry_is_skipped_with_a_warning_naming_file_and_line() {
        let text = "\
# the fleet
[[cluster]]
context = \"prod-eu-1\"
labels = { env = \"prod\", tier = 1 }

[[cluster]]
context = \"prdo-us-*\"

[[cluster]]
context = \"staging-eu\"
colour = \"blue\"

[[cluster.scrape]]
kind = \"jaeger\"
service = \"tracing/jaeger\"

[[cluster]]
labels = { env = \"lost\" }

[[cluster]]
context = 7
";
        let (f, mut warnings) = parse_fleet_file(Path::new("fleet.toml"), text).unwrap();
        let selection = select(&ctx(), Some("kind-dev"), &[], false, Some(&f)).unwrap();
        assert_eq!(names(&selection.clusters), ["prod-eu-1", "staging-eu"]);
        warnings.extend(selection.warnings);
        assert_eq!(
            warnings,
            [
                "fleet.toml:4: cluster[0]: labels.tier = 1: expected a string; ignored",
                "fleet.toml:11: cluster[2]: unknown key \"colour\"; ignored",
                "fleet.toml:14: cluster[2]: scrape[0] skipped: kind = \"jaeger\": expected one of: \
                 collector, prometheus, fluent-bit, dcgm",
                "fleet.toml:17: cluster[3] skipped: no context",
                "fleet.toml:21: cluster[4] skipped: context = 7: expected a context name or pattern",
                "fleet.toml:6: cluster[1] skipped: no context matches \"prdo-us-*\"; the kubeconfig has: \
                 prod-eu-1, prod-us-1, staging-eu, kind-dev",
            ]
        );
        // Nothing at all matching is still an error, naming the file.
        let (f, _) = parse_fleet_file(Path::new("fleet.toml"), "[[cluster]]\ncontext = \"nope\"\n").unwrap();
        let e = select(&ctx(), None, &[], false, Some(&f)).unwrap_err();
        assert!(matches!(e, SelectError::FleetMatchesNothing { .. }), "{e}");
        assert!(e.to_string().contains("fleet.toml"), "{e}");
    }

    #[test]
    fn scrape_entries_name_services_and_urls_and_bad_ones_are_skipped_with_a_warning() {
        let text = r#"
            [[cluster]]
            context = "prod-eu-1"

            [[cluster.scrape]]
            kind = "collector"
            service = "monitoring/otel-gateway:8889"

            [[cluster.scrape]]
            kind = "prometheus"
            service = "monitoring/prometheus-k8s"

            [[cluster.scrape]]
            kind = "fluent-bit"
            url = "http://10.0.3.7:2020/api/v1/metrics/prometheus"
            name = "edge-logs"

            [[cluster.scrape]]
            kind = "collector"
            url = "https://otel.example.com/metrics"

            [[cluster.scrape]]
            kind = "jaeger"
            service = "tracing/jaeger"

            [[cluster.scrape]]
            kind = "collector"
            service = "otel-gateway"

            [[cluster.scrape]]
            kind = "collector"
            service = "monitoring/otel:x"

            [[cluster.scrape]]
            kind = "collector"
            url = "10.0.3.7:8888/metrics"

            [[cluster.scrape]]
            kind = "collector"
            service = "monitoring/otel"
            url = "http://10.0.3.7:8888/metrics"

            [[cluster.scrape]]
            kind = "collector"
            url = "http://10.0.3.7:8888/metrics"
            path = "/other"
        "#;
        let (f, warnings) = parse_fleet_file(Path::new("fleet.toml"), text).unwrap();
        let targets = &f.clusters[0].scrape;
        assert_eq!(targets.len(), 4, "{warnings:#?}");
        let t = &targets[0];
        assert_eq!(
            (t.kind, t.via.clone(), t.port, t.path),
            (TargetKind::Collector, Via::Service, 8889, "/metrics")
        );
        assert_eq!(t.proxy_path(), "/api/v1/namespaces/monitoring/services/otel-gateway:8889/proxy/metrics");
        assert_eq!(
            (targets[1].port, targets[1].workload().as_str()),
            (9090, "monitoring/service/prometheus-k8s")
        );
        let t = &targets[2];
        assert_eq!(t.via, Via::Url("http://10.0.3.7:2020/api/v1/metrics/prometheus".into()));
        assert_eq!(t.workload(), "edge-logs");
        assert_eq!(targets[3].workload(), "otel.example.com", "a URL is named by its host by default");
        let skipped: Vec<&String> = warnings.iter().filter(|w| w.contains("skipped")).collect();
        assert_eq!(skipped.len(), 6, "{warnings:#?}");
        for (i, why) in [
            (4, "jaeger"),
            (5, "namespace/name"),
            (6, "not a port"),
            (7, "http://"),
            (8, "both"),
            (9, "its own path"),
        ] {
            assert!(
                warnings.iter().any(|w| w.contains(&format!("scrape[{i}] skipped")) && w.contains(why)),
                "scrape[{i}]: {why}: {warnings:#?}"
            );
        }
        let s = select(&ctx(), None, &[], false, Some(&f)).unwrap().clusters;
        assert_eq!(s[0].scrape.len(), 4, "the selected cluster carries its targets");
    }

    #[test]
    fn a_file_that_is_not_toml_is_an_error_with_its_name() {
        let e = parse_fleet_file(Path::new("/etc/fleet.toml"), "[[cluster]\ncontext=").unwrap_err();
        assert!(e.starts_with("/etc/fleet.toml:1: not a fleet file: invalid TOML"), "{e}");
    }

    /// Fleet-file-like text: `[[cluster]]` and `[[cluster.scrape]]` headers and keys the parser
    /// reads, with values of every TOML type.
    fn fleet_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let header =
            prop_oneof![Just("[[cluster]]"), Just("[[cluster.scrape]]"), Just("[cluster]"), Just("[x]")];
        let key = prop_oneof![
            Just("context"),
            Just("labels"),
            Just("audit_log"),
            Just("kind"),
            Just("service"),
            Just("url"),
            Just("path"),
            Just("name"),
            Just("port"),
        ];
        let value = prop_oneof![
            "\"[a-z*?\\[\\]!/:.0-9-]{0,16}\"",
            Just("\"http://u:p@10.0.0.1:9090/metrics\"".to_string()),
            Just("{ env = \"prod\", n = 3 }".to_string()),
            Just("[1, \"a\"]".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            Just("true".to_string()),
        ];
        let line =
            prop_oneof![header.prop_map(String::from), (key, value).prop_map(|(k, v)| format!("{k} = {v}"))];
        proptest::collection::vec(line, 0..16).prop_map(|l| l.join("\n"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// No fleet file panics the parser or the selection through it, and every warning
        /// names its line.
        #[test]
        fn arbitrary_fleet_files_never_panic(text in fleet_text(), noise in ".{0,64}") {
            for t in [text.clone(), format!("{text}\n{noise}"), noise.clone()] {
                if let Ok((f, mut warnings)) = parse_fleet_file(Path::new("fleet.toml"), &t) {
                    if let Ok(s) = select(&ctx(), Some("prod-eu-1"), &[], false, Some(&f)) {
                        warnings.extend(s.warnings);
                    }
                    // Every warning names the file and line: `fleet.toml:12: …`.
                    for w in &warnings {
                        let line = w.strip_prefix("fleet.toml:").and_then(|r| r.split_once(": ")).map(|(n, _)| n);
                        proptest::prop_assert!(
                            line.is_some_and(|n| n.parse::<usize>().is_ok_and(|n| n >= 1)),
                            "{w}"
                        );
                    }
                }
            }
        }
    }
}
