//! [`RemoteSupervisor`]: a supervisor on another node, asked about its children with
//! typed answers.

use std::marker::PhantomData;
use std::time::Duration;

use super::behaviour::Supervisor;
use super::expose::{SupervisorReply, SupervisorRequest};
use super::info::{ChildCounts, ChildError, ChildInfo};
use crate::call::Peer;
use crate::error::{Error, Result};
use crate::gen_server::{BehaviourPath, RemoteInstance};

/// A named supervisor `S` on `peer`'s node, exposed there with
/// `#[wtd_behaviour(mission)]`. Made by the `S::remote(&peer, "name")` the attribute
/// generates. Cheap to clone.
///
/// Each operation is a call signed with the peer's capability key, through the callee's
/// whole pipeline (grant, replay, rate, audit). The outer `Result` says whether the call
/// reached the supervisor ([`Error`]); the inner one, for `restart_child` and
/// `terminate_child`, is the supervisor's own answer ([`ChildError`]).
pub struct RemoteSupervisor<S> {
    instance: RemoteInstance,
    supervisor: PhantomData<fn() -> S>,
}

impl<S: Supervisor> RemoteSupervisor<S> {
    /// The instance registered as `instance` on `peer`'s node, of the behaviour at `path`.
    pub fn new(peer: &Peer, path: BehaviourPath, instance: &str) -> Self {
        RemoteSupervisor {
            instance: RemoteInstance::new(peer, path, instance),
            supervisor: PhantomData,
        }
    }

    /// The same supervisor, with calls that wait at most `timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        RemoteSupervisor {
            instance: self.instance.with_timeout(timeout),
            supervisor: PhantomData,
        }
    }

    /// `mission/behaviour@instance`, as the wire, the audit log and `wtd call` name it.
    pub fn path(&self) -> String {
        self.instance.path()
    }

    /// Every child, in start order.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>> {
        match self.ask(SupervisorRequest::WhichChildren).await? {
            SupervisorReply::Children(children) => Ok(children),
            other => Err(self.unexpected(other)),
        }
    }

    /// How many children, running or not, of each kind.
    pub async fn count_children(&self) -> Result<ChildCounts> {
        match self.ask(SupervisorRequest::CountChildren).await? {
            SupervisorReply::Counts(counts) => Ok(counts),
            other => Err(self.unexpected(other)),
        }
    }

    /// Starts again a child that is not running.
    pub async fn restart_child(&self, id: &str) -> Result<std::result::Result<(), ChildError>> {
        self.done(SupervisorRequest::RestartChild(id.to_string()))
            .await
    }

    /// Stops a child, as its shutdown says; its spec stays (to restart later).
    pub async fn terminate_child(&self, id: &str) -> Result<std::result::Result<(), ChildError>> {
        self.done(SupervisorRequest::TerminateChild(id.to_string()))
            .await
    }

    async fn done(
        &self,
        request: SupervisorRequest,
    ) -> Result<std::result::Result<(), ChildError>> {
        match self.ask(request).await? {
            SupervisorReply::Done => Ok(Ok(())),
            SupervisorReply::Refused(refused) => Ok(Err(refused)),
            other => Err(self.unexpected(other)),
        }
    }

    async fn ask(&self, request: SupervisorRequest) -> Result<SupervisorReply> {
        self.instance.call("the supervisor request", &request).await
    }

    /// A reply of the wrong kind: the other node runs another version of WTD.
    fn unexpected(&self, reply: SupervisorReply) -> Error {
        Error::Invalid(format!(
            "{} answered {reply:?}, which does not answer the question asked: does node `{}` run the same version of WTD?",
            self.path(),
            self.instance.node()
        ))
    }
}

impl<S> Clone for RemoteSupervisor<S> {
    fn clone(&self) -> Self {
        RemoteSupervisor {
            instance: self.instance.clone(),
            supervisor: PhantomData,
        }
    }
}

impl<S> std::fmt::Debug for RemoteSupervisor<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.instance.debug("RemoteSupervisor", f)
    }
}
