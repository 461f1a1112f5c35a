//! The grant table: who may run which missions on this node, how often, until when.
//!
//! Grants live in `grants.toml` in the node's home folder, a file people can read and
//! edit. The table checks the file's identity (inode, size, modification time) on every
//! request and reloads it when it changed, so a revocation written by another program
//! takes effect on the very next request while the node runs. If the file cannot be
//! read or parsed, every call is refused until it is fixed (failing closed: a broken edit
//! must never bring a revoked key back).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, RateLimiter};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::{home, keys, wire};

mod builder;
mod proof;
mod rate;

pub use builder::{GrantBuilder, Issuer};
pub use proof::{KEY_PROOF_DOMAIN, KeyProof, PROOF_LIFETIME, ProofFor};
pub use rate::Rate;

/// One grant, as written in `grants.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Who holds the key (a name for people; the key is what counts).
    pub grantee: String,
    /// The capability public key, hex.
    pub public_key: String,
    /// Missions the key may run.
    pub missions: Vec<String>,
    /// Rate limit, e.g. `10/s`.
    pub rate: String,
    /// When the grant stops working (RFC 3339, UTC), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// A revoked grant is refused forever. Required: a file cut short in the middle of
    /// a grant (an editor writing in place) must fail closed, not read as "not revoked".
    pub revoked: bool,
    /// When the grant was made (RFC 3339, UTC).
    #[serde(default)]
    pub created: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct GrantsFile {
    #[serde(default, rename = "grant")]
    grants: Vec<Grant>,
}

/// What the table says of a (key, mission) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// No grant for this key.
    Denied,
    /// Granted, but not this mission.
    WrongMission {
        /// The missions that are granted.
        granted: Vec<String>,
    },
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
}

/// A parsed, checkable grant.
struct LiveGrant {
    /// The key, decompressed once here rather than on every call.
    key: ed25519_dalek::VerifyingKey,
    grantee: String,
    missions: Vec<String>,
    expires: Option<SystemTime>,
    revoked: bool,
    rate: Rate,
}

/// Identity of the grants file, to notice changes by other programs: its content's, and
/// its owner's and mode's (a file others can write grants nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
    /// Owner and permission bits.
    access: (u32, u32),
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let (inode, access) = {
        use std::os::unix::fs::MetadataExt;
        (meta.ino(), (meta.uid(), meta.mode()))
    };
    #[cfg(not(unix))]
    let (inode, access) = (0, (0, 0));
    Some(FileStamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
        access,
    })
}

struct TableState {
    stamp: Option<FileStamp>,
    grants: HashMap<[u8; 32], LiveGrant>,
    /// Why the file could not be loaded; while set, every call is refused.
    load_error: Option<String>,
    /// One limiter per key, kept across reloads while the key's rate is unchanged, so
    /// rewriting the file does not refill anyone's quota.
    limiters: HashMap<[u8; 32], (Rate, Arc<DefaultDirectRateLimiter>)>,
}

/// The grants of one node, backed by `grants.toml`.
pub struct GrantTable {
    path: PathBuf,
    state: Mutex<TableState>,
}

impl fmt::Debug for GrantTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantTable")
            .field("path", &self.path)
            .finish()
    }
}

impl GrantTable {
    /// Opens the table at `path` (a missing file is an empty table).
    pub fn open(path: impl Into<PathBuf>) -> GrantTable {
        let table = GrantTable {
            path: path.into(),
            state: Mutex::new(TableState {
                stamp: None,
                grants: HashMap::new(),
                load_error: None,
                limiters: HashMap::new(),
            }),
        };
        table.refresh(&mut table.lock());
        table
    }

    /// Where the grants are kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TableState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reloads the file if it changed since the last look.
    fn refresh(&self, state: &mut TableState) {
        let now = stamp(&self.path);
        if now == state.stamp && state.stamp.is_some() {
            return;
        }
        state.stamp = now;
        if now.is_none() {
            state.grants.clear();
            state.load_error = None;
            return;
        }
        match self.read_file() {
            Ok(file) => {
                let mut grants = HashMap::new();
                let mut errors = Vec::new();
                for grant in file.grants {
                    match live(&grant) {
                        // A key named by two grants: a revocation in either wins, so a
                        // copied-back old grant cannot bring a revoked key back.
                        Ok((key, live)) => match grants.get(&key) {
                            Some(LiveGrant { revoked: true, .. }) => {}
                            _ => {
                                grants.insert(key, live);
                            }
                        },
                        Err(e) => errors.push(format!("grant for `{}`: {e}", grant.grantee)),
                    }
                }
                if errors.is_empty() {
                    state.grants = grants;
                    state.load_error = None;
                } else {
                    state.grants.clear();
                    state.load_error = Some(errors.join("; "));
                }
            }
            Err(e) => {
                state.grants.clear();
                state.load_error = Some(e.to_string());
            }
        }
        if let Some(e) = &state.load_error {
            // Quoted (`{e:?}`): the error may quote a line of the file, and whatever it
            // holds must reach a terminal as inert text.
            tracing::error!(
                path = %self.path.display(),
                "the grants file is broken, so every call is refused until it is fixed: {e:?}"
            );
        }
    }

    fn read_file(&self) -> Result<GrantsFile> {
        // A grants file another user wrote or can change is no grant of this node's.
        home::check_not_shared(&self.path)?;
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(GrantsFile::default()),
            Err(e) => {
                return Err(Error::file(
                    &self.path,
                    format!("cannot read the file ({e})"),
                ));
            }
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::file(&self.path, "the grants file must be UTF-8 text"))?;
        toml::from_str(&text).map_err(|e| Error::file(&self.path, format!("not valid TOML: {e}")))
    }

    /// Decides whether `key` may run `mission` at all (grant, revocation, expiry,
    /// mission). The rate is separate: see [`GrantTable::spend`].
    pub fn check(&self, key: &[u8; 32], mission: &str) -> Decision {
        let mut state = self.lock();
        self.refresh(&mut state);
        if state.load_error.is_some() {
            return Decision::Denied;
        }
        let Some(grant) = state.grants.get(key) else {
            return Decision::Denied;
        };
        if grant.revoked {
            return Decision::Revoked;
        }
        if grant.expires.is_some_and(|t| t <= SystemTime::now()) {
            return Decision::Expired;
        }
        if !grant.missions.iter().any(|m| m == mission) {
            return Decision::WrongMission {
                granted: grant.missions.clone(),
            };
        }
        Decision::Allow
    }

    /// How many acks of `key` the replay cache may hold: what the grant's rate allows
    /// in the longest time an ack is kept (a call's lifetime plus the clock-skew
    /// allowance) plus its burst, at least 16,384, and at most a quarter of `total` so one
    /// grantee can never fill the cache for everyone.
    pub fn replay_share(&self, key: &[u8; 32], total: usize) -> usize {
        let state = self.lock();
        let Some(grant) = state.grants.get(key) else {
            return 0;
        };
        let kept = Duration::from_millis(wire::MAX_LIFETIME_MS + wire::MAX_SKEW_MS);
        let per_kept =
            f64::from(grant.rate.count) * kept.as_secs_f64() / grant.rate.period.as_secs_f64();
        let share = per_kept.ceil() as usize + grant.rate.count as usize;
        share.max(1 << 14).min(total / 4)
    }

    /// Spends one call of `key`'s rate limit; `Err(retry_after)` when it is used up (or
    /// when the key has no grant any more).
    pub fn spend(&self, key: &[u8; 32]) -> Result<(), Duration> {
        let mut state = self.lock();
        let Some(grant) = state.grants.get(key) else {
            return Err(Duration::from_secs(1));
        };
        let rate = grant.rate;
        let limiter = match state.limiters.get(key) {
            Some((r, limiter)) if *r == rate => limiter.clone(),
            _ => {
                let limiter = Arc::new(RateLimiter::direct(rate.quota()));
                state.limiters.insert(*key, (rate, limiter.clone()));
                limiter
            }
        };
        drop(state);
        limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// The public key of `key`'s grant, ready to verify with (saves decompressing it
    /// on every call); `None` if there is no grant for it.
    pub fn verifying_key(&self, key: &[u8; 32]) -> Option<ed25519_dalek::VerifyingKey> {
        let mut state = self.lock();
        self.refresh(&mut state);
        state.grants.get(key).map(|g| g.key)
    }

    /// The grantee a key was granted to, if any.
    pub fn grantee_of(&self, key: &[u8; 32]) -> Option<String> {
        self.lock().grants.get(key).map(|g| g.grantee.clone())
    }

    /// Every grant in the file, as written.
    pub fn list(&self) -> Result<Vec<Grant>> {
        let _state = self.lock();
        Ok(self.read_file()?.grants)
    }

    /// Public keys of the grants that are in force now (for the directory).
    pub fn accepted_keys(&self) -> Vec<[u8; 32]> {
        let mut state = self.lock();
        self.refresh(&mut state);
        let now = SystemTime::now();
        let mut keys: Vec<[u8; 32]> = state
            .grants
            .iter()
            .filter(|(_, g)| !g.revoked && g.expires.is_none_or(|t| t > now))
            .map(|(k, _)| *k)
            .collect();
        keys.sort();
        keys
    }

    /// Adds a grant and writes the file.
    ///
    /// A key the file already names, under any grantee, is refused ([`Error::KeyTaken`]):
    /// a grant in another name would take over the holder's grant (and `revoke` in that
    /// name would revoke theirs), and a revoked key is refused forever.
    pub fn add(&self, grant: Grant) -> Result<()> {
        let (key, _) = live(&grant)?;
        self.modify(|file| {
            let holders: Vec<&Grant> = file
                .grants
                .iter()
                .filter(|g| keys::parse_hex32("public_key", &g.public_key).ok() == Some(key))
                .collect();
            // A revoked grant of the key is named first: it is what decides.
            let revoked = holders.iter().find(|g| g.revoked);
            if let Some(held) = revoked.or(holders.first()) {
                return Err(Error::KeyTaken {
                    grantee: held.grantee.clone(),
                    revoked: held.revoked,
                });
            }
            file.grants.push(grant);
            Ok(())
        })
    }

    /// Revokes every grant of `grantee`; returns how many. Takes effect on the next
    /// request.
    pub fn revoke(&self, grantee: &str) -> Result<usize> {
        let mut count = 0;
        self.modify(|file| {
            for g in file.grants.iter_mut().filter(|g| g.grantee == grantee) {
                g.revoked = true;
                count += 1;
            }
            if count == 0 {
                return Err(Error::Invalid(format!(
                    "there is no grant for `{grantee}`: see the grantees in {}",
                    self.path.display()
                )));
            }
            Ok(())
        })?;
        Ok(count)
    }

    /// Read the file, change it, write it atomically, reload.
    fn modify(&self, change: impl FnOnce(&mut GrantsFile) -> Result<()>) -> Result<()> {
        let mut state = self.lock();
        let mut file = self.read_file()?;
        change(&mut file)?;
        let body = toml::to_string(&file).map_err(|e| Error::file(&self.path, e))?;
        let text = format!(
            "# Grants of this WTD node: who may run which missions here.\n\
             # Set `revoked = true` to revoke a key; the running node sees it on its next request.\n\n{body}"
        );
        if let Some(dir) = self.path.parent() {
            home::ensure_dir(dir)?;
        }
        home::write_atomic(&self.path, text.as_bytes(), true)?;
        state.stamp = None;
        self.refresh(&mut state);
        Ok(())
    }
}

fn live(grant: &Grant) -> Result<([u8; 32], LiveGrant)> {
    let verifying = keys::parse_public_key("public_key", &grant.public_key)?;
    let key = verifying.to_bytes();
    for mission in &grant.missions {
        wire::check_name("mission", mission).map_err(|e| Error::Invalid(e.to_string()))?;
    }
    let rate: Rate = grant.rate.parse()?;
    let expires = match &grant.expires {
        Some(text) => Some(humantime::parse_rfc3339_weak(text).map_err(|e| {
            Error::Invalid(format!(
                "expires {text:?} is not a date like 2026-12-31T23:59:59Z: {e}"
            ))
        })?),
        None => None,
    };
    Ok((
        key,
        LiveGrant {
            key: verifying,
            grantee: grant.grantee.clone(),
            missions: grant.missions.clone(),
            expires,
            revoked: grant.revoked,
            rate,
        },
    ))
}

/// Formats a time as RFC 3339 UTC, millisecond precision.
pub fn format_time(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(key: &ed25519_dalek::SigningKey, rate: &str) -> Grant {
        Grant {
            grantee: "bob".into(),
            public_key: hex::encode(key.verifying_key().to_bytes()),
            missions: vec!["demo".into()],
            rate: rate.into(),
            expires: None,
            revoked: false,
            created: format_time(SystemTime::now()),
        }
    }

    /// Issue 18 item 5: a key already in the file, under any grantee, is not granted
    /// again; a revoked one never.
    #[test]
    fn a_key_already_granted_or_revoked_is_never_granted_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = GrantTable::open(dir.path().join("grants.toml"));
        let carol = keys::generate();
        let public = carol.verifying_key().to_bytes();
        table.add(grant(&carol, "100/s")).expect("added");
        let mallory = Grant {
            grantee: "mallory".into(),
            ..grant(&carol, "1/min")
        };
        let taken = table.add(mallory.clone()).expect_err("refused");
        assert!(
            matches!(&taken, Error::KeyTaken { grantee, revoked: false } if grantee == "bob"),
            "{taken}"
        );
        let upper = Grant {
            public_key: mallory.public_key.to_uppercase(),
            ..mallory.clone()
        };
        table.add(upper).expect_err("the same key in capitals");
        assert_eq!(table.grantee_of(&public).as_deref(), Some("bob"));
        assert_eq!(table.list().expect("list").len(), 1);

        table.revoke("bob").expect("revoked");
        let revived = table.add(mallory).expect_err("refused");
        assert!(
            matches!(&revived, Error::KeyTaken { revoked: true, .. }),
            "{revived}"
        );
        assert!(revived.to_string().contains("never granted again"));
        assert_eq!(table.check(&public, "demo"), Decision::Revoked);
    }

    #[test]
    fn rates_parse_and_print() {
        assert_eq!(
            "10/s".parse::<Rate>().expect("parses"),
            Rate::per_second(10)
        );
        assert_eq!(
            "600/min".parse::<Rate>().expect("parses").to_string(),
            "600/min"
        );
        assert!("0/s".parse::<Rate>().is_err());
        assert!("ten/s".parse::<Rate>().is_err());
        assert!("10/fortnight".parse::<Rate>().is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_grants_file_other_users_can_write_grants_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let table = GrantTable::open(dir.path().join("grants.toml"));
        let key = keys::generate();
        table.add(grant(&key, "10/s")).expect("add");
        let public = key.verifying_key().to_bytes();
        assert_eq!(table.check(&public, "demo"), Decision::Allow);

        let path = dir.path().join("grants.toml");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        assert_ne!(
            table.check(&public, "demo"),
            Decision::Allow,
            "a file anyone could have written is no grant"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(table.check(&public, "demo"), Decision::Allow);
    }

    #[test]
    fn grants_decide_and_revocations_from_outside_apply_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = GrantTable::open(dir.path().join("grants.toml"));
        let bob = keys::generate();
        let key = bob.verifying_key().to_bytes();
        assert_eq!(table.check(&key, "demo"), Decision::Denied);
        table.add(grant(&bob, "100/s")).expect("added");
        assert_eq!(table.check(&key, "demo"), Decision::Allow);
        assert_eq!(
            table.check(&key, "admin"),
            Decision::WrongMission {
                granted: vec!["demo".into()]
            }
        );
        let text = std::fs::read_to_string(table.path()).expect("read");
        std::fs::write(
            table.path(),
            text.replace("revoked = false", "revoked = true"),
        )
        .expect("write");
        assert_eq!(table.check(&key, "demo"), Decision::Revoked);
    }

    #[test]
    fn replay_share_covers_what_the_rate_allows_while_acks_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = GrantTable::open(dir.path().join("grants.toml"));
        let (fast, slow) = (keys::generate(), keys::generate());
        table.add(grant(&fast, "1000/s")).expect("added");
        table.add(grant(&slow, "10/min")).expect("added");
        // Acks are kept for a call's longest lifetime plus the skew allowance: 90 s.
        let total = 1 << 20;
        assert_eq!(
            table.replay_share(&fast.verifying_key().to_bytes(), total),
            91_000
        );
        assert_eq!(
            table.replay_share(&fast.verifying_key().to_bytes(), 200_000),
            50_000
        );
        assert_eq!(
            table.replay_share(&slow.verifying_key().to_bytes(), total),
            1 << 14
        );
        assert_eq!(table.replay_share(&[3; 32], total), 0, "no grant, no share");
    }

    #[test]
    fn broken_file_refuses_everyone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = GrantTable::open(dir.path().join("grants.toml"));
        let bob = keys::generate();
        table.add(grant(&bob, "100/s")).expect("added");
        std::fs::write(table.path(), "[[grant]\nthis is not toml").expect("write");
        assert_eq!(
            table.check(&bob.verifying_key().to_bytes(), "demo"),
            Decision::Denied
        );
    }

    #[test]
    fn rate_limit_runs_out_and_says_when_to_retry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = GrantTable::open(dir.path().join("grants.toml"));
        let bob = keys::generate();
        table.add(grant(&bob, "2/min")).expect("added");
        let key = bob.verifying_key().to_bytes();
        assert_eq!(table.spend(&key), Ok(()));
        assert_eq!(table.spend(&key), Ok(()));
        let retry_after = table.spend(&key).expect_err("used up");
        assert!(retry_after > Duration::from_secs(1) && retry_after <= Duration::from_secs(30));
    }
}
