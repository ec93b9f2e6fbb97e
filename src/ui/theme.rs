//! Themes: semantic style scopes (`health.live`, `exceptions.expired`) mapped to styles.
//!
//! A theme file has an optional `[palette]` (name → colour) and a `[styles]` table mapping a
//! scope to `{ fg, bg, add = ["bold"], sub = [...] }` (or just a colour, meaning `fg`). Scopes may
//! be written quoted (`"health.live" = …`) or nested (`health.live = …`). Lookup falls back
//! helix-style: `denials.enforcement.deny` → `denials.enforcement` → `denials` → `ui.text` →
//! the terminal default. Widgets never hard-code a colour; they ask for a scope.
//!
//! The shipped themes in `themes/` are compiled in; a user `theme.toml` overlays one of them
//! (see [`crate::ui::config`]).

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::{ConfigWarning, Source, join_key, sort_warnings};

/// Every semantic scope a widget may ask for. Every shipped theme defines all of them.
pub const SCOPES: &[&str] = &[
    "ui.text",
    "ui.dim",
    "ui.border",
    "ui.border.focus",
    "ui.title",
    "ui.header",
    "ui.tab",
    "ui.tab.active",
    "ui.footer",
    "ui.key",
    "ui.warning",
    "ui.error",
    "ui.filter",
    "ui.popup",
    "table.header",
    "table.selected",
    "table.match",
    "health.live",
    "health.syncing",
    "health.stale",
    "health.unreachable",
    "health.forbidden",
    "denials.enforcement.deny",
    "denials.enforcement.warn",
    "denials.enforcement.audit",
    "denials.enforcement.dryrun",
    "denials.count",
    "exceptions.expired",
    "exceptions.expiring",
    "exceptions.no_expiry",
    "exceptions.active",
    "gpu.quota.used",
    "gpu.quota.borrowed",
    "gpu.quota.free",
    "gpu.pending",
    "gpu.evicted",
    "gpu.idle",
    "gpu.util.low",
    "gpu.util.mid",
    "gpu.util.high",
    "pipelines.losing",
    "pipelines.degraded",
    "pipelines.silent",
    "pipelines.scrape_failed",
    "pipelines.ok",
    "pipelines.queue",
    "timeline.played",
    "timeline.rest",
    "timeline.head",
    "mode.live",
    "mode.replay",
    "mode.paused",
];

/// The scope every lookup finally falls back to.
const BASE_SCOPE: &str = "ui.text";

/// The shipped themes, compiled in: (name, file, text).
const BUILTINS: &[(&str, &str, &str)] = &[
    ("dark", "themes/dark.toml", include_str!("../../themes/dark.toml")),
    ("light", "themes/light.toml", include_str!("../../themes/light.toml")),
    ("high-contrast", "themes/high-contrast.toml", include_str!("../../themes/high-contrast.toml")),
    ("mono", "themes/mono.toml", include_str!("../../themes/mono.toml")),
];

/// The names of [`BUILTINS`], in order.
const BUILTIN_NAMES: &[&str] = &["dark", "light", "high-contrast", "mono"];

/// The keys a style table may hold.
const STYLE_FIELDS: &[&str] = &["fg", "bg", "add", "sub", "modifiers"];

/// The top-level keys of a theme file.
const THEME_KEYS: &[&str] = &["inherits", "palette", "styles"];

/// Modifier names accepted in `add`/`sub`.
const MODIFIERS: &[(&str, Modifier)] = &[
    ("bold", Modifier::BOLD),
    ("dim", Modifier::DIM),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("slow_blink", Modifier::SLOW_BLINK),
    ("rapid_blink", Modifier::RAPID_BLINK),
    ("reversed", Modifier::REVERSED),
    ("hidden", Modifier::HIDDEN),
    ("crossed_out", Modifier::CROSSED_OUT),
];

/// The 16 ANSI colours plus `reset`, by name.
const ANSI: &[(&str, Color)] = &[
    ("black", Color::Black),
    ("red", Color::Red),
    ("green", Color::Green),
    ("yellow", Color::Yellow),
    ("blue", Color::Blue),
    ("magenta", Color::Magenta),
    ("cyan", Color::Cyan),
    ("gray", Color::Gray),
    ("darkgray", Color::DarkGray),
    ("lightred", Color::LightRed),
    ("lightgreen", Color::LightGreen),
    ("lightyellow", Color::LightYellow),
    ("lightblue", Color::LightBlue),
    ("lightmagenta", Color::LightMagenta),
    ("lightcyan", Color::LightCyan),
    ("white", Color::White),
    ("reset", Color::Reset),
];

/// The message for a colour that is neither a name, a hex code, an index nor a palette entry.
const UNKNOWN_COLOUR: &str = "unknown colour (expected a name like \"red\", \"#rrggbb\" or 0-255)";

/// A colour as written: a name (ANSI or palette, resolved when styles are built) or a fixed one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ColorRef {
    /// A bare name: a palette entry, else an ANSI colour.
    Named(String),
    /// `#rrggbb` or an index.
    Fixed(Color),
}

/// One scope's style as written, before palette names are resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct StyleSpec {
    fg: Option<ColorRef>,
    bg: Option<ColorRef>,
    add: Modifier,
    sub: Modifier,
}

/// A set of styles for the semantic scopes, with fallback lookup.
#[derive(Debug, Clone)]
pub struct Theme {
    name: String,
    palette: HashMap<String, Color>,
    specs: HashMap<String, StyleSpec>,
    /// Resolved styles for every scope in [`SCOPES`] and every defined scope, fallback applied.
    styles: HashMap<String, Style>,
}

impl Default for Theme {
    /// The `dark` theme.
    fn default() -> Self {
        builtin_or_empty(0)
    }
}

impl Theme {
    /// The style for a semantic scope, falling back through its dotted parents, then
    /// `ui.text`, then the terminal default.
    pub fn style(&self, scope: &str) -> Style {
        match self.styles.get(scope) {
            Some(style) => *style,
            None => fallback(&self.styles, scope),
        }
    }

    /// The theme's name (a user overlay keeps the name of the theme it was laid over).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A shipped theme by name (`dark`, `light`, `high-contrast`, `mono`).
    pub fn builtin(name: &str) -> Option<Theme> {
        let index = BUILTIN_NAMES.iter().position(|n| *n == name)?;
        Some(builtin_or_empty(index))
    }

    /// The names of the shipped themes.
    pub fn builtin_names() -> &'static [&'static str] {
        BUILTIN_NAMES
    }

    /// The colourless theme `NO_COLOR` selects: meaning is carried by bold, reversed,
    /// underlined, dim and italic alone.
    pub fn mono() -> Theme {
        builtin_or_empty(3)
    }

    /// Whether the theme itself defines `scope` (rather than falling back for it).
    pub fn defines(&self, scope: &str) -> bool {
        self.specs.contains_key(scope)
    }

    /// Parses a whole theme file (no `inherits`); bad entries become warnings.
    pub fn from_toml(name: &str, path: &Path, text: &str) -> (Theme, Vec<ConfigWarning>) {
        let mut theme = Theme::empty(name);
        let src = Source::new(path, text);
        let warnings = match src.parse() {
            Ok(table) => theme.apply(&src, &table),
            Err(warning) => vec![warning],
        };
        (theme, warnings)
    }

    /// Lays a parsed user file over this theme, or over the shipped theme it `inherits`.
    pub(crate) fn with_overlay(self, src: &Source<'_>, table: &DeTable<'_>) -> (Theme, Vec<ConfigWarning>) {
        let mut warnings = Vec::new();
        let mut theme = match table.get("inherits") {
            Some(value) => inherited(src, value, &mut warnings).unwrap_or(self),
            None => self,
        };
        warnings.extend(theme.apply(src, table));
        (theme, warnings)
    }

    /// A theme with no styles: everything renders in the terminal default.
    fn empty(name: &str) -> Theme {
        Theme {
            name: name.to_owned(),
            palette: HashMap::new(),
            specs: HashMap::new(),
            styles: HashMap::new(),
        }
    }

    /// Applies `[palette]` then `[styles]` from a parsed file and rebuilds the lookup table.
    fn apply(&mut self, src: &Source<'_>, table: &DeTable<'_>) -> Vec<ConfigWarning> {
        let mut warnings = Vec::new();
        for (key, value) in table {
            if !THEME_KEYS.contains(&key.get_ref().as_ref()) {
                warnings.push(src.unknown_key(key, value, "", THEME_KEYS));
            }
        }
        if let Some(palette) = table.get("palette") {
            self.apply_palette(src, palette, &mut warnings);
        }
        if let Some(styles) = table.get("styles") {
            let mut entries = Vec::new();
            match styles.get_ref() {
                DeValue::Table(t) => collect_styles(src, None, t, &mut entries, &mut warnings),
                other => warnings.push(not_a_table(src, "styles", styles, other)),
            }
            for (scope, parsed) in entries {
                if let Some(spec) = self.check_names(src, &scope, parsed, &mut warnings) {
                    self.specs.insert(scope, spec);
                }
            }
        }
        self.rebuild();
        sort_warnings(&mut warnings);
        warnings
    }

    /// Adds `[palette]` entries; each must be a concrete colour.
    fn apply_palette(
        &mut self,
        src: &Source<'_>,
        palette: &Spanned<DeValue<'_>>,
        warnings: &mut Vec<ConfigWarning>,
    ) {
        let DeValue::Table(entries) = palette.get_ref() else {
            warnings.push(not_a_table(src, "palette", palette, palette.get_ref()));
            return;
        };
        for (name, value) in entries {
            let key = join_key("palette", name.get_ref());
            let colour = parse_colour(src, &key, value).and_then(|c| match c {
                ColorRef::Fixed(colour) => Ok(colour),
                ColorRef::Named(n) => ansi(&n).ok_or_else(|| src.warn(value.span(), &key, UNKNOWN_COLOUR)),
            });
            match colour {
                Ok(colour) => {
                    self.palette.insert(name.get_ref().to_string(), colour);
                }
                Err(warning) => warnings.push(warning),
            }
        }
    }

    /// The style of a scope entry, or `None` (keeping the scope as it was) when any of its
    /// fields is bad, including colour names that are neither in the palette nor ANSI.
    fn check_names(
        &self,
        src: &Source<'_>,
        scope: &str,
        parsed: ParsedStyle,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Option<StyleSpec> {
        let mut bad = parsed.bad;
        let spec = parsed.spec;
        for (field, colour, span) in [("fg", &spec.fg, parsed.fg_span), ("bg", &spec.bg, parsed.bg_span)] {
            if let Some(colour) = colour
                && self.resolve(colour).is_none()
            {
                let key = format!("{}.{field}", join_key("styles", scope));
                warnings.push(src.warn(span.unwrap_or(0..0), &key, UNKNOWN_COLOUR));
                bad = true;
            }
        }
        (!bad).then_some(spec)
    }

    /// A colour reference as a concrete colour: the palette first, then the ANSI names.
    fn resolve(&self, colour: &ColorRef) -> Option<Color> {
        match colour {
            ColorRef::Fixed(c) => Some(*c),
            ColorRef::Named(name) => self.palette.get(name).copied().or_else(|| ansi(name)),
        }
    }

    /// The style a spec describes.
    fn to_style(&self, spec: &StyleSpec) -> Style {
        let mut style = Style::new().add_modifier(spec.add).remove_modifier(spec.sub);
        style.fg = spec.fg.as_ref().and_then(|c| self.resolve(c));
        style.bg = spec.bg.as_ref().and_then(|c| self.resolve(c));
        style
    }

    /// Recomputes the resolved style of every known and defined scope.
    fn rebuild(&mut self) {
        let defined: HashMap<String, Style> =
            self.specs.iter().map(|(scope, spec)| (scope.clone(), self.to_style(spec))).collect();
        let mut styles = defined.clone();
        for scope in SCOPES {
            styles.insert((*scope).to_owned(), fallback(&defined, scope));
        }
        self.styles = styles;
    }
}

/// The shipped theme at `index`; a broken shipped file (caught by tests) degrades to empty.
fn builtin_or_empty(index: usize) -> Theme {
    match BUILTINS.get(index) {
        Some((name, path, text)) => Theme::from_toml(name, Path::new(path), text).0,
        None => Theme::empty("none"),
    }
}

/// The shipped theme a user file `inherits`, or a warning.
fn inherited(
    src: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    warnings: &mut Vec<ConfigWarning>,
) -> Option<Theme> {
    let name = match src.expect_str("inherits", value) {
        Ok(name) => name,
        Err(warning) => {
            warnings.push(warning);
            return None;
        }
    };
    let found = Theme::builtin(name);
    if found.is_none() {
        let message = format!("unknown theme (expected one of: {})", BUILTIN_NAMES.join(", "));
        warnings.push(src.warn(value.span(), "inherits", message));
    }
    found
}

/// Nearest defined style along the dotted chain, then `ui.text`, then the default.
fn fallback(styles: &HashMap<String, Style>, scope: &str) -> Style {
    let mut current = scope;
    loop {
        if let Some(style) = styles.get(current) {
            return *style;
        }
        match current.rfind('.') {
            Some(dot) => current = &current[..dot],
            None => break,
        }
    }
    styles.get(BASE_SCOPE).copied().unwrap_or_default()
}

/// Whether a scope is known: one of [`SCOPES`] or a dotted prefix of one (`denials`).
pub fn is_known_scope(scope: &str) -> bool {
    SCOPES
        .iter()
        .any(|known| known.strip_prefix(scope).is_some_and(|rest| rest.is_empty() || rest.starts_with('.')))
}

/// A style as parsed, with the spans of its colours for later palette checks.
#[derive(Debug, Clone, Default)]
struct ParsedStyle {
    spec: StyleSpec,
    /// Some field was bad (and warned about): the entry is skipped as a whole.
    bad: bool,
    fg_span: Option<Range<usize>>,
    bg_span: Option<Range<usize>>,
}

/// Walks `[styles]`, flattening nested tables into dotted scopes.
fn collect_styles(
    src: &Source<'_>,
    scope: Option<&str>,
    table: &DeTable<'_>,
    out: &mut Vec<(String, ParsedStyle)>,
    warnings: &mut Vec<ConfigWarning>,
) {
    let mut style = ParsedStyle::default();
    let mut is_style = table.is_empty() && scope.is_some();
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        if let (Some(scope), true) = (scope, STYLE_FIELDS.contains(&name)) {
            is_style = true;
            let before = warnings.len();
            parse_field(src, scope, name, value, &mut style, warnings);
            style.bad |= warnings.len() > before;
            continue;
        }
        let child = match scope {
            Some(parent) => format!("{parent}.{name}"),
            None => name.to_owned(),
        };
        match scope {
            Some(parent) if !is_known_scope(&child) && !value.get_ref().is_table() => {
                warnings.push(unknown_field(src, parent, name, value));
            }
            _ => collect_scope(src, &child, value, out, warnings),
        }
    }
    if let (Some(scope), true) = (scope, is_style) {
        out.push((scope.to_owned(), style));
    }
}

/// "unknown style field" for `styles."ui.text".colour = …`.
fn unknown_field(src: &Source<'_>, scope: &str, field: &str, value: &Spanned<DeValue<'_>>) -> ConfigWarning {
    let key = join_key(&join_key("styles", scope), field);
    let message = format!("unknown style field (expected one of: {})", STYLE_FIELDS.join(", "));
    src.warn(value.span(), &key, message)
}

/// One scope's value: a style table, nested scopes, or a colour shorthand for `fg`.
fn collect_scope(
    src: &Source<'_>,
    scope: &str,
    value: &Spanned<DeValue<'_>>,
    out: &mut Vec<(String, ParsedStyle)>,
    warnings: &mut Vec<ConfigWarning>,
) {
    let key = join_key("styles", scope);
    if !is_known_scope(scope) {
        let message = "unknown style scope (the scope names are fixed; see themes/dark.toml)";
        warnings.push(src.warn(value.span(), &key, message));
        return;
    }
    match value.get_ref() {
        DeValue::Table(table) => collect_styles(src, Some(scope), table, out, warnings),
        DeValue::String(_) | DeValue::Integer(_) => {
            let mut style = ParsedStyle::default();
            let before = warnings.len();
            parse_field(src, scope, "fg", value, &mut style, warnings);
            style.bad = warnings.len() > before;
            out.push((scope.to_owned(), style));
        }
        other => {
            let message = format!(
                "expected a style table like {{ fg = \"red\", add = [\"bold\"] }} or a colour, found {}",
                other.type_str()
            );
            warnings.push(src.warn(value.span(), &key, message));
        }
    }
}

/// Parses one field (`fg`, `bg`, `add`/`modifiers`, `sub`) of a scope's style.
fn parse_field(
    src: &Source<'_>,
    scope: &str,
    field: &str,
    value: &Spanned<DeValue<'_>>,
    style: &mut ParsedStyle,
    warnings: &mut Vec<ConfigWarning>,
) {
    let key = format!("{}.{field}", join_key("styles", scope));
    match field {
        "fg" | "bg" => match parse_colour(src, &key, value) {
            Ok(colour) if field == "fg" => {
                style.spec.fg = Some(colour);
                style.fg_span = Some(value.span());
            }
            Ok(colour) => {
                style.spec.bg = Some(colour);
                style.bg_span = Some(value.span());
            }
            Err(warning) => warnings.push(warning),
        },
        "sub" => style.spec.sub |= parse_modifiers(src, &key, value, warnings),
        _ => style.spec.add |= parse_modifiers(src, &key, value, warnings),
    }
}

/// `"bold"` or `["bold", "reversed"]` as modifiers; unknown names are warnings.
fn parse_modifiers(
    src: &Source<'_>,
    key: &str,
    value: &Spanned<DeValue<'_>>,
    warnings: &mut Vec<ConfigWarning>,
) -> Modifier {
    let mut modifiers = Modifier::empty();
    for (name, span) in src.str_list(key, value, warnings) {
        match MODIFIERS.iter().find(|(n, _)| *n == name) {
            Some((_, m)) => modifiers |= *m,
            None => warnings.push(src.warn(span, key, unknown_modifier_message())),
        }
    }
    modifiers
}

/// "unknown modifier (expected one of: bold, dim, …)".
fn unknown_modifier_message() -> String {
    let names: Vec<&str> = MODIFIERS.iter().map(|(n, _)| *n).collect();
    format!("unknown modifier (expected one of: {})", names.join(", "))
}

/// A colour value: a string (name, `#rrggbb`, digits) or an integer index.
fn parse_colour(
    src: &Source<'_>,
    key: &str,
    value: &Spanned<DeValue<'_>>,
) -> Result<ColorRef, ConfigWarning> {
    let parsed = match value.get_ref() {
        DeValue::String(s) => parse_colour_str(s),
        DeValue::Integer(i) => i
            .as_str()
            .parse::<u8>()
            .ok()
            .filter(|_| i.radix() == 10)
            .map(|n| ColorRef::Fixed(Color::Indexed(n))),
        other => {
            let message = format!("expected a colour (a string or 0-255), found {}", other.type_str());
            return Err(src.warn(value.span(), key, message));
        }
    };
    parsed.ok_or_else(|| src.warn(value.span(), key, UNKNOWN_COLOUR))
}

/// `#rrggbb`, `0`-`255`, or a bare name (checked against the palette and ANSI later).
fn parse_colour_str(text: &str) -> Option<ColorRef> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix('#') {
        return parse_hex(hex).map(ColorRef::Fixed);
    }
    if text.chars().all(|c| c.is_ascii_digit()) {
        return text.parse::<u8>().ok().map(|n| ColorRef::Fixed(Color::Indexed(n)));
    }
    let bare = text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (bare && !text.is_empty()).then(|| ColorRef::Named(text.to_ascii_lowercase()))
}

/// `rrggbb` as an RGB colour.
fn parse_hex(hex: &str) -> Option<Color> {
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some(Color::Rgb(channel(0)?, channel(2)?, channel(4)?))
}

/// An ANSI colour (or `reset`) by name.
fn ansi(name: &str) -> Option<Color> {
    ANSI.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// "expected a table" for `[palette]`/`[styles]` of the wrong type.
fn not_a_table(
    src: &Source<'_>,
    key: &str,
    value: &Spanned<DeValue<'_>>,
    found: &DeValue<'_>,
) -> ConfigWarning {
    src.warn(value.span(), key, format!("expected a table, found {}", found.type_str()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Whether a colour is one of the 16 ANSI colours (or the terminal default).
    fn is_ansi16(colour: Option<Color>) -> bool {
        match colour {
            None => true,
            Some(c) => ANSI.iter().any(|(_, a)| *a == c),
        }
    }

    fn parse(text: &str) -> (Theme, Vec<ConfigWarning>) {
        Theme::from_toml("test", Path::new("test.toml"), text)
    }

    #[test]
    fn every_shipped_theme_parses_without_warnings() {
        for (name, path, text) in BUILTINS {
            let (_, warnings) = Theme::from_toml(name, Path::new(path), text);
            let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
            assert!(warnings.is_empty(), "{name}: {shown:#?}");
        }
        assert_eq!(BUILTINS.len(), BUILTIN_NAMES.len());
        for (i, name) in BUILTIN_NAMES.iter().enumerate() {
            assert_eq!(BUILTINS[i].0, *name);
        }
    }

    #[test]
    fn every_shipped_theme_defines_every_scope() {
        for name in Theme::builtin_names() {
            let theme = Theme::builtin(name).unwrap();
            assert_eq!(theme.name(), *name);
            for scope in SCOPES {
                assert!(theme.defines(scope), "{name} does not define {scope}");
            }
        }
    }

    #[test]
    fn colour_themes_use_only_the_16_ansi_colours() {
        for name in ["dark", "light", "high-contrast"] {
            let theme = Theme::builtin(name).unwrap();
            for scope in SCOPES {
                let style = theme.style(scope);
                assert!(is_ansi16(style.fg) && is_ansi16(style.bg), "{name} {scope}: {style:?}");
            }
        }
    }

    #[test]
    fn mono_uses_no_colour_but_keeps_meaning() {
        let mono = Theme::mono();
        assert_eq!(mono.name(), "mono");
        for scope in SCOPES {
            let style = mono.style(scope);
            assert_eq!((style.fg, style.bg), (None, None), "mono {scope}");
        }
        let expired = mono.style("exceptions.expired").add_modifier;
        assert!(expired.contains(Modifier::REVERSED | Modifier::BOLD));
        assert!(mono.style("denials.enforcement.deny").add_modifier.contains(Modifier::BOLD));
        assert!(mono.style("table.selected").add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn scopes_that_carry_meaning_differ_in_every_theme() {
        for name in Theme::builtin_names() {
            let theme = Theme::builtin(name).unwrap();
            let text = theme.style("ui.text");
            for scope in ["denials.enforcement.deny", "exceptions.expired", "table.selected"] {
                assert_ne!(theme.style(scope), text, "{name}: {scope} looks like plain text");
            }
        }
    }

    #[test]
    fn lookup_falls_back_along_dotted_scopes() {
        let (theme, warnings) = parse(
            r#"
            [styles]
            "ui.text" = { fg = "white" }
            "denials" = { fg = "red" }
            "denials.enforcement.warn" = { fg = "yellow", add = ["bold"] }
            "#,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let red = Style::new().fg(Color::Red);
        assert_eq!(theme.style("denials.enforcement.deny"), red);
        assert_eq!(theme.style("denials.enforcement.anything.else"), red);
        assert_eq!(theme.style("denials"), red);
        assert_eq!(
            theme.style("denials.enforcement.warn"),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
        );
        assert_eq!(theme.style("gpu.idle"), Style::new().fg(Color::White));
        assert_eq!(theme.style("not.a.scope"), Style::new().fg(Color::White));
        let (empty, _) = parse("");
        assert_eq!(empty.style("gpu.idle"), Style::default());
    }

    #[test]
    fn palette_hex_index_nested_and_shorthand_forms() {
        let (theme, warnings) = parse(
            r##"
            [palette]
            accent = "#ff8800"
            [styles]
            health.live = "accent"
            health.stale = { fg = 208, bg = "#000000", add = "bold", sub = ["dim"] }
            "gpu.idle" = "42"
            "##,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(theme.style("health.live").fg, Some(Color::Rgb(0xff, 0x88, 0)));
        let stale = theme.style("health.stale");
        assert_eq!(stale.fg, Some(Color::Indexed(208)));
        assert_eq!(stale.bg, Some(Color::Rgb(0, 0, 0)));
        assert!(stale.add_modifier.contains(Modifier::BOLD));
        assert!(stale.sub_modifier.contains(Modifier::DIM));
        assert_eq!(theme.style("gpu.idle").fg, Some(Color::Indexed(42)));
    }

    #[test]
    fn bad_entries_are_skipped_individually_with_warnings() {
        let (theme, warnings) = parse(
            "[styles]\n\
             \"health.live\" = { fg = \"purpel\", add = [\"bold\"] }\n\
             \"health.stale\" = { fg = 300 }\n\
             \"health.lve\" = { fg = \"red\" }\n\
             \"ui.text\" = { add = [\"blinky\"] }\n\
             \"ui.dim\" = true\n\
             \"gpu.idle\" = { fg = \"green\" }\n",
        );
        let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "test.toml:2: styles.\"health.live\".fg = \"purpel\": unknown colour (expected a name like \"red\", \"#rrggbb\" or 0-255)",
                "test.toml:3: styles.\"health.stale\".fg = 300: unknown colour (expected a name like \"red\", \"#rrggbb\" or 0-255)",
                "test.toml:4: styles.\"health.lve\" = { fg = \"red\" }: unknown style scope (the scope names are fixed; see themes/dark.toml)",
                "test.toml:5: styles.\"ui.text\".add = \"blinky\": unknown modifier (expected one of: bold, dim, italic, underlined, slow_blink, rapid_blink, reversed, hidden, crossed_out)",
                "test.toml:6: styles.\"ui.dim\" = true: expected a style table like { fg = \"red\", add = [\"bold\"] } or a colour, found boolean",
            ]
        );
        assert!(!theme.defines("health.live"), "an entry with a bad field is skipped whole");
        assert!(!theme.defines("ui.text"));
        assert_eq!(theme.style("health.live"), Style::default());
        assert_eq!(theme.style("gpu.idle").fg, Some(Color::Green));
    }
}
