//! gen_fsm without a node: states and transitions, enter actions, the three timeouts,
//! postponed events, sync events and their timeouts, panics, stop and terminate.
//!
//! Timeouts run on tokio's paused clock (`start_paused`): a test that waits "ten
//! seconds" takes none, and what it asserts is the order of events, never how long
//! anything took.

use std::time::Duration;

use tokio::sync::mpsc;
use wtd::gen_fsm::{self, Enter, FsmEvent, FsmProcess, FsmRef, GenFsm, Transition};
use wtd::process::{ExitReason, ProcessError, ProcessTable};

#[derive(Clone, Debug, PartialEq)]
enum S {
    A,
    B,
}

/// What a test tells the machine to do.
enum Cmd {
    /// Go to this state (with a state timeout of so many seconds in it, if given).
    Go(S, Option<u64>),
    /// Record this tag; postponed while in `B`.
    Tag(&'static str),
    /// Start the generic timeout `name` of so many seconds.
    Timeout(&'static str, u64),
    /// Cancel the generic timeout `name`.
    Cancel(&'static str),
    /// Start an event timeout of so many seconds.
    Idle(u64),
    Panic,
}

/// What a test asks, waiting.
enum Ask {
    /// Everything recorded so far.
    Log,
    /// Answers with this tag; postponed while in `B`.
    Echo(&'static str),
}

/// Records everything that happens to it; tells the test how it ended.
struct Recorder {
    log: Vec<String>,
    ended: mpsc::UnboundedSender<(ExitReason, S, Vec<String>)>,
}

impl GenFsm for Recorder {
    type State = S;
    type Event = Cmd;
    type Call = Ask;
    type Reply = Vec<String>;
    type Info = ();
    type Timeout = &'static str;

    async fn init(&mut self, _: &FsmProcess<Self>) -> Result<S, ExitReason> {
        Ok(S::A)
    }

    async fn handle_event(
        &mut self,
        state: &S,
        event: FsmEvent<Self>,
        _: &FsmProcess<Self>,
    ) -> Transition<Self> {
        match (state, event) {
            (_, FsmEvent::Call(Ask::Log, from)) => Transition::keep().reply(from, self.log.clone()),
            (S::B, event @ (FsmEvent::Event(Cmd::Tag(_)) | FsmEvent::Call(Ask::Echo(_), _))) => {
                Transition::postpone(event)
            }
            (state, FsmEvent::Call(Ask::Echo(tag), from)) => {
                self.log.push(format!("echo {tag} in {state:?}"));
                Transition::keep().reply(from, vec![tag.to_string()])
            }
            (state, FsmEvent::Event(Cmd::Tag(tag))) => {
                self.log.push(format!("{tag} in {state:?}"));
                Transition::keep()
            }
            (_, FsmEvent::Event(Cmd::Go(next, None))) => Transition::next(next),
            (_, FsmEvent::Event(Cmd::Go(next, Some(secs)))) => {
                Transition::next(next).state_timeout(Duration::from_secs(secs), "st")
            }
            (_, FsmEvent::Event(Cmd::Timeout(name, secs))) => {
                Transition::keep().timeout(name, Duration::from_secs(secs), name)
            }
            (_, FsmEvent::Event(Cmd::Cancel(name))) => Transition::keep().cancel_timeout(name),
            (_, FsmEvent::Event(Cmd::Idle(secs))) => {
                Transition::keep().event_timeout(Duration::from_secs(secs), "idle")
            }
            (_, FsmEvent::Event(Cmd::Panic)) => panic!("told to"),
            (state, FsmEvent::StateTimeout(msg)) => {
                self.log.push(format!("state timeout {msg} in {state:?}"));
                Transition::next(S::A)
            }
            (state, FsmEvent::Timeout(name, _)) => {
                self.log.push(format!("timeout {name} in {state:?}"));
                Transition::keep()
            }
            (state, FsmEvent::EventTimeout(msg)) => {
                self.log.push(format!("event timeout {msg} in {state:?}"));
                Transition::keep()
            }
            _ => Transition::keep(),
        }
    }

    async fn on_enter(&mut self, old: &S, new: &S, _: &FsmProcess<Self>) -> Enter<Self> {
        self.log.push(format!("enter {old:?} -> {new:?}"));
        Enter::keep()
    }

    async fn terminate(&mut self, reason: &ExitReason, state: &S, _: &FsmProcess<Self>) {
        let _ = self
            .ended
            .send((reason.clone(), state.clone(), self.log.clone()));
    }
}

type Ended = mpsc::UnboundedReceiver<(ExitReason, S, Vec<String>)>;

async fn recorder(table: &ProcessTable) -> (FsmRef<Recorder>, Ended) {
    let (ended, told) = mpsc::unbounded_channel();
    let fsm = Recorder {
        log: Vec::new(),
        ended,
    };
    (gen_fsm::start(table, fsm).await.expect("starts"), told)
}

async fn log(fsm: &FsmRef<Recorder>) -> Vec<String> {
    fsm.sync_send_event(Ask::Log).await.expect("log")
}

async fn sleep(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn enter_actions_run_for_the_first_state_and_each_change_only() {
    let table = ProcessTable::new("t");
    let (fsm, _ended) = recorder(&table).await;
    for cmd in [
        Cmd::Go(S::B, None),
        Cmd::Go(S::B, None),
        Cmd::Go(S::A, None),
    ] {
        fsm.send_event(cmd).expect("sent");
    }
    assert_eq!(
        log(&fsm).await,
        ["enter A -> A", "enter A -> B", "enter B -> A"],
        "B -> B is no change: no enter action"
    );
    assert_eq!(fsm.state().await.expect("state"), S::A);
    fsm.stop().await.expect("stopped");
}

#[tokio::test(start_paused = true)]
async fn a_state_timeout_fires_in_its_state_and_a_state_change_cancels_it() {
    let table = ProcessTable::new("t");
    let (fsm, _ended) = recorder(&table).await;
    fsm.send_event(Cmd::Go(S::B, Some(10))).expect("sent");
    sleep(11).await;
    assert_eq!(
        fsm.state().await.expect("state"),
        S::A,
        "the timeout moved it"
    );
    assert!(
        log(&fsm)
            .await
            .contains(&"state timeout st in B".to_string())
    );

    // Set again, then leave B before it fires: it never fires.
    fsm.send_event(Cmd::Go(S::B, Some(10))).expect("sent");
    sleep(5).await;
    fsm.send_event(Cmd::Go(S::A, None)).expect("sent");
    sleep(20).await;
    let fired = log(&fsm)
        .await
        .iter()
        .filter(|l| l.starts_with("state timeout"))
        .count();
    assert_eq!(
        fired, 1,
        "the second state timeout was cancelled by the change"
    );

    // Staying in the same state does not cancel it.
    fsm.send_event(Cmd::Go(S::B, Some(10))).expect("sent");
    fsm.send_event(Cmd::Go(S::B, None)).expect("sent");
    sleep(11).await;
    assert_eq!(
        fsm.state().await.expect("state"),
        S::A,
        "B -> B kept the timeout"
    );
    fsm.stop().await.expect("stopped");
}

#[tokio::test(start_paused = true)]
async fn a_generic_timeout_survives_state_changes_and_can_be_cancelled() {
    let table = ProcessTable::new("t");
    let (fsm, _ended) = recorder(&table).await;
    fsm.send_event(Cmd::Timeout("t1", 10)).expect("sent");
    fsm.send_event(Cmd::Timeout("t2", 10)).expect("sent");
    fsm.send_event(Cmd::Go(S::B, None)).expect("sent");
    fsm.send_event(Cmd::Cancel("t2")).expect("sent");
    sleep(11).await;
    let log = log(&fsm).await;
    assert!(log.contains(&"timeout t1 in B".to_string()), "{log:?}");
    assert!(!log.iter().any(|l| l.contains("t2")), "{log:?}");
    fsm.stop().await.expect("stopped");
}

#[tokio::test(start_paused = true)]
async fn an_event_timeout_fires_only_when_no_event_comes() {
    let table = ProcessTable::new("t");
    let (fsm, _ended) = recorder(&table).await;
    fsm.send_event(Cmd::Idle(10)).expect("sent");
    sleep(5).await;
    fsm.send_event(Cmd::Tag("x")).expect("sent");
    sleep(20).await;
    assert!(
        !log(&fsm)
            .await
            .iter()
            .any(|l| l.starts_with("event timeout")),
        "the tag cancelled it"
    );
    fsm.send_event(Cmd::Idle(10)).expect("sent");
    sleep(11).await;
    assert!(
        log(&fsm)
            .await
            .contains(&"event timeout idle in A".to_string())
    );
    fsm.stop().await.expect("stopped");
}

#[tokio::test(start_paused = true)]
async fn postponed_events_and_calls_are_retried_in_order_on_the_next_state_change() {
    let table = ProcessTable::new("t");
    let (fsm, _ended) = recorder(&table).await;
    fsm.send_event(Cmd::Go(S::B, None)).expect("sent");
    fsm.send_event(Cmd::Tag("1")).expect("sent");
    let echo = tokio::spawn({
        let fsm = fsm.clone();
        async move {
            fsm.sync_send_event_timeout(Ask::Echo("2"), Duration::from_secs(60))
                .await
        }
    });
    tokio::task::yield_now().await;
    fsm.send_event(Cmd::Tag("3")).expect("sent");
    assert_eq!(
        log(&fsm).await,
        ["enter A -> A", "enter A -> B"],
        "nothing handled while in B"
    );
    fsm.send_event(Cmd::Go(S::A, None)).expect("sent");
    fsm.send_event(Cmd::Tag("4")).expect("sent");
    assert_eq!(echo.await.expect("joined").expect("answered"), ["2"]);
    assert_eq!(
        log(&fsm).await,
        [
            "enter A -> A",
            "enter A -> B",
            "enter B -> A",
            "1 in A",
            "echo 2 in A",
            "3 in A",
            "4 in A",
        ],
        "postponed ones first, oldest first, before anything newer"
    );
    fsm.stop().await.expect("stopped");
}

#[tokio::test(start_paused = true)]
async fn a_postponed_call_times_out_and_the_machine_goes_on() {
    let table = ProcessTable::new("t");
    let (fsm, _ended) = recorder(&table).await;
    fsm.send_event(Cmd::Go(S::B, None)).expect("sent");
    let err = fsm
        .sync_send_event_timeout(Ask::Echo("late"), Duration::from_secs(1))
        .await
        .expect_err("postponed past the timeout");
    assert!(matches!(err, ProcessError::Timeout { .. }), "{err}");
    fsm.send_event(Cmd::Go(S::A, None)).expect("sent");
    // The call still runs once the state changes; its answer goes nowhere.
    assert!(log(&fsm).await.contains(&"echo late in A".to_string()));
    fsm.stop().await.expect("stopped");
}

#[tokio::test(start_paused = true)]
async fn postponed_events_are_bounded() {
    let table = ProcessTable::new("t");
    let (fsm, _ended) = recorder(&table).await;
    fsm.send_event(Cmd::Go(S::B, None)).expect("sent");
    let extra = 10;
    for _ in 0..gen_fsm::MAX_POSTPONED + extra {
        // Keep the mailbox from filling: let the machine postpone as we go.
        if fsm.send_event(Cmd::Tag("x")).is_err() {
            tokio::task::yield_now().await;
            fsm.send_event(Cmd::Tag("x")).expect("room after a yield");
        }
        tokio::task::yield_now().await;
    }
    fsm.send_event(Cmd::Go(S::A, None)).expect("sent");
    let handled = log(&fsm).await.iter().filter(|l| *l == "x in A").count();
    assert_eq!(
        handled,
        gen_fsm::MAX_POSTPONED,
        "the newest {extra} were dropped"
    );
    fsm.stop().await.expect("stopped");
}

#[tokio::test]
async fn a_panic_runs_terminate_and_callers_of_postponed_calls_learn_it_ended() {
    let table = ProcessTable::new("t");
    let (fsm, mut ended) = recorder(&table).await;
    fsm.send_event(Cmd::Go(S::B, None)).expect("sent");
    let waiting = tokio::spawn({
        let fsm = fsm.clone();
        async move { fsm.sync_send_event(Ask::Echo("never")).await }
    });
    tokio::task::yield_now().await;
    fsm.send_event(Cmd::Panic).expect("sent");
    let (reason, state, _) = ended.recv().await.expect("terminate ran");
    assert!(
        matches!(&reason, ExitReason::Panic(m) if m.contains("told to")),
        "{reason:?}"
    );
    assert_eq!(state, S::B);
    let err = waiting.await.expect("joined").expect_err("it ended");
    assert!(matches!(err, ProcessError::Exited { .. }), "{err}");
    assert!(!fsm.is_alive());
}

#[tokio::test]
async fn stop_runs_terminate_with_the_state_it_was_in() {
    let table = ProcessTable::new("t");
    let (fsm, mut ended) = recorder(&table).await;
    fsm.send_event(Cmd::Go(S::B, None)).expect("sent");
    fsm.stop().await.expect("stopped");
    let (reason, state, _) = ended.recv().await.expect("terminate ran");
    assert_eq!((reason, state), (ExitReason::Normal, S::B));
    assert!(matches!(
        fsm.send_event(Cmd::Tag("late")),
        Err(ProcessError::NotAlive { .. })
    ));
}

struct Refuses;

impl GenFsm for Refuses {
    type State = S;
    type Event = ();
    type Call = ();
    type Reply = ();
    type Info = ();
    type Timeout = ();

    async fn init(&mut self, _: &FsmProcess<Self>) -> Result<S, ExitReason> {
        Err(ExitReason::Other("no code".into()))
    }

    async fn handle_event(
        &mut self,
        _: &S,
        _: FsmEvent<Self>,
        _: &FsmProcess<Self>,
    ) -> Transition<Self> {
        Transition::keep()
    }
}

#[tokio::test]
async fn init_may_refuse_and_a_taken_name_refuses_a_start() {
    let table = ProcessTable::new("t");
    let err = gen_fsm::start(&table, Refuses).await.expect_err("refused");
    assert!(
        matches!(&err, ProcessError::InitFailed { reason: ExitReason::Other(m) } if m == "no code"),
        "{err}"
    );
    let (ended, _told) = mpsc::unbounded_channel();
    let first = gen_fsm::start_named(
        &table,
        "door",
        Recorder {
            log: vec![],
            ended: ended.clone(),
        },
    )
    .await
    .expect("starts");
    let err = gen_fsm::start_named(&table, "door", Recorder { log: vec![], ended })
        .await
        .expect_err("taken");
    assert!(matches!(err, ProcessError::NameTaken { .. }), "{err}");
    let found = FsmRef::<Recorder>::whereis(&table, "door").expect("found");
    assert_eq!(found.pid(), first.pid());
    first.stop().await.expect("stopped");
}
