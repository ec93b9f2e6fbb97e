//! Kyverno's messages: the webhook block message (`resource K/ns/n was blocked due to the
//! following policies` + a `policy → rule → message` YAML map), CEL policy results
//! (`Policy <name> failed: <msg>`), and the policy violation Events it records.

use super::text::{quoted, unwrap_lines};
use super::{Finding, Inner};
use crate::model::{Enforcement, Engine, ObjectRef};

/// The block header of Kyverno 1.3–1.7 and 1.10+ (`pkg/webhooks/common.go`
/// `getEnforceFailureErrorMsg` up to v1.7, `pkg/webhooks/utils/block.go` `GetBlockedMessages`
/// from v1.10: `\n\nresource %s was blocked due to the following policies \n\n%s`, the
/// trailing space from v1.10; docs also show a `:` after it).
const BLOCKED: &str = "was blocked due to the following policies";

/// The block message: a header naming the object, then the `policy → rule → message` map
/// (`yaml.Marshal` of `map[string]map[string]string`: keys sorted, values quoted or folded as
/// YAML needs). Two headers: `resource <K/ns/n> was blocked due to the following policies`
/// (1.3–1.7, 1.10–1.16) and `policy <K/ns/n> for resource violation[s]|error[s]: ` (1.8–1.9,
/// `GetBlockedMessages` with `getAction`). The map may follow on the next lines (as sent) or on
/// the same line when newlines were collapsed (`kubectl describe`, log shippers, CI output):
/// `… policies POLICY: RULE: 'message'`. Leading blank lines are skipped.
pub fn block(s: &str) -> Option<Inner> {
    let s = s.trim_start();
    let (object, map) = if let Some(body) = s.strip_prefix("resource") {
        let at = body.find(BLOCKED)?;
        let object = body[..at].trim();
        let rest = &body[at + BLOCKED.len()..];
        (object, rest.trim_start_matches([' ', ':']))
    } else {
        let body = s.strip_prefix("policy ")?;
        let (object, after) = body.split_once(" for resource ")?;
        let (action, rest) = after.split_once(':')?;
        if !matches!(action.trim(), "violation" | "violations" | "error" | "errors") {
            return None;
        }
        (object.trim(), rest.trim_start_matches(' '))
    };
    if object.is_empty() || object.contains(char::is_whitespace) {
        return None;
    }
    let mut inner = Inner::new(Engine::Kyverno, map);
    inner.object = Some(slash_object(object));
    inner.findings =
        if map.starts_with(['\n', '\r']) || map.is_empty() { policy_map(map) } else { collapsed_map(map) };
    Some(inner)
}

/// A policy map whose newlines were collapsed into spaces: `POLICY: RULE: value[ RULE: value]
/// [ POLICY: RULE: value]`. A quoted value ends at its closing quote, so what follows can
/// start another entry; a plain value runs to the end of the text.
fn collapsed_map(text: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut policy: Option<String> = None;
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((first, after)) = map_key(rest) else {
            findings.push(Finding { policy: policy.clone(), rule: None, message: unwrap_lines(rest) });
            break;
        };
        // `POLICY: RULE: value` starts a policy; `RULE: value` continues the current one.
        let (rule, after) = match map_key(after) {
            Some((second, after2)) if !after.starts_with(['\'', '"']) => {
                policy = Some(first);
                (second, after2)
            }
            _ if policy.is_none() => {
                findings.push(Finding { policy: Some(first), rule: None, message: unwrap_lines(after) });
                break;
            }
            _ => (first, after),
        };
        let (value, next) = match after.chars().next() {
            Some(q @ ('\'' | '"')) => match closing_quote(&after[1..], q) {
                Some(end) => (&after[..end + 2], after[end + 2..].trim_start()),
                None => (after, ""),
            },
            _ => (after, ""),
        };
        findings.push(Finding {
            policy: policy.clone(),
            rule: Some(rule),
            message: scalar(&[value.to_string()]),
        });
        rest = next;
    }
    findings
}

/// A `key: ` at the start of `s` (a Kyverno policy or rule name, possibly quoted) and what
/// follows it.
fn map_key(s: &str) -> Option<(String, &str)> {
    let (key, after) = s.split_once(':')?;
    let after = after.strip_prefix(' ').or_else(|| after.is_empty().then_some(after))?;
    let bare = quoted(key, '\'').or_else(|| quoted(key, '"')).map_or(key, |(k, _)| k);
    let name_like = !bare.is_empty()
        && bare.len() <= 253
        && bare.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/'));
    name_like.then(|| (bare.to_string(), after.trim_start()))
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
    /// `|` (literal) or `>` (folded) when the value is a YAML block scalar.
    block: Option<char>,
}

impl Entry {
    /// A new entry whose value starts with `value`.
    fn new(policy: Option<String>, rule: Option<String>, indent: usize, value: &str) -> Self {
        let open_quote = match value.chars().next() {
            Some(q @ ('\'' | '"')) if closing_quote(&value[1..], q).is_none() => Some(q),
            _ => None,
        };
        let block = value.chars().next().filter(|c| matches!(c, '|' | '>')).filter(|_| value.len() <= 3);
        Entry { policy, rule, indent, lines: vec![value.to_string()], open_quote, block }
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
        let message = match self.block {
            Some('|') => self.lines[1..].join("\n").trim().to_string(),
            Some(_) => fold(&self.lines[1..]).trim().to_string(),
            None => scalar(&self.lines),
        };
        Finding { policy: self.policy, rule: self.rule, message }
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
    // Text pasted inside other YAML (an Argo CD condition) keeps the map indented as a whole.
    let base = map
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    for line in map.lines() {
        let indent = (line.len() - line.trim_start_matches(' ').len()).saturating_sub(base);
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
        None => {
            Entry { policy, rule: None, indent, lines: vec![text.to_string()], open_quote: None, block: None }
        }
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

/// Kyverno CEL policy results (`pkg/webhooks/resource/vpol/handler.go`,
/// `.../ivpol/handler.go`, v1.14 → v1.19): `Policy <name> failed: <msg>` or `Policy <name>
/// error: <msg>` per failing rule, several joined by `; ` (`multierr.Combine`).
pub fn cel(s: &str) -> Option<Inner> {
    let s = s.trim_start();
    let mut starts: Vec<usize> = vec![0];
    starts.extend(
        s.match_indices("; Policy ").map(|(at, _)| at + 2).filter(|&at| cel_entry(&s[at..]).is_some()),
    );
    let mut findings = Vec::new();
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(s.len(), |&next| next - 2);
        let (name, msg) = cel_entry(&s[start..end])?;
        findings.push(Finding { policy: Some(name.to_string()), rule: None, message: unwrap_lines(msg) });
    }
    let mut inner = Inner::new(Engine::KyvernoCel, cel_entry(s).map_or(s, |(_, m)| m));
    inner.findings = findings;
    Some(inner)
}

/// One `Policy <name> failed|error[: <msg>]` → (name, message).
fn cel_entry(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_prefix("Policy ")?;
    let (name, rest) = body.split_once(' ')?;
    let msg = ["failed", "error"].iter().find_map(|w| {
        let r = rest.strip_prefix(w)?;
        r.strip_prefix(": ").or_else(|| r.strip_prefix(':')).or_else(|| r.trim().is_empty().then_some(""))
    })?;
    (!name.is_empty()).then_some((name, msg))
}

/// Kyverno's PolicyViolation Event messages (`pkg/event`): resource-centric
/// `policy <p>/<rule> fail: <msg>`, policy-centric `<Kind> <ns>/<name>: [<rule>] fail
/// (blocked); <msg>`, and Kyverno 1.7's `Rule(s) '<r>' failed to apply on resource K/ns/n`.
pub fn event(s: &str) -> Option<Inner> {
    resource_event(s).or_else(|| policy_event(s)).or_else(|| legacy_event(s)).or_else(|| report_event(s))
}

/// `policy '<p>' (<type>) rule '<r>' failed. <msg>` — Kyverno 1.2–1.3 violation events
/// (`pkg/policy/report.go`, v1.2.0–v1.3.x).
fn report_event(s: &str) -> Option<Inner> {
    let (policy, after) = quoted(s.strip_prefix("policy ")?, '\'')?;
    let (_, after) = after.trim_start().strip_prefix('(')?.split_once(") rule ")?;
    let (rule, after) = quoted(after, '\'')?;
    let msg = after.strip_prefix(" failed.")?.trim();
    let mut inner = Inner::new(Engine::Kyverno, msg);
    inner.enforcement = Enforcement::Audit;
    inner.findings.push(Finding {
        policy: Some(policy.to_string()),
        rule: Some(rule.to_string()),
        message: unwrap_lines(msg),
    });
    Some(inner)
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
