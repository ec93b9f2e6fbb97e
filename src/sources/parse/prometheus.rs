//! A small, strict parser for the Prometheus text exposition format (version 0.0.4), as served on
//! `/metrics` by the OpenTelemetry Collector, Prometheus itself and Fluent Bit.
//!
//! Why not a crate: `prometheus-parse` 0.2.5 skips malformed lines silently, splits labels on `,`
//! and `=` (so escaped quotes, commas or `=` in a label value are misread), stamps samples with the
//! wall clock and pulls in chrono, regex and itertools; `openmetrics-parser` 0.5.1 is LGPL-3.0;
//! `prom_text_format_parser` 0.1.0 is a single release whose value accessor unwraps. This parser
//! is strict: every line is a comment, a blank line or a well-formed sample, otherwise the whole
//! scrape is an error naming the line. It never panics and reads no clock.
//!
//! Accepted beyond the 0.0.4 grammar: families with no `TYPE` (or a `TYPE` without `HELP`), a
//! `HELP`/`TYPE` pair with no samples (a cut dump), `\r\n` line ends, a missing final newline,
//! OpenMetrics `# EOF`, the OpenMetrics types (`unknown`, `info`, `stateset`, `gaugehistogram`)
//! and an OpenMetrics exemplar (`# {…} v`) after the value, which is skipped.

use std::collections::BTreeMap;

/// The declared type of a metric family (`# TYPE` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricType {
    /// Monotonic counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Histogram (`_bucket`, `_sum`, `_count` series).
    Histogram,
    /// Summary (quantile, `_sum`, `_count` series).
    Summary,
    /// Untyped, or no `TYPE` line, or an OpenMetrics type this parser keeps as plain samples.
    Untyped,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name as written (`otelcol_receiver_accepted_spans_total`).
    pub name: String,
    /// Labels, unescaped.
    pub labels: BTreeMap<String, String>,
    /// The value (`NaN`, `+Inf` and `-Inf` included).
    pub value: f64,
    /// Optional timestamp, milliseconds since the Unix epoch.
    pub timestamp_ms: Option<i64>,
}

/// A parsed scrape: samples in file order, plus the `TYPE` and `HELP` metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    /// All samples, in the order they appear.
    pub samples: Vec<Sample>,
    /// Declared family types by family name.
    pub types: BTreeMap<String, MetricType>,
    /// Help strings by family name, unescaped.
    pub help: BTreeMap<String, String>,
}

impl Scrape {
    /// The declared type of the family a sample name belongs to (`x_bucket` → family `x`), or
    /// [`MetricType::Untyped`] when no `TYPE` line covers it.
    pub fn type_of(&self, sample_name: &str) -> MetricType {
        if let Some(t) = self.types.get(sample_name) {
            return *t;
        }
        for suffix in ["_bucket", "_sum", "_count", "_created", "_total", "_info", "_gcount", "_gsum"] {
            if let Some(base) = sample_name.strip_suffix(suffix)
                && let Some(t) = self.types.get(base)
            {
                return *t;
            }
        }
        MetricType::Untyped
    }
}

/// Why a scrape could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

/// Parses a scrape in the Prometheus text exposition format.
///
/// Errors name the first bad line; nothing is returned from a partly bad scrape, because a
/// half-read scrape would make counters look like they reset.
pub fn parse_text(text: &str) -> Result<Scrape, ParseError> {
    let mut scrape = Scrape::default();
    for (idx, raw) in text.split('\n').enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let err = |message: String| ParseError { line: line_no, message };
        let trimmed = line.trim_matches(|c| c == ' ' || c == '\t');
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            if comment.trim() == "EOF" {
                break;
            }
            parse_comment(comment, &mut scrape).map_err(err)?;
            continue;
        }
        let sample = parse_sample(trimmed).map_err(err)?;
        scrape.samples.push(sample);
    }
    Ok(scrape)
}

fn parse_comment(comment: &str, scrape: &mut Scrape) -> Result<(), String> {
    let rest = comment.trim_start_matches([' ', '\t']);
    let (keyword, rest) = split_token(rest);
    match keyword {
        "HELP" => {
            let (name, doc) = split_token(rest);
            check_metric_name(name)?;
            let doc = unescape(doc, false)?;
            if scrape.help.insert(name.to_string(), doc).is_some() {
                return Err(format!("second HELP for {name}"));
            }
        }
        "TYPE" => {
            let (name, rest) = split_token(rest);
            check_metric_name(name)?;
            let (ty, extra) = split_token(rest);
            if !extra.trim().is_empty() {
                return Err(format!("unexpected text after TYPE of {name}: {:?}", extra.trim()));
            }
            let ty = match ty {
                "counter" => MetricType::Counter,
                "gauge" => MetricType::Gauge,
                "histogram" => MetricType::Histogram,
                "summary" => MetricType::Summary,
                "untyped" | "unknown" | "info" | "stateset" | "gaugehistogram" => MetricType::Untyped,
                other => return Err(format!("unknown metric type {other:?} for {name}")),
            };
            if scrape.types.insert(name.to_string(), ty).is_some() {
                return Err(format!("second TYPE for {name}"));
            }
        }
        // Any other comment is free text.
        _ => {}
    }
    Ok(())
}

/// Splits off the first whitespace-delimited token; the rest has its leading blanks removed.
fn split_token(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], s[i..].trim_start_matches([' ', '\t'])),
        None => (s, ""),
    }
}

fn check_metric_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(format!("bad metric name {name:?}")) }
}

fn is_label_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Unescapes `\\`, `\n` and (in label values) `\"`.
fn unescape(s: &str, quotes: bool) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            // The 0.0.4 format says other escapes are kept as written (in HELP text).
            Some(other) if !quotes => {
                out.push('\\');
                out.push(other);
            }
            Some(other) => return Err(format!("bad escape \\{other} in label value")),
            None => {
                if quotes {
                    return Err("dangling backslash in label value".to_string());
                }
                out.push('\\');
            }
        }
    }
    Ok(out)
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end =
        line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(line.len());
    let name = &line[..name_end];
    check_metric_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    if !rest.starts_with([' ', '\t']) {
        return Err(format!("expected a blank and a value after {name}"));
    }
    let (value_tok, rest) = split_token(rest);
    let value = parse_value(value_tok)?;
    let (ts_tok, rest) = split_token(rest);
    let timestamp_ms = match ts_tok {
        "" => None,
        // An OpenMetrics exemplar straight after the value.
        "#" => None,
        t => Some(t.parse::<i64>().map_err(|_| format!("bad timestamp {t:?}"))?),
    };
    let rest = rest.trim();
    let exemplar_ok = ts_tok == "#" || rest.starts_with('#');
    if !rest.is_empty() && !exemplar_ok {
        return Err(format!("unexpected text after the sample: {rest:?}"));
    }
    Ok(Sample { name: name.to_string(), labels, value, timestamp_ms })
}

/// Parses `name="value",…}` and returns what follows the closing brace.
fn parse_labels<'a>(mut s: &'a str, labels: &mut BTreeMap<String, String>) -> Result<&'a str, String> {
    loop {
        s = s.trim_start_matches([' ', '\t']);
        if let Some(after) = s.strip_prefix('}') {
            return Ok(after);
        }
        let name_end = s.find(|c: char| !is_label_char(c)).unwrap_or(s.len());
        let name = &s[..name_end];
        if !name.starts_with(is_label_start) {
            return Err(format!("bad label name at {:?}", truncate(s)));
        }
        s = s[name_end..].trim_start_matches([' ', '\t']);
        s = s.strip_prefix('=').ok_or_else(|| format!("expected = after label {name}"))?;
        s = s.trim_start_matches([' ', '\t']);
        s = s.strip_prefix('"').ok_or_else(|| format!("expected \" to open the value of label {name}"))?;
        // Find the closing quote, skipping escaped characters.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in s.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = Some(i);
                break;
            }
        }
        let end = end.ok_or_else(|| format!("unterminated value of label {name}"))?;
        let value = unescape(&s[..end], true)?;
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} given twice"));
        }
        s = s[end + 1..].trim_start_matches([' ', '\t']);
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return Err(format!("expected , or }} after label {name}"));
        }
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(20) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Go's `ParseFloat` spellings as Prometheus writes them: decimals, exponents, `NaN`, `±Inf`.
fn parse_value(tok: &str) -> Result<f64, String> {
    match tok {
        "" => return Err("missing value".to_string()),
        "NaN" | "nan" => return Ok(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => return Ok(f64::INFINITY),
        "-Inf" | "-inf" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    if !tok.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) {
        return Err(format!("bad value {tok:?}"));
    }
    tok.parse::<f64>().map_err(|_| format!("bad value {tok:?}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    const FIXTURES: &[(&str, &str)] = &[
        (
            "otel/otelcol-contrib-v0.93-dev-filelog-issue31074-excerpt.prom",
            include_str!(
                "../../../tests/fixtures/real/otel/otelcol-contrib-v0.93-dev-filelog-issue31074-excerpt.prom"
            ),
        ),
        (
            "otel/otelcol-pre2020-legacy-names-pr544-excerpt.prom",
            include_str!("../../../tests/fixtures/real/otel/otelcol-pre2020-legacy-names-pr544-excerpt.prom"),
        ),
        (
            "otel/otelcol-scope-labels-alpha-trustify-pr1757-excerpt.prom",
            include_str!(
                "../../../tests/fixtures/real/otel/otelcol-scope-labels-alpha-trustify-pr1757-excerpt.prom"
            ),
        ),
        (
            "otel/otelcol-v0.16-jaeger-issue2165-excerpt.prom",
            include_str!("../../../tests/fixtures/real/otel/otelcol-v0.16-jaeger-issue2165-excerpt.prom"),
        ),
        (
            "otel/otelcol-v0.52-dropped-pr5427-excerpt.prom",
            include_str!("../../../tests/fixtures/real/otel/otelcol-v0.52-dropped-pr5427-excerpt.prom"),
        ),
        (
            "prometheus/grafana-agent-remote-storage-issue3885-excerpt.prom",
            include_str!(
                "../../../tests/fixtures/real/prometheus/grafana-agent-remote-storage-issue3885-excerpt.prom"
            ),
        ),
        (
            "fluentbit/fluentbit-v1.9.1-api-v1-datadog-fixture.txt",
            include_str!(
                "../../../tests/fixtures/real/fluentbit/fluentbit-v1.9.1-api-v1-datadog-fixture.txt"
            ),
        ),
    ];

    #[test]
    fn every_real_dump_parses() {
        let expected_samples = [3, 8, 6, 4, 4, 3, 16];
        for ((name, text), want) in FIXTURES.iter().zip(expected_samples) {
            let scrape = parse_text(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(scrape.samples.len(), want, "{name}");
        }
    }

    #[test]
    fn fluentbit_millisecond_timestamps_and_label_order() {
        let s = parse_text(FIXTURES[6].1).unwrap();
        let input = s.samples.iter().find(|x| x.name == "fluentbit_input_records_total").unwrap();
        assert_eq!(input.timestamp_ms, Some(1_649_171_161_676));
        assert_eq!(input.labels["name"], "dummy.0");
        assert_eq!(input.value, 34.0);
        let uptime = s.samples.iter().find(|x| x.name == "fluentbit_uptime").unwrap();
        assert_eq!(uptime.timestamp_ms, None);
        let build = s.samples.iter().find(|x| x.name == "fluentbit_build_info").unwrap();
        assert_eq!(build.labels["version"], "1.9.1");
        assert_eq!(build.labels["edition"], "Community");
        assert_eq!(s.type_of("fluentbit_uptime"), MetricType::Counter);
    }

    #[test]
    fn families_without_type_are_untyped() {
        let s = parse_text(FIXTURES[3].1).unwrap();
        assert!(s.types.is_empty());
        assert_eq!(s.type_of("otelcol_exporter_send_failed_spans"), MetricType::Untyped);
        assert_eq!(s.help.len(), 4);
        let failed = s.samples.iter().find(|x| x.name == "otelcol_exporter_send_failed_spans").unwrap();
        assert_eq!(failed.value, 10.0);
    }

    #[test]
    fn scope_labels_and_empty_values() {
        let s = parse_text(FIXTURES[2].1).unwrap();
        let cap = s.samples.iter().find(|x| x.name == "otelcol_exporter_queue_capacity").unwrap();
        assert_eq!(cap.labels["otel_scope_version"], "");
        assert_eq!(cap.labels["exporter"], "otlphttp/prometheus");
        assert_eq!(
            s.help["otelcol_exporter_queue_size"],
            "Current size of the retry queue (in batches) [alpha]"
        );
        assert_eq!(s.type_of("otelcol_exporter_queue_size"), MetricType::Gauge);
    }

    #[test]
    fn the_spec_example_parses() {
        let text = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320
nan_metric{a="b",} NaN
"#;
        let s = parse_text(text).unwrap();
        assert_eq!(s.samples.len(), 10);
        assert_eq!(s.samples[1].value, 3.0);
        assert_eq!(s.samples[2].labels["path"], r"C:\DIR\FILE.TXT");
        assert_eq!(s.samples[2].labels["error"], "Cannot find file:\n\"FILE.TXT\"");
        assert_eq!(s.samples[4].value, f64::INFINITY);
        assert_eq!(s.samples[4].timestamp_ms, Some(-3_982_045));
        assert_eq!(s.samples[6].labels["le"], "+Inf");
        assert_eq!(s.type_of("http_request_duration_seconds_bucket"), MetricType::Histogram);
        assert!(s.samples[9].value.is_nan());
    }

    #[test]
    fn garbage_is_an_error_with_its_line() {
        let cases: &[(&str, usize)] = &[
            ("ok 1\nbad line here\n", 2),
            ("a{b=\"c\" 1\n", 1),
            ("a{b=c} 1\n", 1),
            ("a 1 2 3\n", 1),
            ("a one\n", 1),
            ("a{b=\"x\",b=\"y\"} 1\n", 1),
            ("# TYPE a countr\n", 1),
            ("\n\n9abc 1\n", 3),
            ("a{b=\"\\q\"} 1\n", 1),
            ("a\n", 1),
            ("a 1 12.5\n", 1),
        ];
        for (text, line) in cases {
            let e = parse_text(text).unwrap_err();
            assert_eq!(e.line, *line, "{text:?}: {e}");
        }
        // The prose fixture is not a scrape.
        let prose = include_str!(
            "../../../tests/fixtures/real/prometheus/prometheus-remote-write-lag-issue8890-excerpt.txt"
        );
        assert_eq!(parse_text(prose).unwrap_err().line, 1);
    }

    #[test]
    fn crlf_eof_and_exemplars() {
        let s = parse_text("# TYPE a counter\r\na_total 1\r\na_total{x=\"1\"} 2 # {trace_id=\"abc\"} 1\r\n# EOF\r\nnot parsed").unwrap();
        assert_eq!(s.samples.len(), 2);
        assert_eq!(s.type_of("a_total"), MetricType::Counter);
        let s = parse_text("a{} 1\nb{url=\"http://x/?a=1,b=2}\", z = \"#\" } -2.5e-3\n").unwrap();
        assert!(s.samples[0].labels.is_empty());
        assert_eq!(s.samples[1].labels["url"], "http://x/?a=1,b=2}");
        assert_eq!(s.samples[1].labels["z"], "#");
        assert_eq!(s.samples[1].value, -0.0025);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}") {
            let _ = parse_text(&text);
        }

        #[test]
        fn sample_like_text_never_panics(text in "[a-z_{}=\",\\\\# \n0-9.eE+-]{0,200}") {
            let _ = parse_text(&text);
        }
    }
}
