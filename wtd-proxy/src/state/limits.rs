//! Rate limits and shared budgets: how fast each node may send, how fast new names may
//! register, and how many bytes of large bodies may be held at once.
//!
//! The rates are token buckets (governor's GCRA): each allows a burst as large as one
//! period's rate, then refills steadily.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;
use wtd_wire as wire;

use crate::Config;

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

/// The budget, in KiB, for request bodies past their free part (see `read_body` in
/// [`crate::routes`]). At least one whole body fits, whatever the setting.
pub(crate) fn large_body_budget(config: &Config) -> Arc<Semaphore> {
    let kib = (config.large_bodies.max(wire::MAX_BODY_BYTES) / 1024).min(Semaphore::MAX_PERMITS);
    Arc::new(Semaphore::new(kib))
}
