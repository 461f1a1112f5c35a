//! The embedded store: one proxy keeps everything itself, in memory, and the
//! registrations also on disk ([`Registry`]), so they survive a restart. The rest (who is
//! online, mailboxes, replay windows, rates, waiters) starts empty with each proxy start,
//! which the protocol expects: a new epoch tells nodes that sequence numbers restarted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ed25519_dalek::VerifyingKey;
use tokio::sync::{oneshot, watch};
use wtd_wire::{self as wire, CounterWindow, DirectoryUpdate, Kind, Offer, Route, TxStatus};

use super::registry::{PENDING, REJECTED};
use super::{
    Admission, ApplyWaiters, DirectoryChanges, DirectoryPage, HopWindows, Mail, Mailboxes,
    NodeRecord, Observe, Observed, ObservedNode, Presence, Registered, Registrations, Registry,
    RequestRates,
};
use crate::Config;
use crate::error::ProxyError;
use crate::state::directory::{self, DirectoryLog, Listing};
use crate::state::limits::{self, Limiter};
use crate::state::mailboxes::{Mailbox, MailboxBounds};
use crate::state::presence::NodePresence;
use crate::state::waiters::Waiters;

/// Every node's state, kept in this process.
pub struct EmbeddedStore {
    /// Behind an `Arc` so a registration can finish on the blocking pool (see
    /// [`Registrations::register`]) after the request that asked for it is gone.
    shared: Arc<Shared>,
}

/// What the handles share.
struct Shared {
    /// Every bound.
    config: Config,
    /// Registrations on disk.
    registry: Registry,
    /// Every registered node's live state. One lock for all of it: several steps the
    /// traits promise are atomic touch more than one concept of a node at once (a
    /// goodbye: presence, directory and mailbox; a delivery: presence and mailbox), and
    /// every step is short: no await and no disk under it.
    nodes: Mutex<HashMap<String, NodeEntry>>,
    /// The directory's versions, sorted lines, recent changes and followers. Changed under
    /// the `nodes` lock (taken first), so versions follow the changes; read alone by pages.
    directory: Mutex<DirectoryLog>,
    /// One registration at a time, so the disk write can happen without holding `nodes`,
    /// the lock every request needs (an fsync on a Pi's SD card is slow).
    registering: Mutex<()>,
    /// New names per minute: registration is open, so it is rate-limited.
    new_names: Limiter,
    /// Calls waiting on `/apply`. Their own lock: they are not per node.
    waiters: Mutex<Waiters>,
    /// Random per open: the mailboxes, in memory, start again with each start.
    epoch: u64,
}

/// One registered node.
struct NodeEntry {
    /// The key its hops must be signed with.
    key: VerifyingKey,
    /// Its owner's contact address.
    email: String,
    /// When it registered, ms since the Unix epoch.
    registered_at_ms: u64,
    /// The operator's decision: 0 approved, else [`PENDING`] or [`REJECTED`].
    decision: u8,
    /// Whether it is online.
    presence: NodePresence,
    /// What the directory shows for it.
    listing: Listing,
    /// The hop counters seen recently.
    window: CounterWindow,
    /// Its requests per second.
    limiter: Limiter,
    /// Messages waiting for it.
    mailbox: Mailbox,
    /// The nodes whose changes it hears about (its last ping's [`wire::Ping::follows`]).
    follows: Vec<String>,
    /// When it was last online, ms since the Unix epoch: its registration expires once
    /// this is [`Config::name_expiry`] ago.
    last_seen_ms: u64,
    /// The last of those times saved on disk (the registry keeps it to within
    /// [`SEEN_SAVED_EVERY_MS`]).
    saved_seen_ms: u64,
}

/// How often a node's last-seen time is saved to disk while it stays online: often enough
/// for an expiry measured in days, rarely enough to cost nothing (one small write per
/// online node an hour).
const SEEN_SAVED_EVERY_MS: u64 = 60 * 60 * 1000;

impl NodeEntry {
    fn new(record: NodeRecord, key: VerifyingKey, config: &Config, seen_ms: u64) -> NodeEntry {
        NodeEntry {
            last_seen_ms: seen_ms,
            saved_seen_ms: seen_ms,
            key,
            registered_at_ms: record.registered_at_ms,
            email: record.email,
            decision: 0,
            presence: NodePresence::default(),
            listing: Listing::default(),
            window: CounterWindow::default(),
            limiter: limits::per_second(config.node_rate),
            mailbox: Mailbox::new(),
            follows: Vec::new(),
        }
    }

    /// Marks the node online now.
    fn seen_now(&mut self) {
        self.last_seen_ms = self.last_seen_ms.max(wire::now_ms());
    }

    /// How long until its registration expires (zero: it has), unless it is online.
    fn expires_in(&self, config: &Config, now_ms: u64) -> Option<u64> {
        if self.presence.online(config.presence_timeout) {
            return None;
        }
        let expiry = u64::try_from(config.name_expiry.as_millis()).unwrap_or(u64::MAX);
        Some(
            self.last_seen_ms
                .saturating_add(expiry)
                .saturating_sub(now_ms),
        )
    }
}

/// A lock that a panic elsewhere does not make unusable: every step under it leaves the
/// state consistent before anything that could panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn entry<'a>(
    nodes: &'a mut HashMap<String, NodeEntry>,
    node: &str,
) -> Result<&'a mut NodeEntry, ProxyError> {
    nodes
        .get_mut(node)
        .ok_or_else(|| ProxyError::NotRegistered(node.to_string()))
}

impl EmbeddedStore {
    /// Opens (or creates) the registry in [`Config::data_dir`] and loads every
    /// registration. Blocks.
    pub fn open(config: &Config) -> Result<EmbeddedStore, ProxyError> {
        let registry = Registry::open(&config.data_dir)?;
        let last_seen = registry.last_seen()?;
        let decisions = registry.decisions()?;
        let mut nodes = HashMap::new();
        for (name, record) in registry.all()? {
            match wire::verifying_key(&record.node_key) {
                Ok(key) => {
                    let seen = last_seen.get(&name).copied().unwrap_or(0);
                    let seen = seen.max(record.registered_at_ms);
                    let mut entry = NodeEntry::new(record, key, config, seen);
                    // Decisions count only while the proxy approves by hand.
                    if config.approve {
                        entry.decision = decisions.get(&name).copied().unwrap_or(0);
                    }
                    nodes.insert(name, entry);
                }
                Err(e) => tracing::error!(%name, "skipping a registration with a bad key: {e}"),
            }
        }
        tracing::info!(registered = nodes.len(), data = %config.data_dir.display(), "proxy state loaded");
        let mut epoch = [0u8; 8];
        getrandom::fill(&mut epoch).map_err(|e| ProxyError::Storage(e.to_string()))?;
        Ok(EmbeddedStore {
            shared: Arc::new(Shared {
                config: config.clone(),
                registry,
                nodes: Mutex::new(nodes),
                directory: Mutex::new(DirectoryLog::new()),
                registering: Mutex::new(()),
                new_names: limits::per_minute(config.new_nodes_per_minute),
                waiters: Mutex::new(Waiters::new(config.max_applies)),
                epoch: u64::from_le_bytes(epoch).max(1),
            }),
        })
    }

    fn nodes(&self) -> MutexGuard<'_, HashMap<String, NodeEntry>> {
        lock(&self.shared.nodes)
    }

    /// Records `name`'s line as its listing now shows it, as the next version, and wakes
    /// the receive requests of the nodes following it; called with the lock held.
    fn changed(&self, nodes: &mut HashMap<String, NodeEntry>, name: &str) {
        self.shared.changed(nodes, name);
    }
}

impl Shared {
    /// See [`EmbeddedStore::changed`].
    fn changed(&self, nodes: &mut HashMap<String, NodeEntry>, name: &str) {
        let Some(node) = nodes.get_mut(name) else {
            return;
        };
        let mut log = lock(&self.directory);
        let version = log.change(
            name,
            node.listing.entry(name, &node.key),
            node.listing.size(),
        );
        node.listing.changed_at(version);
        for follower in log.followers(name) {
            if let Some(follower) = nodes.get(follower) {
                follower.mailbox.wake();
            }
        }
    }

    /// [`Presence::followed`], with the nodes lock held.
    fn followed(
        &self,
        nodes: &HashMap<String, NodeEntry>,
        follows: &[String],
        known: u64,
    ) -> (u64, DirectoryUpdate) {
        let log = lock(&self.directory);
        // A version from another start of the proxy (or none) tells nothing: all of it.
        let known = if known > log.version() { 0 } else { known };
        let mut update = DirectoryUpdate::default();
        for name in follows {
            match nodes.get(name) {
                Some(n) if known == 0 || n.listing.changed() > known => {
                    match n.listing.entry(name, &n.key) {
                        Some(line) => update.listed.push(line),
                        None => update.unlisted.push(name.clone()),
                    }
                }
                Some(_) => {}
                None if known == 0 || log.forgotten() > known => update.unlisted.push(name.clone()),
                None => {}
            }
        }
        (log.version(), update)
    }

    /// [`Registrations::register`], on a blocking thread.
    fn register(&self, name: String, record: NodeRecord) -> Result<Registered, ProxyError> {
        let key = wire::verifying_key(&record.node_key)
            .map_err(|_| ProxyError::Malformed("the node key is not a valid ed25519 key".into()))?;
        let _one_at_a_time = lock(&self.registering);
        // An expired registration this one replaces: the name's own, or, at the bound on
        // names, the one not seen for the longest.
        let instead = {
            let nodes = lock(&self.nodes);
            let now = wire::now_ms();
            match nodes.get(&name) {
                Some(existing) if existing.key == key => {
                    return Ok(match existing.decision {
                        0 => Registered::Again,
                        REJECTED => Registered::Rejected,
                        _ => Registered::Pending,
                    });
                }
                Some(existing) => match existing.expires_in(&self.config, now) {
                    Some(0) => Some(name.clone()),
                    _ => return Err(ProxyError::NameTaken(name)),
                },
                None if nodes.len() >= self.config.max_nodes => {
                    Some(self.longest_expired(&nodes, now)?)
                }
                None => None,
            }
        };
        if let Some(wait) = limits::wait_for(&self.new_names) {
            return Err(ProxyError::TooMany(format!(
                "too many new nodes are registering right now (this proxy takes {} a minute): \
                 try again in {}",
                self.config.new_nodes_per_minute,
                limits::seconds(wait)
            )));
        }
        // Memory first, then disk: a request from the expired node meanwhile finds it
        // unregistered, and its node registers again after this one (and is refused, or
        // gets its name back, like any newcomer).
        if let Some(old) = &instead {
            self.forget(&mut lock(&self.nodes), old);
            tracing::info!(node = %old, "released a registration not seen for {:?}", self.config.name_expiry);
        }
        let pending = self.config.approve;
        self.registry
            .put(&name, &record, instead.as_deref(), pending)?;
        let mut entry = NodeEntry::new(record, key, &self.config, wire::now_ms());
        lock(&self.nodes).insert(name.clone(), {
            if pending {
                entry.decision = PENDING;
            }
            entry
        });
        if pending {
            tracing::info!(node = %name, "a new node waits for approval: `wtd-proxy registrations approve {name}`");
            return Ok(Registered::Pending);
        }
        tracing::info!(node = %name, "registered a new node");
        Ok(Registered::New)
    }

    /// [`Registrations::decide`], on a blocking thread.
    fn decide(&self, name: &str, approve: bool) -> Result<bool, ProxyError> {
        let _one_at_a_time = lock(&self.registering);
        let decision = if approve { 0 } else { REJECTED };
        if !self.registry.decide(name, (!approve).then_some(REJECTED))? {
            return Ok(false);
        }
        let mut nodes = lock(&self.nodes);
        if let Some(entry) = nodes.get_mut(name) {
            entry.decision = decision;
            if !approve {
                // A rejected node makes no more requests: it follows no one, and leaves.
                let follows = std::mem::take(&mut entry.follows);
                lock(&self.directory).follow(name, &follows, &[]);
                if entry.listing.unlist() {
                    entry.mailbox.clear();
                    entry.mailbox.wake();
                    self.changed(&mut nodes, name);
                }
            }
        }
        tracing::info!(node = %name, approve, "the operator decided");
        Ok(true)
    }

    /// At the bound on names: the expired registration not seen for the longest, or the
    /// refusal, saying when the next one expires.
    fn longest_expired(
        &self,
        nodes: &HashMap<String, NodeEntry>,
        now: u64,
    ) -> Result<String, ProxyError> {
        let expired = nodes
            .iter()
            .filter(|(_, n)| n.expires_in(&self.config, now) == Some(0))
            .min_by_key(|(_, n)| n.last_seen_ms);
        if let Some((name, _)) = expired {
            return Ok(name.clone());
        }
        let next = nodes
            .values()
            .filter_map(|n| n.expires_in(&self.config, now))
            .min();
        let when = match next {
            Some(ms) => format!("the next name expires in {}", human(ms)),
            None => "every node is online".to_string(),
        };
        Err(ProxyError::TooMany(format!(
            "this proxy holds its maximum of {} node names, and a name is released only once \
             its node has been offline for {}; {when}. Try again then, or ask the proxy's \
             operator to release a name (`wtd-proxy release NAME`)",
            self.config.max_nodes,
            human(self.config.name_expiry.as_millis() as u64)
        )))
    }

    /// [`Registrations::release`], on a blocking thread.
    fn release(&self, name: &str) -> Result<bool, ProxyError> {
        let _one_at_a_time = lock(&self.registering);
        self.forget(&mut lock(&self.nodes), name);
        let removed = self.registry.remove(name)?;
        if removed {
            tracing::info!(node = %name, "released the name");
        }
        Ok(removed)
    }
}

impl Shared {
    /// Takes `name` out of memory: off the directory, its held polls woken (they find it
    /// unregistered, and its node registers again).
    fn forget(&self, nodes: &mut HashMap<String, NodeEntry>, name: &str) {
        if let Some(gone) = nodes.remove(name) {
            gone.mailbox.wake();
            let mut log = lock(&self.directory);
            log.forget(name, &gone.follows);
            for follower in log.followers(name) {
                if let Some(follower) = nodes.get(follower) {
                    follower.mailbox.wake();
                }
            }
        }
    }
}

/// A duration for people: "90 days", "5 h", "2 min", "3 s".
pub(super) fn human(ms: u64) -> String {
    let s = ms.div_ceil(1000);
    match s {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 2 * 3_600 => format!("{} h", s / 3_600),
        s if s >= 120 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

impl Registrations for EmbeddedStore {
    async fn node_key(&self, node: &str) -> Result<Option<VerifyingKey>, ProxyError> {
        // A node not approved is not registered as far as its requests go: it registers
        // again, and hears that it waits (or was rejected).
        Ok(self
            .nodes()
            .get(node)
            .filter(|n| n.decision == 0)
            .map(|n| n.key))
    }

    async fn decide(&self, name: &str, approve: bool) -> Result<bool, ProxyError> {
        let shared = self.shared.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || shared.decide(&name, approve))
            .await
            .map_err(|_| ProxyError::Storage("the decision task failed".into()))?
    }

    async fn register(&self, name: &str, record: NodeRecord) -> Result<Registered, ProxyError> {
        let shared = self.shared.clone();
        let name = name.to_string();
        // The disk write blocks, so it runs on the blocking pool; and a spawned task runs
        // to its end even if this future is dropped, so disk and memory always agree.
        tokio::task::spawn_blocking(move || shared.register(name, record))
            .await
            .map_err(|_| ProxyError::Storage("the registration task failed".into()))?
    }

    async fn release(&self, name: &str) -> Result<bool, ProxyError> {
        let shared = self.shared.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || shared.release(&name))
            .await
            .map_err(|_| ProxyError::Storage("the release task failed".into()))?
    }

    async fn registered(&self) -> Result<Vec<(String, String)>, ProxyError> {
        let mut all: Vec<(String, String)> = self
            .nodes()
            .iter()
            .map(|(n, e)| (n.clone(), e.email.clone()))
            .collect();
        all.sort();
        Ok(all)
    }
}

impl Observe for EmbeddedStore {
    async fn observe(&self) -> Observed {
        let waiting = lock(&self.shared.waiters).per_callee();
        let nodes = self
            .nodes()
            .iter()
            .map(|(name, n)| ObservedNode {
                name: name.clone(),
                email: n.email.clone(),
                node_key: n.key.to_bytes(),
                registered_at_ms: n.registered_at_ms,
                last_seen_ms: n.last_seen_ms,
                approved: n.decision == 0,
                rejected: n.decision == REJECTED,
                mailbox_messages: n.mailbox.depth(),
                apply_waiters: waiting.get(name).copied().unwrap_or(0),
            })
            .collect();
        Observed { nodes }
    }
}

/// The three checks one after another: each is a short step under the lock in memory.
impl Admission for EmbeddedStore {}

impl HopWindows for EmbeddedStore {
    async fn accept_counter(&self, node: &str, counter: u64) -> Result<bool, ProxyError> {
        Ok(entry(&mut self.nodes(), node)?.window.accept(counter))
    }
}

impl RequestRates for EmbeddedStore {
    async fn spend_request(&self, node: &str) -> Result<bool, ProxyError> {
        Ok(entry(&mut self.nodes(), node)?.limiter.check().is_ok())
    }
}

impl Presence for EmbeddedStore {
    async fn seen(&self, node: &str, route: Route, counter: u64) -> Result<(), ProxyError> {
        let mut nodes = self.nodes();
        let entry = entry(&mut nodes, node)?;
        entry.presence.seen(route, counter);
        entry.seen_now();
        Ok(())
    }

    async fn hold_poll(&self, node: &str) -> Result<(), ProxyError> {
        let mut nodes = self.nodes();
        let entry = entry(&mut nodes, node)?;
        entry
            .presence
            .hold_poll(node, self.shared.config.polls_per_node)?;
        if !entry.presence.gone() && !entry.listing.listed() {
            // Listed again as it was last, if that still fits; its next ping says if not.
            let size = entry.listing.size_if_listed();
            let others = lock(&self.shared.directory).bytes();
            if directory::fits(node, others, size, self.shared.config.directory_bytes) {
                entry.listing.relist();
                self.changed(&mut nodes, node);
            }
        }
        Ok(())
    }

    fn release_poll(&self, node: &str) {
        if let Some(entry) = self.nodes().get_mut(node) {
            entry.presence.release_poll();
            entry.seen_now();
        }
    }

    async fn leave(&self, node: &str) -> Result<(), ProxyError> {
        let mut nodes = self.nodes();
        if let Some(entry) = nodes.get_mut(node) {
            entry.presence.leave();
            let was_listed = entry.listing.unlist();
            entry.mailbox.clear();
            entry.mailbox.wake();
            if was_listed {
                self.changed(&mut nodes, node);
            }
        }
        Ok(())
    }

    async fn sweep(&self) {
        let timeout = self.shared.config.presence_timeout;
        let mut nodes = self.nodes();
        let mut offline = Vec::new();
        for (name, entry) in nodes.iter_mut() {
            if entry.listing.listed() && !entry.presence.online(timeout) {
                entry.listing.unlist();
                tracing::info!(node = %name, "node went offline");
                offline.push(name.clone());
            }
        }
        for name in offline {
            self.changed(&mut nodes, &name);
        }
        // Last-seen times go to disk now and then, off this lock and this task.
        let mut due = Vec::new();
        for (name, entry) in nodes.iter_mut() {
            if entry.last_seen_ms >= entry.saved_seen_ms + SEEN_SAVED_EVERY_MS {
                entry.saved_seen_ms = entry.last_seen_ms;
                due.push((name.clone(), entry.last_seen_ms));
            }
        }
        drop(nodes);
        if !due.is_empty() {
            let shared = self.shared.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = shared.registry.save_seen(&due) {
                    tracing::warn!("cannot save when nodes were last seen: {e}");
                }
            });
        }
    }

    async fn list(
        &self,
        node: &str,
        offers: Vec<Offer>,
        accepts: Vec<[u8; 32]>,
    ) -> Result<(), ProxyError> {
        let bound = self.shared.config.directory_bytes;
        let mut nodes = self.nodes();
        let size = directory::entry_size(node, &offers, &accepts);
        let bare = directory::entry_size(node, &[], &[]);
        let entry = entry(&mut nodes, node)?;
        entry.listing.accept(&accepts);
        let others = lock(&self.shared.directory)
            .bytes()
            .saturating_sub(entry.listing.size());
        if directory::fits(node, others, size, bound) {
            if entry.listing.show(offers, accepts, size) {
                self.changed(&mut nodes, node);
            }
            return Ok(());
        }
        if directory::fits(node, others, bare, bound)
            && entry.listing.show(Vec::new(), Vec::new(), bare)
        {
            self.changed(&mut nodes, node);
        }
        Err(ProxyError::TooLarge(format!(
            "the directory is full ({others} of its {bound} bytes are taken): this node is \
             online and can be called, but is listed by name and key only, without its \
             missions and keys; list fewer keys or missions, or ask the proxy's operator"
        )))
    }

    async fn follow(&self, node: &str, follows: Vec<String>) -> Result<(), ProxyError> {
        let mut nodes = self.nodes();
        let entry = entry(&mut nodes, node)?;
        if entry.follows != follows {
            lock(&self.shared.directory).follow(node, &entry.follows, &follows);
            entry.follows = follows;
        }
        Ok(())
    }

    async fn followed(
        &self,
        node: &str,
        known_version: u64,
    ) -> Result<(u64, DirectoryUpdate), ProxyError> {
        let nodes = self.nodes();
        let follows = &nodes
            .get(node)
            .ok_or_else(|| ProxyError::NotRegistered(node.to_string()))?
            .follows;
        Ok(self.shared.followed(&nodes, follows, known_version))
    }

    fn directory_version(&self) -> watch::Receiver<u64> {
        lock(&self.shared.directory).watch_version()
    }

    async fn directory_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<DirectoryPage, ProxyError> {
        Ok(lock(&self.shared.directory).page(after, limit))
    }

    async fn directory_since(&self, since: u64) -> Result<Option<DirectoryChanges>, ProxyError> {
        Ok(lock(&self.shared.directory).since(since))
    }

    async fn may_accept(&self, node: &str, key: &[u8; 32]) -> Result<bool, ProxyError> {
        let nodes = self.nodes();
        Ok(nodes.get(node).is_some_and(|n| n.listing.may_accept(key)))
    }
}

impl Mailboxes for EmbeddedStore {
    async fn deliver(
        &self,
        to: &str,
        from: Option<&str>,
        kind: Kind,
        bytes: Vec<u8>,
    ) -> Result<TxStatus, ProxyError> {
        let config = &self.shared.config;
        let mut nodes = self.nodes();
        let Some(entry) = nodes.get_mut(to) else {
            return Ok(TxStatus::NodeDown);
        };
        if !entry.presence.online(config.presence_timeout) {
            return Ok(TxStatus::NodeDown);
        }
        Ok(entry
            .mailbox
            .push(from, kind, bytes, MailboxBounds::of(config)))
    }

    async fn take(
        &self,
        node: &str,
        acked: Option<u64>,
        known_version: Option<u64>,
    ) -> Result<Mail, ProxyError> {
        let mut nodes = self.nodes();
        let entry = entry(&mut nodes, node)?;
        if let Some(seq) = acked {
            entry.mailbox.acknowledge(seq);
        }
        let messages = entry.mailbox.batch();
        let gone = entry.presence.gone();
        let follows = known_version.map(|known| (known, entry.follows.clone()));
        let directory = follows
            .map(|(known, follows)| self.shared.followed(&nodes, &follows, known))
            .filter(|(_, update)| !update.is_empty());
        Ok(Mail {
            messages,
            gone,
            directory,
        })
    }

    async fn watch_mailbox(&self, node: &str) -> Result<watch::Receiver<u64>, ProxyError> {
        Ok(entry(&mut self.nodes(), node)?.mailbox.watch())
    }

    async fn clear_mailbox(&self, node: &str) -> Result<(), ProxyError> {
        if let Some(entry) = self.nodes().get_mut(node) {
            entry.mailbox.clear();
        }
        Ok(())
    }

    fn epoch(&self) -> u64 {
        self.shared.epoch
    }
}

impl ApplyWaiters for EmbeddedStore {
    async fn expect_reply(
        &self,
        ack: [u8; 16],
        callee: &str,
    ) -> Result<oneshot::Receiver<Vec<u8>>, ProxyError> {
        lock(&self.shared.waiters).expect(ack, callee)
    }

    async fn answer(&self, ack: [u8; 16], from: &str, bytes: Vec<u8>) -> Option<Vec<u8>> {
        lock(&self.shared.waiters).answer(ack, from, bytes)
    }

    fn forget_reply(&self, ack: &[u8; 16]) {
        lock(&self.shared.waiters).forget(ack);
    }
}

/// What every store must do, tried on this one. Written against the traits only, so a
/// second store can run the same checks.
#[cfg(test)]
mod tests;
