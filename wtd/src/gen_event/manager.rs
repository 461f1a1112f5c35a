//! [`EventManager`]: how the rest of the program talks to a running event manager.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::behaviour::{EventHandler, GenEvent};
use super::error::EventError;
use super::handler::{Adder, HandlerId, HandlerRef, HandlerRemoved};
use super::request::{Answer, Op, Request};
use crate::gen_server::DEFAULT_TIMEOUT;
use crate::process::{ExitReason, Pid, Process, ProcessError, ProcessTable};

/// A handle on a running event manager of kind `K`: add, remove and swap handlers,
/// notify them, call one. Cheap to clone.
///
/// Every operation but [`notify`](Self::notify) waits for the manager's answer, at most
/// [`DEFAULT_TIMEOUT`] (5 s, as OTP's) or the time given to its `_timeout` twin.
pub struct EventManager<K: GenEvent> {
    pid: Pid<Request<K>>,
}

impl<K: GenEvent> EventManager<K> {
    pub(crate) fn new(pid: Pid<Request<K>>) -> Self {
        EventManager { pid }
    }

    /// The manager of kind `K` registered as `name` in `table`. A process registered
    /// under that name with another message type (another kind of manager, a
    /// gen_server) is refused with [`ProcessError::WrongMessageType`].
    pub fn whereis(table: &ProcessTable, name: &str) -> Result<Self, ProcessError> {
        table.whereis(name).map(EventManager::new)
    }

    /// The manager's Pid: link to it, monitor it.
    pub fn pid(&self) -> &Pid<Request<K>> {
        &self.pid
    }

    /// Queues `event` for every handler and returns at once (OTP's `notify`). It fails
    /// only if the event could not be queued ([`ProcessError::NotAlive`],
    /// [`ProcessError::MailboxFull`]); it cannot say whether the handlers took it.
    pub fn notify(&self, event: K::Event) -> Result<(), ProcessError> {
        self.pid.send(Request(Op::Notify(event)))
    }

    /// Gives `event` to every handler and returns once each has handled it (or crashed
    /// on it, and been removed). Waits at most [`DEFAULT_TIMEOUT`].
    pub async fn sync_notify(&self, event: K::Event) -> Result<(), ProcessError> {
        self.sync_notify_timeout(event, DEFAULT_TIMEOUT).await
    }

    /// [`sync_notify`](Self::sync_notify), waiting at most `after`. On
    /// [`ProcessError::Timeout`] the handlers may still handle the event later.
    pub async fn sync_notify_timeout(
        &self,
        event: K::Event,
        after: Duration,
    ) -> Result<(), ProcessError> {
        let (done, handled) = oneshot::channel();
        self.pid.send(Request(Op::SyncNotify(event, done)))?;
        self.wait(handled, after).await
    }

    /// Adds `handler` (its `init` runs first, in the manager) and returns its
    /// [`HandlerRef`]. Nobody is told when it leaves; see
    /// [`add_sup_handler`](Self::add_sup_handler).
    pub async fn add_handler<H: EventHandler<K::Event>>(
        &self,
        handler: H,
    ) -> Result<HandlerRef<H>, EventError> {
        self.add(handler, None).await
    }

    /// Adds `handler` supervised by `adder`, the calling process (OTP's
    /// `add_sup_handler`): when the handler leaves — removed, swapped, crashed, or the
    /// manager stopped — `adder` gets a [`HandlerRemoved`] saying why; and when `adder`
    /// ends, the handler leaves too (its `terminate` runs with
    /// [`Removal::AdderExited`](super::Removal::AdderExited)).
    ///
    /// Unlike OTP, the adder is not linked to the manager: if the manager is killed (no
    /// `terminate`, nobody told), the adder learns it by monitoring [`pid`](Self::pid).
    pub async fn add_sup_handler<H, M>(
        &self,
        adder: &Process<M>,
        handler: H,
    ) -> Result<HandlerRef<H>, EventError>
    where
        H: EventHandler<K::Event>,
        M: From<HandlerRemoved> + Send + 'static,
    {
        let to = adder.pid().clone();
        let adder = Adder {
            process: to.id(),
            tell: Box::new(move |removed: HandlerRemoved| {
                if let Err(e) = to.send(M::from(removed)) {
                    tracing::debug!("the adder of a removed event handler was not told: {e}");
                }
            }),
            monitor: None,
        };
        self.add(handler, Some(adder)).await
    }

    async fn add<H: EventHandler<K::Event>>(
        &self,
        handler: H,
        adder: Option<Adder>,
    ) -> Result<HandlerRef<H>, EventError> {
        let (answer, added) = oneshot::channel();
        self.pid.send(Request(Op::Add {
            handler: Box::new(handler),
            adder,
            answer,
        }))?;
        self.answer(added, DEFAULT_TIMEOUT)
            .await
            .map(HandlerRef::new)
    }

    /// Removes the handler `id`: its `terminate` runs with
    /// [`Removal::Removed`](super::Removal::Removed), its adder is told.
    pub async fn remove_handler(&self, id: HandlerId) -> Result<(), EventError> {
        let (answer, removed) = oneshot::channel();
        self.pid.send(Request(Op::Remove { id, answer }))?;
        self.answer(removed, DEFAULT_TIMEOUT).await
    }

    /// Puts `new` in the place of the handler `old`, in the same position and with the
    /// same supervision. `new`'s `init` runs first: if it refuses, `old` stays and this
    /// returns [`EventError::HandlerInitFailed`]. Then `old`'s `terminate` runs with
    /// [`Removal::Swapped`](super::Removal::Swapped) and its adder is told.
    pub async fn swap_handler<H: EventHandler<K::Event>>(
        &self,
        old: HandlerId,
        new: H,
    ) -> Result<HandlerRef<H>, EventError> {
        let (answer, swapped) = oneshot::channel();
        self.pid.send(Request(Op::Swap {
            old,
            new: Box::new(new),
            answer,
        }))?;
        self.answer(swapped, DEFAULT_TIMEOUT)
            .await
            .map(HandlerRef::new)
    }

    /// Runs `ask` on the state of `handler`, in the manager, and returns what it returns
    /// (OTP's `gen_event:call` and the handler's `handle_call`, in one function). Waits
    /// at most [`DEFAULT_TIMEOUT`].
    ///
    /// If `ask` panics, the handler is removed as crashed (its adder is told) and this
    /// returns [`EventError::HandlerCrashed`].
    pub async fn call<H, R>(
        &self,
        handler: &HandlerRef<H>,
        ask: impl FnOnce(&mut H) -> R + Send + 'static,
    ) -> Result<R, EventError>
    where
        H: EventHandler<K::Event>,
        R: Send + 'static,
    {
        self.call_timeout(handler, ask, DEFAULT_TIMEOUT).await
    }

    /// [`call`](Self::call), waiting at most `after`.
    pub async fn call_timeout<H, R>(
        &self,
        handler: &HandlerRef<H>,
        ask: impl FnOnce(&mut H) -> R + Send + 'static,
        after: Duration,
    ) -> Result<R, EventError>
    where
        H: EventHandler<K::Event>,
        R: Send + 'static,
    {
        let id = handler.id();
        let (answer, reply) = oneshot::channel();
        let run = Box::new(move |state: Option<&mut dyn Any>| {
            run_call(id, state.and_then(|s| s.downcast_mut::<H>()), ask, answer)
        });
        self.pid.send(Request(Op::Call { id, run }))?;
        self.answer(reply, after).await
    }

    /// The ids of the handlers, in the order they handle events (OTP's
    /// `which_handlers`).
    pub async fn handlers(&self) -> Result<Vec<HandlerId>, ProcessError> {
        let (answer, handlers) = oneshot::channel();
        self.pid.send(Request(Op::Handlers(answer)))?;
        self.wait(handlers, DEFAULT_TIMEOUT).await
    }

    /// Stops the manager normally: every handler's `terminate` runs with
    /// [`Removal::ManagerStopped`](super::Removal::ManagerStopped), every adder is told.
    /// Waits up to [`DEFAULT_TIMEOUT`] until it has ended.
    pub async fn stop(&self) -> Result<(), ProcessError> {
        self.stop_with(ExitReason::Normal, DEFAULT_TIMEOUT).await
    }

    /// Stops the manager with `reason`, waiting at most `after` until it has ended.
    pub async fn stop_with(&self, reason: ExitReason, after: Duration) -> Result<(), ProcessError> {
        self.pid.send(Request(Op::Stop(reason.clone())))?;
        self.pid.wait_exit_with(&reason, after).await
    }

    /// Whether the manager is still running.
    pub fn is_alive(&self) -> bool {
        self.pid.is_alive()
    }

    /// Waits for the manager's answer to a request, at most `after`.
    async fn wait<T>(
        &self,
        answer: oneshot::Receiver<T>,
        after: Duration,
    ) -> Result<T, ProcessError> {
        let deadline = Instant::now() + after;
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(value)) => Ok(value),
            // The manager dropped the request unanswered: it is ending.
            Ok(Err(_)) => match tokio::time::timeout_at(deadline, self.pid.wait_exit()).await {
                Ok(reason) => Err(ProcessError::Exited {
                    pid: self.pid.to_string(),
                    reason,
                }),
                Err(_) => Err(ProcessError::Timeout { after }),
            },
            Err(_) => Err(ProcessError::Timeout { after }),
        }
    }

    async fn answer<T>(
        &self,
        answer: oneshot::Receiver<Result<T, EventError>>,
        after: Duration,
    ) -> Result<T, EventError> {
        self.wait(answer, after).await?
    }
}

/// Runs a call's function on the handler's state, in the manager; answers the caller.
fn run_call<H, R>(
    id: HandlerId,
    state: Option<&mut H>,
    ask: impl FnOnce(&mut H) -> R,
    answer: Answer<R>,
) -> Result<(), String> {
    let Some(state) = state else {
        let _ = answer.send(Err(EventError::NoSuchHandler { id }));
        return Ok(());
    };
    // `AssertUnwindSafe`: a handler that panicked is dropped, never used again.
    match catch_unwind(AssertUnwindSafe(|| ask(state))) {
        Ok(reply) => {
            let _ = answer.send(Ok(reply));
            Ok(())
        }
        Err(payload) => {
            let message = crate::process::panic_message(payload.as_ref());
            let _ = answer.send(Err(EventError::HandlerCrashed {
                id,
                message: message.clone(),
            }));
            Err(message)
        }
    }
}

impl<K: GenEvent> Clone for EventManager<K> {
    fn clone(&self) -> Self {
        EventManager {
            pid: self.pid.clone(),
        }
    }
}

impl<K: GenEvent> std::fmt::Debug for EventManager<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventManager({})", self.pid)
    }
}
