//! Load benchmark: a real proxy and two nodes on loopback; reports sync-call latency
//! (p50/p99) and calls per second with 1 and 64 concurrent callers, and cast throughput.
//!
//! ```text
//! cargo run --release --example load
//! cargo run --release --example load -- --seconds 10
//! ```
//!
//! Every phase is bounded in time and count. Figures: docs/PERFORMANCE.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use wtd::prelude::*;
use wtd_examples::{demo, lab};

#[derive(Parser, Debug)]
struct Args {
    /// Seconds per phase.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent callers in the concurrent phase.
    #[arg(long, default_value_t = 64)]
    callers: usize,
    /// Casts in the cast phase.
    #[arg(long, default_value_t = 20_000)]
    casts: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Errors are printed as the sentences they are, not as debug structures.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    wtd::logging::init("error");
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut config = wtd_proxy::Config::new(dir.path().join("proxy"));
    config.node_rate = 1_000_000;
    let proxy = wtd_proxy::Proxy::start(listener, config).await?;
    let url = proxy.url();
    let alice = Node::start(
        NodeConfig::new("alice", &url, dir.path().join("alice")).serve(&["demo", "lab"]),
    )
    .await?;
    let bob =
        Node::start(NodeConfig::new("bob", &url, dir.path().join("bob")).serve_nothing()).await?;
    let key = alice
        .grant("bob")
        .mission("demo")
        .mission("lab")
        .rate("1000000/s")?
        .mint()?;
    let peer = bob.peer(&key)?;
    let phase = Duration::from_secs(args.seconds);

    println!(
        "WTD load: proxy + 2 nodes in one process on loopback, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for _ in 0..200 {
        lab::nop::call(&peer, 1).await?;
    }

    let (mut lat, elapsed) = run_callers(&peer, 1, phase).await;
    report("sync call, 1 caller", &mut lat, elapsed);

    let (mut lat, elapsed) = run_callers(&peer, args.callers, phase).await;
    report(
        &format!("sync call, {} callers", args.callers),
        &mut lat,
        elapsed,
    );

    // Casts: queue them from 64 tasks, then wait until Alice has run them all.
    let before = demo::count::call(&peer).await?;
    let started = Instant::now();
    let per_task = args.casts / 64;
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let peer = peer.clone();
        tasks.push(tokio::spawn(async move {
            let mut failed = 0u64;
            for _ in 0..per_task {
                if demo::incr::cast(&peer).await.is_err() {
                    failed += 1;
                }
            }
            failed
        }));
    }
    let mut failed = 0;
    for t in tasks {
        failed += t.await?;
    }
    let queued = started.elapsed();
    let want = before + per_task * 64 - failed;
    let deadline = Instant::now() + phase * 2;
    let mut ran = before;
    while ran < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ran = demo::count::call(&peer).await?;
    }
    let done = started.elapsed();
    let n = ran - before;
    println!(
        "{:<28} {n} casts ({failed} refused): queued in {:.2} s, all run in {:.2} s -> {:.0} casts/s",
        "cast, 64 senders",
        queued.as_secs_f64(),
        done.as_secs_f64(),
        n as f64 / done.as_secs_f64()
    );

    alice.stop().await;
    bob.stop().await;
    proxy.stop().await;
    Ok(())
}

/// `callers` tasks call `lab::nop` in a loop for `phase`; returns every latency.
async fn run_callers(peer: &Peer, callers: usize, phase: Duration) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let deadline = started + phase;
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let peer = peer.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                match lab::nop::call(&peer, 7).await {
                    Ok(_) => lat.push(t.elapsed()),
                    Err(_) => {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    let errors = errors.load(std::sync::atomic::Ordering::Relaxed);
    if errors > 0 {
        println!("  ({errors} calls failed)");
    }
    (all, started.elapsed())
}

fn report(what: &str, lat: &mut [Duration], elapsed: Duration) {
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{what:<28} {:>7} calls in {:.1} s: {:>7.0} calls/s, p50 {:>5} us, p99 {:>6} us",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_micros(),
        pct(0.99).as_micros()
    );
}
