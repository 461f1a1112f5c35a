use wtd::gen_server::{GenServer, Next, ReplyTo, ServerProcess};
use wtd::prelude::*;

pub struct Counter(u64);

#[wtd_behaviour(counting, name = "my counter!")]
impl GenServer for Counter {
    type Call = u64;
    type Reply = u64;
    type Cast = ();
    type Info = ();

    async fn handle_call(&mut self, n: u64, from: ReplyTo<u64>, _: &ServerProcess<Self>) -> Next {
        self.0 += n;
        from.reply(self.0);
        Next::Continue
    }
}

fn main() {}
