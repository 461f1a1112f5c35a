//! Starting a supervisor: spawn its process, register its name, run `init`, start every
//! child, and only then hand back a [`SupervisorRef`].

use super::behaviour::Supervisor;
use super::run::supervise;
use super::supervisor_ref::SupervisorRef;
use crate::process::{Process, ProcessError, ProcessId, ProcessTable, start_behaviour};

/// Starts `supervisor` in a new process of `table`: runs its `init`, starts its children
/// in order, and returns a handle once all have started.
///
/// If a child does not start, those already started stop (in reverse order) and `start`
/// fails with [`ProcessError::InitFailed`], naming the child and why.
pub async fn start<S: Supervisor>(
    table: &ProcessTable,
    supervisor: S,
) -> Result<SupervisorRef<S>, ProcessError> {
    start_with(table, None, None, supervisor).await
}

/// [`start`], registered as `name` (which is how other nodes reach it, if its `impl
/// Supervisor` carries `#[wtd_behaviour(mission)]`).
pub async fn start_named<S: Supervisor>(
    table: &ProcessTable,
    name: &str,
    supervisor: S,
) -> Result<SupervisorRef<S>, ProcessError> {
    start_with(table, Some(name), None, supervisor).await
}

/// [`start`], linked to the calling process: if that process ends, the supervisor stops
/// its children and ends with the same reason.
pub async fn start_link<S: Supervisor, M: Send + 'static>(
    process: &Process<M>,
    supervisor: S,
) -> Result<SupervisorRef<S>, ProcessError> {
    start_with(process.table(), None, Some(process.pid().id()), supervisor).await
}

/// [`start_link`] with a registered name.
pub async fn start_link_named<S: Supervisor, M: Send + 'static>(
    process: &Process<M>,
    name: &str,
    supervisor: S,
) -> Result<SupervisorRef<S>, ProcessError> {
    start_with(
        process.table(),
        Some(name),
        Some(process.pid().id()),
        supervisor,
    )
    .await
}

pub(crate) async fn start_with<S: Supervisor>(
    table: &ProcessTable,
    name: Option<&str>,
    parent: Option<ProcessId>,
    supervisor: S,
) -> Result<SupervisorRef<S>, ProcessError> {
    start_behaviour(table, name, parent, move |process, name, started| {
        supervise(supervisor, process, name, parent, started)
    })
    .await
    .map(SupervisorRef::new)
}
