//! A chat room on Alice's node, and Pids that travel as billets-doux: the `Room` of
//! `src/lib.rs` (module `chat`), exposed with `#[wtd_behaviour(chat)]`.
//!
//! Bob and Carol each run a process that prints what it receives, and join the room by
//! passing its Pid in a `Join` call: on Alice's node it arrives as a billet, the right to
//! message that one process. Posts reach the others through those billets. Mallory, with
//! no key, cannot post; Carol cannot message Bob's process, never having been given it;
//! when Bob's process exits, the room's send to it is refused and the room drops him.
//!
//! ```text
//! cargo run --example chat
//! ```

use std::time::Duration;

use wtd::billet::RemotePid;
use wtd::call::{TargetSpec, open_reply, sign_target};
use wtd::gen_server;
use wtd::prelude::*;
use wtd::process::{Pid, Process};
use wtd::wire::{Encoding, Target};
use wtd_examples::chat::{Room, RoomCall};

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
    let start = |name: &str| NodeConfig::new(name, &url, dir.path().join(name)).serve_nothing();
    let alice =
        Node::start(NodeConfig::new("alice", &url, dir.path().join("alice")).serve(&["chat"]))
            .await?;
    let (bob, carol, mallory) = (
        Node::start(start("bob")).await?,
        Node::start(start("carol")).await?,
        Node::start(start("mallory")).await?,
    );
    gen_server::start_named(alice.processes(), "lobby", Room::default()).await?;
    println!("Alice runs the chat room `lobby`, a gen_server holders of mission `chat` may call.");
    let bob_key = alice.grant("bob").mission("chat").mint()?;
    let lobby_for_bob = Room::remote(&bob.peer(&bob_key)?, "lobby");
    let lobby_for_carol = Room::remote(
        &carol.peer(&alice.grant("carol").mission("chat").mint()?)?,
        "lobby",
    );
    println!("Alice grants Bob and Carol mission `chat`; Mallory gets nothing.\n");

    // Each member runs a process on their own node; only its Pid travels, as a billet.
    let (bob_pid, carol_pid) = (member(&bob, "bob"), member(&carol, "carol"));
    for (lobby, name, pid) in [
        (&lobby_for_bob, "bob", &bob_pid),
        (&lobby_for_carol, "carol", &carol_pid),
    ] {
        let said = lobby
            .call(RoomCall::Join {
                name: name.into(),
                pid: RemotePid::from(pid.clone()),
            })
            .await?;
        println!("{name} joins by passing the Pid of a process of theirs: {said}.");
    }
    for (lobby, who, text) in [
        (&lobby_for_bob, "bob", "hello, Carol!"),
        (&lobby_for_carol, "carol", "hi Bob"),
    ] {
        let said = lobby.call(post(who, text)).await?;
        tokio::time::sleep(Duration::from_millis(200)).await; // the member's process prints
        println!("{who} posts {text:?}; the room sends it through the billets it holds: {said}.\n");
    }

    // Mallory makes a key of her own for mission `chat`.
    let forged = KeyFile {
        grantee: "mallory".into(),
        secret_key: wtd::keys::secret_hex(&wtd::keys::generate()),
        ..bob_key.clone()
    };
    let by_mallory = Room::remote(&mallory.peer(&forged)?, "lobby")
        .call(post("mallory", "spam"))
        .await;
    step("Mallory, with a key Alice never granted, posts", by_mallory);

    // Carol wants to write to Bob's process directly. The room tells her names, never Pids,
    // so she holds no billet for it: she knows its number, and makes up the rest.
    let names = lobby_for_carol.call(RoomCall::Members).await?;
    println!("Carol asks the room who is in: {names} (names only, never the Pids it holds).");
    let target = Target::Billet {
        process: bob_pid.id().get(),
        nonce: [7; 16],
    };
    let args = wtd::wire::encode(&"psst, Bob".to_string());
    let spec = TargetSpec {
        target,
        encoding: Encoding::Postcard,
        args,
        want_reply: true,
    };
    let carol_key = wtd::keys::load_or_create_node_key(carol.home())?;
    let send = sign_target(&carol_key, "carol", "bob", Duration::from_secs(5), spec)?;
    let (proxy_url, sent) = (url.clone(), send.clone());
    let answer = tokio::task::spawn_blocking(move || {
        wtd::transport::apply(&proxy_url, &sent, Duration::from_secs(5))
    })
    .await??;
    let bob_node_key = ed25519_dalek::VerifyingKey::from_bytes(&bob.public_key())?;
    step(
        "Carol messages Bob's process with a billet she made up, since Bob never gave her his Pid",
        open_reply("bob", &bob_node_key, &send, &answer),
    );

    // Bob's process exits; the billet Alice's room holds dies with it.
    bob_pid.send("leave".into())?;
    while bob_pid.is_alive() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reply = lobby_for_carol
        .call(post("carol", "Bob, are you there?"))
        .await?;
    println!("Bob's process has exited. Carol posts; the room says: {reply}.");
    println!(
        "Carol asks who is in: {}.\n",
        lobby_for_carol.call(RoomCall::Members).await?
    );

    for node in [alice, bob, carol, mallory] {
        node.stop().await;
    }
    proxy.stop().await;
    println!("Everything is stopped.");
    Ok(())
}

/// A process on `node` that prints each message it receives, until "leave".
fn member(node: &Node, who: &'static str) -> Pid<String> {
    node.processes()
        .spawn(move |mut me: Process<String>| async move {
            while let Some(text) = me.receive().await.message() {
                if text == "leave" {
                    println!("  [{who}'s process] leaves: it exits.");
                    break;
                }
                println!("  [{who}'s process, on node {who}] received \"{text}\"");
            }
        })
}

fn post(from: &str, text: &str) -> RoomCall {
    RoomCall::Post {
        from: from.into(),
        text: text.into(),
    }
}

/// Prints a step that should be refused, with the reason in plain words.
fn step<T: std::fmt::Debug>(what: &str, result: Result<T, wtd::Error>) {
    match result {
        Ok(value) => println!("{what}: it worked ({value:?}). That was not expected!"),
        Err(e) => println!("{what}: refused.\n  Why: {e}\n"),
    }
}
