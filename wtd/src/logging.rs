//! Log lines for the `wtd` command and for programs built on WTD: `tracing` output on
//! stderr, chosen by `RUST_LOG`, in colour only where a person can see the colours.
//!
//! A log that goes to a file, a pipe or systemd's journal must be plain text: ANSI colour
//! codes there are noise (`\x1b[32m INFO\x1b[0m`). And <https://no-color.org> asks every
//! program to leave colours out when `NO_COLOR` is set to anything non-empty.
//!
//! (`wtd-proxy` cannot depend on this crate, so its `main.rs` makes the same choice in
//! its own three lines.)

use std::ffi::OsStr;
use std::io::IsTerminal;

/// Whether log lines on stderr should carry ANSI colour codes: only when stderr is a
/// terminal and `NO_COLOR` is unset or empty.
pub fn colour() -> bool {
    colour_for(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// The rule, apart from the process's real stderr and environment so that it can be tested.
fn colour_for(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// Installs the `tracing` subscriber every WTD program uses: lines on stderr (stdout is
/// left to the program's own output), in colour per [`colour`], showing what `RUST_LOG`
/// asks for or else `default_filter` (`"info"`, `"warn"`, …).
///
/// If the program has already installed a subscriber, that one stays. Needs the `cli`
/// feature (on by default), which brings `tracing-subscriber`.
#[cfg(feature = "cli")]
pub fn init(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour())
        .with_env_filter(filter)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colour_for(true, None));
        assert!(colour_for(true, Some(OsStr::new(""))), "empty means unset");
        assert!(!colour_for(true, Some(OsStr::new("1"))));
        assert!(!colour_for(false, None), "a file or a pipe gets plain text");
        assert!(!colour_for(false, Some(OsStr::new("1"))));
    }
}
