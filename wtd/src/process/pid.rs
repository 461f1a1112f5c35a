//! Process ids: [`ProcessId`], a number, and [`Pid<M>`], the typed handle you send with.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use super::error::ProcessError;
use super::exit::ExitReason;
use super::mailbox::Mailbox;

/// A process's number in its [`ProcessTable`](super::ProcessTable): unique on its node
/// for the table's lifetime, never reused. [`Down`](super::Down) and
/// [`Exit`](super::Exit) name processes by it, because they cannot know the message type
/// of the process that ended. Compare it with [`Pid::id`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessId(pub(crate) u64);

impl ProcessId {
    /// The number itself.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The address of a process that takes messages of type `M`: what you
/// [`send`](Pid::send) to, link to and monitor.
///
/// Cheap to clone (a name, a number and a shared pointer to the mailbox), and typed: the
/// compiler refuses to send a process a message it does not understand, where Erlang
/// would deliver it and let the receiver crash or ignore it. `Debug` and `Display` show
/// `<node.id>`, as Erlang shows `<0.42.0>`.
///
/// Sent to another node inside a call or a reply, a `Pid` becomes a billet-doux there: a
/// [`RemotePid`](crate::billet::RemotePid) that may message this one process and nothing
/// else (see the `billet` module). A local `Pid` costs nothing of the sort.
pub struct Pid<M> {
    node: Arc<str>,
    id: ProcessId,
    mailbox: Arc<Mailbox<M>>,
    /// How long a billet-doux made from this Pid stays valid; `None`: as long as the
    /// process lives.
    billet_lifetime: Option<Duration>,
}

impl<M> Pid<M> {
    pub(crate) fn new(node: Arc<str>, id: ProcessId, mailbox: Arc<Mailbox<M>>) -> Self {
        Pid {
            node,
            id,
            mailbox,
            billet_lifetime: None,
        }
    }

    /// The same Pid, but when it is sent to another node the right it gives there (its
    /// billet-doux) expires after `lifetime`. Without this, the right lasts as long as the
    /// process.
    pub fn expiring_after(&self, lifetime: Duration) -> Self {
        Pid {
            billet_lifetime: Some(lifetime),
            ..self.clone()
        }
    }

    pub(crate) fn billet_lifetime(&self) -> Option<Duration> {
        self.billet_lifetime
    }

    /// The process's number on its node.
    pub fn id(&self) -> ProcessId {
        self.id
    }

    /// The name of the node the process runs on.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Puts `message` in the process's mailbox and returns at once, as Erlang's `!`.
    ///
    /// Unlike `!`, it says when the message could not be queued: the process has exited
    /// ([`ProcessError::NotAlive`]) or its mailbox is full
    /// ([`ProcessError::MailboxFull`]). Queued is not handled: to know a message was
    /// handled, ask for a reply (a gen_server call does).
    pub fn send(&self, message: M) -> Result<(), ProcessError> {
        self.mailbox.push_message(message, || self.to_string())
    }

    /// Whether the process is still running. The answer may be stale a moment later:
    /// to act on a process's end, monitor it instead of polling this.
    pub fn is_alive(&self) -> bool {
        self.mailbox.exit_reason().is_none()
    }

    /// How many messages its mailbox holds at most.
    pub fn mailbox_capacity(&self) -> usize {
        self.mailbox.capacity()
    }

    pub(crate) fn mailbox(&self) -> &Arc<Mailbox<M>> {
        &self.mailbox
    }

    /// Why the process ended, once it has; `None` while it runs. Like
    /// [`is_alive`](Self::is_alive), a snapshot: to be told, monitor.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.mailbox.exit_reason()
    }

    /// Waits until the process has ended, and says why.
    pub(crate) async fn wait_exit(&self) -> ExitReason {
        self.mailbox.wait_exit().await
    }

    /// Waits at most `after` for the process to end with `expected` (a behaviour asked
    /// to stop): [`ProcessError::Exited`] if it ended with another reason (it crashed in
    /// `terminate`, or before the stop was handled), [`ProcessError::Timeout`] if it has
    /// not ended in time.
    pub(crate) async fn wait_exit_with(
        &self,
        expected: &ExitReason,
        after: Duration,
    ) -> Result<(), ProcessError> {
        match tokio::time::timeout(after, self.wait_exit()).await {
            Ok(ended) if &ended == expected => Ok(()),
            Ok(ended) => Err(ProcessError::Exited {
                pid: self.to_string(),
                reason: ended,
            }),
            Err(_) => Err(ProcessError::Timeout { after }),
        }
    }
}

impl<M> Clone for Pid<M> {
    fn clone(&self) -> Self {
        Pid {
            node: self.node.clone(),
            id: self.id,
            mailbox: self.mailbox.clone(),
            billet_lifetime: self.billet_lifetime,
        }
    }
}

impl<M> PartialEq for Pid<M> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.node == other.node
    }
}

impl<M> Eq for Pid<M> {}

impl<M> Hash for Pid<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.node.hash(state);
        self.id.hash(state);
    }
}

impl<M> fmt::Display for Pid<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}.{}>", self.node, self.id.0)
    }
}

impl<M> fmt::Debug for Pid<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
