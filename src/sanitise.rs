//! The terminal sanitiser: the one rule for outside text on its way to a terminal.
//!
//! Anyone who may create an Event, a label or an annotation writes text that fleettop shows.
//! Written raw to a terminal, such text could run escape sequences (OSC 52 sets the clipboard,
//! OSC 0 the window title, CSI moves the cursor or rewrites what is on screen) or reorder what
//! a reader sees (bidi overrides). Every text that leaves fleettop for a terminal passes this
//! module first: CLI text outputs (`why`, `snapshot`, `report`), messages on stderr, the log
//! file and every cell, field and line the UI draws from outside data.
//!
//! The rule: C0 controls (except line breaks and tabs where the output has lines), DEL, ESC,
//! C1 controls, bidi embeddings, overrides, isolates and marks, zero-width and other invisible
//! format characters, and line or paragraph separators are **made visible** as escapes
//! (`\x1b`, `\u{202e}`), never executed and never silently dropped: what was hidden is
//! evidence. Everything else passes unchanged. JSON outputs do not pass here: serde escapes
//! control characters itself and JSON must stay exact.

use std::borrow::Cow;
use std::fmt::Write as _;

/// How a character is written to a terminal.
enum Class {
    /// As it is.
    Plain,
    /// Kept in multi-line text, written as an escape in one-line text (`\n`, `\t`).
    Layout,
    /// Always written as an escape.
    Hidden,
}

fn class(c: char) -> Class {
    match c {
        '\n' | '\t' => Class::Layout,
        // C0, DEL and C1 controls (ESC, BEL, CR, backspace, CSI 0x9b, OSC 0x9d, ST 0x9c, …).
        c if c.is_control() => Class::Hidden,
        c if is_invisible_format(c) => Class::Hidden,
        _ => Class::Plain,
    }
}

/// Characters that change how text is ordered or joined without being seen: Unicode's
/// format characters (general category Cf: bidi marks, embeddings, overrides and isolates,
/// zero-width space, word joiner, invisible operators, the byte order mark, interlinear
/// annotation and tag characters) and the line and paragraph separators. Zero-width joiner and
/// non-joiner are kept: scripts (and emoji sequences) need them and they reorder nothing.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                    // soft hyphen
        | '\u{0600}'..='\u{0605}'     // Arabic number signs
        | '\u{061C}'                  // Arabic letter mark (bidi)
        | '\u{06DD}' | '\u{070F}' | '\u{0890}' | '\u{0891}' | '\u{08E2}'
        | '\u{180E}'                  // Mongolian vowel separator
        | '\u{200B}'                  // zero-width space
        | '\u{200E}' | '\u{200F}'     // left-to-right / right-to-left mark
        | '\u{2028}' | '\u{2029}'     // line / paragraph separator
        | '\u{202A}'..='\u{202E}'     // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}'     // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}'     // bidi isolates, deprecated format characters
        | '\u{FEFF}'                  // byte order mark / zero-width no-break space
        | '\u{FFF9}'..='\u{FFFB}'     // interlinear annotation
        | '\u{110BD}' | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}' // tag characters
    )
}

/// True when `s` needs no change in any mode (the common case, checked without allocating).
fn is_clean(s: &str, keep_layout: bool) -> bool {
    // Printable ASCII is clean; only other bytes need a closer look.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return true;
    }
    s.chars().all(|c| match class(c) {
        Class::Plain => true,
        Class::Layout => keep_layout,
        Class::Hidden => false,
    })
}

fn escape(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

fn clean(s: &str, keep_layout: bool) -> Cow<'_, str> {
    if is_clean(s, keep_layout) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match class(c) {
            Class::Plain => out.push(c),
            Class::Layout if keep_layout => out.push(c),
            Class::Layout | Class::Hidden => escape(c, &mut out),
        }
    }
    Cow::Owned(out)
}

/// Multi-line text for a terminal (CLI text outputs, stderr): line breaks and tabs stay,
/// every other control or invisible format character is made visible.
pub fn text(s: &str) -> Cow<'_, str> {
    clean(s, true)
}

/// One line for a terminal (a table cell, a field, a log line): line breaks and tabs are made
/// visible too, so outside text can never start a line of its own.
pub fn line(s: &str) -> Cow<'_, str> {
    clean(s, false)
}

/// [`line`] of an owned string, without a copy when nothing changes.
pub fn line_owned(s: String) -> String {
    match line(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(clean) => clean,
    }
}

/// JSON for a terminal, with the same values: serde_json escapes C0 controls itself but writes
/// C1 controls, bidi and invisible format characters raw, which a terminal may act on. This
/// formatter writes those as `\uXXXX` escapes instead (JSON's own escape: a reader gets the
/// exact same string), and delegates everything else to serde_json's formatter `F`.
pub struct JsonFormatter<F>(pub F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for JsonFormatter<F> {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut from = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_control() || is_invisible_format(c) {
                w.write_all(&fragment.as_bytes()[from..i])?;
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(w, "\\u{u:04x}")?;
                }
                from = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[from..])
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes `value` as pretty JSON through [`JsonFormatter`].
pub fn write_json_pretty<W: std::io::Write, T: serde::Serialize + ?Sized>(
    w: W,
    value: &T,
) -> serde_json::Result<()> {
    let formatter = JsonFormatter(serde_json::ser::PrettyFormatter::new());
    value.serialize(&mut serde_json::Serializer::with_formatter(w, formatter))
}

/// `value` as one line of JSON, through [`JsonFormatter`].
pub fn json_line<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let formatter = JsonFormatter(serde_json::ser::CompactFormatter);
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, formatter))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn escape_sequences_are_shown_not_run() {
        // OSC 52 (set the clipboard), OSC 0 (window title), CSI (clear screen), C1 CSI.
        let hostile = "a\x1b]52;c;cm0gLXJmIH4=\x07b\x1b]0;pwned\x1b\\c\x1b[2Jd\u{9b}31m";
        let out = text(hostile);
        assert_eq!(out, "a\\x1b]52;c;cm0gLXJmIH4=\\x07b\\x1b]0;pwned\\x1b\\c\\x1b[2Jd\\x9b31m");
        assert!(!out.chars().any(char::is_control), "{out:?}");
    }

    #[test]
    fn bidi_overrides_and_invisible_characters_are_shown() {
        let out = line("user\u{202E}gnp.exe\u{2066}x\u{200B}y\u{FEFF}\u{E0041}");
        assert_eq!(out, "user\\u{202e}gnp.exe\\u{2066}x\\u{200b}y\\u{feff}\\u{e0041}");
    }

    #[test]
    fn line_breaks_stay_in_text_and_are_shown_in_a_line() {
        assert_eq!(text("a\nb\tc\rd"), "a\nb\tc\\rd");
        assert_eq!(line("a\nb\tc\rd"), "a\\nb\\tc\\rd");
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in ["plain ascii", "Ünïcödé — ✓ 日本語 👩‍🔬", "zero\u{200D}width joiner stays"]
        {
            assert!(matches!(text(s), Cow::Borrowed(_)), "{s}");
            assert!(matches!(line(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn a_megabyte_of_escapes_is_linear() {
        let big = "\x1b[31m".repeat(200_000);
        let out = line(&big);
        assert_eq!(out.len(), big.len() + 3 * 200_000);
    }

    #[test]
    fn json_escapes_what_a_terminal_would_run_and_keeps_the_value() {
        let value = serde_json::json!({"m": "a\x1b]0;t\x07 \u{9b}31m \u{202e}x \u{E0041} ok ✓"});
        let out = json_line(&value).unwrap();
        assert_eq!(out, r#"{"m":"a\u001b]0;t\u0007 \u009b31m \u202ex \udb40\udc41 ok ✓"}"#);
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, value, "the same value");
        let mut pretty = Vec::new();
        write_json_pretty(&mut pretty, &value).unwrap();
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&pretty).unwrap(), value);
        assert!(String::from_utf8(pretty).unwrap().contains("\n  \"m\": "), "still pretty");
    }

    proptest::proptest! {
        #[test]
        fn nothing_hidden_survives(s in ".*") {
            let out = line(&s);
            proptest::prop_assert!(!out.chars().any(|c| c.is_control() || is_invisible_format(c)), "{out:?}");
            let out = text(&s);
            proptest::prop_assert!(!out.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || is_invisible_format(c)));
        }
    }
}
