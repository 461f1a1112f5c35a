//! State machines driven from another node: the code-lock `Door` of `src/door.rs`
//! (`#[wtd_behaviour(door, name = "door")]`) on Alice's node, sent events by Bob through
//! the real proxy: its state timeout, its postponed events, sync events that time out,
//! and a revoked key; then `cargo run --example door` as a new user runs it.

use std::time::Duration;

use wtd::Error;
use wtd::audit::AuditLog;
use wtd::gen_fsm::{self, FsmRef};
use wtd_examples::door::{Door, DoorCall, DoorEvent, DoorState, DoorStatus};

use crate::harness::{Cluster, eventually, run_example};

const CODE: [u8; 4] = [1, 2, 3, 4];

/// Alice's door `front`, which stays open `open_for`; Bob's handle on it.
async fn door(open_for: Duration) -> (Cluster, wtd::Node, wtd::Node, wtd::Peer, FsmRef<Door>) {
    let (cluster, alice, bob, peer) = Cluster::pair(&["door"], &["door"], "100/s").await;
    let local = gen_fsm::start_named(alice.processes(), "front", Door::new(&CODE, open_for))
        .await
        .expect("started");
    (cluster, alice, bob, peer, local)
}

/// Waits (at most 10 s) until the door's status, as Bob reads it, satisfies `wanted`.
async fn until(peer: &wtd::Peer, wanted: impl Fn(&DoorStatus) -> bool) -> Option<DoorStatus> {
    let door = Door::remote(peer, "front");
    eventually(Duration::from_secs(10), || async {
        let status = door
            .sync_send_event(DoorCall::Status)
            .await
            .expect("status");
        wanted(&status).then_some(status)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_opened_from_another_node_is_locked_again_by_its_state_timeout() {
    let (cluster, alice, bob, peer, local) = door(Duration::from_secs(1)).await;
    let door = Door::remote(&peer, "front");
    assert_eq!(door.path(), "door/door@front");
    let mut last = None;
    for button in CODE {
        last = Some(
            door.sync_send_event(DoorCall::Press(button))
                .await
                .expect("press"),
        );
    }
    let opened = last.expect("pressed");
    assert_eq!((opened.state, opened.opened), (DoorState::Open, 1));

    let locked = until(&peer, |s| s.state == DoorState::Locked).await;
    assert_eq!(
        locked.map(|s| s.opened),
        Some(1),
        "nobody but the state timeout locked it"
    );
    // The same sync event in JSON, as `wtd call` and `/apply` send it.
    let json = peer
        .call_json("door/door@front", r#"{"Press": 1}"#)
        .await
        .expect("json");
    assert_eq!(
        json,
        serde_json::json!({"state": "Locked", "entered": 1, "opened": 1})
    );
    local.stop().await.expect("stopped");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_sent_while_the_door_is_open_are_postponed_until_it_locks() {
    let (cluster, alice, bob, peer, local) = door(Duration::from_secs(2)).await;
    let door = Door::remote(&peer, "front");
    // The code from Bob, one press after the other (each waits for its answer): casts
    // across the wire are not delivered in the order they were sent (two send threads,
    // concurrent turns at the callee), and a code is an order.
    for button in CODE {
        door.sync_send_event(DoorCall::Press(button))
            .await
            .expect("pressed");
    }
    let open = until(&peer, |s| s.state == DoorState::Open).await;
    assert!(open.is_some(), "the code opened the door");
    // The code again, while open, into the door's own mailbox (in order): each press is
    // postponed, not lost and not counted yet.
    for button in CODE {
        local.send_event(DoorEvent::Button(button)).expect("queued");
    }
    let reopened = until(&peer, |s| s.opened == 2).await;
    assert!(
        reopened.is_some(),
        "the postponed presses were never handled"
    );
    let locked = until(&peer, |s| s.state == DoorState::Locked).await;
    assert_eq!(locked.map(|s| s.opened), Some(2), "and only once");
    local.stop().await.expect("stopped");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_event_the_open_door_postpones_times_out_then_runs_when_it_locks() {
    let (cluster, alice, bob, peer, local) = door(Duration::from_secs(3)).await;
    let door = Door::remote(&peer, "front");
    for button in CODE {
        door.sync_send_event(DoorCall::Press(button))
            .await
            .expect("press");
    }
    let err = door
        .with_timeout(Duration::from_millis(400))
        .sync_send_event(DoorCall::Press(9))
        .await
        .expect_err("postponed past the timeout");
    // The caller's own timeout, or the callee's report that its door did not answer
    // within the call's life: the same deadline, seen from either end.
    assert!(
        matches!(err, Error::Timeout { .. } | Error::ServerFailed { .. }),
        "{err}"
    );
    // A longer wait is answered once the door locks; the timed-out press ran too.
    let status = door
        .with_timeout(Duration::from_secs(15))
        .sync_send_event(DoorCall::Press(8))
        .await
        .expect("answered after the door locked");
    assert_eq!((status.state, status.entered), (DoorState::Locked, 2));
    local.stop().await.expect("stopped");
    cluster.stop(vec![alice, bob]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_stops_remote_send_event() {
    let (cluster, alice, bob, peer, local) = door(Duration::from_secs(30)).await;
    let door = Door::remote(&peer, "front");
    door.send_event(DoorEvent::Button(1)).await.expect("queued");
    let one = until(&peer, |s| s.entered == 1).await;
    assert!(one.is_some(), "the granted event reached the door");

    alice.revoke(bob.name()).expect("revoked");
    for button in &CODE[1..] {
        // Queued by the proxy; refused by Alice's node, which answers an event nothing.
        door.send_event(DoorEvent::Button(*button))
            .await
            .expect("queued");
    }
    let audit = AuditLog::new(alice.home());
    let refused = eventually(Duration::from_secs(10), || async {
        let revoked = audit
            .read()
            .iter()
            .filter(|e| e.path == "door/door@front" && e.outcome == "Revoked")
            .count();
        (revoked == 3).then_some(revoked)
    })
    .await;
    assert_eq!(
        refused,
        Some(3),
        "each revoked event was refused and audited"
    );
    let status = local
        .sync_send_event(DoorCall::Status)
        .await
        .expect("local");
    assert_eq!(
        (status.state, status.entered),
        (DoorState::Locked, 1),
        "no revoked event reached the door"
    );
    let err = door
        .sync_send_event(DoorCall::Status)
        .await
        .expect_err("revoked");
    assert!(matches!(err, Error::Revoked { .. }), "{err}");
    local.stop().await.expect("stopped");
    cluster.stop(vec![alice, bob]).await;
}

/// Each step of the example's story, and a phrase only that step prints.
const STEPS: [(&str, &str); 6] = [
    ("the code opens the door", "press 4 -> OPEN"),
    (
        "a press while open is postponed past its timeout",
        "no reply from `alice` within 500ms",
    ),
    (
        "the state timeout locks the door",
        "its state timeout locked the door again",
    ),
    (
        "the postponed presses ran",
        "2 buttons of a new code entered",
    ),
    ("Bob's revoked key is refused", "revoked this key"),
    ("it stops", "Everything is stopped."),
];

#[test]
fn the_door_example_tells_each_step_and_stops_by_itself() {
    let stdout = run_example("door");
    for (step, phrase) in STEPS {
        assert!(
            stdout.contains(phrase),
            "no {step} ({phrase:?}) in:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("That was not expected"),
        "a step that should be refused worked:\n{stdout}"
    );
}
