use wtd::prelude::*;
use wtd::supervisor::Supervisor;

pub struct App;

// A supervisor says what it supervises in `init`; without it there is nothing to start.
#[wtd_behaviour(ops)]
impl Supervisor for App {}

fn main() {}
