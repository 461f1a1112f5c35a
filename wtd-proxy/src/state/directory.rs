//! The directory: the nodes online, with what each offers and which capability keys it
//! accepts. Every node receives all of it (in its `/ping` answers), so each node's part is
//! bounded by [`MAX_DIRECTORY_ENTRY_BYTES`].
//!
//! Changes go out on a [`tokio::sync::watch`] channel ([`DirectoryFeed`]): a watch
//! channel holds only the newest value, which is what every reader wants. A node asks
//! for the directory by the version it has; a page streaming it would wait for the next.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::Bytes;
use ed25519_dalek::VerifyingKey;
use tokio::sync::watch;
use wtd_wire::{self as wire, Directory, DirectoryEntry, Offer, Ping};

use crate::error::ProxyError;
use crate::store::DirectoryView;

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

/// The postcard bytes of a [`wire::PingReply`] for a node that has `known_version`, put
/// together from the directory's one encoding for this version rather than encoded again.
pub(crate) fn ping_reply(view: &DirectoryView, known_version: u64) -> Bytes {
    // A PingReply is its version, then an Option: 0, or 1 and the directory.
    let mut reply = wire::encode(&view.version);
    if known_version == view.version {
        reply.push(0);
        return Bytes::from(reply);
    }
    let directory = view.postcard();
    reply.reserve(1 + directory.len());
    reply.push(1);
    reply.extend_from_slice(&directory);
    Bytes::from(reply)
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

/// Publishes each version of the directory.
#[derive(Debug)]
pub(crate) struct DirectoryFeed {
    /// Holds the newest version; every reader subscribes to it.
    sender: watch::Sender<DirectoryView>,
}

impl DirectoryFeed {
    /// An empty directory, at a version taken from the clock (see
    /// [`DirectoryView::version`]).
    pub(crate) fn new() -> DirectoryFeed {
        DirectoryFeed {
            sender: watch::Sender::new(DirectoryView::new(
                wire::now_ms(),
                Arc::new(Directory::default()),
            )),
        }
    }

    /// Publishes `entries` (in any order) as the next version.
    pub(crate) fn publish(&self, entries: impl Iterator<Item = DirectoryEntry>) {
        let mut nodes: Vec<DirectoryEntry> = entries.collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let directory = Arc::new(Directory { nodes });
        // `send_modify` publishes even while no one is subscribed.
        self.sender.send_modify(|view| {
            *view = DirectoryView::new(view.version + 1, directory);
        });
    }

    /// A receiver holding the newest version.
    pub(crate) fn subscribe(&self) -> watch::Receiver<DirectoryView> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_ping_answer_is_a_ping_reply_built_from_one_shared_encoding() {
        let directory = Directory {
            nodes: vec![DirectoryEntry {
                name: "alice".into(),
                node_key: [7; 32],
                offers: vec![Offer {
                    mission: "demo".into(),
                    functions: vec!["demo/add".into()],
                    behaviours: Vec::new(),
                }],
                accepts: vec![[9; 32]; 3],
            }],
        };
        let view = DirectoryView::new(1_700_000_000_123, Arc::new(directory.clone()));
        let full = ping_reply(&view, 0);
        let decoded: wire::PingReply = wire::decode_exact(&full).expect("a ping reply");
        assert_eq!(decoded.version, view.version);
        assert_eq!(decoded.directory, Some(directory));
        let same: wire::PingReply =
            wire::decode_exact(&ping_reply(&view, view.version)).expect("a ping reply");
        assert_eq!(same.directory, None);
        // Every reader of this version, and its clones, share one copy of each encoding.
        let other_reader = view.clone();
        assert_eq!(view.postcard().as_ptr(), other_reader.postcard().as_ptr());
        assert_eq!(view.json().as_ptr(), other_reader.json().as_ptr());
        let json: wire::JsonDirectory = serde_json::from_slice(&view.json()).expect("json");
        assert_eq!(json.version, view.version);
    }
}
