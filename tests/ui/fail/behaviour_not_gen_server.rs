use wtd::prelude::*;

pub struct Counter(u64);

// `Display` is not a behaviour: the attribute goes on `impl GenServer for Counter`.
#[wtd_behaviour(counting)]
impl std::fmt::Display for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

fn main() {}
