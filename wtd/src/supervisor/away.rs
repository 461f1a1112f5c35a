//! The other side of a child on another node: what the node that runs it hands back.
//!
//! A supervisor on Alice's node that places a child on Bob's node calls a function Bob's
//! node exports for it ("start a worker of kind K", in a mission Bob granted Alice). That
//! function starts the worker on Bob's node and returns a Pid the supervisor can watch
//! and ask to stop. A gen_server's own Pid carries its private request type, which cannot
//! travel, so [`guard`] starts a small process that stands for the server: it ends when
//! the server ends, with the server's reason, and stops the server when it is sent
//! [`StopChild`]. The function returns `RemotePid::from(guard)`, and the supervisor wraps
//! what it receives in [`Child::remote(pid, StopChild)`](super::Child::remote).

use serde::{Deserialize, Serialize};

use crate::gen_server::{GenServer, ServerRef};
use crate::process::{ExitReason, Pid, Process, ProcessTable, Received};

/// The message that asks a guarded child to stop (sent by its supervisor, on another
/// node, when it terminates or restarts it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopChild;

/// Starts a process in `table` that stands for `server` to a supervisor on another
/// node: it ends when the server ends, with the same reason, and on [`StopChild`] it
/// stops the server (its `terminate` runs) and ends with [`ExitReason::Shutdown`].
pub fn guard<S: GenServer>(table: &ProcessTable, server: ServerRef<S>) -> Pid<StopChild> {
    table.spawn(move |mut me: Process<StopChild>| async move {
        let watch = me.monitor(server.pid());
        // Each turn ends with a message or the server's Down; other messages are
        // ignored, so the loop ends when the server does.
        loop {
            match me.receive().await {
                Received::Down(down) if down.monitor == watch => return down.reason,
                Received::Message(StopChild) => {
                    let _ = server.stop().await;
                    return ExitReason::Shutdown;
                }
                _ => {}
            }
        }
    })
}
