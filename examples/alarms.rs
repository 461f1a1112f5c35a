//! An alarm manager (gen_event) on Alice's node that Bob and Carol notify from theirs:
//! `#[wtd_behaviour(alarms)]` exposes the `AlarmManager` kind of `src/alarms.rs` to
//! holders of mission `alarms`, who may only notify it.
//!
//! Alice's manager runs three handlers: a log, a count, and a pager with a bug. An alarm
//! too long for the pager's display makes it panic: the manager removes it, the log and
//! the count keep going, and the process that added the pager is told why. (The panic's
//! message shows on stderr too, as every panic's does.)
//!
//! ```text
//! cargo run --example alarms
//! ```

use std::time::Duration;

use wtd::gen_event::{self, HandlerRemoved};
use wtd::prelude::*;
use wtd::process::{Process, Received};
use wtd_examples::alarms::{Alarm, AlarmCount, AlarmLog, AlarmManager, Level, Pager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    wtd::logging::init("error");
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy =
        wtd_proxy::Proxy::start(listener, wtd_proxy::Config::new(dir.path().join("proxy"))).await?;
    let url = proxy.url();
    let node = |name: &str| NodeConfig::new(name, &url, dir.path().join(name));
    let alice = Node::start(node("alice").serve(&["alarms"])).await?;
    let bob = Node::start(node("bob").serve_nothing()).await?;
    let carol = Node::start(node("carol").serve_nothing()).await?;
    let mallory = Node::start(node("mallory").serve_nothing()).await?;

    // The manager, by name: only a name makes it reachable from other nodes.
    let board = gen_event::start_named::<AlarmManager>(alice.processes(), "main").await?;
    let log = board.add_handler(AlarmLog::default()).await?;
    let count = board.add_handler(AlarmCount::default()).await?;
    // The on-call process adds the pager *supervised*: it will hear when the pager leaves.
    let (told_tx, mut told) = tokio::sync::mpsc::unbounded_channel();
    let (pager_tx, pager) = tokio::sync::oneshot::channel();
    let manager = board.clone();
    alice
        .processes()
        .spawn(move |mut me: Process<HandlerRemoved>| async move {
            let _ = pager_tx.send(manager.add_sup_handler(&me, Pager::default()).await);
            if let Some(Received::Message(removed)) =
                me.receive_timeout(Duration::from_secs(30)).await
            {
                let _ = told_tx.send(removed);
            }
        });
    let pager = pager.await??;
    println!("Alice runs alarm manager `main` with three handlers: a log, a count, and a pager");
    println!("(added by her on-call process, which is told if the pager ever leaves).\n");

    let mint = |who: &str| alice.grant(who).mission("alarms").rate("10/s")?.mint();
    let bob_key = mint("bob")?;
    let from_bob = AlarmManager::remote(&bob.peer(&bob_key)?, "main");
    let from_carol = AlarmManager::remote(&carol.peer(&mint("carol")?)?, "main");
    println!(
        "Bob and Carol, granted mission `alarms`, notify {}:",
        from_bob.path()
    );

    // notify returns once the proxy has the alarm; sync_notify once every handler has it.
    from_bob
        .notify(Alarm::new("bob", Level::Warning, "disk 91% full"))
        .await?;
    from_carol
        .sync_notify(Alarm::new("carol", Level::Critical, "fan stopped"))
        .await?;
    let paged = board.call(&pager, |p| p.paged.clone()).await?;
    println!("  the pager paged: {paged:?}");

    let long = "fire in the server room, second floor";
    from_bob
        .sync_notify(Alarm::new("bob", Level::Critical, long))
        .await?;
    if let Some(removed) = told.recv().await {
        println!("  Bob's alarm {long:?}: the pager crashed and was removed.");
        println!(
            "  The on-call process was told: {} {}.",
            removed.id, removed.reason
        );
    }
    from_carol
        .sync_notify(Alarm::new("carol", Level::Info, "fan restarted"))
        .await?;
    let (total, critical) = board.call(&count, |c| (c.total, c.critical)).await?;
    println!("  the log and the count kept going: {total} alarms, {critical} critical. The log:");
    for line in board.call(&log, |l| l.lines.clone()).await? {
        println!("    {line}");
    }

    // Mallory forges a key for the mission; Alice never granted it.
    let forged = KeyFile {
        grantee: "mallory".into(),
        secret_key: wtd::keys::secret_hex(&wtd::keys::generate()),
        ..bob_key
    };
    let from_mallory = AlarmManager::remote(&mallory.peer(&forged)?, "main");
    match from_mallory
        .sync_notify(Alarm::new("mallory", Level::Critical, "panic!"))
        .await
    {
        Ok(()) => println!("\nMallory's alarm went through. That was not expected!"),
        Err(e) => {
            println!("\nMallory, with a key Alice never granted, notifies: refused.\n  Why: {e}")
        }
    }

    board.stop().await?;
    for node in [alice, bob, carol, mallory] {
        node.stop().await;
    }
    proxy.stop().await;
    println!("\nEverything is stopped.");
    Ok(())
}
