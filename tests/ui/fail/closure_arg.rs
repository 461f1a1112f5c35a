use wtd::prelude::*;

#[wtd_export(demo)]
pub fn apply_twice(f: impl Fn(i64) -> i64, x: i64) -> i64 {
    f(f(x))
}

fn main() {}
