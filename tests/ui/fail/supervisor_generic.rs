use std::marker::PhantomData;

use wtd::prelude::*;
use wtd::supervisor::{Supervisor, SupervisorSpec};

pub struct Pool<T>(PhantomData<T>);

// Another node must know exactly which supervisor it asks: a generic one is refused.
#[wtd_behaviour(ops)]
impl<T: Send + 'static> Supervisor for Pool<T> {
    fn init(&mut self) -> SupervisorSpec {
        SupervisorSpec::one_for_one()
    }
}

fn main() {}
