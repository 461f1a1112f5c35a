//! gen_servers called from another node: a `Counter` exposed with
//! `#[wtd_behaviour(counting, name = "counter")]` on Alice's node, called by Bob through
//! the real proxy, with the same grants, limits, replay protection and refusals as
//! exported functions.

use std::time::Duration;

use wtd::Error;
use wtd::gen_server;
use wtd::wire::{Encoding, Target};
use wtd_examples::counting::{Counter, CounterCall, CounterCast, Vault};

use crate::harness::{Cluster, apply, as_u64, eventually};

/// A call of `counting/counter@{instance}`, signed by `peer` and not sent.
fn counter_call(peer: &wtd::Peer, instance: &str, call: &CounterCall) -> wtd::wire::Signed {
    let target = Target::Behaviour {
        mission: "counting".into(),
        behaviour: "counter".into(),
        instance: instance.into(),
    };
    peer.sign_target(target, Encoding::Postcard, wtd::wire::encode(call), true)
        .expect("signed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bob_calls_and_casts_to_a_counter_on_alices_node() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["counting"], &["counting"], "100/s").await;
    gen_server::start_named(alice.processes(), "main", Counter::default())
        .await
        .expect("started");

    let counter = Counter::remote(&peer, "main");
    assert_eq!(counter.path(), "counting/counter@main");
    assert_eq!(counter.call(CounterCall::Incr(2)).await.expect("incr"), 2);
    assert_eq!(counter.call(CounterCall::Incr(3)).await.expect("incr"), 5);

    counter
        .cast(CounterCast::Add(10))
        .await
        .expect("cast queued");
    let seen = eventually(Duration::from_secs(5), || async {
        let n = counter.call(CounterCall::Get).await.expect("get");
        (n == 15).then_some(n)
    })
    .await;
    assert_eq!(seen, Some(15), "the cast reached the server");

    // The directory lists the behaviour Alice offers.
    let offered = eventually(Duration::from_secs(5), || async {
        let directory = bob.directory();
        let entry = directory.nodes.iter().find(|n| n.name == alice.name())?;
        let offer = entry.offers.iter().find(|o| o.mission == "counting")?;
        Some(offer.behaviours.clone())
    })
    .await;
    assert_eq!(offered, Some(vec!["counter".to_string()]));
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_times_out_at_the_peers_timeout() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["counting"], &["counting"], "100/s").await;
    gen_server::start_named(alice.processes(), "main", Counter::default())
        .await
        .expect("started");
    let counter = Counter::remote(&peer, "main").with_timeout(Duration::from_millis(400));
    let err = counter
        .call(CounterCall::SlowGet(3_000))
        .await
        .expect_err("too slow");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_instance_or_behaviour_is_refused_by_name() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["counting"], &["counting"], "100/s").await;
    let err = Counter::remote(&peer, "nobody")
        .call(CounterCall::Get)
        .await
        .expect_err("no such instance");
    assert!(
        matches!(&err, Error::NoSuchInstance { path, .. } if path == "counting/counter@nobody"),
        "{err}"
    );

    let err = peer
        .call_json("counting/counting::Nothing@main", r#""Get""#)
        .await
        .expect_err("no such behaviour");
    assert!(matches!(err, Error::NoSuchBehaviour { .. }), "{err}");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_server_not_exposed_by_a_behaviour_is_unreachable() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["counting"], &["counting"], "100/s").await;
    // `Vault` takes the same messages as `Counter`, but carries no `#[wtd_behaviour]`.
    let vault = gen_server::start_named(alice.processes(), "vault", Vault::default())
        .await
        .expect("started");

    // Asked as a counter, the name belongs to a server of another type.
    let err = Counter::remote(&peer, "vault")
        .call(CounterCall::Incr(1))
        .await
        .expect_err("not a counter");
    assert!(matches!(err, Error::NoSuchInstance { .. }), "{err}");
    // Named by its own type, it is not a behaviour at all.
    let err = peer
        .call_json("counting/counting::Vault@vault", r#""Get""#)
        .await
        .expect_err("not exposed");
    assert!(matches!(err, Error::NoSuchBehaviour { .. }), "{err}");

    assert_eq!(
        vault.call(CounterCall::Get).await.expect("local"),
        1,
        "never ran remotely"
    );
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_and_a_foreign_mission_are_refused() {
    let (cluster, alice, bob, peer) =
        Cluster::pair(&["counting", "demo"], &["demo"], "100/s").await;
    gen_server::start_named(alice.processes(), "main", Counter::default())
        .await
        .expect("started");
    let err = Counter::remote(&peer, "main")
        .call(CounterCall::Incr(1))
        .await
        .expect_err("key is for demo");
    assert!(matches!(err, Error::WrongMission { .. }), "{err}");

    let (_, counting) = cluster.grant(&alice, &bob, &["counting"], "100/s");
    let counter = Counter::remote(&counting, "main");
    assert_eq!(
        counter.call(CounterCall::Incr(1)).await.expect("granted"),
        1
    );
    alice.revoke(bob.name()).expect("revoked");
    let err = counter
        .call(CounterCall::Incr(1))
        .await
        .expect_err("revoked");
    assert!(matches!(err, Error::Revoked { .. }), "{err}");
    let local =
        gen_server::ServerRef::<Counter>::whereis(alice.processes(), "main").expect("found");
    assert_eq!(local.call(CounterCall::Get).await.expect("local"), 1);
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_past_the_rate_limit_are_refused_and_do_not_run() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["counting"], &["counting"], "3/s").await;
    let local = gen_server::start_named(alice.processes(), "main", Counter::default())
        .await
        .expect("started");
    let counter = Counter::remote(&peer, "main");
    let mut limited = 0;
    for _ in 0..6 {
        match counter.call(CounterCall::Incr(1)).await {
            Ok(_) => {}
            Err(Error::RateLimited { .. }) => limited += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(limited >= 2, "{limited} of 6 calls refused");
    assert_eq!(
        local.call(CounterCall::Get).await.expect("local"),
        6 - limited,
        "refused calls never ran"
    );
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_behaviour_call_replayed_is_refused_and_not_run_twice() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["counting"], &["counting"], "100/s").await;
    let local = gen_server::start_named(alice.processes(), "main", Counter::default())
        .await
        .expect("started");

    let call = counter_call(&peer, "main", &CounterCall::Incr(7));
    let first = apply(&cluster, &call).await;
    assert_eq!(as_u64(&peer.open_reply(&call, &first).expect("genuine")), 7);

    let again = apply(&cluster, &call).await;
    let err = peer.open_reply(&call, &again).expect_err("replay refused");
    assert!(matches!(err, Error::Replayed { .. }), "{err}");
    assert_eq!(
        local.call(CounterCall::Get).await.expect("local"),
        7,
        "ran once"
    );
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_reaches_a_counter_and_bad_json_is_refused_in_words() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["counting"], &["counting"], "100/s").await;
    gen_server::start_named(alice.processes(), "main", Counter::default())
        .await
        .expect("started");
    let n = peer
        .call_json("counting/counter@main", r#"{"Incr": 2}"#)
        .await
        .expect("json call");
    assert_eq!(n, serde_json::json!(2));
    let err = peer
        .call_json("counting/counter@main", r#"{"Decr": 2}"#)
        .await
        .expect_err("no such message");
    assert!(matches!(err, Error::BadArguments { .. }), "{err}");
    cluster.stop(vec![alice, bob]).await;
}
