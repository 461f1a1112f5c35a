//! A cluster for one test: a proxy on a free port with its own data folder, and nodes
//! with their own homes, all torn down at the end.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde::Serialize;
use tempfile::TempDir;
use wtd::wire::{Encoding, Hop, Ping, Register, Route, Signed, domain, now_ms};
use wtd::{KeyFile, Node, NodeConfig, Peer};
use wtd_proxy::{Config, Proxy};

/// Node names are unique across the whole test binary, because the demo mission keeps
/// one counter per node name and tests run in parallel.
pub fn unique(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id() % 10_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct Cluster {
    pub dir: TempDir,
    proxy: Option<Proxy>,
    pub addr: SocketAddr,
}

impl Cluster {
    pub async fn start() -> Cluster {
        Cluster::start_with(|_| {}).await
    }

    /// A cluster whose proxy has its defaults changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let mut config = Config::new(dir.path().join("proxy"));
        adjust(&mut config);
        let proxy = Proxy::start(listener, config).await.expect("proxy starts");
        let addr = proxy.addr();
        Cluster {
            dir,
            proxy: Some(proxy),
            addr,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A node serving `missions` (none: a node that only calls).
    pub async fn node(&self, name: &str, missions: &[&str]) -> Node {
        let config = NodeConfig::new(name, &self.url(), self.dir.path().join(name)).serve(missions);
        Node::start(config).await.expect("node starts")
    }

    /// The usual cast: a proxy; Alice serving `serves`; Bob, who serves nothing; and a
    /// key from Alice for `grants` at `rate`, loaded by Bob as a peer for Alice.
    pub async fn pair(serves: &[&str], grants: &[&str], rate: &str) -> (Cluster, Node, Node, Peer) {
        let cluster = Cluster::start().await;
        let alice = cluster.node(&unique("alice"), serves).await;
        let bob = cluster.node(&unique("bob"), &[]).await;
        let (_, peer) = cluster.grant(&alice, &bob, grants, rate);
        (cluster, alice, bob, peer)
    }

    /// Alice grants `missions` to a new key for Bob, at `rate`; Bob gets a peer for Alice.
    pub fn grant(
        &self,
        alice: &Node,
        bob: &Node,
        missions: &[&str],
        rate: &str,
    ) -> (KeyFile, Peer) {
        let mut grant = alice.grant(bob.name());
        for m in missions {
            grant = grant.mission(m);
        }
        let key = grant.rate(rate).expect("rate").mint().expect("mint");
        let peer = bob.peer(&key).expect("peer");
        (key, peer)
    }

    pub async fn stop_proxy(&mut self) {
        if let Some(proxy) = self.proxy.take() {
            proxy.stop().await;
        }
    }

    /// Starts a proxy again on the same address and data folder.
    pub async fn start_proxy_again(&mut self) {
        self.start_proxy_again_with(|_| {}).await;
    }

    /// [`Cluster::start_proxy_again`], with the defaults changed by `adjust`.
    pub async fn start_proxy_again_with(&mut self, adjust: impl FnOnce(&mut Config)) {
        let listener = bind_again(&self.addr.to_string()).await;
        let proxy = Proxy::start(listener, self.proxy_config(adjust))
            .await
            .expect("proxy starts again");
        self.proxy = Some(proxy);
    }

    /// The proxy's configuration: its data folder, the defaults changed by `adjust`.
    pub fn proxy_config(&self, adjust: impl FnOnce(&mut Config)) -> Config {
        let mut config = Config::new(self.dir.path().join("proxy"));
        adjust(&mut config);
        config
    }

    pub async fn stop(mut self, nodes: Vec<Node>) {
        for node in nodes {
            node.stop().await;
        }
        self.stop_proxy().await;
    }
}

/// Binds `addr` (a port a stopped or killed proxy had), retrying for up to 10 s while the
/// old socket is released.
pub async fn bind_again(addr: &str) -> tokio::net::TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot bind {addr} again: {e}"),
        }
    }
}

/// The log lines of the `wtd::proxies` module (a node moving between proxies) and of
/// `wtd::node::presence` (a node registering again), of every test in this binary: tests
/// tell theirs apart by node name.
pub struct FailoverLog(Mutex<Vec<u8>>);

impl FailoverLog {
    /// The lines that name node `node`.
    pub fn lines_about(&self, node: &str) -> Vec<String> {
        let text = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&text)
            .lines()
            .filter(|l| l.contains(&format!("node={node}")))
            .map(str::to_string)
            .collect()
    }
}

/// Starts collecting the [`FailoverLog`] (once for the binary: a `tracing` subscriber of
/// its own, which takes only those modules' lines).
pub fn failover_log() -> &'static FailoverLog {
    static LOG: OnceLock<FailoverLog> = OnceLock::new();
    static INSTALLED: OnceLock<()> = OnceLock::new();
    let log = LOG.get_or_init(|| FailoverLog(Mutex::new(Vec::new())));
    INSTALLED.get_or_init(|| {
        let installed = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "wtd::proxies=info,wtd::node::presence=info",
            ))
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .try_init();
        assert!(
            installed.is_ok(),
            "another log subscriber was installed first"
        );
    });
    log
}

/// Appends to the [`FailoverLog`].
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let log = failover_log();
        log.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Retries `attempt` every 100 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut attempt: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = attempt().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signs a call of `demo/demo/{function}` with the peer's key, without sending it.
pub fn sign_demo<A: Serialize>(peer: &Peer, function: &str, args: &A) -> Signed {
    let args = wtd::wire::encode(args);
    peer.sign_call("demo", "demo", function, Encoding::Postcard, args, true)
        .expect("signed")
}

/// Sends one signed call through the proxy's `/apply` route, as a script or an attacker
/// would; returns the signed reply.
pub async fn apply(cluster: &Cluster, call: &Signed) -> Signed {
    apply_to(&cluster.url(), call)
        .await
        .expect("the proxy relays it")
}

/// [`apply`] through the proxy at `url`; the error when it does not relay it.
pub async fn apply_to(url: &str, call: &Signed) -> Result<Signed, wtd::Error> {
    let (url, call) = (url.to_string(), call.clone());
    tokio::task::spawn_blocking(move || wtd::transport::apply(&url, &call, Duration::from_secs(8)))
        .await
        .expect("joined")
}

/// Sends one signed call through `/apply` and checks that the proxy refused it itself, as
/// a call its callee could not accept (403 `not accepted: …`, issue 16): a key the callee
/// did not announce, or a signature that does not verify. Returns the proxy's sentence.
pub async fn apply_not_accepted(cluster: &Cluster, call: &Signed) -> String {
    let call_path: wtd::wire::Call = call.peek().expect("a call");
    let url = format!(
        "{}/apply/{}/{}",
        cluster.url(),
        call_path.callee,
        call_path.path()
    );
    let (status, text) = send("PUT", url, call.to_bytes()).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.starts_with("not accepted: "), "{text}");
    text
}

/// A postcard-encoded `u64` result.
pub fn as_u64(bytes: &[u8]) -> u64 {
    wtd::wire::decode_exact(bytes).expect("a u64")
}

/// Sends raw bytes with PUT or POST; returns (status, body text), or the transport error.
pub async fn try_send(method: &str, url: String, body: Vec<u8>) -> Result<(u16, String), String> {
    let put = method == "PUT";
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let request = if put {
            agent.put(&url)
        } else {
            agent.post(&url)
        };
        let mut response = request.send(&body[..]).map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok((status, text))
    })
    .await
    .expect("joined")
}

/// [`try_send`], failing the test when there is no answer.
pub async fn send(method: &str, url: String, body: Vec<u8>) -> (u16, String) {
    let len = body.len();
    match try_send(method, url.clone(), body).await {
        Ok(answer) => answer,
        Err(e) => panic!("{method} {url} with {len} bytes: no answer: {e}"),
    }
}

/// Registers `name` with a new key, as a node written by hand would; returns the key.
pub async fn register_by_hand(url: &str, name: &str) -> SigningKey {
    let key = wtd::keys::generate();
    let register = Register {
        name: name.to_string(),
        email: String::new(),
        node_key: key.verifying_key().to_bytes(),
        issued_at_ms: now_ms(),
    };
    let body = Signed::sign(domain::REGISTER, &register, &key).to_bytes();
    let (status, text) = send("PUT", format!("{url}/nodes/{name}"), body).await;
    assert_eq!(status, 200, "{text}");
    key
}

/// A ping that offers nothing and accepts no key.
pub fn empty_ping() -> Ping {
    Ping {
        offers: vec![],
        accepts: vec![],
        known_version: 0,
        follows: vec![],
    }
}

/// Builds the example `name` as `cargo run --example NAME` would (a no-op when it is up to
/// date: `cargo test --test e2e` alone may not have built it), runs it as a new user does,
/// and returns what it printed on stdout once it exited 0 by itself, within 2 minutes.
pub fn run_example(name: &str) -> String {
    use std::process::{Command, Stdio};
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(&cargo)
        .args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(built.success(), "the {name} example does not build");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let exe = target.join("debug/examples").join(name);
    let mut child = Command::new(&exe)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", exe.display()));
    // Read both pipes while it runs, so a chatty example never blocks on a full pipe.
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let (out, err) = (read(Box::new(stdout)), read(Box::new(stderr)));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the {name} example did not finish within 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (out.join().expect("stdout"), err.join().expect("stderr"));
    assert!(
        status.success(),
        "{name}: exit {status:?}\n{stdout}\n{stderr}"
    );
    stdout
}

/// A hop signed by `node`'s key around `body`, with a counter never used before: the
/// bytes a node would POST to `route`.
pub fn signed_hop(node: &str, key: &SigningKey, route: Route, body: Vec<u8>) -> Vec<u8> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let hop = Hop {
        node: node.to_string(),
        route,
        counter: now_ms() * 1000 + NEXT.fetch_add(1, Ordering::Relaxed),
        issued_at_ms: now_ms(),
        body,
    };
    Signed::sign(domain::HOP, &hop, key).to_bytes()
}

/// POSTs `body` to `path`, wrapped in a hop signed by `node`'s key; returns the status
/// and the answer's bytes.
pub async fn hop_by_hand(
    url: &str,
    path: &str,
    node: &str,
    key: &SigningKey,
    route: Route,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    post_bytes(format!("{url}{path}"), signed_hop(node, key, route, body)).await
}

/// POSTs `body` as it is; returns the status and the answer's bytes.
pub async fn post_bytes(url: String, body: Vec<u8>) -> (u16, Vec<u8>) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let mut response = agent
            .post(&url)
            .send(&body[..])
            .unwrap_or_else(|e| panic!("{url}: no answer: {e}"));
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_vec().expect("body"))
    })
    .await
    .expect("joined")
}
