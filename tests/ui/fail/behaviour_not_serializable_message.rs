use serde::{Deserialize, Serialize};
use wtd::gen_server::{GenServer, Next, ReplyTo, ServerProcess};
use wtd::prelude::*;

pub struct Counter(u64);

#[derive(Serialize, Deserialize)]
pub enum CounterCall {
    Incr(u64),
    Get,
}

/// Forgot `#[derive(Serialize, Deserialize)]`.
pub struct Count {
    pub value: u64,
}

#[wtd_behaviour(counting)]
impl GenServer for Counter {
    type Call = CounterCall;
    type Reply = Count;
    type Cast = ();
    type Info = ();

    async fn handle_call(
        &mut self,
        call: CounterCall,
        from: ReplyTo<Count>,
        _: &ServerProcess<Self>,
    ) -> Next {
        if let CounterCall::Incr(n) = call {
            self.0 += n;
        }
        from.reply(Count { value: self.0 });
        Next::Continue
    }
}

fn main() {}
