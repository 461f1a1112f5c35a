//! Replay protection: the callee's cache of call acks, and the proxy's sliding window
//! of hop counters.

use std::collections::HashMap;

use crate::MAX_SKEW_MS;

/// Acks seen recently, per capability key, so a replayed call is refused instead of run
/// twice.
///
/// An ack is remembered until its call's expiry (plus the clock-skew allowance), after
/// which the call would be refused as expired anyway. Memory is bounded per key and in
/// all: when full, new calls are refused as busy rather than forgetting acks early
/// (forgetting would open a replay). Bounding per key means one grantee flooding the
/// node fills only its own share; the share is set per call by the caller of
/// [`ReplayCache::check_and_insert`] (the node derives it from the grant's rate).
#[derive(Debug)]
pub struct ReplayCache {
    seen: HashMap<[u8; 32], HashMap<[u8; 16], u64>>,
    len: usize,
    capacity: usize,
    next_sweep_ms: u64,
}

/// What the replay cache says of an ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// First time: go ahead.
    Fresh,
    /// Seen before: refuse.
    Replayed,
    /// The cache is full: refuse as busy.
    Full,
}

impl ReplayCache {
    /// A cache holding at most `capacity` acks in all.
    pub fn new(capacity: usize) -> Self {
        ReplayCache {
            seen: HashMap::new(),
            len: 0,
            capacity,
            next_sweep_ms: 0,
        }
    }

    /// Records `ack` of a call signed by `key` (valid until `expires_at_ms`) and says
    /// whether it is new; `key` may hold at most `share` acks.
    pub fn check_and_insert(
        &mut self,
        key: [u8; 32],
        share: usize,
        ack: [u8; 16],
        expires_at_ms: u64,
        now: u64,
    ) -> Freshness {
        // Sweep once a second; when full, as often as every 100 ms (a sweep walks every
        // ack, so not on every call).
        let full_sweep_due = self.len >= self.capacity && now + 900 >= self.next_sweep_ms;
        if now >= self.next_sweep_ms || full_sweep_due {
            self.sweep(now);
        }
        let acks = self.seen.entry(key).or_default();
        if acks.contains_key(&ack) {
            return Freshness::Replayed;
        }
        if acks.len() >= share || self.len >= self.capacity {
            return Freshness::Full;
        }
        acks.insert(ack, expires_at_ms);
        self.len += 1;
        Freshness::Fresh
    }

    fn sweep(&mut self, now: u64) {
        let mut len = 0;
        self.seen.retain(|_, acks| {
            acks.retain(|_, expiry| expiry.saturating_add(MAX_SKEW_MS) > now);
            len += acks.len();
            !acks.is_empty()
        });
        self.len = len;
        self.next_sweep_ms = now + 1_000;
    }

    /// Number of acks remembered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no ack is remembered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A sliding window of recently seen counters (as WireGuard's replay filter): accepts
/// each counter once, and refuses counters that fell far behind the newest.
#[derive(Debug, Clone, Default)]
pub struct CounterWindow {
    top: u64,
    bits: [u64; Self::WORDS],
}

impl CounterWindow {
    const WORDS: usize = 16;
    /// How many counters behind the newest are still accepted.
    pub const SIZE: u64 = (Self::WORDS * 64) as u64;

    /// Accepts `counter` if it was not seen and is not too old; records it.
    pub fn accept(&mut self, counter: u64) -> bool {
        if counter > self.top {
            let shift = counter - self.top;
            if shift >= Self::SIZE {
                self.bits = [0; Self::WORDS];
            } else {
                for _ in 0..shift {
                    self.top += 1;
                    self.clear(self.top);
                }
            }
            self.top = counter;
            self.set(counter);
            return true;
        }
        if self.top - counter >= Self::SIZE || self.is_set(counter) {
            return false;
        }
        self.set(counter);
        true
    }

    fn index(counter: u64) -> (usize, u64) {
        let bit = counter % Self::SIZE;
        ((bit / 64) as usize, 1 << (bit % 64))
    }
    fn set(&mut self, counter: u64) {
        let (word, mask) = Self::index(counter);
        self.bits[word] |= mask;
    }
    fn clear(&mut self, counter: u64) {
        let (word, mask) = Self::index(counter);
        self.bits[word] &= !mask;
    }
    fn is_set(&self, counter: u64) -> bool {
        let (word, mask) = Self::index(counter);
        self.bits[word] & mask != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn replay_cache_refuses_repeats_and_forgets_expired() {
        let (k, other) = ([1; 32], [2; 32]);
        let mut cache = ReplayCache::new(3);
        assert_eq!(
            cache.check_and_insert(k, 2, [1; 16], 10, 0),
            Freshness::Fresh
        );
        assert_eq!(
            cache.check_and_insert(k, 2, [1; 16], 10, 1),
            Freshness::Replayed
        );
        assert_eq!(
            cache.check_and_insert(k, 2, [2; 16], 10, 1),
            Freshness::Fresh
        );
        assert_eq!(
            cache.check_and_insert(k, 2, [3; 16], 10, 1),
            Freshness::Full,
            "key's share"
        );
        assert_eq!(
            cache.check_and_insert(other, 2, [3; 16], 10, 1),
            Freshness::Fresh
        );
        assert_eq!(
            cache.check_and_insert(other, 2, [4; 16], 10, 1),
            Freshness::Full,
            "in all"
        );
        let later = 10 + MAX_SKEW_MS + 1;
        assert_eq!(
            cache.check_and_insert(k, 2, [3; 16], later + 5, later),
            Freshness::Fresh
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn counter_window_accepts_each_counter_once() {
        let mut window = CounterWindow::default();
        assert!(window.accept(100));
        assert!(!window.accept(100));
        assert!(window.accept(99));
        assert!(window.accept(105));
        assert!(!window.accept(99));
        assert!(window.accept(100 + CounterWindow::SIZE));
        assert!(!window.accept(100), "too old now");
        assert!(window.accept(101), "still inside the window");
    }
}
