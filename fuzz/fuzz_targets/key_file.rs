//! Key files and the node key, as read from disk: `KeyFile::load` on a file holding the
//! input (mode 0600), the same parse done in memory (`toml` + `KeyFile::check`), and
//! `load_or_create_node_key` on a `node.key` holding the input.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wtd::KeyFile;
use wtd::keys;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| wtd_fuzz::scratch_dir("keys"))
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
    file.write_all(bytes)
        .unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
}

fuzz_target!(init: wtd_fuzz::write_seeds("key_file"), |data: &[u8]| {
    // In memory: exactly what `load` does after reading the file.
    let in_memory = std::str::from_utf8(data)
        .ok()
        .and_then(|text| toml::from_str::<KeyFile>(text).ok())
        .filter(|key| key.check().is_ok());

    let path = dir().join("input.wtdkey");
    write_private(&path, data);
    let loaded = KeyFile::load(&path);
    assert_eq!(loaded.as_ref().ok(), in_memory.as_ref(), "load and the in-memory parse disagree");

    if let Ok(key) = loaded {
        // A key file that loads can be used, and saved and loaded again unchanged.
        assert!(key.signing_key().is_ok());
        assert!(key.node_key().is_ok());
        assert!(key.proxy.starts_with("http://") || key.proxy.starts_with("https://"));
        for name in std::iter::once(&key.node).chain(&key.missions) {
            assert!(!name.contains(['/', '.', '\\']) && !name.is_empty(), "name {name:?}");
        }
        let again = dir().join("again.wtdkey");
        let _ = std::fs::remove_file(&again);
        key.save(&again).unwrap_or_else(|e| panic!("a loaded key file cannot be saved: {e}"));
        assert_eq!(KeyFile::load(&again).ok().as_ref(), Some(&key), "save/load changed the key file");
    }

    // The node key: 64 hex digits, surrounding whitespace allowed.
    let home = dir().join("home");
    let _ = std::fs::create_dir_all(&home);
    write_private(&home.join("node.key"), data);
    let node_key = keys::load_or_create_node_key(&home);
    let text = String::from_utf8_lossy(data);
    let parsed = keys::parse_hex32("node.key", &text);
    assert_eq!(node_key.is_ok(), parsed.is_ok());
    if let (Ok(key), Ok(bytes)) = (node_key, parsed) {
        assert_eq!(key.to_bytes(), bytes);
    }
    let _ = keys::parse_public_key("key", &text);
});
