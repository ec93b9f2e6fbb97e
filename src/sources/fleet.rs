//! Which clusters to watch: kubeconfig contexts chosen by `--context` patterns
//! (`prod-*`, repeatable), `--all-contexts`, or a fleet file (`fleet.toml`) that lists
//! contexts with labels (env, region) and per-cluster options. Pure: the caller reads the
//! kubeconfig (kube-rs merges `KUBECONFIG` as kubectl does) and the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use glob::Pattern;

/// One cluster of the fleet, as selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedCluster {
    /// The kubeconfig context (also the cluster's name in fleettop).
    pub context: String,
    /// Labels from the fleet file (`env = "prod"`).
    pub labels: BTreeMap<String, String>,
    /// API server audit log to tail for this cluster, from the fleet file.
    pub audit_log: Option<PathBuf>,
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
}

/// A parsed fleet file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetFile {
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
/// - else the fleet file's entries;
/// - else the current context.
///
/// Fleet file entries add labels and options to whichever contexts they match (first match wins).
pub fn select(
    available: &[String],
    current: Option<&str>,
    patterns: &[String],
    all: bool,
    fleet: Option<&FleetFile>,
) -> Result<Vec<SelectedCluster>, SelectError> {
    if available.is_empty() {
        return Err(SelectError::NoContexts);
    }
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
        for e in &f.clusters {
            v.extend(matching(available, &e.context)?);
        }
        v
    } else {
        let cur = current.ok_or(SelectError::NoCurrentContext)?;
        let c = available.iter().find(|c| c.as_str() == cur);
        vec![c.ok_or_else(|| SelectError::CurrentContextMissing(cur.to_string()))?]
    };
    // Kubeconfig order, each context once.
    chosen.sort_by_key(|c| available.iter().position(|a| a == *c));
    chosen.dedup();
    chosen.into_iter().map(|c| Ok(decorate(c, fleet))).collect()
}

fn decorate(context: &str, fleet: Option<&FleetFile>) -> SelectedCluster {
    let entry = fleet.and_then(|f| {
        f.clusters.iter().find(|e| Pattern::new(&e.context).map(|p| p.matches(context)).unwrap_or(false))
    });
    SelectedCluster {
        context: context.to_string(),
        labels: entry.map(|e| e.labels.clone()).unwrap_or_default(),
        audit_log: entry.and_then(|e| e.audit_log.clone()),
    }
}

/// Parses a fleet file. A bad entry is skipped with a warning that names the file, the entry
/// and the key; the other entries are kept. A file that is not TOML is an error.
pub fn parse_fleet_file(path: &Path, text: &str) -> Result<(FleetFile, Vec<String>), String> {
    let table: toml::Table =
        text.parse().map_err(|e| format!("{}: not a fleet file: {e}", path.display()))?;
    let mut warnings = Vec::new();
    let mut file = FleetFile::default();
    for (key, value) in &table {
        if key != "cluster" {
            warnings.push(format!("{}: unknown key {key:?} (expected [[cluster]] entries)", path.display()));
            continue;
        }
        let Some(entries) = value.as_array() else {
            warnings.push(format!("{}: cluster must be an array of tables ([[cluster]])", path.display()));
            continue;
        };
        for (i, entry) in entries.iter().enumerate() {
            match parse_entry(entry) {
                Ok((e, mut w)) => {
                    warnings.extend(w.drain(..).map(|m| format!("{}: cluster[{i}]: {m}", path.display())));
                    file.clusters.push(e);
                }
                Err(m) => warnings.push(format!("{}: cluster[{i}] skipped: {m}", path.display())),
            }
        }
    }
    Ok((file, warnings))
}

fn parse_entry(v: &toml::Value) -> Result<(FleetEntry, Vec<String>), String> {
    let t = v.as_table().ok_or("expected a table")?;
    let context = match t.get("context") {
        Some(toml::Value::String(s)) if !s.is_empty() => s.clone(),
        Some(other) => return Err(format!("context = {other}: expected a context name or pattern")),
        None => return Err("no context".into()),
    };
    pattern(&context).map_err(|e| e.to_string())?;
    let mut warnings = Vec::new();
    let mut labels = BTreeMap::new();
    if let Some(l) = t.get("labels") {
        match l.as_table() {
            Some(lt) => {
                for (k, v) in lt {
                    match v.as_str() {
                        Some(s) => {
                            labels.insert(k.clone(), s.to_string());
                        }
                        None => warnings.push(format!("labels.{k} = {v}: expected a string; ignored")),
                    }
                }
            }
            None => warnings.push(format!("labels = {l}: expected a table; ignored")),
        }
    }
    let audit_log = match t.get("audit_log") {
        Some(toml::Value::String(s)) => Some(PathBuf::from(s)),
        Some(other) => {
            warnings.push(format!("audit_log = {other}: expected a file path; ignored"));
            None
        }
        None => None,
    };
    for k in t.keys().filter(|k| !matches!(k.as_str(), "context" | "labels" | "audit_log")) {
        warnings.push(format!("unknown key {k:?}; ignored"));
    }
    Ok((FleetEntry { context, labels, audit_log }, warnings))
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
        let s = select(&ctx(), Some("staging-eu"), &[], false, None).unwrap();
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
        let s = select(&ctx(), Some("kind-dev"), &pats, false, None).unwrap();
        assert_eq!(names(&s), ["prod-eu-1", "prod-us-1", "staging-eu"]);
        let s = select(&ctx(), None, &[], true, None).unwrap();
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
        let s = select(&ctx(), Some("kind-dev"), &[], false, Some(&f)).unwrap();
        assert_eq!(names(&s), ["prod-eu-1", "prod-us-1", "staging-eu"]);
        assert_eq!(s[0].labels["env"], "prod");
        assert_eq!(s[0].audit_log.as_deref(), Some(Path::new("/var/log/audit.log")));
        assert_eq!(s[2].labels["env"], "staging");
        // --context narrows the fleet; the file still labels what it matches.
        let s = select(&ctx(), None, &["prod-us-1".to_string()], false, Some(&f)).unwrap();
        assert_eq!(names(&s), ["prod-us-1"]);
        assert_eq!(s[0].labels["env"], "prod");
    }

    #[test]
    fn a_file_that_is_not_toml_is_an_error_with_its_name() {
        let e = parse_fleet_file(Path::new("/etc/fleet.toml"), "[[cluster]\ncontext=").unwrap_err();
        assert!(e.contains("/etc/fleet.toml"), "{e}");
    }
}
