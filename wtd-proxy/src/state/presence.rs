//! Presence: whether a node is online right now.
//!
//! A node is online while it holds a receive request, or made an authenticated request in
//! the last [`Config::presence_timeout`](crate::Config::presence_timeout), unless it said
//! goodbye since. [`NodePresence`] is what the embedded store keeps per node;
//! [`PollHold`] counts a held receive request for as long as it lives.

use std::time::{Duration, Instant};

use wtd_wire::Route;

use crate::error::ProxyError;
use crate::store::Presence;

/// One node's presence.
#[derive(Debug, Default)]
pub(crate) struct NodePresence {
    /// Last authenticated request, or the end of the last held receive request.
    last_seen: Option<Instant>,
    /// The node said goodbye; it is offline until it pings or sends again.
    gone: bool,
    /// Counter of the goodbye: requests the node signed before it (still on their way)
    /// do not bring it back.
    bye_counter: u64,
    /// Receive requests held right now.
    polls: usize,
}

impl NodePresence {
    /// Whether the node counts as online, `timeout` being the presence timeout.
    pub(crate) fn online(&self, timeout: Duration) -> bool {
        !self.gone && (self.polls > 0 || self.last_seen.is_some_and(|t| t.elapsed() < timeout))
    }

    /// Whether the node said goodbye and has not come back.
    pub(crate) fn gone(&self) -> bool {
        self.gone
    }

    /// Records an authenticated request on `route`, signed with `counter`.
    pub(crate) fn seen(&mut self, route: Route, counter: u64) {
        self.last_seen = Some(Instant::now());
        // Requests may still be on their way from a node that just left: only a ping or a
        // send signed after the goodbye brings a node back.
        if matches!(route, Route::Ping | Route::Tx) && counter > self.bye_counter {
            self.gone = false;
        }
        if route == Route::Bye {
            self.bye_counter = self.bye_counter.max(counter);
        }
    }

    /// The node said goodbye.
    pub(crate) fn leave(&mut self) {
        self.gone = true;
    }

    /// Counts one more held receive request, refusing past `max`.
    pub(crate) fn hold_poll(&mut self, node: &str, max: usize) -> Result<(), ProxyError> {
        if self.polls >= max {
            return Err(ProxyError::TooMany(format!(
                "node `{node}` already holds {} receive requests",
                self.polls
            )));
        }
        self.polls += 1;
        Ok(())
    }

    /// A held receive request ended: the node was present until now.
    pub(crate) fn release_poll(&mut self) {
        self.polls = self.polls.saturating_sub(1);
        self.last_seen = Some(Instant::now());
    }
}

/// Counts a held receive request for its whole life, even if the client goes away (the
/// handler's future is then dropped, and with it this).
pub(crate) struct PollHold<'a, S: Presence> {
    /// Where the count is kept.
    store: &'a S,
    /// The node holding the request.
    node: String,
}

impl<'a, S: Presence> PollHold<'a, S> {
    /// Counts a receive request for `node`; see [`Presence::hold_poll`].
    pub(crate) async fn new(store: &'a S, node: &str) -> Result<PollHold<'a, S>, ProxyError> {
        store.hold_poll(node).await?;
        Ok(PollHold {
            store,
            node: node.to_string(),
        })
    }
}

impl<S: Presence> Drop for PollHold<'_, S> {
    fn drop(&mut self) {
        self.store.release_poll(&self.node);
    }
}
