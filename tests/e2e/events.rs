//! Event managers notified from other nodes: an `AlarmManager` exposed with
//! `#[wtd_behaviour(alarms, name = "alarms")]` on Alice's node, notified by Bob and Carol
//! through the real proxy, with the same grants, revocation and audit as any call.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use wtd::Error;
use wtd::audit::AuditLog;
use wtd::gen_event::{self, EventManager, GenEvent, HandlerRef, HandlerRemoved, Removal};
use wtd::process::{Process, Received};
use wtd_examples::alarms::{Alarm, AlarmCount, AlarmLog, AlarmManager, Level, Pager};

use crate::harness::{Cluster, eventually, run_example, unique};

/// Alice's manager `main`, with a log and a count.
async fn alarm_board(
    alice: &wtd::Node,
) -> (
    EventManager<AlarmManager>,
    HandlerRef<AlarmLog>,
    HandlerRef<AlarmCount>,
) {
    let board = gen_event::start_named::<AlarmManager>(alice.processes(), "main")
        .await
        .expect("started");
    let log = board.add_handler(AlarmLog::default()).await.expect("added");
    let count = board
        .add_handler(AlarmCount::default())
        .await
        .expect("added");
    (board, log, count)
}

/// Waits (at most 5 s) until the count on Alice's board is `n`.
async fn total_reaches(
    board: &EventManager<AlarmManager>,
    count: &HandlerRef<AlarmCount>,
    n: u64,
) -> Option<u64> {
    eventually(Duration::from_secs(5), || async {
        let total = board.call(count, |c| c.total).await.expect("count");
        (total == n).then_some(total)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bob_and_carol_notify_an_alarm_manager_on_alices_node() {
    let (cluster, alice, bob, bob_peer) = Cluster::pair(&["alarms"], &["alarms"], "100/s").await;
    let carol = cluster.node(&unique("carol"), &[]).await;
    let (_, carol_peer) = cluster.grant(&alice, &carol, &["alarms"], "100/s");
    let (board, log, count) = alarm_board(&alice).await;

    let from_bob = AlarmManager::remote(&bob_peer, "main");
    assert_eq!(from_bob.path(), "alarms/alarms@main");
    from_bob
        .notify(Alarm::new("bob", Level::Info, "backup done"))
        .await
        .expect("queued");
    from_bob
        .sync_notify(Alarm::new("bob", Level::Warning, "disk 91% full"))
        .await
        .expect("handled");
    AlarmManager::remote(&carol_peer, "main")
        .sync_notify(Alarm::new("carol", Level::Critical, "fan stopped"))
        .await
        .expect("handled");
    // As `wtd call` and `/apply` do: JSON, a sync_notify whose answer is `null`.
    let answer = carol_peer
        .call_json(
            "alarms/alarms@main",
            r#"{"from": "carol", "level": "Info", "text": "fan restarted"}"#,
        )
        .await
        .expect("json sync_notify");
    assert_eq!(answer, serde_json::Value::Null);

    assert_eq!(total_reaches(&board, &count, 4).await, Some(4));
    let critical = board.call(&count, |c| c.critical).await.expect("count");
    assert_eq!(critical, 1);
    let mut lines = board.call(&log, |l| l.lines.clone()).await.expect("log");
    lines.sort();
    assert_eq!(
        lines,
        [
            "[Critical] carol: fan stopped",
            "[Info] bob: backup done",
            "[Info] carol: fan restarted",
            "[Warning] bob: disk 91% full",
        ]
    );

    let err = carol_peer
        .call_json(
            "alarms/alarms@main",
            r#"{"from": "carol", "level": "Loud"}"#,
        )
        .await
        .expect_err("not an alarm");
    assert!(matches!(err, Error::BadArguments { .. }), "{err}");
    board.stop().await.expect("stopped");
    cluster.stop(vec![alice, bob, carol]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_alarm_that_crashes_a_handler_removes_it_others_keep_going_adder_told() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["alarms"], &["alarms"], "100/s").await;
    let (board, log, count) = alarm_board(&alice).await;

    // A process on Alice's node adds the pager, supervised, and reports what it is told.
    let (added_tx, added) = oneshot::channel();
    let (told_tx, mut told) = mpsc::unbounded_channel();
    let supervising = board.clone();
    alice
        .processes()
        .spawn(move |mut me: Process<HandlerRemoved>| async move {
            let pager = supervising.add_sup_handler(&me, Pager::default()).await;
            let _ = added_tx.send(pager);
            if let Some(Received::Message(removed)) =
                me.receive_timeout(Duration::from_secs(30)).await
            {
                let _ = told_tx.send(removed);
            }
        });
    let pager = added.await.expect("answered").expect("pager added");

    let alarms = AlarmManager::remote(&peer, "main");
    alarms
        .sync_notify(Alarm::new("bob", Level::Critical, "fire"))
        .await
        .expect("handled");
    alarms
        .sync_notify(Alarm::new(
            "bob",
            Level::Critical,
            "fire in the server room, floor 2",
        ))
        .await
        .expect("the manager handled it, though the pager crashed");

    let removed = tokio::time::timeout(Duration::from_secs(5), told.recv())
        .await
        .expect("told within 5 s")
        .expect("told");
    assert_eq!(removed.id, pager.id());
    assert!(
        matches!(&removed.reason, Removal::Crashed(m) if m.contains("display holds 20 characters")),
        "{:?}",
        removed.reason
    );
    assert_eq!(
        board.handlers().await.expect("handlers"),
        [log.id(), count.id()],
        "the pager is gone, the log and the count stay"
    );
    alarms
        .sync_notify(Alarm::new("bob", Level::Info, "fire out"))
        .await
        .expect("handled");
    assert_eq!(total_reaches(&board, &count, 3).await, Some(3));
    board.stop().await.expect("stopped");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_stops_remote_notify() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["alarms"], &["alarms"], "100/s").await;
    let (board, _, count) = alarm_board(&alice).await;
    let alarms = AlarmManager::remote(&peer, "main");
    alarms
        .sync_notify(Alarm::new("bob", Level::Info, "hello"))
        .await
        .expect("granted");

    alice.revoke(bob.name()).expect("revoked");
    let err = alarms
        .sync_notify(Alarm::new("bob", Level::Critical, "after the revocation"))
        .await
        .expect_err("revoked");
    assert!(matches!(err, Error::Revoked { .. }), "{err}");
    // A notify cannot hear the refusal (it returns once queued); Alice's audit log can.
    let _ = alarms
        .notify(Alarm::new("bob", Level::Critical, "still trying"))
        .await;
    let audit = AuditLog::new(alice.home());
    let refused = eventually(Duration::from_secs(5), || async {
        let revoked = audit
            .read()
            .into_iter()
            .filter(|e| e.path == "alarms/alarms@main" && e.outcome == "Revoked")
            .count();
        (revoked == 2).then_some(revoked)
    })
    .await;
    assert_eq!(refused, Some(2), "both refusals are in the audit log");
    assert_eq!(
        board.call(&count, |c| c.total).await.expect("count"),
        1,
        "no refused alarm reached a handler"
    );
    board.stop().await.expect("stopped");
    cluster.stop(vec![alice, bob]).await;
}

/// A kind of manager with the same events as `AlarmManager`, without `#[wtd_behaviour]`.
struct PrivateAlarms;

impl GenEvent for PrivateAlarms {
    type Event = Alarm;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_named_manager_of_the_exposed_kind_is_reached() {
    let (cluster, alice, bob, peer) = Cluster::pair(&["alarms"], &["alarms"], "100/s").await;
    let private = gen_event::start_named::<PrivateAlarms>(alice.processes(), "private")
        .await
        .expect("started");
    let seen = private
        .add_handler(AlarmCount::default())
        .await
        .expect("added");

    let alarm = Alarm::new("bob", Level::Info, "anyone there?");
    let err = AlarmManager::remote(&peer, "nobody")
        .sync_notify(alarm.clone())
        .await
        .expect_err("no such instance");
    assert!(
        matches!(&err, Error::NoSuchInstance { path, .. } if path == "alarms/alarms@nobody"),
        "{err}"
    );
    let err = AlarmManager::remote(&peer, "private")
        .sync_notify(alarm)
        .await
        .expect_err("another kind");
    assert!(matches!(err, Error::NoSuchInstance { .. }), "{err}");
    assert_eq!(private.call(&seen, |c| c.total).await.expect("count"), 0);
    private.stop().await.expect("stopped");
    cluster.stop(vec![alice, bob]).await;
}

#[test]
fn the_alarms_example_tells_each_step_and_stops_by_itself() {
    let stdout = run_example("alarms");
    for phrase in [
        "Alice runs alarm manager `main` with three handlers",
        "[Warning] bob: disk 91% full",
        "[Critical] carol: fan stopped",
        "the pager crashed and was removed",
        "the log and the count kept going",
        "Mallory, with a key Alice never granted",
        "Everything is stopped.",
    ] {
        assert!(stdout.contains(phrase), "no {phrase:?} in:\n{stdout}");
    }
    assert!(
        !stdout.contains("That was not expected"),
        "a step that should be refused worked:\n{stdout}"
    );
}
