//! The key files a home holds for calling others, several per node.
//!
//! ```text
//! keys/
//!   alice/
//!     1a2b3c4d5e6f7a8b.wtdkey      one file per capability key, named by its fingerprint
//!     9f8e7d6c5b4a3928.wtdkey
//!     1a2b3c4d5e6f7a8b.wtdkey.bak.1   a key moved aside (`--replace`), never overwritten
//!   carol.wtdkey                   the layout of earlier versions: one key per node,
//!                                  still read, moved into `carol/` when carol gets another
//! ```
//!
//! A friend grants missions at different times, so a holder keeps every key it is given;
//! `wtd call` picks among them (`key_choice`). What must never change quietly is *who*
//! the keys call: every key held for a node pins the same node key and proxy, and a key
//! file pinning others is refused unless the user says `--replace` — otherwise a file
//! claiming to be for `alice` could send Bob's next call to someone else's proxy and make
//! him trust replies signed by someone else's key.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::error::CliError;
use crate::error::{Error, Result};
use crate::home;
use crate::keys::{self, KeyFile};

/// One key file held in a home, loaded.
#[derive(Debug, Clone)]
pub(super) struct HeldKey {
    /// Where it is kept.
    pub(super) file: PathBuf,
    /// What it holds.
    pub(super) key: KeyFile,
    /// Its capability key's public half, 64 hex digits (what a node's `accepts` lists).
    pub(super) public: String,
    /// The first 16 of those digits: how people tell keys apart.
    pub(super) fingerprint: String,
    /// When the file last changed: among equals, the newest key is tried first.
    pub(super) modified: SystemTime,
}

impl HeldKey {
    fn new(file: PathBuf, key: KeyFile) -> Result<HeldKey> {
        let public = key.signing_key()?.verifying_key().to_bytes();
        let modified = std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(HeldKey {
            file,
            public: hex::encode(public),
            fingerprint: keys::fingerprint(&public),
            key,
            modified,
        })
    }

    /// Records the missions the node said this key may run (in a signed reply): the key
    /// file's list is for display and for choosing a key, the node's grant decides.
    pub(super) fn learn_missions(&mut self, missions: Vec<String>) {
        if missions == self.key.missions {
            return;
        }
        let mut key = self.key.clone();
        key.missions = missions;
        // Best effort: a key file that cannot be rewritten still works as it is.
        match key.save(&self.file) {
            Ok(()) => self.key = key,
            Err(e) => tracing::warn!("cannot record the missions of a key: {e}"),
        }
    }

    /// `missions demo, garden`, or that they are not known yet.
    pub(super) fn missions_text(&self) -> String {
        if self.key.missions.is_empty() {
            "missions not known yet".to_string()
        } else {
            format!("missions {}", self.key.missions.join(", "))
        }
    }
}

/// What [`keep`] did.
#[derive(Debug)]
pub(super) struct Kept {
    /// Where the key is kept now.
    pub(super) file: PathBuf,
    /// The home held this very key already (same capability key and contents).
    pub(super) already_held: bool,
    /// Keys moved aside by `--replace` (or an older copy of this key), as their backups.
    pub(super) moved_aside: Vec<PathBuf>,
    /// How many keys the home now holds for the node.
    pub(super) held_for_node: usize,
}

fn keys_dir(home: &Path) -> PathBuf {
    home.join("keys")
}

fn node_dir(home: &Path, node: &str) -> PathBuf {
    keys_dir(home).join(node)
}

fn legacy_file(home: &Path, node: &str) -> PathBuf {
    keys_dir(home).join(format!("{node}.wtdkey"))
}

/// Every key file held in `home` (both layouts), by path, each loaded or with why it
/// cannot be.
pub(super) fn held(home: &Path) -> Vec<(PathBuf, Result<KeyFile>)> {
    let is_key = |p: &PathBuf| p.extension().is_some_and(|e| e == "wtdkey") && p.is_file();
    let list = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    };
    let mut files = Vec::new();
    for entry in list(&keys_dir(home)) {
        if entry.is_dir() {
            files.extend(list(&entry).into_iter().filter(is_key));
        } else if is_key(&entry) {
            files.push(entry);
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let key = KeyFile::load(&p);
            (p, key)
        })
        .collect()
}

/// The keys held in `home` for calling `node` (unreadable files are skipped).
pub(super) fn held_for(home: &Path, node: &str) -> Vec<HeldKey> {
    held(home)
        .into_iter()
        .filter_map(|(path, key)| key.ok().map(|k| (path, k)))
        .filter(|(_, key)| key.node == node)
        .filter_map(|(path, key)| HeldKey::new(path, key).ok())
        .collect()
}

/// Whether `home` holds anything at all: a node key or a key file. A command that needs
/// a home says how to make one when it does not.
pub(super) fn is_home(home: &Path) -> bool {
    home.join("node.key").exists() || keys_dir(home).exists()
}

fn same_proxy(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The keys held for `key.node` that pin another node key or proxy than `key` does.
/// Without `replace` any such key refuses the new one, naming both pins.
pub(super) fn pin_conflicts(
    home: &Path,
    key: &KeyFile,
    replace: bool,
) -> Result<Vec<HeldKey>, CliError> {
    let others: Vec<HeldKey> = held_for(home, &key.node)
        .into_iter()
        .filter(|h| {
            h.key.node_public_key != key.node_public_key || !same_proxy(&h.key.proxy, &key.proxy)
        })
        .collect();
    match others.first() {
        Some(held) if !replace => Err(CliError::PinDiffers {
            node: key.node.clone(),
            held_node_key: short(&held.key.node_public_key),
            held_proxy: held.key.proxy.clone(),
            new_node_key: short(&key.node_public_key),
            new_proxy: key.proxy.clone(),
        }),
        _ => Ok(others),
    }
}

fn short(hex_key: &str) -> String {
    hex_key.get(..16).unwrap_or(hex_key).to_string()
}

/// Keeps `key` among the keys for its node, as `keys/NODE/FINGERPRINT.wtdkey`.
///
/// Nothing held is ever lost: a key held under the old layout moves into the node's
/// folder, a key that pins another node key or proxy is refused (or, with `replace`,
/// moved aside as a numbered backup), and an older copy of this same key is kept as a
/// numbered backup before it is rewritten.
pub(super) fn keep(home: &Path, key: &KeyFile, replace: bool) -> Result<Kept, CliError> {
    key.check()?;
    let conflicts = pin_conflicts(home, key, replace)?;
    let dir = node_dir(home, &key.node);
    home::ensure_dir(&dir)?;
    migrate_legacy(home, &key.node)?;
    let mut moved_aside = Vec::new();
    for old in conflicts {
        // Its path may have changed if it was a legacy file that just moved.
        let path = if old.file.exists() {
            old.file
        } else {
            dir.join(format!("{}.wtdkey", old.fingerprint))
        };
        moved_aside.push(move_aside(&path)?);
    }
    let public = key.signing_key()?.verifying_key().to_bytes();
    let dest = dir.join(format!("{}.wtdkey", keys::fingerprint(&public)));
    let mut already_held = false;
    if dest.exists() {
        match KeyFile::load(&dest) {
            Ok(same) if same == *key => already_held = true,
            _ => moved_aside.push(move_aside(&dest)?),
        }
    }
    if !already_held {
        key.save(&dest)?;
    }
    Ok(Kept {
        held_for_node: held_for(home, &key.node).len(),
        file: dest,
        already_held,
        moved_aside,
    })
}

/// Moves `keys/NODE.wtdkey` (one key per node, as earlier versions kept it) into
/// `keys/NODE/`, so that it is one key among the others.
fn migrate_legacy(home: &Path, node: &str) -> Result<()> {
    let legacy = legacy_file(home, node);
    let Ok(key) = KeyFile::load(&legacy) else {
        return Ok(());
    };
    let public = key.signing_key()?.verifying_key().to_bytes();
    let dest = node_dir(home, node).join(format!("{}.wtdkey", keys::fingerprint(&public)));
    if dest.exists() {
        return Ok(());
    }
    std::fs::rename(&legacy, &dest).map_err(|e| {
        Error::file(
            &legacy,
            format!("cannot move the key into {} ({e})", dest.display()),
        )
    })
}

/// Renames `file` to the first free `FILE.bak.N`. The backup is made by a hard link,
/// which fails rather than replace a file, so no backup is ever overwritten.
fn move_aside(file: &Path) -> Result<PathBuf> {
    for n in 1..10_000 {
        let backup = PathBuf::from(format!("{}.bak.{n}", file.display()));
        match std::fs::hard_link(file, &backup) {
            Ok(()) => {
                std::fs::remove_file(file)
                    .map_err(|e| Error::file(file, format!("cannot move the key aside ({e})")))?;
                return Ok(backup);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::file(
                    file,
                    format!("cannot keep a backup of the key ({e}); nothing was changed"),
                ));
            }
        }
    }
    Err(Error::file(
        file,
        "too many backups of this key: remove old `.bak.N` files first",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_for(node: &str, node_key: &str, missions: &[&str]) -> KeyFile {
        KeyFile {
            grantee: "bob".into(),
            node: node.into(),
            node_public_key: node_key.into(),
            proxy: "http://127.0.0.1:1".into(),
            fallback_proxies: Vec::new(),
            missions: missions.iter().map(|m| m.to_string()).collect(),
            secret_key: keys::secret_hex(&keys::generate()),
        }
    }

    fn node_key() -> String {
        hex::encode(keys::generate().verifying_key().to_bytes())
    }

    #[test]
    fn several_keys_for_one_node_are_all_kept_and_the_old_layout_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let alice = node_key();
        let legacy = key_for("alice", &alice, &["demo"]);
        home::ensure_dir(&keys_dir(dir.path())).expect("keys dir");
        legacy
            .save(&legacy_file(dir.path(), "alice"))
            .expect("legacy key");
        assert_eq!(held_for(dir.path(), "alice").len(), 1);

        let garden = key_for("alice", &alice, &["garden"]);
        let kept = keep(dir.path(), &garden, false).expect("kept");
        assert!(kept.moved_aside.is_empty(), "{kept:?}");
        assert_eq!(kept.held_for_node, 2);
        assert!(!legacy_file(dir.path(), "alice").exists(), "migrated");
        let again = keep(dir.path(), &garden, false).expect("kept again");
        assert!(again.already_held && again.moved_aside.is_empty());
        // The same key with other contents: the older copy is backed up, never overwritten.
        for (n, missions) in [(1, vec!["garden".to_string(), "x".into()]), (2, vec![])] {
            let changed = KeyFile {
                missions,
                ..garden.clone()
            };
            let kept = keep(dir.path(), &changed, false).expect("rewritten");
            let backup = kept.moved_aside[0].display().to_string();
            assert!(backup.ends_with(&format!(".bak.{n}")), "{kept:?}");
        }
    }

    #[test]
    fn another_pinned_node_key_is_refused_unless_replaced_and_backups_are_numbered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let genuine = key_for("alice", &node_key(), &["demo"]);
        keep(dir.path(), &genuine, false).expect("kept");
        for round in 1..=2 {
            let forged = key_for("alice", &node_key(), &["demo"]);
            let refused = keep(dir.path(), &forged, false).expect_err("refused");
            assert!(refused.to_string().contains("--replace"), "{refused}");
            let kept = keep(dir.path(), &forged, true).expect("replaced");
            assert_eq!(kept.moved_aside.len(), 1, "{kept:?}");
            assert!(
                kept.moved_aside[0]
                    .display()
                    .to_string()
                    .ends_with(".bak.1"),
                "round {round}: {kept:?}"
            );
        }
        let backups = std::fs::read_dir(node_dir(dir.path(), "alice"))
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().contains(".bak."))
            })
            .count();
        assert_eq!(backups, 2, "no backup overwritten");
    }
}
