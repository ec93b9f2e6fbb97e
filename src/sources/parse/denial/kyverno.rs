//! Kyverno's messages: the webhook block message (`resource K/ns/n was blocked due to the
//! following policies` + a `policy → rule → message` YAML map), CEL policy results
//! (`Policy <name> failed: <msg>`), and the policy violation Events it records.

use super::text::{quoted, unwrap_lines};
use super::{Finding, Inner};
use crate::model::{Enforcement, Engine, ObjectRef};

/// The header of `GetBlockedMessages` (`pkg/webhooks/utils/block.go`).
const BLOCKED: &str = " was blocked due to the following policies";

/// The block message: header line, then the YAML map. Leading blank lines are skipped.
pub fn block(s: &str) -> Option<Inner> {
    let body = s.trim_start().strip_prefix("resource ")?;
    let (header, map) = body.split_once('\n').unwrap_or((body, ""));
    let object = header.strip_suffix(BLOCKED).or_else(|| header.trim_end().strip_suffix(BLOCKED))?;
    let mut inner = Inner::new(Engine::Kyverno, map);
    inner.object = Some(slash_object(object.trim()));
    inner.findings = policy_map(map);
    Some(inner)
}

/// `Kind/namespace/name` or `Kind/name` (empty namespace means cluster-scoped).
fn slash_object(s: &str) -> ObjectRef {
    let mut parts = s.splitn(3, '/');
    let kind = parts.next().unwrap_or_default().to_string();
    match (parts.next(), parts.next()) {
        (Some(ns), Some(name)) => {
            ObjectRef { kind, namespace: (!ns.is_empty()).then(|| ns.to_string()), name: name.to_string() }
        }
        (Some(name), None) => ObjectRef { kind, namespace: None, name: name.to_string() },
        _ => ObjectRef { kind, namespace: None, name: String::new() },
    }
}

/// A map entry being collected.
struct Entry {
    /// The policy key above it.
    policy: Option<String>,
    /// The rule key; `None` for a stray line that is not `key: value`.
    rule: Option<String>,
    /// Indent of the key: more-indented lines continue the value.
    indent: usize,
    /// The value's lines, trimmed.
    lines: Vec<String>,
    /// The quote of a quoted value that has not closed yet.
    open_quote: Option<char>,
}

impl Entry {
    /// A new entry whose value starts with `value`.
    fn new(policy: Option<String>, rule: Option<String>, indent: usize, value: &str) -> Self {
        let open_quote = match value.chars().next() {
            Some(q @ ('\'' | '"')) if closing_quote(&value[1..], q).is_none() => Some(q),
            _ => None,
        };
        Entry { policy, rule, indent, lines: vec![value.to_string()], open_quote }
    }

    /// True when `text` at `indent` continues this entry's value.
    fn continues(&self, indent: usize, text: &str) -> bool {
        self.open_quote.is_some() || (indent > self.indent && !text.is_empty())
    }

    /// Appends a continuation line. Inside an open quote, a line starts inside the quote, so
    /// scanning the line alone finds the closing quote.
    fn push(&mut self, text: &str) {
        if let Some(q) = self.open_quote
            && closing_quote(text, q).is_some()
        {
            self.open_quote = None;
        }
        self.lines.push(text.to_string());
    }

    /// The finding this entry describes.
    fn finding(self) -> Finding {
        Finding { policy: self.policy, rule: self.rule, message: scalar(&self.lines) }
    }
}

/// Reads the two-level `policy:\n  rule: message` map. Values may be plain, single- or
/// double-quoted, and may continue on more-indented lines (YAML line folding). Text that fits
/// no entry is kept as a finding without a rule rather than dropped.
pub fn policy_map(map: &str) -> Vec<Finding> {
    let mut policy: Option<String> = None;
    let mut entries: Vec<Entry> = Vec::new();
    // A policy key ends the entry before it: lines below it never continue that value.
    let mut closed = true;
    for line in map.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let text = line.trim();
        match entries.last_mut() {
            Some(entry) if !closed && entry.continues(indent, text) => entry.push(text),
            _ if text.is_empty() => {}
            _ if indent == 0 && text.ends_with(':') => {
                policy = Some(unquote_key(&text[..text.len() - 1]));
                closed = true;
            }
            _ => {
                entries.push(map_line(policy.clone(), indent, text));
                closed = false;
            }
        }
    }
    entries.into_iter().map(Entry::finding).collect()
}

/// A `rule: value` line (or `rule:` with the value below), else a stray line kept as text.
fn map_line(policy: Option<String>, indent: usize, text: &str) -> Entry {
    match text.split_once(": ").or_else(|| text.strip_suffix(':').map(|r| (r, ""))) {
        Some((rule, value)) => Entry::new(policy, Some(unquote_key(rule)), indent, value.trim()),
        None => Entry { policy, rule: None, indent, lines: vec![text.to_string()], open_quote: None },
    }
}

/// A map key, with surrounding quotes removed.
fn unquote_key(key: &str) -> String {
    let key = key.trim();
    quoted(key, '\'').or_else(|| quoted(key, '"')).map_or(key, |(k, _)| k).to_string()
}

/// Byte offset of the quote closing a scalar whose body is `body` (after the opening quote):
/// `''` escapes `'` in single quotes, `\` escapes in double quotes.
fn closing_quote(body: &str, quote: char) -> Option<usize> {
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '\'' && c == '\'' {
            if chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
                continue;
            }
            return Some(i);
        }
        if quote == '"' && c == '\\' {
            chars.next();
        } else if quote == '"' && c == '"' {
            return Some(i);
        }
    }
    None
}

/// Folds a scalar's lines (a single line break → space, a blank line → `\n`) and decodes its
/// quoting. An unclosed quote keeps everything after the opening quote.
pub(super) fn scalar(lines: &[String]) -> String {
    let folded = fold(lines);
    let Some(q @ ('\'' | '"')) = folded.chars().next() else {
        return folded.trim().to_string();
    };
    let body = &folded[1..];
    let inside = closing_quote(body, q).map_or(body, |end| &body[..end]);
    if q == '\'' { inside.replace("''", "'") } else { unescape_double(inside) }
}

/// YAML line folding of already-trimmed lines.
fn fold(lines: &[String]) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            out.push('\n');
        } else {
            if i > 0 && !out.is_empty() && !out.ends_with('\n') {
                out.push(' ');
            }
            out.push_str(line);
        }
    }
    out
}

/// The common escapes of a double-quoted YAML scalar.
fn unescape_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// `Policy <name> failed: <msg>` — a Kyverno CEL policy (ValidatingPolicy, …) result.
pub fn cel(s: &str) -> Option<Inner> {
    let body = s.trim_start().strip_prefix("Policy ")?;
    let (name, msg) =
        body.split_once(" failed: ").or_else(|| body.strip_suffix(" failed").map(|n| (n, "")))?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let mut inner = Inner::new(Engine::KyvernoCel, msg);
    inner.findings.push(Finding { policy: Some(name.to_string()), rule: None, message: unwrap_lines(msg) });
    Some(inner)
}

/// Kyverno's PolicyViolation Event messages (`pkg/event`): resource-centric
/// `policy <p>/<rule> fail: <msg>`, policy-centric `<Kind> <ns>/<name>: [<rule>] fail
/// (blocked); <msg>`, and Kyverno 1.7's `Rule(s) '<r>' failed to apply on resource K/ns/n`.
pub fn event(s: &str) -> Option<Inner> {
    resource_event(s).or_else(|| policy_event(s)).or_else(|| legacy_event(s))
}

/// `fail`, `fail (blocked)`, `warn`, `error` → what happened; `None` for other words.
fn result_enforcement(result: &str) -> Option<Enforcement> {
    match result.trim() {
        "fail (blocked)" | "error (blocked)" => Some(Enforcement::Deny),
        "fail" | "error" => Some(Enforcement::Audit),
        "warn" => Some(Enforcement::Warn),
        _ => None,
    }
}

/// `policy <policy>/<rule> <result>: <msg>`; `<policy>` may be `ns/name`.
fn resource_event(s: &str) -> Option<Inner> {
    let body = s.strip_prefix("policy ")?;
    let (path, after) = body.split_once(' ')?;
    let (result, msg) = after.split_once(": ").unwrap_or((after, ""));
    let enforcement = result_enforcement(result)?;
    let (policy, rule) = path.rsplit_once('/')?;
    let mut inner = Inner::new(Engine::Kyverno, msg);
    inner.enforcement = enforcement;
    inner.findings.push(Finding {
        policy: Some(policy.to_string()),
        rule: Some(rule.to_string()),
        message: unwrap_lines(msg),
    });
    Some(inner)
}

/// `<Kind> [<ns>/]<name>: [[<rule>] ]<result>[; <msg>]` — the policy is the Event's
/// involvedObject, not in the text.
fn policy_event(s: &str) -> Option<Inner> {
    let (kind, after) = s.split_once(' ')?;
    if !kind.chars().next().is_some_and(char::is_uppercase) || !kind.chars().all(char::is_alphanumeric) {
        return None;
    }
    let (object, after) = after.split_once(": ")?;
    let (rule, after) = match after.strip_prefix('[').and_then(|a| a.split_once("] ")) {
        Some((rule, rest)) => (Some(rule.to_string()), rest),
        None => (None, after),
    };
    let (result, msg) = after.split_once("; ").unwrap_or((after, ""));
    let enforcement = result_enforcement(result)?;
    let mut inner = Inner::new(Engine::Kyverno, msg);
    inner.enforcement = enforcement;
    inner.object = Some(slash_object(&format!("{kind}/{object}")));
    inner.findings.push(Finding { policy: None, rule, message: unwrap_lines(msg) });
    Some(inner)
}

/// `Rule(s) '<rules>' failed to apply on resource <Kind>/<ns>/<name>` (Kyverno 1.7).
fn legacy_event(s: &str) -> Option<Inner> {
    let (rules, after) = quoted(s.strip_prefix("Rule(s) ")?, '\'')?;
    let object = after.strip_prefix(" failed to apply on resource ")?;
    let mut inner = Inner::new(Engine::Kyverno, s);
    inner.object = Some(slash_object(object.trim()));
    inner.findings = rules
        .split(',')
        .map(|r| Finding { policy: None, rule: Some(r.trim().to_string()), message: s.trim().to_string() })
        .collect();
    Some(inner)
}
