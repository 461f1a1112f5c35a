//! The process table: every living process of one node, by number, with its name, its
//! links and its monitors.
//!
//! One mutex guards the whole table. Linking, monitoring, naming and exiting each touch
//! two processes at once (both ends of a link, the watcher and the watched); doing each
//! under the one lock means a process is either alive and linked, or gone and its
//! partners told, never half of each. The lock is held for a few map operations, never
//! across an `.await`.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use super::exit::{Down, Exit, ExitReason, MonitorRef};
use super::mailbox::{Mailbox, Received};
use super::pid::ProcessId;

/// The processes of one node (or of one test): spawn them here, name them here, and send
/// exit signals here. Cheap to clone: clones share the table.
///
/// A table needs no running [`Node`](crate::Node): processes, links, monitors and
/// gen_servers all work in a plain tokio program or test. A node will own one table and
/// hand it sends that arrive from other nodes, by [`ProcessId`].
///
/// Spawning needs a tokio runtime (processes are tokio tasks).
#[derive(Clone)]
pub struct ProcessTable {
    inner: Arc<Inner>,
}

struct Inner {
    /// The node's name, which every [`Pid`](super::Pid) of this table carries.
    node: Arc<str>,
    /// The next process number; numbers are never reused, so a stale `ProcessId` can
    /// never reach a newer process.
    next_id: AtomicU64,
    /// The next monitor number.
    next_monitor: AtomicU64,
    state: Mutex<TableState>,
}

/// What the table's lock guards.
#[derive(Default)]
pub(crate) struct TableState {
    pub(crate) processes: HashMap<ProcessId, Entry>,
    pub(crate) names: HashMap<String, ProcessId>,
}

/// One living process, as the table sees it: what others may do to it, without knowing
/// its message type.
pub(crate) struct Entry {
    /// Its registered name, if any.
    pub(crate) name: Option<String>,
    /// Whether exit signals reach it as [`Exit`] messages instead of killing it.
    pub(crate) trap_exit: bool,
    /// Its linked partners. Links go both ways: each partner lists this one too.
    pub(crate) links: HashSet<ProcessId>,
    /// Monitors set on this process, and which process set each.
    pub(crate) watchers: HashMap<MonitorRef, ProcessId>,
    /// Monitors this process set, and on whom, so they are removed when it ends.
    pub(crate) watching: HashMap<MonitorRef, ProcessId>,
    /// Monitors this process set on processes of other nodes (through billets-doux): the
    /// task watching each, stopped when this process ends or demonitors.
    pub(crate) watching_remote: HashMap<MonitorRef, tokio::task::AbortHandle>,
    /// Its mailbox, for exit and down messages (type-erased).
    pub(crate) signals: Arc<dyn SignalSink>,
    /// Its mailbox again, as `Any`, so that `whereis` can hand out a typed `Pid`.
    pub(crate) mailbox: Arc<dyn Any + Send + Sync>,
    /// The name of its message type, for `whereis`'s error.
    pub(crate) message_type: &'static str,
    /// Set to kill it: its task stops at its next `.await` and exits with this reason.
    pub(crate) kill: watch::Sender<Option<ExitReason>>,
}

/// A mailbox that accepts exit and down messages, whatever its message type.
pub(crate) trait SignalSink: Send + Sync {
    fn exit(&self, exit: Exit);
    fn down(&self, down: Down);
}

impl<M: Send> SignalSink for Mailbox<M> {
    fn exit(&self, exit: Exit) {
        self.push_signal(Received::Exit(exit));
    }

    fn down(&self, down: Down) {
        self.push_signal(Received::Down(down));
    }
}

impl Entry {
    pub(crate) fn new<M: Send + 'static>(
        mailbox: Arc<Mailbox<M>>,
        kill: watch::Sender<Option<ExitReason>>,
    ) -> Self {
        Entry {
            name: None,
            trap_exit: false,
            links: HashSet::new(),
            watchers: HashMap::new(),
            watching: HashMap::new(),
            watching_remote: HashMap::new(),
            signals: mailbox.clone(),
            mailbox,
            message_type: std::any::type_name::<M>(),
            kill,
        }
    }

    /// Kills the process with `reason`, unless something else already did.
    pub(crate) fn kill(&self, reason: ExitReason) {
        self.kill.send_if_modified(|slot| {
            if slot.is_none() {
                *slot = Some(reason);
                true
            } else {
                false
            }
        });
    }
}

impl ProcessTable {
    /// An empty table for the node called `node` (the name only labels its Pids).
    pub fn new(node: impl Into<String>) -> Self {
        ProcessTable {
            inner: Arc::new(Inner {
                node: Arc::from(node.into()),
                next_id: AtomicU64::new(1),
                next_monitor: AtomicU64::new(1),
                state: Mutex::new(TableState::default()),
            }),
        }
    }

    /// The name of the node whose processes these are.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// How many processes are alive.
    pub fn len(&self) -> usize {
        self.lock().processes.len()
    }

    /// Whether no process is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn node_name(&self) -> Arc<str> {
        self.inner.node.clone()
    }

    pub(crate) fn next_id(&self) -> ProcessId {
        ProcessId(self.inner.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn next_monitor(&self) -> MonitorRef {
        MonitorRef(self.inner.next_monitor.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TableState> {
        // Nothing panics while holding this lock; if something ever did, the maps are
        // still usable, so a poisoned lock is used as is.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Two handles are equal when they share one table.
impl PartialEq for ProcessTable {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for ProcessTable {}

impl Default for ProcessTable {
    /// A table for a program that is not (yet) a node: its Pids show `<local.N>`.
    fn default() -> Self {
        ProcessTable::new("local")
    }
}

impl fmt::Debug for ProcessTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessTable")
            .field("node", &self.node())
            .field("processes", &self.len())
            .finish()
    }
}
