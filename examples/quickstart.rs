//! Quickstart: a proxy and three nodes on your machine, and the story of who may call
//! what.
//!
//! A *mission* is a named group of exported functions: the unit of permission. Alice
//! serves missions `demo`, `admin` and `lab`, and grants Bob a key for `demo`; Mallory
//! has no grant. Every step prints what happened and why, and every kind of refusal
//! shows once: Denied, WrongMission, RateLimited, Revoked, Expired, BadArguments,
//! Timeout, NodeDown.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::time::{Duration, SystemTime};

use wtd::prelude::*;
use wtd_examples::{admin, demo, lab};

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
    // Quiet by default so the story reads clearly; RUST_LOG=info shows the machinery.
    wtd::logging::init("warn");
    let dir = tempfile::tempdir()?;

    // 1. A proxy: the relay and directory every node talks to. Port 0 picks a free one.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy =
        wtd_proxy::Proxy::start(listener, wtd_proxy::Config::new(dir.path().join("proxy"))).await?;
    let url = proxy.url();
    println!("A proxy is running at {url}.");

    // 2. Three nodes. Each has its own folder for its key and grants.
    let alice = Node::start(
        NodeConfig::new("alice", &url, dir.path().join("alice")).serve(&["demo", "admin", "lab"]),
    )
    .await?;
    let bob =
        Node::start(NodeConfig::new("bob", &url, dir.path().join("bob")).serve_nothing()).await?;
    let mallory =
        Node::start(NodeConfig::new("mallory", &url, dir.path().join("mallory")).serve_nothing())
            .await?;
    println!(
        "Nodes alice, bob and mallory are online. Alice serves missions `demo`, `admin` and \
         `lab` (a mission is a named group of functions: what a key is granted).\n"
    );

    // 3. Alice mints a key for Bob: mission `demo` only, at most 3 calls per second.
    let key = alice.grant("bob").mission("demo").rate("3/s")?.mint()?;
    let key_path = dir.path().join("bob-for-alice.wtdkey");
    key.save(&key_path)?;
    println!(
        "Alice grants Bob a key for mission `demo`, 3 calls per second, and hands him {}.",
        key_path.display()
    );

    // 4. Bob loads the key file and calls Alice's `demo::add`. The compiler checked the
    //    argument and result types: `add::call` takes two i64 and returns an i64.
    let alice_for_bob = bob.peer(&KeyFile::load(&key_path)?)?;
    let sum = demo::add::call(&alice_for_bob, 2, 3).await?;
    println!("Bob calls demo::add(2, 3) on alice and gets {sum}.");

    // 5. Mallory has no grant. She makes a key of her own and tries anyway.
    let forged = KeyFile {
        grantee: "mallory".into(),
        secret_key: wtd::keys::secret_hex(&wtd::keys::generate()),
        ..key.clone()
    };
    let alice_for_mallory = mallory.peer(&forged)?;
    step(
        "Mallory, with a key Alice never granted, calls demo::add(2, 3)",
        demo::add::call(&alice_for_mallory, 2, 3).await,
    );

    // 6. Bob's key is for `demo`, not `admin`.
    step(
        "Bob calls admin::reset, a mission his key does not cover",
        admin::reset::call(&alice_for_bob).await,
    );

    // 7. Arguments are checked by the compiler in typed calls; a script sends JSON, and
    //    the callee says when it does not fit.
    step(
        "Bob calls demo/add with the JSON arguments [\"two\", 3]",
        alice_for_bob
            .call_json("demo/demo/add", r#"["two", 3]"#)
            .await,
    );

    // 8. Bob calls faster than 3 per second.
    println!("Bob calls demo::incr six times in a row:");
    let mut wait = Duration::ZERO;
    for _ in 0..6 {
        match demo::incr::call(&alice_for_bob).await {
            Ok(n) => println!("  ok, alice's counter is now {n}"),
            Err(e @ wtd::Error::RateLimited { retry_after, .. }) => {
                println!("  refused: {e}");
                wait = retry_after;
            }
            Err(e) => return Err(e.into()),
        }
    }
    // The error said how long to wait; a well-behaved caller does just that.
    for _ in 0..5 {
        tokio::time::sleep(wait).await;
        match demo::incr::call(&alice_for_bob).await {
            Ok(n) => {
                println!("After waiting as told, Bob calls again: ok, the counter is {n}.\n");
                break;
            }
            Err(wtd::Error::RateLimited { retry_after, .. }) => wait = retry_after,
            Err(e) => return Err(e.into()),
        }
    }

    // 9. A grant can end by itself: this one lasts one second.
    let brief = alice
        .grant("bob")
        .mission("lab")
        .expires_at(SystemTime::now() + Duration::from_secs(1))
        .mint()?;
    let lab_for_bob = bob.peer(&brief)?.with_timeout(Duration::from_millis(500));
    println!(
        "Alice grants Bob mission `lab` for one second; Bob calls lab::sleep_ms(2000), timeout 0.5 s:"
    );
    step(
        "  lab::sleep_ms(2000)",
        lab::sleep_ms::call(&lab_for_bob, 2000).await,
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    step(
        "A second later, Bob calls lab::nop(1)",
        lab::nop::call(&lab_for_bob, 1).await,
    );

    // 10. Alice revokes Bob's key while her node runs. It applies to the very next call.
    alice.revoke("bob")?;
    println!("Alice revokes Bob's keys.");
    step(
        "Bob calls demo::add(2, 3) again",
        demo::add::call(&alice_for_bob, 2, 3).await,
    );

    // 11. Trust is not reciprocal: Bob holding Alice's key gives Alice nothing on Bob's
    //     machine. Alice points her own key at Bob: Bob serves nothing and granted nothing.
    let at_bob = KeyFile {
        node: "bob".into(),
        node_public_key: hex_key(bob.public_key()),
        ..key.clone()
    };
    step(
        "Alice tries her own key on Bob's node",
        demo::add::call(&alice.peer(&at_bob)?, 2, 3).await,
    );

    // 12. A node that stops leaves the directory at once: calls to it fail fast.
    alice.clone().stop().await;
    println!("Alice stops her node.");
    step(
        "Bob calls demo::add(2, 3)",
        demo::add::call(&alice_for_bob, 2, 3).await,
    );

    for node in [alice, bob, mallory] {
        node.stop().await;
    }
    proxy.stop().await;
    println!("Everything is stopped. Next: examples/README.md, then docs/ARCHITECTURE.md.");
    Ok(())
}

/// A public key as key files write it.
fn hex_key(key: [u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// Prints a step whose call should be refused, with the reason in plain words.
fn step<T: std::fmt::Debug>(what: &str, result: Result<T, wtd::Error>) {
    match result {
        Ok(value) => println!("{what}: it worked ({value:?}). That was not expected!"),
        Err(e) => println!("{what}: refused.\n  Why: {e}\n"),
    }
}
