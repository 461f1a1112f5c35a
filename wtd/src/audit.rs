//! The audit log: one line per incoming call, accepted or refused, so a node's owner can
//! see who used their machine and what was refused.
//!
//! `audit.log` in the home folder holds JSON lines; when it passes 1 MiB it becomes
//! `audit.log.1` (replacing the previous one) and a new file starts, so the log never
//! takes more than about 2 MiB.
//!
//! Refusals are logged at most [`REFUSALS_PER_SECOND`] a second (after a burst of
//! [`REFUSAL_BURST`]): anyone can send junk calls, and they must not push the real history
//! out of the log. What is left out is counted in one `NotLogged` line (written before the
//! next line, or when the log is dropped). Calls whose function ran are always logged,
//! accepted or not (`RemotePanic`, `ResultTooLarge`): a grant's rate already bounds them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Size at which the log is rotated.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

/// Refusals logged per second, once the burst is spent.
pub const REFUSALS_PER_SECOND: f64 = 20.0;

/// Refusals that may be logged at once before the rate applies.
pub const REFUSAL_BURST: f64 = 200.0;

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

/// How many refusals may be logged now, and how many were left out since the last line.
#[derive(Debug)]
struct Budget {
    tokens: f64,
    refilled: std::time::Instant,
    skipped: u64,
}

/// The append-only, size-bounded log file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    /// The open file and its size (kept here, so a write needs no `stat`).
    file: Mutex<Option<(File, u64)>>,
    /// The last write failed (full or read-only disk): warn once, and start the next
    /// line on a fresh line in case half of the last one was written.
    failing: std::sync::atomic::AtomicBool,
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
            self.write(&AuditEntry::not_logged(skipped));
        }
    }
}

/// Where `wtd log --follow` stopped reading: the file (by inode) and the byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    inode: u64,
    offset: u64,
}

impl AuditLog {
    /// The log in `home`; the file is opened on the first entry.
    pub fn new(home: &Path) -> AuditLog {
        AuditLog {
            path: home.join("audit.log"),
            file: Mutex::new(None),
            failing: std::sync::atomic::AtomicBool::new(false),
            budget: Mutex::new(Budget {
                tokens: REFUSAL_BURST,
                refilled: std::time::Instant::now(),
                skipped: 0,
            }),
        }
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry, unless it is a refusal over the refusal rate (then it is
    /// counted, and the count logged before the next line). A log that cannot be written
    /// is reported, never fatal: the node goes on serving.
    pub fn record(&self, entry: &AuditEntry) {
        let skipped = {
            let mut budget = self.budget.lock().unwrap_or_else(|p| p.into_inner());
            let now = std::time::Instant::now();
            let elapsed = now.duration_since(budget.refilled).as_secs_f64();
            budget.tokens = (budget.tokens + elapsed * REFUSALS_PER_SECOND).min(REFUSAL_BURST);
            budget.refilled = now;
            if !function_ran(&entry.outcome) {
                if budget.tokens < 1.0 {
                    budget.skipped += 1;
                    return;
                }
                budget.tokens -= 1.0;
            }
            std::mem::take(&mut budget.skipped)
        };
        if skipped > 0 {
            self.write(&AuditEntry::not_logged(skipped));
        }
        self.write(entry);
    }

    fn write(&self, entry: &AuditEntry) {
        use std::sync::atomic::Ordering;
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
            std::fs::rename(&self.path, self.path.with_extension("log.1"))?;
        }
        if file.is_none() {
            let mut options = OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let opened = options.open(&self.path)?;
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

    /// Every entry kept, the rotated file's first, oldest first; lines that do not parse
    /// (a line cut short by a full disk, say) are skipped.
    pub fn read(&self) -> Vec<AuditEntry> {
        let mut entries = parse(&std::fs::read(self.rotated()).unwrap_or_default());
        entries.extend(parse(&std::fs::read(&self.path).unwrap_or_default()));
        entries
    }

    /// A cursor at the end of the log as it is now.
    pub fn end(&self) -> Cursor {
        let (inode, len) = identity(&self.path).unwrap_or((0, 0));
        Cursor { inode, offset: len }
    }

    /// The entries written since `cursor`, across a rotation; moves the cursor.
    pub fn read_since(&self, cursor: &mut Cursor) -> Vec<AuditEntry> {
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
            *cursor = Cursor { inode, offset: 0 };
        }
        let (found, consumed) = read_lines_from(&self.path, cursor.offset);
        entries.extend(found);
        cursor.offset += consumed;
        entries
    }
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
        // The count comes first, then the call that ran (and panicked), then the next.
        let summary = &lines[lines.len() - 3];
        assert_eq!(summary.outcome, "NotLogged");
        assert_eq!(summary.skipped, Some(flood - logged));
        assert_eq!(lines[lines.len() - 2], panicked);
        assert_eq!(lines.last(), Some(&entry(7)));

        assert!(std::fs::metadata(log.path()).expect("log").len() < 64 * 1024);

        // Refusals left out just before the node stops are counted when the log drops.
        for _ in 0..10 {
            log.record(&refused);
        }
        let path = log.path().to_path_buf();
        drop(log);
        let last = AuditLog::new(path.parent().expect("home")).read();
        let last = last.last().expect("a line");
        assert_eq!(
            (last.outcome.as_str(), last.skipped),
            ("NotLogged", Some(10))
        );
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
