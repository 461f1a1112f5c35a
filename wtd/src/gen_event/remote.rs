//! [`RemoteEventManager`]: an event manager on another node, notified with the same
//! event type as a local [`EventManager`](super::EventManager), checked by rustc.

use std::marker::PhantomData;
use std::time::Duration;

use super::behaviour::GenEvent;
use crate::call::Peer;
use crate::error::Result;
use crate::gen_server::{BehaviourPath, Message, RemoteInstance};

/// A named event manager of kind `K` on `peer`'s node, exposed there with
/// `#[wtd_behaviour(mission)]`. Made by the `K::remote(&peer, "name")` the attribute
/// generates. Cheap to clone.
///
/// Other nodes may only notify: adding, removing and calling handlers stays with the
/// manager's own node. Every notify is signed with the peer's capability key and goes
/// through the callee's whole pipeline (grant, replay, rate, audit), as any call does.
pub struct RemoteEventManager<K> {
    instance: RemoteInstance,
    kind: PhantomData<fn() -> K>,
}

impl<K: GenEvent> RemoteEventManager<K> {
    /// The instance registered as `instance` on `peer`'s node, of the behaviour at `path`.
    pub fn new(peer: &Peer, path: BehaviourPath, instance: &str) -> Self {
        RemoteEventManager {
            instance: RemoteInstance::new(peer, path, instance),
            kind: PhantomData,
        }
    }

    /// The same manager, with `sync_notify` waiting at most `timeout` (the peer's by
    /// default).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        RemoteEventManager {
            instance: self.instance.with_timeout(timeout),
            kind: PhantomData,
        }
    }

    /// `mission/behaviour@instance`, as the wire, the audit log and `wtd call` name it.
    pub fn path(&self) -> String {
        self.instance.path()
    }

    /// Sends `event` and returns once the proxy has queued it; it cannot say whether
    /// the manager took it (a refusal is only in the callee's audit log). Use
    /// [`sync_notify`](Self::sync_notify) to know.
    pub async fn notify(&self, event: K::Event) -> Result<()>
    where
        K::Event: Message,
    {
        self.instance.cast("the event", &event).await
    }

    /// Sends `event` and waits until every handler on the manager's node has handled
    /// it, at most the peer's timeout.
    ///
    /// Fails with the callee's refusal (`Denied`, `Revoked`, `RateLimited`,
    /// `NoSuchInstance`, …), [`Error::ServerFailed`](crate::Error::ServerFailed) if the
    /// manager ended or took too long, or [`Error::Timeout`](crate::Error::Timeout) if no
    /// answer came back in time.
    pub async fn sync_notify(&self, event: K::Event) -> Result<()>
    where
        K::Event: Message,
    {
        self.instance.call("the event", &event).await
    }
}

impl<K> Clone for RemoteEventManager<K> {
    fn clone(&self) -> Self {
        RemoteEventManager {
            instance: self.instance.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for RemoteEventManager<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.instance.debug("RemoteEventManager", f)
    }
}
