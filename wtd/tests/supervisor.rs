//! Local supervisors, without a node: each strategy, the restart intensity, permanent /
//! transient / temporary children, nested supervisors, shutdown order and timeouts, and
//! start_child / terminate_child / restart_child / delete_child / which_children /
//! count_children.
//!
//! Every wait is bounded: `within` fails a test that takes more than five seconds, and
//! `eventually` polls at most 250 times.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wtd::gen_server::{GenServer, Next, ReplyTo, ServerProcess};
use wtd::process::{ExitReason, Pid, Process, ProcessError, ProcessTable, Received};
use wtd::supervisor::{
    self, ChildError, ChildKind, ChildSpec, Restart, Shutdown, Starter, Supervisor, SupervisorRef,
    SupervisorSpec,
};

/// Fails the test if `future` takes more than five seconds.
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .expect("the test waited more than 5 s")
}

/// Polls `check` every 20 ms, at most 250 times; whether it held.
async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..250 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// What happened, in order: `start a`, `stop a`, …
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, event: String) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }

    fn events(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn count(&self, event: &str) -> usize {
        self.events().iter().filter(|e| *e == event).count()
    }
}

/// Logs `stop ID` when the process's life ends, however it ends (a kill drops it).
struct Stopped(Log, &'static str);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.push(format!("stop {}", self.1));
    }
}

/// What the test workers understand.
#[derive(Debug)]
enum Work {
    Crash,
    Finish,
}

/// A worker registered as `id`: logs `start ID`, panics on `Crash`, ends normally on
/// `Finish`. With `trap`, it traps exits and ignores them (so only a kill stops it).
fn worker(id: &'static str, log: &Log, trap: bool) -> ChildSpec {
    let log = log.clone();
    ChildSpec::worker(id, move |start: Starter| {
        let log = log.clone();
        async move {
            let pid = start.spawn(move |mut me: Process<Work>| async move {
                me.trap_exit(trap);
                log.push(format!("start {id}"));
                let _stopped = Stopped(log, id);
                loop {
                    match me.receive().await {
                        Received::Message(Work::Crash) => panic!("{id} crashes on purpose"),
                        Received::Message(Work::Finish) => return ExitReason::Normal,
                        _ => {}
                    }
                }
            });
            start.table().register(id, &pid)?;
            Ok(pid)
        }
    })
}

fn pid(table: &ProcessTable, id: &str) -> Pid<Work> {
    table.whereis(id).expect("the child runs")
}

/// A supervisor whose spec is made by a function, so each test says its own.
struct Sup(Box<dyn FnMut() -> SupervisorSpec + Send>);

impl Supervisor for Sup {
    fn init(&mut self) -> SupervisorSpec {
        (self.0)()
    }
}

fn sup(spec: impl FnMut() -> SupervisorSpec + Send + 'static) -> Sup {
    Sup(Box::new(spec))
}

/// `a`, `b`, `c` under `strategy`, with room for 10 restarts.
async fn three(
    table: &ProcessTable,
    log: &Log,
    spec: fn() -> SupervisorSpec,
) -> SupervisorRef<Sup> {
    let log = log.clone();
    let supervisor = supervisor::start(
        table,
        sup(move || {
            spec()
                .intensity(10, Duration::from_secs(60))
                .child(worker("a", &log, false))
                .child(worker("b", &log, false))
                .child(worker("c", &log, false))
        }),
    );
    within(supervisor).await.expect("started")
}

#[tokio::test]
async fn one_for_one_restarts_only_the_child_that_crashed() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let supervisor = three(&table, &log, SupervisorSpec::one_for_one).await;
    let (a, c) = (pid(&table, "a"), pid(&table, "c"));
    pid(&table, "b").send(Work::Crash).expect("sent");
    assert!(
        eventually(|| log.count("start b") == 2).await,
        "{:?}",
        log.events()
    );
    assert!(a.is_alive() && c.is_alive(), "the others were left alone");
    assert_eq!(log.count("start a"), 1);
    within(supervisor.stop()).await.expect("stopped");
}

#[tokio::test]
async fn one_for_all_restarts_every_child() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let supervisor = three(&table, &log, SupervisorSpec::one_for_all).await;
    pid(&table, "b").send(Work::Crash).expect("sent");
    assert!(
        eventually(|| log.count("start c") == 2).await,
        "{:?}",
        log.events()
    );
    let events = log.events();
    // The others stop in reverse start order, then all start again in order.
    assert_eq!(
        events[3..],
        [
            "stop b", "stop c", "stop a", "start a", "start b", "start c"
        ],
        "{events:?}"
    );
    within(supervisor.stop()).await.expect("stopped");
}

#[tokio::test]
async fn rest_for_one_restarts_the_child_and_those_after_it() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let supervisor = three(&table, &log, SupervisorSpec::rest_for_one).await;
    let a = pid(&table, "a");
    pid(&table, "b").send(Work::Crash).expect("sent");
    assert!(
        eventually(|| log.count("start c") == 2).await,
        "{:?}",
        log.events()
    );
    assert_eq!(log.count("start b"), 2);
    assert_eq!(log.count("start a"), 1, "a started before b: left alone");
    assert!(a.is_alive());
    within(supervisor.stop()).await.expect("stopped");
}

#[tokio::test]
async fn past_its_intensity_a_supervisor_stops_its_children_and_exits_saying_why() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let children = log.clone();
    let supervisor = within(supervisor::start(
        &table,
        sup(move || {
            SupervisorSpec::one_for_one()
                .intensity(2, Duration::from_secs(60))
                .child(worker("a", &children, false))
                .child(worker("b", &children, false))
        }),
    ))
    .await
    .expect("started");
    for crash in 1..=3 {
        pid(&table, "b").send(Work::Crash).expect("sent");
        assert!(
            eventually(|| log.count("stop b") == crash).await,
            "{:?}",
            log.events()
        );
        if crash < 3 {
            assert!(eventually(|| log.count("start b") == crash + 1).await);
        }
    }
    let reason = within(async {
        eventually(|| !supervisor.is_alive()).await;
        supervisor.exit_reason()
    })
    .await;
    let Some(ExitReason::Other(why)) = reason else {
        panic!("the supervisor should have given up: {reason:?}");
    };
    assert!(
        why.contains("restart intensity") && why.contains("`b`"),
        "{why}"
    );
    assert_eq!(log.count("stop a"), 1, "it stopped the other child too");
    assert_eq!(
        log.count("start b"),
        3,
        "2 restarts allowed, the 3rd refused"
    );
}

#[tokio::test]
async fn transient_restarts_after_a_crash_but_not_after_a_normal_exit() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let children = log.clone();
    let supervisor = within(supervisor::start(
        &table,
        sup(move || {
            SupervisorSpec::one_for_one()
                .intensity(10, Duration::from_secs(60))
                .child(worker("job", &children, false).restart(Restart::Transient))
        }),
    ))
    .await
    .expect("started");
    pid(&table, "job").send(Work::Crash).expect("sent");
    assert!(eventually(|| log.count("start job") == 2).await);
    pid(&table, "job").send(Work::Finish).expect("sent");
    assert!(eventually(|| log.count("stop job") == 2).await);
    let children = within(supervisor.which_children()).await.expect("asked");
    assert_eq!(children.len(), 1, "the spec is kept");
    assert_eq!(children[0].pid, None, "but not restarted");
    assert_eq!(log.count("start job"), 2);
    within(supervisor.stop()).await.expect("stopped");
}

#[tokio::test]
async fn permanent_restarts_even_after_a_normal_exit() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let supervisor = three(&table, &log, SupervisorSpec::one_for_one).await;
    pid(&table, "a").send(Work::Finish).expect("sent");
    assert!(eventually(|| log.count("start a") == 2).await);
    within(supervisor.stop()).await.expect("stopped");
}

#[tokio::test]
async fn temporary_is_never_restarted_and_its_spec_is_forgotten() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let children = log.clone();
    let supervisor = within(supervisor::start(
        &table,
        sup(move || {
            SupervisorSpec::one_for_one()
                .child(worker("once", &children, false).restart(Restart::Temporary))
                .child(worker("main", &children, false))
        }),
    ))
    .await
    .expect("started");
    pid(&table, "once").send(Work::Crash).expect("sent");
    assert!(eventually(|| log.count("stop once") == 1).await);
    let mut specs = 2;
    for _ in 0..250 {
        specs = within(supervisor.count_children())
            .await
            .expect("asked")
            .specs;
        if specs == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(specs, 1, "the temporary child's spec is forgotten");
    assert_eq!(log.count("start once"), 1);
    within(supervisor.stop()).await.expect("stopped");
}

#[tokio::test]
async fn shutdown_stops_children_in_reverse_start_order() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let supervisor = three(&table, &log, SupervisorSpec::one_for_one).await;
    within(supervisor.stop()).await.expect("stopped");
    assert_eq!(log.events()[3..], ["stop c", "stop b", "stop a"]);
    assert!(table.is_empty(), "every child ended with it");
}

#[tokio::test]
async fn a_child_that_ignores_shutdown_is_killed_after_its_timeout() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let children = log.clone();
    let supervisor = within(supervisor::start(
        &table,
        sup(move || {
            SupervisorSpec::one_for_one().child(
                worker("stubborn", &children, true)
                    .shutdown(Shutdown::Timeout(Duration::from_millis(100))),
            )
        }),
    ))
    .await
    .expect("started");
    let stubborn = pid(&table, "stubborn");
    within(supervisor.terminate_child("stubborn"))
        .await
        .expect("asked")
        .expect("terminated");
    assert_eq!(stubborn.exit_reason(), Some(ExitReason::Killed));
    within(supervisor.stop()).await.expect("stopped");
}

#[tokio::test]
async fn brutal_kill_kills_at_once_even_a_trapping_child() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let children = log.clone();
    let supervisor = within(supervisor::start(
        &table,
        sup(move || {
            SupervisorSpec::one_for_one()
                .child(worker("stubborn", &children, true).shutdown(Shutdown::BrutalKill))
        }),
    ))
    .await
    .expect("started");
    let stubborn = pid(&table, "stubborn");
    within(supervisor.stop()).await.expect("stopped");
    assert_eq!(stubborn.exit_reason(), Some(ExitReason::Killed));
}

/// A gen_server that traps exits and logs its `terminate`.
struct Tidy(Log);

impl GenServer for Tidy {
    type Call = ();
    type Reply = ();
    type Cast = ();
    type Info = ();

    async fn init(&mut self, process: &ServerProcess<Self>) -> Result<(), ExitReason> {
        process.trap_exit(true);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), from: ReplyTo<()>, _: &ServerProcess<Self>) -> Next {
        from.reply(());
        Next::Continue
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &ServerProcess<Self>) {
        self.0.push(format!("terminate {reason}"));
    }
}

#[tokio::test]
async fn a_gen_server_child_runs_terminate_when_shut_down() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let children = log.clone();
    let supervisor = within(supervisor::start(
        &table,
        sup(move || {
            let log = children.clone();
            SupervisorSpec::one_for_one().child(ChildSpec::worker("tidy", move |start: Starter| {
                let log = log.clone();
                async move { start.gen_server_named("tidy", Tidy(log)).await }
            }))
        }),
    ))
    .await
    .expect("started");
    within(supervisor.stop()).await.expect("stopped");
    assert_eq!(log.events(), ["terminate shutdown"]);
}

#[tokio::test]
async fn a_nested_supervisor_that_gives_up_is_restarted_by_its_parent() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let children = log.clone();
    let outer = within(supervisor::start(
        &table,
        sup(move || {
            let log = children.clone();
            SupervisorSpec::one_for_one()
                .intensity(5, Duration::from_secs(60))
                .child(ChildSpec::supervisor("inner", move |start: Starter| {
                    let log = log.clone();
                    async move {
                        // The inner supervisor allows no restart at all.
                        start
                            .supervisor_named(
                                "inner",
                                sup(move || {
                                    SupervisorSpec::one_for_one()
                                        .intensity(0, Duration::from_secs(60))
                                        .child(worker("w", &log, false))
                                }),
                            )
                            .await
                    }
                }))
        }),
    ))
    .await
    .expect("started");
    let inner = SupervisorRef::<Sup>::whereis(&table, "inner").expect("inner runs");
    let counts = within(outer.count_children()).await.expect("asked");
    assert_eq!((counts.supervisors, counts.workers), (1, 0));

    pid(&table, "w").send(Work::Crash).expect("sent");
    assert!(
        eventually(|| log.count("start w") == 2).await,
        "{:?}",
        log.events()
    );
    assert!(!inner.is_alive(), "the inner supervisor gave up");
    let again = SupervisorRef::<Sup>::whereis(&table, "inner").expect("restarted");
    assert_ne!(again.pid(), inner.pid());
    assert!(outer.is_alive());

    within(outer.stop()).await.expect("stopped");
    assert!(table.is_empty(), "the whole tree stopped");
}

#[tokio::test]
async fn a_killed_supervisor_takes_its_children_along() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let supervisor = three(&table, &log, SupervisorSpec::one_for_one).await;
    table.exit(supervisor.pid(), ExitReason::Killed);
    assert!(eventually(|| table.is_empty()).await, "{:?}", log.events());
}

#[tokio::test]
async fn a_child_that_cannot_start_fails_the_supervisor_start() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let children = log.clone();
    let refused = within(supervisor::start(
        &table,
        sup(move || {
            SupervisorSpec::one_for_one()
                .child(worker("a", &children, false))
                .child(ChildSpec::worker("broken", |_: Starter| async {
                    Err::<Pid<Work>, _>(ProcessError::NotRegistered {
                        name: "database".into(),
                    })
                }))
        }),
    ))
    .await
    .expect_err("refused");
    let ProcessError::InitFailed {
        reason: ExitReason::Other(why),
    } = refused
    else {
        panic!("{refused}");
    };
    assert!(
        why.contains("`broken` did not start") && why.contains("database"),
        "{why}"
    );
    assert!(eventually(|| table.is_empty()).await, "a was stopped again");
}

#[tokio::test]
async fn duplicate_or_malformed_child_ids_are_refused_at_start() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let children = log.clone();
    let refused = within(supervisor::start(
        &table,
        sup(move || {
            SupervisorSpec::one_for_one()
                .child(worker("a", &children, false))
                .child(worker("a", &children, false))
        }),
    ))
    .await
    .expect_err("refused");
    assert!(
        refused.to_string().contains("already has a child `a`"),
        "{refused}"
    );
    assert!(log.events().is_empty(), "nothing started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_terminate_restart_delete_which_and_count_children() {
    let table = ProcessTable::new("t");
    let log = Log::default();
    let supervisor = within(supervisor::start(&table, sup(SupervisorSpec::one_for_one)))
        .await
        .expect("started");
    let ask = |answer: Result<Result<(), ChildError>, ProcessError>| {
        answer.expect("the supervisor answers")
    };
    assert_eq!(
        ask(within(supervisor.start_child(worker("a", &log, false))).await),
        Ok(())
    );
    // The child's process logs its start when it first runs, which on a loaded machine
    // can be after `start_child` answered: killed before that, it would log nothing.
    assert!(eventually(|| log.events() == ["start a"]).await);
    assert_eq!(
        ask(within(supervisor.start_child(worker("a", &log, false))).await),
        Err(ChildError::AlreadyPresent { id: "a".into() })
    );
    let bad = ChildSpec::worker("Bad Id", |start: Starter| async move {
        Ok(start.spawn(|_: Process<()>| async {}))
    });
    assert!(matches!(
        ask(within(supervisor.start_child(bad)).await),
        Err(ChildError::BadId { .. })
    ));

    let children = within(supervisor.which_children()).await.expect("asked");
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].id, "a");
    assert_eq!(children[0].kind, ChildKind::Worker);
    assert_eq!(children[0].pid, Some(pid(&table, "a").to_string()));

    assert_eq!(
        ask(within(supervisor.restart_child("a")).await),
        Err(ChildError::Running { id: "a".into() })
    );
    assert_eq!(
        ask(within(supervisor.delete_child("a")).await),
        Err(ChildError::Running { id: "a".into() })
    );
    assert_eq!(ask(within(supervisor.terminate_child("a")).await), Ok(()));
    assert!(eventually(|| log.events() == ["start a", "stop a"]).await);
    let counts = within(supervisor.count_children()).await.expect("asked");
    assert_eq!((counts.specs, counts.active, counts.workers), (1, 0, 1));

    assert_eq!(ask(within(supervisor.restart_child("a")).await), Ok(()));
    assert!(eventually(|| log.count("start a") == 2).await);
    assert_eq!(ask(within(supervisor.terminate_child("a")).await), Ok(()));
    assert_eq!(ask(within(supervisor.delete_child("a")).await), Ok(()));
    assert_eq!(
        ask(within(supervisor.terminate_child("a")).await),
        Err(ChildError::NotFound { id: "a".into() })
    );
    assert_eq!(
        within(supervisor.count_children())
            .await
            .expect("asked")
            .specs,
        0
    );
    within(supervisor.stop()).await.expect("stopped");
}

#[tokio::test]
async fn a_child_whose_start_panics_is_refused_and_the_supervisor_goes_on() {
    let table = ProcessTable::new("t");
    let supervisor = within(supervisor::start(&table, sup(SupervisorSpec::one_for_one)))
        .await
        .expect("started");
    let panics = ChildSpec::worker("panics", |_: Starter| async {
        Ok::<_, ProcessError>(missing_config())
    });
    let answer = within(supervisor.start_child(panics))
        .await
        .expect("answered");
    assert!(
        matches!(&answer, Err(ChildError::StartFailed { reason, .. }) if reason.contains("no config file")),
        "{answer:?}"
    );
    assert!(supervisor.is_alive());
    within(supervisor.stop()).await.expect("stopped");
}

/// What a start function with a bug does: panic.
fn missing_config() -> Pid<()> {
    panic!("no config file")
}
