//! The directory: the nodes online, with what each offers and which capability keys it
//! accepts. Every node receives all of it (in its `/ping` answers), so each node's part is
//! bounded by [`MAX_DIRECTORY_ENTRY_BYTES`].
//!
//! Changes go out on a [`tokio::sync::watch`] channel ([`DirectoryFeed`]): a watch
//! channel holds only the newest value, which is what every reader wants. A node asks
//! for the directory by the version it has; a page streaming it would wait for the next.

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
