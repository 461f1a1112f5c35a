//! [`Child`]: a started child as its supervisor sees it — something it can *watch* (be
//! told once when it ends, with why) and *stop* (ask, then force) — whatever its
//! message type.
//!
//! A child is a local process, or a process on another node (a [`RemotePid`], started
//! there by a call the supervisor's node was granted): that one is watched by a remote
//! monitor, whose `Down` arrives in the supervisor's mailbox like a local one — also, with
//! [`ExitReason::NodeDown`], when its node leaves the directory — and stopped by sending
//! it the stop message it was given ([`Child::remote`]). The supervisor's loop only uses
//! `watch`, `stop`, `exit_reason` and `describe`, so it does not know which is which.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::behaviour::Supervisor;
use super::child_spec::Shutdown;
use super::supervisor_ref::SupervisorRef;
use crate::billet::RemotePid;
use crate::gen_server::{GenServer, ServerRef};
use crate::process::{ExitReason, MonitorRef, Pid, Process, ProcessId, ProcessTable};

/// A started child, of any message type: what a [`ChildSpec`](super::ChildSpec)'s start
/// function returns (through `Into<Child>`, from a [`Pid`], a [`ServerRef`] or a
/// [`SupervisorRef`]).
#[derive(Clone)]
pub struct Child {
    process: Place,
}

/// Where a child runs.
#[derive(Clone)]
enum Place {
    Here(Arc<dyn LocalProcess>),
    Away(Arc<dyn RemoteProcess>),
}

/// A process of another node seen without its message type.
trait RemoteProcess: Send + Sync {
    fn monitor(&self, table: &ProcessTable, watcher: ProcessId) -> MonitorRef;
    /// Sends the stop message, if the child has one; `Err` in words.
    fn ask_to_stop(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
    fn describe(&self) -> String;
}

/// A [`RemotePid`] and the message that asks its process to stop, if any.
struct Away<M> {
    pid: RemotePid<M>,
    stop: Mutex<Option<M>>,
}

impl<M: Serialize + Send + 'static> RemoteProcess for Away<M> {
    fn monitor(&self, table: &ProcessTable, watcher: ProcessId) -> MonitorRef {
        self.pid.monitor_from(table, watcher)
    }

    fn ask_to_stop(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        let stop = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
        Box::pin(async move {
            match stop {
                Some(message) => self.pid.send(message).await.map_err(|e| e.to_string()),
                None => Err("it has no stop message (see `Child::remote`), so it was left running on its node".into()),
            }
        })
    }

    fn describe(&self) -> String {
        self.pid.to_string()
    }
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
    /// A process of another node, as a start function returns it: usually the Pid an
    /// exported "start a worker" function of that node handed back. The supervisor
    /// watches it with a remote monitor, and to stop it sends it `stop` (a process
    /// cannot be killed from another node: a billet is a right to message it, no more).
    pub fn remote<M: Serialize + Send + Sync + 'static>(pid: RemotePid<M>, stop: M) -> Child {
        Child {
            process: Place::Away(Arc::new(Away {
                pid,
                stop: Mutex::new(Some(stop)),
            })),
        }
    }

    /// Starts watching: links the child to the supervisor (so a killed supervisor takes
    /// it along) and monitors it (the `Down` is how the supervisor learns it ended). A
    /// child on another node is monitored only.
    pub(crate) fn watch<M: Send + 'static>(&self, supervisor: &Process<M>) -> MonitorRef {
        let me = supervisor.pid().id();
        match &self.process {
            Place::Here(process) => {
                let child = process.id();
                supervisor.table().link(me, child);
                supervisor.table().monitor(me, child)
            }
            Place::Away(process) => process.monitor(supervisor.table(), me),
        }
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
        let process = match &self.process {
            Place::Here(process) => process,
            Place::Away(process) => return stop_away(process.as_ref(), shutdown).await,
        };
        let (table, me, child) = (supervisor.table(), supervisor.pid().id(), process.id());
        let ask = |reason| table.send_exit(Some(me), child, reason);
        let reason = match shutdown {
            Shutdown::BrutalKill => {
                ask(ExitReason::Killed);
                process.wait_exit().await
            }
            Shutdown::Infinity => {
                ask(ExitReason::Shutdown);
                process.wait_exit().await
            }
            Shutdown::Timeout(after) => {
                ask(ExitReason::Shutdown);
                match tokio::time::timeout(after, process.wait_exit()).await {
                    Ok(reason) => reason,
                    Err(_) => {
                        tracing::warn!(
                            child = %self.describe(),
                            "did not stop within its shutdown timeout of {after:?}; killed"
                        );
                        ask(ExitReason::Killed);
                        process.wait_exit().await
                    }
                }
            }
        };
        table.unlink(me, child);
        reason
    }

    /// Why it ended, once it has (for a child on another node, its `Down` says).
    pub(crate) fn exit_reason(&self) -> Option<ExitReason> {
        match &self.process {
            Place::Here(process) => process.exit_reason(),
            Place::Away(_) => None,
        }
    }

    /// `<node.id>`, for `which_children` and logs.
    pub(crate) fn describe(&self) -> String {
        match &self.process {
            Place::Here(process) => process.describe(),
            Place::Away(process) => process.describe(),
        }
    }
}

/// Stops a child on another node: sends its stop message, waiting at most the
/// shutdown's timeout for its node to take it. Its monitor was already removed, so the
/// supervisor does not wait for the exit itself (its node may be gone).
async fn stop_away(process: &dyn RemoteProcess, shutdown: Shutdown) -> ExitReason {
    let limit = match shutdown {
        Shutdown::Timeout(after) => after,
        Shutdown::BrutalKill | Shutdown::Infinity => STOP_AWAY_LIMIT,
    };
    match tokio::time::timeout(limit, process.ask_to_stop()).await {
        Ok(Ok(())) => ExitReason::Shutdown,
        Ok(Err(why)) => {
            tracing::warn!(child = %process.describe(), "could not ask the child on another node to stop: {why}");
            ExitReason::Shutdown
        }
        Err(_) => {
            tracing::warn!(child = %process.describe(), "its node did not take the stop message within {limit:?}");
            ExitReason::Shutdown
        }
    }
}

/// How long a supervisor waits for another node to take a child's stop message when
/// the child's shutdown names no timeout.
const STOP_AWAY_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

impl<M: Send + 'static> From<Pid<M>> for Child {
    fn from(pid: Pid<M>) -> Self {
        Child {
            process: Place::Here(Arc::new(pid)),
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
