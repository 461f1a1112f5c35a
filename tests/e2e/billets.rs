//! Billets-doux: Bob hands Alice the Pid of one of his processes inside a call; on
//! Alice's node it arrives as a `RemotePid` whose sends travel through the proxy to Bob's
//! node, which delivers them only while the billet is genuine, Alice's, alive and
//! unexpired. And the other way: Alice's function returns a Pid of hers, which Bob may
//! message with his capability key until Alice revokes his grant.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use tokio::sync::mpsc;
use wtd::billet::{MAX_PER_PROCESS, RemotePid};
use wtd::call::{TargetSpec, open_reply, sign_target};
use wtd::prelude::*;
use wtd::process::{Pid, Process};
use wtd::wire::{Encoding, Signed, Target};

use crate::harness::{Cluster, apply, apply_not_accepted, eventually, unique};

/// The Pids each node was handed, by node name: the last one wins.
static HANDED: Mutex<BTreeMap<String, RemotePid<String>>> = Mutex::new(BTreeMap::new());

/// Keeps the Pid it is handed, on the node that runs it; returns its process number.
#[wtd_export(mailroom)]
pub fn keep(pid: RemotePid<String>) -> u64 {
    let node = wtd::current_call().map(|c| c.node).unwrap_or_default();
    let id = pid.id().get();
    HANDED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(node, pid);
    id
}

/// A process on `node` that passes every message on to the test, until "stop".
fn listener(node: &Node) -> (Pid<String>, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let pid = node
        .processes()
        .spawn(move |mut me: Process<String>| async move {
            while let Some(text) = me.receive().await.message() {
                if text == "stop" {
                    break;
                }
                let _ = tx.send(text);
            }
        });
    (pid, rx)
}

/// The Pid each node offers to whoever calls `offer`, by node name.
static OFFERED: Mutex<BTreeMap<String, Pid<String>>> = Mutex::new(BTreeMap::new());

/// Hands the caller the Pid this node offers.
#[wtd_export(mailroom)]
pub fn offer() -> Option<RemotePid<String>> {
    let node = wtd::current_call().map(|c| c.node).unwrap_or_default();
    let offered = OFFERED.lock().unwrap_or_else(|p| p.into_inner());
    offered.get(&node).cloned().map(RemotePid::from)
}

/// Bob calls `mailroom/billets/keep` on Alice with `pid`; returns what Alice's node got.
async fn hand_over(peer: &Peer, alice: &Node, pid: &Pid<String>) -> RemotePid<String> {
    keep::call(peer, RemotePid::from(pid.clone()))
        .await
        .expect("keep ran");
    HANDED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(alice.name())
        .cloned()
        .expect("alice's node kept the Pid")
}

/// Sends a signed send through `/apply` and opens the answer with the origin's node key.
async fn apply_send(cluster: &Cluster, origin: &Node, send: &Signed) -> Result<Vec<u8>, Error> {
    let answer = apply(cluster, send).await;
    let key = VerifyingKey::from_bytes(&origin.public_key()).expect("the origin's key");
    open_reply(origin.name(), &key, send, &answer)
}

/// A send of "forged" to `process` through a billet with `nonce`, signed by `key` as `from`.
fn forged_send(
    key: &ed25519_dalek::SigningKey,
    from: &str,
    origin: &Node,
    process: u64,
    nonce: [u8; 16],
) -> Signed {
    let spec = TargetSpec {
        target: Target::Billet { process, nonce },
        encoding: Encoding::Postcard,
        args: wtd::wire::encode(&"forged".to_string()),
        want_reply: true,
    };
    sign_target(key, from, origin.name(), Duration::from_secs(5), spec).expect("signed")
}

fn assert_refused(result: Result<impl std::fmt::Debug, Error>, words: &str) {
    match result {
        Err(Error::BilletRefused { why, .. }) => assert!(why.contains(words), "{why}"),
        other => panic!("expected a billet refusal saying {words:?}, got {other:?}"),
    }
}

async fn setup() -> (Cluster, Node, Node, Peer) {
    Cluster::pair(&["mailroom"], &["mailroom"], "100/s").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pid_passed_in_a_call_arrives_as_a_billet_that_delivers() {
    let (cluster, alice, bob, peer) = setup().await;
    let (pid, mut inbox) = listener(&bob);
    let remote = hand_over(&peer, &alice, &pid).await;
    assert_eq!(remote.node(), bob.name());
    assert_eq!(remote.id(), pid.id());

    remote.send("hello".into()).await.expect("delivered");
    let got = tokio::time::timeout(Duration::from_secs(5), inbox.recv()).await;
    assert_eq!(got.expect("in time"), Some("hello".to_string()));

    // Handing the same Pid to the same node again reuses its billet.
    hand_over(&peer, &alice, &pid).await;
    assert_eq!(bob.billets_out(), 1);

    // Outside a call a Pid is not data; a received one cannot be passed on.
    let err = serde_json::to_string(&pid).expect_err("not outside a call");
    assert!(err.to_string().contains("inside a WTD call"), "{err}");
    let err = serde_json::to_string(&remote).expect_err("not passed on");
    assert!(err.to_string().contains("cannot be passed on"), "{err}");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_by_a_node_the_billet_was_not_given_to_is_refused() {
    let (cluster, alice, bob, peer) = setup().await;
    let (pid, mut inbox) = listener(&bob);
    let remote = hand_over(&peer, &alice, &pid).await;
    // Carol learned the nonce somehow (she read the proxy's traffic, say).
    let billet = remote.billet().expect("a billet");
    // A stranger is refused at the proxy: her key is no node's and no grant of Bob's.
    let stranger = wtd::keys::generate();
    let send = forged_send(&stranger, "carol", &bob, billet.process, billet.nonce);
    apply_not_accepted(&cluster, &send).await;
    // Carol, a registered node signing with her own node key, passes the proxy's check
    // (a billet may be held by any node); Bob's node refuses her.
    let carol_node = cluster.node(&unique("carol"), &[]).await;
    let carol = wtd::keys::load_or_create_node_key(carol_node.home()).expect("carol's key");
    let send = forged_send(
        &carol,
        carol_node.name(),
        &bob,
        billet.process,
        billet.nonce,
    );
    assert_refused(apply_send(&cluster, &bob, &send).await, "given to another");
    remote.send("after".into()).await.expect("alice still can");
    let got = tokio::time::timeout(Duration::from_secs(5), inbox.recv()).await;
    assert_eq!(
        got.expect("in time"),
        Some("after".to_string()),
        "carol's never arrived"
    );
    cluster.stop(vec![alice, bob, carol_node]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_nonce_is_refused_even_from_the_holder() {
    let (cluster, alice, bob, peer) = setup().await;
    let (pid, _inbox) = listener(&bob);
    let remote = hand_over(&peer, &alice, &pid).await;
    let alice_key = wtd::keys::load_or_create_node_key(alice.home()).expect("alice's key");
    let mut nonce = remote.billet().expect("a billet").nonce;
    nonce[0] ^= 1;
    let send = forged_send(&alice_key, alice.name(), &bob, remote.id().get(), nonce);
    assert_refused(apply_send(&cluster, &bob, &send).await, "never gave out");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_after_the_process_ended_is_refused_and_its_billets_freed() {
    let (cluster, alice, bob, peer) = setup().await;
    let (pid, _inbox) = listener(&bob);
    let remote = hand_over(&peer, &alice, &pid).await;
    pid.send("stop".into()).expect("queued");
    let ended = eventually(Duration::from_secs(5), || async {
        (!pid.is_alive()).then_some(())
    });
    assert!(ended.await.is_some(), "the process ended");
    assert_refused(remote.send("late".into()).await, "has ended");
    assert_eq!(bob.billets_out(), 0, "freed with its process");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_after_the_billet_expired_is_refused() {
    let (cluster, alice, bob, peer) = setup().await;
    let (pid, mut inbox) = listener(&bob);
    let short = pid.expiring_after(Duration::from_millis(1_500));
    let remote = hand_over(&peer, &alice, &short).await;
    assert!(remote.billet().and_then(|b| b.expires_at_ms).is_some());
    remote.send("in time".into()).await.expect("before expiry");
    assert_eq!(inbox.recv().await, Some("in time".to_string()));
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    assert_refused(remote.send("too late".into()).await, "expiry");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_or_a_replayed_send_is_refused() {
    let (cluster, alice, bob, peer) = setup().await;
    let (pid, mut inbox) = listener(&bob);
    let remote = hand_over(&peer, &alice, &pid).await;

    let send = remote.sign_send(&"once".to_string()).expect("signed");
    let mut flipped = send.clone();
    let last = flipped.body.len() - 1;
    flipped.body[last] ^= 0x01;
    // Refused by the proxy before it reaches Bob's node (issue 16).
    apply_not_accepted(&cluster, &flipped).await;

    apply_send(&cluster, &bob, &send).await.expect("genuine");
    let err = apply_send(&cluster, &bob, &send)
        .await
        .expect_err("replay refused");
    assert!(matches!(err, Error::Replayed { .. }), "{err}");
    assert_eq!(inbox.recv().await, Some("once".to_string()));
    assert!(inbox.try_recv().is_err(), "delivered exactly once");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billets_per_process_are_bounded() {
    let (cluster, alice, bob, peer) = setup().await;
    let (pid, _inbox) = listener(&bob);
    // Each expiring Pid is a billet of its own; the process may have so many out.
    let mut nonces = HashSet::new();
    for _ in 0..MAX_PER_PROCESS {
        let remote = hand_over(&peer, &alice, &pid.expiring_after(Duration::from_secs(60))).await;
        nonces.insert(remote.billet().expect("a billet").nonce);
    }
    assert_eq!(nonces.len(), MAX_PER_PROCESS);
    assert_eq!(bob.billets_out(), MAX_PER_PROCESS);
    let err = peer
        .encode(&(pid.expiring_after(Duration::from_secs(60)),))
        .expect_err("one too many");
    assert!(err.to_string().contains("billets out"), "{err}");
    // A Pid with no expiry is not handed out either: the process has no room.
    assert!(peer.encode(&(&pid,)).is_err());
    assert_eq!(bob.billets_out(), MAX_PER_PROCESS);
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_signed_under_the_call_domain_is_refused() {
    let (cluster, alice, bob, peer) = setup().await;
    let (pid, mut inbox) = listener(&bob);
    let remote = hand_over(&peer, &alice, &pid).await;
    // The holder's own key and the genuine billet, but signed as a call, not a send.
    let alice_key = wtd::keys::load_or_create_node_key(alice.home()).expect("alice's key");
    let send = remote.sign_send(&"as a call".to_string()).expect("signed");
    let call: wtd::wire::Call = send.peek().expect("a call");
    let as_call = Signed::sign(wtd::wire::domain::CALL, &call, &alice_key);
    // Refused by the proxy before it reaches Bob's node (issue 16).
    apply_not_accepted(&cluster, &as_call).await;
    remote.send("as a send".into()).await.expect("delivered");
    assert_eq!(inbox.recv().await, Some("as a send".to_string()));
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pid_in_a_result_is_bobs_until_alice_revokes_his_grant() {
    let (cluster, alice, bob, peer) = setup().await;
    let (pid, mut inbox) = listener(&alice);
    OFFERED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(alice.name().to_string(), pid.clone());
    let remote = offer::call(&peer).await.expect("offered").expect("a Pid");
    assert_eq!(remote.node(), alice.name());
    remote.send("from bob".into()).await.expect("delivered");
    assert_eq!(inbox.recv().await, Some("from bob".to_string()));

    // The billet was given to Bob's capability key: his node key cannot use it.
    let bob_key = wtd::keys::load_or_create_node_key(bob.home()).expect("bob's key");
    let billet = remote.billet().expect("a billet");
    let send = forged_send(&bob_key, bob.name(), &alice, billet.process, billet.nonce);
    assert_refused(
        apply_send(&cluster, &alice, &send).await,
        "given to another",
    );

    alice.revoke(bob.name()).expect("revoked");
    let err = remote.send("after".into()).await.expect_err("revoked");
    assert!(matches!(err, Error::Revoked { .. }), "{err}");
    assert!(
        inbox.try_recv().is_err(),
        "nothing arrived after the revocation"
    );
    cluster.stop(vec![alice, bob]).await;
}
