//! Faults: a proxy killed with SIGKILL under traffic, a callee killed in the middle of a
//! call, a node killed while others follow it, a clock ten minutes off. What is killed
//! runs in a child process (`wtd-fault-child`, tests/fault_child), so it dies for real:
//! no destructor, no goodbye.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wtd::wire::{Hop, Ping, Register, Route, Signed, domain, encode, now_ms};
use wtd::{Error, KeyFile, Node, NodeConfig};
use wtd_examples::{demo, lab};

use crate::harness::{eventually, send, unique};

/// The proxy dies with SIGKILL while three callers keep calling, and starts again on the
/// same port and data folder. Every call ends within its timeout (with its result or a
/// clear error), no call runs twice, the nodes come back by themselves, and the
/// registrations survive: the names still belong to their keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_killed_under_traffic_comes_back_with_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("proxy");
    let mut proxy = ChildProcess::proxy("127.0.0.1:0", &data);
    let addr = proxy.ready.clone();
    let url = format!("http://{addr}");

    let alice = start_node(&unique("alice"), &url, dir.path(), &["demo"]).await;
    let bob = start_node(&unique("bob"), &url, dir.path(), &[]).await;
    let key = alice
        .grant(bob.name())
        .mission("demo")
        .rate("1000/s")
        .expect("rate")
        .mint()
        .expect("mint");
    let timeout = Duration::from_secs(3);
    let peer = bob.peer(&key).expect("peer").with_timeout(timeout);

    // Three callers, each calling `incr` back to back for 9 s.
    // Each caller returns (when it started, how long it took, what it got) per call.
    let mut callers = Vec::new();
    for _ in 0..3 {
        let peer = peer.clone();
        callers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            let end = Instant::now() + Duration::from_secs(9);
            while Instant::now() < end {
                let started = Instant::now();
                let result = demo::incr::call(&peer).await;
                if result.is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let took = started.elapsed();
                outcomes.push((started, took, result));
            }
            outcomes
        }));
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.kill();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _proxy = ChildProcess::proxy(&addr, &data);
    let restarted = Instant::now();
    let mut outcomes = Vec::new();
    for caller in callers {
        outcomes.extend(caller.await.expect("caller"));
    }

    let mut seen = HashSet::new();
    let mut failed = 0;
    let mut back_after = None;
    for (started, took, result) in outcomes.iter() {
        assert!(
            *took <= timeout + Duration::from_secs(2),
            "a call took {took:?}, past its {timeout:?} timeout: {result:?}"
        );
        match result {
            Ok(n) => {
                assert!(seen.insert(*n), "incr answered {n} twice: a call ran twice");
                if *started > restarted && back_after.is_none() {
                    back_after = Some(*started + *took - restarted);
                }
            }
            Err(e) => {
                failed += 1;
                // The one refusal by the proxy that belongs here: a hop signed before it
                // started again, which could be a replay (the node signs a new one).
                let restarted_proxy = |status: &u16, message: &str| {
                    *status == 401 && message.contains("before the proxy started")
                };
                assert!(
                    matches!(
                        e,
                        Error::Timeout { .. }
                            | Error::ProxyUnreachable { .. }
                            | Error::NodeDown { .. }
                    ) || matches!(e, Error::Proxy { status, message } if restarted_proxy(status, message)),
                    "not a clear error for a proxy that went away: {e:?}"
                );
            }
        }
    }
    let back_after = back_after.expect("calls succeed again after the restart");
    println!(
        "proxy killed: {} calls, {} ok, {failed} failed; down {:?}; calls succeed again {back_after:?} after the restart",
        outcomes.len(),
        seen.len(),
        restarted - killed,
    );
    assert!(
        back_after <= Duration::from_secs(5),
        "nodes took {back_after:?} to come back"
    );
    assert!(
        failed > 0,
        "the proxy's death went unnoticed: is it really killed?"
    );

    // Registrations survived: Alice's name still belongs to Alice's key.
    let mallory = wtd::keys::generate();
    let register = Register {
        name: alice.name().to_string(),
        email: String::new(),
        node_key: mallory.verifying_key().to_bytes(),
        issued_at_ms: now_ms(),
    };
    let body = Signed::sign(domain::REGISTER, &register, &mallory).to_bytes();
    let (status, text) = send("PUT", format!("{url}/nodes/{}", alice.name()), body).await;
    assert_eq!(status, 409, "{text}");
    // And the grant still works. A call whose answer was lost may have run (its outcome
    // was reported unknown), so the count is at least the answered ones.
    let count = demo::count::call(&peer).await.expect("count");
    assert!(count >= seen.len() as u64, "{count} < {}", seen.len());
    assert!(
        seen.iter().all(|n| *n <= count),
        "{count} < {:?}",
        seen.iter().max()
    );
    alice.stop().await;
    bob.stop().await;
}

/// The real proxy binary, Bob in this process, and Carol as a process of her own (so she
/// can be killed, with her name), serving Bob with the key returned. The folder and the
/// proxy live as long as the caller holds them.
async fn bob_and_carol_apart() -> (
    tempfile::TempDir,
    ChildProcess,
    Node,
    (String, ChildProcess),
    KeyFile,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let proxy = ChildProcess::proxy("127.0.0.1:0", &dir.path().join("proxy"));
    let url = format!("http://{}", proxy.ready);
    let bob = start_node(&unique("bob"), &url, dir.path(), &[]).await;
    let carol_name = unique("carol");
    let key_path = dir.path().join("bob-for-carol.wtdkey");
    let carol = ChildProcess::node(
        &carol_name,
        &url,
        &dir.path().join(&carol_name),
        bob.name(),
        &key_path,
    );
    let key = KeyFile::load(&key_path).expect("carol's key for bob");
    (dir, proxy, bob, (carol_name, carol), key)
}

/// The callee dies with SIGKILL while it runs a slow call: the caller hears NodeDown or
/// Timeout within its timeout, not never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_killed_mid_call_gives_node_down_or_timeout() {
    let (_dir, _proxy, bob, (_, mut carol), key) = bob_and_carol_apart().await;
    let timeout = Duration::from_secs(4);
    let peer = bob.peer(&key).expect("peer").with_timeout(timeout);
    assert_eq!(lab::nop::call(&peer, 7).await.expect("carol answers"), 7);

    let started = Instant::now();
    let slow = tokio::spawn({
        let peer = peer.clone();
        async move { lab::sleep_ms::call(&peer, 30_000).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    carol.kill();
    let result = slow.await.expect("joined");
    let took = started.elapsed();
    println!("callee killed mid-call: {result:?} after {took:?}");
    assert!(
        matches!(result, Err(Error::NodeDown { .. } | Error::Timeout { .. })),
        "{result:?}"
    );
    assert!(took <= timeout + Duration::from_secs(2), "took {took:?}");
    bob.stop().await;
}

/// A node killed with SIGKILL says no goodbye: it leaves the directory by itself once its
/// held receive request ends and the presence timeout passes, and a node following it hears
/// so in a receive answer. How long it took is printed (docs/PROTOCOL.md gives the bound:
/// the poll's 20 s plus 3.5 s at most).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_leaves_the_directory_and_its_followers_hear_it() {
    let (_dir, _proxy, bob, (carol_name, mut carol), key) = bob_and_carol_apart().await;
    // Holding a peer for Carol, Bob follows her.
    let _peer = bob.peer(&key).expect("peer");
    let listed = eventually(Duration::from_secs(10), || async {
        let directory = bob.directory();
        directory
            .nodes
            .iter()
            .any(|n| n.name == carol_name)
            .then_some(())
    })
    .await;
    assert!(listed.is_some(), "bob never heard that carol is online");

    carol.kill();
    let killed = Instant::now();
    let gone = eventually(Duration::from_secs(40), || async {
        (!bob.lists(&carol_name)).then_some(())
    })
    .await;
    println!(
        "a killed node left its follower's directory after {:?}",
        killed.elapsed()
    );
    assert!(gone.is_some(), "carol, killed, stayed in bob's directory");
    bob.stop().await;
}

/// A node whose clock is ten minutes off cannot register, ping or call, and every refusal
/// says it is the clock (the call case is in `adversarial`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_ten_minutes_off_is_named_in_the_refusal() {
    let cluster = crate::harness::Cluster::start().await;
    let url = cluster.url();
    let ten_minutes = 10 * 60 * 1000;
    for (skewed, way) in [
        (now_ms() + ten_minutes, "ahead of"),
        (now_ms() - ten_minutes, "behind"),
    ] {
        let name = unique("late");
        let key = wtd::keys::generate();
        let register = Register {
            name: name.clone(),
            email: String::new(),
            node_key: key.verifying_key().to_bytes(),
            issued_at_ms: skewed,
        };
        let body = Signed::sign(domain::REGISTER, &register, &key).to_bytes();
        let (status, text) = send("PUT", format!("{url}/nodes/{name}"), body).await;
        assert!(status == 400 || status == 401, "{status} {text}");
        assert!(
            text.contains("clock is 59") || text.contains("clock is 60"),
            "{text}"
        );
        assert!(text.contains(way) && text.contains("NTP"), "{text}");

        // Registered with a right clock, then pinging with a wrong one.
        let register = Register {
            issued_at_ms: now_ms(),
            ..register
        };
        let body = Signed::sign(domain::REGISTER, &register, &key).to_bytes();
        assert_eq!(
            send("PUT", format!("{url}/nodes/{name}"), body).await.0,
            200
        );
        let hop = Hop {
            node: name.clone(),
            route: Route::Ping,
            counter: now_ms() * 1000,
            issued_at_ms: skewed,
            body: encode(&Ping {
                offers: vec![],
                accepts: vec![],
                known_version: 0,
                follows: vec![],
            }),
        };
        let body = Signed::sign(domain::HOP, &hop, &key).to_bytes();
        let (status, text) = send("POST", format!("{url}/ping"), body).await;
        assert_eq!(status, 401, "{text}");
        assert!(text.contains(way) && text.contains("NTP"), "{text}");
    }
    cluster.stop(vec![]).await;
}

async fn start_node(name: &str, url: &str, dir: &Path, missions: &[&str]) -> Node {
    let config = NodeConfig::new(name, url, dir.join(name)).serve(missions);
    Node::start(config).await.expect("node starts")
}

/// A child process (`wtd-fault-child`, tests/fault_child) running one role; killed when
/// dropped.
struct ChildProcess {
    child: Child,
    /// What the child printed when it was ready (the proxy: its address).
    ready: String,
}

impl ChildProcess {
    fn proxy(listen: &str, data: &Path) -> ChildProcess {
        ChildProcess::start(&[
            ("WTD_TEST_CHILD", "proxy"),
            ("WTD_TEST_LISTEN", listen),
            ("WTD_TEST_DATA", &data.display().to_string()),
        ])
    }

    fn node(name: &str, proxy: &str, home: &Path, grantee: &str, key_out: &Path) -> ChildProcess {
        ChildProcess::start(&[
            ("WTD_TEST_CHILD", "node"),
            ("WTD_TEST_NAME", name),
            ("WTD_TEST_PROXY", proxy),
            ("WTD_TEST_HOME", &home.display().to_string()),
            ("WTD_TEST_GRANTEE", grantee),
            ("WTD_TEST_KEY_OUT", &key_out.display().to_string()),
        ])
    }

    fn start(env: &[(&str, &str)]) -> ChildProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wtd-fault-child"));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("child starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(ready) = line.strip_prefix("WTD-CHILD-READY ") {
                    let _ = tx.send(ready.to_string());
                }
            }
        });
        let mut process = ChildProcess {
            child,
            ready: String::new(),
        };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(ready) => process.ready = ready,
            Err(_) => panic!("the child process did not get ready in 20 s"),
        }
        process
    }

    /// SIGKILL: no destructor runs, nothing is said to anyone.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
