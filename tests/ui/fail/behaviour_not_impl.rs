use wtd::prelude::*;

// The attribute goes on the `impl GenServer for Counter` block, not on the struct.
#[wtd_behaviour(counting)]
pub struct Counter {
    pub count: u64,
}

fn main() {}
