//! Local event managers, without a node: notify and sync_notify, handlers added, removed,
//! swapped and called; a crashing handler removed while the others keep going and its
//! adder told; handlers leaving with their adder or with the manager.
//!
//! Every wait is bounded: `within` fails a test that takes more than five seconds, and
//! no loop runs more than a fixed number of times.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use wtd::gen_event::{
    self, EventError, EventHandler, EventManager, GenEvent, HandlerId, HandlerRef, HandlerRemoved,
    Next, Removal,
};
use wtd::gen_server::{self, GenServer, ReplyTo, ServerProcess};
use wtd::process::{ExitReason, Pid, Process, ProcessError, ProcessTable, Received};

/// Fails the test if `future` takes more than five seconds.
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .expect("the test waited more than 5 s")
}

/// Managers of log lines.
struct Log;

impl GenEvent for Log {
    type Event = String;
}

/// Another kind of manager with the same events.
struct Alerts;

impl GenEvent for Alerts {
    type Event = String;
}

/// What every handler did, in order, shared with the test.
type Journal = Arc<Mutex<Vec<String>>>;

fn journal() -> Journal {
    Arc::default()
}

fn entries(journal: &Journal) -> Vec<String> {
    journal.lock().expect("journal").clone()
}

/// Writes `name: event` for each event; panics on `boom` if fragile; leaves on `leave`.
struct Recorder {
    name: &'static str,
    journal: Journal,
    fragile: bool,
    seen: u64,
}

impl Recorder {
    fn new(name: &'static str, journal: &Journal) -> Self {
        Recorder {
            name,
            journal: journal.clone(),
            fragile: false,
            seen: 0,
        }
    }

    fn fragile(name: &'static str, journal: &Journal) -> Self {
        Recorder {
            fragile: true,
            ..Recorder::new(name, journal)
        }
    }

    fn write(&self, line: String) {
        self.journal.lock().expect("journal").push(line);
    }
}

impl EventHandler<String> for Recorder {
    async fn handle_event(&mut self, event: &String) -> Next {
        assert!(
            !(self.fragile && event == "boom"),
            "{} cannot take a boom",
            self.name
        );
        self.seen += 1;
        self.write(format!("{}: {event}", self.name));
        if event == "leave" {
            Next::Remove
        } else {
            Next::Continue
        }
    }

    async fn terminate(&mut self, why: &Removal) {
        self.write(format!("{} terminated: {why}", self.name));
    }
}

/// A handler whose `init` refuses.
struct Refuses;

impl EventHandler<String> for Refuses {
    async fn init(&mut self) -> Result<(), ExitReason> {
        Err(ExitReason::Other("no disk to write to".into()))
    }

    async fn handle_event(&mut self, _: &String) -> Next {
        Next::Continue
    }
}

/// What the adder process understands.
#[derive(Debug)]
enum AdderMsg {
    Removed(HandlerRemoved),
    /// End with this reason.
    Exit(ExitReason),
}

impl From<HandlerRemoved> for AdderMsg {
    fn from(removed: HandlerRemoved) -> Self {
        AdderMsg::Removed(removed)
    }
}

/// A process that adds `handler` to `manager` with `add_sup_handler`, then passes on to
/// the test every `HandlerRemoved` it gets, until told to end.
async fn adder<H: EventHandler<String>>(
    table: &ProcessTable,
    manager: &EventManager<Log>,
    handler: H,
) -> (
    HandlerRef<H>,
    Pid<AdderMsg>,
    mpsc::UnboundedReceiver<HandlerRemoved>,
) {
    let (added_tx, added) = oneshot::channel();
    let (told_tx, told) = mpsc::unbounded_channel();
    let manager = manager.clone();
    let pid = table.spawn(move |mut me: Process<AdderMsg>| async move {
        let added = manager.add_sup_handler(&me, handler).await.expect("added");
        let _ = added_tx.send(added);
        loop {
            match me.receive().await {
                Received::Message(AdderMsg::Removed(removed)) => {
                    let _ = told_tx.send(removed);
                }
                Received::Message(AdderMsg::Exit(reason)) => return reason,
                Received::Exit(_) | Received::Down(_) => {}
            }
        }
    });
    let added = within(added).await.expect("the adder added its handler");
    (added, pid, told)
}

async fn next_told(told: &mut mpsc::UnboundedReceiver<HandlerRemoved>) -> HandlerRemoved {
    within(told.recv()).await.expect("the adder was told")
}

#[tokio::test]
async fn every_handler_gets_each_event_in_the_order_they_were_added() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start::<Log>(&table).await.expect("started");
    let journal = journal();
    let first = log
        .add_handler(Recorder::new("first", &journal))
        .await
        .expect("added");
    let second = log
        .add_handler(Recorder::new("second", &journal))
        .await
        .expect("added");
    assert_ne!(first.id(), second.id());

    log.notify("a".into()).expect("queued");
    within(log.sync_notify("b".into())).await.expect("handled");
    assert_eq!(
        entries(&journal),
        ["first: a", "second: a", "first: b", "second: b"],
        "sync_notify returned after every handler had handled both events"
    );
    assert_eq!(
        log.handlers().await.expect("handlers"),
        [first.id(), second.id()]
    );
    within(log.stop()).await.expect("stopped");
    assert!(!log.is_alive());
    let err = log.notify("late".into()).expect_err("ended");
    assert!(matches!(err, ProcessError::NotAlive { .. }), "{err}");
}

#[tokio::test]
async fn a_crashing_handler_is_removed_the_others_keep_going_and_the_adder_is_told() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start::<Log>(&table).await.expect("started");
    let journal = journal();
    let steady = log
        .add_handler(Recorder::new("steady", &journal))
        .await
        .expect("added");
    let (fragile, adder_pid, mut told) =
        adder(&table, &log, Recorder::fragile("fragile", &journal)).await;
    let after = log
        .add_handler(Recorder::new("after", &journal))
        .await
        .expect("added");

    within(log.sync_notify("boom".into()))
        .await
        .expect("handled");
    let removed = next_told(&mut told).await;
    assert_eq!(removed.id, fragile.id());
    assert!(
        matches!(&removed.reason, Removal::Crashed(m) if m.contains("fragile cannot take a boom")),
        "{:?}",
        removed.reason
    );

    within(log.sync_notify("after the boom".into()))
        .await
        .expect("handled");
    assert_eq!(
        entries(&journal),
        [
            "steady: boom",
            "after: boom",
            "steady: after the boom",
            "after: after the boom"
        ],
        "the handlers before and after the crash kept going; the crashed one's terminate never ran"
    );
    assert_eq!(
        log.handlers().await.expect("handlers"),
        [steady.id(), after.id()]
    );
    let err = log.call(&fragile, |f| f.seen).await.expect_err("gone");
    assert_eq!(err, EventError::NoSuchHandler { id: fragile.id() });
    assert!(log.is_alive(), "a handler's panic never ends the manager");

    adder_pid
        .send(AdderMsg::Exit(ExitReason::Normal))
        .expect("sent");
    within(log.stop()).await.expect("stopped");
}

#[tokio::test]
async fn remove_handler_runs_terminate_and_tells_the_adder() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start::<Log>(&table).await.expect("started");
    let journal = journal();
    let (handler, adder_pid, mut told) = adder(&table, &log, Recorder::new("r", &journal)).await;

    within(log.remove_handler(handler.id()))
        .await
        .expect("removed");
    assert_eq!(entries(&journal), ["r terminated: removed"]);
    assert_eq!(
        next_told(&mut told).await,
        HandlerRemoved {
            id: handler.id(),
            reason: Removal::Removed
        }
    );
    let err = log.remove_handler(handler.id()).await.expect_err("gone");
    assert_eq!(err, EventError::NoSuchHandler { id: handler.id() });
    assert!(log.handlers().await.expect("handlers").is_empty());

    adder_pid
        .send(AdderMsg::Exit(ExitReason::Normal))
        .expect("sent");
    within(log.stop()).await.expect("stopped");
}

#[tokio::test]
async fn a_handler_that_answers_remove_leaves_after_that_event() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start::<Log>(&table).await.expect("started");
    let journal = journal();
    let (handler, adder_pid, mut told) = adder(&table, &log, Recorder::new("r", &journal)).await;

    within(log.sync_notify("leave".into()))
        .await
        .expect("handled");
    assert_eq!(next_told(&mut told).await.reason, Removal::Removed);
    log.sync_notify("not seen".into()).await.expect("handled");
    assert_eq!(entries(&journal), ["r: leave", "r terminated: removed"]);
    let err = log.call(&handler, |r| r.seen).await.expect_err("gone");
    assert!(matches!(err, EventError::NoSuchHandler { .. }), "{err}");

    adder_pid
        .send(AdderMsg::Exit(ExitReason::Normal))
        .expect("sent");
    within(log.stop()).await.expect("stopped");
}

#[tokio::test]
async fn swap_handler_puts_the_new_handler_in_the_old_ones_place_and_supervision() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start::<Log>(&table).await.expect("started");
    let journal = journal();
    let (old, adder_pid, mut told) = adder(&table, &log, Recorder::new("old", &journal)).await;
    let last = log
        .add_handler(Recorder::new("last", &journal))
        .await
        .expect("added");

    let new = within(log.swap_handler(old.id(), Recorder::fragile("new", &journal)))
        .await
        .expect("swapped");
    assert_eq!(
        next_told(&mut told).await,
        HandlerRemoved {
            id: old.id(),
            reason: Removal::Swapped { by: new.id() }
        }
    );
    assert_eq!(
        log.handlers().await.expect("handlers"),
        [new.id(), last.id()],
        "the new handler took the old one's place"
    );
    log.sync_notify("x".into()).await.expect("handled");
    assert_eq!(
        entries(&journal),
        [
            format!("old terminated: swapped for {}", new.id()),
            "new: x".to_string(),
            "last: x".to_string(),
        ]
    );

    // The new handler kept the old one's adder: its crash is told there too.
    log.sync_notify("boom".into()).await.expect("handled");
    let removed = next_told(&mut told).await;
    assert_eq!(removed.id, new.id());
    assert!(matches!(removed.reason, Removal::Crashed(_)), "{removed:?}");

    adder_pid
        .send(AdderMsg::Exit(ExitReason::Normal))
        .expect("sent");
    within(log.stop()).await.expect("stopped");
}

#[tokio::test]
async fn a_swap_or_an_add_whose_init_refuses_changes_nothing() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start::<Log>(&table).await.expect("started");
    let journal = journal();
    let old = log
        .add_handler(Recorder::new("old", &journal))
        .await
        .expect("added");

    let refused = EventError::HandlerInitFailed {
        reason: ExitReason::Other("no disk to write to".into()),
    };
    let err = log.add_handler(Refuses).await.expect_err("refused");
    assert_eq!(err, refused);
    assert_eq!(
        err.to_string(),
        "the handler was not added: its init returned no disk to write to"
    );
    let err = log
        .swap_handler(old.id(), Refuses)
        .await
        .expect_err("refused");
    assert_eq!(err, refused);
    let missing: HandlerId = old.id();
    log.remove_handler(missing).await.expect("removed");
    let err = log
        .swap_handler(missing, Recorder::new("new", &journal))
        .await
        .expect_err("no old handler");
    assert_eq!(err, EventError::NoSuchHandler { id: missing });
    assert_eq!(entries(&journal), ["old terminated: removed"]);
    assert!(log.handlers().await.expect("handlers").is_empty());
    within(log.stop()).await.expect("stopped");
}

#[tokio::test]
async fn call_runs_on_the_handlers_state_and_a_panicking_call_removes_it() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start::<Log>(&table).await.expect("started");
    let journal = journal();
    let (counted, adder_pid, mut told) = adder(&table, &log, Recorder::new("c", &journal)).await;
    log.notify("a".into()).expect("queued");
    log.notify("b".into()).expect("queued");
    // Queued behind both events, so it sees them.
    let seen: u64 = within(log.call(&counted, |c| c.seen)).await.expect("call");
    assert_eq!(seen, 2);
    let name: &str = log.call(&counted, |c| c.name).await.expect("call");
    assert_eq!(name, "c");

    let err = log
        .call(&counted, |c| -> u64 { panic!("{} cannot count", c.name) })
        .await
        .expect_err("panicked");
    assert_eq!(
        err,
        EventError::HandlerCrashed {
            id: counted.id(),
            message: "c cannot count".into()
        }
    );
    let removed = next_told(&mut told).await;
    assert_eq!(removed.reason, Removal::Crashed("c cannot count".into()));
    assert!(log.handlers().await.expect("handlers").is_empty());
    assert!(log.is_alive());

    adder_pid
        .send(AdderMsg::Exit(ExitReason::Normal))
        .expect("sent");
    within(log.stop()).await.expect("stopped");
}

#[tokio::test]
async fn when_the_adder_ends_its_handler_leaves_with_it() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start::<Log>(&table).await.expect("started");
    let journal = journal();
    let (handler, adder_pid, _told) = adder(&table, &log, Recorder::new("r", &journal)).await;
    let other = log
        .add_handler(Recorder::new("other", &journal))
        .await
        .expect("added");

    adder_pid
        .send(AdderMsg::Exit(ExitReason::Other("done".into())))
        .expect("sent");
    let mut left = false;
    for _ in 0..250 {
        if log.handlers().await.expect("handlers") == [other.id()] {
            left = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        left,
        "{} still in the manager 5 s after its adder ended",
        handler.id()
    );
    assert_eq!(
        entries(&journal),
        ["r terminated: the process that added it ended (done)"]
    );
    within(log.stop()).await.expect("stopped");
}

#[tokio::test]
async fn stopping_the_manager_terminates_every_handler_and_tells_the_adders() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start::<Log>(&table).await.expect("started");
    let journal = journal();
    let (supervised, adder_pid, mut told) = adder(&table, &log, Recorder::new("a", &journal)).await;
    log.add_handler(Recorder::new("b", &journal))
        .await
        .expect("added");

    within(log.stop()).await.expect("stopped");
    assert_eq!(
        entries(&journal),
        [
            "a terminated: the manager stopped (normal)",
            "b terminated: the manager stopped (normal)"
        ]
    );
    assert_eq!(
        next_told(&mut told).await,
        HandlerRemoved {
            id: supervised.id(),
            reason: Removal::ManagerStopped(ExitReason::Normal)
        }
    );
    adder_pid
        .send(AdderMsg::Exit(ExitReason::Normal))
        .expect("sent");
}

#[tokio::test]
async fn a_manager_is_found_by_name_only_as_its_own_kind() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start_named::<Log>(&table, "log")
        .await
        .expect("started");
    let found = EventManager::<Log>::whereis(&table, "log").expect("found");
    assert_eq!(found.pid().id(), log.pid().id());

    let err = EventManager::<Alerts>::whereis(&table, "log").expect_err("another kind");
    assert!(
        matches!(err, ProcessError::WrongMessageType { .. }),
        "{err}"
    );
    let err = gen_event::start_named::<Alerts>(&table, "log")
        .await
        .expect_err("taken");
    assert!(matches!(err, ProcessError::NameTaken { .. }), "{err}");
    let err = gen_event::start_named::<Log>(&table, "No Spaces")
        .await
        .expect_err("bad name");
    assert!(matches!(err, ProcessError::BadName { .. }), "{err}");
    within(log.stop()).await.expect("stopped");
    assert!(
        EventManager::<Log>::whereis(&table, "log").is_err(),
        "name freed"
    );
}

/// A gen_server that supervises a handler: `HandlerRemoved` reaches its `handle_info`.
struct Watcher {
    told: mpsc::UnboundedSender<HandlerRemoved>,
}

impl GenServer for Watcher {
    type Call = EventManager<Log>;
    type Reply = Result<HandlerRef<Recorder>, EventError>;
    type Cast = ();
    type Info = HandlerRemoved;

    async fn handle_call(
        &mut self,
        log: EventManager<Log>,
        from: ReplyTo<Self::Reply>,
        process: &ServerProcess<Self>,
    ) -> gen_server::Next {
        let journal = journal();
        from.reply(
            log.add_sup_handler(process, Recorder::fragile("watched", &journal))
                .await,
        );
        gen_server::Next::Continue
    }

    async fn handle_info(
        &mut self,
        info: Received<HandlerRemoved>,
        _: &ServerProcess<Self>,
    ) -> gen_server::Next {
        if let Received::Message(removed) = info {
            let _ = self.told.send(removed);
        }
        gen_server::Next::Continue
    }
}

#[tokio::test]
async fn a_gen_server_supervising_a_handler_is_told_in_handle_info() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start::<Log>(&table).await.expect("started");
    let (told_tx, mut told) = mpsc::unbounded_channel();
    let watcher = gen_server::start(&table, Watcher { told: told_tx })
        .await
        .expect("started");
    let watched = within(watcher.call(log.clone()))
        .await
        .expect("call")
        .expect("added");
    log.notify("boom".into()).expect("queued");
    let removed = next_told(&mut told).await;
    assert_eq!(removed.id, watched.id());
    assert!(matches!(removed.reason, Removal::Crashed(_)), "{removed:?}");
    within(watcher.stop()).await.expect("stopped");
    within(log.stop()).await.expect("stopped");
}

/// Takes two seconds over each event.
struct Slow;

impl EventHandler<String> for Slow {
    async fn handle_event(&mut self, _: &String) -> Next {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Next::Continue
    }
}

#[tokio::test]
async fn sync_notify_gives_up_at_its_timeout_while_a_handler_is_slow() {
    let table = ProcessTable::new("alice");
    let log = gen_event::start::<Log>(&table).await.expect("started");
    log.add_handler(Slow).await.expect("added");
    let err = log
        .sync_notify_timeout("x".into(), Duration::from_millis(100))
        .await
        .expect_err("too slow");
    assert_eq!(
        err,
        ProcessError::Timeout {
            after: Duration::from_millis(100)
        }
    );
    // The manager was busy, not broken: once the handler is done, it answers again.
    log.sync_notify_timeout("y".into(), Duration::from_secs(30))
        .await
        .expect("handled");
    log.stop_with(ExitReason::Normal, Duration::from_secs(30))
        .await
        .expect("stopped");
}
