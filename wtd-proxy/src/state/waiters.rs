//! `/apply` waiters: calls that came in over `PUT /apply/…` and wait, holding their HTTP
//! request, for the callee's reply.
//!
//! A reply is matched by its ack and taken only from the callee the call was for, so
//! another node cannot answer a call it never received.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use tokio::sync::oneshot;

use crate::error::ProxyError;
use crate::store::ApplyWaiters;

/// The calls waiting, by ack.
#[derive(Debug)]
pub(crate) struct Waiters {
    /// Most calls that may wait at once.
    max: usize,
    /// Each waiting call's callee, and where its reply goes.
    waiting: HashMap<[u8; 16], Waiter>,
}

/// One waiting call.
#[derive(Debug)]
struct Waiter {
    /// The only node whose reply is taken.
    callee: String,
    /// The HTTP request waiting for the reply.
    reply: oneshot::Sender<Vec<u8>>,
}

impl Waiters {
    /// No calls waiting; at most `max` at once.
    pub(crate) fn new(max: usize) -> Waiters {
        Waiters {
            max,
            waiting: HashMap::new(),
        }
    }

    /// How many calls wait for each callee.
    pub(crate) fn per_callee(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for waiter in self.waiting.values() {
            *counts.entry(waiter.callee.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// See [`ApplyWaiters::expect_reply`].
    pub(crate) fn expect(
        &mut self,
        ack: [u8; 16],
        callee: &str,
    ) -> Result<oneshot::Receiver<Vec<u8>>, ProxyError> {
        if self.waiting.len() >= self.max {
            return Err(ProxyError::TooMany(
                "too many calls waiting on /apply".into(),
            ));
        }
        let Entry::Vacant(slot) = self.waiting.entry(ack) else {
            return Err(ProxyError::Malformed(
                "a call with this ack is already waiting".into(),
            ));
        };
        let (reply, answer) = oneshot::channel();
        slot.insert(Waiter {
            callee: callee.to_string(),
            reply,
        });
        Ok(answer)
    }

    /// See [`ApplyWaiters::answer`].
    pub(crate) fn answer(&mut self, ack: [u8; 16], from: &str, bytes: Vec<u8>) -> Option<Vec<u8>> {
        match self.waiting.entry(ack) {
            Entry::Occupied(waiter) if waiter.get().callee == from => {
                // The request may have just ended; then the reply has nowhere to go.
                let _ = waiter.remove().reply.send(bytes);
                None
            }
            _ => Some(bytes),
        }
    }

    /// Stops waiting for `ack`.
    pub(crate) fn forget(&mut self, ack: &[u8; 16]) {
        self.waiting.remove(ack);
    }
}

/// Removes an `/apply` waiter however its request ends.
pub(crate) struct WaiterHold<'a, S: ApplyWaiters> {
    /// Where the waiter is kept.
    store: &'a S,
    /// The call's ack.
    ack: [u8; 16],
}

impl<'a, S: ApplyWaiters> WaiterHold<'a, S> {
    /// Waits for the reply to `ack` from `callee`; see [`ApplyWaiters::expect_reply`].
    pub(crate) async fn new(
        store: &'a S,
        ack: [u8; 16],
        callee: &str,
    ) -> Result<(WaiterHold<'a, S>, oneshot::Receiver<Vec<u8>>), ProxyError> {
        let answer = store.expect_reply(ack, callee).await?;
        Ok((WaiterHold { store, ack }, answer))
    }
}

impl<S: ApplyWaiters> Drop for WaiterHold<'_, S> {
    fn drop(&mut self) {
        self.store.forget_reply(&self.ack);
    }
}
