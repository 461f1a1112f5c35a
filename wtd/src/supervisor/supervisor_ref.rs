//! [`SupervisorRef`]: how the rest of the program asks a running supervisor about its
//! children, and [`SupervisorMessage`], what its mailbox holds.

use std::marker::PhantomData;
use std::time::Duration;

use tokio::sync::oneshot;

use super::behaviour::Supervisor;
use super::child_spec::ChildSpec;
use super::info::{ChildCounts, ChildError, ChildInfo};
use crate::process::{ExitReason, Pid, ProcessError, ProcessTable};

/// Where the supervisor's answer goes.
pub(crate) type Answer<T> = oneshot::Sender<T>;

/// One operation a supervisor handles.
pub(crate) enum Op {
    WhichChildren(Answer<Vec<ChildInfo>>),
    CountChildren(Answer<ChildCounts>),
    StartChild(ChildSpec, Answer<Result<(), ChildError>>),
    RestartChild(String, Answer<Result<(), ChildError>>),
    TerminateChild(String, Answer<Result<(), ChildError>>),
    DeleteChild(String, Answer<Result<(), ChildError>>),
    Stop(ExitReason),
}

/// One message to a supervisor `S`: the message type of its process, so its Pid is a
/// `Pid<SupervisorMessage<S>>`. Typed by `S`, so a supervisor of one type is never
/// found under a name as one of another. [`SupervisorRef`] builds these for you.
pub struct SupervisorMessage<S> {
    pub(crate) op: Op,
    supervisor: PhantomData<fn() -> S>,
}

impl<S> SupervisorMessage<S> {
    pub(crate) fn new(op: Op) -> Self {
        SupervisorMessage {
            op,
            supervisor: PhantomData,
        }
    }
}

impl<S> std::fmt::Debug for SupervisorMessage<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.op {
            Op::WhichChildren(_) => "SupervisorMessage::WhichChildren",
            Op::CountChildren(_) => "SupervisorMessage::CountChildren",
            Op::StartChild(..) => "SupervisorMessage::StartChild",
            Op::RestartChild(..) => "SupervisorMessage::RestartChild",
            Op::TerminateChild(..) => "SupervisorMessage::TerminateChild",
            Op::DeleteChild(..) => "SupervisorMessage::DeleteChild",
            Op::Stop(_) => "SupervisorMessage::Stop",
        })
    }
}

/// A handle on a running supervisor `S`. Cheap to clone.
///
/// Each operation waits until the supervisor has done it (stopping a child may take up
/// to its shutdown timeout), as OTP's supervisor calls wait with `infinity`. The outer
/// `Result` says whether the supervisor could be asked (it may have ended:
/// [`ProcessError::NotAlive`], [`ProcessError::Exited`]); the inner one, for operations
/// on one child, is the supervisor's answer.
pub struct SupervisorRef<S: Supervisor> {
    pid: Pid<SupervisorMessage<S>>,
}

impl<S: Supervisor> SupervisorRef<S> {
    pub(crate) fn new(pid: Pid<SupervisorMessage<S>>) -> Self {
        SupervisorRef { pid }
    }

    /// The supervisor registered as `name` in `table`.
    pub fn whereis(table: &ProcessTable, name: &str) -> Result<Self, ProcessError> {
        table.whereis(name).map(SupervisorRef::new)
    }

    /// The supervisor's Pid: link to it, monitor it.
    pub fn pid(&self) -> &Pid<SupervisorMessage<S>> {
        &self.pid
    }

    /// Every child, in start order.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, ProcessError> {
        self.ask(Op::WhichChildren).await
    }

    /// How many children, running or not, of each kind.
    pub async fn count_children(&self) -> Result<ChildCounts, ProcessError> {
        self.ask(Op::CountChildren).await
    }

    /// Adds `child` after the others and starts it. Refused if its id is taken
    /// ([`ChildError::AlreadyPresent`]) or it does not start ([`ChildError::StartFailed`],
    /// and the spec is not kept).
    pub async fn start_child(
        &self,
        child: ChildSpec,
    ) -> Result<Result<(), ChildError>, ProcessError> {
        self.ask(|answer| Op::StartChild(child, answer)).await
    }

    /// Starts again a child that is not running (it was terminated, or it ended and was
    /// not restarted). Refused if it runs ([`ChildError::Running`]).
    pub async fn restart_child(&self, id: &str) -> Result<Result<(), ChildError>, ProcessError> {
        let id = id.to_string();
        self.ask(|answer| Op::RestartChild(id, answer)).await
    }

    /// Stops a child as its [`Shutdown`](super::Shutdown) says, and keeps its spec (to
    /// `restart_child` or `delete_child` later), except a temporary child's, which is
    /// forgotten. Terminating a child that is not running is not an error.
    pub async fn terminate_child(&self, id: &str) -> Result<Result<(), ChildError>, ProcessError> {
        let id = id.to_string();
        self.ask(|answer| Op::TerminateChild(id, answer)).await
    }

    /// Forgets the spec of a child that is not running. Refused if it runs
    /// ([`ChildError::Running`]).
    pub async fn delete_child(&self, id: &str) -> Result<Result<(), ChildError>, ProcessError> {
        let id = id.to_string();
        self.ask(|answer| Op::DeleteChild(id, answer)).await
    }

    /// Stops the supervisor normally: its children stop in reverse start order, each as
    /// its `Shutdown` says; then it ends. Waits at most `after` for all of that.
    pub async fn stop_within(&self, after: Duration) -> Result<(), ProcessError> {
        self.pid
            .send(SupervisorMessage::new(Op::Stop(ExitReason::Normal)))?;
        self.pid.wait_exit_with(&ExitReason::Normal, after).await
    }

    /// [`stop_within`](Self::stop_within) 30 seconds.
    pub async fn stop(&self) -> Result<(), ProcessError> {
        self.stop_within(Duration::from_secs(30)).await
    }

    /// Whether the supervisor is still running.
    pub fn is_alive(&self) -> bool {
        self.pid.is_alive()
    }

    /// Its exit reason, once it has ended (after giving up, say).
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.pid.exit_reason()
    }

    /// Sends one operation and waits for the answer, or for the supervisor's end.
    pub(crate) async fn ask<T>(&self, op: impl FnOnce(Answer<T>) -> Op) -> Result<T, ProcessError> {
        let (answer, answered) = oneshot::channel();
        self.pid.send(SupervisorMessage::new(op(answer)))?;
        match answered.await {
            Ok(value) => Ok(value),
            // A supervisor answers every operation it handles; an answer dropped means it
            // ended with the operation in its mailbox.
            Err(_) => Err(ProcessError::Exited {
                pid: self.pid.to_string(),
                reason: self.pid.wait_exit().await,
            }),
        }
    }
}

impl<S: Supervisor> Clone for SupervisorRef<S> {
    fn clone(&self) -> Self {
        SupervisorRef {
            pid: self.pid.clone(),
        }
    }
}

impl<S: Supervisor> std::fmt::Debug for SupervisorRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SupervisorRef({})", self.pid)
    }
}
