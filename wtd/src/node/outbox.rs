//! The outbox and the send threads: envelopes (calls, casts, replies) wait here until a
//! send thread posts them to the proxy's `/tx`, many per request under load, and settles
//! each one by the status the proxy gives it.
//!
//! A proxy that has just started refuses hops signed before its start (they could be
//! replays: its replay window was in memory). A node whose clock lags a little signs such
//! hops for a moment after a restart; the ping and receive loops simply try again, and so
//! does a send thread, signing the batch anew ([`post_retrying`]), rather than failing
//! every call in it.
//!
//! A proxy also refuses a burst past a node's request rate (429): nothing of that request
//! was queued, so the batch is signed anew and sent again after a short pause, for up to
//! [`BUSY_RETRY`]. Before, a callee answering faster than the rate dropped the replies of
//! such a batch, and their callers waited out their timeout for calls that had run (found
//! by `scripts/chaos.sh`).
//!
//! A node with fallback proxies also sends a batch again while its request never left the
//! machine (connection refused: [`TransportError::NotSent`]), for up to [`UNSENT_RETRY`]:
//! meanwhile the node moves to the next proxy, and the batch goes there. Nothing of it
//! reached anyone, so sending it again cannot run a call twice; and a reply or a call made
//! just as the proxy died still arrives. A node with one proxy fails such a batch at once.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use tokio::sync::oneshot;

use super::{Backoff, NodeInner, lock};
use crate::error::{Error, Result};
use crate::transport::TransportError;
use crate::wire::{self, Outgoing, TxBatch, TxStatus};

/// Most envelopes waiting to be sent; past it, calls fail as busy instead of piling up.
const OUTBOX_CAPACITY: usize = 8192;
/// Most envelopes per `/tx` request.
const BATCH: usize = 64;
/// How long a send thread keeps signing a batch again while the proxy refuses it as
/// signed before its start: the proxy refuses so only in its first 30 s
/// ([`wire::MAX_SKEW_MS`]), so past that the refusal means something else.
const RESTART_RETRY: Duration = Duration::from_millis(wire::MAX_SKEW_MS + 2_000);
/// Most tries of one batch while the proxy refuses it as signed before its start.
const RESTART_TRIES: usize = 64;
/// How long a send thread keeps sending a batch again while the proxy refuses it as past
/// the node's request rate: a burst passes within this; a proxy that keeps refusing
/// longer means it, and the batch fails with its sentence.
const BUSY_RETRY: Duration = Duration::from_secs(2);

/// How long a send thread keeps sending a batch again while its requests never leave the
/// machine, when the node has fallback proxies: long enough for the node to move (3
/// failures over 3 s, see `crate::proxies`) and register on the next proxy.
const UNSENT_RETRY: Duration = Duration::from_secs(10);

/// What to do once the proxy took (or refused) an envelope.
pub(crate) enum OnStatus {
    /// Nothing (replies).
    Ignore,
    /// Fail the pending call with this ack if the proxy refused it.
    FailPending([u8; 16]),
    /// Tell a cast how it went.
    Cast(oneshot::Sender<Result<()>>),
}

/// One envelope waiting to be sent, and who to tell how it went.
pub(crate) struct OutboxItem {
    /// What goes to the proxy.
    pub(crate) envelope: Outgoing,
    /// Who to tell.
    pub(crate) on_status: OnStatus,
}

/// A bounded queue shared by the send threads. `None` only wakes a send thread (when
/// the node stops).
pub(crate) struct Outbox {
    sender: SyncSender<Option<OutboxItem>>,
    receiver: Mutex<Receiver<Option<OutboxItem>>>,
}

impl Outbox {
    pub(crate) fn new() -> Outbox {
        let (sender, receiver) = std::sync::mpsc::sync_channel(OUTBOX_CAPACITY);
        Outbox {
            sender,
            receiver: Mutex::new(receiver),
        }
    }

    /// Queues an envelope of node `node` for the send threads.
    pub(crate) fn push(&self, node: &str, item: OutboxItem) -> Result<()> {
        match self.sender.try_send(Some(item)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(Error::Busy {
                what: format!("node `{node}`'s outbox"),
            }),
            Err(TrySendError::Disconnected(_)) => Err(Error::Stopped),
        }
    }

    /// Wakes every send thread so it sees the node stopped.
    pub(crate) fn wake_senders(&self) {
        for _ in 0..super::SENDERS {
            let _ = self.sender.try_send(None);
        }
    }

    /// Waits up to a second for an envelope, then takes whatever else is waiting, up to
    /// one batch. `None`: nothing came (look again), or the outbox is gone.
    fn next_batch(&self) -> Option<Vec<OutboxItem>> {
        let receiver = lock(&self.receiver);
        let first = match receiver.recv_timeout(Duration::from_secs(1)) {
            Ok(Some(item)) => item,
            Ok(None) | Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                return None;
            }
        };
        let mut bytes = first.envelope.bytes.len();
        let mut items = vec![first];
        while items.len() < BATCH && bytes < wire::MAX_BODY_BYTES / 2 {
            match receiver.try_recv() {
                Ok(Some(item)) => {
                    bytes += item.envelope.bytes.len();
                    items.push(item);
                }
                Ok(None) | Err(_) => break,
            }
        }
        Some(items)
    }
}

/// A send thread: posts batches from the outbox until the node stops.
pub(crate) fn send_loop(node: &NodeInner, slot: usize) {
    let mut backoff = Backoff::new();
    let watch = &node.watchdog.tx[slot];
    while !node.is_stopped() {
        let Some(items) = node.outbox.next_batch() else {
            continue;
        };
        let batch = TxBatch {
            envelopes: items.iter().map(|i| i.envelope.clone()).collect(),
        };
        let unsent_budget = if node.transport.proxies().urls().len() > 1 {
            UNSENT_RETRY
        } else {
            Duration::ZERO
        };
        let result = post_retrying(
            || {
                let agent = watch.begin();
                let mut result = node.transport.tx(&agent, &batch);
                if result == Err(TransportError::NotRegistered) {
                    node.presence.reregister(node);
                    result = node.transport.tx(&agent, &batch);
                }
                watch.end();
                result
            },
            |wait| {
                super::pause(node, wait);
                !node.is_stopped()
            },
            unsent_budget,
        );
        match result {
            Ok(reply) if reply.statuses.len() == items.len() => {
                backoff.reset();
                for (item, status) in items.into_iter().zip(reply.statuses) {
                    settle(node, item, status);
                }
            }
            Ok(_) => fail_all(
                node,
                items,
                TransportError::BadAnswer(
                    "the proxy answered a batch with the wrong number of statuses".into(),
                ),
            ),
            Err(e) => {
                fail_all(node, items, e);
                backoff.wait(node);
            }
        }
    }
}

/// Posts a batch with `post` (which signs a new hop each time), again and again while the
/// proxy refuses it as signed before its start, or as past the node's request rate, or
/// (for up to `unsent_budget`) while the request never leaves the machine, pausing with
/// `pause` (which says whether to go on) from 50 ms up to 1 s between tries. Bounded:
/// [`RESTART_TRIES`] tries, and [`RESTART_RETRY`] (for a rate: [`BUSY_RETRY`]) of pauses;
/// any other answer is returned at once.
fn post_retrying<T>(
    mut post: impl FnMut() -> Result<T, TransportError>,
    mut pause: impl FnMut(Duration) -> bool,
    unsent_budget: Duration,
) -> Result<T, TransportError> {
    let mut paused = Duration::ZERO;
    let mut wait = Duration::from_millis(50);
    let mut tries = 1;
    loop {
        let result = post();
        let budget = match &result {
            Err(TransportError::Refused { code, .. }) if code == wire::SIGNED_BEFORE_START => {
                RESTART_RETRY
            }
            Err(TransportError::Refused { status: 429, .. }) => BUSY_RETRY,
            Err(TransportError::NotSent(_)) if !unsent_budget.is_zero() => unsent_budget,
            _ => return result,
        };
        if tries >= RESTART_TRIES || paused + wait > budget || !pause(wait) {
            return result;
        }
        tries += 1;
        paused += wait;
        wait = (wait * 2).min(Duration::from_secs(1));
    }
}

/// Tells whoever waits on `item` what the proxy did with it.
fn settle(node: &NodeInner, item: OutboxItem, status: TxStatus) {
    let to = item.envelope.to.clone();
    let error = match status {
        TxStatus::Queued => None,
        TxStatus::NodeDown => Some(Error::NodeDown { node: to }),
        TxStatus::MailboxFull => Some(Error::Busy {
            what: format!("node `{to}`'s mailbox at the proxy"),
        }),
        TxStatus::Refused => Some(Error::MessageRefused { node: to }),
    };
    match (item.on_status, error) {
        (OnStatus::Cast(done), error) => {
            let _ = done.send(error.map_or(Ok(()), Err));
        }
        (OnStatus::FailPending(ack), Some(error)) => node.pending.fail(&ack, error),
        _ => {}
    }
}

/// The batch could not be sent: tell everyone who waits on it.
///
/// Except a call whose request may have reached the proxy before the connection broke
/// ([`TransportError::Unreachable`], as when the proxy dies mid-request): it may be
/// queued there, or in the store the proxy shares with others, and run, and its reply may
/// still come through the proxy the node moves to. So it keeps waiting, and if no reply
/// comes, its timeout ends it as `Timeout`, "the outcome is unknown", which is then the
/// truth. Nothing here sends it again: a call is sent once, so it cannot run twice.
fn fail_all(node: &NodeInner, items: Vec<OutboxItem>, e: TransportError) {
    let url = node.transport.url();
    let maybe_sent = matches!(e, TransportError::Unreachable(_));
    for item in items {
        let error = e.clone().into_error(&url);
        match item.on_status {
            OnStatus::Cast(done) => {
                let _ = done.send(Err(error));
            }
            OnStatus::FailPending(_) if maybe_sent => {
                tracing::debug!(node = %node.name, "a call may have reached the proxy before the connection broke: it waits for its reply until its timeout ({error})");
            }
            OnStatus::FailPending(ack) => node.pending.fail(&ack, error),
            OnStatus::Ignore => {
                tracing::warn!(node = %node.name, "a reply was lost: {error}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: &str) -> TransportError {
        TransportError::Refused {
            status: 401,
            code: code.into(),
            message: "not authenticated: …".into(),
        }
    }

    #[test]
    fn a_batch_signed_before_the_proxy_started_is_signed_again_and_sent() {
        let mut answers = vec![
            Err(refused(wire::SIGNED_BEFORE_START)),
            Err(refused(wire::SIGNED_BEFORE_START)),
            Ok("sent"),
        ]
        .into_iter();
        let mut posts = 0;
        let result = post_retrying(
            || {
                posts += 1;
                answers.next().expect("asked at most three times")
            },
            |_| true,
            Duration::ZERO,
        );
        assert_eq!(result, Ok("sent"));
        assert_eq!(posts, 3);
    }

    #[test]
    fn a_batch_refused_past_the_request_rate_is_sent_again_for_a_while() {
        let busy = || TransportError::Refused {
            status: 429,
            code: "TooMany".into(),
            message: "too many requests: …".into(),
        };
        let mut answers = vec![Err(busy()), Err(busy()), Ok("sent")].into_iter();
        let mut posts = 0;
        let result = post_retrying(
            || {
                posts += 1;
                answers.next().unwrap_or(Ok("sent"))
            },
            |_| true,
            Duration::ZERO,
        );
        assert_eq!(result, Ok("sent"));
        assert_eq!(posts, 3);

        // A proxy that keeps refusing: given up within the budget, with its refusal.
        let mut paused = Duration::ZERO;
        let result: Result<(), _> = post_retrying(
            || Err(busy()),
            |wait| {
                paused += wait;
                true
            },
            Duration::ZERO,
        );
        assert_eq!(result, Err(busy()));
        assert!(paused <= BUSY_RETRY, "{paused:?} of pauses");
    }

    #[test]
    fn other_refusals_are_not_retried_and_retries_are_bounded() {
        let mut posts = 0;
        let result: Result<(), _> = post_retrying(
            || {
                posts += 1;
                Err(refused("Unauthenticated"))
            },
            |_| true,
            Duration::ZERO,
        );
        assert_eq!(result, Err(refused("Unauthenticated")));
        assert_eq!(
            posts, 1,
            "a bad signature or a clock far off is not retried"
        );

        let mut posts = 0;
        let mut paused = Duration::ZERO;
        let result: Result<(), _> = post_retrying(
            || {
                posts += 1;
                Err(refused(wire::SIGNED_BEFORE_START))
            },
            |wait| {
                paused += wait;
                true
            },
            Duration::ZERO,
        );
        assert_eq!(result, Err(refused(wire::SIGNED_BEFORE_START)));
        assert!(posts <= RESTART_TRIES, "{posts} tries");
        assert!(paused <= RESTART_RETRY, "{paused:?} of pauses");

        // A node that stops stops retrying.
        let mut posts = 0;
        let _ = post_retrying(
            || -> Result<(), _> {
                posts += 1;
                Err(refused(wire::SIGNED_BEFORE_START))
            },
            |_| false,
            Duration::ZERO,
        );
        assert_eq!(posts, 1);
    }

    #[test]
    fn a_batch_that_never_left_is_sent_again_only_by_a_node_with_fallbacks() {
        let unsent = || TransportError::NotSent("connection refused".into());
        let mut posts = 0;
        let result: Result<(), _> = post_retrying(
            || {
                posts += 1;
                Err(unsent())
            },
            |_| true,
            Duration::ZERO,
        );
        assert_eq!(result, Err(unsent()));
        assert_eq!(posts, 1, "one proxy: nowhere else to go, failed at once");

        let mut answers =
            vec![Err(unsent()), Err(unsent()), Ok("sent to the next proxy")].into_iter();
        let result = post_retrying(
            || answers.next().unwrap_or(Ok("sent")),
            |_| true,
            UNSENT_RETRY,
        );
        assert_eq!(result, Ok("sent to the next proxy"));

        // A request that may have left is never sent again: it could run twice.
        let broken = || TransportError::Unreachable("connection reset".into());
        let mut posts = 0;
        let result: Result<(), _> = post_retrying(
            || {
                posts += 1;
                Err(broken())
            },
            |_| true,
            UNSENT_RETRY,
        );
        assert_eq!(result, Err(broken()));
        assert_eq!(posts, 1);
    }
}
