//! Rate limits and shared budgets: how fast each node may send, how fast new names may
//! register (per client address, and all together), and how many bytes of large bodies
//! may be held at once.
//!
//! The rates are token buckets (governor's GCRA): each allows a burst as large as one
//! period's rate, then refills steadily.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;
use wtd_wire as wire;

use crate::Config;
use crate::clients::{MAX_CLIENTS, client_of};
use crate::error::ProxyError;

/// A token bucket for one thing (a node, or all registrations).
pub(crate) type Limiter = DefaultDirectRateLimiter;

/// `n` a second, in bursts of `n` (at least 1).
pub(crate) fn per_second(n: u32) -> Limiter {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct(Quota::per_second(n).allow_burst(n))
}

/// `n` a minute, in bursts of `n` (at least 1).
pub(crate) fn per_minute(n: u32) -> Limiter {
    RateLimiter::direct(Quota::per_minute(
        NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN),
    ))
}

/// How long until `limiter` (a direct one) allows one more, if it does not now.
pub(crate) fn wait_for(limiter: &Limiter) -> Option<Duration> {
    limiter
        .check()
        .err()
        .map(|until| until.wait_time_from(limiter.clock().now()))
}

/// A wait for people: "3 s", at least 1.
pub(crate) fn seconds(wait: Duration) -> String {
    format!("{} s", wait.as_secs_f64().ceil().max(1.0) as u64)
}

/// New node names per minute from one client address
/// ([`Config::new_nodes_per_minute_per_client`]). The ceiling for all addresses together
/// is the store's ([`Config::new_nodes_per_minute`]), counted over all proxies; this one is
/// counted by each proxy for the clients it sees.
#[derive(Debug)]
pub(crate) struct NewNamesPerClient {
    /// A token bucket per address (an IPv4 address, an IPv6 /64).
    buckets: DefaultKeyedRateLimiter<IpAddr>,
    /// Its rate, for the refusal.
    rate: u32,
}

impl NewNamesPerClient {
    pub(crate) fn new(config: &Config) -> NewNamesPerClient {
        let rate = config.new_nodes_per_minute_per_client.max(1);
        let n = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
        NewNamesPerClient {
            buckets: RateLimiter::keyed(Quota::per_minute(n)),
            rate,
        }
    }

    /// Spends one of `client`'s new names; the refusal says when the next one frees.
    pub(crate) fn spend(&self, client: IpAddr) -> Result<(), ProxyError> {
        let client = client_of(client);
        if self.buckets.len() >= MAX_CLIENTS {
            return Err(ProxyError::TooMany(
                "too many addresses are registering new nodes right now: try again in a minute"
                    .into(),
            ));
        }
        self.buckets.check_key(&client).map_err(|until| {
            let wait = until.wait_time_from(self.buckets.clock().now());
            ProxyError::TooMany(format!(
                "this address registers new nodes faster than {} a minute: try again in {} \
                 (or ask the proxy's operator for a higher \
                 `--new-nodes-per-minute-per-client`)",
                self.rate,
                seconds(wait)
            ))
        })
    }

    /// Forgets addresses whose bucket is full again, so the table holds only recent ones.
    pub(crate) fn sweep(&self) {
        self.buckets.retain_recent();
        self.buckets.shrink_to_fit();
    }
}

/// The budget, in KiB, for request bodies past their free part (see `read_body` in
/// [`crate::routes`]). At least one whole body fits, whatever the setting.
pub(crate) fn large_body_budget(config: &Config) -> Arc<Semaphore> {
    let kib = (config.large_bodies.max(wire::MAX_BODY_BYTES) / 1024).min(Semaphore::MAX_PERMITS);
    Arc::new(Semaphore::new(kib))
}
