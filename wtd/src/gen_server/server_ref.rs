//! [`ServerRef`]: how the rest of the program talks to a running gen_server.

use std::time::Duration;

use tokio::time::Instant;

use super::behaviour::GenServer;
use super::reply::ReplyTo;
use super::request::Request;
use crate::process::{ExitReason, Pid, ProcessError, ProcessTable};

/// How long [`ServerRef::call`] and [`ServerRef::stop`] wait: 5 seconds, as
/// `gen_server:call`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A handle on a running gen_server `S`: call it, cast to it, stop it. Cheap to clone.
pub struct ServerRef<S: GenServer> {
    pid: Pid<Request<S>>,
}

impl<S: GenServer> ServerRef<S> {
    pub(crate) fn new(pid: Pid<Request<S>>) -> Self {
        ServerRef { pid }
    }

    /// The server registered as `name` in `table`.
    pub fn whereis(table: &ProcessTable, name: &str) -> Result<Self, ProcessError> {
        table.whereis(name).map(ServerRef::new)
    }

    /// The server's Pid: link to it, monitor it.
    pub fn pid(&self) -> &Pid<Request<S>> {
        &self.pid
    }

    /// Sends `call` and waits up to [`DEFAULT_TIMEOUT`] for the reply.
    pub async fn call(&self, call: S::Call) -> Result<S::Reply, ProcessError> {
        self.call_timeout(call, DEFAULT_TIMEOUT).await
    }

    /// Sends `call` and waits up to `after` for the reply.
    ///
    /// Fails with [`ProcessError::NotAlive`] or [`ProcessError::MailboxFull`] at once if
    /// the call could not be queued; with [`ProcessError::Exited`] if the server ended
    /// before answering (a panic while handling it, say); with
    /// [`ProcessError::Timeout`] if no answer came in time, in which case the server may
    /// still handle it later and its answer is dropped.
    pub async fn call_timeout(
        &self,
        call: S::Call,
        after: Duration,
    ) -> Result<S::Reply, ProcessError> {
        let deadline = Instant::now() + after;
        let (reply_to, answer) = ReplyTo::new();
        self.pid.send(Request::Call(call, reply_to))?;
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(reply)) => Ok(reply),
            // The handle was dropped unanswered. Either the server is ending, and says
            // why in a moment, or it dropped the handle and goes on, and the caller waits
            // out its timeout as in Erlang.
            Ok(Err(_)) => match tokio::time::timeout_at(deadline, self.pid.wait_exit()).await {
                Ok(reason) => Err(ProcessError::Exited {
                    pid: self.pid.to_string(),
                    reason,
                }),
                Err(_) => Err(ProcessError::Timeout { after }),
            },
            Err(_) => Err(ProcessError::Timeout { after }),
        }
    }

    /// Queues `cast` and returns at once. Unlike OTP's `cast`, it says when the cast
    /// could not be queued ([`ProcessError::NotAlive`], [`ProcessError::MailboxFull`]);
    /// it cannot say whether it was handled.
    pub fn cast(&self, cast: S::Cast) -> Result<(), ProcessError> {
        self.pid.send(Request::Cast(cast))
    }

    /// Queues an info message for [`GenServer::handle_info`].
    pub fn info(&self, info: S::Info) -> Result<(), ProcessError> {
        self.pid.send(Request::Info(info))
    }

    /// Stops the server normally and waits up to [`DEFAULT_TIMEOUT`] until it has ended
    /// (its `terminate` has run).
    pub async fn stop(&self) -> Result<(), ProcessError> {
        self.stop_with(ExitReason::Normal, DEFAULT_TIMEOUT).await
    }

    /// Stops the server with `reason` and waits up to `after` until it has ended.
    ///
    /// The stop queues behind the messages already in the mailbox. Fails with
    /// [`ProcessError::Exited`] if the server ended with another reason (it crashed in
    /// `terminate`, or before the stop was handled), and [`ProcessError::Timeout`] if
    /// it has not ended in time.
    pub async fn stop_with(&self, reason: ExitReason, after: Duration) -> Result<(), ProcessError> {
        self.pid.send(Request::Stop(reason.clone()))?;
        self.pid.wait_exit_with(&reason, after).await
    }

    /// Whether the server is still running (see [`Pid::is_alive`]).
    pub fn is_alive(&self) -> bool {
        self.pid.is_alive()
    }

    /// Its exit reason, once it has ended.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.pid.exit_reason()
    }
}

impl<S: GenServer> Clone for ServerRef<S> {
    fn clone(&self) -> Self {
        ServerRef {
            pid: self.pid.clone(),
        }
    }
}

impl<S: GenServer> std::fmt::Debug for ServerRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerRef({})", self.pid)
    }
}
