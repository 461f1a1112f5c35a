//! gen_server, OTP's most used behaviour: a process that holds state and answers
//! requests one at a time.
//!
//! You write a type that implements [`GenServer`] — its state, and callbacks for
//! calls (which get a reply), casts (which do not) and other messages — and
//! [`start`] it. The loop that receives, dispatches, replies, catches panics and runs
//! [`terminate`](GenServer::terminate) is written once, here, in `run.rs`.
//!
//! | OTP | here |
//! | --- | --- |
//! | `gen_server:start/3,4`, `start_link/3,4` | [`start`], [`start_named`], [`start_link`], [`start_link_named`] |
//! | `init/1` returning `{ok, State}` / `{stop, Reason}` | you build the state; [`GenServer::init`] returns `Ok(())` / `Err(reason)` |
//! | `gen_server:call/2,3` (5 s default) | [`ServerRef::call`], [`ServerRef::call_timeout`] |
//! | `gen_server:cast/2` | [`ServerRef::cast`] |
//! | `Pid ! Msg` → `handle_info/2` | [`ServerRef::info`] → [`GenServer::handle_info`] |
//! | `{reply, R, S}` / `{noreply, S}` + `gen_server:reply/2` | always `from.reply(value)` through [`ReplyTo`], now or later |
//! | `{stop, Reason, S}` | [`Next::Stop`] |
//! | `gen_server:stop/1,3` | [`ServerRef::stop`], [`ServerRef::stop_with`] |
//!
//! Calls and their errors: a call that cannot be queued fails at once
//! ([`NotAlive`](crate::process::ProcessError::NotAlive),
//! [`MailboxFull`](crate::process::ProcessError::MailboxFull)); a server that ends
//! before replying gives [`Exited`](crate::process::ProcessError::Exited) with its
//! reason; no reply in time gives [`Timeout`](crate::process::ProcessError::Timeout).
//!
//! # Other nodes
//!
//! A server is local until its `impl GenServer` carries `#[wtd_behaviour(mission)]`
//! (`expose.rs`). Then holders of the mission's key reach the instances started *by
//! name* in the node's table ([`Node::processes`](crate::Node::processes)) with
//! [`RemoteServer`] (`Counter::remote(&peer, "counter").call(..)`), from the command line
//! (`wtd call alice counting/counter@counter '{"Incr": 2}'`), or through `/apply`. A
//! server without the attribute is never reachable from another node.

mod behaviour;
mod expose;
mod instance;
mod remote;
mod reply;
mod request;
mod run;
mod server_ref;
mod start;

pub use behaviour::{GenServer, Next, ServerProcess};
pub use expose::{
    BehaviourApply, BehaviourEntry, BehaviourPath, Message, exposed_behaviours, exposed_twice,
    gen_server_apply, gen_server_running, lookup_behaviour,
};
pub(crate) use expose::{decode_message, server_failed};
pub(crate) use instance::RemoteInstance;
pub use remote::RemoteServer;
pub use reply::ReplyTo;
pub use request::Request;
pub use server_ref::{DEFAULT_TIMEOUT, ServerRef};
pub use start::{start, start_link, start_link_named, start_named};

pub(crate) use start::start_with;
