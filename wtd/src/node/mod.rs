//! The node runtime: one running WTD program.
//!
//! # Layout
//!
//! * [`config`]: [`NodeConfig`], and which missions a node serves.
//! * `outbox`: envelopes waiting to go out, and the two **send** threads that post
//!   them to `/tx` in batches, so under load one HTTP request carries many calls and
//!   replies.
//! * `inbox`: the **receive** thread, a long-poll on `/rx` that the proxy holds until
//!   messages arrive; calls go to the callee's pipeline (`crate::serve`), replies to
//!   the pending calls.
//! * `pending`: calls this node made that wait for their reply, and how a reply is
//!   accepted.
//! * `presence`: the **ping** thread: what the node offers and which nodes it follows,
//!   when that changes (and every 20 s); brings back what changed for those nodes.
//!   Presence itself is the held receive request.
//! * [`record`]: `node.toml`, the node's name and proxy in its home, written on start as
//!   `wtd register` writes it, so the `wtd` command can work on the home.
//! * `watchdog`: interrupts a send or receive stuck far longer than the proxy ever takes.
//!
//! ureq is blocking, so the threads are OS threads, not tokio tasks. If the proxy goes
//! away, they retry with a growing pause; if it comes back without knowing this node, the
//! node registers again by itself.

pub mod config;
mod inbox;
pub(crate) mod outbox;
pub(crate) mod pending;
mod presence;
pub mod record;
mod watchdog;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use config::NodeConfig;
pub use inbox::{BYTES_WAITING, CALLS_RUNNING, CALLS_WAITING};

use crate::audit::AuditLog;
use crate::error::{Error, Result};
use crate::grants::{GrantBuilder, GrantTable, Issuer};
use crate::keys;
use crate::serve::Callee;
use crate::transport::Transport;
use crate::wire::{Directory, Offer};
use outbox::{Outbox, OutboxItem};
use pending::PendingCalls;
use presence::Presence;
pub(crate) use presence::Watching;
use watchdog::Watchdog;

/// Send threads.
const SENDERS: usize = 2;

/// The shared state of a running node; each part lives in its own file.
pub(crate) struct NodeInner {
    /// This node's name on the proxy.
    pub(crate) name: String,
    /// The node key's public half (the private half signs hops and replies).
    pub(crate) public_key: [u8; 32],
    /// The folder holding the key, grants, keys and audit log.
    home: PathBuf,
    /// The HTTP client to the proxy; signs every request with the node key.
    pub(crate) transport: Transport,
    /// Envelopes waiting for a send thread.
    pub(crate) outbox: Outbox,
    /// Calls this node made that wait for a reply.
    pub(crate) pending: PendingCalls,
    /// Checks, runs and answers calls made to this node.
    pub(crate) callee: Callee,
    /// Calls received and not finished: at most so many run, and so many wait.
    backlog: inbox::Backlog,
    /// What the node tells the proxy every second, and the directory it hears back.
    presence: Presence,
    /// Watches the send and receive threads' requests.
    watchdog: Watchdog,
    /// Set once, when the node starts stopping.
    stopped: AtomicBool,
    /// Held while the node runs: two nodes on one home folder would share a key and
    /// steal each other's messages.
    home_lock: Mutex<Option<std::fs::File>>,
    /// The node's threads, joined when it stops.
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// The tokio runtime the node started in: incoming calls run as its tasks.
    runtime: tokio::runtime::Handle,
    /// Default timeout of calls made through this node's peers.
    pub(crate) call_timeout: Duration,
}

/// A running node. Cloning gives another handle to the same node; the node stops when
/// [`Node::stop`] is called or the last handle is dropped.
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
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
        config.check()?;
        let offers = config.offers()?;
        let home_lock = crate::home::lock(&config.home)?;
        let key = keys::load_or_create_node_key(&config.home)?;
        let served = offers.iter().map(|o| o.mission.clone()).collect();
        // No email given: the one `wtd register` recorded for this node in its home, so a
        // proxy that asks for one (the `wtd-proxy` binary) gets it at every start.
        let email = match record::NodeRecord::read(&config.home) {
            Ok(recorded) if config.email.is_empty() && recorded.name == config.name => {
                recorded.email
            }
            _ => config.email.clone(),
        };
        let record = record::NodeRecord {
            name: config.name.clone(),
            proxy: config.proxies[0].clone(),
            fallback_proxies: config.proxies[1..].to_vec(),
            email: email.clone(),
        };
        let inner = Arc::new_cyclic(|node| NodeInner {
            name: config.name.clone(),
            public_key: key.verifying_key().to_bytes(),
            transport: Transport::with_proxies(&config.proxies, &config.name, key.clone()),
            outbox: Outbox::new(),
            pending: PendingCalls::default(),
            callee: Callee::new(
                config.name.clone(),
                key,
                GrantTable::open(config.home.join("grants.toml")),
                AuditLog::new(&config.home),
                served,
                node.clone(),
            ),
            backlog: inbox::Backlog::new(),
            presence: Presence::new(email, offers),
            watchdog: Watchdog::new(),
            home: config.home,
            stopped: AtomicBool::new(false),
            home_lock: Mutex::new(Some(home_lock)),
            threads: Mutex::new(Vec::new()),
            runtime: tokio::runtime::Handle::current(),
            call_timeout: config.call_timeout,
        });

        let first = inner.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            register_with_one(&first)?;
            // Registered, so the node can serve. A first ping that fails (the proxy's
            // directory too large to read, or this node's listing refused) does not stop
            // it: the ping thread tries again every second.
            if let Err(e) = first.presence.ping_once(&first) {
                let e = e.into_error(&first.transport.url());
                tracing::warn!(node = %first.name, "the first ping failed; starting anyway, retrying every second: {e}");
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::Invalid(format!("node start-up failed: {e}")))??;
        remember(&record, &inner.home);

        let missions: Vec<&str> = inner
            .presence
            .offers
            .iter()
            .map(|o| o.mission.as_str())
            .collect();
        tracing::info!(node = %inner.name, proxy = %inner.transport.url(), ?missions, "node started");

        spawn_thread("wtd-rx", &inner, inbox::receive_loop);
        for slot in 0..SENDERS {
            spawn_thread("wtd-tx", &inner, move |inner| {
                outbox::send_loop(inner, slot)
            });
        }
        spawn_thread("wtd-ping", &inner, |inner| presence::ping_loop(inner));

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
        self.inner.public_key
    }

    /// The node's processes: start gen_servers here by name
    /// (`gen_server::start_named(node.processes(), "counter", Counter::default())`).
    ///
    /// Other nodes reach a server here only if its type is exposed with
    /// `#[wtd_behaviour(mission)]`, in a mission this node serves, and only by the name
    /// it is registered under; every other process stays local.
    pub fn processes(&self) -> &crate::process::ProcessTable {
        &self.inner.callee.processes
    }

    /// How many billets-doux (this node's Pids given to other nodes) are out. Bounded by
    /// [`billet::MAX_PER_NODE`](crate::billet::MAX_PER_NODE), and
    /// [`MAX_PER_PROCESS`](crate::billet::MAX_PER_PROCESS) per process.
    pub fn billets_out(&self) -> usize {
        self.inner.callee.billets.len()
    }

    /// The node's audit log: one line per call it received. Its readers wait for the
    /// entries still queued for its writer, so a call answered before is in what they read.
    pub fn audit_log(&self) -> &AuditLog {
        &self.inner.callee.audit_log
    }

    /// The grants of this node.
    pub fn grants(&self) -> &GrantTable {
        &self.inner.callee.grants
    }

    /// The proxy this node talks to now: the first one given, unless it stopped answering
    /// and the node moved to a fallback ([`NodeConfig::fallback_proxy`]).
    pub fn proxy(&self) -> String {
        self.inner.transport.url()
    }

    /// The node's home folder.
    pub fn home(&self) -> &std::path::Path {
        &self.inner.home
    }

    /// The missions this node serves, with their functions.
    pub fn offers(&self) -> &[Offer] {
        &self.inner.presence.offers
    }

    /// The directory entries of the nodes this node follows and that are online now:
    /// their missions and keys, as last heard from the proxy. A node follows the nodes it
    /// holds a peer for (and those it monitors), at most
    /// [`MAX_FOLLOWED`](crate::wire::MAX_FOLLOWED); the whole directory is for people
    /// (`wtd nodes`, the proxy's page), read in pages.
    pub fn directory(&self) -> Directory {
        self.inner.presence.directory()
    }

    /// Whether the proxy's directory lists `node` (it is online), as last heard. From now
    /// on this node follows `node`, so the answer stays fresh; until the proxy's first
    /// answer about it (within about a second) a node counts as listed.
    pub fn lists(&self, node: &str) -> bool {
        self.inner.lists(node)
    }

    /// Starts minting a grant for `grantee`: `node.grant("bob").mission("demo").rate("5/s")?.mint()`.
    pub fn grant(&self, grantee: &str) -> GrantBuilder<'_> {
        let proxies = self.inner.transport.proxies().urls();
        let issuer = Issuer {
            node: self.inner.name.clone(),
            node_key: self.public_key(),
            proxy: proxies[0].clone(),
            fallback_proxies: proxies[1..].to_vec(),
        };
        self.grants().grant(grantee, issuer)
    }

    /// Revokes every grant of `grantee`; the next request with its key is refused.
    pub fn revoke(&self, grantee: &str) -> Result<usize> {
        self.grants().revoke(grantee)
    }

    /// Stops the node: tells the proxy it is leaving, fails calls still waiting.
    pub async fn stop(self) {
        let inner = self.inner.clone();
        if !inner.stopped.swap(true, Ordering::SeqCst) {
            let _ = tokio::task::spawn_blocking(move || inner.shut_down()).await;
        }
    }
}

impl NodeInner {
    /// Whether the node is stopping or stopped.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Follows `node`'s directory entry from the next ping on (the nodes this node calls
    /// or monitors); `false` if it already follows as many as it may.
    pub(crate) fn follow(&self, node: &str) -> bool {
        self.presence.follow(node)
    }

    /// Whether the directory lists `node` (online), following it from now on; a node not
    /// heard about yet counts as listed until the proxy says otherwise.
    pub(crate) fn lists(&self, node: &str) -> bool {
        self.presence.lists(node)
    }

    /// Queues an envelope for the send threads.
    pub(crate) fn enqueue(&self, item: OutboxItem) -> Result<()> {
        if self.is_stopped() {
            return Err(Error::Stopped);
        }
        self.outbox.push(&self.name, item)
    }

    /// Says goodbye, stops the threads and waits for them, fails waiting calls, writes
    /// the audit entries still queued, and unlocks the home folder, so a new node may
    /// start on it right away.
    fn shut_down(&self) {
        let _ = self.transport.bye();
        self.watchdog.interrupt_all();
        self.outbox.wake_senders();
        let threads: Vec<_> = lock(&self.threads).drain(..).collect();
        for thread in &threads {
            thread.thread().unpark();
        }
        for thread in threads {
            let _ = thread.join();
        }
        self.pending.fail_all_stopped();
        self.callee.audit_log.close();
        lock(&self.home_lock).take();
        tracing::info!(node = %self.name, "node stopped");
    }
}

/// Registers at start with the first of the node's proxies that answers, primary first:
/// a node whose primary is down starts on a fallback (and says so). The error, if none
/// answers, is the primary's.
fn register_with_one(node: &NodeInner) -> Result<()> {
    let proxies = node.transport.proxies();
    let mut first_error = None;
    for _ in proxies.urls() {
        let ticket = proxies.ticket();
        match node.presence.register(node) {
            Ok(()) => return Ok(()),
            Err(e) if crate::proxies::is_not_answering(&e) => {
                proxies.not_answering(&ticket, &crate::proxies::detail(&e), true);
                first_error.get_or_insert(e.into_error(&ticket.url));
            }
            Err(e) => return Err(e.into_error(&ticket.url)),
        }
    }
    Err(first_error.unwrap_or_else(|| Error::Invalid("a node needs a proxy URL".into())))
}

/// Records the node's name and proxy in its home, as `wtd register` does, once the proxy
/// has accepted it. A home that cannot record it still serves: only the `wtd` command on
/// it is worse off, and the log says why.
fn remember(record: &record::NodeRecord, home: &std::path::Path) {
    match record.record_start(home) {
        Ok(record::Recorded::NamesAnother(other)) => tracing::warn!(
            "{}/node.toml names node `{other}`, not `{}`: left as it is, so `wtd` commands on this home act as `{other}`; \
             give this node its own --home, or run `wtd register` on it to make it `{}`'s",
            home.display(),
            record.name,
            record.name
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot record this node in its home: {e}"),
    }
}

/// Locks a mutex, even one a panicking thread left poisoned (the data it guards stays
/// consistent: no critical section here can panic half-way).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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

/// Sleeps for `how_long`, or until the node stops (stopping unparks its threads). A
/// parked thread costs no CPU, which matters on a Pi.
fn pause(node: &NodeInner, how_long: Duration) {
    let until = std::time::Instant::now() + how_long;
    while !node.is_stopped() {
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
    fn wait(&mut self, node: &NodeInner) {
        pause(node, self.0);
        self.0 = (self.0 * 2).min(Duration::from_secs(2));
    }
    fn reset(&mut self) {
        self.0 = Duration::from_millis(50);
    }
}
