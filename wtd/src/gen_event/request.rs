//! [`Request`]: what an event manager's mailbox holds.

use tokio::sync::oneshot;

use super::behaviour::GenEvent;
use super::error::EventError;
use super::handler::{Adder, HandlerId, Installed};
use crate::process::ExitReason;

/// One message to an event manager of kind `K`: the message type of its process, so its
/// Pid is a `Pid<Request<K>>`. [`EventManager`](super::EventManager) builds these; you
/// meet the type only when you link to or monitor a manager through its Pid.
pub struct Request<K: GenEvent>(pub(crate) Op<K::Event>);

/// A function of one handler's state, for `call`: given `None` when there is no such
/// handler; returns `Err(panic message)` if it panicked (the caller is told already).
pub(crate) type CallFn =
    Box<dyn FnOnce(Option<&mut dyn std::any::Any>) -> Result<(), String> + Send>;

pub(crate) type Answer<T> = oneshot::Sender<Result<T, EventError>>;

pub(crate) enum Op<E> {
    Notify(E),
    SyncNotify(E, oneshot::Sender<()>),
    Add {
        handler: Box<dyn Installed<E>>,
        adder: Option<Adder>,
        answer: Answer<HandlerId>,
    },
    Remove {
        id: HandlerId,
        answer: Answer<()>,
    },
    Swap {
        old: HandlerId,
        new: Box<dyn Installed<E>>,
        answer: Answer<HandlerId>,
    },
    Call {
        id: HandlerId,
        run: CallFn,
    },
    Handlers(oneshot::Sender<Vec<HandlerId>>),
    Stop(ExitReason),
}

impl<K: GenEvent> std::fmt::Debug for Request<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Op::Notify(_) => "Request::Notify",
            Op::SyncNotify(..) => "Request::SyncNotify",
            Op::Add { .. } => "Request::Add",
            Op::Remove { .. } => "Request::Remove",
            Op::Swap { .. } => "Request::Swap",
            Op::Call { .. } => "Request::Call",
            Op::Handlers(_) => "Request::Handlers",
            Op::Stop(_) => "Request::Stop",
        })
    }
}
