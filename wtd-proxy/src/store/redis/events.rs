//! What keeps a proxy's local view in step with Redis while it runs: the pub/sub
//! connection, and the leases of the receive requests it holds.
//!
//! One pub/sub connection per proxy, on three channels: `wtd:wake` (a node's name:
//! something was queued for it, it left, or a node it follows changed), `wtd:directory`
//! (the directory's new version) and `wtd:reply:PROXY` (a reply to an `/apply` call this
//! proxy holds: the ack's 16 bytes, then the reply). Pub/sub does not keep messages for
//! a subscriber that is away, so whenever the connection is lost and made again, every
//! local receive request is woken to read Redis again: nothing waits on a wake that was
//! sent while no one listened. A reply sent meanwhile is lost: its call ends as
//! Timeout ("outcome unknown"), which is the truth.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;

use super::{Inner, lock};

/// The channel of wakes.
pub(super) const WAKE: &str = "wtd:wake";
/// The channel of directory versions.
pub(super) const DIRECTORY: &str = "wtd:directory";

/// The channel of replies for the proxy `proxy`.
pub(super) fn replies(proxy: &str) -> String {
    format!("wtd:reply:{proxy}")
}

/// Listens on pub/sub until the store is dropped, connecting again (with a growing
/// pause, at most 2 s) whenever the connection is lost.
pub(super) async fn listen(client: redis::Client, inner: Weak<Inner>) {
    let mut pause = Duration::from_millis(50);
    loop {
        let Some(proxy) = inner.upgrade().map(|i| i.proxy.clone()) else {
            return;
        };
        match subscribe(&client, &proxy).await {
            Ok(pubsub) => {
                pause = Duration::from_millis(50);
                // Subscribed: whatever changed while no one listened is read again.
                if let Some(inner) = inner.upgrade() {
                    inner.wake_all();
                    inner.read_version().await;
                }
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    let Some(inner) = inner.upgrade() else { return };
                    inner.heard(message.get_channel_name(), message.get_payload_bytes());
                }
                tracing::warn!("lost Redis pub/sub: connecting again");
                if let Some(inner) = inner.upgrade() {
                    inner.wake_all();
                }
            }
            Err(e) => tracing::warn!("cannot subscribe to Redis ({e}): trying again"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// A pub/sub connection subscribed to this proxy's channels.
async fn subscribe(client: &redis::Client, proxy: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(&[WAKE, DIRECTORY]).await?;
    pubsub.subscribe(replies(proxy)).await?;
    Ok(pubsub)
}

impl Inner {
    /// A message on `channel`.
    fn heard(&self, channel: &str, payload: &[u8]) {
        if channel == WAKE {
            if let Ok(name) = std::str::from_utf8(payload) {
                self.effects(&[name.to_string()], 0);
            }
        } else if channel == DIRECTORY {
            let version = std::str::from_utf8(payload)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            self.effects(&[], version);
        } else if payload.len() >= 16 {
            let (ack, reply) = payload.split_at(16);
            let mut key = [0u8; 16];
            key.copy_from_slice(ack);
            self.hand_over(key, reply.to_vec());
        }
    }

    /// Reads the directory's version from Redis (it may have changed while pub/sub
    /// was away).
    async fn read_version(&self) {
        let version: redis::RedisResult<Option<u64>> = redis::cmd("HGET")
            .arg(super::CLUSTER)
            .arg("version")
            .query_async(&mut self.redis.clone())
            .await;
        if let Ok(Some(version)) = version {
            self.effects(&[], version);
        }
    }

    /// Hands `reply` to the `/apply` call waiting here for `ack`, if it still waits.
    pub(super) fn hand_over(&self, ack: [u8; 16], reply: Vec<u8>) {
        if let Some(waiter) = lock(&self.waiters).remove(&ack) {
            // The request may have just ended; then the reply has nowhere to go.
            let _ = waiter.send(reply);
        }
    }

    /// How long a held receive request counts in Redis without this proxy pushing its
    /// deadline forward: the presence timeout, at least a second. A proxy that crashed
    /// stops pushing, and its node is offline that much later.
    pub(super) fn lease(&self) -> Duration {
        self.config.presence_timeout.max(Duration::from_secs(1))
    }

    /// A new id for a receive request held here.
    pub(super) fn poll_id(&self) -> String {
        let n = self.next_poll.fetch_add(1, Ordering::Relaxed);
        format!("{}:{n}", self.proxy)
    }
}

/// Pushes the deadlines of the receive requests held here forward, three times a lease,
/// until the store is dropped (or, with none held, pings Redis as often).
pub(super) async fn keep_leases(inner: Weak<Inner>) {
    let Some(every) = inner.upgrade().map(|i| i.lease() / 3) else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let lease = inner.lease().as_millis() as u64;
        let now = wtd_wire::now_ms();
        let mut pipe = redis::pipe();
        let mut any = false;
        for (node, ids) in lock(&inner.polls).iter() {
            let key = format!("wtd:{{{node}}}:polls");
            for id in ids {
                // The proxy's clock, not Redis's: a lease is generous enough for a
                // small skew between the two (NTP keeps them within milliseconds). `XX`:
                // only polls still there, so one released meanwhile is not brought back.
                pipe.cmd("ZADD")
                    .arg(&key)
                    .arg("XX")
                    .arg(now + lease)
                    .arg(id)
                    .ignore();
                any = true;
            }
            pipe.cmd("PEXPIRE").arg(&key).arg(lease * 2).ignore();
        }
        if !any {
            // Nothing to extend: a PING instead, so that after an outage the connection
            // manager connects again now, not on the next request (which would fail).
            pipe.cmd("PING").ignore();
        }
        let mut redis = inner.redis.clone();
        drop(inner);
        if let Err(e) = pipe.query_async::<()>(&mut redis).await {
            tracing::debug!("cannot reach Redis to extend the held receive requests: {e}");
        }
    }
}
