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
