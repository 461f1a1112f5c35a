//! [`RemoteServer`]: a gen_server on another node, called and cast to with the same
//! types as a local [`ServerRef`](super::ServerRef), checked by rustc.

use std::marker::PhantomData;
use std::time::Duration;

use super::behaviour::GenServer;
use super::expose::{BehaviourPath, Message};
use super::instance::RemoteInstance;
use crate::call::Peer;
use crate::error::Result;

/// A named gen_server `S` on `peer`'s node, exposed there with
/// `#[wtd_behaviour(mission)]`. Made by the `S::remote(&peer, "name")` the attribute
/// generates. Cheap to clone.
///
/// Every call and cast is signed with the peer's capability key and goes through the
/// callee's whole pipeline (grant, replay, rate, audit), exactly as a call to an exported
/// function does.
pub struct RemoteServer<S> {
    instance: RemoteInstance,
    server: PhantomData<fn() -> S>,
}

impl<S: GenServer> RemoteServer<S> {
    /// The instance registered as `instance` on `peer`'s node, of the behaviour at `path`.
    pub fn new(peer: &Peer, path: BehaviourPath, instance: &str) -> Self {
        RemoteServer {
            instance: RemoteInstance::new(peer, path, instance),
            server: PhantomData,
        }
    }

    /// The same server, with calls that wait at most `timeout` (the peer's by default).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        RemoteServer {
            instance: self.instance.with_timeout(timeout),
            server: PhantomData,
        }
    }

    /// `mission/behaviour@instance`, as the wire, the audit log and `wtd call` name it.
    pub fn path(&self) -> String {
        self.instance.path()
    }

    /// Sends `call` and waits for the reply, at most the peer's timeout (which is also
    /// how long the call lives: the callee gives up on its server then too).
    ///
    /// Fails with the callee's refusal (`Denied`, `RateLimited`, `NoSuchInstance`, …),
    /// [`Error::ServerFailed`](crate::Error::ServerFailed) if the server ended or took too
    /// long, or [`Error::Timeout`](crate::Error::Timeout) if no answer came back in time.
    pub async fn call(&self, call: S::Call) -> Result<S::Reply>
    where
        S::Call: Message,
        S::Reply: Message,
    {
        self.instance.call("the message", &call).await
    }

    /// Sends `cast` and returns once the proxy has queued it; it cannot say whether the
    /// server handled it (the callee's audit log does).
    pub async fn cast(&self, cast: S::Cast) -> Result<()>
    where
        S::Cast: Message,
    {
        self.instance.cast("the message", &cast).await
    }
}

impl<S> Clone for RemoteServer<S> {
    fn clone(&self) -> Self {
        RemoteServer {
            instance: self.instance.clone(),
            server: PhantomData,
        }
    }
}

impl<S> std::fmt::Debug for RemoteServer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.instance.debug("RemoteServer", f)
    }
}
