//! gen_fsm: a process that is a state machine. In each state it handles each event its
//! own way, and moves to another state, or stays.
//!
//! "gen_fsm" is the seed's word and OTP's old behaviour. OTP has since replaced it with
//! `gen_statem`, which added what a state machine keeps needing: enter actions, state
//! timeouts, generic timeouts and postponed events. This module is built on
//! `gen_statem`'s ideas under the older name. (`gen_statem`'s "state functions" mode is
//! left out: in Rust one `match` on `(state, event)` reads better than a function per
//! state, and is checked for exhaustiveness.)
//!
//! You write a type that implements [`GenFsm`]: its *data* (the type itself), its
//! [`State`](GenFsm::State) enum, and [`handle_event`](GenFsm::handle_event), which gets
//! the current state and one [`FsmEvent`] and returns a [`Transition`]. Then you
//! [`start`] it. The loop that receives, keeps the timers, postpones, runs enter actions,
//! catches panics and runs [`terminate`](GenFsm::terminate) is written once, in `run.rs`.
//!
//! | OTP (`gen_fsm` / `gen_statem`) | here |
//! | --- | --- |
//! | `start/3,4`, `start_link/3,4` | [`start`], [`start_named`], [`start_link`], [`start_link_named`] |
//! | `init/1` returning `{ok, State, Data}` / `{stop, Reason}` | you build the data; [`GenFsm::init`] returns `Ok(state)` / `Err(reason)` |
//! | `gen_fsm:send_event/2`, `gen_statem:cast/2` | [`FsmRef::send_event`] → [`FsmEvent::Event`] |
//! | `gen_fsm:sync_send_event/2,3`, `gen_statem:call/2,3` (5 s default) | [`FsmRef::sync_send_event`], [`FsmRef::sync_send_event_timeout`] → [`FsmEvent::Call`] |
//! | `Pid ! Msg` → `info` | [`FsmRef::info`] → [`FsmEvent::Info`] (and [`FsmEvent::Exit`], [`FsmEvent::Down`]) |
//! | `handle_event_function` callback mode: `handle_event(Type, Content, State, Data)` | [`GenFsm::handle_event`]`(&mut self, &state, event)` |
//! | `{next_state, S, D}` / `keep_state_and_data` / `{stop, R}` | [`Transition::next`] / [`Transition::keep`] / [`Transition::stop`] |
//! | `{reply, From, R}` action, `gen_statem:reply/2` | [`Transition::reply`], or `from.reply(r)` through [`ReplyTo`](crate::gen_server::ReplyTo), now or later |
//! | `postpone` action | [`Transition::postpone`]`(event)`: the event is handed back, since Rust moved it into the callback |
//! | `state_enter` calls | [`GenFsm::on_enter`]`(old, new)`, returning an [`Enter`] (timeouts, stop; no state change) |
//! | `{state_timeout, T, Msg}` | [`Transition::state_timeout`] → [`FsmEvent::StateTimeout`]; cancelled by a state change |
//! | `{{timeout, Name}, T, Msg}` | [`Transition::timeout`]`(name, ..)` → [`FsmEvent::Timeout`]; survives state changes |
//! | `{timeout, T, Msg}` (event timeout) | [`Transition::event_timeout`] → [`FsmEvent::EventTimeout`]; cancelled by any event |
//! | `sys:get_state/1` | [`FsmRef::state`] |
//! | `stop/1,3` | [`FsmRef::stop`], [`FsmRef::stop_with`] |
//!
//! # The rules
//!
//! * **A state change** is a transition to a state that is not `==` to the current one.
//!   It cancels the state timeout (one the same transition sets is for the new state),
//!   runs `on_enter(old, new)`, and puts every postponed event back at the head of the
//!   queue, oldest first.
//! * **Order of events**: postponed events due again, then timeouts already due, then
//!   the mailbox, oldest first. An event timeout fires only if the mailbox stayed empty.
//! * **Postponed events are bounded** ([`MAX_POSTPONED`]): a postponed event has left the
//!   bounded mailbox, so without a bound a sender could grow the machine's memory by
//!   sending events the current state postpones.
//!
//! # Other nodes
//!
//! A machine is local until its `impl GenFsm` carries `#[wtd_behaviour(mission)]`
//! (`expose.rs`). Then holders of the mission's key reach the instances started *by
//! name* in the node's table with [`RemoteFsm`] (`Door::remote(&peer, "front")
//! .send_event(..)`, `.sync_send_event(..)`), from the command line (`wtd call alice
//! door/door@front '{"Press": 1}'`, a sync event in JSON), or through `/apply`. Its
//! `Event`, `Call` and `Reply` travel; its `Info` and `Timeout` never leave the node.

mod behaviour;
mod event;
mod expose;
mod fsm_ref;
mod remote;
mod request;
mod run;
mod start;
mod timers;
mod transition;

pub use behaviour::{FsmProcess, GenFsm};
pub use event::FsmEvent;
pub use expose::{gen_fsm_apply, gen_fsm_running};
pub use fsm_ref::FsmRef;
pub use remote::RemoteFsm;
pub use request::FsmRequest;
pub use start::{start, start_link, start_link_named, start_named};
pub use transition::{Enter, Transition};

/// How many postponed events a machine keeps at most; past that a newly postponed event
/// is dropped, with a warning in the log.
pub const MAX_POSTPONED: usize = crate::process::DEFAULT_MAILBOX_CAPACITY;

/// What the starter learns from the new process: started, or why not.
pub(crate) use crate::process::Started;
