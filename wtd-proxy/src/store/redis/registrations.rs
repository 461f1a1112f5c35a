//! [`Registrations`] and [`Observe`] on Redis: a hash per node (its key, contact,
//! decision, last-seen time), and the set of every name, which bounds them
//! ([`Config::max_nodes`](crate::Config::max_nodes)) and lists them for the operator.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use redis::Value;
use wtd_wire as wire;

use super::scripts::SCRIPTS;
use super::{RedisStore, failed, line, node_hash, within};
use crate::error::ProxyError;
use crate::state::directory;
use crate::store::registry::REJECTED;
use crate::store::{NodeRecord, Observe, Observed, ObservedNode, Registered, Registrations};

/// A duration for people, as the embedded store says it.
fn human(ms: u64) -> String {
    crate::store::embedded::human(ms)
}

impl Registrations for RedisStore {
    async fn node_key(&self, node: &str) -> Result<Option<VerifyingKey>, ProxyError> {
        let mut redis = self.redis();
        let (key, decision): (Option<Vec<u8>>, Option<u8>) = within(
            redis::cmd("HMGET")
                .arg(node_hash(node))
                .arg("key")
                .arg("dec")
                .query_async(&mut redis),
        )
        .await?;
        // A node not approved is not registered as far as its requests go.
        if self.inner.config.approve && decision.unwrap_or(0) != 0 {
            return Ok(None);
        }
        Ok(key
            .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
            .and_then(|k| wire::verifying_key(&k).ok()))
    }

    async fn register(&self, name: &str, record: NodeRecord) -> Result<Registered, ProxyError> {
        wire::verifying_key(&record.node_key)
            .map_err(|_| ProxyError::Malformed("the node key is not a valid ed25519 key".into()))?;
        let config = &self.inner.config;
        let bare = line(name, &record.node_key, &[], &[]);
        let args = [
            name.as_bytes().to_vec(),
            record.node_key.to_vec(),
            record.email.into_bytes(),
            record.registered_at_ms.to_string().into_bytes(),
            bare,
            directory::entry_size(name, &[], &[])
                .to_string()
                .into_bytes(),
            u8::from(config.approve).to_string().into_bytes(),
            config.max_nodes.to_string().into_bytes(),
            config.name_expiry.as_millis().to_string().into_bytes(),
            config.presence_timeout.as_millis().to_string().into_bytes(),
            config.new_nodes_per_minute.max(1).to_string().into_bytes(),
        ];
        // One script: it runs to its end in Redis even if this request is dropped.
        let outcome = self.run(&SCRIPTS.register, &node_hash(name), &args).await?;
        match outcome.code {
            1 => Ok(match outcome.int(0)? {
                0 => Registered::Again,
                2 => Registered::Rejected,
                _ => Registered::Pending,
            }),
            -1 => Err(ProxyError::NameTaken(name.to_string())),
            -2 => {
                let next = outcome.int(0)?;
                let when = match next {
                    0.. => format!("the next name expires in {}", human(next as u64)),
                    _ => "every node is online".to_string(),
                };
                Err(ProxyError::TooMany(format!(
                    "this proxy holds its maximum of {} node names, and a name is released \
                     only once its node has been offline for {}; {when}. Try again then, or \
                     ask the proxy's operator to release a name (`wtd-proxy release NAME`)",
                    config.max_nodes,
                    human(config.name_expiry.as_millis() as u64)
                )))
            }
            -3 => Err(ProxyError::TooMany(format!(
                "too many new nodes are registering right now (these proxies take {} a \
                 minute): try again in {}",
                config.new_nodes_per_minute,
                human(outcome.int(0)?.max(1000) as u64)
            ))),
            _ => {
                let instead = outcome.string(1)?;
                if !instead.is_empty() {
                    tracing::info!(node = %instead, "released a registration not seen for {:?}", config.name_expiry);
                }
                if outcome.int(0)? == 1 {
                    tracing::info!(node = %name, "a new node waits for approval: `wtd-proxy registrations approve {name}`");
                    return Ok(Registered::Pending);
                }
                tracing::info!(node = %name, "registered a new node");
                Ok(Registered::New)
            }
        }
    }

    async fn release(&self, name: &str) -> Result<bool, ProxyError> {
        let args = [name.as_bytes().to_vec()];
        let outcome = self.run(&SCRIPTS.release, &node_hash(name), &args).await?;
        if outcome.code == 1 {
            tracing::info!(node = %name, "released the name");
        }
        Ok(outcome.code == 1)
    }

    async fn decide(&self, name: &str, approve: bool) -> Result<bool, ProxyError> {
        let args = [
            name.as_bytes().to_vec(),
            u8::from(approve).to_string().into_bytes(),
        ];
        let outcome = self.run(&SCRIPTS.decide, &node_hash(name), &args).await?;
        if outcome.code == 1 {
            tracing::info!(node = %name, approve, "the operator decided");
        }
        Ok(outcome.code == 1)
    }

    async fn registered(&self) -> Result<Vec<(String, String)>, ProxyError> {
        let mut all: Vec<(String, String)> = self
            .records()
            .await?
            .into_iter()
            .map(|n| (n.name, n.email))
            .collect();
        all.sort();
        Ok(all)
    }
}

impl RedisStore {
    /// Every registration, with the depth of its mailbox; waiters not counted yet.
    async fn records(&self) -> Result<Vec<ObservedNode>, ProxyError> {
        let mut redis = self.redis();
        let names: Vec<String> = within(
            redis::cmd("SMEMBERS")
                .arg("wtd:{cluster}:names")
                .query_async(&mut redis),
        )
        .await?;
        if names.is_empty() {
            // An empty pipeline is no command at all: Redis would refuse it.
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.cmd("HMGET")
                .arg(node_hash(name))
                .arg(&["key", "email", "reg", "seen", "dec"]);
            pipe.cmd("XLEN").arg(format!("wtd:{{{name}}}:mail"));
        }
        let rows: Vec<Value> = within(pipe.query_async(&mut redis)).await?;
        let mut nodes = Vec::with_capacity(names.len());
        for (name, pair) in names.into_iter().zip(rows.chunks(2)) {
            let [fields, depth] = pair else { continue };
            let fields: Vec<Option<Vec<u8>>> =
                redis::from_redis_value_ref(fields).map_err(|e| failed(e.into()))?;
            let depth: usize = redis::from_redis_value_ref(depth).map_err(|e| failed(e.into()))?;
            let text = |i: usize| {
                fields
                    .get(i)
                    .cloned()
                    .flatten()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            };
            let Ok(node_key) = <[u8; 32]>::try_from(
                fields
                    .first()
                    .cloned()
                    .flatten()
                    .unwrap_or_default()
                    .as_slice(),
            ) else {
                // Released between the two reads.
                continue;
            };
            let decision: u8 = text(4).parse().unwrap_or(0);
            let decision = if self.inner.config.approve {
                decision
            } else {
                0
            };
            nodes.push(ObservedNode {
                email: text(1),
                node_key,
                registered_at_ms: text(2).parse().unwrap_or(0),
                last_seen_ms: text(3).parse().unwrap_or(0),
                approved: decision == 0,
                rejected: decision == REJECTED,
                mailbox_messages: depth,
                apply_waiters: 0,
                name,
            });
        }
        Ok(nodes)
    }
}

impl Observe for RedisStore {
    async fn observe(&self) -> Observed {
        let nodes = match self.records().await {
            Ok(nodes) => nodes,
            Err(e) => {
                tracing::warn!("cannot read the registrations for the dashboard: {e}");
                return Observed::default();
            }
        };
        let mut redis = self.redis();
        let waiting: Vec<String> = within(
            redis::cmd("HVALS")
                .arg("wtd:{cluster}:apply")
                .query_async(&mut redis),
        )
        .await
        .unwrap_or_default();
        let mut per_callee: HashMap<&str, usize> = HashMap::new();
        for waiter in &waiting {
            if let Some((_, callee)) = waiter.split_once(' ') {
                *per_callee.entry(callee).or_default() += 1;
            }
        }
        let nodes = nodes
            .into_iter()
            .map(|mut n| {
                n.apply_waiters = per_callee.get(n.name.as_str()).copied().unwrap_or(0);
                n
            })
            .collect();
        Observed { nodes }
    }
}
