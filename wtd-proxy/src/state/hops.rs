//! Hop authentication: every request but registration is a `Hop` signed by the node's
//! key, naming the node, the route, a counter and the time. The proxy checks the
//! signature against the registered key, the clock, and that the counter was not seen
//! before (the replay window), then spends one of the node's requests for this second.

use std::time::{Duration, Instant};

use wtd_wire::{self as wire, Hop, Route, Signed, domain};

use crate::error::ProxyError;
use crate::store::{Admitted, Store};

/// How far before the proxy's start a hop may be dated (a node's clock a little behind).
const RESTART_SLACK_MS: u64 = 2_000;

/// What a hop is checked against besides the store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HopCheck {
    /// When this proxy started (before its store opened), on the monotonic clock.
    pub(crate) started: Instant,
    /// Requests per second one node may make, for the refusal's message.
    pub(crate) node_rate: u32,
}

impl HopCheck {
    /// Checks a hop-signed request for `route` (and the node in the URL, if any); returns
    /// the node and the hop's body.
    pub(crate) async fn authenticate<S: Store>(
        &self,
        store: &S,
        route: Route,
        url_node: Option<&str>,
        body: &[u8],
    ) -> Result<(String, Vec<u8>), ProxyError> {
        let signed = Signed::from_bytes(body).map_err(|e| ProxyError::Malformed(e.to_string()))?;
        let hop: Hop = signed
            .peek()
            .map_err(|e| ProxyError::Malformed(e.to_string()))?;
        if hop.route != route || url_node.is_some_and(|n| n != hop.node) {
            return Err(ProxyError::Forbidden(
                "the request is signed for another route or node than the URL's".into(),
            ));
        }
        let key = store
            .node_key(&hop.node)
            .await?
            .ok_or_else(|| ProxyError::NotRegistered(hop.node.clone()))?;
        signed.verify(domain::HOP, &key).map_err(|_| {
            ProxyError::Unauthenticated("the request's signature does not verify".into())
        })?;
        check_clock(hop.issued_at_ms)?;
        self.check_not_before_start(hop.issued_at_ms)?;
        match store.admit(&hop.node, route, hop.counter).await? {
            Admitted::Yes => {}
            Admitted::Replayed => {
                return Err(ProxyError::Unauthenticated(
                    "this request was seen before (replayed)".into(),
                ));
            }
            Admitted::OverRate => {
                return Err(ProxyError::TooMany(format!(
                    "node `{}` sends more than {} requests per second",
                    hop.node, self.node_rate
                )));
            }
        }
        Ok((hop.node, hop.body))
    }

    /// The replay window may live in memory: a hop captured before a restart would pass
    /// it once more. So while such a hop could still pass the clock check (the first
    /// MAX_SKEW after the start), hops signed before the start are refused; nodes send a
    /// new one by themselves. The start is measured on the monotonic clock, so a wall
    /// clock set back later locks nobody out; the slack spares nodes whose clock is a
    /// little behind.
    fn check_not_before_start(&self, issued_at_ms: u64) -> Result<(), ProxyError> {
        let age = self.started.elapsed();
        if age < Duration::from_millis(wire::MAX_SKEW_MS) {
            let started_ms = wire::now_ms().saturating_sub(age.as_millis() as u64);
            if issued_at_ms.saturating_add(RESTART_SLACK_MS) < started_ms {
                return Err(ProxyError::SignedBeforeStart(started_ms - issued_at_ms));
            }
        }
        Ok(())
    }
}

/// Refuses a message dated further from the proxy's clock than [`wire::MAX_SKEW_MS`].
pub(crate) fn check_clock(issued_at_ms: u64) -> Result<(), ProxyError> {
    let now = wire::now_ms();
    if issued_at_ms.abs_diff(now) > wire::MAX_SKEW_MS {
        let skew_s = wire::signed_diff(issued_at_ms, now) / 1000;
        let (by, way) = if skew_s >= 0 {
            (skew_s, "ahead of")
        } else {
            (-skew_s, "behind")
        };
        return Err(ProxyError::Unauthenticated(format!(
            "the node's clock is {by} s {way} the proxy's (at most {} s is allowed): set the \
             node's clock right (e.g. enable NTP)",
            wire::MAX_SKEW_MS / 1000
        )));
    }
    Ok(())
}
