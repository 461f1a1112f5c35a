//! Starting a state machine: spawn its process, register its name, run `init`, and only
//! then hand back an [`FsmRef`], so a machine you get is one that started.

use super::behaviour::GenFsm;
use super::fsm_ref::FsmRef;
use super::run::run;
use crate::process::{Process, ProcessError, ProcessId, ProcessTable, start_behaviour};

/// Starts `fsm` in a new process of `table`, runs its `init` (and the enter action of
/// the first state), and returns a handle.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wtd::process::ProcessError> {
/// use wtd::gen_fsm::{self, FsmEvent, FsmProcess, GenFsm, Transition};
/// use wtd::process::{ExitReason, ProcessTable};
///
/// #[derive(Clone, Debug, PartialEq)]
/// enum Light { Off, On }
///
/// struct Switch;
///
/// impl GenFsm for Switch {
///     type State = Light;
///     type Event = ();          // a press of the switch
///     type Call = ();           // "how are you?"
///     type Reply = Light;
///     type Info = ();
///     type Timeout = ();
///
///     async fn init(&mut self, _: &FsmProcess<Self>) -> Result<Light, ExitReason> {
///         Ok(Light::Off)
///     }
///
///     async fn handle_event(&mut self, light: &Light, event: FsmEvent<Self>, _: &FsmProcess<Self>) -> Transition<Self> {
///         match (light, event) {
///             (Light::Off, FsmEvent::Event(())) => Transition::next(Light::On),
///             (Light::On, FsmEvent::Event(())) => Transition::next(Light::Off),
///             (light, FsmEvent::Call((), from)) => Transition::keep().reply(from, light.clone()),
///             _ => Transition::keep(),
///         }
///     }
/// }
///
/// let table = ProcessTable::new("alice");
/// let switch = gen_fsm::start(&table, Switch).await?;
/// switch.send_event(())?;
/// assert_eq!(switch.sync_send_event(()).await?, Light::On);
/// switch.stop().await?;
/// # Ok(()) }
/// ```
pub async fn start<F: GenFsm>(table: &ProcessTable, fsm: F) -> Result<FsmRef<F>, ProcessError> {
    start_with(table, None, None, fsm).await
}

/// [`start`], and register the machine as `name` before its `init` runs. A name taken by
/// a living process refuses the start with [`ProcessError::NameTaken`]. Only a machine
/// started by name can be reached from other nodes.
pub async fn start_named<F: GenFsm>(
    table: &ProcessTable,
    name: &str,
    fsm: F,
) -> Result<FsmRef<F>, ProcessError> {
    start_with(table, Some(name), None, fsm).await
}

/// [`start`], linked to the calling process from the first instant, as
/// [`gen_server::start_link`](crate::gen_server::start_link).
pub async fn start_link<F: GenFsm, M: Send + 'static>(
    process: &Process<M>,
    fsm: F,
) -> Result<FsmRef<F>, ProcessError> {
    start_with(process.table(), None, Some(process.pid().id()), fsm).await
}

/// [`start_link`] with a registered name, as [`start_named`].
pub async fn start_link_named<F: GenFsm, M: Send + 'static>(
    process: &Process<M>,
    name: &str,
    fsm: F,
) -> Result<FsmRef<F>, ProcessError> {
    start_with(process.table(), Some(name), Some(process.pid().id()), fsm).await
}

async fn start_with<F: GenFsm>(
    table: &ProcessTable,
    name: Option<&str>,
    parent: Option<ProcessId>,
    fsm: F,
) -> Result<FsmRef<F>, ProcessError> {
    start_behaviour(table, name, parent, move |process, name, started| {
        run(fsm, process, name, parent, started)
    })
    .await
    .map(FsmRef::new)
}
