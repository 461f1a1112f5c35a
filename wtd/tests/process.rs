//! Local processes and gen_servers, without a node: links, monitors, trapped exits,
//! panics, registered names, timeouts, bounded mailboxes; then gen_server's call, cast,
//! info, terminate and stop.
//!
//! Every wait is bounded: `within` fails a test that takes more than five seconds, and
//! no loop runs more than a fixed number of times.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use wtd::gen_server::{self, GenServer, Next, ReplyTo, ServerProcess, ServerRef};
use wtd::process::{
    Down, Exit, ExitReason, Pid, Process, ProcessError, ProcessTable, Received, SpawnOptions,
};

/// Fails the test if `future` takes more than five seconds.
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .expect("the test waited more than 5 s")
}

/// What the test processes understand.
#[derive(Debug)]
enum Msg {
    /// Answer on the channel: proves the process is alive and handling messages.
    Ping(oneshot::Sender<()>),
    /// Panic with this message.
    Panic(String),
    /// End with this reason.
    Exit(ExitReason),
    Text(String),
}

/// A process that answers pings and ends or panics when told.
fn worker(table: &ProcessTable) -> Pid<Msg> {
    table.spawn(worker_body)
}

async fn worker_body(mut me: Process<Msg>) -> ExitReason {
    for _ in 0..1000 {
        match me.receive().await {
            Received::Message(Msg::Ping(answer)) => {
                let _ = answer.send(());
            }
            Received::Message(Msg::Panic(message)) => panic!("{message}"),
            Received::Message(Msg::Exit(reason)) => return reason,
            _ => {}
        }
    }
    ExitReason::Normal
}

async fn is_responsive(pid: &Pid<Msg>) -> bool {
    let (answer, answered) = oneshot::channel();
    pid.send(Msg::Ping(answer)).is_ok() && within(answered).await.is_ok()
}

/// A process that runs `setup` on itself (link, monitor, trap exits), then forwards all
/// it receives to the test. Returns once `setup` has run.
async fn observer(
    table: &ProcessTable,
    setup: impl FnOnce(&Process<Msg>) + Send + 'static,
) -> (Pid<Msg>, mpsc::UnboundedReceiver<Received<Msg>>) {
    let (forward, observed) = mpsc::unbounded_channel();
    let (ready, set_up) = oneshot::channel();
    let pid = table.spawn(move |mut me: Process<Msg>| async move {
        setup(&me);
        let _ = ready.send(());
        for _ in 0..1000 {
            if forward.send(me.receive().await).is_err() {
                break;
            }
        }
    });
    within(set_up).await.expect("the observer set itself up");
    (pid, observed)
}

async fn next_down(observed: &mut mpsc::UnboundedReceiver<Received<Msg>>) -> Down {
    match within(observed.recv()).await {
        Some(Received::Down(down)) => down,
        other => panic!("expected a Down, got {other:?}"),
    }
}

async fn next_exit(observed: &mut mpsc::UnboundedReceiver<Received<Msg>>) -> Exit {
    match within(observed.recv()).await {
        Some(Received::Exit(exit)) => exit,
        other => panic!("expected an Exit, got {other:?}"),
    }
}

/// An observer that monitors `pid`.
async fn monitoring<N: Send + 'static>(
    table: &ProcessTable,
    pid: &Pid<N>,
) -> mpsc::UnboundedReceiver<Received<Msg>> {
    let target = pid.clone();
    let (_watcher, observed) = observer(table, move |me| {
        me.monitor(&target);
    })
    .await;
    observed
}

// ---------------------------------------------------------------- processes

#[tokio::test]
async fn messages_arrive_in_order() {
    let table = ProcessTable::new("alice");
    let (pid, mut observed) = observer(&table, |_| {}).await;
    for n in 0..3 {
        pid.send(Msg::Text(n.to_string())).expect("queued");
    }
    for n in 0..3 {
        match within(observed.recv()).await {
            Some(Received::Message(Msg::Text(text))) => assert_eq!(text, n.to_string()),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn pid_shows_node_and_number() {
    let table = ProcessTable::new("alice");
    let pid = worker(&table);
    assert_eq!(format!("{pid:?}"), format!("<alice.{}>", pid.id().get()));
    assert_eq!(pid.node(), "alice");
}

#[tokio::test]
async fn receive_timeout_gives_none_when_nothing_comes() {
    let table = ProcessTable::default();
    let (done, result) = oneshot::channel();
    table.spawn(move |mut me: Process<Msg>| async move {
        let nothing = me.receive_timeout(Duration::from_millis(30)).await;
        let now = me.receive_timeout(Duration::ZERO).await;
        let _ = done.send((nothing.is_none(), now.is_none()));
    });
    assert_eq!(within(result).await.expect("answered"), (true, true));
}

#[tokio::test]
async fn selective_receive_takes_the_match_and_keeps_the_rest_in_order() {
    let table = ProcessTable::default();
    let (done, result) = oneshot::channel();
    let pid = table.spawn(move |mut me: Process<Msg>| async move {
        let wanted = |r: &Received<Msg>| matches!(r, Received::Message(Msg::Text(t)) if t == "b");
        let mut order = Vec::new();
        if let Some(Received::Message(Msg::Text(t))) =
            me.receive_matching(Duration::from_secs(5), wanted).await
        {
            order.push(t);
        }
        for _ in 0..2 {
            if let Some(Received::Message(Msg::Text(t))) =
                me.receive_timeout(Duration::from_secs(5)).await
            {
                order.push(t);
            }
        }
        let _ = done.send(order);
    });
    for text in ["a", "c", "b"] {
        pid.send(Msg::Text(text.into())).expect("queued");
    }
    assert_eq!(within(result).await.expect("answered"), ["b", "a", "c"]);
}

#[tokio::test]
async fn a_full_mailbox_refuses_a_send() {
    let table = ProcessTable::default();
    let (open, gate) = oneshot::channel::<()>();
    let options = SpawnOptions {
        mailbox_capacity: 2,
    };
    let pid = table.spawn_opt(options, move |mut me: Process<Msg>| async move {
        let _ = gate.await;
        for _ in 0..3 {
            let _ = me.receive_timeout(Duration::from_secs(5)).await;
        }
    });
    pid.send(Msg::Text("1".into())).expect("room for 1");
    pid.send(Msg::Text("2".into())).expect("room for 2");
    assert_eq!(
        pid.send(Msg::Text("3".into())),
        Err(ProcessError::MailboxFull {
            pid: pid.to_string(),
            capacity: 2
        })
    );
    let _ = open.send(());
}

#[tokio::test]
async fn a_send_to_an_ended_process_fails() {
    let table = ProcessTable::default();
    let pid = worker(&table);
    let mut observed = monitoring(&table, &pid).await;
    pid.send(Msg::Exit(ExitReason::Normal)).expect("queued");
    assert_eq!(next_down(&mut observed).await.reason, ExitReason::Normal);
    assert!(!pid.is_alive());
    assert_eq!(pid.exit_reason(), Some(ExitReason::Normal));
    assert!(matches!(
        pid.send(Msg::Text("late".into())),
        Err(ProcessError::NotAlive { .. })
    ));
}

#[tokio::test]
async fn a_process_function_returning_err_exits_with_it() {
    let table = ProcessTable::default();
    let failing = table.spawn(|mut me: Process<Msg>| async move {
        me.receive().await;
        Err::<(), _>("disk full")
    });
    let mut watch = monitoring(&table, &failing).await;
    failing.send(Msg::Text("go".into())).expect("queued");
    assert_eq!(
        next_down(&mut watch).await.reason,
        ExitReason::Other("disk full".into())
    );
}

// ---------------------------------------------------------------- panics

#[tokio::test]
async fn a_panic_ends_only_the_process_that_panicked() {
    let table = ProcessTable::new("alice");
    let crasher = worker(&table);
    let bystander = worker(&table);
    let mut observed = monitoring(&table, &crasher).await;
    crasher
        .send(Msg::Panic("deliberate test panic".into()))
        .expect("queued");
    let down = next_down(&mut observed).await;
    assert_eq!(down.process, crasher.id());
    assert_eq!(
        down.reason,
        ExitReason::Panic("deliberate test panic".into())
    );
    assert!(is_responsive(&bystander).await, "the other process goes on");
    let after = worker(&table);
    assert!(is_responsive(&after).await, "the table still spawns");
}

// ---------------------------------------------------------------- links

#[tokio::test]
async fn an_abnormal_exit_kills_a_linked_partner_and_travels_on() {
    let table = ProcessTable::default();
    let crasher = worker(&table);
    let to_link = crasher.clone();
    let (partner, _) = observer(&table, move |me| me.link(&to_link)).await;
    let to_link = partner.clone();
    let (next_in_chain, _) = observer(&table, move |me| me.link(&to_link)).await;
    let mut partner_watch = monitoring(&table, &partner).await;
    let mut chain_watch = monitoring(&table, &next_in_chain).await;

    crasher
        .send(Msg::Exit(ExitReason::Other("broken".into())))
        .expect("queued");
    let reason = ExitReason::Other("broken".into());
    assert_eq!(next_down(&mut partner_watch).await.reason, reason);
    assert_eq!(next_down(&mut chain_watch).await.reason, reason);
}

#[tokio::test]
async fn a_normal_exit_does_not_kill_a_linked_partner() {
    let table = ProcessTable::default();
    let finisher = worker(&table);
    let partner = worker(&table);
    let (p, f) = (partner.clone(), finisher.clone());
    let (_linker, _) = observer(&table, move |me| {
        me.link(&f);
        me.link(&p);
    })
    .await;
    let mut watch = monitoring(&table, &finisher).await;
    finisher
        .send(Msg::Exit(ExitReason::Normal))
        .expect("queued");
    assert_eq!(next_down(&mut watch).await.reason, ExitReason::Normal);
    assert!(is_responsive(&partner).await);
}

#[tokio::test]
async fn trap_exit_turns_an_exit_signal_into_a_message() {
    let table = ProcessTable::default();
    let crasher = worker(&table);
    let to_link = crasher.clone();
    let (trapper, mut observed) = observer(&table, move |me| {
        me.trap_exit(true);
        me.link(&to_link);
    })
    .await;
    crasher
        .send(Msg::Panic("deliberate test panic".into()))
        .expect("queued");
    let exit = next_exit(&mut observed).await;
    assert_eq!(exit.from, Some(crasher.id()));
    assert_eq!(
        exit.reason,
        ExitReason::Panic("deliberate test panic".into())
    );
    assert!(trapper.is_alive());
}

#[tokio::test]
async fn linking_to_an_ended_process_gives_noproc() {
    let table = ProcessTable::default();
    let gone = worker(&table);
    let mut watch = monitoring(&table, &gone).await;
    gone.send(Msg::Exit(ExitReason::Normal)).expect("queued");
    next_down(&mut watch).await;
    let to_link = gone.clone();
    let (_trapper, mut observed) = observer(&table, move |me| {
        me.trap_exit(true);
        me.link(&to_link);
    })
    .await;
    let exit = next_exit(&mut observed).await;
    assert_eq!(exit.reason, ExitReason::NoProc);
}

#[tokio::test]
async fn exit_with_killed_cannot_be_trapped_but_other_reasons_can() {
    let table = ProcessTable::default();
    let (trapper, mut observed) = observer(&table, |me| me.trap_exit(true)).await;
    let mut watch = monitoring(&table, &trapper).await;
    table.exit(&trapper, ExitReason::Shutdown);
    let exit = next_exit(&mut observed).await;
    assert_eq!((exit.from, exit.reason), (None, ExitReason::Shutdown));
    table.exit(&trapper, ExitReason::Killed);
    assert_eq!(next_down(&mut watch).await.reason, ExitReason::Killed);
}

#[tokio::test]
async fn exit_kills_a_process_waiting_in_receive() {
    let table = ProcessTable::default();
    let pid = worker(&table);
    let mut watch = monitoring(&table, &pid).await;
    table.exit(&pid, ExitReason::Normal);
    assert!(is_responsive(&pid).await, "a normal exit signal is ignored");
    table.exit(&pid, ExitReason::Other("go away".into()));
    assert_eq!(
        next_down(&mut watch).await.reason,
        ExitReason::Other("go away".into())
    );
}

// ---------------------------------------------------------------- monitors

#[tokio::test]
async fn a_monitor_gets_exactly_one_down_with_the_reason() {
    let table = ProcessTable::default();
    let pid = worker(&table);
    let mut observed = monitoring(&table, &pid).await;
    pid.send(Msg::Exit(ExitReason::Shutdown)).expect("queued");
    let down = next_down(&mut observed).await;
    assert_eq!(
        (down.process, down.reason),
        (pid.id(), ExitReason::Shutdown)
    );
    let more = tokio::time::timeout(Duration::from_millis(50), observed.recv()).await;
    assert!(more.is_err(), "a second message arrived: {more:?}");
}

#[tokio::test]
async fn monitoring_an_ended_process_gives_noproc_at_once() {
    let table = ProcessTable::default();
    let pid = worker(&table);
    let mut first = monitoring(&table, &pid).await;
    pid.send(Msg::Exit(ExitReason::Normal)).expect("queued");
    next_down(&mut first).await;
    let mut second = monitoring(&table, &pid).await;
    let down = next_down(&mut second).await;
    assert_eq!((down.process, down.reason), (pid.id(), ExitReason::NoProc));
}

#[tokio::test]
async fn demonitor_means_no_down() {
    let table = ProcessTable::default();
    let pid = worker(&table);
    let (done, result) = oneshot::channel();
    let target = pid.clone();
    table.spawn(move |mut me: Process<Msg>| async move {
        let monitor = me.monitor(&target);
        // A second monitor of the same process: both Downs are delivered together, so once
        // the second has arrived the first surely waits in the mailbox too.
        let second = me.monitor(&target);
        let _ = target.send(Msg::Exit(ExitReason::Shutdown));
        let arrived = me
            .receive_matching(
                Duration::from_secs(5),
                |m| matches!(m, Received::Down(d) if d.monitor == second),
            )
            .await;
        assert!(arrived.is_some(), "the second monitor's Down arrived");
        // The first one's Down is queued; demonitor flushes it.
        me.demonitor(monitor);
        let _ = done.send(
            me.receive_timeout(Duration::from_millis(50))
                .await
                .is_none(),
        );
    });
    assert!(within(result).await.expect("answered"));
    assert!(!pid.is_alive());
}

// ---------------------------------------------------------------- names

#[tokio::test]
async fn a_taken_name_is_refused_and_freed_when_its_process_ends() {
    let table = ProcessTable::default();
    let first = worker(&table);
    let second = worker(&table);
    table.register("printer", &first).expect("free name");
    assert_eq!(
        table.register("printer", &second),
        Err(ProcessError::NameTaken {
            name: "printer".into()
        })
    );
    assert!(matches!(
        table.register("other", &first),
        Err(ProcessError::AlreadyNamed { .. })
    ));
    assert_eq!(table.whereis::<Msg>("printer"), Ok(first.clone()));

    let mut watch = monitoring(&table, &first).await;
    first.send(Msg::Exit(ExitReason::Normal)).expect("queued");
    next_down(&mut watch).await;
    assert!(matches!(
        table.whereis::<Msg>("printer"),
        Err(ProcessError::NotRegistered { .. })
    ));
    table
        .register("printer", &second)
        .expect("freed by the exit");
    assert!(table.unregister("printer"));
    assert!(!table.unregister("printer"));
}

#[tokio::test]
async fn whereis_checks_the_message_type_and_names_are_checked() {
    let table = ProcessTable::default();
    let pid = worker(&table);
    table.register("worker", &pid).expect("free name");
    assert!(matches!(
        table.whereis::<String>("worker"),
        Err(ProcessError::WrongMessageType { .. })
    ));
    assert!(matches!(
        table.register("Not A Name!", &pid),
        Err(ProcessError::BadName { .. })
    ));
}

// ---------------------------------------------------------------- gen_server

/// A server that does what each call tells it, and logs its callbacks to the test.
struct Probe {
    count: i64,
    refuse_init: bool,
    trap_exits: bool,
    held: Option<ReplyTo<i64>>,
    log: mpsc::UnboundedSender<String>,
}

enum ProbeCall {
    Get,
    Add(i64),
    Sleep(Duration),
    Panic,
    /// Keep the reply handle; a `Release` cast answers it.
    Hold,
    /// Answer from another task.
    ReplyFromTask,
    /// Answer, then stop normally.
    Stop,
    /// Stop with this reason without answering.
    Quit(ExitReason),
}

enum ProbeCast {
    Add(i64),
    Release,
}

impl GenServer for Probe {
    type Call = ProbeCall;
    type Reply = i64;
    type Cast = ProbeCast;
    type Info = String;

    async fn init(&mut self, process: &ServerProcess<Self>) -> Result<(), ExitReason> {
        let _ = self.log.send(format!("init {}", process.pid()));
        process.trap_exit(self.trap_exits);
        if self.refuse_init {
            return Err(ExitReason::Other("not today".into()));
        }
        Ok(())
    }

    async fn handle_call(
        &mut self,
        call: ProbeCall,
        from: ReplyTo<i64>,
        _: &ServerProcess<Self>,
    ) -> Next {
        match call {
            ProbeCall::Get => from.reply(self.count),
            ProbeCall::Add(n) => {
                self.count += n;
                from.reply(self.count);
            }
            ProbeCall::Sleep(pause) => {
                tokio::time::sleep(pause).await;
                from.reply(self.count);
            }
            ProbeCall::Panic => panic!("deliberate test panic in handle_call"),
            ProbeCall::Hold => self.held = Some(from),
            ProbeCall::ReplyFromTask => {
                tokio::spawn(async move { from.reply(42) });
            }
            ProbeCall::Stop => {
                from.reply(self.count);
                return Next::Stop(ExitReason::Normal);
            }
            ProbeCall::Quit(reason) => return Next::Stop(reason),
        }
        Next::Continue
    }

    async fn handle_cast(&mut self, cast: ProbeCast, _: &ServerProcess<Self>) -> Next {
        match cast {
            ProbeCast::Add(n) => self.count += n,
            ProbeCast::Release => {
                if let Some(from) = self.held.take() {
                    from.reply(self.count);
                }
            }
        }
        Next::Continue
    }

    async fn handle_info(&mut self, info: Received<String>, _: &ServerProcess<Self>) -> Next {
        let line = match info {
            Received::Message(text) => format!("info {text}"),
            Received::Exit(exit) => format!("exit {}", exit.reason),
            Received::Down(down) => format!("down {}", down.reason),
        };
        let _ = self.log.send(line);
        Next::Continue
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &ServerProcess<Self>) {
        let _ = self.log.send(format!("terminate {reason}"));
    }
}

fn probe() -> (Probe, mpsc::UnboundedReceiver<String>) {
    let (log, lines) = mpsc::unbounded_channel();
    let probe = Probe {
        count: 0,
        refuse_init: false,
        trap_exits: false,
        held: None,
        log,
    };
    (probe, lines)
}

async fn next_line(lines: &mut mpsc::UnboundedReceiver<String>) -> String {
    within(lines.recv()).await.expect("a log line")
}

async fn started(table: &ProcessTable) -> (ServerRef<Probe>, mpsc::UnboundedReceiver<String>) {
    let (server, mut lines) = probe();
    let server = within(gen_server::start(table, server))
        .await
        .expect("started");
    assert!(next_line(&mut lines).await.starts_with("init <"));
    (server, lines)
}

#[tokio::test]
async fn call_cast_and_info_reach_their_callbacks() {
    let table = ProcessTable::default();
    let (server, mut lines) = started(&table).await;
    assert_eq!(within(server.call(ProbeCall::Add(2))).await, Ok(2));
    server.cast(ProbeCast::Add(3)).expect("queued");
    assert_eq!(within(server.call(ProbeCall::Get)).await, Ok(5));
    server.info("hello".into()).expect("queued");
    assert_eq!(next_line(&mut lines).await, "info hello");
}

#[tokio::test]
async fn stop_runs_terminate_and_waits_for_the_end() {
    let table = ProcessTable::default();
    let (server, mut lines) = started(&table).await;
    within(server.stop()).await.expect("stopped");
    assert_eq!(next_line(&mut lines).await, "terminate normal");
    assert_eq!(server.exit_reason(), Some(ExitReason::Normal));
    assert!(matches!(
        within(server.call(ProbeCall::Get)).await,
        Err(ProcessError::NotAlive { .. })
    ));
    assert!(matches!(
        server.cast(ProbeCast::Add(1)),
        Err(ProcessError::NotAlive { .. })
    ));
}

#[tokio::test]
async fn a_callback_that_says_stop_runs_terminate() {
    let table = ProcessTable::default();
    let (server, mut lines) = started(&table).await;
    assert_eq!(within(server.call(ProbeCall::Stop)).await, Ok(0));
    assert_eq!(next_line(&mut lines).await, "terminate normal");
}

#[tokio::test]
async fn a_call_that_gets_no_reply_in_time_times_out() {
    let table = ProcessTable::default();
    let (server, _lines) = started(&table).await;
    let slow = server.call_timeout(
        ProbeCall::Sleep(Duration::from_millis(300)),
        Duration::from_millis(30),
    );
    assert_eq!(
        within(slow).await,
        Err(ProcessError::Timeout {
            after: Duration::from_millis(30)
        })
    );
    // The server is fine, just slow; its late reply went nowhere.
    assert_eq!(within(server.call(ProbeCall::Get)).await, Ok(0));
}

#[tokio::test]
async fn a_call_to_a_dead_server_fails_at_once() {
    let table = ProcessTable::default();
    let (server, _lines) = started(&table).await;
    let mut watch = monitoring(&table, server.pid()).await;
    table.exit(server.pid(), ExitReason::Killed);
    assert_eq!(next_down(&mut watch).await.reason, ExitReason::Killed);
    assert!(matches!(
        within(server.call(ProbeCall::Get)).await,
        Err(ProcessError::NotAlive { .. })
    ));
}

#[tokio::test]
async fn a_server_that_panics_during_a_call_reports_it_and_terminates() {
    let table = ProcessTable::default();
    let (server, mut lines) = started(&table).await;
    let failed = within(server.call(ProbeCall::Panic)).await;
    let reason = ExitReason::Panic("deliberate test panic in handle_call".into());
    assert_eq!(
        failed,
        Err(ProcessError::Exited {
            pid: server.pid().to_string(),
            reason: reason.clone()
        })
    );
    assert_eq!(next_line(&mut lines).await, format!("terminate {reason}"));
    // Only the server crashed: the table goes on.
    let (other, _other_lines) = started(&table).await;
    assert_eq!(within(other.call(ProbeCall::Get)).await, Ok(0));
}

#[tokio::test]
async fn a_server_that_stops_without_answering_reports_why() {
    let table = ProcessTable::default();
    let (server, _lines) = started(&table).await;
    let failed = within(server.call(ProbeCall::Quit(ExitReason::Shutdown))).await;
    assert!(
        matches!(
            failed,
            Err(ProcessError::Exited {
                reason: ExitReason::Shutdown,
                ..
            })
        ),
        "{failed:?}"
    );
}

#[tokio::test]
async fn a_reply_can_come_later_through_the_handle() {
    let table = ProcessTable::default();
    let (server, _lines) = started(&table).await;
    let waiting = tokio::spawn({
        let server = server.clone();
        async move { server.call(ProbeCall::Hold).await }
    });
    // The server goes on with other messages while the held call waits.
    assert_eq!(within(server.call(ProbeCall::Add(7))).await, Ok(7));
    server.cast(ProbeCast::Release).expect("queued");
    let answer = within(waiting).await.expect("the caller task ran");
    assert_eq!(answer, Ok(7));
    assert_eq!(within(server.call(ProbeCall::ReplyFromTask)).await, Ok(42));
}

#[tokio::test]
async fn init_can_refuse_to_start() {
    let table = ProcessTable::default();
    let (mut server, mut lines) = probe();
    server.refuse_init = true;
    let refused = within(gen_server::start(&table, server)).await;
    assert_eq!(
        refused.map(|_| ()),
        Err(ProcessError::InitFailed {
            reason: ExitReason::Other("not today".into())
        })
    );
    assert!(next_line(&mut lines).await.starts_with("init"));
    // terminate does not run for a server that never started.
    let more = tokio::time::timeout(Duration::from_millis(50), lines.recv()).await;
    assert!(matches!(more, Ok(None) | Err(_)), "{more:?}");
}

#[tokio::test]
async fn a_named_server_is_found_by_name_and_its_name_is_not_shared() {
    let table = ProcessTable::default();
    let (server, _lines) = probe();
    let server = within(gen_server::start_named(&table, "counter", server))
        .await
        .expect("started");
    let found = ServerRef::<Probe>::whereis(&table, "counter").expect("registered");
    assert_eq!(within(found.call(ProbeCall::Add(1))).await, Ok(1));

    let (second, _second_lines) = probe();
    let refused = within(gen_server::start_named(&table, "counter", second)).await;
    assert!(matches!(refused, Err(ProcessError::NameTaken { .. })));

    within(server.stop()).await.expect("stopped");
    assert!(ServerRef::<Probe>::whereis(&table, "counter").is_err());
}

/// Starts a `Probe` linked to a new starter process, which ends with `Err("the starter
/// failed")` when sent any message. Returns the starter, the server and its log.
async fn linked_probe(
    table: &ProcessTable,
    trap_exits: bool,
) -> (Pid<Msg>, ServerRef<Probe>, mpsc::UnboundedReceiver<String>) {
    let (server_tx, server_rx) = oneshot::channel();
    let starter = table.spawn(move |mut me: Process<Msg>| async move {
        let (mut probe, lines) = probe();
        probe.trap_exits = trap_exits;
        let started = gen_server::start_link(&me, probe).await;
        let _ = server_tx.send((started, lines));
        me.receive().await;
        Err::<(), _>("the starter failed")
    });
    let (server, mut lines) = within(server_rx).await.expect("answered");
    let server = server.expect("started");
    assert!(next_line(&mut lines).await.starts_with("init"));
    (starter, server, lines)
}

#[tokio::test]
async fn a_linked_server_that_traps_exits_terminates_when_its_starter_ends() {
    let table = ProcessTable::default();
    let (starter, server, mut lines) = linked_probe(&table, true).await;
    let mut watch = monitoring(&table, server.pid()).await;
    starter.send(Msg::Text("fail now".into())).expect("queued");
    assert_eq!(next_line(&mut lines).await, "terminate the starter failed");
    assert_eq!(
        next_down(&mut watch).await.reason,
        ExitReason::Other("the starter failed".into())
    );
}

#[tokio::test]
async fn a_linked_server_that_does_not_trap_exits_dies_without_terminate() {
    let table = ProcessTable::default();
    let (starter, server, mut lines) = linked_probe(&table, false).await;
    let mut watch = monitoring(&table, server.pid()).await;
    starter.send(Msg::Text("fail now".into())).expect("queued");
    assert_eq!(
        next_down(&mut watch).await.reason,
        ExitReason::Other("the starter failed".into())
    );
    // Killed by the signal, as in OTP: terminate did not run; the log's sender is gone.
    assert_eq!(within(lines.recv()).await, None);
}

#[tokio::test]
async fn a_server_crash_kills_its_linked_starter() {
    let table = ProcessTable::default();
    let (starter, server, _lines) = linked_probe(&table, false).await;
    let mut watch = monitoring(&table, &starter).await;
    let failed = within(server.call(ProbeCall::Panic)).await;
    assert!(matches!(failed, Err(ProcessError::Exited { .. })));
    assert_eq!(
        next_down(&mut watch).await.reason,
        ExitReason::Panic("deliberate test panic in handle_call".into())
    );
}

#[tokio::test]
async fn a_linked_server_whose_init_fails_does_not_kill_its_starter() {
    let table = ProcessTable::default();
    let (answer, answered) = oneshot::channel();
    let starter = table.spawn(move |me: Process<Msg>| async move {
        let (mut probe, _lines) = probe();
        probe.refuse_init = true;
        let started = gen_server::start_link(&me, probe).await;
        let _ = answer.send(started.map(|_| ()));
        worker_body(me).await
    });
    assert!(matches!(
        within(answered).await.expect("answered"),
        Err(ProcessError::InitFailed { .. })
    ));
    assert!(
        is_responsive(&starter).await,
        "the starter got an error, not a signal"
    );
}
