//! [`RemoteEventManager`]: an event manager on another node, notified with the same
//! event type as a local [`EventManager`](super::EventManager), checked by rustc.

use std::marker::PhantomData;
use std::time::Duration;

use super::behaviour::GenEvent;
use crate::call::Peer;
use crate::error::{Error, Result};
use crate::gen_server::{BehaviourPath, Message};
use crate::wire::{Encoding, Target};

/// A named event manager of kind `K` on `peer`'s node, exposed there with
/// `#[wtd_behaviour(mission)]`. Made by the `K::remote(&peer, "name")` the attribute
/// generates. Cheap to clone.
///
/// Other nodes may only notify: adding, removing and calling handlers stays with the
/// manager's own node. Every notify is signed with the peer's capability key and goes
/// through the callee's whole pipeline (grant, replay, rate, audit), as any call does.
pub struct RemoteEventManager<K> {
    peer: Peer,
    path: BehaviourPath,
    instance: String,
    kind: PhantomData<fn() -> K>,
}

impl<K: GenEvent> RemoteEventManager<K> {
    /// The instance registered as `instance` on `peer`'s node, of the behaviour at `path`.
    pub fn new(peer: &Peer, path: BehaviourPath, instance: &str) -> Self {
        RemoteEventManager {
            peer: peer.clone(),
            path,
            instance: instance.to_string(),
            kind: PhantomData,
        }
    }

    /// The same manager, with `sync_notify` waiting at most `timeout` (the peer's by
    /// default).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        RemoteEventManager {
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

    /// Sends `event` and returns once the proxy has queued it; it cannot say whether
    /// the manager took it (a refusal is only in the callee's audit log). Use
    /// [`sync_notify`](Self::sync_notify) to know.
    pub async fn notify(&self, event: K::Event) -> Result<()>
    where
        K::Event: Message,
    {
        self.peer
            .cast_target(self.target(), Encoding::Postcard, self.encode(&event)?)
            .await
    }

    /// Sends `event` and waits until every handler on the manager's node has handled
    /// it, at most the peer's timeout.
    ///
    /// Fails with the callee's refusal (`Denied`, `Revoked`, `RateLimited`,
    /// `NoSuchInstance`, …), [`Error::ServerFailed`] if the manager ended or took too
    /// long, or [`Error::Timeout`] if no answer came back in time.
    pub async fn sync_notify(&self, event: K::Event) -> Result<()>
    where
        K::Event: Message,
    {
        let bytes = self
            .peer
            .call_target(self.target(), Encoding::Postcard, self.encode(&event)?)
            .await?;
        self.peer.decode::<()>(&bytes)
    }

    /// Encodes an event: a Pid in it becomes a billet-doux given to the peer's node.
    fn encode(&self, event: &K::Event) -> Result<Vec<u8>>
    where
        K::Event: Message,
    {
        self.peer.encode_raw(event).map_err(|e| {
            Error::Invalid(format!(
                "the event cannot be encoded: {e} (check the Serialize implementation of its type)"
            ))
        })
    }
}

impl<K> Clone for RemoteEventManager<K> {
    fn clone(&self) -> Self {
        RemoteEventManager {
            peer: self.peer.clone(),
            path: self.path,
            instance: self.instance.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for RemoteEventManager<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEventManager")
            .field("node", &self.peer.name())
            .field("behaviour", &self.path.wire_name())
            .field("instance", &self.instance)
            .finish()
    }
}
