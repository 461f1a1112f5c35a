//! Printing a command's result: text for people, or JSON for scripts (`--json`), from the
//! same value.
//!
//! Each command's result is a type that derives `Serialize` (the JSON) and implements
//! `Display` (the text), so the two cannot drift apart and nothing is built as JSON only
//! to be read back. Fields are declared in alphabetical order, the order the JSON had
//! when it was built from `serde_json::Value` maps, so scripts see the same bytes.
//!
//! Text that came from someone else must never put an escape sequence, a bidirectional
//! override or an invisible character a stranger chose on the terminal. So a name (in
//! the proxy's directory, a caller in the audit log) goes through [`inert`] first, and a
//! sentence (a proxy's refusal, a callee's panic message) through [`inert_text`]. As a
//! last line of defence everything printed passes [`inert_lines`] (text) or
//! [`inert_json`] (JSON) on its way out, so a field nobody thought of is covered too.

use std::fmt::Display;
use std::io::Write;

use serde::Serialize;

/// Where results go: stdout, as text or as JSON.
#[derive(Debug, Clone, Copy)]
pub(super) struct Output {
    /// `--json`.
    json: bool,
}

impl Output {
    /// Text for people, or JSON with `json`.
    pub(super) fn new(json: bool) -> Output {
        Output { json }
    }

    /// Whether results are printed as JSON.
    pub(super) fn is_json(&self) -> bool {
        self.json
    }

    /// Prints one result: pretty JSON, or its text.
    pub(super) fn print<T: Serialize + Display>(&self, result: &T) {
        if self.json {
            println!(
                "{}",
                inert_json(&serde_json::to_string_pretty(result).unwrap_or_default())
            );
        } else {
            println!("{}", inert_lines(&result.to_string()));
        }
    }

    /// Prints entries of a stream, one line each: a JSON object per line, or text.
    /// A reader that went away (`| head`) is not an error: the output is simply not wanted.
    pub(super) fn lines<T: Serialize + Display>(&self, entries: impl IntoIterator<Item = T>) {
        let mut out = std::io::stdout().lock();
        for entry in entries {
            let _ = if self.json {
                let line = serde_json::to_string(&entry).unwrap_or_default();
                writeln!(out, "{}", inert_json(&line))
            } else {
                writeln!(out, "{}", inert_lines(&entry.to_string()))
            };
        }
        let _ = out.flush();
    }
}

/// `text` as an inert name: anything but the name alphabet (and `/` and `:`) is escaped
/// as `\u{..}`, so no escape sequence, bidi override, invisible character or markup
/// reaches the terminal. For names, which are short and never need more.
pub(super) fn inert(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || "_-/:".contains(c) {
                vec![c]
            } else {
                escaped(c).chars().collect()
            }
        })
        .collect()
}

/// `text`, a sentence someone else wrote, on one line and inert: every control character
/// (escape, bell, carriage return, newline…) and every invisible format character (the
/// bidirectional overrides and isolates, zero-width characters) is escaped as `\u{..}`;
/// the rest, punctuation and other scripts included, reads as written.
pub(super) fn inert_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&escaped(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Like [`inert_text`], but keeps the line breaks: for what this command lays out on
/// several lines itself.
pub(super) fn inert_lines(text: &str) -> String {
    text.split('\n')
        .map(inert_text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// JSON text with every unsafe character that `serde_json` writes as is (the format
/// characters; it escapes the control characters itself) written as a `\uXXXX` escape
/// instead. Outside strings JSON is plain ASCII, so only strings change, and only in how
/// they are written: a script reads exactly the same values.
pub(super) fn inert_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if is_unsafe(c) && !c.is_ascii() {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn escaped(c: char) -> String {
    format!("\\u{{{:x}}}", c as u32)
}

/// Whether `c` may change what a terminal shows beyond itself: a control character, a
/// line or paragraph separator, or an invisible format character (Unicode category Cf),
/// among them the bidirectional embeddings and overrides (U+202A–U+202E) and isolates
/// (U+2066–U+2069) that make text read in another order than it is written.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{600}'..='\u{605}'
                | '\u{61c}'
                | '\u{6dd}'
                | '\u{70f}'
                | '\u{890}'..='\u{891}'
                | '\u{8e2}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_bidi_and_invisible_characters_and_keeps_the_rest() {
        let hostile = "ok\u{1b}[31m red\u{7}\r\n\u{202e}txt.exe\u{2066}\u{200b}\u{feff} é ü 名";
        let text = inert_text(hostile);
        assert_eq!(
            text,
            "ok\\u{1b}[31m red\\u{7}\\u{d}\\u{a}\\u{202e}txt.exe\\u{2066}\\u{200b}\\u{feff} é ü 名"
        );
        assert_eq!(inert_lines("a\u{1b}\nb"), "a\\u{1b}\nb");
        assert_eq!(inert("a b\u{202e}"), "a\\u{20}b\\u{202e}");
        for c in ('\u{202a}'..='\u{202e}').chain('\u{2066}'..='\u{2069}') {
            assert!(!inert_text(&c.to_string()).contains(c), "{c:?}");
            assert!(!inert(&c.to_string()).contains(c), "{c:?}");
        }
    }

    #[test]
    fn json_keeps_its_values_and_loses_its_format_characters() {
        let value = serde_json::json!({"m": "a\u{1b}b\u{202e}c\u{e0041}"});
        let json = inert_json(&serde_json::to_string(&value).expect("json"));
        assert!(json.is_ascii(), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).expect("still JSON");
        assert_eq!(back, value);
    }
}
