use std::rc::Rc;
use wtd::prelude::*;

async fn tick() {}

#[wtd_export(demo)]
pub async fn count(n: u64) -> u64 {
    let shared = Rc::new(n);
    tick().await;
    *shared
}

fn main() {}
