//! A node given several proxies moves to the next when its proxy stops answering (issue
//! 15). Here the proxies are independent (each its own embedded store): the one a node
//! moves to does not know it, so the node registers there by itself, and from then on the
//! nodes on that proxy can call it. A proxy that knows the node already (as every proxy
//! of one cluster on a shared store does) is not registered with again: that would empty
//! the node's mailbox there.

use std::time::Duration;

use wtd::{Error, Node, NodeConfig};
use wtd_examples::{demo, lab};

use crate::harness::{Cluster, eventually, failover_log, unique};

/// Long enough for a node to notice that its proxy is gone (a few failures over 3 s),
/// move, register on the next and be called there, on a loaded machine.
const MOVE_LIMIT: Duration = Duration::from_secs(40);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_moves_to_its_fallback_proxy_when_its_proxy_stops() {
    let log = failover_log();
    let mut a = Cluster::start().await;
    let b = Cluster::start().await;
    let alice_name = unique("alice");
    let config = NodeConfig::new(&alice_name, &a.url(), a.dir.path().join(&alice_name))
        .fallback_proxy(&b.url())
        .serve(&["demo"]);
    let alice = Node::start(config).await.expect("alice starts");
    assert_eq!(alice.proxy(), a.url(), "a node starts on its primary");
    let bob = b.node(&unique("bob"), &[]).await;
    let (key, peer) = b.grant(&alice, &bob, &["demo"], "100/s");
    assert_eq!(key.proxy, a.url(), "a key names the primary first");
    assert_eq!(
        key.fallback_proxies,
        [b.url()],
        "and the fallbacks after it"
    );

    // Bob is on B, Alice on A: independent proxies, so B does not know her yet.
    let err = demo::add::call(&peer, 1, 1)
        .await
        .expect_err("alice is on A");
    assert!(matches!(err, Error::NodeDown { .. }), "{err}");

    a.stop_proxy().await;
    let moved = eventually(MOVE_LIMIT, || async {
        (alice.proxy() == b.url()).then_some(())
    })
    .await;
    assert!(moved.is_some(), "alice still talks to {}", alice.proxy());
    let answer = eventually(MOVE_LIMIT, || async {
        demo::add::call(&peer, 2, 3).await.ok()
    })
    .await;
    assert_eq!(
        answer,
        Some(5),
        "bob, on B, calls alice once she moved there"
    );

    let said = format!("proxy {} is not answering (", a.url());
    let then = format!("); moving to proxy {}", b.url());
    let lines = log.lines_about(&alice_name);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&said) && l.contains("Connection refused") && l.contains(&then)),
        "alice's log says she moved, and why: {lines:#?}"
    );
    let registered = format!("proxy={}", b.url());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("registered again") && l.contains(&registered)),
        "B did not know alice: she registered there: {lines:#?}"
    );

    alice.stop().await;
    a.stop(vec![]).await;
    b.stop(vec![bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_primary_is_down_starts_on_a_fallback() {
    let mut a = Cluster::start().await;
    let b = Cluster::start().await;
    a.stop_proxy().await;
    let name = unique("alice");
    let config = NodeConfig::new(&name, &a.url(), a.dir.path().join(&name))
        .fallback_proxy(&b.url())
        .serve(&["demo"]);
    let alice = Node::start(config).await.expect("alice starts on B");
    assert_eq!(alice.proxy(), b.url());
    let bob = b.node(&unique("bob"), &[]).await;
    let (_, peer) = b.grant(&alice, &bob, &["demo"], "100/s");
    let answer = eventually(MOVE_LIMIT, || async {
        demo::add::call(&peer, 2, 2).await.ok()
    })
    .await;
    assert_eq!(answer, Some(4));

    // With no proxy answering, a node does not start, and the error names its primary.
    let lonely = NodeConfig::new(&unique("carol"), &a.url(), a.dir.path().join("carol"))
        .fallback_proxy(&a.url().replace("127.0.0.1", "localhost"));
    match Node::start(lonely).await {
        Err(Error::ProxyUnreachable { url, .. }) => assert_eq!(url, a.url()),
        other => panic!("expected ProxyUnreachable, got {other:?}"),
    }

    alice.stop().await;
    a.stop(vec![]).await;
    b.stop(vec![bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_moving_to_a_proxy_that_knows_it_does_not_register_again() {
    let log = failover_log();
    let mut a = Cluster::start().await;
    let b = Cluster::start().await;
    let name = unique("alice");
    let home = a.dir.path().join(&name);
    // B knows Alice already, with her node key, as a proxy sharing A's store would.
    let key = wtd::keys::load_or_create_node_key(&home).expect("alice's key");
    let (url, who) = (b.url(), name.clone());
    tokio::task::spawn_blocking(move || {
        wtd::transport::Transport::new(&url, &who, key).register("")
    })
    .await
    .expect("joined")
    .expect("B registers alice");

    let config = NodeConfig::new(&name, &a.url(), &home)
        .fallback_proxy(&b.url())
        .serve(&["demo"]);
    let alice = Node::start(config).await.expect("alice starts");
    let bob = b.node(&unique("bob"), &[]).await;
    let (_, peer) = b.grant(&alice, &bob, &["demo"], "100/s");
    a.stop_proxy().await;
    let answer = eventually(MOVE_LIMIT, || async {
        demo::add::call(&peer, 3, 4).await.ok()
    })
    .await;
    assert_eq!(
        answer,
        Some(7),
        "bob, on B, calls alice once she moved there"
    );
    assert_eq!(alice.proxy(), b.url());

    let lines = log.lines_about(&name);
    assert!(
        lines.iter().any(|l| l.contains("moving to proxy")),
        "alice moved: {lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("registered again")),
        "a proxy that knows alice is not registered with again: {lines:#?}"
    );

    alice.stop().await;
    a.stop(vec![]).await;
    b.stop(vec![bob]).await;
}

/// A call in flight when the proxy stops, between two nodes that both move to B, ends in
/// its reply or a clear error, and runs at most once (nobody sends it again); the next
/// call, through B, runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_flight_when_the_proxy_stops_ends_clearly_and_runs_at_most_once() {
    let mut a = Cluster::start().await;
    let b = Cluster::start().await;
    let config = |name: &str| {
        NodeConfig::new(name, &a.url(), a.dir.path().join(name)).fallback_proxy(&b.url())
    };
    let alice = Node::start(config(&unique("alice")).serve(&["lab"]))
        .await
        .expect("alice starts");
    let bob = Node::start(config(&unique("bob")).serve_nothing())
        .await
        .expect("bob starts");
    let (_, peer) = a.grant(&alice, &bob, &["lab"], "100/s");
    let peer = peer.with_timeout(Duration::from_secs(8));
    const SLOW_MS: u64 = 1_500;
    let in_flight = tokio::spawn({
        let peer = peer.clone();
        async move { lab::sleep_ms::call(&peer, SLOW_MS).await }
    });
    // Most often the call is running at Alice's by now; every outcome below holds either way.
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.stop_proxy().await;

    let outcome = in_flight.await.expect("joined");
    assert!(
        matches!(
            outcome,
            Ok(SLOW_MS)
                | Err(Error::Timeout { .. }
                    | Error::ProxyUnreachable { .. }
                    | Error::NodeDown { .. })
        ),
        "a reply or a clear error: {outcome:?}"
    );
    let both_moved = eventually(MOVE_LIMIT, || async {
        (alice.proxy() == b.url() && bob.proxy() == b.url()).then_some(())
    })
    .await;
    assert!(
        both_moved.is_some(),
        "alice on {}, bob on {}",
        alice.proxy(),
        bob.proxy()
    );
    let next = eventually(MOVE_LIMIT, || async {
        lab::sleep_ms::call(&peer, 1).await.ok()
    })
    .await;
    assert_eq!(next, Some(1), "calls go through B");

    let slow_runs = alice
        .audit_log()
        .read()
        .iter()
        .filter(|e| e.path.ends_with("sleep_ms") && e.outcome == "ok" && e.millis >= SLOW_MS)
        .count();
    match outcome {
        Ok(_) => assert_eq!(slow_runs, 1, "the call that completed ran once"),
        Err(_) => assert!(slow_runs <= 1, "the call ran {slow_runs} times"),
    }

    alice.stop().await;
    bob.stop().await;
    a.stop(vec![]).await;
    b.stop(vec![]).await;
}
