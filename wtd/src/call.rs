//! Calling functions on other nodes: [`Peer`], typed and dynamic calls, casts.
//!
//! A call is asynchronous underneath: it is signed with the capability key, queued for
//! the proxy, and the caller waits for the reply with a timeout (5 s by default, like
//! `gen_server:call`). A timeout means the outcome is unknown: the call may have run.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::billet::{Issuing, Receiving, Scope};
use crate::error::{Error, Result};
use crate::keys::KeyFile;
use crate::node::outbox::{OnStatus, OutboxItem};
use crate::node::pending::Pending;
use crate::node::{Node, NodeInner};
use crate::registry::{FnPath, Remote};
use crate::wire::{self, Call, Encoding, Kind, Outgoing, Signed, Target, domain};

/// Another node, as reached through a key file it gave you.
///
/// Made by [`Node::peer`](crate::Node::peer). Cheap to clone.
#[derive(Clone)]
pub struct Peer {
    node: Arc<NodeInner>,
    callee: String,
    callee_key: VerifyingKey,
    capability: Arc<SigningKey>,
    timeout: Duration,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("callee", &self.callee)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Node {
    /// A handle to call the node a key file is for.
    pub fn peer(&self, key_file: &KeyFile) -> Result<Peer> {
        Peer::new(self.inner.clone(), key_file)
    }
}

impl Peer {
    fn new(node: Arc<NodeInner>, key_file: &KeyFile) -> Result<Peer> {
        wire::check_name("node", &key_file.node)?;
        node.follow(&key_file.node);
        Ok(Peer {
            timeout: node.call_timeout,
            node,
            callee: key_file.node.clone(),
            callee_key: key_file.node_key()?,
            capability: Arc::new(key_file.signing_key()?),
        })
    }

    /// The peer a [`RemotePid`](crate::billet::RemotePid) sends through: the billet's
    /// origin, its key (from the signed message that carried the billet), and the key the
    /// billet was given to.
    pub(crate) fn for_billet(
        node: Arc<NodeInner>,
        origin: &str,
        origin_key: VerifyingKey,
        holder: Arc<SigningKey>,
    ) -> Result<Peer> {
        wire::check_name("node", origin)?;
        node.follow(origin);
        Ok(Peer {
            timeout: node.call_timeout,
            node,
            callee: origin.to_string(),
            callee_key: origin_key,
            capability: holder,
        })
    }

    /// Encodes a call's arguments (or a message) for this peer: a [`Pid`](crate::process::Pid)
    /// in them becomes a billet-doux given to the peer's node key.
    pub fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>> {
        self.encode_raw(value).map_err(|e| {
            Error::Invalid(format!(
                "the arguments cannot be encoded: {e} (check the Serialize implementation of their types)"
            ))
        })
    }

    /// [`Peer::encode`], with postcard's error as it is.
    pub(crate) fn encode_raw<T: Serialize + ?Sized>(
        &self,
        value: &T,
    ) -> std::result::Result<Vec<u8>, String> {
        let scope = Scope {
            issuing: Some(Issuing {
                table: self.node.callee.billets.clone(),
                origin: self.node.name.clone(),
                origin_key: self.node.public_key,
                holder: self.callee_key.to_bytes(),
                mission: None,
            }),
            receiving: None,
        };
        scope.encode(value)
    }

    /// Decodes a result from this peer: a billet-doux in it (a Pid the callee handed
    /// out) becomes a [`RemotePid`](crate::billet::RemotePid) given to this peer's key.
    pub(crate) fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        let scope = Scope {
            issuing: None,
            receiving: Some(Receiving {
                node: Arc::downgrade(&self.node),
                holder: self.capability.clone(),
                origin: self.callee.clone(),
                origin_key: Some(self.callee_key.to_bytes()),
            }),
        };
        scope
            .sync(|| crate::nesting::from_postcard::<T>(bytes))
            .map_err(|e| Error::BadReply {
                node: self.callee.clone(),
                detail: match e {
                    crate::nesting::NestingError::Trailing(_) => {
                        "extra bytes after the result".into()
                    }
                    e => e.to_string(),
                },
            })
    }

    /// Whether the peer's node is in the directory this node last heard from the proxy
    /// (which lists the nodes online).
    pub(crate) fn listed(&self) -> bool {
        self.node.lists(&self.callee)
    }

    /// Keeps the peer's node followed while the value lives (a remote monitor's watch):
    /// [`Peer::listed`] then follows the proxy's directory closely, however many other
    /// nodes this node calls.
    pub(crate) fn watching(&self) -> crate::node::Watching {
        crate::node::Watching::new(self.node.clone(), &self.callee)
    }

    /// Whether this peer's own node has stopped.
    pub(crate) fn node_stopped(&self) -> bool {
        self.node.is_stopped()
    }

    /// The node this peer calls.
    pub fn name(&self) -> &str {
        &self.callee
    }

    /// The same peer with another call timeout.
    pub fn with_timeout(&self, timeout: Duration) -> Peer {
        Peer {
            timeout,
            ..self.clone()
        }
    }

    /// This peer's call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Signs a call without sending it: for scripts, other transports, and tests.
    pub fn sign_call(
        &self,
        mission: &str,
        module: &str,
        function: &str,
        encoding: Encoding,
        args: Vec<u8>,
        want_reply: bool,
    ) -> Result<Signed> {
        let spec = CallSpec {
            mission,
            module,
            function,
            encoding,
            args,
            want_reply,
        };
        sign_call(
            &self.capability,
            &self.node.name,
            &self.callee,
            self.timeout,
            spec,
        )
    }

    /// Signs a call to any [`Target`] (a function, or a behaviour's named instance)
    /// without sending it.
    pub fn sign_target(
        &self,
        target: Target,
        encoding: Encoding,
        args: Vec<u8>,
        want_reply: bool,
    ) -> Result<Signed> {
        sign_target(
            &self.capability,
            &self.node.name,
            &self.callee,
            self.timeout,
            TargetSpec {
                target,
                encoding,
                args,
                want_reply,
            },
        )
    }

    /// Checks a reply received some other way (e.g. from
    /// [`transport::apply`](crate::transport::apply)) against this peer's pinned node key
    /// and the call it answers; returns the encoded result.
    pub fn open_reply(&self, call: &Signed, reply: &Signed) -> Result<Vec<u8>> {
        open_reply(&self.callee, &self.callee_key, call, reply)
    }

    /// Calls `mission/module/function` with encoded arguments and waits for the encoded
    /// result. The typed stubs `#[wtd_export]` generates are built on this.
    pub async fn call_raw(
        &self,
        mission: &str,
        module: &str,
        function: &str,
        encoding: Encoding,
        args: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let signed = self.sign_call(mission, module, function, encoding, args, true)?;
        self.send_signed(signed).await
    }

    /// Sends a call signed by [`Peer::sign_call`] and waits for its reply.
    pub async fn send_signed(&self, signed: Signed) -> Result<Vec<u8>> {
        let call: Call = signed.peek()?;
        let span = tracing::debug_span!("call", node = %self.node.name, callee = %self.callee, ack = %hex::encode(call.ack), path = %call.path());
        self.wait_for_reply(signed, call).instrument(span).await
    }

    /// Registers the call as pending, queues it, and waits for the reply or the timeout.
    async fn wait_for_reply(&self, signed: Signed, call: Call) -> Result<Vec<u8>> {
        let (done, reply) = oneshot::channel();
        // Removed however this ends: a reply, a timeout, or the caller dropping this future.
        let _waiting = self.node.pending.wait_for(
            call.ack,
            Pending {
                callee: self.callee.clone(),
                callee_key: self.callee_key,
                call_hash: signed.envelope_hash(),
                path: call.path(),
                done,
            },
        )?;
        let item = OutboxItem {
            envelope: Outgoing {
                to: self.callee.clone(),
                kind: Kind::Call,
                ack: call.ack,
                bytes: signed.to_bytes(),
            },
            on_status: OnStatus::FailPending(call.ack),
        };
        self.node.enqueue(item)?;
        tracing::debug!("call signed, to the outbox");
        let result = tokio::time::timeout(self.timeout, reply).await;
        tracing::debug!(ok = matches!(result, Ok(Ok(Ok(_)))), "call ended");
        match result {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Stopped),
            Err(_) => Err(Error::Timeout {
                node: self.callee.clone(),
                after: self.timeout,
            }),
        }
    }

    /// Calls any [`Target`] with an encoded message and waits for the encoded result:
    /// what [`RemoteServer`](crate::gen_server::RemoteServer) is built on.
    pub async fn call_target(
        &self,
        target: Target,
        encoding: Encoding,
        args: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let signed = self.sign_target(target, encoding, args, true)?;
        self.send_signed(signed).await
    }

    /// Sends `mission/module/function` without waiting for it to run. Returns once the
    /// proxy has queued it for the callee (or says the callee is not connected).
    pub async fn cast_raw(
        &self,
        mission: &str,
        module: &str,
        function: &str,
        encoding: Encoding,
        args: Vec<u8>,
    ) -> Result<()> {
        let signed = self.sign_call(mission, module, function, encoding, args, false)?;
        self.send_cast(signed).await
    }

    /// Casts to any [`Target`]: returns once the proxy has queued it for the callee.
    pub async fn cast_target(
        &self,
        target: Target,
        encoding: Encoding,
        args: Vec<u8>,
    ) -> Result<()> {
        let signed = self.sign_target(target, encoding, args, false)?;
        self.send_cast(signed).await
    }

    /// Queues a signed cast and waits until the proxy has taken it.
    async fn send_cast(&self, signed: Signed) -> Result<()> {
        let call: Call = signed.peek()?;
        let (done, queued) = oneshot::channel();
        self.node.enqueue(OutboxItem {
            envelope: Outgoing {
                to: self.callee.clone(),
                kind: Kind::Call,
                ack: call.ack,
                bytes: signed.to_bytes(),
            },
            on_status: OnStatus::Cast(done),
        })?;
        match tokio::time::timeout(self.timeout, queued).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Stopped),
            Err(_) => Err(Error::Timeout {
                node: self.callee.clone(),
                after: self.timeout,
            }),
        }
    }

    /// Calls with JSON: a function (`path` is `mission/module/function`, `args` a JSON
    /// array such as `"[2, 3]"`) or a behaviour's named instance (`path` is
    /// `mission/behaviour@instance`, `args` one `Call` message such as `{"Incr": 2}`).
    /// Returns the JSON result.
    pub async fn call_json(&self, path: &str, args: &str) -> Result<serde_json::Value> {
        let target = crate::path::parse_target(path)?;
        serde_json::from_str::<serde_json::Value>(args)
            .map_err(|e| Error::Invalid(format!("the arguments are not valid JSON: {e}")))?;
        let bytes = self
            .call_target(target, Encoding::Json, args.as_bytes().to_vec())
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::BadReply {
            node: self.callee.clone(),
            detail: e.to_string(),
        })
    }
}

/// What to call, for [`sign_call`].
#[derive(Debug, Clone)]
pub struct CallSpec<'a> {
    /// The mission.
    pub mission: &'a str,
    /// The module (Rust module path without the crate name).
    pub module: &'a str,
    /// The function.
    pub function: &'a str,
    /// How `args` (and so the result) are encoded.
    pub encoding: Encoding,
    /// The encoded argument tuple.
    pub args: Vec<u8>,
    /// `false` for a cast.
    pub want_reply: bool,
}

/// Signs a call with a capability key, for callers that are not running a node (the
/// `wtd` command, scripts): send it with [`transport::apply`](crate::transport::apply)
/// and check the answer with [`open_reply`]. The call lives for `timeout`.
pub fn sign_call(
    capability: &SigningKey,
    caller: &str,
    callee: &str,
    timeout: Duration,
    spec: CallSpec<'_>,
) -> Result<Signed> {
    let target = Target::Function {
        mission: spec.mission.to_string(),
        module: spec.module.to_string(),
        function: spec.function.to_string(),
    };
    let spec = TargetSpec {
        target,
        encoding: spec.encoding,
        args: spec.args,
        want_reply: spec.want_reply,
    };
    sign_target(capability, caller, callee, timeout, spec)
}

/// What to call, for [`sign_target`]: any [`Target`].
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// A function, or a behaviour's named instance.
    pub target: Target,
    /// How `args` (and so the result) are encoded.
    pub encoding: Encoding,
    /// The encoded argument tuple (a function) or message (a behaviour).
    pub args: Vec<u8>,
    /// `false` for a cast.
    pub want_reply: bool,
}

/// [`sign_call`] for any [`Target`].
pub fn sign_target(
    capability: &SigningKey,
    caller: &str,
    callee: &str,
    timeout: Duration,
    spec: TargetSpec,
) -> Result<Signed> {
    let now = wire::now_ms();
    let lifetime = (timeout.as_millis() as u64).clamp(1, wire::MAX_LIFETIME_MS);
    let call = Call {
        capability: capability.verifying_key().to_bytes(),
        caller: caller.to_string(),
        callee: callee.to_string(),
        target: spec.target,
        encoding: spec.encoding,
        want_reply: spec.want_reply,
        ack: wire::random_ack(),
        issued_at_ms: now,
        expires_at_ms: now + lifetime,
        args: spec.args,
    };
    call.check_bounds()
        .map_err(|e| Error::Invalid(format!("cannot make this call: {e}")))?;
    let domain = match call.target {
        Target::Billet { .. } | Target::Watch { .. } => domain::SEND,
        _ => domain::CALL,
    };
    Ok(Signed::sign(domain, &call, capability))
}

/// Checks that `reply` is `callee`'s answer to `call` (signed by its pinned node key,
/// naming this exact call); returns the encoded result, or the refusal as an error.
pub fn open_reply(
    callee: &str,
    callee_key: &VerifyingKey,
    call: &Signed,
    reply: &Signed,
) -> Result<Vec<u8>> {
    let bad = || Error::BadSignature {
        who: "this node".into(),
    };
    let r: wire::Reply = reply.open(domain::REPLY, callee_key).map_err(|_| bad())?;
    let sent: Call = call.peek()?;
    let answers_this_call = r.call_hash == call.envelope_hash()
        && r.callee == callee
        && r.caller == sent.caller
        && r.ack == sent.ack;
    if !answers_this_call {
        return Err(bad());
    }
    let path = sent.path();
    match r.outcome {
        wire::Outcome::Ok(bytes) => Ok(bytes),
        wire::Outcome::Refused(refusal) => Err(Error::from_refusal(refusal, callee, &path)),
    }
}

/// Typed call used by the stubs `#[wtd_export]` generates.
pub async fn call_typed<A: Remote, R: Remote>(peer: &Peer, path: &FnPath, args: A) -> Result<R> {
    let bytes = peer
        .call_raw(
            path.mission,
            path.module(),
            path.name,
            Encoding::Postcard,
            peer.encode(&args)?,
        )
        .await?;
    peer.decode::<R>(&bytes)
}

/// Typed cast used by the stubs `#[wtd_export]` generates.
pub async fn cast_typed<A: Remote>(peer: &Peer, path: &FnPath, args: A) -> Result<()> {
    peer.cast_raw(
        path.mission,
        path.module(),
        path.name,
        Encoding::Postcard,
        peer.encode(&args)?,
    )
    .await
}
