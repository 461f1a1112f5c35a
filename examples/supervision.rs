//! A supervisor on Alice's node, watched from Bob's: "let it crash", then "give up".
//!
//! Alice starts supervisor `App` (module `supervision` of `src/lib.rs`) as `app`; it
//! starts a worker, the gen_server `Doubler`, as `doubler`. The worker has a bug: a
//! negative number makes it panic. Each crash ends only the worker; its supervisor starts
//! a fresh one, and Bob, holding a key for mission `supervision`, sees the new process
//! with `which_children`. The supervisor allows 2 restarts a minute: at the third crash
//! it stops its children and itself, and says why.
//!
//! ```text
//! cargo run --example supervision
//! ```

use wtd::prelude::*;
use wtd::supervisor;
use wtd_examples::supervision::{App, Doubler};

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
    wtd::logging::init("error");
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy =
        wtd_proxy::Proxy::start(listener, wtd_proxy::Config::new(dir.path().join("proxy"))).await?;
    let url = proxy.url();
    let alice = Node::start(
        NodeConfig::new("alice", &url, dir.path().join("alice")).serve(&["supervision"]),
    )
    .await?;
    let bob =
        Node::start(NodeConfig::new("bob", &url, dir.path().join("bob")).serve_nothing()).await?;

    let app = supervisor::start_named(alice.processes(), "app", App { max_restarts: 2 }).await?;
    println!("Alice starts supervisor `app` (one_for_one, at most 2 restarts a minute).");
    let key = alice
        .grant("bob")
        .mission("supervision")
        .rate("20/s")?
        .mint()?;
    let alice_for_bob = bob.peer(&key)?;
    println!("Alice grants Bob mission `supervision`.\n");

    let remote_app = App::remote(&alice_for_bob, "app");
    let doubler = Doubler::remote(&alice_for_bob, "doubler");
    println!("Bob asks {} for its children:", remote_app.path());
    show(&remote_app.which_children().await?);
    println!("Bob calls the worker: 21 -> {}\n", doubler.call(21).await?);

    for crash in 1..=3 {
        println!("Bob sends -1, which the worker cannot handle (crash {crash}):");
        match doubler.call(-1).await {
            Ok(n) => println!("  it answered {n}. That was not expected!"),
            Err(e) => println!("  refused: {e}"),
        }
        // The supervisor restarts the worker at once; give it a moment to be seen.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        match remote_app.which_children().await {
            Ok(children) => {
                println!("  the supervisor restarted it; Bob asks again:");
                show(&children);
                println!(
                    "  and the new worker works: 5 -> {}\n",
                    doubler.call(5).await?
                );
            }
            Err(e) => {
                println!("  Bob asks again, and is told: {e}");
                if let Some(why) = app.exit_reason() {
                    println!("\nOn Alice's node, {why}.");
                }
            }
        }
    }

    alice.stop().await;
    bob.stop().await;
    proxy.stop().await;
    println!("Everything is stopped.");
    Ok(())
}

fn show(children: &[supervisor::ChildInfo]) {
    for child in children {
        let pid = child.pid.as_deref().unwrap_or("not running");
        println!(
            "  {} ({:?}, {:?}): {pid}",
            child.id, child.kind, child.restart
        );
    }
}
