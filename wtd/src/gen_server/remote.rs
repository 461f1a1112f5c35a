//! [`RemoteServer`]: a gen_server on another node, called and cast to with the same
//! types as a local [`ServerRef`](super::ServerRef), checked by rustc.

use std::marker::PhantomData;
use std::time::Duration;

use super::behaviour::GenServer;
use super::expose::{BehaviourPath, Message};
use crate::call::Peer;
use crate::error::{Error, Result};
use crate::wire::{Encoding, Target};

/// A named gen_server `S` on `peer`'s node, exposed there with
/// `#[wtd_behaviour(mission)]`. Made by the `S::remote(&peer, "name")` the attribute
/// generates. Cheap to clone.
///
/// Every call and cast is signed with the peer's capability key and goes through the
/// callee's whole pipeline (grant, replay, rate, audit), exactly as a call to an exported
/// function does.
pub struct RemoteServer<S> {
    peer: Peer,
    path: BehaviourPath,
    instance: String,
    server: PhantomData<fn() -> S>,
}

impl<S: GenServer> RemoteServer<S> {
    /// The instance registered as `instance` on `peer`'s node, of the behaviour at `path`.
    pub fn new(peer: &Peer, path: BehaviourPath, instance: &str) -> Self {
        RemoteServer {
            peer: peer.clone(),
            path,
            instance: instance.to_string(),
            server: PhantomData,
        }
    }

    /// The same server, with calls that wait at most `timeout` (the peer's by default).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        RemoteServer {
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

    /// Sends `call` and waits for the reply, at most the peer's timeout (which is also
    /// how long the call lives: the callee gives up on its server then too).
    ///
    /// Fails with the callee's refusal (`Denied`, `RateLimited`, `NoSuchInstance`, …),
    /// [`Error::ServerFailed`] if the server ended or took too long, or
    /// [`Error::Timeout`] if no answer came back in time.
    pub async fn call(&self, call: S::Call) -> Result<S::Reply>
    where
        S::Call: Message,
        S::Reply: Message,
    {
        let bytes = self
            .peer
            .call_target(self.target(), Encoding::Postcard, self.encode(&call)?)
            .await?;
        self.peer.decode::<S::Reply>(&bytes)
    }

    /// Sends `cast` and returns once the proxy has queued it; it cannot say whether the
    /// server handled it (the callee's audit log does).
    pub async fn cast(&self, cast: S::Cast) -> Result<()>
    where
        S::Cast: Message,
    {
        self.peer
            .cast_target(self.target(), Encoding::Postcard, self.encode(&cast)?)
            .await
    }

    /// Encodes a message: a Pid in it becomes a billet-doux given to the peer's node.
    fn encode<M: Message>(&self, message: &M) -> Result<Vec<u8>> {
        self.peer.encode_raw(message).map_err(|e| {
            Error::Invalid(format!(
                "the message cannot be encoded: {e} (check the Serialize implementation of its type)"
            ))
        })
    }
}

impl<S> Clone for RemoteServer<S> {
    fn clone(&self) -> Self {
        RemoteServer {
            peer: self.peer.clone(),
            path: self.path,
            instance: self.instance.clone(),
            server: PhantomData,
        }
    }
}

impl<S> std::fmt::Debug for RemoteServer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteServer")
            .field("node", &self.peer.name())
            .field("behaviour", &self.path.wire_name())
            .field("instance", &self.instance)
            .finish()
    }
}
