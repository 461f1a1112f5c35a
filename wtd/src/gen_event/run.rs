//! The loop an event manager's process runs: receive one request, run it through the
//! handlers, and take out the handlers that asked to leave or crashed.

use std::future::Future;

use super::behaviour::{GenEvent, Next};
use super::error::EventError;
use super::handler::{Adder, HandlerId, HandlerRemoved, Installed, Removal, Slot};
use super::request::{CallFn, Op, Request};
use crate::process::Started;
use crate::process::{CatchPanic, ExitReason, MonitorRef, Process, ProcessId, Received};

/// The handlers of one manager, in the order they were added.
struct Handlers<E> {
    slots: Vec<Slot<E>>,
    /// The id the next handler gets.
    next_id: u64,
}

/// The whole life of an event manager process; returns its exit reason.
pub(crate) async fn manage<K: GenEvent>(
    mut process: Process<Request<K>>,
    name: Option<String>,
    parent: Option<ProcessId>,
    started: Started,
) -> ExitReason {
    if let Some(name) = name
        && let Err(refused) = process.table().register(&name, process.pid())
    {
        // Someone else has the name: the manager never started, which is not a crash.
        if let Some(parent) = parent {
            process.table().unlink(process.pid().id(), parent);
        }
        let _ = started.send(Err(refused));
        return ExitReason::Normal;
    }
    let _ = started.send(Ok(()));

    let mut handlers = Handlers {
        slots: Vec::new(),
        next_id: 1,
    };
    loop {
        match process.receive().await {
            Received::Message(Request(op)) => {
                if let Some(reason) = handlers.run(op, &process).await {
                    handlers.stop_all(&reason, &process).await;
                    return reason;
                }
            }
            Received::Down(down) => handlers.adder_ended(down.monitor, down.reason).await,
            // The manager does not trap exits, so an exit signal ends it before it could
            // arrive as a message; nothing to do if one ever does.
            Received::Exit(_) => {}
        }
    }
}

impl<E: Send + Sync + 'static> Handlers<E> {
    /// Runs one request; `Some(reason)` when the manager is to stop.
    async fn run<M: Send + 'static>(
        &mut self,
        op: Op<E>,
        process: &Process<M>,
    ) -> Option<ExitReason> {
        match op {
            Op::Notify(event) => self.notify(&event, process).await,
            Op::SyncNotify(event, done) => {
                self.notify(&event, process).await;
                let _ = done.send(());
            }
            Op::Add {
                handler,
                adder,
                answer,
            } => {
                let added = self.add(handler, adder, process).await;
                let _ = answer.send(added);
            }
            Op::Remove { id, answer } => {
                let removed = match self.take(id) {
                    Some(slot) => {
                        self.leave(slot, Removal::Removed, process).await;
                        Ok(())
                    }
                    None => Err(EventError::NoSuchHandler { id }),
                };
                let _ = answer.send(removed);
            }
            Op::Swap { old, new, answer } => {
                let swapped = self.swap(old, new).await;
                let _ = answer.send(swapped);
            }
            Op::Call { id, run } => self.call(id, run, process).await,
            Op::Handlers(answer) => {
                let _ = answer.send(self.slots.iter().map(|slot| slot.id).collect());
            }
            Op::Stop(reason) => return Some(reason),
        }
        None
    }

    /// Gives `event` to every handler in turn; takes out those that leave or crash.
    async fn notify<M: Send + 'static>(&mut self, event: &E, process: &Process<M>) {
        let mut kept = Vec::with_capacity(self.slots.len());
        for mut slot in std::mem::take(&mut self.slots) {
            match guarded(slot.handler.handle_event(event)).await {
                Ok(Next::Continue) => kept.push(slot),
                Ok(Next::Remove) => self.leave(slot, Removal::Removed, process).await,
                Err(message) => self.crashed(slot, message, process),
            }
        }
        // Handlers added meanwhile cannot exist (one request at a time), so `kept` is
        // all of them, in order.
        self.slots = kept;
    }

    async fn add<M: Send + 'static>(
        &mut self,
        mut handler: Box<dyn Installed<E>>,
        adder: Option<Adder>,
        process: &Process<M>,
    ) -> Result<HandlerId, EventError> {
        let init = match guarded(handler.init()).await {
            Ok(init) => init,
            Err(message) => Err(ExitReason::Panic(message)),
        };
        if let Err(reason) = init {
            return Err(EventError::HandlerInitFailed { reason });
        }
        let id = HandlerId(self.next_id);
        self.next_id += 1;
        let adder = adder.map(|mut adder| {
            // If the adder has already ended, the Down comes at once and the handler
            // leaves again, as OTP's add_sup_handler from a dead process.
            adder.monitor = Some(process.table().monitor(process.pid().id(), adder.process));
            adder
        });
        self.slots.push(Slot { id, handler, adder });
        Ok(id)
    }

    /// Puts `new` in the place of `old`, with `old`'s supervision; `old` terminates with
    /// [`Removal::Swapped`]. If `new` refuses to start, `old` stays.
    async fn swap(
        &mut self,
        old: HandlerId,
        mut new: Box<dyn Installed<E>>,
    ) -> Result<HandlerId, EventError> {
        let Some(at) = self.slots.iter().position(|slot| slot.id == old) else {
            return Err(EventError::NoSuchHandler { id: old });
        };
        let init = match guarded(new.init()).await {
            Ok(init) => init,
            Err(message) => Err(ExitReason::Panic(message)),
        };
        if let Err(reason) = init {
            return Err(EventError::HandlerInitFailed { reason });
        }
        let id = HandlerId(self.next_id);
        self.next_id += 1;
        let mut slot = std::mem::replace(
            &mut self.slots[at],
            Slot {
                id,
                handler: new,
                adder: None,
            },
        );
        self.slots[at].adder = slot.adder.take();
        let why = Removal::Swapped { by: id };
        if let Err(message) = guarded(slot.handler.terminate(&why)).await {
            tracing::warn!(%old, "an event handler panicked in terminate: {message}");
        }
        if let Some(adder) = &self.slots[at].adder {
            (adder.tell)(HandlerRemoved {
                id: old,
                reason: why,
            });
        }
        Ok(id)
    }

    async fn call<M: Send + 'static>(&mut self, id: HandlerId, run: CallFn, process: &Process<M>) {
        let Some(at) = self.slots.iter().position(|slot| slot.id == id) else {
            let _ = run(None);
            return;
        };
        if let Err(message) = run(Some(self.slots[at].handler.state())) {
            let slot = self.slots.remove(at);
            self.crashed(slot, message, process);
        }
    }

    fn take(&mut self, id: HandlerId) -> Option<Slot<E>> {
        let at = self.slots.iter().position(|slot| slot.id == id)?;
        Some(self.slots.remove(at))
    }

    /// A handler leaves in order: its `terminate` runs, its adder is told.
    async fn leave<M: Send + 'static>(
        &mut self,
        mut slot: Slot<E>,
        why: Removal,
        process: &Process<M>,
    ) {
        if let Err(message) = guarded(slot.handler.terminate(&why)).await {
            tracing::warn!(id = %slot.id, "an event handler panicked in terminate: {message}");
        }
        tell_adder(slot, why, process);
    }

    /// A handler panicked: out it goes, without `terminate`; the others stay.
    fn crashed<M: Send + 'static>(&mut self, slot: Slot<E>, message: String, process: &Process<M>) {
        tracing::warn!(id = %slot.id, "an event handler panicked and was removed: {message}");
        tell_adder(slot, Removal::Crashed(message), process);
    }

    /// The process that added a handler ended (the manager's monitor on it for that
    /// handler fired): the handler leaves with it. Nobody is left to tell.
    async fn adder_ended(&mut self, monitor: MonitorRef, reason: ExitReason) {
        let Some(at) = self
            .slots
            .iter()
            .position(|slot| slot.adder.as_ref().and_then(|a| a.monitor) == Some(monitor))
        else {
            return;
        };
        let mut slot = self.slots.remove(at);
        let why = Removal::AdderExited(reason);
        if let Err(message) = guarded(slot.handler.terminate(&why)).await {
            tracing::warn!(id = %slot.id, "an event handler panicked in terminate: {message}");
        }
    }

    /// The manager stops: every handler terminates, every adder is told.
    async fn stop_all<M: Send + 'static>(&mut self, reason: &ExitReason, process: &Process<M>) {
        for slot in std::mem::take(&mut self.slots) {
            self.leave(slot, Removal::ManagerStopped(reason.clone()), process)
                .await;
        }
    }
}

/// Tells the handler's adder, if it has one, that it left; and stops watching the adder.
fn tell_adder<E, M: Send + 'static>(slot: Slot<E>, why: Removal, process: &Process<M>) {
    if let Some(adder) = slot.adder {
        if let Some(monitor) = adder.monitor {
            process.demonitor(monitor);
        }
        (adder.tell)(HandlerRemoved {
            id: slot.id,
            reason: why,
        });
    }
}

/// Runs one callback; a panic becomes `Err(message)`.
async fn guarded<T>(callback: impl Future<Output = T>) -> Result<T, String> {
    CatchPanic::new(callback).await
}
