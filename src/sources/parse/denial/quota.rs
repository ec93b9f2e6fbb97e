//! ResourceQuota and LimitRange admission messages.
//!
//! Quota (`staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go`,
//! 1.9 → 1.35; `plugin/pkg/admission/resourcequota` before): `exceeded quota: <name>,
//! requested: k=v,…, used: k=v,…, limited: k=v,…`; `[Ff]ailed quota: <name>: must specify …`
//! (`Failed` up to 1.6); `status unknown for quota: <name>, resources: …`; `insufficient quota
//! to consume: …`; `insufficient quota to match these scopes: […]`; `quota usage is negative
//! for resource(s): …`; `resource quota evaluation timed out`; and the pre-1.2 (2015) shapes
//! `<res> quota is <v>, current usage is <u>, requesting <r>.` and `<res> is limited by
//! quota, must make explicit request.`. LimitRange
//! (`plugin/pkg/admission/limitranger`): `minimum|maximum <res> usage per <Kind> is <v>, but
//! request|limit is <w>` and `<res> max limit to request ratio per <Kind> is …`, several
//! joined in `[…, …]`.

use super::text::unwrap_lines;
use super::{Finding, Inner, QuotaUse};
use crate::model::Engine;

/// Any of the three quota shapes.
pub fn quota(s: &str) -> Option<Inner> {
    exceeded(s).or_else(|| failed(s)).or_else(|| legacy(s)).or_else(|| other(s))
}

/// The quota refusals that name resources but no figures (module docs).
fn other(s: &str) -> Option<Inner> {
    if let Some(body) = s.strip_prefix("status unknown for quota: ") {
        let (name, resources) = body.split_once(", resources: ").unwrap_or((body, ""));
        return Some(named(s, Some(name.trim()), resources));
    }
    for prefix in [
        "insufficient quota to consume: ",
        "insufficient quota to match these scopes: ",
        "quota usage is negative for resource(s): ",
    ] {
        if let Some(resources) = s.strip_prefix(prefix) {
            return Some(named(s, None, resources.trim_start_matches('[').trim_end_matches(']')));
        }
    }
    if s.trim() == "resource quota evaluation timed out" {
        return Some(Inner::new(Engine::ResourceQuota, s));
    }
    let (resource, _) = s.split_once(" is limited by quota, must make explicit request")?;
    (!resource.contains(' ')).then(|| named(s, None, resource))
}

/// One finding per listed resource (`a,b` or `a b`) of quota `name`.
fn named(s: &str, name: Option<&str>, resources: &str) -> Inner {
    let mut inner = Inner::new(Engine::ResourceQuota, s);
    inner.findings = resources
        .split([',', ' '])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| Finding {
            policy: name.map(str::to_string),
            rule: Some(r.to_string()),
            message: unwrap_lines(s),
        })
        .collect();
    if inner.findings.is_empty() {
        inner.findings.push(Finding {
            policy: name.map(str::to_string),
            rule: None,
            message: unwrap_lines(s),
        });
    }
    inner
}

/// `exceeded quota: <name>, requested: …, used: …, limited: …`.
fn exceeded(s: &str) -> Option<Inner> {
    let body = s.strip_prefix("exceeded quota: ")?;
    let (name, after) = body.split_once(", requested: ")?;
    let (requested, after) = after.split_once(", used: ").unwrap_or((after, ""));
    let (used, limited) = after.split_once(", limited: ").unwrap_or((after, ""));
    let (used, limited) = (pairs(used), pairs(limited));
    let quota: Vec<QuotaUse> = pairs(requested)
        .into_iter()
        .map(|(resource, value)| QuotaUse {
            requested: Some(value),
            used: lookup(&used, &resource),
            limited: lookup(&limited, &resource),
            resource,
        })
        .collect();
    let mut inner = Inner::new(Engine::ResourceQuota, s);
    inner.findings = quota.iter().map(|q| quota_finding(name, q)).collect();
    inner.quota = quota;
    Some(inner)
}

/// `k=v,k=v` → pairs, in order (a trailing `.` is dropped).
fn pairs(list: &str) -> Vec<(String, String)> {
    list.trim()
        .trim_end_matches('.')
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The value for `key` in `pairs`.
fn lookup(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// `requested: 1, used: 2, limited: 2` for one resource of quota `name`.
fn quota_finding(name: &str, q: &QuotaUse) -> Finding {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".to_string());
    Finding {
        policy: Some(name.trim().to_string()),
        rule: Some(q.resource.clone()),
        message: format!(
            "requested: {}, used: {}, limited: {}",
            show(&q.requested),
            show(&q.used),
            show(&q.limited)
        ),
    }
}

/// `failed quota: <name>: must specify <res>[ for: <ctr>][; …]` (also `Failed quota:`,
/// and comma lists `must specify a,b`).
fn failed(s: &str) -> Option<Inner> {
    let body = s.strip_prefix("failed quota: ").or_else(|| s.strip_prefix("Failed quota: "))?;
    let (name, reason) = body.split_once(": ").unwrap_or((body, ""));
    let mut inner = Inner::new(Engine::ResourceQuota, s);
    inner.findings = must_specify(reason.trim())
        .into_iter()
        .map(|(rule, message)| Finding { policy: Some(name.trim().to_string()), rule, message })
        .collect();
    Some(inner)
}

/// `must specify a,b` / `must specify a for: c1; b for: c2` → one (resource, message) each.
fn must_specify(reason: &str) -> Vec<(Option<String>, String)> {
    let Some(list) = reason.strip_prefix("must specify ") else {
        return vec![(None, unwrap_lines(reason))];
    };
    let items: Vec<&str> =
        if list.contains(" for: ") { list.split(';').collect() } else { list.split(',').collect() };
    items
        .into_iter()
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(|item| {
            let resource = item.split(" for: ").next().unwrap_or(item).trim();
            (Some(resource.to_string()), format!("must specify {item}"))
        })
        .collect()
}

/// `<res> quota is <v>, current usage is <u>, requesting <r>.` (Kubernetes ≤ 1.1).
fn legacy(s: &str) -> Option<Inner> {
    let (resource, after) = s.split_once(" quota is ")?;
    if resource.is_empty() || resource.contains(' ') {
        return None;
    }
    let (limit, after) = after.split_once(", current usage is ")?;
    let (used, requested) = after.split_once(", requesting ").unwrap_or((after, ""));
    let requested = requested.trim().trim_end_matches('.');
    let use_ = QuotaUse {
        resource: resource.to_string(),
        requested: (!requested.is_empty()).then(|| requested.to_string()),
        used: Some(used.trim().to_string()),
        limited: Some(limit.trim().to_string()),
    };
    let mut inner = Inner::new(Engine::ResourceQuota, s);
    inner.findings.push(Finding { policy: None, rule: Some(resource.to_string()), message: unwrap_lines(s) });
    inner.quota.push(use_);
    Some(inner)
}

/// One or more LimitRange violations, optionally in `[…]`.
pub fn limit_range(s: &str) -> Option<Inner> {
    let text = s.trim();
    let list = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    let items = limit_items(list)?;
    let mut inner = Inner::new(Engine::LimitRange, s);
    inner.findings = items
        .into_iter()
        .map(|item| {
            let rule = item.split_once(" is ").map(|(r, _)| r.trim().to_string());
            Finding { policy: None, rule, message: unwrap_lines(item) }
        })
        .collect();
    Some(inner)
}

/// Splits `a, but b, c, but d` into LimitRange items; `None` unless every item is one.
fn limit_items(list: &str) -> Option<Vec<&str>> {
    let mut items: Vec<&str> = Vec::new();
    let mut start = 0;
    for (at, _) in list.match_indices(", ") {
        if at >= start && is_limit_item(&list[at + 2..]) {
            items.push(&list[start..at]);
            start = at + 2;
        }
    }
    items.push(&list[start..]);
    items.iter().all(|i| is_limit_item(i) && i.contains(", but ")).then_some(items)
}

/// True when `s` starts a LimitRange violation.
fn is_limit_item(s: &str) -> bool {
    let s = s.trim_start();
    let bound = (s.starts_with("minimum ") || s.starts_with("maximum ")) && s.contains(" usage per ");
    let ratio = s.split(' ').nth(1) == Some("max") && s.contains(" max limit to request ratio per ");
    bound || ratio
}
