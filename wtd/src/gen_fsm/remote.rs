//! [`RemoteFsm`]: a state machine on another node, sent events with the same types as a
//! local [`FsmRef`](super::FsmRef), checked by rustc.

use std::marker::PhantomData;
use std::time::Duration;

use super::behaviour::GenFsm;
use crate::call::Peer;
use crate::error::Result;
use crate::gen_server::{BehaviourPath, Message, RemoteInstance};

/// A named state machine `F` on `peer`'s node, exposed there with
/// `#[wtd_behaviour(mission)]`. Made by the `F::remote(&peer, "name")` the attribute
/// generates. Cheap to clone.
///
/// Every event is signed with the peer's capability key and goes through the callee's
/// whole pipeline (grant, replay, rate, audit), exactly as a call to an exported
/// function does.
pub struct RemoteFsm<F> {
    instance: RemoteInstance,
    fsm: PhantomData<fn() -> F>,
}

impl<F: GenFsm> RemoteFsm<F> {
    /// The instance registered as `instance` on `peer`'s node, of the behaviour at `path`.
    pub fn new(peer: &Peer, path: BehaviourPath, instance: &str) -> Self {
        RemoteFsm {
            instance: RemoteInstance::new(peer, path, instance),
            fsm: PhantomData,
        }
    }

    /// The same machine, with sync events that wait at most `timeout` (the peer's by
    /// default).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        RemoteFsm {
            instance: self.instance.with_timeout(timeout),
            fsm: PhantomData,
        }
    }

    /// `mission/behaviour@instance`, as the wire, the audit log and `wtd call` name it.
    pub fn path(&self) -> String {
        self.instance.path()
    }

    /// Sends `event` and returns once the proxy has queued it (`gen_fsm:send_event`).
    /// Nothing comes back, not even a refusal: the callee's audit log says whether it
    /// ran.
    pub async fn send_event(&self, event: F::Event) -> Result<()>
    where
        F::Event: Message,
    {
        self.instance.cast("the event", &event).await
    }

    /// Sends `call` and waits for the reply, at most the peer's timeout, which is also
    /// how long the call lives: the callee gives up on its machine then too
    /// (`gen_fsm:sync_send_event`).
    ///
    /// Fails with the callee's refusal (`Denied`, `Revoked`, `RateLimited`,
    /// `NoSuchInstance`, …), [`Error::ServerFailed`](crate::Error::ServerFailed) if the
    /// machine ended or did not answer within the call's life (a call it postponed, say),
    /// or [`Error::Timeout`](crate::Error::Timeout) if no answer came back in time.
    pub async fn sync_send_event(&self, call: F::Call) -> Result<F::Reply>
    where
        F::Call: Message,
        F::Reply: Message,
    {
        self.instance.call("the event", &call).await
    }
}

impl<F> Clone for RemoteFsm<F> {
    fn clone(&self) -> Self {
        RemoteFsm {
            instance: self.instance.clone(),
            fsm: PhantomData,
        }
    }
}

impl<F> std::fmt::Debug for RemoteFsm<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.instance.debug("RemoteFsm", f)
    }
}
