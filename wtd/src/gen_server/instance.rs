//! [`RemoteInstance`]: what every typed handle on a behaviour's named instance on another
//! node holds and does — a gen_server's [`RemoteServer`](super::RemoteServer), a
//! gen_fsm's, an event manager's and a supervisor's. The handles only say which messages
//! their behaviour takes; this signs them, sends them as calls or casts to
//! `mission/behaviour@instance`, and decodes the replies.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::expose::BehaviourPath;
use crate::call::Peer;
use crate::error::{Error, Result};
use crate::wire::{Encoding, Target};

/// A named instance of an exposed behaviour on `peer`'s node. Cheap to clone.
#[derive(Clone)]
pub(crate) struct RemoteInstance {
    peer: Peer,
    path: BehaviourPath,
    instance: String,
}

impl RemoteInstance {
    /// The instance registered as `instance` on `peer`'s node, of the behaviour at `path`.
    pub(crate) fn new(peer: &Peer, path: BehaviourPath, instance: &str) -> Self {
        RemoteInstance {
            peer: peer.clone(),
            path,
            instance: instance.to_string(),
        }
    }

    /// The same instance, with calls that wait at most `timeout`.
    pub(crate) fn with_timeout(&self, timeout: Duration) -> Self {
        RemoteInstance {
            peer: self.peer.with_timeout(timeout),
            ..self.clone()
        }
    }

    /// `mission/behaviour@instance`, as the wire, the audit log and `wtd call` name it.
    pub(crate) fn path(&self) -> String {
        self.target().path()
    }

    /// The node it runs on.
    pub(crate) fn node(&self) -> &str {
        self.peer.name()
    }

    fn target(&self) -> Target {
        Target::Behaviour {
            mission: self.path.mission.to_string(),
            behaviour: self.path.wire_name(),
            instance: self.instance.clone(),
        }
    }

    /// Sends `message` as a call and waits for the reply, at most the peer's timeout
    /// (which is also how long the call lives: the callee gives up on its process then
    /// too). `what` names the message in an encoding error ("the event").
    pub(crate) async fn call<M: Serialize, R: DeserializeOwned>(
        &self,
        what: &str,
        message: &M,
    ) -> Result<R> {
        let bytes = self
            .peer
            .call_target(
                self.target(),
                Encoding::Postcard,
                self.encode(what, message)?,
            )
            .await?;
        self.peer.decode::<R>(&bytes)
    }

    /// Sends `message` as a cast: returns once the proxy has queued it.
    pub(crate) async fn cast<M: Serialize>(&self, what: &str, message: &M) -> Result<()> {
        self.peer
            .cast_target(
                self.target(),
                Encoding::Postcard,
                self.encode(what, message)?,
            )
            .await
    }

    /// Encodes a message: a Pid in it becomes a billet-doux given to the peer's node.
    fn encode<M: Serialize>(&self, what: &str, message: &M) -> Result<Vec<u8>> {
        self.peer.encode_raw(message).map_err(|e| {
            Error::Invalid(format!(
                "{what} cannot be encoded: {e} (check the Serialize implementation of its type)"
            ))
        })
    }

    /// `Handle { node, behaviour, instance }`, for the handles' `Debug`.
    pub(crate) fn debug(&self, handle: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(handle)
            .field("node", &self.peer.name())
            .field("behaviour", &self.path.wire_name())
            .field("instance", &self.instance)
            .finish()
    }
}
