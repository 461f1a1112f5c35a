//! Starting a gen_server: spawn its process, register its name, run `init`, and only
//! then hand back a [`ServerRef`] — so a server you get is one that started.

use super::behaviour::GenServer;
use super::run::serve;
use super::server_ref::ServerRef;
use crate::process::{Process, ProcessError, ProcessId, ProcessTable, start_behaviour};

/// Starts `server` in a new process of `table`, runs its `init`, and returns a handle.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wtd::process::ProcessError> {
/// use wtd::gen_server::{self, GenServer, Next, ReplyTo, ServerProcess};
/// use wtd::process::ProcessTable;
///
/// struct Counter(u64);
///
/// impl GenServer for Counter {
///     type Call = u64; // add this much, reply with the new count
///     type Reply = u64;
///     type Cast = ();
///     type Info = ();
///
///     async fn handle_call(&mut self, n: u64, from: ReplyTo<u64>, _: &ServerProcess<Self>) -> Next {
///         self.0 += n;
///         from.reply(self.0);
///         Next::Continue
///     }
/// }
///
/// let table = ProcessTable::new("alice");
/// let counter = gen_server::start(&table, Counter(0)).await?;
/// assert_eq!(counter.call(2).await?, 2);
/// counter.stop().await?;
/// # Ok(()) }
/// ```
pub async fn start<S: GenServer>(
    table: &ProcessTable,
    server: S,
) -> Result<ServerRef<S>, ProcessError> {
    start_with(table, None, None, server).await
}

/// [`start`], and register the server as `name` before its `init` runs (so `init` may
/// already be found by name). A name taken by a living process refuses the start with
/// [`ProcessError::NameTaken`], as OTP's `already_started`.
pub async fn start_named<S: GenServer>(
    table: &ProcessTable,
    name: &str,
    server: S,
) -> Result<ServerRef<S>, ProcessError> {
    start_with(table, Some(name), None, server).await
}

/// [`start`], linked to the calling process from the first instant: if either ends
/// abnormally the other does too (or gets an `Exit` message if it traps exits). If the
/// server traps exits and its starter ends, the server stops with the same reason and
/// runs `terminate`, as an OTP gen_server does when its parent (its supervisor) ends.
pub async fn start_link<S: GenServer, M: Send + 'static>(
    process: &Process<M>,
    server: S,
) -> Result<ServerRef<S>, ProcessError> {
    start_with(process.table(), None, Some(process.pid().id()), server).await
}

/// [`start_link`] with a registered name, as [`start_named`].
pub async fn start_link_named<S: GenServer, M: Send + 'static>(
    process: &Process<M>,
    name: &str,
    server: S,
) -> Result<ServerRef<S>, ProcessError> {
    start_with(
        process.table(),
        Some(name),
        Some(process.pid().id()),
        server,
    )
    .await
}

pub(crate) async fn start_with<S: GenServer>(
    table: &ProcessTable,
    name: Option<&str>,
    parent: Option<ProcessId>,
    server: S,
) -> Result<ServerRef<S>, ProcessError> {
    start_behaviour(table, name, parent, move |process, name, started| {
        serve(server, process, name, parent, started)
    })
    .await
    .map(ServerRef::new)
}
