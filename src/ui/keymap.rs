//! Keymaps: data with descriptions, one binding per entry (yazi-style), so the help overlay and
//! footer hints are generated from them.
//!
//! ```toml
//! [[bindings]]
//! on = ["down", "j"]
//! run = "select_next"
//! desc = "Next row"
//! ```
//!
//! Keys are single characters (`"j"`, `"G"`, `"/"`, `" "`), named keys (`enter esc tab backtab up
//! down left right pageup pagedown home end space insert backspace delete f1`…`f12`), optionally
//! with `ctrl-`, `alt-` and `shift-` in front. An uppercase letter matches whether or not the
//! terminal also reports SHIFT. The shipped keymaps in `keymaps/` are compiled in; a user
//! `keymap.toml` adds bindings on top, each replacing whatever its keys did before
//! (`run = "none"` unbinds).

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::Deserialize;
use serde::de::IntoDeserializer;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::action::Action;
use super::config::{ConfigWarning, Source, sort_warnings};

/// The shipped keymaps, compiled in: (name, file, text).
const BUILTINS: &[(&str, &str, &str)] = &[
    ("default", "keymaps/default.toml", include_str!("../../keymaps/default.toml")),
    ("vim", "keymaps/vim.toml", include_str!("../../keymaps/vim.toml")),
];

/// The names of [`BUILTINS`], in order.
const BUILTIN_NAMES: &[&str] = &["default", "vim"];

/// The keys a `[[bindings]]` entry may hold.
const BINDING_KEYS: &[&str] = &["on", "run", "desc"];

/// The `run` value that unbinds a key.
const UNBIND: &str = "none";

/// Named keys, as written in keymap files.
const NAMED_KEYS: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("space", KeyCode::Char(' ')),
    ("insert", KeyCode::Insert),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
];

/// A problem with a key string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    /// The string was empty.
    #[error("empty key")]
    Empty,
    /// A `xxx-` prefix that is not `ctrl`, `alt` or `shift`.
    #[error("unknown modifier \"{0}\" (expected ctrl, alt or shift)")]
    UnknownModifier(String),
    /// Neither a single character nor a known key name.
    #[error(
        "unknown key \"{0}\" (expected one character or a name like enter, esc, tab, up, pagedown, space, f1)"
    )]
    UnknownKey(String),
}

/// One key with modifiers, normalised so that what a terminal reports and what a keymap file
/// says compare equal: characters never carry SHIFT (it is in the character: `G`, `?`), and
/// shift-tab is `backtab`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    /// The key.
    pub code: KeyCode,
    /// CONTROL, ALT and (for non-character keys) SHIFT.
    pub modifiers: KeyModifiers,
}

impl KeySpec {
    /// A key with modifiers, normalised.
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> Self {
        let shift = modifiers.contains(KeyModifiers::SHIFT);
        let code = match code {
            KeyCode::Char(c) if shift && c.is_ascii_lowercase() => KeyCode::Char(c.to_ascii_uppercase()),
            KeyCode::Tab if shift => KeyCode::BackTab,
            other => other,
        };
        let modifiers = match code {
            KeyCode::Char(_) | KeyCode::BackTab => modifiers - KeyModifiers::SHIFT,
            _ => modifiers,
        };
        KeySpec { code, modifiers }
    }

    /// The key a terminal event stands for.
    pub fn from_event(event: &KeyEvent) -> Self {
        KeySpec::new(event.code, event.modifiers)
    }
}

impl FromStr for KeySpec {
    type Err = KeyParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(KeyParseError::Empty);
        }
        let (modifiers, rest) = split_modifiers(text)?;
        let code = parse_code(rest).ok_or_else(|| KeyParseError::UnknownKey(text.to_owned()))?;
        Ok(KeySpec::new(code, modifiers))
    }
}

/// Strips `ctrl-`/`alt-`/`shift-` prefixes; a single character (even `-`) is always the key.
fn split_modifiers(text: &str) -> Result<(KeyModifiers, &str), KeyParseError> {
    let mut modifiers = KeyModifiers::NONE;
    let mut rest = text;
    while rest.chars().count() > 1 {
        let Some((head, tail)) = rest.split_once('-') else {
            break;
        };
        if tail.is_empty() {
            break;
        }
        modifiers |= match head.to_ascii_lowercase().as_str() {
            "ctrl" | "control" => KeyModifiers::CONTROL,
            "alt" => KeyModifiers::ALT,
            "shift" => KeyModifiers::SHIFT,
            _ => return Err(KeyParseError::UnknownModifier(head.to_owned())),
        };
        rest = tail;
    }
    Ok((modifiers, rest))
}

/// A single character, a named key, or `f1`…`f12`.
fn parse_code(text: &str) -> Option<KeyCode> {
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(KeyCode::Char(c));
    }
    let lower = text.to_ascii_lowercase();
    if let Some((_, code)) = NAMED_KEYS.iter().find(|(name, _)| *name == lower) {
        return Some(*code);
    }
    let number: u8 = lower.strip_prefix('f')?.parse().ok()?;
    (1..=12).contains(&number).then_some(KeyCode::F(number))
}

impl fmt::Display for KeySpec {
    /// `ctrl-c`, `G`, `?`, `space`, `shift-right`: the form keymap files use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, name) in
            [(KeyModifiers::CONTROL, "ctrl-"), (KeyModifiers::ALT, "alt-"), (KeyModifiers::SHIFT, "shift-")]
        {
            if self.modifiers.contains(flag) {
                f.write_str(name)?;
            }
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            code => match NAMED_KEYS.iter().find(|(_, c)| *c == code) {
                Some((name, _)) => f.write_str(name),
                None => write!(f, "{code:?}"),
            },
        }
    }
}

/// One entry of a keymap: the keys, what they do, and the text help shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The keys that trigger the action (any one of them).
    pub keys: Vec<KeySpec>,
    /// What the keys do.
    pub action: Action,
    /// A short description for help and footer hints.
    pub desc: String,
}

/// Key bindings, with a precomputed key → action table.
#[derive(Debug, Clone)]
pub struct Keymap {
    name: String,
    bindings: Vec<Binding>,
    lookup: HashMap<KeySpec, Action>,
}

impl Default for Keymap {
    /// The `default` keymap.
    fn default() -> Self {
        builtin_or_empty(0)
    }
}

impl Keymap {
    /// The action a key press asks for. Press and repeat events count; release events do not.
    pub fn action_for(&self, key: &KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        self.lookup.get(&KeySpec::from_event(key)).copied()
    }

    /// Every binding, in file order (user bindings last).
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The keys bound to an action, as written in keymap files (`ctrl-c`, `down`, `?`).
    pub fn keys_for(&self, action: Action) -> Vec<String> {
        self.bindings
            .iter()
            .filter(|b| b.action == action)
            .flat_map(|b| b.keys.iter().map(ToString::to_string))
            .collect()
    }

    /// The description of an action's first binding.
    pub fn desc_for(&self, action: Action) -> Option<&str> {
        self.bindings.iter().find(|b| b.action == action).map(|b| b.desc.as_str())
    }

    /// The keymap's name (a user overlay keeps the name of the keymap it was laid over).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A shipped keymap by name (`default`, `vim`).
    pub fn builtin(name: &str) -> Option<Keymap> {
        let index = BUILTIN_NAMES.iter().position(|n| *n == name)?;
        Some(builtin_or_empty(index))
    }

    /// The names of the shipped keymaps.
    pub fn builtin_names() -> &'static [&'static str] {
        BUILTIN_NAMES
    }

    /// Parses a whole keymap file; bad entries become warnings.
    pub fn from_toml(name: &str, path: &Path, text: &str) -> (Keymap, Vec<ConfigWarning>) {
        let mut keymap = Keymap { name: name.to_owned(), bindings: Vec::new(), lookup: HashMap::new() };
        let src = Source::new(path, text);
        let warnings = match src.parse() {
            Ok(table) => keymap.overlay(&src, &table),
            Err(warning) => vec![warning],
        };
        (keymap, warnings)
    }

    /// Adds the `[[bindings]]` of a parsed file; each binding replaces what its keys did.
    pub(crate) fn overlay(&mut self, src: &Source<'_>, table: &DeTable<'_>) -> Vec<ConfigWarning> {
        self.overlay_tracked(src, table).0
    }

    /// Lays a user's `keymap.toml` over this keymap, as [`Keymap::overlay`], and then makes sure
    /// it can still be left and explained: a file that takes every quit key away gets a warning
    /// and `ctrl-c` quits again (as built in); one that takes every help key away gets a warning.
    pub(crate) fn overlay_user(&mut self, src: &Source<'_>, table: &DeTable<'_>) -> Vec<ConfigWarning> {
        let (mut warnings, taken) = self.overlay_tracked(src, table);
        let bound = |keymap: &Keymap, action| keymap.lookup.values().any(|a| *a == action);
        if !bound(self, Action::Quit)
            && let Some((index, span)) = taken.get(&Action::Quit)
        {
            let message = format!(
                "this takes the last quit key away; {BUILTIN_QUIT} quits again as built in, \
                 so fleettop can always be left"
            );
            warnings.push(src.warn(span.clone(), &format!("bindings[{index}].on"), message));
            if let Ok(key) = BUILTIN_QUIT.parse::<KeySpec>() {
                let desc = self.desc_for(Action::Quit).map_or_else(|| "Quit".to_owned(), str::to_owned);
                for binding in &mut self.bindings {
                    binding.keys.retain(|k| *k != key);
                }
                self.bindings.retain(|b| !b.keys.is_empty());
                self.bindings.push(Binding { keys: vec![key], action: Action::Quit, desc });
                self.lookup = build_lookup(&self.bindings);
            }
        }
        if !bound(self, Action::ToggleHelp)
            && let Some((index, span)) = taken.get(&Action::ToggleHelp)
        {
            let message = "this takes the last help key away: no key shows help \
                           (bind one with run = \"toggle_help\")";
            warnings.push(src.warn(span.clone(), &format!("bindings[{index}].on"), message));
        }
        sort_warnings(&mut warnings);
        warnings
    }

    /// [`Keymap::overlay`], also saying, per action, which entry (index and key span) last took
    /// a key away from it. Linear in the size of the file: each key's owner is looked up in a
    /// map, and emptied bindings are dropped once at the end.
    fn overlay_tracked(
        &mut self,
        src: &Source<'_>,
        table: &DeTable<'_>,
    ) -> (Vec<ConfigWarning>, HashMap<Action, Taker>) {
        let mut warnings = Vec::new();
        for (key, value) in table {
            if key.get_ref() != "bindings" {
                warnings.push(src.unknown_key(key, value, "", &["bindings"]));
            }
        }
        // Which binding holds each key, and each action's description, as things stand.
        let mut owner: HashMap<KeySpec, usize> = HashMap::new();
        let mut descs: HashMap<Action, String> = HashMap::new();
        for (i, binding) in self.bindings.iter().enumerate() {
            owner.extend(binding.keys.iter().map(|k| (*k, i)));
            descs.entry(binding.action).or_insert_with(|| binding.desc.clone());
        }
        let mut taken = HashMap::new();
        let mut seen = HashMap::new();
        for (index, entry) in binding_entries(src, table, &mut warnings).iter().enumerate() {
            let Some(parsed) = parse_binding(src, index, entry, &mut warnings) else {
                continue;
            };
            warn_duplicates(src, index, &parsed, &mut seen, &mut warnings);
            for (key, span) in &parsed.keys {
                if let Some(held) = owner.remove(key).and_then(|b| self.bindings.get(b)) {
                    taken.insert(held.action, (index, span.clone()));
                }
            }
            let Run::Bind(action) = parsed.run else {
                continue;
            };
            let desc =
                parsed.desc.or_else(|| descs.get(&action).cloned()).unwrap_or_else(|| action_name(action));
            descs.entry(action).or_insert_with(|| desc.clone());
            let keys: Vec<KeySpec> = parsed.keys.iter().map(|(k, _)| *k).collect();
            owner.extend(keys.iter().map(|k| (*k, self.bindings.len())));
            self.bindings.push(Binding { keys, action, desc });
        }
        // Each key stays only with the binding that holds it last.
        for (i, binding) in self.bindings.iter_mut().enumerate() {
            binding.keys.retain(|k| owner.get(k) == Some(&i));
        }
        self.bindings.retain(|b| !b.keys.is_empty());
        self.lookup = build_lookup(&self.bindings);
        sort_warnings(&mut warnings);
        (warnings, taken)
    }
}

/// Which `[[bindings]]` entry (index, and the span of the key) took a key from an action.
type Taker = (usize, Range<usize>);

/// The key that always quits, restored when a user keymap takes every quit key away.
pub const BUILTIN_QUIT: &str = "ctrl-c";

/// The `snake_case` name keymap files use for an action (`select_next`).
pub fn action_name(action: Action) -> String {
    match toml::Value::try_from(action) {
        Ok(toml::Value::String(name)) => name,
        _ => format!("{action:?}"),
    }
}

/// The action a `snake_case` name stands for.
pub fn parse_action(name: &str) -> Option<Action> {
    let deserializer: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        name.into_deserializer();
    Action::deserialize(deserializer).ok()
}

/// The shipped keymap at `index`; a broken shipped file (caught by tests) degrades to empty.
fn builtin_or_empty(index: usize) -> Keymap {
    match BUILTINS.get(index) {
        Some((name, path, text)) => Keymap::from_toml(name, Path::new(path), text).0,
        None => Keymap { name: "none".to_owned(), bindings: Vec::new(), lookup: HashMap::new() },
    }
}

/// Key → action for every binding; later bindings win.
fn build_lookup(bindings: &[Binding]) -> HashMap<KeySpec, Action> {
    bindings.iter().flat_map(|b| b.keys.iter().map(move |k| (*k, b.action))).collect()
}

/// What an entry's `run` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// Bind the keys to an action.
    Bind(Action),
    /// `run = "none"`: unbind the keys.
    Unbind,
}

/// One `[[bindings]]` entry after parsing.
#[derive(Debug, Clone)]
struct ParsedBinding {
    keys: Vec<(KeySpec, Range<usize>)>,
    run: Run,
    desc: Option<String>,
}

/// The entries of `bindings`, which must be an array of tables.
fn binding_entries<'t, 'i>(
    src: &Source<'_>,
    table: &'t DeTable<'i>,
    warnings: &mut Vec<ConfigWarning>,
) -> Vec<&'t Spanned<DeValue<'i>>> {
    let Some(value) = table.get("bindings") else {
        return Vec::new();
    };
    match value.get_ref() {
        DeValue::Array(items) => items.iter().collect(),
        other => {
            let message = format!("expected [[bindings]] entries, found {}", other.type_str());
            warnings.push(src.warn(value.span(), "bindings", message));
            Vec::new()
        }
    }
}

/// Parses one entry; `None` when anything in it is bad (each problem is a warning), so a
/// half-understood binding never takes a key away from its default.
fn parse_binding(
    src: &Source<'_>,
    index: usize,
    entry: &Spanned<DeValue<'_>>,
    warnings: &mut Vec<ConfigWarning>,
) -> Option<ParsedBinding> {
    let prefix = format!("bindings[{index}]");
    let before = warnings.len();
    let DeValue::Table(table) = entry.get_ref() else {
        let message = format!(
            "expected a table like {{ on = \"j\", run = \"select_next\" }}, found {}",
            entry.get_ref().type_str()
        );
        warnings.push(src.warn(entry.span(), &prefix, message));
        return None;
    };
    for (key, value) in table {
        if !BINDING_KEYS.contains(&key.get_ref().as_ref()) {
            warnings.push(src.unknown_key(key, value, &prefix, BINDING_KEYS));
        }
    }
    let run = parse_run(src, &prefix, entry.span(), table, warnings);
    let keys = parse_on(src, &prefix, entry.span(), table, warnings);
    let desc = parse_desc(src, &prefix, table, warnings);
    let clean = warnings.len() == before && !keys.is_empty();
    clean.then_some(ParsedBinding { keys, run: run?, desc })
}

/// `run`: an action name, or `"none"` to unbind.
fn parse_run(
    src: &Source<'_>,
    prefix: &str,
    span: Range<usize>,
    table: &DeTable<'_>,
    warnings: &mut Vec<ConfigWarning>,
) -> Option<Run> {
    let key = format!("{prefix}.run");
    let Some(value) = table.get("run") else {
        warnings.push(src.missing(span, &key));
        return None;
    };
    let name = src.expect_str(&key, value).map_err(|w| warnings.push(w)).ok()?;
    if name == UNBIND {
        return Some(Run::Unbind);
    }
    let action = parse_action(name);
    if action.is_none() {
        warnings.push(src.warn(value.span(), &key, unknown_action_message()));
    }
    action.map(Run::Bind)
}

/// "unknown action (expected one of: quit, `toggle_help`, …; or "none" to unbind)".
fn unknown_action_message() -> String {
    let names: Vec<String> = Action::ALL.iter().map(|a| action_name(*a)).collect();
    format!("unknown action (expected one of: {}; or \"none\" to unbind)", names.join(", "))
}

/// `on`: one key string or an array of them; bad keys are warnings and skipped.
fn parse_on(
    src: &Source<'_>,
    prefix: &str,
    span: Range<usize>,
    table: &DeTable<'_>,
    warnings: &mut Vec<ConfigWarning>,
) -> Vec<(KeySpec, Range<usize>)> {
    let key = format!("{prefix}.on");
    let Some(value) = table.get("on") else {
        warnings.push(src.missing(span, &key));
        return Vec::new();
    };
    src.str_list(&key, value, warnings)
        .into_iter()
        .filter_map(|(text, span)| match text.parse::<KeySpec>() {
            Ok(spec) => Some((spec, span)),
            Err(err) => {
                warnings.push(src.warn(span, &key, err.to_string()));
                None
            }
        })
        .collect()
}

/// `desc`: optional text.
fn parse_desc(
    src: &Source<'_>,
    prefix: &str,
    table: &DeTable<'_>,
    warnings: &mut Vec<ConfigWarning>,
) -> Option<String> {
    let value = table.get("desc")?;
    let key = format!("{prefix}.desc");
    src.expect_str(&key, value).map(str::to_owned).map_err(|w| warnings.push(w)).ok()
}

/// Warns when a key is bound twice in one file (the later binding wins).
fn warn_duplicates(
    src: &Source<'_>,
    index: usize,
    parsed: &ParsedBinding,
    seen: &mut HashMap<KeySpec, usize>,
    warnings: &mut Vec<ConfigWarning>,
) {
    for (spec, span) in &parsed.keys {
        if let Some(earlier) = seen.insert(*spec, span.start) {
            let earlier = src.line(earlier);
            let message = format!("\"{spec}\" is already bound on line {earlier}; this binding replaces it");
            warnings.push(src.warn(span.clone(), &format!("bindings[{index}].on"), message));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    fn parse(text: &str) -> (Keymap, Vec<String>) {
        let (keymap, warnings) = Keymap::from_toml("test", Path::new("keymap.toml"), text);
        (keymap, warnings.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn every_shipped_keymap_parses_without_warnings() {
        for (name, path, text) in BUILTINS {
            let (keymap, warnings) = Keymap::from_toml(name, Path::new(path), text);
            let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
            assert!(warnings.is_empty(), "{name}: {shown:#?}");
            assert!(keymap.bindings().iter().all(|b| !b.desc.is_empty()), "{name}");
        }
        let names: Vec<&str> = BUILTINS.iter().map(|b| b.0).collect();
        assert_eq!(names, Keymap::builtin_names());
    }

    #[test]
    fn every_shipped_keymap_binds_every_action() {
        for name in Keymap::builtin_names() {
            let keymap = Keymap::builtin(name).unwrap();
            for action in Action::ALL {
                assert!(!keymap.keys_for(action).is_empty(), "{name}: {action:?} is unbound");
            }
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_a_shipped_keymap() {
        for name in Keymap::builtin_names() {
            let keymap = Keymap::builtin(name).unwrap();
            let mut seen = HashSet::new();
            for binding in keymap.bindings() {
                for key in &binding.keys {
                    assert!(seen.insert(*key), "{name}: {key} is bound twice");
                }
            }
        }
    }

    #[test]
    fn key_strings_round_trip() {
        for text in [
            "j",
            "G",
            "/",
            "?",
            "[",
            "]",
            "-",
            "+",
            "$",
            "0",
            "space",
            "enter",
            "esc",
            "tab",
            "backtab",
            "up",
            "down",
            "left",
            "right",
            "pageup",
            "pagedown",
            "home",
            "end",
            "backspace",
            "delete",
            "insert",
            "f1",
            "f12",
            "ctrl-c",
            "ctrl-d",
            "alt-x",
            "shift-right",
            "ctrl-alt-delete",
            "ctrl--",
        ] {
            let spec: KeySpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text, "{text}");
            assert_eq!(spec.to_string().parse::<KeySpec>().unwrap(), spec);
        }
    }

    #[test]
    fn key_strings_normalise() {
        let key = |s: &str| s.parse::<KeySpec>().unwrap().to_string();
        assert_eq!(key(" "), "space");
        assert_eq!(key("shift-g"), "G");
        assert_eq!(key("shift-G"), "G");
        assert_eq!(key("shift-tab"), "backtab");
        assert_eq!(key("Ctrl-C"), "ctrl-C");
        assert_eq!(key("ENTER"), "enter");
        assert_eq!(key("control-u"), "ctrl-u");
    }

    #[test]
    fn bad_key_strings_are_errors() {
        assert_eq!("".parse::<KeySpec>(), Err(KeyParseError::Empty));
        assert_eq!("meta-x".parse::<KeySpec>(), Err(KeyParseError::UnknownModifier("meta".to_owned())));
        assert_eq!("enterr".parse::<KeySpec>(), Err(KeyParseError::UnknownKey("enterr".to_owned())));
        assert_eq!("f13".parse::<KeySpec>(), Err(KeyParseError::UnknownKey("f13".to_owned())));
        assert!("ctrl-".parse::<KeySpec>().is_err());
    }

    #[test]
    fn action_for_real_key_events() {
        let keymap = Keymap::default();
        let none = KeyModifiers::NONE;
        let shift = KeyModifiers::SHIFT;
        assert_eq!(keymap.action_for(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(keymap.action_for(&press(KeyCode::Char('c'), none)), None);
        assert_eq!(keymap.action_for(&press(KeyCode::Char('G'), shift)), Some(Action::SelectLast));
        assert_eq!(keymap.action_for(&press(KeyCode::Char('G'), none)), Some(Action::SelectLast));
        assert_eq!(keymap.action_for(&press(KeyCode::Char('g'), none)), Some(Action::SelectFirst));
        assert_eq!(keymap.action_for(&press(KeyCode::Char('?'), shift)), Some(Action::ToggleHelp));
        assert_eq!(keymap.action_for(&press(KeyCode::BackTab, shift)), Some(Action::PrevPane));
        assert_eq!(keymap.action_for(&press(KeyCode::Tab, shift)), Some(Action::PrevPane));
        assert_eq!(keymap.action_for(&press(KeyCode::Char(' '), none)), Some(Action::ReplayTogglePause));
        assert_eq!(keymap.action_for(&press(KeyCode::Right, none)), Some(Action::ReplaySeekForward));
        assert_eq!(keymap.action_for(&press(KeyCode::Right, shift)), Some(Action::ReplaySeekForwardLong));
        assert_eq!(keymap.action_for(&press(KeyCode::Down, KeyModifiers::SUPER)), None);
    }

    #[test]
    fn release_events_are_ignored_and_repeats_count() {
        let keymap = Keymap::default();
        let mut event = press(KeyCode::Down, KeyModifiers::NONE);
        event.kind = KeyEventKind::Repeat;
        assert_eq!(keymap.action_for(&event), Some(Action::SelectNext));
        event.kind = KeyEventKind::Release;
        assert_eq!(keymap.action_for(&event), None);
    }

    #[test]
    fn vim_keymap_pages_with_ctrl_d_and_seeks_with_l() {
        let vim = Keymap::builtin("vim").unwrap();
        let ctrl = KeyModifiers::CONTROL;
        assert_eq!(vim.action_for(&press(KeyCode::Char('d'), ctrl)), Some(Action::PageDown));
        assert_eq!(vim.action_for(&press(KeyCode::Char('u'), ctrl)), Some(Action::PageUp));
        assert_eq!(
            vim.action_for(&press(KeyCode::Char('l'), KeyModifiers::NONE)),
            Some(Action::ReplaySeekForward)
        );
        assert_eq!(vim.action_for(&press(KeyCode::Char('n'), KeyModifiers::NONE)), Some(Action::NextPane));
    }

    #[test]
    fn keys_for_and_desc_for_feed_the_help_overlay() {
        let keymap = Keymap::default();
        assert_eq!(keymap.keys_for(Action::Quit), ["q", "ctrl-c"]);
        assert_eq!(keymap.keys_for(Action::SelectNext), ["down", "j"]);
        assert_eq!(keymap.desc_for(Action::SelectNext), Some("Next row"));
        assert_eq!(keymap.name(), "default");
    }

    #[test]
    fn action_names_round_trip() {
        for action in Action::ALL {
            assert_eq!(parse_action(&action_name(action)), Some(action));
        }
        assert_eq!(action_name(Action::ReplaySeekForwardLong), "replay_seek_forward_long");
        assert_eq!(parse_action("selectnext"), None);
    }

    #[test]
    fn a_later_binding_replaces_what_its_key_did() {
        let mut keymap = Keymap::default();
        let text =
            "[[bindings]]\non = \"j\"\nrun = \"page_down\"\n\n[[bindings]]\non = [\"q\"]\nrun = \"none\"\n";
        let src = Source::new(Path::new("keymap.toml"), text);
        let warnings = keymap.overlay(&src, &src.parse().unwrap());
        assert!(warnings.is_empty(), "{warnings:?}");
        let none = KeyModifiers::NONE;
        assert_eq!(keymap.action_for(&press(KeyCode::Char('j'), none)), Some(Action::PageDown));
        assert_eq!(keymap.action_for(&press(KeyCode::Down, none)), Some(Action::SelectNext));
        assert_eq!(keymap.action_for(&press(KeyCode::Char('q'), none)), None);
        assert_eq!(keymap.keys_for(Action::Quit), ["ctrl-c"]);
        assert_eq!(keymap.keys_for(Action::PageDown), ["pagedown", "j"]);
        assert_eq!(keymap.keys_for(Action::SelectNext), ["down"]);
        let added = keymap.bindings().last().unwrap();
        assert_eq!(added.desc, "Page down", "a binding without desc borrows the action's");
    }

    #[test]
    fn bad_bindings_warn_and_are_skipped() {
        let (keymap, warnings) = parse(
            "[[bindings]]\n\
             on = [\"x\", \"meta-y\", \"enterr\"]\n\
             run = \"quit\"\n\
             [[bindings]]\n\
             on = \"z\"\n\
             run = \"explode\"\n\
             [[bindings]]\n\
             on = 5\n\
             run = \"copy\"\n\
             [[bindings]]\n\
             run = \"copy\"\n\
             [[bindings]]\n\
             on = \"x\"\n\
             run = \"copy\"\n\
             keys = 1\n\
             [[bindings]]\n\
             on = \"c\"\n\
             run = \"copy\"\n\
             [[bindings]]\n\
             on = [\"v\", \"c\"]\n\
             run = \"open_detail\"\n",
        );
        assert_eq!(warnings.len(), 7, "{warnings:#?}");
        assert_eq!(
            warnings[0],
            "keymap.toml:2: bindings[0].on = \"meta-y\": unknown modifier \"meta\" (expected ctrl, alt or shift)"
        );
        assert!(
            warnings[1].starts_with("keymap.toml:2: bindings[0].on = \"enterr\": unknown key \"enterr\"")
        );
        assert!(warnings[2].starts_with("keymap.toml:6: bindings[1].run = \"explode\": unknown action (expected one of: quit, toggle_help,"));
        assert_eq!(
            warnings[3],
            "keymap.toml:8: bindings[2].on = 5: expected a string or an array of strings, found integer"
        );
        assert_eq!(warnings[4], "keymap.toml:10: bindings[3].on: missing; entry skipped");
        assert_eq!(
            warnings[5],
            "keymap.toml:15: bindings[4].keys = 1: unknown key (expected one of: on, run, desc)"
        );
        assert_eq!(
            warnings[6],
            "keymap.toml:20: bindings[6].on = \"c\": \"c\" is already bound on line 17; this binding replaces it"
        );
        let none = KeyModifiers::NONE;
        assert_eq!(
            keymap.action_for(&press(KeyCode::Char('x'), none)),
            None,
            "bad entries are skipped whole"
        );
        assert_eq!(keymap.action_for(&press(KeyCode::Char('c'), none)), Some(Action::OpenDetail));
        assert_eq!(keymap.bindings().len(), 1);
    }
}
