//! The Redis store: several proxies on one Redis serve one cluster. Every promise the
//! [`Store`](super::Store) traits make "over all proxies" is kept by Redis: each step
//! that must be atomic is one Lua script (`redis/lua/*.lua`), which Redis runs alone.
//! The layout of the keys, their types and expiries is in docs/SCALING.md.
//!
//! What stays in each proxy is what cannot travel: the `watch` channels its held
//! receive requests wait on, the `oneshot` of each `/apply` call it holds, and which
//! receive requests it holds (their leases in Redis are pushed forward by it while they
//! last). Changes reach the other proxies over pub/sub (`events.rs`).
//!
//! * `scripts.rs`: the Lua scripts and what they return;
//! * `events.rs`: the pub/sub connection and the lease of held receive requests;
//! * `presence.rs`: [`Presence`](super::Presence), the directory included;
//! * `mailboxes.rs`: [`Mailboxes`](super::Mailboxes) and
//!   [`ApplyWaiters`](super::ApplyWaiters);
//! * `registrations.rs`: [`Registrations`](super::Registrations) and
//!   [`Observe`](super::Observe);
//! * here: connecting, errors, the hop window and the rate.
//!
//! Redis down: every method answers [`ProxyError::StoreUnavailable`] (503) within
//! [`RESPONSE_TIMEOUT`], the connection manager reconnects in the background, and service
//! resumes by itself.

mod events;
mod mailboxes;
mod presence;
mod registrations;
mod scripts;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::RedisError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{oneshot, watch};
use wtd_wire::{self as wire, DirectoryEntry, Route};

use super::{Admission, Admitted, HopWindows, RequestRates};
use crate::Config;
use crate::error::ProxyError;
use scripts::{Outcome, SCRIPTS};

/// The cluster's state on Redis, and what this proxy holds locally of it.
pub struct RedisStore {
    /// Shared with the background tasks.
    inner: Arc<Inner>,
    /// The pub/sub listener and the lease keeper, stopped with the store.
    tasks: Vec<tokio::task::AbortHandle>,
}

/// What the store's handles and background tasks share.
struct Inner {
    /// Every bound.
    config: Config,
    /// Commands and scripts: one multiplexed connection that reconnects by itself.
    redis: ConnectionManager,
    /// This proxy's id in Redis (`/apply` waiters name the proxy holding them).
    proxy: String,
    /// The epoch all proxies on this Redis share.
    epoch: u64,
    /// The receive requests waiting here, by node: woken by changes made here (at once)
    /// and elsewhere (over pub/sub).
    mailboxes: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// The directory version, as this proxy last heard it.
    directory: watch::Sender<u64>,
    /// The `/apply` calls waiting here for their reply.
    waiters: Mutex<HashMap<[u8; 16], oneshot::Sender<Vec<u8>>>>,
    /// Acks (hex) this proxy stopped waiting for, until Redis has heard so: the next
    /// waiter's script removes them first, so a slot freed here is free at once.
    forgetting: Mutex<Vec<String>>,
    /// The receive requests held here, by node: their ids in the node's `polls`.
    polls: Mutex<HashMap<String, Vec<String>>>,
    /// Numbers the poll ids.
    next_poll: AtomicU64,
}

/// How long each Redis command may take before the request is answered 503.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long connecting to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects to the Redis at `url` (`redis://HOST:PORT/DB`) and loads what the cluster
/// shares (its epoch, the directory version). Fails if Redis cannot be reached now;
/// later outages are answered 503 until it is back.
pub async fn connect(url: &str, config: &Config) -> Result<RedisStore, ProxyError> {
    let client = redis::Client::open(url).map_err(|e| {
        ProxyError::Storage(format!(
            "the store address {url:?} is not a Redis URL ({e}): give redis://HOST:PORT/DB"
        ))
    })?;
    let manager = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(2))
        .set_number_of_retries(3);
    let mut redis = ConnectionManager::new_with_config(client.clone(), manager)
        .await
        .map_err(|e| {
            ProxyError::StoreUnavailable(format!("cannot connect to Redis at {url}: {e}"))
        })?;
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| ProxyError::Storage(e.to_string()))?;
    let epoch = u64::from_le_bytes(id).max(1);
    let outcome = scripts::run(
        &mut redis,
        &SCRIPTS.init,
        "wtd:{cluster}:epoch",
        &[epoch.to_string().into_bytes()],
    )
    .await?;
    let version = outcome.int(0)?;
    let epoch = outcome
        .string(1)?
        .parse()
        .map_err(|_| ProxyError::Storage("the epoch in Redis is not a number".into()))?;
    getrandom::fill(&mut id).map_err(|e| ProxyError::Storage(e.to_string()))?;
    let inner = Arc::new(Inner {
        config: config.clone(),
        redis,
        proxy: hex::encode(id),
        epoch,
        mailboxes: Mutex::new(HashMap::new()),
        directory: watch::Sender::new(u64::try_from(version).unwrap_or(0)),
        waiters: Mutex::new(HashMap::new()),
        forgetting: Mutex::new(Vec::new()),
        polls: Mutex::new(HashMap::new()),
        next_poll: AtomicU64::new(0),
    });
    let tasks = vec![
        tokio::spawn(events::listen(client, Arc::downgrade(&inner))).abort_handle(),
        tokio::spawn(events::keep_leases(Arc::downgrade(&inner))).abort_handle(),
    ];
    tracing::info!(store = %url, proxy = %inner.proxy, "the proxy's state is on Redis");
    Ok(RedisStore { inner, tasks })
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A lock that a panic elsewhere does not make unusable: nothing under these locks
/// leaves them half changed.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A Redis failure as the client sees it: 503 while Redis cannot be reached (the
/// request may be tried again), 507 for anything else (a bug, or a Redis refusing).
pub(crate) fn failed(e: RedisError) -> ProxyError {
    use redis::ServerErrorKind;
    let transient = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
            )
        );
    if transient {
        ProxyError::StoreUnavailable(format!("Redis does not answer ({e})"))
    } else {
        ProxyError::Storage(format!("Redis refused a step: {e}"))
    }
}

/// `step`'s answer, or 503 if none comes within [`RESPONSE_TIMEOUT`]: while the
/// connection manager connects again, a command waits for it, and a request must not.
pub(crate) async fn within<T>(
    step: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, ProxyError> {
    match tokio::time::timeout(RESPONSE_TIMEOUT, step).await {
        Ok(answer) => answer.map_err(failed),
        Err(_) => Err(ProxyError::StoreUnavailable(format!(
            "Redis did not answer within {} s",
            RESPONSE_TIMEOUT.as_secs()
        ))),
    }
}

/// The key a node's scripts are routed by (its hash).
fn node_hash(node: &str) -> String {
    format!("wtd:{{{node}}}:node")
}

/// The key the cluster-wide scripts are routed by.
const CLUSTER: &str = "wtd:{cluster}:dir";

impl RedisStore {
    /// The connection, for one command (cloning it is cheap: it is multiplexed).
    fn redis(&self) -> ConnectionManager {
        self.inner.redis.clone()
    }

    /// Runs `script` routed by `key`, then applies what it changed to this proxy's
    /// channels.
    async fn run(
        &self,
        script: &redis::Script,
        key: &str,
        args: &[Vec<u8>],
    ) -> Result<Outcome, ProxyError> {
        let outcome = scripts::run(&mut self.redis(), script, key, args).await?;
        self.inner.effects(&outcome.wakes, outcome.version);
        Ok(outcome)
    }

    /// The epoch all proxies on this Redis share: set by the first proxy that connects,
    /// kept as long as Redis keeps its data.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch
    }
}

impl Inner {
    /// A script woke `wakes` and moved the directory to `version` (0: it did not).
    fn effects(&self, wakes: &[String], version: u64) {
        if !wakes.is_empty() {
            let mailboxes = lock(&self.mailboxes);
            for name in wakes {
                if let Some(watch) = mailboxes.get(name) {
                    watch.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
        }
        if version > 0 {
            self.directory.send_if_modified(|v| {
                let newer = version > *v;
                *v = (*v).max(version);
                newer
            });
        }
    }

    /// Wakes every receive request waiting here, to look again (after pub/sub was
    /// lost: something may have changed meanwhile).
    fn wake_all(&self) {
        let mut mailboxes = lock(&self.mailboxes);
        mailboxes.retain(|_, watch| watch.receiver_count() > 0);
        for watch in mailboxes.values() {
            watch.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

/// A directory line as the store keeps it: postcard bytes.
fn line(name: &str, key: &[u8; 32], offers: &[wire::Offer], accepts: &[[u8; 32]]) -> Vec<u8> {
    wire::encode(&DirectoryEntry {
        name: name.to_string(),
        node_key: *key,
        offers: offers.to_vec(),
        accepts: accepts.to_vec(),
    })
}

/// The three checks in one script: one round trip for every signed request, not three.
impl Admission for RedisStore {
    async fn admit(&self, node: &str, route: Route, counter: u64) -> Result<Admitted, ProxyError> {
        let args = [
            node.as_bytes().to_vec(),
            counter.to_string().into_bytes(),
            (counter % wire::CounterWindow::SIZE)
                .to_string()
                .into_bytes(),
            self.inner.config.node_rate.max(1).to_string().into_bytes(),
            u8::from(presence::brings_back(route))
                .to_string()
                .into_bytes(),
            u8::from(route == Route::Bye).to_string().into_bytes(),
        ];
        let outcome = self.run(&SCRIPTS.admit, &node_hash(node), &args).await?;
        match outcome.code {
            0 => Ok(Admitted::Yes),
            1 => Ok(Admitted::Replayed),
            2 => Ok(Admitted::OverRate),
            _ => Err(ProxyError::NotRegistered(node.to_string())),
        }
    }
}

impl HopWindows for RedisStore {
    async fn accept_counter(&self, node: &str, counter: u64) -> Result<bool, ProxyError> {
        let args = [
            node.as_bytes().to_vec(),
            counter.to_string().into_bytes(),
            (counter % wire::CounterWindow::SIZE)
                .to_string()
                .into_bytes(),
        ];
        match scripts::number(&mut self.redis(), &SCRIPTS.window, &node_hash(node), &args).await? {
            -1 => Err(ProxyError::NotRegistered(node.to_string())),
            accepted => Ok(accepted == 1),
        }
    }
}

impl RequestRates for RedisStore {
    async fn spend_request(&self, node: &str) -> Result<bool, ProxyError> {
        let args = [
            node.as_bytes().to_vec(),
            self.inner.config.node_rate.max(1).to_string().into_bytes(),
        ];
        match scripts::number(&mut self.redis(), &SCRIPTS.rate, &node_hash(node), &args).await? {
            -1 => Err(ProxyError::NotRegistered(node.to_string())),
            spent => Ok(spent == 1),
        }
    }
}

/// What every store must do, tried on this one, and what two stores on one Redis
/// must agree on.
#[cfg(test)]
mod tests;
