//! Calls that succeed, and calls that fail for reasons other than permission.

use std::time::Duration;

use wtd::Error;
use wtd::audit::AuditLog;
use wtd::wire::{self, Call, Encoding, Signed, domain};
use wtd_examples::{demo, lab};

use crate::harness::{Cluster, eventually, sign_demo, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_return_results_and_side_effects_persist() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;

    assert_eq!(demo::add::call(&peer, 2, 3).await.expect("add"), 5);
    assert_eq!(
        demo::echo::call(&peer, "hé 🦀".into()).await.expect("echo"),
        "hé 🦀"
    );
    assert_eq!(demo::incr::call(&peer).await.expect("incr"), 1);
    assert_eq!(demo::incr::call(&peer).await.expect("incr"), 2);
    assert_eq!(demo::count::call(&peer).await.expect("count"), 2);

    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_fn_export_is_called_like_any_other() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;

    assert_eq!(
        demo::shout::call(&peer, "hi".into()).await.expect("shout"),
        "HI"
    );

    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_json_call_and_cast() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;

    let sum = peer
        .call_json("demo/demo/add", "[40, 2]")
        .await
        .expect("json call");
    assert_eq!(sum, serde_json::json!(42));
    let count = peer
        .call_json("demo/demo/count", "[]")
        .await
        .expect("no arguments");
    assert_eq!(count, serde_json::json!(0));

    demo::incr::cast(&peer).await.expect("cast is queued");
    let seen = eventually(Duration::from_secs(5), || async {
        (demo::count::call(&peer).await.ok()? == 1).then_some(())
    })
    .await;
    assert!(seen.is_some(), "the cast never ran");

    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_function_and_bad_arguments_are_named() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;

    let err = peer
        .call_raw(
            "demo",
            "demo",
            "subtract",
            Encoding::Postcard,
            wtd::wire::encode(&(1i64, 2i64)),
        )
        .await
        .expect_err("no such function");
    assert!(
        matches!(&err, Error::NoSuchFunction { path, .. } if path == "demo/demo/subtract"),
        "{err}"
    );

    let err = peer
        .call_raw(
            "demo",
            "demo",
            "add",
            Encoding::Postcard,
            wtd::wire::encode(&"two"),
        )
        .await
        .expect_err("a string is not two i64");
    assert!(matches!(err, Error::BadArguments { .. }), "{err}");

    let err = peer
        .call_json("demo/demo/add", r#"["two", 3]"#)
        .await
        .expect_err("bad json arguments");
    assert!(matches!(err, Error::BadArguments { .. }), "{err}");

    // Too many arguments, from a script: counted, not "trailing characters".
    let err = peer
        .call_json("demo/demo/add", "[2, 3, 4]")
        .await
        .expect_err("three arguments for two");
    assert!(
        matches!(&err, Error::BadArguments { detail, .. } if detail == "add takes 2 arguments, got 3"),
        "{err}"
    );

    assert_eq!(
        demo::add::call(&peer, 1, 1).await.expect("still serving"),
        2
    );
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_panic_is_reported_and_the_node_keeps_serving() {
    let (cluster, alice, bob, peer) =
        Cluster::pair(&["demo", "lab"], &["demo", "lab"], "100/s").await;

    let err = lab::panic_now::call(&peer, "the flux capacitor broke".into())
        .await
        .expect_err("panics");
    match &err {
        Error::RemotePanic { message, .. } => {
            assert!(message.contains("flux capacitor"), "{message}")
        }
        other => panic!("expected RemotePanic, got {other}"),
    }
    assert_eq!(
        demo::add::call(&peer, 2, 2)
            .await
            .expect("alice still serves"),
        4
    );

    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_function_times_out_with_outcome_unknown() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["lab"], &["lab"], "100/s").await;

    let impatient = peer.with_timeout(Duration::from_millis(300));
    let err = lab::sleep_ms::call(&impatient, 3_000)
        .await
        .expect_err("too slow");
    match &err {
        Error::Timeout { after, .. } => assert_eq!(*after, Duration::from_millis(300)),
        other => panic!("expected Timeout, got {other}"),
    }
    assert!(err.to_string().contains("outcome is unknown"), "{err}");
    assert_eq!(lab::sleep_ms::call(&peer, 1).await.expect("fast enough"), 1);

    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_callee_is_node_down_at_once() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    assert_eq!(demo::add::call(&peer, 2, 3).await.expect("add"), 5);

    alice.stop().await;
    let err = demo::add::call(&peer, 2, 3)
        .await
        .expect_err("alice is gone");
    assert!(
        matches!(err, Error::NodeDown { .. }),
        "refused at once, not timed out: {err}"
    );

    cluster.stop(vec![bob]).await;
}

/// The audit log is written by a thread of the node's own, but a node that stops cleanly
/// has written every call it answered: each entry is queued before its reply leaves, and
/// stopping waits for the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_answered_is_in_the_audit_log_once_the_node_has_stopped() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    let home = alice.home().to_path_buf();
    for n in 0..20 {
        assert_eq!(demo::add::call(&peer, n, 1).await.expect("add"), n + 1);
    }
    alice.stop().await;
    // Read as `wtd log` does, from the files, with no writer to wait for.
    let logged = AuditLog::new(&home)
        .read()
        .iter()
        .filter(|e| e.path == "demo/demo/add" && e.outcome == "ok")
        .count();
    assert_eq!(logged, 20);
    cluster.stop(vec![bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_another_wire_version_is_refused_by_name_not_left_to_time_out() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let (key, peer) = cluster.grant(&alice, &bob, &["demo"], "100/s");
    let peer = peer.with_timeout(Duration::from_secs(20));

    // A newer program's call: the same fields, in an envelope of the next version.
    let call: Call = sign_demo(&peer, "incr", &()).peek().expect("a call");
    let capability = key.signing_key().expect("capability key");
    let newer = Signed::sign_as(wire::PROTOCOL_VERSION + 1, domain::CALL, &call, &capability);

    let started = std::time::Instant::now();
    let err = peer.send_signed(newer).await.expect_err("refused");
    assert!(
        matches!(&err, Error::WireVersion { node, theirs } if node == alice.name() && *theirs == wire::PROTOCOL_VERSION),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade one of you"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answered, not timed out"
    );
    assert_eq!(
        demo::count::call(&peer).await.expect("count"),
        0,
        "it did not run"
    );

    cluster.stop(vec![alice, bob]).await;
}

/// An argument whose `Serialize` refuses: a map with non-string keys is fine for postcard,
/// so this one refuses on purpose.
struct Unencodable;

impl serde::Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }
}

impl<'de> serde::Deserialize<'de> for Unencodable {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Ok(Unencodable)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_that_cannot_be_encoded_are_an_error_not_an_empty_call() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;

    let err =
        wtd::__private::call_typed::<(Unencodable,), ()>(&peer, &demo::count::PATH, (Unencodable,))
            .await
            .expect_err("refused before sending");
    assert!(
        matches!(&err, Error::Invalid(m) if m.contains("arguments cannot be encoded")),
        "{err}"
    );
    assert_eq!(
        demo::count::call(&peer).await.expect("count"),
        0,
        "nothing was sent in its place"
    );

    cluster.stop(vec![alice, bob]).await;
}
