//! Starting a behaviour's process (a gen_server, gen_fsm, event manager or supervisor):
//! the one sequence all four share. Check the name, spawn the process (linked to its
//! parent from the first instant), and wait until it says whether its `init` went well.

use std::future::Future;

use tokio::sync::oneshot;

use super::error::ProcessError;
use super::exit::ExitReason;
use super::pid::{Pid, ProcessId};
use super::running::Process;
use super::spawn::SpawnOptions;
use super::table::ProcessTable;

/// What a starting behaviour's process tells its starter: started, or why not.
pub(crate) type Started = oneshot::Sender<Result<(), ProcessError>>;

/// Spawns `body` in `table` as a behaviour's process, registered as `name` (checked
/// first) and linked to `parent`, and waits for its [`Started`] answer: the process's
/// Pid once its `init` went well; the refusal it sent; or, if it ended before answering
/// (it was killed), [`ProcessError::InitFailed`] with its exit reason.
pub(crate) async fn start_behaviour<M, F, Fut>(
    table: &ProcessTable,
    name: Option<&str>,
    parent: Option<ProcessId>,
    body: F,
) -> Result<Pid<M>, ProcessError>
where
    M: Send + 'static,
    F: FnOnce(Process<M>, Option<String>, Started) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Into<ExitReason>,
{
    if let Some(name) = name
        && crate::wire::names::check_name("process", name).is_err()
    {
        return Err(ProcessError::BadName {
            name: name.chars().take(80).collect(),
        });
    }
    let (started, outcome) = oneshot::channel();
    let name = name.map(str::to_string);
    let pid = table.spawn_linked(SpawnOptions::default(), parent, move |process| {
        body(process, name, started)
    });
    match outcome.await {
        Ok(Ok(())) => Ok(pid),
        Ok(Err(refused)) => Err(refused),
        // The process ended before it could say how `init` went: it was killed.
        Err(_) => Err(ProcessError::InitFailed {
            reason: pid.wait_exit().await,
        }),
    }
}
