//! gen_event, OTP's event manager: one process that hands every event it is sent to each
//! of its handlers, which come and go while it runs.
//!
//! A kind of manager is a type implementing [`GenEvent`], which says what its events
//! are. You [`start`] a manager of that kind, add handlers — types implementing
//! [`EventHandler`], each with its own state — and notify it. Handlers run one after the
//! other inside the manager's process; one that panics is removed and the others keep
//! going. Typical uses: a log that several outputs follow, an alarm board that pages,
//! counts and records.
//!
//! | OTP | here |
//! | --- | --- |
//! | `gen_event:start/0,1`, `start_link/0,1` | [`start`], [`start_named`], [`start_link`], [`start_link_named`] (typed by the kind `K`) |
//! | a handler module: `init/1`, `handle_event/2`, `terminate/2` | [`EventHandler`]: [`init`](EventHandler::init), [`handle_event`](EventHandler::handle_event), [`terminate`](EventHandler::terminate) |
//! | `{ok, State}` / `remove_handler` from `handle_event` | [`Next::Continue`] / [`Next::Remove`] |
//! | `gen_event:add_handler/3` | [`EventManager::add_handler`], returning a typed [`HandlerRef`] |
//! | `gen_event:add_sup_handler/3` and `{gen_event_EXIT, Handler, Reason}` | [`EventManager::add_sup_handler`] and the [`HandlerRemoved`] message, with its [`Removal`] |
//! | `gen_event:delete_handler/3` | [`EventManager::remove_handler`] |
//! | `gen_event:swap_handler/3`, `swap_sup_handler/3` | [`EventManager::swap_handler`] (the new handler keeps the old one's supervision) |
//! | `gen_event:notify/2` | [`EventManager::notify`] |
//! | `gen_event:sync_notify/2` | [`EventManager::sync_notify`], [`EventManager::sync_notify_timeout`] |
//! | `gen_event:call/3,4` + `handle_call/2` | [`EventManager::call`]`(&handler, \|state\| reply)`: the function *is* the request, its result the typed reply |
//! | `gen_event:which_handlers/1` | [`EventManager::handlers`] |
//! | `gen_event:stop/1,3` | [`EventManager::stop`], [`EventManager::stop_with`] |
//!
//! A handler that panics — in `handle_event`, `init`, or the function of a `call` — is
//! removed without running its `terminate` (its state may be broken); its adder, if it
//! was added with `add_sup_handler`, gets `HandlerRemoved { id, reason:
//! Removal::Crashed(message) }`. The manager and the other handlers go on.
//!
//! # Other nodes
//!
//! A manager is local until its kind's `impl GenEvent` carries
//! `#[wtd_behaviour(mission)]` (`expose.rs`). Then holders of the mission's key may
//! *notify* the managers of that kind started by name in the node's table
//! ([`Node::processes`](crate::Node::processes)), and nothing else: adding, removing and
//! calling handlers stays with the node that runs the manager. With
//! [`RemoteEventManager`] (`AlarmManager::remote(&peer, "main").notify(alarm)` or
//! `.sync_notify(alarm)`), from the command line (`wtd call alice
//! alarms/alarms@main '{"from": "bob", "level": "Warning", "text": "disk"}'`, a
//! sync_notify), or through `/apply`.

mod behaviour;
mod error;
mod expose;
mod handler;
mod manager;
mod remote;
mod request;
mod run;
mod start;

pub use behaviour::{EventHandler, GenEvent, Next};
pub use error::EventError;
pub use expose::{gen_event_apply, gen_event_running};
pub use handler::{HandlerId, HandlerRef, HandlerRemoved, Removal};
pub use manager::EventManager;
pub use remote::RemoteEventManager;
pub use request::Request;
pub use start::{start, start_link, start_link_named, start_named};
