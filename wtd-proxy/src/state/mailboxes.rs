//! Mailboxes: each node's messages, kept until the node acknowledges them, and the long
//! poll (`POST /rx`) that waits for them.
//!
//! Delivery is at least once: a message stays queued until a later receive request
//! acknowledges its sequence number, so an answer lost on the way is sent again.
//! Sequence numbers restart with each proxy start; the proxy's *epoch* tells nodes so.
//!
//! A mailbox is shared by everyone who may send to the node, so each sender gets a share
//! of it ([`MailboxBounds`]): a sender that floods a slow callee fills its own share and
//! is refused with [`TxStatus::MailboxFull`], while the others' messages still get in.

use std::collections::{HashMap, VecDeque};

use tokio::sync::watch;
use tokio::time::Instant;
use wtd_wire::{self as wire, Delivered, Kind, TxStatus};

use crate::Config;
use crate::error::ProxyError;
use crate::store::{Mail, Mailboxes};

/// How much one mailbox holds, in all and from one sender.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MailboxBounds {
    /// Messages waiting, all senders together.
    pub(crate) messages: usize,
    /// Bytes waiting, all senders together.
    pub(crate) bytes: usize,
    /// Messages waiting from one sender (all `/apply` calls count as one sender).
    pub(crate) sender_messages: usize,
    /// Bytes waiting from one sender.
    pub(crate) sender_bytes: usize,
}

impl MailboxBounds {
    /// The bounds `config` sets.
    pub(crate) fn of(config: &Config) -> MailboxBounds {
        MailboxBounds {
            messages: config.mailbox_messages,
            bytes: config.mailbox_bytes,
            sender_messages: config.mailbox_messages_per_sender,
            sender_bytes: config.mailbox_bytes_per_sender,
        }
    }
}

/// One node's queue of messages not yet acknowledged.
#[derive(Debug)]
pub(crate) struct Mailbox {
    /// The sequence number the next message gets; numbers start at 1.
    next_seq: u64,
    /// Messages not yet acknowledged, oldest first.
    queue: VecDeque<Delivered>,
    /// The bytes of the messages in `queue`, bounded like their number.
    bytes: usize,
    /// What each sender has in `queue`: messages and bytes (`None`: the `/apply` calls).
    /// A sender with nothing waiting has no entry, so this never outgrows the queue.
    senders: HashMap<Option<String>, (usize, usize)>,
    /// Changes whenever a message is queued or the node leaves; held receive requests
    /// wait on it. A watch channel rather than a `Notify`: a receiver that subscribed
    /// before looking at the queue sees any change after, with no lock held across.
    arrivals: watch::Sender<u64>,
}

impl Mailbox {
    /// Messages waiting.
    pub(crate) fn depth(&self) -> usize {
        self.queue.len()
    }

    /// An empty mailbox.
    pub(crate) fn new() -> Mailbox {
        Mailbox {
            next_seq: 1,
            queue: VecDeque::new(),
            bytes: 0,
            senders: HashMap::new(),
            arrivals: watch::Sender::new(0),
        }
    }

    /// Queues a message if it fits within `bounds`, in all and in its sender's share.
    pub(crate) fn push(
        &mut self,
        from: Option<&str>,
        kind: Kind,
        bytes: Vec<u8>,
        bounds: MailboxBounds,
    ) -> TxStatus {
        if self.queue.len() >= bounds.messages || self.bytes + bytes.len() > bounds.bytes {
            return TxStatus::MailboxFull;
        }
        let sender = from.map(str::to_string);
        let (messages, held) = self.senders.get(&sender).copied().unwrap_or_default();
        if messages >= bounds.sender_messages || held + bytes.len() > bounds.sender_bytes {
            return TxStatus::MailboxFull;
        }
        self.senders
            .insert(sender, (messages + 1, held + bytes.len()));
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
                self.forget(m.from, m.bytes.len());
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

    /// Takes one message of `len` bytes off its sender's share.
    fn forget(&mut self, from: Option<String>, len: usize) {
        if let Some((messages, held)) = self.senders.get_mut(&from) {
            *messages -= 1;
            *held -= len;
            if *messages == 0 {
                self.senders.remove(&from);
            }
        }
    }

    /// Drops every message.
    pub(crate) fn clear(&mut self) {
        self.queue.clear();
        self.bytes = 0;
        self.senders.clear();
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

/// Waits until `node` has messages, it leaves, a node it follows changes since
/// `known_version`, `deadline` passes or `closing` turns true; first drops what it
/// acknowledged (`acked`).
pub(crate) async fn long_poll<S: Mailboxes>(
    store: &S,
    node: &str,
    acked: Option<u64>,
    known_version: u64,
    deadline: Instant,
    mut closing: watch::Receiver<bool>,
) -> Result<Mail, ProxyError> {
    let mut arrivals = store.watch_mailbox(node).await?;
    loop {
        // Marked seen before looking, so a message queued after the look wakes us.
        arrivals.borrow_and_update();
        let mail = store.take(node, acked, Some(known_version)).await?;
        if !mail.messages.is_empty() || mail.gone || mail.directory.is_some() {
            return Ok(mail);
        }
        tokio::select! {
            changed = arrivals.changed() => {
                if changed.is_err() {
                    return Ok(Mail::default());
                }
            }
            _ = tokio::time::sleep_until(deadline) => return Ok(Mail::default()),
            _ = closing.wait_for(|c| *c) => return Ok(Mail::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bounds whose sender share is the whole mailbox.
    fn whole(messages: usize, bytes: usize) -> MailboxBounds {
        MailboxBounds {
            messages,
            bytes,
            sender_messages: messages,
            sender_bytes: bytes,
        }
    }

    #[test]
    fn one_sender_fills_only_its_share() {
        let bounds = MailboxBounds {
            messages: 8,
            bytes: 1000,
            sender_messages: 2,
            sender_bytes: 30,
        };
        let mut mailbox = Mailbox::new();
        let mut push =
            |from: Option<&str>, len: usize| mailbox.push(from, Kind::Call, vec![0; len], bounds);
        assert_eq!(push(Some("mallory"), 1), TxStatus::Queued);
        assert_eq!(push(Some("mallory"), 1), TxStatus::Queued);
        assert_eq!(push(Some("mallory"), 1), TxStatus::MailboxFull, "messages");
        assert_eq!(push(Some("bob"), 25), TxStatus::Queued, "another sender");
        assert_eq!(push(Some("bob"), 6), TxStatus::MailboxFull, "bytes");
        assert_eq!(push(None, 1), TxStatus::Queued, "/apply calls have a share");
        // Acknowledging gives the share back.
        mailbox.acknowledge(1);
        let status = mailbox.push(Some("mallory"), Kind::Call, vec![0; 1], bounds);
        assert_eq!(status, TxStatus::Queued);
        mailbox.clear();
        assert!(mailbox.senders.is_empty());
    }

    #[test]
    fn a_mailbox_is_bounded_by_messages_and_by_bytes() {
        let mut mailbox = Mailbox::new();
        assert_eq!(
            mailbox.push(None, Kind::Call, vec![0; 10], whole(2, 25)),
            TxStatus::Queued
        );
        assert_eq!(
            mailbox.push(None, Kind::Call, vec![0; 16], whole(2, 25)),
            TxStatus::MailboxFull
        );
        assert_eq!(
            mailbox.push(None, Kind::Call, vec![0; 15], whole(2, 25)),
            TxStatus::Queued
        );
        assert_eq!(
            mailbox.push(None, Kind::Call, Vec::new(), whole(2, 25)),
            TxStatus::MailboxFull
        );
        mailbox.acknowledge(1);
        assert_eq!(
            mailbox.push(None, Kind::Call, vec![0; 10], whole(2, 25)),
            TxStatus::Queued
        );
        let seqs: Vec<u64> = mailbox.batch().iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [2, 3]);
    }

    #[test]
    fn a_batch_fits_one_answer() {
        let mut mailbox = Mailbox::new();
        for _ in 0..wire::MAX_BATCH_LEN + 1 {
            mailbox.push(None, Kind::Call, vec![0; 8], whole(usize::MAX, usize::MAX));
        }
        assert_eq!(mailbox.batch().len(), wire::MAX_BATCH_LEN);

        let mut mailbox = Mailbox::new();
        let third = wire::MAX_BODY_BYTES / 6 + 1;
        for _ in 0..3 {
            mailbox.push(
                None,
                Kind::Call,
                vec![0; third],
                whole(usize::MAX, usize::MAX),
            );
        }
        assert_eq!(mailbox.batch().len(), 2, "at most half a body");
    }
}
