//! [`Presence`] on Redis: who is online (each node's hash and its held receive
//! requests), and the directory (cluster-wide keys: the listed lines, the version each
//! name last changed at, the followers of each node).

use std::sync::Arc;

use tokio::sync::watch;
use wtd_wire::{self as wire, DirectoryEntry, DirectoryUpdate, Offer, Route};

use super::scripts::{self, Outcome, SCRIPTS, array, bytes, int};
use super::{CLUSTER, RedisStore, lock, node_hash};
use crate::error::ProxyError;
use crate::state::directory;
use crate::store::{DirectoryChanges, DirectoryPage, Presence, Registrations};

/// A directory line as Redis keeps it, read back.
fn entry(line: &[u8]) -> Result<DirectoryEntry, ProxyError> {
    wire::decode_exact(line)
        .map_err(|e| ProxyError::Storage(format!("a directory line in Redis does not decode: {e}")))
}

/// Reads `'l', line` and `'u', name` pairs.
fn changes(pairs: &[redis::Value]) -> Result<(Vec<DirectoryEntry>, Vec<String>), ProxyError> {
    let mut listed = Vec::new();
    let mut unlisted = Vec::new();
    for pair in pairs.chunks(2) {
        let [kind, value] = pair else { break };
        let value = bytes(value)?;
        if bytes(kind)? == b"l" {
            listed.push(entry(&value)?);
        } else {
            unlisted.push(String::from_utf8_lossy(&value).into_owned());
        }
    }
    Ok((listed, unlisted))
}

impl RedisStore {
    /// [`Presence::followed`], also for [`Mailboxes::take`](crate::store::Mailboxes::take).
    pub(super) async fn followed_since(
        &self,
        node: &str,
        known_version: u64,
    ) -> Result<(u64, DirectoryUpdate), ProxyError> {
        let args = [
            node.as_bytes().to_vec(),
            known_version.to_string().into_bytes(),
        ];
        let outcome = self.run(&SCRIPTS.followed, &node_hash(node), &args).await?;
        registered(node, &outcome)?;
        let version = u64::try_from(outcome.int(0)?).unwrap_or(0);
        let (listed, unlisted) = changes(outcome.rest.get(1..).unwrap_or_default())?;
        Ok((version, DirectoryUpdate { listed, unlisted }))
    }
}

/// `NotRegistered` for a script's code -1.
/// Whether a request on `route` signed after the node's goodbye brings it back: a ping or
/// a send does, a receive request does not.
pub(super) fn brings_back(route: Route) -> bool {
    matches!(route, Route::Ping | Route::Tx)
}

fn registered(node: &str, outcome: &Outcome) -> Result<(), ProxyError> {
    if outcome.code == -1 {
        return Err(ProxyError::NotRegistered(node.to_string()));
    }
    Ok(())
}

impl Presence for RedisStore {
    async fn seen(&self, node: &str, route: Route, counter: u64) -> Result<(), ProxyError> {
        let args = [
            node.as_bytes().to_vec(),
            u8::from(brings_back(route)).to_string().into_bytes(),
            u8::from(route == Route::Bye).to_string().into_bytes(),
            counter.to_string().into_bytes(),
        ];
        let outcome = self.run(&SCRIPTS.seen, &node_hash(node), &args).await?;
        registered(node, &outcome)
    }

    async fn hold_poll(&self, node: &str) -> Result<(), ProxyError> {
        let config = &self.inner.config;
        let id = self.inner.poll_id();
        let args = [
            node.as_bytes().to_vec(),
            id.clone().into_bytes(),
            self.inner.lease().as_millis().to_string().into_bytes(),
            config.polls_per_node.to_string().into_bytes(),
            config.directory_bytes.to_string().into_bytes(),
        ];
        let outcome = self
            .run(&SCRIPTS.hold_poll, &node_hash(node), &args)
            .await?;
        registered(node, &outcome)?;
        if outcome.code == -2 {
            return Err(ProxyError::TooMany(format!(
                "node `{node}` already holds {} receive requests",
                outcome.int(0)?
            )));
        }
        // Noted only once counted: a request dropped while the script ran leaves a poll
        // no one extends, and its lease runs out.
        lock(&self.inner.polls)
            .entry(node.to_string())
            .or_default()
            .push(id);
        Ok(())
    }

    fn release_poll(&self, node: &str) {
        let id = {
            let mut polls = lock(&self.inner.polls);
            let Some(ids) = polls.get_mut(node) else {
                return;
            };
            let id = ids.pop();
            if ids.is_empty() {
                polls.remove(node);
            }
            id
        };
        if let Some(id) = id {
            self.end_poll(node, id);
        }
    }

    async fn leave(&self, node: &str) -> Result<(), ProxyError> {
        let args = [node.as_bytes().to_vec()];
        self.run(&SCRIPTS.leave, &node_hash(node), &args).await?;
        Ok(())
    }

    async fn sweep(&self) {
        let timeout = self.inner.config.presence_timeout.as_millis();
        let args = [timeout.to_string().into_bytes()];
        match self.run(&SCRIPTS.sweep, CLUSTER, &args).await {
            Ok(outcome) => {
                let offline = outcome.rest.first().map(array).transpose();
                for name in offline.ok().flatten().unwrap_or_default() {
                    let name = bytes(name).unwrap_or_default();
                    tracing::info!(node = %String::from_utf8_lossy(&name), "node went offline");
                }
            }
            Err(e) => tracing::warn!("cannot sweep the directory: {e}"),
        }
        // Forget the channels no receive request waits on any more.
        lock(&self.inner.mailboxes).retain(|_, watch| watch.receiver_count() > 0);
    }

    async fn list(
        &self,
        node: &str,
        offers: Vec<Offer>,
        accepts: Vec<[u8; 32]>,
    ) -> Result<(), ProxyError> {
        let bound = self.inner.config.directory_bytes;
        let key: [u8; 32] = match self.node_key(node).await? {
            Some(key) => key.to_bytes(),
            None => return Err(ProxyError::NotRegistered(node.to_string())),
        };
        let mut gate: Vec<String> = accepts.iter().map(|k| hex::encode(&k[..8])).collect();
        gate.sort_unstable();
        gate.dedup();
        let size = directory::entry_size(node, &offers, &accepts);
        let bare = directory::entry_size(node, &[], &[]);
        let mut args = vec![
            node.as_bytes().to_vec(),
            super::line(node, &key, &offers, &accepts),
            size.to_string().into_bytes(),
            super::line(node, &key, &[], &[]),
            bare.to_string().into_bytes(),
            bound.to_string().into_bytes(),
        ];
        args.extend(gate.into_iter().map(String::into_bytes));
        let outcome = self.run(&SCRIPTS.list, &node_hash(node), &args).await?;
        registered(node, &outcome)?;
        if outcome.code == 0 {
            return Ok(());
        }
        let others = outcome.int(0)?;
        Err(ProxyError::TooLarge(format!(
            "the directory is full ({others} of its {bound} bytes are taken): this node is \
             online and can be called, but is listed by name and key only, without its \
             missions and keys; list fewer keys or missions, or ask the proxy's operator"
        )))
    }

    async fn may_accept(&self, node: &str, key: &[u8; 32]) -> Result<bool, ProxyError> {
        let args = [
            node.as_bytes().to_vec(),
            hex::encode(&key[..8]).into_bytes(),
        ];
        let accepted = scripts::number(
            &mut self.redis(),
            &SCRIPTS.may_accept,
            &node_hash(node),
            &args,
        )
        .await?;
        Ok(accepted == 1)
    }

    fn directory_version(&self) -> watch::Receiver<u64> {
        self.inner.directory.subscribe()
    }

    async fn follow(&self, node: &str, follows: Vec<String>) -> Result<(), ProxyError> {
        let mut args = vec![node.as_bytes().to_vec()];
        args.extend(follows.into_iter().map(String::into_bytes));
        let outcome = self.run(&SCRIPTS.follow, &node_hash(node), &args).await?;
        registered(node, &outcome)
    }

    async fn followed(
        &self,
        node: &str,
        known_version: u64,
    ) -> Result<(u64, DirectoryUpdate), ProxyError> {
        self.followed_since(node, known_version).await
    }

    async fn directory_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<DirectoryPage, ProxyError> {
        let args = [
            after.unwrap_or("").as_bytes().to_vec(),
            limit.to_string().into_bytes(),
        ];
        let value = scripts::raw(&mut self.redis(), &SCRIPTS.page, CLUSTER, &args).await?;
        let [version, more, lines @ ..] = array(&value)? else {
            return Err(ProxyError::Storage("a short directory page".into()));
        };
        let nodes = lines
            .iter()
            .map(|l| entry(&bytes(l)?).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let next = (int(more)? == 1)
            .then(|| nodes.last().map(|n| n.name.clone()))
            .flatten();
        Ok(DirectoryPage {
            version: u64::try_from(int(version)?).unwrap_or(0),
            nodes,
            next,
        })
    }

    async fn directory_since(&self, since: u64) -> Result<Option<DirectoryChanges>, ProxyError> {
        let args = [since.to_string().into_bytes()];
        let value = scripts::raw(&mut self.redis(), &SCRIPTS.since, CLUSTER, &args).await?;
        let [known, version, pairs @ ..] = array(&value)? else {
            // `{0}`: not known.
            return Ok(None);
        };
        if int(known)? == 0 {
            return Ok(None);
        }
        let (mut listed, mut unlisted) = changes(pairs)?;
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        unlisted.sort();
        Ok(Some(DirectoryChanges {
            version: u64::try_from(int(version)?).unwrap_or(0),
            listed: listed.into_iter().map(Arc::new).collect(),
            unlisted,
        }))
    }
}

impl RedisStore {
    /// Ends the held receive request `id` in Redis, in the background: this runs in a
    /// destructor. If Redis is down, its lease runs out instead.
    fn end_poll(&self, node: &str, id: String) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut redis = self.redis();
        let inner = self.inner.clone();
        let node = node.to_string();
        runtime.spawn(async move {
            let args = [node.clone().into_bytes(), id.into_bytes()];
            match scripts::run(&mut redis, &SCRIPTS.release_poll, &node_hash(&node), &args).await {
                Ok(outcome) => inner.effects(&outcome.wakes, outcome.version),
                Err(e) => tracing::debug!(%node, "cannot end a receive request in Redis: {e}"),
            }
        });
    }
}
