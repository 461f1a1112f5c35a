//! Which of the keys held for a node `wtd call` signs with, and in what order it tries
//! the others.
//!
//! The rule, in order of what matters:
//!
//! 1. a key the node accepts (its directory entry lists it) before one it does not list
//!    (not granted yet, or revoked), when the directory is at hand;
//! 2. a key whose missions cover the call's mission, then a key whose missions are not
//!    known yet (made with `wtd key new`: the first call that works fills them in), then
//!    the others — a key file's list is a note, the node's grant decides, and a grant can
//!    grow after its file was made;
//! 3. the newest key first.
//!
//! A key the node refuses for what the key is (not granted, revoked, expired, another
//! mission) did not run anything, so the next key is tried; any other answer ends the
//! call.

use std::cmp::Reverse;

use super::key_store::HeldKey;
use crate::error::Error;

/// How far a key's own list of missions covers the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Cover {
    /// Its missions include the call's.
    Listed,
    /// Its missions are not known yet.
    Unknown,
    /// Its missions are known, and the call's is not among them.
    Other,
}

/// A key held for the node, with what is known about it for this call.
#[derive(Debug)]
pub(super) struct Candidate {
    /// The key.
    pub(super) held: HeldKey,
    /// How its missions cover the call.
    pub(super) cover: Cover,
    /// Whether the node's directory entry lists it; `None`: not looked up.
    pub(super) accepted: Option<bool>,
}

/// The keys in the order to try them for a call of `mission` (see the module's rule);
/// `accepts` is what the node's directory entry lists, if it was looked up.
pub(super) fn rank(
    keys: Vec<HeldKey>,
    mission: &str,
    accepts: Option<&[String]>,
) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = keys
        .into_iter()
        .map(|held| Candidate {
            cover: if held.key.missions.iter().any(|m| m == mission) {
                Cover::Listed
            } else if held.key.missions.is_empty() {
                Cover::Unknown
            } else {
                Cover::Other
            },
            accepted: accepts.map(|a| a.contains(&held.public)),
            held,
        })
        .collect();
    candidates.sort_by_key(|c| {
        let accepted = match c.accepted {
            Some(true) => 0,
            None => 1,
            Some(false) => 2,
        };
        (accepted, c.cover, Reverse(c.held.modified))
    });
    candidates
}

/// Whether the node refused the call for what the key is: another key may do.
pub(super) fn refused_the_key(e: &Error) -> bool {
    match e {
        Error::Denied { .. }
        | Error::NotAccepted { .. }
        | Error::Revoked { .. }
        | Error::WrongMission { .. } => true,
        Error::Expired { what, .. } => what == "the grant",
        _ => false,
    }
}

/// What a refusal says about the key, in a few words for a list of keys tried.
pub(super) fn why(e: &Error) -> &'static str {
    match e {
        Error::Denied { .. } => "not granted",
        Error::NotAccepted { .. } => "not accepted (not granted)",
        Error::Revoked { .. } => "revoked",
        Error::WrongMission { .. } => "granted other missions",
        Error::Expired { .. } => "expired",
        _ => "refused",
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::keys::{self, KeyFile};

    fn held(missions: &[&str], age_s: u64, public: &str) -> HeldKey {
        HeldKey {
            file: PathBuf::from(format!("{public}.wtdkey")),
            key: KeyFile {
                grantee: "bob".into(),
                node: "alice".into(),
                node_public_key: String::new(),
                proxy: String::new(),
                fallback_proxies: Vec::new(),
                missions: missions.iter().map(|m| m.to_string()).collect(),
                secret_key: keys::secret_hex(&keys::generate()),
            },
            public: public.into(),
            fingerprint: public.into(),
            modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_s),
        }
    }

    fn order(c: &[Candidate]) -> Vec<&str> {
        c.iter().map(|c| c.held.public.as_str()).collect()
    }

    #[test]
    fn covering_keys_come_first_then_unknown_then_others_newest_first() {
        let keys = vec![
            held(&["garden"], 1, "garden"),
            held(&[], 2, "made"),
            held(&["demo"], 30, "old-demo"),
            held(&["demo", "garden"], 3, "both"),
        ];
        let ranked = rank(keys, "demo", None);
        assert_eq!(order(&ranked), ["both", "old-demo", "made", "garden"]);
    }

    #[test]
    fn a_key_the_node_lists_comes_before_one_it_does_not() {
        let keys = vec![held(&["demo"], 1, "revoked"), held(&[], 2, "granted")];
        let accepts = vec!["granted".to_string()];
        let ranked = rank(keys, "demo", Some(&accepts));
        assert_eq!(order(&ranked), ["granted", "revoked"]);
    }
}
