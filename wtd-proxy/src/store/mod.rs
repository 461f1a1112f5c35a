//! What two proxies serving the same nodes would have to share, behind traits: who is
//! registered, which hop counters were seen, how fast each node sends, who is online and
//! what the directory shows, the mailboxes, and the calls waiting on `/apply`.
//!
//! One proxy may keep all of it itself: [`EmbeddedStore`] (memory, and redb for the
//! registrations), the default. Several proxies serving the same nodes share it on Redis:
//! `RedisStore` (`wtd-proxy --store redis://HOST:PORT/DB`, the cargo feature `redis`, on
//! by default), the same traits with each step a Lua script; nothing above this module
//! changes.
//!
//! Each trait is one concept, and each method is one step that the proxy relies on being
//! atomic: what a method's doc says happens "in one step" must not interleave with any
//! other method on the same node, on this proxy or another. Errors are [`ProxyError`]s:
//! a refusal the client should see, [`ProxyError::StoreUnavailable`] while a networked
//! store cannot be reached (the client tries again), or [`ProxyError::Storage`] when the
//! store itself failed.
//!
//! # Static dispatch
//!
//! [`State`](crate::state::State) is generic over its store (`State<S: Store>`) rather
//! than holding an `Arc<dyn Store>`. The methods are `async`, and async methods in a trait
//! are only callable through `dyn` if every call boxes its future; with a generic, each
//! call is a plain future with no allocation, on the path every request takes (three store
//! calls per signed request). The store is chosen once, when the proxy starts, so a
//! second implementation costs one more copy of the handlers in the binary, not a
//! decision per request.
//!
//! Methods return `impl Future + Send` (implementations simply write `async fn`), because
//! axum runs handlers on any worker thread.

mod embedded;
#[cfg(feature = "redis")]
pub mod redis;
mod registry;
#[cfg(test)]
mod tests;

use ed25519_dalek::VerifyingKey;
use tokio::sync::{oneshot, watch};
use wtd_wire::{Delivered, DirectoryUpdate, Kind, Offer, Route, TxStatus};

use crate::error::ProxyError;

#[cfg(feature = "redis")]
pub use self::redis::RedisStore;
pub use crate::state::directory::{DirectoryChanges, DirectoryPage};
pub use embedded::EmbeddedStore;
pub use registry::{NodeRecord, Registry};

/// Everything a proxy keeps about its nodes. Implemented by every type that implements
/// all the parts.
pub trait Store:
    Registrations
    + HopWindows
    + RequestRates
    + Presence
    + Admission
    + Mailboxes
    + ApplyWaiters
    + Observe
{
}

impl<T> Store for T where
    T: Registrations
        + HopWindows
        + RequestRates
        + Presence
        + Admission
        + Mailboxes
        + ApplyWaiters
        + Observe
{
}

/// What the dashboard and the operator see: every registration with its state now.
pub trait Observe: Send + Sync + 'static {
    /// Every registered name (pending and rejected ones too), in any order. Over all
    /// proxies sharing the store; mailbox depths and waiters may be this proxy's alone.
    fn observe(&self) -> impl Future<Output = Observed> + Send;
}

/// What [`Observe::observe`] reports.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    /// Every registration.
    pub nodes: Vec<ObservedNode>,
}

/// One registration, as the store knows it now.
#[derive(Debug, Clone)]
pub struct ObservedNode {
    /// Its name.
    pub name: String,
    /// The owner's contact address: for the operator only, never the public page.
    pub email: String,
    /// Its node public key.
    pub node_key: [u8; 32],
    /// When it registered, ms since the Unix epoch.
    pub registered_at_ms: u64,
    /// When it was last online, ms since the Unix epoch.
    pub last_seen_ms: u64,
    /// Whether it may use the proxy: always, unless the proxy approves by hand
    /// ([`Config::approve`](crate::Config::approve)) and the operator has not.
    pub approved: bool,
    /// The operator rejected it: its registration is answered "rejected".
    pub rejected: bool,
    /// Messages waiting in its mailbox.
    pub mailbox_messages: usize,
    /// Calls waiting on `/apply` for it.
    pub apply_waiters: usize,
}

/// What every signed request costs the store once its signature verified: its counter
/// ([`HopWindows::accept_counter`]), its node's rate ([`RequestRates::spend_request`]),
/// and the node seen ([`Presence::seen`]), in that order, stopping at the first refusal.
///
/// The default does the three one after another. A networked store does them in one step,
/// one round trip instead of three, on the path every request takes.
pub trait Admission: HopWindows + RequestRates + Presence {
    /// Admits the hop `counter` from `node` on `route`, or says why not.
    fn admit(
        &self,
        node: &str,
        route: Route,
        counter: u64,
    ) -> impl Future<Output = Result<Admitted, ProxyError>> + Send {
        async move {
            if !self.accept_counter(node, counter).await? {
                return Ok(Admitted::Replayed);
            }
            if !self.spend_request(node).await? {
                return Ok(Admitted::OverRate);
            }
            self.seen(node, route, counter).await?;
            Ok(Admitted::Yes)
        }
    }
}

/// What [`Admission::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// Counted, spent and seen.
    Yes,
    /// The counter was seen before, or is too far behind: nothing else was done.
    Replayed,
    /// The counter is recorded, but the node's bucket is empty: not seen.
    OverRate,
}

/// Which key holds each node name.
///
/// A registration lasts while its node keeps coming back: it *expires* once the node has
/// not been online (see [`Presence`]) for [`Config::name_expiry`](crate::Config::name_expiry),
/// and an operator may [release](Registrations::release) one. A node online now never
/// expires. The store keeps each node's last-seen time across its own restarts to within
/// an hour, never later than the truth, so a restart can only make a name expire sooner
/// by that much, not keep it longer.
pub trait Registrations: Send + Sync + 'static {
    /// The key `node` registered with, or `None` if the name is not registered.
    fn node_key(
        &self,
        node: &str,
    ) -> impl Future<Output = Result<Option<VerifyingKey>, ProxyError>> + Send;

    /// Binds `name` to `record`'s key, unless another key holds it
    /// ([`ProxyError::NameTaken`]).
    ///
    /// * In one step: of two registrations of a new name with different keys, on any
    ///   proxies, one gets [`Registered::New`] and the other `NameTaken`.
    /// * Durable: `New` is answered only once the record would survive a crash, and the
    ///   registration completes even if the caller stops waiting for it. (On Redis: once
    ///   Redis has it, as durable as its append-only file makes it; docs/SCALING.md.)
    /// * Bounded: a *new* name is refused with [`ProxyError::TooMany`] past
    ///   [`Config::max_nodes`](crate::Config::max_nodes) names or
    ///   [`Config::new_nodes_per_minute`](crate::Config::new_nodes_per_minute), counted
    ///   over all proxies. Registering again with the same key is never refused.
    /// * Expiry: an expired registration counts as free. Its name goes to the next key
    ///   that registers it; at `max_nodes`, the expired registration not seen for the
    ///   longest is dropped to make room (one per new name, in the same step). With none
    ///   expired, the refusal says when the next one will.
    fn register(
        &self,
        name: &str,
        record: NodeRecord,
    ) -> impl Future<Output = Result<Registered, ProxyError>> + Send;

    /// Removes `name`'s registration, whoever holds it (the operator's release); `true`
    /// if there was one. In one step and durably: the node is off the directory, its
    /// mailbox is dropped, and its requests are refused as not registered from then on
    /// (a node still running registers again, like any newcomer).
    fn release(&self, name: &str) -> impl Future<Output = Result<bool, ProxyError>> + Send;

    /// The operator's decision on `name` (`approve`: it may use the proxy; else it is
    /// rejected, and keeps its name until released or expired). `false` if `name` is not
    /// registered. In one step and durably; a rejected node is off the directory at once.
    fn decide(
        &self,
        name: &str,
        approve: bool,
    ) -> impl Future<Output = Result<bool, ProxyError>> + Send;

    /// Every registered name with its owner's contact address, sorted by name.
    fn registered(&self) -> impl Future<Output = Result<Vec<(String, String)>, ProxyError>> + Send;
}

/// What [`Registrations::register`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// The proxy approves registrations by hand and the operator has not approved this
    /// one yet: recorded (it holds the name), but the node may not use the proxy.
    Pending,
    /// The operator rejected this registration.
    Rejected,
    /// The name was free and is now bound to the key.
    New,
    /// The name was already bound to this key: the node started again.
    Again,
}

/// The replay windows of hop counters (see [`wtd_wire::CounterWindow`]).
pub trait HopWindows: Send + Sync + 'static {
    /// Records `counter` as seen from `node`; `false` if it was seen before or is too
    /// far behind the newest. In one step: a counter is accepted once, over all proxies.
    ///
    /// The windows may be forgotten when the store restarts: the proxy refuses hops signed
    /// before its own start while they could still pass the clock check.
    fn accept_counter(
        &self,
        node: &str,
        counter: u64,
    ) -> impl Future<Output = Result<bool, ProxyError>> + Send;
}

/// The per-node request rate ([`Config::node_rate`](crate::Config::node_rate)).
pub trait RequestRates: Send + Sync + 'static {
    /// Spends one of `node`'s requests; `false` if its bucket (refilled at the rate, with
    /// bursts of as many) is empty. All proxies draw from one bucket per node.
    fn spend_request(&self, node: &str) -> impl Future<Output = Result<bool, ProxyError>> + Send;
}

/// Who is online, and the directory of the nodes online.
///
/// A node is online while it holds a receive request, or made an authenticated request
/// within [`Config::presence_timeout`](crate::Config::presence_timeout), unless it said
/// goodbye since. The directory lists a node from its first ping or receive request until
/// it leaves or [`Presence::sweep`] finds it offline. Every change of a node's line takes
/// the next version.
pub trait Presence: Send + Sync + 'static {
    /// Records an authenticated request from `node` on `route`, signed with `counter`:
    /// the node is present now. A ping or send signed after the node's last goodbye brings
    /// it back; a goodbye's counter is remembered, so requests signed before it (still on
    /// their way) do not.
    fn seen(
        &self,
        node: &str,
        route: Route,
        counter: u64,
    ) -> impl Future<Output = Result<(), ProxyError>> + Send;

    /// Counts a receive request `node` holds: at most
    /// [`Config::polls_per_node`](crate::Config::polls_per_node) at once
    /// ([`ProxyError::TooMany`]). In the same step the node is listed in the directory,
    /// unless it said goodbye.
    fn hold_poll(&self, node: &str) -> impl Future<Output = Result<(), ProxyError>> + Send;

    /// Ends a receive request counted by [`Presence::hold_poll`]; the node was present
    /// until now. Not async: it runs in a destructor, however the request ended (a
    /// networked store sends it in the background).
    fn release_poll(&self, node: &str);

    /// `node` said goodbye. In one step: it is offline and off the directory, its mailbox
    /// is emptied, and its held receive requests are woken; nothing
    /// [`Mailboxes::deliver`] queues after this step is for the leaving process.
    fn leave(&self, node: &str) -> impl Future<Output = Result<(), ProxyError>> + Send;

    /// Takes nodes that are no longer online off the directory. Any proxy may run it, as
    /// often as it likes (the proxy does every 500 ms).
    fn sweep(&self) -> impl Future<Output = ()> + Send;

    /// Lists `node` in the directory with what it offers and accepts, as a new version
    /// if its line changed (woken: the receive requests of the nodes following it).
    ///
    /// Bounded: the directory's encoded size stays within
    /// [`Config::directory_bytes`](crate::Config::directory_bytes), over all proxies. A
    /// listing that does not fit is refused with [`ProxyError::TooLarge`]; in the same
    /// step the node is listed by name and key alone (no offers, no keys) if that fits,
    /// so it can still be found. Full listings may fill three quarters of the bound; the
    /// rest is kept for name-and-key listings. The node stays online and reachable either
    /// way.
    fn list(
        &self,
        node: &str,
        offers: Vec<Offer>,
        accepts: Vec<[u8; 32]>,
    ) -> impl Future<Output = Result<(), ProxyError>> + Send;

    /// Whether `key` is among the capability keys `node` accepts, as its last accepted
    /// ping listed them (whether or not the directory shows them: a node listed by name
    /// only is still checked). `false` for a node that never pinged or is not registered.
    /// A store may answer `true` for a key that is not (it may keep a digest of each key),
    /// never `false` for one that is.
    fn may_accept(
        &self,
        node: &str,
        key: &[u8; 32],
    ) -> impl Future<Output = Result<bool, ProxyError>> + Send;

    /// The directory's version, as a channel: it changes whenever the directory does
    /// (a receiver may see only the newest of several quick changes). A change made
    /// through this store is in the channel when the method that made it returns. For
    /// readers that show the whole directory now and then (the dashboard), which then
    /// read it in pages ([`Presence::directory_page`]).
    fn directory_version(&self) -> watch::Receiver<u64>;

    /// `node` now follows `follows` (at most [`wtd_wire::MAX_FOLLOWED`], checked by the
    /// caller), instead of what it followed before.
    fn follow(
        &self,
        node: &str,
        follows: Vec<String>,
    ) -> impl Future<Output = Result<(), ProxyError>> + Send;

    /// The directory version now, and what changed for the nodes `node` follows since
    /// `known_version` (everything, for 0). Exact: a followed node whose line changed
    /// after `known_version` is in it, with its line now.
    fn followed(
        &self,
        node: &str,
        known_version: u64,
    ) -> impl Future<Output = Result<(u64, DirectoryUpdate), ProxyError>> + Send;

    /// Up to `limit` listed nodes sorted by name, after `after`.
    fn directory_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<DirectoryPage, ProxyError>> + Send;

    /// What changed in the whole directory since `since`; `None` when that is no longer
    /// known (too many changes since, or a version from another start): read the pages.
    fn directory_since(
        &self,
        since: u64,
    ) -> impl Future<Output = Result<Option<DirectoryChanges>, ProxyError>> + Send;
}

/// Each node's mailbox: messages waiting until the node acknowledges them.
pub trait Mailboxes: Send + Sync + 'static {
    /// Queues a message for `to`, from `from` (`None` for an `/apply` call). In one step:
    /// [`TxStatus::NodeDown`] unless `to` is online, [`TxStatus::MailboxFull`] past
    /// [`Config::mailbox_messages`](crate::Config::mailbox_messages) or
    /// [`Config::mailbox_bytes`](crate::Config::mailbox_bytes), and also when `from`'s
    /// own messages waiting for `to` would pass
    /// [`Config::mailbox_messages_per_sender`](crate::Config::mailbox_messages_per_sender)
    /// or [`Config::mailbox_bytes_per_sender`](crate::Config::mailbox_bytes_per_sender)
    /// (all `/apply` calls together are one sender; over all proxies, a sender's share is
    /// counted once), else the message gets the node's next sequence number (one more
    /// than the last) and the node's watchers are woken. A message leaves its sender's
    /// share when it leaves the mailbox (acknowledged, cleared, or the node left).
    fn deliver(
        &self,
        to: &str,
        from: Option<&str>,
        kind: Kind,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<TxStatus, ProxyError>> + Send;

    /// Drops `node`'s messages numbered up to `acked`, then returns the oldest of those
    /// left, in order, as many as fit one answer ([`wtd_wire::MAX_BATCH_LEN`], half of
    /// [`wtd_wire::MAX_BODY_BYTES`]). What is returned stays queued until acknowledged.
    ///
    /// With `known_version`, in the same step: what changed for the nodes `node` follows
    /// since that version ([`Presence::followed`]), if anything did.
    fn take(
        &self,
        node: &str,
        acked: Option<u64>,
        known_version: Option<u64>,
    ) -> impl Future<Output = Result<Mail, ProxyError>> + Send;

    /// A channel that changes whenever something is queued for `node` or it leaves.
    /// Subscribe before [`Mailboxes::take`], so nothing queued in between is missed.
    fn watch_mailbox(
        &self,
        node: &str,
    ) -> impl Future<Output = Result<watch::Receiver<u64>, ProxyError>> + Send;

    /// Drops everything waiting for `node`.
    fn clear_mailbox(&self, node: &str) -> impl Future<Output = Result<(), ProxyError>> + Send;

    /// The epoch of the sequence numbers: it changes whenever they may have restarted,
    /// so a node acknowledges only numbers of the epoch it was given. Shared by every
    /// proxy on one store, and kept across their restarts as long as the store keeps
    /// the mailboxes (the embedded store keeps them in memory: a new one per start).
    fn epoch(&self) -> u64;
}

/// What [`Mailboxes::take`] found.
#[derive(Debug, Default)]
pub struct Mail {
    /// Messages waiting, oldest first.
    pub messages: Vec<Delivered>,
    /// The node said goodbye (its mailbox is then empty).
    pub gone: bool,
    /// The directory version, and what changed for the nodes it follows, if anything did.
    pub directory: Option<(u64, DirectoryUpdate)>,
}

/// Calls waiting on `/apply` for their reply.
///
/// The reply goes to the HTTP request holding the call, so the waiting end is always in
/// the proxy that took the request: a networked store shares which proxy waits for which
/// ack and passes replies along, but keeps the [`oneshot`] locally.
pub trait ApplyWaiters: Send + Sync + 'static {
    /// Waits for the reply to the call acknowledged as `ack`, accepted only from
    /// `callee`. In one step: refused with [`ProxyError::TooMany`] past
    /// [`Config::max_applies`](crate::Config::max_applies) waiting calls, and with
    /// [`ProxyError::Malformed`] if a call with this ack already waits.
    fn expect_reply(
        &self,
        ack: [u8; 16],
        callee: &str,
    ) -> impl Future<Output = Result<oneshot::Receiver<Vec<u8>>, ProxyError>> + Send;

    /// Hands a reply from `from` to the call waiting for `ack`, if `from` is its callee.
    /// `None` when taken (each waiter takes one reply); otherwise the bytes come back, to
    /// be queued like any message.
    fn answer(
        &self,
        ack: [u8; 16],
        from: &str,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Option<Vec<u8>>> + Send;

    /// Stops waiting for `ack` (answered, timed out, or its client left). Not async: it
    /// runs in a destructor.
    fn forget_reply(&self, ack: &[u8; 16]);
}
