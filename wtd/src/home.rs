//! The node's folder on disk (`WTD_HOME`, default `~/.wtd`), and the one way WTD writes
//! files there: atomically, so a crash or a full disk never leaves half a file behind.
//!
//! ```text
//! ~/.wtd/
//!   node.key       the node's private key (hex), mode 0600
//!   grants.toml    who may run which missions here; edit it, or use the API/CLI
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The default home folder: `$WTD_HOME`, else `~/.wtd`.
pub fn default_home() -> PathBuf {
    if let Some(home) = std::env::var_os("WTD_HOME") {
        return PathBuf::from(home);
    }
    let user_home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    user_home.join(".wtd")
}

/// Creates `dir` (and parents) if missing, readable by its owner only.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| {
        Error::file(
            dir,
            format!("cannot create the folder ({e}); check the path and its permissions"),
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Best effort: a folder someone else owns keeps its mode.
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    }
    check_not_shared(dir)
}

/// Refuses a folder or file that another local user could have planted or can change:
/// one owned by another user, or writable by its group or by others. A home in a shared
/// place (`/tmp/alice`) could otherwise come with grants someone else wrote. A missing
/// path is fine (it will be created, as this user's).
///
/// The owner is compared with this process's user as Linux reports it
/// (`/proc/self`); where that cannot be read, only the write bits are checked.
pub fn check_not_shared(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(Error::file(
                    path,
                    format!("cannot read its permissions ({e})"),
                ));
            }
        };
        let mode = meta.permissions().mode();
        if mode & 0o022 != 0 {
            return Err(Error::file(
                path,
                format!(
                    "other users can write here (mode {:o}), so they could plant grants or keys: \
                     run `chmod go-w {}`, or use a home in your own folder (e.g. ~/.wtd)",
                    mode & 0o7777,
                    path.display()
                ),
            ));
        }
        if let Some(me) = fs::metadata("/proc/self").ok().map(|m| m.uid())
            && meta.uid() != me
        {
            return Err(Error::file(
                path,
                format!(
                    "this belongs to another user (uid {}), who could have planted grants or keys \
                     here: use a home in your own folder (e.g. ~/.wtd)",
                    meta.uid()
                ),
            ));
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed to
/// disk, then renamed over the old file. `private` files get mode 0600 from the start.
///
/// If anything fails, the old file is untouched and the error names the file.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).map_err(|e| Error::file(path, e))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(suffix)));
    let result = (|| -> std::io::Result<()> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if private { 0o600 } else { 0o644 });
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::file(
            path,
            format!("cannot write the file ({e}); the previous version, if any, is unchanged"),
        ));
    }
    Ok(())
}

/// Reads a whole file, with an error that names it.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::file(path, format!("cannot read the file ({e})")))
}

/// On Unix, refuses a private file that other users can read, as ssh does.
pub fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path)
            .map_err(|e| Error::file(path, format!("cannot read the file ({e})")))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Error::file(
                path,
                format!(
                    "this private key file can be read by other users (mode {:o}); run `chmod 600 {}` and try again",
                    mode & 0o777,
                    path.display()
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Locks `home/node.lock` so that a second node cannot start on the same home folder;
/// the lock is held as long as the returned file is open.
pub fn lock(home: &Path) -> Result<std::fs::File> {
    ensure_dir(home)?;
    let path = home.join("node.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::file(&path, format!("cannot open the lock file ({e})")))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::file(
            home,
            "another node is already running with this home folder: stop it, or give this one its own --home",
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::file(
            &path,
            format!("cannot lock the home folder ({e})"),
        )),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_home_another_user_owns_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("alice");
        fs::create_dir(&home).expect("mkdir");
        // Only root can give a folder away; elsewhere this case cannot be set up.
        if std::os::unix::fs::chown(&home, Some(4242), Some(4242)).is_err() {
            eprintln!("SKIPPED a_home_another_user_owns_is_refused: needs root to chown");
            return;
        }
        let err = ensure_dir(&home).expect_err("refused");
        assert!(
            err.to_string()
                .contains("belongs to another user (uid 4242)"),
            "{err}"
        );
        assert!(lock(&home).is_err(), "no node starts on it");
    }

    #[test]
    fn a_file_others_can_write_is_refused_and_a_missing_one_is_fine() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("grants.toml");
        assert!(check_not_shared(&file).is_ok(), "missing");
        fs::write(&file, "").expect("write");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o620)).expect("chmod");
        let err = check_not_shared(&file).expect_err("group-writable");
        assert!(err.to_string().contains("chmod go-w"), "{err}");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(check_not_shared(&file).is_ok());
    }
}
