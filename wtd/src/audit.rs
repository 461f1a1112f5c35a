//! The audit log: one line per incoming call that could be read (accepted or refused; a
//! call in another wire version cannot be, and is only traced), so a node's owner can
//! see who used their machine and what was refused.
//!
//! Two files in the home folder hold JSON lines: `audit.log` the calls whose function ran
//! (accepted, or that panicked or answered too much), `refusals.log` the calls refused
//! before they ran. Each becomes `….1` (replacing the previous one) when it passes
//! 1 MiB, so the log never takes more than about 4 MiB, and **refusals can never push a
//! call that ran out of the log**: anyone can send junk calls, only a grantee can make
//! calls run, and a grant's rate bounds those.
//!
//! Refusals are also logged at most [`REFUSALS_PER_SECOND`] a second (after a burst of
//! [`REFUSAL_BURST`]); what is left out is counted in a `NotLogged` line, written at most
//! every [`SUMMARY_EVERY`] (and when the log is dropped), so a flood writes a few lines a
//! second, not one per refusal.
//!
//! Neither file is opened through a symbolic link: in a home another user could write
//! to, a link planted as `audit.log` would send the lines elsewhere (the home itself is
//! checked to be the user's own, see `home.rs`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Size at which each file is rotated.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

/// Refusals logged per second, once the burst is spent.
pub const REFUSALS_PER_SECOND: f64 = 20.0;

/// Refusals that may be logged at once before the rate applies.
pub const REFUSAL_BURST: f64 = 200.0;

/// Shortest time between two `NotLogged` lines.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(5);

/// One incoming call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When it was answered (RFC 3339, UTC).
    pub time: String,
    /// The calling node, as the call names it.
    pub caller: String,
    /// The grantee whose key signed it, if the key is granted here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee: Option<String>,
    /// Fingerprint of the capability key.
    pub key: String,
    /// mission/module/function.
    pub path: String,
    /// `ok`, or the refusal (`Denied`, `RateLimited`, …).
    pub outcome: String,
    /// How long the node took, in milliseconds.
    pub millis: u64,
    /// On a `NotLogged` line: how many refusals before it were left out of the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u64>,
}

impl AuditEntry {
    /// The line that stands for `skipped` refusals left out of the log.
    fn not_logged(skipped: u64) -> AuditEntry {
        AuditEntry {
            time: crate::grants::format_time(std::time::SystemTime::now()),
            caller: "-".into(),
            grantee: None,
            key: "-".into(),
            path: "-".into(),
            outcome: "NotLogged".into(),
            millis: 0,
            skipped: Some(skipped),
        }
    }
}

/// How many refusals may be logged now, and how many were left out since the last
/// `NotLogged` line.
#[derive(Debug)]
struct Budget {
    tokens: f64,
    refilled: Instant,
    skipped: u64,
    /// When the last `NotLogged` line was written.
    summarized: Option<Instant>,
}

/// The node's audit log: calls that ran, and refusals, each in a file of its own.
#[derive(Debug)]
pub struct AuditLog {
    /// `audit.log`: calls whose function ran.
    calls: LogFile,
    /// `refusals.log`: calls refused before they ran, and `NotLogged` counts.
    refusals: LogFile,
    /// The refusal rate (see the module's docs).
    budget: Mutex<Budget>,
}

/// Whether an entry with this outcome stands for a call whose function ran.
fn function_ran(outcome: &str) -> bool {
    matches!(outcome, "ok" | "RemotePanic" | "ResultTooLarge")
}

impl Drop for AuditLog {
    /// The count of refusals left out is not lost when the node stops.
    fn drop(&mut self) {
        let skipped = self
            .budget
            .get_mut()
            .map(|b| std::mem::take(&mut b.skipped))
            .unwrap_or(0);
        if skipped > 0 {
            self.refusals.write(&AuditEntry::not_logged(skipped));
        }
    }
}

/// Where `wtd log --follow` stopped reading, in each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    calls: FileCursor,
    refusals: FileCursor,
}

impl AuditLog {
    /// The log in `home`; the files are opened on the first entry.
    pub fn new(home: &Path) -> AuditLog {
        AuditLog {
            calls: LogFile::new(home.join("audit.log")),
            refusals: LogFile::new(home.join("refusals.log")),
            budget: Mutex::new(Budget {
                tokens: REFUSAL_BURST,
                refilled: Instant::now(),
                skipped: 0,
                summarized: None,
            }),
        }
    }

    /// Where the calls that ran are logged (`audit.log`).
    pub fn path(&self) -> &Path {
        &self.calls.path
    }

    /// Where refusals are logged (`refusals.log`).
    pub fn refusals_path(&self) -> &Path {
        &self.refusals.path
    }

    /// Appends one entry to its file, unless it is a refusal over the refusal rate (then
    /// it is counted, and the count logged in a `NotLogged` line at most every
    /// [`SUMMARY_EVERY`]). A log that cannot be written is reported, never fatal: the node
    /// goes on serving.
    pub fn record(&self, entry: &AuditEntry) {
        if function_ran(&entry.outcome) {
            self.calls.write(entry);
            return;
        }
        let (log_it, summary) = {
            let mut budget = self.budget.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let elapsed = now.duration_since(budget.refilled).as_secs_f64();
            budget.tokens = (budget.tokens + elapsed * REFUSALS_PER_SECOND).min(REFUSAL_BURST);
            budget.refilled = now;
            let log_it = budget.tokens >= 1.0;
            if log_it {
                budget.tokens -= 1.0;
            } else {
                budget.skipped += 1;
            }
            let summary_due = budget.skipped > 0
                && budget
                    .summarized
                    .is_none_or(|at| now.duration_since(at) >= SUMMARY_EVERY);
            let summary = summary_due.then(|| {
                budget.summarized = Some(now);
                std::mem::take(&mut budget.skipped)
            });
            (log_it, summary)
        };
        if let Some(skipped) = summary {
            self.refusals.write(&AuditEntry::not_logged(skipped));
        }
        if log_it {
            self.refusals.write(entry);
        }
    }

    /// Every entry kept, in both files (each one's rotated file first), oldest first;
    /// lines that do not parse (a line cut short by a full disk, say) are skipped.
    pub fn read(&self) -> Vec<AuditEntry> {
        merge(self.calls.read(), self.refusals.read())
    }

    /// A cursor at the end of the log as it is now.
    pub fn end(&self) -> Cursor {
        Cursor {
            calls: self.calls.end(),
            refusals: self.refusals.end(),
        }
    }

    /// The entries written since `cursor`, across a rotation, oldest first; moves the
    /// cursor.
    pub fn read_since(&self, cursor: &mut Cursor) -> Vec<AuditEntry> {
        merge(
            self.calls.read_since(&mut cursor.calls),
            self.refusals.read_since(&mut cursor.refusals),
        )
    }
}

/// Two lists each in time order, as one in time order (RFC 3339 UTC times of one
/// format compare as text); on equal times the first list's entry comes first.
fn merge(a: Vec<AuditEntry>, b: Vec<AuditEntry>) -> Vec<AuditEntry> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.time <= y.time,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return merged,
        };
        merged.extend(if take_a { a.next() } else { b.next() });
    }
}

/// One append-only file of JSON lines, rotated at [`MAX_LOG_BYTES`].
#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    /// The open file and its size (kept here, so a write needs no `stat`).
    file: Mutex<Option<(File, u64)>>,
    /// The last write failed (full or read-only disk): warn once, and start the next
    /// line on a fresh line in case half of the last one was written.
    failing: AtomicBool,
}

/// Where a reader stopped in one [`LogFile`]: the file (by inode) and the byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileCursor {
    inode: u64,
    offset: u64,
}

impl LogFile {
    fn new(path: PathBuf) -> LogFile {
        LogFile {
            path,
            file: Mutex::new(None),
            failing: AtomicBool::new(false),
        }
    }

    fn write(&self, entry: &AuditEntry) {
        let failing = self.failing.load(Ordering::Relaxed);
        let mut line = if failing {
            "\n".to_string()
        } else {
            String::new()
        };
        line.push_str(&serde_json::to_string(entry).unwrap_or_default());
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        match self.append(&mut file, line.as_bytes()) {
            Ok(()) if failing => {
                self.failing.store(false, Ordering::Relaxed);
                tracing::info!(path = %self.path.display(), "the audit log is written again");
            }
            Ok(()) => {}
            Err(e) => {
                *file = None;
                if !failing {
                    self.failing.store(true, Ordering::Relaxed);
                    tracing::warn!(path = %self.path.display(), "cannot write the audit log (the node keeps serving): {e}");
                }
            }
        }
    }

    fn append(&self, file: &mut Option<(File, u64)>, line: &[u8]) -> std::io::Result<()> {
        let size = match file.as_ref() {
            Some((_, size)) => *size,
            None => std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0),
        };
        if size + line.len() as u64 > MAX_LOG_BYTES {
            *file = None;
            std::fs::rename(&self.path, self.rotated())?;
        }
        if file.is_none() {
            let opened = open_no_link(&self.path)?;
            let size = opened.metadata()?.len();
            *file = Some((opened, size));
        }
        match file.as_mut() {
            Some((f, size)) => {
                f.write_all(line)?;
                *size += line.len() as u64;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn rotated(&self) -> PathBuf {
        self.path.with_extension("log.1")
    }

    fn read(&self) -> Vec<AuditEntry> {
        let mut entries = parse(&std::fs::read(self.rotated()).unwrap_or_default());
        entries.extend(parse(&std::fs::read(&self.path).unwrap_or_default()));
        entries
    }

    fn end(&self) -> FileCursor {
        let (inode, len) = identity(&self.path).unwrap_or((0, 0));
        FileCursor { inode, offset: len }
    }

    fn read_since(&self, cursor: &mut FileCursor) -> Vec<AuditEntry> {
        let mut entries = Vec::new();
        let Some((inode, _)) = identity(&self.path) else {
            return entries;
        };
        if inode != cursor.inode {
            // Rotated: finish the old file (now `.1`), then start the new one.
            if identity(&self.rotated()).is_some_and(|(old, _)| old == cursor.inode) {
                let (found, _) = read_lines_from(&self.rotated(), cursor.offset);
                entries.extend(found);
            }
            *cursor = FileCursor { inode, offset: 0 };
        }
        let (found, consumed) = read_lines_from(&self.path, cursor.offset);
        entries.extend(found);
        cursor.offset += consumed;
        entries
    }
}

/// Opens `path` for appending (created 0600), refusing a symbolic link: the line must go
/// into this home, never to a file a link planted here points at.
fn open_no_link(path: &Path) -> std::io::Result<File> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; the audit log is never written through one (remove it)",
                path.display()
            ),
        ));
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn parse(bytes: &[u8]) -> Vec<AuditEntry> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 1;
    Some((inode, meta.len()))
}

/// The complete lines of `path` from byte `offset` on, and how many bytes they took.
fn read_lines_from(path: &Path, offset: u64) -> (Vec<AuditEntry>, u64) {
    use std::io::{Read, Seek, SeekFrom};
    let mut bytes = Vec::new();
    let read = File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::Start(offset))?;
        f.take(4 * MAX_LOG_BYTES).read_to_end(&mut bytes)
    });
    if read.is_err() {
        return (Vec::new(), 0);
    }
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    (parse(&bytes[..complete]), complete as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u64) -> AuditEntry {
        AuditEntry {
            time: "2026-11-25T00:00:00Z".into(),
            caller: "bob".into(),
            grantee: Some("bob".into()),
            key: "0011223344556677".into(),
            path: "demo/demo/add".into(),
            outcome: "ok".into(),
            millis: n,
            skipped: None,
        }
    }

    #[test]
    fn a_flood_of_refusals_is_counted_not_logged_and_accepted_calls_still_are() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path());
        let refused = AuditEntry {
            outcome: "Denied".into(),
            grantee: None,
            ..entry(0)
        };
        let flood = 10_000u64;
        for _ in 0..flood {
            log.record(&refused);
        }
        let panicked = AuditEntry {
            outcome: "RemotePanic".into(),
            ..entry(8)
        };
        log.record(&panicked);
        log.record(&entry(7));
        let lines = log.read();
        let logged = lines.iter().filter(|e| e.outcome == "Denied").count() as u64;
        // The burst, plus what the rate refilled while the loop ran (well under a second).
        assert!(
            (REFUSAL_BURST as u64..REFUSAL_BURST as u64 + 100).contains(&logged),
            "{logged} refusals logged"
        );
        // The calls that ran are all there, in order.
        let ran: Vec<&AuditEntry> = lines.iter().filter(|e| function_ran(&e.outcome)).collect();
        assert_eq!(ran, [&panicked, &entry(7)]);
        // At most one count line while the flood lasted (they are written every few
        // seconds, not per refusal); the rest is counted when the log drops.
        let summaries = |lines: &[AuditEntry]| -> Vec<u64> {
            lines
                .iter()
                .filter(|e| e.outcome == "NotLogged")
                .filter_map(|e| e.skipped)
                .collect()
        };
        assert!(summaries(&lines).len() <= 1, "{:?}", summaries(&lines));
        assert!(std::fs::metadata(log.refusals_path()).expect("log").len() < 64 * 1024);

        for _ in 0..10 {
            log.record(&refused);
        }
        drop(log);
        let after = AuditLog::new(dir.path()).read();
        let counted: u64 = summaries(&after).iter().sum();
        assert_eq!(
            counted,
            flood + 10 - logged,
            "every refusal left out is counted"
        );
        assert_eq!(after.iter().filter(|e| e.outcome == "NotLogged").count(), 2);
    }

    #[test]
    fn refusals_never_push_a_call_that_ran_out_of_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path());
        log.record(&entry(1));
        // More refusals than both refusal files hold (the rate limit is bypassed here: a
        // patient stranger gets the same in a few minutes).
        let refused = AuditEntry {
            outcome: "Denied".into(),
            ..entry(0)
        };
        let line = serde_json::to_string(&refused).expect("json").len() as u64 + 1;
        for _ in 0..(3 * MAX_LOG_BYTES / line) {
            log.refusals.write(&refused);
        }
        assert!(
            dir.path().join("refusals.log.1").exists(),
            "refusals rotated"
        );
        let kept = log.read();
        assert_eq!(
            kept.iter()
                .filter(|e| e.outcome == "ok")
                .collect::<Vec<_>>(),
            [&entry(1)],
            "the call that ran is still in the log"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_log_is_never_written_through_a_symbolic_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let elsewhere = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("audit.log")).expect("link");
        let log = AuditLog::new(dir.path());
        log.record(&entry(1));
        assert!(!elsewhere.exists(), "the line went through the link");
    }

    #[test]
    fn entries_are_appended_and_the_file_rotates_at_its_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path());
        log.record(&entry(1));
        log.record(&entry(2));
        assert_eq!(log.read(), vec![entry(1), entry(2)]);

        let line = serde_json::to_string(&entry(3)).expect("json").len() as u64 + 1;
        for n in 0..(MAX_LOG_BYTES / line + 5) {
            log.record(&entry(n));
        }
        let mut cursor = log.end();
        log.record(&entry(99));
        assert_eq!(log.read_since(&mut cursor), vec![entry(99)]);
        let current = std::fs::metadata(log.path()).expect("log").len();
        let rotated = std::fs::metadata(dir.path().join("audit.log.1"))
            .expect("rotated")
            .len();
        assert!(
            current <= MAX_LOG_BYTES && rotated <= MAX_LOG_BYTES,
            "{current} {rotated}"
        );
        assert!(!log.read().is_empty());
    }
}
