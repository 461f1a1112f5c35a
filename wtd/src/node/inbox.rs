//! The inbox and the receive thread: a long-poll on `/rx` that the proxy holds until
//! messages arrive. Each call is handed to its own tokio task, which runs it through
//! the callee's checks (`serve.rs`) and queues the signed reply; each reply goes to the
//! call waiting for it (`pending.rs`). The next poll acknowledges the last batch.
//!
//! **Backpressure.** At most [`CALLS_RUNNING`] calls run at once; the others wait their
//! turn (a small task each), and while [`CALLS_WAITING`] calls (or [`BYTES_WAITING`]
//! bytes of them) wait, a new call is refused at once as busy, right on the receive
//! thread: checked up to the replay step (so it can never run later), answered, no task
//! started. A flood of calls costs a slow node (a Pi) bounded memory, and the node keeps
//! receiving: replies to its own calls are never held up behind calls it cannot run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use super::outbox::{OnStatus, OutboxItem};
use super::{Backoff, NodeInner};
use crate::transport::{RX_WAIT, TransportError};
use crate::wire::{Delivered, Kind, RxPoll};

/// Most calls running at once on one node.
pub const CALLS_RUNNING: usize = 128;
/// Most calls waiting for a turn before the receive thread stops polling.
pub const CALLS_WAITING: usize = 1024;
/// Most bytes of calls waiting for a turn before the receive thread stops polling.
pub const BYTES_WAITING: usize = 8 * 1024 * 1024;

/// The calls received and not yet finished.
pub(crate) struct Backlog {
    /// One permit per call allowed to run now.
    running: Arc<Semaphore>,
    /// Calls received that wait for a permit.
    waiting: AtomicUsize,
    /// Their bytes.
    waiting_bytes: AtomicUsize,
    /// Calls are being refused as busy (to log it once per episode, not per call).
    refusing: AtomicBool,
}

impl Backlog {
    pub(crate) fn new() -> Backlog {
        Backlog {
            running: Arc::new(Semaphore::new(CALLS_RUNNING)),
            waiting: AtomicUsize::new(0),
            waiting_bytes: AtomicUsize::new(0),
            refusing: AtomicBool::new(false),
        }
    }

    /// Whether so much waits that a new call is refused as busy.
    fn full(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) >= CALLS_WAITING
            || self.waiting_bytes.load(Ordering::Relaxed) >= BYTES_WAITING
    }
}

/// The receive thread: polls until the node stops.
pub(crate) fn receive_loop(node: &Arc<NodeInner>) {
    let mut epoch = 0u64;
    let mut last_seq = 0u64;
    let mut backoff = Backoff::new();
    while !node.is_stopped() {
        let poll = RxPoll {
            epoch,
            ack_seq: last_seq,
            wait_ms: RX_WAIT.as_millis() as u32,
            known_version: node.presence.known_version(),
        };
        let agent = node.watchdog.rx.begin();
        let result = node.transport.rx(&agent, &poll);
        node.watchdog.rx.end();
        if node.is_stopped() {
            // Said goodbye while this request was held: run nothing more.
            return;
        }
        match result {
            Ok(batch) => {
                backoff.reset();
                if batch.epoch != epoch {
                    // The proxy restarted: its sequence numbers start again, and it may
                    // have forgotten what this node offers and follows.
                    if epoch != 0 {
                        node.presence.proxy_restarted();
                    }
                    epoch = batch.epoch;
                    last_seq = 0;
                }
                if let Some((version, update)) = batch.directory {
                    node.presence.heard(version, update);
                }
                for message in batch.messages {
                    if message.seq <= last_seq {
                        continue;
                    }
                    last_seq = message.seq;
                    dispatch(node, message);
                }
            }
            Err(TransportError::NotRegistered) => {
                node.presence.reregister(node);
                backoff.wait(node);
            }
            Err(e) => {
                if !node.is_stopped() {
                    tracing::debug!(node = %node.name, "receive failed, retrying: {e:?}");
                }
                backoff.wait(node);
            }
        }
    }
}

/// Hands one delivered message to whoever handles its kind.
fn dispatch(node: &Arc<NodeInner>, message: Delivered) {
    match message.kind {
        Kind::Call if node.backlog.full() => {
            if !node.backlog.refusing.swap(true, Ordering::Relaxed) {
                tracing::warn!(node = %node.name, "{CALLS_WAITING} calls wait to run: refusing new ones as busy until they do");
            }
            node.callee
                .refuse_busy(message.from.as_deref(), &message.bytes, |envelope| {
                    send_reply(node, envelope)
                });
        }
        Kind::Call => {
            node.backlog.refusing.store(false, Ordering::Relaxed);
            let node = node.clone();
            let size = message.bytes.len();
            node.backlog.waiting.fetch_add(1, Ordering::Relaxed);
            node.backlog
                .waiting_bytes
                .fetch_add(size, Ordering::Relaxed);
            let running = node.backlog.running.clone();
            node.runtime.clone().spawn(async move {
                // The semaphore is never closed, so this waits for a turn.
                let turn = running.acquire_owned().await;
                node.backlog.waiting.fetch_sub(1, Ordering::Relaxed);
                node.backlog
                    .waiting_bytes
                    .fetch_sub(size, Ordering::Relaxed);
                let _turn = turn;
                node.callee
                    .serve(message.from.as_deref(), &message.bytes, |envelope| {
                        send_reply(&node, envelope)
                    })
                    .await;
            });
        }
        Kind::Reply => node.pending.accept_reply(&node.name, &message.bytes),
    }
}

/// Queues a signed reply for the send threads.
fn send_reply(node: &NodeInner, envelope: crate::wire::Outgoing) {
    let item = OutboxItem {
        envelope,
        on_status: OnStatus::Ignore,
    };
    if let Err(e) = node.enqueue(item) {
        tracing::warn!(node = %node.name, "cannot send a reply: {e}");
    }
}
