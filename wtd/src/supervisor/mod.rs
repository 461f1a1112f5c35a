//! supervisor, OTP's way to "let it crash": a process that starts children, watches
//! them, and restarts them when they end.
//!
//! You write a type that implements [`Supervisor`] — one callback, `init`, returning a
//! [`SupervisorSpec`]: a [`Strategy`], an [`Intensity`] and [`ChildSpec`]s — and
//! [`start`] it. The supervisor's process traps exits, starts the children in order
//! (each linked to it and monitored), and when one ends restarts it (and, by the
//! strategy, its siblings) as its [`Restart`] says. More than `max_restarts` restarts
//! within `period` and it gives up: it stops every child (in reverse start order, each
//! as its [`Shutdown`] says) and exits with a reason that says so, leaving the next
//! decision to its own supervisor.
//!
//! | OTP | here |
//! | --- | --- |
//! | `supervisor:start_link/2,3` | [`start`], [`start_named`], [`start_link`], [`start_link_named`] |
//! | `init/1` returning `{ok, {SupFlags, ChildSpecs}}` | [`Supervisor::init`] returning [`SupervisorSpec`] |
//! | `strategy => one_for_one \| one_for_all \| rest_for_one` | [`Strategy`] |
//! | `intensity`, `period` (1 in 5 s) | [`Intensity`], the same default |
//! | child spec `#{id, start, restart, shutdown, type}` | [`ChildSpec::worker`] / [`ChildSpec::supervisor`], [`ChildSpec::restart`], [`ChildSpec::shutdown`] |
//! | `start => {M, F, A}` linking the child | a closure given a [`Starter`], whose `spawn`, `gen_server`, `supervisor` link from the first instant |
//! | `permanent \| transient \| temporary` | [`Restart`] |
//! | `brutal_kill \| Timeout \| infinity` | [`Shutdown`] (workers 5 s, supervisors `Infinity`, as OTP) |
//! | `worker \| supervisor` | [`ChildKind`] |
//! | `start_child/2`, `terminate_child/2`, `restart_child/2`, `delete_child/2` | [`SupervisorRef`]'s methods of those names |
//! | `which_children/1`, `count_children/1` | [`SupervisorRef::which_children`] ([`ChildInfo`]), [`SupervisorRef::count_children`] ([`ChildCounts`]) |
//! | `{error, not_found \| running \| already_present}` | [`ChildError`] |
//! | exit `shutdown` after `reached_max_restart_intensity` | exit [`ExitReason::Other`](crate::process::ExitReason::Other), a sentence naming the child |
//!
//! Left out: `simple_one_for_one` (use `start_child` with specs of one shape),
//! `significant` children and `auto_shutdown`, `ignore` from a start function, and
//! hot code upgrade (`modules`, `code_change`).
//!
//! # Other nodes
//!
//! With `#[wtd_behaviour(mission)]` on the `impl Supervisor`, holders of the mission's
//! key reach the supervisors started *by name* ([`start_named`]) in the node's table:
//! with [`RemoteSupervisor`] (`App::remote(&peer, "app").which_children()`), from the
//! command line (`wtd call alice ops/app@app '"WhichChildren"'`), or through `/apply`.
//! They may list and count children and terminate or restart one
//! ([`SupervisorRequest`]); never add, delete or stop. Every such call passes the
//! node's grants, rate limits, revocation, replay protection and audit.
//!
//! # Children on other nodes: failover
//!
//! [`ChildSpec::on_nodes`] places a child on another node, from a list: the supervisor
//! starts it through a function that node exports (and granted this one a key for), and
//! watches the Pid it hands back with a remote monitor. When the child ends, or its node
//! leaves the proxy's directory ([`ExitReason::NodeDown`](crate::process::ExitReason::NodeDown)),
//! the supervisor restarts it by its strategy: on the same node if it is there, else on
//! the next in the list — failover from one machine to another — and the restart
//! intensity counts these restarts too. On the node that runs the child, [`guard`]
//! makes a gen_server's Pid fit to hand back; on the supervisor's side,
//! [`Child::remote`] says which message stops it. `examples/failover.rs` shows it all.

mod away;
mod behaviour;
mod child;
mod child_spec;
mod expose;
mod info;
mod intensity;
mod remote;
mod run;
mod start;
mod supervisor_ref;

pub use away::{StopChild, guard};
pub use behaviour::{Intensity, Strategy, Supervisor, SupervisorSpec};
pub use child::Child;
pub use child_spec::{ChildKind, ChildSpec, Restart, Shutdown, Starter};
pub use expose::{SupervisorReply, SupervisorRequest, supervisor_apply, supervisor_running};
pub use info::{ChildCounts, ChildError, ChildInfo};
pub use remote::RemoteSupervisor;
pub use start::{start, start_link, start_link_named, start_named};
pub use supervisor_ref::{SupervisorMessage, SupervisorRef};
