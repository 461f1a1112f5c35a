//! [`Transition`], what [`GenFsm::handle_event`] says should happen next, and [`Enter`],
//! what an enter action may add.
//!
//! Both are builders: a constructor says where the machine goes
//! (`Transition::next(State::Open)`), then methods add the *actions* that go with it, in
//! the order written: replies, and timeouts set or cancelled.
//!
//! ```
//! # use std::time::Duration;
//! # use wtd::gen_fsm::{GenFsm, FsmEvent, FsmProcess, Transition};
//! # use wtd::process::ExitReason;
//! # #[derive(Clone, PartialEq, Debug)] enum State { Locked, Open }
//! # struct Door;
//! # impl GenFsm for Door {
//! #     type State = State; type Event = (); type Call = (); type Reply = &'static str;
//! #     type Info = (); type Timeout = ();
//! #     async fn init(&mut self, _: &FsmProcess<Self>) -> Result<State, ExitReason> { Ok(State::Locked) }
//! #     async fn handle_event(&mut self, _: &State, event: FsmEvent<Self>, _: &FsmProcess<Self>) -> Transition<Self> {
//! #         let FsmEvent::Call((), from) = event else { return Transition::keep() };
//! Transition::next(State::Open)
//!     .reply(from, "opened")
//!     .state_timeout(Duration::from_secs(10), ())
//! #     }
//! # }
//! ```

use std::time::Duration;

use super::behaviour::GenFsm;
use super::event::FsmEvent;
use crate::gen_server::ReplyTo;
use crate::process::ExitReason;

/// Where a transition goes.
pub(crate) enum Target<S> {
    /// Stay in the current state.
    Keep,
    /// Go to this state (a change only if it differs from the current one).
    To(S),
    /// Stop the machine with this reason.
    Stop(ExitReason),
}

/// A change to the machine's timers.
pub(crate) enum TimerAction<T> {
    /// Start (or restart) the state timeout.
    State(Duration, T),
    /// Cancel the state timeout.
    CancelState,
    /// Start (or restart) the generic timeout of this name.
    Named(&'static str, Duration, T),
    /// Cancel the generic timeout of this name.
    CancelNamed(&'static str),
    /// Start the event timeout.
    Event(Duration, T),
}

/// The actions that go with a transition or an enter action.
pub(crate) struct Actions<F: GenFsm> {
    pub(crate) replies: Vec<(ReplyTo<F::Reply>, F::Reply)>,
    pub(crate) timers: Vec<TimerAction<F::Timeout>>,
}

impl<F: GenFsm> Actions<F> {
    fn new() -> Self {
        Actions {
            replies: Vec::new(),
            timers: Vec::new(),
        }
    }
}

/// What happens after an event: where the machine goes, and what goes with it.
///
/// | `gen_statem` | here |
/// | --- | --- |
/// | `{next_state, S, Data}` | [`Transition::next(s)`](Self::next) |
/// | `keep_state_and_data` | [`Transition::keep()`](Self::keep) |
/// | `{keep_state_and_data, [postpone]}` | [`Transition::postpone(event)`](Self::postpone) |
/// | `{stop, Reason}` | [`Transition::stop(reason)`](Self::stop) |
/// | `{reply, From, R}` | [`.reply(from, r)`](Self::reply) |
/// | `{state_timeout, T, Msg}` | [`.state_timeout(t, msg)`](Self::state_timeout) |
/// | `{{timeout, Name}, T, Msg}` | [`.timeout(name, t, msg)`](Self::timeout) |
/// | `{timeout, T, Msg}` | [`.event_timeout(t, msg)`](Self::event_timeout) |
///
/// The data needs no slot here: it is `self`, changed in place by the callback.
#[must_use = "a transition does nothing until the callback returns it"]
pub struct Transition<F: GenFsm> {
    pub(crate) target: Target<F::State>,
    pub(crate) postponed: Option<FsmEvent<F>>,
    pub(crate) actions: Actions<F>,
}

impl<F: GenFsm> Transition<F> {
    fn to(target: Target<F::State>) -> Self {
        Transition {
            target,
            postponed: None,
            actions: Actions::new(),
        }
    }

    /// Go to `state`. If it differs from the current state (by `==`), that is a state
    /// change: the state timeout is cancelled, [`on_enter`](GenFsm::on_enter) runs, and
    /// postponed events are tried again, oldest first. If it is the same state, this is
    /// [`keep`](Self::keep).
    pub fn next(state: F::State) -> Self {
        Transition::to(Target::To(state))
    }

    /// Stay in the current state; timers keep running.
    pub fn keep() -> Self {
        Transition::to(Target::Keep)
    }

    /// Not now: stay in the current state and keep `event` until the state changes,
    /// then handle it again in the new state (before anything newer). A postponed call
    /// keeps its caller waiting, up to the caller's timeout.
    ///
    /// Give back the event you were handed (`event @ FsmEvent::Event(..)` in the match
    /// binds it whole). At most [`MAX_POSTPONED`](super::MAX_POSTPONED) events wait at
    /// once; past that the newest is dropped, with a warning in the log (a dropped call
    /// leaves its caller to its timeout), so no sender can grow the machine's memory.
    pub fn postpone(event: FsmEvent<F>) -> Self {
        Transition {
            postponed: Some(event),
            ..Transition::keep()
        }
    }

    /// Stop the machine: [`terminate`](GenFsm::terminate) runs with `reason`, then the
    /// process ends with it. Replies added to this transition are still sent.
    pub fn stop(reason: ExitReason) -> Self {
        Transition::to(Target::Stop(reason))
    }

    /// Answer a call with `value` as the transition happens.
    pub fn reply(mut self, from: ReplyTo<F::Reply>, value: F::Reply) -> Self {
        self.actions.replies.push((from, value));
        self
    }

    /// After `after` in the state this transition goes to, the machine gets
    /// [`FsmEvent::StateTimeout(msg)`](FsmEvent::StateTimeout), unless the state
    /// changes first. Replaces a state timeout already running.
    pub fn state_timeout(mut self, after: Duration, msg: F::Timeout) -> Self {
        self.actions.timers.push(TimerAction::State(after, msg));
        self
    }

    /// Cancels the state timeout.
    pub fn cancel_state_timeout(mut self) -> Self {
        self.actions.timers.push(TimerAction::CancelState);
        self
    }

    /// After `after`, the machine gets [`FsmEvent::Timeout(name, msg)`](FsmEvent::Timeout),
    /// whatever state it is in then. Replaces the timeout of that name if one runs.
    pub fn timeout(mut self, name: &'static str, after: Duration, msg: F::Timeout) -> Self {
        self.actions
            .timers
            .push(TimerAction::Named(name, after, msg));
        self
    }

    /// Cancels the generic timeout `name`, if it runs.
    pub fn cancel_timeout(mut self, name: &'static str) -> Self {
        self.actions.timers.push(TimerAction::CancelNamed(name));
        self
    }

    /// If no event at all arrives within `after`, the machine gets
    /// [`FsmEvent::EventTimeout(msg)`](FsmEvent::EventTimeout). Any event cancels it.
    pub fn event_timeout(mut self, after: Duration, msg: F::Timeout) -> Self {
        self.actions.timers.push(TimerAction::Event(after, msg));
        self
    }
}

/// What an enter action ([`GenFsm::on_enter`]) says: carry on, with timeouts set or
/// cancelled, or stop. It cannot change state (as in `gen_statem`): an enter action that
/// moved on would make the state it entered a state nobody could observe.
#[must_use = "an enter action's result does nothing until on_enter returns it"]
pub struct Enter<F: GenFsm> {
    pub(crate) stop: Option<ExitReason>,
    pub(crate) actions: Actions<F>,
}

impl<F: GenFsm> Enter<F> {
    /// Stay in the state just entered.
    pub fn keep() -> Self {
        Enter {
            stop: None,
            actions: Actions::new(),
        }
    }

    /// Stop the machine with `reason` ([`Transition::stop`]).
    pub fn stop(reason: ExitReason) -> Self {
        Enter {
            stop: Some(reason),
            ..Enter::keep()
        }
    }

    /// [`Transition::state_timeout`]: leave this state after `after`, unless something
    /// else moves the machine first.
    pub fn state_timeout(mut self, after: Duration, msg: F::Timeout) -> Self {
        self.actions.timers.push(TimerAction::State(after, msg));
        self
    }

    /// [`Transition::timeout`].
    pub fn timeout(mut self, name: &'static str, after: Duration, msg: F::Timeout) -> Self {
        self.actions
            .timers
            .push(TimerAction::Named(name, after, msg));
        self
    }

    /// [`Transition::cancel_timeout`].
    pub fn cancel_timeout(mut self, name: &'static str) -> Self {
        self.actions.timers.push(TimerAction::CancelNamed(name));
        self
    }

    /// [`Transition::event_timeout`].
    pub fn event_timeout(mut self, after: Duration, msg: F::Timeout) -> Self {
        self.actions.timers.push(TimerAction::Event(after, msg));
        self
    }
}
