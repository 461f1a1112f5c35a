use wtd::prelude::*;

#[wtd_export(demo)]
pub fn apply(f: fn(i64) -> i64, x: i64) -> i64 {
    f(x)
}

fn main() {}
