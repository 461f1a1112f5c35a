//! [`FsmRef`]: how the rest of the program talks to a running state machine.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::behaviour::GenFsm;
use super::request::FsmRequest;
use crate::gen_server::{DEFAULT_TIMEOUT, ReplyTo};
use crate::process::{ExitReason, Pid, ProcessError, ProcessTable};

/// A handle on a running state machine `F`: send it events, ask it, stop it. Cheap to
/// clone.
pub struct FsmRef<F: GenFsm> {
    pid: Pid<FsmRequest<F>>,
}

impl<F: GenFsm> FsmRef<F> {
    pub(crate) fn new(pid: Pid<FsmRequest<F>>) -> Self {
        FsmRef { pid }
    }

    /// The machine registered as `name` in `table`.
    pub fn whereis(table: &ProcessTable, name: &str) -> Result<Self, ProcessError> {
        table.whereis(name).map(FsmRef::new)
    }

    /// The machine's Pid: link to it, monitor it.
    pub fn pid(&self) -> &Pid<FsmRequest<F>> {
        &self.pid
    }

    /// Queues `event` and returns at once (OTP's `gen_fsm:send_event`). Fails with
    /// [`ProcessError::NotAlive`] or [`ProcessError::MailboxFull`] if it could not be
    /// queued; it cannot say whether it was handled.
    pub fn send_event(&self, event: F::Event) -> Result<(), ProcessError> {
        self.pid.send(FsmRequest::Event(event))
    }

    /// Sends `call` and waits up to [`DEFAULT_TIMEOUT`] for the reply
    /// (`gen_fsm:sync_send_event/2`).
    pub async fn sync_send_event(&self, call: F::Call) -> Result<F::Reply, ProcessError> {
        self.sync_send_event_timeout(call, DEFAULT_TIMEOUT).await
    }

    /// Sends `call` and waits up to `after` for the reply (`gen_fsm:sync_send_event/3`).
    ///
    /// Fails as [`ServerRef::call_timeout`](crate::gen_server::ServerRef::call_timeout)
    /// does: `NotAlive`/`MailboxFull` at once, `Exited` if the machine ended first,
    /// `Timeout` if no answer came in time, which includes a call the machine postponed
    /// and did not get back to in time (it may still handle it later; the answer is then
    /// dropped).
    pub async fn sync_send_event_timeout(
        &self,
        call: F::Call,
        after: Duration,
    ) -> Result<F::Reply, ProcessError> {
        let (reply_to, answer) = ReplyTo::new();
        self.ask(FsmRequest::Call(call, reply_to), answer, after)
            .await
    }

    /// The state the machine is in, asked through its mailbox (so after every event
    /// queued before), for tests and debugging, as OTP's `sys:get_state`. Waits up to
    /// [`DEFAULT_TIMEOUT`]. The callbacks never see this request.
    pub async fn state(&self) -> Result<F::State, ProcessError> {
        let (tx, rx) = oneshot::channel();
        self.ask(FsmRequest::State(tx), rx, DEFAULT_TIMEOUT).await
    }

    /// Queues an info message for [`GenFsm::handle_event`] ([`FsmEvent::Info`](super::FsmEvent::Info)).
    pub fn info(&self, info: F::Info) -> Result<(), ProcessError> {
        self.pid.send(FsmRequest::Info(info))
    }

    /// Stops the machine normally and waits up to [`DEFAULT_TIMEOUT`] until it has ended
    /// (its `terminate` has run).
    pub async fn stop(&self) -> Result<(), ProcessError> {
        self.stop_with(ExitReason::Normal, DEFAULT_TIMEOUT).await
    }

    /// Stops the machine with `reason` and waits up to `after` until it has ended. The
    /// stop queues behind the messages already in the mailbox (not behind postponed
    /// events: those are dropped, and their callers told the machine ended).
    pub async fn stop_with(&self, reason: ExitReason, after: Duration) -> Result<(), ProcessError> {
        self.pid.send(FsmRequest::Stop(reason.clone()))?;
        self.pid.wait_exit_with(&reason, after).await
    }

    /// Whether the machine is still running (see [`Pid::is_alive`]).
    pub fn is_alive(&self) -> bool {
        self.pid.is_alive()
    }

    /// Its exit reason, once it has ended.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.pid.exit_reason()
    }

    /// Queues `request` and waits up to `after` for its answer on `answer`.
    async fn ask<T>(
        &self,
        request: FsmRequest<F>,
        answer: oneshot::Receiver<T>,
        after: Duration,
    ) -> Result<T, ProcessError> {
        let deadline = Instant::now() + after;
        self.pid.send(request)?;
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(reply)) => Ok(reply),
            // Dropped unanswered: the machine is ending (and says why in a moment), or
            // it dropped the handle and goes on, and the caller waits out its timeout.
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
}

impl<F: GenFsm> Clone for FsmRef<F> {
    fn clone(&self) -> Self {
        FsmRef {
            pid: self.pid.clone(),
        }
    }
}

impl<F: GenFsm> std::fmt::Debug for FsmRef<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FsmRef({})", self.pid)
    }
}
