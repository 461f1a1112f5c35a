//! [`ChildSpec`]: one child of a supervisor — its id, how to start it, when to restart it
//! ([`Restart`]), how to stop it ([`Shutdown`]) — and [`Starter`], what its start
//! function is given.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::behaviour::Supervisor;
use super::child::Child;
use super::start::start_with;
use super::supervisor_ref::SupervisorRef;
use crate::call::Peer;
use crate::gen_server::{GenServer, ServerRef};
use crate::process::{
    ExitReason, Pid, Process, ProcessError, ProcessId, ProcessTable, SpawnOptions,
};

/// When a child that ended is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Restart {
    /// Always: a service that must run.
    Permanent,
    /// Only if it ended abnormally (not [`ExitReason::Normal`] nor
    /// [`ExitReason::Shutdown`]): a job that may finish.
    Transient,
    /// Never; its spec is forgotten when it ends: a one-off task.
    Temporary,
}

/// How a supervisor stops a child (when it stops itself, restarts siblings, or is asked
/// to `terminate_child`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shutdown {
    /// Kill it at once, with [`ExitReason::Killed`], which it cannot trap.
    BrutalKill,
    /// Send it [`ExitReason::Shutdown`] (a gen_server started with
    /// [`Starter::gen_server`] then runs `terminate`); if it has not ended after this
    /// long, kill it.
    Timeout(Duration),
    /// Send it [`ExitReason::Shutdown`] and wait as long as it takes: for a child that is
    /// itself a supervisor, which needs the time to stop its own children in order.
    Infinity,
}

/// Whether a child is a worker or a supervisor (what `count_children` counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChildKind {
    /// Does the work.
    Worker,
    /// Supervises children of its own.
    Supervisor,
}

/// The future a start function returns, boxed.
pub(crate) type StartFuture = Pin<Box<dyn Future<Output = Result<Child, ProcessError>> + Send>>;

/// A start function, type-erased so that one supervisor holds children of any types.
type StartFn = Arc<dyn Fn(Starter) -> StartFuture + Send + Sync>;

/// One child: what a supervisor needs to start it, restart it and stop it (OTP's child
/// spec map).
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: String,
    pub(crate) start: StartFn,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) kind: ChildKind,
}

impl ChildSpec {
    /// A worker called `id` (unique among its supervisor's children; 1-64 characters of
    /// `a-z`, `0-9`, `_` and `-`, because other nodes may name it), started by `start`.
    /// [`Restart::Permanent`], shut down with a 5 second timeout, as OTP's defaults.
    ///
    /// `start` runs each time the child (re)starts. It gets a [`Starter`] and returns
    /// what it started: a [`ServerRef`], a [`Pid`] or a [`SupervisorRef`] (anything that
    /// is `Into<Child>`). Start it through the `Starter`, so it is linked to the
    /// supervisor from its first instant.
    pub fn worker<F, Fut, C>(id: &str, start: F) -> Self
    where
        F: Fn(Starter) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<C, ProcessError>> + Send + 'static,
        C: Into<Child>,
    {
        let start: StartFn = Arc::new(move |starter| {
            let started = start(starter);
            Box::pin(async move { started.await.map(Into::into) })
        });
        ChildSpec {
            id: id.to_string(),
            start,
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            kind: ChildKind::Worker,
        }
    }

    /// A child that is itself a supervisor: as [`worker`](Self::worker), but shut down
    /// with [`Shutdown::Infinity`], so it can stop its own children in order.
    pub fn supervisor<F, Fut, C>(id: &str, start: F) -> Self
    where
        F: Fn(Starter) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<C, ProcessError>> + Send + 'static,
        C: Into<Child>,
    {
        ChildSpec {
            shutdown: Shutdown::Infinity,
            kind: ChildKind::Supervisor,
            ..ChildSpec::worker(id, start)
        }
    }

    /// A worker that runs on another node: on the first of `nodes` that is online and
    /// starts it, and when it ends or its node goes away, again on that node if it is
    /// there, else on the next in the list (and round again): **failover from one
    /// machine to another**. `start` is given the [`Peer`] of one node and returns what
    /// it started there, a [`Child::remote`] (or any `Into<Child>`), usually from an
    /// exported "start a worker" function that node granted this one a key for. So each
    /// start is a granted, rate-limited, revocable call like any other: revoking the key
    /// stops further starts there.
    ///
    /// A node the directory does not list is skipped without a call. Each try counts
    /// nothing by itself: the supervisor counts the restart once, and a restart that
    /// finds no node counts as one more, so past its intensity the supervisor gives up,
    /// saying what each node answered.
    pub fn on_nodes<F, Fut, C>(id: &str, nodes: Vec<Peer>, start: F) -> Self
    where
        F: Fn(Peer) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = crate::Result<C>> + Send + 'static,
        C: Into<Child>,
    {
        let nodes = Arc::new(nodes);
        // Where the child ran last: the first node tried at the next start.
        let last = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(start);
        ChildSpec::worker(id, move |_starter| {
            let (nodes, last, start) = (nodes.clone(), last.clone(), start.clone());
            async move {
                let first = last.load(Ordering::Relaxed);
                let mut said = Vec::new();
                for k in 0..nodes.len() {
                    let at = (first + k) % nodes.len();
                    let peer = nodes[at].clone();
                    if !peer.listed() {
                        said.push(format!("`{}` is not online", peer.name()));
                        continue;
                    }
                    match start(peer.clone()).await {
                        Ok(child) => {
                            last.store(at, Ordering::Relaxed);
                            tracing::info!(node = %peer.name(), "started a child on another node");
                            return Ok(child.into());
                        }
                        Err(e) => said.push(format!("`{}`: {e}", peer.name())),
                    }
                }
                if said.is_empty() {
                    said.push("its spec lists no node".into());
                }
                Err(ProcessError::NoNode {
                    why: said.join("; "),
                })
            }
        })
    }

    /// The same child with another [`Restart`].
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// The same child with another [`Shutdown`].
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .finish()
    }
}

/// What a child's start function is given: the supervisor's table, and ways to start a
/// process, a gen_server or a supervisor *linked to the supervisor from its first
/// instant*, so no crash can fall between "started" and "watched", and a supervisor that
/// is killed takes its children with it.
#[derive(Clone, Debug)]
pub struct Starter {
    table: ProcessTable,
    supervisor: ProcessId,
}

impl Starter {
    pub(crate) fn new(table: ProcessTable, supervisor: ProcessId) -> Self {
        Starter { table, supervisor }
    }

    /// The process table the supervisor lives in.
    pub fn table(&self) -> &ProcessTable {
        &self.table
    }

    /// Spawns a process running `body`, linked to the supervisor (see
    /// [`ProcessTable::spawn`]).
    pub fn spawn<M, F, Fut>(&self, body: F) -> Pid<M>
    where
        M: Send + 'static,
        F: FnOnce(Process<M>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Into<ExitReason>,
    {
        self.table
            .spawn_linked(SpawnOptions::default(), Some(self.supervisor), body)
    }

    /// Starts a gen_server linked to the supervisor, as
    /// [`gen_server::start_link`](crate::gen_server::start_link): if it traps exits, a
    /// shutdown runs its `terminate`.
    pub async fn gen_server<S: GenServer>(&self, server: S) -> Result<ServerRef<S>, ProcessError> {
        crate::gen_server::start_with(&self.table, None, Some(self.supervisor), server).await
    }

    /// [`gen_server`](Self::gen_server), registered as `name` (so other nodes can reach
    /// it, if its type is exposed with `#[wtd_behaviour]`).
    pub async fn gen_server_named<S: GenServer>(
        &self,
        name: &str,
        server: S,
    ) -> Result<ServerRef<S>, ProcessError> {
        crate::gen_server::start_with(&self.table, Some(name), Some(self.supervisor), server).await
    }

    /// Starts a supervisor linked to this one: a nested supervisor.
    pub async fn supervisor<S: Supervisor>(
        &self,
        supervisor: S,
    ) -> Result<SupervisorRef<S>, ProcessError> {
        start_with(&self.table, None, Some(self.supervisor), supervisor).await
    }

    /// [`supervisor`](Self::supervisor), registered as `name`.
    pub async fn supervisor_named<S: Supervisor>(
        &self,
        name: &str,
        supervisor: S,
    ) -> Result<SupervisorRef<S>, ProcessError> {
        start_with(&self.table, Some(name), Some(self.supervisor), supervisor).await
    }
}
