//! The embedded store: one proxy keeps everything itself, in memory, and the
//! registrations also on disk ([`Registry`]), so they survive a restart. The rest (who is
//! online, mailboxes, replay windows, rates, waiters) starts empty with each proxy start,
//! which the protocol expects: a new epoch tells nodes that sequence numbers restarted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ed25519_dalek::VerifyingKey;
use tokio::sync::{oneshot, watch};
use wtd_wire::{self as wire, CounterWindow, Kind, Offer, Route, TxStatus};

use super::{
    ApplyWaiters, DirectoryView, HopWindows, Mail, Mailboxes, NodeRecord, Presence, Registered,
    Registrations, Registry, RequestRates,
};
use crate::Config;
use crate::error::ProxyError;
use crate::state::directory::{self, DirectoryFeed, Listing};
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
    /// The directory, published under the `nodes` lock, so versions follow the changes.
    directory: DirectoryFeed,
    /// One registration at a time, so the disk write can happen without holding `nodes`,
    /// the lock every request needs (an fsync on a Pi's SD card is slow).
    registering: Mutex<()>,
    /// New names per minute: registration is open, so it is rate-limited.
    new_names: Limiter,
    /// Calls waiting on `/apply`. Their own lock: they are not per node.
    waiters: Mutex<Waiters>,
}

/// One registered node.
struct NodeEntry {
    /// The key its hops must be signed with.
    key: VerifyingKey,
    /// Its owner's contact address.
    email: String,
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
            email: record.email,
            presence: NodePresence::default(),
            listing: Listing::default(),
            window: CounterWindow::default(),
            limiter: limits::per_second(config.node_rate),
            mailbox: Mailbox::new(),
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
        let mut nodes = HashMap::new();
        for (name, record) in registry.all()? {
            match wire::verifying_key(&record.node_key) {
                Ok(key) => {
                    let seen = last_seen.get(&name).copied().unwrap_or(0);
                    let seen = seen.max(record.registered_at_ms);
                    nodes.insert(name, NodeEntry::new(record, key, config, seen));
                }
                Err(e) => tracing::error!(%name, "skipping a registration with a bad key: {e}"),
            }
        }
        tracing::info!(registered = nodes.len(), data = %config.data_dir.display(), "proxy state loaded");
        Ok(EmbeddedStore {
            shared: Arc::new(Shared {
                config: config.clone(),
                registry,
                nodes: Mutex::new(nodes),
                directory: DirectoryFeed::new(),
                registering: Mutex::new(()),
                new_names: limits::per_minute(config.new_nodes_per_minute),
                waiters: Mutex::new(Waiters::new(config.max_applies)),
            }),
        })
    }

    fn nodes(&self) -> MutexGuard<'_, HashMap<String, NodeEntry>> {
        lock(&self.shared.nodes)
    }

    /// Publishes the directory as `nodes` shows it; called with the lock held.
    fn publish(&self, nodes: &HashMap<String, NodeEntry>) {
        self.shared.directory.publish(
            nodes
                .iter()
                .filter_map(|(name, n)| n.listing.entry(name, &n.key)),
        );
    }
}

impl Shared {
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
                Some(existing) if existing.key == key => return Ok(Registered::Again),
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
        if self.new_names.check().is_err() {
            return Err(ProxyError::TooMany(
                "too many new nodes are registering right now: try again in a minute".into(),
            ));
        }
        // Memory first, then disk: a request from the expired node meanwhile finds it
        // unregistered, and its node registers again after this one (and is refused, or
        // gets its name back, like any newcomer).
        if let Some(old) = &instead {
            self.forget(&mut lock(&self.nodes), old);
            tracing::info!(node = %old, "released a registration not seen for {:?}", self.config.name_expiry);
        }
        self.registry.put(&name, &record, instead.as_deref())?;
        tracing::info!(node = %name, "registered a new node");
        let entry = NodeEntry::new(record, key, &self.config, wire::now_ms());
        lock(&self.nodes).insert(name, entry);
        Ok(Registered::New)
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
            if gone.listing.listed() {
                self.directory.publish(
                    nodes
                        .iter()
                        .filter_map(|(name, n)| n.listing.entry(name, &n.key)),
                );
            }
        }
    }
}

/// A duration for people: "90 days", "5 h", "2 min", "3 s".
fn human(ms: u64) -> String {
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
        Ok(self.nodes().get(node).map(|n| n.key))
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
            let others: usize = nodes.values().map(|n| n.listing.size()).sum();
            if directory::fits(node, others, size, self.shared.config.directory_bytes) {
                if let Some(entry) = nodes.get_mut(node) {
                    entry.listing.relist();
                }
                self.publish(&nodes);
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
            entry.listing.unlist();
            entry.mailbox.clear();
            entry.mailbox.wake();
            self.publish(&nodes);
        }
        Ok(())
    }

    async fn sweep(&self) {
        let timeout = self.shared.config.presence_timeout;
        let mut nodes = self.nodes();
        let mut changed = false;
        for (name, entry) in nodes.iter_mut() {
            if entry.listing.listed() && !entry.presence.online(timeout) {
                entry.listing.unlist();
                tracing::info!(node = %name, "node went offline");
                changed = true;
            }
        }
        if changed {
            self.publish(&nodes);
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
        let others: usize = nodes
            .iter()
            .filter(|(name, _)| *name != node)
            .map(|(_, n)| n.listing.size())
            .sum();
        let size = directory::entry_size(node, &offers, &accepts);
        let bare = directory::entry_size(node, &[], &[]);
        let entry = entry(&mut nodes, node)?;
        if directory::fits(node, others, size, bound) {
            if entry.listing.show(offers, accepts, size) {
                self.publish(&nodes);
            }
            return Ok(());
        }
        if directory::fits(node, others, bare, bound)
            && entry.listing.show(Vec::new(), Vec::new(), bare)
        {
            self.publish(&nodes);
        }
        Err(ProxyError::TooLarge(format!(
            "the directory is full ({others} of its {bound} bytes are taken): this node is \
             online and can be called, but is listed by name and key only, without its \
             missions and keys; list fewer keys or missions, or ask the proxy's operator"
        )))
    }

    fn directory(&self) -> watch::Receiver<DirectoryView> {
        self.shared.directory.subscribe()
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

    async fn take(&self, node: &str, acked: Option<u64>) -> Result<Mail, ProxyError> {
        let mut nodes = self.nodes();
        let entry = entry(&mut nodes, node)?;
        if let Some(seq) = acked {
            entry.mailbox.acknowledge(seq);
        }
        Ok(Mail {
            messages: entry.mailbox.batch(),
            gone: entry.presence.gone(),
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
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::Store;

    fn record(key: u8) -> NodeRecord {
        let key = ed25519_dalek::SigningKey::from_bytes(&[key; 32]);
        NodeRecord {
            node_key: key.verifying_key().to_bytes(),
            email: "alice@example.org".into(),
            registered_at_ms: 1,
        }
    }

    fn store(dir: &tempfile::TempDir) -> EmbeddedStore {
        let mut config = Config::new(dir.path());
        config.presence_timeout = Duration::from_millis(50);
        config.max_applies = 2;
        EmbeddedStore::open(&config).expect("opens")
    }

    /// Registers `name` and makes it present, as a ping would.
    async fn online(store: &impl Store, name: &str) {
        store.register(name, record(1)).await.expect("registers");
        store.seen(name, Route::Ping, 1).await.expect("seen");
    }

    #[tokio::test]
    async fn a_name_stays_with_the_first_key_that_registers_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir);
        assert_eq!(
            store.register("alice", record(1)).await.ok(),
            Some(Registered::New)
        );
        assert_eq!(
            store.register("alice", record(1)).await.ok(),
            Some(Registered::Again)
        );
        assert!(matches!(
            store.register("alice", record(2)).await,
            Err(ProxyError::NameTaken(_))
        ));
        let key = store.node_key("alice").await.expect("reads");
        assert_eq!(key.map(|k| k.to_bytes()), Some(record(1).node_key));
        assert_eq!(store.node_key("bob").await.expect("reads"), None);
    }

    #[tokio::test]
    async fn a_name_left_offline_past_the_expiry_is_free_and_one_online_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::new(dir.path());
        config.presence_timeout = Duration::from_millis(50);
        config.name_expiry = Duration::from_millis(100);
        config.max_nodes = 2;
        let store = EmbeddedStore::open(&config).expect("opens");
        online(&store, "alice").await;
        store
            .register("squatter", record(2))
            .await
            .expect("registers");
        assert!(matches!(
            store.register("carol", record(3)).await,
            Err(ProxyError::TooMany(text)) if text.contains("next name expires in")
        ));
        assert!(matches!(
            store.register("squatter", record(3)).await,
            Err(ProxyError::NameTaken(_))
        ));
        tokio::time::sleep(Duration::from_millis(150)).await;
        store
            .seen("alice", Route::Ping, 2)
            .await
            .expect("still online");
        // The squatter's name goes to another key; at the bound, Alice's stays hers.
        assert_eq!(
            store.register("squatter", record(3)).await.ok(),
            Some(Registered::New)
        );
        let key = store.node_key("squatter").await.expect("reads");
        assert_eq!(key.map(|k| k.to_bytes()), Some(record(3).node_key));
        assert!(matches!(
            store.register("carol", record(4)).await,
            Err(ProxyError::TooMany(_))
        ));
        // The operator releases a name: it is gone, on disk too.
        assert!(store.release("squatter").await.expect("releases"));
        assert_eq!(store.node_key("squatter").await.expect("reads"), None);
        drop(store);
        let store = EmbeddedStore::open(&config).expect("reopens");
        let names: Vec<String> = store
            .registered()
            .await
            .expect("reads")
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["alice"]);
    }

    #[tokio::test]
    async fn a_counter_is_accepted_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir);
        online(&store, "alice").await;
        assert!(store.accept_counter("alice", 7).await.expect("alice"));
        assert!(!store.accept_counter("alice", 7).await.expect("alice"));
        assert!(store.accept_counter("alice", 6).await.expect("alice"));
        assert!(matches!(
            store.accept_counter("bob", 1).await,
            Err(ProxyError::NotRegistered(_))
        ));
    }

    #[tokio::test]
    async fn messages_are_numbered_and_stay_until_acknowledged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir);
        assert_eq!(
            store.deliver("alice", None, Kind::Call, vec![1]).await.ok(),
            Some(TxStatus::NodeDown),
            "not registered"
        );
        online(&store, "alice").await;
        let mut arrivals = store.watch_mailbox("alice").await.expect("watch");
        arrivals.borrow_and_update();
        for byte in [1, 2] {
            let status = store.deliver("alice", Some("bob"), Kind::Call, vec![byte]);
            assert_eq!(status.await.ok(), Some(TxStatus::Queued));
        }
        assert!(arrivals.has_changed().expect("open"), "the poll is woken");
        let seqs = |mail: Mail| mail.messages.iter().map(|m| m.seq).collect::<Vec<_>>();
        assert_eq!(seqs(store.take("alice", None).await.expect("take")), [1, 2]);
        assert_eq!(seqs(store.take("alice", Some(1)).await.expect("take")), [2]);
        store.clear_mailbox("alice").await.expect("clear");
        let mail = store.take("alice", None).await.expect("take");
        assert!(mail.messages.is_empty());
    }

    #[tokio::test]
    async fn a_goodbye_empties_the_mailbox_wakes_the_poll_and_refuses_more() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir);
        online(&store, "alice").await;
        let status = store.deliver("alice", None, Kind::Call, vec![1]).await;
        assert_eq!(status.ok(), Some(TxStatus::Queued));
        let mut arrivals = store.watch_mailbox("alice").await.expect("watch");
        arrivals.borrow_and_update();
        store.leave("alice").await.expect("leaves");
        assert!(arrivals.has_changed().expect("open"));
        let mail = store.take("alice", None).await.expect("take");
        assert!(mail.gone && mail.messages.is_empty());
        let status = store.deliver("alice", None, Kind::Call, vec![2]).await;
        assert_eq!(status.ok(), Some(TxStatus::NodeDown));
        // A ping signed before the goodbye does not bring the node back; one after does.
        store.seen("alice", Route::Bye, 5).await.expect("seen");
        store.seen("alice", Route::Ping, 4).await.expect("seen");
        assert!(store.take("alice", None).await.expect("take").gone);
        store.seen("alice", Route::Ping, 6).await.expect("seen");
        assert!(!store.take("alice", None).await.expect("take").gone);
    }

    #[tokio::test]
    async fn every_directory_change_gets_a_larger_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir);
        online(&store, "alice").await;
        let mut directory = store.directory();
        let first = directory.borrow_and_update().version;
        assert!(directory.borrow().directory.nodes.is_empty());

        store
            .list("alice", Vec::new(), vec![[3; 32]])
            .await
            .expect("lists");
        assert!(directory.has_changed().expect("open"));
        let listed = directory.borrow_and_update().clone();
        assert!(listed.version > first);
        assert_eq!(listed.directory.nodes[0].name, "alice");

        store
            .list("alice", Vec::new(), vec![[3; 32]])
            .await
            .expect("lists");
        assert!(!directory.has_changed().expect("open"), "nothing changed");

        tokio::time::sleep(Duration::from_millis(60)).await;
        store.sweep().await;
        let swept = directory.borrow_and_update().clone();
        assert!(swept.version > listed.version);
        assert!(swept.directory.nodes.is_empty(), "silent past the timeout");
    }

    #[tokio::test]
    async fn the_directory_stays_within_its_bound_and_a_node_past_it_is_listed_bare() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::new(dir.path());
        config.directory_bytes = 4096;
        let store = EmbeddedStore::open(&config).expect("opens");
        let keys = |n: usize| vec![[1u8; 32]; n];
        online(&store, "alice").await;
        store
            .list("alice", Vec::new(), keys(80))
            .await
            .expect("2.6 KB fits");
        online(&store, "bob").await;
        assert!(matches!(
            store.list("bob", Vec::new(), keys(80)).await,
            Err(ProxyError::TooLarge(text)) if text.contains("the directory is full")
        ));
        let view = store.directory().borrow().clone();
        let bob = view.directory.nodes.iter().find(|n| n.name == "bob");
        assert!(
            bob.is_some_and(|b| b.accepts.is_empty()),
            "listed by name and key"
        );
        assert!(
            view.postcard().len() <= 4096,
            "{} bytes",
            view.postcard().len()
        );
        // Alice changing her own line is measured without her old one.
        store
            .list("alice", Vec::new(), keys(85))
            .await
            .expect("still fits");
        store
            .list("bob", Vec::new(), keys(2))
            .await
            .expect("a small line fits");
    }

    #[tokio::test]
    async fn a_held_poll_keeps_a_node_online_and_is_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir);
        store.register("alice", record(1)).await.expect("registers");
        store.hold_poll("alice").await.expect("first");
        store.hold_poll("alice").await.expect("second");
        assert!(matches!(
            store.hold_poll("alice").await,
            Err(ProxyError::TooMany(_))
        ));
        tokio::time::sleep(Duration::from_millis(60)).await;
        store.sweep().await;
        assert_eq!(store.directory().borrow().directory.nodes.len(), 1);
        store.release_poll("alice");
        store.release_poll("alice");
        tokio::time::sleep(Duration::from_millis(60)).await;
        store.sweep().await;
        assert!(store.directory().borrow().directory.nodes.is_empty());
    }

    #[tokio::test]
    async fn a_reply_is_taken_only_from_the_callee_and_only_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir);
        let answer = store.expect_reply([1; 16], "alice").await.expect("waits");
        assert!(matches!(
            store.expect_reply([1; 16], "alice").await,
            Err(ProxyError::Malformed(_))
        ));
        store.expect_reply([2; 16], "bob").await.expect("waits");
        assert!(matches!(
            store.expect_reply([3; 16], "bob").await,
            Err(ProxyError::TooMany(_))
        ));
        assert_eq!(
            store.answer([1; 16], "mallory", vec![9]).await,
            Some(vec![9])
        );
        assert_eq!(store.answer([1; 16], "alice", vec![7]).await, None);
        assert_eq!(answer.await.ok(), Some(vec![7]));
        assert_eq!(store.answer([1; 16], "alice", vec![8]).await, Some(vec![8]));
        store.forget_reply(&[2; 16]);
        store
            .expect_reply([3; 16], "bob")
            .await
            .expect("a slot came back");
    }
}
