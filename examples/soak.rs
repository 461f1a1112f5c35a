//! Soak: many caller nodes keep calling one callee through a real `wtd-proxy` for
//! minutes. What it shows: memory stays bounded, and the only errors are the rate limits
//! some callers are given on purpose. `scripts/soak.sh` runs it (proxy, callee and
//! callers as three processes, RSS sampled every 5 s); by hand, with a proxy at URL:
//!
//! ```text
//! cargo run --release --example soak -- --role callee  --proxy URL --dir /tmp/soak
//! cargo run --release --example soak -- --role callers --proxy URL --dir /tmp/soak --seconds 60
//! ```
//!
//! The callee serves mission `demo` and mints one key per caller into DIR/keys (the first
//! `--limited` at `--limited-rate`, the rest unlimited), then writes DIR/keys/READY.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use wtd::prelude::*;
use wtd_examples::demo;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, value_enum)]
    role: Role,
    /// The proxy's URL.
    #[arg(long)]
    proxy: String,
    /// Folder shared by both roles: homes and key files.
    #[arg(long)]
    dir: PathBuf,
    /// Caller nodes.
    #[arg(long, default_value_t = 20)]
    callers: usize,
    /// How many of them get a low rate limit (their `RateLimited` is expected).
    #[arg(long, default_value_t = 4)]
    limited: usize,
    /// The low rate limit.
    #[arg(long, default_value = "20/s")]
    limited_rate: String,
    /// Concurrent call loops, spread over the callers.
    #[arg(long, default_value_t = 64)]
    tasks: usize,
    /// How long the callers call; the callee stops by itself after this plus 5 minutes.
    #[arg(long, default_value_t = 180)]
    seconds: u64,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 10)]
    progress: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Role {
    Callee,
    Callers,
}

#[derive(Default)]
struct Stats {
    ok: AtomicU64,
    casts: AtomicU64,
    limited: AtomicU64,
    /// Unexpected errors by kind: count and the first message.
    errors: Mutex<BTreeMap<String, (u64, String)>>,
}

impl Stats {
    fn line(&self) -> String {
        let errors: u64 = lock(&self.errors).values().map(|e| e.0).sum();
        let (ok, casts, limited) = (
            self.ok.load(Relaxed),
            self.casts.load(Relaxed),
            self.limited.load(Relaxed),
        );
        format!("ok={ok} casts={casts} limited={limited} errors={errors}")
    }

    fn error(&self, kind: &str, message: String) {
        lock(&self.errors)
            .entry(kind.to_string())
            .or_insert((0, message))
            .0 += 1;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    wtd::logging::init("warn");
    let args = Args::parse();
    let result = match args.role {
        Role::Callee => callee(&args).await,
        Role::Callers => callers(&args).await,
    };
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn caller_name(i: usize) -> String {
    format!("soak-caller-{i:02}")
}

async fn callee(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    // The `wtd-proxy` binary asks every node for its owner's email.
    let config = NodeConfig::new("soak-callee", &args.proxy, args.dir.join("soak-callee"))
        .email("soak@example.org");
    let node = Node::start(config.serve(&["demo"])).await?;
    let keys = args.dir.join("keys");
    std::fs::create_dir_all(&keys)?;
    for i in 0..args.callers {
        let rate = if i < args.limited {
            args.limited_rate.as_str()
        } else {
            "1000000/s"
        };
        let name = caller_name(i);
        let path = keys.join(format!("{name}.wtdkey"));
        node.grant(&name)
            .mission("demo")
            .rate(rate)?
            .mint_to(&path)?;
    }
    std::fs::write(keys.join("READY"), b"")?;
    println!("callee ready: {} keys in {}", args.callers, keys.display());
    // scripts/soak.sh stops it with SIGINT; it stops by itself in any case.
    let bound = Duration::from_secs(args.seconds + 300);
    let _ = tokio::time::timeout(bound, tokio::signal::ctrl_c()).await;
    node.stop().await;
    Ok(true)
}

async fn callers(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let keys = args.dir.join("keys");
    let waited = Instant::now();
    while !keys.join("READY").exists() {
        if waited.elapsed() > Duration::from_secs(60) {
            return Err("the callee did not write its keys within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut nodes = Vec::new();
    let mut peers = Vec::new();
    for i in 0..args.callers {
        let name = caller_name(i);
        let home = args.dir.join(&name);
        let config = NodeConfig::new(&name, &args.proxy, home).email("soak@example.org");
        let node = Node::start(config.serve_nothing()).await?;
        let key = KeyFile::load(&keys.join(format!("{name}.wtdkey")))?;
        peers.push(node.peer(&key)?);
        nodes.push(node);
    }
    let stats = Arc::new(Stats::default());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for t in 0..args.tasks {
        let (peer, stats) = (peers[t % peers.len()].clone(), stats.clone());
        let limited = t % peers.len() < args.limited;
        tasks.push(tokio::spawn(call_loop(
            peer, limited, t as u64, deadline, stats,
        )));
    }
    let ticker = {
        let stats = stats.clone();
        let every = Duration::from_secs(args.progress.max(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                println!(
                    "progress t={} {}",
                    started.elapsed().as_secs(),
                    stats.line()
                );
            }
        })
    };
    for task in tasks {
        task.await?;
    }
    ticker.abort();
    let elapsed = started.elapsed().as_secs_f64();
    for node in nodes {
        node.stop().await;
    }
    let line = stats.line();
    let errors = std::mem::take(&mut *lock(&stats.errors));
    for (kind, (count, first)) in &errors {
        println!("error kind={kind} count={count} first={first:?}");
    }
    let done = stats.ok.load(Relaxed) + stats.casts.load(Relaxed) + stats.limited.load(Relaxed);
    println!(
        "summary seconds={elapsed:.1} callers={} tasks={} {} calls_per_s={:.0}",
        args.callers,
        args.tasks,
        line,
        done as f64 / elapsed
    );
    Ok(errors.is_empty())
}

/// Calls `demo` functions in turn until `deadline`, checking every result.
async fn call_loop(peer: Peer, limited: bool, seed: u64, deadline: Instant, stats: Arc<Stats>) {
    let mut i = seed;
    while Instant::now() < deadline {
        i += 1;
        let text = "x".repeat((i * 37 % 1024) as usize);
        let result = match i % 8 {
            0 | 1 => demo::add::call(&peer, i as i64, 7)
                .await
                .map(|r| Some(r == i as i64 + 7)),
            2 | 3 => demo::echo::call(&peer, text.clone())
                .await
                .map(|r| Some(r == text)),
            4 => demo::incr::call(&peer).await.map(|r| Some(r > 0)),
            5 => demo::count::call(&peer).await.map(|_| Some(true)),
            _ => demo::incr::cast(&peer).await.map(|()| None),
        };
        match result {
            Ok(Some(true)) => {
                stats.ok.fetch_add(1, Relaxed);
            }
            Ok(None) => {
                stats.casts.fetch_add(1, Relaxed);
            }
            Ok(Some(false)) => stats.error(
                "WrongResult",
                format!("call {} returned a wrong result", i % 8),
            ),
            Err(wtd::Error::RateLimited { retry_after, .. }) if limited => {
                stats.limited.fetch_add(1, Relaxed);
                // A well-behaved client waits as told.
                tokio::time::sleep(retry_after.min(Duration::from_secs(1))).await;
            }
            Err(e) => {
                stats.error(e.kind(), e.to_string());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
