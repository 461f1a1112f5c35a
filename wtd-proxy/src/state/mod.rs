//! The proxy's state, as the routes see it: one method per thing a route asks, each a
//! few lines over the [`Store`] and the concept it belongs to.
//!
//! * `registrations`: checking a signed registration;
//! * `hops`: authenticating every other request, the clock check;
//! * `presence`: who is online, held receive requests;
//! * `directory`: what the directory lists, its versions, pages, deltas and followers, and
//!   the keys each node announced (for `gate`);
//! * `mailboxes`: queued messages, the `/rx` long poll;
//! * `waiters`: calls waiting on `/apply`;
//! * `gate`: which `/apply` calls are let in (those the callee could accept);
//! * `limits`: rate limits and shared budgets.
//!
//! Each holds the rules of its concept and the per-node record the embedded store keeps
//! ([`EmbeddedStore`]); the [`Store`] traits say what any store must guarantee.
//!
//! Everything is bounded: mailboxes by messages and bytes, receive requests per node,
//! `/apply` waiters, and requests per second per node. Past a bound the answer is a clear
//! error, never more memory.

pub(crate) mod directory;
pub(crate) mod gate;
pub(crate) mod hops;
pub(crate) mod limits;
pub(crate) mod mailboxes;
pub(crate) mod presence;
pub(crate) use presence::SweepGrace;
pub(crate) mod registrations;
pub(crate) mod waiters;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use wtd_wire::{self as wire, Kind, Route, TxStatus};

use crate::Config;
use crate::clients::Clients;
use crate::error::ProxyError;
use crate::store::{DirectoryChanges, DirectoryPage, EmbeddedStore, Mail, Registered, Store};

pub use directory::MAX_DIRECTORY_ENTRY_BYTES;

use hops::HopCheck;
use mailboxes::long_poll;
use presence::PollHold;
use waiters::WaiterHold;

/// Directory reads one client address may have in progress at once.
const DIRECTORY_READS_AT_ONCE: usize = 4;

/// Shared by every request handler. `S` is where the nodes' state is kept (see
/// [`crate::store`] for why it is a type parameter).
pub struct State<S: Store = EmbeddedStore> {
    /// Every bound.
    pub(crate) config: Config,
    /// Registrations, presence, directory, mailboxes, replay windows, rates, waiters.
    store: S,
    /// The store's epoch ([`Mailboxes::epoch`](crate::store::Mailboxes::epoch)): tells
    /// nodes that sequence numbers restarted.
    pub(crate) epoch: u64,
    /// What hops are checked against besides the store (the start, for replays).
    hops: HopCheck,
    /// `/apply` slots and rate per client address.
    pub(crate) clients: Arc<Clients>,
    /// Directory reads (`/api/directory`, the page) per client address.
    pub(crate) directory_readers: Arc<Clients>,
    /// New names per minute per client address.
    new_names: limits::NewNamesPerClient,
    /// The shared budget for large request bodies, in KiB.
    pub(crate) large_bodies: Arc<Semaphore>,
    /// Turns true when the proxy stops: held requests then answer at once.
    pub(crate) closing: watch::Sender<bool>,
    /// Traffic counters, for the dashboard.
    pub(crate) stats: crate::stats::Stats,
    /// Pages watching the event stream ([`Config::dashboard_watchers`]).
    pub(crate) watchers: Arc<Semaphore>,
}

impl State<EmbeddedStore> {
    /// Opens the store in [`Config::data_dir`] and loads every registration. Blocks (it
    /// opens a database file).
    pub fn open(config: Config) -> Result<State<EmbeddedStore>, ProxyError> {
        // Taken before the store opens: see `HopCheck::check_not_before_start`.
        let started = Instant::now();
        let store = EmbeddedStore::open(&config)?;
        State::new(config, store, started)
    }
}

impl<S: Store> State<S> {
    /// The state over `store`; `started` is taken before the store opened (see
    /// `HopCheck::check_not_before_start`).
    pub(crate) fn new(config: Config, store: S, started: Instant) -> Result<State<S>, ProxyError> {
        Ok(State {
            clients: Clients::new(config.applies_per_client, config.apply_rate_per_client),
            directory_readers: Clients::new(
                DIRECTORY_READS_AT_ONCE,
                config.directory_reads_per_client,
            ),
            large_bodies: limits::large_body_budget(&config),
            new_names: limits::NewNamesPerClient::new(&config),
            hops: HopCheck {
                started,
                node_rate: config.node_rate,
            },
            stats: crate::stats::Stats::new(config.approve),
            watchers: Arc::new(Semaphore::new(config.dashboard_watchers)),
            epoch: store.epoch(),
            config,
            store,
            closing: watch::channel(false).0,
        })
    }

    /// `PUT /nodes/{name}` from `client`'s address.
    pub async fn register(
        &self,
        url_name: &str,
        body: &[u8],
        client: IpAddr,
    ) -> Result<(), ProxyError> {
        let record = registrations::check(url_name, body, self.config.require_email)?;
        // A name new to this key spends one of the address's new names (a node starting
        // again never does). Checked before the store's step, so a race can only spend a
        // token for a registration that turns out not to be new.
        let known = self.store.node_key(url_name).await?;
        if known.is_none_or(|key| key.to_bytes() != record.node_key) {
            self.new_names.spend(client)?;
        }
        match self.store.register(url_name, record).await? {
            Registered::Again => {
                // A node registers when it starts. Whatever was queued for its previous
                // process is dropped: the new process has an empty replay cache, so
                // running those calls could run a call twice. Their callers time out
                // ("outcome unknown"), which is the truth.
                self.store.clear_mailbox(url_name).await?;
            }
            Registered::New => {}
            Registered::Pending => return Err(ProxyError::AwaitingApproval(url_name.into())),
            Registered::Rejected => return Err(ProxyError::Rejected(url_name.into())),
        }
        Ok(())
    }

    /// Checks a hop-signed request for `route`; returns the node and the hop's body.
    pub async fn authenticate(
        &self,
        route: Route,
        url_node: Option<&str>,
        body: &[u8],
    ) -> Result<(String, Vec<u8>), ProxyError> {
        self.hops
            .authenticate(&self.store, route, url_node, body)
            .await
    }

    /// `POST /ping`: record offers and followed nodes; answer with what changed for the
    /// nodes it follows since the version it has.
    pub async fn ping(&self, node: &str, ping: wire::Ping) -> Result<wire::PingReply, ProxyError> {
        directory::check_ping(&ping, self.config.accepts_per_node)?;
        self.store.follow(node, ping.follows).await?;
        self.store.list(node, ping.offers, ping.accepts).await?;
        let (version, update) = self.store.followed(node, ping.known_version).await?;
        Ok(wire::PingReply { version, update })
    }

    /// Up to `limit` listed nodes, sorted by name, after `after`.
    pub async fn directory_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<DirectoryPage, ProxyError> {
        self.store.directory_page(after, limit).await
    }

    /// What changed in the directory since `since`, if that is still known.
    pub async fn directory_since(
        &self,
        since: u64,
    ) -> Result<Option<DirectoryChanges>, ProxyError> {
        self.store.directory_since(since).await
    }

    /// The directory's version as a channel: it changes with every change.
    pub fn watch_directory(&self) -> watch::Receiver<u64> {
        self.store.directory_version()
    }

    /// Takes nodes that stopped talking off the directory (when `judge`: see
    /// [`SweepGrace`]), and forgets idle clients.
    pub async fn sweep(&self, judge: bool) {
        self.clients.sweep();
        self.directory_readers.sweep();
        self.new_names.sweep();
        if judge {
            self.store.sweep().await;
        }
    }

    /// `POST /bye`: the node is leaving; release its held polls and drop its mailbox.
    pub async fn bye(&self, node: &str) -> Result<(), ProxyError> {
        self.store.leave(node).await
    }

    /// Queues one envelope from `from` (or from an `/apply` call when `None`) for `to`,
    /// or hands a reply to the `/apply` call waiting for it.
    pub async fn deliver(
        &self,
        from: Option<&str>,
        to: &str,
        kind: Kind,
        ack: [u8; 16],
        bytes: Vec<u8>,
    ) -> Result<TxStatus, ProxyError> {
        if bytes.len() > wire::MAX_ENVELOPE_BYTES || wire::check_name("node", to).is_err() {
            return Ok(TxStatus::Refused);
        }
        let len = bytes.len();
        let bytes = match (kind, from) {
            (Kind::Reply, Some(from)) => match self.store.answer(ack, from, bytes).await {
                None => {
                    self.stats
                        .relayed(Some(from), to, kind, len, TxStatus::Queued);
                    return Ok(TxStatus::Queued);
                }
                Some(bytes) => bytes,
            },
            _ => bytes,
        };
        let status = self.store.deliver(to, from, kind, bytes).await?;
        self.stats.relayed(from, to, kind, len, status);
        Ok(status)
    }

    /// `POST /rx/{node}`: drop what the node acknowledged; return what is left, waiting
    /// up to `wait` for something to arrive.
    pub async fn receive(&self, node: &str, poll: wire::RxPoll) -> Result<Mail, ProxyError> {
        let wait = Duration::from_millis(u64::from(poll.wait_ms)).min(self.config.max_poll);
        let deadline = tokio::time::Instant::now() + wait;
        let _held = PollHold::new(&self.store, node).await?;
        // Acknowledgements count only for this proxy's sequence numbers.
        let acked = (poll.epoch == self.epoch).then_some(poll.ack_seq);
        long_poll(
            &self.store,
            node,
            acked,
            poll.known_version,
            deadline,
            self.closing.subscribe(),
        )
        .await
    }

    /// `PUT /apply/…`: queue one signed call (`signed`, whose bytes are `bytes`) and wait
    /// for its reply; refused first, at no cost to the callee, if the callee could not
    /// accept it (see `gate`).
    pub async fn apply(
        &self,
        call: &wire::Call,
        signed: &wire::Signed,
        bytes: Vec<u8>,
    ) -> Result<Vec<u8>, ProxyError> {
        gate::admit(&self.store, call, signed).await?;
        let (_waiter, answer) = WaiterHold::new(&self.store, call.ack, &call.callee).await?;
        match self
            .deliver(None, &call.callee, Kind::Call, call.ack, bytes)
            .await?
        {
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

    /// What the store reports on every registration now (the dashboard, the operator).
    pub async fn observe(&self) -> crate::store::Observed {
        self.store.observe().await
    }

    /// The operator's decision on a registration; `false` if `name` is not registered.
    pub async fn decide(&self, name: &str, approve: bool) -> Result<bool, ProxyError> {
        self.store.decide(name, approve).await
    }

    /// Removes a registration (the operator's `remove`); `false` if there was none.
    pub async fn release(&self, name: &str) -> Result<bool, ProxyError> {
        self.store.release(name).await
    }

    /// Wakes every held request so the server can stop.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}
