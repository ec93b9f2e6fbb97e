//! The virtual table every pane uses: columns described as data, rows kept as ids,
//! stable sort, fuzzy filter, and only the visible rows formatted and laid out.

use std::cmp::Ordering;

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;
use jiff::Timestamp;
use ratatui::layout::Constraint;

use crate::state::{FleetState, RecordId};

/// One formatted cell: its text and the theme scope it is drawn with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Text.
    pub text: String,
    /// Theme scope (`health.live`, `ui.text`, …).
    pub scope: &'static str,
}

impl Cell {
    /// A cell in the default text style.
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: text.into(), scope: "ui.text" }
    }

    /// A cell drawn with `scope`.
    pub fn styled(text: impl Into<String>, scope: &'static str) -> Self {
        Self { text: text.into(), scope }
    }
}

/// A value rows are sorted by. Numbers sort before text; NaN sorts last among numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    /// A number (counts, rates, seconds).
    Num(f64),
    /// Text, compared as is.
    Text(String),
}

impl SortKey {
    fn compare(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Num(a), SortKey::Num(b)) => a.total_cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            (SortKey::Num(_), SortKey::Text(_)) => Ordering::Less,
            (SortKey::Text(_), SortKey::Num(_)) => Ordering::Greater,
        }
    }
}

/// What cell and sort functions may read.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The whole state (for joins and counts).
    pub state: &'a FleetState,
    /// The state's clock.
    pub now: Timestamp,
}

/// One column of a table over records of type `T`.
pub struct Column<T> {
    /// Header text.
    pub title: &'static str,
    /// Width.
    pub width: Constraint,
    /// Formats the cell.
    pub cell: fn(&Ctx, &RecordId, &T) -> Cell,
    /// The value the column sorts by.
    pub key: fn(&Ctx, &RecordId, &T) -> SortKey,
}

/// A line of a detail view, styled by scope when drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum DetailLine {
    /// A section heading.
    Section(String),
    /// `label: value`, the value drawn with `scope`.
    Field {
        /// Label.
        label: String,
        /// Value.
        value: String,
        /// Theme scope of the value.
        scope: &'static str,
    },
    /// Free text (messages, evidence), wrapped when drawn.
    Text(String, &'static str),
    /// An empty line.
    Blank,
}

impl DetailLine {
    /// A field in the default style.
    pub fn field(label: &str, value: impl Into<String>) -> Self {
        DetailLine::Field { label: label.into(), value: value.into(), scope: "ui.text" }
    }
}

/// The detail view of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    /// Popup title.
    pub title: String,
    /// Content.
    pub lines: Vec<DetailLine>,
}

impl Detail {
    /// Plain text of the detail, for copying (and `fleettop why`), sanitised: the clipboard
    /// text is pasted into terminals too.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n", self.title);
        for l in &self.lines {
            match l {
                DetailLine::Section(s) => out.push_str(&format!("\n## {s}\n")),
                DetailLine::Field { label, value, .. } => out.push_str(&format!("{label}: {value}\n")),
                DetailLine::Text(t, _) => out.push_str(&format!("{t}\n")),
                DetailLine::Blank => out.push('\n'),
            }
        }
        match crate::sanitise::text(&out) {
            std::borrow::Cow::Borrowed(_) => out,
            std::borrow::Cow::Owned(clean) => clean,
        }
    }
}

/// The `/` filter: whitespace-separated terms, all of which must match. A term matches when
/// it is a substring of the row's text (any case) or fuzzily matches one of its words; whole
/// messages are not fuzzy-matched, since a long text contains almost any subsequence.
pub struct Filter {
    terms: Vec<String>,
    matcher: SkimMatcherV2,
}

/// Words longer than this are matched as substrings only.
const MAX_FUZZY_WORD: usize = 64;

impl Filter {
    /// Parses filter text.
    pub fn new(text: &str) -> Self {
        Self {
            terms: text.split_whitespace().map(str::to_lowercase).collect(),
            matcher: SkimMatcherV2::default().ignore_case(),
        }
    }

    /// True when there is nothing to filter by.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// True when every term matches `text`.
    pub fn matches(&self, text: &str) -> bool {
        if self.terms.is_empty() {
            return true;
        }
        let lower = text.to_lowercase();
        self.terms.iter().all(|term| {
            lower.contains(term.as_str())
                || text.split_whitespace().any(|word| {
                    word.len() <= MAX_FUZZY_WORD && self.matcher.fuzzy_match(word, term).is_some()
                })
        })
    }
}

/// A table as the app sees it, whatever its record type.
pub trait TableView {
    /// Column titles and widths.
    fn columns(&self) -> Vec<(&'static str, Constraint)>;
    /// Column and direction used until the user sorts (descending = true).
    fn default_sort(&self) -> (usize, bool);
    /// Ids of the rows that match `filter`, sorted by `sort` (stable; ties keep id order).
    fn build(&self, state: &FleetState, filter: &str, sort: (usize, bool)) -> Vec<RecordId>;
    /// Formatted cells of one row, or `None` when the row no longer exists.
    fn cells(&self, state: &FleetState, id: &RecordId) -> Option<Vec<Cell>>;
    /// The detail view of one row.
    fn detail(&self, state: &FleetState, id: &RecordId) -> Option<Detail>;
}

/// Reads every row of a table, in id order.
pub type AllRows<T> = for<'a> fn(&'a FleetState) -> Vec<(RecordId, &'a T)>;
/// Finds one row.
pub type GetRow<T> = for<'a> fn(&'a FleetState, &RecordId) -> Option<&'a T>;

/// A table over records of type `T`, described as data.
pub struct Spec<T: 'static> {
    /// Every row.
    pub all: AllRows<T>,
    /// One row.
    pub get: GetRow<T>,
    /// Columns.
    pub columns: Vec<Column<T>>,
    /// Default sort column and direction.
    pub default_sort: (usize, bool),
    /// The text the fuzzy filter matches against.
    pub filter_text: fn(&Ctx, &RecordId, &T) -> String,
    /// The detail view.
    pub detail: fn(&Ctx, &RecordId, &T) -> Detail,
}

impl<T: 'static> TableView for Spec<T> {
    fn columns(&self) -> Vec<(&'static str, Constraint)> {
        self.columns.iter().map(|c| (c.title, c.width)).collect()
    }

    fn default_sort(&self) -> (usize, bool) {
        self.default_sort
    }

    fn build(&self, state: &FleetState, filter: &str, sort: (usize, bool)) -> Vec<RecordId> {
        let ctx = Ctx { state, now: state.now() };
        let filter = Filter::new(filter);
        let rows: Vec<(RecordId, &T)> = (self.all)(state)
            .into_iter()
            .filter(|(id, r)| filter.is_empty() || filter.matches(&(self.filter_text)(&ctx, id, r)))
            .collect();
        let Some(col) = self.columns.get(sort.0) else {
            return rows.into_iter().map(|(id, _)| id).collect();
        };
        let mut keyed: Vec<(SortKey, usize)> =
            rows.iter().enumerate().map(|(i, (id, r))| ((col.key)(&ctx, id, r), i)).collect();
        keyed.sort_by(|(a, ia), (b, ib)| {
            let ord = a.compare(b);
            let ord = if sort.1 { ord.reverse() } else { ord };
            ord.then(ia.cmp(ib))
        });
        let mut ids: Vec<Option<RecordId>> = rows.into_iter().map(|(id, _)| Some(id)).collect();
        keyed.into_iter().filter_map(|(_, i)| ids.get_mut(i).and_then(Option::take)).collect()
    }

    fn cells(&self, state: &FleetState, id: &RecordId) -> Option<Vec<Cell>> {
        let ctx = Ctx { state, now: state.now() };
        let row = (self.get)(state, id)?;
        Some(self.columns.iter().map(|c| (c.cell)(&ctx, id, row)).collect())
    }

    fn detail(&self, state: &FleetState, id: &RecordId) -> Option<Detail> {
        let ctx = Ctx { state, now: state.now() };
        let row = (self.get)(state, id)?;
        Some((self.detail)(&ctx, id, row))
    }
}

/// The cluster column every table starts with.
pub fn cluster_column<T>() -> Column<T> {
    Column {
        title: "CLUSTER",
        width: Constraint::Length(15),
        cell: |_, id, _| Cell::text(id.cluster.as_str()),
        key: |_, id, _| SortKey::Text(id.cluster.0.clone()),
    }
}

/// Rows of a [`crate::state::Table`] as (id, record) pairs.
pub fn table_rows<T>(t: &crate::state::Table<T>) -> Vec<(RecordId, &T)> {
    t.iter().map(|(id, r)| (id.clone(), r)).collect()
}

#[cfg(test)]
mod tests {
    use super::Filter;

    #[test]
    fn terms_match_substrings_or_fuzzy_words_and_all_must_match() {
        let row =
            "prod-eu-west-1 gatekeeper deny k8srequiredlabels-owner Pod/research/x you must provide labels";
        assert!(Filter::new("").matches(row));
        assert!(Filter::new("gtkpr").matches(row), "fuzzy within a word");
        assert!(Filter::new("PROVIDE LABELS").matches(row), "substring, any case");
        assert!(Filter::new("gtkpr prod-eu").matches(row));
        assert!(!Filter::new("gtkpr staging").matches(row), "every term must match");
        assert!(!Filter::new("kyverno").matches(row));
        let long = format!("prod {}", "abcdefghij".repeat(10));
        assert!(!Filter::new("aej").matches(&long), "no fuzzy match inside very long words");
    }
}
