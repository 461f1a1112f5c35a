//! Presence and the directory: once a second the ping thread tells the proxy this node
//! is here, what it offers and which keys it accepts, and hears back the directory when
//! it changed. If the proxy forgot the node (it lost its data), the node registers again.
//!
//! The proxy lets an `/apply` call through only if its key is one the callee announced,
//! so a grant must be announced at once, not at the next ping: between pings the ping
//! thread looks at the keys the node accepts every tenth of a second (a lock and a `stat`
//! of `grants.toml`), and pings as soon as they change, by the API or by hand.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{NodeInner, lock, pause};
use crate::transport::TransportError;
use crate::wire::{Directory, Offer, Ping};

/// How often the ping thread looks for a grant made or revoked since its last ping.
const GRANTS_LOOKED_AT_EVERY: Duration = Duration::from_millis(100);
/// Pings at least this often, changed grants or not: the node's presence.
const PING_EVERY: Duration = Duration::from_secs(1);

/// How long after registering again a node trusts that registration for every thread
/// that was told "not registered".
const REREGISTER_AGAIN_AFTER: Duration = Duration::from_secs(2);

/// How long a starting node waits for a proxy's operator to approve it.
const APPROVAL_WAIT: Duration = Duration::from_secs(24 * 60 * 60);
/// How often it asks again meanwhile.
const APPROVAL_RETRY: Duration = Duration::from_secs(2);

/// What this node tells the proxy, and what it last heard back.
pub(crate) struct Presence {
    /// The owner's contact address, sent with every registration.
    email: String,
    /// The missions this node serves, with their functions.
    pub(crate) offers: Vec<Offer>,
    /// The directory as of the last ping that brought one.
    pub(crate) directory: Mutex<Directory>,
    /// Its version: the proxy sends the directory again only when this is stale.
    version: Mutex<u64>,
    /// When the node last registered again; held while it does, so threads take turns.
    registered_at: Mutex<Option<Instant>>,
    /// The keys the last ping announced as accepted (or tried to).
    announced: Mutex<Vec<[u8; 32]>>,
}

impl Presence {
    pub(crate) fn new(email: String, offers: Vec<Offer>) -> Presence {
        Presence {
            email,
            offers,
            directory: Mutex::new(Directory::default()),
            version: Mutex::new(0),
            registered_at: Mutex::new(None),
            announced: Mutex::new(Vec::new()),
        }
    }

    /// `PUT /nodes/{name}` again, after the proxy said it does not know this node.
    ///
    /// One at a time, and once for a burst: the receive, send and ping threads can all
    /// hear "not registered" at once, and a registration that is not the first empties the
    /// node's mailbox at the proxy, which would drop replies queued in between.
    pub(crate) fn reregister(&self, node: &NodeInner) {
        let mut last = lock(&self.registered_at);
        // Another thread registered a moment ago: that answered this "not registered" too.
        if last.is_some_and(|at| at.elapsed() < REREGISTER_AGAIN_AFTER) {
            return;
        }
        match node.transport.register(&self.email) {
            Ok(()) => {
                *last = Some(Instant::now());
                tracing::info!(node = %node.name, "registered again with the proxy");
            }
            Err(e) => tracing::warn!(node = %node.name, "cannot register again: {e:?}"),
        }
    }

    /// Registers for the first time (at start). A proxy that approves new nodes by hand
    /// answers `AwaitingApproval` until its operator does: the node says so once and asks
    /// again every few seconds, for up to [`APPROVAL_WAIT`].
    pub(crate) fn register(&self, node: &NodeInner) -> Result<(), TransportError> {
        let tries = APPROVAL_WAIT.as_secs() / APPROVAL_RETRY.as_secs();
        for attempt in 0..tries {
            match node.transport.register(&self.email) {
                Err(TransportError::Refused { code, message, .. })
                    if code == "AwaitingApproval" && !node.is_stopped() =>
                {
                    if attempt == 0 {
                        tracing::warn!(node = %node.name, "{message}");
                    }
                    std::thread::sleep(APPROVAL_RETRY);
                }
                other => return other,
            }
        }
        node.transport.register(&self.email)
    }

    /// One `POST /ping`.
    pub(crate) fn ping_once(&self, node: &NodeInner) -> Result<(), TransportError> {
        let known_version = *lock(&self.version);
        let ping = Ping {
            offers: self.offers.clone(),
            accepts: node.callee.grants.accepted_keys(),
            known_version,
        };
        // Recorded before the answer: a ping that fails is tried again at the next
        // second, not every tenth of one.
        lock(&self.announced).clone_from(&ping.accepts);
        let reply = node.transport.ping(&ping)?;
        *lock(&self.version) = reply.version;
        if let Some(directory) = reply.directory {
            *lock(&self.directory) = directory;
        }
        Ok(())
    }
}

/// The ping thread: presence every second, and the watchdog's rounds.
pub(crate) fn ping_loop(node: &NodeInner) {
    // Say it once when the proxy stops answering, and once when it is back.
    let mut failing = false;
    while !node.is_stopped() {
        node.watchdog.interrupt_stuck(&node.name);
        match node.presence.ping_once(node) {
            Ok(()) => {
                if failing {
                    tracing::info!(node = %node.name, "the proxy answers again");
                }
                failing = false;
            }
            Err(TransportError::NotRegistered) => node.presence.reregister(node),
            Err(e) => {
                if !failing && !node.is_stopped() {
                    let e = e.into_error(node.transport.url());
                    tracing::warn!(node = %node.name, "ping failed, retrying every second: {e}");
                }
                failing = true;
            }
        }
        wait_for_next_ping(node);
    }
}

/// Waits until the next ping is due: a second, or less if the keys the node accepts
/// changed since the last ping announced them (a grant made or revoked).
fn wait_for_next_ping(node: &NodeInner) {
    let due = Instant::now() + PING_EVERY;
    while !node.is_stopped() && Instant::now() < due {
        pause(
            node,
            GRANTS_LOOKED_AT_EVERY.min(due.saturating_duration_since(Instant::now())),
        );
        if *lock(&node.presence.announced) != node.callee.grants.accepted_keys() {
            return;
        }
    }
}
