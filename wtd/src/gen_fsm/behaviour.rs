//! The [`GenFsm`] trait: what you write to have a state machine.

use std::fmt::Debug;
use std::future::Future;

use super::event::FsmEvent;
use super::request::FsmRequest;
use super::transition::{Enter, Transition};
use crate::process::{ExitReason, Process};

/// The process a state machine runs in, as its callbacks see it: link, monitor, trap
/// exits, spawn, or find its own Pid. (Do not `receive` from it: the machine's loop does.)
pub type FsmProcess<F> = Process<FsmRequest<F>>;

/// A state machine: a *state* (a value of [`State`](Self::State), usually an enum) plus
/// *data* (the type itself), and one callback that says, for each event in each state,
/// what happens next. OTP's `gen_fsm`, built the way its successor `gen_statem` works.
///
/// The associated types say what the machine understands, and the compiler checks every
/// sender against them:
///
/// * `State`: the states. Compared with `==` to tell a state *change* (which cancels the
///   state timeout, runs [`on_enter`](Self::on_enter) and retries postponed events) from
///   staying put.
/// * `Event`: events sent without waiting ([`FsmRef::send_event`](super::FsmRef::send_event)).
/// * `Call`: events that wait for an answer of type `Reply`
///   ([`FsmRef::sync_send_event`](super::FsmRef::sync_send_event)).
/// * `Info`: other messages ([`FsmRef::info`](super::FsmRef::info)), which arrive
///   beside the `Exit` and `Down` messages of links and monitors.
/// * `Timeout`: what a timeout carries back to you when it fires (`()` is fine; an enum
///   says which timeout it was).
///
/// Use `()` for a kind you do not need. Locally they only need to be `Send`; a machine
/// exposed to other nodes with `#[wtd_behaviour(mission)]` needs its `Event`, `Call` and
/// `Reply` to be serde data too.
///
/// One process runs the machine, one event at a time, so `&mut self` needs no lock. A
/// panic in a callback stops the machine: [`terminate`](Self::terminate) runs with
/// [`ExitReason::Panic`], then the process ends with it.
pub trait GenFsm: Sized + Send + 'static {
    /// The states.
    type State: Clone + PartialEq + Debug + Send + Sync + 'static;
    /// Events without a reply (`send_event`).
    type Event: Send + 'static;
    /// Events with a reply (`sync_send_event`).
    type Call: Send + 'static;
    /// The reply to a `Call`.
    type Reply: Send + 'static;
    /// Other messages.
    type Info: Send + 'static;
    /// What a timeout brings back when it fires.
    type Timeout: Send + 'static;

    /// Runs first, in the machine's process, before [`start`](super::start) returns,
    /// and says which state the machine starts in. `Err(reason)` refuses to start:
    /// `start` returns [`ProcessError::InitFailed`](crate::process::ProcessError::InitFailed).
    /// [`on_enter`](Self::on_enter) then runs for that first state, as in `gen_statem`.
    fn init(
        &mut self,
        process: &FsmProcess<Self>,
    ) -> impl Future<Output = Result<Self::State, ExitReason>> + Send;

    /// Handles one event in `state`, and says what happens next with a [`Transition`]:
    /// `Transition::next(State::Open)`, `Transition::keep()`, `Transition::postpone(event)`
    /// or `Transition::stop(reason)`, each with timeouts and replies added as needed.
    ///
    /// Match on the pair: `match (state, event) { (State::Locked, FsmEvent::Event(..)) => ..,
    /// .. }`. A `Call` is answered through its [`ReplyTo`](crate::gen_server::ReplyTo),
    /// now (`.reply(from, value)` on the transition, or `from.reply(value)`) or later.
    fn handle_event(
        &mut self,
        state: &Self::State,
        event: FsmEvent<Self>,
        process: &FsmProcess<Self>,
    ) -> impl Future<Output = Transition<Self>> + Send;

    /// The enter action: runs each time the machine changes state (`old != new`), and
    /// once for the first state (then `old == new`). The place to lock the door on
    /// entering `Locked`, or to start the state timeout that leaves `Open`. By default,
    /// does nothing. It may set timeouts and stop the machine, not change state: an
    /// [`Enter`] has no `next`.
    fn on_enter(
        &mut self,
        old: &Self::State,
        new: &Self::State,
        process: &FsmProcess<Self>,
    ) -> impl Future<Output = Enter<Self>> + Send {
        let _ = (old, new, process);
        async { Enter::keep() }
    }

    /// Runs last, when the machine stops: a transition said [`Transition::stop`],
    /// [`FsmRef::stop`](super::FsmRef::stop) asked, a callback panicked, or (while
    /// trapping exits) the process that started it with `start_link` ended. As for a
    /// gen_server, not when an exit signal it does not trap kills it.
    fn terminate(
        &mut self,
        reason: &ExitReason,
        state: &Self::State,
        process: &FsmProcess<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, state, process);
        async {}
    }
}
