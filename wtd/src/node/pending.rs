//! The caller's side of a call after it is sent: calls waiting for their reply, and how
//! a reply is accepted (signed by the node called, for a call this node made, once).

use std::collections::HashMap;
use std::sync::Mutex;

use ed25519_dalek::VerifyingKey;
use tokio::sync::oneshot;

use super::lock;
use crate::error::{Error, Result};
use crate::wire::{Outcome, PROTOCOL_VERSION, Refusal, Reply, Signed, VersionRefusal, domain};

/// A call waiting for its reply.
pub(crate) struct Pending {
    /// The node called: only its reply is accepted.
    pub(crate) callee: String,
    /// Its node key, pinned from the key file: the reply must be signed by it.
    pub(crate) callee_key: VerifyingKey,
    /// SHA-256 of the call's envelope: the reply must name this exact call.
    pub(crate) call_hash: [u8; 32],
    /// `mission/module/function`, for error messages.
    pub(crate) path: String,
    /// Where the caller waits.
    pub(crate) done: oneshot::Sender<Result<Vec<u8>>>,
}

/// A caller's wait for one reply; dropping it forgets the call, so a caller that gives up
/// (a timeout, a `select!`, an aborted task) leaves nothing behind.
pub(crate) struct Waiting<'a> {
    calls: &'a PendingCalls,
    ack: [u8; 16],
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        lock(&self.calls.calls).remove(&self.ack);
    }
}

/// The calls this node made that wait for a reply, by ack.
#[derive(Default)]
pub(crate) struct PendingCalls {
    calls: Mutex<HashMap<[u8; 16], Pending>>,
}

impl PendingCalls {
    /// Starts waiting for the reply to the call with `ack`; the wait ends when the
    /// returned guard is dropped. A call already waiting (the same signed call sent twice)
    /// is refused: its reply can answer only one of them.
    pub(crate) fn wait_for(&self, ack: [u8; 16], pending: Pending) -> Result<Waiting<'_>> {
        use std::collections::hash_map::Entry;
        match lock(&self.calls).entry(ack) {
            Entry::Occupied(_) => Err(Error::Invalid(
                "this signed call was already sent and still waits for its reply: sign a new one"
                    .into(),
            )),
            Entry::Vacant(slot) => {
                slot.insert(pending);
                Ok(Waiting { calls: self, ack })
            }
        }
    }

    /// Ends the call with `ack` with `error`.
    pub(crate) fn fail(&self, ack: &[u8; 16], error: Error) {
        if let Some(p) = lock(&self.calls).remove(ack) {
            let _ = p.done.send(Err(error));
        }
    }

    /// Ends every waiting call with [`Error::Stopped`].
    pub(crate) fn fail_all_stopped(&self) {
        let pending: Vec<Pending> = lock(&self.calls).drain().map(|(_, p)| p).collect();
        for p in pending {
            let _ = p.done.send(Err(Error::Stopped));
        }
    }

    /// A reply arrived for node `me`: check it is signed by the node we called, for a
    /// call we made, and hand it to the waiting caller. Anything else is dropped.
    pub(crate) fn accept_reply(&self, me: &str, bytes: &[u8]) {
        let Ok(signed) = Signed::any_version_from_bytes(bytes) else {
            tracing::warn!(node = %me, "dropped a malformed reply");
            return;
        };
        if signed.is_version_refusal() {
            self.accept_version_refusal(me, &signed);
            return;
        }
        if signed.version != PROTOCOL_VERSION {
            tracing::warn!(node = %me, version = signed.version, "dropped a reply in another wire version");
            return;
        }
        let Ok(reply) = signed.peek::<Reply>() else {
            tracing::warn!(node = %me, "dropped a reply that does not decode");
            return;
        };
        let expected = lock(&self.calls)
            .get(&reply.ack)
            .map(|p| (p.callee.clone(), p.callee_key, p.call_hash));
        let Some((callee, callee_key, call_hash)) = expected else {
            tracing::debug!(node = %me, "dropped a reply for no pending call (late, or replayed)");
            return;
        };
        let genuine = signed.verify(domain::REPLY, &callee_key).is_ok()
            && reply.callee == callee
            && reply.caller == me
            && reply.call_hash == call_hash;
        if !genuine {
            tracing::warn!(node = %me, %callee, "dropped a reply not signed by the callee, or not for this call");
            return;
        }
        if reply.outcome == Outcome::Refused(Refusal::Replayed) {
            // This program never sends a call twice, so "seen before" means a copy of it
            // (replayed by the proxy, or sent on by someone who saw it) got there first and
            // may have run. Only the timeout can say that honestly: "outcome unknown".
            tracing::warn!(node = %me, %callee, "a copy of a pending call reached the callee first; waiting for the timeout");
            return;
        }
        let Some(pending) = lock(&self.calls).remove(&reply.ack) else {
            return;
        };
        let result = match reply.outcome {
            Outcome::Ok(bytes) => Ok(bytes),
            Outcome::Refused(refusal) => {
                Err(Error::from_refusal(refusal, &pending.callee, &pending.path))
            }
        };
        let _ = pending.done.send(result);
    }

    /// The node called does not speak this node's wire version, and said so: end the
    /// call it names (by the hash of its envelope) with [`Error::WireVersion`].
    fn accept_version_refusal(&self, me: &str, signed: &Signed) {
        let Ok(refusal) = signed.peek::<VersionRefusal>() else {
            tracing::warn!(node = %me, "dropped a version refusal that does not decode");
            return;
        };
        let mut calls = lock(&self.calls);
        let ack = calls.iter().find_map(|(ack, p)| {
            let genuine = p.call_hash == refusal.call_hash
                && p.callee == refusal.callee
                && refusal.caller == me
                && signed
                    .verify(domain::VERSION_REFUSAL, &p.callee_key)
                    .is_ok();
            genuine.then_some(*ack)
        });
        let Some(pending) = ack.and_then(|ack| calls.remove(&ack)) else {
            tracing::debug!(node = %me, "dropped a version refusal for no pending call");
            return;
        };
        drop(calls);
        let _ = pending.done.send(Err(Error::WireVersion {
            node: pending.callee,
            theirs: refusal.speaks,
        }));
    }
}
