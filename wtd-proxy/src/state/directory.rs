//! The directory: the nodes online, with what each offers and which capability keys it
//! accepts. Every node receives all of it (in its `/ping` answers), so each node's part is
//! bounded by [`MAX_DIRECTORY_ENTRY_BYTES`].
//!
//! Changes go out on a [`tokio::sync::watch`] channel ([`DirectoryFeed`]): a watch
//! channel holds only the newest value, which is what every reader wants. A node asks
//! for the directory by the version it has; a page streaming it would wait for the next.

use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use tokio::sync::watch;
use wtd_wire::{self as wire, Directory, DirectoryEntry, Offer, Ping};

use crate::error::ProxyError;
use crate::store::DirectoryView;

/// Most bytes one node's offers and accepted keys may take in the directory.
pub const MAX_DIRECTORY_ENTRY_BYTES: usize = 16 * 1024;

/// Checks what a ping asks to list: its size, and every mission, module and function name.
pub(crate) fn check_ping(ping: &Ping) -> Result<(), ProxyError> {
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
    }
    Ok(())
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
}

impl Listing {
    /// Lists the node with these offers; `true` if the directory changed.
    pub(crate) fn show(&mut self, offers: Vec<Offer>, accepts: Vec<[u8; 32]>) -> bool {
        if self.offers == offers && self.accepts == accepts && self.listed {
            return false;
        }
        self.offers = offers;
        self.accepts = accepts;
        self.listed = true;
        true
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
            sender: watch::Sender::new(DirectoryView {
                version: wire::now_ms(),
                directory: Arc::new(Directory::default()),
            }),
        }
    }

    /// Publishes `entries` (in any order) as the next version.
    pub(crate) fn publish(&self, entries: impl Iterator<Item = DirectoryEntry>) {
        let mut nodes: Vec<DirectoryEntry> = entries.collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let directory = Arc::new(Directory { nodes });
        // `send_modify` publishes even while no one is subscribed.
        self.sender.send_modify(|view| {
            view.version += 1;
            view.directory = directory;
        });
    }

    /// A receiver holding the newest version.
    pub(crate) fn subscribe(&self) -> watch::Receiver<DirectoryView> {
        self.sender.subscribe()
    }
}
