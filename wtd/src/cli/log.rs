//! `wtd log [--follow]`: the node's audit log, one line per call it received, accepted or
//! refused.
//!
//! Callers choose their own names and paths, so each is printed through [`inert`]; with
//! `--json` each entry is one JSON object per line, as it is stored. The text has column
//! headings, and shows paths short where the module is the mission ([`crate::path`]).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::error::CliError;
use super::output::{Output, inert};
use crate::audit::{self, AuditEntry, AuditLog};
use crate::error::Error;
use crate::path;

/// How often `--follow` looks for new entries.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// `wtd log [--follow]`.
#[derive(clap::Args, Debug)]
pub(super) struct LogArgs {
    /// Keep printing new entries as they come (Ctrl-C to stop).
    #[arg(long)]
    follow: bool,
}

/// One entry of `wtd log`: the audit entry as stored, or a line of text.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct LogLine<'a>(&'a AuditEntry);

impl fmt::Display for LogLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        let outcome = match e.skipped {
            Some(n) if e.outcome == audit::CALLS_NOT_LOGGED => {
                format!("{} ({n} calls that ran; the log fell behind)", e.outcome)
            }
            Some(n) => format!(
                "{} ({n} refusals over {}/s)",
                e.outcome,
                audit::REFUSALS_PER_SECOND
            ),
            None => e.outcome.clone(),
        };
        write!(
            f,
            "{:<24}  {:<10} {:<12} {:<28} {:<14} {} ms",
            e.time,
            e.grantee
                .as_deref()
                .map(inert)
                .unwrap_or_else(|| "(no grant)".into()),
            inert(&e.caller),
            inert(&path::shown(&e.path)),
            outcome,
            e.millis
        )
    }
}

/// The column headings of the text form, aligned with [`LogLine`]. GRANTEE is whom the
/// key was granted to (this node's grants), CALLER the name the calling node gave itself.
const HEADINGS: &str = concat!(
    "time                      grantee    caller       function                     ",
    "outcome        took"
);

/// Prints the log of the node in `home`; with `--follow`, then every entry appended,
/// until interrupted.
pub(super) fn run(out: &Output, home: &Path, args: &LogArgs) -> Result<(), CliError> {
    if !home.join("node.key").exists() {
        return Err(Error::file(
            home,
            "there is no node home here: run `wtd init` (or pass the right --home)",
        )
        .into());
    }
    let audit = AuditLog::new(home);
    let mut cursor = audit.end();
    let seen = audit.read();
    if seen.is_empty() && !args.follow && !out.is_json() {
        println!("No calls yet ({}).", audit.path().display());
    } else if !out.is_json() {
        println!("{HEADINGS}");
    }
    out.lines(seen.iter().map(LogLine));
    if !args.follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(FOLLOW_EVERY);
        // Reads only what was appended, and finishes the old file after a rotation.
        out.lines(audit.read_since(&mut cursor).iter().map(LogLine));
    }
}
