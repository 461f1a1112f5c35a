//! WTD: safe clustered programming for beginners.
//!
//! # Layout
//!
//! * [`error`]: the one error enum; each variant says what happened and what to do.
//! * [`wire`]: everything that travels (the `wtd-wire` crate, shared with the proxy):
//!   the versioned envelope, message types, the postcard codec, domain-separated ed25519
//!   signatures, replay protection and size limits.
//! * [`nesting`]: decoding arguments and results with a bound on nesting depth.
//! * [`path`]: function paths as people read and type them (`demo/add` for
//!   `demo/demo/add`).
//! * [`registry`]: what `#[wtd_export]` registers into `inventory`, and lookup by
//!   mission/module/function.
//! * [`keys`]: node keys, capability keys and the key files that carry them.
//! * [`grants`]: the grant table, kept in `grants.toml`: who may run which missions,
//!   how often, until when; revocations apply on the next request.
//! * [`home`]: the node's folder on disk, and atomic writes.
//! * [`transport`]: the blocking HTTP client a node uses to talk to the proxy.
//! * [`proxies`]: a node's proxies, primary first, which one it talks to now, and when
//!   it moves to the next (failover).
//! * [`node`]: the runtime, one concept per file: config, outbox and send threads,
//!   inbox and receive thread, presence, pending calls, watchdog, and `node.toml`, the
//!   record of its name and proxy that it shares with the `wtd` command.
//! * `serve`: the callee's checks as one ordered pipeline, read top to bottom:
//!   bounds → addressee → signature → clock → grant → replay → rate → lookup → run →
//!   sign the reply → audit.
//! * [`call`]: [`Peer`] and calls to other nodes, typed and dynamic.
//! * [`process`]: Erlang-style processes on tokio: spawn, `Pid<M>`, bounded mailboxes,
//!   receive with a timeout, registered names, links, monitors, exit reasons; a panic
//!   ends only its own process.
//! * [`gen_server`]: the gen_server behaviour on top of processes: init, call (with a
//!   timeout), cast, info, terminate, stop; and, with `#[wtd_behaviour(mission)]`, named
//!   servers other nodes call through [`gen_server::RemoteServer`].
//! * [`gen_fsm`]: state machines (gen_fsm, built as OTP's gen_statem): states, events,
//!   sync events with replies, enter actions, state / generic / event timeouts,
//!   postponed events; other nodes send them events through [`gen_fsm::RemoteFsm`].
//! * [`gen_event`]: the gen_event behaviour: an event manager whose handlers come and
//!   go (add, remove, swap, call), notify and sync_notify, a crashing handler removed
//!   and its adder told; with `#[wtd_behaviour(mission)]`, other nodes notify named
//!   managers through [`gen_event::RemoteEventManager`].
//! * [`supervisor`]: the supervisor behaviour: child specs, one_for_one / one_for_all /
//!   rest_for_one, restart intensity, shutdown in reverse order; and, with
//!   `#[wtd_behaviour(mission)]`, which_children / count_children / restart_child /
//!   terminate_child from other nodes through [`supervisor::RemoteSupervisor`].
//! * [`billet`]: billets-doux: a `Pid` sent to another node becomes the right to message
//!   that one process ([`billet::RemotePid`] there), recorded, checked and revocable here.
//! * [`audit`]: the node's audit log, one line per incoming call, size-bounded, written
//!   by a thread of its own from a bounded queue.
//! * [`logging`]: log lines on stderr, coloured only on a terminal and without `NO_COLOR`.
//! * `cli` (feature `cli`, on by default): the `wtd` command.

#![warn(missing_docs)]

pub mod audit;
pub mod billet;
pub mod call;
#[cfg(feature = "cli")]
pub mod cli;
pub mod error;
pub mod gen_event;
pub mod gen_fsm;
pub mod gen_server;
pub mod grants;
pub mod home;
pub mod keys;
pub mod logging;
pub mod nesting;
pub mod node;
pub mod path;
pub mod process;
pub mod proxies;
pub mod registry;
mod serve;
pub mod supervisor;
pub mod transport;

/// What travels on the wire: the `wtd-wire` crate, which the proxy shares.
pub use wtd_wire as wire;

pub use call::Peer;
pub use error::{Error, Result};
pub use keys::KeyFile;
pub use node::{Node, NodeConfig};
pub use registry::{CallContext, current_call};
pub use wtd_macros::{wtd_behaviour, wtd_export};

/// Everything a WTD program usually needs: `use wtd::prelude::*;`.
pub mod prelude {
    pub use crate::call::Peer;
    pub use crate::error::Error;
    pub use crate::keys::KeyFile;
    pub use crate::node::{Node, NodeConfig};
    pub use wtd_macros::{wtd_behaviour, wtd_export};
}

/// Items the `#[wtd_export]` macro expands to. Not a public API: names and shapes may
/// change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::call::{call_typed, cast_typed};
    pub use crate::gen_event::{GenEvent, RemoteEventManager, gen_event_apply, gen_event_running};
    pub use crate::gen_fsm::{GenFsm, RemoteFsm, gen_fsm_apply, gen_fsm_running};
    pub use crate::gen_server::{
        BehaviourEntry, BehaviourPath, GenServer, Message, RemoteServer, gen_server_apply,
        gen_server_running,
    };
    pub use crate::process::ProcessTable;
    pub use crate::registry::{
        ApplyFuture, ExportedFn, FnPath, Remote, apply_async, apply_blocking, parent_module,
    };
    pub use crate::supervisor::{RemoteSupervisor, supervisor_apply, supervisor_running};
    pub use crate::wire::Encoding;
    pub use inventory;
}
