//! Calls refused by the callee's grants: no grant, wrong mission, revoked, expired,
//! rate-limited.

use std::time::{Duration, SystemTime};

use wtd::{Error, KeyFile};
use wtd_examples::{admin, demo};

use crate::harness::{Cluster, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mallory_without_a_grant_is_denied_and_nothing_runs() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let mallory = cluster.node(&unique("mallory"), &[]).await;
    let (bobs_key, bob_peer) = cluster.grant(&alice, &bob, &["demo"], "100/s");

    // Mallory knows everything public about Alice, but signs with her own key.
    let forged = KeyFile {
        grantee: "mallory".into(),
        secret_key: wtd::keys::secret_hex(&wtd::keys::generate()),
        ..bobs_key
    };
    let peer = mallory.peer(&forged).expect("peer");
    let err = demo::incr::call(&peer).await.expect_err("no grant");
    assert!(matches!(err, Error::Denied { .. }), "{err}");
    assert_eq!(
        demo::count::call(&bob_peer).await.expect("count"),
        0,
        "incr must not have run"
    );

    cluster.stop(vec![alice, bob, mallory]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_for_one_mission_cannot_call_another() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo", "admin"], &["demo"], "100/s").await;

    let err = admin::reset::call(&peer)
        .await
        .expect_err("admin is not granted");
    match &err {
        Error::WrongMission {
            mission, granted, ..
        } => {
            assert_eq!(mission, "admin");
            assert_eq!(granted, "demo");
        }
        other => panic!("expected WrongMission, got {other}"),
    }

    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_by_rewriting_the_grants_file_applies_to_the_next_call() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    assert_eq!(demo::incr::call(&peer).await.expect("granted"), 1);

    // Another program (an editor, the CLI) rewrites the file while Alice's node runs.
    let path = alice.home().join("grants.toml");
    let text = std::fs::read_to_string(&path).expect("grants file");
    assert!(text.contains("revoked = false"), "{text}");
    std::fs::write(&path, text.replace("revoked = false", "revoked = true")).expect("rewrite");

    let err = demo::incr::call(&peer).await.expect_err("revoked");
    assert!(matches!(err, Error::Revoked { .. }), "{err}");

    // Put the grant back: the count shows the refused call never ran.
    std::fs::write(&path, text).expect("restore");
    assert_eq!(demo::count::call(&peer).await.expect("count"), 1);

    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_through_the_api_applies_to_the_next_call() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "100/s").await;
    assert_eq!(demo::add::call(&peer, 1, 2).await.expect("granted"), 3);

    assert_eq!(alice.revoke(bob.name()).expect("revoke"), 1);
    let err = demo::add::call(&peer, 1, 2).await.expect_err("revoked");
    assert!(matches!(err, Error::Revoked { .. }), "{err}");

    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_grant_is_refused() {
    let cluster = Cluster::start().await;
    let alice = cluster.node(&unique("alice"), &["demo"]).await;
    let bob = cluster.node(&unique("bob"), &[]).await;
    let key = alice
        .grant(bob.name())
        .mission("demo")
        .expires_at(SystemTime::now() + Duration::from_millis(1500))
        .mint()
        .expect("mint");
    let peer = bob.peer(&key).expect("peer");
    assert_eq!(
        demo::add::call(&peer, 1, 2).await.expect("not expired yet"),
        3
    );

    tokio::time::sleep(Duration::from_millis(1600)).await;
    let err = demo::add::call(&peer, 1, 2).await.expect_err("expired");
    assert!(
        matches!(&err, Error::Expired { what, .. } if what == "the grant"),
        "{err}"
    );

    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_then_allowed_again_after_the_period() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["demo"], &["demo"], "2/s").await;

    assert_eq!(demo::incr::call(&peer).await.expect("1st"), 1);
    assert_eq!(demo::incr::call(&peer).await.expect("2nd"), 2);
    let err = demo::incr::call(&peer)
        .await
        .expect_err("3rd is over the rate");
    let Error::RateLimited { retry_after, .. } = err else {
        panic!("expected RateLimited, got {err}");
    };
    assert!(
        retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1),
        "{retry_after:?}"
    );

    tokio::time::sleep(retry_after + Duration::from_millis(20)).await;
    assert_eq!(demo::incr::call(&peer).await.expect("allowed again"), 3);

    cluster.stop(vec![alice, bob]).await;
}
