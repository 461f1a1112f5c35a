//! A state machine on Alice's node, driven from Bob's: the code lock of OTP's design
//! principles, as a gen_fsm (`Door` in `src/door.rs`, exposed with `#[wtd_behaviour(door)]`).
//!
//! The door opens for the code 1 2 3 4 and, two seconds later, its *state timeout* locks
//! it again. Bob presses buttons from his node: as sync events that answer with the
//! door's status, and as plain events that answer nothing. Buttons pressed while the door
//! is open are *postponed* until it locks. Then Alice revokes Bob's key, and his events
//! stop reaching the door.
//!
//! ```text
//! cargo run --example door
//! ```

use std::time::Duration;

use wtd::gen_fsm;
use wtd::prelude::*;
use wtd_examples::door::{Door, DoorCall, DoorEvent, DoorState, DoorStatus};

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy =
        wtd_proxy::Proxy::start(listener, wtd_proxy::Config::new(dir.path().join("proxy"))).await?;
    let url = proxy.url();
    let alice =
        Node::start(NodeConfig::new("alice", &url, dir.path().join("alice")).serve(&["door"]))
            .await?;
    let bob =
        Node::start(NodeConfig::new("bob", &url, dir.path().join("bob")).serve_nothing()).await?;

    // Alice's door runs by name in her node's process table: that name is what Bob reaches.
    let local = gen_fsm::start_named(
        alice.processes(),
        "front",
        Door::new(&[1, 2, 3, 4], Duration::from_secs(2)),
    )
    .await?;
    let key = alice.grant("bob").mission("door").rate("20/s")?.mint()?;
    let door = Door::remote(&bob.peer(&key)?, "front");
    println!("Alice runs the code lock `Door` as `front` and grants Bob mission `door`.\n");

    // Sync events: each press waits for the door's answer.
    println!("Bob presses 1 2 3 4 on {}, each a sync event:", door.path());
    for button in [1, 2, 3, 4] {
        let status = door.sync_send_event(DoorCall::Press(button)).await?;
        println!("  press {button} -> {}", said(&status));
    }

    // While open, presses are postponed: a sync one waits for the door to lock again.
    println!("\nThe door is open. Bob presses 9 (an event: no answer, and none awaited).");
    door.send_event(DoorEvent::Button(9)).await?;
    match door
        .with_timeout(Duration::from_millis(500))
        .sync_send_event(DoorCall::Press(7))
        .await
    {
        Ok(status) => println!("  press 7 -> {}. That was not expected!", said(&status)),
        Err(e) => println!(
            "Bob presses 7 and waits at most 0.5 s: no answer, because the open door postpones \
             every press until it locks.\n  Why: {e}"
        ),
    }

    // The state timeout: nobody locks the door; two seconds in `Open` do.
    let mut status = door.sync_send_event(DoorCall::Status).await?;
    for _ in 0..50 {
        if status.state == DoorState::Locked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = door.sync_send_event(DoorCall::Status).await?;
    }
    println!(
        "\nTwo seconds after it opened, its state timeout locked the door again: {}.",
        said(&status)
    );
    println!(
        "  The postponed 9 and 7 were handled once it locked: {} buttons of a new code entered.",
        status.entered
    );

    // The same sync event as a script or `wtd call alice door/door@front '"Status"'` sends it.
    let json = bob
        .peer(&key)?
        .call_json("door/door@front", r#""Status""#)
        .await?;
    println!("  In JSON, \"Status\" -> {json}\n");

    alice.revoke("bob")?;
    println!("Alice revokes Bob's key. Bob presses 1 2 3 4 again, as events:");
    for button in [1, 2, 3, 4] {
        // A refused event gets no answer either: Bob's node only learns it was queued.
        door.send_event(DoorEvent::Button(button)).await?;
    }
    match door.sync_send_event(DoorCall::Status).await {
        Ok(status) => println!("  Status -> {}. That was not expected!", said(&status)),
        Err(e) => println!("  and asks for the status: refused.\n  Why: {e}"),
    }
    let after = local.sync_send_event(DoorCall::Status).await?;
    println!(
        "On Alice's node the door is {:?} and has opened {} time(s): Bob's revoked events never reached it.",
        after.state, after.opened
    );

    local.stop().await?;
    for node in [alice, bob] {
        node.stop().await;
    }
    proxy.stop().await;
    println!("Everything is stopped.");
    Ok(())
}

/// A status in words.
fn said(status: &DoorStatus) -> String {
    match status.state {
        DoorState::Locked => format!("locked, {} of the code entered", status.entered),
        DoorState::Open => format!("OPEN (it has opened {} time(s))", status.opened),
    }
}
