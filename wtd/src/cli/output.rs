//! Printing a command's result: text for people, or JSON for scripts (`--json`), from the
//! same value.
//!
//! Each command's result is a type that derives `Serialize` (the JSON) and implements
//! `Display` (the text), so the two cannot drift apart and nothing is built as JSON only
//! to be read back. Fields are declared in alphabetical order, the order the JSON had
//! when it was built from `serde_json::Value` maps, so scripts see the same bytes.
//!
//! Text that came from someone else (a name in the proxy's directory, a caller in the
//! audit log) goes through [`inert`] first: a terminal must never receive an escape
//! sequence a stranger chose.

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
                serde_json::to_string_pretty(result).unwrap_or_default()
            );
        } else {
            println!("{result}");
        }
    }

    /// Prints entries of a stream, one line each: a JSON object per line, or text.
    /// A reader that went away (`| head`) is not an error: the output is simply not wanted.
    pub(super) fn lines<T: Serialize + Display>(&self, entries: impl IntoIterator<Item = T>) {
        let mut out = std::io::stdout().lock();
        for entry in entries {
            let _ = if self.json {
                writeln!(out, "{}", serde_json::to_string(&entry).unwrap_or_default())
            } else {
                writeln!(out, "{entry}")
            };
        }
        let _ = out.flush();
    }
}

/// `text` as inert text: anything but the name alphabet (and `/` and `:`) is escaped as
/// `\u{..}`, so no escape sequence, bidi override or markup reaches the terminal.
pub(super) fn inert(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || "_-/:".contains(c) {
                vec![c]
            } else {
                format!("\\u{{{:x}}}", c as u32).chars().collect()
            }
        })
        .collect()
}
