//! Several proxies on one Redis serve one cluster (issue 15): a node on one proxy calls a
//! node on another, casts reach it, and an `/apply` call sent through a third door is
//! answered there. Each test starts its own `redis-server` (and says loudly that it did
//! not run where there is none).

use std::path::Path;
use std::time::Duration;

use wtd::{Node, NodeConfig};
use wtd_examples::demo;
use wtd_proxy::local_redis::LocalRedis;
use wtd_proxy::{Config, Proxy};

use crate::harness::{as_u64, eventually, sign_demo, unique};

/// A proxy keeping its state on `redis`, with its own data folder under `dir`.
async fn proxy_on(redis: &LocalRedis, dir: &Path) -> Proxy {
    let mut config = Config::new(dir);
    config.store = Some(redis.url());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    Proxy::start(listener, config).await.expect("proxy starts")
}

/// A node named after `name` on the proxy at `proxy`, serving `missions`.
async fn node(proxy: &Proxy, dir: &Path, name: &str, missions: &[&str]) -> Node {
    let name = unique(name);
    let config = NodeConfig::new(&name, &proxy.url(), dir.join(&name)).serve(missions);
    Node::start(config).await.expect("node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_one_proxy_calls_a_node_on_another_through_one_redis() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(redis) = LocalRedis::for_test(
        "a_node_on_one_proxy_calls_a_node_on_another_through_one_redis",
        dir.path(),
    ) else {
        return;
    };
    let a = proxy_on(&redis, &dir.path().join("a")).await;
    let b = proxy_on(&redis, &dir.path().join("b")).await;
    let alice = node(&a, dir.path(), "alice", &["demo"]).await;
    let bob = node(&b, dir.path(), "bob", &[]).await;
    let key = alice
        .grant(bob.name())
        .mission("demo")
        .rate("100/s")
        .expect("rate")
        .mint()
        .expect("mint");
    let peer = bob.peer(&key).expect("peer");

    // Bob's call goes into Alice's mailbox in Redis through proxy b; Alice, polling
    // proxy a, is woken over pub/sub; her reply takes the way back.
    assert_eq!(demo::add::call(&peer, 2, 3).await.expect("add"), 5);
    demo::incr::cast(&peer).await.expect("the cast is queued");
    let counted = eventually(Duration::from_secs(10), || async {
        (demo::count::call(&peer).await.ok()? == 1).then_some(())
    })
    .await;
    assert!(counted.is_some(), "the cast never ran");

    // An /apply call through proxy b: its waiter is b's, the callee polls a, and the
    // reply is passed from a to b.
    let call = sign_demo(&peer, "incr", &());
    let url = b.url();
    let reply = tokio::task::spawn_blocking(move || {
        let reply = wtd::transport::apply(&url, &call, Duration::from_secs(8));
        (call, reply)
    })
    .await
    .expect("joined");
    let (call, reply) = (reply.0, reply.1.expect("answered through b"));
    assert_eq!(as_u64(&peer.open_reply(&call, &reply).expect("ran")), 2);

    alice.stop().await;
    bob.stop().await;
    a.stop().await;
    b.stop().await;
}
