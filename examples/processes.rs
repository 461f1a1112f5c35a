//! Processes and a gen_server on one machine: no node, no proxy. A worker crashes under
//! a monitor, then under a link, and a counter server is called, cast to and stopped;
//! each line says what happened and why.
//!
//! ```text
//! cargo run --example processes
//! ```
//!
//! The two "panicked at" lines on stderr are Rust's panic hook speaking: the panics are
//! deliberate, and each one ends only the worker it happened in.

use std::time::Duration;

use tokio::sync::oneshot;
use wtd::gen_server::{self, GenServer, Next, ReplyTo, ServerProcess, ServerRef};
use wtd::process::{ExitReason, Process, ProcessError, ProcessTable, Received};

/// What a worker is asked to do.
enum Job {
    Work(u32),
    Crash,
}

/// A worker: does jobs until it is asked to crash.
async fn worker(mut me: Process<Job>) {
    while let Some(job) = me.receive().await.message() {
        match job {
            Job::Work(n) => println!("   {} worked on job {n}", me.pid()),
            Job::Crash => panic!("asked to crash"),
        }
    }
}

/// A counter kept by a gen_server: its state is the struct itself.
struct Counter(u64);

enum CounterCall {
    Add(u64),
    Get,
}

impl GenServer for Counter {
    type Call = CounterCall;
    type Reply = u64;
    type Cast = u64; // add, without waiting for an answer
    type Info = ();

    async fn handle_call(
        &mut self,
        call: CounterCall,
        from: ReplyTo<u64>,
        _: &ServerProcess<Self>,
    ) -> Next {
        if let CounterCall::Add(n) = call {
            self.0 += n;
        }
        from.reply(self.0); // or keep `from` and reply later
        Next::Continue
    }

    async fn handle_cast(&mut self, n: u64, _: &ServerProcess<Self>) -> Next {
        self.0 += n;
        Next::Continue
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &ServerProcess<Self>) {
        println!("   terminate ran ({reason}), count at {}", self.0);
    }
}

/// The demo runs inside a process of its own, so it can monitor, link and receive.
async fn demo(mut me: Process<()>) -> Result<(), ProcessError> {
    let wait = Duration::from_secs(1);

    println!("1. monitor: watch a worker, then make it crash");
    let watched = me.table().spawn(worker);
    me.monitor(&watched);
    watched.send(Job::Work(1))?;
    watched.send(Job::Crash)?;
    if let Some(Received::Down(down)) = me.receive_timeout(wait).await {
        println!(
            "   Down from {watched}: {} — told once, never killed",
            down.reason
        );
    }

    println!("2. link: trap exits, spawn a linked worker, make it crash");
    // Without trap_exit, the worker's crash would end this process too.
    me.trap_exit(true);
    let linked = me.spawn_link(worker);
    linked.send(Job::Crash)?;
    if let Some(Received::Exit(exit)) = me.receive_timeout(wait).await {
        println!(
            "   Exit from {linked}: {} — a message, as we trap exits",
            exit.reason
        );
    }
    me.trap_exit(false);

    println!("3. a gen_server counter, registered as `counter`");
    let counter = gen_server::start_named(me.table(), "counter", Counter(0)).await?;
    let added = counter.call(CounterCall::Add(2)).await?;
    println!("   call Add(2) -> {added}");
    counter.cast(40)?;
    let found = ServerRef::<Counter>::whereis(me.table(), "counter")?;
    let count = found.call(CounterCall::Get).await?;
    println!("   found by name, call Get -> {count} (the cast came first)");
    counter.stop().await?;
    if let Err(refused) = counter.call(CounterCall::Get).await {
        println!("   after stop, a call fails at once: {refused}");
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let table = ProcessTable::new("demo");
    let (done, finished) = oneshot::channel();
    table.spawn(move |me| async move {
        let _ = done.send(demo(me).await);
    });
    match finished.await {
        Ok(Ok(())) => println!("done: every crash above ended only its own process"),
        failed => eprintln!("the demo failed: {failed:?}"),
    }
}
