//! The proxy's live state: registered nodes, who is online, their mailboxes, and calls
//! waiting on `/apply`.
//!
//! Everything here is bounded: mailboxes by messages and bytes, receive requests per node,
//! `/apply` waiters, and requests per second per node. Past a bound the answer is a clear
//! error, never more memory.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{Notify, oneshot, watch};
use wtd_wire::{
    self as wire, CounterWindow, Delivered, Directory, DirectoryEntry, Hop, Kind, Offer, Route,
    Signed, TxStatus, domain,
};

use crate::Config;
use crate::clients::Clients;
use crate::error::ProxyError;
use crate::store::{NodeRecord, Store};

/// A node's queue of messages not yet acknowledged.
#[derive(Default)]
pub(crate) struct Mailbox {
    next_seq: u64,
    queue: VecDeque<Delivered>,
    bytes: usize,
    pub(crate) notify: Arc<Notify>,
}

pub(crate) struct NodeEntry {
    key: VerifyingKey,
    email: String,
    /// Last authenticated request.
    last_seen: Option<Instant>,
    /// The node said goodbye; it is offline until it pings or sends again.
    gone: bool,
    /// Counter of the goodbye: requests the node signed before it (still on their way)
    /// do not bring it back.
    bye_counter: u64,
    /// Receive requests held right now.
    polls: usize,
    /// What the directory shows while the node is online.
    offers: Vec<Offer>,
    accepts: Vec<[u8; 32]>,
    /// Whether the directory currently lists the node.
    listed: bool,
    window: CounterWindow,
    limiter: DefaultDirectRateLimiter,
    pub(crate) mailbox: Mailbox,
}

impl NodeEntry {
    fn new(record: NodeRecord, key: VerifyingKey, config: &Config) -> NodeEntry {
        NodeEntry {
            key,
            email: record.email,
            last_seen: None,
            gone: false,
            bye_counter: 0,
            polls: 0,
            offers: Vec::new(),
            accepts: Vec::new(),
            listed: false,
            window: CounterWindow::default(),
            limiter: RateLimiter::direct(quota(config.node_rate)),
            mailbox: Mailbox {
                next_seq: 1,
                ..Mailbox::default()
            },
        }
    }

    fn online(&self, timeout: Duration) -> bool {
        !self.gone && (self.polls > 0 || self.last_seen.is_some_and(|t| t.elapsed() < timeout))
    }
}

fn quota(per_second: u32) -> Quota {
    let n = std::num::NonZeroU32::new(per_second.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    Quota::per_second(n).allow_burst(n)
}

struct ApplyWaiter {
    callee: String,
    reply: oneshot::Sender<Vec<u8>>,
}

/// Shared by every request handler.
pub struct State {
    pub(crate) config: Config,
    store: Store,
    /// Random per start; tells nodes that sequence numbers restarted.
    pub(crate) epoch: u64,
    /// When this proxy started (before its store opened): hops signed earlier are
    /// refused while they could still pass the clock check.
    started: Instant,
    nodes: Mutex<HashMap<String, NodeEntry>>,
    applies: Mutex<HashMap<[u8; 16], ApplyWaiter>>,
    /// `/apply` slots and rate per client address.
    pub(crate) clients: Arc<Clients>,
    /// The shared budget for large request bodies, in KiB.
    pub(crate) large_bodies: Arc<tokio::sync::Semaphore>,
    version: AtomicU64,
    /// Serializes registrations (see [`State::register`]).
    registering: Mutex<()>,
    /// New names per minute: registration is open, so it is rate-limited.
    new_nodes: DefaultDirectRateLimiter,
    pub(crate) closing: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    /// Opens the store and loads every registration.
    pub fn open(config: Config) -> Result<State, ProxyError> {
        let started = Instant::now();
        let store = Store::open(&config.data_dir)?;
        let config_new_nodes = config.new_nodes_per_minute;
        let mut nodes = HashMap::new();
        for (name, record) in store.all()? {
            match wire::verifying_key(&record.node_key) {
                Ok(key) => {
                    nodes.insert(name, NodeEntry::new(record, key, &config));
                }
                Err(e) => tracing::error!(%name, "skipping a registration with a bad key: {e}"),
            }
        }
        tracing::info!(registered = nodes.len(), data = %config.data_dir.display(), "proxy state loaded");
        let mut epoch = [0u8; 8];
        getrandom::fill(&mut epoch).map_err(|e| ProxyError::Storage(e.to_string()))?;
        let clients = Clients::new(config.applies_per_client, config.apply_rate_per_client);
        // At least one whole body fits, whatever the setting.
        let large_kib = (config.large_bodies.max(wire::MAX_BODY_BYTES) / 1024)
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        let large_bodies = Arc::new(tokio::sync::Semaphore::new(large_kib));
        Ok(State {
            config,
            store,
            epoch: u64::from_le_bytes(epoch).max(1),
            started,
            nodes: Mutex::new(nodes),
            applies: Mutex::new(HashMap::new()),
            clients,
            large_bodies,
            // Starts at the clock, not at 1, so a node holding a version from before a
            // restart never mistakes a new directory for the one it has.
            version: AtomicU64::new(wire::now_ms()),
            closing: watch::channel(false).0,
            registering: Mutex::new(()),
            new_nodes: RateLimiter::direct(Quota::per_minute(
                std::num::NonZeroU32::new(config_new_nodes.max(1))
                    .unwrap_or(std::num::NonZeroU32::MIN),
            )),
        })
    }

    fn bump(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// `PUT /nodes/{name}`.
    pub fn register(&self, url_name: &str, body: &[u8]) -> Result<(), ProxyError> {
        let signed = Signed::from_bytes(body).map_err(|e| ProxyError::Malformed(e.to_string()))?;
        let message: wire::Register = signed
            .peek()
            .map_err(|e| ProxyError::Malformed(e.to_string()))?;
        wire::check_name("node", &message.name)
            .map_err(|e| ProxyError::Malformed(e.to_string()))?;
        if message.name != url_name {
            return Err(ProxyError::Forbidden(
                "the registration is signed for another name than the URL's".into(),
            ));
        }
        if message.email.len() > 254 || message.email.chars().any(char::is_control) {
            return Err(ProxyError::Malformed(
                "the email must be at most 254 bytes, with no control characters".into(),
            ));
        }
        let key = wire::verifying_key(&message.node_key)
            .map_err(|_| ProxyError::Malformed("the node key is not a valid ed25519 key".into()))?;
        signed.verify(domain::REGISTER, &key).map_err(|_| {
            ProxyError::Unauthenticated("the registration's signature does not verify".into())
        })?;
        check_clock(message.issued_at_ms)?;

        // One registration at a time, so the disk write can happen without holding the
        // lock every request handler needs (an fsync on a Pi's SD card is slow).
        let _one_at_a_time = lock(&self.registering);
        let mut nodes = lock(&self.nodes);
        if let Some(existing) = nodes.get_mut(&message.name) {
            if existing.key != key {
                return Err(ProxyError::NameTaken(message.name));
            }
            // A node registers when it starts. Whatever was queued for its previous
            // process is dropped: the new process has an empty replay cache, so running
            // those calls could run a call twice. Their callers time out ("outcome
            // unknown"), which is the truth.
            let mailbox = &mut existing.mailbox;
            mailbox.queue.clear();
            mailbox.bytes = 0;
            return Ok(());
        }
        if nodes.len() >= self.config.max_nodes {
            return Err(ProxyError::TooMany(format!(
                "this proxy holds its maximum of {} nodes",
                self.config.max_nodes
            )));
        }
        drop(nodes);
        if self.new_nodes.check().is_err() {
            return Err(ProxyError::TooMany(
                "too many new nodes are registering right now: try again in a minute".into(),
            ));
        }
        let record = NodeRecord {
            node_key: message.node_key,
            email: message.email,
            registered_at_ms: wire::now_ms(),
        };
        self.store.put(&message.name, &record)?;
        tracing::info!(node = %message.name, "registered a new node");
        let entry = NodeEntry::new(record, key, &self.config);
        lock(&self.nodes).insert(message.name, entry);
        Ok(())
    }

    /// Checks a hop-signed request for `route`; returns the node and the hop's body.
    pub fn authenticate(
        &self,
        route: Route,
        url_node: Option<&str>,
        body: &[u8],
    ) -> Result<(String, Vec<u8>), ProxyError> {
        let signed = Signed::from_bytes(body).map_err(|e| ProxyError::Malformed(e.to_string()))?;
        let hop: Hop = signed
            .peek()
            .map_err(|e| ProxyError::Malformed(e.to_string()))?;
        if hop.route != route || url_node.is_some_and(|n| n != hop.node) {
            return Err(ProxyError::Forbidden(
                "the request is signed for another route or node than the URL's".into(),
            ));
        }
        let key = lock(&self.nodes)
            .get(&hop.node)
            .map(|n| n.key)
            .ok_or_else(|| ProxyError::NotRegistered(hop.node.clone()))?;
        signed.verify(domain::HOP, &key).map_err(|_| {
            ProxyError::Unauthenticated("the request's signature does not verify".into())
        })?;
        check_clock(hop.issued_at_ms)?;
        // The replay window lives in memory: a hop captured before a restart would pass it
        // once more. So while such a hop could still pass the clock check (the first
        // MAX_SKEW after the start), hops signed before the start are refused; nodes send
        // a new one by themselves. The start is measured on the monotonic clock, so a
        // wall clock set back later locks nobody out; the slack spares nodes whose clock
        // is a little behind.
        let age = self.started.elapsed();
        if age < Duration::from_millis(wire::MAX_SKEW_MS) {
            let started_ms = wire::now_ms().saturating_sub(age.as_millis() as u64);
            if hop.issued_at_ms.saturating_add(RESTART_SLACK_MS) < started_ms {
                return Err(ProxyError::Unauthenticated(format!(
                    "this request was signed {} ms before the proxy started, so it could be a \
                     replay; send a new one (if it keeps happening, this node's clock is \
                     behind: enable NTP)",
                    started_ms - hop.issued_at_ms
                )));
            }
        }
        let mut nodes = lock(&self.nodes);
        let entry = nodes
            .get_mut(&hop.node)
            .ok_or_else(|| ProxyError::NotRegistered(hop.node.clone()))?;
        if !entry.window.accept(hop.counter) {
            return Err(ProxyError::Unauthenticated(
                "this request was seen before (replayed)".into(),
            ));
        }
        if entry.limiter.check().is_err() {
            return Err(ProxyError::TooMany(format!(
                "node `{}` sends more than {} requests per second",
                hop.node, self.config.node_rate
            )));
        }
        entry.last_seen = Some(Instant::now());
        // Requests may still be on their way from a node that just left: only a ping or a
        // send signed after the goodbye brings a node back.
        if matches!(route, Route::Ping | Route::Tx) && hop.counter > entry.bye_counter {
            entry.gone = false;
        }
        if route == Route::Bye {
            entry.bye_counter = entry.bye_counter.max(hop.counter);
        }
        Ok((hop.node, hop.body))
    }

    /// `POST /ping`: record presence and offers; answer with the directory if it changed.
    pub fn ping(&self, node: &str, ping: wire::Ping) -> Result<wire::PingReply, ProxyError> {
        // Every node receives the whole directory: each node's part of it is small.
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
        {
            let mut nodes = lock(&self.nodes);
            let entry = nodes
                .get_mut(node)
                .ok_or_else(|| ProxyError::NotRegistered(node.to_string()))?;
            if entry.offers != ping.offers || entry.accepts != ping.accepts || !entry.listed {
                entry.offers = ping.offers;
                entry.accepts = ping.accepts;
                entry.listed = true;
                self.bump();
            }
        }
        let version = self.version.load(Ordering::SeqCst);
        let directory = (ping.known_version != version).then(|| self.directory());
        Ok(wire::PingReply { version, directory })
    }

    /// The nodes online now, sorted by name.
    pub fn directory(&self) -> Directory {
        let nodes = lock(&self.nodes);
        let mut entries: Vec<DirectoryEntry> = nodes
            .iter()
            .filter(|(_, n)| n.listed)
            .map(|(name, n)| DirectoryEntry {
                name: name.clone(),
                node_key: n.key.to_bytes(),
                offers: n.offers.clone(),
                accepts: n.accepts.clone(),
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Directory { nodes: entries }
    }

    /// The directory version (changes whenever the directory does).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// Takes nodes that stopped talking off the directory.
    pub fn sweep(&self) {
        self.clients.sweep();
        let timeout = self.config.presence_timeout;
        let mut nodes = lock(&self.nodes);
        for (name, entry) in nodes.iter_mut() {
            if entry.listed && !entry.online(timeout) {
                entry.listed = false;
                tracing::info!(node = %name, "node went offline");
                self.bump();
            }
        }
    }

    /// `POST /bye`: the node is leaving; release its held polls and drop its mailbox.
    pub fn bye(&self, node: &str) {
        let mut nodes = lock(&self.nodes);
        if let Some(entry) = nodes.get_mut(node) {
            entry.gone = true;
            entry.listed = false;
            entry.mailbox.queue.clear();
            entry.mailbox.bytes = 0;
            entry.mailbox.notify.notify_waiters();
            self.bump();
        }
    }

    /// Queues one envelope from `from` (or from an `/apply` call when `None`) for `to`.
    pub fn deliver(
        &self,
        from: Option<&str>,
        to: &str,
        kind: Kind,
        ack: [u8; 16],
        bytes: Vec<u8>,
    ) -> TxStatus {
        if bytes.len() > wire::MAX_ENVELOPE_BYTES || wire::check_name("node", to).is_err() {
            return TxStatus::Refused;
        }
        if kind == Kind::Reply {
            let mut applies = lock(&self.applies);
            if applies
                .get(&ack)
                .is_some_and(|w| Some(w.callee.as_str()) == from)
            {
                if let Some(waiter) = applies.remove(&ack) {
                    let _ = waiter.reply.send(bytes);
                }
                return TxStatus::Queued;
            }
        }
        let timeout = self.config.presence_timeout;
        let mut nodes = lock(&self.nodes);
        let Some(entry) = nodes.get_mut(to) else {
            return TxStatus::NodeDown;
        };
        if !entry.online(timeout) {
            return TxStatus::NodeDown;
        }
        let mailbox = &mut entry.mailbox;
        if mailbox.queue.len() >= self.config.mailbox_messages
            || mailbox.bytes + bytes.len() > self.config.mailbox_bytes
        {
            return TxStatus::MailboxFull;
        }
        mailbox.bytes += bytes.len();
        mailbox.queue.push_back(Delivered {
            seq: mailbox.next_seq,
            from: from.map(str::to_string),
            kind,
            bytes,
        });
        mailbox.next_seq += 1;
        mailbox.notify.notify_waiters();
        TxStatus::Queued
    }

    /// `POST /rx/{node}`: drop what the node acknowledged; return what is left, waiting
    /// up to `wait` for something to arrive.
    pub async fn receive(
        &self,
        node: &str,
        poll: wire::RxPoll,
    ) -> Result<Vec<Delivered>, ProxyError> {
        let wait = Duration::from_millis(u64::from(poll.wait_ms)).min(self.config.max_poll);
        let deadline = tokio::time::Instant::now() + wait;
        let _held = PollGuard::new(self, node)?;
        let mut closing = self.closing.subscribe();
        loop {
            let notify = {
                let mut nodes = lock(&self.nodes);
                let entry = nodes
                    .get_mut(node)
                    .ok_or_else(|| ProxyError::NotRegistered(node.to_string()))?;
                let mailbox = &mut entry.mailbox;
                if poll.epoch == self.epoch {
                    while mailbox.queue.front().is_some_and(|m| m.seq <= poll.ack_seq) {
                        if let Some(m) = mailbox.queue.pop_front() {
                            mailbox.bytes -= m.bytes.len();
                        }
                    }
                }
                if !mailbox.queue.is_empty() {
                    let mut size = 0;
                    let batch: Vec<Delivered> = mailbox
                        .queue
                        .iter()
                        .take(wire::MAX_BATCH_LEN)
                        .take_while(|m| {
                            size += m.bytes.len();
                            size <= wire::MAX_BODY_BYTES / 2
                        })
                        .cloned()
                        .collect();
                    return Ok(batch);
                }
                mailbox.notify.clone()
            };
            let notified = notify.notified();
            tokio::pin!(notified);
            // Registered before the lock is released, so no notification is missed.
            notified.as_mut().enable();
            {
                let nodes = lock(&self.nodes);
                let entry = nodes.get(node);
                if entry.is_some_and(|e| e.gone) {
                    return Ok(Vec::new());
                }
                if entry.is_some_and(|e| !e.mailbox.queue.is_empty()) {
                    continue;
                }
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
                _ = closing.wait_for(|c| *c) => return Ok(Vec::new()),
            }
            if lock(&self.nodes).get(node).is_some_and(|e| e.gone) {
                return Ok(Vec::new());
            }
        }
    }

    /// `PUT /apply/…`: queue one signed call and wait for its reply.
    pub async fn apply(&self, call: &wire::Call, bytes: Vec<u8>) -> Result<Vec<u8>, ProxyError> {
        let (reply, answer) = oneshot::channel();
        {
            let mut applies = lock(&self.applies);
            if applies.len() >= self.config.max_applies {
                return Err(ProxyError::TooMany(
                    "too many calls waiting on /apply".into(),
                ));
            }
            if applies.contains_key(&call.ack) {
                return Err(ProxyError::Malformed(
                    "a call with this ack is already waiting".into(),
                ));
            }
            applies.insert(
                call.ack,
                ApplyWaiter {
                    callee: call.callee.clone(),
                    reply,
                },
            );
        }
        let _waiter = ApplyGuard(self, call.ack);
        match self.deliver(None, &call.callee, Kind::Call, call.ack, bytes) {
            TxStatus::Queued => {}
            TxStatus::NodeDown => return Err(ProxyError::NodeDown(call.callee.clone())),
            TxStatus::MailboxFull => {
                return Err(ProxyError::TooMany(format!(
                    "node `{}`'s mailbox is full",
                    call.callee
                )));
            }
            TxStatus::Refused => return Err(ProxyError::TooLarge("the call is too large".into())),
        }
        let lifetime = call.expires_at_ms.saturating_sub(call.issued_at_ms);
        let wait = Duration::from_millis(lifetime.min(wire::MAX_LIFETIME_MS));
        let mut closing = self.closing.subscribe();
        tokio::select! {
            reply = answer => reply.map_err(|_| ProxyError::Timeout(call.callee.clone())),
            _ = tokio::time::sleep(wait) => Err(ProxyError::Timeout(call.callee.clone())),
            _ = closing.wait_for(|c| *c) => Err(ProxyError::ShuttingDown),
        }
    }

    /// Registered nodes with their contact, for the operator.
    pub fn registered(&self) -> Vec<(String, String)> {
        let nodes = lock(&self.nodes);
        let mut all: Vec<(String, String)> = nodes
            .iter()
            .map(|(n, e)| (n.clone(), e.email.clone()))
            .collect();
        all.sort();
        all
    }

    /// Wakes every held request so the server can stop.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}

/// Most bytes one node's offers and accepted keys may take in the directory.
pub const MAX_DIRECTORY_ENTRY_BYTES: usize = 16 * 1024;

fn check_clock(issued_at_ms: u64) -> Result<(), ProxyError> {
    let now = wire::now_ms();
    if issued_at_ms.abs_diff(now) > wire::MAX_SKEW_MS {
        let skew_s = wire::signed_diff(issued_at_ms, now) / 1000;
        let (by, way) = if skew_s >= 0 {
            (skew_s, "ahead of")
        } else {
            (-skew_s, "behind")
        };
        return Err(ProxyError::Unauthenticated(format!(
            "the node's clock is {by} s {way} the proxy's (at most {} s is allowed): set the \
             node's clock right (e.g. enable NTP)",
            wire::MAX_SKEW_MS / 1000
        )));
    }
    Ok(())
}

/// How far before the proxy's start a hop may be dated (a node's clock a little behind).
const RESTART_SLACK_MS: u64 = 2_000;

/// Counts a held receive request for its whole life, even if the client goes away.
struct PollGuard<'a> {
    state: &'a State,
    node: String,
}

impl<'a> PollGuard<'a> {
    fn new(state: &'a State, node: &str) -> Result<Self, ProxyError> {
        let mut nodes = lock(&state.nodes);
        let entry = nodes
            .get_mut(node)
            .ok_or_else(|| ProxyError::NotRegistered(node.to_string()))?;
        if entry.polls >= state.config.polls_per_node {
            return Err(ProxyError::TooMany(format!(
                "node `{node}` already holds {} receive requests",
                entry.polls
            )));
        }
        entry.polls += 1;
        if !entry.listed && !entry.gone {
            entry.listed = true;
            state.bump();
        }
        Ok(PollGuard {
            state,
            node: node.to_string(),
        })
    }
}

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        let mut nodes = lock(&self.state.nodes);
        if let Some(entry) = nodes.get_mut(&self.node) {
            entry.polls = entry.polls.saturating_sub(1);
            entry.last_seen = Some(Instant::now());
        }
    }
}

/// Removes an `/apply` waiter however its request ends.
struct ApplyGuard<'a>(&'a State, [u8; 16]);

impl Drop for ApplyGuard<'_> {
    fn drop(&mut self) {
        lock(&self.0.applies).remove(&self.1);
    }
}
