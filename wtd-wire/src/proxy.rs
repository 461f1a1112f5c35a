//! What a node and the proxy say to each other: hops, registration, presence and the
//! directory, batches of envelopes in and out.

use serde::{Deserialize, Serialize};

/// The HTTP header in which the proxy names each refusal by a machine-readable code (the
/// body says it in words, for people): `NotRegistered`, `Unauthenticated`, `TooMany`, …
/// (docs/PROTOCOL.md lists them all).
pub const ERROR_HEADER: &str = "wtd-error";

/// The [`ERROR_HEADER`] code of a hop from a node the proxy does not know: the node
/// should register again (`PUT /nodes/{name}`) and retry.
pub const NOT_REGISTERED: &str = "NotRegistered";

/// The [`ERROR_HEADER`] code of a hop signed before the proxy (re)started, refused during
/// its first 30 s (its replay window is in memory, so such a hop could be a replay). A
/// node signs the request again and retries: a new hop passes once its time is after the
/// start, which for a node whose clock lags a little is a moment later.
pub const SIGNED_BEFORE_START: &str = "SignedBeforeStart";

/// The [`ERROR_HEADER`] code of an `/apply` call the proxy refused because the callee
/// could not accept it: its capability key is not among the keys the callee announced
/// (never granted, revoked or expired), or its signature does not verify. Nothing reached
/// the callee, so the call did not run.
pub const NOT_ACCEPTED: &str = "NotAccepted";

/// The proxy routes a node request can be for; signed into every [`Hop`] so a request
/// signed for one route is refused on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Route {
    /// `POST /ping`
    Ping,
    /// `POST /tx/{node}`
    Tx,
    /// `POST /rx/{node}`
    Rx,
    /// `POST /bye`
    Bye,
}

/// A node's request to the proxy, signed by its node key ([`domain::HOP`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// The node sending the request.
    pub node: String,
    /// The route this request is for.
    pub route: Route,
    /// Strictly new per request (a sliding window at the proxy refuses repeats).
    pub counter: u64,
    /// Node's clock, milliseconds since the Unix epoch.
    pub issued_at_ms: u64,
    /// The route's own message ([`Ping`], [`TxBatch`], [`RxPoll`]; empty for bye).
    pub body: Vec<u8>,
}

/// `PUT /nodes/{name}`: a node asks to be known by a name, proving it holds the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    /// The node's name.
    pub name: String,
    /// Contact address of the node's owner (shown to the proxy operator only).
    pub email: String,
    /// The node's public key.
    pub node_key: [u8; 32],
    /// Node's clock, milliseconds since the Unix epoch.
    pub issued_at_ms: u64,
}

/// A mission a node serves: its functions as `module/function`, and (since wire
/// version 3) its behaviours by wire name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The mission.
    pub mission: String,
    /// Its functions, each `module/function`.
    pub functions: Vec<String>,
    /// Its behaviours, each by its wire name (`counting::Counter`). Instances come and
    /// go; the directory lists only what kinds of server a node exposes.
    pub behaviours: Vec<String>,
}

/// `POST /ping` body: what the node offers, and which nodes' entries it follows.
///
/// Presence itself comes from the node's held receive request (`POST /rx`); a node pings
/// when what it offers or follows changes, and otherwise every [`PING_EVERY_MS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Missions this node serves.
    pub offers: Vec<Offer>,
    /// Capability public keys this node accepts (unrevoked, unexpired grants).
    pub accepts: Vec<[u8; 32]>,
    /// The directory version the node has for the nodes it follows; 0 for none (then
    /// every followed node's entry comes back).
    pub known_version: u64,
    /// The nodes whose entries this node wants to hear about (the nodes it calls, those
    /// it monitors), at most [`MAX_FOLLOWED`]: the proxy sends changes of these only.
    pub follows: Vec<String>,
}

/// Most nodes one node may follow ([`Ping::follows`]): their entries (at most 16 KiB
/// each) then always fit one answer beside a batch of messages.
pub const MAX_FOLLOWED: usize = 32;

/// How often a node that changes nothing pings anyway, in ms (its offers and followed
/// nodes stay fresh at the proxy; presence comes from its receive requests).
pub const PING_EVERY_MS: u64 = 20_000;

/// `POST /ping` answer: the followed nodes' entries that changed since the version the
/// node had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingReply {
    /// The proxy's current directory version.
    pub version: u64,
    /// What changed for the nodes this node follows.
    pub update: DirectoryUpdate,
}

/// What changed, among the nodes one node follows, between the version it had and
/// `PingReply::version` (or the version in an [`RxBatch`]). Exact: every followed node
/// that changed in between is in one of the two lists, with its state now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryUpdate {
    /// Followed nodes listed now, with their entry as it is now.
    pub listed: Vec<DirectoryEntry>,
    /// Followed nodes not listed now (offline, or unknown to the proxy).
    pub unlisted: Vec<String>,
}

impl DirectoryUpdate {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty() && self.unlisted.is_empty()
    }
}

/// Who is online and what they offer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// Online nodes, sorted by name.
    pub nodes: Vec<DirectoryEntry>,
}

/// One online node in the [`Directory`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// Its name.
    pub name: String,
    /// Its node public key.
    pub node_key: [u8; 32],
    /// Missions it serves.
    pub offers: Vec<Offer>,
    /// Capability keys it accepts.
    pub accepts: Vec<[u8; 32]>,
}

/// What an envelope holds, so the proxy can route replies to `/apply` waiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A [`Signed`] [`Call`].
    Call,
    /// A [`Signed`] [`Reply`].
    Reply,
}

/// One envelope a node hands the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The node it is for.
    pub to: String,
    /// What it holds.
    pub kind: Kind,
    /// The ack of the call or reply: a routing hint, never trusted by nodes.
    pub ack: [u8; 16],
    /// postcard bytes of the [`Signed`] message.
    pub bytes: Vec<u8>,
}

/// `POST /tx/{node}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxBatch {
    /// At most [`MAX_BATCH_LEN`] envelopes.
    pub envelopes: Vec<Outgoing>,
}

/// What the proxy did with each envelope of a [`TxBatch`], in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxStatus {
    /// Queued for the recipient (or handed to an `/apply` waiter).
    Queued,
    /// The recipient is not connected.
    NodeDown,
    /// The recipient's mailbox is full.
    MailboxFull,
    /// The envelope is too large or malformed.
    Refused,
}

/// `POST /tx/{node}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxReply {
    /// One status per envelope.
    pub statuses: Vec<TxStatus>,
}

/// `POST /rx/{node}` body: acknowledge what was received, wait for more.
///
/// A held receive request is also the node's presence: the proxy lists a node while it
/// holds one (or made any request in the last few seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxPoll {
    /// The proxy epoch the acknowledgement refers to (0 at first).
    pub epoch: u64,
    /// Every message up to this sequence number was received.
    pub ack_seq: u64,
    /// How long the proxy may hold the request when the mailbox is empty.
    pub wait_ms: u32,
    /// The directory version the node has for the nodes it follows (as in
    /// [`Ping::known_version`]): the proxy answers early when one of them changes.
    pub known_version: u64,
}

/// `POST /rx/{node}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxBatch {
    /// Random per proxy start: a new epoch means sequence numbers restarted.
    pub epoch: u64,
    /// Unacknowledged messages, oldest first.
    pub messages: Vec<Delivered>,
    /// The followed nodes that changed since [`RxPoll::known_version`], and the version
    /// this brings the node to; `None` when none did.
    pub directory: Option<(u64, DirectoryUpdate)>,
}

/// One message delivered to a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    /// Sequence number in the mailbox.
    pub seq: u64,
    /// The sending node as the proxy authenticated it; `None` for `/apply` calls.
    pub from: Option<String>,
    /// What it holds.
    pub kind: Kind,
    /// postcard bytes of the [`Signed`] message.
    pub bytes: Vec<u8>,
}
