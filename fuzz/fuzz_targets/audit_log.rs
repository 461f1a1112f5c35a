//! The audit log, as read back from disk (`AuditLog::read` and `read_since`, which
//! `wtd audit` and `wtd audit --follow` use): JSON lines, possibly damaged, cut short or
//! not text at all, in `audit.log` and its rotated `audit.log.1`.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wtd::audit::AuditLog;

fn home() -> &'static PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| wtd_fuzz::scratch_dir("audit"))
}

fuzz_target!(init: wtd_fuzz::write_seeds("audit_log"), |data: &[u8]| {
    // The first byte splits the input between the rotated file and the current one.
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(data.len());
    let (rotated, current) = data.split_at(at);
    let log = AuditLog::new(home());
    let path = log.path().to_path_buf();
    std::fs::write(&path, current).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
    let mut rotated_path = path.clone().into_os_string();
    rotated_path.push(".1");
    std::fs::write(&rotated_path, rotated).unwrap_or_else(|e| panic!("cannot write: {e}"));

    let entries = log.read();
    let lines = rotated.iter().chain(current).filter(|b| **b == b'\n').count() + 2;
    assert!(entries.len() <= lines, "{} entries from {lines} lines", entries.len());
    for entry in &entries {
        // Whatever was read can be written back as one JSON line.
        let line = serde_json::to_string(entry).unwrap_or_else(|e| panic!("{e}"));
        assert!(!line.contains('\n'));
    }

    // Following: a cursor at the start of the file reads only complete lines.
    let mut cursor = log.end();
    let _ = log.read_since(&mut cursor);
    std::fs::write(&path, [current, b"\n", current].concat()).unwrap_or_else(|e| panic!("{e}"));
    let _ = log.read_since(&mut cursor);
});
