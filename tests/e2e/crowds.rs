//! The proxy crowded by strangers and key holders: a mailbox filled by one sender, names
//! held by squatters, a directory made too big to read, and every connection slot taken
//! by polite clients. Each test shows the bound, and that the others still get through.

use std::net::SocketAddr;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wtd::wire::{
    Kind, Outgoing, Ping, Register, Route, RxBatch, RxPoll, Signed, TxBatch, TxReply, TxStatus,
    decode_exact, domain, encode, now_ms,
};

use wtd::{Node, NodeConfig};
use wtd_examples::demo;
use wtd_proxy::Config;

use crate::harness::{Cluster, empty_ping, eventually, hop_by_hand, register_by_hand, unique};

/// Mallory holds a name and floods Alice, a callee too slow to read her mailbox, with
/// junk calls through `/tx`, 256 a request. Past her share of Alice's mailbox she is
/// refused (`MailboxFull`); Bob's call still gets in, and Alice finds it when she reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sender_cannot_fill_a_slow_callees_mailbox() {
    // Small bounds, the default proportions: a sender may hold a quarter of a mailbox.
    let cluster = Cluster::start_with(|c| {
        c.mailbox_messages = 1024;
        c.mailbox_messages_per_sender = 256;
        c.presence_timeout = Duration::from_secs(60);
    })
    .await;
    let url = cluster.url();
    let (alice, bob, mallory) = (unique("alice"), unique("bob"), unique("mallory"));
    let alice_key = register_by_hand(&url, &alice).await;
    let bob_key = register_by_hand(&url, &bob).await;
    let mallory_key = register_by_hand(&url, &mallory).await;
    // Alice is online (she pinged) but never reads her mailbox.
    let (status, _) = hop_by_hand(
        &url,
        "/ping",
        &alice,
        &alice_key,
        Route::Ping,
        encode(&empty_ping()),
    )
    .await;
    assert_eq!(status, 200);

    let junk = |n: usize| TxBatch {
        envelopes: (0..n)
            .map(|i| Outgoing {
                to: alice.clone(),
                kind: Kind::Call,
                ack: [i as u8; 16],
                bytes: vec![0xA5; 64],
            })
            .collect(),
    };
    let mut queued = 0;
    let mut refused = 0;
    for _ in 0..8 {
        let statuses = tx_by_hand(&url, &mallory, &mallory_key, &junk(256)).await;
        queued += statuses.iter().filter(|s| **s == TxStatus::Queued).count();
        refused += statuses
            .iter()
            .filter(|s| **s == TxStatus::MailboxFull)
            .count();
    }
    assert_eq!(queued, 256, "Mallory got past her share");
    assert_eq!(refused, 7 * 256);

    // Bob's call still gets in, and it is what Alice reads after Mallory's junk.
    let bob_call = TxBatch {
        envelopes: vec![Outgoing {
            to: alice.clone(),
            kind: Kind::Call,
            ack: [0xB0; 16],
            bytes: b"bob's call".to_vec(),
        }],
    };
    let statuses = tx_by_hand(&url, &bob, &bob_key, &bob_call).await;
    assert_eq!(statuses, [TxStatus::Queued], "Bob was shut out");
    let (mut epoch, mut ack_seq) = (0, 0);
    let mut from_bob = Vec::new();
    for _ in 0..8 {
        let poll = RxPoll {
            epoch,
            ack_seq,
            wait_ms: 0,
            known_version: 0,
        };
        let path = format!("/rx/{alice}");
        let (status, body) =
            hop_by_hand(&url, &path, &alice, &alice_key, Route::Rx, encode(&poll)).await;
        assert_eq!(status, 200);
        let batch: RxBatch = decode_exact(&body).expect("a batch");
        epoch = batch.epoch;
        let Some(last) = batch.messages.last() else {
            break;
        };
        ack_seq = last.seq;
        from_bob.extend(
            batch
                .messages
                .into_iter()
                .filter(|m| m.from.as_deref() == Some(&bob)),
        );
    }
    assert_eq!(from_bob.len(), 1);
    assert_eq!(from_bob[0].bytes, b"bob's call");
    cluster.stop(vec![]).await;
}

/// Names are never free for good: two squatters fill the proxy's names (three here, with
/// Alice), and a newcomer is refused with a message that says when a name frees up. Once
/// the squatters have been away for the expiry (2 s here) their names make room, while
/// nodes that stay online keep theirs. An operator can release a name too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_left_idle_expire_and_an_operator_can_release_one() {
    let expiry = Duration::from_secs(2);
    let small = move |c: &mut Config| {
        c.max_nodes = 3;
        c.name_expiry = expiry;
    };
    let mut cluster = Cluster::start_with(small).await;
    let url = cluster.url();
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    for _ in 0..2 {
        register_by_hand(&url, &unique("squatter")).await;
    }

    let homes = cluster.dir.path().to_path_buf();
    let start = |name: String| {
        let config = NodeConfig::new(&name, &url, homes.join(&name));
        Node::start(config)
    };
    let (carol, dave, erin) = (unique("carol"), unique("dave"), unique("erin"));
    let refused = start(carol.clone())
        .await
        .expect_err("the names are all taken");
    let text = refused.to_string();
    assert!(
        text.contains("maximum of 3 node names") && text.contains("offline for 2 s"),
        "{text}"
    );

    // The squatters never come back: once they have been away for the expiry, their
    // names make room, one per newcomer.
    let carol = eventually(Duration::from_secs(15), || async {
        start(carol.clone()).await.ok()
    })
    .await
    .expect("a squatter's name expired");
    let dave = eventually(Duration::from_secs(15), || async {
        start(dave.clone()).await.ok()
    })
    .await
    .expect("the other squatter's name expired");
    // Alice, Carol and Dave are online: no name expires, and the refusal says so.
    let text = start(erin.clone()).await.expect_err("full").to_string();
    assert!(text.contains("every node is online"), "{text}");

    // The operator releases Carol's name while the proxy is stopped, with names that
    // would not expire for 90 days; Erin then gets in, and Alice still works.
    let carol_name = carol.name().to_string();
    carol.stop().await;
    cluster.stop_proxy().await;
    let operator = cluster.proxy_config(|c| c.max_nodes = 3);
    assert!(
        wtd_proxy::release(&operator, &carol_name)
            .await
            .expect("releases")
    );
    assert!(
        !wtd_proxy::release(&operator, "nobody")
            .await
            .expect("reads")
    );
    cluster.start_proxy_again_with(|c| c.max_nodes = 3).await;
    let erin = eventually(Duration::from_secs(15), || async {
        start(erin.clone()).await.ok()
    })
    .await
    .expect("the released name made room");
    let (_, peer) = cluster.grant(&alice, &erin, &["demo"], "10/s");
    // Alice comes back by herself after the restart.
    let sum = eventually(Duration::from_secs(15), || async {
        demo::add::call(&peer, 2, 3).await.ok()
    })
    .await;
    assert_eq!(sum, Some(5), "Alice serves again");
    cluster.stop(vec![alice, dave, erin]).await;
}

/// 140 names each announce 511 junk keys (just under the 16 KiB a node's line may take),
/// which once made the directory 2.3 MB in the form nodes read, past the 2 MiB a node
/// reads: new nodes could not start. Now a node lists at most 256 keys and the directory
/// (here) at most 1 MiB; past that a node is listed by name and key only, and still
/// starts, serves and calls; and a node reads only the nodes it follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_stuffed_with_junk_keys_stays_readable_and_nodes_still_start() {
    let cluster = Cluster::start_with(|c| {
        c.new_nodes_per_minute = 1000;
        c.new_nodes_per_minute_per_client = 1000;
        c.presence_timeout = Duration::from_secs(120);
        c.directory_bytes = 1024 * 1024;
    })
    .await;
    let url = cluster.url();
    let mut answers = Vec::new();
    for i in 0..140u32 {
        let name = unique("junk");
        let key = register_by_hand(&url, &name).await;
        for keys in [511u32, 256] {
            let ping = Ping {
                offers: vec![],
                accepts: (0..keys).map(|k| junk_key(i, k)).collect(),
                known_version: 0,
                follows: vec![],
            };
            let (status, body) =
                hop_by_hand(&url, "/ping", &name, &key, Route::Ping, encode(&ping)).await;
            answers.push((keys, status, String::from_utf8_lossy(&body).into_owned()));
        }
    }

    // New nodes start (Alice listed by name and key only), and Bob's call gets through.
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (_, peer) = cluster.grant(&alice, &bob, &["demo"], "10/s");
    assert_eq!(demo::add::call(&peer, 2, 3).await.expect("alice serves"), 5);

    // 511 keys are refused, naming the bound; past 1 MiB, the directory is full.
    for (keys, status, text) in answers.iter().filter(|(keys, ..)| *keys == 511) {
        assert_eq!(*status, 413, "{keys} keys: {text}");
        assert!(text.contains("at most 256 are listed"), "{text}");
    }
    let full: Vec<_> = answers.iter().filter(|(keys, ..)| *keys == 256).collect();
    let listed = full.iter().filter(|(_, status, _)| *status == 200).count();
    assert!(listed > 80, "only {listed} nodes listed");
    for (_, status, text) in full.iter().skip(listed) {
        assert_eq!(*status, 413, "{text}");
        assert!(text.contains("the directory is full"), "{text}");
    }
    // What a node reads stays within the bound.
    // Bob holds only the line of the node he follows (Alice, his peer's node), bare.
    let alice_line = eventually(Duration::from_secs(5), || async {
        let shown = bob.directory();
        shown.nodes.iter().find(|n| n.name == alice.name()).cloned()
    })
    .await;
    assert!(
        alice_line.is_some_and(|a| a.offers.is_empty()),
        "alice listed bare"
    );
    assert_eq!(bob.directory().nodes.len(), 1, "bob follows alice alone");
    cluster.stop(vec![alice, bob]).await;
}

/// A key for junk node `node`, number `k`.
fn junk_key(node: u32, k: u32) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..4].copy_from_slice(&node.to_le_bytes());
    key[4..8].copy_from_slice(&k.to_le_bytes());
    key
}

/// Each `/api/directory` answer is the whole directory and needs no key: one address
/// gets a few a second and then 429, while another address is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_reads_are_limited_per_address() {
    // One read a second (bursts of 2), so that twenty reads pass the bound however slowly
    // a loaded machine makes them.
    let cluster = Cluster::start_with(|c| c.directory_reads_per_client = 1).await;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(get_from([127, 0, 0, 2], cluster.addr, "/api/directory").await);
    }
    assert_eq!(statuses[0].0, 200);
    let limited: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(!limited.is_empty(), "never limited: {statuses:?}");
    assert!(
        limited[0]
            .1
            .contains("reads the directory more than 1 times a second"),
        "{}",
        limited[0].1
    );
    assert_eq!(
        get_from([127, 0, 0, 3], cluster.addr, "/api/directory")
            .await
            .0,
        200
    );
    assert_eq!(
        get_from([127, 0, 0, 2], cluster.addr, "/api/stats").await.0,
        429,
        "the dashboard's data too"
    );
    cluster.stop(vec![]).await;
}

/// `GET path` from the loopback address `from`, on a connection of its own; the status
/// and the whole answer as text.
async fn get_from(from: [u8; 4], addr: SocketAddr, path: &str) -> (u16, String) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    let mut tcp = socket.connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: wtd\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("request");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer));
    read.await.expect("answered in time").expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Mallory fills every connection slot (64 here) with polite keep-alive connections from
/// four loopback addresses in two /24 networks, each sending a complete request and
/// keeping the connection, as a browser would. Before the fix new connections then waited
/// until hers timed out: a new node could not register. Now each new connection closes
/// the idlest of the network holding the most, and Bob's call, Carol's registration and
/// Carol's first call all go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polite_connections_filling_the_proxy_do_not_shut_out_nodes_or_newcomers() {
    let cluster = Cluster::start_with(|c| {
        c.max_connections = 64;
        c.connections_per_client = 16;
        c.connections_per_network = 32;
    })
    .await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (_, peer) = cluster.grant(&alice, &bob, &["demo"], "100/s");
    assert_eq!(demo::add::call(&peer, 1, 1).await.expect("before"), 2);

    let mut mallory = Vec::new();
    for from in [
        [127, 0, 1, 1],
        [127, 0, 1, 2],
        [127, 0, 2, 1],
        [127, 0, 2, 2],
    ] {
        for _ in 0..16 {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket
                .bind(SocketAddr::from((from, 0)))
                .expect("bind a loopback address");
            let mut tcp = socket.connect(cluster.addr).await.expect("connect");
            // The proxy may already have closed it to make room for the next: fine.
            let _ = tcp
                .write_all(b"GET /polite HTTP/1.1\r\nHost: wtd\r\n\r\n")
                .await;
            mallory.push(tcp);
        }
    }

    // Within the read timeout (20 s), while Mallory's connections are all still held:
    let within = Duration::from_secs(15);
    let sum = tokio::time::timeout(within, demo::add::call(&peer, 2, 3)).await;
    assert_eq!(sum.expect("Bob's call in time").expect("Bob's call"), 5);
    let carol = unique("carol");
    let config = NodeConfig::new(&carol, &cluster.url(), cluster.dir.path().join(&carol));
    let carol = tokio::time::timeout(within, Node::start(config))
        .await
        .expect("Carol registers and starts in time")
        .expect("Carol starts");
    let (_, carols_peer) = cluster.grant(&alice, &carol, &["demo"], "100/s");
    let sum = tokio::time::timeout(within, demo::add::call(&carols_peer, 4, 5)).await;
    assert_eq!(sum.expect("Carol's call in time").expect("Carol's call"), 9);
    drop(mallory);
    cluster.stop(vec![alice, bob, carol]).await;
}

/// Sends one `/tx` batch signed by `node`; returns the status of each envelope.
async fn tx_by_hand(url: &str, node: &str, key: &SigningKey, batch: &TxBatch) -> Vec<TxStatus> {
    let path = format!("/tx/{node}");
    let (status, body) = hop_by_hand(url, &path, node, key, Route::Tx, encode(batch)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    decode_exact::<TxReply>(&body).expect("a tx reply").statuses
}

/// New names are limited per client address, with a global ceiling far above: 10,000 nodes
/// behind many addresses join in minutes, not hours, while one address cannot take the
/// ceiling. A refusal says when a slot frees (20 s at 3 a minute), not "a minute"; a node
/// starting again under its own name is never refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_names_are_limited_per_address_and_the_refusal_says_when_to_retry() {
    let cluster = Cluster::start_with(|c| {
        c.new_nodes_per_minute_per_client = 3;
        c.new_nodes_per_minute = 4;
    })
    .await;
    let addr = cluster.addr;
    let register_from = |from: [u8; 4], name: String, key: SigningKey| async move {
        let register = Register {
            name: name.clone(),
            email: String::new(),
            node_key: key.verifying_key().to_bytes(),
            issued_at_ms: now_ms(),
        };
        let body = Signed::sign(domain::REGISTER, &register, &key).to_bytes();
        put_from(from, addr, &format!("/nodes/{name}"), &body).await
    };
    let first_key = wtd::keys::generate();
    let first = unique("first");
    let (status, text) = register_from([127, 0, 0, 2], first.clone(), first_key.clone()).await;
    assert_eq!(status, 200, "{text}");
    for _ in 0..2 {
        let (status, text) =
            register_from([127, 0, 0, 2], unique("class"), wtd::keys::generate()).await;
        assert_eq!(status, 200, "{text}");
    }
    let (status, text) = register_from([127, 0, 0, 2], unique("more"), wtd::keys::generate()).await;
    assert_eq!(status, 429, "{text}");
    assert!(text.contains("faster than 3 a minute"), "{text}");
    let wait = retry_seconds(&text);
    assert!(
        (1..=20).contains(&wait),
        "a slot frees every 20 s, not {wait}: {text}"
    );
    // Starting again under its own name is never refused.
    let (status, text) = register_from([127, 0, 0, 2], first, first_key).await;
    assert_eq!(status, 200, "{text}");
    // Another address has its own share, up to the ceiling of 4 for all.
    let (status, text) =
        register_from([127, 0, 0, 3], unique("other"), wtd::keys::generate()).await;
    assert_eq!(status, 200, "{text}");
    let (status, text) =
        register_from([127, 0, 1, 4], unique("third"), wtd::keys::generate()).await;
    assert_eq!(status, 429, "{text}");
    assert!(text.contains("this proxy takes 4 a minute"), "{text}");
    let wait = retry_seconds(&text);
    assert!(
        (1..=15).contains(&wait),
        "a slot frees every 15 s, not {wait}: {text}"
    );
    cluster.stop(vec![]).await;
}

/// The `N` of "try again in N s" in a refusal.
fn retry_seconds(text: &str) -> u64 {
    let (_, after) = text.split_once("try again in ").expect("names a time");
    after
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number of seconds in {text}"))
}

/// `PUT path` with `body` from loopback address `from`; the status and the whole answer.
async fn put_from(from: [u8; 4], addr: SocketAddr, path: &str, body: &[u8]) -> (u16, String) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    let mut tcp = socket.connect(addr).await.expect("connect");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: wtd\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.expect("request");
    tcp.write_all(body).await.expect("body");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer));
    read.await.expect("answered in time").expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}
