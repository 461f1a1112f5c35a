//! Mission `door`: the code lock of OTP's design principles (the `gen_statem` chapter),
//! as a gen_fsm other nodes drive (`examples/door.rs`).
//!
//! The door is `Locked` until someone presses the buttons of its code, in order. Then it
//! is `Open`, and its *state timeout* locks it again after a while. Buttons pressed while
//! it is open are *postponed*: they wait, and count once the door has locked again.
//! Entering a state runs its *enter action*: `Locked` forgets the buttons pressed so
//! far; `Open` starts the timeout.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wtd::gen_fsm::{Enter, FsmEvent, FsmProcess, GenFsm, Transition};
use wtd::prelude::*;
use wtd::process::ExitReason;

/// How long a locked door remembers a half-entered code.
pub const FORGET_AFTER: Duration = Duration::from_secs(30);

/// The door's data: its code, what was pressed so far, how long it stays open.
#[derive(Debug)]
pub struct Door {
    code: Vec<u8>,
    entered: Vec<u8>,
    open_for: Duration,
    opened: u64,
}

impl Door {
    /// A door that opens for `code` and locks itself `open_for` later.
    pub fn new(code: &[u8], open_for: Duration) -> Door {
        Door {
            code: code.to_vec(),
            entered: Vec::new(),
            open_for,
            opened: 0,
        }
    }

    /// Records a button pressed while locked; says which state that leads to.
    fn press(&mut self, button: u8) -> DoorState {
        self.entered.push(button);
        if self.entered.len() > self.code.len() {
            self.entered.remove(0);
        }
        if self.entered == self.code {
            self.opened += 1;
            DoorState::Open
        } else {
            DoorState::Locked
        }
    }

    fn status(&self, state: &DoorState) -> DoorStatus {
        DoorStatus {
            state: state.clone(),
            entered: self.entered.len(),
            opened: self.opened,
        }
    }

    /// Where a press leads: open, or stay locked and forget the buttons if no other
    /// comes within [`FORGET_AFTER`] (pressing again restarts that state timeout).
    fn after_press(next: DoorState) -> Transition<Self> {
        match next {
            DoorState::Open => Transition::next(DoorState::Open),
            DoorState::Locked => {
                Transition::keep().state_timeout(FORGET_AFTER, DoorTimeout::Forget)
            }
        }
    }
}

/// The door's states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DoorState {
    /// Buttons count towards the code.
    Locked,
    /// Buttons wait until the door locks again.
    Open,
}

/// What is sent to the door without waiting (`send_event`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DoorEvent {
    /// A button was pressed.
    Button(u8),
}

/// What is asked of the door, waiting for its status (`sync_send_event`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DoorCall {
    /// Press a button and wait for what it did (postponed, like a button, while open).
    Press(u8),
    /// Just the status, in any state.
    Status,
}

/// The answer to every [`DoorCall`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoorStatus {
    /// Locked or open.
    pub state: DoorState,
    /// How many buttons of a code are entered so far.
    pub entered: usize,
    /// How many times the door has opened.
    pub opened: u64,
}

/// What the door's timeouts bring back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorTimeout {
    /// Open long enough: lock.
    Lock,
    /// Locked and nobody pressed for a while: forget the buttons.
    Forget,
}

/// Exposed to holders of mission `door`, as `door/door@NAME`.
#[wtd_behaviour(door, name = "door")]
impl GenFsm for Door {
    type State = DoorState;
    type Event = DoorEvent;
    type Call = DoorCall;
    type Reply = DoorStatus;
    type Info = ();
    type Timeout = DoorTimeout;

    async fn init(&mut self, _: &FsmProcess<Self>) -> Result<DoorState, ExitReason> {
        if self.code.is_empty() {
            return Err(ExitReason::Other(
                "a door needs a code of at least one button".into(),
            ));
        }
        Ok(DoorState::Locked)
    }

    async fn handle_event(
        &mut self,
        state: &DoorState,
        event: FsmEvent<Self>,
        _: &FsmProcess<Self>,
    ) -> Transition<Self> {
        match (state, event) {
            (_, FsmEvent::Call(DoorCall::Status, from)) => {
                Transition::keep().reply(from, self.status(state))
            }
            (DoorState::Locked, FsmEvent::Event(DoorEvent::Button(button))) => {
                let next = self.press(button);
                Door::after_press(next)
            }
            (DoorState::Locked, FsmEvent::Call(DoorCall::Press(button), from)) => {
                let next = self.press(button);
                let status = self.status(&next);
                Door::after_press(next).reply(from, status)
            }
            (DoorState::Locked, FsmEvent::StateTimeout(DoorTimeout::Forget)) => {
                self.entered.clear();
                Transition::keep()
            }
            (DoorState::Open, FsmEvent::StateTimeout(DoorTimeout::Lock)) => {
                Transition::next(DoorState::Locked)
            }
            // While open, presses wait for the door to lock again.
            (DoorState::Open, event @ (FsmEvent::Event(_) | FsmEvent::Call(..))) => {
                Transition::postpone(event)
            }
            _ => Transition::keep(),
        }
    }

    async fn on_enter(
        &mut self,
        _old: &DoorState,
        new: &DoorState,
        _: &FsmProcess<Self>,
    ) -> Enter<Self> {
        match new {
            DoorState::Locked => {
                // A real door would switch its lock's relay here (OTP's `do_lock()`).
                self.entered.clear();
                Enter::keep()
            }
            DoorState::Open => {
                // ... and release it here (`do_unlock()`).
                Enter::keep().state_timeout(self.open_for, DoorTimeout::Lock)
            }
        }
    }
}
