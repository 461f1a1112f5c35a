//! The directory simulator (issue 17): N lightweight nodes against a running `wtd-proxy`,
//! each doing what a real node does to stay present — register, ping with the example
//! node's offer and two followed nodes, hold a receive request, ping again every 20 s —
//! with nodes leaving and rejoining at a given rate. It reports the proxy's CPU and RSS
//! (read from /proc), the bytes the proxy sent, and ping and update latencies.
//!
//! Run it through `scripts/dirsim.sh`, which starts a fresh release proxy per run:
//!
//! ```sh
//! scripts/dirsim.sh 1000 0        # 1,000 nodes, idle
//! scripts/dirsim.sh 10000 5       # 10,000 nodes, 5 % leaving and rejoining per minute
//! ```
//!
//! Bounded: at most 20,000 nodes, 600 s of measurement, loopback addresses only
//! (127.0.0.0/8, one per 100 nodes, each in its own /24 so the proxy's per-client and
//! per-network connection caps hold), and every task ends when the run does.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use wtd::wire::{
    self, Hop, Offer, Ping, PingReply, Register, Route, RxBatch, RxPoll, Signed, domain,
};

/// Most nodes one run may simulate.
const MAX_NODES: usize = 20_000;
/// Longest measurement window, in seconds.
const MAX_SECONDS: u64 = 600;
/// Nodes sharing one source address.
const NODES_PER_ADDRESS: usize = 100;
/// How long a receive request may be held, as a real node asks.
const RX_WAIT_MS: u32 = 20_000;
/// How long a node that left stays away before rejoining.
const AWAY: Duration = Duration::from_secs(5);

/// The command line: `dirsim PROXY_ADDRS N SECONDS CHURN_PCT_PER_MIN PIDS RUN`. Several
/// proxies (sharing one store) are comma-separated; node `i` talks to proxy `i % n`. The
/// processes measured are comma-separated too: the proxies, and the store's if any.
struct Args {
    proxies: Vec<SocketAddr>,
    nodes: usize,
    seconds: u64,
    churn_per_min: f64,
    pids: Vec<u32>,
    run: String,
}

fn args() -> Result<Args, String> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: dirsim PROXY_ADDR[,ADDR…](127.x.x.x:port) NODES SECONDS CHURN_PCT_PER_MIN \
                 PID[,PID…] RUN_NAME";
    if a.len() != 6 {
        return Err(usage.into());
    }
    let proxies = a[0]
        .split(',')
        .map(|p| p.parse::<SocketAddr>().map_err(|_| usage.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if proxies
        .iter()
        .any(|p| !matches!(p.ip(), std::net::IpAddr::V4(v4) if v4.is_loopback()))
    {
        return Err("dirsim talks to 127.0.0.0/8 only".into());
    }
    let pids = a[4]
        .split(',')
        .map(|p| p.parse::<u32>().map_err(|_| usage.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let nodes: usize = a[1].parse().map_err(|_| usage.to_string())?;
    let seconds: u64 = a[2].parse().map_err(|_| usage.to_string())?;
    if nodes == 0 || nodes > MAX_NODES || seconds == 0 || seconds > MAX_SECONDS {
        return Err(format!("1..={MAX_NODES} nodes and 1..={MAX_SECONDS} s"));
    }
    Ok(Args {
        proxies,
        nodes,
        seconds,
        churn_per_min: a[3].parse().map_err(|_| usage.to_string())?,
        pids,
        run: a[5].clone(),
    })
}

/// What all nodes count together.
#[derive(Default)]
struct Tally {
    /// Bytes the proxy sent (headers and bodies).
    bytes_in: AtomicU64,
    /// Requests that failed (any status but 200, or no answer).
    errors: AtomicU64,
    /// Ping round trips, µs.
    pings: Mutex<Vec<u64>>,
    /// Receive requests answered early with a directory update.
    updates: AtomicU64,
    /// From a node leaving to a follower hearing it in a receive answer, µs.
    heard_leave: Mutex<Vec<u64>>,
    /// When each node last left, by name.
    left_at: Mutex<HashMap<String, Instant>>,
    /// Whether the measurement window is open.
    measuring: std::sync::atomic::AtomicBool,
}

/// One HTTP/1.1 exchange on `tcp`: the status and the body.
async fn exchange(
    tcp: &mut TcpStream,
    method: &str,
    path: &str,
    body: &[u8],
    close: bool,
    tally: &Tally,
) -> std::io::Result<(u16, Vec<u8>)> {
    let connection = if close { "close" } else { "keep-alive" };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: wtd\r\nConnection: {connection}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    tcp.write_all(&request).await?;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if length > wire::MAX_BODY_BYTES {
        return Err(std::io::ErrorKind::InvalidData.into());
    }
    while buf.len() < header_end + length {
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    tally
        .bytes_in
        .fetch_add(buf.len() as u64, Ordering::Relaxed);
    Ok((status, buf[header_end..header_end + length].to_vec()))
}

/// One simulated node.
struct SimNode {
    name: String,
    key: SigningKey,
    source: Ipv4Addr,
    proxy: SocketAddr,
    follows: Vec<String>,
    counter: AtomicU64,
}

impl SimNode {
    async fn connect(&self) -> std::io::Result<TcpStream> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((self.source, 0)))?;
        let tcp = socket.connect(self.proxy).await?;
        tcp.set_nodelay(true)?;
        Ok(tcp)
    }

    fn hop(&self, route: Route, body: Vec<u8>) -> Vec<u8> {
        let hop = Hop {
            node: self.name.clone(),
            route,
            counter: wire::now_ms() * 1000 + self.counter.fetch_add(1, Ordering::Relaxed) % 1000,
            issued_at_ms: wire::now_ms(),
            body,
        };
        Signed::sign(domain::HOP, &hop, &self.key).to_bytes()
    }

    /// A request on a connection of its own, closed after the answer (as a ping a
    /// node makes every 20 s would find its idle connection closed anyway).
    async fn once(&self, method: &str, path: &str, body: &[u8], tally: &Tally) -> Option<Vec<u8>> {
        let answer = async {
            let mut tcp = self.connect().await?;
            exchange(&mut tcp, method, path, body, true, tally).await
        };
        match tokio::time::timeout(Duration::from_secs(30), answer).await {
            Ok(Ok((200, body))) => Some(body),
            _ => {
                tally.errors.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    async fn register(&self, tally: &Tally) -> bool {
        let register = Register {
            name: self.name.clone(),
            // The `wtd-proxy` binary asks every node for its owner's email.
            email: format!("{}@dirsim.example.org", self.name),
            node_key: self.key.verifying_key().to_bytes(),
            issued_at_ms: wire::now_ms(),
        };
        let body = Signed::sign(domain::REGISTER, &register, &self.key).to_bytes();
        self.once("PUT", &format!("/nodes/{}", self.name), &body, tally)
            .await
            .is_some()
    }

    /// Pings; returns the version it brings the node to.
    async fn ping(&self, known_version: u64, tally: &Tally) -> Option<u64> {
        let ping = Ping {
            offers: vec![example_offer()],
            accepts: vec![[7; 32]],
            known_version,
            follows: self.follows.clone(),
        };
        let body = self.hop(Route::Ping, wire::encode(&ping));
        let started = Instant::now();
        let answer = self.once("POST", "/ping", &body, tally).await?;
        if tally.measuring.load(Ordering::Relaxed) {
            let us = started.elapsed().as_micros() as u64;
            tally
                .pings
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(us);
        }
        let reply: PingReply = wire::decode_exact(&answer).ok()?;
        Some(reply.version)
    }

    async fn bye(&self, tally: &Tally) {
        let body = self.hop(Route::Bye, Vec::new());
        self.once("POST", "/bye", &body, tally).await;
    }

    /// Lives until `until`: pings every 20 s, holds a receive request, leaves and
    /// rejoins when `leave` says so.
    async fn live(
        self: Arc<Self>,
        tally: Arc<Tally>,
        until: Instant,
        mut leave: tokio::sync::mpsc::Receiver<()>,
    ) {
        let mut version = self.ping(0, &tally).await.unwrap_or(0);
        let mut next_ping = Instant::now() + Duration::from_millis(wire::PING_EVERY_MS);
        let mut poll: Option<TcpStream> = None;
        let (mut epoch, mut ack) = (0u64, 0u64);
        while Instant::now() < until {
            if Instant::now() >= next_ping {
                version = self.ping(version, &tally).await.unwrap_or(version);
                next_ping = Instant::now() + Duration::from_millis(wire::PING_EVERY_MS);
            }
            let tcp = match poll.take() {
                Some(tcp) => tcp,
                None => match self.connect().await {
                    Ok(tcp) => tcp,
                    Err(_) => {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            let mut tcp = tcp;
            let body = self.hop(
                Route::Rx,
                wire::encode(&RxPoll {
                    epoch,
                    ack_seq: ack,
                    wait_ms: RX_WAIT_MS,
                    known_version: version,
                }),
            );
            let path = format!("/rx/{}", self.name);
            let mut left = false;
            let answer = {
                let held = exchange(&mut tcp, "POST", &path, &body, false, &tally);
                tokio::pin!(held);
                loop {
                    let wait = next_ping
                        .min(until)
                        .saturating_duration_since(Instant::now());
                    tokio::select! {
                        answer = &mut held => break Some(answer),
                        // A real node pings from another thread while its poll is held.
                        _ = tokio::time::sleep(wait) => {
                            if Instant::now() >= until {
                                break None;
                            }
                            version = self.ping(version, &tally).await.unwrap_or(version);
                            next_ping = Instant::now() + Duration::from_millis(wire::PING_EVERY_MS);
                        }
                        Some(()) = leave.recv() => {
                            left = true;
                            break None;
                        }
                    }
                }
            };
            match answer {
                Some(Ok((200, bytes))) => {
                    if let Ok(batch) = wire::decode_exact::<RxBatch>(&bytes) {
                        epoch = batch.epoch;
                        ack = batch.messages.last().map_or(ack, |m| m.seq);
                        if let Some((v, update)) = batch.directory {
                            version = v;
                            self.heard(&update.unlisted, &tally);
                        }
                    }
                    poll = Some(tcp);
                }
                Some(_) => {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                None => drop(tcp),
            }
            if left {
                tally
                    .left_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(self.name.clone(), Instant::now());
                self.bye(&tally).await;
                tokio::time::sleep(AWAY.min(until.saturating_duration_since(Instant::now()))).await;
                version = self.ping(0, &tally).await.unwrap_or(0);
                next_ping = Instant::now() + Duration::from_millis(wire::PING_EVERY_MS);
            }
        }
    }

    fn heard(&self, unlisted: &[String], tally: &Tally) {
        if unlisted.is_empty() {
            return;
        }
        tally.updates.fetch_add(1, Ordering::Relaxed);
        if !tally.measuring.load(Ordering::Relaxed) {
            return;
        }
        let left = tally.left_at.lock().unwrap_or_else(|p| p.into_inner());
        let mut delays = tally.heard_leave.lock().unwrap_or_else(|p| p.into_inner());
        for name in unlisted {
            if let Some(at) = left.get(name) {
                delays.push(at.elapsed().as_micros() as u64);
            }
        }
    }
}

/// The example node's offer (`examples/demo.rs`'s mission).
fn example_offer() -> Offer {
    Offer {
        mission: "demo".into(),
        functions: ["add", "echo", "incr", "count", "sleep"]
            .iter()
            .map(|f| format!("demo/{f}"))
            .collect(),
        behaviours: Vec::new(),
    }
}

/// utime + stime of `pid`, in clock ticks, and its RSS in KiB.
fn proc_sample(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the ")": state is field 0, utime 11, stime 12.
    let cpu = ticks(11) + ticks(12);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (cpu, rss)
}

fn percentile(values: &mut [u64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable();
    let i = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("dirsim: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let tally = Arc::new(Tally::default());
    let nodes: Vec<Arc<SimNode>> = (0..args.nodes)
        .map(|i| {
            let k = i / NODES_PER_ADDRESS;
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            seed[8..16].copy_from_slice(&0x5117_d1e5_u64.to_le_bytes());
            let follow = |d: usize| format!("{}-{}", args.run, (i + d) % args.nodes);
            Arc::new(SimNode {
                name: format!("{}-{i}", args.run),
                key: SigningKey::from_bytes(&seed),
                source: Ipv4Addr::new(127, 1 + (k / 256) as u8, (k % 256) as u8, 1),
                proxy: args.proxies[i % args.proxies.len()],
                follows: vec![follow(1), follow(2)],
                counter: AtomicU64::new(0),
            })
        })
        .collect();

    // Register, 64 at a time.
    let started = Instant::now();
    let registered = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for chunk in nodes.chunks(nodes.len().div_ceil(64)) {
        let (chunk, tally, registered) = (chunk.to_vec(), tally.clone(), registered.clone());
        set.spawn(async move {
            for node in chunk {
                if node.register(&tally).await {
                    registered.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    eprintln!(
        "dirsim: {} of {} registered in {:.1} s",
        registered.load(Ordering::Relaxed),
        args.nodes,
        started.elapsed().as_secs_f64()
    );

    // Start every node, spread over one ping period (20 s) as real nodes' pings are, let
    // them settle, then measure.
    let settle = Duration::from_secs(25);
    let until = Instant::now() + settle + Duration::from_secs(args.seconds);
    let mut leaves = Vec::with_capacity(nodes.len());
    let mut lives = tokio::task::JoinSet::new();
    for (i, node) in nodes.iter().enumerate() {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        leaves.push(tx);
        let (node, tally) = (node.clone(), tally.clone());
        let delay = Duration::from_millis((i as u64 * wire::PING_EVERY_MS) / args.nodes as u64);
        lives.spawn(async move {
            tokio::time::sleep(delay).await;
            node.live(tally, until, rx).await;
        });
    }
    tokio::time::sleep(settle).await;
    let bytes0 = tally.bytes_in.load(Ordering::Relaxed);
    let errors0 = tally.errors.load(Ordering::Relaxed);
    let cpu0: Vec<u64> = args.pids.iter().map(|&p| proc_sample(p).0).collect();
    let window = Instant::now();
    tally.measuring.store(true, Ordering::Relaxed);

    // Churn: leaves at an even pace, each node chosen at random; stops with the window.
    let per_second = args.churn_per_min / 100.0 * args.nodes as f64 / 60.0;
    let mut left = 0u64;
    let mut rss_max = vec![0u64; args.pids.len()];
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let due = (window.elapsed().as_secs_f64() * per_second) as u64;
        while left < due {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let _ = leaves[(rng % leaves.len() as u64) as usize].try_send(());
            left += 1;
        }
        for (max, &pid) in rss_max.iter_mut().zip(&args.pids) {
            *max = (*max).max(proc_sample(pid).1);
        }
    }
    let seconds = window.elapsed().as_secs_f64();
    tally.measuring.store(false, Ordering::Relaxed);
    let end: Vec<(u64, u64)> = args.pids.iter().map(|&p| proc_sample(p)).collect();
    let bytes = tally.bytes_in.load(Ordering::Relaxed) - bytes0;
    let errors = tally.errors.load(Ordering::Relaxed) - errors0;
    // Every node's loop ends at `until`; its held request ends with it.
    lives.abort_all();
    while lives.join_next().await.is_some() {}

    let ticks_per_s = 100.0; // CLK_TCK on Linux
    let cpu_pct: Vec<f64> = end
        .iter()
        .zip(&cpu0)
        .map(|((cpu1, _), cpu0)| cpu1.saturating_sub(*cpu0) as f64 / ticks_per_s / seconds * 100.0)
        .collect();
    let rss: u64 = end.iter().map(|(_, rss)| rss).sum();
    let rss_max_sum: u64 = rss_max
        .iter()
        .zip(&end)
        .map(|(m, (_, r))| (*m).max(*r))
        .sum();
    // Each measured process on its own: "cpu%/rss MiB", in the order given.
    let each: Vec<String> = end
        .iter()
        .zip(&cpu_pct)
        .map(|((_, rss), cpu)| format!("{cpu:.1}/{:.1}", *rss as f64 / 1024.0))
        .collect();
    let mut pings = std::mem::take(&mut *tally.pings.lock().unwrap_or_else(|p| p.into_inner()));
    let mut heard =
        std::mem::take(&mut *tally.heard_leave.lock().unwrap_or_else(|p| p.into_inner()));
    println!(
        "nodes={} churn_pct_min={} window_s={:.0} proxy_cpu_pct={:.1} rss_mib={:.1} rss_max_mib={:.1} \
         out_kb_s={:.1} pings={} ping_p50_ms={:.2} ping_p99_ms={:.2} leaves={} \
         leave_heard_p50_ms={:.0} leave_heard_p99_ms={:.0} updates={} errors={} proxies={} \
         each_cpu_pct/rss_mib={}",
        args.nodes,
        args.churn_per_min,
        seconds,
        cpu_pct.iter().sum::<f64>(),
        rss as f64 / 1024.0,
        rss_max_sum as f64 / 1024.0,
        bytes as f64 / 1024.0 / seconds,
        pings.len(),
        percentile(&mut pings, 0.5),
        percentile(&mut pings, 0.99),
        left,
        percentile(&mut heard, 0.5),
        percentile(&mut heard, 0.99),
        tally.updates.load(Ordering::Relaxed),
        errors,
        args.proxies.len(),
        each.join(",")
    );
    std::process::ExitCode::SUCCESS
}
