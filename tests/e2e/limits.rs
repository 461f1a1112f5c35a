//! The proxy under abuse of its resources: connections held open and idle, a body far
//! larger than any message, one node sending as fast as it can, and names that try to
//! smuggle control characters into the directory. Each test checks the bound *and* that
//! everyone else keeps working.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wtd::wire::{Hop, Offer, Ping, Route, Signed, domain, encode, now_ms};
use wtd_examples::demo;

use crate::harness::{Cluster, empty_ping, eventually, register_by_hand, send, unique};

/// Mallory, at another address, opens a thousand connections that never finish a
/// request (half send part of a header, half send nothing). Past her share of connections
/// (256) they are closed at once; the rest are closed when the read timeout passes. Alice
/// and Bob keep talking all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_connections_are_closed_and_others_keep_working() {
    let timeout = Duration::from_secs(2);
    let cluster = Cluster::start_with(|c| c.read_timeout = timeout).await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (_, peer) = cluster.grant(&alice, &bob, &["demo"], "1000/s");

    let opened = Instant::now();
    let mut idle = Vec::with_capacity(1000);
    for i in 0..1000 {
        let mut tcp = connect_from(MALLORY, cluster.addr).await;
        if i % 2 == 0 {
            // The proxy may already have closed it (past her share): that is fine.
            let _ = tcp
                .write_all(b"POST /tx/alice HTTP/1.1\r\nHost: wtd\r\nContent-Le")
                .await;
        }
        idle.push(tcp);
    }

    // Alice and Bob keep working while the connections are held.
    for i in 1..=20u64 {
        assert_eq!(demo::incr::call(&peer).await.expect("incr while held"), i);
    }

    // Every connection is closed by the proxy: most at once, the rest after the timeout.
    let mut reads = tokio::task::JoinSet::new();
    for mut tcp in idle {
        reads.spawn(async move {
            let mut buf = [0u8; 256];
            loop {
                match tokio::time::timeout(Duration::from_secs(15), tcp.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Some(opened.elapsed()),
                    // hyper may answer a half header with an error status before closing.
                    Ok(Ok(_)) => continue,
                    Err(_) => return None,
                }
            }
        });
    }
    let mut closed_at = Vec::new();
    while let Some(joined) = reads.join_next().await {
        closed_at.push(joined.expect("reader"));
    }
    let still_open = closed_at.iter().filter(|c| c.is_none()).count();
    assert_eq!(
        still_open, 0,
        "connections still open after the read timeout"
    );
    let held = closed_at
        .iter()
        .flatten()
        .filter(|c| **c >= timeout)
        .count();
    assert!(
        held <= 256,
        "{held} connections outlived the timeout: more than one client's share"
    );
    assert_eq!(demo::count::call(&peer).await.expect("count"), 20);
    cluster.stop(vec![alice, bob]).await;
}

/// A client that pipelines requests and never reads the answers: once its answers stop
/// moving for the read timeout, the proxy ends the connection instead of holding it (and
/// its slot) forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_answers_is_cut_off() {
    let cluster = Cluster::start_with(|c| c.read_timeout = Duration::from_secs(1)).await;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::from((MALLORY, 0)))
        .expect("bind");
    // A small receive window, so the proxy's answers back up quickly.
    socket.set_recv_buffer_size(4096).expect("buffer size");
    let mut tcp = socket.connect(cluster.addr).await.expect("connect");

    // Send requests without ever reading, until the proxy cuts the connection (an
    // error) or 30 s pass with the writes blocked (the proxy kept the connection).
    let one = b"GET /api/directory HTTP/1.1\r\nHost: wtd\r\n\r\n";
    let started = Instant::now();
    let mut sent = 0u64;
    let cut = loop {
        match tokio::time::timeout(Duration::from_secs(30), tcp.write_all(one)).await {
            Ok(Ok(())) => sent += 1,
            Ok(Err(_)) => break true,
            Err(_) => break false,
        }
        assert!(
            sent < 10_000_000,
            "the proxy answers faster than anyone reads?"
        );
    };
    println!(
        "never-reading client: cut off after {sent} requests and {:?}",
        started.elapsed()
    );
    assert!(cut, "a client reading nothing kept its connection for 30 s");
    cluster.stop(vec![]).await;
}

/// At the connection bound a new client waits; once the slow clients' time is up, it is
/// served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_bound_a_new_client_is_served_once_slow_ones_time_out() {
    let cluster = Cluster::start_with(|c| {
        c.max_connections = 4;
        c.read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(cluster.addr).await.expect("connect"));
    }
    let url = format!("{}/api/directory", cluster.url());
    let answer = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(8)))
            .build()
            .into();
        agent.get(&url).call().map(|r| r.status().as_u16())
    })
    .await
    .expect("joined");
    assert_eq!(answer.expect("served after the slow ones left"), 200);
    for mut tcp in held {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "a slow connection stayed open: {read:?}"
        );
    }
    cluster.stop(vec![]).await;
}

/// A body sent a few bytes at a time, never finished, is answered 408 once the read
/// timeout passes, and the connection is let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_answered_408_after_the_read_timeout() {
    let cluster = Cluster::start_with(|c| c.read_timeout = Duration::from_secs(1)).await;
    let mut tcp = TcpStream::connect(cluster.addr).await.expect("connect");
    let head = "POST /ping HTTP/1.1\r\nHost: wtd\r\nContent-Length: 1000\r\n\r\n";
    tcp.write_all(head.as_bytes()).await.expect("header");
    for _ in 0..3 {
        tcp.write_all(b"x").await.expect("a byte");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(read_status(&mut tcp).await, 408);
    cluster.stop(vec![]).await;
}

/// A 100 MiB body, announced or streamed in chunks, is refused with 413 without the proxy
/// reading it all; the proxy goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_mib_body_is_refused_without_being_read() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let hundred_mib: u64 = 100 * 1024 * 1024;
    let path = format!("/apply/{}/demo/demo/incr", alice.name());

    // Announced with Content-Length: refused after the header, before any body byte.
    let mut tcp = TcpStream::connect(cluster.addr).await.expect("connect");
    let head = format!("PUT {path} HTTP/1.1\r\nHost: wtd\r\nContent-Length: {hundred_mib}\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.expect("header");
    let status = read_status(&mut tcp).await;
    assert_eq!(status, 413);

    // Streamed in chunks with no length: refused once the bound is passed. The proxy
    // stops reading, so the sender cannot push the whole 100 MiB through.
    let mut tcp = TcpStream::connect(cluster.addr).await.expect("connect");
    let head = format!("PUT {path} HTTP/1.1\r\nHost: wtd\r\nTransfer-Encoding: chunked\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.expect("header");
    let chunk_len = 64 * 1024;
    let mut chunk = format!("{chunk_len:x}\r\n").into_bytes();
    chunk.extend(std::iter::repeat_n(0xA5u8, chunk_len));
    chunk.extend(b"\r\n");
    let (mut reader, mut writer) = tcp.into_split();
    let writing = tokio::spawn(async move {
        let mut sent: u64 = 0;
        while sent < hundred_mib {
            let write = writer.write_all(&chunk);
            match tokio::time::timeout(Duration::from_secs(3), write).await {
                Ok(Ok(())) => sent += chunk_len as u64,
                _ => break,
            }
        }
        sent
    });
    let status = read_status_from(&mut reader).await;
    assert_eq!(status, 413);
    let sent = writing.await.expect("joined");
    assert!(
        sent < hundred_mib,
        "the proxy read all 100 MiB ({sent} bytes)"
    );

    assert_eq!(
        demo::add::call(&peer, 2, 3).await.expect("still serving"),
        5
    );
    assert_eq!(demo::count::call(&peer).await.expect("count"), 0);
    cluster.stop(vec![alice, bob]).await;
}

/// Large bodies share a budget. While Mallory holds most of it with a large body she
/// never finishes, another large body waits until her time is up (it cannot be read
/// before that), and small requests go on as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_share_a_bounded_budget_small_ones_are_free() {
    let mib = 1024 * 1024;
    let timeout = Duration::from_secs(2);
    // The smallest budget there is: one largest body.
    let cluster = Cluster::start_with(|c| {
        c.large_bodies = 0;
        c.read_timeout = timeout;
    })
    .await;
    let url = format!("{}/ping", cluster.url());

    // Mallory sends 1.5 MiB of a 2 MiB body, then stalls.
    let hog_started = Instant::now();
    let mut hog = connect_from(MALLORY, cluster.addr).await;
    let head = format!(
        "POST /ping HTTP/1.1\r\nHost: wtd\r\nContent-Length: {}\r\n\r\n",
        2 * mib - 1
    );
    hog.write_all(head.as_bytes()).await.expect("header");
    hog.write_all(&vec![0u8; 3 * mib / 2])
        .await
        .expect("most of the body");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A second large body needs budget Mallory holds: it is read only once she is gone.
    let big = tokio::spawn({
        let url = url.clone();
        async move {
            let answer = send("POST", url, vec![0u8; mib]).await;
            (answer, Instant::now())
        }
    });
    // A small body is not held up: it is read and refused for what it is.
    let (status, text) = send("POST", url.clone(), vec![0xff; 100]).await;
    assert_eq!(status, 400, "{text}");
    assert!(
        !big.is_finished(),
        "the large body did not wait for the budget"
    );

    assert_eq!(read_status(&mut hog).await, 408);
    let ((status, text), done) = big.await.expect("joined");
    assert_eq!(
        status, 400,
        "read whole, then refused as not a ping: {text}"
    );
    assert!(
        done >= hog_started + timeout,
        "the large body was read after {:?}, before Mallory's budget came back",
        done - hog_started
    );
    cluster.stop(vec![]).await;
}

/// Eve signs requests as fast as four threads can for 1.5 s. The proxy lets through her
/// per-node rate and refuses the rest with 429; Alice and Bob's calls all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_flooding_the_proxy_is_limited_and_others_are_not() {
    let rate = 50;
    let cluster = Cluster::start_with(|c| c.node_rate = rate).await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (_, peer) = cluster.grant(&alice, &bob, &["demo"], "1000/s");
    let eve = unique("eve");
    let eve_key = register_by_hand(&cluster.url(), &eve).await;

    let counter = Arc::new(AtomicU64::new(now_ms() * 1000));
    let flood_for = Duration::from_millis(1500);
    let flood_started = Instant::now();
    let mut threads = Vec::new();
    for _ in 0..4 {
        let (url, eve, key, counter) =
            (cluster.url(), eve.clone(), eve_key.clone(), counter.clone());
        threads.push(std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(5)))
                .build()
                .into();
            let (mut ok, mut limited, mut other) = (0u64, 0u64, 0u64);
            let started = Instant::now();
            while started.elapsed() < flood_for {
                let hop = Hop {
                    node: eve.clone(),
                    route: Route::Ping,
                    counter: counter.fetch_add(1, Ordering::Relaxed),
                    issued_at_ms: now_ms(),
                    body: encode(&empty_ping()),
                };
                let body = Signed::sign(domain::HOP, &hop, &key).to_bytes();
                match agent.post(format!("{url}/ping")).send(&body[..]) {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(r) if r.status() == 429 => limited += 1,
                    _ => other += 1,
                }
            }
            (ok, limited, other)
        }));
    }

    // Meanwhile Bob calls Alice, at a pace well within their own rate, and every call
    // succeeds.
    let mut calls = 0u64;
    let started = Instant::now();
    while started.elapsed() < flood_for {
        calls += 1;
        assert_eq!(demo::incr::call(&peer).await.expect("unaffected"), calls);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (mut ok, mut limited, mut other) = (0, 0, 0);
    for thread in threads {
        let (o, l, x) = thread.join().expect("flooder");
        (ok, limited, other) = (ok + o, limited + l, other + x);
    }
    // The threads may overrun `flood_for` by one request each; count the time taken.
    let seconds = flood_started.elapsed().as_secs_f64();
    println!(
        "flood: {:.0} requests/s from eve: {ok} accepted, {limited} refused (429), {other} other; \
         bob made {calls} calls meanwhile",
        (ok + limited + other) as f64 / seconds
    );
    assert!(limited > 0, "nothing was limited: {ok} accepted");
    // The limiter allows `rate` per second plus one second's burst.
    let allowed = (f64::from(rate) * (seconds + 1.0)).ceil() as u64 + 10;
    assert!(ok <= allowed, "{ok} accepted, at most {allowed} allowed");
    assert_eq!(other, 0, "errors other than the limit");
    assert!(calls > 0);
    cluster.stop(vec![alice, bob]).await;
}

/// `/apply` needs no key, so one address gets a few waiting slots and a rate of its own:
/// past them it gets 429 at once, and Bob's node, talking through its own signed route,
/// is not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_apply_slot() {
    let cluster = Cluster::start_with(|c| {
        c.applies_per_client = 2;
        c.apply_rate_per_client = 5;
    })
    .await;
    let alice = cluster.node(&unique("alice"), &["demo", "lab"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (_, peer) = cluster.grant(&alice, &bob, &["demo", "lab"], "1000/s");
    let slow = |ms: u64| {
        let args = encode(&ms);
        peer.sign_call(
            "lab",
            "lab",
            "sleep_ms",
            wtd::wire::Encoding::Postcard,
            args,
            true,
        )
        .expect("signed")
    };
    let url = |call: &Signed| {
        let c = call.peek::<wtd::wire::Call>().expect("call");
        format!("{}/apply/{}/{}", cluster.url(), c.callee, c.path())
    };

    // Two slow calls hold this address's two slots; a third request is turned away at
    // once. The third is junk, which takes a slot only for the moment it is read, so it
    // can be tried until both slow calls have arrived (at most 2.5 s).
    let (first, second) = (slow(3000), slow(3000));
    let held: Vec<_> = [first, second]
        .into_iter()
        .map(|call| tokio::spawn(send("PUT", url(&call), call.to_bytes())))
        .collect();
    let junk_url = format!("{}/apply/{}/lab/lab/nop", cluster.url(), alice.name());
    let deadline = Instant::now() + Duration::from_millis(2500);
    let (status, text) = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (status, text) = send("PUT", junk_url.clone(), vec![0xff; 8]).await;
        if status == 429 || Instant::now() >= deadline {
            break (status, text);
        }
    };
    assert_eq!(status, 429, "{text}");
    assert!(text.contains("already has 2 calls waiting"), "{text}");

    // Bob's node is not held up meanwhile.
    assert_eq!(demo::add::call(&peer, 2, 2).await.expect("unaffected"), 4);
    for held in held {
        assert_eq!(held.await.expect("joined").0, 200);
    }

    // The rate counts junk too: a burst of twice the rate, then 429.
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(send("PUT", junk_url.clone(), vec![0xff; 8]).await.0);
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited > 0, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 429),
        "{statuses:?}"
    );
    cluster.stop(vec![alice, bob]).await;
}

/// Mission and function names with control characters, bidi overrides, markup or
/// look-alike letters are refused when a node offers them; the directory (JSON and page)
/// never shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_named_outside_the_alphabet_never_reach_the_directory() {
    let cluster = Cluster::start().await;
    let url = cluster.url();
    let eve = unique("eve");
    let key = register_by_hand(&url, &eve).await;
    let bad_offers = [
        offer("\u{1b}[2Jdemo", "demo/add"),
        offer("de\u{202e}om", "demo/add"),
        offer("<script>", "demo/add"),
        offer("d\u{0435}mo", "demo/add"), // Cyrillic е
        offer("demo", "demo/ad\u{1b}[31md"),
        offer("demo", "demo/<b>add"),
        offer("demo", "de\u{202e}mo/add"),
        offer("demo", "demo/a\u{0}dd"),
    ];
    for bad in &bad_offers {
        let (status, text) = ping_by_hand(&url, &eve, &key, vec![bad.clone()]).await;
        assert_eq!(status, 400, "{bad:?} accepted: {text}");
    }

    // The same node with a good offer is listed, so the refusals were about the names.
    let (status, text) = ping_by_hand(&url, &eve, &key, vec![offer("demo", "demo/add")]).await;
    assert_eq!(status, 200, "{text}");
    let json = send_get(format!("{url}/api/directory")).await;
    assert!(json.contains(&eve), "{json}");
    // The dashboard's data, sampled when the directory changes.
    let page = eventually(Duration::from_secs(5), || async {
        let stats = send_get(format!("{url}/api/stats")).await;
        stats.contains(&eve).then_some(stats)
    })
    .await
    .expect("eve is in /api/stats");
    for shown in [&json, &page] {
        for bad in [
            "\u{1b}", "\u{202e}", "<script>", "<b>", "\u{0435}", "\\u001b", "\\u202e",
        ] {
            assert!(!shown.contains(bad), "{bad:?} shown in {shown}");
        }
    }
    cluster.stop(vec![]).await;
}

/// Mallory's address: another loopback address, so her connections count apart from
/// Alice's and Bob's (127.0.0.1).
const MALLORY: [u8; 4] = [127, 0, 0, 2];

/// A TCP connection to `addr` from the loopback address `from`.
async fn connect_from(from: [u8; 4], addr: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    socket.connect(addr).await.expect("connect")
}

fn offer(mission: &str, function: &str) -> Offer {
    Offer {
        mission: mission.to_string(),
        functions: vec![function.to_string()],
        behaviours: Vec::new(),
    }
}

async fn ping_by_hand(
    url: &str,
    node: &str,
    key: &SigningKey,
    offers: Vec<Offer>,
) -> (u16, String) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let ping = Ping {
        offers,
        accepts: vec![],
        known_version: 0,
        follows: vec![],
    };
    let hop = Hop {
        node: node.to_string(),
        route: Route::Ping,
        counter: now_ms() * 1000 + NEXT.fetch_add(1, Ordering::Relaxed),
        issued_at_ms: now_ms(),
        body: encode(&ping),
    };
    let body = Signed::sign(domain::HOP, &hop, key).to_bytes();
    send("POST", format!("{url}/ping"), body).await
}

async fn send_get(url: String) -> String {
    tokio::task::spawn_blocking(move || {
        let mut response = ureq::get(&url).call().expect("the proxy answers");
        response.body_mut().read_to_string().expect("text")
    })
    .await
    .expect("joined")
}

async fn read_status(tcp: &mut TcpStream) -> u16 {
    read_status_from(tcp).await
}

/// Reads an HTTP/1.1 status line (at most 5 s); 0 if the connection closed first.
async fn read_status_from(reader: &mut (impl AsyncReadExt + Unpin)) -> u16 {
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + Duration::from_secs(5);
    while !head.windows(2).any(|w| w == b"\r\n") && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), reader.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
