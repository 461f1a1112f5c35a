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

/// Whether the sweep may take silent nodes off the directory now. A proxy that was
/// itself stopped (SIGSTOP, a suspended laptop, a starved machine) heard nobody meanwhile:
/// on waking, every node looks silent, though it was the proxy that was not listening. So
/// after a pause in its own sweeps longer than `pause`, the proxy gives every node one
/// whole `timeout` of listening before it judges them (found by `scripts/chaos.sh`).
#[derive(Debug)]
pub(crate) struct SweepGrace {
    timeout: Duration,
    pause: Duration,
    last: Instant,
    listening_since: Instant,
}

impl SweepGrace {
    /// Sweeps every `every`, nodes judged after `timeout` of silence.
    pub(crate) fn new(every: Duration, timeout: Duration, now: Instant) -> SweepGrace {
        SweepGrace {
            timeout,
            pause: every * 4,
            last: now,
            listening_since: now,
        }
    }

    /// A sweep at `now`: whether it may unlist silent nodes.
    pub(crate) fn may_judge(&mut self, now: Instant) -> bool {
        if now.saturating_duration_since(self.last) > self.pause {
            tracing::info!(
                paused = ?now.saturating_duration_since(self.last),
                "the proxy was not running for a while: every node gets one presence timeout before it is judged"
            );
            self.listening_since = now;
        }
        self.last = now;
        now.saturating_duration_since(self.listening_since) >= self.timeout
    }
}

#[cfg(test)]
mod grace_tests {
    use super::*;

    #[test]
    fn after_its_own_pause_the_proxy_listens_a_whole_timeout_before_judging() {
        let every = Duration::from_millis(500);
        let timeout = Duration::from_secs(3);
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        // A fresh proxy listens a whole timeout first (a node restarting with it pings
        // within a second).
        let mut grace = SweepGrace::new(every, timeout, start);
        for ms in (500..3_000).step_by(500) {
            assert!(!grace.may_judge(at(ms)), "at {ms} ms");
        }
        assert!(grace.may_judge(at(3_000)));
        // Regular sweeps: judging goes on.
        for ms in (3_500..6_000).step_by(500) {
            assert!(grace.may_judge(at(ms)), "at {ms} ms");
        }
        // Stopped for 5 s: on waking, no node is judged until 3 s of listening.
        for ms in (11_000..14_000).step_by(500) {
            assert!(!grace.may_judge(at(ms)), "at {ms} ms");
        }
        assert!(grace.may_judge(at(14_000)));
        // A late sweep under the pause threshold (2 s) changes nothing.
        assert!(grace.may_judge(at(15_900)));
    }
}
