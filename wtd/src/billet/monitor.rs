//! Monitors on processes of other nodes: [`RemotePid::monitor`].
//!
//! A monitor on a local process is a few map entries in the process table, and the
//! table tells the watcher the moment the process ends. A process of another node has
//! no such table in common with the watcher, and its node may vanish without a word. So
//! a small task on the watcher's node does the watching:
//!
//! * once every [`WATCH_EVERY`] it asks the process's node (a **watch**, wire version 5:
//!   signed by the billet's holder key, checked by the origin's pipeline like a send, and
//!   rate-limited with the billet's sends) whether the process has ended, and the origin
//!   answers `Alive`, or `Ended` with the [`ExitReason`];
//! * when the origin's node does not answer in [`ASK_TIMEOUT`] and is gone from the
//!   proxy's directory (the proxy drops a node 3 s after its last sign of life), or the
//!   proxy says it is not connected, the process is reported with
//!   [`ExitReason::NodeDown`]: nothing waits for a node that is gone. A node keeps only
//!   the entries of the nodes it follows (at most 32), so the watcher's node follows the
//!   origin's for as long as the monitor lasts, before any node it merely calls; with 32
//!   nodes watched already, the proxy's `NodeDown` (3 s after the last sign of life)
//!   still ends the watch;
//! * a billet the origin no longer knows (its process ended and was forgotten, or the
//!   node restarted and lost its processes) reports [`ExitReason::NoProc`]; a billet that
//!   cannot be used any more (expired, or its grant revoked) reports
//!   [`ExitReason::Other`] saying so, since the process can no longer be watched.
//!
//! The watcher gets exactly one [`Down`], as from a local monitor; demonitoring, or the
//! watcher ending, stops the task. A monitor costs one small signed call a second, and
//! tells of an exit within about a second, of a lost node within about 3–7 s.
//!
//! Links across nodes are not offered: a link would let the holder of a billet end a
//! process of another node, which is more than the one right a billet gives (to message
//! that process). A supervisor watches remote children with monitors.

use std::time::Duration;

use super::{Held, RemotePid, Route, Watched};
use crate::error::Error;
use crate::process::{Down, ExitReason, MonitorRef, Process, ProcessId, ProcessTable};
use crate::wire::{Encoding, Target};

/// How often a monitor asks a process's node whether the process has ended.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);
/// How long one watch waits for the node's answer before the directory is asked
/// whether the node is still there.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(3);

impl<M> RemotePid<M> {
    /// Watches the process from `watcher`: when it ends, `watcher` gets exactly one
    /// [`Received::Down`](crate::process::Received::Down) with its reason — or, if its
    /// node leaves the proxy's directory first, with [`ExitReason::NodeDown`]. As
    /// [`Process::monitor`], for a process on this node or another; stop it with
    /// [`Process::demonitor`].
    ///
    /// For a process of another node this runs a small task that asks its node once a
    /// second (see this module's docs); it needs the tokio runtime the node runs on.
    pub fn monitor<W: Send + 'static>(&self, watcher: &Process<W>) -> MonitorRef {
        match &self.route {
            Route::Local(pid) => watcher.monitor(pid),
            Route::Billet(_) => self.monitor_from(watcher.table(), watcher.pid().id()),
        }
    }

    /// [`monitor`](Self::monitor) from process `watcher` of `table`, for callers that
    /// hold no typed [`Process`] (a supervisor's type-erased child).
    pub(crate) fn monitor_from(&self, table: &ProcessTable, watcher: ProcessId) -> MonitorRef {
        let held = match &self.route {
            Route::Local(pid) => return table.monitor(watcher, pid.id()),
            Route::Billet(held) => held.as_ref().clone(),
        };
        let monitor = table.next_monitor();
        let (go, ready) = tokio::sync::oneshot::channel::<()>();
        let watching = table.clone();
        // The origin's node stays followed while the task lives (however it ends).
        let following = held.peer.watching();
        let task = tokio::spawn(async move {
            let _following = following;
            // Recorded before the first question, so a quick answer finds it.
            if ready.await.is_err() {
                return;
            }
            if let Some(reason) = watch(&held).await {
                let down = Down {
                    monitor,
                    process: ProcessId(held.billet.process),
                    reason,
                };
                watching.remote_down(watcher, down);
            }
        });
        table.monitor_remote(watcher, monitor, task.abort_handle());
        let _ = go.send(());
        monitor
    }
}

/// Watches until the process ends or its node goes: the reason; `None` when this node
/// stops (its watchers are ending too).
async fn watch(held: &Held) -> Option<ExitReason> {
    loop {
        match ask(held).await {
            Answer::Alive => {}
            Answer::Ended(reason) => return Some(reason),
            Answer::Quit => return None,
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

/// One answer to a watch.
enum Answer {
    Alive,
    Ended(ExitReason),
    Quit,
}

/// Asks the process's node once.
async fn ask(held: &Held) -> Answer {
    let origin = held.billet.origin.clone();
    let target = Target::Watch {
        process: held.billet.process,
        nonce: held.billet.nonce,
    };
    let peer = held.peer.with_timeout(ASK_TIMEOUT);
    let asked = match peer.sign_target(target, Encoding::Postcard, Vec::new(), true) {
        Ok(signed) => peer.send_signed(signed).await,
        Err(e) => Err(e),
    };
    match asked {
        Ok(bytes) => match crate::wire::decode_exact::<Watched>(&bytes) {
            Ok(Watched::Alive) => Answer::Alive,
            Ok(Watched::Ended(reason)) => Answer::Ended(reason),
            Err(_) => Answer::Ended(ExitReason::Other(format!(
                "node `{origin}` answered a watch with something else than a process's state, so the process cannot be watched"
            ))),
        },
        Err(Error::Stopped) => Answer::Quit,
        Err(Error::BilletRefused { gone: true, .. }) => Answer::Ended(ExitReason::NoProc),
        Err(e @ (Error::BilletRefused { .. } | Error::Revoked { .. } | Error::Expired { .. })) => {
            Answer::Ended(ExitReason::Other(format!(
                "it can no longer be watched: {e}"
            )))
        }
        Err(Error::NodeDown { .. }) => Answer::Ended(ExitReason::NodeDown(origin)),
        // No answer, a busy node, a rate spent, a proxy away: ask again, unless the
        // proxy's directory no longer lists the node.
        Err(_) if held.peer.node_stopped() => Answer::Quit,
        Err(_) if !held.peer.listed() => Answer::Ended(ExitReason::NodeDown(origin)),
        Err(e) => {
            tracing::debug!(%origin, process = held.billet.process, "a watch got no answer, asking again: {e}");
            Answer::Alive
        }
    }
}
