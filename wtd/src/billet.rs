//! Billets-doux: how a [`Pid`] crosses the wire as a narrow, revocable right to message
//! that one process, and nothing else.
//!
//! A `Pid<M>` (or a [`RemotePid<M>`] made from one) serialized inside a call's arguments
//! (made through a [`Peer`], or a message sent to a [`RemotePid`]) or inside the result
//! of a call this node answers becomes a [`Billet`]: this node's name and key, the
//! process's number, 128 random bits, the one key it is given to (the callee's node key,
//! which the caller knows from its key file; for a result, the capability key that signed
//! the call), and an expiry if the Pid was made [`expiring_after`](Pid::expiring_after).
//! This node records every billet it issues in its `BilletTable`. On the far side the
//! billet decodes to a [`RemotePid<M>`], whose [`send`](RemotePid::send) is signed by that
//! holder key and travels through the proxy to this node's pipeline (`serve.rs`), which
//! delivers it only if the billet is one it issued, to that key, for a living process,
//! unexpired, with its rate not spent and (for a capability key) its grant still alive:
//! revoking the grant kills the billets handed out under it.
//!
//! Serializing needs to know who issues and for whom, which `serde` cannot pass along:
//! the call and reply paths set a task-local `Scope` around encoding and decoding.
//! Outside one, a `Pid` refuses to serialize, saying it only travels inside a WTD call.
//!
//! A received billet cannot be passed on to a third node: its holder key is the only one
//! the origin accepts, so serializing a [`RemotePid`] is refused with a sentence saying so.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::call::Peer;
use crate::error::{Error, Result};
use crate::node::NodeInner;
use crate::process::{ExitReason, Pid, ProcessError, ProcessId};
use crate::wire::{self, Billet, Encoding, Refusal, Signed, Target};

/// Most billets one process may have out at once.
pub const MAX_PER_PROCESS: usize = 32;
/// Most billets one node may have out at once.
pub const MAX_PER_NODE: usize = 4096;
/// Sends one billet may carry per second, in bursts of as many.
pub const SENDS_PER_SECOND: u32 = 50;

tokio::task_local! {
    static SCOPE: Scope;
}

std::thread_local! {
    /// Why the last Pid on this thread refused to serialize: postcard keeps only "Serde
    /// Serialization Error", and a beginner needs the sentence.
    static REFUSED: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A serializer error saying `why`, remembered for [`Scope::encode`].
fn refuse<E: serde::ser::Error>(why: String) -> E {
    REFUSED.with(|refused| *refused.borrow_mut() = Some(why.clone()));
    E::custom(why)
}

/// Who issues billets and who receives them, for the encoding and decoding going on.
#[derive(Clone, Default)]
pub(crate) struct Scope {
    /// Set where this node encodes a call or a reply: Pids in it become billets.
    pub(crate) issuing: Option<Issuing>,
    /// Set where this node decodes a call or a reply: billets in it become RemotePids.
    pub(crate) receiving: Option<Receiving>,
}

/// This node issuing billets to `holder`.
#[derive(Clone)]
pub(crate) struct Issuing {
    pub(crate) table: Arc<BilletTable>,
    pub(crate) origin: String,
    pub(crate) origin_key: [u8; 32],
    pub(crate) holder: [u8; 32],
    /// For a capability-key holder (a Pid in a result): the mission of the call that
    /// handed the Pid out, so revoking the grant kills the billet.
    pub(crate) mission: Option<String>,
}

/// This node receiving billets given to `holder`, from `origin`.
#[derive(Clone)]
pub(crate) struct Receiving {
    pub(crate) node: Weak<NodeInner>,
    pub(crate) holder: Arc<SigningKey>,
    /// The node that sent the message carrying the billets: the only origin accepted (a
    /// billet naming a third node would be delegation, which WTD does not do).
    pub(crate) origin: String,
    /// The origin's key when this node knows it (a result: the callee's pinned key).
    pub(crate) origin_key: Option<[u8; 32]>,
}

impl Scope {
    /// Runs `f` (a decoding) in this scope.
    pub(crate) fn sync<R>(self, f: impl FnOnce() -> R) -> R {
        SCOPE.sync_scope(self, f)
    }

    /// Encodes `value` with postcard in this scope; on failure, says why in words (a Pid
    /// that could not be given out says why, not just that serialization failed).
    pub(crate) fn encode<T: Serialize + ?Sized>(
        self,
        value: &T,
    ) -> std::result::Result<Vec<u8>, String> {
        REFUSED.with(|refused| refused.borrow_mut().take());
        SCOPE
            .sync_scope(self, || postcard::to_allocvec(value))
            .map_err(|e| {
                REFUSED
                    .with(|refused| refused.borrow_mut().take())
                    .unwrap_or(e.to_string())
            })
    }

    /// Runs `future` in this scope.
    pub(crate) async fn run<F: std::future::Future>(self, future: F) -> F::Output {
        SCOPE.scope(self, future).await
    }
}

/// A process a billet names, without its message type.
trait Recipient: Send + Sync {
    fn alive(&self) -> bool;
    fn exit_reason(&self) -> Option<ExitReason>;
    fn deliver(&self, message: &[u8]) -> std::result::Result<(), Refusal>;
}

impl<M: DeserializeOwned + Send + 'static> Recipient for Pid<M> {
    fn alive(&self) -> bool {
        self.is_alive()
    }

    fn exit_reason(&self) -> Option<ExitReason> {
        Pid::exit_reason(self)
    }

    fn deliver(&self, message: &[u8]) -> std::result::Result<(), Refusal> {
        let message = crate::nesting::from_postcard::<M>(message)
            .map_err(|e| Refusal::BadArguments(e.to_string()))?;
        self.send(message).map_err(|e| match e {
            ProcessError::NotAlive { .. } => Refusal::ProcessEnded,
            e => Refusal::ServerFailed(e.to_string()),
        })
    }
}

/// A process that may receive sends through billets, found by the pipeline.
#[derive(Clone)]
pub(crate) struct Delivery(Arc<dyn Recipient>);

impl Delivery {
    /// Decodes `message` and puts it in the process's mailbox.
    pub(crate) fn deliver(&self, message: &[u8]) -> std::result::Result<(), Refusal> {
        self.0.deliver(message)
    }
}

/// The billets this node has issued, by process.
#[derive(Default)]
pub(crate) struct BilletTable {
    state: Mutex<TableState>,
}

#[derive(Default)]
struct TableState {
    processes: HashMap<ProcessId, Issued>,
    /// Billets out, over all processes.
    count: usize,
}

/// One process's billets.
struct Issued {
    recipient: Arc<dyn Recipient>,
    billets: Vec<Entry>,
}

/// One billet, as its origin remembers it.
struct Entry {
    nonce: [u8; 16],
    holder: [u8; 32],
    mission: Option<String>,
    expires_at_ms: Option<u64>,
    rate: Bucket,
}

/// A token bucket: [`SENDS_PER_SECOND`] sends a second, in bursts of as many.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full() -> Bucket {
        Bucket {
            tokens: f64::from(SENDS_PER_SECOND),
            at: Instant::now(),
        }
    }

    fn spend(&mut self) -> std::result::Result<(), Duration> {
        let now = Instant::now();
        let rate = f64::from(SENDS_PER_SECOND);
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * rate).min(rate);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

/// Compares two nonces in time independent of where they differ.
fn same_nonce(a: &[u8; 16], b: &[u8; 16]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl BilletTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, TableState> {
        crate::node::lock(&self.state)
    }

    /// Records a billet for `pid`, given to `holder` (under `mission`, for a capability
    /// key); returns its nonce. A billet with no expiry given to the same holder under the
    /// same mission is handed out again rather than issued twice, so passing one Pid in
    /// many calls to one node costs one billet.
    fn issue<M: DeserializeOwned + Send + 'static>(
        &self,
        pid: &Pid<M>,
        holder: [u8; 32],
        mission: Option<String>,
        expires_at_ms: Option<u64>,
    ) -> std::result::Result<[u8; 16], String> {
        if !pid.is_alive() {
            return Err(format!("{pid} has ended, so it cannot be sent"));
        }
        let mut state = self.lock();
        let now = wire::now_ms();
        if state.count >= MAX_PER_NODE {
            state.free_dead_and_expired(now);
        }
        let count = state.count;
        let issued = state.processes.entry(pid.id()).or_insert_with(|| Issued {
            recipient: Arc::new(pid.clone()),
            billets: Vec::new(),
        });
        let before = issued.billets.len();
        issued
            .billets
            .retain(|b| b.expires_at_ms.is_none_or(|t| now < t));
        let freed = before - issued.billets.len();
        if expires_at_ms.is_none()
            && let Some(same) = issued
                .billets
                .iter()
                .find(|b| b.holder == holder && b.mission == mission && b.expires_at_ms.is_none())
        {
            let nonce = same.nonce;
            state.count -= freed;
            return Ok(nonce);
        }
        let refused = if issued.billets.len() >= MAX_PER_PROCESS {
            Some(format!(
                "{pid} already has {MAX_PER_PROCESS} billets out (each a Pid given to another node): send a Pid that has no expiry, which is reused, or wait for some to expire"
            ))
        } else if count - freed >= MAX_PER_NODE {
            Some(format!(
                "this node already has {MAX_PER_NODE} billets out (Pids given to other nodes)"
            ))
        } else {
            None
        };
        if let Some(refused) = refused {
            if issued.billets.is_empty() {
                state.processes.remove(&pid.id());
            }
            state.count -= freed;
            return Err(refused);
        }
        let nonce = wire::random_ack();
        issued.billets.push(Entry {
            nonce,
            holder,
            mission,
            expires_at_ms,
            rate: Bucket::full(),
        });
        state.count = state.count - freed + 1;
        Ok(nonce)
    }

    /// The pipeline's billet step for a send: the billet exists, was given to `signer`,
    /// its process lives and it has not expired. Returns the mission whose grant must
    /// still be alive (for a billet given to a capability key).
    pub(crate) fn check(
        &self,
        process: u64,
        nonce: &[u8; 16],
        signer: &[u8; 32],
        now: u64,
    ) -> std::result::Result<Option<String>, Refusal> {
        self.check_billet(process, nonce, signer, now, false)
    }

    /// The same step for a watch, which asks whether the process lives: it may have
    /// ended.
    pub(crate) fn check_watch(
        &self,
        process: u64,
        nonce: &[u8; 16],
        signer: &[u8; 32],
        now: u64,
    ) -> std::result::Result<Option<String>, Refusal> {
        self.check_billet(process, nonce, signer, now, true)
    }

    fn check_billet(
        &self,
        process: u64,
        nonce: &[u8; 16],
        signer: &[u8; 32],
        now: u64,
        watch: bool,
    ) -> std::result::Result<Option<String>, Refusal> {
        let mut state = self.lock();
        let id = ProcessId(process);
        let issued = state.processes.get(&id).ok_or(Refusal::NoSuchBillet)?;
        let entry = issued
            .billets
            .iter()
            .find(|b| same_nonce(&b.nonce, nonce))
            .ok_or(Refusal::NoSuchBillet)?;
        if &entry.holder != signer {
            return Err(Refusal::NotTheHolder);
        }
        if !issued.recipient.alive() && !watch {
            let freed = issued.billets.len();
            state.processes.remove(&id);
            state.count -= freed;
            return Err(Refusal::ProcessEnded);
        }
        if entry.expires_at_ms.is_some_and(|t| now >= t) {
            return Err(Refusal::BilletExpired);
        }
        Ok(entry.mission.clone())
    }

    /// Spends one send of the billet's rate; `Err(retry_after)` when it is used up.
    pub(crate) fn spend(
        &self,
        process: u64,
        nonce: &[u8; 16],
    ) -> std::result::Result<Delivery, Duration> {
        let mut state = self.lock();
        let issued = state
            .processes
            .get_mut(&ProcessId(process))
            .ok_or(Duration::from_secs(1))?;
        let recipient = issued.recipient.clone();
        let entry = issued
            .billets
            .iter_mut()
            .find(|b| same_nonce(&b.nonce, nonce))
            .ok_or(Duration::from_secs(1))?;
        entry.rate.spend()?;
        Ok(Delivery(recipient))
    }

    /// Answers a watch that passed the checks: `Alive` (spending one of the billet's
    /// sends, so watching is bounded as sending is), or `Ended` with the reason, freeing
    /// the process's billets. `Err(retry_after)` when the billet's rate is spent.
    pub(crate) fn watched(
        &self,
        process: u64,
        nonce: &[u8; 16],
    ) -> std::result::Result<Watched, Duration> {
        let mut state = self.lock();
        let id = ProcessId(process);
        let issued = state.processes.get_mut(&id).ok_or(Duration::from_secs(1))?;
        if let Some(reason) = issued.recipient.exit_reason() {
            let freed = issued.billets.len();
            state.processes.remove(&id);
            state.count -= freed;
            return Ok(Watched::Ended(reason));
        }
        let entry = issued
            .billets
            .iter_mut()
            .find(|b| same_nonce(&b.nonce, nonce))
            .ok_or(Duration::from_secs(1))?;
        entry.rate.spend()?;
        Ok(Watched::Alive)
    }

    /// How many billets are out.
    pub(crate) fn len(&self) -> usize {
        self.lock().count
    }
}

impl TableState {
    /// Frees the billets of processes that ended, and the expired ones.
    fn free_dead_and_expired(&mut self, now: u64) {
        self.processes.retain(|_, issued| issued.recipient.alive());
        for issued in self.processes.values_mut() {
            issued
                .billets
                .retain(|b| b.expires_at_ms.is_none_or(|t| now < t));
        }
        self.processes
            .retain(|_, issued| !issued.billets.is_empty());
        self.count = self.processes.values().map(|i| i.billets.len()).sum();
    }
}

/// The answer to a watch ([`Target::Watch`]): whether a billet's process has ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Watched {
    /// It runs.
    Alive,
    /// It ended, for this reason.
    Ended(ExitReason),
}

/// The error a `Pid` gives when it is serialized outside a WTD call.
const NOT_IN_A_CALL: &str = "a Pid can only travel inside a WTD call (its arguments, or the result of an exported function or behaviour); it is not data to store or encode by hand";

impl<M: DeserializeOwned + Send + 'static> Serialize for Pid<M> {
    /// Issues a billet for this process to the holder of the call or reply being encoded,
    /// and writes the billet.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        issue(self, serializer)
    }
}

/// Issues a billet for `pid` in the current scope, and writes it.
fn issue<M, S>(pid: &Pid<M>, serializer: S) -> std::result::Result<S::Ok, S::Error>
where
    M: DeserializeOwned + Send + 'static,
    S: Serializer,
{
    {
        let issuing = SCOPE
            .try_with(|scope| scope.issuing.clone())
            .ok()
            .flatten()
            .ok_or_else(|| refuse::<S::Error>(NOT_IN_A_CALL.into()))?;
        if pid.node() != issuing.origin {
            return Err(refuse(format!(
                "{pid} belongs to another node's process table, so node `{}` cannot give it out",
                issuing.origin
            )));
        }
        let expires_at_ms = pid
            .billet_lifetime()
            .map(|lifetime| wire::now_ms().saturating_add(lifetime.as_millis() as u64));
        let nonce = issuing
            .table
            .issue(pid, issuing.holder, issuing.mission, expires_at_ms)
            .map_err(refuse::<S::Error>)?;
        Billet {
            origin: issuing.origin,
            origin_key: issuing.origin_key,
            process: pid.id().get(),
            nonce,
            holder: issuing.holder,
            expires_at_ms,
        }
        .serialize(serializer)
    }
}

/// A process that may be on another node: what a function or a message declares where it
/// takes (or returns) a Pid, and what you [`send`](RemotePid::send) messages of type `M`
/// to.
///
/// Made from a local [`Pid`] (`RemotePid::from(pid)`) it sends locally, and crossing the
/// wire inside a call or a result it becomes a billet-doux. Arriving from another node it
/// holds that billet: each send is signed by the key the billet was given to and checked
/// by the process's node, which may refuse it (the process ended, the billet expired, the
/// grant behind it was revoked, its rate is spent); `send` waits for that answer and says
/// why. A Pid that arrived from another node cannot be passed on to a third.
pub struct RemotePid<M> {
    route: Route<M>,
}

enum Route<M> {
    /// A process of this node.
    Local(Pid<M>),
    /// A process of another node, reached through a billet it gave this one.
    Billet(Box<Held>),
}

/// A billet this node holds, and the peer its sends go through (the origin, signed by the
/// holder key).
#[derive(Clone)]
struct Held {
    billet: Billet,
    peer: Peer,
}

impl<M> From<Pid<M>> for RemotePid<M> {
    fn from(pid: Pid<M>) -> Self {
        RemotePid {
            route: Route::Local(pid),
        }
    }
}

impl<M> RemotePid<M> {
    /// The node the process runs on.
    pub fn node(&self) -> &str {
        match &self.route {
            Route::Local(pid) => pid.node(),
            Route::Billet(held) => &held.billet.origin,
        }
    }

    /// The process's number on its node.
    pub fn id(&self) -> ProcessId {
        match &self.route {
            Route::Local(pid) => pid.id(),
            Route::Billet(held) => ProcessId(held.billet.process),
        }
    }

    /// The billet it arrived as; `None` for a local process.
    pub fn billet(&self) -> Option<&Billet> {
        match &self.route {
            Route::Local(_) => None,
            Route::Billet(held) => Some(&held.billet),
        }
    }
}

impl<M: Serialize> RemotePid<M> {
    /// Signs a send of `message` without sending it: for other transports, and tests.
    /// A local process needs no signature: this is an error for one.
    pub fn sign_send(&self, message: &M) -> Result<Signed> {
        let Route::Billet(held) = &self.route else {
            return Err(Error::Invalid(format!(
                "{self} is a process of this node: send to it directly"
            )));
        };
        let bytes = held.peer.encode(message)?;
        let target = Target::Billet {
            process: held.billet.process,
            nonce: held.billet.nonce,
        };
        held.peer
            .sign_target(target, Encoding::Postcard, bytes, true)
    }

    /// Sends `message` to the process. For a process of another node, waits until that
    /// node has put it in the mailbox (or refused it, saying why), at most the node's call
    /// timeout.
    pub async fn send(&self, message: M) -> Result<()> {
        match &self.route {
            Route::Local(pid) => Ok(pid.send(message)?),
            Route::Billet(held) => {
                let signed = self.sign_send(&message)?;
                held.peer.send_signed(signed).await.map(drop)
            }
        }
    }

    /// Checks the answer to a send signed by [`sign_send`](Self::sign_send) and delivered
    /// some other way.
    pub fn open_answer(&self, send: &Signed, answer: &Signed) -> Result<()> {
        match &self.route {
            Route::Local(_) => Err(Error::Invalid(format!(
                "{self} is a process of this node: its sends have no answer to open"
            ))),
            Route::Billet(held) => held.peer.open_reply(send, answer).map(drop),
        }
    }
}

impl<M> Clone for RemotePid<M> {
    fn clone(&self) -> Self {
        let route = match &self.route {
            Route::Local(pid) => Route::Local(pid.clone()),
            Route::Billet(held) => Route::Billet(held.clone()),
        };
        RemotePid { route }
    }
}

impl<M> fmt::Display for RemotePid<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}.{}>", self.node(), self.id().get())
    }
}

impl<M> fmt::Debug for RemotePid<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<M: DeserializeOwned + Send + 'static> Serialize for RemotePid<M> {
    /// A local process: issues a billet, as a [`Pid`] does. One that arrived from another
    /// node: refused, since a billet is given to one key and only that key may use it.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match &self.route {
            Route::Local(pid) => issue(pid, serializer),
            Route::Billet(held) => Err(refuse(format!(
                "{self} came from another node and cannot be passed on: only this node may message it; to let another node message the process, ask `{}` to hand its Pid to that node",
                held.billet.origin
            ))),
        }
    }
}

impl<'de, M> Deserialize<'de> for RemotePid<M> {
    /// Reads a billet given to this node (or, in a result, to the capability key of the
    /// call), from the node that sent it.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let billet = Billet::deserialize(deserializer)?;
        let receiving = SCOPE
            .try_with(|scope| scope.receiving.clone())
            .ok()
            .flatten()
            .ok_or_else(|| D::Error::custom(NOT_IN_A_CALL))?;
        if billet.holder != receiving.holder.verifying_key().to_bytes() {
            return Err(D::Error::custom("a Pid that was given to someone else"));
        }
        if billet.origin != receiving.origin
            || receiving
                .origin_key
                .is_some_and(|key| key != billet.origin_key)
        {
            return Err(D::Error::custom(format!(
                "a Pid of node `{}` passed on by node `{}`: only a process's own node may hand out its Pid",
                billet.origin, receiving.origin
            )));
        }
        let origin_key =
            wire::verifying_key(&billet.origin_key).map_err(|e| D::Error::custom(e.to_string()))?;
        let node = receiving
            .node
            .upgrade()
            .ok_or_else(|| D::Error::custom(Error::Stopped.to_string()))?;
        let peer = Peer::for_billet(node, &billet.origin, origin_key, receiving.holder)
            .map_err(|e| D::Error::custom(e.to_string()))?;
        Ok(RemotePid {
            route: Route::Billet(Box::new(Held { billet, peer })),
        })
    }
}

mod monitor;
#[cfg(test)]
mod tests;

pub use monitor::{ASK_TIMEOUT, WATCH_EVERY};
