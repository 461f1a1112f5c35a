use std::future::Future;
use wtd::prelude::*;

#[wtd_export(demo)]
pub fn later(n: i64) -> impl Future<Output = i64> {
    async move { n }
}

fn main() {}
