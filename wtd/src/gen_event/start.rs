//! Starting an event manager: spawn its process and register its name, and only then
//! hand back an [`EventManager`] — so a manager you get is one that runs.

use super::behaviour::GenEvent;
use super::manager::EventManager;
use super::run::manage;
use crate::process::{Process, ProcessError, ProcessId, ProcessTable, start_behaviour};

/// Starts an event manager of kind `K`, without handlers, in a new process of `table`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wtd::gen_event::EventError> {
/// use wtd::gen_event::{self, EventHandler, GenEvent, Next};
/// use wtd::process::ProcessTable;
///
/// struct Log;
/// impl GenEvent for Log {
///     type Event = String;
/// }
///
/// /// Counts the lines it sees.
/// struct Lines(u64);
/// impl EventHandler<String> for Lines {
///     async fn handle_event(&mut self, _line: &String) -> Next {
///         self.0 += 1;
///         Next::Continue
///     }
/// }
///
/// let table = ProcessTable::new("alice");
/// let log = gen_event::start::<Log>(&table).await?;
/// let lines = log.add_handler(Lines(0)).await?;
/// log.notify("disk almost full".to_string())?;
/// log.sync_notify("disk full".to_string()).await?;
/// assert_eq!(log.call(&lines, |l| l.0).await?, 2);
/// log.stop().await?;
/// # Ok(()) }
/// ```
pub async fn start<K: GenEvent>(table: &ProcessTable) -> Result<EventManager<K>, ProcessError> {
    start_with(table, None, None).await
}

/// [`start`], registered as `name`: the name other processes find it by, and, if `K`'s
/// `impl GenEvent` carries `#[wtd_behaviour(mission)]`, the instance other nodes notify.
/// A name taken by a living process refuses the start with [`ProcessError::NameTaken`].
pub async fn start_named<K: GenEvent>(
    table: &ProcessTable,
    name: &str,
) -> Result<EventManager<K>, ProcessError> {
    start_with(table, Some(name), None).await
}

/// [`start`], linked to the calling process from the first instant: if either ends
/// abnormally, the other does too (or gets an `Exit` message if it traps exits).
pub async fn start_link<K: GenEvent, M: Send + 'static>(
    process: &Process<M>,
) -> Result<EventManager<K>, ProcessError> {
    start_with(process.table(), None, Some(process.pid().id())).await
}

/// [`start_link`] with a registered name, as [`start_named`].
pub async fn start_link_named<K: GenEvent, M: Send + 'static>(
    process: &Process<M>,
    name: &str,
) -> Result<EventManager<K>, ProcessError> {
    start_with(process.table(), Some(name), Some(process.pid().id())).await
}

async fn start_with<K: GenEvent>(
    table: &ProcessTable,
    name: Option<&str>,
    parent: Option<ProcessId>,
) -> Result<EventManager<K>, ProcessError> {
    start_behaviour(table, name, parent, move |process, name, started| {
        manage::<K>(process, name, parent, started)
    })
    .await
    .map(EventManager::new)
}
