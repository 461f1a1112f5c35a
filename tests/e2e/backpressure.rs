//! A flood of calls costs a callee bounded work: at most `CALLS_RUNNING` run at once, and
//! the rest wait their turn (review finding 4: one task per message, without a bound,
//! took a slowed callee from 22 to 76 MB in 40 s).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wtd::prelude::*;

use crate::harness::{Cluster, unique};

/// Calls of `busy` running now, and the most ever at once.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static MOST: AtomicUsize = AtomicUsize::new(0);

/// Counts how many calls run at once, for `ms` milliseconds.
#[wtd_export(probe)]
pub fn busy(ms: u64) -> usize {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    MOST.fetch_max(now, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(ms.min(1_000)));
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    now
}

/// Holds a turn for `ms` milliseconds, uncounted: the backlog test's calls must not add
/// to the flood test's count when the two run at once.
#[wtd_export(probe)]
pub fn hold(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms.min(1_000)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_calls_runs_at_most_calls_running_at_once_and_all_finish() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["probe"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (_, peer) = cluster.grant(&alice, &bob, &["probe"], "10000/s");
    let peer = peer.with_timeout(Duration::from_secs(30));

    let flood = 3 * wtd::node::CALLS_RUNNING;
    let calls: Vec<_> = (0..flood)
        .map(|_| {
            let peer = peer.clone();
            tokio::spawn(async move { busy::call(&peer, 200).await })
        })
        .collect();
    let mut finished = 0;
    for call in calls {
        call.await.expect("joined").expect("every call finishes");
        finished += 1;
    }
    assert_eq!(finished, flood);
    let most = MOST.load(Ordering::SeqCst);
    assert!(
        most <= wtd::node::CALLS_RUNNING,
        "{most} calls ran at once, more than {}",
        wtd::node::CALLS_RUNNING
    );
    assert!(most >= 8, "calls still run side by side ({most} at most)");

    cluster.stop(vec![alice, bob]).await;
}

/// Past its backlog, a node refuses new calls as busy at once and goes on receiving:
/// the replies to its own calls still reach it (the review found a node that stopped
/// polling and so went deaf to them, timing out every call it made meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_backlog_a_node_refuses_calls_as_busy_and_still_gets_its_replies() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["probe"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let carol = cluster.node(&unique("carol"), &["demo"]).await;
    let (_, bob_to_alice) = cluster.grant(&alice, &bob, &["probe"], "100000/s");
    let bob_to_alice = bob_to_alice.with_timeout(Duration::from_secs(40));
    let (_, alice_to_carol) = cluster.grant(&carol, &alice, &["demo"], "100/s");
    let alice_to_carol = alice_to_carol.with_timeout(Duration::from_secs(5));

    // More one-second calls than Alice runs and holds together.
    let flood = wtd::node::CALLS_RUNNING + wtd::node::CALLS_WAITING + 200;
    let busy_seen = std::sync::Arc::new(AtomicUsize::new(0));
    let calls: Vec<_> = (0..flood)
        .map(|_| {
            let (peer, busy_seen) = (bob_to_alice.clone(), busy_seen.clone());
            tokio::spawn(async move {
                let result = hold::call(&peer, 1_000).await;
                if matches!(result, Err(wtd::Error::Busy { .. })) {
                    busy_seen.fetch_add(1, Ordering::SeqCst);
                }
                result
            })
        })
        .collect();
    let refused = crate::harness::eventually(Duration::from_secs(20), || {
        let busy_seen = busy_seen.clone();
        async move { (busy_seen.load(Ordering::SeqCst) > 0).then_some(()) }
    })
    .await;
    assert!(refused.is_some(), "no call was refused as busy");

    // Alice's backlog is full for several seconds more; her own call still gets its reply.
    assert_eq!(
        demo_add(&alice_to_carol)
            .await
            .expect("alice's call to carol is answered"),
        5
    );

    let (mut ok, mut busy) = (0, 0);
    for call in calls {
        match call.await.expect("joined") {
            Ok(_) => ok += 1,
            Err(wtd::Error::Busy { .. }) => busy += 1,
            Err(e) => panic!("a call neither ran nor was refused as busy: {e}"),
        }
    }
    assert_eq!(ok + busy, flood);
    assert!(ok >= wtd::node::CALLS_RUNNING, "{ok} ran");

    cluster.stop(vec![alice, bob, carol]).await;
}

async fn demo_add(peer: &wtd::Peer) -> Result<i64, wtd::Error> {
    wtd_examples::demo::add::call(peer, 2, 3).await
}
