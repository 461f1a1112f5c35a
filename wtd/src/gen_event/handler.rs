//! Handlers as the manager holds them: [`HandlerId`] and the typed [`HandlerRef`] that
//! name one, [`Removal`] and [`HandlerRemoved`] that say why one left, and the
//! type-erased form that lets one manager hold handlers of many types.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use super::behaviour::{EventHandler, Next};
use crate::gen_server::{GenServer, Request as ServerRequest};
use crate::process::{ExitReason, MonitorRef, ProcessId};

/// Names one handler in one manager, from when it is added until it leaves. Never reused
/// by that manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandlerId(pub(crate) u64);

impl fmt::Display for HandlerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler #{}", self.0)
    }
}

/// A handler of type `H` in a manager, as `add_handler` returns it: the
/// [`HandlerId`] and the type, so that [`EventManager::call`](super::EventManager::call)
/// knows what state it reaches. Cheap to copy.
pub struct HandlerRef<H> {
    id: HandlerId,
    handler: PhantomData<fn() -> H>,
}

impl<H> HandlerRef<H> {
    pub(crate) fn new(id: HandlerId) -> Self {
        HandlerRef {
            id,
            handler: PhantomData,
        }
    }

    /// Its id: what [`HandlerRemoved`] names it by, and what `remove_handler` and
    /// `swap_handler` take.
    pub fn id(&self) -> HandlerId {
        self.id
    }
}

impl<H> Clone for HandlerRef<H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<H> Copy for HandlerRef<H> {}

impl<H> fmt::Debug for HandlerRef<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, std::any::type_name::<H>())
    }
}

/// Why a handler left its manager.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    /// `remove_handler` asked, or its `handle_event` returned [`Next::Remove`].
    Removed,
    /// `swap_handler` put the handler `by` in its place.
    Swapped {
        /// The handler that took its place (and its supervision).
        by: HandlerId,
    },
    /// A callback panicked, with this message. Its `terminate` did not run.
    Crashed(String),
    /// The process that added it with `add_sup_handler` ended, for this reason.
    AdderExited(ExitReason),
    /// The manager stopped, for this reason.
    ManagerStopped(ExitReason),
}

impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Removal::Removed => f.write_str("removed"),
            Removal::Swapped { by } => write!(f, "swapped for {by}"),
            Removal::Crashed(message) => write!(f, "crashed: {message}"),
            Removal::AdderExited(reason) => write!(f, "the process that added it ended ({reason})"),
            Removal::ManagerStopped(reason) => write!(f, "the manager stopped ({reason})"),
        }
    }
}

/// The message a process that added a handler with
/// [`add_sup_handler`](super::EventManager::add_sup_handler) gets when that handler
/// leaves the manager, for any reason (OTP's `gen_event_EXIT`).
///
/// The adding process's message type must be `From<HandlerRemoved>`. A gen_server
/// whose `Info` is `From<HandlerRemoved>` gets it in `handle_info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerRemoved {
    /// The handler that left.
    pub id: HandlerId,
    /// Why.
    pub reason: Removal,
}

/// A gen_server can supervise handlers: the message reaches its `handle_info`.
impl<S> From<HandlerRemoved> for ServerRequest<S>
where
    S: GenServer,
    S::Info: From<HandlerRemoved>,
{
    fn from(removed: HandlerRemoved) -> Self {
        ServerRequest::Info(removed.into())
    }
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An [`EventHandler`] of any type, as the manager holds it.
pub(crate) trait Installed<E>: Send {
    fn init(&mut self) -> BoxFuture<'_, Result<(), ExitReason>>;
    fn handle_event<'a>(&'a mut self, event: &'a E) -> BoxFuture<'a, Next>;
    fn terminate<'a>(&'a mut self, why: &'a Removal) -> BoxFuture<'a, ()>;
    /// The handler's state, for a call to downcast to the handler's type.
    fn state(&mut self) -> &mut dyn Any;
}

impl<E: Send + Sync + 'static, H: EventHandler<E>> Installed<E> for H {
    fn init(&mut self) -> BoxFuture<'_, Result<(), ExitReason>> {
        Box::pin(EventHandler::init(self))
    }

    fn handle_event<'a>(&'a mut self, event: &'a E) -> BoxFuture<'a, Next> {
        Box::pin(EventHandler::handle_event(self, event))
    }

    fn terminate<'a>(&'a mut self, why: &'a Removal) -> BoxFuture<'a, ()> {
        Box::pin(EventHandler::terminate(self, why))
    }

    fn state(&mut self) -> &mut dyn Any {
        self
    }
}

/// Who supervises a handler: the process that added it with `add_sup_handler`.
pub(crate) struct Adder {
    pub(crate) process: ProcessId,
    /// Sends that process a [`HandlerRemoved`], in its own message type.
    pub(crate) tell: Box<dyn Fn(HandlerRemoved) + Send>,
    /// The manager's monitor on it, set once the handler is in.
    pub(crate) monitor: Option<MonitorRef>,
}

/// One handler in the manager.
pub(crate) struct Slot<E> {
    pub(crate) id: HandlerId,
    pub(crate) handler: Box<dyn Installed<E>>,
    pub(crate) adder: Option<Adder>,
}
