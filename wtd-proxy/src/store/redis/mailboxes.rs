//! [`Mailboxes`] and [`ApplyWaiters`] on Redis.
//!
//! A node's mailbox is a Redis Stream, one entry per message, its ID the message's
//! sequence number: messages stay there until the node acknowledges them, whichever
//! proxy it asks, so a proxy's crash loses none. The `/apply` waiters are named in Redis
//! (ack → the proxy holding the call, and its callee); the reply goes over pub/sub to
//! that proxy, which holds the `oneshot`.

use std::collections::hash_map::Entry;

use tokio::sync::{oneshot, watch};
use wtd_wire::{self as wire, Delivered, Kind, TxStatus};

use super::events::replies;
use super::scripts::{SCRIPTS, array, bytes};
use super::{CLUSTER, RedisStore, lock, node_hash};
use crate::error::ProxyError;
use crate::store::{ApplyWaiters, Mail, Mailboxes};

/// How long a waiter is kept in Redis if its proxy never forgets it (it crashed): a
/// call's longest lifetime, and a little more.
const WAITER_KEPT_MS: u64 = wire::MAX_LIFETIME_MS + 5_000;

/// A message kind as the stream keeps it.
fn kind_code(kind: Kind) -> &'static str {
    match kind {
        Kind::Call => "c",
        Kind::Reply => "r",
    }
}

/// One stream entry (`[id, [f, FROM, k, KIND, b, BYTES]]`) as a message.
fn message(entry: &redis::Value) -> Result<Delivered, ProxyError> {
    let bad = || ProxyError::Storage("a message in Redis is not in the store's shape".into());
    let [id, fields] = array(entry)? else {
        return Err(bad());
    };
    let [_, from, _, kind, _, body] = array(fields)? else {
        return Err(bad());
    };
    let id = String::from_utf8(bytes(id)?).map_err(|_| bad())?;
    let seq = id
        .split_once('-')
        .and_then(|(seq, _)| seq.parse().ok())
        .ok_or_else(bad)?;
    let from = String::from_utf8(bytes(from)?).map_err(|_| bad())?;
    Ok(Delivered {
        seq,
        from: (!from.is_empty()).then_some(from),
        kind: if bytes(kind)? == b"r" {
            Kind::Reply
        } else {
            Kind::Call
        },
        bytes: bytes(body)?,
    })
}

impl Mailboxes for RedisStore {
    async fn deliver(
        &self,
        to: &str,
        from: Option<&str>,
        kind: Kind,
        bytes: Vec<u8>,
    ) -> Result<TxStatus, ProxyError> {
        let config = &self.inner.config;
        let args = [
            to.as_bytes().to_vec(),
            from.unwrap_or("").as_bytes().to_vec(),
            kind_code(kind).as_bytes().to_vec(),
            bytes,
            config.presence_timeout.as_millis().to_string().into_bytes(),
            config.mailbox_messages.to_string().into_bytes(),
            config.mailbox_bytes.to_string().into_bytes(),
            config.mailbox_messages_per_sender.to_string().into_bytes(),
            config.mailbox_bytes_per_sender.to_string().into_bytes(),
        ];
        let outcome = self.run(&SCRIPTS.deliver, &node_hash(to), &args).await?;
        Ok(match outcome.code {
            0 => TxStatus::Queued,
            2 => TxStatus::MailboxFull,
            _ => TxStatus::NodeDown,
        })
    }

    async fn take(
        &self,
        node: &str,
        acked: Option<u64>,
        known_version: Option<u64>,
    ) -> Result<Mail, ProxyError> {
        let args = [
            node.as_bytes().to_vec(),
            acked
                .map(|a| a.to_string())
                .unwrap_or_default()
                .into_bytes(),
            wire::MAX_BATCH_LEN.to_string().into_bytes(),
        ];
        let outcome = self.run(&SCRIPTS.take, &node_hash(node), &args).await?;
        if outcome.code == -1 {
            return Err(ProxyError::NotRegistered(node.to_string()));
        }
        let gone = outcome.int(0)? == 1;
        let entries = outcome.rest.get(1).map(array).transpose()?.unwrap_or(&[]);
        // As many as fit one answer: half a body, so its framing always fits too.
        let mut size = 0;
        let mut messages = Vec::new();
        for entry in entries {
            let message = message(entry)?;
            size += message.bytes.len();
            if size > wire::MAX_BODY_BYTES / 2 {
                break;
            }
            messages.push(message);
        }
        // Read after the messages, not in the same script: the directory's keys are
        // the cluster's, and a change the node hears early or twice is harmless (its
        // version says what it has).
        let directory = match known_version {
            Some(known) => Some(self.followed_since(node, known).await?),
            None => None,
        }
        .filter(|(_, update)| !update.is_empty());
        Ok(Mail {
            messages,
            gone,
            directory,
        })
    }

    async fn watch_mailbox(&self, node: &str) -> Result<watch::Receiver<u64>, ProxyError> {
        let mut redis = self.redis();
        let exists: bool = super::within(
            redis::cmd("EXISTS")
                .arg(node_hash(node))
                .query_async(&mut redis),
        )
        .await?;
        if !exists {
            return Err(ProxyError::NotRegistered(node.to_string()));
        }
        Ok(lock(&self.inner.mailboxes)
            .entry(node.to_string())
            .or_insert_with(|| watch::Sender::new(0))
            .subscribe())
    }

    async fn clear_mailbox(&self, node: &str) -> Result<(), ProxyError> {
        let args = [node.as_bytes().to_vec()];
        self.run(&SCRIPTS.clear_mail, &node_hash(node), &args)
            .await?;
        Ok(())
    }

    fn epoch(&self) -> u64 {
        self.inner.epoch
    }
}

impl ApplyWaiters for RedisStore {
    async fn expect_reply(
        &self,
        ack: [u8; 16],
        callee: &str,
    ) -> Result<oneshot::Receiver<Vec<u8>>, ProxyError> {
        let mut args = vec![
            hex::encode(ack).into_bytes(),
            callee.as_bytes().to_vec(),
            self.inner.proxy.as_bytes().to_vec(),
            self.inner.config.max_applies.to_string().into_bytes(),
            WAITER_KEPT_MS.to_string().into_bytes(),
        ];
        args.extend(
            lock(&self.inner.forgetting)
                .iter()
                .map(|ack| ack.clone().into_bytes()),
        );
        // The oneshot is here before the waiter is in Redis, so a reply that comes at
        // once finds it.
        let (reply, answer) = oneshot::channel();
        match lock(&self.inner.waiters).entry(ack) {
            Entry::Occupied(_) => {
                return Err(ProxyError::Malformed(
                    "a call with this ack is already waiting".into(),
                ));
            }
            Entry::Vacant(slot) => slot.insert(reply),
        };
        let outcome = self.run(&SCRIPTS.expect_reply, CLUSTER, &args).await;
        let refusal = match outcome {
            Ok(o) if o.code == 0 => return Ok(answer),
            Ok(o) if o.code == -2 => ProxyError::TooMany("too many calls waiting on /apply".into()),
            Ok(_) => ProxyError::Malformed("a call with this ack is already waiting".into()),
            Err(e) => e,
        };
        lock(&self.inner.waiters).remove(&ack);
        Err(refusal)
    }

    async fn answer(&self, ack: [u8; 16], from: &str, bytes: Vec<u8>) -> Option<Vec<u8>> {
        let args = [hex::encode(ack).into_bytes(), from.as_bytes().to_vec()];
        let proxy = match self.run(&SCRIPTS.answer, CLUSTER, &args).await {
            Ok(outcome) => outcome.string(0).unwrap_or_default(),
            Err(e) => {
                tracing::warn!("cannot look up an /apply waiter: {e}");
                return Some(bytes);
            }
        };
        if proxy.is_empty() {
            return Some(bytes);
        }
        if proxy == self.inner.proxy {
            self.inner.hand_over(ack, bytes);
            return None;
        }
        let mut payload = ack.to_vec();
        payload.extend_from_slice(&bytes);
        let mut redis = self.redis();
        let sent: Result<i64, _> = super::within(
            redis::cmd("PUBLISH")
                .arg(replies(&proxy))
                .arg(payload)
                .query_async(&mut redis),
        )
        .await;
        if let Err(e) = sent {
            // The waiter was taken: its call ends as Timeout, "outcome unknown".
            tracing::warn!("cannot pass a reply to the proxy holding its call: {e}");
        }
        None
    }

    fn forget_reply(&self, ack: &[u8; 16]) {
        if lock(&self.inner.waiters).remove(ack).is_none() {
            // Answered: the reply's script already took it out of Redis.
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut redis = self.redis();
        let ack = hex::encode(ack);
        lock(&self.inner.forgetting).push(ack.clone());
        let inner = self.inner.clone();
        runtime.spawn(async move {
            let mut pipe = redis::pipe();
            pipe.cmd("HDEL")
                .arg("wtd:{cluster}:apply")
                .arg(&ack)
                .ignore();
            pipe.cmd("ZREM")
                .arg("wtd:{cluster}:applies")
                .arg(&ack)
                .ignore();
            if let Err(e) = pipe.query_async::<()>(&mut redis).await {
                tracing::debug!("cannot forget an /apply waiter in Redis (it expires): {e}");
            }
            lock(&inner.forgetting).retain(|a| *a != ack);
        });
    }
}
