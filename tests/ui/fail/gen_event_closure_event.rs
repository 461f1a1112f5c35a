use wtd::gen_event::GenEvent;
use wtd::prelude::*;

pub struct Hooks;

#[wtd_behaviour(alarms)]
impl GenEvent for Hooks {
    type Event = fn(u64);
}

fn main() {}
