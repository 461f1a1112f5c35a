//! [`FsmEvent`]: everything that can happen to a state machine, as its one callback
//! receives it.

use super::behaviour::GenFsm;
use crate::gen_server::ReplyTo;
use crate::process::{Down, Exit};

/// One event, as [`GenFsm::handle_event`] gets it. Its variant says where it came from,
/// as `gen_statem`'s event type does (`cast`, `{call, From}`, `info`, `state_timeout`,
/// `{timeout, Name}`, `timeout`).
pub enum FsmEvent<F: GenFsm> {
    /// Sent with `send_event`: nobody waits.
    Event(F::Event),
    /// Sent with `sync_send_event`: answer through the [`ReplyTo`].
    Call(F::Call, ReplyTo<F::Reply>),
    /// An info message.
    Info(F::Info),
    /// A linked process ended (while the machine traps exits).
    Exit(Exit),
    /// A monitored process ended.
    Down(Down),
    /// The state timeout set on entering this state fired: the machine stayed in one
    /// state that long.
    StateTimeout(F::Timeout),
    /// The generic timeout of this name fired (state changes do not cancel it).
    Timeout(&'static str, F::Timeout),
    /// The event timeout fired: no event came for that long.
    EventTimeout(F::Timeout),
}

impl<F: GenFsm> FsmEvent<F> {
    /// What kind of event this is, in a word, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            FsmEvent::Event(_) => "event",
            FsmEvent::Call(..) => "call",
            FsmEvent::Info(_) => "info",
            FsmEvent::Exit(_) => "exit",
            FsmEvent::Down(_) => "down",
            FsmEvent::StateTimeout(_) => "state timeout",
            FsmEvent::Timeout(..) => "timeout",
            FsmEvent::EventTimeout(_) => "event timeout",
        }
    }
}

impl<F: GenFsm> std::fmt::Debug for FsmEvent<F>
where
    F::Event: std::fmt::Debug,
    F::Call: std::fmt::Debug,
    F::Info: std::fmt::Debug,
    F::Timeout: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FsmEvent::Event(event) => f.debug_tuple("Event").field(event).finish(),
            FsmEvent::Call(call, _) => f.debug_tuple("Call").field(call).finish(),
            FsmEvent::Info(info) => f.debug_tuple("Info").field(info).finish(),
            FsmEvent::Exit(exit) => f.debug_tuple("Exit").field(exit).finish(),
            FsmEvent::Down(down) => f.debug_tuple("Down").field(down).finish(),
            FsmEvent::StateTimeout(t) => f.debug_tuple("StateTimeout").field(t).finish(),
            FsmEvent::Timeout(name, t) => f.debug_tuple("Timeout").field(name).field(t).finish(),
            FsmEvent::EventTimeout(t) => f.debug_tuple("EventTimeout").field(t).finish(),
        }
    }
}
