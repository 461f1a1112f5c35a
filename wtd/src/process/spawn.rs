//! Spawning a process, and the life of its task: run the function until it returns,
//! panics or is killed; then close the mailbox and tell links and monitors why.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;
use tracing::Instrument;

use super::exit::ExitReason;
use super::mailbox::Mailbox;
use super::panic::CatchPanic;
use super::pid::{Pid, ProcessId};
use super::running::Process;
use super::table::{Entry, ProcessTable};

/// How many ordinary messages a mailbox holds unless the spawn says otherwise. Enough
/// for bursts; small enough that a thousand stuck processes cannot eat the memory of a
/// Raspberry Pi (the messages' own size counts too).
pub const DEFAULT_MAILBOX_CAPACITY: usize = 1024;

/// Choices made when spawning, as Erlang's `spawn_opt`.
#[derive(Clone, Debug)]
pub struct SpawnOptions {
    /// How many ordinary messages the mailbox holds before sends to it fail with
    /// [`ProcessError::MailboxFull`](super::ProcessError::MailboxFull). At least 1.
    pub mailbox_capacity: usize,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        SpawnOptions {
            mailbox_capacity: DEFAULT_MAILBOX_CAPACITY,
        }
    }
}

impl ProcessTable {
    /// Starts a process running `body`, and returns its Pid at once.
    ///
    /// `body` gets the process's own [`Process`] handle (its mailbox, its Pid, links and
    /// monitors) and returns a future: the process's life. When the future finishes, the
    /// process ends, with [`ExitReason::Normal`] if it returned `()` or `Ok(())`, with
    /// [`ExitReason::Other`] if it returned `Err(e)`, or with the [`ExitReason`] it
    /// returned. If it panics, only this process ends, with [`ExitReason::Panic`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wtd::process::ProcessError> {
    /// use wtd::process::ProcessTable;
    ///
    /// let table = ProcessTable::new("alice");
    /// let echo = table.spawn(|mut me| async move {
    ///     while let Some(text) = me.receive().await.message() {
    ///         println!("{} got {text}", me.pid());
    ///     }
    /// });
    /// echo.send("hello".to_string())?;
    /// # Ok(()) }
    /// ```
    ///
    /// Needs a tokio runtime, like `tokio::spawn`.
    pub fn spawn<M, F, Fut>(&self, body: F) -> Pid<M>
    where
        M: Send + 'static,
        F: FnOnce(Process<M>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Into<ExitReason>,
    {
        self.spawn_opt(SpawnOptions::default(), body)
    }

    /// [`spawn`](Self::spawn), with [`SpawnOptions`].
    pub fn spawn_opt<M, F, Fut>(&self, options: SpawnOptions, body: F) -> Pid<M>
    where
        M: Send + 'static,
        F: FnOnce(Process<M>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Into<ExitReason>,
    {
        self.spawn_linked(options, None, body)
    }

    /// Spawns, linked from the first instant to `link` if given, so the new process
    /// cannot end unnoticed between its spawn and a later `link`.
    pub(crate) fn spawn_linked<M, F, Fut>(
        &self,
        options: SpawnOptions,
        link: Option<ProcessId>,
        body: F,
    ) -> Pid<M>
    where
        M: Send + 'static,
        F: FnOnce(Process<M>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Into<ExitReason>,
    {
        let id = self.next_id();
        let mailbox = Arc::new(Mailbox::new(options.mailbox_capacity));
        let pid = Pid::new(self.node_name(), id, mailbox.clone());
        let (kill, killed) = watch::channel(None);
        {
            let mut state = self.lock();
            state.processes.insert(id, Entry::new(mailbox, kill));
            if let Some(partner) = link {
                state.link(id, partner);
            }
        }
        let span = tracing::debug_span!("process", pid = %pid);
        let life = body(Process::new(pid.clone(), self.clone()));
        tokio::spawn(run(self.clone(), pid.clone(), life, killed).instrument(span));
        tracing::debug!(pid = %pid, "spawned");
        pid
    }
}

/// The task of one process, from spawn to the last news of its end.
async fn run<M, Fut>(
    table: ProcessTable,
    pid: Pid<M>,
    life: Fut,
    mut killed: watch::Receiver<Option<ExitReason>>,
) where
    M: Send + 'static,
    Fut: Future + Send,
    Fut::Output: Into<ExitReason>,
{
    let mut life = CatchPanic::new(life);
    let reason = tokio::select! {
        // A kill that arrived before the first poll wins: the process never runs.
        biased;
        reason = kill_signal(&mut killed) => reason,
        ended = &mut life => match ended {
            Ok(output) => output.into(),
            Err(message) => ExitReason::Panic(message),
        },
    };
    // Publish the reason before anything the process held is dropped: a caller whose
    // reply handle is dropped with the process then finds out why.
    let left = pid.mailbox().close(&reason);
    table.lock().remove_exited(pid.id(), &reason);
    match &reason {
        ExitReason::Normal | ExitReason::Shutdown => tracing::debug!(%reason, "exited"),
        _ => tracing::warn!(%reason, "exited abnormally"),
    }
    drop(life);
    drop(left);
}

/// Waits until someone kills this process, and says with which reason.
async fn kill_signal(killed: &mut watch::Receiver<Option<ExitReason>>) -> ExitReason {
    let reason = match killed.wait_for(Option::is_some).await {
        Ok(reason) => reason.clone(),
        Err(_) => None,
    };
    match reason {
        Some(reason) => reason,
        // The sender lives in the table until this task removes it, so this never
        // happens; if it did, nobody could kill the process any more, so wait forever.
        None => std::future::pending().await,
    }
}
