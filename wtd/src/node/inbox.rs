//! The inbox and the receive thread: a long-poll on `/rx` that the proxy holds until
//! messages arrive. Each call is handed to its own tokio task, which runs it through
//! the callee's checks (`serve.rs`) and queues the signed reply; each reply goes to the
//! call waiting for it (`pending.rs`). The next poll acknowledges the last batch.

use std::sync::Arc;

use super::outbox::{OnStatus, OutboxItem};
use super::{Backoff, NodeInner};
use crate::transport::{RX_WAIT, TransportError};
use crate::wire::{Delivered, Kind, RxPoll};

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
                    // The proxy restarted: its sequence numbers start again.
                    epoch = batch.epoch;
                    last_seq = 0;
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
        Kind::Call => {
            let node = node.clone();
            node.runtime.clone().spawn(async move {
                let send_reply = |envelope| {
                    let item = OutboxItem {
                        envelope,
                        on_status: OnStatus::Ignore,
                    };
                    if let Err(e) = node.enqueue(item) {
                        tracing::warn!(node = %node.name, "cannot send a reply: {e}");
                    }
                };
                node.callee
                    .serve(message.from.as_deref(), &message.bytes, send_reply)
                    .await;
            });
        }
        Kind::Reply => node.pending.accept_reply(&node.name, &message.bytes),
    }
}
