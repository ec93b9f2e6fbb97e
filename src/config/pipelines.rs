//! The `[pipelines]` section of `config.toml`: how often telemetry pipelines and GPU exporters
//! are scraped, and extra pods to scrape beside the built-in label selectors (collectors,
//! Prometheus servers, Fluent Bit agents or dcgm-exporters deployed with labels of their own).
//!
//! ```toml
//! [pipelines]
//! scrape_every = "30s"
//!
//! [[pipelines.targets]]
//! kind = "collector"        # collector | prometheus | fluent-bit | dcgm
//! label = "app"             # pods whose label `app`…
//! values = ["otel-gateway"] # …has one of these values
//! port_names = ["metrics"]  # the metrics port, by container port name (optional)
//! port = 8888               # else this port (optional; the kind's usual port)
//! path = "/metrics"         # (optional; the kind's usual path)
//!
//! [pipelines.thresholds]      # where verdicts turn (these are the defaults)
//! dropped_per_s = 0           # losing when refused + enqueue-failed is above this
//! send_failed_per_s = 0       # degraded when send failures are above this…
//! queue_fill = 0.8            # …or an exporter queue is at least this full (0 to 1)
//! silent_per_s = 0            # silent when accepted and sent are at or below this
//! ```
//!
//! A bad entry is skipped with a warning naming the file, line and key; the rest applies.
//! The interval and targets are written straight into the sources' [`Options`], the
//! thresholds into the [`Verdicts`].

use std::time::Duration;

use toml::Spanned;
use toml::de::DeValue;

use super::{ConfigWarning, Source, join_key, number};
use crate::model::{PipelineThresholds, Verdicts};
use crate::sources::kubernetes::Options;
use crate::sources::kubernetes::scrape::{TargetKind, TargetSelector};

/// The shortest scrape interval accepted.
pub const MIN_SCRAPE_EVERY: Duration = Duration::from_secs(1);

/// Reads the `[pipelines]` table into the sources' options and the verdicts.
pub(super) fn read(
    src: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    sources: &mut Options,
    verdicts: &mut Verdicts,
    warnings: &mut Vec<ConfigWarning>,
) {
    let DeValue::Table(table) = value.get_ref() else {
        let found = value.get_ref().type_str();
        warnings.push(src.warn(value.span(), "pipelines", format!("expected a table, found {found}")));
        return;
    };
    let mut targets = Vec::new();
    for (key, value) in table {
        match key.get_ref().as_ref() {
            "scrape_every" => {
                if let Some(every) = interval(src, value, warnings) {
                    sources.scrape_every = every;
                }
            }
            "targets" => match value.get_ref() {
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(t) = target(src, &format!("pipelines.targets[{i}]"), item, warnings) {
                            targets.push(t);
                        }
                    }
                }
                other => warnings.push(src.warn(
                    value.span(),
                    "pipelines.targets",
                    format!(
                        "expected an array of tables ([[pipelines.targets]]), found {}",
                        other.type_str()
                    ),
                )),
            },
            "thresholds" => verdicts.pipelines = thresholds(src, value, warnings),
            _ => warnings.push(src.unknown_key(
                key,
                value,
                "pipelines",
                &["scrape_every", "targets", "thresholds"],
            )),
        }
    }
    if !targets.is_empty() {
        sources.extra_targets = std::sync::Arc::new(targets);
    }
}

/// `[pipelines.thresholds]`: each a number (rates 0 or more, `queue_fill` above 0 and at most
/// 1); a bad value keeps its default with a warning.
fn thresholds(
    src: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    warnings: &mut Vec<ConfigWarning>,
) -> PipelineThresholds {
    const AT: &str = "pipelines.thresholds";
    let mut t = PipelineThresholds::default();
    let DeValue::Table(table) = value.get_ref() else {
        let found = value.get_ref().type_str();
        warnings.push(src.warn(value.span(), AT, format!("expected a table, found {found}")));
        return t;
    };
    for (key, value) in table {
        let path = join_key(AT, key.get_ref());
        let (slot, fraction) = match key.get_ref().as_ref() {
            "dropped_per_s" => (&mut t.dropped_per_s, false),
            "send_failed_per_s" => (&mut t.send_failed_per_s, false),
            "silent_per_s" => (&mut t.silent_per_s, false),
            "queue_fill" => (&mut t.queue_fill, true),
            _ => {
                warnings.push(src.unknown_key(
                    key,
                    value,
                    AT,
                    &["dropped_per_s", "send_failed_per_s", "queue_fill", "silent_per_s"],
                ));
                continue;
            }
        };
        let default = *slot;
        match number(value) {
            Some(v) if fraction && v > 0.0 && v <= 1.0 => *slot = v,
            Some(v) if !fraction && v.is_finite() && v >= 0.0 => *slot = v,
            _ => warnings.push(src.warn(
                value.span(),
                &path,
                if fraction {
                    format!(
                        "expected a fill above 0 and at most 1 (0.8 is 80 %); the default ({default}) applies"
                    )
                } else {
                    format!("expected items per second, 0 or more; the default ({default}) applies")
                },
            )),
        }
    }
    t
}

/// `"30s"`, `"1m"`: at least [`MIN_SCRAPE_EVERY`].
fn interval(
    src: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    warnings: &mut Vec<ConfigWarning>,
) -> Option<Duration> {
    const KEY: &str = "pipelines.scrape_every";
    let text = match src.expect_str(KEY, value) {
        Ok(t) => t,
        Err(w) => {
            warnings.push(w);
            return None;
        }
    };
    let parsed: Option<Duration> = text
        .trim()
        .parse::<jiff::SignedDuration>()
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| *d >= MIN_SCRAPE_EVERY);
    if parsed.is_none() {
        warnings.push(src.warn(
            value.span(),
            KEY,
            format!(
                "expected a duration of at least {} s, like \"30s\" or \"1m\"; the default (15s) applies",
                MIN_SCRAPE_EVERY.as_secs()
            ),
        ));
    }
    parsed
}

/// One `[[pipelines.targets]]` table; `None` (with warnings) when it cannot be used.
fn target(
    src: &Source<'_>,
    at: &str,
    item: &Spanned<DeValue<'_>>,
    warnings: &mut Vec<ConfigWarning>,
) -> Option<TargetSelector> {
    let DeValue::Table(table) = item.get_ref() else {
        warnings.push(src.warn(
            item.span(),
            at,
            format!("expected a table, found {}", item.get_ref().type_str()),
        ));
        return None;
    };
    let (mut kind, mut label, mut values, mut port_names, mut port, mut path) =
        (None, None, Vec::new(), Vec::new(), None, None);
    let mut bad = false;
    for (key, value) in table {
        let path_key = join_key(at, key.get_ref());
        match key.get_ref().as_ref() {
            "kind" => match src.expect_str(&path_key, value) {
                Ok(k) => match TargetKind::from_name(k) {
                    Some(kind_) => kind = Some(kind_),
                    None => {
                        warnings.push(src.warn(
                            value.span(),
                            &path_key,
                            format!("expected one of: {}; entry skipped", TargetKind::names()),
                        ));
                        bad = true;
                    }
                },
                Err(w) => {
                    warnings.push(w);
                    bad = true;
                }
            },
            "label" => match src.expect_str(&path_key, value) {
                Ok(l) if !l.trim().is_empty() => label = Some(l.trim().to_string()),
                Ok(_) => {
                    warnings.push(src.warn(value.span(), &path_key, "empty label; entry skipped"));
                    bad = true;
                }
                Err(w) => {
                    warnings.push(w);
                    bad = true;
                }
            },
            "values" => {
                values =
                    src.str_list(&path_key, value, warnings).into_iter().map(|(v, _)| v.to_string()).collect()
            }
            "port_names" => {
                port_names =
                    src.str_list(&path_key, value, warnings).into_iter().map(|(v, _)| v.to_string()).collect()
            }
            "port" => match value.get_ref() {
                DeValue::Integer(i) => match u16::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(p) if p > 0 => port = Some(p),
                    _ => warnings.push(src.warn(
                        value.span(),
                        &path_key,
                        "expected a port, 1 to 65535; the kind's usual port applies",
                    )),
                },
                other => warnings.push(src.warn(
                    value.span(),
                    &path_key,
                    format!(
                        "expected a port number, found {}; the kind's usual port applies",
                        other.type_str()
                    ),
                )),
            },
            "path" => match src.expect_str(&path_key, value) {
                Ok(p) if p.starts_with('/') && !p.contains("..") => path = Some(p.to_string()),
                Ok(_) => warnings.push(src.warn(
                    value.span(),
                    &path_key,
                    "expected an absolute path like \"/metrics\"; the kind's usual path applies",
                )),
                Err(w) => warnings.push(w),
            },
            _ => warnings.push(src.unknown_key(
                key,
                value,
                at,
                &["kind", "label", "values", "port_names", "port", "path"],
            )),
        }
    }
    if bad {
        return None;
    }
    let Some(kind) = kind else {
        warnings.push(src.missing(item.span(), &join_key(at, "kind")));
        return None;
    };
    let Some(label) = label else {
        warnings.push(src.missing(item.span(), &join_key(at, "label")));
        return None;
    };
    if values.is_empty() {
        warnings.push(src.missing(item.span(), &join_key(at, "values")));
        return None;
    }
    let (default_port, default_path) = kind.defaults();
    let path = path.unwrap_or_else(|| default_path.to_string());
    Some(TargetSelector::configured(kind, &label, &values, &port_names, port.unwrap_or(default_port), &path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use super::*;

    /// What `[pipelines]` wrote into the options and verdicts, and the warnings.
    fn read_text(text: &str) -> (Options, PipelineThresholds, Vec<ConfigWarning>) {
        let src = Source::new(Path::new("config.toml"), text);
        let table = src.parse().unwrap();
        let mut warnings = Vec::new();
        let value = table.iter().find(|(k, _)| k.get_ref() == "pipelines").map(|(_, v)| v.clone()).unwrap();
        let (mut sources, mut verdicts) = (Options::default(), Verdicts::default());
        read(&src, &value, &mut sources, &mut verdicts, &mut warnings);
        (sources, verdicts.pipelines, warnings)
    }

    #[test]
    fn targets_take_their_kinds_usual_port_and_path_unless_given() {
        let (s, _, warnings) = read_text(
            r#"
[pipelines]
scrape_every = "30s"

[[pipelines.targets]]
kind = "collector"
label = "app"
values = ["otel-gateway", "otel-agent"]

[[pipelines.targets]]
kind = "fluent-bit"
label = "app"
values = "logs"
port = 2021
port_names = ["http"]
"#,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.scrape_every, Duration::from_secs(30));
        assert_eq!(s.extra_targets.len(), 2);
        let (c, f) = (&s.extra_targets[0], &s.extra_targets[1]);
        assert_eq!(
            (c.kind, c.label, c.default_port, c.path),
            (TargetKind::Collector, "app", 8888, "/metrics")
        );
        assert_eq!(c.values, ["otel-gateway", "otel-agent"]);
        assert_eq!((f.default_port, f.path, f.values), (2021, "/api/v1/metrics/prometheus", &["logs"][..]));
        assert_eq!(f.port_names, ["http"]);
    }

    #[test]
    fn thresholds_replace_the_defaults_they_name_and_bad_ones_keep_theirs() {
        let (_, t, warnings) = read_text(
            r#"
[pipelines.thresholds]
dropped_per_s = 5
queue_fill = 0.95
send_failed_per_s = -1
silent_per_s = "low"
colour = 1
"#,
        );
        assert_eq!((t.dropped_per_s, t.queue_fill), (5.0, 0.95));
        let d = PipelineThresholds::default();
        assert_eq!((t.send_failed_per_s, t.silent_per_s), (d.send_failed_per_s, d.silent_per_s));
        let mut keys: Vec<&str> = warnings.iter().map(|w| w.key.as_str()).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "pipelines.thresholds.colour",
                "pipelines.thresholds.send_failed_per_s",
                "pipelines.thresholds.silent_per_s"
            ],
            "{warnings:#?}"
        );
        let (_, t, warnings) = read_text("[pipelines.thresholds]\nqueue_fill = 80\n");
        assert_eq!(t.queue_fill, 0.8, "80 is not a fill: the default stays");
        assert!(warnings[0].message.contains("0.8 is 80 %"), "{warnings:?}");
    }

    #[test]
    fn bad_entries_are_skipped_with_a_warning_each_and_the_rest_applies() {
        let (s, _, warnings) = read_text(
            r#"
[pipelines]
scrape_every = "10ms"
colour = "red"

[[pipelines.targets]]
kind = "jaeger"
label = "app"
values = ["x"]

[[pipelines.targets]]
kind = "prometheus"
values = ["x"]

[[pipelines.targets]]
kind = "dcgm"
label = "app"
values = ["gpu-exporter"]
port = 70000
path = "metrics"
"#,
        );
        assert_eq!(s.scrape_every, Options::default().scrape_every, "under a second: the default applies");
        assert_eq!(s.extra_targets.len(), 1, "only the dcgm entry is usable");
        assert_eq!((s.extra_targets[0].default_port, s.extra_targets[0].path), (9400, "/metrics"));
        // In file order, as the loader shows them.
        let mut warnings = warnings;
        warnings.sort_by_key(|w| w.line);
        let keys: Vec<&str> = warnings.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "pipelines.scrape_every",
                "pipelines.colour",
                "pipelines.targets[0].kind",
                "pipelines.targets[1].label",
                "pipelines.targets[2].port",
                "pipelines.targets[2].path",
            ],
            "{warnings:#?}"
        );
        assert!(warnings.iter().all(|w| w.line.is_some() && w.file == Path::new("config.toml")));
    }
}
