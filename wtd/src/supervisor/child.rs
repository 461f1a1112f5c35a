//! [`Child`]: a started child as its supervisor sees it — something it can *watch* (be
//! told once when it ends, with why) and *stop* (ask, then force) — whatever its
//! message type.
//!
//! Today every child is a local process. This is the one place a child on another node
//! will plug in (issue 11, "failover"): a variant holding a `RemotePid`, watched by a
//! remote monitor (its `Down` arrives in the supervisor's mailbox like a local one, also
//! when the node leaves the directory) and stopped by a call to that node. The
//! supervisor's loop only uses `watch`, `stop`, `exit_reason` and `describe`, so it
//! would not change.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::behaviour::Supervisor;
use super::child_spec::Shutdown;
use super::supervisor_ref::SupervisorRef;
use crate::gen_server::{GenServer, ServerRef};
use crate::process::{ExitReason, MonitorRef, Pid, Process, ProcessId};

/// A started child, of any message type: what a [`ChildSpec`](super::ChildSpec)'s start
/// function returns (through `Into<Child>`, from a [`Pid`], a [`ServerRef`] or a
/// [`SupervisorRef`]).
#[derive(Clone)]
pub struct Child {
    process: Arc<dyn LocalProcess>,
}

/// A local process seen without its message type.
trait LocalProcess: Send + Sync {
    fn id(&self) -> ProcessId;
    fn exit_reason(&self) -> Option<ExitReason>;
    fn wait_exit(&self) -> Pin<Box<dyn Future<Output = ExitReason> + Send + '_>>;
    fn describe(&self) -> String;
}

impl<M: Send + 'static> LocalProcess for Pid<M> {
    fn id(&self) -> ProcessId {
        Pid::id(self)
    }

    fn exit_reason(&self) -> Option<ExitReason> {
        Pid::exit_reason(self)
    }

    fn wait_exit(&self) -> Pin<Box<dyn Future<Output = ExitReason> + Send + '_>> {
        Box::pin(Pid::wait_exit(self))
    }

    fn describe(&self) -> String {
        self.to_string()
    }
}

impl Child {
    /// Starts watching: links the child to the supervisor (so a killed supervisor takes
    /// it along) and monitors it (the `Down` is how the supervisor learns it ended).
    pub(crate) fn watch<M: Send + 'static>(&self, supervisor: &Process<M>) -> MonitorRef {
        let (me, child) = (supervisor.pid().id(), self.process.id());
        supervisor.table().link(me, child);
        supervisor.table().monitor(me, child)
    }

    /// Stops the child as `shutdown` says and waits until it has ended; returns why it
    /// ended. No `Down` of `watch` arrives afterwards.
    pub(crate) async fn stop<M: Send + 'static>(
        &self,
        supervisor: &Process<M>,
        watch: MonitorRef,
        shutdown: Shutdown,
    ) -> ExitReason {
        supervisor.demonitor(watch);
        let (table, me, child) = (supervisor.table(), supervisor.pid().id(), self.process.id());
        let ask = |reason| table.send_exit(Some(me), child, reason);
        let reason = match shutdown {
            Shutdown::BrutalKill => {
                ask(ExitReason::Killed);
                self.process.wait_exit().await
            }
            Shutdown::Infinity => {
                ask(ExitReason::Shutdown);
                self.process.wait_exit().await
            }
            Shutdown::Timeout(after) => {
                ask(ExitReason::Shutdown);
                match tokio::time::timeout(after, self.process.wait_exit()).await {
                    Ok(reason) => reason,
                    Err(_) => {
                        tracing::warn!(
                            child = %self.describe(),
                            "did not stop within its shutdown timeout of {after:?}; killed"
                        );
                        ask(ExitReason::Killed);
                        self.process.wait_exit().await
                    }
                }
            }
        };
        table.unlink(me, child);
        reason
    }

    /// Why it ended, once it has.
    pub(crate) fn exit_reason(&self) -> Option<ExitReason> {
        self.process.exit_reason()
    }

    /// `<node.id>`, for `which_children` and logs.
    pub(crate) fn describe(&self) -> String {
        self.process.describe()
    }
}

impl<M: Send + 'static> From<Pid<M>> for Child {
    fn from(pid: Pid<M>) -> Self {
        Child {
            process: Arc::new(pid),
        }
    }
}

impl<S: GenServer> From<ServerRef<S>> for Child {
    fn from(server: ServerRef<S>) -> Self {
        Child::from(server.pid().clone())
    }
}

impl<S: Supervisor> From<SupervisorRef<S>> for Child {
    fn from(supervisor: SupervisorRef<S>) -> Self {
        Child::from(supervisor.pid().clone())
    }
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Child({})", self.describe())
    }
}
