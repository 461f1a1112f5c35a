//! The directory: the nodes online, with what each offers and which capability keys it
//! accepts.
//!
//! Nobody receives all of it at once. Each node *follows* a few nodes (those it calls or
//! monitors, [`wire::MAX_FOLLOWED`] at most) and hears only their changes: in its ping
//! answers, and in its receive answers, which the proxy sends early when a followed node
//! changes. People and scripts read it in pages (`GET /api/directory`), or what changed
//! since a version they hold.
//!
//! Every change (a node listed, unlisted, or offering something else) takes the next
//! version; each listing remembers the version it last changed at, so what changed for a
//! node's followed set since version `v` is exact, whatever the node missed. The
//! [`DirectoryLog`] keeps the listed entries sorted for pages, and the last
//! [`CHANGES_KEPT`] changes for `?since=`; a version older than those gets the first
//! page of the whole directory instead, never a delta missing a change.
//!
//! Each listing also keeps the keys its node announced ([`KeyGate`]), whether the
//! directory shows them or not: the `/apply` gate (`gate.rs`) lets a call in only with one.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use tokio::sync::watch;
use wtd_wire::{self as wire, DirectoryEntry, Offer, Ping};

use crate::error::ProxyError;

/// Most bytes one node's offers and accepted keys may take in the directory.
pub const MAX_DIRECTORY_ENTRY_BYTES: usize = 16 * 1024;

/// About the bytes one node's line takes in the encoded directory: its name, key, offers
/// and keys, and a few bytes of lengths (never fewer than postcard uses).
pub(crate) fn entry_size(name: &str, offers: &[Offer], accepts: &[[u8; 32]]) -> usize {
    name.len() + 32 + wire::encode(&offers).len() + 32 * accepts.len() + 16
}

/// Checks what a ping asks to list: its size, the number of keys, and every mission,
/// module and function name.
pub(crate) fn check_ping(ping: &Ping, max_accepts: usize) -> Result<(), ProxyError> {
    if ping.accepts.len() > max_accepts {
        return Err(ProxyError::TooLarge(format!(
            "a node lists {} accepted keys; at most {max_accepts} are listed (every node \
             receives the directory: keep the keys of grants in use, revoke the rest)",
            ping.accepts.len()
        )));
    }
    if ping.follows.len() > wire::MAX_FOLLOWED {
        return Err(ProxyError::TooLarge(format!(
            "a node follows {} nodes; at most {} are followed (look others up in \
             `GET /api/directory`)",
            ping.follows.len(),
            wire::MAX_FOLLOWED
        )));
    }
    for node in &ping.follows {
        wire::check_name("node", node).map_err(|e| ProxyError::Malformed(e.to_string()))?;
    }
    let size = wire::encode(&ping.offers).len() + 32 * ping.accepts.len();
    if size > MAX_DIRECTORY_ENTRY_BYTES {
        return Err(ProxyError::TooLarge(format!(
            "a node's missions, functions and accepted keys take {size} bytes; at most {MAX_DIRECTORY_ENTRY_BYTES} are listed"
        )));
    }
    for offer in &ping.offers {
        wire::check_name("mission", &offer.mission)
            .map_err(|e| ProxyError::Malformed(e.to_string()))?;
        for function in &offer.functions {
            let (module, name) = function.rsplit_once('/').unwrap_or(("", function));
            wire::check_module(module)
                .and_then(|_| wire::check_function(name))
                .map_err(|e| ProxyError::Malformed(e.to_string()))?;
        }
        for behaviour in &offer.behaviours {
            wire::check_behaviour(behaviour).map_err(|e| ProxyError::Malformed(e.to_string()))?;
        }
    }
    Ok(())
}

/// Whether `node`'s line of `size` bytes fits a directory of at most `bound` bytes whose
/// other lines take `others`. Full lines (with offers and keys) may fill three quarters
/// of it; the last quarter is kept for lines of a name and key alone, so that once full
/// lines have filled theirs (junk, say), a newcomer can still be found by name.
pub(crate) fn fits(node: &str, others: usize, size: usize, bound: usize) -> bool {
    let bare = entry_size(node, &[], &[]);
    let room = if size <= bare {
        bound
    } else {
        bound - bound / 4
    };
    others + size <= room
}

/// What the directory shows for one node.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// The missions and functions it serves, as its last ping said.
    offers: Vec<Offer>,
    /// The capability keys it accepts calls from, as its last ping said.
    accepts: Vec<[u8; 32]>,
    /// Whether the directory lists the node now.
    listed: bool,
    /// About its bytes in the encoded directory ([`entry_size`]).
    size: usize,
    /// Which keys `/apply` calls to this node may carry (see [`crate::state::gate`]).
    gate: KeyGate,
    /// The directory version at which its line last changed (0: not since this proxy
    /// started).
    changed: u64,
}

/// The keys a node announced, as `/apply` calls are checked against them: those its last
/// ping accepted, and up to [`EARLIER_KEYS`] it accepted before (revoked or expired since:
/// a call with one still reaches the node, which refuses it in words and logs the attempt
/// in its audit log). Each key is kept as its first 8 bytes, whether the directory shows
/// the node's keys or lists it by name only: at most (256 + 256) × 8 bytes a node.
#[derive(Debug, Default)]
pub(crate) struct KeyGate {
    /// The keys the last ping accepted, sorted.
    current: Vec<u64>,
    /// Keys accepted before and not now, the longest gone first.
    earlier: VecDeque<u64>,
}

/// Keys a node no longer accepts that still reach it (so that its owner sees their use).
pub(crate) const EARLIER_KEYS: usize = 256;

impl KeyGate {
    /// The node's ping accepted `accepts`.
    fn announce(&mut self, accepts: &[[u8; 32]]) {
        let mut now: Vec<u64> = accepts.iter().map(key_prefix).collect();
        now.sort_unstable();
        now.dedup();
        if now == self.current {
            return;
        }
        for gone in self
            .current
            .iter()
            .filter(|k| now.binary_search(k).is_err())
        {
            self.earlier.push_back(*gone);
        }
        self.earlier.retain(|k| now.binary_search(k).is_err());
        while self.earlier.len() > EARLIER_KEYS {
            self.earlier.pop_front();
        }
        self.current = now;
    }

    /// Whether a call with `key` may reach the node.
    fn admits(&self, key: &[u8; 32]) -> bool {
        let key = key_prefix(key);
        self.current.binary_search(&key).is_ok() || self.earlier.contains(&key)
    }
}

impl Listing {
    /// Lists the node with these offers, taking `size` bytes; `true` if the directory
    /// changed.
    pub(crate) fn show(&mut self, offers: Vec<Offer>, accepts: Vec<[u8; 32]>, size: usize) -> bool {
        if self.offers == offers && self.accepts == accepts && self.listed {
            return false;
        }
        self.offers = offers;
        self.accepts = accepts;
        self.listed = true;
        self.size = size;
        true
    }

    /// Records the keys the node accepts now (its last accepted ping's list), whether the
    /// directory shows them or not.
    pub(crate) fn accept(&mut self, accepts: &[[u8; 32]]) {
        self.gate.announce(accepts);
    }

    /// Whether an `/apply` call with `key` may reach the node: the node announced the key
    /// (see [`KeyGate`]). A key sharing its first 8 bytes with one passes too: finding one
    /// takes about 2^63 tries, and the callee checks every call itself anyway.
    pub(crate) fn may_accept(&self, key: &[u8; 32]) -> bool {
        self.gate.admits(key)
    }

    /// About the bytes it takes in the directory while listed, else 0.
    pub(crate) fn size(&self) -> usize {
        if self.listed { self.size } else { 0 }
    }

    /// About the bytes it would take if listed again with what it offered last.
    pub(crate) fn size_if_listed(&self) -> usize {
        self.size
    }

    /// Lists the node with what it offered last; `true` if it was not listed.
    pub(crate) fn relist(&mut self) -> bool {
        !std::mem::replace(&mut self.listed, true)
    }

    /// Takes the node off the directory; `true` if it was listed.
    pub(crate) fn unlist(&mut self) -> bool {
        std::mem::replace(&mut self.listed, false)
    }

    /// Whether the directory lists the node now.
    pub(crate) fn listed(&self) -> bool {
        self.listed
    }

    /// The directory version at which its line last changed.
    pub(crate) fn changed(&self) -> u64 {
        self.changed
    }

    /// Records that its line changed at `version`.
    pub(crate) fn changed_at(&mut self, version: u64) {
        self.changed = version;
    }

    /// The node's line in the directory, if it is listed.
    pub(crate) fn entry(&self, name: &str, key: &VerifyingKey) -> Option<DirectoryEntry> {
        self.listed.then(|| DirectoryEntry {
            name: name.to_string(),
            node_key: key.to_bytes(),
            offers: self.offers.clone(),
            accepts: self.accepts.clone(),
        })
    }
}

/// The first 8 bytes of a key, as a number.
fn key_prefix(key: &[u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&key[..8]);
    u64::from_le_bytes(first)
}

/// Changes kept for `GET /api/directory?since=`: a reader further behind than this gets
/// the first page of the whole directory instead.
pub const CHANGES_KEPT: usize = 4096;

/// The directory's versions, its listed entries in name order, the recent changes, and who
/// follows whom. Kept beside the nodes (under its own lock, taken after theirs), so a page
/// or a delta is read without holding up the requests every node makes.
#[derive(Debug)]
pub(crate) struct DirectoryLog {
    /// The current version: one more for every change.
    version: u64,
    /// Listed nodes, sorted by name, each with its size ([`entry_size`]).
    listed: BTreeMap<String, (Arc<DirectoryEntry>, usize)>,
    /// The sum of those sizes.
    bytes: usize,
    /// The last [`CHANGES_KEPT`] changes: the version each took, and whose line changed.
    changes: VecDeque<(u64, String)>,
    /// Every change up to this version is known (those after it are all in `changes`).
    complete_after: u64,
    /// The last version at which a registration was forgotten: a follower that had an
    /// older version hears that the name is not listed.
    forgotten: u64,
    /// For each node, the nodes following it.
    followers: HashMap<String, BTreeSet<String>>,
    /// The current version again, for readers that wait for any change (the dashboard).
    versions: watch::Sender<u64>,
}

/// What changed since a version, for the whole directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryChanges {
    /// The version these changes bring a reader to.
    pub version: u64,
    /// Nodes listed now whose line changed, sorted by name.
    pub listed: Vec<Arc<DirectoryEntry>>,
    /// Nodes not listed now that were, or may have been.
    pub unlisted: Vec<String>,
}

/// One page of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryPage {
    /// The version the page was read at.
    pub version: u64,
    /// Listed nodes, sorted by name.
    pub nodes: Vec<Arc<DirectoryEntry>>,
    /// The name to read the next page after, if there are more.
    pub next: Option<String>,
}

impl DirectoryLog {
    /// An empty directory at a version taken from the clock (ms), not 1: a node holding
    /// a version from before a restart never mistakes the new directory for the one it has.
    pub(crate) fn new() -> DirectoryLog {
        let version = wire::now_ms();
        DirectoryLog {
            version,
            listed: BTreeMap::new(),
            bytes: 0,
            changes: VecDeque::new(),
            complete_after: version,
            forgotten: 0,
            followers: HashMap::new(),
            versions: watch::Sender::new(version),
        }
    }

    /// The current version.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// A channel holding the current version, changed with every change.
    pub(crate) fn watch_version(&self) -> watch::Receiver<u64> {
        self.versions.subscribe()
    }

    /// About the bytes the listed lines take.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// `name`'s line is now `entry` (`None`: not listed), taking `size` bytes; returns the
    /// version of the change.
    pub(crate) fn change(&mut self, name: &str, entry: Option<DirectoryEntry>, size: usize) -> u64 {
        self.version += 1;
        let old = match entry {
            Some(entry) => self
                .listed
                .insert(name.to_string(), (Arc::new(entry), size)),
            None => self.listed.remove(name),
        };
        if let Some((_, old)) = old {
            self.bytes -= old;
        }
        if self.listed.contains_key(name) {
            self.bytes += size;
        }
        if self.changes.len() == CHANGES_KEPT
            && let Some((dropped, _)) = self.changes.pop_front()
        {
            self.complete_after = dropped;
        }
        self.changes.push_back((self.version, name.to_string()));
        // `send_replace` publishes even while no one is subscribed.
        self.versions.send_replace(self.version);
        self.version
    }

    /// `name`'s registration is gone (it followed `follows`): not listed, following no one.
    pub(crate) fn forget(&mut self, name: &str, follows: &[String]) {
        let version = self.change(name, None, 0);
        self.forgotten = version;
        self.follow(name, follows, &[]);
    }

    /// The last version at which a registration was forgotten.
    pub(crate) fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// `follower` followed `before` and now follows `now`.
    pub(crate) fn follow(&mut self, follower: &str, before: &[String], now: &[String]) {
        for name in before.iter().filter(|n| !now.contains(n)) {
            if let Some(set) = self.followers.get_mut(name) {
                set.remove(follower);
                if set.is_empty() {
                    self.followers.remove(name);
                }
            }
        }
        for name in now {
            self.followers
                .entry(name.clone())
                .or_default()
                .insert(follower.to_string());
        }
    }

    /// The nodes following `name`.
    pub(crate) fn followers(&self, name: &str) -> impl Iterator<Item = &String> {
        self.followers.get(name).into_iter().flatten()
    }

    /// Up to `limit` listed nodes whose names sort after `after`.
    pub(crate) fn page(&self, after: Option<&str>, limit: usize) -> DirectoryPage {
        use std::ops::Bound;
        let from = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_string()));
        let mut range = self.listed.range((from, Bound::Unbounded));
        let nodes: Vec<Arc<DirectoryEntry>> = range
            .by_ref()
            .take(limit)
            .map(|(_, (entry, _))| entry.clone())
            .collect();
        let more = range.next().is_some();
        DirectoryPage {
            version: self.version,
            next: more.then(|| nodes.last().map(|n| n.name.clone())).flatten(),
            nodes,
        }
    }

    /// What changed since `since`, or `None` if some of it is no longer kept (or `since`
    /// is not a version of this directory): then only the whole directory can tell.
    pub(crate) fn since(&self, since: u64) -> Option<DirectoryChanges> {
        if since < self.complete_after || since > self.version {
            return None;
        }
        let names: BTreeSet<&String> = self
            .changes
            .iter()
            .rev()
            .take_while(|(version, _)| *version > since)
            .map(|(_, name)| name)
            .collect();
        let mut changes = DirectoryChanges {
            version: self.version,
            listed: Vec::new(),
            unlisted: Vec::new(),
        };
        for name in names {
            match self.listed.get(name) {
                Some((entry, _)) => changes.listed.push(entry.clone()),
                None => changes.unlisted.push(name.clone()),
            }
        }
        Some(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str) -> DirectoryEntry {
        DirectoryEntry {
            name: name.into(),
            node_key: [7; 32],
            offers: Vec::new(),
            accepts: vec![[9; 32]],
        }
    }

    #[test]
    fn the_gate_admits_keys_announced_now_and_a_bounded_number_announced_before() {
        let key = |n: u32| {
            let mut key = [0u8; 32];
            key[..4].copy_from_slice(&n.to_le_bytes());
            key
        };
        let mut gate = KeyGate::default();
        assert!(!gate.admits(&key(1)), "nothing announced yet");
        gate.announce(&[key(1), key(2)]);
        assert!(gate.admits(&key(1)) && gate.admits(&key(2)));
        assert!(!gate.admits(&key(3)), "never announced");
        // Key 1 revoked: it still reaches the node, which refuses it and logs the attempt.
        gate.announce(&[key(2)]);
        assert!(gate.admits(&key(1)));
        // Hundreds of keys come and go: the earliest are forgotten, memory stays bounded.
        for n in 10..(10 + 2 * EARLIER_KEYS as u32) {
            gate.announce(&[key(2), key(n)]);
        }
        assert!(
            !gate.admits(&key(1)),
            "forgotten after {EARLIER_KEYS} others"
        );
        assert!(gate.admits(&key(2)));
        assert!(gate.earlier.len() <= EARLIER_KEYS);
        assert!(!gate.admits(&key(3)));
    }

    #[test]
    fn a_reader_that_missed_more_changes_than_are_kept_gets_none_never_a_short_delta() {
        let mut log = DirectoryLog::new();
        let start = log.version();
        log.change("alice", Some(line("alice")), 100);
        let after_alice = log.version();
        for i in 0..CHANGES_KEPT {
            let name = format!("n{}", i % 10);
            let entry = (i % 2 == 0).then(|| line(&name));
            log.change(&name, entry, 100);
        }
        // Alice's change fell out of the kept changes: a reader from before it must not
        // get a delta that leaves her out.
        assert_eq!(log.since(start), None);
        let recent = log.since(after_alice).expect("every later change is kept");
        assert!(recent.listed.iter().all(|e| e.name != "alice"));
        assert_eq!(recent.listed.len() + recent.unlisted.len(), 10);
        assert_eq!(
            log.since(log.version() + 1),
            None,
            "a version from elsewhere"
        );
        assert_eq!(
            log.since(log.version())
                .map(|c| c.listed.len() + c.unlisted.len()),
            Some(0)
        );
    }

    #[test]
    fn a_delta_names_each_changed_node_once_with_its_state_now() {
        let mut log = DirectoryLog::new();
        let v0 = log.version();
        log.change("bob", Some(line("bob")), 10);
        log.change("carol", Some(line("carol")), 10);
        log.change("bob", None, 0);
        log.change("bob", Some(line("bob")), 12);
        log.change("carol", None, 0);
        let delta = log.since(v0).expect("kept");
        assert_eq!(delta.version, log.version());
        let listed: Vec<&str> = delta.listed.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(listed, ["bob"]);
        assert_eq!(delta.unlisted, ["carol"]);
        assert_eq!(log.bytes(), 12);
    }

    #[test]
    fn pages_cover_the_listed_nodes_in_order_and_end() {
        let mut log = DirectoryLog::new();
        for name in ["d", "a", "c", "b", "e"] {
            log.change(name, Some(line(name)), 1);
        }
        let first = log.page(None, 2);
        assert_eq!(first.next.as_deref(), Some("b"));
        let second = log.page(first.next.as_deref(), 2);
        let last = log.page(second.next.as_deref(), 2);
        let names: Vec<String> = [first, second, last.clone()]
            .iter()
            .flat_map(|p| p.nodes.iter().map(|n| n.name.clone()))
            .collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        assert_eq!(last.next, None);
    }

    #[test]
    fn followers_are_indexed_by_the_node_they_follow() {
        let mut log = DirectoryLog::new();
        log.follow("bob", &[], &["alice".into(), "carol".into()]);
        log.follow("dave", &[], &["alice".into()]);
        log.follow("bob", &["alice".into(), "carol".into()], &["carol".into()]);
        let of_alice: Vec<&String> = log.followers("alice").collect();
        assert_eq!(of_alice, ["dave"]);
        log.forget("bob", &["carol".into()]);
        assert_eq!(log.followers("carol").count(), 0);
        assert_eq!(log.forgotten(), log.version());
    }
}
