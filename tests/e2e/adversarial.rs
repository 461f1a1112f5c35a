//! Attacks from the outside, each a short story: a request signed with the wrong key, a
//! forged or replayed reply, a call aimed at the wrong node or the wrong time, garbage
//! bodies and sneaky names. Each test checks the refusal *and* that nothing happened.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wtd::call::{CallSpec, sign_call};
use wtd::wire::{
    Call, Encoding, Hop, Kind, Outcome, Outgoing, Ping, Register, Reply, Route, RxBatch, RxPoll,
    Signed, Target, TxBatch, TxReply, TxStatus, domain, encode, now_ms, random_ack,
};
use wtd::{Error, KeyFile};
use wtd_examples::demo;

use crate::harness::{
    Cluster, apply, apply_not_accepted, as_u64, empty_ping, register_by_hand, send, sign_demo,
    unique,
};

/// Mallory, a registered node, tries to long-poll Alice's mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mallory_cannot_read_alices_mailbox() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let mallory = cluster.node(&unique("mallory"), &[]).await;
    let key = wtd::keys::load_or_create_node_key(mallory.home()).expect("mallory's key");
    let url = format!("{}/rx/{}", cluster.url(), alice.name());
    let poll = encode(&RxPoll {
        epoch: 0,
        ack_seq: u64::MAX,
        wait_ms: 0,
        known_version: 0,
    });

    // Claiming to be Alice, signed with Mallory's key.
    let as_alice = Signed::sign(
        domain::HOP,
        &hop(alice.name(), Route::Rx, poll.clone()),
        &key,
    );
    let (status, text) = send("POST", url.clone(), as_alice.to_bytes()).await;
    assert_eq!(status, 401, "{text}");

    // Honest about being Mallory, but at Alice's address.
    let as_mallory = Signed::sign(domain::HOP, &hop(mallory.name(), Route::Rx, poll), &key);
    let (status, text) = send("POST", url, as_mallory.to_bytes()).await;
    assert_eq!(status, 403, "{text}");

    // Alice's mailbox still delivers to Alice.
    assert_eq!(demo::incr::call(&peer).await.expect("alice receives"), 1);
    cluster.stop(vec![alice, bob, mallory]).await;
}

/// Mallory pings and says goodbye in Alice's name, signing with her own key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_bye_in_alices_name_are_refused() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let mallory = cluster.node(&unique("mallory"), &[]).await;
    let key = wtd::keys::load_or_create_node_key(mallory.home()).expect("mallory's key");

    // A ping offering nothing would wipe Alice's missions from the directory.
    let empty = encode(&Ping {
        offers: vec![],
        accepts: vec![],
        known_version: 0,
        follows: vec![],
    });
    let ping = Signed::sign(domain::HOP, &hop(alice.name(), Route::Ping, empty), &key);
    let (status, text) = send("POST", format!("{}/ping", cluster.url()), ping.to_bytes()).await;
    assert_eq!(status, 401, "{text}");

    // A goodbye would take her offline and drop her mailbox.
    let bye = Signed::sign(domain::HOP, &hop(alice.name(), Route::Bye, vec![]), &key);
    let (status, text) = send("POST", format!("{}/bye", cluster.url()), bye.to_bytes()).await;
    assert_eq!(status, 401, "{text}");

    let entry = directory_entry(&cluster, alice.name())
        .await
        .expect("alice still listed");
    assert_eq!(entry["missions"][0]["mission"], "demo", "{entry}");
    assert_eq!(
        demo::add::call(&peer, 2, 3).await.expect("still answers"),
        5
    );
    cluster.stop(vec![alice, bob, mallory]).await;
}

/// Bob's key for Alice, used against Carol: Carol never granted it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_for_alice_does_not_work_on_carol() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let carol = cluster.node(&unique("carol"), &["demo"]).await;
    let (key, peer) = cluster.grant(&alice, &bob, &["demo"], "100/s");

    // Signed properly, but addressed to Carol.
    let capability = key.signing_key().expect("bob's key for alice");
    let spec = CallSpec {
        mission: "demo",
        module: "demo",
        function: "incr",
        encoding: Encoding::Postcard,
        args: encode(&()),
        want_reply: true,
    };
    let for_carol = sign_call(
        &capability,
        bob.name(),
        carol.name(),
        Duration::from_secs(5),
        spec,
    )
    .expect("signed");
    // Carol never announced Bob's key: the proxy refuses it before it costs her anything
    // (issue 16); sent the way Bob's node sends calls, Carol herself refuses it.
    apply_not_accepted(&cluster, &for_carol).await;
    let bob_for_carol = KeyFile {
        node: carol.name().to_string(),
        node_public_key: carol
            .public_key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        ..key.clone()
    };
    let err = bob
        .peer(&bob_for_carol)
        .expect("a peer for carol")
        .send_signed(for_carol)
        .await
        .expect_err("not granted");
    assert!(
        matches!(&err, Error::Denied { node } if node == carol.name()),
        "{err}"
    );

    // A genuine call for Alice, sent to Carol's URL: the proxy refuses to reroute it.
    let for_alice = sign_demo(&peer, "incr", &());
    let url = format!("{}/apply/{}/demo/demo/incr", cluster.url(), carol.name());
    let (status, text) = send("PUT", url, for_alice.to_bytes()).await;
    assert_eq!(status, 400, "{text}");

    // Nothing ran on Carol; the call for Alice was never delivered, so it still runs once.
    let (_, carol_peer) = cluster.grant(&carol, &bob, &["demo"], "100/s");
    assert_eq!(demo::count::call(&carol_peer).await.expect("count"), 0);
    let reply = apply(&cluster, &for_alice).await;
    assert_eq!(
        as_u64(&peer.open_reply(&for_alice, &reply).expect("ran")),
        1
    );
    cluster.stop(vec![alice, bob, carol]).await;
}

/// A proxy that answers a call itself, with a reply that names the call exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_forged_by_the_proxy_is_refused() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let call = sign_demo(&peer, "incr", &());
    let ack = call.peek::<Call>().expect("a call").ack;
    let forged = Reply {
        callee: alice.name().to_string(),
        caller: bob.name().to_string(),
        ack,
        call_hash: call.envelope_hash(),
        outcome: Outcome::Ok(encode(&999u64)),
    };

    // Signed by a stranger's key.
    let stranger = Signed::sign(domain::REPLY, &forged, &wtd::keys::generate());
    let err = peer.open_reply(&call, &stranger).expect_err("forged");
    assert!(
        matches!(&err, Error::BadSignature { who } if who == "this node"),
        "{err}"
    );

    // Signed by Alice's real key, but for another purpose (a call, not a reply).
    let alices = wtd::keys::load_or_create_node_key(alice.home()).expect("alice's key");
    let other_domain = Signed::sign(domain::CALL, &forged, &alices);
    let err = peer
        .open_reply(&call, &other_domain)
        .expect_err("wrong tag");
    assert!(
        matches!(&err, Error::BadSignature { who } if who == "this node"),
        "{err}"
    );

    // The real answer is still Alice's.
    let reply = apply(&cluster, &call).await;
    assert_eq!(as_u64(&peer.open_reply(&call, &reply).expect("genuine")), 1);
    cluster.stop(vec![alice, bob]).await;
}

/// A genuine reply, shown again as the answer to a later call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_reply_does_not_answer_another_call() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let first = sign_demo(&peer, "incr", &());
    let first_reply = apply(&cluster, &first).await;
    assert_eq!(
        as_u64(&peer.open_reply(&first, &first_reply).expect("genuine")),
        1
    );

    let second = sign_demo(&peer, "incr", &());
    let err = peer
        .open_reply(&second, &first_reply)
        .expect_err("answers another call");
    assert!(
        matches!(&err, Error::BadSignature { who } if who == "this node"),
        "{err}"
    );

    // The second call has its own answer when it really runs.
    let second_reply = apply(&cluster, &second).await;
    assert_eq!(
        as_u64(&peer.open_reply(&second, &second_reply).expect("genuine")),
        2
    );
    cluster.stop(vec![alice, bob]).await;
}

/// Calls signed with a valid key but dated ten minutes away from now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_dated_far_from_now_are_refused_as_clock_skew() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (key, peer) = cluster.grant(&alice, &bob, &["demo"], "100/s");
    let ten_minutes = 10 * 60 * 1000;

    let future = dated_call(&key, bob.name(), now_ms() + ten_minutes);
    let err = peer
        .open_reply(&future, &apply(&cluster, &future).await)
        .expect_err("from the future");
    assert!(
        matches!(err, Error::ClockSkew { skew_ms, .. } if skew_ms < -500_000),
        "{err}"
    );

    let past = dated_call(&key, bob.name(), now_ms() - ten_minutes);
    let err = peer
        .open_reply(&past, &apply(&cluster, &past).await)
        .expect_err("from the past");
    assert!(
        matches!(err, Error::ClockSkew { skew_ms, .. } if skew_ms > 500_000),
        "{err}"
    );

    assert_eq!(demo::count::call(&peer).await.expect("count"), 0);
    cluster.stop(vec![alice, bob]).await;
}

/// The all-zero ack is what a version refusal carries; a `/apply` waiting on it could be
/// handed another call's refusal, so the proxy refuses such a call outright.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_call_with_the_reserved_all_zero_ack_is_refused() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (key, peer) = cluster.grant(&alice, &bob, &["demo"], "100/s");

    let capability = key.signing_key().expect("capability key");
    let mut call: Call = dated_call(&key, bob.name(), now_ms())
        .peek()
        .expect("a call");
    call.ack = [0; 16];
    let signed = Signed::sign(domain::CALL, &call, &capability);
    let url = format!("{}/apply/{}/{}", cluster.url(), alice.name(), call.path());
    let (status, body) = send("PUT", url, signed.to_bytes()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("all-zero ack is reserved"), "{body}");

    assert_eq!(demo::count::call(&peer).await.expect("count"), 0);
    cluster.stop(vec![alice, bob]).await;
}

/// Garbage at every route, outside and inside a well-signed hop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_refused_at_every_route() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let url = cluster.url();
    let valid = sign_demo(&peer, "incr", &()).to_bytes();
    let garbage: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("0xff", vec![0xff; 64]),
        // (Long enough that no message of four small fields reads it whole: an `RxPoll`.)
        (
            "huge length",
            vec![0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3, 4],
        ),
        (
            "huge u64 length",
            vec![0xff; 9].into_iter().chain([1, 7]).collect(),
        ),
    ];

    let routes = [
        ("POST", format!("{url}/ping")),
        ("POST", format!("{url}/bye")),
        ("POST", format!("{url}/tx/{}", bob.name())),
        ("POST", format!("{url}/rx/{}", alice.name())),
        ("PUT", format!("{url}/nodes/{}", unique("eve"))),
        (
            "PUT",
            format!("{url}/apply/{}/demo/demo/incr", alice.name()),
        ),
    ];
    for (method, target) in &routes {
        for (what, body) in &garbage {
            let (status, text) = send(method, target.clone(), body.clone()).await;
            assert!(
                status == 400 || status == 413,
                "{what} to {method} {target}: {status} {text}"
            );
        }
    }

    // Eve registers for real, then signs hops whose inner message is garbage.
    let eve = unique("eve");
    let key = wtd::keys::generate();
    let register = Register {
        name: eve.clone(),
        email: "eve@example.invalid".into(),
        node_key: key.verifying_key().to_bytes(),
        issued_at_ms: now_ms(),
    };
    let body = Signed::sign(domain::REGISTER, &register, &key).to_bytes();
    let (status, text) = send("PUT", format!("{url}/nodes/{eve}"), body).await;
    assert_eq!(status, 200, "{text}");
    let inner = [
        (Route::Ping, format!("{url}/ping")),
        (Route::Tx, format!("{url}/tx/{eve}")),
        (Route::Rx, format!("{url}/rx/{eve}")),
    ];
    for (route, target) in &inner {
        for (what, body) in &garbage {
            let signed = Signed::sign(domain::HOP, &hop(&eve, *route, body.clone()), &key);
            let (status, text) = send("POST", target.clone(), signed.to_bytes()).await;
            assert!(
                status == 400 || status == 413,
                "signed {what} to {target}: {status} {text}"
            );
        }
    }

    // Still serving, nothing ran, and Eve's own well-formed ping passes.
    assert_eq!(demo::add::call(&peer, 2, 3).await.expect("add"), 5);
    assert_eq!(demo::count::call(&peer).await.expect("count"), 0);
    let ping = Signed::sign(
        domain::HOP,
        &hop(&eve, Route::Ping, encode(&empty_ping())),
        &key,
    );
    let (status, text) = send("POST", format!("{url}/ping"), ping.to_bytes()).await;
    assert_eq!(status, 200, "{text}");
    cluster.stop(vec![alice, bob]).await;
}

/// Names that look like Alice, hide control characters, or climb out of a folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_names_outside_the_alphabet_are_refused() {
    let cluster = Cluster::start().await;
    let url = cluster.url();
    let bad = [
        "ALICE".to_string(),
        "al\u{202e}ecila".to_string(),
        "al\nice".to_string(),
        "alice\0".to_string(),
        "../../etc".to_string(),
        "\u{ff41}lice".to_string(),
        "a".repeat(65),
    ];
    for name in &bad {
        let (register, ping) = register_and_ping(&url, name).await;
        assert_eq!(register.0, 400, "register {name:?}: {}", register.1);
        assert_eq!(ping.0, 404, "{name:?} must not be known: {}", ping.1);
    }

    // The same steps with a good name work, so the refusals above are about the names.
    let good = unique("zed");
    let (register, ping) = register_and_ping(&url, &good).await;
    assert_eq!(register.0, 200, "{}", register.1);
    assert_eq!(ping.0, 200, "{}", ping.1);

    let names = directory_names(&cluster).await;
    assert!(names.contains(&good), "{names:?}");
    for name in &bad {
        assert!(!names.contains(name), "{name:?} listed: {names:?}");
    }
    cluster.stop(vec![]).await;
}

/// A long-poll abandoned mid-way loses nothing: what it carried comes again on the next
/// poll, until the node acknowledges it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_an_abandoned_long_poll_come_again() {
    let (cluster, alice, bob, _) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let url = cluster.url();

    // Eve is a node written by hand: registered and online, polling herself.
    let eve_name = unique("eve");
    let eve = register_by_hand(&url, &eve_name).await;
    let ping = Signed::sign(
        domain::HOP,
        &hop(&eve_name, Route::Ping, encode(&empty_ping())),
        &eve,
    );
    assert_eq!(
        send("POST", format!("{url}/ping"), ping.to_bytes()).await.0,
        200
    );

    // Someone sends Eve a call through /apply (its answer does not matter here), with a
    // key Eve announces, so that the proxy lets it through to her mailbox.
    let capability = wtd::keys::generate();
    let announce = Ping {
        accepts: vec![capability.verifying_key().to_bytes()],
        ..empty_ping()
    };
    let ping = Signed::sign(
        domain::HOP,
        &hop(&eve_name, Route::Ping, encode(&announce)),
        &eve,
    );
    assert_eq!(
        send("POST", format!("{url}/ping"), ping.to_bytes()).await.0,
        200
    );
    let spec = CallSpec {
        mission: "demo",
        module: "demo",
        function: "add",
        encoding: Encoding::Postcard,
        args: encode(&(1i64, 2i64)),
        want_reply: true,
    };
    let call = sign_call(
        &capability,
        bob.name(),
        &eve_name,
        Duration::from_secs(2),
        spec,
    )
    .expect("signed");
    let waiting = {
        let (url, call) = (url.clone(), call.clone());
        tokio::task::spawn_blocking(move || {
            wtd::transport::apply(&url, &call, Duration::from_secs(4))
        })
    };

    let poll = |epoch: u64, ack_seq: u64, wait_ms: u32| {
        let body = encode(&RxPoll {
            epoch,
            ack_seq,
            wait_ms,
            known_version: 0,
        });
        let signed = Signed::sign(domain::HOP, &hop(&eve_name, Route::Rx, body), &eve);
        send_bytes(format!("{url}/rx/{eve_name}"), signed.to_bytes())
    };
    let first: RxBatch = wtd::wire::decode_exact(&poll(0, 0, 3_000).await).expect("a batch");
    assert_eq!(first.messages.len(), 1, "the call arrived");
    assert_eq!(first.messages[0].bytes, call.to_bytes());

    // Eve drops that answer on the floor and polls again without acknowledging it.
    let again: RxBatch =
        wtd::wire::decode_exact(&poll(first.epoch, 0, 3_000).await).expect("a batch");
    assert_eq!(again.messages, first.messages, "delivered again, not lost");

    // Once acknowledged, it is gone.
    let seq = first.messages[0].seq;
    let after: RxBatch =
        wtd::wire::decode_exact(&poll(first.epoch, seq, 200).await).expect("a batch");
    assert!(after.messages.is_empty(), "{after:?}");

    let _ = waiting.await;
    cluster.stop(vec![alice, bob]).await;
}

/// Mallory sends Alice a junk call that names Victor as its caller: Alice's refusal must
/// not go to Victor, or refusals from many nodes could fill his mailbox past Mallory's
/// own share of it (the review's reflection case).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_of_an_unproven_call_never_goes_to_a_caller_it_only_names() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let url = cluster.url();
    let (mallory_name, victor_name) = (unique("mallory"), unique("victor"));
    let mallory = register_by_hand(&url, &mallory_name).await;
    let victor = register_by_hand(&url, &victor_name).await;
    for (name, key) in [(&mallory_name, &mallory), (&victor_name, &victor)] {
        let ping = Signed::sign(
            domain::HOP,
            &hop(name, Route::Ping, encode(&empty_ping())),
            key,
        );
        assert_eq!(
            send("POST", format!("{url}/ping"), ping.to_bytes()).await.0,
            200
        );
    }

    // A call with a signature of garbage, naming Victor as the caller, sent by Mallory.
    let capability = wtd::keys::generate();
    let spec = CallSpec {
        mission: "demo",
        module: "demo",
        function: "incr",
        encoding: Encoding::Postcard,
        args: encode(&()),
        want_reply: true,
    };
    let mut junk = sign_call(
        &capability,
        &victor_name,
        alice.name(),
        Duration::from_secs(5),
        spec,
    )
    .expect("signed");
    junk.signature[3] ^= 0x40;
    let batch = TxBatch {
        envelopes: vec![Outgoing {
            to: alice.name().to_string(),
            kind: Kind::Call,
            ack: [7; 16],
            bytes: junk.to_bytes(),
        }],
    };
    let tx = Signed::sign(
        domain::HOP,
        &hop(&mallory_name, Route::Tx, encode(&batch)),
        &mallory,
    );
    let answer: TxReply = wtd::wire::decode_exact(
        &send_bytes(format!("{url}/tx/{mallory_name}"), tx.to_bytes()).await,
    )
    .expect("statuses");
    assert_eq!(answer.statuses, [TxStatus::Queued]);

    // Victor waits well past the time Alice takes to refuse it: nothing comes.
    let body = encode(&RxPoll {
        epoch: 0,
        ack_seq: 0,
        wait_ms: 1_500,
        known_version: 0,
    });
    let poll = Signed::sign(domain::HOP, &hop(&victor_name, Route::Rx, body), &victor);
    let got: RxBatch = wtd::wire::decode_exact(
        &send_bytes(format!("{url}/rx/{victor_name}"), poll.to_bytes()).await,
    )
    .expect("a batch");
    assert!(
        got.messages.is_empty(),
        "a refusal reached the named caller: {got:?}"
    );

    cluster.stop(vec![alice]).await;
}

/// Sends raw bytes with POST; returns the body of a 200 answer.
async fn send_bytes(url: String, body: Vec<u8>) -> Vec<u8> {
    let (status, body) = crate::harness::post_bytes(url.clone(), body).await;
    assert_eq!(status, 200, "{url}");
    body
}

/// Registers `name` with a fresh key, then pings as it; returns both (status, text).
async fn register_and_ping(url: &str, name: &str) -> ((u16, String), (u16, String)) {
    let key = wtd::keys::generate();
    let register = Register {
        name: name.to_string(),
        email: "who@example.invalid".into(),
        node_key: key.verifying_key().to_bytes(),
        issued_at_ms: now_ms(),
    };
    let body = Signed::sign(domain::REGISTER, &register, &key).to_bytes();
    let registered = send("PUT", format!("{url}/nodes/{}", percent(name)), body).await;
    let ping = Signed::sign(
        domain::HOP,
        &hop(name, Route::Ping, encode(&empty_ping())),
        &key,
    );
    let pinged = send("POST", format!("{url}/ping"), ping.to_bytes()).await;
    (registered, pinged)
}

/// A hop with a counter no other hop in this binary uses.
fn hop(node: &str, route: Route, body: Vec<u8>) -> Hop {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    Hop {
        node: node.to_string(),
        route,
        counter: now_ms() * 1000 + NEXT.fetch_add(1, Ordering::Relaxed),
        issued_at_ms: now_ms(),
        body,
    }
}

/// `demo/demo/incr` for the key file's node, signed by hand with any issued-at.
fn dated_call(key: &KeyFile, caller: &str, issued_at_ms: u64) -> Signed {
    let capability = key.signing_key().expect("capability key");
    let call = Call {
        capability: capability.verifying_key().to_bytes(),
        caller: caller.to_string(),
        callee: key.node.clone(),
        target: Target::Function {
            mission: "demo".into(),
            module: "demo".into(),
            function: "incr".into(),
        },
        encoding: Encoding::Postcard,
        want_reply: true,
        ack: random_ack(),
        issued_at_ms,
        expires_at_ms: issued_at_ms + 5_000,
        args: encode(&()),
    };
    Signed::sign(domain::CALL, &call, &capability)
}

/// Every byte outside the URL's unreserved set as `%XX`.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn directory(cluster: &Cluster) -> serde_json::Value {
    let url = format!("{}/api/directory", cluster.url());
    tokio::task::spawn_blocking(move || {
        let mut response = ureq::get(&url).call().expect("the proxy answers");
        let text = response.body_mut().read_to_string().expect("body");
        serde_json::from_str(&text).expect("json")
    })
    .await
    .expect("joined")
}

async fn directory_entry(cluster: &Cluster, name: &str) -> Option<serde_json::Value> {
    directory(cluster).await["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["name"] == name)
        .cloned()
}

async fn directory_names(cluster: &Cluster) -> Vec<String> {
    directory(cluster).await["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["name"].as_str().map(String::from))
        .collect()
}

/// A key holder sends a value nested sixty thousand levels deep to a function that
/// takes a recursive type. Decoding it naively would overflow the callee's stack and kill
/// the process; it is refused as bad arguments and the node keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_argument_is_refused_not_a_crash() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["lab"], &["lab"], "100/s").await;
    use wtd_examples::lab::{self, Expr};

    // Neg is variant 1: n levels are n bytes of 0x01, then Num(5).
    let deep = [vec![1u8; 60_000], vec![0, 10]].concat();
    let err = peer
        .call_raw("lab", "lab", "eval", Encoding::Postcard, deep)
        .await
        .expect_err("too deep");
    assert!(
        matches!(&err, Error::BadArguments { detail, .. } if detail.contains("nested deeper than 128")),
        "{err:?}"
    );

    // Still alive, and a reasonable expression still evaluates.
    let mut expr = Expr::Num(5);
    for _ in 0..50 {
        expr = Expr::Neg(Box::new(expr));
    }
    let expr = Expr::Add(Box::new(expr), Box::new(Expr::Num(1)));
    assert_eq!(lab::eval::call(&peer, expr).await.expect("evaluates"), 6);
    cluster.stop(vec![alice, bob]).await;
}

/// A ping captured on the wire is replayed after the proxy restarted (its replay window,
/// kept in memory, is new): refused, because it was signed before the proxy started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hop_captured_before_a_proxy_restart_is_not_accepted_after_it() {
    let mut cluster = Cluster::start().await;
    let url = cluster.url();
    let eve = unique("eve");
    let key = register_by_hand(&url, &eve).await;
    let captured = Signed::sign(
        domain::HOP,
        &hop(&eve, Route::Ping, encode(&empty_ping())),
        &key,
    )
    .to_bytes();
    let (status, text) = send("POST", format!("{url}/ping"), captured.clone()).await;
    assert_eq!(status, 200, "{text}");

    // Later (past the 2 s slack for clocks a little behind) the proxy restarts.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    cluster.stop_proxy().await;
    cluster.start_proxy_again().await;
    let (status, text) = send("POST", format!("{url}/ping"), captured).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("before the proxy started"), "{text}");

    // A new ping, signed now, is accepted: the node was not locked out.
    let fresh = Signed::sign(
        domain::HOP,
        &hop(&eve, Route::Ping, encode(&empty_ping())),
        &key,
    );
    let (status, text) = send("POST", format!("{url}/ping"), fresh.to_bytes()).await;
    assert_eq!(status, 200, "{text}");
    cluster.stop(vec![]).await;
}

/// A call captured once and replayed after the callee's replay cache has let its ack go
/// (35 s after it expired): refused by its date, so the cache's forgetting is safe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_replayed_after_the_replay_window_is_refused_as_expired() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (key, peer) = cluster.grant(&alice, &bob, &["demo"], "100/s");

    // Signed 40 s ago with a 5 s lifetime: the cache kept its ack until 30 s past expiry.
    let old = dated_call(&key, bob.name(), now_ms() - 40_000);
    let err = peer
        .open_reply(&old, &apply(&cluster, &old).await)
        .expect_err("expired");
    assert!(
        matches!(&err, Error::Expired { node, .. } if node == alice.name()),
        "{err}"
    );
    // The same bytes again, and a fresh call: nothing ran before the fresh one.
    let again = peer.open_reply(&old, &apply(&cluster, &old).await);
    assert!(matches!(again, Err(Error::Expired { .. })), "{again:?}");
    assert_eq!(demo::incr::call(&peer).await.expect("fresh"), 1);
    cluster.stop(vec![alice, bob]).await;
}

/// A node's signed requests to the proxy, replayed byte for byte straight to it: a send
/// carrying a call, and a goodbye. Both refused as seen before; the call ran once and
/// the node stays online.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hops_replayed_straight_to_the_proxy_are_refused() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let url = cluster.url();
    let eve = unique("eve");
    let key = register_by_hand(&url, &eve).await;
    let ping = Signed::sign(
        domain::HOP,
        &hop(&eve, Route::Ping, encode(&empty_ping())),
        &key,
    );
    assert_eq!(
        send("POST", format!("{url}/ping"), ping.to_bytes()).await.0,
        200
    );

    // Eve sends Alice a call (signed with Bob's capability: a copy Eve got hold of).
    let call = sign_demo(&peer, "incr", &());
    let batch = wtd::wire::TxBatch {
        envelopes: vec![wtd::wire::Outgoing {
            to: alice.name().to_string(),
            kind: wtd::wire::Kind::Call,
            ack: call.peek::<Call>().expect("call").ack,
            bytes: call.to_bytes(),
        }],
    };
    let tx = Signed::sign(domain::HOP, &hop(&eve, Route::Tx, encode(&batch)), &key).to_bytes();
    let tx_url = format!("{url}/tx/{eve}");
    assert_eq!(send("POST", tx_url.clone(), tx.clone()).await.0, 200);
    let (status, text) = send("POST", tx_url, tx).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("seen before"), "{text}");

    // A goodbye, replayed: refused, so Eve is still listed after it.
    let bye = Signed::sign(domain::HOP, &hop(&eve, Route::Bye, vec![]), &key).to_bytes();
    let ping = Signed::sign(
        domain::HOP,
        &hop(&eve, Route::Ping, encode(&empty_ping())),
        &key,
    );
    assert_eq!(send("POST", format!("{url}/bye"), bye.clone()).await.0, 200);
    assert_eq!(
        send("POST", format!("{url}/ping"), ping.to_bytes()).await.0,
        200
    );
    let (status, text) = send("POST", format!("{url}/bye"), bye).await;
    assert_eq!(status, 401, "{text}");
    assert!(
        directory_entry(&cluster, &eve).await.is_some(),
        "eve went offline"
    );

    // The call Eve relayed ran once: the next incr is the second.
    let ran = crate::harness::eventually(Duration::from_secs(5), || async {
        (demo::count::call(&peer).await.ok()? == 1).then_some(())
    })
    .await;
    assert!(ran.is_some(), "the relayed call ran once");
    assert_eq!(demo::incr::call(&peer).await.expect("incr"), 2);
    cluster.stop(vec![alice, bob]).await;
}
