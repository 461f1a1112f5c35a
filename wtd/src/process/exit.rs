//! Why a process ended, and the two messages that tell others about it: [`Exit`] (through
//! a link, when the partner traps exits) and [`Down`] (through a monitor).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::pid::ProcessId;

/// Why a process ended.
///
/// Only [`ExitReason::Normal`] is harmless to linked partners: every other reason is
/// *abnormal*, and an abnormal exit signal kills a linked process that does not trap
/// exits, as in Erlang.
///
/// It is data (`Serialize + Deserialize`): a node that watches a process of another node
/// through a billet-doux learns why it ended in these words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitReason {
    /// The process finished its work: its function returned `()` or `Ok(())`, or a
    /// gen_server stopped normally. Links do not spread it.
    Normal,
    /// The process was asked to stop, by a `stop` or (later) by its supervisor. Abnormal,
    /// as Erlang's `shutdown`: a linked partner that does not trap exits stops too.
    Shutdown,
    /// The process panicked; the panic's message. Only that process crashed: the panic
    /// was caught at its edge and became this reason.
    Panic(String),
    /// The process was killed by [`ProcessTable::exit`](super::ProcessTable::exit) with
    /// this reason, which no process can trap, or by an exit signal from a linked partner
    /// that was itself killed.
    Killed,
    /// There was no such process: what a monitor or link on a process that had already
    /// exited reports, at once.
    NoProc,
    /// Any other reason, in words: an `Err` the process's function returned, or a reason
    /// given to `exit` or `stop`.
    Other(String),
    /// What a monitor on a process of another node reports when that node left the
    /// proxy's directory (it stopped, crashed or lost its network) before saying the
    /// process ended: the process may still run, cut off, but nothing can reach it. The
    /// node's name. (Erlang's `noconnection`.)
    NodeDown(String),
}

impl ExitReason {
    /// Whether this is a normal exit, the only one links do not spread.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::Panic(message) => write!(f, "panicked: {message}"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::NoProc => f.write_str("no such process"),
            ExitReason::Other(reason) => f.write_str(reason),
            ExitReason::NodeDown(node) => {
                write!(f, "its node `{node}` left the proxy's directory")
            }
        }
    }
}

/// A process function that returns `()` ended normally.
impl From<()> for ExitReason {
    fn from((): ()) -> Self {
        ExitReason::Normal
    }
}

/// A process function that returns `Ok(())` ended normally; `Err(e)` is an abnormal
/// exit whose reason is `e` in words, so `?` inside a process does what it says.
impl<E: fmt::Display> From<Result<(), E>> for ExitReason {
    fn from(result: Result<(), E>) -> Self {
        match result {
            Ok(()) => ExitReason::Normal,
            Err(e) => ExitReason::Other(e.to_string()),
        }
    }
}

/// An exit signal turned into a message, for a process that traps exits
/// ([`Process::trap_exit`](super::Process::trap_exit)): a linked partner ended, or someone
/// called [`ProcessTable::exit`](super::ProcessTable::exit) on this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// Who sent the signal: the linked partner that ended, or the process that called
    /// `exit`. `None` when `exit` was called from outside any process (`main`, a test).
    pub from: Option<ProcessId>,
    /// Why.
    pub reason: ExitReason,
}

/// Names one monitor, so that [`Process::demonitor`](super::Process::demonitor) can
/// remove it and a [`Down`] can be matched to it. Unique within a process table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorRef(pub(crate) u64);

/// A monitored process ended. Each monitor delivers exactly one `Down`, then is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Down {
    /// The monitor this answers, as [`Process::monitor`](super::Process::monitor)
    /// returned it.
    pub monitor: MonitorRef,
    /// The process that ended.
    pub process: ProcessId,
    /// Why it ended; [`ExitReason::NoProc`] if it had already ended when the monitor was
    /// set.
    pub reason: ExitReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_normal_is_normal() {
        assert!(ExitReason::Normal.is_normal());
        assert!(!ExitReason::Shutdown.is_normal());
        assert!(!ExitReason::Killed.is_normal());
    }

    #[test]
    fn function_results_become_reasons() {
        assert_eq!(ExitReason::from(()), ExitReason::Normal);
        assert_eq!(ExitReason::from(Ok::<(), String>(())), ExitReason::Normal);
        assert_eq!(
            ExitReason::from(Err::<(), _>("disk full")),
            ExitReason::Other("disk full".into())
        );
    }
}
