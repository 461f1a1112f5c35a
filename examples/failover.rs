//! Failover: a service that moves from one machine to another when its machine goes.
//!
//! Three nodes, as if on three machines: Alice runs a supervisor, `Pool` (module
//! `failover` of `src/lib.rs`); Bob and Carol each export `start_tickets` in mission
//! `workers` and granted Alice a key for it (and for the counter itself, mission
//! `tickets`). The supervisor starts the ticket counter on Bob's node — a call like any
//! other, signed with Alice's key — and watches it with a remote monitor. Alice takes
//! tickets. Then Bob's node stops: the monitor reports `NodeDown`, the supervisor starts
//! the counter on Carol's node, and Alice's next tickets come from there after a short
//! gap, which the example measures. The counter starts again from 1: failover moves the
//! service, not its data.
//!
//! ```text
//! cargo run --example failover
//! ```

use std::time::{Duration, Instant};

use wtd::prelude::*;
use wtd::supervisor::{self, SupervisorRef};
use wtd_examples::failover::{INSTANCE, Pool, TicketCall, Tickets, node_of};

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
    let node = |name: &str, missions: &[&str]| {
        NodeConfig::new(name, &url, dir.path().join(name)).serve(missions)
    };
    let alice = Node::start(node("alice", &[]).serve_nothing()).await?;
    let bob = Node::start(node("bob", &["workers", "tickets"])).await?;
    let carol = Node::start(node("carol", &["workers", "tickets"])).await?;
    let to_bob = alice.peer(
        &bob.grant("alice")
            .mission("workers")
            .mission("tickets")
            .rate("50/s")?
            .mint()?,
    )?;
    let to_carol = alice.peer(
        &carol
            .grant("alice")
            .mission("workers")
            .mission("tickets")
            .rate("50/s")?
            .mint()?,
    )?;
    println!(
        "Bob and Carol each grant Alice missions `workers` (start a ticket counter) and `tickets` (use it)."
    );
    wait_until_listed(&alice, &["bob", "carol"]).await;

    let pool = supervisor::start_named(
        alice.processes(),
        "pool",
        Pool {
            nodes: vec![to_bob.clone(), to_carol.clone()],
            max_restarts: 3,
        },
    )
    .await?;
    let peers = [to_bob, to_carol];
    println!("Alice starts supervisor `pool`: one ticket counter, on Bob's node or else Carol's.");
    let on = placed(&pool).await.unwrap_or_default();
    println!("  the supervisor called `start_tickets` on `{on}`; the counter runs there.\n");

    for _ in 0..3 {
        take_ticket(&pool, &peers).await;
    }

    println!("\nBob's machine goes away (his node stops).");
    bob.stop().await;
    let gone = Instant::now();
    let mut served = false;
    for _ in 0..100 {
        if take_ticket(&pool, &peers).await {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if !served {
        return Err("the counter did not come back within 20 s".into());
    }
    println!(
        "  the service answered again {:.1} s after Bob left: its monitor said Bob's node left \
         the directory, and the supervisor started the counter on the next node of its list.",
        gone.elapsed().as_secs_f64()
    );
    println!("  (it counts from 1 again: failover moves the service, not its data.)\n");
    take_ticket(&pool, &peers).await;

    let children = pool.which_children().await?;
    let child = &children[0];
    println!(
        "which_children on Alice's node: `{}` runs as {}.",
        child.id,
        child.pid.as_deref().unwrap_or("nothing")
    );
    pool.stop().await?;
    println!("Alice stops the pool; it sends the counter on Carol's node `StopChild`.");
    for node in [alice, carol] {
        node.stop().await;
    }
    drop(proxy);
    Ok(())
}

/// Takes one ticket from wherever the pool's counter runs now; says what happened.
async fn take_ticket(pool: &SupervisorRef<Pool>, peers: &[Peer]) -> bool {
    let Some(on) = placed(pool).await else {
        println!("  Alice asks for a ticket: the counter is not running right now");
        return false;
    };
    let Some(peer) = peers.iter().find(|peer| peer.name() == on) else {
        return false;
    };
    let counter = Tickets::remote(&peer.with_timeout(Duration::from_secs(1)), INSTANCE);
    match counter.call(TicketCall::Next).await {
        Ok(ticket) => {
            println!("  Alice takes ticket {ticket} from `{on}`");
            true
        }
        Err(e) => {
            println!("  Alice asks `{on}` for a ticket: {e}");
            false
        }
    }
}

/// The node the pool's counter runs on now.
async fn placed(pool: &SupervisorRef<Pool>) -> Option<String> {
    let children = pool.which_children().await.ok()?;
    let pid = children.first()?.pid.clone()?;
    node_of(&pid).map(str::to_string)
}

/// Waits (at most 10 s) until `node`'s directory lists `names`.
async fn wait_until_listed(node: &Node, names: &[&str]) {
    for _ in 0..100 {
        let directory = node.directory();
        if names
            .iter()
            .all(|name| directory.nodes.iter().any(|e| e.name == *name))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
