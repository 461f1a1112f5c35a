//! Load benchmark: a real proxy and two nodes on loopback; reports sync-call latency
//! (p50/p99) and calls per second with 1 and 64 concurrent callers, and cast throughput;
//! then the same two figures for a call to a remote gen_server (`counting/counter@main`)
//! and for a message sent to a remote process through a billet-doux (`lab::sink`).
//!
//! The first three result lines keep their wording: `../shared/bench/compare.sh` reads
//! them ("1 caller", "64 callers", "cast"), so the later lines say "client" and "sender".
//!
//! ```text
//! cargo run --release --example load
//! cargo run --release --example load -- --seconds 10
//! cargo run --release --example load -- --store redis://127.0.0.1:6379/0   # state on Redis
//! cargo run --release --example load -- --store redis://127.0.0.1:6379/0 --proxies 2
//!                                   # Alice on one proxy, Bob on another, one Redis
//! ```
//!
//! Every phase is bounded in time and count. Figures: docs/PERFORMANCE.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use wtd::gen_server;
use wtd::prelude::*;
use wtd_examples::counting::{Counter, CounterCall};
use wtd_examples::{demo, lab};

/// Billets the billet phases send through: 512 billets at SENDS_PER_SECOND (50) each
/// carry 25,600 sends a second, more than two cores reach.
const SINKS: usize = 512;

/// Keys holding those billets: each key's billet sends may have 16,384 acks in the
/// callee's replay cache, kept ~35 s each.
const HOLDERS: usize = 8;

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
    /// Keep the proxy's state on this Redis (`redis://HOST:PORT/DB`) instead of in the
    /// proxy, to measure what sharing it costs (docs/SCALING.md). Use an empty database.
    #[arg(long)]
    store: Option<String>,
    /// Proxies to start on that store (1 to 3): Alice talks to the first, Bob to the
    /// last, so with 2 every call crosses from one proxy to the other.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    proxies: u8,
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
    if args.proxies > 1 && args.store.is_none() {
        return Err(
            "--proxies 2 or 3 needs --store: proxies share their nodes through Redis".into(),
        );
    }
    let mut proxies = Vec::new();
    for i in 0..args.proxies {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let mut config = wtd_proxy::Config::new(dir.path().join(format!("proxy{i}")));
        config.node_rate = 1_000_000;
        config.store = args.store.clone();
        proxies.push(wtd_proxy::Proxy::start(listener, config).await?);
    }
    let (url, bobs_url) = (proxies[0].url(), proxies[proxies.len() - 1].url());
    let alice = Node::start(
        NodeConfig::new("alice", &url, dir.path().join("alice"))
            .serve(&["demo", "lab", "counting"]),
    )
    .await?;
    let bob =
        Node::start(NodeConfig::new("bob", &bobs_url, dir.path().join("bob")).serve_nothing())
            .await?;
    let key = alice
        .grant("bob")
        .mission("demo")
        .mission("lab")
        .mission("counting")
        .rate("1000000/s")?
        .mint()?;
    let peer = bob.peer(&key)?;
    let phase = Duration::from_secs(args.seconds);

    println!(
        "WTD load: {} + 2 nodes in one process on loopback, {} cores",
        match (args.proxies, &args.store) {
            (1, None) => "proxy".to_string(),
            (1, Some(_)) => "proxy on Redis".to_string(),
            (n, _) => format!("{n} proxies on one Redis"),
        },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for _ in 0..200 {
        lab::nop::call(&peer, 1).await?;
    }

    let nop = {
        let peer = peer.clone();
        move || {
            let peer = peer.clone();
            async move { lab::nop::call(&peer, 7).await.map(drop) }
        }
    };
    let (mut lat, elapsed) = run_callers(1, phase, nop.clone()).await;
    report("sync call, 1 caller", "calls", &mut lat, elapsed);

    let (mut lat, elapsed) = run_callers(args.callers, phase, nop).await;
    report(
        &format!("sync call, {} callers", args.callers),
        "calls",
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

    // A gen_server on Alice's node, called through its remote handle.
    gen_server::start_named(alice.processes(), "main", Counter::default()).await?;
    let counter = Counter::remote(&peer, "main");
    let get = move || {
        let counter = counter.clone();
        async move { counter.call(CounterCall::Get).await.map(drop) }
    };
    let (mut lat, elapsed) = run_callers(1, phase, get.clone()).await;
    report("gen_server call, one client", "calls", &mut lat, elapsed);
    let (mut lat, elapsed) = run_callers(args.callers, phase, get).await;
    report(
        &format!("gen_server call, {} clients", args.callers),
        "calls",
        &mut lat,
        elapsed,
    );

    // Processes on Alice's node, messaged through the billets-doux `lab::sink` hands Bob;
    // each send waits until Alice's node has put the message in the mailbox. A billet
    // carries at most SENDS_PER_SECOND sends a second, and the billet sends of one key
    // share a fixed part of Alice's replay cache with its calls (1/64, each ack kept for
    // the call's lifetime plus the clock skew): by design, both. So the billets are held
    // by keys of their own, and the senders take them in turn, each well under its rate.
    let mut sinks = Vec::with_capacity(SINKS);
    for _ in 0..HOLDERS {
        let key = alice
            .grant("bob")
            .mission("lab")
            .rate("1000000/s")?
            .mint()?;
        let holder = bob.peer(&key)?;
        for _ in 0..SINKS / HOLDERS {
            sinks.push(
                lab::sink::call(&holder)
                    .await?
                    .ok_or("lab::sink gave no process")?,
            );
        }
    }
    let sinks = Arc::new(sinks);
    let turn = Arc::new(AtomicUsize::new(0));
    let send = move || {
        let sink = sinks[turn.fetch_add(1, Ordering::Relaxed) % SINKS].clone();
        async move { sink.send(7).await }
    };
    let (mut lat, elapsed) = run_callers(1, phase, send.clone()).await;
    report("billet send, one sender", "sends", &mut lat, elapsed);
    let (mut lat, elapsed) = run_callers(args.callers, phase, send).await;
    report(
        &format!("billet send, {} senders", args.callers),
        "sends",
        &mut lat,
        elapsed,
    );

    alice.stop().await;
    bob.stop().await;
    for proxy in proxies {
        proxy.stop().await;
    }
    Ok(())
}

/// `callers` tasks run `op` (a round trip: a call, or a send that waits for delivery) in
/// a loop for `phase`; returns every latency.
async fn run_callers<F, Fut>(callers: usize, phase: Duration, op: F) -> (Vec<Duration>, Duration)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), wtd::Error>> + Send,
{
    let started = Instant::now();
    let deadline = started + phase;
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let errors = errors.clone();
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                match op().await {
                    Ok(_) => lat.push(t.elapsed()),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
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
    let errors = errors.load(Ordering::Relaxed);
    if errors > 0 {
        println!("  ({errors} failed)");
    }
    (all, started.elapsed())
}

/// One result line; `unit` names what was timed ("calls", "sends").
fn report(what: &str, unit: &str, lat: &mut [Duration], elapsed: Duration) {
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{what:<28} {:>7} {unit} in {:.1} s: {:>7.0} {unit}/s, p50 {:>5} us, p99 {:>6} us",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_micros(),
        pct(0.99).as_micros()
    );
}
