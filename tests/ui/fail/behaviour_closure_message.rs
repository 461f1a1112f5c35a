use wtd::gen_server::{GenServer, Next, ReplyTo, ServerProcess};
use wtd::prelude::*;

pub struct Calculator;

#[wtd_behaviour(counting)]
impl GenServer for Calculator {
    type Call = fn(i64) -> i64;
    type Reply = i64;
    type Cast = Box<dyn Fn() + Send>;
    type Info = ();

    async fn handle_call(
        &mut self,
        f: fn(i64) -> i64,
        from: ReplyTo<i64>,
        _: &ServerProcess<Self>,
    ) -> Next {
        from.reply(f(1));
        Next::Continue
    }
}

fn main() {}
