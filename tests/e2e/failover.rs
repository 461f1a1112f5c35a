//! Failover: a supervisor on Alice's node keeps a ticket counter running on Bob's or
//! Carol's node (`ChildSpec::on_nodes`), each start a call to the `workers` mission they
//! granted her. When the child's node stops, the remote monitor fires with `NodeDown`
//! and the supervisor starts the counter on the next node; when that one stops and Bob
//! is back, on Bob again. A crash restarts it where it was; `terminate_child` stops it on
//! its node; revoking Alice's key stops further starts, and the supervisor gives up
//! saying why.

use std::time::Duration;

use wtd::gen_server::ServerRef;
use wtd::prelude::*;
use wtd::supervisor::{self, SupervisorRef};
use wtd_examples::failover::{INSTANCE, Pool, TicketCall, Tickets, node_of};

use crate::harness::{Cluster, eventually, unique};

const MISSIONS: [&str; 2] = ["workers", "tickets"];
/// Long enough for a node to leave the directory (3 s), the monitor to notice (≤ 4 s)
/// and the supervisor to start the child elsewhere, on a loaded machine.
const FAILOVER_LIMIT: Duration = Duration::from_secs(40);

/// The node the pool's child runs on now, if it runs.
async fn placed(pool: &SupervisorRef<Pool>) -> Option<String> {
    let children = pool.which_children().await.ok()?;
    let pid = children.first()?.pid.clone()?;
    node_of(&pid).map(str::to_string)
}

/// Waits until `node`'s directory lists every one of `names`.
async fn listed(node: &Node, names: &[&str]) {
    let all = eventually(Duration::from_secs(10), || async {
        let directory = node.directory();
        names
            .iter()
            .all(|name| directory.nodes.iter().any(|e| e.name == *name))
            .then_some(())
    })
    .await;
    assert!(all.is_some(), "{names:?} never showed in the directory");
}

/// Waits until the pool's child runs on `node`.
async fn placed_on(pool: &SupervisorRef<Pool>, node: &str, limit: Duration) {
    let found = eventually(limit, || async {
        (placed(pool).await.as_deref() == Some(node)).then_some(())
    })
    .await;
    assert!(
        found.is_some(),
        "the child never ran on `{node}`; it runs on {:?}",
        placed(pool).await
    );
}

struct Setup {
    cluster: Cluster,
    alice: Node,
    bob: Node,
    carol: Node,
    to_bob: Peer,
    to_carol: Peer,
}

async fn setup() -> Setup {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &[]).await;
    let bob = cluster.node(&unique("bob"), &MISSIONS).await;
    let carol = cluster.node(&unique("carol"), &MISSIONS).await;
    let (_, to_bob) = cluster.grant(&bob, &alice, &MISSIONS, "100/s");
    let (_, to_carol) = cluster.grant(&carol, &alice, &MISSIONS, "100/s");
    listed(&alice, &[bob.name(), carol.name()]).await;
    Setup {
        cluster,
        alice,
        bob,
        carol,
        to_bob,
        to_carol,
    }
}

async fn pool(s: &Setup, nodes: Vec<Peer>, max_restarts: u32) -> SupervisorRef<Pool> {
    supervisor::start_named(
        s.alice.processes(),
        "pool",
        Pool {
            nodes,
            max_restarts,
        },
    )
    .await
    .expect("the pool starts its child on a node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_on_another_node_fails_over_to_the_next_and_back() {
    let s = setup().await;
    let pool = pool(&s, vec![s.to_bob.clone(), s.to_carol.clone()], 5).await;
    assert_eq!(placed(&pool).await.as_deref(), Some(s.bob.name()));
    let on_bob = Tickets::remote(&s.to_bob, INSTANCE);
    assert_eq!(on_bob.call(TicketCall::Next).await.expect("a ticket"), 1);
    assert_eq!(on_bob.call(TicketCall::Next).await.expect("a ticket"), 2);

    // Bob's machine goes away: the counter comes back on Carol's, counting afresh.
    let Setup {
        cluster,
        alice,
        bob,
        carol,
        to_bob,
        to_carol,
    } = s;
    let bob_name = bob.name().to_string();
    bob.stop().await;
    placed_on(&pool, carol.name(), FAILOVER_LIMIT).await;
    let on_carol = Tickets::remote(&to_carol, INSTANCE);
    assert_eq!(on_carol.call(TicketCall::Next).await.expect("a ticket"), 1);

    // Bob is back and Carol goes: the counter returns to Bob.
    let bob = cluster.node(&bob_name, &MISSIONS).await;
    listed(&alice, &[&bob_name]).await;
    carol.stop().await;
    placed_on(&pool, &bob_name, FAILOVER_LIMIT).await;
    assert_eq!(
        Tickets::remote(&to_bob, INSTANCE)
            .call(TicketCall::Next)
            .await
            .expect("a ticket"),
        1
    );
    assert!(pool.is_alive(), "two failovers are within the intensity");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_child_that_crashes_is_restarted_on_its_node() {
    let s = setup().await;
    let pool = pool(&s, vec![s.to_bob.clone(), s.to_carol.clone()], 5).await;
    let before = pool.which_children().await.expect("children")[0]
        .pid
        .clone();
    let on_bob = Tickets::remote(&s.to_bob, INSTANCE);
    assert!(on_bob.call(TicketCall::Crash).await.is_err(), "it crashed");
    let restarted = eventually(FAILOVER_LIMIT, || async {
        let now = pool.which_children().await.ok()?[0].pid.clone()?;
        (Some(&now) != before.as_ref()).then_some(now)
    })
    .await
    .expect("restarted");
    assert_eq!(node_of(&restarted), Some(s.bob.name()), "{restarted}");
    assert_eq!(on_bob.call(TicketCall::Next).await.expect("a ticket"), 1);
    s.cluster.stop(vec![s.alice, s.bob, s.carol]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_child_stops_the_worker_on_its_node() {
    let s = setup().await;
    let pool = pool(&s, vec![s.to_bob.clone()], 5).await;
    assert!(ServerRef::<Tickets>::whereis(s.bob.processes(), INSTANCE).is_ok());
    pool.terminate_child(INSTANCE)
        .await
        .expect("asked")
        .expect("terminated");
    let gone = eventually(Duration::from_secs(10), || async {
        ServerRef::<Tickets>::whereis(s.bob.processes(), INSTANCE)
            .is_err()
            .then_some(())
    })
    .await;
    assert!(gone.is_some(), "the counter still runs on Bob's node");
    s.cluster.stop(vec![s.alice, s.bob, s.carol]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_key_stops_remote_starts_and_the_supervisor_says_why() {
    let s = setup().await;
    let pool = pool(&s, vec![s.to_bob.clone()], 1).await;
    s.bob.revoke(s.alice.name()).expect("revoked");
    let ended = eventually(FAILOVER_LIMIT, || async { pool.exit_reason() }).await;
    let reason = ended.expect("the pool gave up").to_string();
    assert!(reason.contains("restart intensity"), "{reason}");
    assert!(reason.contains("revoked"), "{reason}");
    s.cluster.stop(vec![s.alice, s.bob, s.carol]).await;
}

#[test]
fn the_failover_example_tells_its_story() {
    let out = crate::harness::run_example("failover");
    for words in [
        "the counter runs there",
        "Alice takes ticket 3 from `bob`",
        "Bob's machine goes away",
        "Alice takes ticket 1 from `carol`",
        "the service answered again",
        "runs as <carol.",
    ] {
        assert!(
            out.contains(words),
            "the example should say {words:?}:\n{out}"
        );
    }
}
