//! A gen_server exposed with `#[wtd_behaviour]`: it compiles, registers, and stays a
//! plain local server too.

use serde::{Deserialize, Serialize};
use wtd::gen_server::{self, GenServer, Next, ReplyTo, ServerProcess};
use wtd::prelude::*;

#[derive(Default)]
pub struct Counter(u64);

#[derive(Serialize, Deserialize)]
pub enum CounterCall {
    Incr(u64),
    Get,
}

#[wtd_behaviour(counting)]
impl GenServer for Counter {
    type Call = CounterCall;
    type Reply = u64;
    type Cast = u64;
    type Info = ();

    async fn handle_call(
        &mut self,
        call: CounterCall,
        from: ReplyTo<u64>,
        _: &ServerProcess<Self>,
    ) -> Next {
        if let CounterCall::Incr(n) = call {
            self.0 += n;
        }
        from.reply(self.0);
        Next::Continue
    }
}

/// Typed remote use, checked by rustc (not run: no proxy here).
#[allow(dead_code)]
async fn remote(peer: &Peer) -> Result<u64, Error> {
    Counter::remote(peer, "main").cast(2).await?;
    Counter::remote(peer, "main").call(CounterCall::Get).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let offers = wtd::registry::offers();
    let counting = offers.iter().find(|o| o.mission == "counting").expect("registered");
    // The type's module path without the crate name, and its name; at a crate root the
    // crate's own name stands for the module.
    assert_eq!(counting.behaviours.len(), 1);
    assert!(counting.behaviours[0].ends_with("::Counter"), "{:?}", counting.behaviours);
    let table = wtd::process::ProcessTable::new("alice");
    let counter = gen_server::start_named(&table, "main", Counter::default())
        .await
        .expect("starts");
    assert_eq!(counter.call(CounterCall::Incr(2)).await.expect("local call"), 2);
}
