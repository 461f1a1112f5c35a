//! The audit log: one line per incoming call, accepted or refused, so a node's owner can
//! see who used their machine and what was refused.
//!
//! `audit.log` in the home folder holds JSON lines; when it passes 1 MiB it becomes
//! `audit.log.1` (replacing the previous one) and a new file starts, so the log never
//! takes more than about 2 MiB.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Size at which the log is rotated.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

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
}

/// The append-only, size-bounded log file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl AuditLog {
    /// The log in `home`; the file is opened on the first entry.
    pub fn new(home: &Path) -> AuditLog {
        AuditLog {
            path: home.join("audit.log"),
            file: Mutex::new(None),
        }
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry. A log that cannot be written is reported, never fatal: the node
    /// goes on serving.
    pub fn record(&self, entry: &AuditEntry) {
        let mut line = serde_json::to_string(entry).unwrap_or_default();
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = self.append(&mut file, line.as_bytes()) {
            *file = None;
            tracing::warn!(path = %self.path.display(), "cannot write the audit log: {e}");
        }
    }

    fn append(&self, file: &mut Option<File>, line: &[u8]) -> std::io::Result<()> {
        let size = match file.as_ref() {
            Some(f) => f.metadata()?.len(),
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
            *file = Some(options.open(&self.path)?);
        }
        match file.as_mut() {
            Some(f) => f.write_all(line),
            None => Ok(()),
        }
    }

    /// The entries of the current file (not the rotated one), oldest first; lines that
    /// do not parse are skipped.
    pub fn read(&self) -> Vec<AuditEntry> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
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
        }
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
