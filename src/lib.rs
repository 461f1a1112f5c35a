//! The missions the examples and end-to-end tests share.
//!
//! Two programs that call each other must agree on a function's path
//! (`mission/module/function`), so the functions live here, in one module both link.
//! The module path without the crate name is the function's module on the wire: the
//! functions below are `demo/demo/add`, `admin/admin/reset`, `lab/lab/sleep_ms`, …
//! The gen_server of mission `counting` is reached as `counting/counter@NAME`, the chat
//! room of mission `chat` as `chat/room@NAME`, the gen_fsm door of mission `door`
//! (module `door`, its own file) as `door/door@NAME`, the supervisor of mission
//! `supervision` as `supervision/app@NAME`, the failover service of missions `workers`
//! and `tickets` (module `failover`) as `workers/failover/start_tickets` and
//! `tickets/tickets@tickets`.

pub mod door;

pub mod failover;

pub mod alarms;

pub mod demo {
    //! Mission `demo`: what the quickstart grants Bob.

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use wtd::prelude::*;

    /// One counter per node, so several nodes in one program each keep their own
    /// (like a process dictionary per Erlang node).
    static COUNTERS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

    fn this_node() -> String {
        wtd::current_call().map(|c| c.node).unwrap_or_default()
    }

    /// Adds two numbers.
    #[wtd_export(demo)]
    pub fn add(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }

    /// Returns its argument.
    #[wtd_export(demo)]
    pub fn echo(text: String) -> String {
        text
    }

    /// Adds one to this node's counter and returns it: a visible side effect.
    #[wtd_export(demo)]
    pub fn incr() -> u64 {
        let mut counters = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
        let counter = counters.entry(this_node()).or_default();
        *counter += 1;
        *counter
    }

    /// This node's counter.
    #[wtd_export(demo)]
    pub fn count() -> u64 {
        let counters = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
        counters.get(&this_node()).copied().unwrap_or(0)
    }

    /// An `async fn` works the same way: upper-cases its argument.
    #[wtd_export(demo)]
    pub async fn shout(text: String) -> String {
        tokio::task::yield_now().await;
        text.to_uppercase()
    }

    pub(crate) fn reset_counter() -> u64 {
        let mut counters = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
        counters.insert(this_node(), 0).unwrap_or(0)
    }
}

pub mod admin {
    //! Mission `admin`: Alice keeps this one to herself.

    use wtd::prelude::*;

    /// Sets this node's counter back to zero; returns what it was.
    #[wtd_export(admin)]
    pub fn reset() -> u64 {
        crate::demo::reset_counter()
    }
}

pub mod lab {
    //! Mission `lab`: functions that misbehave on purpose, for tests and benchmarks.

    use std::time::Duration;

    use wtd::billet::RemotePid;
    use wtd::prelude::*;
    use wtd::process::Process;

    /// Sleeps, then returns how long it slept: a slow function.
    #[wtd_export(lab)]
    pub fn sleep_ms(ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms.min(60_000)));
        ms
    }

    /// Always panics with `message`. The node keeps running.
    #[wtd_export(lab)]
    pub fn panic_now(message: String) -> u64 {
        panic!("{message}")
    }

    /// Does nothing: what a benchmark calls to measure the path, not the work.
    #[wtd_export(lab)]
    pub fn nop(x: u64) -> u64 {
        x
    }

    /// Starts a process on this node that drops every number sent to it, and hands the
    /// caller its Pid (a billet-doux on the caller's side): what a benchmark sends to, to
    /// measure the path of a message. `None` outside a remote call.
    #[wtd_export(lab)]
    pub fn sink() -> Option<RemotePid<u64>> {
        let processes = wtd::current_call()?.processes;
        let pid = processes.spawn(|mut me: Process<u64>| async move {
            while me.receive().await.message().is_some() {}
        });
        Some(RemotePid::from(pid))
    }

    /// A recursive type, as a calculator or a tree would take.
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub enum Expr {
        /// A number.
        Num(i64),
        /// Minus the inner expression.
        Neg(Box<Expr>),
        /// The sum of both.
        Add(Box<Expr>, Box<Expr>),
    }

    /// Evaluates an expression (wrapping on overflow).
    #[wtd_export(lab)]
    pub fn eval(expr: Expr) -> i64 {
        match expr {
            Expr::Num(n) => n,
            Expr::Neg(e) => eval(*e).wrapping_neg(),
            Expr::Add(a, b) => eval(*a).wrapping_add(eval(*b)),
        }
    }
}

pub mod counting {
    //! Mission `counting`: a gen_server counter other nodes may call and cast to
    //! (`examples/counter.rs`), and a server of the same node they can never reach.

    use std::time::Duration;

    use serde::{Deserialize, Serialize};
    use wtd::gen_server::{GenServer, Next, ReplyTo, ServerProcess};
    use wtd::prelude::*;

    /// A counter that lives in one process: no lock, one message at a time.
    #[derive(Debug, Default)]
    pub struct Counter {
        count: u64,
    }

    /// What a caller asks, and waits for: the count after it.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum CounterCall {
        /// Add this much.
        Incr(u64),
        /// Just read it.
        Get,
        /// Read it after holding the server this many milliseconds (to show timeouts).
        SlowGet(u64),
    }

    /// What a caller asks without waiting.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum CounterCast {
        /// Add this much.
        Add(u64),
        /// Back to zero.
        Reset,
    }

    /// Exposed to holders of mission `counting`, as `counting/counter@NAME`.
    #[wtd_behaviour(counting, name = "counter")]
    impl GenServer for Counter {
        type Call = CounterCall;
        type Reply = u64;
        type Cast = CounterCast;
        type Info = ();

        async fn handle_call(
            &mut self,
            call: CounterCall,
            from: ReplyTo<u64>,
            _: &ServerProcess<Self>,
        ) -> Next {
            match call {
                CounterCall::Incr(n) => self.count = self.count.saturating_add(n),
                CounterCall::Get => {}
                CounterCall::SlowGet(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms.min(60_000))).await;
                }
            }
            from.reply(self.count);
            Next::Continue
        }

        async fn handle_cast(&mut self, cast: CounterCast, _: &ServerProcess<Self>) -> Next {
            match cast {
                CounterCast::Add(n) => self.count = self.count.saturating_add(n),
                CounterCast::Reset => self.count = 0,
            }
            Next::Continue
        }
    }

    /// A server with the same messages as [`Counter`], *not* exposed: started on a node
    /// under any name, no other node can reach it.
    #[derive(Debug, Default)]
    pub struct Vault {
        count: u64,
    }

    impl GenServer for Vault {
        type Call = CounterCall;
        type Reply = u64;
        type Cast = CounterCast;
        type Info = ();

        async fn handle_call(
            &mut self,
            _: CounterCall,
            from: ReplyTo<u64>,
            _: &ServerProcess<Self>,
        ) -> Next {
            self.count += 1;
            from.reply(self.count);
            Next::Continue
        }
    }
}

pub mod chat {
    //! Mission `chat`: a chat room (`examples/chat.rs`). A member joins by handing the room
    //! the Pid of a process of theirs; it arrives as a billet-doux, the right to message
    //! that one process, and the room sends each post to every other member through it.

    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};
    use wtd::billet::RemotePid;
    use wtd::gen_server::{GenServer, Next, ReplyTo, ServerProcess};
    use wtd::prelude::*;

    /// The room: who is in it, and the billet each member gave it.
    #[derive(Debug, Default)]
    pub struct Room {
        members: BTreeMap<String, RemotePid<String>>,
    }

    /// What a member asks the room; the answer is a sentence saying what the room did.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub enum RoomCall {
        /// Join as `name`: posts go to `pid`, a process of the caller's.
        Join {
            /// The member's name in the room.
            name: String,
            /// Where the member wants posts delivered.
            pid: RemotePid<String>,
        },
        /// Say `text` as `from` to every other member.
        Post {
            /// Who speaks (a member's name).
            from: String,
            /// What they say.
            text: String,
        },
        /// The members' names. Only names: the room never hands out the Pids it holds.
        Members,
    }

    /// Exposed to holders of mission `chat`, as `chat/room@NAME`.
    #[wtd_behaviour(chat, name = "room")]
    impl GenServer for Room {
        type Call = RoomCall;
        type Reply = String;
        type Cast = ();
        type Info = ();

        async fn handle_call(
            &mut self,
            call: RoomCall,
            from: ReplyTo<String>,
            _: &ServerProcess<Self>,
        ) -> Next {
            let answer = match call {
                RoomCall::Join { name, pid } => {
                    let said = format!("{name} joined; the room holds a billet for {pid}");
                    self.members.insert(name, pid);
                    said
                }
                RoomCall::Members => {
                    let names: Vec<&str> = self.members.keys().map(String::as_str).collect();
                    names.join(", ")
                }
                RoomCall::Post { from: who, text } => {
                    let mut said = Vec::new();
                    let mut gone = Vec::new();
                    for (name, pid) in self.members.iter().filter(|(name, _)| **name != who) {
                        match pid.send(format!("{who}: {text}")).await {
                            Ok(()) => said.push(format!("delivered to {name}")),
                            Err(e) => {
                                said.push(format!("{name} dropped from the room, because: {e}"));
                                gone.push(name.clone());
                            }
                        }
                    }
                    for name in gone {
                        self.members.remove(&name);
                    }
                    if said.is_empty() {
                        "nobody else is in the room".into()
                    } else {
                        said.join("; ")
                    }
                }
            };
            from.reply(answer);
            Next::Continue
        }
    }
}

pub mod supervision {
    //! Mission `supervision`: a worker that crashes on a bad request, and the supervisor
    //! that restarts it (`examples/supervision.rs`). Other nodes call the worker as
    //! `supervision/doubler@doubler` and ask the supervisor about its children as
    //! `supervision/app@app`.

    use std::time::Duration;

    use wtd::gen_server::{GenServer, Next, ReplyTo, ServerProcess};
    use wtd::prelude::*;
    use wtd::supervisor::{ChildSpec, Starter, Supervisor, SupervisorSpec};

    /// Doubles numbers; a negative one makes it panic: a worker with a bug.
    #[derive(Debug, Default)]
    pub struct Doubler;

    /// Exposed to holders of mission `supervision`, as `supervision/doubler@NAME`.
    #[wtd_behaviour(supervision, name = "doubler")]
    impl GenServer for Doubler {
        type Call = i64;
        type Reply = i64;
        type Cast = ();
        type Info = ();

        async fn handle_call(
            &mut self,
            n: i64,
            from: ReplyTo<i64>,
            _: &ServerProcess<Self>,
        ) -> Next {
            assert!(
                n >= 0,
                "cannot double {n}: negative numbers are a bug in this worker"
            );
            from.reply(n.saturating_mul(2));
            Next::Continue
        }
    }

    /// Supervises one `Doubler`, registered as `doubler`; gives up past `max_restarts`
    /// restarts within a minute.
    #[derive(Debug)]
    pub struct App {
        /// The restart intensity.
        pub max_restarts: u32,
    }

    /// Exposed to holders of mission `supervision`, as `supervision/app@NAME`.
    #[wtd_behaviour(supervision, name = "app")]
    impl Supervisor for App {
        fn init(&mut self) -> SupervisorSpec {
            SupervisorSpec::one_for_one()
                .intensity(self.max_restarts, Duration::from_secs(60))
                .child(ChildSpec::worker("doubler", |start: Starter| async move {
                    start.gen_server_named("doubler", Doubler).await
                }))
        }
    }
}
