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
//!
//! Recording an entry only queues it: one writer thread formats and appends (`queue`),
//! so the task that answered a call never waits for the disk. The queue is bounded; an
//! entry that finds it full is counted, not waited for, and the count is written as soon
//! as the writer catches up. [`AuditLog::read`] (and the other readers of this
//! `AuditLog`) first wait for what was queued before them; an `AuditLog` opened on the
//! home of a node running elsewhere sees what that node's writer has written so far
//! ([`Node::audit_log`](crate::Node::audit_log) is the running node's own).

mod queue;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use queue::{EntryQueue, Pushed};
pub use queue::{GATHER, QUEUED_CALLS, QUEUED_REFUSALS, WRITER_WAIT};

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
    /// On a `NotLogged` line: how many refusals before it were left out of the log; on a
    /// `CallsNotLogged` line, how many calls that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u64>,
}

/// The outcome of the line, in `refusals.log`, that counts refusals left out.
pub const NOT_LOGGED: &str = "NotLogged";

/// The outcome of the line, in `audit.log`, that counts calls that ran and found the
/// writer's queue full (a disk far slower than the calls).
pub const CALLS_NOT_LOGGED: &str = "CallsNotLogged";

impl AuditEntry {
    /// The line that stands for `skipped` entries left out of the log.
    fn not_logged(outcome: &str, skipped: u64) -> AuditEntry {
        AuditEntry {
            time: crate::grants::format_time(std::time::SystemTime::now()),
            caller: "-".into(),
            grantee: None,
            key: "-".into(),
            path: "-".into(),
            outcome: outcome.into(),
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

impl Budget {
    /// Whether one more refusal may be logged now (if not, it is counted), and the count
    /// for a `NotLogged` line if one is due.
    fn admit(&mut self, now: Instant) -> (bool, Option<u64>) {
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * REFUSALS_PER_SECOND).min(REFUSAL_BURST);
        self.refilled = now;
        let log_it = self.tokens >= 1.0;
        if log_it {
            self.tokens -= 1.0;
        } else {
            self.skipped += 1;
        }
        let due = self.skipped > 0
            && self
                .summarized
                .is_none_or(|at| now.duration_since(at) >= SUMMARY_EVERY);
        let summary = due.then(|| {
            self.summarized = Some(now);
            std::mem::take(&mut self.skipped)
        });
        (log_it, summary)
    }
}

/// The node's audit log: calls that ran, and refusals, each in a file of its own.
pub struct AuditLog {
    /// The files, shared with the writer.
    files: Arc<Files>,
    /// Entries waiting for the writer.
    queue: EntryQueue,
}

/// What the writer writes to: both files and the refusal rate.
#[derive(Debug)]
struct Files {
    /// `audit.log`: calls whose function ran, and `CallsNotLogged` counts.
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

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.files.calls.path)
            .finish_non_exhaustive()
    }
}

impl Drop for AuditLog {
    /// What is queued is written, and the count of refusals left out is not lost.
    fn drop(&mut self) {
        self.queue.close();
        self.files.write_pending_summary();
    }
}

impl Files {
    fn budget(&self) -> std::sync::MutexGuard<'_, Budget> {
        self.budget.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes what the writer took from the queue, in order, each file in one go, then
    /// the count of calls that ran and found the queue full.
    fn write_batch(&self, batch: impl IntoIterator<Item = (AuditEntry, bool)>, calls_lost: u64) {
        let (mut calls, refusals): (Vec<_>, Vec<_>) = batch.into_iter().partition(|(_, ran)| *ran);
        if calls_lost > 0 {
            calls.push((AuditEntry::not_logged(CALLS_NOT_LOGGED, calls_lost), true));
        }
        self.calls.write_all(calls.iter().map(|(entry, _)| entry));
        self.refusals
            .write_all(refusals.iter().map(|(entry, _)| entry));
    }

    /// Writes one entry to its file as it comes (there is no writer).
    fn write_now(&self, entry: &AuditEntry, ran: bool) {
        if ran {
            self.calls.write(entry);
        } else {
            self.refusals.write(entry);
        }
    }

    /// Writes the count of refusals left out, due or not (the log is closing).
    fn write_pending_summary(&self) {
        let skipped = std::mem::take(&mut self.budget().skipped);
        if skipped > 0 {
            self.refusals
                .write(&AuditEntry::not_logged(NOT_LOGGED, skipped));
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
            files: Arc::new(Files {
                calls: LogFile::new(home.join("audit.log")),
                refusals: LogFile::new(home.join("refusals.log")),
                budget: Mutex::new(Budget {
                    tokens: REFUSAL_BURST,
                    refilled: Instant::now(),
                    skipped: 0,
                    summarized: None,
                }),
            }),
            queue: EntryQueue::new(),
        }
    }

    /// Where the calls that ran are logged (`audit.log`).
    pub fn path(&self) -> &Path {
        &self.files.calls.path
    }

    /// Where refusals are logged (`refusals.log`).
    pub fn refusals_path(&self) -> &Path {
        &self.files.refusals.path
    }

    /// Queues one entry for the writer, and returns at once. A refusal over the refusal
    /// rate is only counted, and the count logged in a `NotLogged` line at most every
    /// [`SUMMARY_EVERY`]; an entry that finds the queue full is counted too (see the
    /// module's docs). A log that cannot be written is reported, never fatal: the node
    /// goes on serving.
    pub fn record(&self, entry: AuditEntry) {
        let ran = function_ran(&entry.outcome);
        if !ran {
            let (log_it, summary) = self.files.budget().admit(Instant::now());
            if let Some(skipped) = summary {
                self.enqueue(AuditEntry::not_logged(NOT_LOGGED, skipped), false);
            }
            if !log_it {
                return;
            }
        }
        self.enqueue(entry, ran);
    }

    fn enqueue(&self, entry: AuditEntry, ran: bool) {
        match self.queue.push(entry, ran, &self.files) {
            Pushed::Queued => {}
            // Counted by the queue, written when the writer catches up.
            Pushed::Full(_) if ran => {}
            // Counted back into the refusals left out (a `NotLogged` line, all it counts).
            Pushed::Full(entry) => self.files.budget().skipped += entry.skipped.unwrap_or(1),
            Pushed::WriteNow(entry) => self.files.write_now(&entry, ran),
        }
    }

    /// Waits until every entry recorded before is in the files (at most
    /// [`WRITER_WAIT`]). The readers below do it first.
    pub fn flush(&self) {
        self.queue.flush();
    }

    /// Writes every entry recorded and stops the writer (waiting at most
    /// [`WRITER_WAIT`]); entries recorded later are written as they come. A node does it
    /// when it stops, and dropping the log does it too.
    pub fn close(&self) {
        self.queue.close();
    }

    /// Every entry kept, in both files (each one's rotated file first), oldest first;
    /// lines that do not parse (a line cut short by a full disk, say) are skipped.
    pub fn read(&self) -> Vec<AuditEntry> {
        self.flush();
        merge(self.files.calls.read(), self.files.refusals.read())
    }

    /// A cursor at the end of the log as it is now.
    pub fn end(&self) -> Cursor {
        self.flush();
        Cursor {
            calls: self.files.calls.end(),
            refusals: self.files.refusals.end(),
        }
    }

    /// The entries written since `cursor`, across a rotation, oldest first; moves the
    /// cursor.
    pub fn read_since(&self, cursor: &mut Cursor) -> Vec<AuditEntry> {
        self.flush();
        merge(
            self.files.calls.read_since(&mut cursor.calls),
            self.files.refusals.read_since(&mut cursor.refusals),
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
        self.write_all([entry]);
    }

    /// Appends `entries`, one line each, in as few writes as the rotation allows: a
    /// write never crosses [`MAX_LOG_BYTES`], so each file stays within it.
    fn write_all<'a>(&self, entries: impl IntoIterator<Item = &'a AuditEntry>) {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let (mut chunk, mut line) = (Vec::new(), Vec::new());
        let mut size = self.size(&file);
        for entry in entries {
            line.clear();
            if serde_json::to_writer(&mut line, entry).is_err() {
                continue;
            }
            line.push(b'\n');
            if !chunk.is_empty() && size + (chunk.len() + line.len()) as u64 > MAX_LOG_BYTES {
                self.append_chunk(&mut file, &chunk);
                chunk.clear();
                size = self.size(&file);
            }
            chunk.extend_from_slice(&line);
        }
        if !chunk.is_empty() {
            self.append_chunk(&mut file, &chunk);
        }
    }

    /// Appends complete lines; a failure is reported once, and the next write starts on
    /// a fresh line.
    fn append_chunk(&self, file: &mut Option<(File, u64)>, lines: &[u8]) {
        let failing = self.failing.load(Ordering::Relaxed);
        let appended = if failing {
            self.append(file, &[&b"\n"[..], lines].concat())
        } else {
            self.append(file, lines)
        };
        match appended {
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

    /// The file's size: as counted while it is open, else as the disk says.
    fn size(&self, file: &Option<(File, u64)>) -> u64 {
        match file.as_ref() {
            Some((_, size)) => *size,
            None => std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0),
        }
    }

    fn append(&self, file: &mut Option<(File, u64)>, line: &[u8]) -> std::io::Result<()> {
        let size = self.size(file);
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
            log.record(refused.clone());
        }
        let panicked = AuditEntry {
            outcome: "RemotePanic".into(),
            ..entry(8)
        };
        log.record(panicked.clone());
        log.record(entry(7));
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
            log.record(refused.clone());
        }
        drop(log);
        let after = AuditLog::new(dir.path()).read();
        let counted: u64 = summaries(&after).iter().sum();
        // Logged by now: the rate may have refilled a token for one of the last ten.
        let logged = after.iter().filter(|e| e.outcome == "Denied").count() as u64;
        assert_eq!(
            counted,
            flood + 10 - logged,
            "every refusal left out is counted"
        );
        assert_eq!(after.iter().filter(|e| e.outcome == "NotLogged").count(), 2);
    }

    /// Waits until the writer has taken everything queued (bounded).
    fn taken(log: &AuditLog) {
        for _ in 0..10_000 {
            if log.queue.len() == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("the writer never took the queued entries");
    }

    #[test]
    fn a_full_queue_counts_the_calls_that_ran_and_writes_the_count_when_the_writer_catches_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path());
        let refused = AuditEntry {
            outcome: "Denied".into(),
            ..entry(0)
        };
        // The disk hangs: the writer takes the first entry and waits on the file.
        let hanging = log.files.calls.file.lock().expect("file");
        log.record(entry(0));
        taken(&log);
        let extra = 10;
        for n in 1..=(QUEUED_CALLS + extra) as u64 {
            log.record(entry(n));
        }
        // Refusals have room of their own: the calls did not take it, nor they the calls'.
        for _ in 0..5 {
            log.record(refused.clone());
        }
        assert_eq!(log.queue.len(), QUEUED_CALLS + 5, "the queue is bounded");
        drop(hanging);

        let lines = log.read();
        let ran: Vec<u64> = lines
            .iter()
            .filter(|e| e.outcome == "ok")
            .map(|e| e.millis)
            .collect();
        let written: Vec<u64> = (0..=QUEUED_CALLS as u64).collect();
        assert_eq!(ran, written, "the calls queued are written, in order");
        let counts: Vec<&AuditEntry> = lines
            .iter()
            .filter(|e| e.outcome == CALLS_NOT_LOGGED)
            .collect();
        assert_eq!(counts.len(), 1, "{counts:?}");
        assert_eq!(
            counts[0].skipped,
            Some(extra as u64),
            "every call left out is counted"
        );
        assert_eq!(
            std::fs::read_to_string(log.path())
                .expect("audit.log")
                .lines()
                .last()
                .map(|l| l.contains(CALLS_NOT_LOGGED)),
            Some(true),
            "the count follows the calls it stands behind"
        );
        assert_eq!(lines.iter().filter(|e| e.outcome == "Denied").count(), 5);
    }

    #[test]
    fn closing_writes_everything_queued_and_later_entries_as_they_come() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path());
        std::thread::scope(|scope| {
            let hanging = log.files.calls.file.lock().expect("file");
            log.record(entry(0));
            taken(&log);
            for n in 1..=100 {
                log.record(entry(n));
            }
            let closing = scope.spawn(|| log.close());
            // The close waits for the writer, which waits for the disk.
            for _ in 0..10_000 {
                if log.queue.closing() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(log.queue.closing(), "the close began");
            drop(hanging);
            closing.join().expect("closed");
        });
        log.record(entry(101));
        // Another reader, which cannot wait for this log's writer: all is on disk.
        let read = AuditLog::new(dir.path()).read();
        let expected: Vec<AuditEntry> = (0..=101).map(entry).collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn refusals_never_push_a_call_that_ran_out_of_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path());
        log.record(entry(1));
        // More refusals than both refusal files hold (the rate limit is bypassed here: a
        // patient stranger gets the same in a few minutes).
        let refused = AuditEntry {
            outcome: "Denied".into(),
            ..entry(0)
        };
        let line = serde_json::to_string(&refused).expect("json").len() as u64 + 1;
        for _ in 0..(3 * MAX_LOG_BYTES / line) {
            log.files.refusals.write(&refused);
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
        log.record(entry(1));
        log.flush();
        assert!(!elsewhere.exists(), "the line went through the link");
    }

    #[test]
    fn entries_are_appended_and_the_file_rotates_at_its_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path());
        log.record(entry(1));
        log.record(entry(2));
        assert_eq!(log.read(), vec![entry(1), entry(2)]);

        let line = serde_json::to_string(&entry(3)).expect("json").len() as u64 + 1;
        for n in 0..(MAX_LOG_BYTES / line + 5) {
            log.record(entry(n));
            // More than the queue holds, faster than any node answers calls: let the
            // writer keep up, so none is left out.
            if n % 1000 == 0 {
                log.flush();
            }
        }
        let mut cursor = log.end();
        log.record(entry(99));
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
