//! The redaction layer: the one place credentials are taken out of text.
//!
//! fleettop runs with an on-call engineer's kubeconfig. Its credentials can reach error texts
//! (an exec plugin's failure carries its environment, arguments and output; a URL carries
//! `user:password@`), and error texts become observations (recorded, printed by `snapshot
//! --json`, drawn by the UI) and log lines. Every such text passes [`text`] (or [`error`],
//! [`anyhow`] for error chains) before it leaves the layer that made it:
//!
//! - live observations are redacted on their way into the channel
//!   ([`crate::sources::ObservationSender::send`] calls [`batch`]): no source can bypass it;
//! - the log file's writer redacts every line (`cli::logging`);
//! - the CLI prints errors through [`anyhow`].
//!
//! What is replaced by [`REDACTED`]:
//! - every **literal secret registered** with [`register`]: the live sources register what the
//!   loaded kubeconfig holds for each context (tokens, passwords, client keys and certificates,
//!   exec plugin environment values and arguments that look like secrets, auth-provider
//!   settings, userinfo of server and proxy URLs) and what credential plugins return, so they
//!   are replaced wherever they appear;
//! - **patterns** of credentials that nobody registered: URL userinfo, `Bearer …`/`Basic …`,
//!   JWTs, PEM private keys (also base64-encoded), and the values of `token`-, `password`-,
//!   `secret`- and `key`-like settings in environment, argument, JSON and YAML form
//!   (`AWS_SECRET_ACCESS_KEY="…"`, `--password …`, `"token":"…"`, `client-key-data: …`).
//!
//! Redaction never fails and never loses the rest of the text: an error stays readable.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{LazyLock, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};

use crate::model::{Change, ConnectionState, Observation, Record, SourceState};

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Literal secrets shorter than this are not registered: replacing them everywhere would
/// mangle ordinary words, and such values are no secret worth the name.
pub const MIN_SECRET_LEN: usize = 4;

/// The registered literal secrets and a matcher over them (rebuilt on registration).
#[derive(Default)]
struct Registry {
    secrets: BTreeSet<String>,
    matcher: Option<AhoCorasick>,
}

/// Process-wide on purpose: every writer of text (sources, log layer, CLI) must see every
/// secret any part of the process has learned, without being handed a value.
static REGISTRY: LazyLock<RwLock<Registry>> = LazyLock::new(|| RwLock::new(Registry::default()));

/// Registers a literal secret: from now on it is replaced wherever it appears in text that
/// passes this module. Surrounding whitespace is ignored; values shorter than
/// [`MIN_SECRET_LEN`] are not registered.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() < MIN_SECRET_LEN || secret == REDACTED {
        return;
    }
    let mut registry = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
    if !registry.secrets.insert(secret.to_string()) {
        return;
    }
    // Longest first, so a secret that contains another is replaced whole.
    registry.matcher =
        AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(registry.secrets.iter()).ok();
}

/// How many literal secrets are registered (for tests and the log).
pub fn registered() -> usize {
    REGISTRY.read().unwrap_or_else(|p| p.into_inner()).secrets.len()
}

/// `s` with every registered secret and every credential pattern replaced by [`REDACTED`].
pub fn text(s: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(s);
    {
        let registry = REGISTRY.read().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = &registry.matcher
            && m.is_match(s)
        {
            out = Cow::Owned(m.replace_all(s, &vec![REDACTED; registry.secrets.len()]));
        }
    }
    for pass in [pem_blocks, url_userinfo, auth_schemes, jwts, key_values] {
        let spans = pass(&out);
        if !spans.is_empty() {
            out = Cow::Owned(replace(&out, &spans));
        }
    }
    out
}

/// An error and its causes on one line (`context "x": cannot connect: Connection refused`),
/// each cause once, redacted.
pub fn error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut causes = Vec::new();
    let mut next = Some(e);
    while let Some(c) = next {
        causes.push(c.to_string());
        next = c.source();
    }
    text(&join_causes(causes)).into_owned()
}

/// An `anyhow` error with its contexts and causes on one line, each once, redacted: what the
/// binary prints on stderr.
pub fn anyhow(e: &anyhow::Error) -> String {
    text(&join_causes(e.chain().map(|c| c.to_string()))).into_owned()
}

/// Joins an error's messages with `: `, skipping a cause whose text the message before it
/// already carries. Many error types print their source in their own message *and* return it
/// as `source()` (`cannot open x: Permission denied (os error 13)` with the `io::Error` as its
/// source); printed as a chain, that said everything twice.
pub fn join_causes(causes: impl IntoIterator<Item = String>) -> String {
    let mut out = String::new();
    for c in causes {
        if c.is_empty() || out.contains(&c) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&c);
    }
    out
}

/// Redacts, in place, every text of an observation that can carry an error or a URL: the
/// connection error, source messages, scrape and telemetry errors, a pipeline's workload and
/// name (a URL target is named by its URL's host) and record keys of deletions (so that a
/// deletion still matches the redacted record it removes).
pub fn observation(obs: &mut Observation) {
    fn fix(s: &mut String) {
        if let Cow::Owned(r) = text(s) {
            *s = r;
        }
    }
    match &mut obs.change {
        Change::Cluster(update) => match &mut update.connection {
            Some(ConnectionState::Unreachable { error, .. } | ConnectionState::Forbidden { error }) => {
                fix(error)
            }
            Some(ConnectionState::Connecting | ConnectionState::Connected) | None => {}
        },
        Change::Source { state, .. } => match state {
            SourceState::Forbidden { message }
            | SourceState::Error { message }
            | SourceState::Unavailable { message }
            | SourceState::Degraded { message }
            | SourceState::Slow { message } => fix(message),
            SourceState::Syncing
            | SourceState::Live
            | SourceState::NotInstalled
            | SourceState::Stale { .. } => {}
        },
        Change::Upsert { record } => match record {
            Record::Pipeline(p) => {
                fix(&mut p.workload);
                fix(&mut p.name);
                if let Some(e) = &mut p.scrape_error {
                    fix(e);
                }
            }
            Record::GpuNode(n) => {
                if let Some(e) = &mut n.telemetry_error {
                    fix(e);
                }
            }
            Record::Denial(_)
            | Record::Exception(_)
            | Record::GpuQueue(_)
            | Record::GpuWorkload(_)
            | Record::PendingGpuPod(_)
            | Record::Policy(_)
            | Record::Skip(_) => {}
        },
        Change::Delete { key, .. } => fix(key),
        Change::SyncStart { .. } | Change::SyncEnd { .. } => {}
    }
}

/// [`observation`] for each of a batch.
pub fn batch(observations: &mut [Observation]) {
    observations.iter_mut().for_each(observation);
}

/// `s` with each byte range of `spans` (sorted, not overlapping) replaced by [`REDACTED`].
fn replace(s: &str, spans: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for r in spans {
        if r.start < at {
            continue;
        }
        out.push_str(&s[at..r.start]);
        out.push_str(REDACTED);
        at = r.end;
    }
    out.push_str(&s[at..]);
    out
}

/// Byte offsets of every occurrence of `needle` in `s`, any ASCII case.
fn find_all_ci(s: &str, needle: &str) -> Vec<usize> {
    let (hay, n) = (s.as_bytes(), needle.as_bytes());
    if n.is_empty() || hay.len() < n.len() {
        return Vec::new();
    }
    (0..=hay.len() - n.len()).filter(|&i| hay[i..i + n.len()].eq_ignore_ascii_case(n)).collect()
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The end of the run of bytes from `from` for which `ok` holds.
fn run_end(s: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
    s[from..].iter().position(|&b| !ok(b)).map_or(s.len(), |p| from + p)
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
}

/// The body of PEM private keys (`-----BEGIN … PRIVATE KEY-----` to `-----END`), and base64
/// runs that decode to a PEM header (`LS0tLS1CRUdJTi…`, as `client-key-data` holds it).
fn pem_blocks(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let mut spans = Vec::new();
    for start in find_all_ci(s, "-----BEGIN ") {
        let Some(header_end) = s[start + 11..].find("-----").map(|p| start + 11 + p + 5) else { continue };
        if !s[start..header_end].contains("PRIVATE KEY") {
            continue;
        }
        let end = s[header_end..].find("-----END").map_or(s.len(), |p| header_end + p);
        if end > header_end {
            spans.push(header_end..end);
        }
    }
    for start in find_all_ci(s, "LS0tLS1CRUdJTi") {
        if start > 0 && is_base64(b[start - 1]) {
            continue;
        }
        spans.push(start..run_end(b, start, is_base64));
    }
    spans.sort_by_key(|r| r.start);
    spans
}

/// `user:password@` in `scheme://user:password@host/…`.
fn url_userinfo(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(p) = s[from..].find("://") {
        let start = from + p + 3;
        let end = run_end(b, start, |c| {
            !c.is_ascii_whitespace()
                && !matches!(c, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\')
        });
        if let Some(at) = s[start..end].rfind('@')
            && at > 0
        {
            spans.push(start..start + at);
        }
        from = start;
    }
    spans
}

/// The credential after `Bearer ` or `Basic ` (any case): a token of at least 8 characters
/// that is not a plain lowercase word (`Bearer token` in an error message stays).
fn auth_schemes(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let mut spans = Vec::new();
    for scheme in ["bearer", "basic"] {
        for at in find_all_ci(s, scheme) {
            if at > 0 && is_word_byte(b[at - 1]) {
                continue;
            }
            let mut start = at + scheme.len();
            let spaces = run_end(b, start, |c| c == b' ') - start;
            if spaces == 0 {
                continue;
            }
            start += spaces;
            let end = run_end(b, start, |c| is_base64(c) || matches!(c, b'.' | b'~'));
            let token = &s[start..end];
            if token.len() >= 8 && !token.bytes().all(|c| c.is_ascii_lowercase()) {
                spans.push(start..end);
            }
        }
    }
    spans.sort_by_key(|r| r.start);
    spans
}

/// JSON Web Tokens: `eyJ…` header, payload and signature in base64url, joined by dots.
fn jwts(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let url64 = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(p) = s[from..].find("eyJ") {
        let start = from + p;
        from = start + 3;
        if start > 0 && url64(b[start - 1]) {
            continue;
        }
        let head = run_end(b, start, url64);
        if head - start < 10 || b.get(head) != Some(&b'.') {
            continue;
        }
        let payload = run_end(b, head + 1, url64);
        if payload == head + 1 || b.get(payload) != Some(&b'.') {
            continue;
        }
        let end = run_end(b, payload + 1, url64);
        spans.push(start..end);
        from = end;
    }
    spans
}

/// True when a setting of this name holds a credential: one of its words (split at `_`, `-`,
/// `.`) is a credential word, or ends in one (`accesstoken`, `clientsecret`).
pub fn is_secret_name(name: &str) -> bool {
    const WORDS: [&str; 13] = [
        "token",
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "key",
        "apikey",
        "credential",
        "credentials",
        "cookie",
        "stdout",
        "passphrase",
    ];
    const ENDINGS: [&str; 5] = ["token", "password", "secret", "apikey", "accesskey"];
    name.trim_start_matches('-')
        .to_ascii_lowercase()
        .split(['_', '-', '.'])
        .any(|w| WORDS.contains(&w) || ENDINGS.iter().any(|e| w.len() > e.len() && w.ends_with(e)))
}

/// An unquoted value after `name: ` that looks like a credential rather than a word of an
/// error message: at least 8 characters with a digit or a symbol base64 uses.
fn looks_opaque(v: &str) -> bool {
    v.len() >= 8 && v.bytes().any(|c| c.is_ascii_digit() || matches!(c, b'+' | b'/' | b'=' | b'_' | b'~'))
}

/// Values of credential settings: `NAME=value`, `NAME="value"`, `--name value`,
/// `"--name" "value"` (a command's debug form), `"name":"value"` (JSON, also escaped inside a
/// debug string), `name: value` (YAML; unquoted only when the value looks opaque).
fn key_values(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let name_byte = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.');
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !name_byte(b[i]) || (i > 0 && name_byte(b[i - 1])) {
            i += 1;
            continue;
        }
        let end = run_end(b, i, name_byte);
        let name = &s[i..end];
        let next = end.max(i + 1);
        if !is_secret_name(name) {
            i = next;
            continue;
        }
        // Close the name's quotes (`"token"`, `\"token\"`, `"--password"`).
        let mut j = run_end(b, end, |c| matches!(c, b'"' | b'\'' | b'\\'));
        let closed_quote = j > end;
        j = run_end(b, j, |c| c == b' ');
        let (sep, after) = match b.get(j) {
            Some(b'=') => ('=', j + 1),
            Some(b':') => (':', j + 1),
            _ if name.starts_with('-') && j > end => (' ', j),
            _ => {
                i = next;
                continue;
            }
        };
        if sep == ':' && b.get(after) == Some(&b':') {
            i = next; // `key::path`, not a setting
            continue;
        }
        let v = run_end(b, after, |c| c == b' ');
        let Some(value) = value_at(s, v) else {
            i = next;
            continue;
        };
        let text = &s[value.clone()];
        let quoted = value.start > v;
        let keep = text.is_empty()
            || text.starts_with(REDACTED)
            || (sep == ' ' && text.starts_with('-'))
            || (sep == ':' && !quoted && !closed_quote && !looks_opaque(text));
        if !keep {
            spans.push(value.clone());
        }
        i = value.end.max(next);
    }
    spans
}

/// The value that starts at `at`: inside quotes (`"…"`, `'…'`, or `\"…\"` inside a debug
/// string, up to the matching unescaped quote), or up to whitespace or a delimiter.
fn value_at(s: &str, at: usize) -> Option<Range<usize>> {
    let b = s.as_bytes();
    let rest = &s[at..];
    if let Some(inner) = rest.strip_prefix("\\\"") {
        let start = at + 2;
        return Some(start..inner.find("\\\"").map_or(s.len(), |p| start + p));
    }
    match b.get(at) {
        Some(&q @ (b'"' | b'\'')) => {
            let start = at + 1;
            let mut k = start;
            while k < b.len() && b[k] != q {
                k += if b[k] == b'\\' { 2 } else { 1 };
            }
            Some(start..k.min(b.len()))
        }
        Some(_) => Some(
            at..run_end(b, at, |c| {
                !c.is_ascii_whitespace()
                    && !matches!(
                        c,
                        b',' | b';' | b'&' | b'"' | b'\'' | b')' | b']' | b'}' | b'<' | b'>' | b'\\'
                    )
            }),
        ),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_failed_exec_plugin_as_kube_reports_it_keeps_no_secret() {
        // kube-client's `AuthExecRun`: the command's debug form (environment and arguments)
        // and the process output's debug form.
        let kube = r#"auth exec command 'AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCY" KUBERNETES_EXEC_INFO="{\"kind\":\"ExecCredential\"}" "/usr/bin/plugin" "--password" "hunter2hunter2" "--token=abc.def-123"' failed with status exit status: 1: Output { status: ExitStatus(unix_wait_status(256)), stdout: "{\"status\":{\"token\":\"tok-XYZ-123\"}}", stderr: "denied" }"#;
        let out = text(kube);
        for secret in ["wJalrXUtnFEMI", "hunter2hunter2", "abc.def-123", "tok-XYZ-123"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains("/usr/bin/plugin"), "the rest stays readable: {out}");
        assert!(out.contains("KUBERNETES_EXEC_INFO"), "{out}");
    }

    #[test]
    fn url_userinfo_is_removed_and_the_host_kept() {
        assert_eq!(
            text("https://admin:s3cr3t@10.0.0.1:6443/version: connection refused"),
            "https://<redacted>@10.0.0.1:6443/version: connection refused"
        );
        assert_eq!(text("http://user@host/x"), "http://<redacted>@host/x");
        assert_eq!(text("mail me@example.com at http://host/a@b"), "mail me@example.com at http://host/a@b");
    }

    #[test]
    fn bearer_basic_and_jwt_credentials_go() {
        let jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl";
        assert_eq!(text(&format!("Authorization: Bearer {jwt}")), "Authorization: Bearer <redacted>");
        assert_eq!(text(&format!("got {jwt} back")), "got <redacted> back");
        assert_eq!(text("Basic dXNlcjpwYXNzd29yZA=="), "Basic <redacted>");
        // Error messages about tokens stay.
        assert_eq!(text("invalid bearer token: bad header"), "invalid bearer token: bad header");
    }

    #[test]
    fn settings_in_env_flag_json_and_yaml_form_lose_their_values() {
        let cases = [
            ("DB_PASSWORD=hunter2 next", "DB_PASSWORD=<redacted> next"),
            ("--client-secret xyz987 --region eu", "--client-secret <redacted> --region eu"),
            (r#"{"token": "abc", "user": "bob"}"#, r#"{"token": "<redacted>", "user": "bob"}"#),
            ("client-key-data: QUJDREVGR0hJSktM\n", "client-key-data: <redacted>\n"),
            ("https://h/x?access_token=a1b2&x=1", "https://h/x?access_token=<redacted>&x=1"),
            ("api-key='k e y'", "api-key='<redacted>'"),
        ];
        for (input, want) in cases {
            assert_eq!(text(input), want, "{input}");
        }
        // Words of ordinary error messages stay.
        for keep in [
            "failed to parse key: invalid PEM",
            "secret: not found",
            "token file missing",
            "monkey=banana",
            "--password --next",
            "the key::path",
        ] {
            assert_eq!(text(keep), keep);
        }
    }

    #[test]
    fn private_keys_in_pem_and_base64_go() {
        let pem = "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
        assert_eq!(text(pem), "key: -----BEGIN RSA PRIVATE KEY-----<redacted>-----END RSA PRIVATE KEY-----");
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert_eq!(text(cert), cert, "certificates are public");
        assert_eq!(text("data LS0tLS1CRUdJTiBQUklWQVRF= end"), "data <redacted> end");
    }

    #[test]
    fn registered_secrets_go_wherever_they_appear() {
        register("plain-word-secret-7Q");
        register("ab"); // too short: not registered
        assert_eq!(text("x plain-word-secret-7Qy ab"), "x <redacted>y ab");
        register("plain-word-secret-7Q-longer");
        assert_eq!(text("plain-word-secret-7Q-longer!"), "<redacted>!", "the longest match wins");
    }

    #[test]
    fn os_errors_are_said_once() {
        let io = std::io::Error::from_raw_os_error(13);
        let e = anyhow::Error::new(io).context("cannot create /x/y.fleetrec");
        assert_eq!(anyhow(&e), "cannot create /x/y.fleetrec: Permission denied (os error 13)");
        #[derive(Debug, thiserror::Error)]
        #[error("cannot open {path}: {source}")]
        struct Open {
            path: String,
            #[source]
            source: std::io::Error,
        }
        let e = Open { path: "/x".into(), source: std::io::Error::from_raw_os_error(13) };
        assert_eq!(error(&e), "cannot open /x: Permission denied (os error 13)");
        let e = anyhow::Error::new(e).context("recording");
        assert_eq!(anyhow(&e), "recording: cannot open /x: Permission denied (os error 13)");
    }

    #[test]
    fn observations_are_redacted_where_errors_live() {
        use crate::model::{ClusterId, ClusterUpdate};
        let mut obs = Observation {
            at: jiff::Timestamp::UNIX_EPOCH,
            cluster: ClusterId::new("c"),
            change: Change::Cluster(ClusterUpdate {
                connection: Some(ConnectionState::Unreachable {
                    since: jiff::Timestamp::UNIX_EPOCH,
                    error: "https://u:p4ssw0rd@h/version: refused".into(),
                }),
                ..Default::default()
            }),
        };
        observation(&mut obs);
        let Change::Cluster(u) = &obs.change else { unreachable!() };
        let Some(ConnectionState::Unreachable { error, .. }) = &u.connection else { unreachable!() };
        assert_eq!(error, "https://<redacted>@h/version: refused");
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_redacted_without_panic(s in ".*") {
            let _ = text(&s);
        }

        #[test]
        fn a_registered_secret_never_survives(prefix in ".{0,20}", suffix in ".{0,20}") {
            register("Zq9-registered-secret");
            let s = format!("{prefix}Zq9-registered-secret{suffix}");
            proptest::prop_assert!(!text(&s).contains("Zq9-registered-secret"));
        }
    }
}
