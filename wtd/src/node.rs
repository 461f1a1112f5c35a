//! The node runtime: one running WTD program.
//!
//! Starting a [`Node`] registers it with the proxy and starts three kinds of threads
//! (ureq is blocking, so they are OS threads, not tokio tasks):
//!
//! * **receive**: a long-poll on `/rx` that the proxy holds until messages arrive; each
//!   message is handed to a tokio task. The next poll acknowledges the last batch.
//! * **send** (two of them): drain the outbox and post it to `/tx` in batches, so under
//!   load one HTTP request carries many calls and replies.
//! * **ping**: once a second, presence and what the node offers; brings back the
//!   directory when it changed.
//!
//! If the proxy goes away, the threads retry with a growing pause; if it comes back
//! without knowing this node, the node registers again by itself.
//!
//! Sends and receives have no socket timeout (it costs latency, see `transport.rs`), so
//! the ping thread also watches them: a request stuck far longer than the proxy ever takes
//! (a connection that died silently) is interrupted, and its thread reconnects.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use tokio::sync::oneshot;

use crate::audit::{AuditEntry, AuditLog};
use crate::call::Peer;
use crate::error::{Error, Result};
use crate::grants::{Decision, GrantBuilder, GrantTable, Issuer};
use crate::keys::{self, KeyFile};
use crate::registry::{self, ApplyError};
use crate::transport::{RX_WAIT, Transport, TransportError};
use crate::wire::{
    self, Call, Delivered, Directory, Freshness, Kind, Offer, Outcome, Outgoing, Ping, Refusal,
    ReplayCache, Reply, RxPoll, Signed, TxBatch, TxStatus, domain,
};

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    name: String,
    proxy: String,
    home: PathBuf,
    email: String,
    missions: Option<Vec<String>>,
    call_timeout: Duration,
}

impl NodeConfig {
    /// A node called `name`, talking to the proxy at `proxy` (e.g.
    /// `http://127.0.0.1:14151`), keeping its key and grants in `home`.
    pub fn new(name: &str, proxy: &str, home: impl Into<PathBuf>) -> NodeConfig {
        NodeConfig {
            name: name.to_string(),
            proxy: proxy.trim_end_matches('/').to_string(),
            home: home.into(),
            email: String::new(),
            missions: None,
            call_timeout: Duration::from_secs(5),
        }
    }

    /// The owner's contact address, recorded by the proxy at registration.
    pub fn email(mut self, email: &str) -> Self {
        self.email = email.to_string();
        self
    }

    /// Serve only these missions (default: every mission exported in this program).
    pub fn serve(mut self, missions: &[&str]) -> Self {
        self.missions = Some(missions.iter().map(|m| m.to_string()).collect());
        self
    }

    /// Serve no mission: a node that only calls others.
    pub fn serve_nothing(self) -> Self {
        self.serve(&[])
    }

    /// Default timeout of calls made through this node's peers (5 s unless set).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }
}

/// A call waiting for its reply.
pub(crate) struct Pending {
    pub(crate) callee: String,
    pub(crate) callee_key: VerifyingKey,
    pub(crate) call_hash: [u8; 32],
    pub(crate) path: String,
    pub(crate) done: oneshot::Sender<Result<Vec<u8>>>,
}

/// What the send threads do when the proxy refuses an envelope or cannot be reached.
pub(crate) enum OnStatus {
    /// Nothing (replies).
    Ignore,
    /// Fail the pending call with this ack.
    FailPending([u8; 16]),
    /// Tell a cast how it went.
    Cast(oneshot::Sender<Result<()>>),
}

pub(crate) struct OutboxItem {
    pub(crate) envelope: Outgoing,
    pub(crate) on_status: OnStatus,
}

/// Most envelopes waiting to be sent; past it, calls fail as busy instead of piling up.
const OUTBOX_CAPACITY: usize = 8192;
/// Most envelopes per `/tx` request.
const BATCH: usize = 64;
/// Send threads.
const SENDERS: usize = 2;
/// Most acks the replay cache holds (about 40 bytes each: ~40 MiB, reached only under a
/// sustained 10,000 calls/s).
const REPLAY_CAPACITY: usize = 1 << 20;

pub(crate) struct NodeInner {
    pub(crate) name: String,
    key: SigningKey,
    home: PathBuf,
    email: String,
    pub(crate) transport: Transport,
    grants: GrantTable,
    audit_log: AuditLog,
    replay: Mutex<ReplayCache>,
    pub(crate) pending: Mutex<HashMap<[u8; 16], Pending>>,
    /// `None` only wakes a send thread (when the node stops).
    outbox: SyncSender<Option<OutboxItem>>,
    outbox_rx: Mutex<Receiver<Option<OutboxItem>>>,
    directory: Mutex<Directory>,
    directory_version: Mutex<u64>,
    offers: Vec<Offer>,
    served: HashSet<String>,
    pub(crate) stopped: AtomicBool,
    /// When this process started serving (wall clock, ms): older calls are refused.
    started_ms: u64,
    /// Held while the node runs: two nodes on one home folder would share a key and
    /// steal each other's messages.
    home_lock: Mutex<Option<std::fs::File>>,
    /// The node's threads, joined when it stops.
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// The receive thread's watch, and one per send thread.
    rx_watch: Watch,
    tx_watch: [Watch; SENDERS],
    runtime: tokio::runtime::Handle,
    pub(crate) call_timeout: Duration,
}

/// A running node. Cloning gives another handle to the same node; the node stops when
/// [`Node::stop`] is called or the last handle is dropped.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
    _guard: Arc<StopOnDrop>,
}

struct StopOnDrop(Arc<NodeInner>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let inner = self.0.clone();
        if !inner.stopped.swap(true, Ordering::SeqCst) {
            std::thread::spawn(move || inner.shut_down());
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.inner.name)
            .finish()
    }
}

impl Node {
    /// Starts a node: loads (or creates) its key, registers with the proxy, and starts
    /// serving. Must be called inside a tokio runtime.
    pub async fn start(config: NodeConfig) -> Result<Node> {
        wire::check_name("node", &config.name).map_err(|e| Error::Invalid(e.to_string()))?;
        if !(config.proxy.starts_with("http://") || config.proxy.starts_with("https://")) {
            return Err(Error::Invalid(format!(
                "the proxy URL {:?} must start with http:// (for example http://127.0.0.1:14151)",
                config.proxy
            )));
        }
        let offers = select_offers(&config)?;
        let home_lock = lock_home(&config.home)?;
        let key = keys::load_or_create_node_key(&config.home)?;
        let transport = Transport::new(&config.proxy, &config.name, key.clone());
        let (outbox, outbox_rx) = std::sync::mpsc::sync_channel(OUTBOX_CAPACITY);
        let inner = Arc::new(NodeInner {
            name: config.name.clone(),
            key,
            grants: GrantTable::open(config.home.join("grants.toml")),
            audit_log: AuditLog::new(&config.home),
            home: config.home,
            email: config.email,
            transport,
            replay: Mutex::new(ReplayCache::new(REPLAY_CAPACITY)),
            pending: Mutex::new(HashMap::new()),
            outbox,
            outbox_rx: Mutex::new(outbox_rx),
            directory: Mutex::new(Directory::default()),
            directory_version: Mutex::new(0),
            served: offers.iter().map(|o| o.mission.clone()).collect(),
            offers,
            stopped: AtomicBool::new(false),
            started_ms: wire::now_ms(),
            home_lock: Mutex::new(Some(home_lock)),
            threads: Mutex::new(Vec::new()),
            rx_watch: Watch::default(),
            tx_watch: Default::default(),
            runtime: tokio::runtime::Handle::current(),
            call_timeout: config.call_timeout,
        });

        let first = inner.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            first
                .transport
                .register(&first.email)
                .map_err(|e| e.into_error(first.transport.url()))?;
            first
                .ping_once()
                .map_err(|e| e.into_error(first.transport.url()))
        })
        .await
        .map_err(|e| Error::Invalid(format!("node start-up failed: {e}")))??;

        let missions: Vec<&str> = inner.offers.iter().map(|o| o.mission.as_str()).collect();
        tracing::info!(node = %inner.name, proxy = %inner.transport.url(), ?missions, "node started");

        spawn_thread("wtd-rx", &inner, NodeInner::receive_loop);
        for slot in 0..SENDERS {
            spawn_thread("wtd-tx", &inner, move |inner| inner.send_loop(slot));
        }
        spawn_thread("wtd-ping", &inner, NodeInner::ping_loop);

        Ok(Node {
            _guard: Arc::new(StopOnDrop(inner.clone())),
            inner,
        })
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// This node's public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.inner.key.verifying_key().to_bytes()
    }

    /// The grants of this node.
    pub fn grants(&self) -> &GrantTable {
        &self.inner.grants
    }

    /// The node's home folder.
    pub fn home(&self) -> &std::path::Path {
        &self.inner.home
    }

    /// The missions this node serves, with their functions.
    pub fn offers(&self) -> &[Offer] {
        &self.inner.offers
    }

    /// The directory as of the last ping (nodes online, their missions and keys).
    pub fn directory(&self) -> Directory {
        lock(&self.inner.directory).clone()
    }

    /// Starts minting a grant for `grantee`: `node.grant("bob").mission("demo").rate("5/s")?.mint()`.
    pub fn grant(&self, grantee: &str) -> GrantBuilder<'_> {
        let issuer = Issuer {
            node: self.inner.name.clone(),
            node_key: self.public_key(),
            proxy: self.inner.transport.url().to_string(),
        };
        self.inner.grants.grant(grantee, issuer)
    }

    /// Revokes every grant of `grantee`; the next request with its key is refused.
    pub fn revoke(&self, grantee: &str) -> Result<usize> {
        self.inner.grants.revoke(grantee)
    }

    /// A handle to call the node a key file is for.
    pub fn peer(&self, key_file: &KeyFile) -> Result<Peer> {
        Peer::new(self.inner.clone(), key_file)
    }

    /// Stops the node: tells the proxy it is leaving, fails calls still waiting.
    pub async fn stop(self) {
        let inner = self.inner.clone();
        if !inner.stopped.swap(true, Ordering::SeqCst) {
            let _ = tokio::task::spawn_blocking(move || inner.shut_down()).await;
        }
    }
}

/// Locks `home/node.lock` so that a second node cannot start on the same home folder.
fn lock_home(home: &std::path::Path) -> Result<std::fs::File> {
    crate::home::ensure_dir(home)?;
    let path = home.join("node.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::file(&path, format!("cannot open the lock file ({e})")))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::file(
            home,
            "another node is already running with this home folder: stop it, or give this one its own --home",
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::file(
            &path,
            format!("cannot lock the home folder ({e})"),
        )),
    }
}

fn select_offers(config: &NodeConfig) -> Result<Vec<Offer>> {
    let all = registry::offers();
    let Some(wanted) = &config.missions else {
        return Ok(all);
    };
    let mut offers = Vec::new();
    for mission in wanted {
        match all.iter().find(|o| &o.mission == mission) {
            Some(offer) => offers.push(offer.clone()),
            None => {
                return Err(Error::Invalid(format!(
                    "mission `{mission}` has no exported function in this program: check the name in #[wtd_export({mission})], \
                     and if the functions live in another crate, keep it linked with `use that_crate as _;`"
                )));
            }
        }
    }
    Ok(offers)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn spawn_thread(
    name: &str,
    inner: &Arc<NodeInner>,
    body: impl FnOnce(&Arc<NodeInner>) + Send + 'static,
) {
    let me = inner.clone();
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || body(&me));
    match spawned {
        Ok(handle) => lock(&inner.threads).push(handle),
        Err(e) => tracing::error!("cannot start thread {name}: {e}"),
    }
}

/// Watches one send or receive thread: when its current request started, and the HTTP
/// agent it uses, so that a request stuck far too long can be interrupted.
#[derive(Default)]
struct Watch {
    /// Milliseconds on the node's monotonic clock when the request started, plus one
    /// (0: no request in flight).
    started: AtomicU64,
    agent: Mutex<Option<ureq::Agent>>,
}

/// Milliseconds since the process first asked: a monotonic clock (wall-clock steps, as
/// when a Pi without a battery clock gets NTP time at boot, must not look like a hang).
fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

impl Watch {
    /// The thread's agent (a new one after an interruption), and marks a request started.
    fn begin(&self) -> ureq::Agent {
        let agent = lock(&self.agent)
            .get_or_insert_with(crate::transport::agent)
            .clone();
        self.started.store(monotonic_ms() + 1, Ordering::SeqCst);
        agent
    }
    fn end(&self) {
        self.started.store(0, Ordering::SeqCst);
    }
    fn stuck_for(&self) -> Option<Duration> {
        let started = self.started.load(Ordering::SeqCst);
        (started != 0).then(|| Duration::from_millis((monotonic_ms() + 1).saturating_sub(started)))
    }
    /// Interrupts the request in flight: it fails at once, and the thread's next request
    /// uses a new agent (a new connection).
    fn interrupt(&self) {
        if let Some(agent) = lock(&self.agent).take() {
            agent.shutdown();
        }
    }
}

/// A send taking this long means the proxy stopped answering.
const SEND_STUCK: Duration = Duration::from_secs(15);
/// The proxy answers a receive within `RX_WAIT`; this much longer means it stopped.
const RECEIVE_STUCK: Duration = Duration::from_secs(RX_WAIT.as_secs() + 15);

/// Sleeps for `how_long`, or until the node stops (stopping unparks its threads). A
/// parked thread costs no CPU, which matters on a Pi.
fn pause(inner: &NodeInner, how_long: Duration) {
    let until = std::time::Instant::now() + how_long;
    while !inner.is_stopped() {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::park_timeout(left);
    }
}

/// A pause that grows from 50 ms to 2 s while the proxy stays unreachable.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(Duration::from_millis(50))
    }
    fn wait(&mut self, inner: &NodeInner) {
        pause(inner, self.0);
        self.0 = (self.0 * 2).min(Duration::from_secs(2));
    }
    fn reset(&mut self) {
        self.0 = Duration::from_millis(50);
    }
}

impl NodeInner {
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Says goodbye, stops the threads and waits for them, fails waiting calls, and
    /// unlocks the home folder, so a new node may start on it right away.
    fn shut_down(&self) {
        let _ = self.transport.bye();
        self.rx_watch.interrupt();
        for watch in &self.tx_watch {
            watch.interrupt();
        }
        for _ in 0..SENDERS {
            let _ = self.outbox.try_send(None);
        }
        let threads: Vec<_> = lock(&self.threads).drain(..).collect();
        for thread in &threads {
            thread.thread().unpark();
        }
        for thread in threads {
            let _ = thread.join();
        }
        let pending: Vec<Pending> = lock(&self.pending).drain().map(|(_, p)| p).collect();
        for p in pending {
            let _ = p.done.send(Err(Error::Stopped));
        }
        lock(&self.home_lock).take();
        tracing::info!(node = %self.name, "node stopped");
    }

    pub(crate) fn pending_insert(&self, ack: [u8; 16], pending: Pending) {
        lock(&self.pending).insert(ack, pending);
    }

    pub(crate) fn pending_remove(&self, ack: &[u8; 16]) {
        lock(&self.pending).remove(ack);
    }

    /// Queues an envelope for the send threads.
    pub(crate) fn enqueue(&self, item: OutboxItem) -> Result<()> {
        if self.is_stopped() {
            return Err(Error::Stopped);
        }
        match self.outbox.try_send(Some(item)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(Error::Busy {
                what: format!("node `{}`'s outbox", self.name),
            }),
            Err(TrySendError::Disconnected(_)) => Err(Error::Stopped),
        }
    }

    fn reregister(&self) {
        match self.transport.register(&self.email) {
            Ok(()) => tracing::info!(node = %self.name, "registered again with the proxy"),
            Err(e) => tracing::warn!(node = %self.name, "cannot register again: {e:?}"),
        }
    }

    fn ping_once(&self) -> Result<(), TransportError> {
        let known_version = *lock(&self.directory_version);
        let ping = Ping {
            offers: self.offers.clone(),
            accepts: self.grants.accepted_keys(),
            known_version,
        };
        let reply = self.transport.ping(&ping)?;
        *lock(&self.directory_version) = reply.version;
        if let Some(directory) = reply.directory {
            *lock(&self.directory) = directory;
        }
        Ok(())
    }

    /// Interrupts a send or receive stuck in one request for far too long (a connection
    /// that died silently, say after a Wi-Fi drop): the thread gets an error at once and
    /// opens a new connection.
    fn interrupt_stuck_requests(&self) {
        if self.rx_watch.stuck_for().is_some_and(|d| d > RECEIVE_STUCK) {
            tracing::warn!(node = %self.name, "the proxy has not answered a receive request in {RECEIVE_STUCK:?}; reconnecting");
            self.rx_watch.interrupt();
        }
        for watch in &self.tx_watch {
            if watch.stuck_for().is_some_and(|d| d > SEND_STUCK) {
                tracing::warn!(node = %self.name, "the proxy has not answered a send in {SEND_STUCK:?}; reconnecting");
                watch.interrupt();
            }
        }
    }

    fn ping_loop(self: &Arc<Self>) {
        // Say it once when the proxy stops answering, and once when it is back.
        let mut failing = false;
        while !self.is_stopped() {
            self.interrupt_stuck_requests();
            match self.ping_once() {
                Ok(()) => {
                    if failing {
                        tracing::info!(node = %self.name, "the proxy answers again");
                    }
                    failing = false;
                }
                Err(TransportError::NotRegistered) => self.reregister(),
                Err(e) => {
                    if !failing && !self.is_stopped() {
                        let e = e.into_error(self.transport.url());
                        tracing::warn!(node = %self.name, "ping failed, retrying every second: {e}");
                    }
                    failing = true;
                }
            }
            pause(self, Duration::from_secs(1));
        }
    }

    fn receive_loop(self: &Arc<Self>) {
        let mut epoch = 0u64;
        let mut last_seq = 0u64;
        let mut backoff = Backoff::new();
        while !self.is_stopped() {
            let poll = RxPoll {
                epoch,
                ack_seq: last_seq,
                wait_ms: RX_WAIT.as_millis() as u32,
            };
            let agent = self.rx_watch.begin();
            let result = self.transport.rx(&agent, &poll);
            self.rx_watch.end();
            if self.is_stopped() {
                // Said goodbye while this request was held: run nothing more.
                return;
            }
            match result {
                Ok(batch) => {
                    backoff.reset();
                    if batch.epoch != epoch {
                        // The proxy restarted: its sequence numbers start again.
                        epoch = batch.epoch;
                        last_seq = 0;
                    }
                    for message in batch.messages {
                        if message.seq <= last_seq {
                            continue;
                        }
                        last_seq = message.seq;
                        self.dispatch(message);
                    }
                }
                Err(TransportError::NotRegistered) => {
                    self.reregister();
                    backoff.wait(self);
                }
                Err(e) => {
                    if !self.is_stopped() {
                        tracing::debug!(node = %self.name, "receive failed, retrying: {e:?}");
                    }
                    backoff.wait(self);
                }
            }
        }
    }

    fn dispatch(self: &Arc<Self>, message: Delivered) {
        match message.kind {
            Kind::Call => {
                let inner = self.clone();
                self.runtime.spawn(async move {
                    inner.serve_call(message.bytes).await;
                });
            }
            Kind::Reply => self.accept_reply(&message.bytes),
        }
    }

    fn send_loop(self: &Arc<Self>, slot: usize) {
        let mut backoff = Backoff::new();
        let watch = &self.tx_watch[slot];
        while !self.is_stopped() {
            let mut items = Vec::new();
            {
                let rx = lock(&self.outbox_rx);
                match rx.recv_timeout(Duration::from_secs(1)) {
                    Ok(Some(item)) => items.push(item),
                    Ok(None) | Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                let mut bytes = items[0].envelope.bytes.len();
                while items.len() < BATCH && bytes < wire::MAX_BODY_BYTES / 2 {
                    match rx.try_recv() {
                        Ok(Some(item)) => {
                            bytes += item.envelope.bytes.len();
                            items.push(item);
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            let batch = TxBatch {
                envelopes: items.iter().map(|i| i.envelope.clone()).collect(),
            };
            let agent = watch.begin();
            let mut result = self.transport.tx(&agent, &batch);
            if result == Err(TransportError::NotRegistered) {
                self.reregister();
                result = self.transport.tx(&agent, &batch);
            }
            watch.end();
            match result {
                Ok(reply) if reply.statuses.len() == items.len() => {
                    backoff.reset();
                    for (item, status) in items.into_iter().zip(reply.statuses) {
                        self.settle(item, status);
                    }
                }
                Ok(_) => {
                    let e = TransportError::Status(
                        502,
                        "the proxy answered a batch with the wrong number of statuses".into(),
                    );
                    self.fail_all(items, e);
                }
                Err(e) => {
                    self.fail_all(items, e);
                    backoff.wait(self);
                }
            }
        }
    }

    fn settle(&self, item: OutboxItem, status: TxStatus) {
        let to = item.envelope.to.clone();
        let error = match status {
            TxStatus::Queued => None,
            TxStatus::NodeDown => Some(Error::NodeDown { node: to }),
            TxStatus::MailboxFull => Some(Error::Busy {
                what: format!("node `{to}`'s mailbox at the proxy"),
            }),
            TxStatus::Refused => Some(Error::Proxy {
                status: 413,
                message: "the proxy refused the message (too large or malformed)".into(),
            }),
        };
        match (item.on_status, error) {
            (OnStatus::Cast(done), error) => {
                let _ = done.send(error.map_or(Ok(()), Err));
            }
            (OnStatus::FailPending(ack), Some(error)) => self.fail_pending(&ack, error),
            _ => {}
        }
    }

    fn fail_all(&self, items: Vec<OutboxItem>, e: TransportError) {
        let url = self.transport.url().to_string();
        for item in items {
            let error = e.clone().into_error(&url);
            match item.on_status {
                OnStatus::Cast(done) => {
                    let _ = done.send(Err(error));
                }
                OnStatus::FailPending(ack) => self.fail_pending(&ack, error),
                OnStatus::Ignore => {
                    tracing::warn!(node = %self.name, "a reply was lost: {error}");
                }
            }
        }
    }

    fn fail_pending(&self, ack: &[u8; 16], error: Error) {
        if let Some(p) = lock(&self.pending).remove(ack) {
            let _ = p.done.send(Err(error));
        }
    }

    /// A reply arrived: check it is signed by the node we called, for a call we made,
    /// and hand it to the waiting caller.
    fn accept_reply(&self, bytes: &[u8]) {
        let Ok(signed) = Signed::from_bytes(bytes) else {
            tracing::warn!(node = %self.name, "dropped a malformed reply");
            return;
        };
        let Ok(reply) = signed.peek::<Reply>() else {
            tracing::warn!(node = %self.name, "dropped a reply that does not decode");
            return;
        };
        let expected = lock(&self.pending)
            .get(&reply.ack)
            .map(|p| (p.callee.clone(), p.callee_key, p.call_hash));
        let Some((callee, callee_key, call_hash)) = expected else {
            tracing::debug!(node = %self.name, "dropped a reply for no pending call (late, or replayed)");
            return;
        };
        let genuine = signed.verify(domain::REPLY, &callee_key).is_ok()
            && reply.callee == callee
            && reply.caller == self.name
            && reply.call_hash == call_hash;
        if !genuine {
            tracing::warn!(node = %self.name, %callee, "dropped a reply not signed by the callee, or not for this call");
            return;
        }
        if reply.outcome == Outcome::Refused(Refusal::Replayed) {
            // This program never sends a call twice, so "seen before" means a copy of it
            // (replayed by the proxy, or sent on by someone who saw it) got there first and
            // may have run. Only the timeout can say that honestly: "outcome unknown".
            tracing::warn!(node = %self.name, %callee, "a copy of a pending call reached the callee first; waiting for the timeout");
            return;
        }
        let Some(pending) = lock(&self.pending).remove(&reply.ack) else {
            return;
        };
        let result = match reply.outcome {
            Outcome::Ok(bytes) => Ok(bytes),
            Outcome::Refused(refusal) => {
                Err(refusal_error(refusal, &pending.callee, &pending.path))
            }
        };
        let _ = pending.done.send(result);
    }

    /// Runs (or refuses) a call that arrived, then signs and sends the reply.
    async fn serve_call(self: Arc<Self>, bytes: Vec<u8>) {
        let Ok(signed) = Signed::from_bytes(&bytes) else {
            tracing::warn!(node = %self.name, "dropped a malformed call");
            return;
        };
        let Ok(call) = signed.peek::<Call>() else {
            tracing::warn!(node = %self.name, "dropped a call that does not decode");
            return;
        };
        let started = std::time::Instant::now();
        let outcome = self.decide_and_run(&signed, &call).await;
        let took = started.elapsed();
        if !call.want_reply || wire::check_name("caller", &call.caller).is_err() {
            self.audit(&call, &outcome, took);
            return;
        }
        let reply = Reply {
            callee: self.name.clone(),
            caller: call.caller.clone(),
            ack: call.ack,
            call_hash: signed.envelope_hash(),
            outcome,
        };
        let bytes = Signed::sign(domain::REPLY, &reply, &self.key).to_bytes();
        let item = OutboxItem {
            envelope: Outgoing {
                to: call.caller.clone(),
                kind: Kind::Reply,
                ack: call.ack,
                bytes,
            },
            on_status: OnStatus::Ignore,
        };
        if let Err(e) = self.enqueue(item) {
            tracing::warn!(node = %self.name, "cannot send a reply: {e}");
        }
        // After the reply is on its way: the log is not the caller's wait.
        self.audit(&call, &reply.outcome, took);
    }

    /// Logs an incoming call (tracing and the audit log).
    fn audit(&self, call: &Call, outcome: &Outcome, took: Duration) {
        let key = keys::fingerprint(&call.capability);
        let (path, caller) = (call.path(), &call.caller);
        let outcome = match outcome {
            Outcome::Ok(_) => {
                tracing::info!(node = %self.name, %path, %caller, %key, ?took, "call ran");
                "ok".to_string()
            }
            Outcome::Refused(why) => {
                tracing::info!(node = %self.name, %path, %caller, %key, ?why, "call refused");
                refusal_name(why)
            }
        };
        self.audit_log.record(&AuditEntry {
            time: crate::grants::format_time(std::time::SystemTime::now()),
            caller: truncated(caller),
            grantee: self.grants.grantee_of(&call.capability),
            key,
            path: truncated(&path),
            outcome,
            millis: took.as_millis() as u64,
            skipped: None,
        });
    }

    /// The callee's checks, cheapest and least trusting first: bounds → addressee →
    /// signature → clock → grant (mission, expiry, revocation) → replay → rate → apply.
    async fn decide_and_run(&self, signed: &Signed, call: &Call) -> Outcome {
        let refuse = Outcome::Refused;
        if let Err(e) = call.check_bounds() {
            return refuse(Refusal::Malformed(e.to_string()));
        }
        if call.callee != self.name {
            return refuse(Refusal::WrongNode);
        }
        let key = match self.grants.verifying_key(&call.capability) {
            Some(key) => Ok(key),
            None => wire::verifying_key(&call.capability),
        };
        let verified = key.and_then(|key| signed.verify(domain::CALL, &key));
        if verified.is_err() {
            return refuse(Refusal::BadSignature);
        }
        let now = wire::now_ms();
        // Wire values may be anything: saturate, never overflow.
        let too_new = call.issued_at_ms > now.saturating_add(wire::MAX_SKEW_MS);
        let too_old = call
            .issued_at_ms
            .saturating_add(wire::MAX_LIFETIME_MS + wire::MAX_SKEW_MS)
            < now;
        if too_new || too_old {
            return refuse(Refusal::ClockSkew {
                skew_ms: wire::signed_diff(now, call.issued_at_ms),
            });
        }
        // The replay cache keeps an ack while `now < expires + skew`; from then on the
        // call is refused here, so a forgotten ack can never be replayed.
        if now >= call.expires_at_ms.saturating_add(wire::MAX_SKEW_MS) {
            return refuse(Refusal::CallExpired);
        }
        // The replay cache lives in memory and starts empty: a call made before this
        // process started may have run in the previous one, so it is refused.
        if call.issued_at_ms < self.started_ms {
            return refuse(Refusal::Restarted);
        }
        match self.grants.check(&call.capability, &call.mission) {
            Decision::Allow => {}
            Decision::Denied => return refuse(Refusal::Denied),
            Decision::Revoked => return refuse(Refusal::Revoked),
            Decision::Expired => return refuse(Refusal::GrantExpired),
            Decision::WrongMission { granted } => {
                return refuse(Refusal::WrongMission { granted });
            }
        }
        // The ack is recorded before the rate is spent: a replay spends nobody's quota,
        // and a call refused as rate-limited can never run later (its refusal is the
        // truth even if the proxy delivers it again).
        let share = self.grants.replay_share(&call.capability, REPLAY_CAPACITY);
        let freshness = lock(&self.replay).check_and_insert(
            call.capability,
            share,
            call.ack,
            call.expires_at_ms,
            now,
        );
        match freshness {
            Freshness::Fresh => {}
            Freshness::Replayed => return refuse(Refusal::Replayed),
            Freshness::Full => return refuse(Refusal::Busy),
        }
        if let Err(retry_after) = self.grants.spend(&call.capability) {
            return refuse(Refusal::RateLimited {
                retry_after_ms: retry_after.as_millis().max(1) as u64,
            });
        }
        let function = registry::lookup(&call.mission, &call.module, &call.function)
            .filter(|_| self.served.contains(&call.mission));
        let Some(function) = function else {
            return refuse(Refusal::NoSuchFunction);
        };
        // A task of its own, so that even a panic while decoding cannot reach the node.
        let context = registry::CallContext {
            node: self.name.clone(),
            caller: call.caller.clone(),
            mission: call.mission.clone(),
            key: call.capability,
        };
        let apply = (function.apply)(call.encoding, call.args.clone());
        let run = tokio::spawn(registry::with_context(context, apply));
        match run.await {
            Ok(Ok(result)) if result.len() <= wire::MAX_ARGS_BYTES => Outcome::Ok(result),
            Ok(Ok(result)) => refuse(Refusal::ResultTooLarge {
                bytes: result.len() as u64,
            }),
            Ok(Err(ApplyError::BadArguments(detail))) => refuse(Refusal::BadArguments(detail)),
            Ok(Err(ApplyError::Panic(message))) => refuse(Refusal::RemotePanic(message)),
            Ok(Err(ApplyError::Unencodable(detail))) => refuse(Refusal::Malformed(format!(
                "the function ran, but its result cannot be encoded: {detail}"
            ))),
            Err(e) => refuse(Refusal::RemotePanic(e.to_string())),
        }
    }
}

/// The refusal's name for the audit log (`Denied`, `RateLimited`, …).
fn refusal_name(refusal: &Refusal) -> String {
    let debug = format!("{refusal:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Text from the wire, cut to a length that keeps log lines bounded.
fn truncated(text: &str) -> String {
    text.chars().take(200).collect()
}

/// Turns a callee's refusal of the call `path` into the error the caller sees.
pub(crate) fn refusal_error(refusal: Refusal, callee: &str, path: &str) -> Error {
    let node = callee.to_string();
    match refusal {
        Refusal::Denied => Error::Denied { node },
        Refusal::WrongMission { granted } => Error::WrongMission {
            node,
            mission: path.split('/').next().unwrap_or_default().to_string(),
            granted: granted.join(", "),
        },
        Refusal::Revoked => Error::Revoked { node },
        Refusal::GrantExpired => Error::Expired {
            node,
            what: "the grant".into(),
        },
        Refusal::CallExpired => Error::Expired {
            node,
            what: "the request".into(),
        },
        Refusal::RateLimited { retry_after_ms } => Error::RateLimited {
            node,
            retry_after: Duration::from_millis(retry_after_ms),
        },
        Refusal::Replayed => Error::Replayed { node },
        Refusal::NoSuchFunction => Error::NoSuchFunction {
            node,
            path: path.to_string(),
        },
        Refusal::BadArguments(detail) => Error::BadArguments { node, detail },
        Refusal::RemotePanic(message) => Error::RemotePanic { node, message },
        Refusal::BadSignature => Error::BadSignature {
            who: format!("node `{node}`"),
        },
        Refusal::ClockSkew { skew_ms } => Error::ClockSkew { node, skew_ms },
        Refusal::WrongNode => Error::Invalid(format!(
            "node `{node}` says the call was addressed to another node: is the key file for `{node}`?"
        )),
        Refusal::Busy => Error::Busy {
            what: format!("node `{node}`"),
        },
        Refusal::Restarted => Error::Restarted { node },
        Refusal::ResultTooLarge { bytes } => Error::BadReply {
            node,
            detail: format!(
                "the function ran, but its result is {bytes} bytes, more than the {} allowed",
                wire::MAX_ARGS_BYTES
            ),
        },
        Refusal::Malformed(detail) => {
            Error::Invalid(format!("node `{node}` refused the call: {detail}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_to_a_silent_server_is_interrupted() {
        // A "proxy" that accepts connections and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/rx/alice", silent.local_addr().expect("addr"));
        let watch = Arc::new(Watch::default());
        let (done, finished) = std::sync::mpsc::channel();
        let thread = {
            let watch = watch.clone();
            std::thread::spawn(move || {
                let agent = watch.begin();
                let result = crate::transport::send(&agent, "POST", &url, vec![1], None);
                watch.end();
                let _ = done.send(result);
            })
        };
        let _conn = silent.accept().expect("the client connects");
        std::thread::sleep(Duration::from_millis(100));
        assert!(watch.stuck_for().is_some(), "the request is in flight");
        assert!(finished.try_recv().is_err(), "nothing answers, so it waits");

        watch.interrupt();
        let result = finished
            .recv_timeout(Duration::from_secs(10))
            .expect("the interrupted request returns");
        assert!(
            matches!(result, Err(TransportError::Unreachable(_))),
            "{result:?}"
        );
        thread.join().expect("joined");
        assert_eq!(watch.stuck_for(), None);
    }
}
