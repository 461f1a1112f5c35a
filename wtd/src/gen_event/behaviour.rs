//! The two traits of gen_event: [`GenEvent`], a kind of event manager (what its events
//! are), and [`EventHandler`], what you write to handle them; and [`Next`], what a
//! handler says after each event.

use std::future::Future;

use crate::process::ExitReason;

use super::handler::Removal;

/// A kind of event manager: the type of the events it takes.
///
/// The type implementing it is only a name for the kind — usually an empty struct — so
/// that the manager's process is typed by it: a manager of one kind is never mistaken for
/// a manager of another, even when both take the same events. With
/// `#[wtd_behaviour(mission)]` on the `impl`, the named managers of this kind take
/// `notify` and `sync_notify` from other nodes, and `Event` must then be serde data.
///
/// ```
/// use wtd::gen_event::GenEvent;
///
/// /// Managers of log lines.
/// struct Log;
///
/// impl GenEvent for Log {
///     type Event = String;
/// }
/// ```
pub trait GenEvent: Sized + Send + 'static {
    /// What the manager's handlers are given. Each handler sees the same event, by
    /// reference, one handler after the other: it is `Sync` so that a handler may hold
    /// the reference across an `.await`.
    type Event: Send + Sync + 'static;
}

/// What a handler wants after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Stay in the manager.
    Continue,
    /// Leave it: [`EventHandler::terminate`] runs with [`Removal::Removed`] (OTP's
    /// `remove_handler` return).
    Remove,
}

/// A handler of events of type `E`: state (the type itself) plus callbacks that the
/// manager's process runs, one event at a time, as an OTP `gen_event` handler module.
///
/// Handlers live inside the manager's process: an event is handled by each handler in
/// turn, in the order they were added, so a handler's state needs no lock. A handler
/// that panics is removed (its `terminate` does not run); the others keep going, and the
/// process that added it with
/// [`add_sup_handler`](super::EventManager::add_sup_handler) is told.
///
/// To ask a handler something, use [`EventManager::call`](super::EventManager::call)
/// with a function of the handler's state: there is no `handle_call` to write.
pub trait EventHandler<E>: Send + 'static {
    /// Runs when the handler is added, in the manager's process. `Err(reason)` refuses
    /// it: `add_handler` returns
    /// [`EventError::HandlerInitFailed`](super::EventError::HandlerInitFailed).
    fn init(&mut self) -> impl Future<Output = Result<(), ExitReason>> + Send {
        async { Ok(()) }
    }

    /// Handles one event. The manager handles nothing else meanwhile: a handler that
    /// awaits for long holds up every other handler and every sender of `sync_notify`.
    fn handle_event(&mut self, event: &E) -> impl Future<Output = Next> + Send;

    /// Runs when the handler leaves the manager for any reason but a panic: removed,
    /// swapped, its adder ended, or the manager stopped. `why` says which.
    fn terminate(&mut self, why: &Removal) -> impl Future<Output = ()> + Send {
        let _ = why;
        async {}
    }
}
