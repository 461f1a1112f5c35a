//! Several proxies, one cluster: three proxies sharing one Redis, and a node moving from
//! one to another when its proxy stops, with the messages that waited for it delivered
//! once.
//!
//! Alice's node is given three proxies (the first is her primary); Bob's talks to the
//! third. Bob calls Alice across proxies. Then Alice's proxy stops: Bob's casts wait in
//! her mailbox, kept in Redis; within a few seconds Alice's node moves to her next proxy
//! (without registering again, since that proxy knows her), finds them, and runs each
//! once.
//!
//! Needs `redis-server` (Debian: `apt-get install redis-server`): the example starts its
//! own on a free port, in a temporary folder, and stops it at the end.
//!
//! ```text
//! cargo run --example several_proxies
//! ```

use std::time::{Duration, Instant};

use wtd::prelude::*;
use wtd_examples::demo;
use wtd_proxy::local_redis::LocalRedis;
use wtd_proxy::{Config, Proxy};

/// The longest the example waits for something that takes seconds.
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // The move itself is logged by the node at `info`; the rest stays quiet.
    wtd::logging::init("warn,wtd::proxies=info");
    if !LocalRedis::installed() {
        return Err(
            "this example needs redis-server, which is not installed here \
                    (Debian: apt-get install redis-server)"
                .into(),
        );
    }
    let dir = tempfile::tempdir()?;
    let redis_dir = dir.path().join("redis");
    std::fs::create_dir_all(&redis_dir)?;
    let redis = LocalRedis::start(&redis_dir)?;
    println!("Redis is running at {}.", redis.url());

    // 1. Three proxies on one Redis: each keeps nothing of its own but its connections.
    let mut proxies = Vec::new();
    for i in 0..3 {
        let mut config = Config::new(dir.path().join(format!("proxy{i}")));
        config.store = Some(redis.url());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        proxies.push(Some(Proxy::start(listener, config).await?));
    }
    let urls: Vec<String> = proxies.iter().flatten().map(Proxy::url).collect();
    println!(
        "Three proxies share it: {}. A node may talk to any of them.\n",
        urls.join(", ")
    );

    // 2. Alice's node knows all three, her primary first. Bob's talks to the third.
    let alice = Node::start(
        NodeConfig::new("alice", &urls[0], dir.path().join("alice"))
            .fallback_proxy(&urls[1])
            .fallback_proxy(&urls[2])
            .serve(&["demo"]),
    )
    .await?;
    let bob = Node::start(NodeConfig::new("bob", &urls[2], dir.path().join("bob"))).await?;
    let key = alice.grant("bob").mission("demo").rate("50/s")?.mint()?;
    let alice_for_bob = bob.peer(&key)?;
    let sum = demo::add::call(&alice_for_bob, 2, 3).await?;
    println!(
        "Alice is on {}, Bob on {}. Bob calls demo::add(2, 3) on Alice and gets {sum}: \
         the call went into her mailbox in Redis through Bob's proxy, and her reply came \
         back through hers.\n",
        alice.proxy(),
        bob.proxy()
    );

    // 3. Alice's proxy stops. Bob keeps casting: the casts wait for her in Redis.
    if let Some(proxy) = proxies[0].take() {
        proxy.stop().await;
    }
    let stopped = Instant::now();
    println!("Alice's proxy ({}) stops.", urls[0]);
    const CASTS: u64 = 3;
    for _ in 0..CASTS {
        demo::incr::cast(&alice_for_bob).await?;
    }
    println!("Bob casts demo::incr {CASTS} times: they wait in Alice's mailbox.");

    // 4. Alice's node notices and moves to her next proxy.
    let moved = wait_for(|| async { alice.proxy() != urls[0] }).await;
    if !moved {
        return Err(format!("Alice did not move within {} s", PATIENCE.as_secs()).into());
    }
    println!(
        "Alice's node moved to {} after {:.1} s, without registering again: that proxy \
         knows her through Redis.",
        alice.proxy(),
        stopped.elapsed().as_secs_f64()
    );

    // 5. The casts that waited run once each.
    let ran =
        wait_for(|| async { demo::count::call(&alice_for_bob).await.ok() == Some(CASTS) }).await;
    let count = demo::count::call(&alice_for_bob).await?;
    if !ran {
        return Err(format!("{count} of the {CASTS} casts ran").into());
    }
    println!(
        "The {CASTS} casts that waited for her ran once each: demo::count() = {count}. \
         Bob never noticed the move."
    );

    for node in [alice, bob] {
        node.stop().await;
    }
    for proxy in proxies.into_iter().flatten() {
        proxy.stop().await;
    }
    println!("\nEverything stopped: the proxies, the nodes and Redis.");
    Ok(())
}

/// Whether `check` came true within [`PATIENCE`], asked every 100 ms.
async fn wait_for<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
