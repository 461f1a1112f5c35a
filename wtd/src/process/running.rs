//! [`Process`]: a running process's handle on itself — its mailbox, its Pid, and the
//! links, monitors and exit signals it sends.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::exit::{ExitReason, MonitorRef};
use super::mailbox::Received;
use super::pid::Pid;
use super::spawn::SpawnOptions;
use super::table::ProcessTable;

/// What a process's function is given: its own side of the process.
///
/// Only the process holds it (it is not `Clone`), so only the process receives from its
/// mailbox; everyone else holds a [`Pid`] and can only send.
pub struct Process<M> {
    pid: Pid<M>,
    table: ProcessTable,
}

impl<M: Send + 'static> Process<M> {
    pub(crate) fn new(pid: Pid<M>, table: ProcessTable) -> Self {
        Process { pid, table }
    }

    /// This process's own Pid (Erlang's `self()`), to hand to others so they can answer.
    pub fn pid(&self) -> &Pid<M> {
        &self.pid
    }

    /// The table this process lives in, to spawn, name or look up others.
    pub fn table(&self) -> &ProcessTable {
        &self.table
    }

    /// Waits for the oldest message or signal in the mailbox, for as long as it takes.
    pub async fn receive(&mut self) -> Received<M> {
        let mailbox = self.pid.mailbox();
        loop {
            if let Some(received) = mailbox.take_first(&mut |_| true) {
                return received;
            }
            mailbox.arrival().await;
        }
    }

    /// Waits at most `after` for the oldest message or signal; `None` if nothing came
    /// (Erlang's `receive … after`). `Duration::ZERO` only looks.
    pub async fn receive_timeout(&mut self, after: Duration) -> Option<Received<M>> {
        self.receive_matching(after, |_| true).await
    }

    /// Selective receive: waits at most `after` for the oldest entry that `wanted`
    /// accepts, and leaves the others in the mailbox, in order, for later receives.
    ///
    /// Handy to wait for one particular reply or `Down` while other messages queue up.
    /// Skipped messages still count against the mailbox's capacity, and each arrival
    /// scans the mailbox again, so keep `wanted` cheap and do not leave piles unmatched.
    /// `wanted` runs while the mailbox is locked: it must only look at the message (no
    /// sends, no process-table calls), or it deadlocks.
    pub async fn receive_matching(
        &mut self,
        after: Duration,
        mut wanted: impl FnMut(&Received<M>) -> bool,
    ) -> Option<Received<M>> {
        let deadline = Instant::now() + after;
        let mailbox = self.pid.mailbox();
        loop {
            if let Some(received) = mailbox.take_first(&mut wanted) {
                return Some(received);
            }
            if tokio::time::timeout_at(deadline, mailbox.arrival())
                .await
                .is_err()
            {
                return None;
            }
        }
    }

    /// With `true`, exit signals from links (and from `exit`) arrive as
    /// [`Received::Exit`] messages instead of ending this process; only
    /// [`ExitReason::Killed`] sent with `exit` still ends it. This is how a process
    /// watches over the processes it links to.
    pub fn trap_exit(&self, on: bool) {
        self.table.set_trap_exit(self.pid.id(), on);
    }

    /// Links this process with `other`, both ways: when either ends abnormally, the other
    /// ends too, or gets an [`Exit`](super::Exit) message if it traps exits. If `other`
    /// has already ended, this process gets the exit signal
    /// [`ExitReason::NoProc`] at once (as in Erlang).
    pub fn link<N>(&self, other: &Pid<N>) {
        self.table.link(self.pid.id(), other.id());
    }

    /// Removes the link with `other`, if any.
    pub fn unlink<N>(&self, other: &Pid<N>) {
        self.table.unlink(self.pid.id(), other.id());
    }

    /// Watches `other`: when it ends, this process gets exactly one
    /// [`Received::Down`] with the reason (at once, with [`ExitReason::NoProc`], if it
    /// has already ended). Monitoring never ends this process.
    pub fn monitor<N>(&self, other: &Pid<N>) -> MonitorRef {
        self.table.monitor(self.pid.id(), other.id())
    }

    /// Stops a monitor. A `Down` it already delivered to the mailbox is removed too
    /// (Erlang's `demonitor(Ref, [flush])`), so after this no `Down` for it is received.
    pub fn demonitor(&self, monitor: MonitorRef) {
        self.table.demonitor(self.pid.id(), monitor);
        self.pid.mailbox().remove_down(monitor);
    }

    /// Sends an exit signal to `other`, from this process: see [`ProcessTable::exit`].
    pub fn exit<N>(&self, other: &Pid<N>, reason: ExitReason) {
        self.table
            .send_exit(Some(self.pid.id()), other.id(), reason);
    }

    /// Spawns a process linked to this one from its first instant (Erlang's
    /// `spawn_link`): see [`ProcessTable::spawn`].
    pub fn spawn_link<N, F, Fut>(&self, body: F) -> Pid<N>
    where
        N: Send + 'static,
        F: FnOnce(Process<N>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Into<ExitReason>,
    {
        self.table
            .spawn_linked(SpawnOptions::default(), Some(self.pid.id()), body)
    }
}

impl<M> std::fmt::Debug for Process<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process").field("pid", &self.pid).finish()
    }
}
