//! The module map is enforced: every top folder (and top-level module) of `src/` has a row in
//! ARCHITECTURE.md's Modules table, and no file imports what its row's "may not import"
//! column names in backticks (`crate::state`, `ratatui`, …). Plain words in that column (I/O,
//! clock reads) are rules for review, not checked here. Test code (`tests.rs`, `#[cfg(test)]`
//! modules) may import anything.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One row of the map: the folder (`model`) or top-level module (`explain.rs`) and what it may
/// not import.
#[derive(Debug)]
struct Row {
    place: String,
    forbidden: Vec<String>,
}

/// The rows of ARCHITECTURE.md's Modules table (`| \`src/model/\` | … | \`crate::state\`, … |`).
fn rows(architecture: &str) -> Vec<Row> {
    architecture
        .lines()
        .filter(|l| l.starts_with("| `src/"))
        .map(|line| {
            let first = line.split('|').nth(1).unwrap().trim();
            let place = first.trim_matches('`').trim_start_matches("src/").trim_end_matches('/').to_string();
            // The last cell holds no `|`; the responsibility cell may (`O_CREAT|O_EXCL`).
            let last = line.trim_end().trim_end_matches('|').rsplit('|').next().unwrap();
            let forbidden = last.split('`').skip(1).step_by(2).map(str::to_string).collect();
            Row { place, forbidden }
        })
        .collect()
}

/// The code lines of a file that count: no comments, no `#[cfg(test)]` module.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed.starts_with("#[cfg(test)]") {
            let next = lines.peek().map(|(_, l)| l.trim()).unwrap_or("");
            if next.starts_with("mod ") && next.ends_with('{')
                || next.starts_with("pub mod ") && next.ends_with('{')
            {
                break;
            }
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let code = trimmed.split("//").next().unwrap_or("");
        out.push((i + 1, code.to_string()));
    }
    out
}

/// Every path a line names: `crate::state::X` and, for `use crate::{a, b::c}`, `crate::a` and
/// `crate::b::c`; external crates as they are written.
fn paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(start) = line.find("crate::{") {
        let inner = &line[start + "crate::{".len()..];
        let inner = inner.split('}').next().unwrap_or("");
        out.extend(inner.split(',').map(|p| format!("crate::{}", p.trim())));
    }
    let bytes = line.as_bytes();
    for (i, _) in line.match_indices("::") {
        // The identifier before `::`, when it starts a path (not `a::b::c`'s inner parts).
        let before = &line[..i];
        let ident_start = before.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |p| p + 1);
        let ident = &before[ident_start..];
        let starts_path = ident_start < 2 || &bytes[ident_start - 2..ident_start] != b"::";
        if !ident.is_empty() && starts_path {
            let rest: String = line[ident_start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(rest);
        }
    }
    out
}

/// True when `path` is `rule` or inside it (`crate::state::FleetState` is in `crate::state`;
/// `ratatui::style` in `ratatui`).
fn within(path: &str, rule: &str) -> bool {
    path == rule || path.strip_prefix(rule).is_some_and(|rest| rest.starts_with("::"))
}

/// The violations of `rules` in `files` (path → text), as `file:line: imports X (…)`.
fn violations(rules: &[Row], files: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (file, text) in files {
        let Some(row) = rules.iter().find(|r| {
            if r.place.ends_with(".rs") {
                *file == r.place
            } else {
                file.starts_with(&format!("{}/", r.place))
            }
        }) else {
            continue;
        };
        let name = Path::new(file).file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || file.contains("/tests/") || name == "test_support.rs" {
            continue;
        }
        for (line_no, line) in code_lines(text) {
            for path in paths(&line) {
                for rule in &row.forbidden {
                    if within(&path, rule) {
                        out.push(format!(
                            "src/{file}:{line_no}: uses {path}, which ARCHITECTURE.md's row for src/{} forbids ({rule})",
                            row.place
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Every `.rs` file under `dir`, by path relative to it.
fn sources(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn no_folder_imports_what_its_row_in_architecture_md_forbids() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let rules = rows(&architecture);
    assert!(rules.len() >= 10, "the Modules table was not found: {rules:?}");
    let checked: usize = rules.iter().map(|r| r.forbidden.len()).sum();
    assert!(checked >= 20, "too few rules in backticks to mean anything: {rules:?}");
    let found = violations(&rules, &sources(&root().join("src")));
    assert!(found.is_empty(), "imports across the map's boundaries:\n{}", found.join("\n"));
}

#[test]
fn every_top_folder_and_module_has_a_row_and_each_folder_says_what_it_may_not_import() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let places: Vec<String> = rows(&architecture).into_iter().map(|r| r.place).collect();
    for entry in std::fs::read_dir(root().join("src")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "lib.rs" || name == "main.rs" || !(path.is_dir() || name.ends_with(".rs")) {
            continue;
        }
        assert!(places.contains(&name), "src/{name} has no row in ARCHITECTURE.md's Modules table");
        if path.is_dir() {
            let doc = std::fs::read_to_string(path.join("mod.rs")).unwrap();
            let head: String =
                doc.lines().take_while(|l| l.starts_with("//!")).collect::<Vec<_>>().join("\n");
            assert!(
                head.contains("May not import"),
                "src/{name}/mod.rs's //! doc does not say what it may not import"
            );
        }
    }
}

/// The checker itself: it finds a planted import, in a `use` line, a grouped `use` and a
/// full path, and passes over comments, test modules, test files and allowed imports.
#[test]
fn the_checker_finds_a_planted_violation_and_only_that() {
    let rules = rows(
        "| `src/model/` | records | `crate::state`, `ratatui`, I/O |\n\
         | `src/explain.rs` | why | `crate::ui` |\n\
         | `src/record/` | format `O_CREAT|O_EXCL` | `crate::ui` |",
    );
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0].forbidden, ["crate::state", "ratatui"]);
    assert_eq!(rules[2].forbidden, ["crate::ui"], "a | inside a cell does not split the row");
    let files: BTreeMap<String, String> = [
        ("model/a.rs", "use crate::state::FleetState;\n"),
        ("model/b.rs", "use crate::{model, state};\n"),
        ("model/c.rs", "fn f() { let s = crate::state::FleetState::default(); }\n"),
        ("model/d.rs", "use ratatui::style::Style;\n"),
        (
            "model/ok.rs",
            "use crate::model::Denial;\n// use crate::state::FleetState;\n/// [`crate::state`]\n",
        ),
        ("model/e.rs", "fn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::state::FleetState;\n}\n"),
        ("model/tests.rs", "use crate::state::FleetState;\n"),
        ("model/f.rs", "#[cfg(test)]\nmod tests;\nuse crate::statement::X;\nuse crate::state;\n"),
        ("explain.rs", "use crate::ui::App;\n"),
        ("explainer.rs", "use crate::ui::App;\n"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let found = violations(&rules, &files);
    let places: Vec<&str> = found.iter().map(|v| v.split(": uses").next().unwrap()).collect();
    assert_eq!(
        places,
        [
            "src/explain.rs:1",
            "src/model/a.rs:1",
            "src/model/b.rs:1",
            "src/model/c.rs:1",
            "src/model/d.rs:1",
            "src/model/f.rs:4"
        ],
        "{found:#?}"
    );
}
