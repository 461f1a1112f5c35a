use wtd::prelude::*;

#[wtd_export(demo)]
pub fn adder(n: i64) -> Box<dyn Fn(i64) -> i64> {
    Box::new(move |x| x + n)
}

fn main() {}
