//! Supervisors asked from another node: `App` of `src/lib.rs` (module `supervision`),
//! exposed with `#[wtd_behaviour(supervision, name = "app")]` on Alice's node, asked by
//! Bob through the real proxy — which_children, count_children, terminate_child,
//! restart_child, typed and in JSON — with the same grants and revocation as any call;
//! and `cargo run --example supervision` as a new user runs it.

use std::time::Duration;

use wtd::Error;
use wtd::gen_server::ServerRef;
use wtd::supervisor::{self, ChildError, ChildKind, Restart};
use wtd_examples::supervision::{App, Doubler};

use crate::harness::{Cluster, eventually, run_example};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bob_lists_counts_terminates_and_restarts_children_on_alices_node() {
    let (cluster, alice, bob, peer) =
        Cluster::pair(&["supervision"], &["supervision"], "100/s").await;
    let local = supervisor::start_named(alice.processes(), "app", App { max_restarts: 3 })
        .await
        .expect("started");
    let first = ServerRef::<Doubler>::whereis(alice.processes(), "doubler").expect("runs");

    let app = App::remote(&peer, "app");
    assert_eq!(app.path(), "supervision/app@app");
    let children = app.which_children().await.expect("which_children");
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].id, "doubler");
    assert_eq!(children[0].kind, ChildKind::Worker);
    assert_eq!(children[0].restart, Restart::Permanent);
    assert_eq!(children[0].pid, Some(first.pid().to_string()));
    let counts = app.count_children().await.expect("count_children");
    assert_eq!((counts.specs, counts.active, counts.workers), (1, 1, 1));

    assert_eq!(
        app.restart_child("doubler").await.expect("answered"),
        Err(ChildError::Running {
            id: "doubler".into()
        })
    );
    assert_eq!(
        app.terminate_child("doubler").await.expect("answered"),
        Ok(())
    );
    assert!(!first.is_alive(), "Bob's terminate_child stopped it");
    assert_eq!(app.which_children().await.expect("asked")[0].pid, None);

    assert_eq!(
        app.restart_child("doubler").await.expect("answered"),
        Ok(())
    );
    let second = ServerRef::<Doubler>::whereis(alice.processes(), "doubler").expect("runs");
    assert_ne!(second.pid(), first.pid());
    assert_eq!(second.call(4).await.expect("works"), 8);

    assert_eq!(
        app.terminate_child("nobody").await.expect("answered"),
        Err(ChildError::NotFound {
            id: "nobody".into()
        })
    );
    assert!(local.is_alive());
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_caused_remotely_is_restarted_and_seen_remotely() {
    let (cluster, alice, bob, peer) =
        Cluster::pair(&["supervision"], &["supervision"], "100/s").await;
    supervisor::start_named(alice.processes(), "app", App { max_restarts: 3 })
        .await
        .expect("started");
    let app = App::remote(&peer, "app");
    let before = app.which_children().await.expect("asked")[0].pid.clone();
    let err = Doubler::remote(&peer, "doubler")
        .call(-1)
        .await
        .expect_err("the worker crashes");
    assert!(matches!(err, Error::ServerFailed { .. }), "{err}");
    let after = eventually(Duration::from_secs(5), || async {
        let pid = app.which_children().await.ok()?.first()?.pid.clone()?;
        (Some(&pid) != before.as_ref()).then_some(pid)
    })
    .await;
    assert!(after.is_some(), "a new worker runs");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_reaches_a_supervisor_and_bad_json_is_refused_in_words() {
    let (cluster, alice, bob, peer) =
        Cluster::pair(&["supervision"], &["supervision"], "100/s").await;
    supervisor::start_named(alice.processes(), "app", App { max_restarts: 3 })
        .await
        .expect("started");
    let children = peer
        .call_json("supervision/app@app", r#""WhichChildren""#)
        .await
        .expect("json");
    assert_eq!(children["Children"][0]["id"], "doubler", "{children}");
    let done = peer
        .call_json("supervision/app@app", r#"{"TerminateChild": "doubler"}"#)
        .await
        .expect("json");
    assert_eq!(done, serde_json::json!("Done"));
    let refused = peer
        .call_json("supervision/app@app", r#"{"RestartChild": "nobody"}"#)
        .await
        .expect("json");
    assert_eq!(refused["Refused"]["NotFound"]["id"], "nobody", "{refused}");
    let err = peer
        .call_json("supervision/app@app", r#"{"DeleteChild": "doubler"}"#)
        .await
        .expect_err("not a remote operation");
    assert!(
        matches!(&err, Error::BadArguments { .. }) && err.to_string().contains("WhichChildren"),
        "{err}"
    );
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_stops_remote_supervisor_operations() {
    let (cluster, alice, bob, peer) =
        Cluster::pair(&["supervision"], &["supervision"], "100/s").await;
    supervisor::start_named(alice.processes(), "app", App { max_restarts: 3 })
        .await
        .expect("started");
    let app = App::remote(&peer, "app");
    assert_eq!(app.count_children().await.expect("granted").active, 1);
    alice.revoke(bob.name()).expect("revoked");
    let err = app.terminate_child("doubler").await.expect_err("revoked");
    assert!(matches!(err, Error::Revoked { .. }), "{err}");
    let err = app.which_children().await.expect_err("revoked");
    assert!(matches!(err, Error::Revoked { .. }), "{err}");
    assert!(
        ServerRef::<Doubler>::whereis(alice.processes(), "doubler").is_ok_and(|d| d.is_alive()),
        "the child was not touched"
    );
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_child_with_a_key_for_another_mission_is_refused() {
    let (cluster, alice, bob, peer) =
        Cluster::pair(&["supervision", "demo"], &["demo"], "100/s").await;
    supervisor::start_named(alice.processes(), "app", App { max_restarts: 3 })
        .await
        .expect("started");
    let err = App::remote(&peer, "app")
        .terminate_child("doubler")
        .await
        .expect_err("the key is for demo");
    assert!(matches!(err, Error::WrongMission { .. }), "{err}");
    assert!(
        ServerRef::<Doubler>::whereis(alice.processes(), "doubler").is_ok_and(|d| d.is_alive()),
        "the child was not touched"
    );
    cluster.stop(vec![alice, bob]).await;
}

/// Each step of the example's story, and a phrase only that step prints.
const STEPS: [(&str, &str); 5] = [
    (
        "Bob sees the worker",
        "doubler (Worker, Permanent): <alice.",
    ),
    ("the worker works", "21 -> 42"),
    (
        "a crash is restarted",
        "the supervisor restarted it; Bob asks again:",
    ),
    (
        "the supervisor gives up",
        "the supervisor reached its restart intensity",
    ),
    ("it stops", "Everything is stopped."),
];

#[test]
fn the_supervision_example_tells_its_story() {
    let out = run_example("supervision");
    for (step, phrase) in STEPS {
        assert!(out.contains(phrase), "{step}: no {phrase:?} in\n{out}");
    }
    assert_eq!(
        out.matches("the new worker works").count(),
        2,
        "restarted twice, then gave up:\n{out}"
    );
}
