//! The loop a state machine's process runs: take the next event (a postponed one due
//! again, a timeout, or the mailbox's oldest), hand it to `handle_event`, carry out the
//! transition; and at the end, `terminate`.

use std::collections::VecDeque;
use std::future::Future;

use tokio::time::Instant;

use super::behaviour::{FsmProcess, GenFsm};
use super::event::FsmEvent;
use super::request::FsmRequest;
use super::timers::{Fired, Timers};
use super::transition::{Actions, Target, Transition};
use super::{MAX_POSTPONED, Started};
use crate::process::{CatchPanic, ExitReason, ProcessError, ProcessId, Received};

/// The machine and what the loop keeps beside it.
struct Machine<F: GenFsm> {
    fsm: F,
    state: F::State,
    timers: Timers<F::Timeout>,
    /// Events postponed in the current state, oldest first.
    postponed: VecDeque<FsmEvent<F>>,
    /// Postponed events due again after a state change: handled before the mailbox.
    again: VecDeque<FsmEvent<F>>,
}

/// The whole life of a state machine's process; returns its exit reason.
pub(crate) async fn run<F: GenFsm>(
    mut fsm: F,
    mut process: FsmProcess<F>,
    name: Option<String>,
    parent: Option<ProcessId>,
    started: Started,
) -> ExitReason {
    if let Some(name) = name
        && let Err(refused) = process.table().register(&name, process.pid())
    {
        unlink_parent(&process, parent);
        let _ = started.send(Err(refused));
        return ExitReason::Normal;
    }
    let state = match guarded(fsm.init(&process)).await {
        Ok(Ok(state)) => state,
        Ok(Err(reason)) | Err(reason) => {
            unlink_parent(&process, parent);
            let _ = started.send(Err(ProcessError::InitFailed {
                reason: reason.clone(),
            }));
            return reason;
        }
    };
    let _ = started.send(Ok(()));
    let mut machine = Machine {
        fsm,
        state,
        timers: Timers::new(),
        postponed: VecDeque::new(),
        again: VecDeque::new(),
    };
    let first = machine.state.clone();
    let reason = match machine.enter(&first, &process).await {
        Ok(()) => machine.serve(&mut process, parent).await,
        Err(reason) => reason,
    };
    let Machine { mut fsm, state, .. } = machine;
    match guarded(fsm.terminate(&reason, &state, &process)).await {
        Ok(()) => reason,
        Err(panicked) => panicked,
    }
}

impl<F: GenFsm> Machine<F> {
    /// Handles events until a transition, a stop request or a panic ends the machine;
    /// returns why.
    async fn serve(
        &mut self,
        process: &mut FsmProcess<F>,
        parent: Option<ProcessId>,
    ) -> ExitReason {
        loop {
            let event = match self.next_event(process, parent).await {
                Ok(Some(event)) => event,
                Ok(None) => continue,
                Err(reason) => return reason,
            };
            self.timers.cancel_event();
            let transition = match guarded(self.fsm.handle_event(&self.state, event, process)).await
            {
                Ok(transition) => transition,
                Err(panicked) => return panicked,
            };
            if let Err(reason) = self.carry_out(transition, process).await {
                return reason;
            }
        }
    }

    /// The next event: a postponed one due again, then a timeout already due, then the
    /// mailbox (waiting at most until the next timeout). `Ok(None)`: nothing for the
    /// callback this time round. `Err`: stop with this reason.
    async fn next_event(
        &mut self,
        process: &mut FsmProcess<F>,
        parent: Option<ProcessId>,
    ) -> Result<Option<FsmEvent<F>>, ExitReason> {
        if let Some(event) = self.again.pop_front() {
            return Ok(Some(event));
        }
        if let Some(fired_now) = self.timers.take_due(Instant::now(), false) {
            return Ok(Some(fired(fired_now)));
        }
        let received = match self.timers.next_deadline() {
            None => Some(process.receive().await),
            Some(at) => {
                process
                    .receive_timeout(at.saturating_duration_since(Instant::now()))
                    .await
            }
        };
        let Some(received) = received else {
            return Ok(self.timers.take_due(Instant::now(), true).map(fired));
        };
        Ok(Some(match received {
            Received::Message(FsmRequest::Event(event)) => FsmEvent::Event(event),
            Received::Message(FsmRequest::Call(call, from)) => FsmEvent::Call(call, from),
            Received::Message(FsmRequest::Info(info)) => FsmEvent::Info(info),
            Received::Message(FsmRequest::State(answer)) => {
                let _ = answer.send(self.state.clone());
                return Ok(None);
            }
            Received::Message(FsmRequest::Stop(reason)) => return Err(reason),
            // The starter ended while we trap exits: stop with its reason, as an OTP
            // behaviour whose parent (its supervisor) ends.
            Received::Exit(exit) if exit.from.is_some() && exit.from == parent => {
                return Err(exit.reason);
            }
            Received::Exit(exit) => FsmEvent::Exit(exit),
            Received::Down(down) => FsmEvent::Down(down),
        }))
    }

    /// Carries out what `handle_event` said: keep the postponed event, send the
    /// replies, set the timers, and on a state change cancel the state timeout, run the
    /// enter action and line the postponed events up again.
    async fn carry_out(
        &mut self,
        transition: Transition<F>,
        process: &FsmProcess<F>,
    ) -> Result<(), ExitReason> {
        let Transition {
            target,
            postponed,
            actions,
        } = transition;
        if let Some(event) = postponed {
            self.postpone(event, process);
        }
        let changed_from = match target {
            Target::Stop(reason) => {
                self.act(actions);
                return Err(reason);
            }
            Target::Keep => None,
            Target::To(state) if state == self.state => None,
            Target::To(state) => {
                self.timers.cancel_state();
                Some(std::mem::replace(&mut self.state, state))
            }
        };
        self.act(actions);
        if let Some(old) = changed_from {
            // Oldest first, and before any postponed event still waiting its turn.
            let mut again = std::mem::take(&mut self.postponed);
            again.append(&mut self.again);
            self.again = again;
            self.enter(&old, process).await?;
        }
        Ok(())
    }

    /// Runs the enter action for entering the current state from `old`.
    async fn enter(&mut self, old: &F::State, process: &FsmProcess<F>) -> Result<(), ExitReason> {
        let entered = guarded(self.fsm.on_enter(old, &self.state, process)).await?;
        self.act(entered.actions);
        match entered.stop {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }

    fn act(&mut self, actions: Actions<F>) {
        for (from, value) in actions.replies {
            from.reply(value);
        }
        for timer in actions.timers {
            self.timers.apply(timer);
        }
    }

    fn postpone(&mut self, event: FsmEvent<F>, process: &FsmProcess<F>) {
        if self.postponed.len() >= MAX_POSTPONED {
            tracing::warn!(
                pid = %process.pid(),
                state = ?self.state,
                "gen_fsm dropped a postponed {} event: {MAX_POSTPONED} already wait for a \
                 state change (does this state ever end?)",
                event.kind()
            );
            return;
        }
        self.postponed.push_back(event);
    }
}

fn fired<F: GenFsm>(fired: Fired<F::Timeout>) -> FsmEvent<F> {
    match fired {
        Fired::State(msg) => FsmEvent::StateTimeout(msg),
        Fired::Named(name, msg) => FsmEvent::Timeout(name, msg),
        Fired::Event(msg) => FsmEvent::EventTimeout(msg),
    }
}

/// Runs one callback; a panic in it becomes `Err(ExitReason::Panic)`, so the loop can
/// still run `terminate` before the process ends.
async fn guarded<T>(callback: impl Future<Output = T>) -> Result<T, ExitReason> {
    CatchPanic::new(callback).await.map_err(ExitReason::Panic)
}

fn unlink_parent<F: GenFsm>(process: &FsmProcess<F>, parent: Option<ProcessId>) {
    if let Some(parent) = parent {
        process.table().unlink(process.pid().id(), parent);
    }
}
