//! The proxy stops and starts again on the same data folder: registrations are kept and
//! nodes reconnect by themselves.

use std::time::Duration;

use wtd::Error;
use wtd_examples::demo;

use crate::harness::{Cluster, eventually, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_restart_keeps_registrations_and_nodes_reconnect() {
    let mut cluster = Cluster::start().await;
    let alice_name = unique("alice");
    let alice = cluster.node(&alice_name, &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (_, peer) = cluster.grant(&alice, &bob, &["demo"], "100/s");
    assert_eq!(demo::incr::call(&peer).await.expect("before"), 1);

    cluster.stop_proxy().await;
    let err = demo::add::call(&peer, 1, 1).await.expect_err("no proxy");
    assert!(
        matches!(err, Error::ProxyUnreachable { .. } | Error::Timeout { .. }),
        "{err}"
    );

    cluster.start_proxy_again().await;
    // Retry something harmless until the nodes are back, then count once.
    let back = eventually(Duration::from_secs(15), || async {
        demo::add::call(&peer, 1, 1).await.ok()
    })
    .await;
    assert_eq!(back, Some(2), "calls work again");
    assert_eq!(
        demo::incr::call(&peer).await.expect("after"),
        2,
        "alice kept her state"
    );

    // The registration survived: another key cannot take Alice's name.
    let intruder_home = cluster.dir.path().join("intruder");
    let intruder = wtd::Node::start(wtd::NodeConfig::new(
        &alice_name,
        &cluster.url(),
        intruder_home,
    ))
    .await;
    match intruder {
        Err(Error::Proxy {
            status: 409,
            message,
        }) => assert!(message.contains("taken"), "{message}"),
        other => panic!("expected the name to be taken, got {other:?}"),
    }

    cluster.stop(vec![alice, bob]).await;
}
