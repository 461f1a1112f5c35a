//! What travels between nodes and the proxy: message types, the postcard codec, and
//! domain-separated signatures.
//!
//! Every signed message is sent as a [`Signed`]: the exact postcard bytes of the message
//! and an ed25519 signature over `DOMAIN || bytes`. The receiver verifies the bytes it
//! received *before* trusting anything in them, then decodes them strictly (no trailing
//! bytes, canonical encoding only). The domain tag makes a signature made for one purpose
//! (say, a call) useless for any other (say, a reply).
//!
//! docs/PROTOCOL.md describes every type here field by field.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the wire protocol carried in every [`Call`].
pub const PROTOCOL_VERSION: u8 = 1;

/// Largest argument (or result) payload, in bytes.
pub const MAX_ARGS_BYTES: usize = 64 * 1024;
/// Largest single envelope: a signed call or reply with its payload.
pub const MAX_ENVELOPE_BYTES: usize = MAX_ARGS_BYTES + 4 * 1024;
/// Most envelopes in one `/tx` or `/rx` batch.
pub const MAX_BATCH_LEN: usize = 256;
/// Largest HTTP body the proxy reads; anything larger is refused before it is read.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// How far in the future a request's issued-at may be, and how old it may be.
pub const MAX_SKEW_MS: u64 = 30_000;
/// Longest lifetime (expires-at minus issued-at) a call may ask for.
pub const MAX_LIFETIME_MS: u64 = 60_000;

/// Domain tags: the first bytes of every signed message, one per purpose.
pub mod domain {
    /// A node's request to the proxy, signed by its node key.
    pub const HOP: &[u8] = b"wtd/v1/hop\0";
    /// A call, signed by the capability key.
    pub const CALL: &[u8] = b"wtd/v1/call\0";
    /// A reply, signed by the callee's node key.
    pub const REPLY: &[u8] = b"wtd/v1/reply\0";
    /// A registration, signed by the registering node's key.
    pub const REGISTER: &[u8] = b"wtd/v1/register\0";
}

/// Why bytes from the network were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not a valid postcard encoding of the expected type.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Valid, but with bytes left over or not in canonical form.
    #[error("message is not canonically encoded (trailing or non-minimal bytes)")]
    NotCanonical,
    /// The signature is not 64 bytes or does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// A public key that is malformed or weak (small order).
    #[error("public key is malformed or weak")]
    BadKey,
    /// A field out of its bounds.
    #[error("{0}")]
    OutOfBounds(String),
}

/// Encodes a value with postcard. Encoding our own types into a `Vec` cannot fail.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Decodes bytes that must hold exactly one canonical `T`: no trailing bytes, and
/// re-encoding gives the same bytes back (so one message has one encoding, and one
/// signature).
pub fn decode_exact<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() || encode(&value) != bytes {
        return Err(WireError::NotCanonical);
    }
    Ok(value)
}

/// A message and its signature, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// postcard bytes of the message (a [`Call`], [`Reply`], [`Hop`] or [`Register`]).
    pub body: Vec<u8>,
    /// ed25519 signature over `DOMAIN || body`; 64 bytes.
    pub signature: Vec<u8>,
}

impl Signed {
    /// Encodes `message` and signs `domain || bytes` with `key`.
    pub fn sign<T: Serialize>(domain: &[u8], message: &T, key: &SigningKey) -> Signed {
        let body = encode(message);
        let signature = key.sign(&tagged(domain, &body)).to_bytes().to_vec();
        Signed { body, signature }
    }

    /// Decodes the message *without* checking the signature. Use it only to find out
    /// which key to verify with, then call [`Signed::verify`].
    pub fn peek<T: Serialize + DeserializeOwned>(&self) -> Result<T, WireError> {
        decode_exact(&self.body)
    }

    /// Checks the signature over `domain || body` with `key` (strict verification).
    pub fn verify(&self, domain: &[u8], key: &VerifyingKey) -> Result<(), WireError> {
        let signature =
            Signature::from_slice(&self.signature).map_err(|_| WireError::BadSignature)?;
        key.verify_strict(&tagged(domain, &self.body), &signature)
            .map_err(|_| WireError::BadSignature)
    }

    /// Verifies, then decodes.
    pub fn open<T: Serialize + DeserializeOwned>(
        &self,
        domain: &[u8],
        key: &VerifyingKey,
    ) -> Result<T, WireError> {
        self.verify(domain, key)?;
        self.peek()
    }

    /// SHA-256 of the whole envelope (body *and* signature, as [`Signed::to_bytes`]
    /// encodes them): how a reply names the call it answers.
    ///
    /// Covering the signature matters: otherwise anyone who saw a call could send its body
    /// with a garbage signature, get the callee's signed `BadSignature` refusal, and show
    /// it to the caller as the answer to the real call (which may then still run).
    /// Strict verification makes a valid signature unique, so the genuine call has one
    /// hash.
    pub fn envelope_hash(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }

    /// The postcard bytes of this signed message, as put in an envelope.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Reads a signed message from an envelope's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Signed, WireError> {
        let signed: Signed = decode_exact(bytes)?;
        if signed.signature.len() != 64 {
            return Err(WireError::BadSignature);
        }
        Ok(signed)
    }
}

fn tagged(domain: &[u8], body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(domain.len() + body.len());
    message.extend_from_slice(domain);
    message.extend_from_slice(body);
    message
}

/// Turns 32 bytes into a public key, refusing malformed and weak (small-order) keys.
pub fn verifying_key(bytes: &[u8; 32]) -> Result<VerifyingKey, WireError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| WireError::BadKey)?;
    if key.is_weak() {
        return Err(WireError::BadKey);
    }
    Ok(key)
}

/// How a call's arguments and result are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    /// postcard: what typed calls between Rust nodes use.
    Postcard,
    /// JSON: for the command line, scripts and other languages.
    Json,
}

/// A call, signed by the capability key the callee granted ([`domain::CALL`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// [`PROTOCOL_VERSION`].
    pub version: u8,
    /// The capability public key that signed this call.
    pub capability: [u8; 32],
    /// The calling node: where the reply goes.
    pub caller: String,
    /// The node that must run the call.
    pub callee: String,
    /// Mission of the function.
    pub mission: String,
    /// Module of the function (its Rust module path without the crate name).
    pub module: String,
    /// Name of the function.
    pub function: String,
    /// How `args` and the result are encoded.
    pub encoding: Encoding,
    /// `false` for a cast: run it, send nothing back.
    pub want_reply: bool,
    /// Random id; the reply carries the same one. Also the replay-cache key.
    pub ack: [u8; 16],
    /// Caller's clock, milliseconds since the Unix epoch.
    pub issued_at_ms: u64,
    /// After this (caller's clock) the callee must not run the call.
    pub expires_at_ms: u64,
    /// The encoded arguments, as a tuple.
    pub args: Vec<u8>,
}

impl Call {
    /// `mission/module/function`, as shown to people.
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.mission, self.module, self.function)
    }

    /// Checks every field's bounds; the callee and the proxy call this before anything else.
    pub fn check_bounds(&self) -> Result<(), WireError> {
        if self.version != PROTOCOL_VERSION {
            return Err(WireError::OutOfBounds(format!(
                "protocol version {} is not supported (this node speaks {PROTOCOL_VERSION})",
                self.version
            )));
        }
        check_name("caller", &self.caller)?;
        check_name("callee", &self.callee)?;
        check_name("mission", &self.mission)?;
        check_module(&self.module)?;
        check_function(&self.function)?;
        if self.args.len() > MAX_ARGS_BYTES {
            return Err(WireError::OutOfBounds(format!(
                "arguments are {} bytes, more than the {MAX_ARGS_BYTES} allowed",
                self.args.len()
            )));
        }
        if self.expires_at_ms < self.issued_at_ms
            || self.expires_at_ms - self.issued_at_ms > MAX_LIFETIME_MS
        {
            return Err(WireError::OutOfBounds(format!(
                "a call may live at most {MAX_LIFETIME_MS} ms"
            )));
        }
        Ok(())
    }
}

/// A reply, signed by the callee's node key ([`domain::REPLY`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The node that ran (or refused) the call.
    pub callee: String,
    /// The node that called.
    pub caller: String,
    /// The call's ack.
    pub ack: [u8; 16],
    /// SHA-256 of the call's whole envelope ([`Signed::envelope_hash`]).
    pub call_hash: [u8; 32],
    /// What happened.
    pub outcome: Outcome,
}

/// The result of a call, as the callee reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The function ran; these are its encoded results.
    Ok(Vec<u8>),
    /// The callee refused or failed the call.
    Refused(Refusal),
}

/// Why a callee did not return a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// No grant for this key.
    Denied,
    /// Granted, but for other missions.
    WrongMission {
        /// The missions the key is granted.
        granted: Vec<String>,
    },
    /// The grant is revoked.
    Revoked,
    /// The grant has expired.
    GrantExpired,
    /// The call arrived after its own expiry.
    CallExpired,
    /// Rate limit used up.
    RateLimited {
        /// Milliseconds until the next call may pass.
        retry_after_ms: u64,
    },
    /// Seen before; not run again.
    Replayed,
    /// No such function in that mission.
    NoSuchFunction,
    /// Arguments could not be decoded.
    BadArguments(String),
    /// The function panicked.
    RemotePanic(String),
    /// The capability signature did not verify.
    BadSignature,
    /// The call's issued-at is too far from the callee's clock.
    ClockSkew {
        /// Callee's clock minus the call's issued-at, in milliseconds.
        skew_ms: i64,
    },
    /// The call was addressed to another node.
    WrongNode,
    /// The callee is overloaded.
    Busy,
    /// A field is out of bounds; the call did not run.
    Malformed(String),
    /// The function ran, but its result is larger than the limit.
    ResultTooLarge {
        /// Size of the encoded result.
        bytes: u64,
    },
    /// The callee started after the call was made. Its replay cache is new, so it
    /// refuses older calls rather than risk running one twice.
    Restarted,
}

/// Bounds on names: 1–64 bytes of `[a-z0-9_-]`.
pub fn check_name(what: &str, name: &str) -> Result<(), WireError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(WireError::OutOfBounds(format!(
            "{what} name {:?} is not 1-64 characters of a-z, 0-9, _ and -",
            truncate(name)
        )))
    }
}

/// Bounds on module paths: 1–128 bytes of `[a-z0-9_:]` (Rust module paths, `::` separated).
pub fn check_module(module: &str) -> Result<(), WireError> {
    let ok = (1..=128).contains(&module.len())
        && module
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b':');
    if ok {
        Ok(())
    } else {
        Err(WireError::OutOfBounds(format!(
            "module {:?} is not a Rust module path of at most 128 characters",
            truncate(module)
        )))
    }
}

/// Bounds on function names: 1–64 bytes of `[A-Za-z0-9_]`.
pub fn check_function(function: &str) -> Result<(), WireError> {
    let ok = (1..=64).contains(&function.len())
        && function
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(WireError::OutOfBounds(format!(
            "function name {:?} is not a Rust identifier of at most 64 characters",
            truncate(function)
        )))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(70).collect()
}

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

/// A mission a node serves, and its functions as `module/function`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The mission.
    pub mission: String,
    /// Its functions, each `module/function`.
    pub functions: Vec<String>,
}

/// `POST /ping` body: presence, and what the node offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Missions this node serves.
    pub offers: Vec<Offer>,
    /// Capability public keys this node accepts (unrevoked, unexpired grants).
    pub accepts: Vec<[u8; 32]>,
    /// The directory version the node has; 0 for none.
    pub known_version: u64,
}

/// `POST /ping` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingReply {
    /// The proxy's current directory version.
    pub version: u64,
    /// The directory, unless the node already has this version.
    pub directory: Option<Directory>,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxPoll {
    /// The proxy epoch the acknowledgement refers to (0 at first).
    pub epoch: u64,
    /// Every message up to this sequence number was received.
    pub ack_seq: u64,
    /// How long the proxy may hold the request when the mailbox is empty.
    pub wait_ms: u32,
}

/// `POST /rx/{node}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxBatch {
    /// Random per proxy start: a new epoch means sequence numbers restarted.
    pub epoch: u64,
    /// Unacknowledged messages, oldest first.
    pub messages: Vec<Delivered>,
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

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `a - b` in milliseconds as a signed number, clamped instead of overflowing.
pub fn signed_diff(a: u64, b: u64) -> i64 {
    (i128::from(a) - i128::from(b)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// 16 random bytes (acks).
pub fn random_ack() -> [u8; 16] {
    let mut ack = [0u8; 16];
    getrandom::fill(&mut ack).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
    ack
}

/// Acks seen recently, per capability key, so a replayed call is refused instead of run
/// twice.
///
/// An ack is remembered until its call's expiry (plus the clock-skew allowance), after
/// which the call would be refused as expired anyway. Memory is bounded per key and in
/// all: when full, new calls are refused as busy rather than forgetting acks early
/// (forgetting would open a replay). Bounding per key means one grantee flooding the
/// node fills only its own share; the share is set per call by the caller of
/// [`ReplayCache::check_and_insert`] (the node derives it from the grant's rate).
#[derive(Debug)]
pub struct ReplayCache {
    seen: HashMap<[u8; 32], HashMap<[u8; 16], u64>>,
    len: usize,
    capacity: usize,
    next_sweep_ms: u64,
}

/// What the replay cache says of an ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// First time: go ahead.
    Fresh,
    /// Seen before: refuse.
    Replayed,
    /// The cache is full: refuse as busy.
    Full,
}

impl ReplayCache {
    /// A cache holding at most `capacity` acks in all.
    pub fn new(capacity: usize) -> Self {
        ReplayCache {
            seen: HashMap::new(),
            len: 0,
            capacity,
            next_sweep_ms: 0,
        }
    }

    /// Records `ack` of a call signed by `key` (valid until `expires_at_ms`) and says
    /// whether it is new; `key` may hold at most `share` acks.
    pub fn check_and_insert(
        &mut self,
        key: [u8; 32],
        share: usize,
        ack: [u8; 16],
        expires_at_ms: u64,
        now: u64,
    ) -> Freshness {
        // Sweep once a second; when full, as often as every 100 ms (a sweep walks every
        // ack, so not on every call).
        let full_sweep_due = self.len >= self.capacity && now + 900 >= self.next_sweep_ms;
        if now >= self.next_sweep_ms || full_sweep_due {
            self.sweep(now);
        }
        let acks = self.seen.entry(key).or_default();
        if acks.contains_key(&ack) {
            return Freshness::Replayed;
        }
        if acks.len() >= share || self.len >= self.capacity {
            return Freshness::Full;
        }
        acks.insert(ack, expires_at_ms);
        self.len += 1;
        Freshness::Fresh
    }

    fn sweep(&mut self, now: u64) {
        let mut len = 0;
        self.seen.retain(|_, acks| {
            acks.retain(|_, expiry| expiry.saturating_add(MAX_SKEW_MS) > now);
            len += acks.len();
            !acks.is_empty()
        });
        self.len = len;
        self.next_sweep_ms = now + 1_000;
    }

    /// Number of acks remembered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no ack is remembered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A sliding window of recently seen counters (as WireGuard's replay filter): accepts
/// each counter once, and refuses counters that fell far behind the newest.
#[derive(Debug, Clone, Default)]
pub struct CounterWindow {
    top: u64,
    bits: [u64; Self::WORDS],
}

impl CounterWindow {
    const WORDS: usize = 16;
    /// How many counters behind the newest are still accepted.
    pub const SIZE: u64 = (Self::WORDS * 64) as u64;

    /// Accepts `counter` if it was not seen and is not too old; records it.
    pub fn accept(&mut self, counter: u64) -> bool {
        if counter > self.top {
            let shift = counter - self.top;
            if shift >= Self::SIZE {
                self.bits = [0; Self::WORDS];
            } else {
                for _ in 0..shift {
                    self.top += 1;
                    self.clear(self.top);
                }
            }
            self.top = counter;
            self.set(counter);
            return true;
        }
        if self.top - counter >= Self::SIZE || self.is_set(counter) {
            return false;
        }
        self.set(counter);
        true
    }

    fn index(counter: u64) -> (usize, u64) {
        let bit = counter % Self::SIZE;
        ((bit / 64) as usize, 1 << (bit % 64))
    }
    fn set(&mut self, counter: u64) {
        let (word, mask) = Self::index(counter);
        self.bits[word] |= mask;
    }
    fn clear(&mut self, counter: u64) {
        let (word, mask) = Self::index(counter);
        self.bits[word] &= !mask;
    }
    fn is_set(&self, counter: u64) -> bool {
        let (word, mask) = Self::index(counter);
        self.bits[word] & mask != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn call() -> Call {
        Call {
            version: PROTOCOL_VERSION,
            capability: key().verifying_key().to_bytes(),
            caller: "bob".into(),
            callee: "alice".into(),
            mission: "demo".into(),
            module: "demo".into(),
            function: "add".into(),
            encoding: Encoding::Postcard,
            want_reply: true,
            ack: [1; 16],
            issued_at_ms: 1_000,
            expires_at_ms: 6_000,
            args: encode(&(2i64, 3i64)),
        }
    }

    #[test]
    fn signed_call_round_trips() {
        let signed = Signed::sign(domain::CALL, &call(), &key());
        let back: Call = signed
            .open(domain::CALL, &key().verifying_key())
            .expect("opens");
        assert_eq!(back, call());
    }

    #[test]
    fn any_flipped_byte_fails_verification() {
        let signed = Signed::sign(domain::CALL, &call(), &key());
        let bytes = signed.to_bytes();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            let opened = Signed::from_bytes(&bad)
                .and_then(|s| s.open::<Call>(domain::CALL, &key().verifying_key()));
            assert!(opened.is_err(), "flipping byte {i} was not detected");
        }
    }

    #[test]
    fn signature_for_one_domain_fails_in_another() {
        let signed = Signed::sign(domain::CALL, &call(), &key());
        assert_eq!(
            signed.verify(domain::REPLY, &key().verifying_key()),
            Err(WireError::BadSignature)
        );
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&call());
        bytes.push(0);
        assert_eq!(decode_exact::<Call>(&bytes), Err(WireError::NotCanonical));
    }

    #[test]
    fn signed_diff_never_overflows() {
        assert_eq!(signed_diff(5, 7), -2);
        assert_eq!(signed_diff(u64::MAX, 0), i64::MAX);
        assert_eq!(signed_diff(0, u64::MAX), i64::MIN);
    }

    #[test]
    fn envelope_hash_covers_the_signature() {
        let signed = Signed::sign(domain::CALL, &call(), &key());
        let mut other = signed.clone();
        other.signature[0] ^= 1;
        assert_ne!(signed.envelope_hash(), other.envelope_hash());
    }

    #[test]
    fn names_are_bounded() {
        assert!(check_name("node", "alice-pi_2").is_ok());
        assert!(check_name("node", "").is_err());
        assert!(check_name("node", "Alice").is_err());
        assert!(check_name("node", &"a".repeat(65)).is_err());
        assert!(check_name("node", "al\u{202e}ice").is_err());
    }

    #[test]
    fn replay_cache_refuses_repeats_and_forgets_expired() {
        let (k, other) = ([1; 32], [2; 32]);
        let mut cache = ReplayCache::new(3);
        assert_eq!(
            cache.check_and_insert(k, 2, [1; 16], 10, 0),
            Freshness::Fresh
        );
        assert_eq!(
            cache.check_and_insert(k, 2, [1; 16], 10, 1),
            Freshness::Replayed
        );
        assert_eq!(
            cache.check_and_insert(k, 2, [2; 16], 10, 1),
            Freshness::Fresh
        );
        assert_eq!(
            cache.check_and_insert(k, 2, [3; 16], 10, 1),
            Freshness::Full,
            "key's share"
        );
        assert_eq!(
            cache.check_and_insert(other, 2, [3; 16], 10, 1),
            Freshness::Fresh
        );
        assert_eq!(
            cache.check_and_insert(other, 2, [4; 16], 10, 1),
            Freshness::Full,
            "in all"
        );
        let later = 10 + MAX_SKEW_MS + 1;
        assert_eq!(
            cache.check_and_insert(k, 2, [3; 16], later + 5, later),
            Freshness::Fresh
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn counter_window_accepts_each_counter_once() {
        let mut window = CounterWindow::default();
        assert!(window.accept(100));
        assert!(!window.accept(100));
        assert!(window.accept(99));
        assert!(window.accept(105));
        assert!(!window.accept(99));
        assert!(window.accept(100 + CounterWindow::SIZE));
        assert!(!window.accept(100), "too old now");
        assert!(window.accept(101), "still inside the window");
    }
}
