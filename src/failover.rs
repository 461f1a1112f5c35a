//! Missions `workers` and `tickets`: a service that fails over from one machine to another
//! (`examples/failover.rs`).
//!
//! Bob's and Carol's nodes each export `workers/failover/start_tickets`: it starts a
//! ticket counter (a gen_server, `tickets/tickets@tickets`) on that node and hands back
//! the Pid of its [`guard`], which a supervisor on another node watches. Alice's
//! supervisor, [`Pool`], places the counter on the first of its nodes that is online;
//! when that node goes, it starts the counter again on the next. The counter's state
//! (the last ticket) does not move with it: failover moves the service, not its data.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wtd::billet::RemotePid;
use wtd::gen_server::{self, GenServer, Next, ReplyTo, ServerProcess};
use wtd::prelude::*;
use wtd::supervisor::{Child, ChildSpec, StopChild, Supervisor, SupervisorSpec, guard};

/// The name the counter is registered under on the node that runs it.
pub const INSTANCE: &str = "tickets";

/// Hands out numbered tickets, and says which node it runs on.
#[derive(Debug, Default)]
pub struct Tickets {
    last: u64,
}

/// What the counter answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketCall {
    /// The next ticket.
    Next,
    /// A bug, on purpose: the counter panics.
    Crash,
}

/// Exposed to holders of mission `tickets`, as `tickets/tickets@NAME`.
#[wtd_behaviour(tickets, name = "tickets")]
impl GenServer for Tickets {
    type Call = TicketCall;
    type Reply = u64;
    type Cast = ();
    type Info = ();

    async fn handle_call(
        &mut self,
        call: TicketCall,
        from: ReplyTo<u64>,
        _: &ServerProcess<Self>,
    ) -> Next {
        match call {
            TicketCall::Next => {
                self.last += 1;
                from.reply(self.last);
            }
            TicketCall::Crash => panic!("asked to crash"),
        }
        Next::Continue
    }
}

/// Starts a ticket counter on this node, registered as `tickets`, and hands back the Pid
/// of its guard: the supervisor that asked watches it, and sends it `StopChild` to stop
/// the counter.
#[wtd_export(workers)]
pub async fn start_tickets() -> Result<RemotePid<StopChild>, String> {
    let table = wtd::current_call()
        .ok_or("start_tickets is called from another node, not locally")?
        .processes;
    let server = gen_server::start_named(&table, INSTANCE, Tickets::default())
        .await
        .map_err(|e| e.to_string())?;
    Ok(RemotePid::from(guard(&table, server)))
}

/// Keeps one ticket counter running on one of `nodes`, in that order of preference.
pub struct Pool {
    /// Where the counter may run: peers for nodes that granted this one `workers`.
    pub nodes: Vec<Peer>,
    /// Restarts allowed within a minute before the pool gives up.
    pub max_restarts: u32,
}

impl Supervisor for Pool {
    fn init(&mut self) -> SupervisorSpec {
        SupervisorSpec::one_for_one()
            .intensity(self.max_restarts, Duration::from_secs(60))
            .child(ChildSpec::on_nodes(
                INSTANCE,
                self.nodes.clone(),
                |peer| async move {
                    let pid = start_tickets::call(&peer).await?.map_err(|why| {
                        wtd::Error::Invalid(format!("`{}` could not start it: {why}", peer.name()))
                    })?;
                    Ok(Child::remote(pid, StopChild))
                },
            ))
    }
}

/// The node a running child's Pid (`<carol.12>`, as `which_children` shows it) is on.
pub fn node_of(pid: &str) -> Option<&str> {
    pid.strip_prefix('<')?.split('.').next()
}
