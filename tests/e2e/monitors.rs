//! Monitors on processes of other nodes: Alice hands Bob the Pid of one of her processes
//! (in a result, so it is Bob's capability key's billet), and a process on Bob's node
//! monitors it. The monitor fires once with the process's own exit reason when it ends,
//! with `NodeDown` when Alice's node leaves the directory, with a sentence when Alice
//! revokes Bob's grant; demonitoring stops it; a watch by another key is refused.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc;
use wtd::billet::RemotePid;
use wtd::call::{TargetSpec, sign_target};
use wtd::prelude::*;
use wtd::process::{Down, ExitReason, Pid, Process};
use wtd::wire::{Encoding, Target};

use crate::harness::{Cluster, apply, eventually, unique};

/// The Pid each node hands out to whoever calls `hand_out`, by node name.
static HANDED_OUT: Mutex<BTreeMap<String, Pid<String>>> = Mutex::new(BTreeMap::new());

/// Hands the caller the Pid this node hands out.
#[wtd_export(watching)]
pub fn hand_out() -> Option<RemotePid<String>> {
    let node = wtd::current_call().map(|c| c.node).unwrap_or_default();
    let handed = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    handed.get(&node).cloned().map(RemotePid::from)
}

/// A process on `node` that ends when told: "normal" ends it normally, any other text
/// is its exit reason.
fn mortal(node: &Node) -> Pid<String> {
    node.processes()
        .spawn(|mut me: Process<String>| async move {
            match me.receive().await.message() {
                Some(text) if text == "normal" => Ok(()),
                Some(text) => Err(text),
                None => Ok(()),
            }
        })
}

/// What the test tells the watcher.
enum Order {
    Demonitor,
}

/// A process on `node` that monitors `remote` and passes its `Down` on to the test; told
/// to, it demonitors.
fn watcher(node: &Node, remote: RemotePid<String>) -> (Pid<Order>, mpsc::UnboundedReceiver<Down>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let pid = node
        .processes()
        .spawn(move |mut me: Process<Order>| async move {
            let monitor = remote.monitor(&me);
            // Bounded: the test ends well within this.
            for _ in 0..600 {
                match me.receive_timeout(Duration::from_millis(100)).await {
                    Some(wtd::process::Received::Down(down)) => {
                        let _ = tx.send(down);
                    }
                    Some(wtd::process::Received::Message(Order::Demonitor)) => {
                        me.demonitor(monitor)
                    }
                    _ => {}
                }
            }
        });
    (pid, rx)
}

/// Alice serves `watching`; Bob holds a key for it and gets the Pid of a mortal process
/// of Alice's.
async fn setup() -> (Cluster, Node, Node, Peer, Pid<String>, RemotePid<String>) {
    let (cluster, alice, bob, peer) = Cluster::pair(&["watching"], &["watching"], "100/s").await;
    let pid = mortal(&alice);
    HANDED_OUT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(alice.name().to_string(), pid.clone());
    let remote = hand_out::call(&peer)
        .await
        .expect("handed out")
        .expect("a Pid");
    assert_eq!(remote.node(), alice.name());
    (cluster, alice, bob, peer, pid, remote)
}

/// The one `Down`, within `limit`.
async fn down_within(limit: Duration, downs: &mut mpsc::UnboundedReceiver<Down>) -> Down {
    tokio::time::timeout(limit, downs.recv())
        .await
        .expect("a Down in time")
        .expect("the watcher is alive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_monitor_reports_the_processs_own_exit_reason() {
    let (cluster, alice, bob, _peer, pid, remote) = setup().await;
    let (_watcher, mut downs) = watcher(&bob, remote.clone());
    // Still alive after a few watches: no Down yet.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(downs.try_recv().is_err(), "no Down while the process lives");

    pid.send("disk full".into()).expect("sent");
    let down = down_within(Duration::from_secs(10), &mut downs).await;
    assert_eq!(down.reason, ExitReason::Other("disk full".into()));
    assert_eq!(down.process, remote.id());

    // Exactly one Down for the monitor.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(downs.try_recv().is_err(), "one Down per monitor");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_exit_is_reported_as_normal() {
    let (cluster, alice, bob, _peer, pid, remote) = setup().await;
    let (_watcher, mut downs) = watcher(&bob, remote);
    pid.send("normal".into()).expect("sent");
    let down = down_within(Duration::from_secs(10), &mut downs).await;
    assert_eq!(down.reason, ExitReason::Normal);
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_monitor_fires_with_node_down_when_the_node_leaves() {
    let (cluster, alice, bob, _peer, _pid, remote) = setup().await;
    let (_watcher, mut downs) = watcher(&bob, remote);
    let alice_name = alice.name().to_string();
    alice.stop().await;
    let down = down_within(Duration::from_secs(20), &mut downs).await;
    assert_eq!(down.reason, ExitReason::NodeDown(alice_name.clone()));
    assert!(
        down.reason.to_string().contains(&alice_name),
        "{}",
        down.reason
    );
    cluster.stop(vec![bob]).await;
}

/// A node keeps the directory entries of at most 32 nodes. Bob already follows as many
/// (he asked about them) when he gets the Pid of a process of Alice's: his monitor makes
/// him follow Alice anyway, so he hears when she leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_follows_its_node_even_when_the_watcher_follows_as_many_as_it_may() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["watching"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    for i in 0..wtd::wire::MAX_FOLLOWED {
        bob.lists(&format!("elsewhere-{i}"));
    }
    let (_, peer) = cluster.grant(&alice, &bob, &["watching"], "100/s");
    let pid = mortal(&alice);
    HANDED_OUT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(alice.name().to_string(), pid.clone());
    let remote = hand_out::call(&peer)
        .await
        .expect("handed out")
        .expect("a Pid");
    let lists_alice = |bob: &Node| bob.directory().nodes.iter().any(|n| n.name == alice.name());
    assert!(!lists_alice(&bob), "no room to follow alice for a peer");

    let (_watcher, mut downs) = watcher(&bob, remote);
    let followed = eventually(Duration::from_secs(10), || async {
        lists_alice(&bob).then_some(())
    })
    .await;
    assert!(followed.is_some(), "the monitor made bob follow alice");

    let alice_name = alice.name().to_string();
    alice.stop().await;
    let down = down_within(Duration::from_secs(20), &mut downs).await;
    assert_eq!(down.reason, ExitReason::NodeDown(alice_name));
    cluster.stop(vec![bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demonitor_stops_a_remote_monitor() {
    let (cluster, alice, bob, _peer, pid, remote) = setup().await;
    let (watcher, mut downs) = watcher(&bob, remote);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    watcher.send(Order::Demonitor).expect("told");
    tokio::time::sleep(Duration::from_millis(500)).await;
    pid.send("disk full".into()).expect("sent");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(downs.try_recv().is_err(), "no Down after demonitor");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_grant_ends_the_watch_with_a_reason_that_says_so() {
    let (cluster, alice, bob, _peer, _pid, remote) = setup().await;
    let (_watcher, mut downs) = watcher(&bob, remote);
    alice.revoke(bob.name()).expect("revoked");
    let down = down_within(Duration::from_secs(10), &mut downs).await;
    match &down.reason {
        ExitReason::Other(why) => assert!(why.contains("can no longer be watched"), "{why}"),
        other => panic!("expected a reason saying the watch ended, got {other:?}"),
    }
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_by_a_key_the_billet_was_not_given_to_is_refused() {
    let (cluster, alice, bob, _peer, _pid, remote) = setup().await;
    let billet = remote.billet().expect("a billet");
    // Bob's node key is not the holder: his capability key is.
    let bob_key = wtd::keys::load_or_create_node_key(bob.home()).expect("bob's key");
    let spec = TargetSpec {
        target: Target::Watch {
            process: billet.process,
            nonce: billet.nonce,
        },
        encoding: Encoding::Postcard,
        args: Vec::new(),
        want_reply: true,
    };
    let watch = sign_target(
        &bob_key,
        bob.name(),
        alice.name(),
        Duration::from_secs(5),
        spec,
    )
    .expect("signed");
    let answer = apply(&cluster, &watch).await;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&alice.public_key()).expect("key");
    let err = wtd::call::open_reply(alice.name(), &key, &watch, &answer).expect_err("refused");
    assert!(
        matches!(&err, Error::BilletRefused { gone: false, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("given to another"), "{err}");
    cluster.stop(vec![alice, bob]).await;
}
