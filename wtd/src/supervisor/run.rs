//! The loop a supervisor's process runs: start the children, then wait for news — an
//! operation asked through a [`SupervisorRef`](super::SupervisorRef), a child's end, or
//! its parent's — and act on it by the spec's strategy.

use std::collections::BTreeSet;

use tokio::time::Instant;

use super::behaviour::{Strategy, Supervisor, SupervisorSpec};
use super::child::Child;
use super::child_spec::{ChildKind, ChildSpec, Restart, Starter};
use super::info::{ChildCounts, ChildError, ChildInfo};
use super::intensity::RestartLog;
use super::supervisor_ref::{Op, SupervisorMessage};
use crate::process::Started;
use crate::process::{
    CatchPanic, Down, ExitReason, MonitorRef, Process, ProcessError, ProcessId, Received,
};

/// The whole life of a supervisor process; returns its exit reason.
pub(crate) async fn supervise<S: Supervisor>(
    mut supervisor: S,
    process: Process<SupervisorMessage<S>>,
    name: Option<String>,
    parent: Option<ProcessId>,
    started: Started,
) -> ExitReason {
    if let Some(name) = name
        && let Err(refused) = process.table().register(&name, process.pid())
    {
        unlink_parent(&process, parent);
        let _ = started.send(Err(refused));
        return ExitReason::Normal;
    }
    // Trap exits before any child starts: a child's crash must reach us as news, never
    // end us.
    process.trap_exit(true);
    let spec = match CatchPanic::new(async { supervisor.init() }).await {
        Ok(spec) => spec,
        Err(panicked) => {
            return refuse(&process, parent, started, ExitReason::Panic(panicked));
        }
    };
    if let Err(refused) = check_ids(&spec) {
        return refuse(
            &process,
            parent,
            started,
            ExitReason::Other(refused.to_string()),
        );
    }
    let mut supervision = Supervision::new(process, spec, parent);
    for index in 0..supervision.children.len() {
        if let Err(failed) = supervision.start(index).await {
            supervision.stop_all().await;
            let reason = ExitReason::Other(failed.to_string());
            return refuse(&supervision.process, parent, started, reason);
        }
    }
    let _ = started.send(Ok(()));
    supervision.run().await
}

/// Ends a supervisor that could not start: the starter gets the reason as an error, not
/// through the link as well.
fn refuse<M: Send + 'static>(
    process: &Process<M>,
    parent: Option<ProcessId>,
    started: Started,
    reason: ExitReason,
) -> ExitReason {
    unlink_parent(process, parent);
    let _ = started.send(Err(ProcessError::InitFailed {
        reason: reason.clone(),
    }));
    reason
}

fn unlink_parent<M: Send + 'static>(process: &Process<M>, parent: Option<ProcessId>) {
    if let Some(parent) = parent {
        process.table().unlink(process.pid().id(), parent);
    }
}

/// A supervisor's state.
struct Supervision<S> {
    process: Process<SupervisorMessage<S>>,
    strategy: Strategy,
    restarts: RestartLog,
    /// In start order. A temporary child's slot lives only while it runs.
    children: Vec<Slot>,
    /// The process that started it linked, whose end ends it.
    parent: Option<ProcessId>,
}

struct Slot {
    spec: ChildSpec,
    running: Option<Running>,
}

/// A child that runs, and the monitor that tells when it ends.
struct Running {
    child: Child,
    watch: MonitorRef,
}

impl<S: Supervisor> Supervision<S> {
    fn new(
        process: Process<SupervisorMessage<S>>,
        spec: SupervisorSpec,
        parent: Option<ProcessId>,
    ) -> Self {
        Supervision {
            process,
            strategy: spec.strategy,
            restarts: RestartLog::new(spec.intensity),
            children: spec
                .children
                .into_iter()
                .map(|spec| Slot {
                    spec,
                    running: None,
                })
                .collect(),
            parent,
        }
    }

    async fn run(mut self) -> ExitReason {
        loop {
            match self.process.receive().await {
                Received::Message(message) => match message.op {
                    Op::Stop(reason) => return self.shut_down(reason).await,
                    op => self.handle(op).await,
                },
                Received::Down(down) => {
                    if let Err(gave_up) = self.child_ended(down).await {
                        return gave_up;
                    }
                }
                // Our parent ended (or code outside any process told us to stop): stop
                // the children, then end with the same reason, as an OTP supervisor.
                Received::Exit(exit) if exit.from.is_none() || exit.from == self.parent => {
                    return self.shut_down(exit.reason).await;
                }
                // A child's link: its monitor's `Down` is the news we act on.
                Received::Exit(_) => {}
            }
        }
    }

    async fn handle(&mut self, op: Op) {
        match op {
            Op::WhichChildren(answer) => {
                let _ = answer.send(self.which_children());
            }
            Op::CountChildren(answer) => {
                let _ = answer.send(self.count_children());
            }
            Op::StartChild(spec, answer) => {
                let _ = answer.send(self.start_child(spec).await);
            }
            Op::RestartChild(id, answer) => {
                let _ = answer.send(self.restart_child(&id).await);
            }
            Op::TerminateChild(id, answer) => {
                let _ = answer.send(self.terminate_child(&id).await);
            }
            Op::DeleteChild(id, answer) => {
                let _ = answer.send(self.delete_child(&id));
            }
            Op::Stop(_) => {}
        }
    }

    fn which_children(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .map(|slot| ChildInfo {
                id: slot.spec.id.clone(),
                pid: slot.running.as_ref().map(|r| r.child.describe()),
                kind: slot.spec.kind,
                restart: slot.spec.restart,
            })
            .collect()
    }

    fn count_children(&self) -> ChildCounts {
        let kind = |k| self.children.iter().filter(|s| s.spec.kind == k).count();
        ChildCounts {
            specs: self.children.len(),
            active: self.children.iter().filter(|s| s.running.is_some()).count(),
            supervisors: kind(ChildKind::Supervisor),
            workers: kind(ChildKind::Worker),
        }
    }

    async fn start_child(&mut self, spec: ChildSpec) -> Result<(), ChildError> {
        check_id(&spec.id)?;
        if self.find(&spec.id).is_ok() {
            return Err(ChildError::AlreadyPresent { id: spec.id });
        }
        self.children.push(Slot {
            spec,
            running: None,
        });
        let index = self.children.len() - 1;
        let started = self.start(index).await;
        if started.is_err() {
            self.children.remove(index);
        }
        started
    }

    async fn restart_child(&mut self, id: &str) -> Result<(), ChildError> {
        let index = self.find(id)?;
        if self.children[index].running.is_some() {
            return Err(ChildError::Running { id: id.to_string() });
        }
        self.start(index).await
    }

    async fn terminate_child(&mut self, id: &str) -> Result<(), ChildError> {
        let index = self.find(id)?;
        self.stop(index).await;
        self.forget_ended_temporaries();
        Ok(())
    }

    fn delete_child(&mut self, id: &str) -> Result<(), ChildError> {
        let index = self.find(id)?;
        if self.children[index].running.is_some() {
            return Err(ChildError::Running { id: id.to_string() });
        }
        self.children.remove(index);
        Ok(())
    }

    fn find(&self, id: &str) -> Result<usize, ChildError> {
        self.children
            .iter()
            .position(|slot| slot.spec.id == id)
            .ok_or_else(|| ChildError::NotFound { id: id.to_string() })
    }

    /// Runs the start function of child `index` and watches what it started.
    async fn start(&mut self, index: usize) -> Result<(), ChildError> {
        let starter = Starter::new(self.process.table().clone(), self.process.pid().id());
        let spec = &self.children[index].spec;
        let id = spec.id.clone();
        let started = CatchPanic::new((spec.start)(starter)).await;
        let child = match started {
            Ok(Ok(child)) => child,
            Ok(Err(e)) => {
                return Err(ChildError::StartFailed {
                    id,
                    reason: e.to_string(),
                });
            }
            Err(panicked) => {
                return Err(ChildError::StartFailed {
                    id,
                    reason: format!("its start function panicked: {panicked}"),
                });
            }
        };
        tracing::debug!(supervisor = %self.process.pid(), child = %id, pid = %child.describe(), "child started");
        let watch = child.watch(&self.process);
        self.children[index].running = Some(Running { child, watch });
        Ok(())
    }

    /// Stops child `index` if it runs, as its spec's `Shutdown` says.
    async fn stop(&mut self, index: usize) {
        let shutdown = self.children[index].spec.shutdown;
        if let Some(running) = self.children[index].running.take() {
            running
                .child
                .stop(&self.process, running.watch, shutdown)
                .await;
        }
    }

    /// Stops every child, in reverse start order.
    async fn stop_all(&mut self) {
        for index in (0..self.children.len()).rev() {
            self.stop(index).await;
        }
    }

    async fn shut_down(mut self, reason: ExitReason) -> ExitReason {
        self.stop_all().await;
        reason
    }

    fn forget_ended_temporaries(&mut self) {
        self.children
            .retain(|slot| slot.spec.restart != Restart::Temporary || slot.running.is_some());
    }

    /// A child's monitor fired: restart by its `Restart` and the strategy. `Err` with
    /// the supervisor's exit reason when it gives up.
    async fn child_ended(&mut self, down: Down) -> Result<(), ExitReason> {
        let found = self.children.iter().position(|slot| {
            slot.running
                .as_ref()
                .is_some_and(|running| running.watch == down.monitor)
        });
        let Some(index) = found else {
            return Ok(());
        };
        let Some(running) = self.children[index].running.take() else {
            return Ok(());
        };
        // A child that ended before we watched it reports `NoProc`; its Pid knows why.
        let reason = match down.reason {
            ExitReason::NoProc => running.child.exit_reason().unwrap_or(ExitReason::NoProc),
            reason => reason,
        };
        let spec = &self.children[index].spec;
        let restart = match spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !matches!(reason, ExitReason::Normal | ExitReason::Shutdown),
            Restart::Temporary => false,
        };
        tracing::info!(
            supervisor = %self.process.pid(),
            child = %spec.id,
            %reason,
            "child ended; {}",
            if restart { "restarting" } else { "not restarted" }
        );
        if !restart {
            self.forget_ended_temporaries();
            return Ok(());
        }
        let id = spec.id.clone();
        self.restart(id, reason.to_string()).await
    }

    /// Restarts child `id` and, by the strategy, its siblings. A start that fails counts
    /// as one more restart and the strategy applies again from that child, until they all
    /// run or the intensity is reached; and at most `max_restarts + 1` times in a row, so
    /// children that take longer to fail than the period cannot keep it going forever.
    async fn restart(&mut self, mut id: String, mut why: String) -> Result<(), ExitReason> {
        let mut pending: BTreeSet<String> = BTreeSet::new();
        for _ in 0..=self.restarts.intensity().max_restarts {
            if !self.restarts.record(Instant::now()) {
                break;
            }
            let Ok(index) = self.find(&id) else {
                return Ok(());
            };
            let range = match self.strategy {
                Strategy::OneForOne => index..index + 1,
                Strategy::OneForAll => 0..self.children.len(),
                Strategy::RestForOne => index..self.children.len(),
            };
            for sibling in range.rev() {
                if self.children[sibling].running.is_some() {
                    self.stop(sibling).await;
                    pending.insert(self.children[sibling].spec.id.clone());
                }
            }
            pending.insert(id.clone());
            self.forget_ended_temporaries();
            match self.start_pending(&mut pending).await {
                Ok(()) => return Ok(()),
                Err((failed, error)) => (id, why) = (failed, error.to_string()),
            }
        }
        Err(self.give_up(&id, &why).await)
    }

    /// Starts the pending children in start order; stops at the first that fails.
    async fn start_pending(
        &mut self,
        pending: &mut BTreeSet<String>,
    ) -> Result<(), (String, ChildError)> {
        for index in 0..self.children.len() {
            let id = self.children[index].spec.id.clone();
            if !pending.contains(&id) {
                continue;
            }
            self.start(index).await.map_err(|e| (id.clone(), e))?;
            pending.remove(&id);
        }
        Ok(())
    }

    async fn give_up(&mut self, id: &str, why: &str) -> ExitReason {
        let intensity = self.restarts.intensity();
        let reason = format!(
            "the supervisor reached its restart intensity (more than {} restarts within {:?}): child `{id}` ended once too often ({why}), so it stopped all its children and itself",
            intensity.max_restarts, intensity.period
        );
        tracing::error!(supervisor = %self.process.pid(), "{reason}");
        self.stop_all().await;
        ExitReason::Other(reason)
    }
}

/// Checks the spec's ids: each well-formed, none twice.
fn check_ids(spec: &SupervisorSpec) -> Result<(), ChildError> {
    let mut ids = BTreeSet::new();
    for child in &spec.children {
        check_id(&child.id)?;
        if !ids.insert(child.id.as_str()) {
            return Err(ChildError::AlreadyPresent {
                id: child.id.clone(),
            });
        }
    }
    Ok(())
}

fn check_id(id: &str) -> Result<(), ChildError> {
    crate::wire::names::check_name("child", id).map_err(|_| ChildError::BadId {
        id: id.chars().take(80).collect(),
    })
}
