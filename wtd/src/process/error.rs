//! What can go wrong with local processes and gen_servers, each a sentence with a hint.

use std::time::Duration;

use super::exit::ExitReason;

/// Everything that can go wrong sending to, naming, calling or starting a local process.
///
/// Kept apart from [`crate::Error`], which is about other nodes: these errors never
/// involve the network. `Debug` prints the same sentence as `Display`.
#[derive(thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessError {
    /// The process has exited (or never existed), so it cannot receive anything.
    #[error("process {pid} is not alive: it has exited; monitor it to learn when and why")]
    NotAlive {
        /// The process, as `<node.id>`.
        pid: String,
    },

    /// The process's mailbox holds as many messages as it may; this one was not queued.
    #[error(
        "the mailbox of process {pid} is full ({capacity} messages): it is not keeping up; send later, or give it a larger mailbox when you spawn it"
    )]
    MailboxFull {
        /// The process, as `<node.id>`.
        pid: String,
        /// Its mailbox's capacity.
        capacity: usize,
    },

    /// Another living process already has this name.
    #[error(
        "the name `{name}` is taken by another process: pick another name, or use the one that holds it (whereis)"
    )]
    NameTaken {
        /// The name.
        name: String,
    },

    /// A process has at most one name.
    #[error("process {pid} already has the name `{name}`: unregister it first")]
    AlreadyNamed {
        /// The process, as `<node.id>`.
        pid: String,
        /// The name it has.
        name: String,
    },

    /// No living process has this name.
    #[error(
        "no process is registered as `{name}`: it was never registered, or its process has exited"
    )]
    NotRegistered {
        /// The name.
        name: String,
    },

    /// The name is not 1-64 characters of `a-z`, `0-9`, `_` and `-`.
    #[error(
        "`{name}` cannot be a process name: use 1-64 characters of a-z, 0-9, _ and - (names may later be called from other nodes)"
    )]
    BadName {
        /// The name, as given.
        name: String,
    },

    /// The process registered under this name takes another type of message.
    #[error(
        "the process registered as `{name}` takes messages of type `{actual}`, not `{expected}`: look it up with the type it was spawned with"
    )]
    WrongMessageType {
        /// The name.
        name: String,
        /// The message type asked for.
        expected: &'static str,
        /// The message type of the process.
        actual: &'static str,
    },

    /// A call got no reply in time. The server may still handle it later.
    #[error(
        "the call got no reply within {after:?}: the server is busy or stuck, and the outcome is unknown (it may still run); try again with a longer timeout, or check the server"
    )]
    Timeout {
        /// How long the caller waited.
        after: Duration,
    },

    /// The server ended while the call was in its mailbox or being handled.
    #[error("server {pid} exited during the call ({reason}): the call may or may not have run")]
    Exited {
        /// The server, as `<node.id>`.
        pid: String,
        /// Why it ended.
        reason: ExitReason,
    },

    /// A child meant to run on another node could not be started on any of the nodes
    /// its spec lists.
    #[error("no node could start it: {why}")]
    NoNode {
        /// What each node said, or that it was not online.
        why: String,
    },

    /// A gen_server's `init` refused to start.
    #[error("the server did not start: its init returned {reason}")]
    InitFailed {
        /// What `init` returned, or how the process ended during `init`.
        reason: ExitReason,
    },
}

impl std::fmt::Debug for ProcessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
