//! A gen_server on Alice's node, called from Bob's: `#[wtd_behaviour(counting)]` exposes
//! the `Counter` of `src/lib.rs` (module `counting`) to holders of mission `counting`.
//!
//! Alice starts the counter under the name `main` in her node's process table and grants
//! Bob the mission. Bob increments and reads it with typed calls and casts, and once as a
//! script would, with JSON. Mallory, with a key Alice never granted, is refused; a server
//! Alice registered without the attribute cannot be reached by anyone.
//!
//! ```text
//! cargo run --example counter
//! ```

use std::time::Duration;

use wtd::gen_server;
use wtd::prelude::*;
use wtd_examples::counting::{Counter, CounterCall, CounterCast, Vault};

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
    wtd::logging::init("warn");
    let dir = tempfile::tempdir()?;

    // A proxy, and three nodes: Alice serves mission `counting`; Bob and Mallory call.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy =
        wtd_proxy::Proxy::start(listener, wtd_proxy::Config::new(dir.path().join("proxy"))).await?;
    let url = proxy.url();
    let alice =
        Node::start(NodeConfig::new("alice", &url, dir.path().join("alice")).serve(&["counting"]))
            .await?;
    let bob =
        Node::start(NodeConfig::new("bob", &url, dir.path().join("bob")).serve_nothing()).await?;
    let mallory =
        Node::start(NodeConfig::new("mallory", &url, dir.path().join("mallory")).serve_nothing())
            .await?;

    // Alice starts the counter by name in her node's process table. Only a name makes a
    // server reachable, and only because `Counter`'s impl carries #[wtd_behaviour].
    let local = gen_server::start_named(alice.processes(), "main", Counter::default()).await?;
    gen_server::start_named(alice.processes(), "vault", Vault::default()).await?;
    println!("Alice runs gen_server `Counter` as `main`, and `Vault` (not exposed) as `vault`.");

    let key = alice
        .grant("bob")
        .mission("counting")
        .rate("10/s")?
        .mint()?;
    let alice_for_bob = bob.peer(&key)?;
    println!("Alice grants Bob mission `counting`.\n");

    // Typed: the compiler checks that `Incr` is a `CounterCall` and that the reply is a u64.
    let counter = Counter::remote(&alice_for_bob, "main");
    println!("Bob calls {}:", counter.path());
    println!("  Incr(2) -> {}", counter.call(CounterCall::Incr(2)).await?);
    println!("  Incr(3) -> {}", counter.call(CounterCall::Incr(3)).await?);
    counter.cast(CounterCast::Add(10)).await?;
    println!("  cast Add(10): queued, no answer (a cast never waits for the server)");
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("  Get -> {}", counter.call(CounterCall::Get).await?);

    // As a script or `wtd call alice counting/counter@main '{"Incr": 1}'` would: JSON.
    let n = alice_for_bob
        .call_json("counting/counter@main", r#"{"Incr": 1}"#)
        .await?;
    println!("  JSON {{\"Incr\": 1}} -> {n}\n");

    // A slow answer: Bob's peer waits 300 ms, the server takes 2 s.
    step(
        "Bob calls SlowGet(2000) with a 300 ms timeout",
        counter
            .with_timeout(Duration::from_millis(300))
            .call(CounterCall::SlowGet(2000))
            .await,
    );
    step(
        "Bob asks for an instance that does not run, `spare`",
        Counter::remote(&alice_for_bob, "spare")
            .call(CounterCall::Get)
            .await,
    );
    step(
        "Bob asks `vault` as if it were a counter (it is a server of another type)",
        Counter::remote(&alice_for_bob, "vault")
            .call(CounterCall::Get)
            .await,
    );

    // Mallory forges a key of her own for the same mission.
    let forged = KeyFile {
        grantee: "mallory".into(),
        secret_key: wtd::keys::secret_hex(&wtd::keys::generate()),
        ..key.clone()
    };
    let alice_for_mallory = mallory.peer(&forged)?;
    step(
        "Mallory, with a key Alice never granted, calls Incr(1000)",
        Counter::remote(&alice_for_mallory, "main")
            .call(CounterCall::Incr(1000))
            .await,
    );

    alice.revoke("bob")?;
    step(
        "Alice revokes Bob; Bob calls Get",
        counter.call(CounterCall::Get).await,
    );

    println!(
        "On Alice's node the counter is {}: every refused call left it alone.",
        local.call(CounterCall::Get).await?
    );
    for node in [alice, bob, mallory] {
        node.stop().await;
    }
    proxy.stop().await;
    Ok(())
}

/// Prints a step whose call should be refused, with the reason in plain words.
fn step<T: std::fmt::Debug>(what: &str, result: Result<T, wtd::Error>) {
    match result {
        Ok(value) => println!("{what}: it worked ({value:?}). That was not expected!"),
        Err(e) => println!("{what}: refused.\n  Why: {e}\n"),
    }
}
