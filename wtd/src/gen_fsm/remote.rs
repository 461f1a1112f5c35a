//! [`RemoteFsm`]: a state machine on another node, sent events with the same types as a
//! local [`FsmRef`](super::FsmRef), checked by rustc.

use std::marker::PhantomData;
use std::time::Duration;

use super::behaviour::GenFsm;
use crate::call::Peer;
use crate::error::{Error, Result};
use crate::gen_server::{BehaviourPath, Message};
use crate::wire::{Encoding, Target};

/// A named state machine `F` on `peer`'s node, exposed there with
/// `#[wtd_behaviour(mission)]`. Made by the `F::remote(&peer, "name")` the attribute
/// generates. Cheap to clone.
///
/// Every event is signed with the peer's capability key and goes through the callee's
/// whole pipeline (grant, replay, rate, audit), exactly as a call to an exported
/// function does.
pub struct RemoteFsm<F> {
    peer: Peer,
    path: BehaviourPath,
    instance: String,
    fsm: PhantomData<fn() -> F>,
}

impl<F: GenFsm> RemoteFsm<F> {
    /// The instance registered as `instance` on `peer`'s node, of the behaviour at `path`.
    pub fn new(peer: &Peer, path: BehaviourPath, instance: &str) -> Self {
        RemoteFsm {
            peer: peer.clone(),
            path,
            instance: instance.to_string(),
            fsm: PhantomData,
        }
    }

    /// The same machine, with sync events that wait at most `timeout` (the peer's by
    /// default).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        RemoteFsm {
            peer: self.peer.with_timeout(timeout),
            ..self.clone()
        }
    }

    /// `mission/behaviour@instance`, as the wire, the audit log and `wtd call` name it.
    pub fn path(&self) -> String {
        self.target().path()
    }

    fn target(&self) -> Target {
        Target::Behaviour {
            mission: self.path.mission.to_string(),
            behaviour: self.path.wire_name(),
            instance: self.instance.clone(),
        }
    }

    /// Sends `event` and returns once the proxy has queued it (`gen_fsm:send_event`).
    /// Nothing comes back, not even a refusal: the callee's audit log says whether it
    /// ran.
    pub async fn send_event(&self, event: F::Event) -> Result<()>
    where
        F::Event: Message,
    {
        self.peer
            .cast_target(self.target(), Encoding::Postcard, self.encode(&event)?)
            .await
    }

    /// Sends `call` and waits for the reply, at most the peer's timeout, which is also
    /// how long the call lives: the callee gives up on its machine then too
    /// (`gen_fsm:sync_send_event`).
    ///
    /// Fails with the callee's refusal (`Denied`, `Revoked`, `RateLimited`,
    /// `NoSuchInstance`, …), [`Error::ServerFailed`] if the machine ended or did not
    /// answer within the call's life (a call it postponed, say), or [`Error::Timeout`] if
    /// no answer came back in time.
    pub async fn sync_send_event(&self, call: F::Call) -> Result<F::Reply>
    where
        F::Call: Message,
        F::Reply: Message,
    {
        let bytes = self
            .peer
            .call_target(self.target(), Encoding::Postcard, self.encode(&call)?)
            .await?;
        self.peer.decode::<F::Reply>(&bytes)
    }

    /// Encodes a message: a Pid in it becomes a billet-doux given to the peer's node.
    fn encode<M: Message>(&self, message: &M) -> Result<Vec<u8>> {
        self.peer.encode_raw(message).map_err(|e| {
            Error::Invalid(format!(
                "the event cannot be encoded: {e} (check the Serialize implementation of its type)"
            ))
        })
    }
}

impl<F> Clone for RemoteFsm<F> {
    fn clone(&self) -> Self {
        RemoteFsm {
            peer: self.peer.clone(),
            path: self.path,
            instance: self.instance.clone(),
            fsm: PhantomData,
        }
    }
}

impl<F> std::fmt::Debug for RemoteFsm<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteFsm")
            .field("node", &self.peer.name())
            .field("behaviour", &self.path.wire_name())
            .field("instance", &self.instance)
            .finish()
    }
}
