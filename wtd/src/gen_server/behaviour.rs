//! The [`GenServer`] trait: what you write to have a server, and [`Next`], what each
//! callback says should happen next.

use std::future::Future;

use super::reply::ReplyTo;
use super::request::Request;
use crate::process::{ExitReason, Process, Received};

/// The process a gen_server runs in, as its callbacks see it: link, monitor, trap exits,
/// spawn, or find its own Pid. (Do not `receive` from it: the server's loop does.)
pub type ServerProcess<S> = Process<Request<S>>;

/// What a callback wants next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Keep serving.
    Continue,
    /// Stop: [`GenServer::terminate`] runs with this reason, then the process ends with
    /// it. [`ExitReason::Normal`] for an orderly end that links do not spread.
    Stop(ExitReason),
}

/// A server: state (the type itself) plus callbacks the server's process runs one
/// message at a time, as OTP's `gen_server`.
///
/// You write the callbacks; [`start`](super::start) runs the loop that receives
/// messages, calls the right callback and replies. Because one process handles one
/// message at a time, the state needs no lock: `&mut self` is enough.
///
/// The associated types say what the server understands, and the compiler checks every
/// caller against them:
///
/// * `Call`: requests that wait for an answer of type `Reply` ([`ServerRef::call`](super::ServerRef::call));
/// * `Cast`: requests that do not ([`ServerRef::cast`](super::ServerRef::cast));
/// * `Info`: other messages, sent with [`ServerRef::info`](super::ServerRef::info), that
///   arrive at [`handle_info`](Self::handle_info) together with the `Exit` and `Down`
///   messages of links and monitors.
///
/// Use `()` for a kind you do not need. Locally they only need to be `Send`. A server
/// exposed to other nodes (`#[wtd_behaviour]`) also needs them to be `Serialize +
/// DeserializeOwned`; that bound sits where a server is offered to a mission, so
/// servers that stay local never need serde.
///
/// The callbacks are `async`: a callback may await (a timer, a call to another server),
/// and the server handles nothing else meanwhile, exactly as an Erlang gen_server that
/// blocks in a callback. A panic in a callback crashes the server: `terminate` runs with
/// [`ExitReason::Panic`], then the process ends with it.
pub trait GenServer: Sized + Send + 'static {
    /// Requests that get a reply.
    type Call: Send + 'static;
    /// The reply to a `Call`.
    type Reply: Send + 'static;
    /// Requests without a reply.
    type Cast: Send + 'static;
    /// Other messages.
    type Info: Send + 'static;

    /// Runs first, in the server's process, before [`start`](super::start) returns: the
    /// place to trap exits, link, monitor or check that the server can work. `Err(reason)`
    /// refuses to start: `start` returns
    /// [`ProcessError::InitFailed`](crate::process::ProcessError::InitFailed) with it,
    /// and the process ends with `reason` (without spreading it to the starter through
    /// the link: the error is the one report of that failure).
    fn init(
        &mut self,
        process: &ServerProcess<Self>,
    ) -> impl Future<Output = Result<(), ExitReason>> + Send {
        let _ = process;
        async { Ok(()) }
    }

    /// Handles a call. Answer it through `from`, now (`from.reply(value)`) or later:
    /// keep `from` (in `self`, or in a task you spawn) and reply when the answer is
    /// ready, while the server goes on with other messages. A caller whose `from` is
    /// dropped unanswered waits until its timeout, as in Erlang.
    fn handle_call(
        &mut self,
        call: Self::Call,
        from: ReplyTo<Self::Reply>,
        process: &ServerProcess<Self>,
    ) -> impl Future<Output = Next> + Send;

    /// Handles a cast. By default, ignores it.
    fn handle_cast(
        &mut self,
        cast: Self::Cast,
        process: &ServerProcess<Self>,
    ) -> impl Future<Output = Next> + Send {
        let _ = (cast, process);
        async { Next::Continue }
    }

    /// Handles an info message, or the [`Exit`](crate::process::Exit) of a link (when
    /// the server traps exits) or the [`Down`](crate::process::Down) of a monitor. By
    /// default, logs that nobody handles it and goes on.
    fn handle_info(
        &mut self,
        info: Received<Self::Info>,
        process: &ServerProcess<Self>,
    ) -> impl Future<Output = Next> + Send {
        let kind = match &info {
            Received::Message(_) => "an info message",
            Received::Exit(_) => "an exit message",
            Received::Down(_) => "a down message",
        };
        tracing::debug!(pid = %process.pid(), "gen_server ignored {kind}: it has no handle_info");
        async { Next::Continue }
    }

    /// Runs last, when the server stops: a callback returned [`Next::Stop`],
    /// [`ServerRef::stop`](super::ServerRef::stop) asked, a callback panicked, or (while
    /// trapping exits) the process that started it with `start_link` ended. It does not
    /// run when the server is killed by an exit signal it does not trap, as in OTP: put
    /// cleanup that must always happen in `Drop`, not here.
    fn terminate(
        &mut self,
        reason: &ExitReason,
        process: &ServerProcess<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, process);
        async {}
    }
}
