//! The WTD proxy: the relay and directory every node talks to.
//!
//! # Layout
//!
//! * [`routes`]: the HTTP routes, thin handlers over [`state::State`].
//! * [`state`]: what the routes ask, one method each, over the store. One file per
//!   concept under `state/`: `registrations` (checking a signed registration), `hops`
//!   (authenticating every other request: signature, clock, replay window), `presence`
//!   (who is online, held receive requests), `directory` (what the directory lists, its
//!   versions, pages and deltas, who follows whom, the keys each node announced),
//!   `mailboxes` (queued messages and the `/rx` long poll), `waiters` (calls waiting on
//!   `/apply`), `gate` (which `/apply` calls are let in: those whose key the callee
//!   announced, correctly signed), `limits` (rates and budgets).
//! * [`store`]: what proxies sharing the nodes would have to share, as traits
//!   ([`store::Store`]: registrations, hop replay windows, request rates, presence and
//!   directory, mailboxes, `/apply` waiters), each method saying what it guarantees.
//!   `store/embedded.rs` keeps it all in this process (memory, and the registrations on
//!   disk through `store/registry.rs`, redb); `store/redis.rs` keeps it on a Redis that
//!   several proxies share (`--store redis://…`), each atomic step a Lua script.
//! * [`clients`]: what one client address may hold on `/apply`, which needs no key.
//! * [`server`]: the accept loop, with a bound on connections and on slow clients.
//! * [`connections`]: which connections are held, by whom, and which one to close when
//!   the proxy is full (the idlest of the network holding the most).
//! * [`error`]: every refusal, with its HTTP status and a helpful sentence.
//! * [`stats`]: traffic counters and their snapshots, once a second.
//! * [`dashboard`]: the page at `/` (embedded assets), `/api/stats`, `/api/events`.
//! * [`operator`]: the operator's registrations commands, over a loopback endpoint.
//!
//! Run it with [`run`] (the binary does), or embed one with [`Proxy::start`] (the
//! examples and tests do).

// Every public item says what it is for: other programs embed the proxy, and the fuzz
// targets drive its router and state directly.
#![warn(missing_docs)]

pub mod clients;
pub mod connections;
pub mod dashboard;
pub mod error;
pub mod local_redis;
pub mod operator;
pub mod routes;
pub mod server;
pub mod state;
pub mod stats;
pub mod store;
#[cfg(all(test, feature = "redis"))]
mod two_proxies;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use error::ProxyError;

/// The port a proxy listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 14151;

/// How a proxy runs. Every bound is here.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the node registry is kept.
    pub data_dir: PathBuf,
    /// A node that sent nothing for this long leaves the directory.
    pub presence_timeout: Duration,
    /// Longest time a receive request is held.
    pub max_poll: Duration,
    /// Receive requests one node may hold at once.
    pub polls_per_node: usize,
    /// Messages waiting per node.
    pub mailbox_messages: usize,
    /// Bytes waiting per node.
    pub mailbox_bytes: usize,
    /// Messages waiting per node from one sender (a node, or all `/apply` calls
    /// together): a quarter of the mailbox, so one sender flooding a slow callee cannot
    /// keep everyone else's calls out.
    pub mailbox_messages_per_sender: usize,
    /// Bytes waiting per node from one sender, a quarter of the mailbox likewise.
    pub mailbox_bytes_per_sender: usize,
    /// Requests per second one node may make.
    pub node_rate: u32,
    /// Nodes that may register.
    pub max_nodes: usize,
    /// Capability keys one node may list as accepted in the directory (each grant in use
    /// is one). A club's Pi grants a key to each friend and program that calls it: a few
    /// dozen; 256 leaves room, and keeps one node's part of the directory near 8 KiB.
    pub accepts_per_node: usize,
    /// The most bytes the whole directory may take, encoded. Nobody reads all of it at
    /// once (a node hears only the nodes it follows; people and scripts read pages), so
    /// this bounds the proxy's memory: 32 MiB holds about 200,000 nodes offering a mission
    /// and accepting a few keys (~150 bytes each), and the proxy keeps two copies of each
    /// line. Past it a node is listed by name and key only.
    pub directory_bytes: usize,
    /// `GET /api/directory` and `GET /api/stats` per second from one client address (in
    /// bursts of twice that): each answer is a page of the directory, or the dashboard's
    /// snapshot. A person at a shell and a script running `wtd` commands in a row (each
    /// `wtd call` reads the directory to pick a key) stay well under it.
    pub directory_reads_per_client: u32,
    /// A registration expires once its node has been offline this long (its name is then
    /// free for another key, and makes room at `max_nodes`), so names taken and left
    /// do not shut newcomers out for good.
    pub name_expiry: Duration,
    /// Calls that may wait on `/apply` at once.
    pub max_applies: usize,
    /// Calls that one client address may have waiting on `/apply` at once.
    pub applies_per_client: usize,
    /// `/apply` calls per second from one client address (bursts of twice that).
    pub apply_rate_per_client: u32,
    /// New node names that may register per minute, all client addresses together (and
    /// over all proxies sharing a store): the ceiling. 6,000 a minute lets 10,000 nodes
    /// join in under two minutes, and still bounds how fast the registry file grows.
    pub new_nodes_per_minute: u32,
    /// New node names that may register per minute from one client address (an IPv4
    /// address, an IPv6 /64; bursts of as many). Registration is open to anyone: this
    /// keeps one address from taking the ceiling, while a school behind one address still
    /// starts a class's nodes at once.
    pub new_nodes_per_minute_per_client: u32,
    /// Connections held at once. Past it a new connection is not made to wait: the
    /// idlest connection of the network holding the most is closed instead. Lowered to
    /// fit the process's open-file limit, if that is smaller.
    pub max_connections: usize,
    /// Connections one client (an IPv4 address, an IPv6 /64) may hold; more are closed.
    /// A node uses about five; many nodes behind one home router share an address.
    pub connections_per_client: usize,
    /// Connections one network (an IPv4 /24, an IPv6 /48: one site, usually) may hold;
    /// more are closed. Four clients' worth, so a school or an office still fits.
    pub connections_per_network: usize,
    /// A connection older than this is closed after its next answer (which says
    /// `Connection: close`), so none is held for good.
    pub connection_lifetime: Duration,
    /// Bytes of request bodies past their first 64 KiB that may be held at once, all
    /// requests together (see `read_body` in [`routes`]).
    pub large_bodies: usize,
    /// A connection must deliver a request's headers within this time after it opens or
    /// after its last answer (longer than a node keeps an idle connection), and then the
    /// request's body within this time again; else it is closed or answered 408.
    pub read_timeout: Duration,
    /// Whether the relay's address also serves the dashboard (`GET /`, `/assets/…`,
    /// `/api/stats`, `/api/events`). Off with `--no-dashboard`, or when it is served on an
    /// address of its own ([`run_with_dashboard`]).
    pub dashboard: bool,
    /// Pages watching the event stream at once, all clients together.
    pub dashboard_watchers: usize,
    /// A registration needs an email address. The `wtd-proxy` binary, which strangers'
    /// nodes use, sets it; a proxy a program starts for itself ([`Proxy::start`], the
    /// examples and tests) does not ask.
    pub require_email: bool,
    /// A new registration waits for the operator's approval (`--approve`).
    pub approve: bool,
    /// Where the nodes' state is kept: `None` (the default) in this process
    /// ([`store::EmbeddedStore`]: memory, and the registrations in `data_dir`), or the
    /// Redis at this URL (`redis://HOST:PORT/DB`), shared by every proxy given the same
    /// one (`store::RedisStore`, `--store`; the cargo feature `redis`, on by default). A
    /// proxy on Redis still keeps its operator's token in `data_dir`.
    pub store: Option<String>,
}

impl Config {
    /// Defaults, keeping data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            presence_timeout: Duration::from_secs(3),
            max_poll: Duration::from_secs(25),
            polls_per_node: 2,
            mailbox_messages: 4096,
            mailbox_bytes: 16 * 1024 * 1024,
            mailbox_messages_per_sender: 1024,
            mailbox_bytes_per_sender: 4 * 1024 * 1024,
            node_rate: 2000,
            max_nodes: 10_000,
            accepts_per_node: 256,
            directory_bytes: 32 * 1024 * 1024,
            directory_reads_per_client: 20,
            name_expiry: Duration::from_secs(90 * 24 * 60 * 60),
            max_applies: 1024,
            applies_per_client: 64,
            apply_rate_per_client: 100,
            new_nodes_per_minute: 6000,
            new_nodes_per_minute_per_client: 60,
            max_connections: 4096,
            connections_per_client: 256,
            connections_per_network: 1024,
            connection_lifetime: Duration::from_secs(5 * 60),
            read_timeout: Duration::from_secs(20),
            large_bodies: 64 * 1024 * 1024,
            dashboard: true,
            dashboard_watchers: 32,
            require_email: false,
            approve: false,
            store: None,
        }
    }
}

/// Serves the proxy on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProxyError> {
    run_with(listener, None, None, config, shutdown).await
}

/// [`run`], with the dashboard on `dashboard` (its own address) and the operator's
/// endpoint on `operator` (loopback), each if given.
pub async fn run_with(
    listener: TcpListener,
    dashboard: Option<TcpListener>,
    operator: Option<TcpListener>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProxyError> {
    match config.store.clone() {
        None => {
            let state = Arc::new(open_state(config).await?);
            serve_with(listener, dashboard, operator, state, shutdown).await
        }
        #[cfg(feature = "redis")]
        Some(url) => {
            let state = Arc::new(open_redis(&url, config).await?);
            serve_with(listener, dashboard, operator, state, shutdown).await
        }
        #[cfg(not(feature = "redis"))]
        Some(url) => Err(without_redis(&url)),
    }
}

/// [`serve`], with the dashboard and the operator's endpoint each on its own listener.
async fn serve_with<S: store::Store>(
    listener: TcpListener,
    dashboard: Option<TcpListener>,
    operator: Option<TcpListener>,
    state: Arc<state::State<S>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProxyError> {
    let mut extra = Vec::new();
    if let Some(listener) = dashboard {
        let app = dashboard::router(state.clone());
        extra.push(spawn_extra(listener, app, state.clone()));
    }
    if let Some(listener) = operator {
        let address = listener
            .local_addr()
            .map_err(|e| ProxyError::Storage(format!("the listener has no address: {e}")))?;
        let token = operator::publish(&state.config.data_dir, address)?;
        let app = operator::router(state.clone(), token);
        extra.push(spawn_extra(listener, app, state.clone()));
    }
    let served = serve(listener, state, shutdown).await;
    for task in extra {
        let _ = task.await;
    }
    served
}

/// Serves `app` on `listener` until the proxy closes.
fn spawn_extra<S: store::Store>(
    listener: TcpListener,
    app: axum::Router,
    state: Arc<state::State<S>>,
) -> tokio::task::JoinHandle<()> {
    let limits = server::Limits {
        max_connections: 64,
        connections_per_client: 16,
        connections_per_network: 32,
        connection_lifetime: state.config.connection_lifetime,
        read_timeout: state.config.read_timeout,
        drain: Duration::from_secs(1),
    };
    let mut closing = state.closing.subscribe();
    tokio::spawn(server::serve(listener, app, limits, async move {
        let _ = closing.wait_for(|c| *c).await;
    }))
}

/// Connects to the Redis at `url` and opens the proxy's state on it.
#[cfg(feature = "redis")]
async fn open_redis(
    url: &str,
    config: Config,
) -> Result<state::State<store::RedisStore>, ProxyError> {
    // Taken before the store opens: see `HopCheck::check_not_before_start`.
    let started = std::time::Instant::now();
    let store = store::redis::connect(url, &config).await?;
    state::State::new(config, store, started)
}

/// The refusal of a store on Redis by a proxy built without it.
#[cfg(not(feature = "redis"))]
fn without_redis(url: &str) -> ProxyError {
    ProxyError::Storage(format!(
        "this wtd-proxy was built without Redis (the cargo feature `redis`), so it cannot \
         keep its state on {url}: build it with the default features, or leave out --store"
    ))
}

/// Opens the proxy's state (its database file) off the async threads; works on any tokio
/// runtime, a current-thread one included.
async fn open_state(config: Config) -> Result<state::State<store::EmbeddedStore>, ProxyError> {
    tokio::task::spawn_blocking(move || state::State::open(config))
        .await
        .map_err(|e| ProxyError::Storage(e.to_string()))?
}

async fn serve<S: store::Store>(
    listener: TcpListener,
    state: Arc<state::State<S>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProxyError> {
    let sweeper = {
        let state = state.clone();
        let mut closing = state.closing.subscribe();
        tokio::spawn(async move {
            let every = Duration::from_millis(500);
            let mut tick = tokio::time::interval(every);
            let mut grace = state::SweepGrace::new(
                every,
                state.config.presence_timeout,
                std::time::Instant::now(),
            );
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = closing.wait_for(|c| *c) => return,
                }
                // After the select, not in its arm: the closing branch's output (a guard)
                // would otherwise be held across the await.
                let judge = grace.may_judge(std::time::Instant::now());
                state.sweep(judge).await;
            }
        })
    };
    let sampler = tokio::spawn(stats::sampler(state.clone()));
    let limits = server::Limits {
        max_connections: server::fit_to_open_files(state.config.max_connections),
        connections_per_client: state.config.connections_per_client,
        connections_per_network: state.config.connections_per_network,
        connection_lifetime: state.config.connection_lifetime,
        read_timeout: state.config.read_timeout,
        drain: Duration::from_secs(5),
    };
    let app = routes::router(state.clone());
    let closer = state.clone();
    server::serve(listener, app, limits, async move {
        shutdown.await;
        // Wake the held receive and /apply requests first, so the drain is quick.
        closer.close();
    })
    .await;
    state.close();
    let _ = sweeper.await;
    let _ = sampler.await;
    Ok(())
}

/// Releases the node name `name` in the registry in `config`'s data folder, whoever
/// holds it (`wtd-proxy release NAME`); `Ok(false)` if it was not registered. Run it while
/// the proxy using that folder is stopped: the registry is one file, held by one process.
/// With [`Config::store`] set, on that Redis instead, while the proxies run.
pub async fn release(config: &Config, name: &str) -> Result<bool, ProxyError> {
    use store::Registrations;
    if let Some(url) = &config.store {
        #[cfg(feature = "redis")]
        return store::redis::connect(url, config)
            .await?
            .release(name)
            .await;
        #[cfg(not(feature = "redis"))]
        return Err(without_redis(url));
    }
    let opened = config.clone();
    let store = tokio::task::spawn_blocking(move || store::EmbeddedStore::open(&opened))
        .await
        .map_err(|e| ProxyError::Storage(e.to_string()))??;
    store.release(name).await
}

/// A proxy running inside this program, for examples and tests.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ProxyError>>,
}

impl Proxy {
    /// Starts a proxy on `listener` (bind `127.0.0.1:0` for a free port).
    pub async fn start(listener: TcpListener, config: Config) -> Result<Proxy, ProxyError> {
        let addr = listener
            .local_addr()
            .map_err(|e| ProxyError::Storage(format!("the listener has no address: {e}")))?;
        let (stop, stopped) = oneshot::channel();
        let stopped = async move {
            let _ = stopped.await;
        };
        let task = match config.store.clone() {
            None => {
                let state = open_state(config).await?;
                tokio::spawn(serve(listener, Arc::new(state), stopped))
            }
            #[cfg(feature = "redis")]
            Some(url) => {
                let state = open_redis(&url, config).await?;
                tokio::spawn(serve(listener, Arc::new(state), stopped))
            }
            #[cfg(not(feature = "redis"))]
            Some(url) => return Err(without_redis(&url)),
        };
        Ok(Proxy {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The proxy's URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the proxy and waits until it has.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(Duration::from_secs(10), &mut self.task).await {
            Ok(Ok(Err(e))) => tracing::warn!("the proxy stopped with an error: {e}"),
            Err(_) => {
                tracing::warn!("the proxy did not stop in 10 s; aborting it");
                self.task.abort();
            }
            _ => {}
        }
    }
}
