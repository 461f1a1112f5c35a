//! Replayed and altered requests, sent straight to the proxy's `/apply` route as an
//! attacker (or a script) would. Altered calls no longer get that far: the proxy checks an
//! `/apply` call's signature before it costs the callee anything (issue 16), so they are
//! also sent the way a node sends its calls, through `/tx`, where the callee refuses them.

use std::time::Duration;

use wtd::Error;
use wtd::wire::Signed;
use wtd_examples::demo;

use crate::harness::{Cluster, apply, apply_not_accepted, as_u64, sign_demo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_replayed_byte_for_byte_is_refused_and_not_run_twice() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;

    let call = sign_demo(&peer, "incr", &());
    let first = apply(&cluster, &call).await;
    assert_eq!(
        as_u64(&peer.open_reply(&call, &first).expect("genuine reply")),
        1
    );

    let again = apply(&cluster, &call).await;
    let err = peer.open_reply(&call, &again).expect_err("replay refused");
    assert!(matches!(err, Error::Replayed { .. }), "{err}");

    assert_eq!(
        demo::count::call(&peer).await.expect("count"),
        1,
        "incr ran twice"
    );
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_with_one_flipped_byte_is_refused() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let call = sign_demo(&peer, "add", &(2i64, 3i64));

    // One bit of the last argument byte: the signature no longer covers the body.
    let mut body = call.body.clone();
    let last = body.len() - 1;
    body[last] ^= 0x01;
    let tampered = Signed {
        version: call.version,
        body,
        signature: call.signature.clone(),
    };
    apply_not_accepted(&cluster, &tampered).await;
    let err = peer.send_signed(tampered).await.expect_err("refused");
    assert!(
        matches!(&err, Error::BadSignature { who } if who.contains(alice.name())),
        "alice refused it: {err}"
    );

    // One bit of the signature itself.
    let mut signature = call.signature.clone();
    signature[10] ^= 0x80;
    let bad_signature = Signed {
        version: call.version,
        body: call.body.clone(),
        signature,
    };
    apply_not_accepted(&cluster, &bad_signature).await;
    let err = peer.send_signed(bad_signature).await.expect_err("refused");
    assert!(
        matches!(&err, Error::BadSignature { who } if who.contains(alice.name())),
        "alice refused it: {err}"
    );

    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_url_that_does_not_match_the_signed_call_is_refused() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo", "admin"], &["demo"], "100/s").await;

    let call = sign_demo(&peer, "count", &());
    let url = format!("{}/apply/{}/admin/admin/reset", cluster.url(), alice.name());
    let status = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        agent
            .put(&url)
            .send(&call.to_bytes()[..])
            .map(|r| r.status().as_u16())
    })
    .await
    .expect("joined")
    .expect("answered");
    assert_eq!(status, 400);

    cluster.stop(vec![alice, bob]).await;
}

/// Regression: the callee's signed `BadSignature` refusal of a copy with a broken
/// signature must not pass as the answer to the genuine call (the reply's call hash
/// covers the signature too). Since issue 16 the proxy refuses the copy on `/apply`
/// before Alice sees it, so the refusal she would sign is signed here with her node key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_of_a_tampered_copy_is_not_an_answer_to_the_genuine_call() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;

    let genuine = sign_demo(&peer, "incr", &());
    let mut signature = genuine.signature.clone();
    signature[0] ^= 0x01;
    let copy = Signed {
        version: genuine.version,
        body: genuine.body.clone(),
        signature,
    };
    apply_not_accepted(&cluster, &copy).await;
    let call: wtd::wire::Call = copy.peek().expect("a call");
    let alice_key = wtd::keys::load_or_create_node_key(alice.home()).expect("alice's key");
    let refusal = Signed::sign(
        wtd::wire::domain::REPLY,
        &wtd::wire::Reply {
            callee: alice.name().to_string(),
            caller: bob.name().to_string(),
            ack: call.ack,
            call_hash: copy.envelope_hash(),
            outcome: wtd::wire::Outcome::Refused(wtd::wire::Refusal::BadSignature),
        },
        &alice_key,
    );
    let err = peer
        .open_reply(&genuine, &refusal)
        .expect_err("not an answer to the genuine call");
    assert!(
        matches!(&err, Error::BadSignature { who } if who == "this node"),
        "{err}"
    );

    // The genuine call still runs, once.
    let reply = apply(&cluster, &genuine).await;
    assert_eq!(
        as_u64(&peer.open_reply(&genuine, &reply).expect("genuine reply")),
        1
    );

    cluster.stop(vec![alice, bob]).await;
}

/// Regression: a call refused as rate-limited must never run later, even if the proxy
/// delivers the same bytes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_call_delivered_again_does_not_run() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "1/min").await;

    assert_eq!(demo::incr::call(&peer).await.expect("first"), 1);
    let call = sign_demo(&peer, "incr", &());
    let err = peer
        .open_reply(&call, &apply(&cluster, &call).await)
        .expect_err("over the rate");
    assert!(matches!(err, Error::RateLimited { .. }), "{err}");

    let err = peer
        .open_reply(&call, &apply(&cluster, &call).await)
        .expect_err("seen before");
    assert!(matches!(err, Error::Replayed { .. }), "{err}");

    // Count with another key (Bob's rate is used up): the refused call never ran.
    let key = alice.grant("auditor").mission("demo").mint().expect("mint");
    let auditor = bob.peer(&key).expect("peer");
    assert_eq!(demo::count::call(&auditor).await.expect("count"), 1);

    cluster.stop(vec![alice, bob]).await;
}

/// A node that restarts refuses calls made before it started: its replay cache is new,
/// and one of them may have run in the previous process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_made_before_a_restart_are_refused_not_run_twice() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let alice_name = alice.name().to_string();

    let call = sign_demo(&peer, "incr", &());
    assert_eq!(
        as_u64(
            &peer
                .open_reply(&call, &apply(&cluster, &call).await)
                .expect("ran")
        ),
        1
    );

    // Alice restarts on the same home folder: same key, same grants, new process state.
    alice.stop().await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let alice = cluster.node(&alice_name, &["demo"]).await;

    let err = peer
        .open_reply(&call, &apply(&cluster, &call).await)
        .expect_err("refused");
    assert!(matches!(err, Error::Restarted { .. }), "{err}");
    assert!(err.to_string().contains("call again"), "{err}");

    cluster.stop(vec![alice, bob]).await;
}
