//! Mailboxes: each node's messages, kept until the node acknowledges them, and the long
//! poll (`POST /rx`) that waits for them.
//!
//! Delivery is at least once: a message stays queued until a later receive request
//! acknowledges its sequence number, so an answer lost on the way is sent again.
//! Sequence numbers restart with each proxy start; the proxy's *epoch* tells nodes so.

use std::collections::VecDeque;

use tokio::sync::watch;
use tokio::time::Instant;
use wtd_wire::{self as wire, Delivered, Kind, TxStatus};

use crate::error::ProxyError;
use crate::store::Mailboxes;

/// One node's queue of messages not yet acknowledged.
#[derive(Debug)]
pub(crate) struct Mailbox {
    /// The sequence number the next message gets; numbers start at 1.
    next_seq: u64,
    /// Messages not yet acknowledged, oldest first.
    queue: VecDeque<Delivered>,
    /// The bytes of the messages in `queue`, bounded like their number.
    bytes: usize,
    /// Changes whenever a message is queued or the node leaves; held receive requests
    /// wait on it. A watch channel rather than a `Notify`: a receiver that subscribed
    /// before looking at the queue sees any change after, with no lock held across.
    arrivals: watch::Sender<u64>,
}

impl Mailbox {
    /// An empty mailbox.
    pub(crate) fn new() -> Mailbox {
        Mailbox {
            next_seq: 1,
            queue: VecDeque::new(),
            bytes: 0,
            arrivals: watch::Sender::new(0),
        }
    }

    /// Queues a message if it fits within `max_messages` and `max_bytes`.
    pub(crate) fn push(
        &mut self,
        from: Option<&str>,
        kind: Kind,
        bytes: Vec<u8>,
        max_messages: usize,
        max_bytes: usize,
    ) -> TxStatus {
        if self.queue.len() >= max_messages || self.bytes + bytes.len() > max_bytes {
            return TxStatus::MailboxFull;
        }
        self.bytes += bytes.len();
        self.queue.push_back(Delivered {
            seq: self.next_seq,
            from: from.map(str::to_string),
            kind,
            bytes,
        });
        self.next_seq += 1;
        self.wake();
        TxStatus::Queued
    }

    /// Drops the messages numbered up to `seq`.
    pub(crate) fn acknowledge(&mut self, seq: u64) {
        while self.queue.front().is_some_and(|m| m.seq <= seq) {
            if let Some(m) = self.queue.pop_front() {
                self.bytes -= m.bytes.len();
            }
        }
    }

    /// The oldest messages, as many as fit one answer: at most [`wire::MAX_BATCH_LEN`],
    /// and half a body, so the answer's framing always fits too.
    pub(crate) fn batch(&self) -> Vec<Delivered> {
        let mut size = 0;
        self.queue
            .iter()
            .take(wire::MAX_BATCH_LEN)
            .take_while(|m| {
                size += m.bytes.len();
                size <= wire::MAX_BODY_BYTES / 2
            })
            .cloned()
            .collect()
    }

    /// Drops every message.
    pub(crate) fn clear(&mut self) {
        self.queue.clear();
        self.bytes = 0;
    }

    /// Wakes the held receive requests, to look again.
    pub(crate) fn wake(&self) {
        // `send_modify` wakes receivers even if none is subscribed right now.
        self.arrivals.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes with every [`Mailbox::wake`].
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.arrivals.subscribe()
    }
}

/// Waits until `node` has messages, it leaves, `deadline` passes or `closing` turns true;
/// first drops what it acknowledged (`acked`).
pub(crate) async fn long_poll<S: Mailboxes>(
    store: &S,
    node: &str,
    acked: Option<u64>,
    deadline: Instant,
    mut closing: watch::Receiver<bool>,
) -> Result<Vec<Delivered>, ProxyError> {
    let mut arrivals = store.watch_mailbox(node).await?;
    loop {
        // Marked seen before looking, so a message queued after the look wakes us.
        arrivals.borrow_and_update();
        let mail = store.take(node, acked).await?;
        if !mail.messages.is_empty() || mail.gone {
            return Ok(mail.messages);
        }
        tokio::select! {
            changed = arrivals.changed() => {
                if changed.is_err() {
                    return Ok(Vec::new());
                }
            }
            _ = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
            _ = closing.wait_for(|c| *c) => return Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_is_bounded_by_messages_and_by_bytes() {
        let mut mailbox = Mailbox::new();
        assert_eq!(
            mailbox.push(None, Kind::Call, vec![0; 10], 2, 25),
            TxStatus::Queued
        );
        assert_eq!(
            mailbox.push(None, Kind::Call, vec![0; 16], 2, 25),
            TxStatus::MailboxFull
        );
        assert_eq!(
            mailbox.push(None, Kind::Call, vec![0; 15], 2, 25),
            TxStatus::Queued
        );
        assert_eq!(
            mailbox.push(None, Kind::Call, Vec::new(), 2, 25),
            TxStatus::MailboxFull
        );
        mailbox.acknowledge(1);
        assert_eq!(
            mailbox.push(None, Kind::Call, vec![0; 10], 2, 25),
            TxStatus::Queued
        );
        let seqs: Vec<u64> = mailbox.batch().iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [2, 3]);
    }

    #[test]
    fn a_batch_fits_one_answer() {
        let mut mailbox = Mailbox::new();
        for _ in 0..wire::MAX_BATCH_LEN + 1 {
            mailbox.push(None, Kind::Call, vec![0; 8], usize::MAX, usize::MAX);
        }
        assert_eq!(mailbox.batch().len(), wire::MAX_BATCH_LEN);

        let mut mailbox = Mailbox::new();
        let third = wire::MAX_BODY_BYTES / 6 + 1;
        for _ in 0..3 {
            mailbox.push(None, Kind::Call, vec![0; third], usize::MAX, usize::MAX);
        }
        assert_eq!(mailbox.batch().len(), 2, "at most half a body");
    }
}
