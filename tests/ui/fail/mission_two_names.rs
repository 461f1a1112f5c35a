use wtd::prelude::*;

#[wtd_export(demo, admin)]
pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
